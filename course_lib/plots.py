"""Every figure the course draws.

Each function draws one figure and returns ``None``: in a notebook the figure
appears once, below the cell (returning the Figure would show it twice). To
keep a figure, call ``plt.gcf()`` right after, e.g. ``plt.gcf().savefig(...)``.
Images are ``(h, w)`` grayscale or ``(h, w, 3)`` RGB, either uint8 in [0, 255]
or float in [0, 1].
"""

from __future__ import annotations

import itertools
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
    background: str | None = None,
) -> None:
    """Show images in a grid, each with an optional title (grayscale in gray).

    ``background`` colours the figure behind the images (``"0.8"``: light grey), so that white
    areas of an image stand out from the page.
    """
    images = list(images)
    if not images:
        raise ValueError("show_images needs at least one image")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(images)} images but {len(titles)} titles")
    ncols = max(1, min(ncols, len(images)))
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False
    )
    if background is not None:
        fig.set_facecolor(background)
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


def plot_class_counts(
    labels: np.ndarray, class_names: Sequence[str], title: str | None = None
) -> None:
    """Bar chart of how many examples each class has."""
    counts = np.bincount(np.asarray(labels).ravel(), minlength=len(class_names))
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.bar(range(len(class_names)), counts, color="tab:blue")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_ylabel("examples")
    ax.set_title(title or "Examples per class")
    fig.tight_layout()


def plot_feature_maps(
    feature_maps: np.ndarray,
    ncols: int = 8,
    size: float = 1.3,
    max_maps: int | None = None,
    title: str | None = None,
) -> None:
    """Show the channels of one image's activations ``(h, w, channels)``, one panel each.

    Each map gets its own colour scale (bright = strong activation), because maps of one
    layer differ a lot in range; the panel title is the channel index.
    """
    maps = np.asarray(feature_maps)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"expected feature maps of shape (h, w, channels), got {maps.shape}")
    count = maps.shape[-1] if max_maps is None else min(max_maps, maps.shape[-1])
    ncols = max(1, min(ncols, count))
    nrows = math.ceil(count / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.4), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < count:
            ax.imshow(maps[..., i], cmap="viridis", interpolation="nearest")
            ax.set_title(str(i), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()


def plot_filters(
    kernels: np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    size: float = 1.1,
    title: str | None = None,
) -> None:
    """Show convolution kernels in Keras' layout ``(kh, kw, in_channels, filters)``, one per panel.

    Single-channel kernels are drawn red for positive and blue for negative weights, white
    for 0, each on a scale symmetric around 0 so the sign pattern shows. RGB kernels
    (3 input channels) are drawn as colour images, each stretched to its own min and max.
    """
    kernels = np.asarray(kernels, dtype=np.float64)
    if kernels.ndim != 4 or kernels.shape[2] not in (1, 3):
        raise ValueError(
            f"expected kernels of shape (kh, kw, 1 or 3, filters), got {kernels.shape}"
        )
    count = kernels.shape[-1]
    if titles is not None and len(titles) != count:
        raise ValueError(f"{count} filters but {len(titles)} titles")
    ncols = max(1, min(ncols, count))
    nrows = math.ceil(count / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.4), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= count:
            ax.axis("off")
            continue
        kernel = kernels[..., i]
        if kernel.shape[-1] == 1:
            limit = np.abs(kernel).max() or 1.0
            ax.imshow(
                kernel[..., 0], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest"
            )
        else:
            spread = np.ptp(kernel) or 1.0
            ax.imshow((kernel - kernel.min()) / spread, interpolation="nearest")
        ax.set_title(str(titles[i]) if titles is not None else str(i), fontsize=8)
    if title:
        fig.suptitle(title)


def plot_confusion_matrix(
    cm: np.ndarray,
    class_names: Sequence[str],
    normalize: bool = False,
    title: str | None = None,
) -> None:
    """Confusion matrix as a seaborn heatmap: rows are true classes, columns predictions.

    ``cm`` is :func:`sklearn.metrics.confusion_matrix` output. ``normalize=True``
    shows each row as shares of its true class (so the diagonal is per-class recall).
    """
    import seaborn as sns

    cm = np.asarray(cm)
    if cm.shape != (len(class_names), len(class_names)):
        raise ValueError(f"a {cm.shape} matrix for {len(class_names)} class names")
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        values = np.divide(cm, totals, out=np.zeros(cm.shape), where=totals > 0)
        fmt = ".2f"
    else:
        values, fmt = cm, "d"
    size = 0.6 * len(class_names) + 2
    fig, ax = plt.subplots(figsize=(size + 1, size))
    sns.heatmap(
        values,
        annot=True,
        fmt=fmt,
        cmap="Blues",
        square=True,
        cbar=False,
        xticklabels=class_names,
        yticklabels=class_names,
        annot_kws={"fontsize": 8},
        ax=ax,
    )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.tick_params(axis="x", labelrotation=45)
    ax.tick_params(axis="y", labelrotation=0)
    plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    ax.set_title(
        title
        or ("Confusion matrix (share of each true class)" if normalize else "Confusion matrix")
    )
    fig.tight_layout()


def plot_reliability(
    probabilities: np.ndarray, y: np.ndarray, n_bins: int = 10, title: str | None = None
) -> None:
    """Reliability diagram: accuracy per confidence bin against the diagonal, and bin sizes below.

    Confidence is each prediction's top softmax probability. A calibrated model's
    bars touch the diagonal; bars below it mean the model is over-confident.
    """
    from course_lib import metrics

    table = metrics.reliability_table(probabilities, y, n_bins)
    ece = metrics.expected_calibration_error(probabilities, y, n_bins)
    width = 1.0 / n_bins
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5, 5.5), sharex=True, height_ratios=(3, 1))
    used = table["count"] > 0
    top.bar(
        table["lower"][used],
        table["accuracy"][used],
        width=width,
        align="edge",
        color="tab:blue",
        edgecolor="white",
        label="accuracy in the bin",
    )
    gap = (table["confidence"] - table["accuracy"])[used]
    top.bar(
        table["lower"][used],
        gap.abs(),
        width=width,
        bottom=np.minimum(table["accuracy"], table["confidence"])[used],
        align="edge",
        fill=False,
        hatch="//",
        edgecolor="tab:red",
        linewidth=1,
        label="gap to mean confidence",
    )
    top.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.legend(loc="upper left", fontsize=8, framealpha=0.95)
    top.set_title(title or f"Reliability diagram (ECE {ece:.3f})")
    bottom.bar(
        table["lower"], table["count"], width=width, align="edge", color="gray", edgecolor="white"
    )
    bottom.set_xlim(0, 1)
    bottom.set_xlabel("confidence (top softmax probability)")
    bottom.set_ylabel("predictions")
    fig.tight_layout()


def plot_precision_recall(
    y_true: np.ndarray,
    scores: np.ndarray,
    points: dict[str, tuple[float, float]] | None = None,
    min_precision: float | None = None,
    title: str | None = None,
) -> None:
    """Precision–recall curve of one class: each threshold on ``scores`` is one (recall, precision).

    ``y_true`` marks the images of the class, ``scores`` is its probability. ``points`` maps a
    label to a ``(recall, precision)`` pair drawn as a marker (the argmax rule, a chosen
    threshold); ``min_precision`` draws a required precision as a dashed line. Both axes run
    from 0 to 1; the title gives the average precision (the area under the curve).
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, _ = precision_recall_curve(y_true, scores)
    fig, ax = plt.subplots(figsize=(5, 4.2))
    ax.plot(recall, precision, drawstyle="steps-post", color="tab:blue", label="every threshold")
    if min_precision is not None:
        ax.axhline(
            min_precision,
            color="tab:red",
            linestyle="--",
            linewidth=1,
            label=f"required precision {min_precision:g}",
        )
    for (label, (r, p)), marker in zip(
        (points or {}).items(), itertools.cycle("os^D"), strict=False
    ):
        ax.plot([r], [p], marker=marker, markersize=8, linestyle="none", label=label)
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend(loc="lower left", fontsize=8, framealpha=0.95)
    ax.set_title(
        title
        or "Precision–recall curve (average precision "
        f"{average_precision_score(y_true, scores):.3f})"
    )
    fig.tight_layout()


def plot_grad_cam(
    images: Sequence[np.ndarray] | np.ndarray,
    heatmaps: Sequence[np.ndarray] | np.ndarray,
    titles: Sequence[str] | None = None,
    size: float = 1.8,
    alpha: float = 0.5,
) -> None:
    """Grad-CAM: each image on top, its heatmap laid over it below (red = most evidence)."""
    images, heatmaps = list(images), list(heatmaps)
    if not images or len(images) != len(heatmaps):
        raise ValueError(f"{len(images)} images but {len(heatmaps)} heatmaps")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(images)} images but {len(titles)} titles")
    ncols = len(images)
    fig, axes = plt.subplots(2, ncols, figsize=(size * ncols, 2 * size + 0.5), squeeze=False)
    for i, (image, heatmap) in enumerate(zip(images, heatmaps, strict=True)):
        image, cmap = _as_displayable(image)
        vmax = 255 if image.dtype == np.uint8 else 1.0
        if np.shape(heatmap) != image.shape[:2]:
            raise ValueError(f"heatmap {np.shape(heatmap)} does not match image {image.shape[:2]}")
        for ax in axes[:, i]:
            ax.imshow(image, cmap=cmap, vmin=0, vmax=vmax)
            ax.axis("off")
        axes[1, i].imshow(heatmap, cmap="jet", vmin=0, vmax=1, alpha=alpha)
        if titles is not None:
            axes[0, i].set_title(str(titles[i]), fontsize=9)
    axes[0, 0].text(
        -0.1, 0.5, "image", transform=axes[0, 0].transAxes, rotation=90, ha="right", va="center"
    )
    axes[1, 0].text(
        -0.1, 0.5, "Grad-CAM", transform=axes[1, 0].transAxes, rotation=90, ha="right", va="center"
    )


def plot_throughput(
    rates: dict[str, float], baseline: str | None = None, title: str | None = None
) -> None:
    """Horizontal bars of images per second, one per pipeline, each labelled with its rate.

    With ``baseline`` (one of the keys), each label also gives the speed-up over it, e.g. "×3.4".
    """
    if not rates:
        raise ValueError("plot_throughput needs at least one pipeline")
    if baseline is not None and baseline not in rates:
        raise ValueError(f"baseline {baseline!r} is not one of {list(rates)}")
    names, values = list(rates), [float(v) for v in rates.values()]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.2))
    colours = ["tab:gray" if name == baseline else "tab:blue" for name in names]
    ax.barh(names, values, color=colours)
    ax.invert_yaxis()  # first pipeline on top, in the order given
    for y, value in enumerate(values):
        label = f" {value:,.0f}/s"
        if baseline is not None:
            label += f" (×{value / rates[baseline]:.1f})"
        ax.text(value, y, label, va="center", fontsize=9)
    ax.set_xlim(0, max(values) * 1.3)
    ax.set_xlabel("images per second")
    ax.set_title(title or "Pipeline throughput")


def plot_top_predictions(
    images: Sequence[np.ndarray],
    top_k: Sequence[Sequence[tuple[int, str, float]]],
    titles: Sequence[str] | None = None,
) -> None:
    """Each image beside a bar chart of its top predictions ``(index, name, probability)``."""
    if len(images) != len(top_k):
        raise ValueError(f"{len(images)} images but {len(top_k)} lists of predictions")
    fig, axes = plt.subplots(
        len(images),
        2,
        figsize=(8, 2.2 * len(images)),
        squeeze=False,
        gridspec_kw={"width_ratios": [1, 2.2]},
    )
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


def plot_accuracy_comparison(
    accuracies: dict[str, float], title: str | None = None, ylabel: str = "test accuracy"
) -> None:
    """Bar chart of accuracy per approach, from 0 to 1, each bar labelled with its value.

    The axis starts at 0, so that bar heights compare as the numbers do; the value printed
    on each bar keeps small differences readable.
    """
    from matplotlib.ticker import PercentFormatter

    if not accuracies:
        raise ValueError("plot_accuracy_comparison needs at least one accuracy")
    names, values = list(accuracies), [float(v) for v in accuracies.values()]
    fig, ax = plt.subplots(figsize=(1.2 + 1.6 * len(names), 3.2))
    bars = ax.bar(range(len(names)), values, color=["tab:gray"] + ["tab:blue"] * (len(names) - 1))
    ax.set_xticks(range(len(names)), [textwrap.fill(name, 16) for name in names], fontsize=9)
    ax.bar_label(bars, [f"{v:.1%}" for v in values], padding=3)
    ax.set_ylim(0.0, 1.08)  # room above a bar at 100% for its label
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel(ylabel)
    ax.set_title(title or ylabel[:1].upper() + ylabel[1:])
    fig.tight_layout()


def plot_latencies(
    samples: dict[str, Sequence[float]], title: str | None = None, unit: str = "ms"
) -> None:
    """A horizontal box plot per named set of timings, log scale, each labelled with its median."""
    if not samples or any(len(v) == 0 for v in samples.values()):
        raise ValueError("plot_latencies needs at least one non-empty set of timings")
    names = list(samples)
    values = [np.asarray(samples[name], dtype=float) for name in names]
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(names) + 1.4))
    ax.boxplot(
        values,
        orientation="horizontal",
        whis=(1, 99),
        showfliers=True,
        widths=0.6,
        flierprops={"markersize": 3, "alpha": 0.4},
    )
    ax.set_yticks(range(1, len(names) + 1), names)
    ax.invert_yaxis()  # the first set on top
    ax.set_xscale("log")
    for row, v in enumerate(values, start=1):
        # right of the slowest point, where it covers nothing
        ax.annotate(
            f"median {float(np.median(v)):.3g} {unit}",
            (float(v.max()), row),
            xytext=(8, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=8,
        )
    low, high = min(v.min() for v in values), max(v.max() for v in values)
    ax.set_xlim(low / 1.5, high * 6)  # room for the labels on the right
    ax.set_xlabel(f"{unit} (log scale; whiskers at the 1st and 99th percentiles)")
    ax.set_title(title or "Latency")
    fig.tight_layout()


def _label_counted_axis(ax: plt.Axes, xlabel: str, ylabel: str) -> None:
    """Labels, whole-number ticks on x (epochs, steps), a light grid and a small legend."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot_history(history: object, title: str | None = None, mark_best: bool = True) -> None:
    """Learning curves from ``model.fit``: loss and accuracy per epoch, training vs validation.

    ``history`` is the ``History`` that ``fit`` returns or its ``.history``
    dict. Epochs are counted from 1, as Keras prints them. With ``mark_best``,
    a dotted line marks the epoch of the lowest validation loss.
    """
    values = getattr(history, "history", history)
    if not isinstance(values, dict) or "loss" not in values:
        raise ValueError(
            "expected a keras History (or its .history dict) with at least a 'loss' entry"
        )
    panels = [name for name in ("loss", "accuracy") if name in values]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.4), squeeze=False)
    epochs = np.arange(1, len(values["loss"]) + 1)
    best = int(np.argmin(values["val_loss"])) + 1 if mark_best and "val_loss" in values else None
    for ax, name in zip(axes.flat, panels, strict=True):
        ax.plot(epochs, values[name], "o-", color="tab:blue", markersize=3, label="training")
        if f"val_{name}" in values:
            ax.plot(
                epochs,
                values[f"val_{name}"],
                "o-",
                color="tab:orange",
                markersize=3,
                label="validation",
            )
        if best is not None:
            ax.axvline(best, color="gray", linestyle=":", label=f"lowest val loss (epoch {best})")
        _label_counted_axis(ax, "epoch", name)
    if title:
        fig.suptitle(title)
    fig.tight_layout()


def plot_step_losses(
    curves: dict[str, dict[int, float]],
    title: str | None = None,
    marks: dict[str, int] | None = None,
) -> None:
    """Training loss per step for several runs (``{label: {step: loss}}``), on one axis.

    ``marks`` draws a dotted vertical line per ``{label: step}``, e.g. the
    checkpoint a restarted run resumed from.
    """
    if not curves or not all(curves.values()):
        raise ValueError("expected at least one run with at least one step")
    fig, ax = plt.subplots(figsize=(7, 3.4))
    styles = ["o-", "x--", "s:", "^-."]
    for (label, losses), style in zip(curves.items(), itertools.cycle(styles), strict=False):
        steps = sorted(losses)
        ax.plot(steps, [losses[s] for s in steps], style, markersize=3, label=label)
    for label, step in (marks or {}).items():
        ax.axvline(step, color="gray", linestyle=":", label=label)
    _label_counted_axis(ax, "step", "training loss")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    plt.show()


def plot_runs(
    runs: dict[str, object], title: str | None = None, panels: Sequence[str] = ("loss", "val_loss")
) -> None:
    """Several training runs on shared axes: one panel per entry of ``panels``, one line per run.

    ``runs`` maps a label to a ``History`` (or its ``.history`` dict). Epochs are counted
    from 1; the y-axes start at 0, so that the heights of the curves compare as the
    numbers do. Used to compare runs that differ in one setting.
    """
    if not runs:
        raise ValueError("plot_runs needs at least one run")
    histories = {label: getattr(run, "history", run) for label, run in runs.items()}
    for label, values in histories.items():
        missing = [p for p in panels if p not in values]
        if missing:
            raise ValueError(f"run {label!r} has no {missing}; it has {sorted(values)}")
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.4), squeeze=False)
    names = {
        "loss": "training loss",
        "val_loss": "validation loss",
        "accuracy": "training accuracy",
        "val_accuracy": "validation accuracy",
    }
    for ax, panel in zip(axes.flat, panels, strict=True):
        for (label, values), style in zip(
            histories.items(), itertools.cycle(["o-", "s--", "^-.", "x:"]), strict=False
        ):
            series = values[panel]
            ax.plot(np.arange(1, len(series) + 1), series, style, markersize=3, label=label)
        _label_counted_axis(ax, "epoch", names.get(panel, panel))
        ax.set_ylim(bottom=0)
    if title:
        fig.suptitle(title)
    fig.tight_layout()


def plot_learning_rate(
    rates: dict[str, Sequence[float]], steps_per_epoch: int, title: str | None = None
) -> None:
    """Learning rate per training step for one or more schedules, against epochs (from 0).

    ``rates`` maps a label to the learning rate at every step; the x-axis shows
    ``step / steps_per_epoch``, so a tick at 3 is the end of the third epoch.
    """
    if not rates or not all(len(v) for v in rates.values()):
        raise ValueError("plot_learning_rate needs at least one schedule with at least one step")
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be at least 1, got {steps_per_epoch}")
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for label, values in rates.items():
        ax.plot(np.arange(len(values)) / steps_per_epoch, values, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_ylim(bottom=0)
    if len(rates) > 1:
        ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
