"""TensorFlow Lite: the float model agrees with Keras, int8 keeps its accuracy, and a bad
calibration shows."""

import numpy as np
import pytest

from course_lib import config, edge

# The lesson's promise: int8 loses at most 1 accuracy point. In fast mode the test model
# has trained for one epoch only, so allow 2; a broken conversion loses far more (see below).
MAX_INT8_LOSS = config.pick(full=0.01, fast=0.02)


def representative(x, count=200):
    def dataset():
        for image in x[:count]:
            yield [image[None]]

    return dataset


@pytest.fixture(scope="module")
def keras_predictions(trained_fashion):
    return trained_fashion.model.predict(trained_fashion.x_test, batch_size=500, verbose=0).argmax(
        axis=1
    )


@pytest.fixture(scope="module")
def float_tflite(fashion_export):
    """The float conversion, made once for the tests that read it."""
    return edge.convert_to_tflite(fashion_export)


@pytest.fixture(scope="module")
def int8_model(trained_fashion, fashion_export):
    return edge.TFLiteModel(
        edge.convert_to_tflite(fashion_export, representative(trained_fashion.x_train))
    )


def accuracy(predictions, labels):
    return float(np.mean(predictions == labels))


def test_float_tflite_agrees_with_keras_on_99_percent_of_the_test_set(
    trained_fashion, float_tflite, keras_predictions
):
    model = edge.TFLiteModel(float_tflite)
    assert model.input_dtype == np.float32 and model.input_quantization == (0.0, 0)
    predictions = model.predict(trained_fashion.x_test).argmax(axis=1)
    assert len(predictions) == len(trained_fashion.y_test) > 1000
    assert np.mean(predictions == keras_predictions) >= 0.99


def test_int8_model_takes_raw_pixels_and_loses_at_most_the_allowed_accuracy(
    trained_fashion, int8_model, keras_predictions
):
    scale, zero_point = int8_model.input_quantization
    assert int8_model.input_dtype == np.uint8
    # Calibrated on images in [0, 1]: one uint8 step is 1/255, so raw pixel bytes go in unchanged.
    assert zero_point == 0 and scale == pytest.approx(1 / 255, rel=1e-3)
    keras_accuracy = accuracy(keras_predictions, trained_fashion.y_test)
    int8_accuracy = accuracy(
        int8_model.predict(trained_fashion.x_test).argmax(axis=1), trained_fashion.y_test
    )
    assert keras_accuracy > 0.7, "the test model did not train"
    assert int8_accuracy >= keras_accuracy - MAX_INT8_LOSS


def test_int8_model_is_about_four_times_smaller(float_tflite, int8_model):
    float_size = len(float_tflite)
    assert int8_model.size_bytes < float_size / 3


def test_calibrating_on_unscaled_pixels_breaks_the_int8_model_and_the_bound_catches_it(
    trained_fashion, fashion_export, keras_predictions
):
    wrong = edge.TFLiteModel(
        edge.convert_to_tflite(fashion_export, representative(trained_fashion.x_train * 255))
    )
    broken_accuracy = accuracy(
        wrong.predict(trained_fashion.x_test).argmax(axis=1), trained_fashion.y_test
    )
    assert broken_accuracy < accuracy(keras_predictions, trained_fashion.y_test) - MAX_INT8_LOSS


def test_batched_and_single_image_predictions_are_the_same(trained_fashion, int8_model):
    x = trained_fashion.x_test[:5]
    batched = int8_model.predict(x, batch_size=5)
    one_by_one = np.concatenate([int8_model.predict(image[None]) for image in x])
    np.testing.assert_array_equal(batched, one_by_one)
    assert np.allclose(batched.sum(axis=1), 1, atol=0.05)  # dequantised probabilities


def test_saved_tflite_file_loads_back(tmp_path, int8_model, trained_fashion):
    path = int8_model.save(tmp_path / "edge" / "fashion_int8.tflite")
    again = edge.TFLiteModel.from_file(path)
    x = trained_fashion.x_test[:4]
    np.testing.assert_array_equal(again.predict(x), int8_model.predict(x))


def test_wrong_inputs_are_clear_errors(tmp_path, int8_model):
    with pytest.raises(ValueError, match="this model takes"):
        int8_model.predict(np.zeros((2, 28, 28)))
    with pytest.raises(FileNotFoundError, match="export the model first"):
        edge.convert_to_tflite(tmp_path)
    with pytest.raises(ValueError, match="empty"):
        edge.TFLiteModel(b"")


def test_median_latency_is_measured_after_warm_up():
    calls = []
    latency = edge.median_latency_ms(
        lambda batch: calls.append(batch.shape), np.zeros((28, 28, 1)), repeats=5
    )
    assert calls == [(1, 28, 28, 1)] * 7 and latency >= 0


def test_latencies_are_one_per_timed_call_in_milliseconds_after_the_warm_up_calls():
    calls = []
    times = edge.latencies_ms(lambda: calls.append(1), repeats=4, warmup=1)
    assert len(calls) == 5 and len(times) == 4 and all(t >= 0 for t in times)


def test_representative_dataset_yields_distinct_images_one_per_batch_in_a_seeded_order(
    trained_fashion, monkeypatch
):
    from course_lib import checks
    from course_lib.checks import _copies

    make = edge.representative_dataset
    samples = [batch for (batch,) in make(trained_fashion.x_train, 150, seed=3)()]
    assert len(samples) == 150 and all(
        b.shape == (1, 28, 28, 1) and b.dtype == np.float32 for b in samples
    )
    again = [batch for (batch,) in make(trained_fashion.x_train, 150, seed=3)()]
    assert all(np.array_equal(a, b) for a, b in zip(samples, again, strict=True))
    dataset = make(trained_fashion.x_train, 150)
    # Exercise 8.4's check refuses the library's copy as an answer; with its copy watch
    # emptied, it judges the copy on its samples alone, as it would the student's own.
    refused = checks.exercise_8_4(dataset, trained_fashion.x_train, trained_fashion.x_test)
    assert not refused.passed and "edge.representative_dataset" in refused.message
    monkeypatch.setattr(_copies, "_loaded_copies", lambda: ((), ()))
    assert checks.exercise_8_4(dataset, trained_fashion.x_train, trained_fashion.x_test).passed
    with pytest.raises(ValueError, match="between 1 and"):
        make(trained_fashion.x_train[:10], 11)
