"""Lesson 05's Grad-CAM core, as the notebook writes it, agrees with explain.grad_cam_heatmaps."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from taught_support import taught

from course_lib import explain, models, training


@pytest.fixture(scope="module")
def model():
    training.set_seed(5)
    return models.build_better_cnn()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(5).random((6, 28, 28, 1), dtype=np.float32)


def _lesson_grad_model(model: keras.Model, layer_name: str) -> keras.Model:
    """The grad model as lesson 05 builds it, step by step."""
    logits_model = keras.models.clone_model(model)
    logits_model.set_weights(model.get_weights())
    logits_model.layers[-1].activation = None
    return keras.Model(
        logits_model.inputs[0], [logits_model.get_layer(layer_name).output, logits_model.outputs[0]]
    )


def test_the_notebook_grad_cam_core_gives_the_library_heatmaps(model, images):
    notebook_core = taught("05", "grad_cam_heatmaps")
    grad_model = explain.grad_model(model)
    classes = np.array([0, 3, 5, 9, 3, 1])
    mine = np.asarray(notebook_core(grad_model, images, classes))
    library = explain.grad_cam_heatmaps(grad_model, images, classes)
    assert mine.shape == library.shape == (6, 7, 7)
    np.testing.assert_allclose(mine, library, atol=1e-6)
    assert library.max() == pytest.approx(1.0)  # not a pair of empty maps that agree trivially


def test_the_lesson_builds_the_same_grad_model_as_the_library(model, images):
    layer_name = explain.last_rectified_layer(model)
    lesson_maps, lesson_logits = _lesson_grad_model(model, layer_name)(images, training=False)
    library_maps, library_logits = explain.grad_model(model)(images, training=False)
    np.testing.assert_allclose(lesson_maps, library_maps, atol=1e-6)
    np.testing.assert_allclose(lesson_logits, library_logits, atol=1e-5)
    np.testing.assert_allclose(
        tf.nn.softmax(lesson_logits), model.predict_on_batch(images), atol=1e-6
    )


def test_the_notebook_core_explains_each_image_for_its_own_class(model, images):
    notebook_core = taught("05", "grad_cam_heatmaps")
    grad_model = explain.grad_model(model)
    together = np.asarray(notebook_core(grad_model, images[:2], np.array([2, 7])))
    alone = [
        np.asarray(notebook_core(grad_model, images[i : i + 1], np.array([c])))[0]
        for i, c in [(0, 2), (1, 7)]
    ]
    np.testing.assert_allclose(together, np.stack(alone), atol=1e-5)
