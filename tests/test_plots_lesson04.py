"""Learning curves show training and validation per epoch, counted from 1."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import plots

HISTORY = {
    "loss": [0.9, 0.6, 0.4, 0.3],
    "accuracy": [0.7, 0.8, 0.85, 0.9],
    "val_loss": [0.8, 0.5, 0.55, 0.6],
    "val_accuracy": [0.72, 0.82, 0.83, 0.82],
}


class _History:  # what model.fit returns, as far as the plot cares
    history = HISTORY


def test_plot_history_draws_loss_and_accuracy_for_train_and_validation():
    assert plots.plot_history(_History(), title="run") is None
    fig = plt.gcf()
    assert len(plt.get_fignums()) == 1
    loss_ax, acc_ax = fig.axes
    assert (loss_ax.get_ylabel(), acc_ax.get_ylabel()) == ("loss", "accuracy")
    train, val = loss_ax.lines[:2]
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(val.get_ydata(), HISTORY["val_loss"])
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == [
        "training",
        "validation",
        "lowest val loss (epoch 2)",
    ]
    assert fig._suptitle.get_text() == "run"


def test_plot_history_copes_with_loss_only_and_rejects_other_things():
    plots.plot_history({"loss": [1.0, 0.5]})
    assert len(plt.gcf().axes) == 1
    assert len(plt.gca().lines) == 1  # no validation, so no best-epoch marker either
    with pytest.raises(ValueError, match="History"):
        plots.plot_history([0.5, 0.4])


def test_plot_runs_draws_one_line_per_run_in_each_panel_from_zero():
    other = {key: [v * 0.5 for v in values] for key, values in HISTORY.items()}
    plots.plot_runs({"first": _History(), "second": other}, title="two runs")
    fig = plt.gcf()
    train_ax, val_ax = fig.axes
    assert (train_ax.get_ylabel(), val_ax.get_ylabel()) == ("training loss", "validation loss")
    assert [line.get_label() for line in val_ax.lines] == ["first", "second"]
    np.testing.assert_array_equal(val_ax.lines[1].get_ydata(), other["val_loss"])
    np.testing.assert_array_equal(val_ax.lines[0].get_xdata(), [1, 2, 3, 4])
    assert train_ax.get_ylim()[0] == 0 and val_ax.get_ylim()[0] == 0
    assert fig._suptitle.get_text() == "two runs"


def test_plot_runs_takes_other_panels_and_names_a_missing_one():
    plots.plot_runs({"only": HISTORY}, panels=("val_accuracy",))
    assert plt.gca().get_ylabel() == "validation accuracy"
    with pytest.raises(ValueError, match="'xent'"):
        plots.plot_runs({"only": HISTORY}, panels=("xent",))
    with pytest.raises(ValueError, match="at least one run"):
        plots.plot_runs({})


def test_plot_learning_rate_puts_steps_on_an_epoch_axis():
    plots.plot_learning_rate(
        {"a": [0.1, 0.2, 0.3, 0.4], "b": [0.4, 0.4, 0.4, 0.4]}, steps_per_epoch=2, title="lr"
    )
    ax = plt.gca()
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0, 0.5, 1, 1.5])
    assert (
        ax.get_xlabel() == "epoch" and ax.get_ylabel() == "learning rate" and ax.get_ylim()[0] == 0
    )
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    with pytest.raises(ValueError, match="steps_per_epoch"):
        plots.plot_learning_rate({"a": [0.1]}, steps_per_epoch=0)
    with pytest.raises(ValueError, match="at least one schedule"):
        plots.plot_learning_rate({"a": []}, steps_per_epoch=1)
