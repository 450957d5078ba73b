"""Training helpers: reproducible seeds, the course's callbacks, compile-and-fit, reading a history.

TensorFlow and Keras are imported inside the functions that need them, so
``from course_lib import training`` stays cheap for lessons that only seed.
"""

from __future__ import annotations

import logging
import math
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


def cosine_learning_rate(epoch: int, epochs: int, initial: float = 1e-3, final: float = 1e-5) -> float:
    """Learning rate for ``epoch`` (counted from 0) on a cosine curve from ``initial`` to ``final``.

    Large steps early, when the weights are far from good ones; small steps at
    the end, to settle into a minimum. The last epoch trains at ``final``.
    """
    if epochs < 2:
        return initial
    progress = min(epoch, epochs - 1) / (epochs - 1)
    return final + 0.5 * (initial - final) * (1 + math.cos(math.pi * progress))


def make_callbacks(
    checkpoint_path: str | Path | None = None,
    *,
    monitor: str = "val_loss",
    patience: int = 3,
    schedule: str = "plateau",
    epochs: int | None = None,
    learning_rate: float = 1e-3,
    lr_patience: int = 1,
    lr_factor: float = 0.5,
    min_lr: float = 1e-5,
) -> list[keras.callbacks.Callback]:
    """The course's callbacks: stop early, keep the best checkpoint, adjust the learning rate.

    - ``EarlyStopping`` stops after ``patience`` epochs without a better ``monitor``
      and puts back the weights of the best epoch (``restore_best_weights``);
    - ``ModelCheckpoint`` (when ``checkpoint_path``, a ``.keras`` file, is given)
      saves the model each time ``monitor`` improves, so a crash loses nothing;
    - the learning rate follows ``schedule``:

      - ``"plateau"``: ``ReduceLROnPlateau`` multiplies it by ``lr_factor`` after
        ``lr_patience`` epochs without improvement (``lr_patience < patience``, or
        training stops before the rate ever drops);
      - ``"cosine"``: a ``LearningRateScheduler`` lowers it every epoch from
        ``learning_rate`` to ``min_lr`` along :func:`cosine_learning_rate`,
        planned for ``epochs`` epochs.
    """
    import keras

    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True, verbose=1),
    ]
    if schedule == "plateau":
        if lr_patience >= patience:
            raise ValueError(f"lr_patience ({lr_patience}) must be smaller than patience ({patience})")
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor, factor=lr_factor, patience=lr_patience, min_lr=min_lr, verbose=1
            )
        )
    elif schedule == "cosine":
        if not epochs:
            raise ValueError("a cosine schedule needs the number of epochs it is planned for")
        callbacks.append(
            keras.callbacks.LearningRateScheduler(
                lambda epoch: cosine_learning_rate(epoch, epochs, learning_rate, min_lr)
            )
        )
    else:
        raise ValueError(f"schedule must be 'plateau' or 'cosine', got {schedule!r}")
    if checkpoint_path is not None:
        checkpoint_path = Path(checkpoint_path)
        if checkpoint_path.suffix != ".keras":
            raise ValueError(f"checkpoint to a .keras file, got {checkpoint_path.name}")
        checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(keras.callbacks.ModelCheckpoint(checkpoint_path, monitor=monitor, save_best_only=True))
    return callbacks


def hide_retracing_warnings() -> None:
    """Hide TensorFlow's "triggered tf.function retracing" warning.

    Every new model traces its own ``predict`` function, so a lesson that
    compares several models (or reloads one from several files) on purpose
    sets this warning off although nothing is wrong. Other warnings still show.
    """
    import tensorflow as tf

    logger = tf.get_logger()
    if not any(isinstance(f, _RetracingFilter) for f in logger.filters):
        logger.addFilter(_RetracingFilter())


class _RetracingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


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
    seed: int | None = None,
) -> keras.callbacks.History:
    """Compile ``model`` for integer labels (Adam, sparse cross-entropy, accuracy) and fit it.

    The training examples are shuffled anew every epoch (from ``seed``, or from
    NumPy's global generator, which :func:`set_seed` seeds) and the validation
    set is evaluated after every epoch; the returned ``History`` holds one value
    per epoch for ``loss``, ``accuracy``, ``val_loss`` and ``val_accuracy`` (and
    ``learning_rate`` when a callback changes it).

    The arrays reach Keras as :class:`~course_lib.pipeline.ArrayBatches`, one
    batch at a time: ``model.fit(x, y)`` would first copy all of them into one
    tensor, which for the whole of Fashion-MNIST is memory a 2 GB machine lacks.
    """
    import keras

    from course_lib import pipeline  # imports TensorFlow: only when training

    if seed is None:
        seed = int(np.random.randint(2**31 - 1))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=LOSS, metrics=list(METRICS))
    return model.fit(
        pipeline.ArrayBatches(x_train, y_train, batch_size, shuffle=True, seed=seed),
        validation_data=pipeline.ArrayBatches(x_val, y_val, batch_size),
        epochs=epochs,
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
