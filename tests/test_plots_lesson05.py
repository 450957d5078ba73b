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


def test_precision_recall_curve_draws_every_threshold_the_marked_points_and_the_requirement():
    from sklearn.metrics import average_precision_score, precision_recall_curve

    rng = np.random.default_rng(0)
    y = rng.random(200) < 0.3
    scores = np.clip(0.3 * y + rng.normal(0.4, 0.2, 200), 0, 1)
    plots.plot_precision_recall(
        y, scores, points={"argmax": (0.6, 0.7), "chosen": (0.4, 0.9)}, min_precision=0.9
    )
    ax = plt.gcf().axes[0]
    precision, recall, _ = precision_recall_curve(y, scores)
    curve = ax.lines[0]
    np.testing.assert_allclose(curve.get_xdata(), recall)
    np.testing.assert_allclose(curve.get_ydata(), precision)
    assert curve.get_drawstyle() == "steps-post"
    assert [list(line.get_ydata()) for line in ax.lines[1:]] == [[0.9, 0.9], [0.7], [0.9]]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "every threshold",
        "required precision 0.9",
        "argmax",
        "chosen",
    ]
    assert ax.get_xlim()[0] == 0 and ax.get_ylim()[0] == 0
    assert f"{average_precision_score(y, scores):.3f}" in ax.get_title()


def test_precision_recall_curve_without_points_or_requirement_draws_the_curve_only():
    plots.plot_precision_recall(
        np.array([0, 1, 1, 0]), np.array([0.1, 0.8, 0.4, 0.35]), title="one class"
    )
    ax = plt.gcf().axes[0]
    assert len(ax.lines) == 1 and ax.get_title() == "one class"
