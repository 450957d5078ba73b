"""Lesson 04 checks accept the right answer and name each common mistake."""

import functools
import operator

import keras
import numpy as np
import pytest
from keras import layers

from course_lib import checks, models


def _fails_with(result, phrase):
    assert not result.passed, result.message
    assert phrase in result.message, result.message
    return True


def _compiler(**kwargs):
    def compile_model(model):
        model.compile(**{"optimizer": "adam", **kwargs})

    return compile_model


def _cross_entropy_of_scores(y_true, y_pred):  # a student's own loss, written out
    return keras.losses.categorical_crossentropy(y_true, y_pred, from_logits=True)


def _logits():
    return keras.losses.CategoricalCrossentropy(from_logits=True)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"loss": keras.losses.CategoricalCrossentropy(from_logits=True), "metrics": ["accuracy"]},
        {"loss": _logits(), "metrics": ["categorical_accuracy"]},
        {"loss": _logits(), "metrics": ["acc"]},
        {"loss": _logits(), "metrics": [keras.metrics.CategoricalAccuracy(name="acc")]},
        {"loss": _cross_entropy_of_scores, "metrics": ["accuracy"]},
        {
            "loss": lambda y, p: keras.losses.categorical_crossentropy(y, p, from_logits=True),
            "metrics": ["accuracy"],
        },
        {
            "loss": functools.partial(keras.losses.categorical_crossentropy, from_logits=True),
            "metrics": [keras.metrics.CategoricalAccuracy()],
        },
    ],
)
def test_4_1_accepts_cross_entropy_from_raw_scores_with_accuracy(kwargs):
    result = checks.exercise_4_1(_compiler(**kwargs))
    assert result.passed, result.message


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        (
            {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
            "sparse_categorical_crossentropy takes integer labels, one class number per image;"
            " here each label is a one-hot row",
        ),
        (
            {
                "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                "metrics": ["accuracy"],
            },
            "sparse_categorical_crossentropy takes integer labels",
        ),
        (
            {"loss": "categorical_crossentropy", "metrics": ["accuracy"]},
            "the string 'categorical_crossentropy' gives the loss with its defaults, "
            "from_logits=False: it expects probabilities",
        ),
        (
            {"loss": keras.losses.CategoricalCrossentropy(), "metrics": ["accuracy"]},
            "your categorical cross-entropy has from_logits=False (the default): it treats "
            "the model's outputs as probabilities",
        ),
        (
            {"loss": keras.losses.categorical_crossentropy, "metrics": ["accuracy"]},
            "has from_logits=False (the default)",
        ),
        (
            {"loss": "binary_crossentropy", "metrics": ["accuracy"]},
            "binary_crossentropy is for yes/no outputs",
        ),
        (
            {
                "loss": keras.losses.BinaryCrossentropy(from_logits=True),
                "metrics": ["accuracy"],
            },
            "binary_crossentropy is for yes/no outputs",
        ),
        ({"loss": "mse", "metrics": ["accuracy"]}, "the loss is mean_squared_error"),
        ({"loss": _logits()}, "no accuracy metric"),
        ({"loss": _logits(), "metrics": [keras.metrics.Accuracy()]}, "exact equality"),
        (
            {"loss": _logits(), "metrics": ["sparse_categorical_accuracy"]},
            "sparse_categorical_accuracy compares the highest output with an integer label",
        ),
        ({"metrics": ["accuracy"]}, "no loss"),
        (
            {"optimizer": "sgd", "loss": _logits(), "metrics": ["accuracy"]},
            "the optimizer is SGD; the task asks for Adam",
        ),
        (
            {"optimizer": keras.optimizers.RMSprop(), "loss": _logits(), "metrics": ["accuracy"]},
            "the optimizer is RMSprop",
        ),
    ],
)
def test_4_1_names_the_mistake(kwargs, phrase):
    assert _fails_with(checks.exercise_4_1(_compiler(**kwargs)), phrase)


def test_4_1_the_sparse_loss_really_stops_at_the_first_batch_of_one_hot_labels():
    """What the message about the sparse loss says Keras does, Keras does."""
    model = keras.Sequential([keras.Input((3,)), layers.Dense(4)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="rank"):
        model.train_on_batch(np.zeros((2, 3), np.float32), np.eye(4, dtype=np.float32)[[0, 1]])


def _sparse_accuracy_on_one_hot(images, classes):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), layers.Dense(classes)])
    model.compile(optimizer="adam", loss=_logits(), metrics=["sparse_categorical_accuracy"])
    x = np.random.default_rng(0).random((images, 3), dtype=np.float32)
    labels = np.eye(classes, dtype=np.float32)[np.arange(images) % classes]
    right = float(np.mean(np.argmax(model.predict(x, verbose=0), 1) == np.argmax(labels, 1)))
    reported = model.train_on_batch(x, labels, return_dict=True)["sparse_categorical_accuracy"]
    return right, float(reported)


def test_4_1_the_sparse_accuracy_really_stops_or_reports_a_wrong_figure_on_one_hot_labels():
    """What the message about sparse_categorical_accuracy says, Keras does."""
    with pytest.raises(ValueError, match="Dimensions must be equal"):
        _sparse_accuracy_on_one_hot(4, 8)
    right, reported = _sparse_accuracy_on_one_hot(4, 4)  # as many images as classes
    assert not np.isclose(right, reported), (right, reported)


def test_4_1_accuracy_as_a_string_is_categorical_accuracy_for_one_hot_labels():
    """What the exercise says of 'accuracy': Keras 3 picks categorical accuracy by the shapes,
    the share of images whose highest raw score is their label's 1."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), layers.Dense(8)])
    model.compile(optimizer="adam", loss=_logits(), metrics=["accuracy"])
    x = np.random.default_rng(1).random((16, 3), dtype=np.float32)
    labels = np.eye(8, dtype=np.float32)[np.arange(16) % 8]
    right = np.mean(np.argmax(model.predict(x, verbose=0), 1) == np.arange(16) % 8)
    reported = model.train_on_batch(x, labels, return_dict=True)["accuracy"]
    assert np.isclose(reported, right), (reported, right)


@pytest.mark.parametrize(
    ("loss", "phrase"),
    [
        (
            lambda y, p: keras.losses.categorical_crossentropy(y, p),
            "your loss is 0.4383: it reads the scores as if they were probabilities. The "
            "cross-entropy of the softmax of those scores is 0.417",
        ),
        (
            lambda y, p: keras.losses.sparse_categorical_crossentropy(y, p, from_logits=True),
            "your loss takes integer labels, one class number per image (the sparse "
            "cross-entropy), and fails on one-hot labels such as [1, 0, 0]",
        ),
    ],
)
def test_4_1_a_loss_of_the_students_own_is_judged_by_its_values(loss, phrase):
    assert _fails_with(checks.exercise_4_1(_compiler(loss=loss, metrics=["accuracy"])), phrase)


@pytest.mark.parametrize("smoothing", [0.1, 0.2])
def test_4_1_label_smoothing_is_named(smoothing):
    loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing)
    result = checks.exercise_4_1(_compiler(loss=loss, metrics=["accuracy"]))
    assert _fails_with(result, f"the loss is set to label_smoothing={smoothing:g}: it trains")
    assert "leave label_smoothing out" in result.message


class _Squared(keras.losses.CategoricalCrossentropy):
    """Categorical cross-entropy by its name and settings, of the squared scores."""

    def call(self, y_true, y_pred):
        return super().call(y_true, y_pred**2)


@pytest.mark.parametrize(
    ("loss", "phrase"),
    [
        (_Squared(from_logits=True), "your loss measures something else"),
        (
            keras.losses.CategoricalCrossentropy(from_logits=True, axis=0),
            "your loss (with axis=0) measures something else",
        ),
    ],
)
def test_4_1_a_loss_that_measures_something_else_under_the_right_name_is_named(loss, phrase):
    result = checks.exercise_4_1(_compiler(loss=loss, metrics=["accuracy"]))
    assert _fails_with(result, "for one image of class 0 with raw scores [2.0, 1.0, 0.1]")
    assert "minus the log of its probability for class 0, is 0.417" in result.message
    assert phrase in result.message


@pytest.mark.parametrize(
    "loss",
    [
        # How a batch adds up only scales the steps, which Adam undoes; the right settings may
        # be spelled out.
        keras.losses.CategoricalCrossentropy(from_logits=True, reduction="sum"),
        keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.0, axis=-1),
    ],
)
def test_4_1_loss_settings_that_leave_what_is_learned_alone_pass(loss):
    result = checks.exercise_4_1(_compiler(loss=loss, metrics=["accuracy"]))
    assert result.passed, result.message


def test_4_1_a_softmax_added_to_the_model_is_named():
    def compile_for_one_hot_logits(model):  # a student's answer: softmax back, then the string
        model.layers[-1].activation = keras.activations.softmax
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])

    result = checks.exercise_4_1(compile_for_one_hot_logits)
    assert _fails_with(result, "your function changed what the model outputs")
    assert "tells the loss so instead" in result.message


@pytest.mark.parametrize(
    "optimizer",
    [keras.optimizers.Adam(1e-3), keras.optimizers.Adam(learning_rate=0.001), "Adam"],
)
def test_4_1_accepts_adam_at_its_default_learning_rate_however_it_is_written(optimizer):
    compile_model = _compiler(optimizer=optimizer, loss=_logits(), metrics=["accuracy"])
    result = checks.exercise_4_1(compile_model)
    assert result.passed, result.message


@pytest.mark.parametrize(
    ("rate", "phrase"),
    [(10.0, "the loss blows up"), (1.0, "the loss blows up"), (1e-8, "almost where they")],
)
def test_4_1_names_a_learning_rate_far_from_adams_range(rate, phrase):
    def compile_for_one_hot_logits(model):  # a student's answer, with other rates
        model.compile(
            optimizer=keras.optimizers.Adam(rate),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )

    result = checks.exercise_4_1(compile_for_one_hot_logits)
    assert _fails_with(result, f"Adam's learning rate is {rate:g}: ")
    assert phrase in result.message and "Keep Adam's default, 0.001" in result.message


@pytest.mark.parametrize("rate", [0.01, 1e-4, 0.003])
def test_4_1_names_a_learning_rate_other_than_adams_default_the_task_fixes(rate):
    def compile_for_one_hot_logits(model):  # a student's answer: Adam(0.01)
        model.compile(
            optimizer=keras.optimizers.Adam(rate),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )

    result = checks.exercise_4_1(compile_for_one_hot_logits)
    assert _fails_with(result, f"Adam's learning rate is {rate:g}: the task fixes Adam at its")
    assert "Keep Adam's default, 0.001" in result.message


@pytest.mark.parametrize(
    ("schedule", "name"),
    [
        (lambda: keras.optimizers.schedules.ExponentialDecay(1e-3, 100, 0.5), "ExponentialDecay"),
        (lambda: keras.optimizers.schedules.CosineDecay(1e-3, 1000), "CosineDecay"),
    ],
)
def test_4_1_a_schedule_that_starts_at_the_default_rate_is_not_the_default_rate(schedule, name):
    def compile_for_one_hot_logits(model):  # a student's answer
        model.compile(
            optimizer=keras.optimizers.Adam(schedule()),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )

    result = checks.exercise_4_1(compile_for_one_hot_logits)
    assert _fails_with(result, f"Adam's learning rate is a schedule ({name}, starting at 0.001)")
    assert "Keep Adam's default: optimizer='adam'" in result.message


def test_4_1_a_loss_dict_is_shown_as_the_dict_it_is():
    def compile_for_one_hot_logits(model):  # a student's answer
        model.compile(
            optimizer="adam",
            loss={model.layers[-1].name: keras.losses.CategoricalCrossentropy(from_logits=True)},
            metrics=["accuracy"],
        )

    result = checks.exercise_4_1(compile_for_one_hot_logits)
    assert _fails_with(result, "the loss is a dict, {'")
    assert "': CategoricalCrossentropy(from_logits=True)}: a dict gives" in result.message
    assert _fails_with(result, "Pass the loss itself.")
    assert "Wrapper" not in result.message


def test_4_1_metrics_passed_third_by_position_are_said_to_be_loss_weights():
    def compile_for_one_hot_logits(model):  # a student's answer
        model.compile("adam", keras.losses.CategoricalCrossentropy(from_logits=True), ["accuracy"])

    result = checks.exercise_4_1(compile_for_one_hot_logits)
    assert _fails_with(result, "your ['accuracy'] went to loss_weights")
    assert _fails_with(result, "the third positional argument of compile is loss_weights")


def test_4_1_optimizer_and_loss_by_position_and_metrics_by_name_pass():
    def compile_for_one_hot_logits(model):
        model.compile(
            "adam", keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
        )

    result = checks.exercise_4_1(compile_for_one_hot_logits)
    assert result.passed, result.message


def test_4_1_says_to_compile_the_model_given_when_a_clone_was_compiled():
    def compile_for_one_hot_logits(model):  # a student's answer
        m = keras.models.clone_model(model)
        m.compile(optimizer="adam", loss=_logits(), metrics=["accuracy"])
        return m

    result = checks.exercise_4_1(compile_for_one_hot_logits)
    assert _fails_with(result, "the model your function was given is still not compiled")
    assert "Compile the model given, in place" in result.message
    assert "returns nothing" in result.message


@pytest.mark.parametrize(
    ("metric", "phrase"),
    [
        (keras.metrics.BinaryAccuracy(), "binary_accuracy is the accuracy of yes/no outputs"),
        ("binary_accuracy", "binary_accuracy is the accuracy of yes/no outputs"),
        (
            keras.metrics.TopKCategoricalAccuracy(),
            "top_k_categorical_accuracy is not the share of images whose class is right",
        ),
    ],
)
def test_4_1_names_the_wrong_accuracy_as_an_accuracy(metric, phrase):
    result = checks.exercise_4_1(_compiler(loss=_logits(), metrics=[metric]))
    assert _fails_with(result, phrase)
    assert "no accuracy metric" not in result.message


def test_4_1_the_binary_accuracy_really_counts_the_zeros_of_a_one_hot_row():
    """What the message about binary_accuracy says: every image wrong, and yet a high figure."""
    scores = np.array([[0.0, 3.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0]], np.float32)
    labels = np.eye(4, dtype=np.float32)[[0, 1]]  # both images wrong
    binary = keras.metrics.BinaryAccuracy()
    binary.update_state(labels, scores)
    assert float(binary.result()) == 0.5


def test_4_1_notices_a_model_left_uncompiled_or_an_unattempted_exercise():
    assert _fails_with(checks.exercise_4_1(lambda model: model), "not compiled")

    def untouched(model):
        raise NotImplementedError("Exercise 4.1")

    assert _fails_with(checks.exercise_4_1(untouched), "not attempted yet")


RIGHT_VERDICTS = {"A": "overfitting", "B": "underfitting", "C": "still improving"}


@pytest.mark.parametrize(
    ("verdicts", "best"),
    [
        (RIGHT_VERDICTS, 7),
        (RIGHT_VERDICTS, np.int64(7)),
        ({"C": "still improving", "B": "underfitting", "A": "overfitting"}, 7.0),
        (RIGHT_VERDICTS, np.array(7)),
    ],
)
def test_4_2_accepts_the_three_verdicts_in_any_order_and_the_epoch_as_any_number(verdicts, best):
    assert checks.exercise_4_2(verdicts, best).passed


@pytest.mark.parametrize(
    ("verdicts", "respelled"),
    [
        (  # students'
            {"A": "overfit", "B": "underfitting", "C": "still improving"},
            "verdicts['A'] = 'overfit' for 'overfitting'",
        ),
        (
            {"A": "overfits", "B": "underfitting", "C": "still improving"},
            "verdicts['A'] = 'overfits' for 'overfitting'",
        ),
        (
            {"A": "overfitting", "B": "underfitting", "C": "improving"},
            "verdicts['C'] = 'improving' for 'still improving'",
        ),
        (
            {"A": "Over-fitting ", "B": "underfit", "C": "still improving"},
            "verdicts['A'] = 'Over-fitting ' for 'overfitting'; verdicts['B'] = 'underfit' for "
            "'underfitting'",
        ),
    ],
)
def test_4_2_the_right_diagnosis_written_otherwise_than_the_task_s_strings_is_named(
    verdicts, respelled
):
    result = checks.exercise_4_2(verdicts, 7)
    assert not result.passed
    assert str(result) == (
        "❌ Not yet (exercise 4.2): the diagnoses are right, but written otherwise than the "
        f"task writes them: {respelled}. Each verdict is exactly one of the three strings "
        "'overfitting', 'underfitting', 'still improving', as code that compares them expects."
    )


def test_4_2_a_wrong_diagnosis_is_named_before_its_spelling():
    result = checks.exercise_4_2({**RIGHT_VERDICTS, "A": "Improving", "B": "underfit"}, 7)
    assert _fails_with(result, "made it worse on new images")


@pytest.mark.parametrize(
    ("verdicts", "best", "phrase"),
    [
        ({**RIGHT_VERDICTS, "A": "still improving"}, 7, "made it worse on new images"),
        ({**RIGHT_VERDICTS, "A": "underfitting"}, 7, "capacity is not what it lacks"),
        ({**RIGHT_VERDICTS, "B": "overfitting"}, 7, "cannot fit even the images it trains on"),
        ({**RIGHT_VERDICTS, "B": "still improving"}, 7, "more epochs will not lower it"),
        ({**RIGHT_VERDICTS, "C": "overfitting"}, 7, "a one-epoch bump is noise"),
        ({**RIGHT_VERDICTS, "C": "underfitting"}, 7, "has not reached its limit"),
        ({**RIGHT_VERDICTS, "B": "fine"}, 7, "not one of the three verdicts"),
        ({"A": "overfitting", "B": "underfitting"}, 7, "no entry for curve 'C'"),
        (["overfitting", "underfitting", "still improving"], 7, "should be a dict"),
        (RIGHT_VERDICTS, 6, "0-based index"),
        (RIGHT_VERDICTS, 9, "highest validation accuracy"),
        (RIGHT_VERDICTS, 15, "training loss keeps falling"),
        (RIGHT_VERDICTS, 5, "falls lower again"),
        (RIGHT_VERDICTS, 0.52, "looks like a loss"),
        (RIGHT_VERDICTS, None, "is None"),
        (RIGHT_VERDICTS, "7", "an epoch number (an int)"),
        (RIGHT_VERDICTS, 11, "not where A's validation loss is lowest"),
        (RIGHT_VERDICTS, np.array([7, 9]), "an epoch number (an int)"),
    ],
)
def test_4_2_names_the_mistake(verdicts, best, phrase):
    assert _fails_with(checks.exercise_4_2(verdicts, best), phrase)


@pytest.mark.parametrize(
    ("verdicts", "message"),
    [
        (  # a student's
            {"A": "overfit", "B": "underfitting", "C": "still improving", "D": "?"},
            "verdicts has the extra key 'D': it holds exactly one verdict per curve, under the "
            "keys 'A', 'B' and 'C'.",
        ),
        (
            {"a": "overfitting", "b": "underfitting", "c": "still improving"},
            "verdicts has no entry for curves 'A', 'B' and 'C', and the extra keys 'a', 'b' and "
            "'c': it holds exactly one verdict per curve, under the keys 'A', 'B' and 'C'.",
        ),
        (
            {"A": "overfitting", "B": "underfitting"},
            "verdicts has no entry for curve 'C': it holds exactly one verdict per curve, under "
            "the keys 'A', 'B' and 'C'.",
        ),
    ],
)
def test_4_2_the_dict_has_exactly_the_keys_a_b_and_c(verdicts, message):
    result = checks.exercise_4_2(verdicts, 7)
    assert not result.passed
    assert str(result) == f"❌ Not yet (exercise 4.2): {message}"


def test_4_2_curves_say_what_the_verdicts_claim():
    curves = checks.lesson04.LEARNING_CURVES
    a, b, c = curves["A"], curves["B"], curves["C"]
    assert int(np.argmin(a["val_loss"])) + 1 == 7 and a["val_loss"][-1] > 1.5 * min(a["val_loss"])
    assert int(np.argmax(a["val_accuracy"])) + 1 == 9 and a["loss"][-1] == min(a["loss"])
    assert min(b["loss"]) > 0.9 and abs(b["loss"][-1] - b["val_loss"][-1]) < 0.05
    assert int(np.argmin(c["val_loss"])) + 1 == len(c["val_loss"]) and c["loss"][-1] < c["loss"][-2]


# Exercise 4.3: the regularised CNN. Right answers written three ways, wrong ones as students write
# them.
def _block(width, order=("conv", "bn", "relu", "pool"), **conv):
    make = {
        "conv": lambda: layers.Conv2D(width, 3, **{"padding": "same", "use_bias": False, **conv}),
        "bn": lambda: layers.BatchNormalization(momentum=0.9),
        "relu": layers.ReLU,
        "pool": layers.MaxPooling2D,
        "dropout": lambda: layers.Dropout(0.1),
    }
    return [make[step]() for step in order]


def _builder(
    widths=(16, 32, 64),
    order=("conv", "bn", "relu", "pool"),
    head=None,
    classes=None,
    shape=None,
    **conv,
):
    def build(input_shape, num_classes):
        stack = [keras.Input(shape=shape or input_shape)]
        for width in widths:
            stack += _block(width, order, **conv)
        stack += (
            head()
            if head
            else [
                layers.Dropout(0.1),
                layers.Flatten(),
                layers.Dense(128, activation="relu"),
                layers.Dropout(0.2),
                layers.Dense(classes or num_classes, activation="softmax"),
            ]
        )
        return keras.Sequential(stack)

    return build


def _functional(input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for width in (16, 32, 64):
        x = layers.Conv2D(width, (3, 3), padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Flatten()(layers.Dropout(0.1)(x))
    x = layers.Dropout(0.2)(layers.Dense(128, activation="relu")(x))
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))


def _nested_blocks(input_shape, num_classes):
    model = keras.Sequential([keras.Input(shape=input_shape)])
    for width in (16, 32, 64):
        model.add(keras.Sequential(_block(width)))
    for layer in (
        layers.Dropout(0.1),
        layers.Flatten(),
        layers.Dense(128),
        layers.ReLU(),
        layers.Dropout(0.2),
        layers.Dense(num_classes),
        layers.Softmax(),
    ):
        model.add(layer)
    return model


@pytest.mark.usefixtures("library_copies_allowed")
@pytest.mark.parametrize(
    "build",
    [models.build_better_cnn, _builder(), _functional, _nested_blocks],
    ids=["library", "loop", "functional", "nested-blocks"],
)
def test_4_3_accepts_the_stated_network_however_it_is_written(build):
    result = checks.exercise_4_3(build)
    assert result.passed, result.message
    assert "largest difference between outputs is 0.0e+00" in result.message


def _head(*extra):
    def head():
        return list(extra)

    return head


@pytest.mark.parametrize(
    ("build", "phrase"),
    [
        (
            _builder(order=("conv", "bn", "relu", "pool"), activation="relu"),
            "ReLU comes before BatchNorm",
        ),
        (_builder(order=("conv", "relu", "bn", "pool")), "in block 1 ReLU comes before BatchNorm"),
        (_builder(order=("conv", "relu", "pool", "bn")), "ReLU comes before BatchNorm"),
        (_builder(order=("conv", "bn", "pool", "relu")), "block 1 is conv -> bn -> pool -> relu"),
        (_builder(order=("conv", "relu", "pool")), "no BatchNormalization"),
        (_builder(order=("conv", "pool", "bn", "relu")), "BatchNorm comes after pooling"),
        (_builder(use_bias=True), "use_bias=False"),
        (_builder(padding="valid"), "padding='same'"),
        (_builder(widths=(32, 64, 128)), "16, 32, 64 filters"),
        (_builder(widths=(16, 32)), "2 Conv2D layers"),
        (
            _builder(order=("conv", "bn", "relu", "pool", "dropout")),
            "inside the convolution blocks",
        ),
        (
            _builder(
                head=_head(
                    layers.Flatten(),
                    layers.Dense(128, activation="relu"),
                    layers.Dense(10, activation="softmax"),
                )
            ),
            "no Dropout",
        ),
        (
            _builder(
                head=_head(
                    layers.Flatten(),
                    layers.Dense(128, activation="relu"),
                    layers.Dropout(0.2),
                    layers.Dense(10, activation="softmax"),
                    layers.Dropout(0.1),
                )
            ),
            "after the output layer",
        ),
        (
            _builder(
                head=_head(
                    layers.Dropout(0.1),
                    layers.Flatten(),
                    layers.Dense(128, activation="relu"),
                    layers.Dropout(0.2),
                    layers.Dense(10),
                )
            ),
            "the last Dense has no activation, so the model outputs raw scores (logits)",
        ),
        (
            _builder(
                head=_head(
                    layers.Dropout(0.1),
                    layers.Flatten(),
                    layers.Dense(128, activation="relu"),
                    layers.Dropout(0.2),
                    layers.Dense(10, activation="sigmoid"),
                )
            ),
            "the last Dense has activation='sigmoid'; class probabilities come from",
        ),
        (
            _builder(
                head=_head(
                    layers.Dropout(0.5),
                    layers.Flatten(),
                    layers.Dense(128, activation="relu"),
                    layers.Dropout(0.5),
                    layers.Dense(10, activation="softmax"),
                )
            ),
            "rate 0.5",
        ),
        (
            _builder(
                head=_head(
                    layers.Dropout(0.1),
                    layers.Flatten(),
                    layers.Dense(128),
                    layers.Dropout(0.2),
                    layers.ReLU(),
                    layers.Dense(10, activation="softmax"),
                )
            ),
            "the second Dropout sits between the hidden Dense layer and its ReLU; the task puts "
            "it after the hidden layer's ReLU",
        ),
        (_builder(classes=10), "use the num_classes argument"),
        (_builder(shape=(28, 28, 1)), "use the input_shape argument"),
        (lambda input_shape, num_classes: None, "forget to `return`"),
        (
            lambda input_shape, num_classes: keras.Sequential(
                [layers.Conv2D(16, 3), layers.Flatten(), layers.Dense(num_classes)]
            ),
            "keras.Input",
        ),
        (lambda input_shape, num_classes: [layers.Conv2D(16, 3)], "should return a keras Model"),
    ],
)
def test_4_3_names_the_mistake(build, phrase):
    assert _fails_with(checks.exercise_4_3(build), phrase)


def _head_with_rates(first, second):
    return _head(
        layers.Dropout(first),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(second),
        layers.Dense(10, activation="softmax"),
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (  # a student's
            _builder(widths=(32, 64, 128)),
            "the first Conv2D (block 1) has 32 filters of (3, 3); the blocks have 16, 32, 64 "
            "filters of 3x3.",
        ),
        (
            _builder(widths=(16, 64, 64)),
            "the second Conv2D (block 2) has 64 filters of (3, 3); the blocks have 16, 32, 64 "
            "filters of 3x3.",
        ),
        (  # a student's
            _builder(head=_head_with_rates(0.2, 0.1)),
            "the two Dropout rates are swapped: yours are 0.2 after the blocks and 0.1 before "
            "the output; the task asks for 0.1 after the blocks and 0.2 before the output.",
        ),
        (
            _builder(head=_head_with_rates(0.1, 0.5)),
            "the second Dropout (before the output) has rate 0.5; the task asks for 0.1 after "
            "the blocks and 0.2 before the output.",
        ),
        (
            _builder(head=_head_with_rates(0.3, 0.2)),
            "the first Dropout (after the blocks) has rate 0.3; the task asks for 0.1 after "
            "the blocks and 0.2 before the output.",
        ),
    ],
)
def test_4_3_a_conv_or_dropout_setting_names_which_layer_has_it(build, message):
    result = checks.exercise_4_3(build)
    assert not result.passed
    assert str(result) == f"❌ Not yet (exercise 4.3): {message}"


def test_4_3_notices_a_momentum_left_at_the_keras_default():
    def default_momentum(input_shape, num_classes):
        model = _builder()(input_shape, num_classes)
        for layer in model.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = 0.99
        return model

    assert _fails_with(checks.exercise_4_3(default_momentum), "momentum=0.99")


def test_4_3_reports_an_unattempted_exercise():
    def untouched(input_shape, num_classes):
        raise NotImplementedError("Exercise 4.3")

    assert _fails_with(checks.exercise_4_3(untouched), "not attempted yet")


# Exercise 4.4: Keras' EarlyStopping, simulated. Right answers three ways, wrong ones as students
# write them.
def _loop(val_loss, patience, improves=operator.lt):
    best, wait = None, 0
    for epoch, value in enumerate(val_loss, start=1):
        if best is None or improves(value, val_loss[best - 1]):
            best, wait = epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch, best
    return len(val_loss), best


def _vectorised(val_loss, patience):
    losses = np.asarray(val_loss, dtype=float)
    running_best = np.minimum.accumulate(losses)
    improved = np.r_[True, losses[1:] < running_best[:-1]]
    last_improvement = np.maximum.accumulate(np.where(improved, np.arange(len(losses)), 0))
    stalled = np.flatnonzero((np.arange(len(losses)) - last_improvement >= patience) & ~improved)
    stop = int(stalled[0]) if len(stalled) else len(losses) - 1
    return np.int64(stop + 1), np.int64(last_improvement[stop] + 1)


def _recorded_by_keras(val_loss, patience):
    """Keras' own EarlyStopping, fed one loss per epoch on a stand-in model."""
    model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
    stop = keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)
    stop.set_model(model)
    model.stop_training = False
    stop.on_train_begin()
    for epoch, value in enumerate(val_loss):
        stop.on_epoch_end(epoch, {"val_loss": float(value)})
        if model.stop_training:
            break
    return [epoch + 1, stop.best_epoch + 1]


def test_an_answer_that_calls_the_check_s_own_code_is_not_credited():
    result = checks.exercise_4_4(lambda v, p: checks.lesson04.keras_early_stopping(v, p))
    assert _fails_with(result, "calls course_lib.checks.lesson04.keras_early_stopping")
    assert "part of the check" in result.message


@pytest.mark.parametrize(
    "answer",
    [
        models.build_better_cnn,  # the library's copy handed in
        lambda input_shape=(28, 28, 1), num_classes=10: models.build_better_cnn(  # wrapped
            input_shape, num_classes
        ),
    ],
)
def test_4_3_the_library_s_copy_is_no_answer(answer):
    result = checks.exercise_4_3(answer)
    assert _fails_with(result, "calls course_lib.models.build_better_cnn, the course's own copy")


@pytest.mark.parametrize("answer", [_loop, _vectorised, _recorded_by_keras])
def test_4_4_accepts_what_keras_does_however_it_is_computed(answer):
    assert checks.exercise_4_4(answer).passed


def _shifted(stop_shift=0, restore_shift=0):
    def answer(val_loss, patience):
        stop, best = _loop(val_loss, patience)
        return stop + stop_shift, best + restore_shift

    return answer


def _ties_improve(val_loss, patience):  # counts an equal loss as an improvement
    return _loop(val_loss, patience, improves=operator.le)


def _wait_never_reset(val_loss, patience):  # a student's: every non-improving epoch counts
    best, best_epoch, wait = float("inf"), 0, 0
    for epoch, value in enumerate(val_loss, start=1):
        if value < best:
            best, best_epoch = value, epoch
        else:
            wait += 1
            if wait >= patience:
                return epoch, best_epoch
    return len(val_loss), best_epoch


def _against_the_epoch_before(val_loss, patience):  # a student's: not the best so far
    previous, wait, best_epoch = float("inf"), 0, 1
    for epoch, value in enumerate(val_loss, start=1):
        if value < previous:
            wait, best_epoch = 0, epoch
        else:
            wait += 1
            if wait >= patience:
                return epoch, best_epoch
        previous = value
    return len(val_loss), best_epoch


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_wait_never_reset, "goes back to 0 at each new best"),
        (_against_the_epoch_before, "strictly lower than the best so far"),
        (_shifted(stop_shift=1), "one too late"),
        (_shifted(stop_shift=-1), "one too early"),
        (_shifted(-1, -1), "counted from 0"),
        (_ties_improve, "strictly lower"),
        (lambda v, p: (_loop(v, p)[0], _loop(v, p)[0]), "the last one run"),
        (lambda v, p: (_loop(v, p)[0], int(np.argmin(v)) + 1), "never got there"),
        (
            lambda v, p: (len(v), _loop(v, p)[1]),
            "you return (7, 3); Keras' answer is (5, 3). Your function never stops early",
        ),
        (lambda v, p: (_loop(v, p)[1] + p, _loop(v, p)[1]), "the run has only 5"),
        (lambda v, p: _loop(v, p)[0], "one number"),
        (lambda v, p: None, "returned None"),
        (lambda v, p: (3.5, 1), "ints"),
        (
            lambda v, p: (v.tolist(), p),
            "AttributeError",
        ),  # lists have no .tolist: the check passes both kinds
    ],
)
def test_4_4_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_4_4(answer), phrase)


@pytest.mark.parametrize(
    "answer",
    [
        lambda v, p: tuple(float(n) for n in _loop(v, p)),  # a student's (5.0, 3.0)
        lambda v, p: (np.float64(_loop(v, p)[0]), _loop(v, p)[1]),
    ],
)
def test_4_4_rejects_right_epochs_returned_as_floats_as_3_6_does(answer):
    result = checks.exercise_4_4(answer)
    assert _fails_with(result, "the epochs are right, but you return floats")
    assert "the task asks for ints" in result.message


def _popping(val_loss, patience):  # a student's: empties the History's list it is given
    best, best_epoch, wait, epoch = float("inf"), 0, 0, 0
    n = len(val_loss)
    while len(val_loss):
        loss = val_loss.pop(0) if isinstance(val_loss, list) else val_loss[0]
        if not isinstance(val_loss, list):
            val_loss = val_loss[1:]
        epoch += 1
        if loss < best:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch, best_epoch
    return n, best_epoch


def _sorting_the_array(val_loss, patience):  # sorts the caller's array in place
    stop, best = _loop(val_loss, patience)
    if isinstance(val_loss, np.ndarray):
        val_loss.sort()
    return stop, best


def test_4_4_says_the_function_emptied_the_caller_s_list_of_losses():
    result = checks.exercise_4_4(_popping)
    assert _fails_with(result, "your function changed the list `val_loss` it was given")
    assert _fails_with(result, "it held 7 items, 2 after the call (pop, remove and del")


def test_4_4_says_the_function_changed_the_caller_s_array_of_losses():
    result = checks.exercise_4_4(_sorting_the_array)
    assert _fails_with(result, "your function changed its input `val_loss` in place")


def test_4_4_reading_the_losses_without_changing_them_is_fine():
    def on_a_copy(val_loss, patience):
        losses = list(val_loss)
        losses.reverse()
        return _loop(losses[::-1], patience)

    assert checks.exercise_4_4(on_a_copy).passed


def _best_of_the_whole_list_plus_patience(val_loss, patience):  # a student's
    best = int(np.argmin(val_loss)) + 1
    return min(best + patience, len(val_loss)), best


def _patience_fixed_at(fixed):
    def answer(val_loss, patience):
        return _loop(val_loss, fixed)

    return answer


def test_4_4_names_a_rule_only_when_the_answer_follows_it_on_every_run():
    # On one run the lowest loss plus patience gives what counting ties gives: not the mistake.
    result = checks.exercise_4_4(_best_of_the_whole_list_plus_patience)
    assert _fails_with(result, "the lowest value of the whole list")
    assert "equal to the best" not in result.message


def _stops_when_wait_equals_patience(val_loss, patience):  # a student's: never for 0
    best, best_i, wait = float("inf"), 0, 0
    for i, v in enumerate(val_loss):
        if v < best:
            best, best_i, wait = v, i, 0
        else:
            wait += 1
            if wait == patience:
                return i + 1, best_i + 1
    return len(val_loss), best_i + 1


def _stalled_from_the_start(val_loss, patience):  # counts the first epoch as one without
    losses = np.asarray(val_loss, dtype=float)
    running_best = np.minimum.accumulate(losses)
    improved = np.r_[True, losses[1:] < running_best[:-1]]
    last_improvement = np.maximum.accumulate(np.where(improved, np.arange(len(losses)), 0))
    stalled = np.flatnonzero(np.arange(len(losses)) - last_improvement >= patience)
    stop = int(stalled[0]) if len(stalled) else len(losses) - 1
    return int(stop + 1), int(last_improvement[stop] + 1)


def test_4_4_patience_0_stops_at_the_first_epoch_without_improvement_as_in_keras():
    assert _recorded_by_keras([0.7, 0.6, 0.65, 0.5, 0.55], 0) == [3, 2]
    result = checks.exercise_4_4(_stops_when_wait_equals_patience)
    assert _fails_with(
        result,
        "for val_loss [0.7, 0.6, 0.65, 0.5, 0.55] and patience=0 you let all 5 epochs run; "
        "Keras stops at the end of epoch 3, with patience=0 (EarlyStopping's default) at the "
        "first epoch without a lower loss: the best was epoch 2, and epoch 3 brought no lower "
        "loss.",
    )
    result = checks.exercise_4_4(_stalled_from_the_start)
    assert _fails_with(
        result,
        "and patience=0 you return (1, 1); Keras' EarlyStopping runs 3 epochs and restores "
        "epoch 2. With patience=0 (EarlyStopping's default) Keras stops at the end of the first "
        "epoch without a lower loss than the best so far; an epoch with one never stops it.",
    )


def _never_stops(val_loss, patience):  # a student's, for lists and arrays alike
    losses = list(val_loss)
    return len(losses), losses.index(min(losses)) + 1


def test_4_4_an_answer_that_never_stops_is_told_so_not_that_its_patience_is_written_in():
    result = checks.exercise_4_4(_never_stops)
    assert _fails_with(
        result,
        "for val_loss [0.9, 0.7, 0.6, 0.62, 0.65, 0.7, 0.8] and patience=2 you return (7, 3); "
        "Keras' answer is (5, 3). Your function never stops early: it lets every epoch run in "
        "all 12 runs the check tried, whatever patience is passed. Keras stops at the end of "
        "the patience-th epoch in a row without a lower loss: here the best was epoch 3, and "
        "epochs 4 to 5 brought no lower loss.",
    )
    assert "written in" not in result.message
    # As a student wrote it: list.index, which a NumPy array (the second run) lacks
    result = checks.exercise_4_4(lambda v, p: (len(v), v.index(min(v)) + 1))
    assert _fails_with(
        result,
        "for val_loss [0.9, 0.7, 0.6, 0.62, 0.65, 0.7, 0.8] and patience=2 you let all 7 "
        "epochs run; Keras stops at the end of epoch 5",
    )
    assert "written in" not in result.message and "whatever patience" not in result.message


@pytest.mark.parametrize("fixed", [1, 2, 3])
def test_4_4_says_a_patience_written_in_ignores_the_argument(fixed):
    result = checks.exercise_4_4(_patience_fixed_at(fixed))
    assert _fails_with(result, f"Your answers are those of patience={fixed} whatever patience")
    assert "one too" not in result.message


def _better_cnn_with(
    bn=None, pool=None, dense_bias=True, first_conv=None, relu=None, hidden_relu=None
):
    def build(input_shape, num_classes):
        stack = [keras.Input(shape=input_shape)]
        for width in (16, 32, 64):
            stack += [
                first_conv()
                if first_conv and width == 16
                else layers.Conv2D(width, 3, padding="same", use_bias=False),
                bn() if bn else layers.BatchNormalization(momentum=0.9),
                relu() if relu else layers.ReLU(),
                pool() if pool else layers.MaxPooling2D(),
            ]
        hidden = (
            [layers.Dense(128, use_bias=dense_bias), hidden_relu()]
            if hidden_relu
            else [layers.Dense(128, activation="relu", use_bias=dense_bias)]
        )
        stack += [
            layers.Dropout(0.1),
            layers.Flatten(),
            *hidden,
            layers.Dropout(0.2),
            layers.Dense(num_classes, activation="softmax"),
        ]
        return keras.Sequential(stack)

    return build


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (  # a student's
            _better_cnn_with(bn=lambda: layers.BatchNormalization(momentum=0.9, center=False)),
            "BatchNormalization: center=False drops β, the learned shift",
        ),
        (
            _better_cnn_with(bn=lambda: layers.BatchNormalization(momentum=0.9, scale=False)),
            "BatchNormalization: scale=False drops γ, the learned scale.",
        ),
        (  # a student's
            _better_cnn_with(pool=lambda: layers.MaxPooling2D(2, strides=1)),
            "a MaxPooling2D has pool size (2, 2), strides (1, 1) and padding='valid'",
        ),
        (
            _better_cnn_with(dense_bias=False),
            "the stated one has 98,778: a Dense has 73,728 where the stated one's has 73,856",
        ),
    ],
)
def test_4_3_a_setting_that_changes_the_parameter_count_is_named(answer, phrase):
    result = checks.exercise_4_3(answer)
    assert _fails_with(result, phrase)
    assert "center" not in result.message or "center=False" in phrase


def test_4_3_layers_out_of_order_before_a_right_output_layer_are_listed_not_the_output():
    answer = _builder(  # a student's: both dropouts after the hidden layer
        head=_head(
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.1),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        )
    )
    result = checks.exercise_4_3(answer)
    assert _fails_with(result, "pool -> flatten -> dense+relu -> dropout -> dropout")
    assert "last Dense" not in result.message


def _dropout_after_flatten(first=0.1, second=0.2):
    def build(input_shape, num_classes):  # a student's
        stack = [keras.Input(shape=input_shape)]
        for width in (16, 32, 64):
            stack += _block(width)
        stack += [
            layers.Flatten(),
            layers.Dropout(first),
            layers.Dense(128),
            layers.ReLU(),
            layers.Dropout(second),
            layers.Dense(num_classes, activation="softmax"),
        ]
        return keras.Sequential(stack)

    return build


def test_4_3_the_first_dropout_may_come_before_or_after_flatten():
    # Flatten only reshapes: the rules' "after the convolution blocks" holds either way.
    result = checks.exercise_4_3(_dropout_after_flatten())
    assert result.passed, result.message
    assert "largest difference between outputs is 0.0e+00" in result.message
    # ... and its rates are still read in order
    swapped = checks.exercise_4_3(_dropout_after_flatten(0.2, 0.1))
    assert _fails_with(swapped, "the two Dropout rates are swapped")


def test_4_3_a_setting_that_changes_only_the_outputs_is_named_with_its_layer():
    answer = _better_cnn_with(bn=lambda: layers.BatchNormalization(momentum=0.9, epsilon=1e-5))
    result = checks.exercise_4_3(answer)
    assert _fails_with(result, "with the same weights your model's outputs differ")
    assert "layer 2, a BatchNormalization, has epsilon=1e-05 where the stated model's has" in (
        result.message
    )
    assert "by up to 0:" not in result.message


def _l2_on_the_first_conv():  # a student's: the L2 penalty of the lesson's section 4
    return layers.Conv2D(16, 3, padding="same", use_bias=False, kernel_regularizer="l2")


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (
            _better_cnn_with(first_conv=_l2_on_the_first_conv),
            "layer 1, a Conv2D, has kernel_regularizer=L2(l2=0.01), which the task does not "
            "set: with the same weights the outputs are the same, but its penalty is added to "
            "the loss the model is trained on, so the trained model differs. Leave out what the "
            "task does not set.",
        ),
        (
            _better_cnn_with(
                bn=lambda: layers.BatchNormalization(
                    momentum=0.9, gamma_constraint=keras.constraints.NonNeg()
                )
            ),
            "layer 2, a BatchNormalization, has gamma_constraint=NonNeg(), which the task does "
            "not set: with the same weights the outputs are the same, but it changes the "
            "weights after every training step",
        ),
    ],
)
def test_4_3_a_penalty_or_constraint_the_task_does_not_set_is_named_with_its_layer(answer, phrase):
    result = checks.exercise_4_3(answer)
    assert _fails_with(result, phrase)
    assert "outputs differ" not in result.message


@pytest.mark.usefixtures("library_copies_allowed")
@pytest.mark.parametrize(
    "answer",
    [
        _better_cnn_with(  # an initialiser changes where training starts, not the network
            first_conv=lambda: layers.Conv2D(
                16, 3, padding="same", use_bias=False, kernel_initializer="he_normal"
            )
        ),
        _better_cnn_with(  # a regulariser of None set explicitly is none
            first_conv=lambda: layers.Conv2D(
                16, 3, padding="same", use_bias=False, kernel_regularizer=None
            )
        ),
    ],
)
def test_4_3_settings_that_leave_the_training_loss_alone_pass(answer):
    result = checks.exercise_4_3(answer)
    assert result.passed, result.message


@pytest.mark.usefixtures("library_copies_allowed")
def test_4_3_pooling_written_out_with_its_defaults_passes():
    answer = _better_cnn_with(pool=lambda: layers.MaxPooling2D(pool_size=2, strides=2))
    result = checks.exercise_4_3(answer)
    assert result.passed, result.message


def _capped_relu_blocks(cap):  # a student's: ReLU(max_value=1.0), or ReLU6 with 6.0
    def build_better_cnn(input_shape=(28, 28, 1), num_classes=10):
        blocks = [
            la
            for f in (16, 32, 64)
            for la in (
                layers.Conv2D(f, 3, padding="same", use_bias=False),
                layers.BatchNormalization(momentum=0.9),
                layers.ReLU(max_value=cap),
                layers.MaxPooling2D(),
            )
        ]
        return keras.Sequential(
            [
                keras.Input(shape=input_shape),
                *blocks,
                layers.Dropout(0.1),
                layers.Flatten(),
                layers.Dense(128, activation="relu"),
                layers.Dropout(0.2),
                layers.Dense(num_classes, activation="softmax"),
            ]
        )

    return build_better_cnn


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            _capped_relu_blocks(1.0),
            "layer 3, a ReLU, has max_value=1, which caps its outputs at 1",
        ),
        (
            _capped_relu_blocks(6.0),
            "layer 3, a ReLU, has max_value=6, which caps its outputs at 6",
        ),
        (
            _better_cnn_with(relu=lambda: layers.ReLU(negative_slope=0.1)),
            "layer 3, a ReLU, has negative_slope=0.1, which lets values below 0 through, "
            "multiplied by 0.1 (a leaky ReLU)",
        ),
        (
            _better_cnn_with(relu=lambda: layers.ReLU(threshold=0.5)),
            "layer 3, a ReLU, has threshold=0.5, which sets values below 0.5 to 0, not only "
            "those below 0",
        ),
        (
            _better_cnn_with(hidden_relu=lambda: layers.ReLU(max_value=6.0)),
            "layer 16, a ReLU, has max_value=6, which caps its outputs at 6",
        ),
    ],
)
def test_4_3_every_setting_of_a_relu_layer_is_compared(answer, message):
    result = checks.exercise_4_3(answer)
    assert not result.passed
    assert str(result) == (
        f"❌ Not yet (exercise 4.3): {message}: another activation than the task's ReLU(), "
        "max(x, 0). Leave out what the task does not set."
    )


class ReLU(layers.ReLU):  # a ReLU whose cap its settings do not show
    def call(self, inputs):
        return keras.ops.minimum(super().call(inputs), 1.0)


def test_4_3_outputs_are_compared_on_inputs_that_reach_a_cap():
    # The lesson's images in [0, 1] keep every activation below 1; pixels in 0-255 do not.
    result = checks.exercise_4_3(_better_cnn_with(relu=ReLU))
    assert _fails_with(result, "with the same weights your model's outputs differ from the")
    assert "compare each layer's settings with the task" in result.message


@pytest.mark.usefixtures("library_copies_allowed")
def test_4_3_a_relu_layer_written_with_its_defaults_or_after_the_dense_passes():
    answer = _better_cnn_with(
        relu=lambda: layers.ReLU(max_value=None, negative_slope=0.0, threshold=0.0),
        hidden_relu=layers.ReLU,
    )
    result = checks.exercise_4_3(answer)
    assert result.passed, result.message
    assert "largest difference between outputs is 0.0e+00" in result.message


def test_4_1_a_class_given_where_an_object_made_from_it_belongs_is_named():
    logits = _logits()
    assert _fails_with(
        checks.exercise_4_1(
            _compiler(loss=keras.losses.CategoricalCrossentropy, metrics=["accuracy"])
        ),
        "the loss is the class CategoricalCrossentropy itself",
    )
    assert _fails_with(
        checks.exercise_4_1(_compiler(loss=logits, metrics=[keras.metrics.CategoricalAccuracy])),
        "metrics holds the class CategoricalAccuracy itself",
    )
    assert _fails_with(
        checks.exercise_4_1(
            _compiler(optimizer=keras.optimizers.Adam, loss=logits, metrics=["accuracy"])
        ),
        "Hint: that is the optimizer's class",
    )


def test_4_4_a_dict_is_not_read_as_a_pair_of_epochs():
    def as_dict(val_loss, patience):
        best, waited, run = 1, 0, len(val_loss)
        for epoch in range(2, len(val_loss) + 1):
            if val_loss[epoch - 1] < val_loss[best - 1]:
                best, waited = epoch, 0
            else:
                waited += 1
                if waited >= patience:
                    run = epoch
                    break
        return {"epochs_run": run, "restored_epoch": best}

    assert _fails_with(
        checks.exercise_4_4(as_dict), "return a pair (epochs_run, restored_epoch), got a dict"
    )


def _one_pooling_layer_for_every_block(input_shape, num_classes):
    pool = layers.MaxPooling2D()  # no weights: one layer serves the three blocks
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for width in (16, 32, 64):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = pool(layers.ReLU()(layers.BatchNormalization(momentum=0.9)(x)))
    x = layers.Flatten()(layers.Dropout(0.1)(x))
    x = layers.Dropout(0.2)(layers.Dense(128, activation="relu")(x))
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))


def _activations_as_functions(input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for width in (16, 32, 64):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = keras.activations.relu(layers.BatchNormalization(momentum=0.9)(x))
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(layers.Dropout(0.1)(x))
    x = layers.Dropout(0.2)(keras.ops.relu(layers.Dense(128)(x)))
    return keras.Model(inputs, keras.activations.softmax(layers.Dense(num_classes)(x)))


class _SubclassedCnn(keras.Model):
    def __init__(self, num_classes):
        super().__init__()
        self.steps = []
        for width in (16, 32, 64):
            self.steps += [
                layers.Conv2D(width, 3, padding="same", use_bias=False),
                layers.BatchNormalization(momentum=0.9),
                layers.ReLU(),
                layers.MaxPooling2D(),
            ]
        self.steps += [
            layers.Dropout(0.1),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(num_classes, activation="softmax"),
        ]

    def call(self, x, training=False):
        for step in self.steps:
            x = step(x, training=training) if isinstance(step, layers.Dropout) else step(x)
        return x


def test_4_3_accepts_one_pooling_layer_called_in_every_block():
    result = checks.exercise_4_3(_one_pooling_layer_for_every_block)
    assert result.passed, result.message


@pytest.mark.parametrize(
    ("build", "phrase"),
    [
        (_activations_as_functions, "an operation, not a layer"),
        (lambda input_shape, num_classes: _SubclassedCnn(num_classes), "a subclass of keras.Model"),
    ],
    ids=["activation-functions", "subclassed"],
)
def test_4_3_names_a_model_the_grader_cannot_rebuild_from_keras_layers(build, phrase):
    # The grader rebuilds the model from its config with Keras's own layers only: the notebook's
    # check says so too, instead of passing what the grader would then fail
    assert _fails_with(checks.exercise_4_3(build), phrase)


def test_4_3_a_relu_before_batchnorm_in_a_functional_model_is_named():
    def relu_first(input_shape, num_classes):
        inputs = keras.Input(shape=input_shape)
        x = inputs
        for width in (16, 32, 64):
            x = layers.ReLU()(layers.Conv2D(width, 3, padding="same", use_bias=False)(x))
            x = layers.MaxPooling2D()(layers.BatchNormalization(momentum=0.9)(x))
        x = layers.Flatten()(layers.Dropout(0.1)(x))
        x = layers.Dropout(0.2)(layers.Dense(128, activation="relu")(x))
        return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))

    assert _fails_with(checks.exercise_4_3(relu_first), "in block 1 ReLU comes before BatchNorm")


def test_4_3_names_a_softmax_applied_twice():
    answer = _builder(
        head=_head(
            layers.Dropout(0.1),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
            layers.Softmax(),
        )
    )
    assert _fails_with(checks.exercise_4_3(answer), "the softmax is applied twice")
