"""Checks for lesson 06, transfer learning."""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import numpy as np

from course_lib.checks._core import (
    StudentCodeFailed,
    as_array,
    call_pure,
    call_student,
    check_rng,
    describe,
    drive,
    first_difference,
    run_check,
    salted,
    shape_problem,
)
from course_lib.record import CheckResult

LITE0_SIZE = 224


# --- 6.1: how many classes hold a share of the probability --------------------------------

# Four images of ten classes, from a confident answer to a spread one (written most probable
# first; the check shuffles each row, as a network's classes come in no order of probability).
# Their running sums stay at least 0.01 away from the masses the check asks for (0.9, 0.65).
_COVER_ROWS = (
    (0.93, 0.03, 0.015, 0.01, 0.005, 0.004, 0.003, 0.001, 0.001, 0.001),
    (0.62, 0.24, 0.08, 0.03, 0.01, 0.008, 0.005, 0.004, 0.002, 0.001),
    (0.35, 0.2, 0.12, 0.09, 0.07, 0.06, 0.05, 0.03, 0.02, 0.01),
    (0.14, 0.13, 0.12, 0.11, 0.1, 0.1, 0.09, 0.08, 0.07, 0.06),
)
# Three images whose running sums reach 0.75 exactly: halves, quarters and eighths are exact
# in binary, so any order of adding them gives exactly 0.75 (no rounding to blame)
_EXACT_ROWS = (
    (0.5, 0.25, 0.125, 0.0625, 0.0625),
    (0.25, 0.25, 0.25, 0.125, 0.125),
    (0.75, 0.125, 0.0625, 0.0625, 0.0),
)
_EXACT_MASS = 0.75


def _shuffled(rows: tuple[tuple[float, ...], ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([rng.permutation(row) for row in rows], dtype=np.float64)


def _cover_cases() -> tuple[np.ndarray, np.ndarray]:
    """The check's fixed batches: four images of ten classes, and three that reach 0.75 exactly."""
    return _shuffled(_COVER_ROWS, 60), _shuffled(_EXACT_ROWS, 61)


def _running(probabilities: np.ndarray, descending: bool = True) -> np.ndarray:
    """Each row's running sum, its classes taken most probable first (or least probable first)."""
    ranked = np.sort(probabilities.astype(np.float64), axis=1)
    return np.cumsum(ranked[:, ::-1] if descending else ranked, axis=1)


def _cover(probabilities: np.ndarray, mass: float) -> np.ndarray:
    """How many of its most probable classes each row needs to reach ``mass`` (>=)."""
    return (_running(probabilities) < mass).sum(axis=1) + 1


def _fresh_cover_cases() -> list[tuple[np.ndarray, float]]:
    """Two more batches drawn with :func:`check_rng`: the same in the notebook, new in each
    grading run. float32 softmax outputs of 1000 classes, as an ImageNet network gives them,
    and float64 probabilities of a few classes. Drawn again until no running sum lies within
    1e-4 of the mass, so that adding float32 values in float32 gives the same counts."""
    rng = check_rng(6)
    cases = []
    for dtype, classes in ((np.float32, 1000), (np.float64, None)):
        while True:
            n = int(rng.integers(3, 7))
            mass = float(round(rng.uniform(0.5, 0.95), 2))
            if classes is None:
                alpha = rng.uniform(0.1, 1.5, size=(n, 1))
                size = int(rng.integers(5, 31))
                probabilities = rng.gamma(alpha * np.ones((n, size)))
                probabilities = (probabilities / probabilities.sum(axis=1, keepdims=True)).astype(
                    dtype
                )
            else:
                logits = rng.normal(size=(n, classes)) * rng.uniform(0.5, 4.0, size=(n, 1))
                exp = np.exp(logits - logits.max(axis=1, keepdims=True))
                probabilities = (exp / exp.sum(axis=1, keepdims=True)).astype(dtype)
            running = _running(probabilities)
            if np.abs(running - mass).min() > 1e-4 and running[:, -1].min() > mass + 1e-4:
                break
        cases.append((probabilities, mass))
    return cases


def _counts_problem(returned: Any, n: int, where: str) -> tuple[np.ndarray | None, str | None]:
    """The student's counts as an integer-valued array of shape (n,), or what is wrong with
    their form: a Python list, the classes themselves, one count for the batch, a float dtype."""
    if isinstance(returned, (list, tuple)) and len(returned) == n and n > 0:
        items = list(returned)
        if all(isinstance(item, (list, tuple, np.ndarray)) for item in items):
            return None, (
                f"{where}you returned {describe(returned)} holding lists of classes, one per "
                "image: those are the classes themselves. The exercise asks how many there are: "
                "one count per image, an integer array of shape (n,)."
            )
    got = as_array(returned, f"{where}your result", "an integer array of counts, shape (n,)")
    if isinstance(returned, (list, tuple)):
        return None, (
            f"{where}you returned a Python {type(returned).__name__}; the exercise asks for an "
            f"integer NumPy array of shape ({n},): return the array itself, without .tolist()."
        )
    if got.ndim == 0 or (got.size == 1 and n > 1):
        return None, (
            f"{where}you returned one number, {_number_of(got)}, for a batch of {n} images: "
            f"count for each image on its own, along axis 1, into an array of shape ({n},). "
            "np.sort or np.cumsum without axis= flattens the batch into one row."
        )
    if got.ndim == 2 and got.shape[0] == n and got.shape[1] > 1:
        what = "True/False values" if got.dtype == np.bool_ else "values"
        return None, (
            f"{where}your result has shape {got.shape}, {what} for every class of every "
            "image: the classes, not how many of them. Return one count per image, shape "
            f"({n},)."
        )
    problem = shape_problem(got, (n,), f"{where}your result")
    if problem:
        return None, problem
    if got.dtype == np.bool_ or not np.issubdtype(got.dtype, np.number):
        return None, f"{where}your result holds {got.dtype} values; return integer counts."
    if not np.issubdtype(got.dtype, np.integer):
        values = got.astype(np.float64)
        if not np.all(np.isfinite(values)) or not np.array_equal(values, np.round(values)):
            return None, (
                f"{where}your result holds {got.dtype} values such as "
                f"{_number_of(got[np.argmax(values != np.round(values))])}, not whole numbers: "
                "return how many classes each image needs, not a probability."
            )
    return got, None


def _number_of(value: Any) -> str:
    item = np.asarray(value).item()
    return f"{item:.4g}" if isinstance(item, float) else repr(item)


def _float_dtype_problem(got: np.ndarray, where: str = "") -> str | None:
    if np.issubdtype(got.dtype, np.integer):
        return None
    return (
        f"{where}the counts are right but their dtype is {got.dtype}; counts are whole numbers: "
        "return an integer array (.astype(int))."
    )


def exercise_6_1(classes_to_cover: Callable[[np.ndarray, float], Any]) -> CheckResult:
    """classes_to_cover(probabilities, mass) -> (n,) integers: for each image, the smallest k
    whose k most probable classes hold at least ``mass`` of its probability."""
    batch, exact = _cover_cases()
    names = ("probabilities",)

    def call(probabilities: np.ndarray, mass: float, where: str = "") -> Any:
        returned = call_pure(classes_to_cover, probabilities, mass, names=names)
        return _counts_problem(returned, len(probabilities), where)

    def diagnose() -> str | None:
        mass = 0.9
        expected = _cover(batch, mass)
        got, problem = call(batch, mass)
        if problem:
            return problem
        assert got is not None
        if not np.array_equal(got, expected):
            return _named_mistake(got, expected, mass)
        problem = _float_dtype_problem(got)
        if problem:
            return problem
        other_mass = 0.65
        got_other, problem = call(batch, other_mass, f"with mass={other_mass}, ")
        if problem:
            return problem
        assert got_other is not None
        wanted = _cover(batch, other_mass)
        if np.array_equal(got_other, expected) and not np.array_equal(wanted, expected):
            return (
                f"with mass={other_mass} you return the same counts as with mass=0.9, "
                f"{got_other.tolist()}; expected {wanted.tolist()}: use the argument `mass`, "
                "not a number of your own."
            )
        if not np.array_equal(got_other, wanted):
            return _image_difference(got_other, wanted, batch, other_mass, "with mass=0.65, ")
        return reached_exactly()

    def _named_mistake(got: np.ndarray, expected: np.ndarray, mass: float) -> str:
        least_first = (_running(batch, descending=False) < mass).sum(axis=1) + 1
        in_index_order = (np.cumsum(batch, axis=1) < mass).sum(axis=1) + 1
        carried = np.cumsum(np.sort(batch, axis=1)[:, ::-1].ravel())
        carried_counts = (carried.reshape(batch.shape) < mass).sum(axis=1) + 1
        if np.array_equal(got, least_first) or np.array_equal(got, least_first[::-1]):
            return (
                f"your counts, {got.tolist()}, add up the *least* probable classes first. "
                "np.sort sorts in ascending order: reverse each row, along the last axis "
                "([:, ::-1]), so that the most probable class comes first. [::-1] alone "
                "reverses the order of the images, not of the classes within each row."
            )
        if np.array_equal(got, in_index_order):
            return (
                f"your counts, {got.tolist()}, add up the classes in the order of their "
                "indices (class 0, class 1, ...): take them most probable first, so sort each "
                "row's probabilities before adding them up."
            )
        if np.array_equal(got, (batch >= mass).sum(axis=1)):
            return (
                f"your counts, {got.tolist()}, are how many classes have a probability of at "
                f"least {mass} each. The task adds up the probabilities of the most probable "
                f"classes until their sum reaches {mass}: image 3 needs {int(expected[3])} "
                "classes, none of which reaches it alone."
            )
        if np.array_equal(got, expected - 1):
            return (
                f"each count is one short: {got.tolist()}, expected {expected.tolist()}. The "
                "position where the running sum first reaches the mass is an index, counted "
                "from 0; the number of classes up to it is one more."
            )
        if np.array_equal(got, expected + 1):
            return (
                f"each count is one too many: {got.tolist()}, expected {expected.tolist()}: "
                "stop at the first class that brings the sum to the mass, and count it."
            )
        if np.array_equal(got, carried_counts) and not np.array_equal(got, expected):
            return (
                f"your counts, {got.tolist()}, come from one running sum that carries on from "
                "one image to the next (np.cumsum without axis= flattens the batch): add up "
                "along axis 1, each image on its own."
            )
        return _image_difference(got, expected, batch, mass)

    def reached_exactly() -> str | None:
        expected = _cover(exact, _EXACT_MASS)
        where = f"with mass={_EXACT_MASS}, "
        got, problem = call(exact, _EXACT_MASS, where)
        if problem:
            return problem
        assert got is not None
        if np.array_equal(got, expected + 1):
            first = _running(exact)[0]
            return (
                f"{where}the first image's classes, most probable first, add up to "
                f"{first[0]:g}, {first[1]:g}, {first[2]:g}: two classes hold exactly "
                f"{_EXACT_MASS}, so the answer is {int(expected[0])}; you return "
                f"{int(got[0])}. 'At least mass' is >=, not >: a sum equal to the mass is "
                "enough."
            )
        if not np.array_equal(got, expected):
            return _image_difference(got, expected, exact, _EXACT_MASS, where)
        return single_image()

    def single_image() -> str | None:
        one = batch[:1]
        returned = call_pure(classes_to_cover, one, 0.9, names=names)
        got = as_array(returned, "for a batch of one image, your result")
        if got.shape != (1,):
            return (
                f"for a batch of one image your result has shape {got.shape}, expected (1,): "
                "keep one count per image, even for a single image (no np.squeeze or .item())."
            )
        return fresh()

    def fresh() -> str | None:
        for probabilities, mass in _fresh_cover_cases():
            n, classes = probabilities.shape
            where = (
                f"on another batch ({n} images of {classes} classes, {probabilities.dtype}, "
                f"mass={mass}), "
            )
            got, problem = call(probabilities, mass, where)
            if problem:
                return problem
            assert got is not None
            expected = _cover(probabilities, mass)
            if (
                np.issubdtype(got.dtype, np.integer)
                and expected.max() > np.iinfo(got.dtype).max
                and np.array_equal(got, expected.astype(got.dtype))
            ):
                return (
                    f"{where}your counts are {got.dtype}, which holds numbers up to "
                    f"{np.iinfo(got.dtype).max}: a count of {int(expected.max())} wrapped "
                    "around. Keep the integers NumPy gives (int64)."
                )
            if not np.array_equal(got, expected):
                return _image_difference(got, expected, probabilities, mass, where)
        return None

    return run_check(
        "6.1", diagnose, "the fewest most probable classes that hold the mass, for each image."
    )


def _image_difference(
    got: np.ndarray, expected: np.ndarray, probabilities: np.ndarray, mass: float, where: str = ""
) -> str:
    """The first image whose count is wrong, with its running sum around the right count."""
    image = int(np.flatnonzero(got != expected)[0])
    want = int(expected[image])
    running = _running(probabilities)[image]
    before = f", {want - 1} hold {running[want - 2]:.4g}" if want > 1 else ""
    return (
        f"{where}image {image}: you return {_number_of(got[image])}, expected {want}: its "
        f"{want} most probable classes hold {running[want - 1]:.4g} of its probability"
        f"{before} (at least {mass} is asked)."
    )


def _with_sharp_edges(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``batch`` with a flat block of hard edges and stripes one pixel wide painted on.

    On smooth gradients bilinear, bicubic and Mitchell resizes agree within a grey level or
    two; across a hard edge or a one-pixel stripe they differ by tens of levels, which tells
    the filter apart, while two bilinear implementations still agree within about one level.
    """
    n, height, width, _ = batch.shape
    sharp = batch.copy()
    sharp[:, height // 4 : height // 2, width // 3 : 2 * width // 3] = rng.integers(
        0, 256, (n, 1, 1, 3)
    )
    stripes = np.where(np.arange(width) % 2 == 0, 250, 5)[None, None, :, None]
    sharp[:, 2 * height // 3 : 2 * height // 3 + max(2, height // 12)] = stripes
    return sharp


def _photo_batch() -> np.ndarray:
    # Gradients plus texture plus hard edges, smaller than 224: the resize enlarges them
    rng = check_rng(61)
    yy, xx = np.mgrid[0:40, 0:56]
    base = np.stack([yy * 6, xx * 4, 255 - yy * 3 - xx * 2], axis=-1).astype(np.float64)
    batch = np.clip(base[None] + rng.normal(0, 25, size=(2, 40, 56, 3)), 0, 255)
    return _with_sharp_edges(batch.astype(np.uint8), rng)


def _large_photo_batch() -> np.ndarray:
    # Larger than 224 with fine texture: shrinking it without antialiasing skips pixels,
    # and the result differs clearly from an antialiased resize (Pillow's, TF's, Keras')
    rng = check_rng(62)
    yy, xx = np.mgrid[0:300, 0:340]
    base = np.stack([yy * 0.8, xx * 0.7, 255 - yy * 0.4 - xx * 0.3], axis=-1)
    batch = np.clip(base[None] + rng.normal(0, 40, size=(2, 300, 340, 3)), 0, 255)
    return _with_sharp_edges(batch.astype(np.uint8), rng)


def _single_photo() -> np.ndarray:
    # A batch of one, as lesson 06 prepares a single photo (image[None]): taller than 224 and
    # narrower, so that it shrinks one way and grows the other
    rng = check_rng(64)
    yy, xx = np.mgrid[0:260, 0:180]
    base = np.stack([255 - yy * 0.9, xx * 1.2, yy * 0.5 + xx * 0.4], axis=-1)
    batch = np.clip(base[None] + rng.normal(0, 30, size=(1, 260, 180, 3)), 0, 255)
    return _with_sharp_edges(batch.astype(np.uint8), rng)


def _resize(images: np.ndarray, size: int, method: str, antialias: bool = False) -> np.ndarray:
    import tensorflow as tf

    return tf.image.resize(
        images.astype("float32"), (size, size), method=method, antialias=antialias
    ).numpy()


# Other filters tf.image.resize and keras.ops.image.resize offer, as a student names them
_OTHER_FILTERS = {
    "bicubic": "a bicubic",
    "lanczos3": "a Lanczos",
    "lanczos5": "a Lanczos",
    "mitchellcubic": "a Mitchell-cubic",
    "gaussian": "a Gaussian",
}


def _not_finite(got: np.ndarray, what: str) -> str | None:
    """Name NaN and infinite values, which would slip through the comparisons of means."""
    values = got.astype(np.float64)
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    kinds = [
        kind
        for kind, found in (("NaN", np.isnan(values)), ("infinite", np.isinf(values)))
        if found.any()
    ]
    where = ", ".join(str(int(i)) for i in np.argwhere(bad)[0])
    return (
        f"{int(bad.sum())} of {values.size} values of {what} are {' or '.join(kinds)}, the "
        f"first at [{where}]: a prepared pixel is a number, (x - 127) / 128 of a 0-255 "
        "pixel, between -0.99 and 1. Look for a division by zero, or an array left unfilled "
        "(np.empty)."
    )


def _other_filter(values: np.ndarray, expected: np.ndarray, images: np.ndarray) -> str | None:
    """Name the resize filter ``values`` were made with, when it is another one than bilinear."""
    off = np.abs(values - expected).mean()
    for method, name in _OTHER_FILTERS.items():
        # Enlarged images: antialiasing changes nothing, whatever the filter
        other = (_resize(images, LITE0_SIZE, method, antialias=True) - 127.0) / 128.0
        if np.abs(values - other).mean() < off / 4:
            return (
                f"values differ from a bilinear resize: they are {name} resize "
                f"(method='{method}'), which weighs the pixels around each output pixel "
                "differently and sharpens or blurs its edges. EfficientNet-Lite0 was "
                "trained on bilinear resizes: method='bilinear', the default."
            )
    return None


def _edge_problem(
    got: np.ndarray, expected: np.ndarray, images: np.ndarray, close: float
) -> str | None:
    """Name values that match a bilinear resize except near the images' borders, or None."""
    values = got.astype(np.float64)
    # An input pixel spans 224 / side output pixels: past its centre, the edge pixel's outer
    # half is interpolated with whatever the resize takes for the pixels beyond the border
    margin = int(np.ceil(LITE0_SIZE / min(images.shape[1:3]) / 2)) + 1
    inside = (slice(None), slice(margin, -margin), slice(margin, -margin))
    if not np.allclose(values[inside], expected[inside], rtol=0, atol=close):
        return None
    return (
        f"values match a bilinear resize inside the images, but not within {margin} pixels of "
        "their borders: your resize fills in the pixels beyond the border another way. "
        "TensorFlow's and Pillow's resizes repeat the edge pixels; skimage.transform.resize "
        "mirrors them by default (mode='reflect'); "
        + first_difference(got, expected, "your batch", atol=close)
    )


def _number_text(value: float) -> str:
    """A fitted number as a student would write it: 127, 126.9."""
    return f"{value:.1f}".removesuffix(".0")


def _scale_problem(values: np.ndarray, resized: np.ndarray, close: float) -> str | None:
    """Name a division by another number than 128, or None.

    A straight line fitted through the values against the bilinear resize says which scaling
    they follow: resize implementations differ pixel by pixel, not in slope (Pillow's whole
    grey levels move it by about 3e-4 of itself), while (x - 127) / 127 or / 129 is 0.8 %
    steeper or flatter, up to 0.008 off at the ends of the range.
    """
    x = resized.astype(np.float64).ravel()
    y = values.ravel()
    slope, intercept = np.polyfit(x, y, 1)
    if slope <= 0 or np.abs(y - (slope * x + intercept)).max() > close:
        return None  # not a line: another mistake than the scale
    if abs(slope * 128 - 1) <= 2e-3:
        return None
    divisor, centre = 1 / slope, -intercept / slope
    return (
        f"your values follow (x - {_number_text(centre)}) / {_number_text(divisor)} (a line "
        "fitted through them), not (x - 127) / 128: EfficientNet-Lite0 was trained on "
        "values that change by exactly 1/128 per grey level, from -0.992 at 0 to 1.0 at 255. "
        f"Divide by exactly 128; a scale {abs(slope * 128 - 1):.1%} off fails silently."
    )


def _dtype_problem(got: np.ndarray) -> str | None:
    if got.dtype == np.float32:
        return None
    return f"values are right but dtype is {got.dtype}; use float32, the type Keras models use."


def _cut_repr(value: Any, limit: int) -> str:
    """repr(value), cut at a space past ``limit`` characters, so that no word is cut in half."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _colour_or_crop_problem(
    values: np.ndarray, images: np.ndarray, expected: np.ndarray, close: float
) -> str | None:
    """Name a batch whose colour was lost, or whose images were cropped to a square first."""
    if np.abs(values - values.mean(axis=-1, keepdims=True)).max() < 1e-3:
        return (
            "the three colour channels of your batch hold the same values: the colour was lost "
            "(a grayscale conversion?). Keep the images' RGB channels as they are."
        )
    height, width = images.shape[1:3]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = images[:, top : top + side, left : left + side]
    cropped = (_resize(square, LITE0_SIZE, "bilinear") - 127.0) / 128.0
    if np.abs(values - cropped).mean() < close / 2 < np.abs(cropped - expected).mean():
        return (
            f"your images were cropped to a square ({side}x{side} of {height}x{width}) before "
            "the resize, as crop_to_aspect_ratio=True does: resize the whole image to "
            "224x224, squashed if need be, as the backbone's training did."
        )
    return None


def exercise_6_2(prepare: Callable[[np.ndarray], Any]) -> CheckResult:
    """prepare(images) -> float32 (n, 224, 224, 3): antialiased bilinear resize, (x - 127) / 128."""
    images = _photo_batch()
    resized = _resize(images, LITE0_SIZE, "bilinear")
    expected = (resized - 127.0) / 128.0
    # Per value: two bilinear implementations (TF's, Keras', Pillow's with its whole-number
    # output) agree within about one grey level, 0.008 once scaled; any other filter differs by
    # far more somewhere on the hard edges of the test images. 0.02 is about 2.5 grey levels.
    close = 0.02

    def diagnose() -> str | None:
        got = as_array(call_pure(prepare, images, names=("images",)), "your prepared batch")
        if got.shape == images.shape:
            return (
                f"the images are still {images.shape[1]}x{images.shape[2]}: resize them to 224x224."
            )
        problem = shape_problem(got, expected.shape, "your prepared batch")
        if problem:
            return problem
        problem = _not_finite(got, "your prepared batch")
        if problem:
            return problem
        values = got.astype(np.float64)
        if values.max() > 10:
            return (
                f"values go up to {values.max():.0f}: these are still 0-255 pixels; "
                "scale them as the backbone was trained, (x - 127) / 128."
            )
        if not np.issubdtype(got.dtype, np.floating):
            return (
                f"your prepared batch holds {got.dtype} values: (x - 127) / 128 gives "
                "fractions in [-1, 1], which integers cannot hold. Return float32."
            )
        # 127 subtracted from uint8 pixels wraps around, before the resize or after it
        wrapped_after = ((np.round(resized) - 127) % 256) / 128.0
        wrapped_before = _resize(images - np.uint8(127), LITE0_SIZE, "bilinear") / 128.0
        if (
            min(np.abs(values - wrapped_after).mean(), np.abs(values - wrapped_before).mean())
            < close
        ):
            return (
                "uint8 arithmetic wrapped around: images - 127 on uint8 pixels turns every pixel "
                "darker than 127 into a bright one (0 - 127 gives 129). Convert to float32 "
                "before subtracting 127."
            )
        if np.abs(values - resized / 255.0).mean() < close:
            return (
                "values are in [0, 1] (divided by 255), the convention of our own models; "
                "EfficientNet-Lite0 was trained on (x - 127) / 128, which spans [-1, 1]."
            )
        # Divided by 255 as well: the scale then works on [0, 1] values (or its result shrinks).
        # Every value lands within 1/128 (or 1/128 of 1/255): compare far more closely.
        if np.abs(values - (resized / 255.0 - 127.0) / 128.0).mean() < 1e-3:
            return (
                "every value is close to -1: the pixels were divided by 255 before "
                "(x - 127) / 128, which expects 0-255 pixels. Leave out the division by 255."
            )
        if np.abs(values - expected / 255.0).mean() < 1e-4 and values.std() > 1e-4:
            return (
                "values are 255 times too small: (x - 127) / 128 was divided by 255 as well. "
                "Leave out the division by 255."
            )
        imagenet = (resized / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
        if np.abs(values - imagenet).mean() < close:
            return (
                "that is the ImageNet mean/std scaling used by PyTorch models; this backbone was "
                "trained in TensorFlow on (x - 127) / 128: use that."
            )
        if np.abs(values - (resized[..., ::-1] - 127.0) / 128.0).mean() < close:
            return "the colour channels are reversed (BGR); the backbone takes RGB as loaded."
        # "area" enlarges into the same blocks, their edges averaged: as near to either
        blocky = min(
            np.abs(values - (_resize(images, LITE0_SIZE, method) - 127.0) / 128.0).mean()
            for method in ("nearest", "area")
        )
        if blocky < close / 2:
            return (
                "enlarged to 224x224, your images are blocks of repeated pixels, as a "
                'nearest-neighbour (or "area") resize gives; use bilinear, as the backbone\'s '
                "training did."
            )
        problem = _colour_or_crop_problem(values, images, expected, close)
        if problem:
            return problem
        problem = _other_filter(values, expected, images)
        if problem:
            return problem
        if not np.allclose(values, expected, rtol=0, atol=close):
            problem = _scale_problem(values, resized, close) or _edge_problem(
                got, expected, images, close
            )
            if problem:
                return problem
            return (
                "values differ from a bilinear resize followed by (x - 127) / 128; "
                + first_difference(got, expected, "your batch", atol=close)
            )
        if np.abs(values - (np.floor(resized) - 127.0) / 128.0).mean() < 1e-4:
            return (
                "the resized pixels were cut to whole numbers (astype('uint8') after the "
                "resize drops the fraction): every value ends up to 1/128 too low. Keep them "
                "in float32 from the resize on."
            )
        # Resize implementations differ pixel by pixel, but not on average: a scaling that is
        # off by half a grey level shows in the mean (float32 round-off is about 1e-6).
        offset = float((values - expected).mean())
        if abs(float((values - (resized - 127.5) / 127.5).mean())) < abs(offset) / 4:
            return (
                "that is x / 127.5 - 1, MobileNetV2's scaling; EfficientNet-Lite0 was trained on "
                "(x - 127) / 128, so every value is off by up to 0.008: use (x - 127) / 128."
            )
        problem = _scale_problem(values, resized, close)
        if problem:
            return problem
        if abs(offset) > 2e-3:
            return (
                f"values are on average {offset:+.4f} away from (x - 127) / 128 after a bilinear "
                "resize: subtract exactly 127 and divide by exactly 128; "
                + first_difference(got, expected, "your batch", atol=1e-4)
            )
        return _dtype_problem(got) or shrinking_problem() or single_image_problem()

    def shrinking_problem() -> str | None:
        large = _large_photo_batch()
        got = as_array(call_pure(prepare, large, names=("images",)), "your prepared batch")
        wanted = (_resize(large, LITE0_SIZE, "bilinear", antialias=True) - 127.0) / 128.0
        what = "your prepared batch of 300x340 photos"
        problem = shape_problem(got, wanted.shape, what) or _not_finite(got, what)
        if problem:
            return problem
        values = got.astype(np.float64)
        if np.allclose(values, wanted, rtol=0, atol=close):
            return _dtype_problem(got)
        skipped = (_resize(large, LITE0_SIZE, "bilinear") - 127.0) / 128.0
        if np.abs(values - skipped).mean() < close:
            return (
                "right on images smaller than 224, but a 300x340 batch was shrunk without "
                "antialiasing: each output pixel then comes from the 4 input pixels nearest "
                "to it and the ones in between are skipped. Pass antialias=True to the resize "
                "(tf.image.resize, keras.ops.image.resize; skimage.transform.resize's "
                "anti_aliasing smooths far too little at this scale to make up for it)."
            )
        return (
            "right on images smaller than 224, but not on a 300x340 batch, which must shrink: "
            "use a bilinear resize with antialias=True; "
            + first_difference(got, wanted, "your batch", atol=close)
        )

    def single_image_problem() -> str | None:
        one = _single_photo()
        got = as_array(call_pure(prepare, one, names=("images",)), "your prepared batch")
        wanted = (_resize(one, LITE0_SIZE, "bilinear", antialias=True) - 127.0) / 128.0
        if got.shape == wanted.shape[1:]:
            return (
                f"for a batch of one image, shape {one.shape}, you returned shape {got.shape}: "
                f"keep the batch axis, {wanted.shape}, even when n is 1 (no np.squeeze, no "
                "[0]); the model takes batches, and the lesson prepares single photos as "
                "image[None]."
            )
        what = "your prepared batch of one 260x180 photo"
        problem = shape_problem(got, wanted.shape, what) or _not_finite(got, what)
        if problem:
            return problem
        if not np.allclose(got.astype(np.float64), wanted, rtol=0, atol=close):
            return (
                "right on batches of 2 images, but not on a batch of one 260x180 photo, which "
                "shrinks in height and grows in width: resize every batch the same way, "
                "bilinear with antialias=True, to 224x224; "
                + first_difference(got, wanted, "your batch", atol=close)
            )
        return _dtype_problem(got)

    return run_check("6.2", diagnose, "224x224 RGB, scaled the way the backbone was trained.")


# --- 6.3: a photo from a file ------------------------------------------------------------

_TINY_CLASSES = ["ant", "bee", "cat", "dog", "eel", "fox"]
_TINY_SIZE = 32
_FILE_KINDS = {
    "colour": "colour PNG",
    "grayscale": "grayscale PNG (one channel)",
    "alpha": "PNG with an alpha channel (four channels, RGBA)",
}


def _tiny_classifier() -> Any:
    """A small stand-in for the ImageNet classifier: same ``Backbone`` interface, six classes.

    Its logits depend on every input pixel, so a different resize or scaling changes them.
    """
    import keras

    from course_lib import efficientnet_lite, pretrained

    rng = check_rng(63)
    model = keras.Sequential(
        [
            keras.Input((_TINY_SIZE, _TINY_SIZE, 3)),
            # Named, so that Keras's errors name the same layers in a notebook and in grading.
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(len(_TINY_CLASSES), name="logits"),
        ],
        name="tiny_classifier",
    )
    model.set_weights(
        [
            rng.normal(0, 0.05, (_TINY_SIZE * _TINY_SIZE * 3, len(_TINY_CLASSES))).astype(
                "float32"
            ),
            rng.normal(0, 0.5, len(_TINY_CLASSES)).astype("float32"),
        ]
    )
    return pretrained.Backbone(
        "tiny", model, _TINY_SIZE, efficientnet_lite.scale, (-127 / 128, 1.0)
    )


def _photo_files(folder: Any) -> dict[str, str]:
    """Three files as a user has them: colour PNG, grayscale PNG, PNG with an alpha channel.

    All larger than the model's input and not square, so that they must be resized; the alpha
    channel is opaque, so that dropping it and compositing it agree.
    """
    from PIL import Image

    rng = check_rng(630)
    yy, xx = np.mgrid[0:45, 0:60]
    smooth = np.stack([yy * 5, xx * 4, 250 - yy * 2 - xx * 2], axis=-1)
    colour = np.clip(smooth + rng.normal(0, 40, (45, 60, 3)), 0, 255).astype(np.uint8)
    files = {
        "colour": f"{folder}/photo.png",
        "grayscale": f"{folder}/gray.png",
        "alpha": f"{folder}/logo.png",
    }
    Image.fromarray(colour).save(files["colour"])
    Image.fromarray(
        np.clip(yy * 4 + xx * 2 + rng.normal(0, 30, yy.shape), 0, 255).astype(np.uint8)[:, 5:55]
    ).save(files["grayscale"])
    opaque = np.full((45, 60, 1), 255, np.uint8)
    Image.fromarray(np.concatenate([colour[::-1], opaque], axis=-1)).save(files["alpha"])
    return files


def _as_predictions(value: Any, k: int) -> list[tuple[int, str, float]]:
    """The student's return value as ``(index, name, probability)`` triples, or a message saying
    what it was."""
    if value is None:
        raise StudentCodeFailed(
            "your function returned None: did you forget to `return` the predictions?"
        )
    if isinstance(value, dict):
        raise StudentCodeFailed(
            "you returned a dict; return a list of (index, name, probability) tuples, "
            "most probable first."
        )
    if isinstance(value, np.ndarray) or (type(value).__module__ or "").startswith(
        ("tensorflow", "keras")
    ):
        array = as_array(value)
        raise StudentCodeFailed(
            f"you returned an array of shape {array.shape}; return a list of k "
            "(index, name, probability) tuples, e.g. pretrained.decode_top_k(...)[0]."
        )
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise StudentCodeFailed(
            f"you returned {describe(value)}; return a list of (index, name, probability) tuples."
        )
    if (
        len(value) == 3
        and isinstance(value[1], str)
        and not isinstance(value[0], list | tuple | str)
        and not isinstance(value[2], list | tuple | str)
    ):
        raise StudentCodeFailed(
            f"you returned one prediction, {_short(value)}; return a list of the k most probable "
            "predictions, each an (index, name, probability) tuple: [(...), (...), ...]."
        )
    if (
        len(value) == 1
        and isinstance(value[0], list | tuple)
        and value[0]
        and isinstance(value[0][0], list | tuple)
    ):
        raise StudentCodeFailed(
            "you returned a list holding one list: decode_top_k gives one list per image "
            "in the batch; take the first, [0]."
        )
    if len(value) != k:
        raise StudentCodeFailed(
            f"you returned {len(value)} prediction{'' if len(value) == 1 else 's'} for k={k}: "
            "return the k most probable."
        )
    triples = []
    for item in value:
        if isinstance(item, str):
            raise StudentCodeFailed(
                "you returned class names only; return (index, name, probability) tuples."
            )
        if not isinstance(item, list | tuple) or len(item) != 3:
            raise StudentCodeFailed(
                f"each prediction should be (index, name, probability); one is {item!r}."
            )
        index, name, probability = item
        if not isinstance(name, str):
            raise StudentCodeFailed(
                f"the second item of each prediction should be the class name; got {name!r}."
            )
        # int() would turn '1' or 1.0 into a class index; a caller that compares the index
        # with a label, or takes class_names[index], needs an integer, as decode_top_k gives
        if not _is_number(index, "iu"):
            raise StudentCodeFailed(
                "the index of each prediction should be an integer, the class's position in "
                f"class_names (int(i)); one is {describe(index)}."
            )
        if not _is_number(probability, "iuf"):
            raise StudentCodeFailed(
                "the probability of each prediction should be a number from 0 to 1 "
                f"(float(p)); one is {describe(probability)}."
            )
        triples.append((int(index), name, float(probability)))
    return triples


def _is_number(value: Any, kinds: str) -> bool:
    """``value`` is one number whose NumPy dtype kind is in ``kinds`` (a bool is not).

    Python and NumPy numbers, and 0-d arrays and tensors (iterating over a tensor of indices
    gives them).
    """
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, int | np.integer):
        return "i" in kinds
    if isinstance(value, float | np.floating):
        return "f" in kinds
    if isinstance(value, np.ndarray) or (type(value).__module__ or "").startswith(
        ("tensorflow", "keras")
    ):
        try:
            array = as_array(value)
        except StudentCodeFailed:
            return False
        return array.shape == () and array.dtype.kind in kinds
    return False


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _same_predictions(
    got: list[tuple[int, str, float]], expected: list[tuple[int, str, float]]
) -> bool:
    return [i for i, _, _ in got] == [i for i, _, _ in expected] and np.allclose(
        [p for *_, p in got], [p for *_, p in expected], atol=1e-3
    )


def _top_k_of(
    backbone: Any, x: np.ndarray, k: int, probabilities: bool = True
) -> list[tuple[int, str, float]]:
    from course_lib import pretrained

    logits = np.asarray(backbone.model.predict_on_batch(x))[:1]
    values = pretrained.softmax(logits) if probabilities else logits
    return pretrained.decode_top_k(values, k, _TINY_CLASSES)[0]


def _shown(predictions: list[tuple[int, str, float]]) -> str:
    """Predictions as a student would print them, probabilities to 3 places."""
    return "[" + ", ".join(f"({i}, {name!r}, {p:.3f})" for i, name, p in predictions) + "]"


def _diagnose_colour_file(
    got: list[tuple[int, str, float]], path: str, backbone: Any, k: int
) -> str | None:
    """Name the mistake behind wrong predictions for the colour file, or None."""
    from PIL import Image

    image = np.asarray(Image.open(path).convert("RGB"))
    small = {
        method: np.asarray(Image.fromarray(image).resize((_TINY_SIZE, _TINY_SIZE), resample))
        for method, resample in [
            ("nearest", Image.Resampling.NEAREST),
            ("bilinear", Image.Resampling.BILINEAR),
        ]
    }
    variants: list[tuple[str, Callable[[], list[tuple[int, str, float]]]]] = [
        (
            "these are logits, not probabilities: apply softmax (pretrained.softmax) before "
            "taking the top k.",
            lambda: _top_k_of(backbone, backbone.prepare(image[None]), k, probabilities=False),
        ),
        (
            "backbone.prepare takes 0-255 pixels and scales them itself; you divided by 255 first.",
            lambda: _top_k_of(backbone, backbone.prepare(image[None] / 255.0), k),
        ),
        (
            "the pixels were scaled twice: backbone.prepare already applies the backbone's "
            "scaling.",
            lambda: _top_k_of(
                backbone, backbone.prepare(((image.astype("float32") - 127) / 128)[None]), k
            ),
        ),
        (
            "the colour channels are reversed (BGR, as OpenCV reads files); the model takes RGB.",
            lambda: _top_k_of(backbone, backbone.prepare(image[None, ..., ::-1]), k),
        ),
        (
            "without a batch axis, prepare took the image's rows for a batch of grayscale images: "
            "pass image[None], a batch of one.",
            lambda: _top_k_of(backbone, backbone.prepare(image), k),
        ),
    ] + [
        (
            f"the image was resized by Pillow ({method}, e.g. load_img's target_size) before "
            "backbone.prepare; pass it at its own size and let prepare resize it, with "
            "TensorFlow in float, as everywhere in the lesson.",
            lambda small=small[method]: _top_k_of(backbone, backbone.prepare(small[None]), k),
        )
        for method in small
    ]
    for message, compute in variants:
        try:
            if _same_predictions(got, compute()):
                return message
        except Exception:  # noqa: S112 - a variant that cannot even run is not what the student did
            continue
    return None


def _out_of_range(
    got: list[tuple[int, str, float]],
    expected: list[tuple[int, str, float]],
    path: str,
    backbone: Any,
    k: int,
) -> str:
    """The message for "probabilities" below 0 or above 1: what they are, when it is known."""
    from course_lib import pretrained

    if _same_predictions([(i, name, p / 100) for i, name, p in got], expected):
        return (
            "these are percentages (probability × 100): return the probabilities "
            "themselves, from 0 to 1, as softmax gives them; format them as percentages only "
            "when you print them."
        )
    image = pretrained.read_image(path)
    try:
        logits = _top_k_of(backbone, backbone.prepare(image[None]), k, probabilities=False)
    except Exception:  # without the logits, the message only says less
        logits = []
    if logits and _same_predictions(got, logits):
        return (
            "these are logits, not probabilities: apply softmax (pretrained.softmax) before "
            "the top k."
        )
    low, high = min(p for *_, p in got), max(p for *_, p in got)
    return (
        f"a probability is a number from 0 to 1, yours go from {low:.4g} to {high:.4g}: "
        "apply softmax (pretrained.softmax) to the model's logits, and return its values "
        f"as they are; expected {_shown(expected)}."
    )


def exercise_6_3(classify_file: Callable[[str, Any, list[str], int], Any]) -> CheckResult:
    """classify_file(path, backbone, class_names, k) -> the k best (index, name, probability) of
    a photo file."""
    import os
    import tempfile

    from course_lib import efficientnet_lite, pretrained

    k, other_k = 3, 2  # the second only on the colour file, so that a k written in shows

    def in_kernel(name: str, data: bytes, *rest: Any) -> Any:
        return drive("with_file", classify_file, name, data, *rest)

    def diagnose() -> str | None:
        if not callable(classify_file):
            raise StudentCodeFailed(f"expected a function, got {type(classify_file).__name__}.")
        backbone = _tiny_classifier()
        # The student's function gets the backbone rebuilt from data where the file is: in
        # grading, the kernel (a function cannot travel there, nor a path into this folder).
        fields = {
            "name": backbone.name,
            "model": backbone.model,
            "input_size": backbone.input_size,
            "mean": efficientnet_lite.MEAN,
            "std": efficientnet_lite.STD,
            "input_range": list(backbone.input_range),
        }
        with tempfile.TemporaryDirectory() as folder:
            files = _photo_files(folder)
            for kind, path in files.items():
                expected = pretrained.classify_file(path, backbone, _TINY_CLASSES, k)
                with open(path, "rb") as handle:
                    data = handle.read()
                try:
                    got = _as_predictions(
                        call_student(
                            in_kernel,
                            os.path.basename(path),
                            data,
                            fields,
                            list(_TINY_CLASSES),
                            k,
                        ),
                        k,
                    )
                except StudentCodeFailed as failure:
                    if kind == "colour" or "raised" not in str(failure):
                        raise
                    reason = str(failure).splitlines()[0]
                    if len(reason) > 160:  # cut at a space, no word cut in half
                        reason = reason[:160].rsplit(" ", 1)[0].rstrip(".:,;") + " …"
                    reason = reason.rstrip(".:")
                    return (
                        f"right on a colour PNG, but on a {_FILE_KINDS[kind]}, {reason}. "
                        "Convert every file to RGB when you read it "
                        "(Image.open(path).convert('RGB'), or tf.io.decode_image(..., "
                        "channels=3))."
                    )
                outside = [i for i, _, _ in got if not 0 <= i < len(_TINY_CLASSES)]
                if outside:
                    return (
                        f"you returned the index {outside[0]}, out of range: class_names has "
                        f"{len(_TINY_CLASSES)} classes here, indices 0 to "
                        f"{len(_TINY_CLASSES) - 1}. Return the indices of the model's "
                        "outputs, the positions of the k largest probabilities."
                    )
                if any(name != _TINY_CLASSES[index] for index, name, _ in got):
                    return (
                        "an index and its name do not match: the name of class i is class_names[i]."
                    )
                probabilities = [p for *_, p in got]
                if not np.isfinite(probabilities).all():
                    # NaN passes every comparison below unseen: name it first
                    return (
                        f"you returned {_shown(got)}: a probability that is NaN or infinite "
                        "comes from logits that are (or from dividing by zero in a softmax of "
                        "your own); softmax of finite logits, pretrained.softmax, gives "
                        f"numbers from 0 to 1. Expected {_shown(expected)}."
                    )
                if min(probabilities) < 0 or max(probabilities) > 1:
                    return _out_of_range(got, expected, path, backbone, k)
                if _same_predictions(got[::-1], expected):
                    return (
                        "the right classes, but least probable first: put the most probable first."
                    )
                ranked = pretrained.classify_file(path, backbone, _TINY_CLASSES, len(_TINY_CLASSES))
                if _same_predictions(got, ranked[::-1][:k]):
                    return (
                        f"these are the {k} *least* probable classes, least probable first "
                        "(np.argsort sorts in ascending order): take the top k of "
                        "np.argsort(-probabilities), most probable first."
                    )
                if _same_predictions(got, ranked[-k:]):
                    return (
                        f"these are the {k} *least* probable classes: take the first k of the "
                        "classes sorted most probable first (np.argsort(-probabilities))."
                    )
                if not _same_predictions(got, expected):
                    difference = f"you returned {_shown(got)}, expected {_shown(expected)}."
                    if kind != "colour":
                        return (
                            f"right on a colour PNG, not on a {_FILE_KINDS[kind]}: convert "
                            "every file to RGB when you read it, and keep its pixels as they "
                            f"are; {difference}"
                        )
                    return _diagnose_colour_file(got, path, backbone, k) or (
                        "the predictions differ from reading the file, "
                        "backbone.prepare(image[None]), the model, softmax and the top k: "
                        + difference
                    )
            return other_k_problem(files["colour"], backbone, fields)
        return None

    def other_k_problem(path: str, backbone: Any, fields: dict[str, Any]) -> str | None:
        """The colour file again with another k: a k written in (the check's 3) shows."""
        expected = pretrained.classify_file(path, backbone, _TINY_CLASSES, other_k)
        with open(path, "rb") as handle:
            data = handle.read()
        returned = call_student(
            in_kernel, os.path.basename(path), data, fields, list(_TINY_CLASSES), other_k
        )
        if isinstance(returned, list | tuple) and len(returned) == k:
            return (
                f"right for k={k}, but for k={other_k} you returned {k} predictions again: "
                "return the k most probable, k the argument, not a number written in."
            )
        try:
            got = _as_predictions(returned, other_k)
        except StudentCodeFailed as failure:
            raise StudentCodeFailed(f"right for k={k}, but for k={other_k}: {failure}") from None
        if not _same_predictions(got, expected):
            return (
                f"right for k={k}, but for k={other_k} you returned {_shown(got)}, expected "
                f"{_shown(expected)}: the k most probable classes, most probable first."
            )
        return None

    return run_check(
        "6.3",
        diagnose,
        "colour, grayscale and RGBA files read, prepared and classified as the model expects.",
    )


def _trainable_count(model: Any) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def _is_backbone(layer: Any, backbone: Any) -> bool:
    """``layer`` is ``backbone``: the same object, or a copy with its name and weights.

    The grader rebuilds the student's model from its saved config and weights, so the backbone
    inside it is a copy; the check's backbone has random weights, which no other model shares.
    """
    if layer is backbone:
        return True
    if getattr(layer, "name", None) != backbone.name or len(layer.weights) != len(backbone.weights):
        return False
    return all(
        np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(layer.get_weights(), backbone.get_weights(), strict=True)
    )


def _head_layers(model: Any, backbone: Any) -> list[Any]:
    """The layers of ``model`` in the order the data flows, nested models opened up.

    A head written as a model of its own (``keras.Sequential([Dropout, Dense])`` called on the
    features) counts layer by layer, in its place. The backbone stays one layer: the Dropout
    and Dense layers inside it are not the head's.
    """
    found: list[Any] = []
    for layer in getattr(model, "layers", []):
        if _is_backbone(layer, backbone):
            found.append(layer)
        elif hasattr(layer, "layers") and callable(getattr(layer, "get_config", None)):
            found.extend(_head_layers(layer, backbone))
        else:
            found.append(layer)
    return found


def _called_in_training_mode(model: Any, backbone: Any) -> bool:
    """True unless every call of the backbone inside ``model`` passes ``training=False``.

    The call may be in a model nested in ``model``: its config is searched too. A Sequential
    that holds the backbone calls it with the flag of its own call, so it is not False.
    """

    def calls(config: Any) -> list[Any] | None:  # the backbone's calls in this config
        if isinstance(config, dict):
            for layer in config.get("layers", []) if isinstance(config.get("layers"), list) else []:
                if isinstance(layer, dict) and layer.get("config", {}).get("name") == backbone.name:
                    return layer.get("inbound_nodes") or [{}]
            for value in config.values():
                found = calls(value)
                if found is not None:
                    return found
        elif isinstance(config, list):
            for value in config:
                found = calls(value)
                if found is not None:
                    return found
        return None

    nodes = calls(model.get_config())
    if nodes is None:
        return True
    return any(
        not isinstance(node, dict) or node.get("kwargs", {}).get("training") is not False
        for node in nodes
    )


# A backbone built once, with its first weights and trainable flags.
_LITE0: list[tuple[Any, list[np.ndarray], list[bool]]] = []
# A grading run's backbone, by the seed it was drawn from (the last seed only): the model, its
# weights and flags as built, and what building it did to Python's random state and to
# Keras's counters of names, which the rest of the round goes on from.
_SALTED_LITE0: dict[int, tuple[Any, list[np.ndarray], list[bool], Any, dict[str, int]]] = {}


def _name_counts() -> dict[str, int]:
    from keras.src.backend.common import global_state

    return dict(global_state.get_global_attribute("object_name_uids", default=None) or {})


def _built_lite0() -> Any:
    from course_lib import efficientnet_lite

    return efficientnet_lite.efficientnet_lite0((32, 32, 3), include_top=False, weights=None)


def _as_built(backbone: Any, weights: list[np.ndarray], flags: list[bool]) -> Any:
    # Outer layers first: setting a model's flag sets every layer inside it.
    for layer, trainable in zip(backbone._flatten_layers(), flags, strict=True):
        layer.trainable = trainable
    backbone.set_weights(weights)
    return backbone


def _small_lite0() -> Any:
    """EfficientNet-Lite0 at 32×32 with random weights, as built: every layer trainable.

    Building it takes seconds, so one backbone is built once and put back as built (weights
    and trainable flags) for each check. A grading run draws its weights from a seed of
    :func:`check_rng`: the same in every round of the run (the judge recognises the calls it
    has answered by the backbone's weights), new in each run. Each round gets the backbone a
    build from that seed gives, and Python's random state and Keras's counters of names as
    that build leaves them.
    """
    if salted():
        import random

        import keras
        from keras.src.backend.common import global_state

        seed = int(check_rng(65).integers(2**31))
        keras.utils.set_random_seed(seed)
        if seed not in _SALTED_LITE0:
            before = _name_counts()
            built = _built_lite0()
            after = _name_counts()
            made = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
            flags = [layer.trainable for layer in built._flatten_layers()]
            _SALTED_LITE0.clear()
            _SALTED_LITE0[seed] = (built, built.get_weights(), flags, random.getstate(), made)
            return built
        backbone, weights, flags, state, made = _SALTED_LITE0[seed]
        random.setstate(state)
        counts = global_state.get_global_attribute(
            "object_name_uids", default=collections.defaultdict(int), set_to_default=True
        )
        for prefix, n in made.items():
            counts[prefix] += n
        return _as_built(backbone, weights, flags)
    if not _LITE0:
        built = _built_lite0()
        flags = [layer.trainable for layer in built._flatten_layers()]
        _LITE0.append((built, built.get_weights(), flags))
    return _as_built(*_LITE0[0])


def _extra_head_layers(
    layers: list[Any], backbone_layers: list[Any], trainable: int, head_params: int, classes: int
) -> str:
    """The message for a frozen backbone under a head with more trainable layers than Dense."""
    import keras

    def named(layer: Any) -> str:
        if isinstance(layer, keras.layers.Dense):
            return f"Dense({layer.units})"
        return type(layer).__name__

    weighted = [
        layer
        for layer in layers
        if not any(layer is b for b in backbone_layers) and _trainable_count(layer) > 0
    ]
    outputs = [
        layer
        for layer in weighted
        if isinstance(layer, keras.layers.Dense) and layer.units == classes
    ]
    extra = [layer for layer in weighted if not outputs or layer is not outputs[-1]]
    told = f"{trainable:,} weights are trainable, the new head's should be {head_params:,}"
    if not extra:
        return (
            f"the backbone is frozen, but {told}: the head is Dropout(0.5) then "
            f"Dense({classes}, activation='softmax') on the backbone's features."
        )
    names = ", ".join(f"{named(layer)} ({_trainable_count(layer):,} weights)" for layer in extra)
    return (
        f"the backbone is frozen, right, but your head has more layers with weights than "
        f"the Dense layer: {names}. {told}. The task's head is Dropout(0.5) then "
        f"Dense({classes}, activation='softmax') on the backbone's features, nothing else: "
        "remove the extra layers."
    )


def _trainable_inside(model: Any, inside_backbone: list[Any], head_params: int) -> str | None:
    """The message for layers inside a backbone whose own flag is False, made trainable again.

    ``backbone.trainable = False`` then ``layer.trainable = True`` for some of its layers:
    the backbone counts no trainable weight of its own, yet the model trains those layers'.
    """
    import keras

    trainable_ids = {id(w) for w in model.trainable_weights}
    layers = [  # the layers of weights of their own, not the models nested in the backbone
        layer
        for backbone in inside_backbone
        for layer in backbone._flatten_layers(include_self=False)
        if not list(layer._flatten_layers(include_self=False, recursive=False))
        and any(id(w) in trainable_ids for w in layer.weights)
    ]
    if not layers:
        return None
    count = sum(
        int(np.prod(w.shape)) for layer in layers for w in layer.weights if id(w) in trainable_ids
    )
    kind = (
        "BatchNormalization layer"
        if all(isinstance(layer, keras.layers.BatchNormalization) for layer in layers)
        else "layer"
    )
    names = ", ".join(layer.name for layer in layers[:3]) + (", ..." if len(layers) > 3 else "")
    which = (
        f"1 {kind} inside it ({names}) was"
        if len(layers) == 1
        else f"{len(layers)} {kind}s inside it ({names}) were"
    )
    return (
        f"backbone.trainable is False, but {which} made trainable again afterwards: "
        f"{count:,} of the backbone's weights would train. In feature extraction nothing in "
        "the backbone learns: leave every layer of it frozen, so that only the head's "
        f"{head_params:,} weights are trainable."
    )


def exercise_6_4(build_transfer_model: Callable[[Any, int], Any]) -> CheckResult:
    """build_transfer_model(backbone, num_classes) -> frozen backbone + new softmax head."""
    import keras

    num_classes = 7
    backbone = _small_lite0()
    features = backbone.output_shape[-1]
    head_params = features * num_classes + num_classes
    x = check_rng(63).uniform(-1, 1, size=(2, 32, 32, 3)).astype("float32")

    def diagnose() -> str | None:
        model = call_student(build_transfer_model, backbone, num_classes)
        if model is None:
            return "your function returned None: did you forget to `return` the model?"
        if isinstance(model, tuple | list) and any(isinstance(m, keras.Model) for m in model):
            return (
                f"you returned a {type(model).__name__} of {len(model)} items; return the "
                "keras.Model alone: return model."
            )
        if not isinstance(model, keras.Model):
            return f"expected a keras.Model, got {describe(model)}."
        functional = (
            "inputs = keras.Input(backbone.input_shape[1:]), x = backbone(inputs, "
            "training=False), then Dropout and Dense on x, and keras.Model(inputs, outputs)"
        )
        try:
            output_shape = model.output_shape
        except (AttributeError, ValueError):  # a subclassed model, or one never called
            if isinstance(model, keras.Sequential):
                return (
                    "your Sequential model has no input yet, so Keras does not know its shapes: "
                    f"build the model on a keras.Input, {functional}."
                )
            return (
                f"your model is a subclass of keras.Model ({type(model).__name__}), whose "
                "layers are connected only inside its call method, where neither Keras nor "
                "this check can see how. The task asks for a functional model: "
                f"{functional}."
            )
        if output_shape[-1] == 1000:
            return (
                "the model ends in 1000 outputs, ImageNet's classes; the new head needs "
                f"{num_classes}."
            )
        if tuple(output_shape) != (None, num_classes):
            return (
                f"output shape is {output_shape}; expected (None, {num_classes}), one "
                "score per class."
            )
        layers = _head_layers(model, backbone)  # nested models (a head of its own) opened
        inside_backbone = [layer for layer in layers if _is_backbone(layer, backbone)]
        if not inside_backbone:
            return (
                "the backbone is not inside your model: call it on the input, x = "
                "backbone(inputs, training=False)."
            )
        trainable = _trainable_count(model)
        if _trainable_count(backbone) > 0 or any(_trainable_count(b) for b in inside_backbone):
            return (
                f"{trainable:,} weights are trainable, the backbone's too: set "
                "backbone.trainable = False so that training only changes the new head."
            )
        problem = _trainable_inside(model, inside_backbone, head_params)
        if problem:
            return problem
        if trainable > head_params:
            return _extra_head_layers(layers, inside_backbone, trainable, head_params, num_classes)
        if trainable == 0:
            return "nothing is trainable: freeze the backbone, not the new head."
        if _called_in_training_mode(model, backbone):
            return (
                "the backbone is not called with training=False (it was left out, or True): call "
                "it as backbone(inputs, "
                "training=False), so that its BatchNormalization layers keep their statistics, "
                "also once you unfreeze it."
            )
        rates = [float(layer.rate) for layer in layers if isinstance(layer, keras.layers.Dropout)]
        if rates != [0.5]:
            return "the head should be Dropout(0.5) then the Dense layer; " + (
                f"your model has Dropout with rate {rates}."
                if rates
                else "your model has no Dropout."
            )
        # Functional models list their layers in the order the data flows through them.
        dropout = next(
            i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Dropout)
        )
        dense = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Dense)]
        inside = [i for i, layer in enumerate(layers) if _is_backbone(layer, backbone)]
        if dense and dropout > dense[-1]:
            return (
                "Dropout comes after the Dense layer, where it drops class scores; put "
                "Dropout(0.5) between the backbone's features and the Dense layer, so that "
                "training drops features."
            )
        if inside and dropout < inside[0]:
            return (
                "Dropout comes before the backbone, where it drops input pixels; put "
                "Dropout(0.5) after the backbone, before the Dense layer."
            )
        out = np.asarray(model(x, training=False))
        if not np.allclose(out.sum(axis=-1), 1.0, atol=1e-4) or out.min() < 0:
            return (
                "the outputs are not probabilities: give the last Dense layer activation='softmax'."
            )
        return None

    return run_check(
        "6.4",
        diagnose,
        f"a frozen backbone under a new {num_classes}-class head "
        f"({head_params:,} trainable weights).",
    )


def exercise_6_5(unfreeze_top: Callable[[Any, str], Any]) -> CheckResult:
    """unfreeze_top(backbone, first_layer) makes layers from first_layer on trainable, BatchNorm
    excepted."""
    import keras

    backbone = _small_lite0()
    first = "block15_expand_conv"
    names = [layer.name for layer in backbone.layers]
    start = names.index(first)
    backbone.trainable = False  # as after feature extraction

    def is_bn(layer: Any) -> bool:
        return isinstance(layer, keras.layers.BatchNormalization)

    def diagnose() -> str | None:
        flags = [layer.trainable for layer in backbone.layers]
        returned = call_student(unfreeze_top, backbone, first)
        if not backbone.trainable and flags == [layer.trainable for layer in backbone.layers]:
            copy = (
                "Your function returned another model, and left the one it was given as it was"
                if isinstance(returned, keras.Model) and returned is not backbone
                else "Your function left the model it was given as it was"
            )
            return (
                f"backbone.trainable is still False and no layer's flag changed. {copy}: "
                "unfreeze_top must change the backbone it is given, in place, as the task "
                "says, since the caller goes on with that model (compiles and trains it). Set "
                "backbone.trainable = True on it, not on a copy (keras.models.clone_model), "
                "then freeze its lower layers again."
            )
        if not backbone.trainable:
            return (
                "backbone.trainable is still False, which keeps every layer inside frozen: "
                "set backbone.trainable = True first, then freeze the lower layers again."
            )
        # By position, every layer: the layers without weights count too. Their flag changes
        # nothing here, but a cut one layer off (the Add before block15_expand_conv) would
        # leave a layer with weights unfrozen at another first_layer. Not the input layer:
        # its flag is not in a model's config, so grading, which rebuilds the backbone from
        # it, could not tell what the student's code set it to.
        layers = backbone.layers
        below = [
            layer
            for layer in layers[:start]
            if layer.trainable and not isinstance(layer, keras.layers.InputLayer)
        ]
        if all(layer.trainable for layer in layers[:start] if layer.weights):
            return (
                f"every layer is trainable; keep the layers before {first} frozen. (Setting "
                "backbone.trainable sets the flag of every layer inside it: set after the "
                "layers' own flags, it undoes them.)"
            )
        early = [layer for layer in layers[start - len(below) : start] if layer.trainable]
        if below and early == below and len(below) <= 3:
            told = ", ".join(
                f"{layer.name} ({'no weights' if not layer.weights else 'with weights'})"
                for layer in below
            )
            return (
                f"you unfreeze from {len(below)} layer{'s' if len(below) > 1 else ''} before "
                f"{first}: {told} should stay frozen. Start at the layer named first_layer "
                "itself, names.index(first_layer), without - 1: with another first_layer, the "
                "layer before it may hold weights."
            )
        if below:
            many = len(below) > 1
            return (
                f"{len(below)} layer{'s' if many else ''} before {first} "
                f"{'are' if many else 'is'} trainable too, e.g. {below[0].name}: keep every "
                "layer before it frozen, those without weights too."
            )
        weighted = [layer for layer in layers[start:] if layer.weights]
        if any(is_bn(layer) and layer.trainable for layer in weighted):
            return (
                "the BatchNormalization layers are trainable: keep them frozen so they stay in "
                "inference mode and keep ImageNet's statistics."
            )
        frozen = [layer.name for layer in weighted if not is_bn(layer) and not layer.trainable]
        if len(frozen) == len([layer for layer in weighted if not is_bn(layer)]):
            return f"no layer from {first} on is trainable: unfreeze them."
        if frozen and frozen[0] == first:
            return (
                f"{first} itself is still frozen: unfreeze from the layer named first_layer "
                "on, that layer included (>=, not >)."
            )
        if frozen:
            return (
                f"{frozen[0]} (from {first} on) is still frozen: unfreeze every "
                "non-BatchNorm layer."
            )
        return None

    return run_check(
        "6.5",
        diagnose,
        f"the layers from {first} on learn, BatchNorm and everything below stay frozen.",
    )


# --- 6.6: keep the fine-tuned model? -------------------------------------------------------


def _paired_predictions(
    only_a: int, only_b: int, n: int = 200, seed: int = 0
) -> tuple[np.ndarray, ...]:
    """Labels and two classifiers' predictions that disagree exactly as asked (10 classes)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    kind = np.array(
        ["a"] * only_a + ["b"] * only_b + ["both"] * (n - only_a - only_b - 20) + ["neither"] * 20
    )
    rng.shuffle(kind)
    wrong = (y + 1) % 10
    pred_a = np.where((kind == "a") | (kind == "both"), y, wrong)
    pred_b = np.where(
        (kind == "b") | (kind == "both"), y, np.where(kind == "neither", (y + 2) % 10, wrong)
    )
    return y, pred_a, pred_b


def _fresh_keep_cases() -> list[tuple[str, tuple[int, int, float | None, bool], int]]:
    """Three more validation sets, drawn with :func:`check_rng`: the same in the notebook, new
    in each grading run, so that answers written in for the sets above do not pass.

    (what the set shows, (only feature extraction right, only fine-tuned right, alpha or None
    for the default, the right answer), the seed of its labels): fine-tuning ahead beyond luck,
    ahead by luck, and behind beyond luck, each with its p-value far from alpha (below a
    quarter of it, or above 2.5 times it). No answer that ignores the p-value, nor one that
    ignores the direction, gets all three right.
    """
    from course_lib import metrics

    rng = check_rng(66)
    wanted = [("another, ahead beyond luck", True, True)]
    wanted += [
        ("another, ahead by luck", True, False),
        ("another, behind beyond luck", False, False),
    ]
    cases: list[tuple[str, tuple[int, int, float | None, bool], int]] = []
    for shows, ahead, keep in wanted:
        while True:
            alpha = [None, 0.01, 0.1][int(rng.integers(3))]
            disagree = int(rng.integers(8, 80))
            fewer = int(rng.integers(0, (disagree + 1) // 2))  # right where the other is wrong
            only_fe, only_ft = (fewer, disagree - fewer) if ahead else (disagree - fewer, fewer)
            seed = int(rng.integers(1000, 100_000))
            y, pred_fe, pred_ft = _paired_predictions(only_fe, only_ft, seed=seed)
            p = metrics.compare_classifiers(y, pred_fe, pred_ft).p_value
            level = 0.05 if alpha is None else alpha
            if only_fe != only_ft and (p < level / 4 if keep or not ahead else p > 2.5 * level):
                break
        cases.append((shows, (only_fe, only_ft, alpha, keep), seed))
    return cases


def exercise_6_6(keep_fine_tuned: Callable[..., Any]) -> CheckResult:
    """keep_fine_tuned(y_val, pred_features, pred_fine_tuned, alpha=0.05) -> bool."""
    from course_lib import metrics

    # (only feature extraction right, only fine-tuned right, alpha or None for the default, the
    # right answer)
    cases = {
        "ahead by luck": (4, 9, None, False),
        "clearly better": (3, 20, None, True),
        "clearly worse": (20, 3, None, False),
        "strict alpha": (5, 17, 0.01, False),
        # p between alpha / 2 and alpha, and, with alpha=0.1, p above and below 0.05
        "below alpha": (4, 14, None, True),
        "loose alpha": (3, 11, 0.1, True),
        "below half the loose alpha": (1, 8, 0.1, True),
        # Fine-tuning 12 images ahead in both, the same accuracy gap (0.06), with 14 and with
        # 62 images the models disagree on: p about 0.002 and 0.16. A rule on the gap alone
        # cannot tell them apart.
        "ahead, few disagreements": (1, 13, None, True),
        "as far ahead, many disagreements": (25, 37, None, False),
        # 5 images to 0: p = 2 / 2**5 = 0.0625 exactly, as alpha; not strictly below it
        "p equal to alpha": (0, 5, 0.0625, False),
    }

    # The sets above name the usual mistakes; then fresh ones (the same in the notebook)
    fresh = _fresh_keep_cases()
    seeds = {name: seed for seed, name in enumerate(cases)}
    for shows, case, seed in fresh:
        cases[shows] = case
        seeds[shows] = seed

    def diagnose() -> str | None:
        answers, p_values, gaps = {}, {}, {}
        for name, (only_fe, only_ft, alpha, _) in cases.items():
            y, pred_fe, pred_ft = _paired_predictions(only_fe, only_ft, seed=seeds[name])
            comparison = metrics.compare_classifiers(y, pred_fe, pred_ft)
            p_values[name] = comparison.p_value
            gaps[name] = comparison.accuracy_b - comparison.accuracy_a
            args = (y, pred_fe, pred_ft) if alpha is None else (y, pred_fe, pred_ft, alpha)
            answer = call_student(keep_fine_tuned, *args)
            if answer is None:
                return "your function returned None: did you forget to `return` the decision?"
            if not isinstance(answer, bool | np.bool_):
                return (
                    f"you returned {_cut_repr(answer, 60)} (type {type(answer).__name__}); "
                    "return the decision, True (keep the fine-tuned model) or False (keep feature "
                    "extraction)."
                )
            answers[name] = bool(answer)
        luck, better, worse = (
            cases[name][:2] for name in ("ahead by luck", "clearly better", "clearly worse")
        )
        if answers["ahead by luck"] and not answers["clearly better"]:
            return (
                f"you keep fine-tuning when p is large ({p_values['ahead by luck']:.2f}) and "
                f"drop it when p is small ({p_values['clearly better']:.4f}): a small p is the "
                "evidence that it is better."
            )
        if not answers["clearly better"]:
            return (
                f"fine-tuning is right on {better[1]} validation images that feature extraction "
                f"gets wrong, against {better[0]} the other way (McNemar p = "
                f"{p_values['clearly better']:.4f}): that is evidence, keep it."
            )
        if answers["ahead by luck"]:
            return (
                f"fine-tuning is right on {luck[1]} images that feature extraction gets wrong "
                f"and wrong on {luck[0]} it gets right: McNemar p = "
                f"{p_values['ahead by luck']:.2f}, a difference that size is often luck. Keep "
                "it only when p < alpha."
            )
        if answers["clearly worse"]:
            return (
                f"here feature extraction is the better one ({worse[0]} against {worse[1]} "
                f"images, p = {p_values['clearly worse']:.4f}): a small p alone is not enough, "
                "check the direction."
            )
        few, many = "ahead, few disagreements", "as far ahead, many disagreements"
        if answers[few] == answers[many]:
            return (
                f"fine-tuning is {cases[few][1] - cases[few][0]} images ahead (accuracy "
                f"{gaps[few]:+.2f}) on two validation sets: where "
                f"the models disagree on {sum(cases[few][:2])} images (McNemar p = "
                f"{p_values[few]:.4f}) and where they disagree on {sum(cases[many][:2])} "
                f"(p = {p_values[many]:.2f}). You {'keep' if answers[few] else 'drop'} it "
                "in both: your decision does not follow p. The same gap is evidence in the "
                "first, and often luck in the second: keep fine-tuning only when it is ahead "
                "and p < alpha."
            )
        # A one-sided test (binomtest(..., alternative="greater")) halves McNemar's p-value
        # when fine-tuning is ahead: its decisions are those of p / 2 < alpha
        one_sided = {
            name: only_ft > only_fe and p_values[name] / 2 < (0.05 if alpha is None else alpha)
            for name, (only_fe, only_ft, alpha, _) in cases.items()
        }
        if answers == one_sided:
            return (
                f"with alpha=0.01 and p = {p_values['strict alpha']:.3f} you keep fine-tuning, "
                "yet p is not below alpha: your threshold is larger than the alpha argument. "
                "Your decisions are those of p < 2 × alpha, or of p / 2 < alpha, the p-value "
                "of a one-sided test (binomtest(..., alternative='greater')). The rule uses "
                "McNemar's p-value, two-sided, as metrics.compare_classifiers gives it: keep "
                "fine-tuning when it is ahead and that p < alpha."
            )
        if answers["strict alpha"] and answers["loose alpha"]:
            return (
                f"with alpha=0.01 and p = {p_values['strict alpha']:.3f} you keep fine-tuning, "
                "yet p is not below alpha: your threshold is larger than the alpha argument. "
                "Keep fine-tuning only when p < alpha."
            )
        if answers["strict alpha"]:
            return (
                f"with alpha=0.01 and p = {p_values['strict alpha']:.3f} the difference is not "
                "enough: compare p with the alpha argument, not a fixed 0.05."
            )
        below = f"p = {p_values['below alpha']:.3f} with alpha=0.05"
        loose = f"p = {p_values['loose alpha']:.3f} with alpha=0.1"
        if (
            not answers["below alpha"]
            and not answers["loose alpha"]
            and answers["below half the loose alpha"]
        ):
            return (
                f"you drop fine-tuning at {below}, and at {loose}: you compare p with alpha / 2. "
                "McNemar's p-value already counts a difference in either direction, so do not "
                "halve alpha: keep fine-tuning when p < alpha."
            )
        if not answers["below alpha"]:
            return (
                f"at {below} fine-tuning is better beyond luck, yet you drop it: your threshold "
                "is stricter than alpha. Keep fine-tuning when p < alpha."
            )
        if not (answers["loose alpha"] and answers["below half the loose alpha"]):
            return (
                f"at {loose} fine-tuning is better beyond luck, yet you drop it: compare p with "
                "the alpha argument, whatever its value."
            )
        if answers["p equal to alpha"]:
            return (
                f"with alpha=0.0625 and p = {p_values['p equal to alpha']} exactly, you keep "
                "fine-tuning: the task asks for p strictly below alpha (p < alpha), not p <= "
                "alpha."
            )
        for shows, (only_fe, only_ft, alpha, keep), _ in fresh:
            if answers[shows] != keep:
                level = "alpha=0.05 (the default)" if alpha is None else f"alpha={alpha}"
                rule = (
                    "it is ahead and p < alpha: keep it"
                    if keep
                    else "p is not below alpha: a difference that size is often luck"
                    if only_ft > only_fe
                    else "it is behind, however small p is"
                )
                return (
                    f"on another validation set, fine-tuning is right on {only_ft} images "
                    f"that feature extraction gets wrong, and wrong on {only_fe} it gets "
                    f"right: McNemar p = {p_values[shows]:.2g} with {level}. You return "
                    f"{answers[shows]}, but {rule}. Keep fine-tuning only when it is ahead and "
                    "p < alpha."
                )
        return None

    return run_check("6.6", diagnose, "fine-tuning kept only when it is better beyond luck.")
