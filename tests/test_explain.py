"""Grad-CAM returns well-formed heatmaps and points at the evidence for a class."""

import keras
import numpy as np
import pytest
from keras import layers

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
        [keras.Input((28, 28, 1)), layers.Conv2D(4, 3, activation="relu"), layers.Conv2D(4, 3, name="inner_conv")],
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
    [models.build_baseline_cnn, _regularised_sequential, _functional_cnn, _nested_backbone_cnn, "reloaded"],
    ids=["sequential", "regularised-sequential", "functional", "nested-backbone", "reloaded-from-file"],
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


def test_last_conv_is_found_also_inside_a_nested_backbone():
    assert explain.find_conv_path(_functional_cnn())[-1].name == "last_conv"
    path = explain.find_conv_path(_nested_backbone_cnn())
    assert [layer.name for layer in path] == ["backbone", "inner_conv"]
    with pytest.raises(ValueError, match="no layer named"):
        explain.find_conv_path(_functional_cnn(), layer_name="missing")


def test_class_index_per_image_and_the_softmax_is_restored(images):
    model = _functional_cnn()
    before = model.predict_on_batch(images)
    one = explain.grad_cam(model, images, class_index=2, layer_name="last_conv")
    per_image = explain.grad_cam(model, images, class_index=[2, 2, 2])
    np.testing.assert_allclose(one, per_image, atol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(images), before, atol=1e-6)
    assert np.allclose(model.predict_on_batch(images).sum(axis=1), 1.0, atol=1e-5)


def _square_images(n: int, rng: np.random.Generator, size: int = 20, side: int = 5):
    """Noise images; half of them (label 1) hold a bright square at a random place."""
    x = rng.uniform(0.0, 0.3, (n, size, size, 1)).astype(np.float32)
    y = np.arange(n) % 2
    corners = rng.integers(0, size - side + 1, (n, 2))
    for i in np.flatnonzero(y):
        r, c = corners[i]
        x[i, r : r + side, c : c + side] = 1.0
    return x, y, corners


def test_grad_cam_peak_falls_on_a_planted_square():
    training.set_seed(1)
    rng = np.random.default_rng(1)
    x_train, y_train, _ = _square_images(512, rng)
    model = keras.Sequential(
        [
            keras.Input((20, 20, 1)),
            layers.Conv2D(8, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(8, 3, padding="same", activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=5, batch_size=32, verbose=0)

    x_test, y_test, corners = _square_images(40, np.random.default_rng(2))
    assert model.evaluate(x_test, y_test, verbose=0)[1] >= 0.9, "the tiny CNN did not learn the task"
    squares = np.flatnonzero(y_test)
    heatmaps = explain.grad_cam(model, x_test[squares], class_index=1)
    hits = 0
    for heatmap, (r, c) in zip(heatmaps, corners[squares], strict=True):
        peak_r, peak_c = np.unravel_index(np.argmax(heatmap), heatmap.shape)
        # One pixel of slack: the map is computed at half resolution and upsampled.
        hits += (r - 1 <= peak_r <= r + 5) and (c - 1 <= peak_c <= c + 5)
    assert hits >= 0.8 * len(squares), f"peak on the square in only {hits} of {len(squares)} images"


def test_a_backbone_shared_by_two_models_is_explained_in_the_right_one(images):
    backbone = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(4, 3, activation="relu")], name="shared")
    first_inputs = keras.Input((28, 28, 1))
    keras.Model(first_inputs, layers.Dense(2)(layers.GlobalAveragePooling2D()(backbone(layers.Rescaling(2.0)(first_inputs)))))
    inputs = keras.Input((28, 28, 1))
    outputs = layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(backbone(inputs)))
    heatmaps = explain.grad_cam(keras.Model(inputs, outputs), images)
    assert heatmaps.shape == (3, 28, 28)
