"""Lesson 04 writes the regularised CNN and its learning-rate schedule; the library's agree."""

import keras
import numpy as np
import pytest
from taught_support import taught

from course_lib import models, training


def _layers(model):
    """Each layer's type and settings, without its name (names change from build to build)."""
    described = []
    for layer in model.layers:
        config = {k: v for k, v in layer.get_config().items() if k not in ("name", "dtype", "seed")}
        described.append((type(layer).__name__, config))
    return described


@pytest.fixture(scope="module")
def lesson_builder():
    return taught("04", "build_better_cnn")


@pytest.mark.parametrize(("input_shape", "num_classes"), [((28, 28, 1), 10), ((32, 32, 3), 7)])
def test_lesson_and_library_models_have_the_same_layers_settings_shapes_and_parameters(
    lesson_builder, input_shape, num_classes
):
    lesson = lesson_builder(input_shape, num_classes)
    library = models.build_better_cnn(input_shape, num_classes)
    assert _layers(lesson) == _layers(library)
    assert [type(la).__name__ for la in lesson.layers][:4] == [
        "Conv2D",
        "BatchNormalization",
        "ReLU",
        "MaxPooling2D",
    ]
    assert [tuple(la.output.shape) for la in lesson.layers] == [
        tuple(la.output.shape) for la in library.layers
    ]
    assert lesson.count_params() == library.count_params()
    assert lesson.output_shape == (None, num_classes) and lesson.name == library.name


def test_lesson_and_library_models_give_the_same_outputs_with_the_same_weights(lesson_builder):
    lesson, library = lesson_builder(), models.build_better_cnn()
    library.set_weights(lesson.get_weights())
    x = np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32)
    lesson_out, library_out = lesson.predict_on_batch(x), library.predict_on_batch(x)
    np.testing.assert_array_equal(lesson_out, library_out)
    np.testing.assert_allclose(lesson_out.sum(axis=1), 1.0, rtol=1e-5)
    # Other weights give other outputs: the comparison above can fail.
    assert not np.allclose(lesson_out, models.build_better_cnn().predict_on_batch(x))


def _rates(schedule, n_steps: int) -> np.ndarray:
    """The schedule's rate at steps 0 .. n_steps - 1, in one vectorised call (a call per step
    takes about 5 ms in eager mode: 40 s for the lesson's 4,221 steps, twice)."""
    return keras.ops.convert_to_numpy(keras.ops.vectorized_map(schedule, keras.ops.arange(n_steps)))


@pytest.mark.parametrize(
    ("peak", "epochs", "steps_per_epoch"), [(3e-3, 10, 422), (1e-3, 2, 5), (1e-2, 1, 3)]
)
def test_lesson_and_library_schedules_give_the_same_rate_at_every_step(
    peak, epochs, steps_per_epoch
):
    lesson = taught("04", "warmup_cosine")(peak, epochs, steps_per_epoch)
    library = training.warmup_cosine(peak, epochs, steps_per_epoch)
    n_steps = epochs * steps_per_epoch + 1
    lesson_rates = _rates(lesson, n_steps)
    np.testing.assert_array_equal(lesson_rates, _rates(library, n_steps))
    assert lesson_rates.max() == pytest.approx(peak) and lesson_rates[0] == pytest.approx(peak / 10)
    # What an optimizer gets, one step at a time, is what the vectorised call gave.
    for step in sorted({0, 1, steps_per_epoch, n_steps // 2, n_steps - 1}):
        assert float(lesson(step)) == pytest.approx(lesson_rates[step], rel=1e-6)
        assert float(library(step)) == pytest.approx(lesson_rates[step], rel=1e-6)
