"""Lesson 06 figures: top predictions per photo, and accuracy per approach."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import plots


def test_plot_top_predictions_shows_each_image_beside_its_ranked_bars():
    images = [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)]
    top = [
        [(285, "Egyptian cat", 0.8), (282, "tiger cat", 0.1)],
        [(967, "espresso", 0.9), (968, "cup", 0.05)],
    ]
    plots.plot_top_predictions(images, top, titles=["cat", "coffee"])
    fig = plt.gcf()
    assert len(plt.get_fignums()) == 1 and len(fig.axes) == 4
    bars = fig.axes[1]
    assert [t.get_text() for t in bars.get_yticklabels()] == [
        "Egyptian cat (285)",
        "tiger cat (282)",
    ]
    assert [p.get_width() for p in bars.patches] == [0.8, 0.1]
    assert bars.yaxis_inverted() and fig.axes[0].get_title() == "cat"


def test_plot_top_predictions_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 images but 1 lists"):
        plots.plot_top_predictions([np.zeros((2, 2))] * 2, [[(0, "a", 1.0)]])


def test_plot_accuracy_comparison_labels_every_bar():
    plots.plot_accuracy_comparison({"scratch": 0.79, "features": 0.84, "fine-tuned": 0.86})
    ax = plt.gcf().axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["scratch", "features", "fine-tuned"]
    assert [round(p.get_height(), 2) for p in ax.patches] == [0.79, 0.84, 0.86]
    assert [t.get_text() for t in ax.texts] == ["79.0%", "84.0%", "86.0%"]
    assert ax.get_ylabel() == "test accuracy"
    with pytest.raises(ValueError):
        plots.plot_accuracy_comparison({})


def test_plot_accuracy_comparison_axis_starts_at_zero_whatever_the_values():
    # close accuracies must not be magnified into a large visual gap
    plots.plot_accuracy_comparison({"a": 0.842, "b": 0.846}, ylabel="validation accuracy")
    ax = plt.gcf().axes[0]
    low, high = ax.get_ylim()
    assert low == 0.0 and high >= 1.0
    assert ax.get_ylabel() == "validation accuracy" and ax.get_title() == "Validation accuracy"
    assert [t.get_text() for t in ax.get_yticklabels()][:1] == ["0%"]
