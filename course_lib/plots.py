"""Every figure the course draws.

Each function draws one figure and returns ``None``: in a notebook the figure
appears once, below the cell (returning the Figure would show it twice). To
keep a figure, call ``plt.gcf()`` right after, e.g. ``plt.gcf().savefig(...)``.
Images are ``(h, w)`` grayscale or ``(h, w, 3)`` RGB, either uint8 in [0, 255]
or float in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

_CHANNEL_COLOURS = ("tab:red", "tab:green", "tab:blue")


def _as_displayable(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Drop a trailing single channel and pick a colour map for grayscale."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3):
        raise ValueError(f"expected an image of shape (h, w) or (h, w, 3), got {image.shape}")
    return image, ("gray" if image.ndim == 2 else None)


def show_images(
    images: Sequence[np.ndarray] | np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    size: float = 1.6,
    suptitle: str | None = None,
) -> None:
    """Show images in a grid, each with an optional title (grayscale in gray)."""
    images = list(images)
    if not images:
        raise ValueError("show_images needs at least one image")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(images)} images but {len(titles)} titles")
    ncols = max(1, min(ncols, len(images)))
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(images):
            continue
        image, cmap = _as_displayable(images[i])
        # Fixed limits, so a dark grayscale image is not stretched to look bright.
        vmax = 255 if image.dtype == np.uint8 else 1.0
        ax.imshow(image, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()


def plot_pixel_histogram(image: np.ndarray, bins: int = 64, title: str | None = None) -> None:
    """Histogram of pixel values, one line per channel (R, G, B) or one for grayscale."""
    image, _ = _as_displayable(image)
    upper = 255 if image.dtype == np.uint8 else 1.0
    channels = [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[-1])]
    names = ["gray"] if image.ndim == 2 else ["red", "green", "blue"][: len(channels)]
    colours = ["black"] if image.ndim == 2 else _CHANNEL_COLOURS
    fig, ax = plt.subplots(figsize=(6, 3))
    edges = np.linspace(0, upper, bins + 1)
    for values, name, colour in zip(channels, names, colours, strict=False):
        counts, _ = np.histogram(values, bins=edges)
        ax.stairs(counts, edges, label=name, color=colour, linewidth=1.5)
    ax.set_xlabel("pixel value")
    ax.set_ylabel("number of pixels")
    ax.set_xlim(0, upper)
    if len(channels) > 1:
        ax.legend()
    ax.set_title(title or "Pixel values")
    fig.tight_layout()


def plot_class_counts(labels: np.ndarray, class_names: Sequence[str], title: str | None = None) -> None:
    """Bar chart of how many examples each class has."""
    counts = np.bincount(np.asarray(labels).ravel(), minlength=len(class_names))
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.bar(range(len(class_names)), counts, color="tab:blue")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_ylabel("examples")
    ax.set_title(title or "Examples per class")
    fig.tight_layout()


def plot_history(history: object, title: str | None = None, mark_best: bool = True) -> None:
    """Learning curves from ``model.fit``: loss and accuracy per epoch, training vs validation.

    ``history`` is the ``History`` that ``fit`` returns or its ``.history``
    dict. Epochs are counted from 1, as Keras prints them. With ``mark_best``,
    a dotted line marks the epoch of the lowest validation loss.
    """
    values = getattr(history, "history", history)
    if not isinstance(values, dict) or "loss" not in values:
        raise ValueError("expected a keras History (or its .history dict) with at least a 'loss' entry")
    panels = [name for name in ("loss", "accuracy") if name in values]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.4), squeeze=False)
    epochs = np.arange(1, len(values["loss"]) + 1)
    best = int(np.argmin(values["val_loss"])) + 1 if mark_best and "val_loss" in values else None
    for ax, name in zip(axes.flat, panels, strict=True):
        ax.plot(epochs, values[name], "o-", color="tab:blue", markersize=3, label="training")
        if f"val_{name}" in values:
            ax.plot(epochs, values[f"val_{name}"], "o-", color="tab:orange", markersize=3, label="validation")
        if best is not None:
            ax.axvline(best, color="gray", linestyle=":", label=f"lowest val loss (epoch {best})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
