"""Lesson 04 checks accept the right answer and name each common mistake."""

import keras
import numpy as np
import pytest

from course_lib import checks


def _fails_with(result, phrase):
    assert not result.passed, result.message
    assert phrase in result.message, result.message
    return True


def _compiler(**kwargs):
    def compile_model(model):
        model.compile(**{"optimizer": "adam", **kwargs})
    return compile_model


@pytest.mark.parametrize(
    "kwargs",
    [
        {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
        {"loss": keras.losses.SparseCategoricalCrossentropy(), "metrics": ["acc"]},
        {"loss": keras.losses.sparse_categorical_crossentropy, "metrics": [keras.metrics.SparseCategoricalAccuracy()]},
    ],
)
def test_4_1_accepts_sparse_cross_entropy_with_accuracy(kwargs):
    assert checks.exercise_4_1(_compiler(**kwargs)).passed


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"loss": "categorical_crossentropy", "metrics": ["accuracy"]}, "one-hot"),
        ({"loss": "binary_crossentropy", "metrics": ["accuracy"]}, "yes/no"),
        ({"loss": "mse", "metrics": ["accuracy"]}, "the loss is mean_squared_error"),
        ({"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True), "metrics": ["accuracy"]},
         "already probabilities"),
        ({"loss": "sparse_categorical_crossentropy"}, "no accuracy metric"),
        ({"loss": "sparse_categorical_crossentropy", "metrics": [keras.metrics.Accuracy()]}, "exact equality"),
        ({"loss": "sparse_categorical_crossentropy", "metrics": ["categorical_accuracy"]}, "one-hot labels"),
        ({"metrics": ["accuracy"]}, "no loss"),
    ],
)
def test_4_1_names_the_mistake(kwargs, phrase):
    assert _fails_with(checks.exercise_4_1(_compiler(**kwargs)), phrase)


def test_4_1_notices_a_model_left_uncompiled_or_an_unattempted_exercise():
    assert _fails_with(checks.exercise_4_1(lambda model: model), "not compiled")

    def untouched(model):
        raise NotImplementedError("Exercise 4.1")

    assert _fails_with(checks.exercise_4_1(untouched), "not attempted yet")


def test_4_2_accepts_the_one_based_epoch_of_lowest_val_loss():
    assert checks.exercise_4_2(lambda h: int(np.argmin(h["val_loss"])) + 1).passed
    assert checks.exercise_4_2(lambda h: h["val_loss"].index(min(h["val_loss"])) + 1).passed
    assert checks.exercise_4_2(lambda h: np.argmin(h["val_loss"]) + 1).passed  # a NumPy integer is fine


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda h: int(np.argmin(h["val_loss"])), "0-based"),
        (lambda h: int(np.argmin(h["loss"])) + 1, "training loss"),
        (lambda h: int(np.argmin(h["loss"])), "training loss"),
        (lambda h: len(h["loss"]), "training loss"),
        (lambda h: int(np.argmax(h["val_accuracy"])) + 1, "highest val_accuracy"),
        (lambda h: min(h["val_loss"]), "a value from the history"),
        (lambda h: None, "forget to `return`"),
        (lambda h: str(np.argmin(h["val_loss"]) + 1), "as an int"),
        (lambda h: 2, "expected epoch 4"),
        (lambda h: h.history["val_loss"], "AttributeError"),
    ],
)
def test_4_2_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_4_2(answer), phrase)


def test_4_3_accepts_validation_loss_patience_and_restore():
    es = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    assert checks.exercise_4_3(es).passed
    assert checks.exercise_4_3(keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (keras.callbacks.EarlyStopping(monitor="loss", patience=3, restore_best_weights=True), "training set"),
        (keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=3, restore_best_weights=True),
         "monitor='val_loss'"),
        (keras.callbacks.EarlyStopping(patience=3), "last epoch"),
        (keras.callbacks.EarlyStopping(patience=1, restore_best_weights=True), "at least 2"),
        (keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True, mode="max"), "mode='max'"),
        (keras.callbacks.EarlyStopping, "the class itself"),
        ([keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)], "not a list"),
        (keras.callbacks.ReduceLROnPlateau(), "ReduceLROnPlateau"),
        (None, "is None"),
    ],
)
def test_4_3_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_4_3(answer), phrase)


def test_4_4_accepts_a_keras_round_trip():
    def save_and_reload(model, folder):
        model.save(folder / "model.keras")
        return keras.models.load_model(folder / "model.keras")

    assert checks.exercise_4_4(save_and_reload).passed


def _saves(filename, returns="loaded"):
    def save_and_reload(model, folder):
        path = folder / filename
        if filename.endswith(".weights.h5"):
            model.save_weights(path)
        else:
            model.save(path)
        if returns == "loaded":
            return keras.models.load_model(path)
        if returns == "original":
            return model
        if returns == "fresh":
            return keras.models.clone_model(model)
        return None
    return save_and_reload


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_saves("model.h5"), "legacy HDF5"),
        (_saves("model.weights.h5", returns="original"), "only the weights"),
        (_saves("model.keras", returns="original"), "returned the original model"),
        (_saves("model.keras", returns="none"), "returned None"),
        (_saves("model.keras", returns="fresh"), "predicts differently"),
        (lambda model, folder: keras.models.clone_model(model), "nothing was saved"),
    ],
)
def test_4_4_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_4_4(answer), phrase)
