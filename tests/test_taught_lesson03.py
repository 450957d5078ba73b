"""Lesson 03 writes the baseline CNN in plain Keras; the library's copy is the same network."""

import numpy as np
import pytest
from taught_support import taught

from course_lib import models


def _kinds(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.fixture(scope="module")
def lesson_builder():
    return taught("03", "build_baseline_cnn")


@pytest.mark.parametrize(("input_shape", "num_classes"), [((28, 28, 1), 10), ((32, 32, 3), 4)])
def test_lesson_and_library_cnn_have_the_same_layers_shapes_and_parameters(
    lesson_builder, input_shape, num_classes
):
    lesson, library = (
        lesson_builder(input_shape, num_classes),
        models.build_baseline_cnn(input_shape, num_classes),
    )
    assert (
        _kinds(lesson)
        == _kinds(library)
        == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]
    )
    assert [tuple(la.output.shape) for la in lesson.layers] == [
        tuple(la.output.shape) for la in library.layers
    ]
    assert lesson.count_params() == library.count_params()
    assert [la.get_config().get("activation") for la in lesson.layers] == [
        la.get_config().get("activation") for la in library.layers
    ]
    assert lesson.output_shape == (None, num_classes)


def test_lesson_and_library_cnn_give_the_same_outputs_with_the_same_weights(lesson_builder):
    lesson, library = lesson_builder((28, 28, 1), 10), models.build_baseline_cnn((28, 28, 1), 10)
    library.set_weights(lesson.get_weights())
    x = np.random.default_rng(0).random((6, 28, 28, 1), dtype=np.float32)
    lesson_out, library_out = lesson.predict_on_batch(x), library.predict_on_batch(x)
    np.testing.assert_array_equal(lesson_out, library_out)
    np.testing.assert_allclose(
        lesson_out.sum(axis=1), 1.0, rtol=1e-5
    )  # softmax: probabilities per image
    # Different weights give different outputs: the comparison above can fail.
    assert not np.allclose(
        lesson_out, models.build_baseline_cnn((28, 28, 1), 10).predict_on_batch(x)
    )


def test_lesson_builder_accepts_the_calls_later_lessons_make(lesson_builder):
    # Lessons 04, 06 and 08 call the library copy positionally, by keyword and with defaults.
    for model in (lesson_builder(), lesson_builder((28, 28, 1), 3), lesson_builder(num_classes=5)):
        assert model.input_shape == (None, 28, 28, 1)
    assert lesson_builder(num_classes=5).output_shape == (None, 5)
