"""Checks for lesson 03, CNN layers."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from course_lib import images
from course_lib.checks._core import (
    StudentCodeFailed,
    as_array,
    call_student,
    run_check,
    shape_problem,
)
from course_lib.record import CheckResult


def _slide_test_case() -> tuple[np.ndarray, np.ndarray]:
    # Not square and not symmetric, so swapped axes and a flipped kernel both show.
    rng = np.random.default_rng(3)
    return rng.random((6, 8)), np.array([[1.0, 0.0, -1.0], [2.0, 0.5, -2.0], [1.0, 0.0, -3.0]])


def exercise_3_1(convolve_valid: Callable[[np.ndarray, np.ndarray], Any]) -> CheckResult:
    """convolve_valid(image, kernel) -> cross-correlation, stride 1, valid padding."""
    image, kernel = _slide_test_case()
    expected = images.convolve2d(image, kernel)
    k = kernel.shape[0]

    def diagnose() -> str | None:
        out = as_array(call_student(convolve_valid, image.copy(), kernel.copy()), "your output")
        h, w = image.shape
        if out.shape == image.shape:
            return (f"the output has the image's shape {image.shape}; with valid padding the {k}x{k} "
                    f"window fits only {h - k + 1}x{w - k + 1} times: (h - k + 1, w - k + 1).")
        if out.shape == (h - k, w - k):
            return ("the output is one row and one column short: the last window starts at row h - k, "
                    "so there are h - k + 1 positions (range(h - k + 1)).")
        problem = shape_problem(out, expected.shape, "your output")
        if problem:
            return problem
        out = out.astype(np.float64)
        if np.allclose(out[:-1, :-1], expected[:-1, :-1]) and (
            np.allclose(out[-1], 0) or np.allclose(out[:, -1], 0)
        ):
            return ("the last row or column is still 0: your loops stop one step early; "
                    "use range(h - k + 1) and range(w - k + 1).")
        if np.allclose(out, images.convolve2d(image, kernel[::-1, ::-1])):
            return ("you flipped the kernel (convolution as in a maths textbook); Conv2D does not flip: "
                    "multiply each window by the kernel as it is.")
        if np.allclose(out, images.convolve2d(image, kernel.T)):
            return "you used the kernel transposed (rows and columns swapped)."
        if not np.allclose(out, expected):
            return ("right shape, but the values differ: output[i, j] should be "
                    "(image[i:i+k, j:j+k] * kernel).sum().")
        return None

    return run_check("3.1", diagnose, "the kernel slides over every valid window, exactly like Conv2D.")


def _step_image(vertical: bool, size: int = 9) -> np.ndarray:
    # Dark on one side, bright on the other: a vertical edge is a left-right change.
    step = np.zeros((size, size))
    if vertical:
        step[:, size // 2 :] = 1.0
    else:
        step[size // 2 :, :] = 1.0
    return step


def exercise_3_2(kernel: Any) -> CheckResult:
    """A 3x3 kernel that responds to vertical edges, not to horizontal ones, and gives 0 on flat areas."""

    def diagnose() -> str | None:
        got = as_array(kernel, "your kernel")
        problem = shape_problem(got, (3, 3), "your kernel")
        if problem:
            return problem
        if not np.issubdtype(got.dtype, np.number):
            raise StudentCodeFailed(f"your kernel holds {got.dtype} values, not numbers.")
        got = got.astype(np.float64)
        scale = np.abs(got).max()
        if scale == 0:
            return "all weights are 0, so the output is 0 everywhere: give the columns different weights."
        vertical = np.abs(images.convolve2d(_step_image(vertical=True), got)).max() / scale
        horizontal = np.abs(images.convolve2d(_step_image(vertical=False), got)).max() / scale
        flat_response = got.sum()
        if np.all(got > 0) or np.all(got < 0):
            return ("every weight has the same sign: that is a blur, an average of the neighbourhood. "
                    "An edge detector subtracts one side from the other.")
        if not math.isclose(flat_response, 0.0, abs_tol=1e-6 * scale):
            return (f"on a flat area (all pixels 1) your kernel gives {flat_response:g}, not 0: "
                    "make the weights add up to 0 so that only changes light it up.")
        if horizontal > 1e-6 and vertical <= 1e-6:
            return ("your kernel detects horizontal edges (a change from top to bottom); a vertical edge "
                    "is a change from left to right: transpose it.")
        if horizontal > 1e-6:
            return ("your kernel also responds to horizontal edges; give every row the same "
                    "left-to-right pattern, e.g. [-1, 0, 1].")
        if vertical <= 1e-6:
            return "your kernel gives 0 on a vertical edge too: the left and right columns need opposite weights."
        return None

    return run_check("3.2", diagnose, "0 on flat areas and horizontal edges, strong on vertical edges.")


def _numbers_returned(func: Callable[..., Any], cases: list[tuple[int, ...]]) -> list[float]:
    """The student's function called on every case; each result must be a number."""
    answers = []
    for case in cases:
        value = call_student(func, *case)
        if value is None:
            raise StudentCodeFailed("your function returned None: did you forget to `return`?")
        value = as_array(value, "your result")
        if value.ndim != 0 or value.dtype.kind not in "iuf":
            raise StudentCodeFailed(f"your function returned {value!r}, not a single number.")
        answers.append(float(value))
    return answers


def _reference_output_size(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


_OUTPUT_SIZE_CASES = [(28, 3, 1, 0), (28, 3, 2, 1), (32, 5, 2, 2), (7, 3, 2, 0), (13, 2, 2, 0), (10, 4, 3, 1)]

_OUTPUT_SIZE_MISTAKES: list[tuple[Callable[[int, int, int, int], float], str]] = [
    (lambda n, k, s, p: (n + 2 * p - k) // s,
     "you forgot the + 1: a window also fits at the very first position."),
    (lambda n, k, s, p: (n + p - k) // s + 1,
     "padding is added on both sides, so the padded size is n + 2p, not n + p."),
    (lambda n, k, s, p: (n - k) // s + 1,
     "the padding p is missing: the kernel slides over the padded image, n + 2p."),
    (lambda n, k, s, p: math.ceil((n + 2 * p - k) / s) + 1,
     "you rounded up; a window that would stick out past the edge is not used: round down (//)."),
    (lambda n, k, s, p: n + 2 * p - k + 1,
     "the stride is ignored: the window jumps s pixels at a time, so divide by s."),
    (lambda n, k, s, p: (n + 2 * p - k) / s + 1,
     "the result is not a whole number: use floor division (//)."),
]


def exercise_3_3(conv_output_size: Callable[[int, int, int, int], Any]) -> CheckResult:
    """conv_output_size(n, k, s, p) -> floor((n + 2p - k) / s) + 1."""

    def diagnose() -> str | None:
        answers = _numbers_returned(conv_output_size, _OUTPUT_SIZE_CASES)
        expected = [_reference_output_size(*case) for case in _OUTPUT_SIZE_CASES]
        if answers == expected:
            return None
        for formula, message in _OUTPUT_SIZE_MISTAKES:
            if answers == [float(formula(*case)) for case in _OUTPUT_SIZE_CASES]:
                return message
        if any(not a.is_integer() for a in answers):
            return "the result is not a whole number: use floor division (//)."
        i = next(i for i, (a, e) in enumerate(zip(answers, expected, strict=True)) if a != e)
        n, k, s, p = _OUTPUT_SIZE_CASES[i]
        return f"for n={n}, k={k}, s={s}, p={p} you return {answers[i]:g}; the layer gives {expected[i]}."

    return run_check("3.3", diagnose, "floor((n + 2p - k) / s) + 1, the size every Keras layer reports.")


def _reference_conv_params(k: int, c_in: int, c_out: int) -> int:
    return k * k * c_in * c_out + c_out


_PARAM_CASES = [(3, 1, 32), (3, 32, 64), (5, 3, 16), (1, 64, 8)]

_PARAM_MISTAKES: list[tuple[Callable[[int, int, int], int], str]] = [
    (lambda k, c_in, c_out: k * k * c_out,
     "you forgot both the input channels and the biases: each filter has k x k x c_in weights, plus one bias."),
    (lambda k, c_in, c_out: k * k * c_in * c_out,
     "you forgot the biases: each of the c_out filters adds one bias."),
    (lambda k, c_in, c_out: k * k * c_out + c_out,
     "you forgot the input channels: each filter spans all c_in channels, so it has k x k x c_in weights."),
    (lambda k, c_in, c_out: k * c_in * c_out + c_out,
     "a k x k kernel has k * k weights per channel, not k."),
    (lambda k, c_in, c_out: k * k * c_in * c_out + c_in * c_out,
     "there is one bias per filter (c_out of them), not one per input channel and filter."),
    (lambda k, c_in, c_out: k * k * c_in * c_out + c_in,
     "there is one bias per output channel (filter): + c_out, not + c_in."),
]


def exercise_3_4(conv_params: Callable[[int, int, int], Any]) -> CheckResult:
    """conv_params(k, c_in, c_out) -> k*k*c_in*c_out weights + c_out biases."""

    def diagnose() -> str | None:
        answers = _numbers_returned(conv_params, _PARAM_CASES)
        expected = [_reference_conv_params(*case) for case in _PARAM_CASES]
        if answers == expected:
            return None
        for formula, message in _PARAM_MISTAKES:
            if answers == [formula(*case) for case in _PARAM_CASES]:
                return message
        i = next(i for i, (a, e) in enumerate(zip(answers, expected, strict=True)) if a != e)
        k, c_in, c_out = _PARAM_CASES[i]
        return f"for k={k}, c_in={c_in}, c_out={c_out} you return {answers[i]:g}; Conv2D has {expected[i]}."

    return run_check("3.4", diagnose, "k x k x c_in weights per filter, plus one bias, times c_out filters.")
