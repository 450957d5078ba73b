"""Model builders and saving a model together with what serving needs to know.

Models take float32 images in [0, 1] with a channel axis, ``(h, w, c)``; the
input pipeline does the scaling (lesson 02). A saved course model is a
``.keras`` file plus a JSON sidecar with its class names and preprocessing, so
that evaluation (lesson 05) and serving (lesson 07) prepare images exactly as
training did.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from course_lib import config

if TYPE_CHECKING:  # keras is imported lazily: importing course_lib stays fast
    import keras

FASHION_MODEL_PATH = config.build_dir() / "models" / "fashion_cnn.keras"


def fashion_model_path() -> Path:
    """Where lesson 04 saves its Fashion-MNIST model and later lessons look for it.

    Fast mode (``COURSE_FAST=1``) uses its own folder, so a quick CI-sized run
    never overwrites, nor is mistaken for, the model a full run trained.
    """
    if config.is_fast():
        return FASHION_MODEL_PATH.parent / "fast" / FASHION_MODEL_PATH.name
    return FASHION_MODEL_PATH


def build_baseline_cnn(
    input_shape: Sequence[int] = (28, 28, 1), num_classes: int = 10
) -> keras.Model:
    """The classic small CNN: Conv 32 → Pool → Conv 64 → Pool → Flatten → Dense 128 → Dense softmax.

    Taught in lesson 03, which writes the same network in plain Keras (a test checks
    that the two agree). Takes float32 images in [0, 1]; outputs class probabilities.
    """
    import keras
    from keras import layers

    # Each layer is named after its role, so that a summary reads as the network does.
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            # 32 filters of 3x3: 28x28 -> 26x26 (valid padding)
            layers.Conv2D(32, 3, activation="relu", name="conv_1"),
            # the strongest response of each 2x2 block: -> 13x13
            layers.MaxPooling2D(2, name="pool_1"),
            # each filter spans all 32 maps: -> 11x11
            layers.Conv2D(64, 3, activation="relu", name="conv_2"),
            # -> 5x5 (the odd last row and column are dropped)
            layers.MaxPooling2D(2, name="pool_2"),
            layers.Flatten(name="flatten"),  # 5 * 5 * 64 = 1,600 numbers per image
            # every one of the 1,600 to each of 128 units
            layers.Dense(128, activation="relu", name="hidden"),
            # one probability per class
            layers.Dense(num_classes, activation="softmax", name="probabilities"),
        ],
        name="baseline_cnn",
    )


def preprocessing_for(input_shape: Sequence[int], scale: float = 1 / 255) -> dict[str, Any]:
    """The preprocessing record for a model trained on ``uint8`` images scaled by ``scale``."""
    height, width, channels = (int(v) for v in input_shape)
    return {
        "height": height,
        "width": width,
        "color_mode": "grayscale" if channels == 1 else "rgb",
        "scale": scale,
        "offset": 0.0,
        "resize": "bilinear",
    }


def metadata_path(model_path: str | Path) -> Path:
    """The JSON sidecar next to a ``.keras`` file."""
    return Path(model_path).with_suffix(".json")


def save_model(
    model: keras.Model,
    path: str | Path,
    class_names: Sequence[str],
    preprocessing: dict[str, Any] | None = None,
    **extra: Any,
) -> Path:
    """Save ``model`` as ``.keras`` plus its metadata (class names, preprocessing, extras)."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"save course models as .keras files, got {path.name}")
    if len(class_names) != model.output_shape[-1]:
        raise ValueError(
            f"{len(class_names)} class names for a model with {model.output_shape[-1]} outputs"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    metadata = {
        "name": model.name,
        "class_names": list(class_names),
        "input_shape": list(model.input_shape[1:]),
        "preprocessing": preprocessing or preprocessing_for(model.input_shape[1:]),
        **extra,
    }
    metadata_path(path).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return path


def load_model(path: str | Path) -> tuple[keras.Model, dict[str, Any]]:
    """Load a model saved by :func:`save_model`; returns ``(model, metadata)``."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved model at {path}")
    metadata_file = metadata_path(path)
    if not metadata_file.is_file():
        raise FileNotFoundError(
            f"{path.name} has no metadata file {metadata_file.name}: save it with models.save_model"
        )
    return keras.models.load_model(path), json.loads(metadata_file.read_text(encoding="utf-8"))


# Lesson 04's validation split: its parameters VAL_FRACTION and SEED.
VAL_FRACTION, SPLIT_SEED = 0.1, 42


def fashion_validation_split(
    fashion: Any, fraction: float = VAL_FRACTION, seed: int = SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lesson 04's split of Fashion-MNIST's training images: ``x_train, x_val, y_train, y_val``.

    ``fashion`` is what :func:`course_lib.data.load_fashion_mnist` returns. The split is
    lesson 04's ``train_test_split`` call (stratified, seeded; a test checks they agree),
    so a later lesson can make its own decisions on the validation images that lesson 04's
    model never trained on, and the quick baseline of :func:`load_or_train_fashion_cnn`
    never trains on them either.
    """
    from sklearn.model_selection import train_test_split

    return tuple(
        train_test_split(
            fashion.x_train,
            fashion.y_train,
            test_size=fraction,
            stratify=fashion.y_train,
            random_state=seed,
        )
    )


def load_or_train_fashion_cnn(
    path: str | Path | None = None, epochs: int | None = None
) -> tuple[keras.Model, dict[str, Any]]:
    """The Fashion-MNIST model saved by lesson 04, or a quick baseline trained now if it is missing.

    Lets every later lesson run on its own. ``path`` defaults to
    :func:`fashion_model_path`. The quick model trains on lesson 04's training part
    (:func:`fashion_validation_split`) for ``epochs`` (default 3; fast mode's few images
    train in seconds) and is saved to ``path``.
    """
    path = Path(path) if path is not None else fashion_model_path()
    if path.is_file() and metadata_path(path).is_file():
        return load_model(path)
    from course_lib import data, pipeline

    print(
        f"No saved model at {config.shown_path(path)}: training a quick baseline CNN instead "
        "(run lesson 04 for the better one)."
    )
    fashion = data.load_fashion_mnist()
    # Lesson 04's training part only: its validation images stay unseen, as with its model.
    x_pixels, _, y_train, _ = fashion_validation_split(fashion)
    # One float32 copy of the images, fed to fit a batch at a time: the lesson that called
    # this still has its own work to do within the same memory.
    prep = preprocessing_for((*x_pixels.shape[1:], 1))
    x_train = as_model_input(x_pixels, prep)
    del x_pixels
    model = build_baseline_cnn(x_train.shape[1:], fashion.num_classes)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    batches = pipeline.ArrayBatches(x_train, y_train, batch_size=128, shuffle=True, seed=0)
    # shuffle=False: the batches reshuffle themselves; Keras would also shuffle their order,
    # drawing from Python's global random state, which whatever ran before has moved.
    model.fit(batches, epochs=epochs or 3, shuffle=False, verbose=0)
    save_model(model, path, fashion.class_names, prep, dataset="fashion-mnist")
    del model, batches, x_train, y_train, fashion
    return load_model(path)


def scale_pixels(images: Any, preprocessing: dict[str, Any] | None = None) -> Any:
    """Pixels → float32 model values by the course's one scale rule: ``x * scale + offset``.

    The one place that rule lives: :func:`as_model_input` (lessons, serving, checks), the
    ``tf.data`` pipelines of :mod:`course_lib.pipeline` and distributed training all call it,
    so a model sees bit-identical values however its images reach it. ``images`` is a NumPy
    array or a TensorFlow tensor (uint8, or float holding 0-255); ``scale`` and ``offset``
    come from ``preprocessing`` (default ``1/255`` and ``0``). Both are float32 and applied as
    a float32 multiply, then an add: ``x * (1/255)`` and ``x / 255`` differ in the last bit
    for 126 of the 256 pixel values, so mixing the two would feed a model other numbers.
    """
    preprocessing = preprocessing or {}
    scale = np.float32(preprocessing.get("scale", 1 / 255))
    offset = np.float32(preprocessing.get("offset", 0.0))
    if isinstance(images, np.ndarray | np.generic | list | tuple):
        x = np.asarray(images).astype(np.float32)  # a fresh copy, then scaled in place:
        x *= scale  # one float32 copy of the images in memory, not three
        x += offset
        return x
    import tensorflow as tf

    return tf.cast(images, tf.float32) * scale + offset


def as_model_input(images: np.ndarray, preprocessing: dict[str, Any]) -> np.ndarray:
    """uint8 images ``(n, h, w)`` or ``(n, h, w, c)`` → float32 model input, per ``preprocessing``.

    Grayscale images without a channel axis get one; the values follow :func:`scale_pixels`.
    """
    x = np.asarray(images)
    if x.ndim == 3 and preprocessing.get("color_mode") == "grayscale":
        x = x[..., None]
    return scale_pixels(x, preprocessing)


def build_better_cnn(
    input_shape: Sequence[int] = (28, 28, 1),
    num_classes: int = 10,
    *,
    filters: Sequence[int] = (16, 32, 64),
    dense_units: int = 128,
    conv_dropout: float = 0.1,
    dense_dropout: float = 0.2,
    bn_momentum: float = 0.9,
) -> keras.Model:
    """The regularised CNN: Conv → BatchNorm → ReLU → MaxPool blocks, then dropout around a Dense
    layer.

    Taught in lesson 04, where students write it (a test checks that the two agree).
    One block per entry of ``filters``: a 3x3 ``Conv2D`` with ``same`` padding and no
    bias (BatchNorm's own shift replaces it), ``BatchNormalization``, ``ReLU``, and 2x2
    pooling, so three blocks take 28 → 14 → 7 → 3 pixels. ``Dropout(conv_dropout)``
    follows the last block and ``Dropout(dense_dropout)`` the hidden ``Dense`` layer.
    Few filters early, where the maps are large, keep an epoch cheap on a CPU.

    At inference BatchNorm uses moving averages of the batch statistics, which weigh
    about the last 1 / (1 - momentum) batches: about 10 with ``bn_momentum=0.9``, 100
    with Keras' default of 0.99, too slow when an epoch is only a few dozen batches. Augmentation
    is not part of the model: the input pipeline applies it (lesson 02).
    """
    import keras
    from keras import layers

    stack: list[keras.layers.Layer] = [keras.Input(shape=tuple(input_shape))]
    for width in filters:
        stack += [
            layers.Conv2D(width, 3, padding="same", use_bias=False),
            layers.BatchNormalization(momentum=bn_momentum),
            layers.ReLU(),
            layers.MaxPooling2D(),
        ]
    stack += [
        layers.Dropout(conv_dropout),
        layers.Flatten(),
        layers.Dense(dense_units, activation="relu"),
        layers.Dropout(dense_dropout),
        layers.Dense(num_classes, activation="softmax"),
    ]
    return keras.Sequential(stack, name="better_cnn")


@contextlib.contextmanager
def captured_messages() -> Iterator[list[str]]:
    """Collect (instead of printing) the warnings Keras gives inside the ``with`` block.

    Keras reports some things (saving to the legacy ``.h5`` format, for one)
    through ``absl`` logging rather than Python warnings; this catches both, so
    a notebook can print what Keras said instead of quoting it from memory.
    NumPy's ``DeprecationWarning`` noise from inside Keras is left out.
    """
    messages: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(  # type: ignore[method-assign]
        record.getMessage()
    )
    absl_logger = logging.getLogger("absl")
    propagate = absl_logger.propagate
    absl_logger.addHandler(handler)
    absl_logger.propagate = False  # collected here instead of printed
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield messages
    finally:
        absl_logger.removeHandler(handler)
        absl_logger.propagate = propagate
    messages.extend(
        str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)
    )
