"""Checks for lesson 01, pixels."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from course_lib.checks._core import (
    NOT_ATTEMPTED,
    StudentCodeFailed,
    _a,
    _number,
    amount,
    as_array,
    call_pure,
    check_rng,
    first_difference,
    run_check,
    shape_problem,
)
from course_lib.images import LUMA_WEIGHTS
from course_lib.record import CheckResult


def _numpy_result(value: Any, what: str) -> np.ndarray:
    """The student's array; a Python list or tuple is named as such, not as a dtype change."""
    if isinstance(value, (list, tuple)):
        raise StudentCodeFailed(
            f"{what} is a Python {type(value).__name__}, which has no dtype: return the NumPy "
            "array itself (leave out .tolist() and list(...))."
        )
    return as_array(value, what)


# ---------------------------------------------------------------- 1.1 grayscale


def _test_photo() -> np.ndarray:
    # Seeded, with distinct channels so that channel mix-ups show, the pure colours on
    # which the plain average and luminance differ most, and white, whose gray is 255 (a
    # result clipped below 255 shows there).
    rng = check_rng(1)
    photo = rng.integers(0, 256, size=(8, 12, 3), dtype=np.uint8)
    photo[..., 1] = np.linspace(0, 255, 12, dtype=np.uint8)[None, :]
    photo[0, :3] = np.eye(3, dtype=np.uint8) * 255
    photo[0, 3] = 255
    # 163.516, rounded 164; with TensorFlow's weights (tf.image.rgb_to_grayscale's) 163.492,
    # rounded 163: weights slightly off show on every draw
    photo[0, 4] = (240, 140, 84)
    return photo


# tf.image.rgb_to_grayscale's weights, a little off the task's
_TENSORFLOW_WEIGHTS = np.array([0.2989, 0.5870, 0.1140])


def _off_by_one(off: np.ndarray, near_half: np.ndarray) -> str:
    """How many pixels are one too low or one too high, outside those within a hair of .5."""
    low, high = (int(((off == step) & ~near_half).sum()) for step in (-1, 1))
    if low and high:
        return f"{low + high} of {off.size} pixels are off by one ({low} too low, {high} too high)"
    return f"{low or high} of {off.size} pixels are one too {'low' if low else 'high'}"


def exercise_1_1(to_grayscale: Callable[[np.ndarray], Any]) -> CheckResult:
    """to_grayscale(photo) -> uint8 (h, w): 0.299 R + 0.587 G + 0.114 B, rounded, as Pillow's
    convert("L")."""
    photo = _test_photo()
    exact = photo.astype(np.float64) @ LUMA_WEIGHTS
    expected = np.round(exact)
    pillow = np.asarray(Image.fromarray(photo).convert("L"), dtype=np.float64)
    # Pillow works in fixed point, float32 weights round a little differently: a pixel whose
    # exact value lies within a hair of .5 may go either way.
    near_half = np.abs(exact - np.floor(exact) - 0.5) < 0.01

    def diagnose() -> str | None:
        returned = call_pure(to_grayscale, photo, names=("photo",))
        gray = as_array(returned, "your grayscale image")
        if gray.ndim == 3 and gray.shape[-1] == 3:
            return "the result still has 3 channels: combine them into one value per pixel."
        problem = shape_problem(gray, expected.shape, "your grayscale image")
        if problem:
            return problem
        if not (np.issubdtype(gray.dtype, np.integer) or np.issubdtype(gray.dtype, np.floating)):
            return f"the values are of type {gray.dtype}; return numbers, a uint8 array."
        values = gray.astype(np.float64)
        if not np.isfinite(values).all():
            bad = np.argwhere(~np.isfinite(values))
            return (
                f"{len(bad)} of {values.size} values of your grayscale image are not numbers "
                f"(NaN or infinity), the first at [{bad[0][0]}, {bad[0][1]}]: every pixel must be "
                "a whole number from 0 to 255."
            )
        if np.allclose(values, photo.mean(axis=-1), atol=0.51):
            return (
                "you averaged the channels equally; the eye is most sensitive to green: "
                "weight red, green and blue by 0.299, 0.587 and 0.114."
            )
        wrapped = (photo[..., 0] + photo[..., 1] + photo[..., 2]) / 3  # uint8 sum wraps at 256
        if np.allclose(values, wrapped, atol=0.51):
            return (
                "you added the channels as uint8, where 200 + 100 wraps around to 44, and "
                "averaged them equally: convert to float first and use the luminance weights."
            )
        if values.max() <= 1.0 < expected.max():
            return "values are in [0, 1]; keep the 0-255 scale of the photo (no division here)."
        if np.allclose(values, photo[..., ::-1].astype(np.float64) @ LUMA_WEIGHTS, atol=0.51):
            return (
                "the weights are applied to the channels in reverse (BGR) order: the photo is RGB."
            )
        right = (values == expected) | (near_half & (np.abs(values - expected) <= 1))
        if gray.dtype == np.int8 and (values < 0).any() and np.array_equal(values % 256, expected):
            i, j = np.argwhere(values < 0)[0]
            return (
                f"the values are right but their type is int8, which holds -128 to 127: values "
                f"above 127 wrap around to negative numbers (your grayscale image[{i}, {j}] is "
                f"{_number(gray[i, j])}, for {expected[i, j]:.0f}). Return uint8, 0 to 255, as "
                "Pillow does: .astype(np.uint8) after rounding."
            )
        if not (right.all() or np.array_equal(values, pillow)):
            if np.issubdtype(gray.dtype, np.floating) and np.allclose(values, exact, atol=1e-3):
                return (
                    "the weighted sum is right but it still has fractions: round to the nearest "
                    "whole number (np.round) and return uint8, as Pillow does."
                )
            fractions = np.argwhere(values != np.round(values))
            if len(fractions) and np.abs(values - exact).max() <= 0.5 + 1e-9:
                i, j = fractions[0]
                return (
                    f"your values are the weighted sum rounded, but not to whole numbers: your "
                    f"grayscale image[{i}, {j}] is {_number(gray[i, j])}, where the sum "
                    f"{exact[i, j]:.4g} rounds to {expected[i, j]:.0f}. Round to whole numbers, "
                    "np.round with no number of decimals, and return uint8, as Pillow does."
                )
            off = values - expected
            fraction = exact - np.floor(exact)
            # Off by one only where the sum lies close to a half, each the way a slightly
            # different sum rounds: rounded, but not the sum 0.299 R + 0.587 G + 0.114 B
            wrong = ~right
            if (
                np.all(np.abs(off[wrong]) == 1)
                and np.all(np.abs(fraction[wrong] - 0.5) < 0.1)
                and np.all((off[wrong] == -1) == (fraction[wrong] >= 0.5))
            ):
                i, j = np.argwhere(wrong)[0]
                r, g, b = (int(v) for v in photo[i, j])
                tensorflow = np.round(photo.astype(np.float64) @ _TENSORFLOW_WEIGHTS)
                if np.all((values == tensorflow) | near_half):
                    cause = (
                        "TensorFlow's weights 0.2989, 0.5870 and 0.1140 (those of "
                        "tf.image.rgb_to_grayscale), not 0.299, 0.587 and 0.114"
                    )
                    advice = "Use the task's weights, as Pillow does."
                else:
                    cause = (
                        "a sum slightly off 0.299 × R + 0.587 × G + 0.114 × B: weights a "
                        "little different (TensorFlow's 0.2989, 0.5870 and 0.1140, say), or "
                        "arithmetic in a low-precision float such as float16, do that"
                    )
                    advice = "Use the task's weights, in float32 or float64."
                return (
                    f"{_off_by_one(off, near_half)}, pixels whose weighted sum lies close to a "
                    f"half: your values are rounded, but from {cause}. Your grayscale "
                    f"image[{i}, {j}] is {_number(gray[i, j])}; that pixel is (R, G, B) = "
                    f"({r}, {g}, {b}), and 0.299 × {r} + 0.587 × {g} + 0.114 × {b} = "
                    f"{exact[i, j]:.3f}, which rounds to {expected[i, j]:.0f}. {advice}"
                )
            whole = (fraction < 1e-6) | (fraction > 1 - 1e-6)  # no rounding to do there
            for step, cut, rounded_other_way, wrong, how in (
                (-1, np.floor(exact), fraction > 0.5, "low", "cut off instead of rounded "
                 "(.astype(np.uint8) does that: 199.9 becomes 199); round first with np.round."),
                (1, np.ceil(exact), fraction < 0.5, "high", "rounded up instead of to the "
                 "nearest whole number (np.ceil does that: 199.1 becomes 200); use np.round."),
            ):  # fmt: skip
                # Off by one that way only, among them pixels whose fraction the nearest
                # whole number takes the other way: a fraction cut that way, not a whole
                # number changed (a white pixel clipped to 254, say). And every value is
                # the task's sum cut that way (but for sums a float error away from a whole
                # number): not some other sum that happens to come out lower or higher.
                telling = rounded_other_way & ~near_half & ~whole
                if (
                    np.all((off == 0) | (off == step) | (near_half & (np.abs(off) <= 1)))
                    and (off[telling] == step).any()
                    and np.all((values == cut) | (whole & (np.abs(off) <= 1)))
                ):
                    return (
                        f"{int(((off == step) & ~near_half).sum())} of {off.size} pixels are one "
                        f"too {wrong}: the fraction was {how}"
                    )
            if np.isin(off, (-1, 0, 1)).all():
                i, j = np.argwhere(~right)[0]
                r, g, b = (int(v) for v in photo[i, j])
                return (
                    f"{_off_by_one(off, near_half)}: your values are close to the rounded "
                    "weighted sum, but they are neither that sum rounded, nor cut off, nor "
                    f"rounded up. Your grayscale image[{i}, {j}] is {_number(gray[i, j])}; that "
                    f"pixel is (R, G, B) = ({r}, {g}, {b}), and 0.299 × {r} + 0.587 × {g} + "
                    f"0.114 × {b} = {exact[i, j]:.3f}, which rounds to {expected[i, j]:.0f}. "
                    "The task fixes the weights, 0.299, 0.587 and 0.114 (Pillow's, not those "
                    "of another library's grayscale function): compute that sum in float32 or "
                    "float64, and round it with np.round."
                )
            worst = np.abs(values - expected).max()
            i, j = np.argwhere(~right)[0]
            pixels = photo.reshape(-1, 3).astype(np.float64)
            fitted = np.linalg.lstsq(pixels, values.reshape(-1), rcond=None)[0]
            if np.abs(pixels @ fitted - values.reshape(-1)).max() <= 0.75 and not np.allclose(
                fitted, LUMA_WEIGHTS, atol=0.003
            ):
                return (
                    "your values are a weighted sum of the channels, but with weights of about "
                    "{:.2f}, {:.2f} and {:.2f} for R, G and B, not 0.299, 0.587 and 0.114. "
                    "First difference: ".format(*fitted)
                    + first_difference(
                        gray, expected.astype(np.uint8), "your grayscale image", atol=0
                    )
                )
            r, g, b = (int(v) for v in photo[i, j])
            return (
                f"values differ from the rounded weighted sum by up to {amount(worst)}. Your "
                f"grayscale image[{i}, {j}] is {_number(gray[i, j])}; that pixel is (R, G, B) = "
                f"({r}, {g}, {b}), and 0.299 × {r} + 0.587 × {g} + 0.114 × {b} = "
                f"{exact[i, j]:.4g}, rounded {expected[i, j]:.0f} ("
                f"{int((~right).sum())} of {right.size} values differ; shape {gray.shape}, "
                f"dtype {gray.dtype}). Compute that sum in float (in uint8, sums above 255 wrap "
                "around at 256), then round it."
            )
        if isinstance(returned, list | tuple):
            return (
                f"the values are right but you returned a {type(returned).__name__} (of "
                "lists), not an image array: return the uint8 NumPy array itself, as Pillow "
                "gives it (no .tolist())."
            )
        if gray.dtype != np.uint8:
            return (
                f"the values are right but their type is {gray.dtype}; return uint8 as Pillow "
                "does: .astype(np.uint8) after rounding."
            )
        return None

    return run_check("1.1", diagnose, "one luminance value per pixel, weighted as the eye sees.")


# ---------------------------------------------------------------- 1.2 centre crop


def _crop_cases() -> list[tuple[np.ndarray, int, int]]:
    rng = check_rng(12)
    flat = rng.integers(0, 256, size=(7, 10), dtype=np.uint8)  # odd margins on both axes
    colour = rng.integers(0, 256, size=(9, 8, 3), dtype=np.uint8)  # no margin on the rows
    floats = rng.random((12, 11, 2)).astype(np.float32)  # even and odd margins, float32
    return [(flat, 4, 3), (colour, 9, 5), (floats, 5, 6)]


def _find_window(image: np.ndarray, crop: np.ndarray) -> tuple[int, int] | None:
    height, width = crop.shape[:2]
    for top in range(image.shape[0] - height + 1):
        for left in range(image.shape[1] - width + 1):
            if np.array_equal(image[top : top + height, left : left + width], crop):
                return top, left
    return None


def _one_off_crop(what: str, found: tuple[int, int], top: int, left: int) -> str:
    """A crop that starts one row too low, one column too far right, or both: which of them."""
    down, right = found[0] != top, found[1] != left
    if down and right:
        start = (
            f"starts at row {found[0]}, column {found[1]}, one row too far down and one column "
            "too far right"
        )
        extra = "row goes at the bottom and the extra column at the right"
    elif down:
        start = f"starts at row {found[0]}, one row too far down (its column, {left}, is right)"
        extra = "row goes at the bottom"
    else:
        start = f"starts at column {found[1]}, one column too far right (its row, {top}, is right)"
        extra = "column goes at the right"
    return (
        f"{what} {start}: with an odd margin the extra {extra}, so top = (h - height) // 2 "
        f"= {top} and left = (w - width) // 2 = {left}. (h // 2 - height // 2 rounds twice "
        "and can be one off.)"
    )


def exercise_1_2(centre_crop: Callable[[np.ndarray, int, int], Any]) -> CheckResult:
    """centre_crop(image, height, width) -> the central region, the odd extra cut at the
    bottom/right."""

    def crops_plain(image: np.ndarray, height: int, width: int) -> bool:
        """Whether the function crops ``image`` right (a 2-D one: no channel axis to misread)."""
        rows, cols = image.shape
        top, left = (rows - height) // 2, (cols - width) // 2
        try:
            out = np.asarray(centre_crop(image.copy(), height, width))
        except Exception:  # its failure on the 3-D image is the message then
            return False
        return np.array_equal(out, image[top : top + height, left : left + width])

    def channels_misread(image: np.ndarray, height: int, width: int, outcome: str) -> str | None:
        """The message when the function fails on an (h, w, channels) image only."""
        if image.ndim != 3 or not crops_plain(image[..., 0], height, width):
            return None
        rows, cols, channels = image.shape
        return (
            f"asked for a {height} x {width} crop of an image of shape {image.shape} ({rows} x "
            f"{cols}, {channels} channels), {outcome}, though your function crops the same "
            f"image without its channels, shape {(rows, cols)}, right: the height and width "
            "are the first two axes, image.shape[:2], for (h, w) and (h, w, channels) images "
            "alike."
        )

    def flat_failed(image: np.ndarray, height: int, width: int, raised: str) -> str | None:
        """The message when the function fails on an (h, w) image, one without channels, and
        crops the same image with a channel axis right; None when it fails on that too."""
        rows, cols = image.shape
        top, left = (rows - height) // 2, (cols - width) // 2
        try:
            out = np.asarray(centre_crop(image[..., np.newaxis].copy(), height, width))
        except Exception:  # its failure on the 2-D image is the message then
            return None
        if not np.array_equal(out, image[top : top + height, left : left + width, np.newaxis]):
            return None
        return (
            f"asked for a {height} x {width} crop of a 2-D image of shape {image.shape} "
            f"(h, w: a grayscale image, without a channel axis), {raised.rstrip(' .')}, though "
            f"your function crops the same image with a channel axis, shape {(rows, cols, 1)}, "
            "right. The task asks for (h, w) and (h, w, channels) images alike: read the "
            "height and width as image.shape[:2], which both have, rather than unpacking "
            "three sizes from image.shape."
        )

    def check_case(image: np.ndarray, height: int, width: int) -> str | None:
        problem = check_crop(image, height, width)
        if problem:
            return channels_misread(image, height, width, "your crop is wrong") or problem
        return None

    def check_crop(image: np.ndarray, height: int, width: int) -> str | None:
        rows, cols = image.shape[:2]
        what = f"your crop of a {rows} x {cols} image"
        try:
            returned = call_pure(centre_crop, image, height, width, names=("image",))
        except StudentCodeFailed as exc:
            if not str(exc).startswith("your code raised"):
                raise
            misread = channels_misread(image, height, width, str(exc).rstrip("."))
            if misread:
                raise StudentCodeFailed(misread) from None
            asked = f"asked for a {height} x {width} crop of a {rows} x {cols} image"
            flat = flat_failed(image, height, width, str(exc)) if image.ndim == 2 else None
            if flat:
                raise StudentCodeFailed(flat) from None
            same = [
                name
                for name, size, whole in (("height", height, rows), ("width", width, cols))
                if size == whole
            ]
            if same and str(exc).startswith("your code raised ValueError"):
                raise StudentCodeFailed(
                    f"{asked} (the crop's {' and '.join(same)} equal to the image's), "
                    f"{exc}. A crop may be as large as the image: nothing is cut on that "
                    "axis. Raise only when the crop is larger (height > h or width > w)."
                ) from None
            raise StudentCodeFailed(f"{asked}, {exc}") from None
        out = _numpy_result(returned, what)
        want = (height, width, *image.shape[2:])
        if out.shape != want:
            if out.ndim < 2:
                return shape_problem(out, want, what)
            if out.shape[:2] == (width, height) and height != width:
                return shape_problem(out, want, what)
            if 0 in out.shape[:2]:
                return (
                    f"{what} is empty, shape {out.shape}: with nothing to cut on an axis, "
                    "image[m:-m] is image[0:0]. Slice image[top : top + height] instead."
                )
            m_rows, m_cols = (rows - height) // 2, (cols - width) // 2
            if np.array_equal(out, image[m_rows : rows - m_rows, m_cols : cols - m_cols]):
                return (
                    f"{what} has shape {out.shape}, one too many rows or columns for a "
                    f"{height} x {width} crop: when the margin is odd, image[m:-m] keeps an "
                    "extra one. Slice image[top : top + height]."
                )
            for side, size, other in (("width", height, "height"), ("height", width, "width")):
                if out.shape[:2] == (size, size) and height != width:
                    return (
                        f"{what} has shape {out.shape}, {size} x {size}, where a {height} x "
                        f"{width} crop was asked: its {side} is the {other} argument. Use "
                        f"height for the rows and width for the columns."
                    )
            return (
                f"{what} has shape {out.shape}; asked for {want} (height {height}, width {width})."
            )
        if out.dtype != image.dtype:
            return (
                f"{what} changed the dtype from {image.dtype} to {out.dtype}: cropping only "
                "selects pixels."
            )
        top, left = (rows - height) // 2, (cols - width) // 2
        if np.array_equal(out, image[top : top + height, left : left + width]):
            return None
        found = _find_window(image, out)
        if found is None:
            return (
                f"{what} holds pixels that are not one {height} x {width} block of the image. "
                "First difference: "
                + first_difference(
                    out, image[top : top + height, left : left + width], "your crop", atol=0
                )
            )
        if found == (0, 0):
            return (
                f"{what} is the top-left corner; cut (h - height) // 2 rows at the top to "
                "centre it."
            )
        if found[0] in (top, top + 1) and found[1] in (left, left + 1):
            return _one_off_crop(what, found, top, left)
        return (
            f"{what} starts at row {found[0]}, column {found[1]}; the centred crop starts at "
            f"{top}, {left}."
        )

    def check_too_large(height: int, width: int) -> str | None:
        # Too tall, then too wide: a test of one axis only lets the other slice silently.
        image = np.zeros((5, 6), dtype=np.uint8)
        asked = f"asked for a {height} x {width} crop of a 5 x 6 image"
        if not callable(centre_crop):
            raise StudentCodeFailed(f"expected a function, got {type(centre_crop).__name__}.")
        try:
            out = centre_crop(image, height, width)
        except ValueError:
            return None
        except NotImplementedError:
            raise StudentCodeFailed(NOT_ATTEMPTED) from None
        except Exception as exc:  # a crash is feedback, not a failure of the check
            return (
                f"{asked}, your code raised {type(exc).__name__}; "
                "raise ValueError, the exception for an argument with a bad value."
            )
        raise_it = "Raise a ValueError when the crop is larger than the image" + (
            ", in height or in width." if (height, width) == (4, 7) else "."
        )
        if out is None:
            return (
                f"{asked}, your function returned None (printing a warning, or a bare return, "
                f"does that): the caller's code carries on with no image. {raise_it}"
            )
        if getattr(out, "shape", None) == image.shape:
            return (
                f"{asked}, your function returned the whole image, shape {image.shape}, "
                f"uncropped, and the caller cannot tell. {raise_it}"
            )
        shape = getattr(out, "shape", type(out).__name__)
        return (
            f"{asked}, your function returned {shape} without "
            f"complaint: NumPy slicing stops silently at the edge. {raise_it}"
        )

    def diagnose() -> str | None:
        for image, height, width in _crop_cases():
            problem = check_case(image, height, width)
            if problem:
                return problem
        return check_too_large(6, 4) or check_too_large(4, 7)

    return run_check(
        "1.2", diagnose, "centred, the odd row and column cut at the bottom and right."
    )


# ---------------------------------------------------------------- 1.3 nearest-neighbour resize


# Pillow's refusal of an array it has no mode for (a float32 colour image): an answer that
# resizes with Pillow, which the task rules out, fails with it.
_PILLOW_DTYPE = "Cannot handle this data type"


def _resize_cases() -> list[tuple[np.ndarray, int, int]]:
    # Odd source sizes first: no output centre falls exactly on a border between two source
    # pixels, so the index rules students write are told apart by what they get wrong
    # everywhere. Then an exact halving, where every centre lies on a border: pixel k covers
    # [k, k + 1), so the centre belongs to the pixel that starts there (floor, as Pillow).
    rng = check_rng(13)
    shrink = rng.integers(0, 256, size=(9, 13), dtype=np.uint8)
    grow = rng.integers(0, 256, size=(7, 11, 3), dtype=np.uint8)
    mixed = rng.random((15, 5, 3)).astype(np.float32)  # (h, w, 3), as the task names
    halve = rng.integers(0, 256, size=(8, 6, 3), dtype=np.uint8)
    return [(shrink, 4, 5), (grow, 10, 15), (mixed, 6, 8), (halve, 4, 3)]


def _sample(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray | None:
    rows, cols = np.asarray(rows, dtype=int), np.asarray(cols, dtype=int)
    if (
        rows.min() < 0
        or cols.min() < 0
        or rows.max() >= image.shape[0]
        or cols.max() >= image.shape[1]
    ):
        return None
    return image[rows[:, None], cols]


# Index rules students use, as (source size, output size) -> source indices.
_RULES: dict[str, Callable[[int, int], np.ndarray]] = {
    "centre": lambda n, m: np.floor((np.arange(m) + 0.5) * n / m),
    "corner": lambda n, m: np.floor(np.arange(m) * n / m),
    "round": lambda n, m: np.round((np.arange(m) + 0.5) * n / m),
    "corners": lambda n, m: np.round(np.linspace(0, n - 1, m)),
    "corners_floor": lambda n, m: np.floor(np.linspace(0, n - 1, m)),
}

_RULE_HINTS = {
    "corner": (
        "you copied the source pixel under each output pixel's top-left edge (i * h / height); "
        "take the one under its centre, (i + 0.5) * h / height, or the image shifts by "
        "half a pixel."
    ),
    "round": (
        "you rounded the centre's position to the nearest whole number; the centre lies inside "
        "the source pixel given by its whole-number part: use np.floor or int(), not round."
    ),
    "corners": (
        "the first and last output pixels copy the image's corner pixels (np.linspace(0, h - 1, "
        "height)): that rule is called 'align corners'; use the pixel centres, (i + 0.5) * "
        "h / height."
    ),
}
_RULE_HINTS["corners_floor"] = _RULE_HINTS["corners"]


# NumPy's and TensorFlow's words for an index past the end of an axis
_OUT_OF_BOUNDS = re.compile(
    r"index (?P<index>-?\d+) is out of bounds for axis \d+ with size (?P<size>\d+)"
)
_NOT_IN_RANGE = re.compile(r"= (?P<index>-?\d+) is not in \[0, (?P<size>\d+)\)")


def exercise_1_3(resize_nearest: Callable[[np.ndarray, int, int], Any]) -> CheckResult:
    """resize_nearest(image, height, width) -> each output pixel copies the source pixel under its
    centre."""

    def check_case(image: np.ndarray, height: int, width: int) -> str | None:
        rows, cols = image.shape[:2]
        what = f"resizing {rows} x {cols} to {height} x {width}"
        try:
            out = _numpy_result(
                call_pure(resize_nearest, image, height, width, names=("image",)),
                f"your result of {what}",
            )
        except StudentCodeFailed as exc:
            raised = str(exc).rstrip(" .")
            if _PILLOW_DTYPE in raised:  # read from the text: the judge gets no traceback
                raise StudentCodeFailed(
                    f"{what}: {raised}. That error is Pillow's: Image.fromarray has no mode "
                    f"for {_a(str(image.dtype))} {'colour ' if image.ndim == 3 else ''}image, "
                    "one of those the check resizes. The task asks for NumPy indexing, "
                    "without Pillow: compute the source row of every output row and the source "
                    "column of every output column, and index the image with them."
                ) from None
            if "could not be broadcast" in raised:
                raise StudentCodeFailed(
                    f"{what}: {raised}. Indexing with two 1-D arrays pairs them element by "
                    "element; for every (row, column) pair, index with a column of rows and a "
                    "row of columns: image[rows[:, None], cols]."
                ) from None
            past = _OUT_OF_BOUNDS.search(raised) or _NOT_IN_RANGE.search(raised)
            if past and int(past["index"]) == int(past["size"]):
                raise StudentCodeFailed(
                    f"{what}: {raised}. An index reached the image's size, one past the last "
                    "pixel: the last output pixel's centre lies inside the last source pixel, "
                    "so take the whole-number part (floor) of (i + 0.5) * h / height, never "
                    "round up."
                ) from None
            if past:
                raise StudentCodeFailed(
                    f"{what}: {raised}. The indices into an axis of n pixels run from 0 to "
                    "n - 1: each source index is the pixel under an output pixel's centre."
                ) from None
            raise
        want = (height, width, *image.shape[2:])
        if out.shape != want:
            steps = image[:: max(rows // height, 1), :: max(cols // width, 1)].shape
            if out.shape == steps and out.shape != want:
                return (
                    f"{what} gave shape {out.shape}: a step of h // height only fits when the "
                    "sizes divide exactly. Compute one source index per output pixel instead."
                )
            return shape_problem(out, want, f"your result of {what}")
        if out.dtype != image.dtype:
            return (
                f"{what} turned {image.dtype} into {out.dtype}: nearest neighbour copies pixels, "
                "so keep the dtype (index the image rather than filling np.zeros)."
            )
        sampled = {
            name: _sample(image, rule(rows, height), rule(cols, width))
            for name, rule in _RULES.items()
        }
        if np.array_equal(out, sampled["centre"]):
            return None
        # after three odd-sized cases passed, a mismatch here is about ties only
        on_border = np.ceil((np.arange(height) + 0.5) * rows / height) - 1
        if rows == 2 * height and np.array_equal(
            out, _sample(image, on_border, np.ceil((np.arange(width) + 0.5) * cols / width) - 1)
        ):
            return (
                f"{what}, an exact halving: the centre of output row 0 lands at 1.0, exactly on "
                "the border between source rows 0 and 1, and you took row 0. Pixel k covers "
                "[k, k + 1), so a centre on a border lies in the pixel that starts there: take "
                "the whole-number part (np.floor or int()), as Pillow does; rounding "
                "(np.round(c - 0.5), np.ceil(c) - 1) picks the pixel before."
            )
        for name, hint in _RULE_HINTS.items():
            candidate = sampled[name]
            if candidate is not None and np.array_equal(out, candidate):
                return f"{what}: {hint}"
        row_scale = np.floor((np.arange(width) + 0.5) * rows / height)  # columns scaled like rows
        by_rows = _sample(image, _RULES["centre"](rows, height), row_scale)
        if by_rows is not None and np.array_equal(out, by_rows):
            return f"{what}: the columns use the rows' scale; scale columns by w / width."
        wrong = np.any(out != sampled["centre"], axis=tuple(range(2, out.ndim))).mean()
        return (
            f"{what}: {wrong:.0%} of the output pixels are not the source pixel under their "
            "centre, (i + 0.5) * h / height for rows and (j + 0.5) * w / width for "
            "columns. First difference: "
            + first_difference(out, sampled["centre"], "your result", atol=0, rtol=0)
        )

    def diagnose() -> str | None:
        for image, height, width in _resize_cases():
            problem = check_case(image, height, width)
            if problem:
                return problem
        return None

    return run_check(
        "1.3", diagnose, "each new pixel is the source pixel under its centre, as Pillow's NEAREST."
    )


# ---------------------------------------------------------------- 1.4 standardise


def _standardise_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = check_rng(14)
    # The training images never reach 255 and the test images are brighter, so statistics
    # taken from the wrong set, or a division by the maximum, show.
    train = rng.integers(10, 201, size=(40, 6, 6), dtype=np.uint8)
    train[:20] //= 2  # some darker images: per-image statistics differ from the global ones
    test = rng.integers(60, 256, size=(10, 6, 6), dtype=np.uint8)
    # Float images as the lesson scales them (float32 / 255), and in float64 too.
    return [
        (train, test),
        (train.astype(np.float32) / 255, test.astype(np.float32) / 255),
        (train.astype(np.float64) / 255, test.astype(np.float64) / 255),
        # Few pixels: the sample standard deviation (ddof=1) is 4 % larger than np.std's,
        # in 8-bit and in float images
        (train[:3, :2, :2], test[:2, :2, :2]),
        (train[:3, :2, :2].astype(np.float32) / 255, test[:2, :2, :2].astype(np.float32) / 255),
    ]


def _axes(axes: tuple[int, ...]) -> str:
    """``0`` for one axis, ``(0, 1)`` for several, as NumPy's ``axis=`` is written."""
    return str(axes[0]) if len(axes) == 1 else str(axes)


def _standardised(x: np.ndarray, mean: Any, std: Any) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (x.astype(np.float64) - mean) / std


def exercise_1_4(standardise: Callable[[np.ndarray, np.ndarray], Any]) -> CheckResult:
    """standardise(x_train, x_test) -> both as float32, (x - train mean) / train std, one mean and
    one std."""

    def check_case(train: np.ndarray, test: np.ndarray) -> str | None:
        kind = f"{train.dtype} images"
        try:
            result = call_pure(standardise, train, test, names=("x_train", "x_test"))
        except StudentCodeFailed as exc:
            raised = str(exc).rstrip(" .")
            if "Cannot cast ufunc" in raised and "to dtype('uint8')" in raised:
                # read from the text: the judge gets no traceback
                raise StudentCodeFailed(
                    f"with {kind}, {raised}. An in-place operation such as x -= mean writes its "
                    "float result into the uint8 array itself, which NumPy refuses (and which "
                    "would change the caller's images): compute new arrays in float, "
                    "(x - mean) / std."
                ) from None
            raise
        if result is None:
            return "your function returned None: did you forget to `return train, test`?"
        if (
            isinstance(result, np.ndarray)
            or not isinstance(result, tuple | list)
            or len(result) != 2
        ):
            shown = f"a {type(result).__name__}" + (
                f" of length {len(result)}" if isinstance(result, tuple | list) else ""
            )
            return f"return two arrays, `return train_std, test_std`; got {shown}."
        out_train = _numpy_result(result[0], "the array of standardised training images")
        out_test = _numpy_result(result[1], "the array of standardised test images")
        if train.shape != test.shape and (out_train.shape, out_test.shape) == (
            test.shape,
            train.shape,
        ):
            return (
                f"you returned the test images first (shapes {out_train.shape} and "
                f"{out_test.shape}): return them in the order they came, "
                "`return train_std, test_std`."
            )
        for name, out, source in (("training", out_train, train), ("test", out_test, test)):
            problem = shape_problem(out, source.shape, f"the array of standardised {name} images")
            if problem:
                return problem
        if not (
            np.issubdtype(out_train.dtype, np.number) and np.issubdtype(out_test.dtype, np.number)
        ):
            return f"the results hold {out_train.dtype} values; return float32 arrays."
        a, b = out_train.astype(np.float64), out_test.astype(np.float64)
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            return (
                "the results contain inf or NaN: a standard deviation of 0 somewhere? Use one "
                "mean and one standard deviation over all training pixels."
            )
        data = train.astype(np.float64)
        mean, std = data.mean(), data.std()
        want_train, want_test = _standardised(train, mean, std), _standardised(test, mean, std)

        def close(x: np.ndarray, y: np.ndarray) -> bool:
            return bool(np.allclose(x, y, atol=2e-3))

        sample_std = data.std(ddof=1)
        if not close(a, want_train) and close(a, _standardised(train, mean, sample_std)):
            return (
                f"on {train.size} training pixels ({kind}) your standard deviation is the "
                f"sample one, with n - 1 in the denominator (ddof=1), {sample_std:.3f} where "
                f"np.std gives {std:.3f}; the exercise asks for the standard deviation as "
                "np.std computes it (ddof=0), as Keras' Normalization layer does too."
            )

        if close(a, want_train) and not close(b, want_test):
            if close(b, _standardised(test, test.mean(), test.std())):
                return (
                    "the test images were standardised with their own mean and standard deviation: "
                    "use the training statistics for both sets. The test set stands for "
                    "images that "
                    "arrive later, which you cannot measure while training."
                )
            return (
                "the training images are right but the test images are not: apply the same "
                "mean and std to both. First difference: "
                + first_difference(out_test, want_test, "the standardised test images", atol=2e-3)
            )
        both = np.concatenate([data.ravel(), test.astype(np.float64).ravel()])
        if close(a, _standardised(train, both.mean(), both.std())):
            return (
                "the statistics come from the training and test images together: compute them on "
                "the training images only, then apply them to both."
            )
        axes = tuple(range(1, train.ndim))
        per_image = _standardised(
            train, data.mean(axis=axes, keepdims=True), data.std(axis=axes, keepdims=True)
        )
        if close(a, per_image):
            return (
                "each image was standardised on its own (its own mean and std): use one mean and "
                "one std over all training pixels, so the same pixel value means the same "
                "in every image."
            )
        per_position = _standardised(train, data.mean(axis=0), data.std(axis=0))
        if close(a, per_position):
            return (
                "you computed a mean and std per pixel position (axis=0); the exercise asks "
                "for one mean and one standard deviation, not one per position: compute them "
                "over all training pixels (axis=None)."
            )
        # Statistics over some axes only, one pair per index of the others (per channel, as
        # Normalization(axis=-1) gives; per row...): name the axes that were kept
        for kept in itertools.chain.from_iterable(
            itertools.combinations(range(train.ndim), n) for n in range(1, train.ndim)
        ):
            reduced = tuple(i for i in range(train.ndim) if i not in kept)
            per_index = _standardised(
                train, data.mean(axis=reduced, keepdims=True), data.std(axis=reduced, keepdims=True)
            )
            if close(a, per_index) and not close(per_index, want_train):
                return (
                    f"you computed a mean and std for each index along axis {_axes(kept)} "
                    f"(statistics over axis {_axes(reduced)} only, as with "
                    f"np.mean(x, axis={_axes(reduced)})); the exercise asks for one mean and one "
                    "standard deviation: compute them over all training pixels (axis=None)."
                )
        scale = 255.0 if np.issubdtype(train.dtype, np.integer) else 1.0
        if close(a, data / scale) or close(a, data / data.max()):
            return (
                "the values are only scaled, not standardised: subtract the training mean and "
                "divide by the training standard deviation."
            )
        if close(a, data - mean) or close(a, (data - mean) / scale):
            return (
                f"the values are centred but their spread is {a.std():.2f}, not 1: divide by "
                "the training std."
            )
        if close(a, data / std):
            return (
                f"the values have spread 1 but their mean is {a.mean():.2f}, not 0: subtract "
                "the training mean."
            )
        if close(a, data - mean / std) and not close(a, want_train):
            return (
                "you computed x - mean / std, where the division comes first: it subtracts "
                "mean / std from every pixel. Put the subtraction in parentheses, "
                "(x - mean) / std."
            )
        if close(a, (data - mean) / std**2) and not close(a, want_train):
            return (
                f"you divided by the variance ({std**2:.4g}, the square of the standard "
                f"deviation, np.var), not by the standard deviation ({std:.4g}, np.std): the "
                f"values' spread is {a.std():.3g}, not 1."
            )
        if a.min() >= 0 and np.issubdtype(train.dtype, np.integer) and abs(a.mean()) > 0.5:
            return (
                "values are far from mean 0: did the subtraction happen in uint8, where values "
                "below 0 wrap around to 255? Convert to float first."
            )
        if not close(a, want_train):
            spread = (
                "they do have mean 0 and std 1 overall, but not with one mean and one std over "
                "all training pixels"
                if abs(a.mean()) < 5e-3 and abs(a.std() - 1) < 5e-3
                else f"the standardised training images have mean {a.mean():.2f} and std "
                f"{a.std():.2f}; (x - mean) / std with the training statistics gives mean 0 and "
                "std 1"
            )
            return f"{spread}. First difference: " + first_difference(
                out_train, want_train, "the standardised training images", atol=2e-3
            )
        if out_train.dtype != np.float32 or out_test.dtype != np.float32:
            return (
                "the values are right but "
                + (
                    f"both arrays are {out_train.dtype}"
                    if out_train.dtype == out_test.dtype
                    else f"the arrays are {out_train.dtype} and {out_test.dtype}"
                )
                + f": return float32 (for {kind}), what Keras models use."
            )
        return None

    def diagnose() -> str | None:
        for train, test in _standardise_cases():
            problem = check_case(train, test)
            if problem:
                return problem
        return None

    return run_check(
        "1.4",
        diagnose,
        "training statistics applied to both sets, float32, mean 0 and std 1 on training.",
    )
