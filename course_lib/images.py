"""Pixel-level helpers: grayscale conversion and 2-D convolution written out in NumPy.

:func:`convolve2d` computes what a one-filter ``keras.layers.Conv2D`` computes on
a single-channel image, without a framework, so lessons and tests can compare the
two. Like ``Conv2D`` (and every deep-learning library) it computes
**cross-correlation**: the kernel slides over the image as it is, not flipped as
in the textbook definition of convolution. For symmetric kernels the two agree.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, as Pillow's convert("L")

Padding = Literal["valid", "same"]


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """RGB ``(h, w, 3)`` → luminance ``(h, w)``, float32 in [0, 1] (uint8 input scaled by 1/255)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"expected an RGB image of shape (h, w, 3), got {image.shape}")
    scale = 1 / 255 if image.dtype == np.uint8 else 1.0
    return (image.astype(np.float64) @ LUMA_WEIGHTS * scale).astype(np.float32)


def same_padding(size: int, kernel_size: int, stride: int = 1) -> tuple[int, int]:
    """Zeros added ``(before, after)`` along one axis for ``padding="same"``, as TensorFlow does.

    The output keeps ``ceil(size / stride)`` positions; when the padding needed is
    odd, the extra zero goes after (bottom or right), which matters for stride 2.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel_size - size, 0)
    return total // 2, total - total // 2


def convolve2d(
    image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: Padding = "valid"
) -> np.ndarray:
    """Slide ``kernel`` over a 2-D ``image`` and return the float64 map of weighted sums.

    Output pixel ``(i, j)`` is ``sum(image[i*s : i*s+kh, j*s : j*s+kw] * kernel)`` (no
    kernel flip, no bias), the same as ``keras.layers.Conv2D`` with one input and one
    output channel. ``padding="valid"`` uses only windows that fit inside the image:
    the output has ``floor((n - k) / s) + 1`` rows/columns. ``padding="same"`` first adds
    zeros around the image as :func:`same_padding` says, giving ``ceil(n / s)``.
    """
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(
            f"expected a 2-D image and kernel, got shapes {image.shape} and {kernel.shape}"
        )
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if padding == "same":
        rows = same_padding(image.shape[0], kernel.shape[0], stride)
        cols = same_padding(image.shape[1], kernel.shape[1], stride)
        image = np.pad(image, (rows, cols))
    elif padding != "valid":
        raise ValueError(f'padding must be "valid" or "same", got {padding!r}')
    if kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        raise ValueError(f"kernel {kernel.shape} is larger than the image {image.shape}")
    # Every kh x kw window at once, as a (rows, cols, kh, kw) view: no copies, no Python loop.
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)[::stride, ::stride]
    return np.einsum("ijkl,kl->ij", windows, kernel)
