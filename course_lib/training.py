"""Training helpers: reproducible seeds, the course's callbacks, compile-and-fit, reading a history.

TensorFlow and Keras are imported inside the functions that need them, so
``from course_lib import training`` stays cheap for lessons that only seed.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras

#: The loss and metric for integer labels 0..k-1 and a softmax output.
LOSS = "sparse_categorical_crossentropy"
METRICS = ("accuracy",)


def set_seed(seed: int = 42, deterministic_ops: bool = True) -> None:
    """Seed Python, NumPy and Keras/TensorFlow so a lesson gives the same numbers twice.

    ``deterministic_ops`` also asks TensorFlow for deterministic kernels: some ops
    then run a little slower, but two runs of a notebook agree.
    """
    import keras  # imported here so `course_lib.training` stays cheap to import
    import tensorflow as tf

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if deterministic_ops:
        tf.config.experimental.enable_op_determinism()


def make_callbacks(
    checkpoint_path: str | Path | None = None,
    monitor: str = "val_loss",
    patience: int = 3,
    lr_patience: int = 1,
    lr_factor: float = 0.5,
    min_lr: float = 1e-5,
) -> list[keras.callbacks.Callback]:
    """The course's callbacks: stop early, keep the best checkpoint, lower the learning rate.

    - ``EarlyStopping`` stops after ``patience`` epochs without a better ``monitor``
      and puts back the weights of the best epoch (``restore_best_weights``);
    - ``ModelCheckpoint`` (when ``checkpoint_path`` is given, a ``.keras`` file)
      saves the model each time ``monitor`` improves, so a crash loses nothing;
    - ``ReduceLROnPlateau`` multiplies the learning rate by ``lr_factor`` after
      ``lr_patience`` epochs without improvement: smaller steps settle into the minimum.

    ``lr_patience`` should be smaller than ``patience``, or training stops
    before the learning rate ever drops.
    """
    import keras

    if lr_patience >= patience:
        raise ValueError(f"lr_patience ({lr_patience}) must be smaller than patience ({patience})")
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=lr_factor, patience=lr_patience, min_lr=min_lr),
    ]
    if checkpoint_path is not None:
        checkpoint_path = Path(checkpoint_path)
        if checkpoint_path.suffix != ".keras":
            raise ValueError(f"checkpoint to a .keras file, got {checkpoint_path.name}")
        checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(keras.callbacks.ModelCheckpoint(checkpoint_path, monitor=monitor, save_best_only=True))
    return callbacks


def fit_classifier(
    model: keras.Model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 2,
) -> keras.callbacks.History:
    """Compile ``model`` for integer labels (Adam, sparse cross-entropy, accuracy) and fit it.

    The validation set is evaluated after every epoch; the returned
    ``History`` holds one value per epoch for ``loss``, ``accuracy``,
    ``val_loss`` and ``val_accuracy`` (and ``learning_rate`` when a callback
    changes it).
    """
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=LOSS, metrics=list(METRICS))
    return model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=epochs,
        batch_size=batch_size,
        callbacks=list(callbacks),
        verbose=verbose,
    )


def history_dict(history: keras.callbacks.History | Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
    """``history.history`` as plain lists of floats; accepts a ``History`` or the dict itself."""
    values = getattr(history, "history", history)
    if not isinstance(values, Mapping):
        raise TypeError(f"expected a keras History or its .history dict, got {type(history).__name__}")
    return {key: [float(v) for v in series] for key, series in values.items()}


def best_epoch(history: keras.callbacks.History | Mapping[str, Sequence[float]], monitor: str = "val_loss") -> int:
    """The epoch (counted from 1, as Keras prints them) where ``monitor`` was best.

    Lowest for losses, highest for anything else (accuracies). The first such
    epoch wins a tie, as it does for ``EarlyStopping``.
    """
    values = history_dict(history)
    if monitor not in values:
        raise KeyError(f"{monitor!r} not in history; it has {sorted(values)}")
    series = np.asarray(values[monitor])
    index = np.argmin(series) if "loss" in monitor else np.argmax(series)
    return int(index) + 1
