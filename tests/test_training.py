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
