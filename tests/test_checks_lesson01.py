"""Lesson 01 checks accept the right answer and name each common mistake."""

import numpy as np
import pytest

from course_lib import checks

WEIGHTS = np.array([0.299, 0.587, 0.114])


def _fails_with(result, phrase):
    assert not result.passed, result.message
    assert phrase in result.message
    return True


def test_1_1_accepts_the_weighted_luminance_float_or_rounded():
    assert checks.exercise_1_1(lambda p: p @ WEIGHTS).passed
    assert checks.exercise_1_1(lambda p: np.round(p @ WEIGHTS).astype(np.uint8)).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda p: p.mean(axis=-1), "averaged the channels equally"),
        (lambda p: p, "still has 3 channels"),
        (lambda p: (p @ WEIGHTS)[..., None], "drop the last axis"),
        (lambda p: (p @ WEIGHTS) / 255, "keep the 0-255 scale"),
        (lambda p: p[..., ::-1] @ WEIGHTS, "reverse (BGR)"),
        (lambda p: p @ np.array([0.2, 0.7, 0.1]), "check the weights"),
        (lambda p: None, "forget to `return`"),
        (lambda p: (p @ WEIGHTS).T, "swapped"),
    ],
)
def test_1_1_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_1_1(answer), phrase)


def test_1_1_unattempted_exercise_says_so_instead_of_raising():
    def untouched(photo):
        raise NotImplementedError("Exercise 1.1")

    assert _fails_with(checks.exercise_1_1(untouched), "not attempted yet")


def test_1_1_bug_in_student_code_becomes_feedback():
    assert _fails_with(checks.exercise_1_1(lambda p: p @ np.ones(4)), "ValueError")


def test_1_2_accepts_column_reversal():
    assert checks.exercise_1_2(lambda im: im[:, ::-1]).passed
    assert checks.exercise_1_2(np.fliplr).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda im: im[::-1], "upside down"),
        (lambda im: im, "unchanged"),
        (lambda im: im[:, :, ::-1], "colour channels"),
        (lambda im: im[::-1, ::-1], "180"),
        (lambda im: np.roll(im, 1, axis=1), "not the columns"),
        (lambda im: im[:, ::-1, 0], "expected"),
    ],
)
def test_1_2_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_1_2(answer), phrase)


def test_1_3_accepts_float32_division():
    assert checks.exercise_1_3(lambda x: x.astype(np.float32) / 255).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda x: x.astype(np.float32), "divide by 255"),
        (lambda x: x // 255, "convert to float32"),
        (lambda x: x / 255, "float64"),
        (lambda x: np.stack([(i - i.min()) / (i.max() - i.min()) for i in x.astype(np.float32)]), "own min and max"),
        (lambda x: x.astype(np.float32) / 256, "differ from images / 255"),
        (lambda x: (x.astype(np.float32) / 255).reshape(len(x), -1), "shape"),
    ],
)
def test_1_3_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_1_3(answer), phrase)


def test_1_4_accepts_bincount_and_names_wrong_counts():
    y = np.array([0, 0, 1, 2, 2, 2, 3])
    right = np.bincount(y, minlength=5)
    assert checks.exercise_1_4(right, y, num_classes=5).passed
    assert checks.exercise_1_4(right.astype(float), y, num_classes=5).passed
    assert _fails_with(checks.exercise_1_4(right[:4], y, num_classes=5), "one number per class")
    assert _fails_with(checks.exercise_1_4(right * 2, y, num_classes=5), "add up to 14")
    assert _fails_with(checks.exercise_1_4(right[::-1], y, num_classes=5), "some classes are off")
    assert _fails_with(checks.exercise_1_4(right + 0.5, y, num_classes=5), "whole numbers")


def test_check_result_shows_a_friendly_line():
    text = checks.exercise_1_2(lambda im: im[::-1]).text
    assert text.startswith("❌ Not yet (exercise 1.2)")
    assert checks.exercise_1_2(lambda im: im[:, ::-1]).text.startswith("✅ Correct (exercise 1.2)")
