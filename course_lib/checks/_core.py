"""Building blocks shared by the exercise checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_lib.record import CheckResult


class StudentCodeFailed(Exception):
    """Raised inside a check when calling the student's code failed; becomes a 'Not yet'."""


def correct(exercise: str, message: str = "well done.") -> CheckResult:
    return CheckResult(exercise, True, message)


def not_yet(exercise: str, message: str) -> CheckResult:
    return CheckResult(exercise, False, message)


def call_student(func: Any, *args: Any) -> Any:
    """Call the student's function, turning its exceptions into a readable reason."""
    if not callable(func):
        raise StudentCodeFailed(f"expected a function, got {type(func).__name__}.")
    try:
        return func(*args)
    except NotImplementedError:
        raise StudentCodeFailed(
            "not attempted yet: replace the `raise NotImplementedError(...)` line with your code."
        ) from None
    except Exception as exc:  # any bug in student code is feedback, not a crash
        raise StudentCodeFailed(f"your code raised {type(exc).__name__}: {exc}") from None


def run_check(exercise: str, diagnose: Callable[[], str | None], success: str) -> CheckResult:
    """Run ``diagnose`` (returns a problem description, or None when right)."""
    try:
        problem = diagnose()
    except StudentCodeFailed as exc:
        return not_yet(exercise, str(exc))
    return not_yet(exercise, problem) if problem else correct(exercise, success)


def as_array(value: Any, what: str = "your result") -> np.ndarray:
    """The student's value as an array, or a StudentCodeFailed naming what it was."""
    if value is None:
        raise StudentCodeFailed(f"{what} is None: did you forget to `return` it?")
    if hasattr(value, "numpy") and callable(value.numpy):  # a TensorFlow tensor
        value = value.numpy()
    try:
        return np.asarray(value)
    except Exception:
        raise StudentCodeFailed(f"{what} is a {type(value).__name__}, not an array.") from None


def shape_problem(got: np.ndarray, expected_shape: tuple[int, ...], what: str = "your result") -> str | None:
    """Explain a shape mismatch in the terms students meet most often."""
    if got.shape == expected_shape:
        return None
    if got.ndim == len(expected_shape) and got.shape == tuple(reversed(expected_shape[:2])) + expected_shape[2:]:
        return f"{what} has shape {got.shape}, height and width swapped; expected {expected_shape}."
    if got.shape == expected_shape + (1,):
        return f"{what} has shape {got.shape}: drop the last axis of size 1 to get {expected_shape}."
    if got.shape + (1,) == expected_shape:
        return f"{what} has shape {got.shape}; add a channel axis to get {expected_shape}."
    return f"{what} has shape {got.shape}; expected {expected_shape}."
