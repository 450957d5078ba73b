"""Checks for lesson 03, CNN layers."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from course_lib import images
from course_lib.checks._core import (
    StudentCodeFailed,
    as_array,
    call_pure,
    call_student,
    check_rng,
    describe,
    first_difference,
    returned_repr,
    run_check,
    shape_problem,
    student_error,
)
from course_lib.record import CheckResult


def _slide_test_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    # Not square and not symmetric, so swapped axes and a flipped kernel both show; then a
    # 2x2 kernel on a taller image, so that a k of 3 written into the loops shows too.
    # Last, 8-bit pixels as photos come: an output of the image's integer dtype shows.
    rng = check_rng(3)
    return [
        (rng.random((6, 8)), np.array([[1.0, 0.0, -1.0], [2.0, 0.5, -2.0], [1.0, 0.0, -3.0]])),
        (rng.random((7, 5)), np.array([[2.0, -1.0], [0.5, -3.0]])),
        (
            rng.integers(0, 256, (5, 6), dtype=np.uint8),
            np.array([[0.25, -0.5, 0.1], [0.3, 1.0, -0.7], [0.05, -0.2, 0.45]]),
        ),
    ]


def exercise_3_1(convolve_valid: Callable[[np.ndarray, np.ndarray], Any]) -> CheckResult:
    """convolve_valid(image, kernel) -> cross-correlation, stride 1, valid padding."""

    def diagnose() -> str | None:
        for number, (image, kernel) in enumerate(_slide_test_cases()):
            k = len(kernel)
            pixels = f" {image.dtype}" if np.issubdtype(image.dtype, np.integer) else ""
            where = f"with a {image.shape[0]}x{image.shape[1]}{pixels} image and a {k}x{k} kernel"
            right = "right with float images" if pixels else "right with a 3x3 kernel"
            try:
                problem = _slide_problem(convolve_valid, image, kernel)
            except StudentCodeFailed as exc:
                if number == 0:
                    raise
                hint = (
                    ""
                    if pixels
                    else " Does your code take k from the kernel's shape, kernel.shape[0]?"
                )
                return f"{right}, but {where}, {str(exc).rstrip(' .')}.{hint}"
            if problem:
                return problem if number == 0 else f"{right}, but {where}: {problem}"
        return None

    return run_check(
        "3.1", diagnose, "the kernel slides over every valid window, exactly like Conv2D."
    )


def _array_of_objects(value: Any) -> bool:
    """A NumPy array of Python objects (dtype object), or of no plain numbers (datetimes).

    Known by its type's name and module: in two-phase grading such an array does not travel
    as data, and the judge gets a stand-in of that name (grading.judge_decode).
    """
    kind = type(value)
    if kind.__name__ != "ndarray" or kind.__module__ != "numpy":
        return False
    return not isinstance(value, np.ndarray) or (
        value.dtype.hasobject or value.dtype.kind not in "biufcUS"
    )


def _slide_problem(
    convolve_valid: Callable[..., Any], image: np.ndarray, kernel: np.ndarray
) -> str | None:
    expected = images.convolve2d(image, kernel)
    k = kernel.shape[0]
    returned = call_pure(convolve_valid, image, kernel, names=("image", "kernel"))
    if _array_of_objects(returned):
        return (
            "your output is a NumPy array of dtype object (or of another dtype that holds no "
            "plain numbers), not the float array the task asks for: start from an array of "
            "floats (np.zeros gives float64), or turn yours into one with .astype(np.float64)."
        )
    out = as_array(returned, "your output")
    h, w = image.shape
    if out.shape == image.shape:
        return (
            f"the output has the image's shape {image.shape}; with valid padding the {k}x{k} "
            f"window fits only {h - k + 1}x{w - k + 1} times: (h - k + 1, w - k + 1)."
        )
    if out.shape == (h - k, w - k):
        return (
            "the output is one row and one column short: the last window starts at row h - k, "
            "so there are h - k + 1 positions (range(h - k + 1))."
        )
    problem = shape_problem(out, expected.shape, "your output")
    if problem:
        return problem
    if np.issubdtype(out.dtype, np.integer) or out.dtype == np.bool_:
        return (
            f"your output has dtype {out.dtype}, so each weighted sum lost its fraction (and a "
            "negative one wrapped around, in unsigned pixels); the task asks for a float array, "
            "whatever the image's dtype: start from an array of floats."
        )
    if out.dtype.kind == "c":
        return (
            f"your output holds {out.dtype} values, complex numbers; the task asks for a float "
            "array: each weighted sum of real pixels and weights is a real number, so start "
            "from an array of floats (np.zeros gives float64)."
        )
    given, out = out, out.astype(np.float64)  # given: the dtype the message shows
    if given.dtype == np.float16 and np.allclose(out, expected, rtol=2e-3, atol=2e-3):
        return (
            "your output has dtype float16, which keeps only about 3 significant digits, so "
            "every weighted sum comes out rounded: "
            + first_difference(given, expected, "output")
            + " The task asks for float32 or float64."
        )
    if np.allclose(out[:-1, :-1], expected[:-1, :-1]) and (
        np.allclose(out[-1], 0) or np.allclose(out[:, -1], 0)
    ):
        return (
            "the last row or column is still 0: your loops stop one step early; "
            "use range(h - k + 1) and range(w - k + 1)."
        )
    if np.allclose(out, images.convolve2d(image, kernel[::-1, ::-1])):
        return (
            "you flipped the kernel (convolution as in a maths textbook); Conv2D does "
            "not flip: "
            "multiply each window by the kernel as it is."
        )
    if np.allclose(out, images.convolve2d(image, kernel.T)):
        return "you used the kernel transposed (rows and columns swapped)."
    if not np.allclose(out, expected):
        return (
            "right shape, but the values differ: each output value is the k x k window of the "
            "image at that position, multiplied element by element with the kernel, and "
            "summed. First difference: " + first_difference(given, expected, "output")
        )
    if isinstance(returned, list | tuple):
        return (
            f"the values are right, but you returned a {type(returned).__name__} of rows; the "
            "task asks for a float array: build one, or turn your rows into one."
        )
    return None


# --- 3.2: a diagonal-edge kernel ---------------------------------------------------------------


def _edge_patch(along: str, offset: int, dark: float, bright: float) -> np.ndarray:
    """A 3x3 window holding a straight edge, row i down and column j to the right.

    ``along="/"``: constant along each line i + j = const, bright where i + j >= offset (from
    bottom-left to top-right). ``along="\\"``: constant along each line j - i = const, bright
    where j - i >= offset, above the main diagonal (offset 1) or on and above it (offset 0).
    """
    i, j = np.indices((3, 3))
    position = i + j if along == "/" else j - i
    return np.where(position >= offset, bright, dark).astype(np.float64)


def _levels(rng: np.random.Generator) -> tuple[float, float]:
    """A dark and a bright level in [0, 1], at least 0.3 apart, either way round."""
    low = float(rng.uniform(0.0, 0.6))
    high = float(rng.uniform(low + 0.3, 1.0))
    return (low, high) if rng.random() < 0.5 else (high, low)


def _slash_edges() -> list[np.ndarray]:
    """'/' edges: the step through the centre first, then off-centre ones, both polarities;
    then some drawn with check_rng, afresh in each grading run."""
    fixed = [
        _edge_patch("/", offset, dark, bright)
        for offset in (2, 3, 1, 4)
        for dark, bright in ((0.0, 1.0), (1.0, 0.0))
    ]
    rng = check_rng(32)
    drawn = [_edge_patch("/", int(rng.integers(1, 5)), *_levels(rng)) for _ in range(4)]
    return fixed + drawn


def _backslash_edges() -> list[np.ndarray]:
    """'\\' edges through the centre: the diagonal pixels bright, then dark; both polarities,
    then some drawn with check_rng."""
    fixed = [
        _edge_patch("\\", offset, dark, bright)
        for offset in (0, 1)
        for dark, bright in ((0.0, 1.0), (1.0, 0.0))
    ]
    rng = check_rng(33)
    drawn = [_edge_patch("\\", int(rng.integers(0, 2)), *_levels(rng)) for _ in range(2)]
    return fixed + drawn


def _rows(patch: np.ndarray) -> str:
    """A small window written as its rows, e.g. [[0, 0, 1], [0, 1, 1], [1, 1, 1]]."""
    return "[" + ", ".join("[" + ", ".join(f"{v:.2g}" for v in row) + "]" for row in patch) + "]"


def _response(kernel: np.ndarray, patch: np.ndarray) -> float:
    # One window of the convolution: images.convolve2d on a 3x3 image gives this one number.
    return float((kernel * patch).sum())


def exercise_3_2(kernel: Any) -> CheckResult:
    """A 3x3 kernel that gives 0 on flat areas and on edges running like '/', and not 0 on an edge
    running like '\\' through its centre."""

    def diagnose() -> str | None:
        got = as_array(kernel, "your kernel")
        problem = shape_problem(got, (3, 3), "your kernel")
        if problem:
            return problem
        if not np.issubdtype(got.dtype, np.number):
            raise StudentCodeFailed(f"your kernel holds {got.dtype} values, not numbers.")
        if got.dtype.kind == "c":
            return (
                f"your kernel holds {got.dtype} values, complex numbers; a kernel's weights are "
                "real numbers, as a Conv2D's are: keep it an array of floats."
            )
        got = got.astype(np.float64)
        if not np.isfinite(got).all():
            return (
                "your kernel holds NaN or infinite weights, so the windows it touches give NaN "
                "or infinity instead of a response: every weight must be an ordinary number."
            )
        scale = np.abs(got).sum()  # the largest response on a window of values in [0, 1]
        if scale == 0:
            return (
                "all weights are 0, so the output is 0 everywhere, on a '\\' edge too: give the "
                "weights values that tell the two sides of a '\\' edge apart."
            )
        tolerance = 1e-6 * scale
        if np.all(got > 0) or np.all(got < 0):
            return (
                "every weight has the same sign: that is a blur, an average of the neighbourhood. "
                "An edge detector subtracts one side from the other."
            )
        flat = got.sum()
        if abs(flat) > tolerance:
            return (
                f"on a flat area, where every pixel is 1, your kernel gives {flat:g} (the sum of "
                "its weights), not 0; on a flat area of brightness b it gives b times that. "
                "Make the weights add up to 0, so that only a change lights the kernel up."
            )
        backslash = [(patch, _response(got, patch)) for patch in _backslash_edges()]
        # Every '\' edge, wherever its step sits in the window: all 0 for the other diagonal
        anywhere = [_edge_patch("\\", offset, 0.0, 1.0) for offset in (-1, 0, 1, 2)]
        blind_to_backslash = all(abs(_response(got, p)) <= tolerance for p in anywhere)
        for patch in _slash_edges():
            response = _response(got, patch)
            if abs(response) <= tolerance:
                continue
            on_slash = f"on the '/' edge {_rows(patch)} it gives {response:.3g}, not 0"
            if blind_to_backslash:
                return (
                    "your kernel finds the other diagonal, edges that run like '/' ("
                    f"{on_slash}), and gives 0 on every '\\' edge. The task asks for the "
                    "opposite: 0 on '/' edges and a response on '\\' ones (mirror your kernel "
                    "left to right)."
                )
            columns, rows = got.sum(axis=0), got.sum(axis=1)
            if np.allclose(columns, 0, atol=tolerance) and not np.allclose(rows, 0, atol=tolerance):
                return (
                    "your kernel finds horizontal edges (a change from top to bottom: it gives 0 "
                    f"on vertical ones), and it responds to '/' edges too: {on_slash}. A '/' edge "
                    "also changes from top to bottom; a diagonal-edge kernel must ignore it."
                )
            if np.allclose(rows, 0, atol=tolerance) and not np.allclose(columns, 0, atol=tolerance):
                return (
                    "your kernel finds vertical edges (a change from left to right: it gives 0 "
                    f"on horizontal ones), and it responds to '/' edges too: {on_slash}. A '/' "
                    "edge also changes from left to right; a diagonal-edge kernel must ignore it."
                )
            return (
                f"your kernel responds to edges that run like '/': {on_slash}. Along each line "
                "from bottom-left to top-right such an edge has one brightness, wherever the "
                "step sits in the window; your kernel must give 0 on every one of them."
            )
        for patch, response in backslash:
            if abs(response) <= tolerance:
                if blind_to_backslash:
                    return (
                        "your kernel gives 0 on '/' edges, as asked, but also on every '\\' "
                        f"edge, e.g. {_rows(patch)}: it finds no diagonal edge at all."
                    )
                return (
                    f"your kernel gives 0 on the '\\' edge {_rows(patch)}, which runs through "
                    "the window's centre; it must respond to such an edge whether the diagonal "
                    "pixels belong to the bright side or to the dark side."
                )
        return None

    return run_check(
        "3.2", diagnose, "0 on flat areas and on '/' edges, not 0 on '\\' edges through the centre."
    )


def _numbers_returned(
    func: Callable[..., Any],
    cases: list[tuple[Any, ...]],
    kinds: list[str] | None = None,
    names: tuple[str, ...] = (),
) -> list[float]:
    """The student's function called on every case; each result must be a number, and the
    arguments (a list of layers) must come back unchanged.

    ``kinds`` receives each result's kind: 'int' (a Python or NumPy integer), or its type's name.
    """
    answers = []
    for case in cases:
        value = raw = call_pure(func, *case, names=names)
        if value is None:
            raise StudentCodeFailed("your function returned None: did you forget to `return`?")
        value = as_array(value, "your result", "a whole number (an int)")
        if value.ndim != 0 or value.dtype.kind not in "iuf":
            raise StudentCodeFailed(
                f"your function returned {returned_repr(raw)}, not a single number."
            )
        if kinds is not None:
            kinds.append("int" if value.dtype.kind in "iu" else type(raw).__name__)
        answers.append(float(value))
    return answers


# --- 3.3: a whole convolution layer, all channels and all filters ----------------------------


def _channels_test_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    # A float32 RGB-like image with a float64 kernel of 4 filters, then a float64 image with 2
    # channels and a 2x2 kernel of 3 filters: hard-coded 3 channels, k = 3 or a filter count
    # show, the channel and filter counts differ, so that their axes cannot be mistaken for
    # each other, and every channel and filter has its own kernel slice, so that one slice used
    # everywhere or slices paired in the wrong order show too.
    rng = check_rng(5)
    return [
        (rng.random((6, 7, 3), dtype=np.float32), rng.normal(size=(3, 3, 3, 4))),
        (rng.random((5, 8, 2)), rng.normal(size=(2, 2, 2, 3))),
    ]


def _per_channel(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """One valid convolution per channel and filter, image channel c with kernel[:, :, c, m]:
    (h', w', c, f)."""
    return np.stack(
        [
            np.stack(
                [
                    images.convolve2d(image[..., c], kernel[:, :, c, m])
                    for m in range(kernel.shape[-1])
                ],
                axis=-1,
            )
            for c in range(image.shape[-1])
        ],
        axis=-2,
    )


def _layer(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """What a Conv2D without bias computes: (h', w', f)."""
    return _per_channel(image, kernel).sum(axis=-2)


def _channels_shape_problem(out: np.ndarray, image: np.ndarray, kernel: np.ndarray) -> str | None:
    """The output's shape, when it is not (h - k + 1, w - k + 1, f), in words."""
    h, w, c = image.shape
    k, f = kernel.shape[0], kernel.shape[-1]
    maps = _per_channel(image, kernel)
    expected = maps.sum(axis=-2)
    rows, cols = expected.shape[:2]
    last = f"stacked on the last axis: shape {expected.shape}"
    if out.shape == expected.shape:
        return None
    if out.shape == maps.shape:
        if np.allclose(out, maps):
            return (
                f"you return one map per channel and per filter, shape {out.shape}: a filter "
                f"adds the weighted sums of all {c} channels into one number per position. Sum "
                "over the channel axis too."
            )
        return (
            f"your output has shape {out.shape}, one map per channel and per filter; a layer "
            f"gives one map per filter, {last}."
        )
    if c > 1 and out.shape == (rows, cols, c * f):
        return (
            f"your output has shape {out.shape}, {c * f} maps for {f} filters: {c} channels "
            f"times {f} filters, one map per channel and per filter. A filter adds the weighted "
            f"sums of all {c} channels into one number per position: add up each filter's "
            f"channel maps, for one map per filter, {last}."
        )
    if out.shape == (rows, cols):
        if np.allclose(out, expected.sum(axis=-1)):
            return (
                f"you added the maps of the {f} filters into one, shape {out.shape}; a Conv2D "
                f"keeps one map per filter, {last}."
            )
        if np.allclose(out, expected[..., 0]):
            return (
                f"your output is the first filter's map only, shape {out.shape}; this kernel "
                f"holds {f} filters (its last axis), and the layer returns one map per filter, "
                f"{last}."
            )
        return (
            f"your output is a single map, shape {out.shape}; this kernel holds {f} filters "
            f"(its last axis), and the layer returns one map per filter, {last}."
        )
    if c != f and out.shape == (rows, cols, c):
        return (
            f"your output has one map per input channel, shape {out.shape}; the channels are "
            f"what each filter adds up, and the maps are one per filter, {f} of them "
            f"(kernel.shape[-1]), {last}."
        )
    if out.shape == (f, rows, cols):
        if np.allclose(np.moveaxis(out, 0, -1), expected):
            return (
                f"the maps are right, but stacked on the first axis, shape {out.shape}; Keras "
                f"keeps the channels last, and so does the task: {expected.shape}, as "
                "np.stack(..., axis=-1) or np.moveaxis would give."
            )
        return (
            f"your maps are stacked on the first axis, shape {out.shape}; the task keeps them "
            f"on the last one, as Keras does: {expected.shape}."
        )
    if out.shape[:2] == (h, w):
        fits = (
            f"with valid padding the {k}x{k} window fits only (h - k + 1, w - k + 1) = "
            f"{(rows, cols)} times"
        )
        if out.shape[2:] == (f,):
            return f"the output has the image's height and width {(h, w)}; {fits}."
        extra = out.shape[2:]
        axes = "an extra axis" if len(extra) == 1 else f"{len(extra)} extra axes"
        return (
            f"your output has shape {out.shape}: the image's height and width {(h, w)}, then "
            f"{axes} {extra}. A layer gives one number per window position and filter, an "
            f"output of shape {expected.shape}: {fits}, and each window's weighted sum adds "
            "its rows, columns and channels into one number."
        )
    if k != 3 and out.shape[:2] == (h - 2, w - 2):
        return (
            f"your output is the size a 3x3 kernel gives; this kernel is {k}x{k}: take k from "
            "kernel.shape[0]."
        )
    return shape_problem(out, expected.shape, "your output")


def _channels_problem(
    convolve_channels: Callable[..., Any], image: np.ndarray, kernel: np.ndarray
) -> str | None:
    c = image.shape[-1]
    expected = _layer(image, kernel)
    out = as_array(
        call_pure(convolve_channels, image, kernel, names=("image", "kernel")), "your output"
    )
    if out.dtype.kind not in "iuf":
        raise StudentCodeFailed(
            f"your output holds {out.dtype} values ({type(out).__name__}), not numbers."
        )
    problem = _channels_shape_problem(out, image, kernel)
    if problem:
        return problem
    if out.dtype.kind in "iu":
        unsigned = " and a negative one cannot be held in it" if out.dtype.kind == "u" else ""
        return (
            f"your output has dtype {out.dtype}, so each weighted sum lost its fraction"
            f"{unsigned}; the task asks for a float array: start from an array of floats."
        )
    given, out = out, out.astype(np.float64)  # given: the dtype the message shows
    if np.allclose(out, expected):
        return None
    f = kernel.shape[-1]
    mistakes = [
        (
            expected / c,
            "you averaged the channels; Conv2D adds them (the kernel's weights already say "
            "how much each channel counts).",
        ),
        (
            _per_channel(image, kernel)[:, :, 0, :],
            f"only the first channel is used; the window spans all {c} channels: each output "
            "value sums over the window's rows, columns and channels.",
        ),
        (
            _layer(image, np.repeat(kernel[:, :, :1], c, axis=2)),
            "every channel is multiplied by kernel[:, :, 0, m]; channel c of the image goes "
            "with kernel[:, :, c, m].",
        ),
        (
            _layer(image, kernel[:, :, ::-1]),
            "the channels are paired in reverse order: image channel c goes with "
            "kernel[:, :, c, m].",
        ),
        (
            np.repeat(expected[..., :1], f, axis=-1),
            "every map is the first filter's; map m is the one filter m's kernel, "
            "kernel[:, :, :, m], gives.",
        ),
        (
            expected[..., ::-1],
            "the maps come in reverse order; map m is the one filter m's kernel, "
            "kernel[:, :, :, m], gives.",
        ),
        (
            _layer(image, kernel[::-1, ::-1]),
            "you flipped the kernel (convolution as in a maths textbook); Conv2D does not flip: "
            "multiply each window by the kernel as it is.",
        ),
        (
            _layer(image, kernel.transpose(1, 0, 2, 3)),
            "you used the kernel transposed (its rows and columns swapped): the window's row i, "
            "column j goes with kernel[i, j].",
        ),
    ]
    for wrong, message in mistakes:
        if np.allclose(out, wrong):
            return message
    return (
        "right shape, but the values differ: out[i, j, m] is the k x k x c window at row i, "
        "column j, multiplied element by element with filter m's kernel, kernel[:, :, :, m], "
        "and summed. First difference: " + first_difference(given, expected, "out")
    )


def exercise_3_3(convolve_channels: Callable[[np.ndarray, np.ndarray], Any]) -> CheckResult:
    """convolve_channels(image (h, w, c), kernel (k, k, c, f)) -> (h - k + 1, w - k + 1, f): a
    Conv2D layer without bias."""

    def where(image: np.ndarray, kernel: np.ndarray) -> str:
        k, f = kernel.shape[0], kernel.shape[-1]
        return (
            f"a {image.shape[-1]}-channel {image.dtype} image and a {k}x{k} kernel of {f} filters"
        )

    def diagnose() -> str | None:
        cases = _channels_test_cases()
        for number, (image, kernel) in enumerate(cases):
            try:
                problem = _channels_problem(convolve_channels, image, kernel)
            except StudentCodeFailed as exc:
                raised = getattr(exc, "raised", None)
                if number == 0:
                    if isinstance(raised, ValueError) and "broadcast" in str(raised):
                        return (
                            f"{str(exc).rstrip(' .')}. The kernel has one axis more than a "
                            "window of the image, the filters: a (k, k, c) window goes with "
                            "one filter's kernel, kernel[:, :, :, m]."
                        )
                    raise
                return (
                    f"right for {where(*cases[0])}, but with {where(image, kernel)}, "
                    f"{str(exc).rstrip(' .')}. Take the numbers of channels and filters and k "
                    "from the arrays' shapes."
                )
            if problem:
                return problem if number == 0 else f"with {where(image, kernel)}: {problem}"
        return None

    return run_check(
        "3.3",
        diagnose,
        "each filter weighs every window across all channels and sums it, one map per filter, "
        "as a Conv2D layer does.",
    )


# --- 3.4: where 'same' puts its zeros ---------------------------------------------------------

_SAME_CASES = [
    (28, 3, 1),
    (28, 3, 2),
    (27, 3, 2),
    (28, 4, 1),
    (28, 5, 2),
    (28, 1, 2),
    (7, 2, 2),
    (10, 5, 3),
    (28, 2, 2),
    # The windows fit with room to spare, 2 and 4 pixels (a surplus of 1 is the case above,
    # n=28, k=1, s=2), and exactly: no zeros at all, and never a negative number
    (7, 1, 4),
    (10, 1, 5),
    (8, 2, 2),
]


def _tf_same_padding(n: int, k: int, s: int) -> tuple[int, int]:
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _split_at_end(total: int) -> tuple[int, int]:
    return total // 2, total - total // 2


_SAME_MISTAKES: list[tuple[Callable[[int, int, int], tuple[int, int]], str]] = [
    (
        lambda n, k, s: ((k - 1) // 2, (k - 1) // 2),
        "(k - 1) / 2 zeros on each side is the rule for stride 1 and an odd kernel. With "
        "stride 2 on 28 pixels "
        "'same' keeps ceil(28 / 2) = 14 positions; the last window starts at 26 and needs "
        "1 zero, not 2.",
    ),
    (
        lambda n, k, s: _split_at_end(k - 1),
        "k - 1 zeros in total is right only for stride 1: the padded axis only has to "
        "reach the end of the last "
        "window, which starts at (ceil(n / s) - 1) * s.",
    ),
    (
        lambda n, k, s: _tf_same_padding(n, k, s)[::-1],
        "TensorFlow puts the odd zero at the end (bottom or right), not at the start.",
    ),
    (
        lambda n, k, s: _split_at_end((-(-n // s) - 1) * s + k - n),
        "you return negative padding when the windows already fit (e.g. n=28, k=1, s=2): "
        "no zeros are added "
        "then, use max(..., 0).",
    ),
    (
        lambda n, k, s: _split_at_end(max((n // s - 1) * s + k - n, 0)),
        "'same' keeps ceil(n / s) positions (a last, partial step still gets a window), "
        "not n // s.",
    ),
]


def _fresh_same_cases(count: int = 3) -> list[tuple[int, int, int]]:
    """``count`` more (n, k, s), drawn with :func:`check_rng`: the same in the notebook, new in
    each grading run, so that answers written in for the cases above do not pass.

    Each adds zeros (not (0, 0)), and not the (k - 1) // 2 on each side of stride 1: a stride
    of 2 to 4 on n from 8 to 64 pixels, with a kernel of 2 to 7 (at most half of n).
    """
    rng = check_rng(34)
    cases: list[tuple[int, int, int]] = []
    while len(cases) < count:
        n, k, s = int(rng.integers(8, 65)), int(rng.integers(2, 8)), int(rng.integers(2, 5))
        case = (n, k, s)
        right = _tf_same_padding(*case)
        if (
            2 * k > n
            or case in _SAME_CASES
            or case in cases
            or right == (0, 0)
            or right == ((k - 1) // 2, (k - 1) // 2)
        ):
            continue
        cases.append(case)
    return cases


def _not_whole(raw: Any, value: np.ndarray) -> str | None:
    """What kind of numbers a pair holds, in words, when they are not integers: "floats",
    "NumPy float64 numbers"; None for Python or NumPy integers."""
    if value.dtype.kind in "iu":
        return None
    items = raw if isinstance(raw, tuple | list) else [raw]
    for item in items:
        if isinstance(item, bool | int | np.integer):
            continue
        if type(item) is float:
            return "floats"
        if isinstance(item, np.generic | np.ndarray):
            return f"NumPy {item.dtype} numbers"
        return f"{type(item).__name__} values"
    return f"{value.dtype} numbers"


def _pairs_returned(
    func: Callable[..., Any], cases: list[tuple[int, ...]], kinds: list[str | None] | None = None
) -> list[tuple[float, float]]:
    """The student's function called on every case; each result must be two numbers.

    ``kinds`` receives, per case, what the numbers are when they are not integers
    (:func:`_not_whole`), else None.
    """
    answers = []
    for case in cases:
        raw = call_student(func, *case)
        value = as_array(raw, "your result", "a pair of whole numbers, (before, after)")
        if value.dtype.kind not in "iuf":
            raise StudentCodeFailed(
                f"your function returned {returned_repr(raw)}, not two numbers."
            )
        if value.ndim == 0:
            raise StudentCodeFailed(
                f"your function returned one number ({returned_repr(raw)}); "
                "return two, the zeros (before, after)."
            )
        if value.shape != (2,):
            raise StudentCodeFailed(
                f"your function returned {returned_repr(raw)}; return two numbers, (before, after)."
            )
        if kinds is not None:
            kinds.append(_not_whole(raw, value))
        answers.append((float(value[0]), float(value[1])))
    return answers


def exercise_3_4(same_padding: Callable[[int, int, int], Any]) -> CheckResult:
    """same_padding(n, k, s) -> (before, after), the zeros TensorFlow adds for padding='same'."""

    # The cases that name the usual mistakes, then fresh ones (the same in the notebook)
    cases = [*_SAME_CASES, *_fresh_same_cases()]

    def diagnose() -> str | None:
        kinds: list[str | None] = []
        answers = _pairs_returned(same_padding, cases, kinds)
        expected = [_tf_same_padding(*case) for case in cases]
        if answers == expected:
            returned = call_student(same_padding, 28, 3, 1)
            kind = next((kind for kind in kinds if kind), None)
            if kind:
                return (
                    f"the values are right, but you return {kind} ({returned_repr(returned)} "
                    "for n=28, k=3, s=1); the task asks for two ints: a number of zeros is "
                    "whole, and np.pad, say, refuses a float. Compute with ints (// instead "
                    "of /, math.ceil or -(-n // s) instead of np.ceil), or convert with int(...)."
                )
            if isinstance(returned, tuple):
                return None
            return (
                f"the numbers are right, but you return {describe(returned)}: return the pair "
                "as a tuple, `return before, after`. The exercise's own test, "
                "`same_padding(28, 3, 1) == (1, 1)`, is not True for "
                f"{returned!r}."
            )
        for formula, message in _SAME_MISTAKES:
            if answers == [formula(*case) for case in cases]:
                return message
        if any(not v.is_integer() for pair in answers for v in pair):
            return "the padding is a number of zeros, a whole number: use // to split it."
        negative = [i for i, pair in enumerate(answers) if min(pair) < 0]
        i = next(i for i, (a, e) in enumerate(zip(answers, expected, strict=True)) if a != e)
        i = negative[0] if negative else i
        n, k, s = cases[i]
        got = tuple(int(v) for v in answers[i])
        if negative:
            out = -(-n // s)
            start = (out - 1) * s
            fits = (
                f": the last of the {out} windows starts at {start} and reaches pixel "
                f"{start + k - 1}, inside the {n} pixels (0 to {n - 1}), so TensorFlow pads "
                f"{expected[i]}"
                if start + k <= n
                else f"; TensorFlow pads {expected[i]}"
            )
            return (
                f"for n={n}, k={k}, s={s} you return {got}, a negative number of zeros{fits}. "
                "Zeros are only ever added: clip the total at 0, max(total, 0), before you "
                "split it."
            )
        return f"for n={n}, k={k}, s={s} you return {got}; TensorFlow pads {expected[i]}."

    return run_check(
        "3.4", diagnose, "ceil(n / s) positions, just enough zeros, the odd one at the end."
    )


# --- 3.5: build a CNN ---------------------------------------------------------------------------

# The architecture the exercise states, one step per layer (activations folded into their layer).
_CNN_STEPS: list[dict[str, Any]] = [
    {
        "kind": "Conv2D",
        "filters": 16,
        "kernel_size": (3, 3),
        "padding": "same",
        "activation": "relu",
    },
    {"kind": "MaxPooling2D", "pool_size": (2, 2)},
    {
        "kind": "Conv2D",
        "filters": 32,
        "kernel_size": (3, 3),
        "padding": "same",
        "activation": "relu",
    },
    {"kind": "MaxPooling2D", "pool_size": (2, 2)},
    {"kind": "Conv2D", "filters": 8, "kernel_size": (1, 1), "activation": "relu"},
    {"kind": "Flatten"},
    {"kind": "Dense", "units": 64, "activation": "relu"},
    {"kind": "Dense", "units": None, "activation": "softmax"},  # None: num_classes
]
_CNN_CASES: list[tuple[tuple[int, int, int], int]] = [((32, 32, 3), 10), ((28, 28, 1), 4)]


def _fresh_cnn_case() -> tuple[tuple[int, int, int], int]:
    """One more (input_shape, num_classes), drawn with :func:`check_rng`: the same in the
    notebook, new in each grading run. Images of 20 to 48 pixels a side, not square, with 1 to
    4 channels, and 2 to 20 classes: nothing in the model may be written for one shape."""
    rng = check_rng(35)
    while True:
        height, width = (int(side) for side in rng.integers(20, 49, 2))
        case = ((height, width, int(rng.integers(1, 5))), int(rng.integers(2, 21)))
        if height != width and case not in _CNN_CASES:
            return case


_ORDINALS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
]


def reference_cnn(input_shape: tuple[int, int, int], num_classes: int) -> Any:
    """The network exercise 3.5 asks for, as the course writes it."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(8, 1, activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )


def _setting(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else repr(value)


def relu_settings(layer: Any) -> str | None:
    """What a separate ReLU layer's arguments make of it, in words ("max_value=6 caps its
    outputs at 6"); None for a plain ``ReLU()``, max(x, 0), or a layer that is no ReLU.

    Lessons 03 and 04 both ask for a plain ReLU: a cap, a slope below the threshold or a
    threshold of another value is another activation, which a model's outputs on small
    inputs may not show (a cap of 6 on activations that stay below it).
    """
    if type(layer).__name__ != "ReLU":
        return None
    try:
        config = layer.get_config()
    except Exception:  # a layer whose config fails: the other comparisons decide
        return None
    words = []
    cap, slope, threshold = (
        config.get(key) for key in ("max_value", "negative_slope", "threshold")
    )
    below = _setting(threshold or 0)  # where the slope starts: the threshold
    if cap is not None:
        words.append(f"max_value={_setting(cap)}, which caps its outputs at {_setting(cap)}")
    if slope not in (None, 0):
        words.append(
            f"negative_slope={_setting(slope)}, which lets values below {below} through, "
            f"multiplied by {_setting(slope)} (a leaky ReLU)"
        )
    if threshold not in (None, 0):
        words.append(
            f"threshold={_setting(threshold)}, which sets values below {_setting(threshold)} "
            "to 0, not only those below 0"
        )
    return " and ".join(words) or None


def _activation_name(layer: Any) -> str:
    kind = type(layer).__name__
    if kind == "ReLU":
        return "relu"
    if kind == "Softmax":
        return "softmax"
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "linear") if activation is not None else "linear"


def _steps(model: Any) -> list[dict[str, Any]]:
    """The model's layers in order; a separate ReLU/Softmax/Activation layer joins the layer before
    it."""
    steps: list[dict[str, Any]] = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind in ("ReLU", "Softmax", "Activation"):
            if (
                steps
                and steps[-1].get("activation", "linear") == "linear"
                and "activation" in steps[-1]
            ):
                steps[-1]["activation"] = _activation_name(layer)
                steps[-1]["relu_settings"] = relu_settings(layer)
                continue
            steps.append({"kind": kind, "activation": _activation_name(layer)})
            continue
        step: dict[str, Any] = {"kind": kind}
        config = layer.get_config()
        if hasattr(layer, "activation"):
            step["activation"] = _activation_name(layer)
        for key in ("filters", "units", "padding", "use_bias"):
            if key in config:
                step[key] = config[key]
        for key in ("kernel_size", "pool_size", "strides", "dilation_rate"):
            if key in config and config[key] is not None:
                value = config[key]
                step[key] = tuple(value) if isinstance(value, list | tuple) else (value, value)
        steps.append(step)
    return steps


def _describe(kinds: list[str]) -> str:
    return " -> ".join(kinds)


def _order_problem(kinds: list[str]) -> str | None:
    expected = [step["kind"] for step in _CNN_STEPS]
    if kinds == expected:
        return None
    if "Flatten" not in kinds:
        for pooling in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
            if pooling in kinds:
                return (
                    f"you used {pooling} where the architecture has Flatten; it keeps one "
                    "number per channel "
                    "instead of every value of the maps, a different model."
                )
        return (
            "there is no Flatten: a Dense layer on (height, width, channels) maps works on "
            "each position "
            "separately, so the model would output one prediction per position, not one per image. "
            "Put layers.Flatten() between the last Conv2D and the first Dense."
        )
    if kinds == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]:
        return (
            "the third Conv2D is missing, the one the table gives an 8x8x8 output and 264 "
            "parameters: it comes after the second pooling, before Flatten."
        )
    if kinds.count("Conv2D") == 3 and kinds.count("MaxPooling2D") < 2:
        return (
            f"your layers are {_describe(kinds)}: each of the two 3x3 Conv2D layers is "
            "followed by MaxPooling2D."
        )
    return f"your layers are {_describe(kinds)}; the architecture is {_describe(expected)}."


def _settings_problem(steps: list[dict[str, Any]], num_classes: int) -> str | None:
    softmax_at = [i for i, step in enumerate(steps) if step.get("activation") == "softmax"]
    last = len(steps) - 1
    if any(i != last for i in softmax_at):
        i = next(i for i in softmax_at if i != last)
        kind = steps[i]["kind"]
        nth = sum(step["kind"] == kind for step in steps[:i])
        return (
            f"the {_ORDINALS[nth]} {kind} layer has the softmax; softmax belongs on the "
            "last Dense only, "
            "where it turns the class scores into probabilities. Hidden layers use ReLU."
        )
    if last not in softmax_at:
        activation = steps[last].get("activation") or "linear"
        outputs = {
            "linear": "logits (any real numbers)",
            "sigmoid": "numbers in (0, 1), each squashed on its own, so the classes do not compete",
            "relu": "scores of 0 or more",
        }.get(activation, "scores")
        return (
            f"the last layer's activation is {activation}, so the model outputs {outputs}, "
            "not probabilities that add up to 1 over the classes: use activation='softmax'."
        )
    convs = [i for i, step in enumerate(steps) if step["kind"] == "Conv2D"]
    for n, i in enumerate(convs):
        want = _CNN_STEPS[i]
        got = steps[i]
        name = f"the {_ORDINALS[n]} Conv2D"
        if got.get("filters") != want["filters"]:
            filters = want["filters"]
            return (
                f"{name} has {got.get('filters')} filters; the architecture says {filters}: in "
                f"the table its output has {filters} channels, one per filter."
            )
        if got.get("kernel_size") != want["kernel_size"]:
            size = "x".join(map(str, want["kernel_size"]))
            # the table's input has 3 channels; each later Conv2D reads the one before it
            c_in = 3 if n == 0 else _CNN_STEPS[convs[n - 1]]["filters"]
            k = want["kernel_size"][0]
            params = (k * k * c_in + 1) * want["filters"]
            return (
                f"{name} has a {'x'.join(map(str, got.get('kernel_size', ())))} kernel; the "
                f"architecture says {size}: the table gives it {params:,} parameters, "
                f"(k·k·c_in + 1)·filters with c_in = {c_in} for a 32x32x3 input, which k = {k} "
                "gives."
            )
        if got.get("strides", (1, 1)) != (1, 1):
            return (
                f"{name} has strides {got.get('strides')}; the architecture uses stride 1 (the "
                "default)."
            )
        if want.get("padding") == "same" and got.get("padding") != "same":
            return (
                f"{name} uses padding='{got.get('padding')}', which trims a pixel on each "
                "side; in the table each 3x3 convolution keeps the height and width of its "
                "maps, and only pooling halves them: padding='same'."
            )
        if got.get("activation") == "linear":
            return (
                f"{name} has no activation; use activation='relu'. Without a ReLU, stacked "
                "convolutions collapse into one linear map."
            )
        if got.get("activation") != "relu":
            return (
                f"{name} has activation {got.get('activation')}; the architecture says "
                "activation='relu'."
            )
        if got.get("use_bias") is False:
            return (
                f"{name} has no bias (use_bias=False); the architecture keeps Keras' default, "
                f"one bias per filter ({want['filters']} parameters): leave use_bias out."
            )
        k, dilation = want["kernel_size"][0], got.get("dilation_rate", (1, 1))
        if k > 1 and dilation != (1, 1):
            field = "x".join(str((k - 1) * d + 1) for d in dilation)
            return (
                f"{name} has dilation_rate {dilation}: its {k}x{k} kernel is spread out with "
                f"gaps between its weights and covers a {field} field, with the same "
                "parameters and output shape. The architecture has a plain "
                f"{k}x{k} window: leave dilation_rate at its default, 1."
            )
        problem = _relu_problem(got, name)
        if problem:
            return problem
    pools = [step for step in steps if step["kind"] == "MaxPooling2D"]
    for n, step in enumerate(pools):
        if step.get("pool_size") != (2, 2) or step.get("strides") != (2, 2):
            return (
                f"the {_ORDINALS[n]} MaxPooling2D has pool size {step.get('pool_size')} "
                "and strides "
                f"{step.get('strides')}; use MaxPooling2D(2), which halves the size."
            )
        if step.get("padding", "valid") != "valid":
            return (
                f"the {_ORDINALS[n]} MaxPooling2D has padding='{step.get('padding')}'; both "
                "poolings are the baseline's, MaxPooling2D(2), with padding='valid' (the "
                "default). On the table's 32x32 input the two give the same size, but on a "
                "side of odd length 'same' keeps the last row or column, which 'valid' drops: "
                "a 21-pixel side pools to 11, not 10."
            )
    hidden, output = steps[-2], steps[-1]
    if hidden.get("units") != 64:
        return f"the hidden Dense layer has {hidden.get('units')} units; the architecture says 64."
    if hidden.get("activation") != "relu":
        return f"the hidden Dense layer has activation {hidden.get('activation')}; use 'relu'."
    problem = _relu_problem(hidden, "the hidden Dense layer")
    if problem:
        return problem
    for dense, which in ((hidden, "hidden"), (output, "last")):
        if dense.get("use_bias") is False:
            return (
                f"the {which} Dense layer has no bias (use_bias=False); the architecture keeps "
                "Keras' default, one bias per unit: leave use_bias out."
            )
    if output.get("units") != num_classes:
        return (
            f"the last Dense has {output.get('units')} units but num_classes is "
            f"{num_classes}: one output "
            "per class, units=num_classes."
        )
    return None


def _relu_problem(step: dict[str, Any], name: str) -> str | None:
    """When the separate ReLU layer after ``name`` is not a plain one."""
    settings = step.get("relu_settings")
    if not settings:
        return None
    return (
        f"{name} is followed by a ReLU layer with {settings}: another activation than the "
        "architecture's ReLU, max(x, 0). Write layers.ReLU() without arguments, or "
        "activation='relu'."
    )


def _cnn_problem(
    build_cnn: Callable[..., Any], input_shape: tuple[int, int, int], num_classes: int
) -> str | None:
    import keras

    model = call_student(build_cnn, input_shape, num_classes)
    if model is None:
        return "build_cnn returned None: did you forget to `return` the model?"
    if not isinstance(model, keras.Model):
        return (
            f"build_cnn returned a {type(model).__name__}, not a Keras model: return the "
            "keras.Sequential([...])."
        )
    try:
        declared = tuple(model.inputs[0].shape[1:]) if model.built and model.inputs else None
    except Exception:  # a subclassed or unbuilt model has no inputs yet
        declared = None
    try:
        named = [type(layer).__name__ for layer in model.layers]
    except Exception:  # a model whose layers cannot even be listed
        named = ["?"]
    if not [name for name in named if name != "InputLayer"]:
        # A Sequential holding only its Input lists it among _layers, not among layers.
        try:
            has_input = declared is not None or any(
                type(layer).__name__ == "InputLayer" for layer in getattr(model, "_layers", [])
            )
        except Exception:  # private state that is not what this Keras has
            has_input = False
        after = " after the Input" if has_input else ""
        return (
            f"your model has no layers{after}: add the layers of the task's table, from the "
            "first Conv2D to the last Dense."
        )
    if declared is None and not isinstance(model, keras.Sequential):
        # A subclass of keras.Model records neither its input shape nor the order in which its
        # call uses its layers, which the check compares.
        return (
            f"your model is a subclass of keras.Model ({type(model).__name__}): Keras does not "
            "record its input shape, nor the order in which call() uses its layers, which "
            "this check compares. Build it as the task says, with keras.Sequential (starting "
            "with keras.Input(shape=input_shape)) or with the functional API (keras.Input, "
            "then keras.Model(inputs, outputs))."
        )
    if declared is None:
        # Called on a batch, an unbuilt Sequential takes whatever shape comes: the test would
        # not see that input_shape was never used.
        return (
            "your model does not know its input shape yet: the model takes images of shape "
            "input_shape, so start the Sequential with keras.Input(shape=input_shape), and "
            "Keras builds every layer for that shape."
        )
    if declared != tuple(input_shape):
        return (
            f"your model takes inputs of shape {declared}, but input_shape was "
            f"{tuple(input_shape)}: "
            "use keras.Input(shape=input_shape), not fixed numbers."
        )
    batch = np.zeros((2, *input_shape), dtype="float32")
    try:
        output_shape = tuple(keras.ops.shape(model(batch)))
    except Exception as exc:  # a wrong model is feedback, not a crash
        return f"calling your model on a batch of shape {batch.shape} raised {student_error(exc)}"
    try:
        steps = _steps(model)
    except Exception as exc:
        return (
            f"could not read your model's layers ({student_error(exc)}): build it from "
            "keras.layers."
        )
    problem = _order_problem([step["kind"] for step in steps]) or _settings_problem(
        steps, num_classes
    )
    if problem:
        return problem
    if output_shape != (2, num_classes):
        return (
            f"your model's output has shape {output_shape} for 2 images; expected (2, "
            f"{num_classes})."
        )
    expected_params = _reference_params(tuple(input_shape), num_classes)
    if model.count_params() != expected_params:
        return (
            f"your model has {model.count_params():,} parameters; the architecture has "
            f"{expected_params:,}{_params_difference(model, input_shape, num_classes)}."
        )
    return None


def _params_difference(model: Any, input_shape: tuple[int, int, int], num_classes: int) -> str:
    """ ": the second Conv2D has 4,608 where the architecture's has 4,640", or "" if the layers
    cannot be paired."""
    try:
        mine = [la for la in model.layers if la.count_params()]
        theirs = [la for la in reference_cnn(input_shape, num_classes).layers if la.count_params()]
        if len(mine) != len(theirs):
            return ""
        for layer, ref in zip(mine, theirs, strict=True):
            if layer.count_params() != ref.count_params():
                kind = type(ref).__name__
                nth = sum(type(la).__name__ == kind for la in theirs[: theirs.index(ref)])
                return (
                    f": the {_ORDINALS[nth]} {kind} has {layer.count_params():,} where the "
                    f"architecture's has {ref.count_params():,}"
                )
    except Exception:  # a layer the check cannot count: the totals say enough
        return ""
    return ""


@lru_cache(maxsize=8)
def _reference_params(input_shape: tuple[int, int, int], num_classes: int) -> int:
    return int(reference_cnn(input_shape, num_classes).count_params())


def exercise_3_5(build_cnn: Callable[[tuple[int, int, int], int], Any]) -> CheckResult:
    """build_cnn(input_shape, num_classes) -> the stated CNN: layer order, settings, output shape,
    parameters."""

    # The stated shapes, then a fresh one (the same in the notebook, new in each grading run)
    cases = [*_CNN_CASES, _fresh_cnn_case()]

    def diagnose() -> str | None:
        for number, (input_shape, num_classes) in enumerate(cases):
            problem = _cnn_problem(build_cnn, input_shape, num_classes)
            if problem:
                where = f"for input_shape={input_shape}, num_classes={num_classes}: "
                return where + problem if number else problem
        return None

    return run_check(
        "3.5",
        diagnose,
        "the layers in order, output (batch, num_classes), "
        f"{_reference_params(*_CNN_CASES[0]):,} parameters "
        f"for {_CNN_CASES[0][0]} images and {_CNN_CASES[0][1]} classes.",
    )


# --- 3.6: the receptive field ------------------------------------------------------------------

_FIELD_CASES: list[list[tuple[int, int]]] = [
    [(3, 1)],
    [(3, 1), (3, 1)],
    [(3, 1), (2, 2), (3, 1), (2, 2)],
    [(5, 2), (3, 1)],
    [(3, 2), (3, 2), (3, 2)],
    [(7, 2), (3, 2), (3, 1), (1, 1)],
    [(2, 2), (2, 2), (3, 1)],
]


def _field_reference(stack: list[tuple[int, int]]) -> int:
    field, jump = 1, 1
    for k, s in stack:
        field += (k - 1) * jump
        jump *= s
    return field


def _field_own_stride_first(stack: list[tuple[int, int]]) -> int:
    field, jump = 1, 1
    for k, s in stack:
        jump *= s
        field += (k - 1) * jump
    return field


def _field_previous_stride_only(stack: list[tuple[int, int]]) -> int:
    field, previous = 1, 1
    for k, s in stack:
        field += (k - 1) * previous
        previous = s
    return field


def _field_jump(stack: list[tuple[int, int]]) -> int:
    return int(np.prod([s for _, s in stack]))


_FIELD_MISTAKES: list[tuple[Callable[[list[tuple[int, int]]], int], str]] = [
    (
        lambda stack: 1 + sum(k - 1 for k, _ in stack),
        "you ignored the strides: after a stride-2 layer, one step of the next kernel "
        "moves 2 input pixels, "
        "so its k - 1 extra steps widen the field by 2 * (k - 1).",
    ),
    (
        lambda stack: sum(k for k, _ in stack),
        "adding the kernel sizes counts the overlap: neighbouring windows share all but "
        "one pixel, so each "
        "layer widens the field by (k - 1) steps, not k.",
    ),
    (
        lambda stack: int(np.prod([k for k, _ in stack])),
        "multiplying the kernel sizes grows too fast: each layer adds (k - 1) steps to the field.",
    ),
    (
        _field_own_stride_first,
        "a layer's own stride does not widen its own window: each of its k - 1 extra steps "
        "is as many input pixels wide as the product of the strides of the layers below it; "
        "its own stride counts only for the layers above.",
    ),
    (
        _field_previous_stride_only,
        "strides multiply: after two stride-2 layers one step is 4 input pixels, so keep a "
        "running product.",
    ),
    (
        _field_jump,
        "that is the product of the strides, how many input pixels apart two neighbouring "
        "values of the last layer are; the field is 1 plus, for each layer, (k - 1) times the "
        "product of the strides of the layers below it.",
    ),
]


def _fresh_field_stacks(count: int = 2) -> list[list[tuple[int, int]]]:
    """``count`` more stacks of 3 to 5 layers (k from 1 to 7, s from 1 to 3), drawn with
    :func:`check_rng`: the same in the notebook, new in each grading run, so that answers
    written in for the stacks above do not pass. Each has a stride above 1 before a layer
    that widens the field, and a field no rule of ``_FIELD_MISTAKES`` gives."""
    rng = check_rng(36)
    stacks: list[list[tuple[int, int]]] = []
    while len(stacks) < count:
        layers = int(rng.integers(3, 6))
        stack = [(int(rng.integers(1, 8)), int(rng.integers(1, 4))) for _ in range(layers)]
        right = _field_reference(stack)
        if (
            stack in _FIELD_CASES
            or stack in stacks
            or any(formula(stack) == right for formula, _ in _FIELD_MISTAKES)
        ):
            continue
        stacks.append(stack)
    return stacks


def _empty_stack_problem(receptive_field: Callable[..., Any]) -> str | None:
    """The task's rule for a stack with no layer: each value is one input pixel, a field of 1."""
    right = "right for every stack of layers, but for an empty stack, []"
    rule = "with no layer at all, each value is a single input pixel, so its field is 1"
    try:
        (answer,) = _numbers_returned(receptive_field, [([],)], names=("stack",))
    except StudentCodeFailed as exc:
        return f"{right}, {str(exc).rstrip(' .')}: {rule}."
    if answer != 1:
        return f"{right}, you return {answer:g}: {rule}."
    return None


def exercise_3_6(receptive_field: Callable[[list[tuple[int, int]]], Any]) -> CheckResult:
    """receptive_field([(k, s), ...]) -> the side of the input square one output value sees."""

    # The stacks that name the usual mistakes, then fresh ones (the same in the notebook)
    stacks = [*_FIELD_CASES, *_fresh_field_stacks()]

    def diagnose() -> str | None:
        kinds: list[str] = []
        answers = _numbers_returned(
            receptive_field, [([*stack],) for stack in stacks], kinds, names=("stack",)
        )
        expected = [_field_reference(stack) for stack in stacks]
        if answers == expected:
            problem = _empty_stack_problem(receptive_field)
            if problem:
                return problem
            if any(kind != "int" for kind in kinds):
                kind = next(kind for kind in kinds if kind != "int")
                return (
                    f"the values are right, but you return a {kind} ({answers[2]:g} for the "
                    f"baseline CNN); the task asks for an int: a number of pixels is whole. "
                    "Use // instead of /, or int(...)."
                )
            return None
        for formula, message in _FIELD_MISTAKES:
            if answers == [formula(stack) for stack in stacks]:
                return message
        if answers == [_field_reference([(s, k) for k, s in stack]) for stack in stacks]:
            return (
                f"you read each pair as (stride, kernel size): for [(3, 1)], one 3x3 "
                f"convolution of stride 1, you return {answers[0]:g}. Each pair is (k, s), the "
                "kernel size first: `for k, s in stack`."
            )
        if answers[0] != 3:
            return (
                f"a single 3x3 convolution sees a 3x3 patch, but you return {answers[0]:g} for "
                "[(3, 1)]."
            )
        i = next(i for i, (a, e) in enumerate(zip(answers, expected, strict=True)) if a != e)
        return (
            f"for {stacks[i]} you return {answers[i]:g}; each output value there sees "
            f"{expected[i]} pixels."
        )

    return run_check(
        "3.6",
        diagnose,
        "each layer widens the field by (k - 1) times the product of the strides before it.",
    )
