"""Course models build as documented and survive a save/load round trip with metadata."""

import ast
import json
import types

import keras
import nbformat
import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from course_lib import models
from course_lib.config import project_root

ROOT = project_root()


def test_baseline_cnn_has_the_classic_layers_and_parameter_count():
    model = models.build_baseline_cnn((28, 28, 1), 10)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
        "Dense",
    ]
    conv1 = 3 * 3 * 1 * 32 + 32
    conv2 = 3 * 3 * 32 * 64 + 64
    dense1 = 5 * 5 * 64 * 128 + 128  # 28 -conv-> 26 -pool-> 13 -conv-> 11 -pool-> 5
    dense2 = 128 * 10 + 10
    assert model.count_params() == conv1 + conv2 + dense1 + dense2


def test_saved_model_reloads_with_identical_predictions_and_metadata(tmp_path):
    model = models.build_baseline_cnn((28, 28, 1), 3)
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    path = models.save_model(model, tmp_path / "m.keras", ["a", "b", "c"], dataset="toy")
    loaded, metadata = models.load_model(path)
    np.testing.assert_array_equal(loaded.predict_on_batch(x), model.predict_on_batch(x))
    assert metadata["class_names"] == ["a", "b", "c"] and metadata["dataset"] == "toy"
    assert metadata["preprocessing"]["color_mode"] == "grayscale" and metadata["input_shape"] == [
        28,
        28,
        1,
    ]
    assert json.loads(models.metadata_path(path).read_text()) == metadata


def test_save_refuses_wrong_suffix_and_mismatched_class_names(tmp_path):
    model = models.build_baseline_cnn((28, 28, 1), 3)
    with pytest.raises(ValueError, match=".keras"):
        models.save_model(model, tmp_path / "m.h5", ["a", "b", "c"])
    with pytest.raises(ValueError, match="2 class names for a model with 3 outputs"):
        models.save_model(model, tmp_path / "m.keras", ["a", "b"])


def test_load_without_metadata_says_how_to_fix_it(tmp_path):
    model = models.build_baseline_cnn((28, 28, 1), 2)
    model.save(tmp_path / "bare.keras")
    with pytest.raises(FileNotFoundError, match="save_model"):
        models.load_model(tmp_path / "bare.keras")
    with pytest.raises(FileNotFoundError, match="no saved model"):
        models.load_model(tmp_path / "missing.keras")


def test_load_or_train_trains_once_then_reuses_the_saved_file(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    path = tmp_path / "fashion.keras"
    model, metadata = models.load_or_train_fashion_cnn(path, epochs=1)
    assert path.is_file() and metadata["class_names"][0] == "T-shirt/top"
    mtime = path.stat().st_mtime_ns
    again, _ = models.load_or_train_fashion_cnn(path)
    assert path.stat().st_mtime_ns == mtime
    assert again.count_params() == model.count_params()


def test_as_model_input_adds_the_channel_axis_and_scales():
    prep = models.preprocessing_for((28, 28, 1))
    x = models.as_model_input(np.full((2, 28, 28), 255, np.uint8), prep)
    assert x.shape == (2, 28, 28, 1) and x.dtype == np.float32 and x.max() == 1.0


def test_scale_pixels_gives_numpy_and_tensorflow_the_same_bits_for_every_pixel_value():
    import tensorflow as tf

    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    prep = {"scale": 1 / 255, "offset": 0.0}
    by_numpy = models.scale_pixels(pixels, prep)
    by_tensorflow = models.scale_pixels(tf.constant(pixels), prep).numpy()
    assert by_numpy.dtype == by_tensorflow.dtype == np.float32
    np.testing.assert_array_equal(by_numpy.view(np.uint32), by_tensorflow.view(np.uint32))
    # the rule is a multiply by float32(1/255): dividing by 255 differs in the last bit
    multiplied = pixels.astype(np.float32) * np.float32(1 / 255)
    np.testing.assert_array_equal(by_numpy.view(np.uint32), multiplied.view(np.uint32))
    assert (by_numpy != pixels.astype(np.float32) / 255).sum() == 126
    assert by_numpy.min() == 0.0 and by_numpy.max() == 1.0


def test_scale_pixels_applies_the_offset_and_leaves_its_input_alone():
    pixels = np.array([[0, 127, 255]], dtype=np.uint8)
    x = models.scale_pixels(pixels, {"scale": 1 / 128, "offset": -127 / 128})
    np.testing.assert_allclose(x, [[-127 / 128, 0.0, 1.0]], atol=1e-7)
    assert pixels.tolist() == [[0, 127, 255]]


def test_fast_mode_models_live_apart_from_full_mode_models(monkeypatch):
    monkeypatch.delenv("COURSE_FAST", raising=False)
    full = models.fashion_model_path()
    monkeypatch.setenv("COURSE_FAST", "1")
    fast = models.fashion_model_path()
    assert full == models.FASHION_MODEL_PATH and fast != full
    assert fast.name == full.name and fast.parent.name == "fast"


def test_better_cnn_has_conv_bn_relu_pool_blocks_then_dropout_around_the_dense_layer():
    model = models.build_better_cnn((28, 28, 1), 10)
    kinds = [type(layer).__name__ for layer in model.layers]
    block = ["Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D"]
    assert kinds == block * 3 + ["Dropout", "Flatten", "Dense", "Dropout", "Dense"]
    assert [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)] == [
        16,
        32,
        64,
    ]
    assert model.get_layer(index=kinds.index("Flatten")).output.shape == (None, 3 * 3 * 64)
    assert all(
        not layer.use_bias and layer.padding == "same"
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D)
    )
    assert {
        layer.momentum
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    } == {0.9}
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [
        0.1,
        0.2,
    ]
    assert model.layers[-1].activation.__name__ == "softmax" and model.output_shape == (None, 10)
    convs = 3 * 3 * 1 * 16 + 3 * 3 * 16 * 32 + 3 * 3 * 32 * 64  # no biases
    batch_norms = 4 * (16 + 32 + 64)  # gamma, beta, moving mean and variance per channel
    dense = (3 * 3 * 64 * 128 + 128) + (128 * 10 + 10)
    assert model.count_params() == convs + batch_norms + dense


def test_better_cnn_takes_other_shapes_widths_and_rates():
    model = models.build_better_cnn(
        (32, 32, 3),
        7,
        filters=(8, 16),
        dense_units=16,
        conv_dropout=0.25,
        dense_dropout=0.5,
        bn_momentum=0.99,
    )
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 7)
    assert [type(layer).__name__ for layer in model.layers].count("Conv2D") == 2
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [
        0.25,
        0.5,
    ]
    assert model.layers[1].momentum == 0.99


def test_better_cnn_is_deterministic_at_inference_and_random_in_training():
    model = models.build_better_cnn()
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    np.testing.assert_array_equal(model(x, training=False), model(x, training=False))
    assert not np.allclose(
        model(x, training=True), model(x, training=False)
    )  # batch statistics and dropout


def test_captured_messages_catches_the_legacy_h5_warning(tmp_path):
    model = models.build_baseline_cnn((28, 28, 1), 2)
    with models.captured_messages() as messages:
        model.save(tmp_path / "old.h5")
    assert any("legacy" in m for m in messages)
    with models.captured_messages() as messages:
        model.save(tmp_path / "new.keras")
    assert messages == []


def _lesson04_split_call() -> tuple[dict, ast.Call]:
    """Lesson 04's parameters cell (as values) and its ``train_test_split(...)`` call."""
    cells = [
        c.source
        for c in nbformat.read(ROOT / "solutions" / "04_training.ipynb", as_version=4).cells
        if c.cell_type == "code"
    ]
    parameters: dict = {}
    exec(cells[0], {}, parameters)  # the parameters cell: plain assignments
    calls = [
        node
        for source in cells
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "train_test_split"
    ]
    assert len(calls) == 1, "lesson 04 should make its validation split in one call"
    return parameters, calls[0]


def test_the_validation_split_is_the_one_lesson_04_makes():
    parameters, call = _lesson04_split_call()
    assert (models.VAL_FRACTION, models.SPLIT_SEED) == (
        parameters["VAL_FRACTION"],
        parameters["SEED"],
    )
    rng = np.random.default_rng(0)
    fashion = types.SimpleNamespace(
        x_train=rng.integers(0, 256, (200, 28, 28), dtype=np.uint8),
        y_train=np.repeat(np.arange(10), 20),
    )
    lesson = eval(  # lesson 04's own call, on the same images
        compile(ast.Expression(call), "<lesson 04>", "eval"),
        {"train_test_split": train_test_split, "fashion": fashion, **parameters},
    )
    library = models.fashion_validation_split(fashion)
    assert len(library) == len(lesson) == 4
    for ours, theirs in zip(library, lesson, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    x_train, x_val, y_train, y_val = library
    assert len(x_val) == 20 and np.bincount(y_val).tolist() == [2] * 10  # stratified


def test_the_quick_model_never_trains_on_lesson_04s_validation_images(tmp_path, monkeypatch):
    from course_lib import data, pipeline

    monkeypatch.setenv("COURSE_FAST", "1")
    seen = []
    real = pipeline.ArrayBatches

    def recording(x, y, *args, **kwargs):
        seen.append(np.asarray(y).copy())
        seen.append(np.asarray(x).copy())
        return real(x, y, *args, **kwargs)

    monkeypatch.setattr(pipeline, "ArrayBatches", recording)
    models.load_or_train_fashion_cnn(tmp_path / "quick.keras", epochs=1)
    fashion = data.load_fashion_mnist()
    _, x_val, _, _ = models.fashion_validation_split(fashion)
    y_seen, x_seen = seen
    assert len(y_seen) == len(fashion.y_train) - len(x_val)
    trained = {image.tobytes() for image in np.rint(x_seen[..., 0] * 255).astype(np.uint8)}
    assert not trained & {image.tobytes() for image in x_val}
