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
