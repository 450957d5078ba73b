"""Checks for lesson 07, deploying the classifier."""

from __future__ import annotations

import copy
import functools
import io
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from course_lib.checks._core import (
    NOT_ATTEMPTED,
    StudentCodeFailed,
    _short_repr,
    amount,
    as_array,
    call_student,
    check_rng,
    describe,
    drive,
    first_difference,
    not_yet,
    run_check,
    salted,
    student_error,
)
from course_lib.data import FASHION_MNIST_CLASSES
from course_lib.record import CheckResult


def _said(value: Any) -> str:
    """What the student's code returned, as a message shows it: 200 characters at most."""
    return _short_repr(value, 200)


def _encode(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def _test_uploads() -> dict[str, bytes]:
    """Uploads of different sizes and modes: wide RGB, tall RGB JPEG, already-small gray, and a
    palette PNG."""
    rng = check_rng(7)
    wide = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    wide[10:30, 5:25] = (250, 240, 10)  # a bright block, so resizing mistakes show
    tall = np.zeros((90, 60, 3), np.uint8)
    tall[..., 0] = np.linspace(0, 255, 60, dtype=np.uint8)[None, :]
    tall[..., 2] = np.linspace(255, 0, 90, dtype=np.uint8)[:, None]
    small = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    # A palette image (PNG-8, like a GIF): Pillow resizes mode "P" with nearest-neighbour
    # whatever filter it is given, so only converting first gives the bilinear input.
    palette = io.BytesIO()
    Image.fromarray(wide[::-1]).quantize(64).save(palette, "PNG")
    return {
        "wide RGB PNG": _encode(wide),
        "tall RGB JPEG": _encode(tall, "JPEG"),
        "28×28 gray PNG": _encode(small),
        "palette PNG": palette.getvalue(),
    }


def _expected_input(
    data: bytes, preprocessing: dict[str, Any], resize: str | None = None
) -> np.ndarray:
    from course_lib import models
    from course_lib.serving.uploads import decode_image, to_model_pixels

    prep = dict(preprocessing, resize=resize or preprocessing.get("resize", "bilinear"))
    pixels = to_model_pixels(decode_image(data), prep)
    return models.as_model_input(pixels[None], prep)[0]


def _preprocessing_problem(preprocessing: Any) -> str | None:
    """Why the notebook's ``prep`` cannot be the record the checks read, or None."""
    try:
        int(preprocessing["height"]), int(preprocessing["width"]), float(preprocessing["scale"])
    except Exception:
        return (
            "the check needs the lesson's preprocessing record (`prep`, a dict with height, "
            f"width, scale, ...) as an argument; it got {describe(preprocessing)}. Re-run the "
            "cell that defines it."
        )
    return None


# Pillow's other resampling filters, the default of Image.resize (BICUBIC) first
_OTHER_FILTERS = [
    ("BICUBIC", Image.Resampling.BICUBIC),
    ("LANCZOS", Image.Resampling.LANCZOS),
    ("HAMMING", Image.Resampling.HAMMING),
    ("BOX", Image.Resampling.BOX),
]


def _pillow_input(
    data: bytes, preprocessing: dict[str, Any], method: Any, convert_first: bool
) -> np.ndarray:
    """The model input made with Pillow's ``method``, converted before or after the resize."""
    height, width = int(preprocessing["height"]), int(preprocessing["width"])
    mode = "L" if preprocessing.get("color_mode") == "grayscale" else "RGB"
    image = Image.open(io.BytesIO(data))
    if convert_first:
        image = image.convert(mode).resize((width, height), method)
    else:
        image = image.resize((width, height), method).convert(mode)
    pixels = np.asarray(image, dtype=np.float64)
    pixels = pixels * float(preprocessing["scale"]) + float(preprocessing["offset"])
    return pixels.reshape(height, width, -1)


def _same_input(
    out: np.ndarray,
    data: bytes,
    preprocessing: dict[str, Any],
    method: Any,
    convert_first: bool,
    tolerance: float,
) -> bool:
    """Is ``out`` the input Pillow's ``method`` makes? False when Pillow cannot make it."""
    try:
        made = _pillow_input(data, preprocessing, method, convert_first)
    except Exception:  # a file that filter cannot resize is not what the student did
        return False
    return made.shape == out.shape and np.allclose(out, made, atol=tolerance)


RESIZE_BEFORE_CONVERT = (
    "was resized before it was converted: Pillow resizes a palette image (a PNG-8 or a GIF, "
    "mode 'P') with nearest-neighbour whatever filter it is given, since averaging palette "
    "indices means nothing. Convert first, then resize."
)


def _other_record(preprocessing: dict[str, Any]) -> dict[str, Any]:
    """Another model's preprocessing: not square, and inputs in [-1, 1] instead of [0, 1]."""
    height, width = int(preprocessing["height"]), int(preprocessing["width"])
    return dict(preprocessing, height=height - 8, width=width + 2, scale=2 / 255, offset=-1.0)


def _prepare_problem(
    prepare: Callable[[bytes, dict[str, Any]], Any],
    name: str,
    data: bytes,
    record: dict[str, Any],
    lesson: dict[str, Any] | None,
) -> str | None:
    """What is wrong with prepare's input for one upload and one record, or None.

    ``lesson``: the lesson's record, when ``record`` is another one, to recognise numbers
    typed in from it.
    """
    height, width = int(record["height"]), int(record["width"])
    channels = 1 if record.get("color_mode") == "grayscale" else 3
    shape = (height, width, channels)
    scale, offset = float(record["scale"]), float(record["offset"])
    tolerance = 1.5 * abs(scale)  # one grey level: Pillow rounds to whole levels at each step
    returned_value = call_student(prepare, data, dict(record))
    out = as_array(returned_value, f"your input for the {name}")
    expected = _expected_input(data, record)
    if lesson is not None:
        typed = (int(lesson["height"]), int(lesson["width"]))
        if out.shape[:2] == typed != shape[:2]:
            return (
                f"your input has shape {out.shape}, the size of the lesson's model, whatever "
                "the record says: read the size from preprocessing['height'] and "
                "preprocessing['width'] instead of typing it in."
            )
        typed_in = _expected_input(
            data, dict(record, scale=lesson["scale"], offset=lesson["offset"])
        )
        if out.shape == shape and np.allclose(out, typed_in, atol=1.5 * float(lesson["scale"])):
            return (
                f"your input is scaled as for the lesson's model, whatever the record says "
                f"(here scale {scale:.6g}, offset {offset:g}): compute pixels × "
                "preprocessing['scale'] + preprocessing['offset'] instead of typing the "
                "numbers in."
            )
    if out.shape == (1, *shape):
        return (
            f"shape {out.shape}: return one image {shape}; the server stacks images into a batch."
        )
    if out.shape == shape[:2] and channels == 1:
        return f"shape {out.shape}: add the channel axis the model expects, {shape} (x[..., None])."
    if out.ndim == 3 and out.shape[:2] == shape[:2] and out.shape[-1] != channels:
        mode = "grayscale: .convert('L')" if channels == 1 else "RGB: .convert('RGB')"
        return (
            f"{out.shape[-1]} channels, but the model takes {channels}; convert the image to "
            f"{mode}."
        )
    if out.shape[:2] == (width, height) and width != height:
        return (
            f"shape {out.shape}: height and width swapped (Pillow's resize takes (width, height))."
        )
    if out.shape == (channels, height, width):
        return (
            f"the {name} gave shape {out.shape}, the channel axis first; the model takes it "
            f"last, {shape}: add it at the end, x[..., None], not x[None]."
        )
    if out.ndim == 4 and out.shape[:2] == shape[:2] and out.shape[3] == 1 and channels == 1:
        return (
            f"the {name} gave shape {out.shape}: the image kept its {out.shape[2]} colour "
            f"channels, and the channel axis went on top of them. Convert it to grayscale "
            f"first, .convert('L'), so that x[..., None] gives {shape}."
        )
    if out.shape != shape:
        if out.shape[:2] == shape[:2]:  # the right size: the axes are what differs
            return (
                f"the {name} gave shape {out.shape}; every upload must become {shape}: "
                f"{height} rows, {width} columns and {channels} channel(s), the channel axis "
                "last."
            )
        return (
            f"the {name} gave shape {out.shape}; every upload must become {shape}: resize it to "
            f"{width}×{height}."
        )
    levels = (expected.astype(np.float64) - offset) / scale  # the resized pixels, 0 to 255
    # Within half of offset × scale: an offset left out (pixels × scale) is that far away
    near = min(tolerance, abs(offset * scale) / 2)
    if offset != 0 and np.allclose(out, (levels + offset) * scale, atol=near):
        return (
            f"for the {name} you added the offset before multiplying, (pixels + offset) × "
            f"scale; the record means pixels × scale + offset: multiply by {scale:.6g} first, "
            f"then add {offset:g}."
        )
    if np.issubdtype(out.dtype, np.integer) and out.max() <= 1 and levels.max() > 1:
        return (
            f"the {name} gave {out.dtype} values, only {sorted(set(np.unique(out).tolist()))[:3]}: "
            "scaled pixels lie between 0 and 1, and a cast to integers cuts them to whole "
            "numbers. Return the scaled array as float32."
        )
    if np.issubdtype(out.dtype, np.integer) or out.max() > 1.5:
        return (
            f"values go up to {out.max():.0f}: scale them as in training (× {scale:.6g}, "
            f"+ {offset:g})."
        )
    returned, out = out, out.astype(np.float64)  # returned: the dtype messages show
    if offset == 0 and np.allclose(out, 1.0 - expected, atol=tolerance):
        return "the image is inverted (1 - x): keep the pixel values as they are."
    if np.allclose(out, expected, atol=tolerance):
        if isinstance(returned_value, (list, tuple)):
            return (
                f"values are right, but your input is a Python {type(returned_value).__name__}, "
                "not an array: the model takes a NumPy float32 array. Return the array itself "
                "(leave out .tolist() and list(...))."
            )
        if returned.dtype != np.float32:
            return f"values are right but the dtype is {returned.dtype}; models take float32."
        # Within a grey level is not enough: the model was trained on exactly these numbers,
        # and the lesson's point is that serving computes them the same way, to the last bit.
        # Only float32 rounding (a thousandth of a level) is let through.
        return _inexact_problem(out, expected, data, name, record)
    if np.any(out) and any(
        np.allclose(out, twice, atol=tolerance / 255)
        for twice in (expected / 255, (expected - offset) / 255 + offset)
    ):
        return (
            f"for the {name} the values are 255 times too small: the pixels were divided by "
            f"255 on top of preprocessing['scale'] ({scale:.6g}), which already does it. "
            "Compute pixels × scale + offset only."
        )
    # Only a palette image is far from the expected input when resized before it is
    # converted (nearest-neighbour, whatever the filter): for another, the two orders agree
    # within a grey level, and a match that loose says nothing of the order
    if _is_palette(data) and _same_input(
        out, data, record, Image.Resampling.BILINEAR, False, tolerance
    ):
        return f"the {name} {RESIZE_BEFORE_CONVERT}"
    nearest = _expected_input(data, record, resize="nearest")
    if np.allclose(out, nearest, atol=tolerance):
        return (
            f"the {name} was resized with nearest-neighbour; the model's preprocessing says "
            f"{record.get('resize', 'bilinear')!r} (Image.Resampling.BILINEAR)."
        )
    for label, method in _OTHER_FILTERS:
        if any(_same_input(out, data, record, method, first, tolerance) for first in (True, False)):
            default = " (what Image.resize uses when given none)" * (label == "BICUBIC")
            return (
                f"the {name} was resized with Pillow's {label} filter{default}; the model's "
                f"preprocessing says {record.get('resize', 'bilinear')!r}: pass it, "
                ".resize((width, height), Image.Resampling.BILINEAR)."
            )
    worst = np.abs(out - expected).max()
    if worst <= 4 * abs(scale):  # a few grey levels: the same steps, computed another way
        return _other_computation_problem(out, returned, expected, name, record)
    if _tf_resized(out, data, record, tolerance):
        return (
            f"the {name} was resized by TensorFlow (tf.image.resize, or keras.ops.image.resize, "
            "bilinear without antialias=True): shrinking an image, it reads only the 4 input "
            "pixels nearest to each output pixel, where Pillow's bilinear averages all the "
            "pixels under it. The task prescribes Pillow's steps, which the service runs too: "
            ".resize((width, height), Image.Resampling.BILINEAR)."
        )
    return (
        f"for the {name}, values differ from the expected input by up to {amount(worst)}; "
        + first_difference(returned, expected, "your input", atol=tolerance)
    )


def _tf_resized(out: np.ndarray, data: bytes, record: dict[str, Any], tolerance: float) -> bool:
    """Is ``out`` the input made with TensorFlow's bilinear resize, without antialiasing, of
    the converted image? False when TensorFlow cannot make it."""
    height, width = int(record["height"]), int(record["width"])
    mode = "L" if record.get("color_mode") == "grayscale" else "RGB"
    try:
        import tensorflow as tf

        pixels = np.asarray(Image.open(io.BytesIO(data)).convert(mode), dtype=np.float32)
        pixels = pixels.reshape(*pixels.shape[:2], -1)
        resized = tf.image.resize(pixels, (height, width)).numpy().astype(np.float64)
    except Exception:  # an upload TensorFlow cannot resize is not what the student did
        return False
    made = resized * float(record["scale"]) + float(record["offset"])
    return made.shape == out.shape and np.allclose(out, made, atol=tolerance)


def _is_palette(data: bytes) -> bool:
    """Is the upload a palette image (mode 'P': a PNG-8, a GIF)?"""
    try:
        return Image.open(io.BytesIO(data)).mode in ("P", "PA")
    except Exception:  # not what the check sent: no palette to speak of
        return False


def _other_computation_problem(
    out: np.ndarray,
    returned: np.ndarray,
    expected: np.ndarray,
    name: str,
    record: dict[str, Any],
) -> str:
    """The message for an input a few grey levels from the expected one, with no known cause:
    the steps computed another way than the service's (another library's decoding, grayscale
    or resize)."""
    scale, offset = float(record["scale"]), float(record["offset"])
    worst = float(np.abs(out - expected).max())
    mode = "L" if record.get("color_mode") == "grayscale" else "RGB"
    levels = (out - offset) / scale
    between = (
        " Your values lie between whole grey levels, as a resize in float (tf.image.resize) "
        "gives them."
        if np.abs(levels - np.round(levels)).max() > 1e-2
        else ""
    )
    return (
        f"for the {name}, values differ by up to {amount(worst)} ({worst / abs(scale):.2f} "
        "grey levels) from the input the model was trained on (with Pillow: "
        f".convert('{mode}'), then .resize((width, height), Image.Resampling.BILINEAR) of "
        "the 8-bit image, then × scale + offset): "
        + first_difference(returned, expected, "your input", atol=1e-3 * abs(scale))
        + between
        + " The task prescribes Pillow's steps, which the service runs too: another "
        "library's decoding, grayscale or resize gives other numbers."
    )


def _inexact_problem(
    out: np.ndarray, expected: np.ndarray, data: bytes, name: str, record: dict[str, Any]
) -> str | None:
    """What makes values within a grey level of the expected input not equal to it, or None
    when they are equal (up to float32 rounding)."""
    scale, offset = float(record["scale"]), float(record["offset"])
    exact = 1e-3 * abs(scale)  # a thousandth of a grey level: float32's rounding, no more
    worst = float(np.abs(out - expected).max())
    if worst <= exact:
        return None
    off = f"up to {worst:.2g} off ({worst / abs(scale):.2f} of a grey level)"
    for decimals in range(1, 5):
        if np.allclose(out, np.round(expected, decimals), atol=1e-6):
            return (
                f"for the {name} your values are rounded to {decimals} decimal(s), {off}: "
                "the model was trained on pixels × scale + offset as they are; return them "
                "without rounding."
            )
    if _same_input(out, data, record, Image.Resampling.BILINEAR, False, exact):
        return (
            f"the {name} was resized in colour and converted to grayscale after it, so its "
            f"values are {off}: convert first, then resize, as the service does (for a "
            "palette image, a PNG-8 or a GIF, the order matters even more: Pillow resizes it "
            "with nearest-neighbour)."
        )
    levels = (out - offset) / scale
    if np.abs(levels - np.round(levels)).max() > 1e-2:
        return (
            f"for the {name} your values lie between whole grey levels, {off}: the model "
            "was trained on Pillow's bilinear resize of the 8-bit image, whole levels 0 to "
            "255, then × scale + offset. A resize in float (tf.image.resize) or arithmetic "
            "that rounds on the way gives other numbers: resize with Pillow, "
            ".resize((width, height), Image.Resampling.BILINEAR), and scale after."
        )
    wrong = int(np.sum(np.abs(out - expected) > exact))
    return (
        f"for the {name}, {wrong} of {out.size} values differ from the input the record "
        f"describes, {off}: convert to grayscale with .convert('L'), then resize "
        "with Pillow's .resize((width, height), Image.Resampling.BILINEAR), then scale, as "
        "the service does."
    )


def exercise_7_1(
    prepare: Callable[[bytes, dict[str, Any]], Any], preprocessing: dict[str, Any]
) -> CheckResult:
    """prepare(upload bytes, preprocessing) -> one model input (h, w, c), float32, as the record
    says; tried with the lesson's record and with another model's."""
    problem = _preprocessing_problem(preprocessing)
    if problem:
        return not_yet("7.1", problem)
    lesson = dict(preprocessing)
    other = _other_record(lesson)

    def diagnose() -> str | None:
        uploads = _test_uploads()
        for name, data in uploads.items():
            try:
                problem = _prepare_problem(prepare, name, data, lesson, None)
            except StudentCodeFailed as exc:
                if "ValueError: embedded null byte" in str(exc):
                    raise StudentCodeFailed(
                        f"{exc}. Image.open takes a file name or a file object; given bytes, it "
                        "takes them for a file name. Wrap the upload in io.BytesIO(upload), a "
                        "file object that reads from memory."
                    ) from None
                if "positional argument" in str(exc) and "TypeError" in str(exc):
                    raise StudentCodeFailed(
                        f"{exc}. prepare takes two arguments, prepare(upload, preprocessing): "
                        "the bytes and the model's preprocessing record."
                    ) from None
                raise
            if problem:
                return problem
        for name, data in uploads.items():
            problem = _prepare_problem(prepare, name, data, other, lesson)
            if problem:
                return (
                    f"with another model's record (height {other['height']}, width "
                    f"{other['width']}, scale 2/255, offset -1, inputs in [-1, 1]): {problem}"
                )
        return None

    return run_check(
        "7.1",
        diagnose,
        "every upload becomes exactly the input the record describes, for any model.",
    )


# ---------------------------------------------------------------- 7.2 the minimal Flask app


def _judged_apart(func: Any) -> bool:
    """Is ``func`` the judge's stand-in for the student's function (two-phase grading)?

    Then the student's code runs in its kernel, and the check chooses the objects it is
    given there itself, instead of taking the notebook's.
    """
    kind = type(func)  # the type, not the object: a notebook's object may raise on any attribute
    return str(getattr(kind, "__module__", "")).startswith("course_lib.tools.grading") and (
        "course_drive" in dir(kind)
    )


def _lesson_record() -> dict[str, Any]:
    """The preprocessing of the lesson's model: 28×28 grayscale, pixels × 1/255."""
    from course_lib import models

    return models.preprocessing_for((28, 28, 1))


def _lesson_model() -> Any:
    """A model of the lesson model's shape (28×28 grayscale in, 10 classes out) whose weights
    are drawn for this grading run: confident, and far from its answers when pixels are not
    scaled. Built by the check, never read from a file a notebook could have replaced."""
    import keras

    rng = check_rng(720)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(name="check_lesson_flatten"),
            keras.layers.Dense(10, activation="softmax", name="check_lesson_dense"),
        ],
        name="check_lesson_model",
    )
    model.set_weights(
        [rng.normal(0, 0.3, (28 * 28, 10)).astype(np.float32), np.zeros(10, np.float32)]
    )
    return model


def _model_input(
    data: bytes, preprocessing: dict[str, Any], *, convert_first: bool = True, scaled: bool = True
) -> np.ndarray:
    """The batch of one the minimal app should give the model (or a common variant of it)."""
    height, width = int(preprocessing["height"]), int(preprocessing["width"])
    mode = "L" if preprocessing.get("color_mode") == "grayscale" else "RGB"
    image = Image.open(io.BytesIO(data))
    size = (width, height)
    if convert_first:
        image = image.convert(mode).resize(size, Image.Resampling.BILINEAR)
    else:
        image = image.resize(size, Image.Resampling.BILINEAR).convert(mode)
    pixels = np.asarray(image, dtype=np.float32)
    if scaled:
        pixels = pixels * float(preprocessing["scale"]) + float(preprocessing["offset"])
    return pixels.reshape(1, height, width, -1)


def _probabilities(model: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(model(x, training=False), dtype=np.float64)[0]


def _consistent(
    label: str,
    confidence: float,
    probabilities: np.ndarray,
    class_names: list[str],
    tolerance: float = 0.02,
) -> bool:
    """Is (label, confidence) what these probabilities say, up to resizing differences?"""
    if label not in class_names:
        return False
    p = probabilities[class_names.index(label)]
    return p >= probabilities.max() - tolerance and abs(confidence - p) <= tolerance


def _truncated_png() -> bytes:
    """A PNG cut in the middle of its pixel data: Image.open reads it, decoding the pixels fails."""
    noise = _encode(check_rng(5).integers(0, 256, (28, 28), dtype=np.uint8))
    return noise[: len(noise) // 2]


def _truncated_jpeg() -> bytes:
    """A JPEG cut short: Image.open and image.verify() accept it, image.load() raises."""
    noise = _encode(check_rng(74).integers(0, 256, (48, 64, 3), dtype=np.uint8), "JPEG")
    return noise[: len(noise) // 2]


def _damaged_png() -> bytes:
    """A whole PNG whose pixel data is damaged, checksums made right again: image.verify()
    accepts it, its end marker is in place, only decoding it (image.load()) fails."""
    import struct
    import zlib

    data = bytearray(_encode(check_rng(75).integers(0, 256, (20, 24), dtype=np.uint8)))
    at = data.find(b"IDAT")
    length = struct.unpack(">I", data[at - 4 : at])[0]
    start = at + 4
    for k in range(start + 10, start + length - 4, 7):
        data[k] ^= 0xFF
    data[start + length : start + length + 4] = struct.pack(
        ">I", zlib.crc32(bytes(data[at : start + length])) & 0xFFFFFFFF
    )
    return bytes(data)


NO_FILE = "a request with no file (the image is in the field 'image')"


def _bad_uploads() -> list[tuple[str, list[list[Any]]]]:
    """(what, the form's files as [field, file name, bytes]) for uploads a route must refuse."""
    png = _encode(np.full((20, 30), 120, np.uint8))
    return [
        (NO_FILE, [["image", "photo.png", png]]),
        ("an empty file", [["file", "empty.png", b""]]),
        ("a text file", [["file", "notes.png", b"name,label\ncat.jpg,cat\n"]]),
        ("a truncated PNG", [["file", "cut.png", _truncated_png()]]),
    ]


def _wrong_batch(given: Any, model: Any, preprocessing: dict[str, Any]) -> str | None:
    """Why the batch the route gave the model has the wrong shape, in one sentence, or None.

    ``given``: the shape of the batch the route gave the model last (the driver noted it).
    """
    given = tuple(given) if isinstance(given, (list, tuple)) else None
    try:
        wanted = tuple(model.input_shape)[1:] if model is not None else None
    except Exception:  # a model without one input shape: nothing to compare with
        wanted = None
    if given is None or not wanted:
        return None
    if len(given) == len(wanted) and all(
        w is None or g == w for g, w in zip(given, wanted, strict=True)
    ):
        shown = "(1, " + ", ".join("?" if w is None else str(w) for w in wanted) + ")"
        return (
            f"your route gave the model one image of shape {given}, without the batch axis: "
            f"the model takes a batch, {shown}: add the batch axis, a batch of one image: "
            "x[None], or reshape(1, height, width, -1)."
        )
    if len(given) != len(wanted) + 1:
        return None
    if all(w is None or g == w for g, w in zip(given[1:], wanted, strict=True)):
        return None
    shown = "(1, " + ", ".join("?" if w is None else str(w) for w in wanted) + ")"
    if given[1:3] == tuple(wanted[:2])[::-1] and given[-1] == wanted[-1]:
        return (
            f"your route gave the model a batch of shape {given}, but it takes {shown}: "
            "height and width swapped. Pillow's resize takes (width, height)."
        )
    if given[1:-1] == tuple(wanted[:-1]) and given[-1] != wanted[-1]:
        mode = preprocessing.get("color_mode", "rgb")
        convert = ".convert('L')" if wanted[-1] == 1 else ".convert('RGB')"
        return (
            f"your route gave the model a batch of shape {given}, but it takes {shown}: "
            f"{given[-1]} channels instead of {wanted[-1]}. Its preprocessing says color_mode "
            f"{mode!r}: convert every upload with {convert}."
        )
    return (
        f"your route gave the model a batch of shape {given}, but it takes {shown}: convert "
        "the image to the model's colour mode, resize it, and add the batch axis."
    )


def _route_failure(
    raised: dict[str, Any],
    what: str,
    good_upload: bool,
    given: Any = None,
    model: Any = None,
    preprocessing: dict[str, Any] | None = None,
) -> str:
    """Name the mistake behind an exception the student's route raised, in one line.

    ``raised``: the exception as the driver described it (its type, the names of its classes,
    its text), since it may have been raised in another process.
    """
    from course_lib.messages import first_line

    classes, message = list(raised.get("classes") or []), str(raised.get("message", ""))
    name = str(raised.get("type", "Exception"))
    line = first_line(message)  # TensorFlow's errors run to pages of graph
    text = f"{name}: {line.rstrip(' .')}" if line else name
    if "NotImplementedError" in classes:
        return (
            "not attempted yet: replace the `raise NotImplementedError(...)` line with your route."
        )
    if "BadRequestKeyError" in classes:
        key = raised.get("key", "?")
        if good_upload:
            return (
                f"for {what}, your route raised KeyError {key!r} although the request carries "
                "the image in the form field 'file': uploaded files are in "
                "request.files['file']; request.form holds only the text fields of a form."
            )
        return (
            f"{what} made your route raise KeyError {key!r}: check `'file' in request.files` "
            "first (or use request.files.get('file')) and answer 400 with a JSON error."
        )
    if "TypeError" in classes and "JSON serializable" in message:
        return (
            f"for {what}, jsonify failed ({message}): NumPy numbers are not JSON. Convert them "
            "first: "
            "float(probabilities[i]), int(index), or array.tolist()."
        )
    if "TypeError" in classes and "did not return a valid response" in message:
        return (
            f"for {what} your route returned None: every path through it must `return "
            "jsonify(...)`."
        )
    if "AttributeError" in classes and "NoneType" in message and good_upload:
        return (
            f"for {what}, your route raised {text}: the upload was not found where you looked. "
            "It is in request.files['file'] (request.form holds only text fields)."
        )
    if good_upload:
        wrong = _wrong_batch(given, model, preprocessing or {})
        if wrong:
            return f"for {what}, {wrong}"
        hint = ""
        if "ValueError" in classes and ("shape" in message or "incompatible" in message):
            hint = (
                " The model takes a batch of shape (1, height, width, channels): convert the "
                "image to the model's colour mode, resize it, and add the batch axis."
            )
        return f"for {what}, your route raised {text}.{hint}"
    if what == NO_FILE:  # nothing to decode: the route used the upload that is not there
        return (
            f"{what} made your route raise {text}: the form has no field 'file', so "
            "request.files.get('file') is None (and request.files['file'] raises). Test for it "
            "before reading the upload, `if 'file' not in request.files:` (or `if upload is "
            "None:`), and answer `return jsonify(error='...'), 400`."
        )
    later = (
        " Image.open reads only the file's header: a truncated file raises later, when its "
        "pixels are decoded (by .convert, .resize or np.asarray), so those steps belong inside "
        "the try as well."
        if "truncated" in what
        else ""
    )
    return (
        f"{what} made your route raise {text}. A bad upload is the client's mistake: catch the "
        "error and answer `return jsonify(error='...'), 400` (UnidentifiedImageError and a "
        f"truncated file's error are both OSErrors).{later}"
    )


def _response(
    exchange: dict[str, Any],
    what: str,
    good_upload: bool,
    model: Any = None,
    preprocessing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One answer of the student's app (``status``, ``content_type``, ``json``), or the
    StudentCodeFailed that names why its route raised instead."""
    raised = exchange.get("raised")
    if isinstance(raised, dict):
        raise StudentCodeFailed(
            _route_failure(raised, what, good_upload, exchange.get("given"), model, preprocessing)
        )
    return exchange


def _exchanges(
    create_minimal_app: Callable[..., Any],
    model: Any,
    class_names: list[str],
    preprocessing: dict[str, Any],
    sent: list[dict[str, Any]],
) -> dict[str, Any]:
    """The app ``create_minimal_app`` builds, asked ``sent`` with Flask's test client.

    Run by the driver ``flask_exchanges`` (:mod:`course_lib.checks._drivers`): here in a
    notebook, in the student's kernel in two-phase grading, where the app is built (it
    cannot travel); either way the check judges the answers it returns, as data.
    """
    if not callable(create_minimal_app):
        raise StudentCodeFailed(f"expected a function, got {type(create_minimal_app).__name__}.")
    return call_student(
        lambda *args: drive("flask_exchanges", create_minimal_app, *args),
        model,
        list(class_names),
        dict(preprocessing),
        sent,
    )


def _returned(app: Any) -> tuple[str, str]:
    """(type name, description) of what the factory returned instead of an app, as the driver
    recorded it: ``describe`` of the value itself, for the values a student returns."""
    kind = app[0] if isinstance(app, list) and app else "object"
    if kind == "value":
        return type(app[1]).__name__, describe(app[1])
    name = str(app[1]) if len(app) > 1 else "object"
    if kind == "container":
        return name, f"a {name} of length {app[2]}"
    if kind == "function":
        return "function", f"a function ({name})"
    return name, f"a {name}"


SECOND_MODEL = (
    "with a second model (RGB input, 24 pixels high and 32 wide, scale 2/255 and offset -1, "
    "and a Dropout layer)"
)


@functools.lru_cache(maxsize=4)
def _second_model(num_classes: int) -> Any:
    """A model unlike the lesson's: not square, RGB, inputs in [-1, 1], with Dropout, so that
    swapped sizes, typed-in numbers and training mode all change its answers."""
    import keras

    rng = np.random.default_rng(72)
    model = keras.Sequential(
        [
            keras.Input((24, 32, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(num_classes, activation="softmax"),
        ],
        name="check_second_model",
    )
    inputs = 24 * 32 * 3
    model.set_weights(
        [
            rng.normal(0, 1 / np.sqrt(inputs), (inputs, 32)).astype(np.float32),
            np.zeros(32, np.float32),
            rng.normal(0, 3 / np.sqrt(32), (32, num_classes)).astype(np.float32),
            np.zeros(num_classes, np.float32),
        ]
    )
    return model


def _second_record(preprocessing: dict[str, Any]) -> dict[str, Any]:
    return dict(
        preprocessing,
        height=24,
        width=32,
        color_mode="rgb",
        scale=2 / 255,
        offset=-1.0,
        resize="bilinear",
    )


def _route_input(
    data: bytes,
    record: dict[str, Any],
    method: Any = Image.Resampling.BILINEAR,
    *,
    swapped: bool = False,
    scale: float | None = None,
    offset: float = 0.0,
    convert_first: bool = True,
) -> np.ndarray:
    """The batch a route makes with one mistake, reshaped to the model's (1, h, w, c)."""
    height, width = int(record["height"]), int(record["width"])
    size = (height, width) if swapped else (width, height)
    image = Image.open(io.BytesIO(data))
    mode = "L" if record.get("color_mode") == "grayscale" else "RGB"
    if convert_first:
        image = image.convert(mode).resize(size, method)
    else:
        image = image.resize(size, method).convert(mode)
    pixels = np.asarray(image, dtype=np.float32)
    if scale is None:
        pixels = pixels * float(record["scale"]) + float(record["offset"])
    else:
        pixels = pixels * scale + offset
    return pixels.reshape(1, height, width, -1)


_ROUTE_MISTAKES: list[tuple[dict[str, Any], str]] = [
    (
        {"swapped": True},
        "height and width swapped: Pillow's resize takes (width, height), "
        "(preprocessing['width'], preprocessing['height']).",
    ),
    (
        {"scale": 1 / 255},
        "the pixels were scaled as for the lesson's model (× 1/255), not with this model's "
        "record: compute pixels × preprocessing['scale'] + preprocessing['offset'] instead of "
        "typing the numbers in.",
    ),
    ({"convert_first": False}, f"it {RESIZE_BEFORE_CONVERT}"),
    (
        {"method": Image.Resampling.NEAREST},
        "it was resized with nearest-neighbour; the preprocessing says 'bilinear': "
        "Image.Resampling.BILINEAR.",
    ),
]


def _second_model_problem(
    create_minimal_app: Callable[..., Any], class_names: list[str], preprocessing: dict[str, Any]
) -> str | None:
    """What a route right for the lesson's model gets wrong for another model, or None."""
    model = _second_model(len(class_names))
    record = _second_record(preprocessing)
    uploads = _test_uploads()
    # Each upload twice: an answer that changes from one request to the next is a model run
    # in training mode (its Dropout). Sent at once, so that the kernel builds the app once.
    sent = [
        {"path": "/predict", "files": [["file", name.replace(" ", "_"), data]], "fresh": False}
        for name, data in uploads.items()
        for _ in range(2)
    ]
    outcome = _exchanges(create_minimal_app, model, class_names, record, sent)
    if "responses" not in outcome:
        return (
            f"{SECOND_MODEL}, create_minimal_app returned {_returned(outcome.get('app'))[1]}; "
            "return the app."
        )
    exchanges = outcome["responses"]

    def ask(index: int, name: str) -> dict[str, Any]:
        try:
            return _response(exchanges[index], f"the {name}", True, model, record)
        except StudentCodeFailed as exc:
            raise StudentCodeFailed(f"{SECOND_MODEL}: {exc}") from None

    for number, (name, data) in enumerate(uploads.items()):
        response = ask(2 * number, name)
        body = response["json"]
        if (
            response["status"] != 200
            or not isinstance(body, dict)
            or not isinstance(body.get("label"), str)
            or isinstance(body.get("confidence"), bool)
            or not isinstance(body.get("confidence"), (int, float))
        ):
            return (
                f"{SECOND_MODEL}, the {name} got status {response['status']} and "
                f"{body!r}; it should get 200 and the label and confidence, as for the "
                "lesson's model. Read everything from the arguments: model, class_names, "
                "preprocessing."
            )
        label, confidence = body["label"], float(body["confidence"])
        right = _probabilities(model, _route_input(data, record))
        if _consistent(label, confidence, right, class_names):
            continue
        for mistake, message in _ROUTE_MISTAKES:
            wrong = _probabilities(model, _route_input(data, record, **mistake))
            if _consistent(label, confidence, wrong, class_names, tolerance=1e-3):
                return f"{SECOND_MODEL}, for the {name}: {message}"
        again = ask(2 * number + 1, name)["json"] or {}
        if (again.get("label"), again.get("confidence")) != (body["label"], body["confidence"]):
            second = again.get("confidence")
            shown = f"{second:.3f}" if isinstance(second, float) else repr(second)
            return (
                f"{SECOND_MODEL}, your route answered the same {name} twice differently "
                f"({label!r} at {confidence:.3f}, then {again.get('label')!r} at {shown}): "
                "the model ran in training mode, where Dropout drops units at random. Call "
                "model(x, training=False), or model.predict(x)."
            )
        best = int(right.argmax())
        return (
            f"{SECOND_MODEL}, for the {name} you answered {label!r} at {confidence:.3f}; the "
            f"model says {class_names[best]!r} at {right[best]:.3f} for the image prepared as "
            "its record says (colour mode, bilinear resize to width × height, pixels × scale "
            "+ offset)."
        )
    return None


def exercise_7_2(
    create_minimal_app: Callable[..., Any],
    model: Any,
    class_names: list[str],
    preprocessing: dict[str, Any],
) -> CheckResult:
    """create_minimal_app(model, class_names, preprocessing) -> a Flask app with a JSON POST
    /predict."""
    problem = _preprocessing_problem(preprocessing)
    if problem:
        return not_yet("7.2", problem)
    if not isinstance(class_names, (list, tuple)) or not all(
        isinstance(c, str) for c in class_names
    ):
        return not_yet(
            "7.2",
            f"the check needs the lesson's `class_names` (a list of str) as its third "
            f"argument; it got {describe(class_names)}. Re-run the cell that defines it.",
        )
    if not callable(getattr(model, "predict", None)):
        return not_yet(
            "7.2",
            f"the check needs the lesson's Keras `model` as its second argument; it got "
            f"{describe(model)}. Re-run the cell that loads it.",
        )
    class_names = list(class_names)
    if _judged_apart(create_minimal_app):
        # Graded in two phases: the app is built in the student's kernel around a model, class
        # names and record of the check's own, not the notebook's variables, which could be
        # anything by then (a model that always says the same, say).
        model, class_names = _lesson_model(), list(FASHION_MNIST_CLASSES)
        preprocessing = _lesson_record()

    def diagnose() -> str | None:
        uploads = _test_uploads()
        bad = _bad_uploads()
        # Every request at once (the app is built once, where it runs); judged in order.
        sent = [
            {"path": "/predict", "files": [["file", name.replace(" ", "_"), data]], "fresh": True}
            for name, data in uploads.items()
        ]
        sent += [{"path": "/predict", "files": files, "fresh": False} for _, files in bad]
        outcome = _exchanges(create_minimal_app, model, class_names, preprocessing, sent)
        if "responses" not in outcome:
            returned = outcome.get("app")
            if returned == ["value", None]:
                return "create_minimal_app returned None: did you forget to `return app`?"
            return (
                f"create_minimal_app returned a {_returned(returned)[0]}; return the Flask app "
                "itself."
            )
        exchanges = outcome["responses"]
        for number, (name, data) in enumerate(uploads.items()):
            what = f"the {name}"
            response = _response(exchanges[number], what, True, model, dict(preprocessing))
            body = response["json"]
            if response["status"] == 404 and not isinstance(body, dict):
                return (
                    "POST /predict answered 404 (Not Found): the app has no route at the path "
                    "/predict. Register the route at exactly that path, @app.post('/predict') "
                    "(or @app.route('/predict', methods=['POST']))."
                )
            if response["status"] == 405:
                return (
                    "POST /predict answered 405 (Method Not Allowed): the route /predict does "
                    "not take POST: register the route for POST, @app.post('/predict') (or "
                    "@app.route('/predict', methods=['POST']))."
                )
            if response["status"] != 200:
                reason = (
                    f" ({body['error']!r})" if isinstance(body, dict) and "error" in body else ""
                )
                hint = (
                    " Did the route find the file? It is in request.files['file']; "
                    "request.form holds only the text fields of a form."
                    if response["status"] == 400
                    else ""
                )
                return (
                    f"{what} is a valid image but got status {response['status']}{reason}; it "
                    f"should get 200.{hint}"
                )
            if not isinstance(body, dict):
                return (
                    f"for {what} the answer is not a JSON object (content type "
                    f"{response['content_type']!r}); return jsonify(label=..., confidence=...)."
                )
            if "label" not in body or "confidence" not in body:
                return (
                    f"the answer for {what} has the keys {sorted(body)}; it needs 'label' "
                    "and 'confidence'."
                )
            label, confidence = body["label"], body["confidence"]
            if not isinstance(label, str) or label not in class_names:
                return (
                    f"the label {label!r} for {what} is not one of the class names; use "
                    "class_names[index]."
                )
            if isinstance(confidence, bool) or not isinstance(confidence, (int, float)):
                return (
                    f"the confidence for {what} is {confidence!r} "
                    f"({type(confidence).__name__}); send a number in [0, 1], "
                    "float(probabilities[index])."
                )
            expected = [_probabilities(model, _model_input(data, preprocessing))]
            if _consistent(label, confidence, expected[0], class_names):
                continue
            right_input = _route_input(data, preprocessing)
            for mistake, message in _ROUTE_MISTAKES:
                wrong_input = _route_input(data, preprocessing, **mistake)
                if np.array_equal(wrong_input, right_input):  # e.g. swapped, for a square model
                    continue
                wrong = _probabilities(model, wrong_input)
                if _consistent(label, confidence, wrong, class_names, tolerance=1e-3):
                    return f"for {what}: {message}"
            unscaled = _probabilities(model, _model_input(data, preprocessing, scaled=False))
            if _consistent(label, confidence, unscaled, class_names, tolerance=1e-3):
                return (
                    f"for {what} you answered {label!r} at {confidence:.3f}, what the model "
                    "says about pixels that were not scaled: multiply them by "
                    f"{float(preprocessing['scale']):.6g} (divide by 255), as in training."
                )
            p = expected[0]
            best = int(p.argmax())
            soft = np.exp(p - p.max()) / np.exp(p - p.max()).sum()
            if label == class_names[best] and abs(confidence - soft[best]) < 1e-3:
                return (
                    "the label is right but the confidence is not the model's probability: the "
                    "model already ends in softmax, so do not apply it again."
                )
            return (
                f"for {what} you answered {label!r} at {confidence:.3f}; the model says "
                f"{class_names[best]!r} at {p[best]:.3f} for the image prepared as in training "
                "(grayscale/RGB as the model expects, bilinear resize, scaled)."
            )
        for number, (what, _) in enumerate(bad, start=len(uploads)):
            response = _response(exchanges[number], what, False)
            body = response["json"]
            if response["status"] == 200:
                return (
                    f"{what} got status 200: a bad upload must get status 400, "
                    "e.g. `return jsonify(error='...'), 400`."
                )
            if response["status"] != 400:
                return (
                    f"{what} got status {response['status']}; a bad upload is the client's "
                    "mistake: answer 400."
                )
            if not isinstance(body, dict) and (
                body is not None or "json" in str(response["content_type"])
            ):
                return (
                    f"{what} got 400 with the JSON {body!r}, not an object with the key "
                    "'error': programs look the reason up there, "
                    "`return jsonify(error='...'), 400`."
                )
            if not isinstance(body, dict):
                return (
                    f"{what} got 400 but not JSON (content type {response['content_type']!r}): "
                    "programs read the reason from JSON, `return jsonify(error='...'), 400`."
                )
            if not isinstance(body.get("error"), str) or not body["error"].strip():
                return (
                    f"{what} got 400 with {body!r}; say why in the key 'error': "
                    "jsonify(error='...')."
                )
        return _second_model_problem(create_minimal_app, class_names, dict(preprocessing))

    return run_check(
        "7.2",
        diagnose,
        "valid uploads get the model's label as JSON; every bad upload gets a clear 400.",
    )


# ---------------------------------------------------------------- 7.3 reject a bad upload


def _upload_cases(max_pixels: int) -> list[tuple[str, bytes, bool, str]]:
    """(name, bytes, should pass, what the mistake means) for exercise 7.3."""
    side = int(max_pixels**0.5)
    exact = np.zeros((max_pixels // side, side), np.uint8)
    rng = check_rng(
        73
    )  # the same files in the notebook; other pixels and sizes in each grading run
    small, photo = (20, 30), (24, 32)
    if salted():
        small, photo = tuple(rng.integers(12, 40, 2)), tuple(rng.integers(12, 40, 2))
    png = _encode(rng.integers(0, 256, (*small, 3), dtype=np.uint8))
    from course_lib.serving.uploads import header_only_png

    claimed = (
        (20_000, 20_000) if not salted() else tuple(int(n) for n in rng.integers(15_000, 30_000, 2))
    )
    bomb = header_only_png(*claimed)
    return [
        ("a small PNG", png, True, "you rejected a valid PNG"),
        (
            "a JPEG photo",
            _encode(rng.integers(0, 256, (*photo, 3), dtype=np.uint8), "JPEG"),
            True,
            "you rejected a valid JPEG",
        ),
        (
            f"an image of exactly {exact.size:,} pixels",
            _encode(exact),
            True,
            f"an image of exactly max_pixels={max_pixels:,} pixels ({side}×{exact.shape[0]}) is "
            "allowed: reject only when width × height is more than max_pixels (>, not >=)",
        ),
        ("an empty file", b"", False, "an empty file passed: check `if not data` first"),
        (
            "a text file",
            b"name,label\ncat.jpg,cat\n",
            False,
            "a text file passed: open the bytes with Pillow to find out whether they are an image",
        ),
        (
            "a truncated PNG",
            _truncated_png(),
            False,
            "a truncated PNG passed: Image.open only reads the header; decode the pixels with "
            "image.load() and let its error reach you (ImageFile.LOAD_TRUNCATED_IMAGES "
            "left False, as it is by default)",
        ),
        (
            "a truncated JPEG",
            _truncated_jpeg(),
            False,
            "a JPEG cut in half passed: Image.open reads only its header, and image.verify() "
            "decodes no JPEG pixels; only image.load() finds the missing data (with "
            "ImageFile.LOAD_TRUNCATED_IMAGES left False, as it is by default)",
        ),
        (
            "a PNG with damaged pixel data",
            _damaged_png(),
            False,
            "a complete PNG whose pixel data is damaged passed: its checksums and end marker "
            "are in place, so only decoding the pixels, image.load(), finds the damage",
        ),
        (
            f"an image of {exact.size + side:,} pixels",
            _encode(np.zeros((exact.shape[0] + 1, side), np.uint8)),
            False,
            f"an image of {exact.size + side:,} pixels, one row more than {exact.size:,}, "
            f"passed with max_pixels={max_pixels:,}: compare width × height with the limit",
        ),
        (
            f"an image of {(side + 10) ** 2:,} pixels",
            _encode(np.zeros((side + 10, side + 10), np.uint8)),
            False,
            f"an image of {side + 10}×{side + 10} pixels passed with max_pixels={max_pixels:,}: "
            "compare width × height with the limit",
        ),
        *_long_sides(max_pixels),
        (
            f"a {len(bomb)}-byte PNG header claiming {claimed[0]}×{claimed[1]} pixels",
            bomb,
            False,
            f"a file claiming {claimed[0] * claimed[1] / 1e6:,.0f} million pixels passed: "
            "compare width × height with the limit",
        ),
    ]


def _long_sides(max_pixels: int) -> list[tuple[str, bytes, bool, str]]:
    """Very wide and very tall images, under and over the limit: the limit is on width ×
    height, and a rule on one side (the longer side squared, height × height) shows only on an
    image far from square."""
    thin = 10
    under, over = max_pixels // thin - 3, max_pixels // thin + 50
    cases = []
    for long, should_pass in ((under, True), (over, False)):
        for width, height, shape in ((long, thin, "wide"), (thin, long, "tall")):
            pixels = width * height
            mistake = (
                f"a {shape} {width}×{height} image, {pixels:,} pixels, was rejected with "
                f"max_pixels={max_pixels:,}: the limit is on the number of pixels, width × "
                "height, however long one side is"
                if should_pass
                else f"a {shape} {width}×{height} image, {pixels:,} pixels, passed with "
                f"max_pixels={max_pixels:,}: compare width × height, both sides, with the limit"
            )
            data = _encode(np.zeros((height, width), np.uint8))
            cases.append(
                (f"a {shape} image of {width}×{height} pixels", data, should_pass, mistake)
            )
    return cases


def _passes(watched: Callable[[bytes, int], Any], data: bytes, max_pixels: int) -> bool:
    """Whether the answer lets ``data`` through (returns None); False if it raised."""
    try:
        answer, *_ = call_student(watched, data, max_pixels)
    except StudentCodeFailed:
        return False
    return answer is None


def _settings_problem(setting: Any, max_pixels: int) -> str:
    """The message for an answer that changed a setting of Pillow's for the whole process:
    ``setting`` is ``[module, name, before, changed to, still changed after the call]``."""
    module, name, before, after, left = setting
    what = (
        "Pillow's limit on the pixels of every image the process opens"
        if name == "MAX_IMAGE_PIXELS"
        else "a setting of Pillow's for every image the process decodes"
    )
    when = (
        "and left it so (the check put it back): it is one setting for the whole process, and "
        "every later Image.open in the notebook, every later request of a service, would run "
        "with your value"
        if left
        else "while it ran: put back afterwards or not, it is one setting for the whole "
        "process, and a service's other requests, running at the same time in other threads, "
        "would get your value"
    )
    return (
        f"your function changed {module}.{name}, {what}, from {before!r} to {after!r}, {when}. "
        "Leave Pillow's settings as they are, and compare the image's size, width × height, "
        f"with max_pixels yourself ({max_pixels:,} here)."
    )


def exercise_7_3(
    check_upload: Callable[[bytes, int], Any], max_pixels: int | None = None
) -> CheckResult:
    """check_upload(data, max_pixels) -> None for a usable image, else a reason (a non-empty
    string); never raises.

    ``max_pixels`` is 10,000 in the notebook, and drawn afresh (between about 5,000 and 15,000)
    in a grading run."""
    if max_pixels is None:
        max_pixels = 10_000
        rng = check_rng(730)
        while (
            salted() and abs(max_pixels - 10_000) < 500
        ):  # far enough from 10,000 that a limit written in shows
            max_pixels = int(np.prod(rng.integers(70, 123, 2)))

    def diagnose() -> str | None:
        if not callable(check_upload):
            raise StudentCodeFailed(f"expected a function, got {type(check_upload).__name__}.")

        def watched(data: bytes, limit: int) -> Any:
            # The answer, and the size of every image whose pixels Pillow decoded meanwhile.
            return drive("decoding_watched", check_upload, data, limit)

        settings: list[Any] = []  # Pillow's settings the answer changed, on the first upload
        for name, data, should_pass, mistake in _upload_cases(max_pixels):
            try:
                answer, decoded, changed = call_student(watched, data, max_pixels)
            except StudentCodeFailed as exc:
                if str(exc).startswith("not attempted"):
                    raise
                raised = str(exc).rstrip(".")
                if "DecompressionBombError" in raised:
                    return (
                        f"for {name}, {raised}. Pillow refuses such files already in "
                        "Image.open, with Image.DecompressionBombError, which is not an "
                        "OSError: catch it too and return a reason."
                    )
                return (
                    f"for {name}, {raised}. A check returns a reason instead of raising: "
                    "catch Pillow's errors (UnidentifiedImageError and other OSErrors, "
                    "SyntaxError, Image.DecompressionBombError)."
                )
            if answer is not None and not isinstance(answer, str):
                return (
                    f"for {name} you returned {_said(answer)}; return None for a good upload or a "
                    "reason (a string)."
                )
            if answer == "":
                return f"for {name} you returned an empty string; give a reason the user can read."
            if should_pass and answer is not None:
                return f"{mistake} (your reason: {_said(answer)})."
            if not should_pass and answer is None:
                unreadable = (
                    "an empty file",
                    "a text file",
                    "a truncated PNG",
                    "a truncated JPEG",
                    "a PNG with damaged pixel data",
                )
                if name in unreadable and all(
                    _passes(watched, case_data, max_pixels)
                    for case_name, case_data, _, _ in _upload_cases(max_pixels)
                    if case_name in unreadable
                ):
                    return (
                        "none of the unreadable files got a reason (an empty file, a text "
                        "file, a truncated PNG and JPEG all passed): when Pillow cannot read "
                        "the bytes, "
                        "that is a reason to give, not None."
                    )
                return f"{mistake}."
            too_big = [(int(w), int(h)) for w, h in decoded if int(w) * int(h) > max_pixels]
            if too_big:
                width, height = too_big[0]
                return (
                    f"you decoded the pixels of {name} ({width}×{height}) before finding it too "
                    "big: compare image.size with the limit before image.load(), so that a "
                    "small file claiming millions of pixels is never decoded."
                )
            settings = settings or list(changed)
        # Named once every upload is judged right: an answer that changed a setting and
        # also lets a bad upload through is told of the upload first
        return _settings_problem(settings[0], max_pixels) if settings else None

    return run_check(
        "7.3",
        diagnose,
        "good images pass, and every bad upload gets a reason, without decoding it.",
    )


# ---------------------------------------------------------------- 7.4 a client that sends a batch


def _batch_files(n: int = 4) -> list[tuple[str, bytes]]:
    rng = check_rng(11)
    levels = np.linspace(20, 235, n)  # from dark to bright, so the labels differ
    return [
        (f"item{i}.png", _encode(np.clip(rng.normal(level, 20, (28, 28)), 0, 255).astype(np.uint8)))
        for i, level in enumerate(levels)
    ]


def exercise_7_4(
    classify_batch: Callable[[str, list[tuple[str, bytes]]], Any],
    url: str,
    files: list[tuple[str, bytes]] | None = None,
) -> CheckResult:
    """classify_batch(url, files) -> the labels of ``files`` ([(name, bytes)]), from ONE request.

    ``url``: the address of the lesson's running server, or the server itself (``server``).
    In two-phase grading the check uses neither: the judge runs a service of its own
    (:mod:`course_lib.checks._batch_service`), gives the kernel its address, and counts the
    requests that reach it; the notebook's server could answer anything and count nothing.
    """
    import requests

    apart = _judged_apart(classify_batch)
    if not apart and not isinstance(url, str):
        try:  # the lesson's server itself: its address
            url = url.url if isinstance(url.url, str) else url
        except Exception:  # anything else: the message below says what the check needs
            pass
    if not apart and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        return not_yet(
            "7.4",
            f"the check needs the running server's address (`server.url`, "
            f"'http://127.0.0.1:…') as its second argument; it got {describe(url)}.",
        )
    try:
        files = list(files) if files else _batch_files()
        if not all(isinstance(f, tuple) and len(f) == 2 and isinstance(f[1], bytes) for f in files):
            raise TypeError
    except Exception:
        return not_yet(
            "7.4",
            f"the check needs the lesson's `batch_files`, a list of (name, bytes) pairs, as "
            f"its third argument; it got {describe(files)}.",
        )
    service = None
    if apart:  # the judge's own service, files and labels, drawn for this grading run
        from course_lib.checks import _batch_service

        files = _batch_files()
        service = _batch_service.running(FASHION_MNIST_CLASSES)
        classes = check_rng(740).permutation(len(FASHION_MNIST_CLASSES))[: len(files)]
        service.give_labels(files, [int(c) for c in classes])
        url = service.url
    url = url.rstrip("/")
    # The first file once more, under another name, so that two files share a label: a client
    # that drops repeated labels (a set, dict.fromkeys) returns fewer labels than files.
    first_name, first_data = files[0]
    files = [*files, (f"again_{first_name}", first_data)]

    def call(name: str) -> Callable[..., Any]:
        """classify_batch; in two-phase grading, noting when the kernel is to make the call."""

        def made(*args: Any) -> Any:
            try:
                return classify_batch(*args)
            except BaseException as exc:
                if service is not None and not isinstance(exc, Exception):
                    # The judge asks the kernel for this call: its requests come next.
                    service.mark(name, first=name == "batch")
                raise

        return made if callable(classify_batch) else classify_batch

    def total() -> int:
        return requests.get(f"{url}/history", params={"per_page": 1}, timeout=30).json()["total"]

    def diagnose() -> str | None:
        if service is not None:
            return judged([service.label_of(data) for _, data in files])
        try:
            expected = [
                requests.post(f"{url}/predict", files={"file": f}, timeout=60).json()["label"]
                for f in files
            ]
        except Exception as exc:  # not this course's server, or not running
            return (
                f"the check could not ask the server at {url} itself ({student_error(exc)}): "
                "start it with the lesson's cell and pass `server.url`."
            )
        before = total()
        return judged(expected, before)

    def judged(expected: list[str], before: int = 0) -> str | None:
        """Everything after learning the label the server gives each file."""
        try:
            labels = call_student(call("batch"), url, list(files))
        except StudentCodeFailed as exc:
            if "HTTPError" in str(exc) and "400" in str(exc):
                raise StudentCodeFailed(
                    f"{exc}. The server refused the request: send the images in the "
                    "multipart field 'file', e.g. files=[('file', (name, data)), ...]."
                ) from None
            if "HTTPError" in str(exc) and "415" in str(exc):
                raise StudentCodeFailed(
                    f"{exc}. The server refused the request's type: it takes the images as "
                    "multipart/form-data, which requests sends for files=, not for data= (text "
                    "fields) or json=: files=[('file', (name, data)), ...]."
                ) from None
            if "KeyError" in str(exc) and "predictions" in str(exc):
                raise StudentCodeFailed(
                    f"{exc}. The server answers {{'predictions': [...]}} only to a request "
                    "with several files; to a single file it answers one prediction. Did "
                    "only one file go? Send every file: "
                    "files=[('file', (name, data)) for name, data in files]."
                ) from None
            if "ValueError" in str(exc) and "unpack" in str(exc):
                raise StudentCodeFailed(
                    f"{exc}. Did you give files= a dict whose value for 'file' is the list of "
                    "files? requests reads a dict's value as one file, (name, content, type, "
                    "headers), and a dict holds one value per field. To send the field 'file' "
                    "once per image, give files= a list of pairs instead: "
                    "files=[('file', (name, data)) for name, data in files]."
                ) from None
            raise
        if labels is None:
            return "your function returned None: did you forget to `return` the labels?"
        if isinstance(labels, dict) and "predictions" in labels:
            return (
                "you returned the whole JSON body; return its labels: "
                "[p['label'] for p in body['predictions']]."
            )
        if isinstance(labels, dict):
            return (
                f"you returned {describe(labels)}; return a list of labels, one per file, "
                "read from the server's answer: [p['label'] for p in body['predictions']]."
            )
        if not isinstance(labels, list | tuple):
            return (
                f"you returned {describe(labels)}; return a list of labels, one per file, "
                "e.g. [p['label'] for p in body['predictions']]."
            )
        labels = list(labels)
        if labels and isinstance(labels[0], dict):
            return (
                "you returned whole predictions; return just the labels: [p['label'] for p in ...]."
            )
        if service is not None:  # the requests that made predictions, as the history counts
            requests_made = sum(
                r["path"] == "/predict" and r["status"] == 200 for r in service.requests_of("batch")
            )
        else:
            new_rows = requests.get(f"{url}/history", params={"per_page": 100}, timeout=30).json()[
                "items"
            ]
            new_rows = new_rows[: total() - before]
            requests_made = len({row["created_at"] for row in new_rows})
        repeated = len(set(expected)) < len(expected)
        if repeated and len(labels) == len(set(expected)) and set(labels) == set(expected):
            twice = next(label for label in expected if expected.count(label) > 1)
            return (
                f"{len(labels)} labels for {len(files)} files: the server answers {twice!r} for "
                f"more than one file ({files[0][0]} and {files[-1][0]} hold the same image), "
                "and your list has it once. Return one label per file, in the order of the "
                "files, repeats included (a set or dict.fromkeys drops them)."
            )
        if len(labels) != len(files):
            return (
                f"{len(labels)} label(s) for {len(files)} files: send every file in the same "
                "request (a list of ('file', (name, bytes)) pairs) and read "
                "body['predictions']."
            )
        if requests_made > 1:
            return (
                f"your function made {requests_made} requests; send all {len(files)} files in "
                "one POST, one entry of the `files` list per image."
            )
        if labels != expected:
            if sorted(labels) == sorted(expected):
                return (
                    "the labels are not in the order of the files: keep the order of "
                    "body['predictions']."
                )
            return (
                f"the labels {labels} differ from what the server answers for each file, "
                f"{expected}."
            )
        # A file that is not an image: the server answers 400, and the client must not pass that on
        # as labels.
        try:
            refused = call("refused")(url, [("notes.png", b"name,label\ncat.jpg,cat\n")])
        except NotImplementedError:
            raise StudentCodeFailed(NOT_ATTEMPTED) from None
        except Exception:
            return None
        return (
            "for a file the server refuses with status 400 (a text file) your function "
            f"returned {describe(refused)} instead of raising: call response.raise_for_status() "
            "before reading the body."
        )

    result = run_check(
        "7.4",
        diagnose,
        f"{len(files) - 1} files and the first once more under another name: "
        f"{len(files)} labels, in order, from a single request.",
    )
    if service is not None:  # done (a call the kernel is still to make leaves by exception)
        _batch_service.stop()
    return result


# ---------------------------------------------------------------- 7.5 one client, several services


def _answers() -> list[tuple[str, Any, tuple[str, float]]]:
    """(service, a body of its shape with the entries out of order, the expected (label,
    confidence))."""
    return [
        (
            "the course service",
            {
                "id": 7,
                "label": "Sneaker",
                "class_index": 7,
                "confidence": 0.91,
                "top_k": [
                    {"label": "Sneaker", "class_index": 7, "confidence": 0.91},
                    {"label": "Sandal", "class_index": 5, "confidence": 0.06},
                ],
            },
            ("Sneaker", 0.91),
        ),
        (
            "Google Cloud Vision",
            {
                "responses": [
                    {
                        "labelAnnotations": [
                            {
                                "mid": "<id>",
                                "description": "Whiskers",
                                "score": 0.91,
                                "topicality": 0.74,
                            },
                            {
                                "mid": "<id>",
                                "description": "Cat",
                                "score": 0.97,
                                "topicality": 0.62,
                            },
                            {
                                "mid": "<id>",
                                "description": "Carnivore",
                                "score": 0.88,
                                "topicality": 0.95,
                            },
                        ]
                    }
                ]
            },
            ("Cat", 0.97),
        ),
        (
            "Amazon Rekognition",
            {
                "Labels": [
                    {
                        "Name": "Pet",
                        "Confidence": 93.1,
                        "Instances": [],
                        "Parents": [{"Name": "Animal"}],
                    },
                    {
                        "Name": "Cat",
                        "Confidence": 97.4,
                        "Instances": [],
                        "Parents": [{"Name": "Animal"}],
                    },
                    {
                        "Name": "Mammal",
                        "Confidence": 96.2,
                        "Instances": [],
                        "Parents": [{"Name": "Animal"}],
                    },
                ],
                "LabelModelVersion": "3.0",
            },
            ("Cat", 0.974),
        ),
        (
            "Amazon Rekognition (labels under 1 %)",
            {
                "Labels": [
                    {"Name": "Blur", "Confidence": 0.41, "Instances": [], "Parents": []},
                    {"Name": "Fog", "Confidence": 0.87, "Instances": [], "Parents": []},
                ],
                "LabelModelVersion": "3.0",
            },
            ("Fog", 0.0087),
        ),
        (
            "Azure AI Vision",
            {
                "metadata": {"width": 640, "height": 480},
                "tagsResult": {
                    "values": [
                        {"name": "indoor", "confidence": 0.62},
                        {"name": "cat", "confidence": 0.99},
                        {"name": "whiskers", "confidence": 0.95},
                    ]
                },
            },
            ("cat", 0.99),
        ),
        (
            "Hugging Face",
            [
                {"label": "tiger cat", "score": 0.25},
                {"label": "tabby, tabby cat", "score": 0.58},
                {"label": "Egyptian cat", "score": 0.12},
            ],
            ("tabby, tabby cat", 0.58),
        ),
    ]


def _salted_answers() -> list[tuple[str, Any, tuple[str, float]]]:
    """:func:`_answers` with scores drawn for this grading run: the same shapes, the same label
    on top (never the first entry of a list), other confidences."""
    rng = check_rng(75)
    salted_answers = []
    for service, body, (label, _) in _answers():
        if isinstance(body, dict) and "top_k" in body:
            top = float(rng.choice(np.arange(50, 100))) / 100
            second = round(float(rng.uniform(0.0, 1 - top)), 2)
            body["confidence"] = body["top_k"][0]["confidence"] = top
            body["top_k"][1]["confidence"] = second
            salted_answers.append((service, body, (label, top)))
            continue
        percent = isinstance(body, dict) and "Labels" in body
        entries = (
            body
            if isinstance(body, list)
            else body["Labels"]
            if percent
            else body["tagsResult"]["values"]
            if "tagsResult" in body
            else body["responses"][0]["labelAnnotations"]
        )
        scores = sorted(
            (float(v) for v in rng.choice(np.arange(5, 100), len(entries), replace=False) / 100),
            reverse=True,
        )
        names = [
            e.get("label") or e.get("Name") or e.get("name") or e.get("description")
            for e in entries
        ]
        others = [i for i in range(len(entries)) if names[i] != label]
        order = [names.index(label)] + [others[i] for i in rng.permutation(len(others))]
        unsure = percent and "under 1 %" in service  # Confidence below 1 percent
        for position, score in zip(order, scores, strict=True):
            entry = entries[position]
            for key in ("score", "confidence"):
                if key in entry:
                    entry[key] = score
            if "Confidence" in entry:
                entry["Confidence"] = score if unsure else round(score * 100, 1)
        if "topicality" in entries[0]:
            # relevance, not confidence: another order, topped by neither the label nor the
            # first entry, and never the label's score
            while True:
                relevance = sorted(
                    (float(v) for v in rng.choice(np.arange(5, 100), len(entries), False) / 100),
                    reverse=True,
                )
                if relevance[1:].count(scores[0]) == 0:
                    break
            rest = [i for i in range(1, len(entries)) if names[i] != label]
            relevance_order = [rest[-1]] + [
                i for i in rng.permutation(len(entries)).tolist() if i != rest[-1]
            ]
            for position, value in zip(relevance_order, relevance, strict=True):
                entries[position]["topicality"] = value
        salted_answers.append((service, body, (label, scores[0] / 100 if unsure else scores[0])))
    return salted_answers


def _by_topicality(body: Any) -> tuple[str, list[float]] | None:
    """A Google answer's label with the highest topicality, and all its topicalities."""
    try:
        entries = body["responses"][0]["labelAnnotations"]
        best = max(entries, key=lambda e: e["topicality"])
        return best["description"], [float(e["topicality"]) for e in entries]
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _entries(body: Any) -> list[tuple[str, float]]:
    """A list answer's entries as (label, score), in the body's order; [] for the others."""
    if isinstance(body, list):
        entries = body
    elif isinstance(body, dict) and "Labels" in body:
        entries = body["Labels"]
    elif isinstance(body, dict) and "tagsResult" in body:
        entries = body["tagsResult"]["values"]
    elif isinstance(body, dict) and "responses" in body:
        entries = body["responses"][0]["labelAnnotations"]
    else:
        return []
    return [
        (
            e.get("label") or e.get("Name") or e.get("name") or e.get("description"),
            float(e.get("score", e.get("Confidence", e.get("confidence", 0.0)))),
        )
        for e in entries
    ]


def _not_the_top_entry(
    service: str, body: Any, got_label: Any, most_topical: Any = None
) -> str | None:
    """What an answer that took another entry than the most confident one did, or None.

    ``most_topical``: the label of a Google answer's entry with the highest topicality, which
    may also be the one with the lowest score: then the message names both readings."""
    entries = _entries(body)
    if not entries:
        return None
    first = entries[0][0]
    lowest = min(entries, key=lambda e: e[1])[0]
    take = "take the entry with the highest score, max(entries, key=...)"
    if got_label == first == lowest:
        return (
            f"for {service} you took {got_label!r}, the first entry and the one with the lowest "
            f"score: {take} (these lists are not always sorted)."
        )
    if got_label == lowest:
        topical = (
            " It is also the entry with the highest 'topicality', which says how relevant a "
            "label is to the image, not how sure the service is: the confidence is 'score'."
            if got_label == most_topical
            else ""
        )
        return (
            f"for {service} you took {got_label!r}, the entry with the lowest score (min, or "
            f"a sort in ascending order): {take}.{topical}"
        )
    if got_label == first:
        return (
            f"for {service} you took the first entry, {got_label!r}; these lists are not "
            f"always sorted: {take}."
        )
    return None


# JSON bodies of no known shape, and how the message shows them: another service's object, what
# a proxy in trouble sends, null, a number, lists of other entries, objects without the keys
# (a label without a confidence must not get one made up).
_UNKNOWN_BODIES: list[tuple[Any, str]] = [
    ({"outputs": [[0.02, 0.98]]}, "{'outputs': [[0.02, 0.98]]}"),
    ("Service Unavailable", "a str ('Service Unavailable')"),
    (None, "null (None)"),
    (42, "a number (42)"),
    ([[0.02, 0.98]], "a list of lists, [[0.02, 0.98]]"),
    (
        [{"class": "cat", "probability": 0.9}],
        "a list of entries without 'label' and 'score', [{'class': 'cat', 'probability': 0.9}]",
    ),
    (
        [{"label": "cat", "score": 0.9}, {"class": "dog", "probability": 0.95}],
        "a list of Hugging Face's entries mixed with others, "
        "[{'label': 'cat', 'score': 0.9}, {'class': 'dog', 'probability': 0.95}]",
    ),
    ([], "an empty list, [] (no label at all)"),
    ({"label": "cat"}, "an object with a 'label' but no 'confidence', {'label': 'cat'}"),
    ({}, "an empty object, {}"),
    # Last: an answer that reads keys of anything is named by the bodies above first
    (
        '{"label": "cat", "confidence": 0.9}',
        """a str that holds JSON text, '{"label": "cat", "confidence": 0.9}'""",
    ),
]


def exercise_7_5(top_label: Callable[[Any], Any]) -> CheckResult:
    """top_label(json body) -> (label, confidence in [0, 1]) for five services' shapes;
    ValueError for others."""

    def diagnose() -> str | None:
        for service, body, (label, confidence) in _salted_answers() if salted() else _answers():
            try:
                answer = call_student(top_label, copy.deepcopy(body))
            except StudentCodeFailed as exc:
                if str(exc).startswith("not attempted"):
                    raise
                raise StudentCodeFailed(f"for {service}'s answer, {exc}") from None
            if answer is None:
                return (
                    f"for {service}'s answer you returned None: did you forget to `return "
                    "(label, confidence)`?"
                )
            if (
                isinstance(answer, (str, bytes, dict))
                or not isinstance(answer, (tuple, list))
                or len(answer) != 2
            ):
                return (
                    f"for {service}'s answer you returned {_said(answer)}; return a pair (label, "
                    "confidence)."
                )
            got_label, got_confidence = answer
            if isinstance(got_confidence, bool) or not isinstance(
                got_confidence, (int, float, np.floating)
            ):
                return (
                    f"for {service} the confidence is {got_confidence!r}; it must be a "
                    "number in [0, 1]."
                )
            topical = _by_topicality(body)
            entries = _entries(body)
            # The lowest-scored entry may top the relevance too: its own score returned says
            # min, not topicality (named below).
            lowest = min(entries, key=lambda e: e[1]) if entries else None
            took_lowest = lowest is not None and (got_label, float(got_confidence)) == lowest
            if (
                topical is not None
                and (
                    (got_label == topical[0] and not took_lowest)
                    or any(abs(float(got_confidence) - t) < 1e-6 for t in topical[1])
                )
                and not (got_label == label and abs(float(got_confidence) - confidence) <= 1e-6)
            ):
                return (
                    f"for {service} you returned {_said(answer)}, read from 'topicality': that is "
                    "how relevant a label is to the image, not how sure the service is. The "
                    f"confidence is 'score': expected ({label!r}, {confidence})."
                )
            if (
                "under 1 %" in service
                and got_label == label
                and abs(float(got_confidence) - confidence * 100) < 1e-6
            ):
                return (
                    f"for {service} you returned a confidence of {got_confidence}: "
                    "Rekognition's Confidence is a percentage even when it is below 1; "
                    "divide by 100 always, not depending on the value."
                )
            if got_label == label and abs(float(got_confidence) - confidence * 100) < 1e-6:
                if isinstance(body, dict) and "Labels" in body:
                    return (
                        f"for {service} you returned a confidence of {got_confidence}: its "
                        "Confidence is a percentage (0–100); divide by 100 so every service "
                        "speaks in [0, 1]."
                    )
                return (
                    f"for {service} you returned a confidence of {got_confidence}, 100 times "
                    f"the {confidence} its answer holds: that number is already in [0, 1], and "
                    "you multiplied it by 100. Only Amazon Rekognition's Confidence is a "
                    "percentage; return the other services' numbers as they are."
                )
            wrong_entry = (
                _not_the_top_entry(service, body, got_label, topical[0] if topical else None)
                if got_label != label
                else None
            )
            if wrong_entry:
                return wrong_entry
            if got_label != label or abs(float(got_confidence) - confidence) > 1e-6:
                return (
                    f"for {service}'s answer you returned {_said(answer)}; expected ({label!r}, "
                    f"{confidence})."
                )
        for unknown, shown in _UNKNOWN_BODIES:
            try:
                answer = top_label(copy.deepcopy(unknown))
            except NotImplementedError:
                return NOT_ATTEMPTED
            except ValueError:
                continue
            except Exception as exc:  # the student's bug is feedback, not a crash
                return (
                    f"for a body of no known shape, {shown}, your code raised "
                    f"{student_error(exc)}; raise ValueError('...') instead, so the "
                    "caller knows the answer's shape is not one you read."
                )
            made_up = (
                " A confidence the body does not hold is made up: the caller would take it for "
                "the service's."
                if (isinstance(unknown, dict) and "label" in unknown) or unknown == []
                else " The body comes decoded already, as response.json() gives it: a string "
                "in its place is what the service sent as a JSON string, not JSON text to "
                "decode again."
                if isinstance(unknown, str) and unknown.startswith("{")
                else ""
            )
            return (
                f"for a body of no known shape, {shown}, you returned {_said(answer)}; raise "
                f"ValueError('...') instead of guessing.{made_up}"
            )
        return None

    return run_check(
        "7.5", diagnose, "one function reads the top label of all five services' answers."
    )
