"""No state a student's kernel reports outlives the judge's request it came with.

The judge serves a whole grading run. It applies what the student's function changed in place
(a model's weights, trainable flags and compile settings; an array's or a list's items) to the
check's own objects, some of which the checks keep from one call to the next
(``functools.lru_cache``): a change kept would be judged against the students graded after.
"""

import keras
import numpy as np
import pytest
from test_checks_lesson05 import _numpy_grad_cam
from test_checks_lesson07 import _students_route

from course_lib import checks
from course_lib.checks import _core, lesson05, lesson07
from course_lib.data import FASHION_MNIST_CLASSES
from course_lib.tools.grading import in_place, judge, judge_replay, kernel_encode

SALT = 5656
CHECK_5_6 = "checks.exercise_5_6(grad_cam_heatmaps)"
CHECK_7_2 = "checks.exercise_7_2(create_minimal_app, model, class_names, prep)"


def _poison(model):
    model.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])


def _grad_cam_poisoning(grad_model, images, class_index):
    _poison(grad_model)
    return np.zeros((len(images), 14, 14), np.float32)


def _weights(model):
    return [w.copy() for w in model.get_weights()]


def _same_weights(model, weights):
    return all(np.array_equal(a, b) for a, b in zip(model.get_weights(), weights, strict=True))


def test_a_5_6_answer_that_poisons_the_checks_grad_model_does_not_fail_the_next_student(
    tmp_path,
):
    cached = [lesson05._grad_cam_case()[0], lesson05._grad_cam_case_2()[0]]
    before = [_weights(model) for model in cached]
    attacker = judge.judge_locally(
        CHECK_5_6, {"grad_cam_heatmaps": _grad_cam_poisoning}, SALT, str(tmp_path / "a")
    )
    assert attacker["status"] == "failed", attacker
    assert all(_same_weights(m, w) for m, w in zip(cached, before, strict=True))
    honest = judge.judge_locally(
        CHECK_5_6, {"grad_cam_heatmaps": _numpy_grad_cam}, SALT, str(tmp_path / "b")
    )
    assert honest["status"] == "passed", honest


def _app_poisoning_the_second_model(model, class_names, preprocessing):
    if model.name == "check_second_model":  # the one the check keeps (lru_cache)
        _poison(model)
    return _students_route()(model, class_names, preprocessing)


def _namespace_7_2(answer):
    return {
        "create_minimal_app": answer,
        "model": keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Dense(10)]),
        "class_names": list(FASHION_MNIST_CLASSES),
        "prep": lesson07._lesson_record(),
    }


def test_a_7_2_app_that_poisons_the_checks_second_model_does_not_fail_the_next_student(
    tmp_path,
):
    second = lesson07._second_model(len(FASHION_MNIST_CLASSES))
    before = _weights(second)
    judge.judge_locally(
        CHECK_7_2, _namespace_7_2(_app_poisoning_the_second_model), SALT, str(tmp_path / "a")
    )
    assert _same_weights(second, before)
    honest = judge.judge_locally(
        CHECK_7_2, _namespace_7_2(_students_route()), SALT, str(tmp_path / "b")
    )
    assert honest["status"] == "passed", honest


# ------------------------------------------------------------------ at the level of a Replay


def _small_model():
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4), keras.layers.BatchNormalization()],
        name="kept_by_the_check",
    )
    model.set_weights([np.full(w.shape, i + 1.0, np.float32) for i, w in enumerate(model.weights)])
    return model


def _state(model):
    """Everything of a model the judge may change: config (compile settings too), weights,
    and every layer's and variable's trainable flag."""
    return (
        judge_replay.fingerprint("state", (model,)),
        [layer.trainable for layer in model._flatten_layers()],
        [v.trainable for v in model.weights],
        model.compiled,
    )


def _kernel_changes(model, tmp_path):
    """What a kernel reports for a call ``f(model, array, items)`` whose code froze the
    model's first layer, compiled it, set its weights to NaN, zeroed the array and emptied
    the list."""
    copy = keras.models.clone_model(model)
    copy.layers[0].trainable = False
    copy.compile(optimizer="sgd", loss="mse")
    _poison(copy)
    counter = [0]
    changed = {
        "0": kernel_encode.encode(copy, str(tmp_path), counter),
        "1": kernel_encode.encode(np.zeros(6), str(tmp_path), counter),
        "2": kernel_encode.encode([], str(tmp_path), counter),
    }
    return {"returned": {"t": "none"}, "changed": changed}


@pytest.mark.parametrize("compiled_before", [False, True], ids=["new", "compiled before"])
def test_a_replayed_change_in_place_holds_during_the_request_and_is_undone_after_it(
    tmp_path, compiled_before
):
    model, array, items = _small_model(), np.arange(6.0), [1, 2, 3]
    if compiled_before:
        model.compile(optimizer="adam", loss="mae")
    optimizer, state = getattr(model, "optimizer", None), _state(model)
    key = judge_replay.fingerprint("f", (model, array, items))
    changes = in_place.InPlace()
    replay = judge_replay.Replay(
        "f", {key: (_kernel_changes(model, tmp_path), str(tmp_path))}, changes
    )

    replay(model, array, items)
    assert np.isnan(model.get_weights()[0]).all() and model.compiled
    assert not model.layers[0].trainable
    assert not array.any() and items == []  # the check sees what the student's code did
    changes.undo()
    assert _state(model) == state and getattr(model, "optimizer", None) is optimizer
    assert np.array_equal(array, np.arange(6.0)) and items == [1, 2, 3]


KEPT = _small_model()  # a check's model kept across requests, as lru_cache keeps them
KEPT_ARRAY = np.arange(6.0)


def _check_changing_kept_objects(f, raises):
    f(KEPT, KEPT_ARRAY, [1, 2, 3])
    assert not KEPT_ARRAY.any()  # the change holds while the check runs
    if raises:
        raise RuntimeError("a check that fails on its own")
    return _core.correct("0.0")


def _student_changing_its_arguments(model, array, items):
    model.layers[0].trainable = False
    model.compile(optimizer="sgd", loss="mse")
    _poison(model)
    array[:] = 0
    items.clear()


@pytest.mark.parametrize("raises", [False, True], ids=["judged", "check raised"])
def test_a_change_in_place_to_a_kept_model_or_array_is_undone_whatever_the_request_gives(
    tmp_path, monkeypatch, raises
):
    monkeypatch.setattr(
        checks,
        "exercise_0_0",
        lambda f: _check_changing_kept_objects(f, raises),
        raising=False,
    )
    state = _state(KEPT)
    reply = judge.judge_locally(
        "checks.exercise_0_0(f)", {"f": _student_changing_its_arguments}, SALT, str(tmp_path)
    )
    assert reply["status"] == ("error" if raises else "passed"), reply
    assert _state(KEPT) == state and np.array_equal(KEPT_ARRAY, np.arange(6.0))


def test_an_undo_that_fails_still_puts_back_the_other_objects_and_stops_the_judge(
    tmp_path, monkeypatch
):
    kept, other = [1, 2], np.arange(3.0)
    changes = in_place.InPlace()
    changes.items(kept, [])
    changes._undo.append(lambda: 1 / 0)  # an object that cannot be put back
    changes.array(other, np.zeros(3))
    with pytest.raises(in_place.NotRestored, match="ZeroDivisionError"):
        changes.undo()
    assert kept == [1, 2] and np.array_equal(other, np.arange(3.0))

    def failing_undo(self):
        raise in_place.NotRestored("a model kept its weights")

    monkeypatch.setattr(in_place.InPlace, "undo", failing_undo)
    reply = judge.judge_locally(
        "checks.exercise_1_1(to_grayscale)", {"to_grayscale": lambda p: p}, SALT, str(tmp_path)
    )
    assert reply["status"] == "error" and reply["stop"] is True, reply
