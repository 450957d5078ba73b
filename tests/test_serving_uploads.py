"""Uploads: every common image mode becomes plain RGB or gray; bad files get a clear UploadError."""

import io

import numpy as np
import pytest
from PIL import Image
from serving_support import encode, jpeg, photo, png

from course_lib.serving.uploads import (
    UploadError,
    decode_image,
    decode_upload,
    header_only_png,
    mime_type,
    preview_bytes,
    shrink_to_preview,
    to_model_pixels,
)

GRAY_28 = {
    "height": 28,
    "width": 28,
    "color_mode": "grayscale",
    "scale": 1 / 255,
    "offset": 0.0,
    "resize": "bilinear",
}


def pixel(image, xy=(0, 0)):
    return image.getpixel(xy)


def test_rgb_png_and_jpeg_come_back_as_rgb_with_their_size():
    for data in (png((64, 48)), jpeg((64, 48))):
        image = decode_image(data)
        assert image.mode == "RGB" and image.size == (64, 48)
    assert np.array_equal(np.asarray(decode_image(png())), np.asarray(photo()))


def test_grayscale_stays_gray_and_bilevel_becomes_gray():
    gray = Image.fromarray(np.full((5, 7), 90, np.uint8))
    assert decode_image(encode(gray)).mode == "L"
    bilevel = decode_image(encode(Image.new("1", (4, 4), 1)))
    assert bilevel.mode == "L" and pixel(bilevel) == 255


def test_transparency_is_composited_on_white():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # fully transparent red
    rgba.putpixel((1, 1), (0, 0, 255, 255))
    decoded = decode_image(encode(rgba))
    assert (
        decoded.mode == "RGB"
        and pixel(decoded) == (255, 255, 255)
        and pixel(decoded, (1, 1)) == (0, 0, 255)
    )
    half = decode_image(encode(Image.new("LA", (2, 2), (0, 128))))  # black at half opacity
    assert half.mode == "RGB" and all(abs(v - 127) <= 1 for v in pixel(half))


def test_palette_images_with_and_without_a_transparent_colour():
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    palette.putpixel((2, 2), 1)
    opaque = decode_image(encode(palette))
    assert (
        opaque.mode == "RGB"
        and pixel(opaque) == (255, 0, 0)
        and pixel(opaque, (2, 2)) == (0, 255, 0)
    )
    see_through = decode_image(encode(palette, "GIF", transparency=0))
    assert pixel(see_through) == (255, 255, 255) and pixel(see_through, (2, 2)) == (0, 255, 0)


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # red in CMYK
    decoded = decode_image(encode(cmyk, "JPEG", quality=95))
    red, green, blue = pixel(decoded)
    assert decoded.mode == "RGB" and red > 200 and green < 60 and blue < 60


def test_16_bit_grayscale_is_scaled_to_8_bits_not_clipped():
    values = np.array([[0, 32896, 65535]], np.uint16)
    decoded = decode_image(encode(Image.fromarray(values)))
    assert decoded.mode == "L"
    assert np.asarray(decoded).tolist() == [[0, 128, 255]]


def test_a_dark_16_bit_image_stays_dark():
    # every value at most 255 out of 65535: nearly black, not an 8-bit image
    values = np.array([[0, 200, 255]], np.uint16)
    for fmt in ("PNG", "TIFF"):
        decoded = decode_image(encode(Image.fromarray(values), fmt))
        assert np.asarray(decoded).tolist() == [[0, 1, 1]]


def test_float_and_32_bit_images_become_8_bit_gray():
    floats = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32))
    assert np.asarray(decode_image(encode(floats, "TIFF"))).tolist() == [[0, 128, 255]]
    ints = Image.fromarray(np.array([[0, 65535]], np.int32))
    assert np.asarray(decode_image(encode(ints, "TIFF"))).tolist() == [[0, 255]]


def test_exif_orientation_is_applied():
    wide = photo((40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    upright = decode_image(encode(wide, "JPEG", exif=exif.tobytes()))
    assert upright.size == (20, 40)


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_that_still_covers_what_is_asked():
    data = jpeg((1000, 600))
    upload = decode_upload(data, at_least=256)
    assert upload.image.size == (500, 300) and upload.size == (1000, 600)  # 1/2: 1/4 is too small
    assert decode_upload(data, at_least=100).image.size == (250, 150)
    full = decode_upload(data)
    assert full.image.size == full.size == (1000, 600)
    # the same picture: its smooth channels (the third is noise) as the full one halved
    reduced = np.asarray(decode_upload(data, at_least=256).image, np.float64)[..., :2]
    halved = np.asarray(full.image.reduce(2), np.float64)[..., :2]
    assert np.abs(reduced - halved).mean() < 2


def test_only_jpegs_are_decoded_at_a_reduced_scale_and_each_keeps_its_upright_size():
    assert decode_upload(png((1000, 600)), at_least=256).image.size == (1000, 600)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    turned = decode_upload(encode(photo((1000, 600)), "JPEG", exif=exif.tobytes()), at_least=256)
    assert turned.image.size == (300, 500) and turned.size == (600, 1000)


def test_the_upload_knows_its_files_type_as_mime_type_reads_it():
    mpo = io.BytesIO()
    photo((64, 48)).save(mpo, "MPO")  # a phone's multi-picture JPEG
    for data in (png(), jpeg(), encode(photo(), "WEBP"), encode(photo(), "GIF"), mpo.getvalue()):
        upload = decode_upload(data, at_least=16)
        assert upload.mime == mime_type(data)
    assert decode_upload(mpo.getvalue()).mime == "image/jpeg"


def test_a_truncated_jpeg_is_refused_also_at_a_reduced_scale():
    with pytest.raises(UploadError, match="truncated or corrupt"):
        decode_upload(jpeg((1000, 600))[:5000], at_least=256)


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (6, 6), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    red, green, blue = pixel(decode_image(data))
    assert red > 200 and blue < 50


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_animated_png_webp_and_multi_page_tiff_give_their_first_frame(fmt):
    frames = [Image.new("RGB", (6, 6), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    options = {"lossless": True} if fmt == "WEBP" else {}
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], **options)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert pixel(decode_image(data)) == (255, 0, 0)


@pytest.mark.parametrize(
    ("size", "fmt"),
    [((1, 1), "PNG"), ((1, 1), "JPEG"), ((1, 3000), "PNG"), ((3000, 1), "BMP"), ((5, 4), "AVIF")],
)
def test_tiny_and_thin_images_decode_and_fit_the_model(size, fmt):
    if fmt not in Image.OPEN:
        pytest.skip(f"this Pillow cannot read {fmt}")
    image = decode_image(encode(Image.new("RGB", size, (90, 90, 90)), fmt))
    assert image.size == size
    assert to_model_pixels(image, GRAY_28).shape == (28, 28, 1)
    assert preview_bytes(image)[1] == "image/png"


@pytest.mark.parametrize(
    "data",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><rect/></svg>',
        b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64,  # an iPhone's HEIC header
    ],
    ids=["svg", "heic"],
)
def test_svg_and_heic_are_refused_naming_the_formats_accepted(data):
    with pytest.raises(UploadError) as info:
        decode_image(data, name="'photo'")
    assert info.value.status == 415 and "JPEG, PNG" in info.value.message
    assert ("iPhone" in info.value.message) == (b"heic" in data)


@pytest.mark.parametrize(
    ("data", "status", "phrase"),
    [
        (b"", 400, "empty"),
        (b"hello, I am a text file", 415, "not an image"),
        (b"%PDF-1.7\n" + b"0" * 200, 415, "not an image"),
        (png((64, 48))[:60], 400, "truncated or corrupt"),
        (jpeg((64, 48))[:300], 400, "truncated or corrupt"),
    ],
    ids=["empty", "text", "pdf", "truncated-png", "truncated-jpeg"],
)
def test_bad_files_raise_a_readable_upload_error(data, status, phrase):
    with pytest.raises(UploadError) as info:
        decode_image(data, name="'x.png'")
    assert info.value.status == status and phrase in info.value.message
    assert "'x.png'" in info.value.message


def test_formats_a_browser_would_not_send_are_refused():
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(UploadError) as info:
        decode_image(eps)
    assert info.value.status == 415 and "JPEG, PNG" in info.value.message
    assert decode_image(encode(photo(), "WEBP")).mode == "RGB"


def test_too_many_pixels_is_refused_before_decoding():
    data = encode(Image.new("L", (2000, 1000)))
    with pytest.raises(UploadError) as info:
        decode_image(data, max_pixels=1_000_000)
    assert info.value.status == 413 and "2000×1000 = 2,000,000 pixels" in info.value.message
    assert decode_image(data, max_pixels=2_000_000).size == (2000, 1000)


def test_a_header_only_png_claims_its_size_in_a_few_dozen_bytes():
    probe = header_only_png(6_000, 4_000)
    assert len(probe) < 60
    assert Image.open(io.BytesIO(probe)).size == (
        6_000,
        4_000,
    )  # the header alone: nothing decoded yet
    with pytest.raises(UploadError) as info:
        decode_image(probe, max_pixels=1_000_000)
    assert info.value.status == 413 and "6000×4000 = 24,000,000 pixels" in info.value.message


def test_a_decompression_bomb_is_refused_without_allocating_it():
    bomb = header_only_png(50_000, 50_000)  # 2.5 billion pixels in a 45-byte file
    assert len(bomb) < 200
    with pytest.raises(UploadError) as info:
        decode_image(bomb, max_pixels=10**12)  # even with our limit off, Pillow's guard holds
    assert (
        info.value.status == 413 and "more pixels than can be decoded safely" in info.value.message
    )
    with pytest.raises(UploadError, match="limit is 40,000,000"):
        decode_image(bomb)


def test_model_pixels_follow_the_recorded_preprocessing():
    image = decode_image(png((64, 48)))
    gray = to_model_pixels(image, GRAY_28)
    assert gray.shape == (28, 28, 1) and gray.dtype == np.uint8
    rgb = to_model_pixels(image, {**GRAY_28, "color_mode": "rgb", "height": 32, "width": 16})
    assert rgb.shape == (32, 16, 3)
    exact = Image.fromarray(np.arange(28 * 28, dtype=np.uint16).reshape(28, 28).astype(np.uint8))
    assert np.array_equal(
        to_model_pixels(exact, GRAY_28)[..., 0], np.asarray(exact)
    )  # no resize, no change


def test_center_crop_keeps_the_middle_of_a_wide_image():
    wide = np.zeros((10, 30, 3), np.uint8)
    wide[:, 10:20] = 255  # a white middle third
    square = to_model_pixels(
        Image.fromarray(wide),
        {
            **GRAY_28,
            "color_mode": "rgb",
            "height": 10,
            "width": 10,
            "center_crop": True,
            "resize": "nearest",
        },
    )
    assert square.min() == 255


def test_unknown_resize_method_is_named():
    with pytest.raises(ValueError, match="unknown resize method 'sideways'"):
        to_model_pixels(photo(), {**GRAY_28, "resize": "sideways"})


def test_a_photo_shrunk_in_place_to_its_preview_gives_the_same_preview():
    for image in (photo((1200, 600)), photo((300, 40)), photo((100, 80))):
        before = preview_bytes(image)
        shrink_to_preview(image)
        assert max(image.size) <= 256 and preview_bytes(image) == before


def test_previews_are_small_png_for_tiny_images_and_jpeg_for_photos():
    tiny, tiny_type = preview_bytes(Image.new("L", (28, 28)))
    assert tiny_type == "image/png" and Image.open(io.BytesIO(tiny)).size == (28, 28)
    big, big_type = preview_bytes(photo((1200, 600)))
    assert big_type == "image/jpeg" and Image.open(io.BytesIO(big)).size == (256, 128)
