"""The course's callbacks, compile-and-fit and history helpers."""

import keras
import numpy as np
import pytest

from course_lib import training


def test_make_callbacks_stops_early_restores_best_and_checkpoints(tmp_path):
    path = tmp_path / "ckpt" / "best.keras"
    early, plateau, checkpoint = training.make_callbacks(path, patience=4, lr_patience=2)
    assert isinstance(early, keras.callbacks.EarlyStopping)
    assert (early.monitor, early.patience, early.restore_best_weights) == ("val_loss", 4, True)
    assert isinstance(plateau, keras.callbacks.ReduceLROnPlateau) and plateau.patience == 2
    assert isinstance(checkpoint, keras.callbacks.ModelCheckpoint) and checkpoint.save_best_only
    assert path.parent.is_dir()


def test_make_callbacks_without_a_path_has_no_checkpoint_and_refuses_bad_settings(tmp_path):
    assert len(training.make_callbacks()) == 2
    with pytest.raises(ValueError, match="lr_patience"):
        training.make_callbacks(patience=2, lr_patience=2)
    with pytest.raises(ValueError, match=".keras"):
        training.make_callbacks(tmp_path / "best.h5")
    with pytest.raises(ValueError, match="number of epochs"):
        training.make_callbacks(schedule="cosine")
    with pytest.raises(ValueError, match="'plateau' or 'cosine'"):
        training.make_callbacks(schedule="step")


def test_cosine_schedule_falls_from_the_initial_to_the_final_rate():
    rates = [training.cosine_learning_rate(e, 5, 1e-3, 1e-5) for e in range(5)]
    assert rates[0] == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-5)
    assert rates[2] == pytest.approx((1e-3 + 1e-5) / 2)
    assert all(a > b for a, b in zip(rates, rates[1:], strict=False))
    assert training.cosine_learning_rate(9, 5, 1e-3, 1e-5) == pytest.approx(1e-5)  # past the plan: stays low
    (scheduler,) = [c for c in training.make_callbacks(schedule="cosine", epochs=5)
                    if isinstance(c, keras.callbacks.LearningRateScheduler)]
    assert scheduler.schedule(4) == pytest.approx(1e-5)


def test_hide_retracing_warnings_drops_only_that_warning(caplog):
    import tensorflow as tf

    training.hide_retracing_warnings()
    training.hide_retracing_warnings()  # a second call adds no second filter
    logger = tf.get_logger()
    assert sum(type(f).__name__ == "_RetracingFilter" for f in logger.filters) == 1
    record = logger.makeRecord("tensorflow", 30, __file__, 1, "5 out of the last 5 calls to f "
                               "triggered tf.function retracing", None, None)
    assert not logger.filter(record)
    record.msg = "something else"
    assert logger.filter(record)


def _toy_problem(n=64):
    rng = np.random.default_rng(0)
    x = rng.random((n, 4), dtype=np.float32)
    y = (x[:, 0] > 0.5).astype(np.int64)
    return x, y


def test_fit_classifier_compiles_for_integer_labels_and_checkpoints_the_best(tmp_path):
    training.set_seed(0, deterministic_ops=False)
    x, y = _toy_problem()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    path = tmp_path / "best.keras"
    history = training.fit_classifier(
        model, x[:48], y[:48], x[48:], y[48:], epochs=3, batch_size=16, verbose=0,
        callbacks=training.make_callbacks(path, patience=2),
    )
    assert model.loss == training.LOSS
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history.history)
    assert len(history.history["loss"]) <= 3
    assert path.is_file()


def test_fit_classifier_gives_the_same_history_twice_after_the_same_seed():
    x, y = _toy_problem(96)

    def run() -> dict[str, list[float]]:
        training.set_seed(3)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        history = training.fit_classifier(model, x[:64], y[:64], x[64:], y[64:], epochs=2, batch_size=8, verbose=0)
        return training.history_dict(history)

    first = run()
    assert len(first["loss"]) == len(first["val_loss"]) == 2
    assert first == run()


def test_best_epoch_counts_from_one_and_knows_losses_from_accuracies():
    history = {"loss": [0.9, 0.5, 0.3], "val_loss": [0.6, 0.4, 0.45], "val_accuracy": [0.8, 0.82, 0.86]}
    assert training.best_epoch(history) == 2
    assert training.best_epoch(history, "loss") == 3
    assert training.best_epoch(history, "val_accuracy") == 3
    assert training.best_epoch({"val_loss": [0.5, 0.4, 0.4]}) == 2  # first of a tie, like EarlyStopping
    with pytest.raises(KeyError, match="val_acc"):
        training.best_epoch(history, "val_acc")


def test_history_dict_accepts_a_history_or_its_dict():
    class FakeHistory:
        history = {"loss": [np.float32(0.5)]}

    assert training.history_dict(FakeHistory()) == {"loss": [0.5]}
    assert training.history_dict({"loss": (1, 2)}) == {"loss": [1.0, 2.0]}
    with pytest.raises(TypeError):
        training.history_dict([0.5])
