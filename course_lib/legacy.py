"""The legacy ``ImageDataGenerator``: finding it, using it like a tf.data pipeline, replacing it.

Many tutorials still build their input with ``ImageDataGenerator``. Keras 3 keeps it only
behind the ``tensorflow.keras`` import path and marks it deprecated; lesson 02 shows it next
to ``tf.data`` and measures both (``bench/bench_pipeline.py`` too). :data:`EQUIVALENTS` maps
each of its arguments to the modern way of doing the same thing.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Where ImageDataGenerator has lived; under Keras 3 only the tf.keras path still exports it.
IMPORT_PATHS = ("tensorflow.keras.preprocessing.image", "keras.preprocessing.image")

EQUIVALENTS = {
    # ImageDataGenerator(...)
    "featurewise_center": "`keras.layers.Normalization()`, then `.adapt(images)` learns the mean",
    "samplewise_center": "`map`: subtract `tf.reduce_mean(image)` from each image",
    "featurewise_std_normalization": "`keras.layers.Normalization()`, then `.adapt(images)`",
    "samplewise_std_normalization": "`map(tf.image.per_image_standardization)`",
    "zca_whitening": "no layer; whitening is rarely used with CNNs",
    "zca_epsilon": "(goes with zca_whitening)",
    "rotation_range": "`RandomRotation(degrees / 360)`: a fraction of a full turn",
    "width_shift_range": "`RandomTranslation(height_factor, width_factor)`",
    "height_shift_range": "`RandomTranslation(height_factor, width_factor)`",
    "brightness_range": (
        "`RandomBrightness(factor, value_range=(0, 1))`, which adds a random amount "
        "where brightness_range multiplies by one (Pillow's `ImageEnhance.Brightness`)"
    ),
    "shear_range": "`RandomShear(x_factor, y_factor)`",
    "zoom_range": (
        "`RandomZoom(height_factor, width_factor)`: zoom_range draws a zoom for each axis; "
        "RandomZoom with a height_factor only uses one zoom for both"
    ),
    "channel_shift_range": (
        "`RandomBrightness(factor, value_range=(0, 255))`: both add one random amount "
        "to every channel of an image. channel_shift_range counts in pixel values (it runs "
        "before `rescale`) and clips to the image's own darkest and brightest values"
    ),
    "fill_mode": "`fill_mode=` of RandomRotation, RandomZoom, RandomTranslation",
    "cval": "`fill_value=` of the same layers",
    "horizontal_flip": '`RandomFlip("horizontal")`',
    "vertical_flip": '`RandomFlip("vertical")`',
    "rescale": "`Rescaling(1 / 255)`, or `/ 255.0` in `map`",
    "preprocessing_function": "`dataset.map(function)`",
    "data_format": "`data_format=` of each layer (channels last by default)",
    "validation_split": (
        '`image_dataset_from_directory(validation_split=0.2, subset="both", seed=...)`'
    ),
    "interpolation_order": '`interpolation="bilinear"` (or `"nearest"`) of each layer',
    "dtype": "`tf.cast` in `map` (the loaders give float32)",
    # .flow_from_directory(...)
    "directory": "`image_dataset_from_directory(directory)`",
    "target_size": "`image_size=`",
    "color_mode": '`color_mode=` (`"grayscale"`, `"rgb"`, `"rgba"`)',
    "classes": "`class_names=`",
    "class_mode": (
        '`label_mode=`: `"sparse"` is `"int"`, `"categorical"` and `"binary"` keep their names'
    ),
    "batch_size": "`batch_size=`",
    "shuffle": "`shuffle=`, or `dataset.shuffle(buffer_size)`",
    "seed": "`seed=`",
    "save_to_dir": "no argument; write images yourself if you need to look at them",
    "save_prefix": "(goes with save_to_dir)",
    "save_format": "(goes with save_to_dir)",
    "follow_links": "`follow_links=`",
    "subset": '`subset=` (`"training"`, `"validation"` or `"both"`)',
    "interpolation": "`interpolation=`",
    "keep_aspect_ratio": "`crop_to_aspect_ratio=True`",
}


def describe_error(exc: BaseException) -> str:
    """``"ImportError: cannot import name ..."`` without the file path an ImportError appends.

    Python adds the path of the module it searched, ``(/home/.../site-packages/...)``, which
    names one machine's folders and means nothing on another.
    """
    text = str(exc)
    path = getattr(exc, "path", None)
    if path:
        text = text.replace(f" ({path})", "").replace(str(path), "<file>")
    return f"{type(exc).__name__}: {text}"


def import_image_data_generator() -> tuple[type | None, dict[str, str]]:
    """Try every path in :data:`IMPORT_PATHS`.

    Returns the class (or None) and, for each path, ``"ok"`` or the error it raised
    (:func:`describe_error`: no file paths).
    """
    found, report = None, {}
    for path in IMPORT_PATHS:
        try:
            module = importlib.import_module(path)
        except ImportError as exc:
            report[path] = describe_error(exc)
            continue
        cls = getattr(module, "ImageDataGenerator", None)
        if cls is None:  # what `from <path> import ImageDataGenerator` says, without the file path
            report[path] = f"ImportError: cannot import name 'ImageDataGenerator' from {path!r}"
            continue
        report[path] = "ok"
        found = found or cls
    return found, report


def augmentation_kwargs(
    rotation: float = 0.03, zoom: float = 0.05, translation: float = 0.05
) -> dict[str, Any]:
    """``ImageDataGenerator`` arguments for ``pipeline.augmentation_layers(contrast=0)``'s work."""
    return {
        "horizontal_flip": True,
        "rotation_range": round(rotation * 360, 6),  # degrees; Keras layers use fractions of a turn
        "zoom_range": zoom,
        "width_shift_range": translation,
        "height_shift_range": translation,
        "fill_mode": "constant",
    }


def folder_iterator(
    generator_class: type,
    root: str | Path,
    class_names: Sequence[str],
    image_size: tuple[int, int] = (28, 28),
    batch_size: int = 64,
    augment: bool = False,
    seed: int | None = None,
) -> Any:
    """The legacy twin of ``pipeline.folder_dataset``: ``flow_from_directory`` over ``root``.

    Yields ``(images, labels)`` forever: float32 images in [0, 1], ``(batch, h, w, 1)``.
    """
    generator = generator_class(rescale=1 / 255, **(augmentation_kwargs() if augment else {}))
    return generator.flow_from_directory(
        root, target_size=image_size, color_mode="grayscale", classes=list(class_names),
        class_mode="sparse", batch_size=batch_size, shuffle=True, seed=seed,
    )  # fmt: skip


def arguments(generator_class: type) -> dict[str, Any]:
    """Each argument of ``ImageDataGenerator(...)`` and ``.flow_from_directory(...)``: defaults."""
    found = {}
    for function in (generator_class.__init__, generator_class.flow_from_directory):
        for name, parameter in inspect.signature(function).parameters.items():
            if name != "self":
                found[name] = parameter.default
    return found


def equivalents_markdown(generator_class: type | None) -> str:
    """A Markdown table: each argument the installed class takes, its default, the modern way.

    Without the class (it no longer imports), the table lists :data:`EQUIVALENTS`, without defaults.
    """
    rows = ["| legacy argument | default | tf.data / Keras 3 |", "|---|---|---|"]
    found = (
        arguments(generator_class) if generator_class is not None else dict.fromkeys(EQUIVALENTS)
    )
    for name, default in found.items():
        if default is None and generator_class is None:
            shown = "?"
        elif default is inspect.Parameter.empty:
            shown = "required"
        else:
            shown = f"`{default!r}`"
        rows.append(f"| `{name}` | {shown} | {EQUIVALENTS.get(name, 'no direct equivalent')} |")
    return "\n".join(rows)
