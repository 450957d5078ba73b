"""Input pipelines: ``tf.data`` datasets, augmentation layers, and measuring their speed.

The two functions other lessons use::

    augment = pipeline.augmentation_layers(seed=SEED)
    ds_train = pipeline.make_dataset(
        x_train, y_train, BATCH_SIZE, shuffle=True, augment=augment, seed=SEED
    )
    ds_val = pipeline.make_dataset(x_val, y_val, BATCH_SIZE)

Both produce what course models take: float32 images in [0, 1] with a channel axis,
``(batch, h, w, c)``, and integer labels; lesson 04 trains from them. :class:`ArrayBatches`
hands arrays that are already scaled to ``fit`` one batch at a time (lesson 03 and the
quick fallback model train from it). Lesson 02 also compares a ``tf.data`` pipeline with
the legacy ``ImageDataGenerator`` (:mod:`course_lib.legacy`) on the same image folder;
:func:`folder_dataset` and :func:`measure_throughput` are shared by the notebook and
``bench/bench_pipeline.py`` so both measure exactly the same thing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from course_lib import models

AUTOTUNE = tf.data.AUTOTUNE


def augmentation_layers(
    flip: str | None = "horizontal",
    rotation: float = 0.03,
    zoom: float = 0.05,
    translation: float = 0.05,
    contrast: float = 0.1,
    fill_mode: str = "constant",
    seed: int | None = None,
) -> keras.Sequential:
    """Random augmentation for float images in [0, 1], as a ``keras.Sequential``.

    ``flip`` is a ``RandomFlip`` mode (``"horizontal"``, ``"vertical"``,
    ``"horizontal_and_vertical"``) or None; ``rotation`` is a fraction of a full turn
    (0.03 = up to ±11°); ``zoom`` and ``translation`` are fractions of the image size;
    ``contrast`` is the largest relative change of contrast. A strength of 0 leaves that
    layer out. The defaults are mild, for 28 x 28 Fashion-MNIST; ``fill_mode="constant"``
    fills uncovered corners with black, like its background (``"reflect"`` suits photos).
    The layers change images only when called with ``training=True`` (which ``fit`` does);
    at inference they return their input unchanged.
    """
    # Each layer gets its own seed: with one shared seed they would draw the same numbers.
    seeds = [None] * 5 if seed is None else [seed + i for i in range(5)]
    layers: list[keras.layers.Layer] = []
    if flip:
        layers.append(keras.layers.RandomFlip(flip, seed=seeds[0]))
    if rotation:
        layers.append(keras.layers.RandomRotation(rotation, fill_mode=fill_mode, seed=seeds[1]))
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, fill_mode=fill_mode, seed=seeds[2]))
    if translation:
        layers.append(
            keras.layers.RandomTranslation(
                translation, translation, fill_mode=fill_mode, seed=seeds[3]
            )
        )
    if contrast:
        layers.append(keras.layers.RandomContrast(contrast, value_range=(0, 1), seed=seeds[4]))
    return keras.Sequential(layers, name="augmentation")


def _scale_batch(images: tf.Tensor) -> tf.Tensor:
    """uint8 ``(b, h, w)`` or ``(b, h, w, c)`` → float32 ``(b, h, w, c)`` in [0, 1]."""
    images = models.scale_pixels(images)  # the rule as_model_input applies, to the last bit
    return images[..., tf.newaxis] if images.shape.rank == 3 else images


def make_dataset(
    x: np.ndarray,
    y: np.ndarray | None = None,
    batch_size: int = 32,
    shuffle: bool = False,
    augment: keras.layers.Layer | None = None,
    seed: int | None = None,
) -> tf.data.Dataset:
    """A batched, prefetched ``tf.data.Dataset`` of ``(images, labels)`` (or images if ``y`` is
    None).

    ``x`` holds uint8 images ``(n, h, w)`` or ``(n, h, w, c)``; the dataset yields float32
    ``(batch, h, w, c)`` in [0, 1] and ``y`` unchanged. The steps: shuffle (the whole
    dataset, seeded, a new order every epoch) → batch → scale → ``augment(images,
    training=True)`` → prefetch. Pass ``augment`` only for training data.

    The arrays are already in memory, so the pipeline shuffles and batches the images'
    *indices* and gathers each batch from one uint8 copy of the arrays: the shuffle buffer
    holds n numbers instead of n images, and is refilled every epoch without the per-image
    allocations that make a process's memory creep up epoch after epoch. The order is the
    one shuffling the images themselves with the same seed would give. Scaling whole
    batches is cheaper than one image at a time.
    """
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(f"make_dataset expects uint8 images in [0, 255], got dtype {x.dtype}")
    if x.ndim not in (3, 4):
        raise ValueError(f"expected images of shape (n, h, w) or (n, h, w, c), got {x.shape}")
    if y is not None and len(y) != len(x):
        raise ValueError(f"{len(x)} images but {len(y)} labels")
    images = tf.constant(x)
    labels = None if y is None else tf.constant(np.asarray(y))
    ds = tf.data.Dataset.range(len(x))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)

    def gather(indices: tf.Tensor) -> tf.Tensor | tuple[tf.Tensor, tf.Tensor]:
        batch = _scale_batch(tf.gather(images, indices))
        if augment is not None:
            batch = augment(batch, training=True)
        return batch if labels is None else (batch, tf.gather(labels, indices))

    return ds.map(gather, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


class ArrayBatches(keras.utils.PyDataset):
    """Batches of in-memory arrays for ``model.fit``, sliced one batch at a time.

    ``model.fit(x, y)`` on NumPy arrays first copies the whole of ``x`` into a
    TensorFlow tensor: for Fashion-MNIST in float32, 170 MB more for as long as
    training lasts. This ``keras.utils.PyDataset`` hands Keras one batch at a time,
    taken from the arrays themselves, so no second copy is made. With ``shuffle``
    every epoch visits the examples in a new order, drawn from ``seed``; without it
    (validation data) the order is the arrays' own. Every example is seen once per
    epoch; the last batch may be smaller. Pass ``shuffle=False`` to ``model.fit``: Keras
    otherwise also shuffles the order of the batches, drawing from Python's global random
    state, so that training would depend on whatever used it before.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int = 32,
        shuffle: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if len(x) != len(y):
            raise ValueError(f"{len(x)} examples but {len(y)} labels")
        if len(x) == 0 or batch_size < 1:
            raise ValueError(
                f"need at least one example and a batch size of at least 1, got {len(x)} and "
                f"{batch_size}"
            )
        self.x, self.y, self.batch_size, self.shuffle = x, y, int(batch_size), shuffle
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(x)) if shuffle else np.arange(len(x))

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)  # batches per epoch, the last one possibly short

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        if not self.shuffle:  # consecutive rows: a slice is a view, not a copy
            return self.x[rows[0] : rows[-1] + 1], self.y[rows[0] : rows[-1] + 1]
        return self.x[rows], self.y[rows]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._order = self._rng.permutation(len(self.x))


def folder_dataset(
    root: str | Path,
    class_names: Sequence[str],
    image_size: tuple[int, int] = (28, 28),
    batch_size: int = 64,
    augment: keras.layers.Layer | None = None,
    cache: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Grayscale PNGs in ``root/<class>/`` as a shuffled, scaled, prefetched ``tf.data`` pipeline.

    ``class_names`` are the folder names in label order. Files are decoded in parallel and
    the order is reshuffled every epoch; ``cache=True`` keeps the decoded images in memory
    after the first epoch, so later epochs read no files.
    """
    # The loader decodes files in parallel and batches them; scaling and augmenting whole
    # batches is much cheaper than one image at a time.
    ds = keras.utils.image_dataset_from_directory(
        root, class_names=list(class_names), color_mode="grayscale", image_size=image_size,
        batch_size=None if cache else batch_size, shuffle=True, seed=seed, verbose=False,
    )  # fmt: skip
    if cache:
        # The loader reshuffles file paths every epoch, but a cache replays the first epoch's
        # order: cache single images, then shuffle and batch them.
        ds = ds.cache().shuffle(int(ds.cardinality()), seed=seed).batch(batch_size)
    ds = ds.map(lambda x, y: (models.scale_pixels(x), y), num_parallel_calls=AUTOTUNE)
    if augment is not None:
        ds = ds.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)


@dataclass(frozen=True)
class Throughput:
    """How many images a pipeline delivered, and in how many seconds."""

    images: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("inf")


def _batch_length(batch: Any) -> int:
    images = batch[0] if isinstance(batch, tuple | list) else batch
    return int(images.shape[0]) if hasattr(images, "shape") else len(images)


def measure_throughput(
    batches: Iterable[Any], n_images: int, warmup_batches: int = 1
) -> Throughput:
    """Time how long ``batches`` takes to deliver ``n_images`` images (after ``warmup_batches``).

    ``batches`` yields ``(images, labels)`` tuples or image arrays/tensors, finite or endless;
    timing stops at the first batch that reaches ``n_images`` or when it runs out. Warm-up
    batches (building graphs, opening files, filling buffers) are not counted.
    """
    if n_images < 1:
        raise ValueError(f"n_images must be at least 1, got {n_images}")
    iterator = iter(batches)
    for _ in range(warmup_batches):
        if next(iterator, None) is None:
            raise ValueError("the pipeline ran out during warm-up: give it more images")
    images = 0
    started = time.perf_counter()
    for batch in iterator:
        images += _batch_length(batch)
        if images >= n_images:
            break
    return Throughput(images, time.perf_counter() - started)
