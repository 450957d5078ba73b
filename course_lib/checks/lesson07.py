"""Checks for lesson 07, deploying the classifier."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from course_lib.checks._core import (
    StudentCodeFailed,
    as_array,
    call_student,
    run_check,
)
from course_lib.record import CheckResult


def _encode(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def _test_uploads() -> dict[str, bytes]:
    """Uploads of different sizes and modes: wide RGB, tall RGB JPEG, already-small gray."""
    rng = np.random.default_rng(7)
    wide = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    wide[10:30, 5:25] = (250, 240, 10)  # a bright block, so resizing mistakes show
    tall = np.zeros((90, 60, 3), np.uint8)
    tall[..., 0] = np.linspace(0, 255, 60, dtype=np.uint8)[None, :]
    tall[..., 2] = np.linspace(255, 0, 90, dtype=np.uint8)[:, None]
    small = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    return {"wide RGB PNG": _encode(wide), "tall RGB JPEG": _encode(tall, "JPEG"), "28×28 gray PNG": _encode(small)}


def _expected_input(data: bytes, preprocessing: dict[str, Any], resize: str | None = None) -> np.ndarray:
    from course_lib import models
    from course_lib.serving.uploads import decode_image, to_model_pixels

    prep = dict(preprocessing, resize=resize or preprocessing.get("resize", "bilinear"))
    pixels = to_model_pixels(decode_image(data), prep)
    return models.as_model_input(pixels[None], prep)[0]


def exercise_7_1(prepare: Callable[[bytes], Any], preprocessing: dict[str, Any]) -> CheckResult:
    """prepare(upload bytes) -> one model input (h, w, c), float32, as ``preprocessing`` records."""
    height, width = int(preprocessing["height"]), int(preprocessing["width"])
    channels = 1 if preprocessing.get("color_mode") == "grayscale" else 3
    shape = (height, width, channels)
    tolerance = 1.5 * float(preprocessing["scale"])  # convert-then-resize or resize-then-convert: both fine

    def diagnose() -> str | None:
        for name, data in _test_uploads().items():
            out = as_array(call_student(prepare, data), f"your input for the {name}")
            expected = _expected_input(data, preprocessing)
            if out.shape == (1, *shape):
                return f"shape {out.shape}: return one image {shape}; the server stacks images into a batch."
            if out.shape == shape[:2] and channels == 1:
                return f"shape {out.shape}: add the channel axis the model expects, {shape} (x[..., None])."
            if out.ndim == 3 and out.shape[:2] == shape[:2] and out.shape[-1] != channels:
                mode = "grayscale: .convert('L')" if channels == 1 else "RGB: .convert('RGB')"
                return f"{out.shape[-1]} channels, but the model takes {channels}; convert the image to {mode}."
            if out.shape[:2] == (width, height) and width != height:
                return f"shape {out.shape}: height and width swapped (Pillow's resize takes (width, height))."
            if out.shape != shape:
                return (f"the {name} gave shape {out.shape}; every upload must become {shape}: "
                        f"resize it to {width}×{height}.")
            if np.issubdtype(out.dtype, np.integer) or out.max() > 1.5:
                return (f"values go up to {out.max():.0f}: scale them as in training "
                        f"(× {preprocessing['scale']:.6g}, i.e. divide by 255).")
            raw_dtype, out = out.dtype, out.astype(np.float64)
            if np.allclose(out, 1.0 - expected, atol=tolerance):
                return "the image is inverted (1 - x): keep the pixel values as they are."
            if not np.allclose(out, expected, atol=tolerance):
                nearest = _expected_input(data, preprocessing, resize="nearest")
                if np.allclose(out, nearest, atol=tolerance):
                    return (f"the {name} was resized with nearest-neighbour; the model's preprocessing "
                            f"says {preprocessing.get('resize', 'bilinear')!r} (Image.Resampling.BILINEAR).")
                worst = np.abs(out - expected).max()
                return f"for the {name}, values differ from the expected input by up to {worst:.3f}."
            if raw_dtype != np.float32:
                return f"values are right but the dtype is {raw_dtype}; models take float32."
        return None

    return run_check("7.1", diagnose, "every upload becomes exactly the input the model was trained on.")


def _upload_cases(max_pixels: int) -> list[tuple[str, bytes, bool, str]]:
    """(name, bytes, should pass, what the mistake means) for exercise 7.2."""
    side = int(max_pixels**0.5)
    exact = np.zeros((max_pixels // side, side), np.uint8)
    png = _encode(np.full((20, 30, 3), 120, np.uint8))
    return [
        ("a small PNG", png, True, "you rejected a valid PNG"),
        ("a JPEG photo", _encode(np.full((24, 32, 3), 90, np.uint8), "JPEG"), True, "you rejected a valid JPEG"),
        (f"an image of exactly {exact.size:,} pixels", _encode(exact), True,
         f"an image with exactly max_pixels={max_pixels:,} pixels is allowed (use >, not >=)"),
        ("an empty file", b"", False, "an empty file passed: check `if not data` first"),
        ("a text file", b"name,label\ncat.jpg,cat\n", False,
         "a text file passed: open the bytes with Pillow to find out whether they are an image"),
        ("a truncated PNG", png[: len(png) // 2], False,
         "a truncated PNG passed: Image.open only reads the header; call image.load() to decode the pixels"),
        (f"an image of {(side + 10) ** 2:,} pixels", _encode(np.zeros((side + 10, side + 10), np.uint8)), False,
         f"an image of {side + 10}×{side + 10} pixels passed with max_pixels={max_pixels:,}: "
         "compare width × height with the limit"),
    ]


def exercise_7_2(check_upload: Callable[[bytes, int], Any], max_pixels: int = 10_000) -> CheckResult:
    """check_upload(data, max_pixels) -> None for a usable image, else a reason (a non-empty string)."""

    def diagnose() -> str | None:
        for name, data, should_pass, mistake in _upload_cases(max_pixels):
            try:
                answer = call_student(check_upload, data, max_pixels)
            except StudentCodeFailed as exc:
                return (f"for {name}, {exc} A check returns a reason instead of raising: "
                        "catch Pillow's errors (UnidentifiedImageError, OSError, SyntaxError).")
            if answer is not None and not isinstance(answer, str):
                return f"for {name} you returned {answer!r}; return None for a good upload or a reason (a string)."
            if answer == "":
                return f"for {name} you returned an empty string; give a reason the user can read."
            if should_pass and answer is not None:
                return f"{mistake} (your reason: {answer!r})."
            if not should_pass and answer is None:
                return f"{mistake}."
        return None

    return run_check("7.2", diagnose, "good images pass, and every bad upload gets a reason.")


def _batch_files(n: int = 4) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(11)
    levels = np.linspace(20, 235, n)  # from dark to bright, so the labels differ
    return [(f"item{i}.png", _encode(np.clip(rng.normal(level, 20, (28, 28)), 0, 255).astype(np.uint8)))
            for i, level in enumerate(levels)]


def exercise_7_3(classify_batch: Callable[[str, list[tuple[str, bytes]]], Any], url: str,
                 files: list[tuple[str, bytes]] | None = None) -> CheckResult:
    """classify_batch(url, files) -> the labels of ``files`` ([(name, bytes)]), from ONE request."""
    import requests

    files = list(files) if files else _batch_files()
    url = url.rstrip("/")

    def total() -> int:
        return requests.get(f"{url}/history", params={"per_page": 1}, timeout=30).json()["total"]

    def diagnose() -> str | None:
        expected = [requests.post(f"{url}/predict", files={"file": f}, timeout=60).json()["label"] for f in files]
        before = total()
        try:
            labels = call_student(classify_batch, url, list(files))
        except StudentCodeFailed as exc:
            if "HTTPError" in str(exc) and "400" in str(exc):
                raise StudentCodeFailed(f"{exc}. The server refused the request: send the images in the "
                                        "multipart field 'file', e.g. files=[('file', (name, data)), ...].") from None
            raise
        if labels is None:
            return "your function returned None: did you forget to `return` the labels?"
        if isinstance(labels, dict):
            return ("you returned the whole JSON body; return its labels: "
                    "[p['label'] for p in body['predictions']].")
        labels = list(labels)
        if labels and isinstance(labels[0], dict):
            return "you returned whole predictions; return just the labels: [p['label'] for p in ...]."
        new_rows = requests.get(f"{url}/history", params={"per_page": 100}, timeout=30).json()["items"]
        new_rows = new_rows[: total() - before]
        requests_made = len({row["created_at"] for row in new_rows})
        if len(labels) != len(files):
            return (f"{len(labels)} label(s) for {len(files)} files: send every file in the same request "
                    "(a list of ('file', (name, bytes)) pairs) and read body['predictions'].")
        if requests_made > 1:
            return (f"your function made {requests_made} requests; send all {len(files)} files in one POST: "
                    "files=[('file', (name, data)) for name, data in files].")
        if labels != expected:
            if sorted(labels) == sorted(expected):
                return "the labels are not in the order of the files: keep the order of body['predictions']."
            return f"the labels {labels} differ from what the server answers for each file, {expected}."
        return None

    return run_check("7.3", diagnose, f"{len(files)} images classified in a single request.")
