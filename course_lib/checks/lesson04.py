"""Checks for lesson 04, training."""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from course_lib.checks._core import (
    StudentCodeFailed,
    amount,
    call_pure,
    call_student,
    check_rng,
    describe,
    run_check,
    student_error,
)
from course_lib.checks.lesson03 import relu_settings
from course_lib.record import CheckResult
from course_lib.training import LEARNING_CURVES

# "accuracy" (or "acc") resolves, in Keras 3, by the shapes of the labels and the outputs:
# one-hot labels of shape (n, classes) against outputs of the same shape give categorical
# accuracy, which compares the highest output with the label's 1 (raw scores or
# probabilities alike: softmax keeps their order).
_ACCURACY_NAMES = {"accuracy", "acc", "categorical_accuracy"}


def _logits_classifier(num_classes: int = 3) -> Any:
    """A small model that ends in Dense(classes) without softmax: it outputs raw scores."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=(6, 6, 1)),
            layers.Conv2D(2, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(num_classes),
        ],
        name="tiny_logits_classifier",
    )


def _loss_name_and_logits(loss: Any) -> tuple[str | None, bool]:
    """The loss's function name (e.g. ``categorical_crossentropy``) and its from_logits."""
    import keras

    if loss is None:
        return None, False
    if isinstance(loss, str):
        try:
            loss = keras.losses.get(loss)
        except ValueError:
            return loss.lower(), False
    if isinstance(loss, functools.partial):  # partial(categorical_crossentropy, from_logits=...)
        name = getattr(loss.func, "__name__", type(loss.func).__name__)
        return name, bool(loss.keywords.get("from_logits", False))
    fn = getattr(loss, "fn", loss)
    name = getattr(fn, "__name__", type(loss).__name__)
    try:
        config = loss.get_config() if hasattr(loss, "get_config") else {}
    except Exception:  # a loss of the student's own whose config fails: its value decides
        config = {}
    return name, bool(config.get("from_logits", False))


def _loss_shown(loss: Any) -> str:
    """A loss as a student wrote it: 'categorical_crossentropy', or
    CategoricalCrossentropy(from_logits=True)."""
    if isinstance(loss, str):
        return repr(loss)
    try:
        config = loss.get_config() if hasattr(loss, "get_config") else None
    except Exception:  # a loss of the student's own whose config fails
        config = None
    if isinstance(config, dict) and "from_logits" in config:
        return f"{type(loss).__name__}(from_logits={bool(config['from_logits'])})"
    return getattr(loss, "__name__", type(loss).__name__)


def _snake(name: str) -> str:
    """``CategoricalAccuracy`` -> ``categorical_accuracy``."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _metric_names(metrics: Any) -> list[str]:
    """Names of the compiled metrics: strings as written, Keras metric objects by their class
    (``categorical_accuracy`` whatever the object was named), ``Accuracy`` as ``Accuracy``."""
    if not metrics:
        return []
    if isinstance(metrics, dict):
        metrics = [
            m for group in metrics.values() for m in (group if isinstance(group, list) else [group])
        ]
    names = []
    for metric in metrics if isinstance(metrics, list | tuple) else [metrics]:
        if isinstance(metric, str):
            names.append(metric.lower())
        elif isinstance(metric, dict):  # a serialised metric object
            class_name = metric.get("class_name", "")
            if class_name == "Accuracy":
                names.append("Accuracy")
            elif metric.get("module") == "keras.metrics" and class_name:
                names.append(_snake(class_name))
            else:
                names.append(metric.get("config", {}).get("name", class_name))
        elif type(metric).__name__ == "Accuracy":
            names.append("Accuracy")
        elif type(metric).__module__.startswith("keras."):  # a Keras metric object
            names.append(_snake(type(metric).__name__))
        else:
            names.append(getattr(metric, "__name__", type(metric).__name__))
    return names


def _is_a_model(value: Any) -> bool:
    """Does ``value`` look like a Keras model (it can be compiled)? Never raises."""
    try:
        return callable(getattr(value, "compile", None)) and hasattr(value, "layers")
    except Exception:  # an object that raises even on this question
        return False


def _schedule_problem(optimizer: Any) -> str | None:
    """The message for a learning rate that changes during training (a schedule, a function)."""
    import keras

    rate = getattr(optimizer, "_learning_rate", None)
    if rate is None or isinstance(rate, float | int | keras.Variable):
        return None
    if not (isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) or callable(rate)):
        return None
    try:
        start = f", starting at {float(np.asarray(rate(0))):g}"
    except Exception:  # a function of no argument, or one the check cannot call
        start = ""
    return (
        f"Adam's learning rate is a schedule ({type(rate).__name__}{start}) that changes it as "
        "training goes; the task fixes Adam at its default rate, 0.001, for the whole run. "
        "Keep Adam's default: optimizer='adam', or keras.optimizers.Adam() without a rate."
    )


# What keras.losses.CategoricalCrossentropy computes for this task: from raw scores, against
# the one-hot labels as they are.
_LOSS_RIGHT = {"from_logits": True, "label_smoothing": 0.0, "axis": -1}


def _loss_settings(loss: Any) -> dict[str, Any]:
    """The settings of a loss object that change its value, those not as the task needs."""
    settings = dict(getattr(loss, "_fn_kwargs", None) or {})  # axis is in no config
    try:
        settings.update(loss.get_config() if hasattr(loss, "get_config") else {})
    except Exception:  # a loss of the student's own whose config fails: its value decides
        pass
    return {
        key: value
        for key, value in settings.items()
        if key in _LOSS_RIGHT and key != "from_logits" and value != _LOSS_RIGHT[key]
    }


# Raw scores for three images of three classes, the first one's right class, and so on. The
# scores include negative ones, as a Dense layer without softmax gives.
_SCORES = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0], [-0.3, 0.2, 1.7]], np.float32)


def _loss_value(loss: Any, labels: Any, scores: Any) -> float:
    """The student's loss on one image (``labels``, ``scores`` of one row), as one number."""
    import keras

    fn = keras.losses.get(loss) if isinstance(loss, str) else loss
    return float(np.sum(np.asarray(fn(labels, scores))))


def _loss_problem(loss: Any) -> str | None:
    """When the loss does not learn what categorical cross-entropy from raw scores learns.

    Its value on one image at a time, against the cross-entropy of the softmax of the scores:
    one image, so that how a loss adds up a batch (its reduction: a mean, a sum, none) does
    not count. That only scales the steps, which Adam undoes.
    """
    import keras

    smoothing = _loss_settings(loss).get("label_smoothing")
    if isinstance(smoothing, numbers.Real) and smoothing > 0:
        return (
            f"the loss is set to label_smoothing={smoothing:g}: it trains towards targets "
            f"of {1 - smoothing:g} for the right class and a share of {smoothing:g} spread "
            "over all the classes, not towards the one-hot labels given. The task asks for "
            "plain cross-entropy: leave label_smoothing out."
        )
    one_hot = np.eye(3, dtype=np.float32)
    for label, scores in enumerate(_SCORES):
        exp = np.exp(scores.astype(np.float64) - scores.max())
        want = float(-np.log(exp[label] / exp.sum()))
        try:
            got = _loss_value(loss, one_hot[label][None], scores[None])
        except Exception as exc:
            if isinstance(exc, NotImplementedError):
                raise
            try:  # a loss that only takes integer labels: the sparse cross-entropy
                sparse = _loss_value(loss, np.array([label]), scores[None])
            except Exception:  # the one training step later says so in its own words
                return None
            if np.isclose(sparse, want, rtol=1e-2, atol=1e-4):
                return (
                    "your loss takes integer labels, one class number per image (the sparse "
                    "cross-entropy), and fails on one-hot labels such as "
                    f"{one_hot[label].astype(int).tolist()}: here the labels are one-hot rows. "
                    "Use the cross-entropy for one-hot labels."
                )
            return None
        if np.isclose(got, want, rtol=1e-2, atol=1e-4):  # a float16 loss too
            continue
        shown = [round(float(s), 2) for s in scores]
        as_probabilities = float(
            np.sum(
                np.asarray(
                    keras.losses.categorical_crossentropy(
                        one_hot[label][None], scores[None], from_logits=False
                    )
                )
            )
        )
        if np.isclose(got, as_probabilities, rtol=1e-2, atol=1e-4):
            return (
                f"for one image of class {label} with raw scores {shown}, your loss is "
                f"{got:.4g}: it reads the scores as if they were probabilities. The "
                f"cross-entropy of the softmax of those scores is {want:.4g}. Tell the loss "
                "that the outputs are raw scores: from_logits=True."
            )
        settings = ", ".join(f"{k}={v!r}" for k, v in _loss_settings(loss).items())
        changed = f" (with {settings})" if settings else ""
        return (
            f"for one image of class {label} with raw scores {shown}, your loss is "
            f"{got:.4g}, where the cross-entropy of the softmax of those scores, minus the log "
            f"of its probability for class {label}, is {want:.4g}: your loss{changed} "
            "measures something else, and the model would learn something else. Use the "
            "cross-entropy for one-hot labels, told that the outputs are raw scores."
        )
    return None


def _name_problem(loss: Any, name: str, from_logits: bool) -> str | None:
    """The message for a loss recognised by its name: the wrong encoding, yes/no, no logits."""
    import keras

    if name == "sparse_categorical_crossentropy":
        return (
            "sparse_categorical_crossentropy takes integer labels, one class number per "
            "image; here each label is a one-hot row such as [0, 0, 1, 0, ...], of shape "
            "(n, classes), and Keras stops at the first batch (a label of rank 2 where it "
            "expects rank 1). Use the cross-entropy for one-hot labels."
        )
    if name in ("binary_crossentropy", "binary_focal_crossentropy"):
        return (
            f"{name} is for yes/no outputs: it scores each output as a question of its own "
            "(is it this class?), not one choice among the classes, and its loss does not "
            "push the right class's score up against the others'. Each image has exactly one "
            "class: use the cross-entropy for one-hot labels."
        )
    if name == "categorical_crossentropy" and not from_logits:
        if isinstance(loss, str):
            return (
                f"the string {loss!r} gives the loss with its defaults, from_logits=False: it "
                "expects probabilities, the outputs of a softmax, and this model ends in "
                "Dense without softmax, so its outputs are raw scores (some negative, summing "
                "to anything). A string cannot say from_logits=True: pass the loss object, "
                "created with from_logits=True."
            )
        return (
            "your categorical cross-entropy has from_logits=False (the default): it treats "
            "the model's outputs as probabilities, but this model ends in Dense without "
            "softmax, so they are raw scores. Pass from_logits=True, and the loss applies "
            "the softmax itself."
        )
    if name != "categorical_crossentropy" and callable(getattr(keras.losses, name, None)):
        return (
            f"the loss is {name}; a classifier that picks one class per image from one-hot "
            "labels uses the categorical cross-entropy."
        )
    return None


# Learning rates for Adam that can train the lesson's CNN: section 5 compares 0.0001 to 0.01.
ADAM_RATES = (1e-5, 0.1)
ADAM_DEFAULT_RATE = 0.001  # the rate the task asks for


def exercise_4_1(compile_model: Callable[[Any], Any]) -> CheckResult:
    """compile_model(model) compiles a raw-score classifier for one-hot labels, with accuracy."""
    # Its number of classes drawn with check_rng: the same in the notebook, new in each
    # grading run
    classes = int(check_rng(41).integers(3, 11))
    model = _logits_classifier(classes)
    x = np.random.default_rng(0).random((4, 6, 6, 1), dtype=np.float32)

    def diagnose() -> str | None:
        before = np.asarray(model(x))
        try:
            returned = call_student(compile_model, model)
        except StudentCodeFailed as exc:
            if "Could not interpret optimizer identifier: <class" in str(exc):
                raise StudentCodeFailed(
                    f"{exc} Hint: that is the optimizer's class; compile takes an optimizer "
                    "made from it, keras.optimizers.Adam() with its parentheses, or "
                    "optimizer='adam'."
                ) from None
            raise
        if not model.compiled:
            if returned is not model and _is_a_model(returned):
                return (
                    "the model your function was given is still not compiled: your function "
                    f"returned {describe(returned)}, another model (a clone or a new one?). "
                    "Compile the model given, in place: model.compile(...) changes it and "
                    "returns nothing, so the function needs no return."
                )
            return (
                "the model is not compiled: call model.compile(optimizer=..., loss=..., "
                "metrics=[...])."
            )
        if not np.allclose(np.asarray(model(x)), before, rtol=1e-5, atol=1e-6):
            return (
                "your function changed what the model outputs (a softmax added to its last "
                "layer?): the task compiles the model as it is, ending in raw scores, and "
                "tells the loss so instead."
            )
        if isinstance(model.loss, Mapping):  # Keras wraps a dict in a tracking type of its own
            shown = ", ".join(
                f"{str(key)!r}: {_loss_shown(value)}" for key, value in dict(model.loss).items()
            )
            return (
                f"the loss is a dict, {{{shown}}}: a dict gives one loss to each output of a "
                "model with several, and Keras cannot train this one-output model with "
                "it. Pass the loss itself."
            )
        if isinstance(model.loss, type):
            return (
                f"the loss is the class {model.loss.__name__} itself, not a loss made from "
                f"it: create one with its parentheses, {model.loss.__name__}(...), with the "
                "settings these outputs need."
            )
        name, from_logits = _loss_name_and_logits(model.loss)
        if name is None:
            return "no loss given: pass loss=... to compile."
        problem = _name_problem(model.loss, name, from_logits) or _loss_problem(model.loss)
        if problem:
            return problem
        optimizer = type(getattr(model, "optimizer", None)).__name__
        if optimizer != "Adam":
            return (
                f"the optimizer is {optimizer}; the task asks for Adam: optimizer='adam' "
                "(or keras.optimizers.Adam())."
            )
        schedule = _schedule_problem(model.optimizer)
        if schedule:
            return schedule
        try:
            rate = float(np.asarray(model.optimizer.learning_rate))
        except Exception:  # a schedule or a value the check cannot read: not this mistake
            rate = None
        if rate is not None and not np.isclose(rate, ADAM_DEFAULT_RATE, rtol=1e-4, atol=0):
            if not ADAM_RATES[0] <= rate <= ADAM_RATES[1]:
                effect = (
                    "steps that large overshoot every minimum and the loss blows up"
                    if rate > ADAM_RATES[1]
                    else "steps that small leave the weights almost where they started"
                )
            else:
                effect = "the task fixes Adam at its default rate"
            return (
                f"Adam's learning rate is {rate:g}: {effect}. Keep Adam's default, 0.001 "
                "(optimizer='adam', or keras.optimizers.Adam() without a rate)."
            )
        try:
            config = model.get_compile_config()
        except Exception:  # a loss Keras cannot serialise (a functools.partial): as given
            config = dict(getattr(getattr(model, "_compile_config", None), "config", {}) or {})
        given = config.get("metrics")
        metric_classes = [
            m.__name__
            for m in (given if isinstance(given, list | tuple) else [given])
            if isinstance(m, type)
        ]
        if metric_classes:
            return (
                f"metrics holds the class {metric_classes[0]} itself, not a metric made from it: "
                f"create one with its parentheses, keras.metrics.{metric_classes[0]}(), or write "
                "'accuracy'."
            )
        metrics = _metric_names(given)
        weights = config.get("loss_weights")
        if (
            not metrics
            and isinstance(weights, list | tuple)
            and any(isinstance(w, str) for w in weights)
        ):
            return (
                f"no accuracy metric: your {list(weights)!r} went to loss_weights, since the "
                "third positional argument of compile is loss_weights in Keras 3, not metrics. "
                "Pass it by name: metrics=[...]."
            )
        if "Accuracy" in metrics:
            return (
                "keras.metrics.Accuracy() counts exact equality of output and label, which "
                "raw scores never reach: pass the string 'accuracy' and Keras picks the "
                "accuracy for one-hot labels."
            )
        if "sparse_categorical_accuracy" in metrics:
            return (
                "sparse_categorical_accuracy compares the highest output with an integer "
                "label, one class number per image; given one-hot rows Keras stops at the first "
                "batch, or, when a batch holds as many images as there are classes, reports a "
                "wrong figure. Use metrics=['accuracy'] (with one-hot labels Keras picks "
                "categorical accuracy) or 'categorical_accuracy'."
            )
        if not _ACCURACY_NAMES.intersection(metrics):
            other = next((m for m in metrics if "acc" in m.lower()), None)
            if other is not None and "binary" in other.lower():
                return (
                    f"{other} is the accuracy of yes/no outputs: it cuts each of the "
                    f"{classes} outputs at 0.5 and compares it with its 0 or 1, so the many "
                    "0s of a one-hot row count as right answers. It is not the share of "
                    "images whose class is right: use metrics=['accuracy']."
                )
            if other is not None:
                return (
                    f"{other} is not the share of images whose class is right: use "
                    "metrics=['accuracy'], and Keras picks the accuracy for one-hot labels."
                )
            return (
                "no accuracy metric: add metrics=['accuracy'] so that fit reports it every epoch."
            )
        labels = np.eye(classes, dtype=np.float32)[[0, 1, 2, 1]]
        # One step run eagerly: the same arithmetic, without tracing a graph for a single step.
        model.run_eagerly = True
        try:
            model.train_on_batch(x, labels)
        except Exception as exc:  # whatever the compile set-up broke, say so
            raise StudentCodeFailed(
                f"one training step on one-hot labels failed: {student_error(exc)}"
            ) from None
        return None

    return run_check(
        "4.1",
        diagnose,
        "categorical cross-entropy from raw scores (from_logits=True), Adam at 0.001, and "
        "accuracy reported.",
    )


# Exercise 4.2's curves (course_lib.training.LEARNING_CURVES): A overfits (its validation loss
# is lowest at epoch 7, after a bump at epoch 6, while its validation accuracy peaks later, at
# epoch 9), B is too small a model, C still learns.
VERDICTS = ("overfitting", "underfitting", "still improving")
_SYNONYMS = {
    "overfitting": "overfitting", "overfit": "overfitting", "overfits": "overfitting",
    "underfitting": "underfitting", "underfit": "underfitting", "underfits": "underfitting",
    "still improving": "still improving", "improving": "still improving",
    "still learning": "still improving",
}  # fmt: skip


def _verdict(value: Any) -> str | None:
    """A verdict in its canonical spelling ('Over-fitting ' -> 'overfitting'), else None."""
    if not isinstance(value, str):
        return None
    words = " ".join(value.lower().replace("-", "").replace("_", " ").split())
    return _SYNONYMS.get(words)


def _epoch(series: Sequence[float], best: str) -> int:
    """1-based epoch of the lowest (best='min') or highest value."""
    return int(np.argmin(series) if best == "min" else np.argmax(series)) + 1


def _verdict_problem(name: str, got: str) -> str | None:
    curve = LEARNING_CURVES[name]
    loss, val_loss = curve["loss"], curve["val_loss"]
    best = _epoch(val_loss, "min")
    expected = {"A": "overfitting", "B": "underfitting", "C": "still improving"}[name]
    if got == expected:
        return None
    if name == "A" and got == "still improving":
        return (
            "A's training loss is still falling, but its validation loss has climbed from "
            f"{val_loss[best - 1]} "
            f"(epoch {best}) to {val_loss[-1]}: every epoch after {best} made it worse on "
            "new images."
        )
    if name == "A":
        return (
            f"A's training loss reaches {loss[-1]}, so the model fits its training images "
            "very well: capacity "
            f"is not what it lacks. Look at its validation loss after epoch {best}."
        )
    if name == "B" and got == "overfitting":
        return (
            "B's validation loss never climbs; it stays as high as its training loss "
            f"(both about {loss[-1]}): "
            "the model cannot fit even the images it trains on."
        )
    if name == "B":
        return (
            f"B's training loss has stayed between {min(loss[-5:])} and {max(loss[-5:])} "
            "for the last five "
            "epochs: more epochs will not lower it. A model that cannot fit its own "
            "training images needs "
            "more capacity."
        )
    if got == "overfitting":
        return (
            "C's validation loss rose once (epoch 6) and fell again; it is lowest at the "
            "last epoch, "
            f"{len(val_loss)}: a one-epoch bump is noise, not overfitting."
        )
    return (
        f"C's training loss is still falling ({loss[-2]} -> {loss[-1]} in the last epoch) "
        "and so is its "
        "validation loss: this model has not reached its limit yet."
    )


def _best_epoch_problem(answer: Any) -> str | None:
    curve = LEARNING_CURVES["A"]
    expected = _epoch(curve["val_loss"], "min")
    if answer is None:
        return "best_epoch_a is None: set it to the epoch number (1 for the first epoch)."
    if hasattr(answer, "numpy"):  # a TensorFlow scalar
        answer = answer.numpy()
    if isinstance(answer, np.ndarray) and answer.ndim == 0:
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, int | np.integer | float | np.floating):
        return f"best_epoch_a should be an epoch number (an int), got {type(answer).__name__}."
    if not float(answer).is_integer():
        return (
            f"best_epoch_a = {answer} looks like a loss or an accuracy; give the epoch number "
            "(the x-axis) where A's validation loss is lowest."
        )
    answer = int(answer)
    if answer == expected:
        return None
    if answer == expected - 1:
        return (
            f"{answer} is the 0-based index; epochs are counted from 1, as Keras prints them "
            "('Epoch 1/15')."
        )
    if answer == _epoch(curve["val_accuracy"], "max"):
        return (
            f"epoch {answer} has A's highest validation accuracy; accuracy only counts "
            "right answers and "
            "moves in steps. Stop where the validation loss is lowest."
        )
    if answer == len(curve["loss"]):
        return (
            f"epoch {answer} is the last one, where the training loss is lowest: the "
            "training loss keeps "
            "falling while the model overfits. Look at the validation loss."
        )
    first_rise = next(
        i
        for i in range(1, len(curve["val_loss"]))
        if curve["val_loss"][i] > curve["val_loss"][i - 1]
    )
    if answer == first_rise:
        return (
            f"epoch {answer} is just before A's validation loss first rises, but it falls "
            "lower again "
            "after that: the best epoch is the lowest point over the whole run."
        )
    return f"best_epoch_a = {answer}: that is not where A's validation loss is lowest."


def _listed(items: list[str]) -> str:
    """'A', 'A' and 'B', 'A', 'B' and 'C'."""
    shown = [repr(item) for item in items]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def _keys_problem(verdicts: Mapping[Any, Any]) -> str | None:
    """When the dict's keys are not exactly the curves' names: which are missing, which extra."""
    missing = [name for name in LEARNING_CURVES if name not in verdicts]
    extra = [key for key in verdicts if key not in LEARNING_CURVES]
    if not missing and not extra:
        return None
    parts = []
    if missing:
        parts.append(f"no entry for curve{'s' if len(missing) > 1 else ''} {_listed(missing)}")
    if extra:
        parts.append(f"the extra key{'s' if len(extra) > 1 else ''} {_listed(extra)}")
    return (
        f"verdicts has {', and '.join(parts)}: it holds exactly one verdict per curve, under "
        f"the keys {_listed(list(LEARNING_CURVES))}."
    )


def _spelling_problem(verdicts: Mapping[str, Any]) -> str | None:
    """The right diagnoses written otherwise than the task's three strings ('overfit',
    'Improving'), which code matching those strings would not find."""
    respelled = [
        f"verdicts[{name!r}] = {verdicts[name]!r} for {_verdict(verdicts[name])!r}"
        for name in LEARNING_CURVES
        if verdicts[name] != _verdict(verdicts[name])
    ]
    if not respelled:
        return None
    return (
        f"the diagnoses are right, but written otherwise than the task writes them: "
        f"{'; '.join(respelled)}. Each verdict is exactly one of the three strings "
        + ", ".join(repr(v) for v in VERDICTS)
        + ", as code that compares them expects."
    )


def exercise_4_2(verdicts: Any, best_epoch_a: Any) -> CheckResult:
    """verdicts: {'A': ..., 'B': ..., 'C': ...} from VERDICTS; best_epoch_a: A's epoch of lowest
    val_loss."""

    def diagnose() -> str | None:
        if not isinstance(verdicts, Mapping):
            return (
                f"verdicts should be a dict such as {{'A': 'overfitting', 'B': ..., 'C': ...}}, "
                f"got {type(verdicts).__name__}."
            )
        problem = _keys_problem(verdicts)
        if problem:
            return problem
        for name in LEARNING_CURVES:
            got = _verdict(verdicts[name])
            if got is None:
                return (
                    f"verdicts[{name!r}] = {verdicts[name]!r} is not one of the three verdicts: "
                    + ", ".join(repr(v) for v in VERDICTS)
                    + "."
                )
            problem = _verdict_problem(name, got)
            if problem:
                return problem
        return _spelling_problem(verdicts) or _best_epoch_problem(best_epoch_a)

    return run_check(
        "4.2",
        diagnose,
        "A overfits after its best epoch, B is too small a model, C has not finished learning.",
    )


# Exercise 4.3: the regularised CNN, compared layer by layer with the library's copy.
def _called_layers(model: Any) -> list[Any]:
    """The model's layers in the order they run. A functional model's come from its graph, so
    that a layer called more than once (one MaxPooling2D for every block) counts at each call,
    and so does an operation called on a Keras tensor (keras.activations.relu(x), which the
    check refuses); other models' as they list them."""
    import keras

    nodes = getattr(model, "_nodes_by_depth", None)
    if isinstance(model, keras.Sequential) or not isinstance(nodes, dict):
        return list(model.layers)
    return [node.operation for depth in sorted(nodes, reverse=True) for node in nodes[depth]]


def _flat_layers(model: Any) -> list[Any]:
    """The model's layers in order, with nested models (blocks built as Sequentials) opened up."""
    import keras

    out = []
    for layer in _called_layers(model):
        if isinstance(layer, keras.Model):
            out += _flat_layers(layer)
        elif type(layer).__name__ != "InputLayer":
            out.append(layer)
    return out


def _kind(layer: Any) -> str:
    """A short name per layer: 'conv', 'conv+relu' (activation inside), 'bn', 'relu', 'pool', ..."""
    name = type(layer).__name__
    activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
    if name == "Conv2D":
        return "conv" if activation == "linear" else f"conv+{activation}"
    if name == "Dense":
        return "dense" if activation == "linear" else f"dense+{activation}"
    if name == "Activation":
        return activation
    return {
        "BatchNormalization": "bn",
        "ReLU": "relu",
        "MaxPooling2D": "pool",
        "Dropout": "dropout",
        "Flatten": "flatten",
        "Softmax": "softmax",
    }.get(name, name)


@functools.lru_cache(maxsize=4)
def _reference_model(input_shape: tuple[int, ...], num_classes: int) -> Any:
    """The library's model, built once per shape: the check only reads it and calls it."""
    from course_lib import models

    return models.build_better_cnn(input_shape, num_classes)


def _order_problem(kinds: list[str], expected: list[str], n_blocks: int) -> str | None:
    if kinds == expected:
        return None
    convs = sum(k.startswith("conv") for k in kinds)
    if convs != n_blocks:
        return (
            f"your model has {convs} Conv2D layers; the task has {n_blocks} blocks, one Conv2D "
            "each."
        )
    if any(k.startswith("conv+") for k in kinds):
        return (
            "a Conv2D has its own activation (activation='relu'), so the ReLU comes before "
            "BatchNorm: "
            "leave the Conv2D linear and put BatchNormalization, then ReLU, after it."
        )
    if "bn" not in kinds:
        return "there is no BatchNormalization: add one after each Conv2D, before the ReLU."
    blocks = [i for i, k in enumerate(kinds) if k == "conv"] + [
        kinds.index("flatten") if "flatten" in kinds else len(kinds)
    ]
    for b, (start, end) in enumerate(zip(blocks, blocks[1:], strict=False), start=1):
        block = [k for k in kinds[start:end] if k != "dropout"]
        if block[:4] == ["conv", "bn", "relu", "pool"]:
            continue
        if "bn" in block and "relu" in block and block.index("relu") < block.index("bn"):
            return (
                f"in block {b} ReLU comes before BatchNorm: normalise the convolution's "
                "output first "
                "(Conv2D -> BatchNormalization -> ReLU), so that ReLU cuts at the normalised zero."
            )
        if "bn" in block and "pool" in block and block.index("pool") < block.index("bn"):
            return (
                f"in block {b} BatchNorm comes after pooling; it should normalise the "
                "convolution's "
                "output: Conv2D -> BatchNormalization -> ReLU -> MaxPooling2D."
            )
        return f"block {b} is {' -> '.join(block)}; each block is conv -> bn -> relu -> pool."
    dropouts = [i for i, k in enumerate(kinds) if k == "dropout"]
    if not dropouts:
        return "there is no Dropout: add one after the last block and one before the output layer."
    if kinds[-1] == "dropout":
        return (
            "a Dropout comes after the output layer: it would zero some of the class "
            "probabilities. "
            "Put it before the last Dense."
        )
    if any(i < blocks[-2] for i in dropouts):
        return (
            "a Dropout sits inside the convolution blocks; the rules put one after the last "
            "block and one after the hidden Dense layer's ReLU, before the output layer."
        )
    for i in range(len(kinds) - 2):
        if kinds[i : i + 3] == ["dense", "dropout", "relu"]:
            return (
                "the second Dropout sits between the hidden Dense layer and its ReLU; the "
                "task puts it after the hidden layer's ReLU: Dense(128, activation='relu') "
                "(or Dense, then ReLU), then Dropout(0.2)."
            )
    if kinds[-1] == "dense":
        return (
            "the last Dense has no activation, so the model outputs raw scores (logits), not "
            "class probabilities: give it activation='softmax'."
        )
    if kinds[-1].startswith("dense+") and kinds[-1] != "dense+softmax":
        return (
            f"the last Dense has activation='{kinds[-1].removeprefix('dense+')}'; class "
            "probabilities come from activation='softmax'."
        )
    if kinds[-2:] == ["dense+softmax", "softmax"]:
        return (
            "the last Dense already has activation='softmax', and a Softmax layer follows it: "
            "the softmax is applied twice, which flattens the probabilities. Keep one of them."
        )
    if kinds[-1] != "dense+softmax":
        return (
            f"the model ends with {kinds[-1]}; end with Dense(num_classes, activation='softmax')."
        )
    return f"your layers are {' -> '.join(kinds)};\nexpected {' -> '.join(expected)}."


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")


def _settings_problem(layers: list[Any], reference: list[Any]) -> str | None:
    seen: dict[str, int] = {}
    for mine, ref in zip(layers, reference, strict=True):
        kind = _kind(ref)
        seen[kind] = seen.get(kind, 0) + 1
        nth = _ORDINALS[seen[kind] - 1] if seen[kind] <= len(_ORDINALS) else f"#{seen[kind]}"
        if kind == "conv":
            if mine.filters != ref.filters or tuple(mine.kernel_size) != tuple(ref.kernel_size):
                widths = [la.filters for la in reference if _kind(la) == "conv"]
                return (
                    f"the {nth} Conv2D (block {seen[kind]}) has {mine.filters} filters of "
                    f"{mine.kernel_size}; the blocks have {', '.join(map(str, widths))} filters "
                    "of 3x3."
                )
            if mine.padding != "same":
                return (
                    "a Conv2D uses padding='valid', which trims the border: 28 -> 26 -> 13 "
                    "-> 11 -> 5 -> 3 -> 1, "
                    "and little is left for the last block. Use padding='same'."
                )
            if mine.use_bias:
                return (
                    "a Conv2D has a bias (use_bias=True, the default); BatchNormalization "
                    "subtracts the mean "
                    "and adds its own shift right after, so the bias does nothing: use_bias=False."
                )
        elif kind == "bn" and not np.isclose(mine.momentum, ref.momentum):
            return (
                f"BatchNormalization(momentum={mine.momentum}); the task uses "
                f"{ref.momentum}. The moving "
                "averages used at inference weigh about the last 1 / (1 - momentum) "
                "batches: about 10 with "
                "0.9, 100 with 0.99, which on a small training set lag behind the weights "
                "for epochs."
            )
        elif kind == "bn" and not (mine.center and mine.scale):
            missing = [
                f"{flag}=False drops {what}"
                for flag, ok, what in (
                    (
                        "center",
                        mine.center,
                        "β, the learned shift that stands in for the convolution's bias",
                    ),
                    ("scale", mine.scale, "γ, the learned scale"),
                )
                if not ok
            ]
            return (
                f"BatchNormalization: {'; '.join(missing)}. The task keeps the default, "
                f"{' and '.join(f.split('=')[0] + '=True' for f in missing)}: leave it out."
            )
        elif kind == "pool" and (
            tuple(mine.pool_size) != tuple(ref.pool_size)
            or tuple(mine.strides) != tuple(ref.strides)
            or mine.padding != ref.padding
        ):
            return (
                f"a MaxPooling2D has pool size {tuple(mine.pool_size)}, strides "
                f"{tuple(mine.strides)} and padding='{mine.padding}'; the task uses "
                "MaxPooling2D(), 2x2 windows with stride 2, which halves the size."
            )
        elif kind == "dropout" and not np.isclose(mine.rate, ref.rate):
            rates = [la.rate for la in reference if _kind(la) == "dropout"]
            given = [la.rate for la in layers if _kind(la) == "dropout"]
            if len(given) == 2 and np.allclose(given, rates[::-1]):
                return (
                    f"the two Dropout rates are swapped: yours are {given[0]} after the blocks "
                    f"and {given[1]} before the output; the task asks for {rates[0]} after the "
                    f"blocks and {rates[1]} before the output."
                )
            where = "after the blocks" if seen[kind] == 1 else "before the output"
            return (
                f"the {nth} Dropout ({where}) has rate {mine.rate}; the task asks for "
                f"{rates[0]} after the blocks and {rates[1]} before the output."
            )
        elif kind.startswith("dense") and mine is not layers[-1] and mine.units != ref.units:
            return f"the hidden Dense layer has {mine.units} units; the task asks for {ref.units}."
    return None


def _differing_setting(model: Any, reference: Any) -> str | None:
    """The first setting of a layer that differs from the stated model's, as words; None when
    the layers do not pair up one to one or none differs.

    Settings that never change what a layer computes from given weights (its name, dtype,
    initialisers, regularisers, constraints, seed) are left out.
    """

    def counts(key: str) -> bool:
        return key not in ("name", "dtype", "trainable", "seed") and not key.endswith(
            ("_initializer", "_regularizer", "_constraint")
        )

    layers, ref_layers = _flat_layers(model), _flat_layers(reference)
    if [type(la) for la in layers] != [type(la) for la in ref_layers]:
        return None
    for position, (mine, ref) in enumerate(zip(layers, ref_layers, strict=True), start=1):
        try:
            config, ref_config = mine.get_config(), ref.get_config()
        except Exception:  # a layer whose config fails: the outputs alone tell
            continue
        for key, value in ref_config.items():
            if counts(key) and key in config and config[key] != value:
                name = type(ref).__name__
                return (
                    f"layer {position}, a {name}, has {key}={config[key]!r} where the stated "
                    f"model's has {key}={value!r}"
                )
    return None


def _shown_setting(value: Any) -> str:
    """A setting as get_config gives it, as it is written: ``L2(l2=0.01)``, not its dict."""
    if isinstance(value, dict) and isinstance(value.get("class_name"), str):
        config = value.get("config") if isinstance(value.get("config"), dict) else {}
        shown = (
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v!r}" for k, v in config.items()
        )
        return f"{value['class_name']}({', '.join(shown)})"
    return repr(value)


def _training_setting(model: Any, reference: Any) -> str | None:
    """A weight penalty or constraint of the student's model that the stated one does not
    have, as words; None when there is none.

    Outputs compared with the same weights cannot show them: they change the training, the
    loss it minimises (a regulariser) or the weights after each step (a constraint). Layers
    are paired by type, in order (the order was checked before).
    """
    mine_by_type: dict[type, int] = {}
    ref_layers = _flat_layers(reference)
    for position, mine in enumerate(_flat_layers(model), start=1):
        occurrence = mine_by_type.get(type(mine), 0)
        mine_by_type[type(mine)] = occurrence + 1
        same_type = [la for la in ref_layers if type(la) is type(mine)]
        try:
            config = mine.get_config()
            ref_config = same_type[occurrence].get_config() if occurrence < len(same_type) else {}
        except Exception:  # a layer whose config fails: the outputs alone tell
            continue
        for key, value in config.items():
            if not key.endswith(("_regularizer", "_constraint")) or value is None:
                continue
            if value == ref_config.get(key):
                continue
            effect = (
                "its penalty is added to the loss the model is trained on"
                if key.endswith("_regularizer")
                else "it changes the weights after every training step"
            )
            return (
                f"layer {position}, a {type(mine).__name__}, has {key}="
                f"{_shown_setting(value)}, which the task does not set: with the same weights "
                f"the outputs are the same, but {effect}, so the trained model differs"
            )
    return None


def _subclassed(model: Any) -> bool:
    """Is ``model`` an instance of the student's own subclass of keras.Model, whose layers run
    in its own ``call``, so that it has no input shape of its own?"""
    import keras

    if isinstance(model, keras.Sequential) or type(model).__module__.startswith("keras."):
        return False
    try:
        model.input_shape  # noqa: B018 (a subclass that builds a functional graph has one)
    except (AttributeError, ValueError):
        return True
    return False


def _model_problem(
    build: Callable[..., Any], input_shape: tuple[int, ...], num_classes: int
) -> str | None:
    import keras

    model = call_student(build, input_shape, num_classes)
    if model is None:
        return "build_better_cnn returned None: did you forget to `return` the model?"
    if not isinstance(model, keras.Model):
        return f"build_better_cnn should return a keras Model, got {type(model).__name__}."
    if _subclassed(model):
        return (
            f"your model is a subclass of keras.Model ({type(model).__name__}), whose layers only "
            "its call method connects: build it with keras.Sequential, or with keras.Input and "
            "keras.Model(inputs, outputs) as the baseline is built, so that its layers read in "
            "order (the grader, too, rebuilds a model from its layers)."
        )
    try:
        model_input, model_output = model.input_shape, model.output_shape
    except (AttributeError, ValueError):
        return (
            "your model does not know its input shape yet: start it with "
            "keras.Input(shape=input_shape), "
            "so that Keras can build every layer and count the parameters."
        )
    if not isinstance(model_input, tuple) or not isinstance(model_output, tuple):
        return "your model should have one input and one output."
    if tuple(model.input_shape[1:]) != tuple(input_shape):
        return (
            f"for input_shape={input_shape} your model takes {tuple(model.input_shape[1:])}: "
            "use the input_shape argument in keras.Input."
        )
    if model.output_shape[-1] != num_classes:
        return (
            f"for num_classes={num_classes} your model has {model.output_shape[-1]} outputs: "
            "use the num_classes argument in the last Dense."
        )
    reference = _reference_model(input_shape, num_classes)
    layers, ref_layers = _flat_layers(model), _flat_layers(reference)
    functions = [layer for layer in layers if not isinstance(layer, keras.layers.Layer)]
    if functions:
        return (
            f"your model applies a function ({type(functions[0]).__name__}, from keras.activations "
            "or keras.ops) to a Keras tensor: an operation, not a layer. Make every step a "
            "Keras layer, layers.ReLU() or activation='relu' (the grader rebuilds a model from "
            "Keras's layers only)."
        )
    # A Dense followed by a separate ReLU or softmax layer is the same step as
    # Dense(activation=...).
    kinds: list[str] = []
    dense_layers: list[Any] = []
    for layer in layers:
        kind = _kind(layer)
        if kind in ("relu", "softmax") and kinds and kinds[-1] == "dense":
            kinds[-1] = f"dense+{kind}"
            continue
        kinds.append(kind)
        dense_layers.append(layer)
    layers = dense_layers
    ref_kinds = [_kind(la) for la in ref_layers]
    # The first Dropout before or after Flatten is the same network: Flatten only reshapes.
    at = ref_kinds.index("flatten") - 1
    if kinds[at : at + 3] == ["flatten", "dropout", "dense+relu"]:
        kinds[at : at + 2] = ["dropout", "flatten"]
        layers[at : at + 2] = layers[at + 1], layers[at]
    problem = _order_problem(kinds, ref_kinds, sum(kind == "conv" for kind in ref_kinds))
    if problem:
        return problem
    problem = _settings_problem(layers, ref_layers)
    if problem:
        return problem
    for position, layer in enumerate(_flat_layers(model), start=1):
        settings = relu_settings(layer)
        if settings:
            return (
                f"layer {position}, a ReLU, has {settings}: another activation than the task's "
                "ReLU(), max(x, 0). Leave out what the task does not set."
            )
    if model.count_params() != reference.count_params():
        where = ""
        for mine, ref in zip(layers, ref_layers, strict=False):
            params = mine.count_params() if hasattr(mine, "count_params") else 0  # an op: none
            if params != ref.count_params():
                where = (
                    f": a {type(ref).__name__} has {params:,} where the stated "
                    f"one's has {ref.count_params():,}"
                )
                break
        return (
            f"your model has {model.count_params():,} parameters; the stated one has "
            f"{reference.count_params():,}{where}."
        )
    return None


def _fresh_better_cnn_case() -> tuple[tuple[int, int, int], int]:
    """One more (input_shape, num_classes), drawn with :func:`check_rng`: the same in the
    notebook, new in each grading run. Images of 24 to 48 pixels a side, not square, with 1 to
    4 channels, and 2 to 20 classes other than 7 and 10."""
    rng = check_rng(43)
    while True:
        height, width = (int(side) for side in rng.integers(24, 49, 2))
        channels, classes = int(rng.integers(1, 5)), int(rng.integers(2, 21))
        if height != width and classes not in (7, 10):
            return (height, width, channels), classes


def exercise_4_3(build_better_cnn: Callable[..., Any]) -> CheckResult:
    """build_better_cnn(input_shape, num_classes): Conv -> BN -> ReLU -> pool blocks, dropout,
    softmax.

    Checked on three input shapes and class counts, the last drawn afresh in each grading run
    (so nothing is hard-coded), on the layer order,
    where BatchNorm and Dropout sit, the settings, the parameter count, and finally, given the
    library copy's weights, on producing the same outputs as ``models.build_better_cnn``.
    """
    outcome: dict[str, Any] = {}

    # The lesson's shape, another stated one, and a fresh one (the same in the notebook, new
    # in each grading run)
    shapes = [((28, 28, 1), 10), ((32, 32, 3), 7), _fresh_better_cnn_case()]

    def diagnose() -> str | None:
        for input_shape, num_classes in shapes:
            problem = _model_problem(build_better_cnn, input_shape, num_classes)
            if problem:
                return problem
        model = call_student(build_better_cnn, (28, 28, 1), 10)
        reference = _reference_model((28, 28, 1), 10)
        try:
            model.set_weights(reference.get_weights())
        except ValueError as exc:
            return f"your weights do not line up with the stated model's: {student_error(exc)}"
        # Images in [0, 1], as the lesson's, and the same in 0-255, whose activations reach
        # whatever cap a layer may put on them (ReLU's max_value, say)
        x = np.random.default_rng(3).random((16, 28, 28, 1), dtype=np.float32)
        x = np.concatenate([x, 255 * x])
        try:
            yours = np.asarray(model(x, training=False))
        except Exception as exc:  # whatever the model does wrong, say so instead of crashing
            raise StudentCodeFailed(f"calling your model failed: {student_error(exc)}") from None
        difference = float(np.max(np.abs(yours - np.asarray(reference(x, training=False)))))
        if difference > 1e-5:
            lead = (
                "with the same weights your model's outputs differ from the stated model's by "
                f"up to {amount(difference)}"
            )
            setting = _differing_setting(model, reference)
            if setting:
                return f"{lead}: {setting}. Leave out what the task does not set."
            return f"{lead}: compare each layer's settings with the task."
        setting = _training_setting(model, reference)
        if setting:
            return f"{setting}. Leave out what the task does not set."
        outcome.update(params=reference.count_params(), difference=difference)
        return None

    result = run_check("4.3", diagnose, "")
    if result.passed:
        result = run_check(
            "4.3",
            lambda: None,
            f"the same network as models.build_better_cnn: {outcome['params']:,} parameters, and "
            "with the same weights the largest difference between outputs is "
            f"{outcome['difference']:.1e}.",
        )
    return result


# Exercise 4.4: what Keras' EarlyStopping(patience, restore_best_weights=True) does, epoch by epoch.
_STOPPING_CASES: tuple[tuple[tuple[float, ...], int], ...] = (
    ((0.90, 0.70, 0.60, 0.62, 0.65, 0.70, 0.80), 2),  # stops 2 epochs after the best: (5, 3)
    ((0.80, 0.60, 0.60, 0.61, 0.59, 0.70, 0.72, 0.75), 2),  # a tie is no improvement: (4, 2)
    ((0.90, 0.80, 0.85, 0.70, 0.65), 2),  # never stops: all 5 epochs run, the last is best
    ((0.50, 0.60, 0.70, 0.30), 2),  # stops at 3, before the lowest value ever comes
    ((0.50, 0.40, 0.45), 5),  # patience longer than the run
    ((0.60, 0.50, 0.55, 0.40, 0.45, 0.47), 1),  # patience 1
    # epochs without improvement, but never 2 in a row: all 9 run, the last is best
    ((1.00, 1.10, 0.90, 1.00, 0.80, 0.85, 0.70, 0.75, 0.60), 2),
    # the loss falls after a bump, yet never below epoch 1: (4, 1)
    ((0.50, 0.90, 0.80, 0.70, 0.60, 0.55, 0.52), 3),
    # improvements of 1e-5: any loss strictly lower is one, however small: (6, 4)
    ((0.50000, 0.49999, 0.49998, 0.49997, 0.60, 0.61), 2),
    # patience=0, EarlyStopping's default: it stops at the first epoch without one: (3, 2)
    ((0.70, 0.60, 0.65, 0.50, 0.55), 0),
)


def _fresh_stopping_cases(count: int = 2) -> list[tuple[tuple[float, ...], int]]:
    """``count`` more runs, drawn with :func:`check_rng`: the same in the notebook, new in each
    grading run, so that answers written in for the runs above do not pass.

    Each is a validation loss shaped like a real run's: it falls, bottoms out, then rises, with
    noise and two decimals (ties happen), over 6 to 11 epochs, with a patience of 1 to 3. Each
    stops early and restores an epoch before the last one run.
    """
    rng = check_rng(44)
    cases: list[tuple[tuple[float, ...], int]] = []
    while len(cases) < count:
        epochs, patience = int(rng.integers(6, 12)), int(rng.integers(1, 4))
        epoch = np.arange(epochs)
        lowest = int(rng.integers(2, epochs - 1))  # where the trend bottoms out, from 0
        trend = rng.uniform(0.6, 1.2) * np.exp(-rng.uniform(0.15, 0.35) * np.minimum(epoch, lowest))
        trend += rng.uniform(0.02, 0.08) * np.maximum(epoch - lowest, 0)  # overfitting
        noisy = np.round(trend + rng.normal(0.0, 0.03, epochs), 2)
        val_loss = tuple(float(value) for value in noisy)
        run, restored = _mistaken_stop(val_loss, patience, _lower)  # Keras's rule
        if run == epochs or restored == run or (val_loss, patience) in [*_STOPPING_CASES, *cases]:
            continue
        cases.append((val_loss, patience))
    return cases


def keras_early_stopping(val_loss: Sequence[float], patience: int) -> tuple[int, int]:
    """What Keras' own ``EarlyStopping`` does with these validation losses: (epochs run, epoch
    restored).

    The callback is fed the losses one epoch at a time, as ``fit`` would, on a stand-in model;
    both numbers count epochs from 1.
    """
    import keras

    model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
    callback = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=patience, restore_best_weights=True
    )
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin()
    epochs_run = 0
    for epoch, value in enumerate(val_loss):
        callback.on_epoch_end(epoch, {"val_loss": float(value)})
        epochs_run = epoch + 1
        if model.stop_training:
            break
    return epochs_run, callback.best_epoch + 1


def _pair(answer: Any) -> tuple[int | float, int | float] | str:
    """The student's (epochs run, epoch restored) as two whole numbers (ints, or floats as the
    student returned them), or what is wrong with it."""
    if answer is None:
        return "your function returned None: return the two numbers, (epochs_run, restored_epoch)."
    if isinstance(answer, int | np.integer | float | np.floating):
        return (
            f"your function returned one number, {answer}; return two: (epochs_run, "
            "restored_epoch)."
        )
    if isinstance(answer, Mapping | str):  # two keys or two letters unpack, but are no epochs
        return f"return a pair (epochs_run, restored_epoch), got {describe(answer)}."
    try:
        first, second = answer
    except Exception:  # not a pair, or an object that cannot even be unpacked
        return f"return a pair (epochs_run, restored_epoch), got {describe(answer)}."
    values = []
    for value in (first, second):
        if hasattr(value, "numpy"):
            value = value.numpy()
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | np.integer | float | np.floating)
            or (isinstance(value, float | np.floating) and not float(value).is_integer())
        ):
            return f"both numbers should be epoch numbers (ints), got {answer!r}."
        values.append(int(value) if isinstance(value, int | np.integer) else float(value))
    return values[0], values[1]


def _floats_problem(answer: tuple[Any, Any]) -> str | None:
    """The message for right epochs returned as floats (5.0, 3.0): counts are whole numbers."""
    if all(isinstance(value, int) for value in answer):
        return None
    shown = ", ".join(f"{value!r}" for value in answer)
    return (
        f"the epochs are right, but you return floats ({shown}); the task asks for ints: an "
        "epoch number or a count of epochs is whole. Use // instead of /, or int(...)."
    )


def _mistaken_stop(
    val_loss: Sequence[float],
    patience: int,
    improves: Callable[[float, float, float], bool],
    restart: bool = True,
) -> tuple[int, int]:
    """(epochs run, epoch restored) by an early stopping whose rule for an improvement,
    ``improves(loss, best loss so far, loss of the epoch before)``, may be a student's."""
    best, wait = 1, 0
    for epoch in range(2, len(val_loss) + 1):
        if improves(val_loss[epoch - 1], val_loss[best - 1], val_loss[epoch - 2]):
            best, wait = epoch, 0 if restart else wait
        else:
            wait += 1
            if wait >= patience:
                return epoch, best
    return len(val_loss), best


def _ties_count(val_loss: Sequence[float], patience: int) -> tuple[int, int]:
    """The answer of someone who counts an equal loss as an improvement (``<=``, not ``<``)."""
    return _mistaken_stop(val_loss, patience, lambda loss, best, _: loss <= best)


def _never_reset(val_loss: Sequence[float], patience: int) -> tuple[int, int]:
    """The answer of someone who counts every epoch without improvement, never restarting."""
    return _mistaken_stop(val_loss, patience, lambda loss, best, _: loss < best, restart=False)


def _against_previous(val_loss: Sequence[float], patience: int) -> tuple[int, int]:
    """The answer of someone who compares each loss with the epoch before, not the best."""
    return _mistaken_stop(val_loss, patience, lambda loss, _, before: loss < before)


def _waited(best: int, stopped: int) -> str:
    after = f"epoch {stopped}" if stopped == best + 1 else f"epochs {best + 1} to {stopped}"
    return f"the best was epoch {best}, and {after} brought no lower loss"


def _stopping_problem(
    val_loss: tuple[float, ...], patience: int, got: tuple[int, int]
) -> str | None:
    run, restored = keras_early_stopping(val_loss, patience)
    if got == (run, restored):
        return None
    shown = f"for val_loss {list(val_loss)} and patience={patience}"
    best = (
        min(range(len(val_loss)), key=lambda i: (val_loss[i], i)) + 1
    )  # the lowest value anywhere
    if got == (run - 1, restored - 1):
        return (
            f"{shown} you returned {got}, counted from 0; count epochs from 1 as Keras prints "
            f"them: {(run, restored)}."
        )
    if got[1] == restored and got[0] == run + 1:
        return (
            f"{shown} you stop at epoch {got[0]}, one too late: Keras stops at the end of "
            f"epoch {run}: "
            f"{_waited(restored, run)}."
        )
    if got[1] == restored and got[0] == run - 1:
        return (
            f"{shown} you stop at epoch {got[0]}, one too early: after the best epoch, {restored}, "
            f"Keras waits {patience} full epochs without improvement and stops at the end "
            f"of epoch {run}."
        )
    if got[1] == restored and got[0] > len(val_loss):
        return (
            f"{shown} you return {got[0]} epochs run, but the run has only "
            f"{len(val_loss)}: if patience "
            "never runs out, training simply ends after the last epoch."
        )
    if got[0] == run and got[1] == run and restored != run:
        return (
            f"{shown} you restore epoch {got[1]}, the last one run; "
            "restore_best_weights=True gives back "
            f"the weights of the best epoch, {restored}."
        )
    if got[0] == len(val_loss) and run < len(val_loss):
        default = (
            ", with patience=0 (EarlyStopping's default) at the first epoch without a lower loss"
            if patience == 0
            else ""
        )
        return (
            f"{shown} you let all {len(val_loss)} epochs run; Keras stops at the end of "
            f"epoch {run}{default}: {_waited(restored, run)}."
        )
    if got[1] == best and best > run:
        return (
            f"{shown} you restore epoch {got[1]}, the lowest value of the whole list, but "
            "training stopped "
            f"at epoch {run} and never got there."
        )
    steps = np.diff(np.minimum.accumulate(np.asarray(val_loss, np.float64)))
    tiny = steps[(steps < 0) & (steps > -1e-3)]
    hint = (
        f" Here the loss improves by as little as {abs(tiny).min():.0e}: a loss strictly lower "
        "than the best so far is an improvement, however small (no threshold, no rounding)."
        if len(tiny)
        else ""
    )
    if patience == 0:
        hint += (
            " With patience=0 (EarlyStopping's default) Keras stops at the end of the first "
            "epoch without a lower loss than the best so far; an epoch with one never stops it."
        )
    return (
        f"{shown} you return {got}; Keras' EarlyStopping runs {run} epochs and restores epoch "
        f"{restored}.{hint}"
    )


def _rule_problem(cases: list[tuple[tuple[float, ...], int, tuple[int, int]]]) -> str | None:
    """The message for an answer that follows a mistaken rule on every case it was tried on.

    A rule is named only when the answer agrees with it everywhere, never because one case
    happens to come out the same (the lowest loss of the whole list plus the patience gives
    a tie's answer on one list, for instance).
    """
    keras_answers = [keras_early_stopping(val_loss, patience) for val_loss, patience, _ in cases]

    def follows(rule: Callable[[Sequence[float], int], tuple[int, int]]) -> int | None:
        """The first case where the answer, like ``rule``, differs from Keras; None when the
        answer does not follow ``rule`` everywhere."""
        if any(got != rule(val_loss, patience) for val_loss, patience, got in cases):
            return None
        return next(
            (i for i, (*_, got) in enumerate(cases) if got != keras_answers[i]),
            None,
        )

    for rule, reason in (
        (
            _ties_count,
            "A value equal to the best so far is not an improvement: the loss has to go "
            "strictly lower to reset the count.",
        ),
        (
            _never_reset,
            "You count every epoch without improvement since the start; the count goes back "
            "to 0 at each new best, and training stops only after patience epochs in a row "
            "without one.",
        ),
        (
            _against_previous,
            "You compare each loss with the epoch before; an improvement is a loss strictly "
            "lower than the best so far, so a loss that falls after a rise but stays above the "
            "best resets nothing.",
        ),
    ):
        i = follows(rule)
        if i is not None:
            val_loss, patience, got = cases[i]
            return (
                f"for val_loss {list(val_loss)} and patience={patience} you return {got}; "
                f"Keras' answer is {keras_answers[i]}. {reason}"
            )
    patiences = {patience for _, patience, _ in cases}
    # "Whatever patience is passed" is said only of answers tried with more than one
    if len(patiences) > 1 and all(got[0] == len(val_loss) for val_loss, _, got in cases):
        # Every epoch run in every case: no patience at all, not a patience written in
        i = next(i for i, (*_, got) in enumerate(cases) if got != keras_answers[i])
        val_loss, patience, got = cases[i]
        run, restored = keras_answers[i]
        rule = (
            "the first epoch without a lower loss, with patience=0"
            if patience == 0
            else "the patience-th epoch in a row without a lower loss"
        )
        if run < len(val_loss):
            return (
                f"for val_loss {list(val_loss)} and patience={patience} you return {got}; "
                f"Keras' answer is {keras_answers[i]}. Your function never stops early: it "
                f"lets every epoch run in all {len(cases)} runs the check tried, whatever "
                f"patience is passed. Keras stops at the end of {rule}: here "
                f"{_waited(restored, run)}."
            )
    for fixed in range(1, 11):
        i = follows(lambda val_loss, _, fixed=fixed: _mistaken_stop(val_loss, fixed, _lower))
        if i is not None and len(patiences) > 1:
            val_loss, patience, got = cases[i]
            return (
                f"for val_loss {list(val_loss)} and patience={patience} you return {got}; "
                f"Keras' answer is {keras_answers[i]}. Your answers are those of patience="
                f"{fixed} whatever patience is passed: use the patience argument, not a "
                "number written in."
            )
    return None


def _lower(loss: float, best: float, _: float) -> bool:
    return loss < best


def exercise_4_4(early_stopping_epochs: Callable[[list[float], int], Any]) -> CheckResult:
    """early_stopping_epochs(val_loss, patience) -> (epochs run, epoch restored), as Keras'
    EarlyStopping."""

    def diagnose() -> str | None:
        answers: list[tuple[tuple[float, ...], int, tuple[int, int]]] = []
        floats, junk = None, None
        # The runs that name the usual mistakes, then fresh ones (the same in the notebook)
        cases = [*_STOPPING_CASES, *_fresh_stopping_cases()]
        for number, (val_loss, patience) in enumerate(cases):
            # Half the cases come as a NumPy array, as a History's values often end up.
            losses = list(val_loss) if number % 2 == 0 else np.array(val_loss)
            # On a copy, compared after: a History's losses are still needed after the call.
            try:
                got = _pair(
                    call_pure(
                        early_stopping_epochs, losses, patience, names=("val_loss", "patience")
                    )
                )
            except StudentCodeFailed as exc:
                junk = str(exc)
                break
            if isinstance(got, str):
                junk = got
                break
            answers.append((val_loss, patience, (int(got[0]), int(got[1]))))
            floats = floats or _floats_problem(got)
        if any(got != keras_early_stopping(v, p) for v, p, got in answers):
            problem = _rule_problem(answers)
            if problem:
                return problem
        for val_loss, patience, got in answers:
            problem = _stopping_problem(val_loss, patience, got)
            if problem:
                return problem
        return junk or floats  # right values everywhere: only their type may be wrong

    return run_check(
        "4.4", diagnose, "the same epochs as Keras' EarlyStopping, ties and short runs included."
    )
