"""Grad-CAM: which parts of an image a CNN's decision depends on.

Grad-CAM (Selvaraju et al., 2017) takes the feature maps ``A_k`` of a
convolution layer and the gradient of a class score with respect to them. Each
map gets the weight ``w_k = mean(d score / d A_k)``; the heatmap is
``ReLU(sum_k w_k A_k)``, scaled to [0, 1] and resized to the input image. The
score is the class *logit* (before softmax): a softmax output close to 1 has
almost no gradient left, and its map would fade to nothing.

Works for the course's Sequential and functional models, including a
functional model with a nested backbone (lesson 06).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
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


def _path_to(model: keras.Model, wanted: Any) -> list[Any] | None:
    """Layers from ``model`` down to the last layer for which ``wanted(layer)`` holds.

    The path has one entry per level of nesting: ``[backbone, conv]`` when the
    layer sits inside a nested backbone, ``[conv]`` when it is a direct child.
    """
    for layer in reversed(_sublayers(model)):
        inner = _path_to(layer, wanted)
        if inner:
            return [layer, *inner]
        if wanted(layer):
            return [layer]
    return None


def find_conv_path(model: keras.Model, layer_name: str | None = None) -> list[Any]:
    """The path to the last ``Conv2D`` (or to the layer called ``layer_name``)."""
    import keras

    if layer_name is None:
        path = _path_to(model, lambda layer: isinstance(layer, keras.layers.Conv2D))
        if not path:
            raise ValueError(f"model {model.name!r} has no Conv2D layer; pass layer_name=")
    else:
        path = _path_to(model, lambda layer: layer.name == layer_name)
        if not path:
            raise ValueError(f"model {model.name!r} has no layer named {layer_name!r}")
    return path


@contextlib.contextmanager
def _logits_instead_of_softmax(model: keras.Model) -> Iterator[None]:
    """Temporarily switch off a final softmax, so the model returns class logits."""
    import keras

    last = model
    while _sublayers(last):
        last = _sublayers(last)[-1]
    activation = getattr(last, "activation", None)
    if getattr(activation, "__name__", "") != "softmax":
        yield
        return
    last.activation = keras.activations.linear
    try:
        yield
    finally:
        last.activation = activation


def _tensors_in(model: keras.Model, layer: Any) -> tuple[Any, Any]:
    """The symbolic input and output of ``layer`` inside ``model``'s graph.

    ``layer.input`` is the layer's first call, which belongs to another model
    when a backbone is shared by several models; pick the call ``model`` uses.
    """
    try:  # Keras keeps no public record of which call of a layer belongs to which model
        from keras.src.ops.function import make_node_key

        for index, node in enumerate(layer._inbound_nodes):
            if make_node_key(layer, index) in model._nodes:
                return node.input_tensors[0], node.outputs[0]
    except (ImportError, AttributeError):
        pass
    return layer.input, layer.output


def _forward(model: keras.Model, path: Sequence[Any], x: Any) -> tuple[Any, Any]:
    """Run ``model`` on ``x`` in inference mode; return (output of ``path[-1]``, model output).

    ``training=False`` everywhere: augmentation layers would otherwise transform
    the image (their default is training mode) and dropout would drop features.
    """
    import keras

    head = path[0]
    if isinstance(model, keras.Sequential):
        # A Keras 3 Sequential model that was never called has no symbolic
        # outputs to build a sub-model from, so call its layers one by one.
        activation = None
        for layer in _sublayers(model):
            if layer is head and len(path) == 1:
                x = activation = layer(x, training=False)
            elif layer is head:
                activation, x = _forward(layer, path[1:], x)
            else:
                x = layer(x, training=False)
        return activation, x
    head_input, head_output = _tensors_in(model, head)
    if len(path) == 1:
        return keras.Model(model.inputs, [head_output, model.outputs[0]])(x, training=False)
    # The layer sits inside a nested model: run the part before it, the nested
    # model (recursively), then the part after it.
    if head_input is not model.inputs[0]:
        x = keras.Model(model.inputs, head_input)(x, training=False)
    activation, x = _forward(head, path[1:], x)
    return activation, keras.Model(head_output, model.outputs[0])(x, training=False)


def grad_cam(
    model: keras.Model,
    images: np.ndarray,
    class_index: int | Sequence[int] | np.ndarray | None = None,
    layer_name: str | None = None,
) -> np.ndarray:
    """Grad-CAM heatmaps for a batch of model-ready images.

    ``images``: float32 model input, ``(n, h, w, c)``. ``class_index``: the class
    to explain, one for all images or one per image; ``None`` explains each
    image's predicted class. ``layer_name``: the convolution layer to use;
    ``None`` takes the last ``Conv2D`` (also inside a nested backbone).
    Returns float32 heatmaps ``(n, h, w)`` in [0, 1]; an image whose map is
    zero everywhere (no evidence for the class) gets all zeros.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    if x.shape.rank != 4:
        raise ValueError(f"expected a batch of images (n, h, w, c), got shape {tuple(x.shape)}")
    path = find_conv_path(model, layer_name)
    with _logits_instead_of_softmax(model), tf.GradientTape() as tape:
        activation, logits = _forward(model, path, x)
        if class_index is None:
            classes = tf.argmax(logits, axis=-1)
        else:
            classes = tf.broadcast_to(tf.constant(class_index, dtype=tf.int64), [x.shape[0]])
        score = tf.reduce_sum(tf.gather(logits, classes, axis=1, batch_dims=1))
    if activation.shape.rank != 4:
        raise ValueError(f"layer {path[-1].name!r} has output shape {tuple(activation.shape)}; pick a 2-D feature map")
    gradients = tape.gradient(score, activation)
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * activation, axis=-1))
    cam = tf.image.resize(cam[..., None], tuple(x.shape[1:3]), method="bilinear")[..., 0]
    peak = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
    cam = tf.math.divide_no_nan(cam, peak)
    return np.clip(cam.numpy(), 0.0, 1.0).astype(np.float32)
