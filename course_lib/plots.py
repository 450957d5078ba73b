"""Every figure the course draws.

Each function draws one figure and returns ``None``: in a notebook the figure
appears once, below the cell (returning the Figure would show it twice). To
keep a figure, call ``plt.gcf()`` right after, e.g. ``plt.gcf().savefig(...)``.
Images are ``(h, w)`` grayscale or ``(h, w, 3)`` RGB, either uint8 in [0, 255]
or float in [0, 1].
"""

from __future__ import annotations

import math
import textwrap
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


def plot_top_predictions(
    images: Sequence[np.ndarray],
    top_k: Sequence[Sequence[tuple[int, str, float]]],
    titles: Sequence[str] | None = None,
) -> None:
    """Each image beside a bar chart of its top predictions ``(index, name, probability)``."""
    if len(images) != len(top_k):
        raise ValueError(f"{len(images)} images but {len(top_k)} lists of predictions")
    fig, axes = plt.subplots(len(images), 2, figsize=(8, 2.2 * len(images)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 2.2]})
    for i, (image, predictions) in enumerate(zip(images, top_k, strict=True)):
        picture, cmap = _as_displayable(image)
        axes[i, 0].imshow(picture, cmap=cmap)
        axes[i, 0].axis("off")
        if titles is not None:
            axes[i, 0].set_title(str(titles[i]), fontsize=9)
        names = [f"{name} ({index})" for index, name, _ in predictions]
        probabilities = [p for _, _, p in predictions]
        bars = axes[i, 1].barh(range(len(names)), probabilities, color="tab:blue")
        axes[i, 1].set_yticks(range(len(names)), names, fontsize=9)
        axes[i, 1].invert_yaxis()  # the most probable class on top
        axes[i, 1].set_xlim(0, 1)
        axes[i, 1].bar_label(bars, [f"{p:.2f}" for p in probabilities], padding=3, fontsize=8)
    axes[-1, 1].set_xlabel("probability")
    fig.tight_layout()


def plot_accuracy_comparison(accuracies: dict[str, float], title: str | None = None) -> None:
    """Bar chart of test accuracy per approach, each bar labelled with its value."""
    if not accuracies:
        raise ValueError("plot_accuracy_comparison needs at least one accuracy")
    names, values = list(accuracies), [float(v) for v in accuracies.values()]
    fig, ax = plt.subplots(figsize=(1.2 + 1.6 * len(names), 3.2))
    bars = ax.bar(range(len(names)), values, color=["tab:gray"] + ["tab:blue"] * (len(names) - 1))
    ax.set_xticks(range(len(names)), [textwrap.fill(name, 16) for name in names], fontsize=9)
    ax.bar_label(bars, [f"{v:.1%}" for v in values], padding=3)
    low = max(0.0, min(values) - 0.15)
    ax.set_ylim(low, 1.0)
    ax.set_ylabel("test accuracy")
    ax.set_title(title or "Test accuracy")
    fig.tight_layout()


def plot_latencies(samples: dict[str, Sequence[float]], title: str | None = None, unit: str = "ms") -> None:
    """One horizontal box plot per named set of timings, on a log scale, each labelled with its median."""
    if not samples or any(len(v) == 0 for v in samples.values()):
        raise ValueError("plot_latencies needs at least one non-empty set of timings")
    names = list(samples)
    values = [np.asarray(samples[name], dtype=float) for name in names]
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(names) + 1.4))
    ax.boxplot(values, orientation="horizontal", whis=(1, 99), showfliers=True, widths=0.6,
               flierprops={"markersize": 3, "alpha": 0.4})
    ax.set_yticks(range(1, len(names) + 1), names)
    ax.invert_yaxis()  # the first set on top
    ax.set_xscale("log")
    for row, v in enumerate(values, start=1):
        # right of the slowest point, where it covers nothing
        ax.annotate(f"median {float(np.median(v)):.3g} {unit}", (float(v.max()), row),
                    xytext=(8, 0), textcoords="offset points", ha="left", va="center", fontsize=8)
    low, high = min(v.min() for v in values), max(v.max() for v in values)
    ax.set_xlim(low / 1.5, high * 6)  # room for the labels on the right
    ax.set_xlabel(f"{unit} (log scale; whiskers at the 1st and 99th percentiles)")
    ax.set_title(title or "Latency")
    fig.tight_layout()
