"""Grad-CAM: which parts of an image a CNN's decision depends on.

Grad-CAM (Selvaraju et al., 2017) takes the feature maps ``A_k`` of a late
layer and the gradient of a class score with respect to them. Each map gets
the weight ``w_k = mean(d score / d A_k)`` (the gradients pooled over height and
width); the heatmap is ``ReLU(sum_k w_k A_k)``, scaled to [0, 1] and resized to
the input image. The score is the class *logit* (before softmax): a softmax
output close to 1 has almost no gradient left, and its map would fade.

Which layer: the last *rectified* activation of the last convolution block,
as keras.io's Grad-CAM example does (for a Conv → BatchNorm → ReLU block, the
ReLU). The maps there are what the rest of the network reads, and they are
never negative. The raw convolution before BatchNorm and ReLU is not: where a
pattern is absent its output is negative, and a negative weight times a
negative activation paints heat where the pattern is *missing* (on a black
background, often the background).

Lesson 05 teaches :func:`grad_cam_heatmaps`; :func:`grad_model` builds the
model it differentiates, for Sequential and functional models (a layer inside
a nested backbone included), with Keras's public API only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # keras is imported lazily: importing course_lib stays fast
    import keras


def _sublayers(layer: Any) -> list[Any]:
    """The layers directly inside a model (empty for a plain layer)."""
    import keras

    if not isinstance(layer, keras.Model):
        return []
    return [sub for sub in layer.layers if not isinstance(sub, keras.layers.InputLayer)]


def _path_to(model: Any, wanted: Callable[[Any], bool]) -> list[Any] | None:
    """Layers from ``model`` down to the last layer for which ``wanted(layer)`` holds.

    The path has one entry per level of nesting: ``[backbone, relu]`` when the
    layer sits inside a nested backbone, ``[relu]`` when it is a direct child.
    """
    for layer in reversed(_sublayers(model)):
        inner = _path_to(layer, wanted)
        if inner:
            return [layer, *inner]
        if wanted(layer):
            return [layer]
    return None


def _is_feature_map(layer: Any) -> bool:
    try:
        return len(layer.output.shape) == 4
    except (AttributeError, ValueError):  # a layer that was never called has no output
        return False


def is_rectified(layer: Any) -> bool:
    """Whether ``layer``'s output is a ReLU (or ReLU6): never negative."""
    import keras

    if isinstance(layer, keras.layers.ReLU):
        return float(layer.negative_slope) == 0.0
    activation = getattr(layer, "activation", None)
    return activation in (keras.activations.relu, keras.activations.relu6) or (
        getattr(activation, "__name__", "") in ("relu", "relu6")
    )


def feature_layer_path(model: keras.Model, layer_name: str | None = None) -> list[Any]:
    """The path to the layer Grad-CAM reads: ``layer_name``, or the last rectified 2-D activation.

    The default is the last layer whose output is a 4-D feature map ``(n, h, w, k)``
    and is rectified (a ``ReLU`` layer, or a convolution with ``activation="relu"``),
    found inside a nested backbone too. Raises ``ValueError`` when there is none.
    """
    if layer_name is None:
        path = _path_to(model, lambda layer: _is_feature_map(layer) and is_rectified(layer))
        if not path:
            raise ValueError(
                f"model {model.name!r} has no rectified 4-D activation; pass layer_name="
            )
    else:
        path = _path_to(model, lambda layer: layer.name == layer_name)
        if not path:
            raise ValueError(f"model {model.name!r} has no layer named {layer_name!r}")
    return path


def last_rectified_layer(model: keras.Model) -> str:
    """The name of the layer :func:`grad_cam` reads by default (see :func:`feature_layer_path`)."""
    return feature_layer_path(model)[-1].name


def _logits_copy(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with the same weights whose last layer returns logits (no softmax).

    A copy, so that the model itself keeps predicting probabilities; and a
    snapshot: build it again after the model trains further.
    """
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    last = copy
    while _sublayers(last):
        last = _sublayers(last)[-1]
    if getattr(getattr(last, "activation", None), "__name__", "") == "softmax":
        last.activation = None  # Dense (and Conv) layers skip their activation when it is None
    return copy


def _with_two_outputs(model: keras.Model, path: Sequence[str]) -> keras.Model:
    """``model`` as a model with outputs ``[output of the layer at path, model output]``."""
    import keras

    head = model.get_layer(path[0])
    if len(path) == 1:
        return keras.Model(
            model.inputs[0], [head.output, model.outputs[0]], name=f"{model.name}_grad"
        )
    # The layer sits inside the nested model ``head``: give ``head`` two outputs, then
    # rebuild this level's graph around it (public API: a layer call per layer).
    inner = _with_two_outputs(head, path[1:])
    captured: list[Any] = []

    def call(layer: Any, *args: Any, **kwargs: Any) -> Any:
        if layer is not head:
            return layer(*args, **kwargs)
        maps, out = inner(*args, **kwargs)
        captured.append(maps)
        return out

    if isinstance(model, keras.Sequential):
        inputs = keras.Input(batch_shape=model.inputs[0].shape)
        x = inputs
        for layer in _sublayers(model):
            x = call(layer, x)
    else:  # clone_model with the same layers: only the calls are new
        rebuilt = keras.models.clone_model(
            model, clone_function=lambda layer: layer, call_function=call
        )
        inputs, x = rebuilt.inputs[0], rebuilt.outputs[0]
    if len(captured) != 1:
        raise ValueError(
            f"{head.name!r} is called {len(captured)} times in {model.name!r}; pass a model that "
            "calls it once"
        )
    return keras.Model(inputs, [captured[0], x], name=f"{model.name}_grad")


def grad_model(model: keras.Model, layer_name: str | None = None) -> keras.Model:
    """A model that maps images to ``[feature maps, class logits]``, for :func:`grad_cam_heatmaps`.

    The feature maps are the output of ``layer_name`` or, by default, of the last
    rectified activation (:func:`feature_layer_path`); the logits are the model's
    last layer without its softmax. ``model`` itself is left unchanged.
    """
    path = [layer.name for layer in feature_layer_path(model, layer_name)]
    built = _with_two_outputs(_logits_copy(model), path)
    if len(built.outputs[0].shape) != 4:
        raise ValueError(
            f"layer {path[-1]!r} has output shape {tuple(built.outputs[0].shape)}; pick a 2-D "
            "feature map"
        )
    return built


def grad_cam_heatmaps(grad_model: keras.Model, images: Any, class_index: Any) -> np.ndarray:
    """Grad-CAM maps at the feature maps' resolution, one per image, each scaled to peak at 1.

    Taught in lesson 05. ``grad_model`` maps images to ``[feature maps, logits]``
    (see :func:`grad_model`); ``class_index`` holds one class per image. Returns
    float32 ``(n, h, w)`` in [0, 1]; a map that is zero everywhere stays zero.
    """
    import tensorflow as tf

    images = tf.convert_to_tensor(images, dtype=tf.float32)
    class_index = tf.convert_to_tensor(class_index, dtype=tf.int32)
    with tf.GradientTape() as tape:
        maps, logits = grad_model(images, training=False)  # (n, h, w, k) and (n, classes)
        # Each image's own class: logits[:, class_index] would mix in the other images' classes.
        scores = tf.gather(logits, class_index, axis=1, batch_dims=1)
    gradients = tape.gradient(scores, maps)  # (n, h, w, k): images do not interact in inference
    weights = tf.reduce_mean(gradients, axis=(1, 2))  # one weight per feature map: (n, k)
    cam = tf.einsum("nhwk,nk->nhw", maps, weights)  # the maps, weighted and summed
    cam = tf.nn.relu(cam)  # keep only evidence *for* the class
    peak = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
    return tf.math.divide_no_nan(cam, peak).numpy()  # each map peaks at 1; an empty map stays 0


def grad_cam(
    model: keras.Model,
    images: np.ndarray,
    class_index: int | Sequence[int] | np.ndarray | None = None,
    layer_name: str | None = None,
) -> np.ndarray:
    """Grad-CAM heatmaps for a batch of model-ready images, at the images' size.

    ``images``: float32 model input, ``(n, h, w, c)``. ``class_index``: the class
    to explain, one for all images or one per image; ``None`` explains each
    image's predicted class. ``layer_name``: the layer to read; ``None`` takes
    the last rectified activation (:func:`feature_layer_path`).
    Returns float32 heatmaps ``(n, h, w)``: :func:`grad_cam_heatmaps` bilinearly
    resized, each scaled to peak at 1 again; an image with no evidence for the
    class gets all zeros.
    """
    import tensorflow as tf

    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"expected a batch of images (n, h, w, c), got shape {x.shape}")
    explainer = grad_model(model, layer_name)
    if class_index is None:
        class_index = np.argmax(explainer(x, training=False)[1], axis=-1)
    classes = np.broadcast_to(np.asarray(class_index, dtype=np.int32), (len(x),))
    cams = grad_cam_heatmaps(explainer, x, classes)
    resized = tf.image.resize(cams[..., None], x.shape[1:3], method="bilinear")[..., 0]
    # Interpolation lowers a peak that falls between pixel centres: scale to 1 again.
    peak = tf.reduce_max(resized, axis=(1, 2), keepdims=True)
    return np.clip(tf.math.divide_no_nan(resized, peak).numpy(), 0.0, 1.0).astype(np.float32)
