"""Checks for lesson 01, pixels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_lib.checks._core import (
    StudentCodeFailed,
    as_array,
    call_student,
    run_check,
    shape_problem,
)
from course_lib.images import LUMA_WEIGHTS
from course_lib.record import CheckResult


def _test_photo() -> np.ndarray:
    # Small and seeded, with distinct channels so that channel mix-ups show.
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, size=(6, 9, 3), dtype=np.uint8)
    photo[..., 1] = np.linspace(0, 255, 9, dtype=np.uint8)[None, :]
    return photo


def exercise_1_1(to_grayscale: Callable[[np.ndarray], Any]) -> CheckResult:
    """to_grayscale(photo) -> (h, w) luminance with weights 0.299, 0.587, 0.114, scale 0-255."""
    photo = _test_photo()
    expected = photo.astype(np.float64) @ LUMA_WEIGHTS

    def diagnose() -> str | None:
        gray = as_array(call_student(to_grayscale, photo.copy()), "your grayscale image")
        if gray.ndim == 3 and gray.shape[-1] == 3:
            return "the result still has 3 channels: combine them into one value per pixel."
        problem = shape_problem(gray, expected.shape, "your grayscale image")
        if problem:
            return problem
        gray = gray.astype(np.float64)
        if gray.max() <= 1.0 < expected.max():
            return "values are in [0, 1]; keep the 0-255 scale of the photo (no division here)."
        if np.allclose(gray, photo.mean(axis=-1), atol=0.51):
            return ("you averaged the channels equally; the eye is most sensitive to green: "
                    "weight red, green and blue by 0.299, 0.587 and 0.114.")
        if np.allclose(gray, photo[..., ::-1].astype(np.float64) @ LUMA_WEIGHTS, atol=0.51):
            return "the weights are applied to the channels in reverse (BGR) order: the photo is RGB."
        if not np.allclose(gray, expected, atol=0.51):
            worst = np.abs(gray - expected).max()
            return f"values differ from the weighted sum by up to {worst:.1f}: check the weights."
        return None

    return run_check("1.1", diagnose, "one luminance value per pixel, weighted as the eye sees.")


def exercise_1_2(mirror: Callable[[np.ndarray], Any]) -> CheckResult:
    """mirror(image) -> the image flipped left-right (columns reversed), same shape."""
    photo = _test_photo()

    def diagnose() -> str | None:
        out = as_array(call_student(mirror, photo.copy()), "your mirrored image")
        problem = shape_problem(out, photo.shape, "your mirrored image")
        if problem:
            return problem
        if np.array_equal(out, photo):
            return "the image is unchanged: reverse the order of the columns."
        if np.array_equal(out, photo[::-1]):
            return "you flipped it upside down (rows); a mirror reverses the columns: image[:, ::-1]."
        if np.array_equal(out, photo[:, :, ::-1]):
            return "you reversed the colour channels (RGB -> BGR), not the columns."
        if np.array_equal(out, photo[::-1, ::-1]):
            return "you flipped both axes (a 180° rotation); reverse only the columns."
        if not np.array_equal(out, photo[:, ::-1]):
            return "the pixels are not the columns of the image in reverse order."
        return None

    return run_check("1.2", diagnose, "left and right swapped, nothing else changed.")


def exercise_1_3(normalise: Callable[[np.ndarray], Any]) -> CheckResult:
    """normalise(images) -> float32 in [0, 1], dividing uint8 values by 255."""
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(4, 5, 5), dtype=np.uint8)
    images[0] = np.clip(images[0], 40, 120)  # an image that does not span 0..255
    expected = images.astype(np.float32) / 255.0

    def diagnose() -> str | None:
        out = as_array(call_student(normalise, images.copy()), "your normalised images")
        problem = shape_problem(out, images.shape, "your normalised images")
        if problem:
            return problem
        if np.issubdtype(out.dtype, np.integer):
            return (f"dtype is {out.dtype}; convert to float32 before dividing, "
                    "or the values are truncated to 0 and 1.")
        if out.max() > 1.0 + 1e-6:
            return f"your values go up to {out.max():.1f}: did you forget to divide by 255?"
        per_image = [(im - im.min()) / (im.max() - im.min()) for im in images.astype(np.float64)]
        if np.allclose(out, np.stack(per_image), atol=1e-4) and not np.allclose(out, expected, atol=1e-4):
            return ("you stretched each image to its own min and max; divide by 255 so "
                    "every image keeps the same scale.")
        if not np.allclose(out, expected, atol=1e-4):
            return "values differ from images / 255."
        if out.dtype != np.float32:
            return f"values are right but dtype is {out.dtype}; use float32, the type Keras models use."
        return None

    return run_check("1.3", diagnose, "float32 values in [0, 1].")


def exercise_1_4(counts: Any, y_train: np.ndarray, num_classes: int = 10) -> CheckResult:
    """counts -> number of training images per class, an integer array of length num_classes."""
    y_train = np.asarray(y_train)
    expected = np.bincount(y_train, minlength=num_classes)

    def diagnose() -> str | None:
        got = as_array(counts, "counts")
        if got.ndim != 1 or got.shape[0] != num_classes:
            return f"counts should hold one number per class: shape ({num_classes},), got {got.shape}."
        if not np.issubdtype(got.dtype, np.integer):
            if not np.allclose(got, np.round(got)):
                raise StudentCodeFailed("counts should be whole numbers of images.")
            got = got.astype(np.int64)
        if got.sum() != len(y_train):
            return (f"counts add up to {got.sum()}, but there are {len(y_train)} training labels: "
                    "count y_train, every label once.")
        if not np.array_equal(got, expected):
            return "the total is right but some classes are off: count label k at position k."
        return None

    return run_check("1.4", diagnose, f"{num_classes} classes, {len(y_train)} images counted.")
