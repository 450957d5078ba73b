"""Lesson 05 figures: confusion matrix, reliability diagram and Grad-CAM overlays."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import plots

CM = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
NAMES = ["cat", "dog", "bird"]


def test_confusion_matrix_labels_axes_with_class_names_and_annotates_counts():
    assert plots.plot_confusion_matrix(CM, NAMES) is None
    assert len(plt.get_fignums()) == 1
    ax = plt.gcf().axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == NAMES
    assert [t.get_text() for t in ax.get_yticklabels()] == NAMES
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert [t.get_text() for t in ax.texts] == [str(v) for v in CM.ravel()]


def test_normalised_confusion_matrix_shows_row_shares():
    plots.plot_confusion_matrix(CM, NAMES, normalize=True)
    texts = [t.get_text() for t in plt.gcf().axes[0].texts]
    assert texts[:3] == ["0.83", "0.17", "0.00"] and texts[-1] == "1.00"
    with pytest.raises(ValueError, match="2 class names"):
        plots.plot_confusion_matrix(CM, NAMES[:2])


def test_reliability_diagram_has_accuracy_bars_the_diagonal_and_counts():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.35, 0.65]])
    y = np.array([0, 0, 0, 1])
    plots.plot_reliability(probs, y, n_bins=5)
    top, bottom = plt.gcf().axes
    assert "ECE 0.237" in top.get_title() or "ECE 0.238" in top.get_title()
    heights = sorted(round(p.get_height(), 3) for p in top.containers[0])
    assert heights == [0.5, 1.0, 1.0]  # accuracy in the three non-empty bins
    assert sum(p.get_height() for p in bottom.patches) == 4
    assert any(list(line.get_xdata()) == [0, 1] for line in top.lines)


def test_grad_cam_plot_shows_each_image_with_its_overlay():
    images = np.zeros((3, 8, 8), np.uint8)
    heatmaps = np.random.default_rng(0).random((3, 8, 8))
    plots.plot_grad_cam(images, heatmaps, titles=["a", "b", "c"])
    axes = plt.gcf().axes
    assert len(axes) == 6
    assert [ax.get_title() for ax in axes[:3]] == ["a", "b", "c"]
    assert [len(ax.images) for ax in axes] == [1, 1, 1, 2, 2, 2]
    with pytest.raises(ValueError, match="3 images but 2 heatmaps"):
        plots.plot_grad_cam(images, heatmaps[:2])
    with pytest.raises(ValueError, match="does not match"):
        plots.plot_grad_cam(images, np.zeros((3, 4, 4)))
