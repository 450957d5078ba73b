"""Lesson 05 checks accept the right answer and name each common mistake."""

import numpy as np
import pytest
from sklearn.metrics import top_k_accuracy_score

from course_lib import checks


def _fails_with(result, phrase):
    assert not result.passed, result.message
    assert phrase in result.message, result.message
    return True


def _precision_and_recall(cm, k):
    return cm[k, k] / cm[:, k].sum(), cm[k, k] / cm[k, :].sum()


def test_5_1_accepts_precision_over_the_column_and_recall_over_the_row():
    assert checks.exercise_5_1(_precision_and_recall).passed
    assert checks.exercise_5_1(lambda cm, k: np.array(_precision_and_recall(cm, k), dtype=np.float32)).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda cm, k: _precision_and_recall(cm, k)[::-1], "swapped"),
        (lambda cm, k: _precision_and_recall(cm.T, k), "swapped"),
        (lambda cm, k: (cm[k, k], cm[k, k]), "counts"),
        (lambda cm, k: (cm[k, k] / cm.sum(), cm[k, k] / cm.sum()), "all images"),
        (lambda cm, k: _precision_and_recall(cm, (k + 1) % len(cm)), "neighbouring class"),
        (lambda cm, k: (_precision_and_recall(cm, k)[0], 0.5), "precision is right"),
        (lambda cm, k: (0.5, _precision_and_recall(cm, k)[1]), "recall is right"),
        (lambda cm, k: (0.1, 0.2), "neither number"),
        (lambda cm, k: cm[k, k] / cm[:, k].sum(), "two numbers"),
        (lambda cm, k: None, "forget to `return`"),
    ],
)
def test_5_1_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_5_1(answer), phrase)


def test_5_2_accepts_the_diagonal_over_the_row_sums():
    assert checks.exercise_5_2(lambda cm: np.diag(cm) / cm.sum(axis=1)).passed
    assert checks.exercise_5_2(lambda cm: [cm[k, k] / cm[k].sum() for k in range(len(cm))]).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda cm: np.diag(cm) / cm.sum(axis=0), "column sums: that is precision"),
        (lambda cm: np.diag(cm), "counts on the diagonal"),
        (lambda cm: np.diag(cm) / cm.sum(), "all images"),
        (lambda cm: cm.sum(axis=1) / np.diag(cm), "upside down"),
        (lambda cm: (np.diag(cm) / cm.sum(axis=1)).mean(), "one number"),
        (lambda cm: cm / cm.sum(axis=1, keepdims=True), "shape"),
        (lambda cm: np.ones(len(cm)), "values differ"),
    ],
)
def test_5_2_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_5_2(answer), phrase)


def _most_confused(cm):
    off = cm.copy()
    np.fill_diagonal(off, 0)
    return np.unravel_index(np.argmax(off), cm.shape)


def test_5_3_accepts_the_largest_off_diagonal_cell():
    assert checks.exercise_5_3(_most_confused).passed
    assert checks.exercise_5_3(lambda cm: [int(i) for i in _most_confused(cm)]).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda cm: np.unravel_index(np.argmax(cm), cm.shape), "diagonal"),
        (lambda cm: _most_confused(cm)[::-1], "(predicted, true)"),
        (lambda cm: np.argmax(cm - np.diag(np.diag(cm))), "np.unravel_index"),
        (lambda cm: (0, 3), "smallest cell"),
        (lambda cm: (1, 2), "not the largest"),
        (lambda cm: (1, 2, 3), "two class indices"),
    ],
)
def test_5_3_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_5_3(answer), phrase)


def _top_k_accuracy(probs, y, k):
    top = np.argsort(probs, axis=1)[:, ::-1][:, :k]
    return (top == y[:, None]).any(axis=1).mean()


def test_5_4_accepts_top_k_accuracy_and_agrees_with_sklearn():
    assert checks.exercise_5_4(_top_k_accuracy).passed
    assert checks.exercise_5_4(
        lambda probs, y, k: top_k_accuracy_score(y, probs, k=k, labels=range(probs.shape[1]))
    ).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda p, y, k: (np.argsort(p, axis=1)[:, :k] == y[:, None]).any(axis=1).mean(), "least"),
        (lambda p, y, k: _top_k_accuracy(p, y, k + 1), "k + 1"),
        (lambda p, y, k: _top_k_accuracy(p, y, k - 1), "k - 1"),
        (lambda p, y, k: _top_k_accuracy(p, y, 1), "same for every k"),
        (lambda p, y, k: _top_k_accuracy(p, y, k) * len(y), "counts"),
        (lambda p, y, k: (np.argsort(-p, axis=1)[:, :k] == y[:, None]).any(axis=1), "single number"),
        (lambda p, y, k: 0.5, "values differ"),
    ],
)
def test_5_4_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_5_4(answer), phrase)
