"""Checks for lesson 05, metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_lib.checks._core import StudentCodeFailed, as_array, call_student, run_check
from course_lib.record import CheckResult

# Rows are true classes, columns predictions. Every class has different row and
# column totals, so precision, recall and their mix-ups all give different numbers.
TEST_CM = np.array(
    [
        [50, 3, 7, 0],
        [10, 30, 5, 5],
        [2, 8, 60, 0],
        [1, 1, 4, 14],
    ]
)


def _precision_recall(cm: np.ndarray, k: int) -> tuple[float, float]:
    return cm[k, k] / cm[:, k].sum(), cm[k, k] / cm[k].sum()


def _pair(value: Any) -> np.ndarray:
    pair = as_array(value, "your result").astype(np.float64).ravel()
    if pair.shape != (2,):
        raise StudentCodeFailed(f"return two numbers, (precision, recall); got {np.size(pair)} values.")
    return pair


def exercise_5_1(precision_and_recall: Callable[[np.ndarray, int], Any]) -> CheckResult:
    """precision_and_recall(cm, k) -> (precision, recall) of class k from a confusion matrix."""
    cm = TEST_CM
    classes = range(len(cm))
    expected = np.array([_precision_recall(cm, k) for k in classes])

    def diagnose() -> str | None:
        got = np.array([_pair(call_student(precision_and_recall, cm.copy(), k)) for k in classes])
        if np.allclose(got, expected):
            return None
        if np.allclose(got, expected[:, ::-1]):
            return ("precision and recall are swapped. Precision divides by the column total "
                    "(everything predicted as k); recall by the row total (everything truly k).")
        if got.max() > 1.0:
            return "values above 1: those are counts; divide the diagonal count by a total."
        share_of_all = np.diag(cm) / cm.sum()
        if np.allclose(got, np.stack([share_of_all] * 2, axis=1)):
            return ("you divided by the number of all images; precision divides by the column "
                    "total of class k, recall by its row total.")
        for shift in (-1, 1):
            if np.allclose(got, np.roll(expected, -shift, axis=0)):
                return ("those are the numbers of a neighbouring class: the counts of class k "
                        "are cm[k, k], cm[:, k] and cm[k, :].")
        if np.allclose(got[:, 0], expected[:, 0]):
            return "precision is right; recall is cm[k, k] divided by the row total cm[k, :].sum()."
        if np.allclose(got[:, 1], expected[:, 1]):
            return "recall is right; precision is cm[k, k] divided by the column total cm[:, k].sum()."
        return ("neither number matches: precision = cm[k, k] / cm[:, k].sum(), "
                "recall = cm[k, k] / cm[k, :].sum().")

    return run_check("5.1", diagnose, "precision over the column, recall over the row.")


def exercise_5_2(per_class_recall: Callable[[np.ndarray], Any]) -> CheckResult:
    """per_class_recall(cm) -> array (n_classes,): the recall of every class."""
    cm = TEST_CM
    expected = np.diag(cm) / cm.sum(axis=1)

    def diagnose() -> str | None:
        got = as_array(call_student(per_class_recall, cm.copy()), "your recalls").astype(np.float64)
        if got.ndim == 0:
            return f"you returned one number; return one recall per class, shape ({len(cm)},)."
        if got.shape != expected.shape:
            return f"shape {got.shape}; expected one recall per class, shape ({len(cm)},)."
        if np.allclose(got, expected):
            return None
        if np.allclose(got, np.diag(cm) / cm.sum(axis=0)):
            return ("you divided by the column sums: that is precision. Recall divides by the row "
                    "sums, cm.sum(axis=1): all images whose true class is k.")
        if np.allclose(got, np.diag(cm)):
            return "those are the counts on the diagonal; divide each by its row total."
        if np.allclose(got, np.diag(cm) / cm.sum()):
            return "you divided by the number of all images; divide each class by its own row total."
        if np.allclose(got, cm.sum(axis=1) / np.diag(cm)):
            return "the ratio is upside down: recall[k] = cm[k, k] / cm[k, :].sum()."
        return "values differ from recall[k] = cm[k, k] / cm[k, :].sum()."

    return run_check("5.2", diagnose, "the diagonal divided by the row sums.")


def exercise_5_3(most_confused: Callable[[np.ndarray], Any]) -> CheckResult:
    """most_confused(cm) -> (true_class, predicted_class) of the largest off-diagonal cell."""
    cm = TEST_CM
    off = cm.copy()
    np.fill_diagonal(off, -1)
    expected = tuple(int(i) for i in np.unravel_index(np.argmax(off), cm.shape))

    def diagnose() -> str | None:
        got = as_array(call_student(most_confused, cm.copy()), "your pair").ravel()
        if got.size == 1:
            flat = int(got[0])
            if flat == np.ravel_multi_index(expected, cm.shape):
                return ("that is the flat index from argmax; turn it into (row, column) with "
                        "np.unravel_index(index, cm.shape).")
            return "return two class indices, (true_class, predicted_class)."
        if got.size != 2:
            return f"return two class indices, (true_class, predicted_class); got {got.size} values."
        pair = tuple(int(v) for v in got)
        if pair == expected:
            return None
        if pair[0] == pair[1]:
            return ("that cell is on the diagonal: those are correct predictions. Set the diagonal "
                    "aside first (np.fill_diagonal on a copy).")
        if pair == expected[::-1]:
            return "the order is (predicted, true); rows are true classes, so return (row, column)."
        off_no_diag = cm.astype(float)
        np.fill_diagonal(off_no_diag, np.inf)
        if pair == tuple(int(i) for i in np.unravel_index(np.argmin(off_no_diag), cm.shape)):
            return "that is the smallest cell; look for the largest off-diagonal count."
        return f"cm{list(pair)} = {cm[pair]} is not the largest count off the diagonal."

    return run_check("5.3", diagnose, "the largest count off the diagonal, as (true, predicted).")


def _top_k_probs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.full(6, 0.7), size=60)
    y = rng.integers(0, 6, size=60)
    return probs, y


def _top_k(probs: np.ndarray, y: np.ndarray, k: int, ascending: bool = False) -> float:
    order = np.argsort(probs, axis=1) if ascending else np.argsort(-probs, axis=1)
    return float((order[:, :max(k, 0)] == y[:, None]).any(axis=1).mean())


def exercise_5_4(top_k_accuracy: Callable[[np.ndarray, np.ndarray, int], Any]) -> CheckResult:
    """top_k_accuracy(probs, y, k) -> share of images whose true class is among the k most likely."""
    probs, y = _top_k_probs()
    ks = (1, 2, 3)
    expected = np.array([_top_k(probs, y, k) for k in ks])

    def diagnose() -> str | None:
        got = []
        for k in ks:
            value = as_array(call_student(top_k_accuracy, probs.copy(), y.copy(), k), "your accuracy")
            if value.size != 1:
                return f"return a single number (a share of images), got shape {value.shape}."
            got.append(float(value.ravel()[0]))
        got = np.array(got)
        if np.allclose(got, expected):
            return None
        if np.allclose(got, expected * len(y)):
            return f"those are counts of images; divide by the number of images ({len(y)})."
        if np.allclose(got, [_top_k(probs, y, k, ascending=True) for k in ks]):
            return ("you took the k *least* likely classes: np.argsort sorts ascending; sort "
                    "-probs, or take the last k columns.")
        if np.allclose(got, [_top_k(probs, y, k + 1) for k in ks]):
            return "off by one: you kept k + 1 classes; keep exactly k columns, [:, :k]."
        if np.allclose(got, [_top_k(probs, y, k - 1) for k in ks]):
            return "off by one: you kept k - 1 classes; keep exactly k columns, [:, :k]."
        if np.allclose(got, expected[0]):
            return "the result is the same for every k: it is top-1 accuracy. Use k."
        return "values differ from the share of images whose label is among the k highest probabilities."

    return run_check("5.4", diagnose, "the label is among the k highest probabilities this often.")
