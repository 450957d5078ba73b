"""Training helpers: reproducible seeds, the learning-rate schedule of lesson 04, reading a history.

TensorFlow and Keras are imported inside the functions that need them, so
``from course_lib import training`` stays cheap for lessons that only seed.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Mapping, Sequence
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


def warmup_cosine(
    peak: float, epochs: int, steps_per_epoch: int
) -> keras.optimizers.schedules.LearningRateSchedule:
    """From peak / 10 up to ``peak`` during the first epoch, then down along a cosine to 0 at the
    last step.

    Taught in lesson 04, which writes the same schedule (a test checks that the two
    agree). Warm-up, because the first steps of a fresh network are the least reliable;
    large steps next, while the weights are far from good ones; ever smaller steps at the
    end, to settle into a minimum. Pass it to an optimizer in place of a number:
    ``keras.optimizers.Adam(warmup_cosine(3e-3, 10, steps_per_epoch))``.
    """
    import keras

    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak / 10,
        warmup_target=peak,
        warmup_steps=steps_per_epoch,
        decay_steps=max(1, (epochs - 1) * steps_per_epoch),
        alpha=0.0,
    )


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


def history_dict(
    history: keras.callbacks.History | Mapping[str, Sequence[float]],
) -> dict[str, list[float]]:
    """``history.history`` as plain lists of floats; accepts a ``History`` or the dict itself."""
    values = getattr(history, "history", history)
    if not isinstance(values, Mapping):
        raise TypeError(
            f"expected a keras History or its .history dict, got {type(history).__name__}"
        )
    return {key: [float(v) for v in series] for key, series in values.items()}


def best_epoch(
    history: keras.callbacks.History | Mapping[str, Sequence[float]], monitor: str = "val_loss"
) -> int:
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


# Three invented learning curves, shaped like real runs, for lesson 04's exercise 4.2: telling
# from its curves what a run needs.
# fmt: off
LEARNING_CURVES: dict[str, dict[str, list[float]]] = {
    "A": {
        "loss": [
            1.1, 0.72, 0.58, 0.49, 0.42, 0.37, 0.32, 0.28, 0.24, 0.21, 0.18, 0.15, 0.13, 0.11,
            0.09
        ],
        "accuracy": [
            0.62, 0.75, 0.8, 0.83, 0.85, 0.87, 0.89, 0.9, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97,
            0.97
        ],
        "val_loss": [
            0.8, 0.66, 0.58, 0.55, 0.53, 0.54, 0.52, 0.53, 0.56, 0.58, 0.62, 0.66, 0.7, 0.75,
            0.8
        ],
        "val_accuracy": [
            0.71, 0.76, 0.79, 0.8, 0.81, 0.81, 0.82, 0.82, 0.83, 0.82, 0.82, 0.82, 0.81, 0.81,
            0.81
        ],
    },
    "B": {
        "loss": [
            1.6, 1.25, 1.12, 1.06, 1.03, 1.01, 0.99, 0.98, 0.97, 0.97, 0.96, 0.97, 0.96, 0.96,
            0.97
        ],
        "accuracy": [
            0.45, 0.55, 0.59, 0.61, 0.62, 0.63, 0.63, 0.64, 0.64, 0.64, 0.65, 0.64, 0.65, 0.65,
            0.64
        ],
        "val_loss": [
            1.3, 1.14, 1.07, 1.03, 1.01, 1.0, 0.99, 0.98, 0.97, 0.97, 0.97, 0.96, 0.97, 0.96,
            0.97
        ],
        "val_accuracy": [
            0.55, 0.59, 0.61, 0.62, 0.63, 0.63, 0.64, 0.64, 0.64, 0.65, 0.64, 0.65, 0.65, 0.65,
            0.64
        ],
    },
    "C": {
        "loss": [
            0.95, 0.62, 0.52, 0.47, 0.43, 0.4, 0.38, 0.36, 0.34, 0.33, 0.31, 0.3, 0.29, 0.28,
            0.27
        ],
        "accuracy": [
            0.66, 0.77, 0.81, 0.83, 0.84, 0.85, 0.86, 0.87, 0.88, 0.88, 0.89, 0.89, 0.9, 0.9,
            0.9
        ],
        "val_loss": [
            0.7, 0.52, 0.46, 0.44, 0.4, 0.41, 0.37, 0.36, 0.35, 0.33, 0.33, 0.32, 0.31, 0.3,
            0.29
        ],
        "val_accuracy": [
            0.74, 0.81, 0.83, 0.84, 0.85, 0.85, 0.86, 0.87, 0.87, 0.88, 0.88, 0.88, 0.89, 0.89,
            0.89
        ],
    },
}
# fmt: on
