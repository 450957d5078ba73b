"""Checks for lesson 04, training."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from course_lib.checks._core import StudentCodeFailed, call_student, run_check
from course_lib.record import CheckResult

_ACCURACY_NAMES = {"accuracy", "acc", "sparse_categorical_accuracy"}


def _tiny_classifier(num_classes: int = 3) -> Any:
    """A small softmax model, quick to build and to train one step."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=(6, 6, 1)),
            layers.Conv2D(2, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="tiny_classifier",
    )


def _loss_name_and_logits(loss: Any) -> tuple[str | None, bool]:
    """The loss's function name (e.g. ``sparse_categorical_crossentropy``) and its from_logits."""
    import keras

    if loss is None:
        return None, False
    if isinstance(loss, str):
        try:
            loss = keras.losses.get(loss)
        except ValueError:
            return loss.lower(), False
    fn = getattr(loss, "fn", loss)
    name = getattr(fn, "__name__", type(loss).__name__)
    config = loss.get_config() if hasattr(loss, "get_config") else {}
    return name, bool(config.get("from_logits", False))


def _metric_names(metrics: Any) -> list[str]:
    """Names of the compiled metrics; Keras metric objects by their class, ``Accuracy`` as ``Accuracy``."""
    if not metrics:
        return []
    if isinstance(metrics, dict):
        metrics = [m for group in metrics.values() for m in (group if isinstance(group, list) else [group])]
    names = []
    for metric in metrics if isinstance(metrics, list | tuple) else [metrics]:
        if isinstance(metric, str):
            names.append(metric.lower())
        elif isinstance(metric, dict):  # a serialised metric object
            class_name = metric.get("class_name", "")
            names.append("Accuracy" if class_name == "Accuracy" else metric.get("config", {}).get("name", class_name))
        else:
            names.append(getattr(metric, "__name__", type(metric).__name__))
    return names


def exercise_4_1(compile_model: Callable[[Any], Any]) -> CheckResult:
    """compile_model(model) compiles a softmax classifier for integer labels, with accuracy."""
    model = _tiny_classifier()

    def diagnose() -> str | None:
        call_student(compile_model, model)
        if not model.compiled:
            return "the model is not compiled: call model.compile(optimizer=..., loss=..., metrics=[...])."
        name, from_logits = _loss_name_and_logits(model.loss)
        if name is None:
            return "no loss given: pass loss=... to compile."
        if name == "categorical_crossentropy":
            return ("categorical_crossentropy expects one-hot labels such as [0, 0, 1, 0, ...]; our labels "
                    "are integers 0-9: use sparse_categorical_crossentropy.")
        if name == "binary_crossentropy":
            return ("binary_crossentropy is for yes/no outputs; with 10 classes and one label per image "
                    "use sparse_categorical_crossentropy.")
        if name != "sparse_categorical_crossentropy":
            return f"the loss is {name}; a classifier with integer labels uses sparse_categorical_crossentropy."
        if from_logits:
            return ("from_logits=True says the outputs are raw scores, but the model ends in softmax, so "
                    "they are already probabilities: leave from_logits=False (the default).")
        metrics = _metric_names(model.get_compile_config().get("metrics"))
        if "Accuracy" in metrics:
            return ("keras.metrics.Accuracy() counts exact equality of prediction and label, which "
                    "probabilities never reach: pass the string 'accuracy' and Keras picks the right one.")
        if "categorical_accuracy" in metrics:
            return "categorical_accuracy compares with one-hot labels; with integer labels use 'accuracy'."
        if not _ACCURACY_NAMES.intersection(metrics):
            return "no accuracy metric: add metrics=['accuracy'] so that fit reports it every epoch."
        x = np.random.default_rng(0).random((4, 6, 6, 1), dtype=np.float32)
        try:
            model.train_on_batch(x, np.array([0, 1, 2, 1]))
        except Exception as exc:  # whatever the compile set-up broke, say so
            raise StudentCodeFailed(f"one training step on integer labels failed: {type(exc).__name__}: {exc}") from None
        return None

    return run_check("4.1", diagnose, "sparse cross-entropy on softmax probabilities, and accuracy reported.")


# Epochs are 1-based as Keras prints them. In the first history every plausible
# wrong answer gives a different number: val_loss is lowest at epoch 4,
# val_accuracy highest at epoch 6, training loss lowest at the last epoch, 8.
_HISTORIES = (
    {
        "loss": [0.90, 0.60, 0.48, 0.40, 0.34, 0.29, 0.25, 0.21],
        "accuracy": [0.68, 0.78, 0.83, 0.86, 0.88, 0.90, 0.91, 0.92],
        "val_loss": [0.70, 0.52, 0.45, 0.43, 0.44, 0.47, 0.51, 0.56],
        "val_accuracy": [0.75, 0.81, 0.84, 0.85, 0.85, 0.86, 0.85, 0.84],
    },
    {
        "loss": [0.80, 0.50, 0.30],
        "accuracy": [0.70, 0.80, 0.90],
        "val_loss": [0.40, 0.45, 0.60],
        "val_accuracy": [0.83, 0.82, 0.80],
    },
)


def exercise_4_2(best_epoch: Callable[[dict[str, list[float]]], Any]) -> CheckResult:
    """best_epoch(history_dict) -> the 1-based epoch with the lowest val_loss, as an int."""

    def diagnose() -> str | None:
        for history in _HISTORIES:
            answer = call_student(best_epoch, {k: list(v) for k, v in history.items()})
            expected = int(np.argmin(history["val_loss"])) + 1
            if answer is None:
                return "your function returned None: did you forget to `return` the epoch?"
            if isinstance(answer, float | np.floating) and not float(answer).is_integer():
                return (f"you returned {answer}, a value from the history; return the epoch number "
                        "(1 for the first epoch) where val_loss is lowest.")
            if not isinstance(answer, int | np.integer | float | np.floating) or isinstance(answer, bool):
                return f"return the epoch as an int, got {type(answer).__name__}."
            answer = int(answer)
            if answer == expected:
                continue
            if answer == expected - 1:
                return (f"you returned {answer}, the 0-based index; Keras counts epochs from 1 "
                        "('Epoch 1/...'), so add 1.")
            train_best = int(np.argmin(history["loss"])) + 1
            if answer in (train_best, train_best - 1):
                return ("that is where the training loss is lowest, and it keeps falling while the model "
                        "overfits: look at val_loss.")
            acc_best = int(np.argmax(history["val_accuracy"])) + 1
            if answer in (acc_best, acc_best - 1):
                return "that is the epoch of the highest val_accuracy; the question asks for the lowest val_loss."
            return f"expected epoch {expected} (lowest val_loss), got {answer}."
        return None

    return run_check("4.2", diagnose, "the epoch with the lowest validation loss, counted from 1.")


def exercise_4_3(early_stopping: Any) -> CheckResult:
    """early_stopping: EarlyStopping on val_loss, patience >= 2, restore_best_weights=True."""
    import keras

    def diagnose() -> str | None:
        if early_stopping is None:
            return "early_stopping is None: assign the callback to it."
        if early_stopping is keras.callbacks.EarlyStopping:
            return "that is the class itself: create one with keras.callbacks.EarlyStopping(...)."
        if isinstance(early_stopping, list | tuple):
            return "pass the EarlyStopping callback itself, not a list."
        if not isinstance(early_stopping, keras.callbacks.EarlyStopping):
            return f"expected a keras.callbacks.EarlyStopping, got {type(early_stopping).__name__}."
        monitor = early_stopping.monitor
        if monitor in ("loss", "accuracy", "acc"):
            return (f"monitor={monitor!r} watches the training set, which keeps improving while the "
                    "model overfits: monitor 'val_loss'.")
        if monitor != "val_loss":
            return f"monitor={monitor!r}; this lesson stops on the validation loss: monitor='val_loss'."
        if early_stopping.mode == "max":
            return "mode='max' treats a rising loss as progress: leave mode='auto' (or 'min') for a loss."
        if early_stopping.patience < 2:
            return (f"patience={early_stopping.patience} stops at the first epoch that is not better; "
                    "validation loss is noisy, so allow at least 2.")
        if not early_stopping.restore_best_weights:
            return (f"without restore_best_weights=True the model keeps the weights of the last epoch, "
                    f"{early_stopping.patience} epochs past the best one.")
        return None

    return run_check("4.3", diagnose, "stops on validation loss and gives back the best epoch's weights.")


def exercise_4_4(save_and_reload: Callable[[Any, Path], Any]) -> CheckResult:
    """save_and_reload(model, folder) saves a .keras file in folder and returns the model loaded from it."""
    import keras

    model = _tiny_classifier()
    x = np.random.default_rng(4).random((5, 6, 6, 1), dtype=np.float32)
    expected = model.predict_on_batch(x)

    def diagnose() -> str | None:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            loaded = call_student(save_and_reload, model, folder)
            files = sorted(p.name for p in folder.rglob("*") if p.is_file())
            if not files:
                return "nothing was saved in `folder`: save the model to a file inside it."
            if not any(name.endswith(".keras") for name in files):
                if any(name.endswith(".weights.h5") for name in files):
                    return ("a .weights.h5 file holds only the weights, not the architecture: save the whole "
                            "model with model.save(folder / 'name.keras').")
                if any(name.endswith((".h5", ".hdf5")) for name in files):
                    return "that is the legacy HDF5 format; save in the native format: a path ending in .keras."
                return f"no .keras file in the folder (found {files}): give the path a .keras extension."
        if loaded is None:
            return "your function returned None: return the model loaded with keras.models.load_model."
        if loaded is model:
            return "you returned the original model; load it back from the file and return that."
        if not isinstance(loaded, keras.Model):
            return f"expected the loaded keras Model, got {type(loaded).__name__}."
        if not np.array_equal(loaded.predict_on_batch(x), expected):
            return "the reloaded model predicts differently: return the model loaded from the file you saved."
        return None

    return run_check("4.4", diagnose, "saved as .keras and reloaded with identical predictions.")
