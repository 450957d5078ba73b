"""Lesson 02's plots draw what they promise."""

import matplotlib.pyplot as plt
import pytest

from course_lib import plots


def test_plot_throughput_draws_one_bar_per_pipeline_with_rate_and_speed_up():
    plots.plot_throughput({"legacy": 1000.0, "tf.data": 3500.0}, baseline="legacy", title="t")
    ax = plt.gcf().axes[0]
    assert len(plt.get_fignums()) == 1 and len(ax.patches) == 2
    assert [p.get_width() for p in ax.patches] == [1000.0, 3500.0]
    labels = [t.get_text() for t in ax.texts]
    assert labels == [" 1,000/s (×1.0)", " 3,500/s (×3.5)"]
    assert ax.get_title() == "t"


def test_plot_throughput_without_baseline_and_with_bad_input():
    plots.plot_throughput({"a": 10.0})
    assert plt.gcf().axes[0].texts[0].get_text() == " 10/s"
    with pytest.raises(ValueError, match="baseline"):
        plots.plot_throughput({"a": 1.0}, baseline="b")
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_throughput({})
