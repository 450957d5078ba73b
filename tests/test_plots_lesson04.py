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
        "training", "validation", "lowest val loss (epoch 2)"
    ]
    assert fig._suptitle.get_text() == "run"


def test_plot_history_copes_with_loss_only_and_rejects_other_things():
    plots.plot_history({"loss": [1.0, 0.5]})
    assert len(plt.gcf().axes) == 1
    assert len(plt.gca().lines) == 1  # no validation, so no best-epoch marker either
    with pytest.raises(ValueError, match="History"):
        plots.plot_history([0.5, 0.4])
