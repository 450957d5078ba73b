"""Lesson 06 checks accept the right answer and name each common mistake."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_lib import checks


def _fails_with(result, phrase):
    assert not result.passed, result.message
    assert phrase in result.message, result.message
    return True


# --- 6.1 top-k -------------------------------------------------------------------------


def test_6_1_accepts_argsort_and_argpartition_variants():
    assert checks.exercise_6_1(lambda p, k: np.argsort(-p, axis=-1)[:, :k]).passed
    assert checks.exercise_6_1(lambda p, k: np.argsort(p, axis=1)[:, ::-1][:, :k]).passed
    assert checks.exercise_6_1(lambda p, k: tf.math.top_k(p, k).indices).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda p, k: np.argsort(p, axis=1)[:, :k], "least* probable"),
        (lambda p, k: np.argsort(-p, axis=1)[:, :k][:, ::-1], "least probable first"),
        (lambda p, k: np.sort(p, axis=1)[:, ::-1][:, :k], "probabilities themselves"),
        (lambda p, k: np.argsort(-p, axis=1)[0, :k], "one row"),
        (lambda p, k: np.argsort(-p, axis=1)[:, :k + 1], "expected (3, 4)"),
        (lambda p, k: np.argsort(-p, axis=1)[:, 1:k + 1], "not the most probable"),
        (lambda p, k: None, "forget to `return`"),
    ],
)
def test_6_1_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_6_1(answer), phrase)


# --- 6.2 preprocessing -----------------------------------------------------------------


def _resize(images, method="bilinear"):
    return tf.image.resize(images.astype("float32"), (224, 224), method=method).numpy()


def test_6_2_accepts_a_bilinear_resize_then_the_lite0_scaling():
    assert checks.exercise_6_2(lambda im: (_resize(im) - 127) / 128).passed
    # Keras' own resize, and MobileNet's nearly identical (x / 127.5 - 1), pass too
    resized = lambda im: keras.ops.image.resize(im.astype("float32"), (224, 224)).numpy()  # noqa: E731
    assert checks.exercise_6_2(lambda im: (resized(im) - 127) / 128).passed
    assert checks.exercise_6_2(lambda im: _resize(im) / 127.5 - 1).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda im: _resize(im), "still 0-255 pixels"),
        (lambda im: _resize(im) / 255, "divided by 255"),
        (lambda im: ((_resize(im) / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]).astype("float32"), "mean/std"),
        (lambda im: (_resize(im)[..., ::-1] - 127) / 128, "BGR"),
        (lambda im: (keras.ops.image.resize(im, (224, 224)).numpy() - 127) / 128, "wrapped around"),
        (lambda im: (_resize(im, "nearest") - 127) / 128, "nearest-neighbour"),
        (lambda im: (im.astype("float32") - 127) / 128, "resize them to 224x224"),
        (lambda im: (_resize(im)[..., :1] - 127) / 128, "expected (2, 224, 224, 3)"),
        (lambda im: (_resize(im) - 100) / 128, "differ from a bilinear resize"),
        (lambda im: (_resize(im).astype("float64") - 127) / 128, "float64"),
        (lambda im: None, "forget to `return`"),
    ],
)
def test_6_2_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_6_2(answer), phrase)


# --- 6.3 transfer model ----------------------------------------------------------------


def _transfer(freeze=True, units=None, activation="softmax", use_backbone=True):
    def build(backbone, num_classes):
        backbone.trainable = not freeze and backbone.trainable or (freeze is False)
        if freeze:
            backbone.trainable = False
        inputs = keras.Input(backbone.input_shape[1:])
        x = backbone(inputs, training=False) if use_backbone else keras.layers.GlobalAveragePooling2D()(inputs)
        x = keras.layers.Dropout(0.2)(x)
        outputs = keras.layers.Dense(units or num_classes, activation=activation)(x)
        return keras.Model(inputs, outputs)

    return build


def test_6_3_accepts_a_frozen_backbone_with_a_softmax_head():
    assert checks.exercise_6_3(_transfer()).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_transfer(freeze=False), "backbone.trainable = False"),
        (_transfer(units=1000), "1000 outputs"),
        (_transfer(units=3), "expected (None, 7)"),
        (_transfer(activation=None), "activation='softmax'"),
        (_transfer(use_backbone=False), "not inside your model"),
        (lambda backbone, n: None, "forget to `return`"),
    ],
)
def test_6_3_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_6_3(answer), phrase)


def test_6_3_a_frozen_head_is_named():
    def everything_frozen(backbone, num_classes):
        model = _transfer()(backbone, num_classes)
        model.trainable = False
        return model

    assert _fails_with(checks.exercise_6_3(everything_frozen), "nothing is trainable")


# --- 6.4 unfreezing --------------------------------------------------------------------


def _unfreeze(set_backbone=True, keep_bn_frozen=True, freeze_below=True, unfreeze_above=True):
    def unfreeze_top(backbone, first_layer):
        if set_backbone:
            backbone.trainable = True
        names = [layer.name for layer in backbone.layers]
        start = names.index(first_layer)
        for i, layer in enumerate(backbone.layers):
            above = i >= start
            is_bn = isinstance(layer, keras.layers.BatchNormalization)
            if above:
                layer.trainable = unfreeze_above and not (keep_bn_frozen and is_bn)
            elif freeze_below:
                layer.trainable = False

    return unfreeze_top


def test_6_4_accepts_the_top_layers_unfrozen_with_batchnorm_kept_frozen():
    assert checks.exercise_6_4(_unfreeze()).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_unfreeze(set_backbone=False), "backbone.trainable is still False"),
        (_unfreeze(keep_bn_frozen=False), "BatchNormalization layers are trainable"),
        (_unfreeze(freeze_below=False), "every layer is trainable"),
        (_unfreeze(unfreeze_above=False), "no layer from block15_expand_conv on is trainable"),
        (lambda b, first: None, "backbone.trainable is still False"),
    ],
)
def test_6_4_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_6_4(answer), phrase)


def test_6_4_a_few_lower_layers_left_trainable_are_named():
    def leaky(backbone, first_layer):
        _unfreeze()(backbone, first_layer)
        backbone.get_layer("block3_dw_conv").trainable = True

    assert _fails_with(checks.exercise_6_4(leaky), "block3_dw_conv")
