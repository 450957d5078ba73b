"""The checks give the student's code test data drawn afresh in each grading run.

A notebook can answer a check without solving the exercise: run the check once, record its
arguments and the right answers, and look them up by their arguments in the handed-in
function. That works for cases that are the same in every run. Each check therefore keeps
the fixed cases that name the usual mistakes and adds cases drawn with ``check_rng``: the
same in the notebook, new under the salt of each grading run (``fresh_inputs``), where a
table recorded in advance misses them.
"""

import json
import os

import numpy as np
import pytest
from test_grading_judge import NEEDS_TWO_DEVICES, _check_expression, _solution_namespace

from course_lib import checks
from course_lib.checks import _core
from course_lib.checks._core import fresh_inputs
from course_lib.tools.grading import judge, two_phase
from course_lib.tools.grading.judge_decode import decode
from course_lib.tools.grading.judge_replay import fingerprint


def _canon(x):
    """The arguments of a call as JSON can hold them: the key of a lookup table."""
    if isinstance(x, np.ndarray):
        return {"a": x.tolist(), "d": str(x.dtype)}
    if isinstance(x, np.generic):
        return _canon(np.asarray(x))
    if isinstance(x, (list, tuple)):
        return [type(x).__name__] + [_canon(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _canon(v) for k, v in x.items()}
    if isinstance(x, type):
        return str(x)
    return x


def _key(args):
    return json.dumps(_canon(list(args)))


def _looked_up(table, default):
    """A handed-in answer that computes nothing: it looks the arguments up in ``table``."""

    def answer(*args):
        return table.get(_key(args), default)

    return answer


# The tables of answers written in for the cases in the checks' source, key for key
_CM = '{"a": [[50, 3, 7, 0], [10, 30, 5, 5], [2, 8, 60, 0], [1, 1, 4, 14]], "d": "int64"}'
PUBLISHED_TABLES = {
    "3.4": (
        "same_padding",
        {
            '["list", 28, 3, 1]': (1, 1),
            '["list", 28, 3, 2]': (0, 1),
            '["list", 27, 3, 2]': (1, 1),
            '["list", 28, 4, 1]': (1, 2),
            '["list", 28, 5, 2]': (1, 2),
            '["list", 28, 1, 2]': (0, 0),
            '["list", 7, 2, 2]': (0, 1),
            '["list", 10, 5, 3]': (2, 2),
            '["list", 28, 2, 2]': (0, 0),
            '["list", 7, 1, 4]': (0, 0),
            '["list", 10, 1, 5]': (0, 0),
            '["list", 8, 2, 2]': (0, 0),
        },
        [0, 0],
    ),
    "3.6": (
        "receptive_field",
        {
            '["list", ["list", ["tuple", 3, 1]]]': 3,
            '["list", ["list", ["tuple", 3, 1], ["tuple", 3, 1]]]': 5,
            '["list", ["list", ["tuple", 3, 1], ["tuple", 2, 2], ["tuple", 3, 1], '
            '["tuple", 2, 2]]]': 10,
            '["list", ["list", ["tuple", 5, 2], ["tuple", 3, 1]]]': 9,
            '["list", ["list", ["tuple", 3, 2], ["tuple", 3, 2], ["tuple", 3, 2]]]': 15,
            '["list", ["list", ["tuple", 7, 2], ["tuple", 3, 2], ["tuple", 3, 1], '
            '["tuple", 1, 1]]]': 19,
            '["list", ["list", ["tuple", 2, 2], ["tuple", 2, 2], ["tuple", 3, 1]]]': 12,
            '["list", ["list"]]': 1,
        },
        1,
    ),
    "4.4": (
        "early_stopping_epochs",
        {
            '["list", ["list", 0.9, 0.7, 0.6, 0.62, 0.65, 0.7, 0.8], 2]': (5, 3),
            '["list", {"a": [0.8, 0.6, 0.6, 0.61, 0.59, 0.7, 0.72, 0.75], "d": "float64"}, 2]': (
                4,
                2,
            ),
            '["list", ["list", 0.9, 0.8, 0.85, 0.7, 0.65], 2]': (5, 5),
            '["list", {"a": [0.5, 0.6, 0.7, 0.3], "d": "float64"}, 2]': (3, 1),
            '["list", ["list", 0.5, 0.4, 0.45], 5]': (3, 2),
            '["list", {"a": [0.6, 0.5, 0.55, 0.4, 0.45, 0.47], "d": "float64"}, 1]': (3, 2),
            '["list", ["list", 1.0, 1.1, 0.9, 1.0, 0.8, 0.85, 0.7, 0.75, 0.6], 2]': (9, 9),
            '["list", {"a": [0.5, 0.9, 0.8, 0.7, 0.6, 0.55, 0.52], "d": "float64"}, 3]': (4, 1),
            '["list", ["list", 0.5, 0.49999, 0.49998, 0.49997, 0.6, 0.61], 2]': (6, 4),
            '["list", {"a": [0.7, 0.6, 0.65, 0.5, 0.55], "d": "float64"}, 0]': (3, 2),
        },
        [0, 0],
    ),
    "5.1": (
        "precision_and_recall",
        {
            '["list", ' + _CM + ", 0]": (0.7936507936507936, 0.8333333333333334),
            '["list", ' + _CM + ", 1]": (0.7142857142857143, 0.6),
            '["list", ' + _CM + ", 2]": (0.7894736842105263, 0.8571428571428571),
            '["list", ' + _CM + ", 3]": (0.7368421052631579, 0.7),
        },
        [0.0, 0.0],
    ),
}

# 6.6's table is keyed by 200 labels and two models' predictions: made from the cases
# written in the check, (only feature extraction right, only fine-tuned right, alpha), the
# labels of the i-th drawn with seed i, as the check draws them.
_KEEP_CASES = [
    (4, 9, None),
    (3, 20, None),
    (20, 3, None),
    (5, 17, 0.01),
    (4, 14, None),
    (3, 11, 0.1),
    (1, 8, 0.1),
    (1, 13, None),
    (25, 37, None),
]


def _keep_fine_tuned(y_val, pred_features, pred_fine_tuned, alpha=0.05):  # the right answer
    from course_lib import metrics

    comparison = metrics.compare_classifiers(y_val, pred_features, pred_fine_tuned)
    return comparison.only_b_right > comparison.only_a_right and comparison.p_value < alpha


def _published_keep_table():
    from course_lib.checks import lesson06

    table = {}
    for seed, (only_fe, only_ft, alpha) in enumerate(_KEEP_CASES):
        args = lesson06._paired_predictions(only_fe, only_ft, seed=seed)
        args = args if alpha is None else (*args, alpha)
        table[_key(args)] = _keep_fine_tuned(*args)
    return table


def _published_cover_table():
    """6.1's table: the counts for the batches written in the check, as it passes them."""
    from course_lib.checks import lesson06

    batch, exact = lesson06._cover_cases()
    calls = [(batch, 0.9), (batch, 0.65), (exact, 0.75), (batch[:1], 0.9)]
    return {_key(args): lesson06._cover(*args) for args in calls}


def _published(number):
    if number == "6.1":
        return "classes_to_cover", _published_cover_table(), np.zeros(1, dtype=int)
    if number == "6.6":
        return "keep_fine_tuned", _published_keep_table(), False
    return PUBLISHED_TABLES[number]


LOOKED_UP = ["3.4", "3.6", "4.4", "5.1", "6.1", "6.6"]
SALTS = [1, 2, 3, 2**31 + 7]


def _check(number, answer):
    return getattr(checks, f"exercise_{number.replace('.', '_')}")(answer)


@pytest.mark.parametrize("number", LOOKED_UP)
def test_the_published_table_of_answers_fails_on_fresh_test_data_and_the_right_answer_passes(
    number,
):
    name, table, default = _published(number)
    right = _solution_namespace(number)[name]
    for salt in SALTS:
        with fresh_inputs(salt):
            looked_up = _check(number, _looked_up(table, default))
            solved = _check(number, right)
        assert solved.passed, (salt, solved.message)
        assert not looked_up.passed, (salt, looked_up.message)
        # The message says which case, as for the fixed ones; not that the check failed
        assert _core.CHECK_FAILED not in looked_up.message, looked_up.message


# What each fresh case's message names: the case the table did not know
FRESH_WORDS = {
    "3.4": "TensorFlow pads",
    "3.6": "each output value there sees",
    "4.4": "Keras' EarlyStopping runs",
    "5.1": "on the check's other matrix",
    "6.1": "on another batch",
    "6.6": "on another validation set",
}


def _recorded(number):
    """The right answers to every call the check makes in the notebook, and a function that
    answers from them alone: what a notebook that recorded the check offline hands in."""
    name, _, default = _published(number)
    right = _solution_namespace(number)[name]
    table = {}

    def recording(*args):
        table[_key(args)] = right(*args)
        return table[_key(args)]

    assert _check(number, recording).passed
    return name, _looked_up(table, default)


@pytest.mark.parametrize("number", LOOKED_UP)
def test_answers_recorded_in_the_notebook_pass_there_and_fail_when_graded(tmp_path, number):
    name, looked_up = _recorded(number)
    assert _check(number, looked_up).passed  # the same cases in the notebook, every time
    expression = _check_expression(number)
    for salt in SALTS[:2]:
        reply = judge.judge_locally(expression, {name: looked_up}, salt, str(tmp_path / str(salt)))
        assert reply["status"] == "failed", reply
        assert FRESH_WORDS[number] in reply["message"], reply["message"]
        with fresh_inputs(salt):  # the message the notebook would show on the same data
            assert reply["message"] == _check(number, looked_up).message


# ------------------------------------------------- every check: fresh data in grading

# Checks whose answer is not a function of the check's test data: there is nothing to look
# up. The check reads what the notebook made, or judges a value or a model itself.
NO_TEST_DATA = {
    "2.3": "the notebook's own datasets and image folder, which the check reads",
    "2.4": "a Keras model of augmentation layers, which the judge runs itself",
    "3.2": "a 3x3 kernel, an array the check applies itself to the edges it draws",
    "4.2": "the verdicts and the best epoch read off the lesson's curves",
    "8.4": "a generator without arguments over the course's own Fashion-MNIST images",
}


def _calls_made(tmp_path, number, salt):
    """The fingerprints of the calls the judge had the kernel make, in order, and its reply."""
    folder = str(tmp_path / str(salt))
    reply = judge.judge_locally(
        _check_expression(number), _solution_namespace(number), salt, folder
    )
    calls = []
    while os.path.isdir(os.path.join(folder, f"call{len(calls)}")):
        sent_to = os.path.join(folder, f"call{len(calls)}")
        with open(os.path.join(sent_to, "call.json")) as handle:
            sent = json.load(handle)
        args = tuple(decode(tree, sent_to) for tree in sent["args"])
        calls.append(fingerprint("answer", args, sent.get("driver", "")))
    return reply, calls


# Two salts the judge seeds Keras alike with (it uses the salt modulo 2**32): only what the
# check draws with check_rng tells their calls apart, not the weights of the models it builds.
FIRST_SALT = 12345
SECOND_SALT = FIRST_SALT + 2**32


@pytest.mark.parametrize("number", sorted(two_phase.TWO_PHASE - NEEDS_TWO_DEVICES))
def test_every_check_passes_the_solution_on_test_data_drawn_afresh_in_each_grading_run(
    tmp_path, number
):
    """The judge gives the solution full marks under two salts, and the calls it has the
    kernel make differ between them wherever the check has test data to draw."""
    first, first_calls = _calls_made(tmp_path, number, FIRST_SALT)
    second, second_calls = _calls_made(tmp_path, number, SECOND_SALT)
    assert first["status"] == second["status"] == "passed", (first, second)
    assert len(first_calls) <= judge.MAX_CALLS and len(second_calls) <= judge.MAX_CALLS
    fresh = [call for call in second_calls if call not in first_calls]
    if number in NO_TEST_DATA:
        assert not fresh, f"{number} draws its test data afresh now: take it off NO_TEST_DATA"
    else:
        assert fresh, f"{number}: every call is the same under two salts"


def test_8_1_trains_on_images_labels_and_weights_drawn_afresh_in_each_grading_run():
    # Judged with two logical CPUs elsewhere (tests/test_grading_driven_lesson08_step.py)
    from course_lib.checks import lesson08

    drawn = []
    for salt in (FIRST_SALT, SECOND_SALT):
        with fresh_inputs(salt):
            drawn.append(lesson08._step_inputs())
    (config, start, images, labels), (config_2, start_2, images_2, labels_2) = drawn
    assert config == config_2
    assert not np.array_equal(images, images_2) and not np.array_equal(labels, labels_2)
    assert not all(np.array_equal(a, b) for a, b in zip(start, start_2, strict=True))
