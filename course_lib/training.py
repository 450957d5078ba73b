"""Training helpers: reproducible seeds (more to come with the training lesson)."""

from __future__ import annotations

import os
import random

import numpy as np


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
