"""Lesson 07's figure: latency distributions on a log scale."""

import matplotlib.pyplot as plt
import pytest

from course_lib import plots


def test_plot_latencies_draws_one_box_per_set_with_its_median():
    plots.plot_latencies(
        {"model.predict": [50, 55, 60], "compiled": [1.0, 1.2, 1.1, 5.0]}, title="one image"
    )
    ax = plt.gcf().axes[0]
    assert len(plt.get_fignums()) == 1
    assert [t.get_text() for t in ax.get_yticklabels()] == ["model.predict", "compiled"]
    assert ax.get_xscale() == "log" and ax.get_title() == "one image"
    assert [t.get_text() for t in ax.texts] == ["median 55 ms", "median 1.15 ms"]


def test_plot_latencies_refuses_empty_input():
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_latencies({"a": []})
