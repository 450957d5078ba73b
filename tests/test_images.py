"""images.convolve2d computes what keras.layers.Conv2D computes."""

import numpy as np
import pytest

from course_lib import images


def _conv2d_layer_output(image, kernel, stride, padding):
    import keras

    layer = keras.layers.Conv2D(1, kernel.shape, strides=stride, padding=padding, use_bias=False)
    layer.build((1, *image.shape, 1))
    layer.set_weights([kernel[:, :, None, None].astype("float32")])
    return keras.ops.convert_to_numpy(layer(image[None, :, :, None].astype("float32")))[0, :, :, 0]


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize(
    ("shape", "kernel_shape"), [((10, 13), (3, 3)), ((9, 8), (2, 4)), ((12, 12), (5, 5))]
)
def test_convolve2d_matches_conv2d(shape, kernel_shape, stride, padding):
    rng = np.random.default_rng(0)
    image = rng.random(shape)
    kernel = rng.normal(size=kernel_shape)  # not symmetric: a flipped kernel would not pass
    expected = _conv2d_layer_output(image, kernel, stride, padding)
    got = images.convolve2d(image, kernel, stride=stride, padding=padding)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_convolve2d_is_cross_correlation_written_out():
    image = np.arange(20.0).reshape(4, 5)
    kernel = np.array([[1.0, 0.0], [0.0, -1.0]])
    got = images.convolve2d(image, kernel)
    assert got.shape == (3, 4)
    assert got[1, 2] == image[1, 2] - image[2, 3]


@pytest.mark.parametrize(
    ("size", "k", "stride", "expected"),
    [(28, 3, 1, (1, 1)), (28, 3, 2, (0, 1)), (5, 4, 1, (1, 2)), (7, 1, 1, (0, 0))],
)
def test_same_padding_puts_the_odd_zero_after(size, k, stride, expected):
    assert images.same_padding(size, k, stride) == expected


def test_convolve2d_rejects_bad_arguments():
    with pytest.raises(ValueError, match="2-D"):
        images.convolve2d(np.zeros((4, 4, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="padding"):
        images.convolve2d(np.zeros((4, 4)), np.ones((3, 3)), padding="full")
    with pytest.raises(ValueError, match="larger"):
        images.convolve2d(np.zeros((2, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="stride"):
        images.convolve2d(np.zeros((4, 4)), np.ones((3, 3)), stride=0)


def test_to_grayscale_scales_uint8_to_unit_range_with_luma_weights():
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (255, 255, 255)
    rgb[1, 2] = (0, 255, 0)
    gray = images.to_grayscale(rgb)
    assert gray.shape == (2, 3) and gray.dtype == np.float32
    assert gray[0, 0] == pytest.approx(1.0) and gray[1, 2] == pytest.approx(0.587)
    with pytest.raises(ValueError, match="RGB"):
        images.to_grayscale(np.zeros((4, 4)))
