"""Seeds, the learning-rate schedule and history helpers."""

import keras
import numpy as np
import pytest

from course_lib import training


def test_warmup_cosine_rises_for_one_epoch_then_falls_to_zero_at_the_last_step():
    steps, epochs, peak = 10, 5, 3e-3
    schedule = training.warmup_cosine(peak, epochs, steps)
    rates = np.array([float(schedule(step)) for step in range(epochs * steps + 1)])
    assert rates[0] == pytest.approx(peak / 10)
    assert np.all(np.diff(rates[: steps + 1]) > 0) and rates[steps] == pytest.approx(peak)
    assert np.all(np.diff(rates[steps:]) < 0)
    assert rates[steps + (epochs - 1) * steps // 2] == pytest.approx(
        peak / 2, rel=1e-3
    )  # halfway down the cosine
    assert rates[-1] == pytest.approx(0.0, abs=1e-9)
    optimizer = keras.optimizers.Adam(schedule)  # an optimizer takes it in place of a number
    assert float(optimizer.learning_rate) == pytest.approx(peak / 10)


def test_warmup_cosine_copes_with_a_single_epoch():
    rates = [float(training.warmup_cosine(1e-3, 1, 4)(step)) for step in range(5)]
    assert rates[0] == pytest.approx(1e-4) and max(rates) == pytest.approx(1e-3)


def test_hide_retracing_warnings_drops_only_that_warning(caplog):
    import tensorflow as tf

    training.hide_retracing_warnings()
    training.hide_retracing_warnings()  # a second call adds no second filter
    logger = tf.get_logger()
    assert sum(type(f).__name__ == "_RetracingFilter" for f in logger.filters) == 1
    record = logger.makeRecord(
        "tensorflow",
        30,
        __file__,
        1,
        "5 out of the last 5 calls to f triggered tf.function retracing",
        None,
        None,
    )
    assert not logger.filter(record)
    record.msg = "something else"
    assert logger.filter(record)


def test_best_epoch_counts_from_one_and_knows_losses_from_accuracies():
    history = {
        "loss": [0.9, 0.5, 0.3],
        "val_loss": [0.6, 0.4, 0.45],
        "val_accuracy": [0.8, 0.82, 0.86],
    }
    assert training.best_epoch(history) == 2
    assert training.best_epoch(history, "loss") == 3
    assert training.best_epoch(history, "val_accuracy") == 3
    assert (
        training.best_epoch({"val_loss": [0.5, 0.4, 0.4]}) == 2
    )  # first of a tie, like EarlyStopping
    with pytest.raises(KeyError, match="val_acc"):
        training.best_epoch(history, "val_acc")


def test_history_dict_accepts_a_history_or_its_dict():
    class FakeHistory:
        history = {"loss": [np.float32(0.5)]}

    assert training.history_dict(FakeHistory()) == {"loss": [0.5]}
    assert training.history_dict({"loss": (1, 2)}) == {"loss": [1.0, 2.0]}
    with pytest.raises(TypeError):
        training.history_dict([0.5])
