"""Lesson 08's figure: training loss per step for several runs."""

import matplotlib.pyplot as plt
import pytest

from course_lib import plots


def test_plot_step_losses_draws_each_run_at_its_own_steps_and_marks_the_checkpoint():
    plots.plot_step_losses(
        {"before the crash": {1: 2.3, 2: 2.1, 3: 2.0}, "after the restart": {3: 2.0, 4: 1.8}},
        title="crash",
        marks={"checkpoint": 2},
    )
    ax = plt.gcf().axes[0]
    lines = ax.get_lines()
    assert list(lines[0].get_xdata()) == [1, 2, 3] and list(lines[1].get_ydata()) == [2.0, 1.8]
    assert list(lines[2].get_xdata()) == [2, 2]  # the vertical mark
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "before the crash",
        "after the restart",
        "checkpoint",
    ]
    assert ax.get_title() == "crash" and ax.get_xlabel() == "step"


def test_plot_step_losses_refuses_empty_runs():
    with pytest.raises(ValueError, match="at least one step"):
        plots.plot_step_losses({"a": {}})
