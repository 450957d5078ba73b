"""Checks for lesson 06, transfer learning."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_lib.checks._core import (
    StudentCodeFailed,
    as_array,
    call_student,
    run_check,
    shape_problem,
)
from course_lib.record import CheckResult

LITE0_SIZE = 224


def exercise_6_1(top_k: Callable[[np.ndarray, int], Any]) -> CheckResult:
    """top_k(probabilities, k) -> (n, k) class indices, most probable first."""
    rng = np.random.default_rng(6)
    logits = rng.normal(size=(3, 12)) * 3
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    k = 4
    expected = np.argsort(-probabilities, axis=1)[:, :k]

    def diagnose() -> str | None:
        got = as_array(call_student(top_k, probabilities.copy(), k), "your top-k")
        if got.shape == (k,) or got.shape == (1, k):
            return f"you returned one row, shape {got.shape}; keep one row of {k} per image: shape (3, {k})."
        problem = shape_problem(got, expected.shape, "your top-k")
        if problem:
            return problem
        if not np.issubdtype(got.dtype, np.integer):
            if np.allclose(got, np.sort(probabilities, axis=1)[:, ::-1][:, :k]):
                return "these are the probabilities themselves; return the class indices (np.argsort)."
            raise StudentCodeFailed("top-k should hold integer class indices.")
        if np.array_equal(got, expected[:, ::-1]):
            return "the right classes, but least probable first: put the most probable first."
        if np.array_equal(got, np.argsort(probabilities, axis=1)[:, :k]):
            return "these are the k *least* probable classes: sort in descending order (argsort of -probabilities)."
        if not np.array_equal(got, expected):
            return "some indices are not the most probable classes of their row."
        return None

    return run_check("6.1", diagnose, "the k most probable classes of each image, best first.")


def _photo_batch() -> np.ndarray:
    # Smooth gradients plus texture, smaller than 224 so that any bilinear upsampling agrees
    rng = np.random.default_rng(61)
    yy, xx = np.mgrid[0:40, 0:56]
    base = np.stack([yy * 6, xx * 4, 255 - yy * 3 - xx * 2], axis=-1).astype(np.float64)
    batch = np.clip(base[None] + rng.normal(0, 25, size=(2, 40, 56, 3)), 0, 255)
    return batch.astype(np.uint8)


def _resize(images: np.ndarray, size: int, method: str) -> np.ndarray:
    import tensorflow as tf

    return tf.image.resize(images.astype("float32"), (size, size), method=method).numpy()


def exercise_6_2(prepare: Callable[[np.ndarray], Any]) -> CheckResult:
    """prepare(images) -> float32 (n, 224, 224, 3): bilinear resize, then (x - 127) / 128."""
    images = _photo_batch()
    resized = _resize(images, LITE0_SIZE, "bilinear")
    expected = (resized - 127.0) / 128.0

    def diagnose() -> str | None:
        got = as_array(call_student(prepare, images.copy()), "your prepared batch")
        if got.shape == images.shape:
            return f"the images are still {images.shape[1]}x{images.shape[2]}: resize them to 224x224."
        problem = shape_problem(got, expected.shape, "your prepared batch")
        if problem:
            return problem
        values = got.astype(np.float64)
        close = 0.02  # about 2.5 grey levels: different resize implementations agree this well
        if values.max() > 10:
            return (f"values go up to {values.max():.0f}: these are still 0-255 pixels; "
                    "scale them as the backbone was trained, (x - 127) / 128.")
        wrapped = ((np.round(resized) - 127) % 256) / 128.0
        if np.abs(values - wrapped).mean() < close:
            return ("uint8 arithmetic wrapped around (dark pixels became bright): convert to float32 "
                    "before subtracting 127.")
        if np.abs(values - resized / 255.0).mean() < close:
            return ("values are in [0, 1] (divided by 255), the convention of our own models; "
                    "EfficientNet-Lite0 was trained on (x - 127) / 128, which spans [-1, 1].")
        imagenet = (resized / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
        if np.abs(values - imagenet).mean() < close:
            return ("that is the ImageNet mean/std scaling used by PyTorch models; this backbone was "
                    "trained in TensorFlow on (x - 127) / 128: use that.")
        if np.abs(values - (resized[..., ::-1] - 127.0) / 128.0).mean() < close:
            return "the colour channels are reversed (BGR); the backbone takes RGB as loaded."
        if np.abs(values - (_resize(images, LITE0_SIZE, "nearest") - 127.0) / 128.0).mean() < close / 2:
            return "you resized with nearest-neighbour; use bilinear, as the backbone's training did."
        if np.abs(values - expected).mean() > close:
            return "values differ from a bilinear resize followed by (x - 127) / 128."
        if got.dtype != np.float32:
            return f"values are right but dtype is {got.dtype}; use float32, the type Keras models use."
        return None

    return run_check("6.2", diagnose, "224x224 RGB, scaled the way the backbone was trained.")


def _trainable_count(model: Any) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def exercise_6_3(build_transfer_model: Callable[[Any, int], Any]) -> CheckResult:
    """build_transfer_model(backbone, num_classes) -> frozen backbone + new softmax head."""
    import keras

    from course_lib import efficientnet_lite

    num_classes = 7
    backbone = efficientnet_lite.efficientnet_lite0((32, 32, 3), include_top=False, weights=None)
    features = backbone.output_shape[-1]
    head_params = features * num_classes + num_classes
    x = np.random.default_rng(63).uniform(-1, 1, size=(2, 32, 32, 3)).astype("float32")

    def diagnose() -> str | None:
        model = call_student(build_transfer_model, backbone, num_classes)
        if not isinstance(model, keras.Model):
            return f"expected a keras.Model, got {type(model).__name__}: did you forget to `return` it?"
        if model.output_shape[-1] == 1000:
            return f"the model ends in 1000 outputs, ImageNet's classes; the new head needs {num_classes}."
        if tuple(model.output_shape) != (None, num_classes):
            return f"output shape is {model.output_shape}; expected (None, {num_classes}), one score per class."
        if not any(layer is backbone for layer in model.layers):
            return "the backbone is not inside your model: call it on the input, x = backbone(inputs, training=False)."
        trainable = _trainable_count(model)
        if _trainable_count(backbone) > 0 or trainable > head_params:
            return (f"{trainable:,} weights are trainable, the backbone's too: set backbone.trainable = False "
                    "so that training only changes the new head.")
        if trainable == 0:
            return "nothing is trainable: freeze the backbone, not the new head."
        out = np.asarray(model(x, training=False))
        if not np.allclose(out.sum(axis=-1), 1.0, atol=1e-4) or out.min() < 0:
            return "the outputs are not probabilities: give the last Dense layer activation='softmax'."
        return None

    return run_check("6.3", diagnose, f"a frozen backbone under a new {num_classes}-class head "
                     f"({head_params:,} trainable weights).")


def exercise_6_4(unfreeze_top: Callable[[Any, str], Any]) -> CheckResult:
    """unfreeze_top(backbone, first_layer) makes layers from first_layer on trainable, BatchNorm excepted."""
    import keras

    from course_lib import efficientnet_lite

    backbone = efficientnet_lite.efficientnet_lite0((32, 32, 3), include_top=False, weights=None)
    first = "block15_expand_conv"
    names = [layer.name for layer in backbone.layers]
    start = names.index(first)
    backbone.trainable = False  # as after feature extraction

    def is_bn(layer: Any) -> bool:
        return isinstance(layer, keras.layers.BatchNormalization)

    def diagnose() -> str | None:
        call_student(unfreeze_top, backbone, first)
        if not backbone.trainable:
            return ("backbone.trainable is still False, which keeps every layer inside frozen: "
                    "set backbone.trainable = True first, then freeze the lower layers again.")
        weighted = [layer for layer in backbone.layers if layer.weights]
        below = [layer.name for layer in weighted if names.index(layer.name) < start and layer.trainable]
        above = [layer for layer in weighted if names.index(layer.name) >= start]
        if len(below) == len([layer for layer in weighted if names.index(layer.name) < start]):
            return f"every layer is trainable; keep the layers before {first} frozen."
        if below:
            return f"{len(below)} layers before {first} are trainable too, e.g. {below[0]}: keep them frozen."
        if any(is_bn(layer) and layer.trainable for layer in above):
            return ("the BatchNormalization layers are trainable: keep them frozen so they stay in "
                    "inference mode and keep ImageNet's statistics.")
        frozen = [layer.name for layer in above if not is_bn(layer) and not layer.trainable]
        if len(frozen) == len([layer for layer in above if not is_bn(layer)]):
            return f"no layer from {first} on is trainable: unfreeze them."
        if frozen:
            return f"{frozen[0]} (from {first} on) is still frozen: unfreeze every non-BatchNorm layer."
        return None

    return run_check("6.4", diagnose, f"the layers from {first} on learn, BatchNorm and everything below stay frozen.")
