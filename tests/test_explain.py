"""Grad-CAM reads the right layer, returns well-formed heatmaps, points at a class's evidence."""

import keras
import numpy as np
import pytest
from keras import layers
from scipy import ndimage

from course_lib import explain, models, training


def _functional_cnn(input_shape=(28, 28, 1), num_classes=3) -> keras.Model:
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(8, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(8, 3, activation="relu", name="last_conv")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="functional_cnn")


def _nested_backbone_cnn(num_classes=3) -> keras.Model:
    backbone = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.Conv2D(4, 3, name="inner_conv"),
            layers.ReLU(name="inner_relu"),
        ],
        name="backbone",
    )
    inputs = keras.Input((28, 28, 1))
    x = layers.Rescaling(1.0)(inputs)
    x = backbone(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def _regularised_sequential(num_classes=3) -> keras.Model:
    # Augmentation, batch norm and dropout must all run in inference mode.
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.RandomFlip("horizontal"),
            layers.Conv2D(8, 3),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Dropout(0.5),
            layers.GlobalAveragePooling2D(),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )


def _reloaded_baseline(tmp_path_factory) -> keras.Model:
    path = tmp_path_factory.mktemp("model") / "baseline.keras"
    models.save_model(models.build_baseline_cnn(), path, [str(i) for i in range(10)])
    return models.load_model(path)[0]


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)


@pytest.mark.parametrize(
    "build",
    [
        models.build_baseline_cnn,
        models.build_better_cnn,
        _regularised_sequential,
        _functional_cnn,
        _nested_backbone_cnn,
        "reloaded",
    ],
    ids=[
        "sequential",
        "better-cnn",
        "regularised-sequential",
        "functional",
        "nested-backbone",
        "reloaded-from-file",
    ],
)
def test_heatmaps_have_the_image_size_and_lie_in_0_1(build, images, tmp_path_factory):
    training.set_seed(0)
    model = _reloaded_baseline(tmp_path_factory) if build == "reloaded" else build()
    heatmaps = explain.grad_cam(model, images)
    # Grad-CAM is deterministic: no dropout or random flips at work.
    np.testing.assert_array_equal(heatmaps, explain.grad_cam(model, images))
    assert heatmaps.shape == (3, 28, 28) and heatmaps.dtype == np.float32
    assert heatmaps.min() >= 0.0 and heatmaps.max() <= 1.0
    # Each map is scaled to peak at 1, unless it is empty.
    assert all(np.isclose(h.max(), 1.0) or h.max() == 0.0 for h in heatmaps)


def test_the_default_layer_is_the_last_rectified_activation_of_the_last_conv_block():
    better = models.build_better_cnn()
    relus = [layer.name for layer in better.layers if isinstance(layer, layers.ReLU)]
    assert (
        explain.last_rectified_layer(better) == relus[-1]
    )  # after the last BatchNorm, not its Conv2D
    baseline = models.build_baseline_cnn()
    convs = [layer.name for layer in baseline.layers if isinstance(layer, layers.Conv2D)]
    assert (
        explain.last_rectified_layer(baseline) == convs[-1]
    )  # Conv2D(activation="relu") is rectified
    assert explain.last_rectified_layer(_functional_cnn()) == "last_conv"
    path = explain.feature_layer_path(_nested_backbone_cnn())
    assert [layer.name for layer in path] == ["backbone", "inner_relu"]


def test_a_model_without_a_rectified_feature_map_or_the_named_layer_is_refused():
    linear = keras.Sequential(
        [keras.Input((8, 8, 1)), layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(2)]
    )
    with pytest.raises(ValueError, match="no rectified"):
        explain.last_rectified_layer(linear)
    with pytest.raises(ValueError, match="no layer named"):
        explain.feature_layer_path(_functional_cnn(), layer_name="missing")
    with pytest.raises(ValueError, match="2-D feature map"):
        explain.grad_model(linear, layer_name=linear.layers[-1].name)


def test_grad_model_returns_the_logits_and_leaves_the_model_predicting_probabilities(images):
    training.set_seed(0)
    model = models.build_better_cnn()
    before = model.predict_on_batch(images)
    maps, logits = explain.grad_model(model)(images, training=False)
    last_relu = model.get_layer(explain.last_rectified_layer(model))
    assert tuple(maps.shape) == (3, *last_relu.output.shape[1:])
    np.testing.assert_allclose(keras.ops.softmax(logits).numpy(), before, atol=1e-6)
    assert not np.allclose(logits.numpy().sum(axis=1), 1.0)
    np.testing.assert_allclose(model.predict_on_batch(images), before, atol=1e-6)


def test_class_index_per_image_is_the_same_as_one_for_all(images):
    model = _functional_cnn()
    one = explain.grad_cam(model, images, class_index=2, layer_name="last_conv")
    per_image = explain.grad_cam(model, images, class_index=[2, 2, 2])
    np.testing.assert_allclose(one, per_image, atol=1e-6)


def test_each_image_is_explained_for_its_own_class(images):
    training.set_seed(3)
    model = models.build_better_cnn(num_classes=3)
    mixed = explain.grad_cam(model, images, class_index=[0, 1, 2])
    for i, c in enumerate([0, 1, 2]):
        np.testing.assert_allclose(
            mixed[i], explain.grad_cam(model, images[i : i + 1], class_index=c)[0], atol=1e-5
        )


def test_the_library_grad_cam_is_the_taught_core_resized():
    import tensorflow as tf

    training.set_seed(1)
    model = models.build_baseline_cnn()
    x = np.random.default_rng(1).random((4, 28, 28, 1), dtype=np.float32)
    classes = np.array([3, 1, 4, 1])
    core = explain.grad_cam_heatmaps(explain.grad_model(model), x, classes)
    assert core.shape == (4, 11, 11)  # the last conv block's 11x11 maps
    resized = tf.image.resize(core[..., None], (28, 28), method="bilinear")[..., 0].numpy()
    peak = resized.max(axis=(1, 2), keepdims=True)
    expected = np.divide(resized, peak, out=np.zeros_like(resized), where=peak > 0)
    np.testing.assert_allclose(explain.grad_cam(model, x, classes), expected, atol=1e-6)


# --- A planted object: a model whose class-1 score rises with a bright square --------------

SIZE, SIDE = 20, 5


def _planted_square_model() -> keras.Model:
    """Conv (no bias) → BatchNorm → ReLU, like build_better_cnn's blocks, with weights set by hand.

    Filter 0 fires on bright pixels (x - 0.5 after BatchNorm), filter 1 on dark ones
    (0.5 - x). Class 1's logit is 40 × mean(bright) + 3 × mean(dark) - 1.64: the square
    decides it, the dark background adds a nearly constant amount. Before the ReLU,
    filter 1 is negative on the square and filter 0 on the background; Grad-CAM's
    pooled gradients there weigh each filter by the share of pixels where it is
    active, which is what misleads it at the convolution or the BatchNorm output.
    """
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 1)),
            layers.Conv2D(2, 1, use_bias=False, name="conv"),
            layers.BatchNormalization(epsilon=0.0, name="batch_norm"),
            layers.ReLU(name="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(2, activation="softmax", name="classes"),
        ]
    )
    model.get_layer("conv").set_weights([np.array([1.0, -1.0], np.float32).reshape(1, 1, 1, 2)])
    # gamma, beta, moving mean, moving variance
    model.get_layer("batch_norm").set_weights(
        [
            np.ones(2, np.float32),
            np.array([-0.5, 0.5], np.float32),
            np.zeros(2, np.float32),
            np.ones(2, np.float32),
        ]
    )
    model.get_layer("classes").set_weights(
        [np.array([[0.0, 40.0], [0.0, 3.0]], np.float32), np.array([0.0, -1.64], np.float32)]
    )
    return model


def _square_images(n: int, rng: np.random.Generator, size: int = SIZE, side: int = SIDE):
    """Dark noise images; half of them (label 1) hold a bright square at a random place."""
    x = rng.uniform(0.0, 0.3, (n, size, size, 1)).astype(np.float32)
    y = np.arange(n) % 2
    corners = rng.integers(0, size - side + 1, (n, 2))
    masks = np.zeros((n, size, size), bool)
    for i in np.flatnonzero(y):
        r, c = corners[i]
        x[i, r : r + side, c : c + side] = 1.0
        masks[i, r : r + side, c : c + side] = True
    return x, y, masks


def _square_contrast(heatmaps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per image, mean heat on the square over mean heat elsewhere (0 for an empty map)."""
    on = np.array([h[m].mean() for h, m in zip(heatmaps, masks, strict=True)])
    off = np.array([h[~m].mean() for h, m in zip(heatmaps, masks, strict=True)])
    return np.divide(on, off, out=np.where(on > 0, np.inf, 0.0), where=off > 0)


def _peak_on_square(heatmaps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    return np.array(
        [h.max() > 0 and m.flat[np.argmax(h)] for h, m in zip(heatmaps, masks, strict=True)]
    )


def test_the_planted_square_model_recognises_the_square():
    x, y, _ = _square_images(40, np.random.default_rng(0))
    assert (_planted_square_model().predict(x, verbose=0).argmax(axis=1) == y).all()


def test_grad_cam_finds_the_planted_square_at_the_rectified_layer():
    model = _planted_square_model()
    assert explain.last_rectified_layer(model) == "relu"
    x, y, masks = _square_images(40, np.random.default_rng(0))
    squares = np.flatnonzero(y)
    heatmaps = explain.grad_cam(model, x[squares], class_index=1)
    assert _peak_on_square(heatmaps, masks[squares]).all()
    assert (_square_contrast(heatmaps, masks[squares]) > 5).all()


@pytest.mark.parametrize("wrong_layer", ["conv", "batch_norm"])
def test_grad_cam_before_the_relu_misses_the_planted_square(wrong_layer):
    # The mistake this guards against: reading the raw convolution (or its BatchNorm)
    # of a Conv → BatchNorm → ReLU block, where activations can be negative.
    model = _planted_square_model()
    x, y, masks = _square_images(40, np.random.default_rng(0))
    squares = np.flatnonzero(y)
    heatmaps = explain.grad_cam(model, x[squares], class_index=1, layer_name=wrong_layer)
    assert not _peak_on_square(heatmaps, masks[squares]).any()
    assert (_square_contrast(heatmaps, masks[squares]) < 1).all()


def test_grad_cam_peak_falls_on_a_planted_square_a_cnn_learned():
    training.set_seed(1)
    rng = np.random.default_rng(1)
    x_train, y_train, _ = _square_images(512, rng)
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 1)),
            layers.Conv2D(8, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(8, 3, padding="same", activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=5, batch_size=32, verbose=0)

    x_test, y_test, masks = _square_images(40, np.random.default_rng(2))
    assert model.evaluate(x_test, y_test, verbose=0)[1] >= 0.9, (
        "the tiny CNN did not learn the task"
    )
    squares = np.flatnonzero(y_test)
    heatmaps = explain.grad_cam(model, x_test[squares], class_index=1)
    # One pixel of slack: the map is computed at half resolution and upsampled.
    near_square = np.stack(
        [ndimage.binary_dilation(m, np.ones((3, 3), bool)) for m in masks[squares]]
    )
    peaks = [np.unravel_index(np.argmax(h), h.shape) for h in heatmaps]
    hits = sum(bool(near[r, c]) for near, (r, c) in zip(near_square, peaks, strict=True))
    assert hits >= 0.8 * len(squares), f"peak on the square in only {hits} of {len(squares)} images"


def test_a_backbone_shared_by_two_models_is_explained_in_the_right_one(images):
    backbone = keras.Sequential(
        [keras.Input((28, 28, 1)), layers.Conv2D(4, 3, activation="relu")], name="shared"
    )
    first_inputs = keras.Input((28, 28, 1))
    keras.Model(
        first_inputs,
        layers.Dense(2)(
            layers.GlobalAveragePooling2D()(backbone(layers.Rescaling(2.0)(first_inputs)))
        ),
    )
    inputs = keras.Input((28, 28, 1))
    model = keras.Model(
        inputs,
        layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(backbone(inputs))),
    )
    heatmaps = explain.grad_cam(model, images)
    assert heatmaps.shape == (3, 28, 28)
    _, logits = explain.grad_model(model)(images, training=False)
    np.testing.assert_allclose(
        keras.ops.softmax(logits).numpy(), model.predict_on_batch(images), atol=1e-6
    )
