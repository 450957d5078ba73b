"""Turning uploaded bytes into the pixels a model was trained on.

An upload is untrusted: it may be empty, not an image, a truncated file, a
"decompression bomb" (a small file that claims billions of pixels), or an
image in any of Pillow's modes. :func:`decode_image` opens it, checks it and
returns a plain RGB or grayscale image in the orientation the camera meant;
:func:`to_model_pixels` then applies the model's recorded preprocessing
(colour mode and size). Anything wrong raises :class:`UploadError`, whose
message is meant for the person who sent the file. The service calls
:func:`decode_upload`, which may decode a large JPEG at a reduced scale and
also returns the upload's own size.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from course_lib.messages import first_line

# Pillow warns above ~89 Mpx and refuses above ~179 Mpx; the service applies its own,
# lower limit before decoding, so Pillow's guard only ever backs it up.
DEFAULT_MAX_PIXELS = 40_000_000
# Formats a browser or phone produces. Pillow can open many more (EPS, for one, runs
# Ghostscript on the file), and an upload has no business reaching those decoders.
FORMATS = ("JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF", "PPM")
RESAMPLING = {
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "bicubic": Image.Resampling.BICUBIC,
    "area": Image.Resampling.BOX,
    "lanczos": Image.Resampling.LANCZOS,
}


class UploadError(ValueError):
    """An upload the service cannot classify; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# The longest side of a preview; a JPEG decoded at a reduced scale keeps at least this much.
PREVIEW_SIDE = 256
# EXIF orientations that turn the picture a quarter turn: width and height swap.
_QUARTER_TURNS = (5, 6, 7, 8)


@dataclass(frozen=True)
class Upload:
    """A decoded upload: the upright image, and the upload's own upright ``(width, height)``.

    ``size`` is ``image.size`` unless the JPEG was decoded at a reduced scale; ``mime`` is
    the file's own type (:func:`mime_type`), known from the decoding.
    """

    image: Image.Image
    size: tuple[int, int]
    mime: str | None = None


def decode_image(
    data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "the upload"
) -> Image.Image:
    """Decode ``data`` into an ``RGB`` or ``L`` image, upright, first frame only.

    Transparency is composited on white (how a browser shows it), CMYK and
    palette images become RGB, 16-bit and float images are scaled to 8 bits,
    and the EXIF orientation a phone records is applied.
    """
    return decode_upload(data, max_pixels, name).image


def decode_upload(
    data: bytes,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str = "the upload",
    at_least: int | None = None,
) -> Upload:
    """:func:`decode_image`, with the upload's size; a large JPEG decoded at a reduced scale.

    With ``at_least``, a JPEG is decoded at the smallest of the scales 1/2, 1/4 and 1/8 that
    keeps both sides at least ``at_least`` pixels (Pillow's ``Image.draft``: libjpeg skips
    the detail it would throw away), which takes a fraction of the time for a photo several
    times larger than the model's input. Every block of the file is still decoded, so a
    truncated or corrupt file is refused as before. Other formats decode in full.
    """
    if not data:
        raise UploadError(f"{name} is empty (0 bytes).")
    try:
        image = Image.open(io.BytesIO(data), formats=_formats())
        _check_size(image, max_pixels, name)
        image.verify()  # checks the file's structure without decoding all of it
        image = Image.open(
            io.BytesIO(data), formats=_formats()
        )  # verify() leaves the image unusable
        image.seek(0)  # animated GIF/PNG/WebP: the first frame
        full_size, mime = image.size, _mime_of(image.format)
        if at_least:
            image.draft(None, (at_least, at_least))  # JPEG only; other formats ignore it
        image.load()
    except UploadError:
        raise
    except Image.DecompressionBombError:
        raise UploadError(
            f"{name} claims more pixels than can be decoded safely; "
            f"the limit is {max_pixels:,}. Resize it and try again.",
            413,
        ) from None
    except UnidentifiedImageError:
        heic = data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1")
        raise UploadError(
            f"{name} is not an image in a format the service accepts "
            f"({', '.join(f for f in _formats() if f != 'MPO')})"
            + ("; it is HEIC, an iPhone's own format: send it as JPEG." if heic else "."),
            415,
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UploadError(
            f"{name} looks like an image but could not be decoded ({first_line(exc, 120)}); "
            "the file may be truncated or corrupt."
        ) from None
    try:
        turned = image.getexif().get(ExifTags.Base.Orientation) in _QUARTER_TURNS
        ImageOps.exif_transpose(image, in_place=True)  # no copy of a photo that is upright
    except Exception:  # a broken EXIF block should not lose the picture itself
        turned = False
    return Upload(normalise_mode(image), full_size[::-1] if turned else full_size, mime)


def _formats() -> tuple[str, ...]:
    """:data:`FORMATS` that this Pillow build can open (AVIF support is optional)."""
    Image.init()
    return tuple(f for f in FORMATS if f in Image.OPEN)


def normalise_mode(image: Image.Image) -> Image.Image:
    """Any Pillow mode → ``L`` (gray, no alpha) or ``RGB``."""
    mode = image.mode
    if mode in ("RGB", "L"):
        return image
    if mode == "P":
        has_alpha = "transparency" in image.info or image.palette.mode == "RGBA"
        return _on_white(image.convert("RGBA")) if has_alpha else image.convert("RGB")
    if mode in ("RGBA", "RGBa", "LA", "La", "PA"):
        return _on_white(image if mode == "RGBA" else image.convert("RGBA"))
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I") or mode == "F":
        sixteen_bit = mode.startswith("I;16")  # a 16-bit file: 65535 is white, whatever it holds
        return Image.fromarray(_to_uint8(np.asarray(image), sixteen_bit), mode="L")
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV


def _on_white(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _to_uint8(values: np.ndarray, sixteen_bit: bool = False) -> np.ndarray:
    """16-bit, 32-bit and float pixel values → 0..255.

    ``sixteen_bit``: the values are 0..65535 even if none is above 255 (a dark 16-bit photo).
    """
    if sixteen_bit:  # v / 257 rounded, in whole numbers: a quarter of the memory of floats
        whole = values.astype(np.uint32)
        whole += 128
        whole //= 257
        return whole.astype(np.uint8)
    values = values.astype(np.float64)
    if values.size and np.isfinite(values).all() and 0 <= values.min() and values.max() <= 1.0:
        values = values * 255  # float images in [0, 1]
    elif values.size and values.max() > 255:
        values = values / 257  # 16-bit: 65535 → 255
    return np.clip(np.nan_to_num(values), 0, 255).round().astype(np.uint8)


def _check_size(image: Image.Image, max_pixels: int, name: str) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise UploadError(f"{name} has no pixels ({width}×{height}).")
    if width * height > max_pixels:
        raise UploadError(
            f"{name} is {width}×{height} = {width * height:,} pixels; "
            f"the limit is {max_pixels:,}. Resize it and try again.",
            413,
        )


def to_model_pixels(image: Image.Image, preprocessing: dict[str, Any]) -> np.ndarray:
    """A decoded image → uint8 ``(height, width, channels)`` as the model's preprocessing records.

    ``preprocessing`` holds ``height``, ``width``, ``color_mode`` (``"rgb"`` or
    ``"grayscale"``) and ``resize`` (an interpolation name, optionally with
    ``"center_crop": true`` to crop to the model's aspect ratio first). Scaling
    to floats happens in the classifier, next to the model.
    """
    height, width = int(preprocessing["height"]), int(preprocessing["width"])
    mode = "L" if preprocessing.get("color_mode", "rgb") == "grayscale" else "RGB"
    image = image.convert(mode) if image.mode != mode else image
    if preprocessing.get("center_crop"):
        image = _crop_to_aspect(image, width / height)
    if image.size != (width, height):
        method = RESAMPLING.get(str(preprocessing.get("resize", "bilinear")).lower())
        if method is None:
            raise ValueError(
                f"unknown resize method {preprocessing.get('resize')!r}; "
                f"use one of {sorted(RESAMPLING)}"
            )
        image = image.resize((width, height), method)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[..., None] if pixels.ndim == 2 else pixels


def _crop_to_aspect(image: Image.Image, aspect: float) -> Image.Image:
    width, height = image.size
    if width / height > aspect:
        new_width = max(1, round(height * aspect))
        left = (width - new_width) // 2
        return image.crop((left, 0, left + new_width, height))
    new_height = max(1, round(width / aspect))
    top = (height - new_height) // 2
    return image.crop((0, top, width, top + new_height))


def mime_type(data: bytes) -> str | None:
    """The MIME type of an image file from its header (``image/jpeg``, ...), or None if unknown."""
    try:
        with Image.open(io.BytesIO(data), formats=_formats()) as image:
            return _mime_of(image.format)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def _mime_of(image_format: str | None) -> str | None:
    # A phone's multi-picture JPEG (MPO) is a JPEG to every reader that matters.
    return "image/jpeg" if image_format == "MPO" else Image.MIME.get(image_format or "")


def preview_bytes(image: Image.Image, max_side: int = PREVIEW_SIDE) -> tuple[bytes, str]:
    """A small copy of the upload for the history page: ``(bytes, mime type)``.

    Small images (Fashion-MNIST size) stay lossless PNG; photos become JPEG. A photo is first
    shrunk by a whole factor, averaging blocks of pixels (Pillow's ``reducing_gap=1``: what
    ``Image.reduce`` does), then resized the rest of the way: a few times faster than a
    bilinear resize from the full photo, and as sharp at preview size.
    """
    small = image.copy()
    shrink_to_preview(small, max_side)
    out = io.BytesIO()
    if small.width * small.height <= 64 * 64:
        small.save(out, "PNG")
        return out.getvalue(), "image/png"
    small.save(out, "JPEG", quality=85)
    return out.getvalue(), "image/jpeg"


def shrink_to_preview(image: Image.Image, max_side: int = PREVIEW_SIDE) -> None:
    """Shrink ``image`` in place as :func:`preview_bytes` shrinks its copy: its preview stays the
    same, and a large photo no longer holds its full size in memory."""
    image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=1.0)


def header_only_png(width: int, height: int) -> bytes:
    """A few dozen bytes of PNG that claim ``width`` × ``height`` gray pixels and hold none of them.

    What a decompression-bomb probe looks like: the header alone decides how much memory
    a decoder would reserve. Used by lesson 07 and the tests to check that uploads are
    refused by their size before anything is decoded.
    """

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IEND", b"")
    )
