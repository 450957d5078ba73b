"""Lesson 02's pipeline exercises judged in two phases: the kernel runs the grader's drivers.

tf.data traces a student's function into a graph, and a pipeline must be read epoch by
epoch: the judge cannot do either without the student's code, so the kernel runs a driver
(:mod:`course_lib.checks._drivers`) and the judge judges the data it returned. Each answer
gets the message the check gives in a notebook, on the same fresh draw of test data.
"""

import pytest
import tensorflow as tf

from course_lib import checks
from course_lib.checks import _drivers
from course_lib.checks._core import fresh_inputs
from course_lib.tools.grading import judge, judge_replay, two_phase

SALT = 4242


def _graded_and_direct(tmp_path, expression, answers):
    """The judge's reply, and the check's own result in this process on the same test data."""
    reply = judge.judge_locally(expression, dict(answers), SALT, str(tmp_path))
    with fresh_inputs(SALT):
        direct = eval(expression, {"checks": checks, **answers})
    return reply, direct


def _preprocess(image, label):
    return tf.cast(image, tf.float32)[..., tf.newaxis] / 255.0, label


def _converted(image, label):  # right too: convert_image_dtype scales uint8 to [0, 1]
    return tf.image.convert_image_dtype(image[..., None], tf.float32), label


def _not_scaled(image, label):
    return tf.expand_dims(tf.cast(image, tf.float32), -1), label


def _numpy_inside_map(image, label):
    return (image.astype("float32") / 255)[..., None], label


def _image_only(image, label):
    return tf.cast(image, tf.float32)[..., None] / 255.0


def _own_maximum(image, label):
    image = tf.cast(image, tf.float32)
    return (image / tf.reduce_max(image))[..., None], label


def _stub(image, label):
    raise NotImplementedError


def _one_argument(image):
    return tf.cast(image, tf.float32)[..., tf.newaxis] / 255.0


def _swapped(image, label):
    return label, tf.cast(image, tf.float32)[..., tf.newaxis] / 255.0


@pytest.mark.parametrize("answer", [_preprocess, _converted])
def test_a_right_map_function_passes_when_the_kernel_runs_it_inside_map(tmp_path, answer):
    reply, direct = _graded_and_direct(
        tmp_path, "checks.exercise_2_1(preprocess)", {"preprocess": answer}
    )
    assert reply["status"] == "passed", reply
    assert direct.passed


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (_not_scaled, "did you forget to divide by 255?"),
        (_numpy_inside_map, "`.astype` do not work on the symbolic tensors"),
        (_image_only, "return two things"),
        (_own_maximum, "divided by the image's own maximum"),
        (_stub, "Not attempted"),
        (_one_argument, "(TypeError: _one_argument() takes 1 positional argument but 2 were"),
        (_swapped, "the pair is the wrong way round"),
    ],
)
def test_a_wrong_map_function_gets_the_notebook_message_from_the_judge(tmp_path, answer, words):
    reply, direct = _graded_and_direct(
        tmp_path, "checks.exercise_2_1(preprocess)", {"preprocess": answer}
    )
    assert reply["status"] == "failed", reply
    assert words.lower() in reply["message"].lower(), reply
    assert reply["message"] == direct.message


def test_the_map_function_runs_in_the_kernel_inside_map_not_in_the_judge(tmp_path):
    seen = []

    def recording(image, label):
        seen.append(type(image).__name__)
        return _preprocess(image, label)

    reply = judge.judge_locally(
        "checks.exercise_2_1(preprocess)", {"preprocess": recording}, SALT, str(tmp_path)
    )
    assert reply["status"] == "passed", reply
    assert "SymbolicTensor" in seen or "Tensor" in seen, seen  # traced by tf.data
    assert "EagerTensor" in seen, seen  # and the eager probe got tensors, as in a notebook


def test_only_the_drivers_the_course_defines_can_be_asked_for():
    replay = judge_replay.Replay("preprocess", {})
    with pytest.raises(ValueError, match="no driver"):
        replay.course_drive("exec", "print(1)")
    assert "map_elements" in _drivers.DRIVERS


def test_exercises_with_a_driver_are_judged_in_two_phases():
    assert "2.1" in two_phase.TWO_PHASE
