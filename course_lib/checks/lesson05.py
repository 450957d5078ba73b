"""Checks for lesson 05, metrics: counts, prevalence, thresholds, confusions, top-k and Grad-CAM."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from course_lib.checks._core import (
    StudentCodeFailed,
    as_array,
    call_pure,
    check_rng,
    describe,
    first_difference,
    returned_repr,
    run_check,
    shape_problem,
)
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


def fresh_confusion_matrix(seed: int) -> np.ndarray:
    """A confusion matrix drawn with :func:`check_rng`: the same in the notebook, new in each
    grading run, so that answers written in for the matrices in this file do not pass.

    3 to 5 classes, most images on the diagonal, every cell off it at least 1 (so no
    denominator is ever 0), and, as in ``TEST_CM``, every class with different row and column
    totals, so that precision and recall differ.
    """
    rng = check_rng(seed)
    while True:
        size = int(rng.integers(3, 6))
        cm = rng.integers(1, 12, (size, size))
        np.fill_diagonal(cm, rng.integers(15, 80, size))
        if np.all(cm.sum(axis=0) != cm.sum(axis=1)):
            return cm


def _on_matrix(cm: np.ndarray) -> str:
    """The matrix a message is about, after its ``k=2``: nothing for ``TEST_CM``."""
    return "" if cm is TEST_CM else f" on the check's other matrix, {cm.tolist()},"


def _numbers(value: Any, what: str, wanted: str = "an array of numbers") -> np.ndarray:
    """as_array, refusing what is not numbers (a string, a dict, a list of those) and complex
    numbers, whose imaginary part a conversion to float would drop with a warning; ``wanted``
    is what the task asks for, in its words."""
    array = as_array(value, what, wanted)
    if array.dtype != bool and not np.issubdtype(array.dtype, np.number):
        raise StudentCodeFailed(
            f"{what} should be numbers; got a {type(value).__name__} ({array.dtype})."
        )
    if array.dtype.kind == "c":
        raise StudentCodeFailed(
            f"{what} is {describe(value)}; its imaginary part (the j) must not be there: the "
            f"task asks for {wanted}. Look for where the complex value comes from."
        )
    return array


def _precision_recall(cm: np.ndarray, k: int) -> tuple[float, float]:
    return cm[k, k] / cm[:, k].sum(), cm[k, k] / cm[k].sum()


def _pair(value: Any) -> np.ndarray:
    pair = _numbers(value, "your result", "a pair of numbers, (precision, recall)")
    pair = pair.astype(np.float64).ravel()
    if pair.shape != (2,):
        got = "one value" if pair.size == 1 else f"{pair.size} values"
        raise StudentCodeFailed(f"return two numbers, (precision, recall); got {got}.")
    return pair


def exercise_5_1(precision_and_recall: Callable[[np.ndarray, int], Any]) -> CheckResult:
    """precision_and_recall(cm, k) -> (precision, recall) of class k from a confusion matrix."""
    # Every class of TEST_CM, whose numbers name the usual mistakes, then every class of a
    # fresh matrix (the same in the notebook, new in each grading run)
    fresh = fresh_confusion_matrix(51)
    cases = [(TEST_CM, k) for k in range(len(TEST_CM))] + [(fresh, k) for k in range(len(fresh))]
    expected = np.array([_precision_recall(cm, k) for cm, k in cases])

    def each(rule: Callable[[np.ndarray, int], Any]) -> np.ndarray:
        return np.array([rule(cm, k) for cm, k in cases], dtype=np.float64)

    def diagnose() -> str | None:
        got = np.array(
            [
                _pair(_call_with_hints("5.1", precision_and_recall, cm, k, names=("cm",)))
                for cm, k in cases
            ]
        )
        if np.allclose(got, expected):
            return None
        if np.allclose(got, expected[:, ::-1]):
            return (
                "precision and recall are swapped. Precision divides by the column total "
                "(everything predicted as k); recall by the row total (everything truly k)."
            )
        over_fp = each(lambda cm, k: cm[k, k] / (cm[:, k].sum() - cm[k, k]))  # TP / FP
        over_fn = each(lambda cm, k: cm[k, k] / (cm[k].sum() - cm[k, k]))  # TP / FN
        wrong_parts = []
        if np.allclose(got[:, 0], over_fp):
            wrong_parts.append(
                "precision by the rest of column k alone, the other classes predicted as k "
                "(use the whole column total)"
            )
        if np.allclose(got[:, 1], over_fn):
            wrong_parts.append(
                "recall by the rest of row k alone, the k predicted as other classes (use the "
                "whole row total)"
            )
        if wrong_parts:
            return (
                "you divided " + " and ".join(wrong_parts) + ": the denominator counts the "
                "right predictions, cm[k, k], too, so that precision and recall lie between 0 "
                "and 1."
            )
        if np.allclose(got, expected * 100):
            return (
                f"those are percentages (for k={cases[0][1]} you returned ({got[0, 0]:.4g}, "
                f"{got[0, 1]:.4g}), expected ({expected[0, 0]:.4g}, {expected[0, 1]:.4g})): "
                "return shares between 0 and 1, without the factor 100."
            )
        if got.max() > 1.0:
            return "values above 1: those are counts; divide the diagonal count by a total."
        share_of_all = each(lambda cm, k: cm[k, k] / cm.sum())
        if np.allclose(got, np.stack([share_of_all] * 2, axis=1)):
            return (
                "you divided by the number of all images; precision divides by the column "
                "total of class k, recall by its row total."
            )
        for shift in (-1, 1):
            neighbour = np.array([_precision_recall(cm, (k + shift) % len(cm)) for cm, k in cases])
            if np.allclose(got, neighbour):
                return (
                    "those are the numbers of a neighbouring class: the counts of class k "
                    "are cm[k, k], cm[:, k] and cm[k, :]."
                )
        if np.allclose(got, np.floor(expected)):
            return (
                "every value is a whole number (0 or 1): `//` divides and drops the fraction. "
                "Use `/`, and float(...) to return plain floats."
            )
        if np.allclose(got[:, 0], expected[:, 0]):
            return "precision is right; recall is cm[k, k] divided by the row total cm[k, :].sum()."
        if np.allclose(got[:, 1], expected[:, 1]):
            return (
                "recall is right; precision is cm[k, k] divided by the column total cm[:, k].sum()."
            )
        first = int(np.flatnonzero(~np.isclose(got, expected).all(axis=1))[0])
        cm, k = cases[first]
        return (
            "neither number matches: precision = cm[k, k] / cm[:, k].sum(), "
            f"recall = cm[k, k] / cm[k, :].sum(). For k={k}{_on_matrix(cm)} you returned "
            f"({got[first, 0]:.4f}, {got[first, 1]:.4f}), expected "
            f"({expected[first, 0]:.4f}, {expected[first, 1]:.4f})."
        )

    return run_check("5.1", diagnose, "precision over the column, recall over the row.")


# Exceptions students meet, and what each usually means here, exercise by exercise: an
# IndexError means one thing in 5.3 (sklearn's curve) and another in 5.2 or 5.6.
_HINTS = {
    "5.1": (
        (
            "Cannot cast ufunc",
            "the matrix holds integers: an in-place division (cm /= ...) cannot store fractions "
            "in it. Divide into a new number or array (cm[k, k] / cm[:, k].sum()), and leave cm "
            "as it is.",
        ),
    ),
    "5.2": (
        (
            "Cannot cast ufunc",
            "the matrix holds integers: multiply a float copy, cm.astype(float).",
        ),
    ),
    "5.3": (
        (
            "index",
            "sklearn's precision and recall have one entry more than thresholds: the last "
            "point, at recall 0, has no threshold.",
        ),
    ),
    "5.6": (
        (
            "NoneType",
            "tape.gradient gave None: call grad_model inside the `with tf.GradientTape()` "
            "block, so the tape records how the scores follow from the maps.",
        ),
        (
            "are valid indices",
            "a TensorFlow tensor cannot be indexed with an array of classes "
            "(logits[:, class_index]); take each image's own class with "
            "tf.gather(logits, class_index, axis=1, batch_dims=1).",
        ),
    ),
}


def _call_with_hints(exercise: str, func: Any, *args: Any, names: tuple[str, ...] = ()) -> Any:
    """call_pure, with a hint added to the errors students meet most in this exercise."""
    try:
        return call_pure(func, *args, names=names)
    except StudentCodeFailed as exc:
        message = str(exc)
        if message.startswith("your code raised"):
            for clue, hint in _HINTS.get(exercise, ()):
                if clue in message:
                    raise StudentCodeFailed(f"{message} Hint: {hint}") from None
        raise


def _precision_at(
    cm: np.ndarray, k: int, factor: float, rounding: Callable[[float], float] | None = None
) -> float:
    tp = cm[k, k] * factor
    if rounding is not None:
        tp = rounding(tp)
    fp = cm[:, k].sum() - cm[k, k]
    return float(tp / (tp + fp)) if tp + fp else 0.0


def _distinct(got: float, expected: float) -> tuple[str, str]:
    """got and expected with 4 decimals, or with as many more as it takes to tell them apart."""
    for digits in (4, 6, 8, 10, 17):
        shown, right = f"{got:.{digits}f}", f"{expected:.{digits}f}"
        if shown != right:
            break
    return shown, right


# 0.25 and 0.1 of the diagonal counts are not whole numbers: rounding shows.
PREVALENCE_FACTORS = (0.1, 0.25, 3.0)


def _fresh_prevalence_cases(count: int = 2) -> list[tuple[np.ndarray, int, float]]:
    """``count`` (cm, k, factor) on a fresh matrix (:func:`fresh_confusion_matrix`), each with
    a factor of 0.1 to 4 (two decimals, never 1) that leaves factor · cm[k, k] a fraction, so
    that rounding shows as it does on TEST_CM."""
    cm = fresh_confusion_matrix(52)
    rng = check_rng(520)
    cases: list[tuple[np.ndarray, int, float]] = []
    while len(cases) < count:
        k, factor = int(rng.integers(len(cm))), float(np.round(rng.uniform(0.1, 4.0), 2))
        if factor == 1 or float(cm[k, k] * factor).is_integer():
            continue
        cases.append((cm, k, factor))
    return cases


def exercise_5_2(precision_at_prevalence: Callable[[np.ndarray, int, float], Any]) -> CheckResult:
    """precision_at_prevalence(cm, k, factor) -> class k's precision if it were factor times as
    common."""
    # integers, like confusion_matrix's: multiplying in place fails, assigning truncates.
    # Every class of TEST_CM at each factor, whose numbers name the usual mistakes, then
    # fresh cases (the same in the notebook, new in each grading run)
    cases = [(TEST_CM, k, f) for f in PREVALENCE_FACTORS for k in range(len(TEST_CM))]
    cases += _fresh_prevalence_cases()
    expected = np.array([_precision_at(cm, k, f) for cm, k, f in cases])

    def variant(**kwargs: Any) -> np.ndarray:
        return np.array([_precision_at(cm, k, f, **kwargs) for cm, k, f in cases])

    def diagnose() -> str | None:
        got = []
        low_precision = None  # the dtype of a float16 (or bfloat16) answer
        for cm, k, factor in cases:
            try:
                returned = _call_with_hints(
                    "5.2", precision_at_prevalence, cm, k, factor, names=("cm",)
                )
                if isinstance(returned, tuple | list) or (
                    isinstance(returned, np.ndarray) and returned.ndim > 0
                ):
                    return (
                        f"you returned a {type(returned).__name__} of length {len(returned)}; "
                        "return one number (a float), the precision of class k: "
                        "`return tp / (tp + fp)`, not `return (tp / (tp + fp),)`."
                    )
                value = _numbers(returned, "your precision", "a number (a float)")
            except StudentCodeFailed as exc:
                if "in place" in str(exc):
                    return (
                        "your function changed the matrix it was given: work on a copy "
                        "(cm.astype(float) makes one), the caller still needs the original counts."
                    )
                raise
            if value.size != 1:
                return f"return one number, the precision of class k; got shape {value.shape}."
            if value.dtype != np.bool_ and value.dtype.itemsize <= 2:
                low_precision = value.dtype
            got.append(float(value.ravel()[0]))
        got = np.array(got)
        if np.allclose(got, expected):
            return None
        if low_precision is not None and np.allclose(got, expected, rtol=2e-3, atol=1e-4):
            worst = int(np.argmax(np.abs(got - expected)))
            cm, k, factor = cases[worst]
            return (
                f"you returned {low_precision} numbers, which keep only about 3 significant "
                f"digits: for k={k} and factor={factor}{_on_matrix(cm)} you returned "
                f"{got[worst]:.7f}, expected {expected[worst]:.7f}. "
                "Return a Python float, float(tp / (tp + fp)), or compute in float32 or "
                "float64."
            )
        today = np.array([_precision_recall(cm, k)[0] for cm, k, _ in cases])
        if np.allclose(got, today):
            return (
                "your precision does not change with factor: for every factor you return class "
                "k's precision today, cm[k, k] / cm[:, k].sum(), as if factor were 1. Either "
                "the factor is not used at all, or it scales the false positives as well as "
                "TP, and cancels out. Use it on TP only: class k becoming factor times as "
                "common makes TP = factor · cm[k, k]; the false positives are images of "
                "*other* classes, and there are as many as before."
            )
        if np.allclose(got, today * [f for _, _, f in cases]):
            return (
                "you multiplied class k's precision today by the factor; precision is not "
                "proportional to how common the class is (it never passes 1). Scale the "
                "counts instead: TP = factor · cm[k, k] grows with the class; the false "
                "positives are images of *other* classes, and there are as many as before."
            )
        if np.allclose(got, [_precision_recall(cm, k)[1] for cm, k, _ in cases]):
            return (
                "that is recall, and recall does not depend on how common the class is (both "
                "of its counts shrink together). The question is about precision: TP / (TP + "
                "FP)."
            )
        # Multiplying FP by the factor gives the same numbers as dividing TP by it.
        if np.allclose(got, [_precision_at(cm, k, 1 / f) for cm, k, f in cases]):
            return (
                "the factor works the wrong way round (TP divided by it, or FP multiplied by "
                "it). Class k becomes factor times as common: multiply its true positives, "
                "cm[k, k], by the factor; the false positives come from the other classes, "
                "which keep their size."
            )
        for rounding in (np.floor, np.round):
            if np.allclose(got, variant(rounding=rounding)):
                return (
                    "the scaled counts became whole numbers (assigning into an integer matrix "
                    "truncates 7.5 to 7): an expected count may be 7.5; work on "
                    "cm.astype(float)."
                )
        if (got > 1).any() or (got < 0).any():
            return "a precision lies between 0 and 1: divide TP by TP + FP."
        first = int(np.flatnonzero(~np.isclose(got, expected))[0])
        cm, k, factor = cases[first]
        shown, right = _distinct(got[first], expected[first])
        return (
            "values differ from TP / (TP + FP) with TP = factor · cm[k, k] and FP = the rest of "
            f"column k, unchanged: for k={k} and factor={factor}{_on_matrix(cm)} you returned "
            f"{shown}, expected {right}."
        )

    return run_check(
        "5.2", diagnose, "true positives scale with the class, false positives do not."
    )


# Labels of images ranked by score, high to low, chosen so that precision rises and falls
# as the threshold moves: 9 of the top 12 are positive (exactly 0.75), 7 of the top 10
# (exactly 0.7), and the top-scored image is a negative (no threshold reaches 0.99).
_RANKED_LABELS = np.array([0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0])


def _threshold_cases() -> list[tuple[np.ndarray, np.ndarray, float]]:
    rng = check_rng(53)
    n = len(_RANKED_LABELS)
    scores = np.round(np.linspace(0.97, 0.02, n), 2)
    order = rng.permutation(n)  # not sorted, as a model's scores come
    y, s = _RANKED_LABELS[order].astype(np.int64), scores[order]
    # A larger set with tied scores and boolean labels.
    y_big = rng.random(300) < 0.3
    s_big = np.round(np.clip(0.35 * y_big + rng.normal(0.35, 0.2, 300), 0, 1), 2)
    # 0.72 is met first at 0.42 (precision 0.75), but a sorted search of the unsorted
    # precision lands on 0.72; 0.75 is met exactly, which > misses.
    return [(y, s, 0.7), (y, s, 0.72), (y, s, 0.75), (y, s, 0.99), (y_big, s_big, 0.8)]


def _curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds (the distinct scores, ascending) with the precision and recall of score >= t."""
    thresholds = np.unique(s)
    positives = np.asarray(y, bool)
    predicted = s[None, :] >= thresholds[:, None]
    tp = (predicted & positives).sum(axis=1)
    return thresholds, tp / predicted.sum(axis=1), tp / positives.sum()


def _lowest(thresholds: np.ndarray, ok: np.ndarray) -> float | None:
    return float(thresholds[np.flatnonzero(ok)[0]]) if ok.any() else None


def _threshold_for_precision(y: np.ndarray, s: np.ndarray, target: float) -> float | None:
    thresholds, precision, _ = _curve(y, s)
    return _lowest(thresholds, precision >= target)


def _as_threshold(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes, dict)) or not np.issubdtype(
        np.asarray(value if isinstance(value, (int, float, np.ndarray, np.generic)) else 0).dtype,
        np.number,
    ):
        raise StudentCodeFailed(f"return a threshold (a float), not {describe(value)}.")
    array = as_array(value, "your threshold")
    if array.dtype == np.bool_:
        raise StudentCodeFailed(f"return a threshold (a float), not {describe(value)}.")
    if array.size != 1:
        raise StudentCodeFailed(
            f"return one threshold (a float), or None; got shape {array.shape}."
        )
    if array.ndim:
        raise StudentCodeFailed(
            f"you returned {returned_repr(value)}, {describe(value)}; return the threshold "
            "itself, a float: t, not [t] (a mask such as thresholds[ok][:1] "
            "keeps an array of one element; thresholds[ok][0] or .min() gives the number)."
        )
    return float(array.ravel()[0])


def _tied_problem(got: float, y: np.ndarray, s: np.ndarray, target: float) -> str | None:
    """The message for a threshold that several images share, whose precision reaches the
    target only if some of them are counted (walking the images one by one), or None."""
    positives = np.asarray(y, bool)
    at = np.isclose(s, got)
    above = s > got + 1e-12
    if at.sum() < 2 or not np.isin(got, s):
        return None
    tp_above, n_above, pos_at = (
        int(positives[above].sum()),
        int(above.sum()),
        int(positives[at].sum()),
    )
    precision = (tp_above + pos_at) / (n_above + int(at.sum()))
    reachable = any(
        (tp_above + min(k, pos_at)) / (n_above + k) >= target for k in range(1, int(at.sum()))
    )
    if precision >= target or not reachable:
        return None
    return (
        f"{int(at.sum())} images share the score {got:.3g}: with score >= {got:.3g} all of them "
        f"count as positive, and the precision is only {precision:.3f}, below {target}. "
        "Walking the images one by one counts only some of them; compute the precision at "
        "each distinct score (np.unique(scores)), the tied images together."
    )


def _threshold_problem(
    got: float | None, y: np.ndarray, s: np.ndarray, target: float
) -> str | None:
    thresholds, precision, recall = _curve(y, s)
    expected = _lowest(thresholds, precision >= target)
    if expected is None:
        if got is None:
            return None
        if np.isnan(got):
            return f"no threshold reaches precision {target} here: return None, not NaN."
        return (
            f"no threshold reaches precision {target} on this data (the best is "
            f"{precision.max():.3f}), yet you returned {got:.3g}: return None when the target "
            "cannot be met."
        )
    if got is None:
        return (
            f"precision {target} can be reached here (at threshold {expected}); return that "
            "threshold. None is for a target no threshold meets."
        )
    if np.isnan(got):
        return (
            f"you returned NaN, yet precision {target} can be reached here (at threshold "
            f"{expected}); return that threshold."
        )
    if np.isclose(got, expected):
        return None
    at = int(np.flatnonzero(thresholds == expected)[0])
    if np.isclose(got, precision[at]) and not np.isclose(got, thresholds).any():
        return "that is the precision reached; return the threshold that reaches it."
    if (
        float(got).is_integer()
        and 0 <= got < len(thresholds)
        and not np.isclose(got, thresholds).any()
    ):
        return (
            "that looks like an index into the thresholds; return the threshold itself, "
            "thresholds[i]."
        )
    if np.isclose(got, _lowest(thresholds, precision > target) or np.nan):
        return (
            f"'reaches' includes equality: at threshold {expected} the precision is exactly "
            f"{precision[at]:.2f}; use >= target."
        )
    index = int(np.searchsorted(precision, target))  # as if precision rose with the threshold
    searched = float(thresholds[index]) if index < len(thresholds) else np.nan
    if np.isclose(got, searched) and not np.all(np.diff(precision) >= 0):
        return (
            f"you returned {got:.3g} (precision {precision[index]:.3f}), but the lower threshold "
            f"{expected} already reaches {target} (precision {precision[at]:.3f}). Precision "
            "does not rise steadily with the threshold, so a sorted search (np.searchsorted) "
            "can land past it: test every threshold and take the lowest that reaches the target."
        )
    tied = _tied_problem(got, y, s, target)
    if tied:
        return tied
    for i in (at - 1, at + 1):
        if 0 <= i < len(thresholds) and np.isclose(got, thresholds[i]):
            return (
                f"that is the neighbouring threshold, {'one below' if i < at else 'one above'} "
                "the right one. An image counts as positive when score >= threshold (not >); "
                "if you used sklearn's precision_recall_curve, its precision and recall have "
                "one entry more than thresholds: precision[i] belongs to thresholds[i]."
            )
    highest = thresholds[np.flatnonzero(precision >= target)[-1]]
    if np.isclose(got, highest):
        return (
            "that is the *highest* threshold that reaches the target: it keeps the least recall. "
            "Take the lowest one, which finds the most images of the class."
        )
    if np.isclose(got, thresholds[np.argmax(precision)]):
        return (
            "that threshold gives the highest precision, at the cost of most of the recall; "
            "the task is to *reach* the required precision, keeping as much recall as "
            "possible."
        )
    if np.isclose(got, thresholds[np.argmin(np.abs(precision - target))]):
        return (
            "that threshold has the precision *closest* to the target, which may be below it; "
            "take the lowest threshold whose precision is at least the target."
        )
    with_recall = thresholds[recall >= target]
    if len(with_recall) and (np.isclose(got, with_recall[0]) or np.isclose(got, with_recall[-1])):
        return "that threshold meets the target in recall; the requirement is on precision."
    if np.isin(got, thresholds).any() and precision[np.argmin(np.abs(thresholds - got))] < target:
        return (
            "at that threshold the precision is only "
            f"{precision[np.argmin(np.abs(thresholds - got))]:.3f}, below {target}. Precision "
            "does not rise steadily with the threshold, so a sorted search (np.searchsorted) "
            "can land on the wrong side; test every threshold."
        )
    return (
        f"expected threshold {expected}: the lowest threshold whose precision (of score >= "
        f"threshold) is at least {target}."
    )


# Scores whose positives thin out down the ranking, so that every target from 0.6 to 0.95
# has a threshold of its own: an answer that stays the same for all of them ignores the
# target it is given.
_LADDER_SCORES = np.round(np.linspace(0.98, 0.20, 40), 2)
_LADDER_LABELS = np.array(
    [int(i < 8 or (i < 20 and i % 3 != 2) or i % 3 == 0) for i in range(40)], dtype=np.int64
)
_LADDER_TARGETS = (0.6, 0.7, 0.8, 0.9, 0.95)


def _same_threshold(got: float | None, expected: float | None) -> bool:
    if got is None or expected is None:
        return got is None and expected is None
    return bool(np.isclose(got, expected))


def _recall_problem(
    answer: Callable[[np.ndarray, np.ndarray, float], float | None],
    cases: list[tuple[np.ndarray, np.ndarray, float]],
) -> str | None:
    """When the function compares the *recall* with min_precision, on every case: the lowest
    or the highest threshold whose recall reaches it (precision and recall swapped when
    unpacking precision_recall_curve); None otherwise."""
    answers = [answer(*case) for case in cases]
    for pick in (0, -1):
        by_recall = []
        for y, s, target in cases:
            thresholds, _, recall = _curve(y, s)
            reached = thresholds[recall >= target]
            by_recall.append(float(reached[pick]) if len(reached) else None)
        if all(_same_threshold(a, r) for a, r in zip(answers, by_recall, strict=True)):
            return (
                "your thresholds are those where the *recall* reaches min_precision, on every "
                "test: precision_recall_curve returns precision, recall, thresholds, in that "
                "order (unpacking them as recall, precision, ... swaps the two). Compare the "
                "precision with min_precision."
            )
    return None


def _fixed_target_problem(
    answer: Callable[[np.ndarray, np.ndarray, float], float | None],
    cases: list[tuple[np.ndarray, np.ndarray, float]],
) -> str | None:
    """When the function gives every min_precision the threshold of one and the same target
    (a number written in, such as 0.9), on the ladder of scores and on the check's cases; None
    otherwise. ``answer`` calls the student's function."""
    same = _same_threshold
    y, s = _LADDER_LABELS, _LADDER_SCORES
    got = [answer(y, s, target) for target in _LADDER_TARGETS]
    if got[0] is None or not all(same(g, got[0]) for g in got):
        return None
    answers = [answer(*case) for case in cases]
    fixed = [
        float(t)
        for t in np.round(np.arange(0.01, 1.0001, 0.01), 2)
        if same(got[0], _threshold_for_precision(y, s, t))
        and all(
            same(a, _threshold_for_precision(cy, cs, t))
            for a, (cy, cs, _) in zip(answers, cases, strict=True)
        )
    ]
    if not fixed:
        return None
    shown = min(fixed, key=lambda t: (len(f"{t:g}"), -t))  # 0.9 rather than 0.87 or 0.1
    targets = ", ".join(f"{t:g}" for t in _LADDER_TARGETS[:-1])
    return (
        f"your function seems to ignore min_precision: on the same scores it returns {got[0]:g} "
        f"for min_precision {targets} and {_LADDER_TARGETS[-1]:g} alike, the lowest threshold "
        f"that reaches a precision of {shown:g} there, and on every test the threshold of that "
        "one target. Compare the precision with the argument, not with a number written in."
    )


def exercise_5_3(
    threshold_for_precision: Callable[[np.ndarray, np.ndarray, float], Any],
) -> CheckResult:
    """threshold_for_precision(y_true, scores, min_precision) -> lowest threshold reaching it,
    or None."""

    def answer(y: np.ndarray, s: np.ndarray, target: float) -> float | None:
        return _as_threshold(
            _call_with_hints(
                "5.3", threshold_for_precision, y, s, target, names=("y_true", "scores")
            )
        )

    def diagnose() -> str | None:
        cases = _threshold_cases()
        for y, s, target in cases:
            got = answer(y, s, target)
            problem = _threshold_problem(got, y, s, target)
            if problem:
                try:
                    return (
                        _recall_problem(answer, cases)
                        or _fixed_target_problem(answer, cases)
                        or problem
                    )
                except StudentCodeFailed:  # another call fails: the case at hand tells
                    return problem
        return None

    return run_check(
        "5.3", diagnose, "the lowest threshold that reaches the precision, so the most recall."
    )


# The largest count off the diagonal is at (3, 1), below the diagonal, so that (row, column)
# and (column, row) differ; the largest count of all is on the diagonal (argmax without setting
# the diagonal aside), the smallest off-diagonal count is 0 in one place only, and no count ties.
CONFUSED_CM = np.array(
    [
        [61, 4, 2, 7, 0],
        [6, 48, 3, 5, 9],
        [1, 5, 70, 8, 2],
        [3, 17, 11, 55, 4],
        [2, 10, 6, 12, 66],
    ]
)


# A second matrix, with classes of very different sizes, on which the ways of finding a
# cell that the first matrix cannot tell apart from the right one each give a different cell:
# the largest cell of the row (or column) with the most mistakes, the largest share of a row
# (or column), and the larger direction of the largest pair cm[a, b] + cm[b, a]. No count,
# share, row, column or pair total ties.
CONFUSED_CM_2 = np.array(
    [
        [15, 16, 0, 7],
        [9, 120, 19, 22],
        [21, 18, 250, 4],
        [10, 12, 24, 60],
    ]
)


def _off_diagonal(cm: np.ndarray) -> np.ndarray:
    """A float copy of cm with the diagonal at -inf (never the largest)."""
    off = cm.astype(float)
    np.fill_diagonal(off, -np.inf)
    return off


def _largest_cell(table: np.ndarray) -> tuple[int, int]:
    return tuple(int(i) for i in np.unravel_index(np.argmax(table), table.shape))  # type: ignore[return-value]


def _confused_pair(raw: Any, cm: np.ndarray, expected: tuple[int, int]) -> str | None:
    """What is wrong with ``raw`` as the most confused pair of ``cm``, or None."""
    if isinstance(raw, (str, bytes, dict)) or raw is None:
        raise StudentCodeFailed(
            f"return two ints, (true_class, predicted_class); got {describe(raw)}."
        )
    if (
        isinstance(raw, (tuple, list))
        and raw
        and all(isinstance(item, str | np.str_) for item in raw)
    ):
        raise StudentCodeFailed(
            f"your pair holds names, {returned_repr(raw)}; return the class indices, two ints "
            "(true_class, predicted_class): the row and the column of the count in cm."
        )
    got = _numbers(raw, "your pair", "two ints, (true_class, predicted_class)").ravel()
    if not np.isfinite(got.astype(np.float64)).all():
        return f"return two class indices; got {tuple(got.tolist())}."
    if got.size == 1:
        flat = int(got[0])
        if flat == np.ravel_multi_index(expected, cm.shape):
            return (
                "that is the flat index from argmax; turn it into (row, column) with "
                "np.unravel_index(index, cm.shape)."
            )
        return (
            f"return two class indices, (true_class, predicted_class); got one number, {got[0]!r}."
        )
    if got.size != 2:
        return f"return two class indices, (true_class, predicted_class); got {got.size} values."
    if got.dtype == np.bool_:
        return (
            f"return two ints, (true_class, predicted_class); got booleans {tuple(got.tolist())}."
        )
    if not np.all(got == np.round(got)):
        return f"return two class indices (whole numbers); got {tuple(got.tolist())}."
    pair = tuple(int(v) for v in got)
    if not all(0 <= v < len(cm) for v in pair):
        return (
            f"{pair} is not a cell of the {len(cm)} x {len(cm)} matrix: indices run from "
            f"0 to {len(cm) - 1}."
        )
    if pair == expected:
        if not np.issubdtype(got.dtype, np.integer):
            return (
                f"the cell is right, but its indices are {got.dtype} numbers; return two ints "
                "(int(row), int(column)), what indexing expects."
            )
        return None
    if pair[0] == pair[1]:
        return (
            "that cell is on the diagonal: those are correct predictions. Set the diagonal "
            "aside first (np.fill_diagonal on a copy)."
        )
    if pair == expected[::-1]:
        return (
            f"you returned {pair}, the mirror image of the right cell: rows are true "
            "classes and columns predictions, so return (row, column). cm[a, b] and "
            "cm[b, a] are different mistakes: do not swap them, or add them up (cm + cm.T)."
        )
    off = _off_diagonal(cm)
    largest = f"cm[{expected[0]}, {expected[1]}] = {cm[expected]}"
    if pair == _largest_cell(np.where(np.isinf(off), -np.inf, -off)):
        return "that is the smallest cell; look for the largest off-diagonal count."
    mistakes = np.where(np.isinf(off), 0.0, off)
    row = int(np.argmax(mistakes.sum(axis=1)))
    if pair == (row, int(np.argmax(off[row]))):
        return (
            f"cm[{pair[0]}, {pair[1]}] = {cm[pair]} is the largest count of row {row}, the "
            "class with the most mistakes in all, but a single cell of another row is larger "
            f"({largest}): look for the largest cell of the whole matrix (off the diagonal) "
            "at once, not for a row first."
        )
    column = int(np.argmax(mistakes.sum(axis=0)))
    if pair == (int(np.argmax(off[:, column])), column):
        return (
            f"cm[{pair[0]}, {pair[1]}] = {cm[pair]} is the largest count of column {column}, "
            "the class predicted wrongly most often, but a single cell of another column is "
            f"larger ({largest}): look for the largest cell of the whole matrix (off the "
            "diagonal) at once, not for a column first."
        )
    for axis, total in ((1, "row (its true class)"), (0, "column (its predicted class)")):
        if pair == _largest_cell(off / cm.sum(axis=axis, keepdims=True)):
            return (
                f"cm[{pair[0]}, {pair[1]}] = {cm[pair]} is the largest *share* of its {total}, "
                f"not the largest count ({largest}): the task asks for the count itself. "
                "Shares favour small classes; do not divide by the totals."
            )
    pairs = np.triu(np.where(np.isinf(off), 0.0, off + off.T), 1)
    a, b = _largest_cell(pairs)
    if set(pair) == {a, b}:
        return (
            f"cm[{a}, {b}] + cm[{b}, {a}] = {cm[a, b] + cm[b, a]} is the largest pair in both "
            f"directions together, but the largest single count is {largest}. cm[a, b] and "
            "cm[b, a] are different mistakes: do not add them up (cm + cm.T)."
        )
    return (
        f"cm[{pair[0]}, {pair[1]}] = {cm[pair]} is not the largest count off the diagonal: "
        f"that is {cm[expected]}."
    )


def _fresh_confused_matrices(count: int = 2) -> list[np.ndarray]:
    """``count`` confusion matrices of 4 to 6 classes, drawn with :func:`check_rng`: the same in
    the notebook, new in each grading run, so that answers written in for the two matrices
    above do not pass.

    Each has one largest count off the diagonal, larger than its mirror image, and classes of
    different sizes: a cell no rule of the usual mistakes finds (the largest of the row or of
    the column with the most mistakes, the largest share, the largest pair), so that a wrong
    way is told as it is on ``CONFUSED_CM_2``.
    """
    rng = check_rng(54)
    matrices: list[np.ndarray] = []
    while len(matrices) < count:
        size = int(rng.integers(4, 7))
        cm = rng.integers(0, 25, (size, size))
        np.fill_diagonal(cm, rng.integers(30, 250, size))
        off = _off_diagonal(cm)
        mistakes = np.where(np.isinf(off), 0.0, off)
        right = _largest_cell(off)
        row, column = int(np.argmax(mistakes.sum(axis=1))), int(np.argmax(mistakes.sum(axis=0)))
        others = {
            (row, int(np.argmax(off[row]))),
            (int(np.argmax(off[:, column])), column),
            _largest_cell(off / cm.sum(axis=1, keepdims=True)),
            _largest_cell(off / cm.sum(axis=0, keepdims=True)),
        }
        pairs = np.triu(mistakes + mistakes.T, 1)
        if (
            np.sum(off == off.max()) == 1
            and cm[right] > cm[right[::-1]]
            and right not in others
            and set(right) != set(_largest_cell(pairs))
        ):
            matrices.append(cm)
    return matrices


def exercise_5_4(most_confused: Callable[[np.ndarray], Any]) -> CheckResult:
    """most_confused(cm) -> (true_class, predicted_class) of the largest off-diagonal cell, cm
    unchanged."""

    # The two matrices that name the usual mistakes, then fresh ones (the same in the
    # notebook, new in each grading run)
    fresh = _fresh_confused_matrices()

    def diagnose() -> str | None:
        for number, cm in enumerate((CONFUSED_CM, CONFUSED_CM_2, *fresh)):
            expected = _largest_cell(_off_diagonal(cm))
            raw = call_pure(most_confused, cm, names=("cm",))
            problem = _confused_pair(raw, cm, expected)
            if problem and number == 1:
                return (
                    f"on a second matrix, {len(cm)} x {len(cm)} with classes of very "
                    f"different sizes ({cm.tolist()}): {problem}"
                )
            if problem and number:
                return f"on another matrix, {len(cm)} x {len(cm)} ({cm.tolist()}): {problem}"
            if problem:
                return problem
        return None

    return run_check("5.4", diagnose, "the largest count off the diagonal, as (true, predicted).")


def _top_k_probs() -> tuple[np.ndarray, np.ndarray]:
    # What the lesson passes: a Keras model's float32 probabilities (Keras's top-k metrics
    # refuse float64) and integer labels.
    rng = check_rng(5)
    probs = rng.dirichlet(np.full(6, 0.7), size=60).astype(np.float32)
    y = rng.integers(0, 6, size=60)
    return probs, y


def _top_k(probs: np.ndarray, y: np.ndarray, k: int, ascending: bool = False) -> float:
    order = np.argsort(probs, axis=1) if ascending else np.argsort(-probs, axis=1)
    return float((order[:, : max(k, 0)] == y[:, None]).any(axis=1).mean())


def exercise_5_5(top_k_accuracy: Callable[[np.ndarray, np.ndarray, int], Any]) -> CheckResult:
    """top_k_accuracy(probabilities, y, k) -> share of images whose true class is among the k most
    likely."""
    probs, y = _top_k_probs()
    ks = (1, 2, 3)
    expected = np.array([_top_k(probs, y, k) for k in ks])

    def diagnose() -> str | None:
        got, whole = [], True  # whole: every value returned as an integer
        for k in ks:
            called = call_pure(top_k_accuracy, probs, y, k, names=("probabilities", "y"))
            value = _numbers(called, "your accuracy", "a number (a float in [0, 1])")
            if value.size != 1:
                return f"return a single number (a share of images), got shape {value.shape}."
            got.append(float(value.ravel()[0]))
            whole = whole and bool(np.issubdtype(value.dtype, np.integer))
        got = np.array(got)
        if np.allclose(got, expected):
            return None
        if np.allclose(got, expected * len(y)):
            return f"those are counts of images; divide by the number of images ({len(y)})."
        if np.allclose(got, expected * 100):
            return (
                f"those are percentages (for k={ks[0]} you returned {got[0]:.4g}, expected "
                f"{expected[0]:.4g}): return the share of images, between 0 and 1, without "
                "the factor 100."
            )
        if np.allclose(got, [_top_k(probs, y, k, ascending=True) for k in ks]):
            return (
                "you took the k *least* likely classes: np.argsort sorts ascending; sort "
                "-probabilities, or take the last k columns."
            )
        if np.allclose(got, [_top_k(probs, y, k + 1) for k in ks]):
            return (
                "off by one: you kept the k + 1 most likely classes; keep exactly k of them "
                "(count the columns your slice keeps)."
            )
        if np.allclose(got, [_top_k(probs, y, k - 1) for k in ks]):
            return (
                "off by one: you kept the k - 1 most likely classes; keep exactly k of them "
                "(count the columns your slice keeps)."
            )
        if np.allclose(got, expected[0]):
            return "the result is the same for every k: it is top-1 accuracy. Use k."
        if np.allclose(got, expected / np.array(ks)):
            return (
                f"for k={ks[1]} you returned {got[1]:.4f}, the top-{ks[1]} accuracy "
                f"({expected[1]:.4f}) divided by {ks[1]}: your mean runs over the k columns "
                "too, where at most one holds the label. First ask whether the label is among "
                "an image's k classes (.any(axis=1)), then take the mean over the images."
            )
        if whole and np.allclose(got, np.floor(expected)):
            return (
                "every value is a whole number: `//` divides and drops the fraction, and a "
                "share below 1 becomes 0. Use `/`."
            )
        first = int(np.flatnonzero(~np.isclose(got, expected))[0])
        return (
            "values differ from the share of images whose label is among the k highest "
            f"probabilities: for k={ks[first]} you returned {got[first]:.4f}, expected "
            f"{expected[first]:.4f}."
        )

    return run_check("5.5", diagnose, "the label is among the k highest probabilities this often.")


# --- Exercise 5.6: the Grad-CAM core -------------------------------------------------------

GRAD_CAM_CLASSES = np.array([0, 3, 1, 2, 3, 1])  # a different class for neighbouring images


@functools.lru_cache(maxsize=1)
def _grad_cam_case() -> tuple[Any, np.ndarray]:
    """A small CNN with fixed weights, as a grad model, and six images (the last one blank).

    Conv → ReLU → pool → Conv → ReLU (the 14×14 feature maps) → pool → Flatten → Dense (ReLU)
    → Dense (logits). Flatten makes the gradients differ from place to place, so pooling them
    matters; the hidden ReLU makes them differ from image to image, so each image needs its
    own weights; the blank image has maps of zeros and an empty heatmap.
    """
    import keras
    from keras import layers

    # A seed where every mistake below gives a different, non-empty map, and the images'
    # predicted classes are not all one class (whose maps would be those of that class).
    rng = np.random.default_rng(5)
    inputs = keras.Input((28, 28, 1))  # the size of the lesson's Fashion-MNIST images
    x = layers.Conv2D(4, 3, padding="same", use_bias=False, activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    maps = layers.ReLU()(layers.Conv2D(6, 3, padding="same", use_bias=False)(x))
    hidden = layers.Dense(8, activation="relu")(layers.Flatten()(layers.MaxPooling2D()(maps)))
    logits = layers.Dense(4)(hidden)
    grad_model = keras.Model(inputs, [maps, logits], name="check_grad_model")
    grad_model.set_weights(
        [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in grad_model.get_weights()]
    )
    images = rng.random((len(GRAD_CAM_CLASSES), 28, 28, 1)).astype(np.float32)
    images[-1] = 0.0
    return grad_model, images


def _normalise(cam: np.ndarray, per_image: bool = True) -> np.ndarray:
    peak = (
        cam.max(axis=(1, 2), keepdims=True) if per_image else np.full((len(cam), 1, 1), cam.max())
    )
    return np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0)


def _grad_cam_variants(
    grad_model: Any, images: np.ndarray, classes: np.ndarray
) -> dict[str, np.ndarray]:
    """The right heatmaps and the ones that common mistakes produce, as float64 arrays."""
    import tensorflow as tf

    x = tf.constant(images)
    with tf.GradientTape(persistent=True) as tape:
        maps, logits = grad_model(x, training=False)
        scores = {
            "right": tf.gather(logits, classes, axis=1, batch_dims=1),
            "mixed classes": tf.reduce_sum(tf.gather(logits, classes, axis=1)),
            "predicted class": tf.reduce_max(logits, axis=1),
            "softmax": tf.gather(tf.nn.softmax(logits), classes, axis=1, batch_dims=1),
            # One class for every image, whichever: logits[:, 0], or class_index[-1] taken as it.
            **{f"class {c}": logits[:, c] for c in range(int(logits.shape[-1]))},
        }
    grads = {
        name: tape.gradient(score, maps).numpy().astype(np.float64)
        for name, score in scores.items()
    }
    del tape
    a = maps.numpy().astype(np.float64)

    def pooled(g: np.ndarray, axis: Any = (1, 2)) -> np.ndarray:
        weights = g.mean(axis=axis, keepdims=True)
        return (a * weights).sum(axis=-1)

    right = pooled(grads["right"])
    variants = {
        "right": _normalise(np.maximum(right, 0)),
        "no relu": _normalise(right),
        "not normalised": np.maximum(right, 0),
        "batch max": _normalise(np.maximum(right, 0), per_image=False),
        "not pooled": _normalise(np.maximum((a * grads["right"]).sum(axis=-1), 0)),
        "pooled over the batch": _normalise(np.maximum(pooled(grads["right"], (0, 1, 2)), 0)),
        "pooled over the maps": _normalise(np.maximum(pooled(grads["right"], -1), 0)),
        "pooled over everything": _normalise(np.maximum(pooled(grads["right"], (0, 1, 2, 3)), 0)),
        "relu before the sum": _normalise(
            np.maximum(a * grads["right"].mean(axis=(1, 2), keepdims=True), 0).sum(axis=-1)
        ),
        "largest gradient": _normalise(
            np.maximum((a * grads["right"].max(axis=(1, 2), keepdims=True)).sum(axis=-1), 0)
        ),
        "positive gradients": _normalise(np.maximum(pooled(np.maximum(grads["right"], 0)), 0)),
    }
    for name in grads:
        if name != "right":
            variants[name] = _normalise(np.maximum(pooled(grads[name]), 0))
    return variants


_GRAD_CAM_MESSAGES = {
    "not normalised": (
        "the maps are not scaled: divide each by its own maximum, so it peaks at 1 "
        "(tf.math.divide_no_nan keeps an empty map at 0)."
    ),
    "batch max": "you divided by the largest value of the whole batch; scale each map by its "
    "own maximum.",
    "not pooled": (
        "you multiplied each map by its gradient pixel by pixel. Grad-CAM pools the gradients "
        "first: one weight per feature map, their mean over height and width (axis=(1, 2))."
    ),
    "pooled over the batch": (
        "your weights are averaged over the batch too (axis 0): each image needs its own "
        "weights, the mean over height and width only, axis=(1, 2)."
    ),
    "pooled over the maps": (
        "you averaged the gradients over the feature maps (the last axis); average over "
        "height and width, axis=(1, 2), to get one weight per map."
    ),
    "pooled over everything": (
        "every feature map got the same weight (the gradients averaged into one number, or "
        "not used at all): weight each map by the mean of its own gradients over height and "
        "width, axis=(1, 2), one weight per map and image."
    ),
    "relu before the sum": (
        "you applied ReLU to each weighted map before adding them up; Grad-CAM adds the "
        "weighted maps first, so that evidence against the class cancels evidence for it, "
        "and applies ReLU to the sum."
    ),
    "largest gradient": (
        "each map's weight is its largest gradient; Grad-CAM weighs a map by the mean of its "
        "gradients over height and width (tf.reduce_mean(grads, axis=(1, 2)))."
    ),
    "positive gradients": (
        "you kept only the positive gradients before averaging them; Grad-CAM averages every "
        "gradient, negative ones too, and applies ReLU only to the weighted sum of the maps."
    ),
    "mixed classes": (
        "each image's map mixes in the other images' classes: logits[:, class_index] is an n × n "
        "table. Take each image's own class, tf.gather(logits, class_index, axis=1, batch_dims=1)."
    ),
    "predicted class": (
        "those are the maps of each image's *predicted* class; explain the class asked for in "
        "class_index."
    ),
    "softmax": (
        "you differentiated a softmax probability; Grad-CAM uses the class logit that "
        "grad_model returns (a probability near 1 has almost no gradient left)."
    ),
}


GRAD_CAM_CLASSES_2 = np.array([1, 0, 3, 2])


@functools.lru_cache(maxsize=1)
def _grad_cam_case_2() -> tuple[Any, np.ndarray]:
    """A second grad model, whose heatmaps tell apart what the first one cannot.

    Its feature maps come out of a softplus, so they are positive everywhere, and every class
    weighs them positively: each heatmap is positive everywhere, so subtracting its minimum
    changes it. BatchNormalization follows the maps: run in training mode, it normalises with
    the batch's statistics instead of the learnt ones, and the heatmaps change (its momentum of
    1 keeps the learnt statistics unchanged whatever mode it runs in).
    """
    import keras
    from keras import layers

    rng = np.random.default_rng(56)
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(4, 3, padding="same", use_bias=False, activation="relu")(inputs)
    maps = layers.Conv2D(5, 3, padding="same", activation="softplus")(layers.MaxPooling2D()(x))
    normed = layers.BatchNormalization(momentum=1.0)(maps)
    logits = layers.Dense(4)(layers.GlobalAveragePooling2D()(normed))
    grad_model = keras.Model(inputs, [maps, logits], name="check_grad_model_2")
    conv1, conv2, bias2, _, _, _, _, dense, dense_bias = grad_model.get_weights()
    weights = [
        rng.normal(0, 0.5, conv1.shape),
        rng.normal(0, 0.5, conv2.shape),
        rng.normal(0, 0.5, bias2.shape),
        rng.uniform(0.5, 1.5, 5),  # gamma: positive, so are the classes' weights below
        rng.normal(0, 0.5, 5),  # beta
        rng.uniform(0.0, 1.0, 5),  # the learnt mean
        rng.uniform(0.05, 0.2, 5),  # the learnt variance, unlike the batch's
        np.abs(rng.normal(0, 1, dense.shape)),
        rng.normal(0, 0.5, dense_bias.shape),
    ]
    grad_model.set_weights([w.astype(np.float32) for w in weights])
    images = rng.random((len(GRAD_CAM_CLASSES_2), 28, 28, 1)).astype(np.float32)
    return grad_model, images


def _grad_cam_2_variants() -> dict[str, np.ndarray]:
    """The second model's right heatmaps, in training mode, and min-max scaled."""
    import tensorflow as tf

    grad_model, images = _grad_cam_case_2()
    cams = {}
    for training in (False, True):
        with tf.GradientTape() as tape:
            maps, logits = grad_model(tf.constant(images), training=training)
            scores = tf.gather(logits, GRAD_CAM_CLASSES_2, axis=1, batch_dims=1)
        weights = tape.gradient(scores, maps).numpy().astype(np.float64).mean(axis=(1, 2))
        cam = np.einsum("nhwk,nk->nhw", maps.numpy().astype(np.float64), weights)
        cams[training] = np.maximum(cam, 0)
    lowest = cams[False].min(axis=(1, 2), keepdims=True)
    return {
        "right": _normalise(cams[False]),
        "training": _normalise(cams[True]),
        "min-max": _normalise(cams[False] - lowest),
    }


_GRAD_CAM_2_MESSAGES = {
    "training": (
        "on a second grad model, one with BatchNormalization, your maps are those of the model "
        "run in training mode: there BatchNormalization uses the batch's statistics (and "
        "Dropout drops units at random), so the maps no longer explain the model's "
        "predictions. Call grad_model(images, training=False)."
    ),
    "min-max": (
        "on a second grad model, whose heatmaps are positive everywhere, you subtracted each "
        "map's minimum before scaling (min-max): that erases evidence the class does have, "
        "and the weakest place shows 0, as if it had none. Divide each map by its own "
        "maximum only."
    ),
}


def _grad_cam_2_problem(grad_cam_heatmaps: Any) -> str | None:
    """What the second grad model shows wrong in heatmaps right for the first, or None."""
    grad_model, images = _grad_cam_case_2()
    variants = _grad_cam_2_variants()
    value = _call_with_hints(
        "5.6",
        grad_cam_heatmaps,
        grad_model,
        images,
        GRAD_CAM_CLASSES_2,
        names=("grad_model", "images", "class_index"),
    )
    returned = _numbers(value, "your heatmaps", "an array (n, h, w) of numbers")
    got = returned.astype(np.float64)
    expected = variants["right"]
    if got.shape == expected.shape and np.allclose(got, expected, atol=1e-4):
        return None
    for name, message in _GRAD_CAM_2_MESSAGES.items():
        if got.shape == expected.shape and np.allclose(got, variants[name], atol=1e-4):
            return message
    return (
        "on a second grad model (BatchNormalization after feature maps that are positive "
        "everywhere) your maps differ from ReLU(sum over k of mean(gradients of map k) × map "
        "k), each divided by its maximum, with the model run in inference mode; "
        + first_difference(returned, expected, "your maps", atol=1e-4)
    )


GRAD_CAM_CLASSES_3 = np.array([0, 1, 0])  # class 0 has no positive evidence anywhere


def _grad_cam_case_3() -> tuple[Any, np.ndarray]:
    """A third grad model, in which class 0 has no evidence at all, in any image.

    Its feature maps come out of a softplus, positive everywhere, and go through global
    average pooling into the logits: each map's pooled gradient is its Dense weight for the
    class, negative for every map for class 0 and positive for class 1. Class 0's weighted
    sum is negative everywhere: the right heatmap is all zeros, and dividing by its (negative)
    maximum before the ReLU turns it into an inverted map that is not. Drawn from
    ``check_rng``, so fresh in each grading run.
    """
    import keras
    from keras import layers

    rng = check_rng(57)
    inputs = keras.Input((28, 28, 1), name="check_images_3")
    x = layers.Conv2D(3, 3, padding="same", name="check_conv_3a")(inputs)
    maps = layers.Conv2D(4, 3, padding="same", activation="softplus", name="check_maps_3")(
        layers.MaxPooling2D(name="check_pool_3")(x)
    )
    logits = layers.Dense(2, name="check_logits_3")(
        layers.GlobalAveragePooling2D(name="check_gap_3")(maps)
    )
    grad_model = keras.Model(inputs, [maps, logits], name="check_grad_model_3")
    kernel1, bias1, kernel2, bias2, dense, dense_bias = grad_model.get_weights()
    signs = np.array([-1.0, 1.0])  # class 0: every map counts against it; class 1: for it
    weights = [
        rng.normal(0, 0.5, kernel1.shape),
        rng.normal(0, 0.2, bias1.shape),
        rng.normal(0, 0.5, kernel2.shape),
        rng.normal(0, 0.5, bias2.shape),
        np.abs(rng.normal(0, 1, dense.shape)) * signs + 0.05 * signs,
        rng.normal(0, 0.5, dense_bias.shape),
    ]
    grad_model.set_weights([w.astype(np.float32) for w in weights])
    images = rng.random((len(GRAD_CAM_CLASSES_3), 28, 28, 1)).astype(np.float32)
    return grad_model, images


def _grad_cam_3_problem(grad_cam_heatmaps: Any) -> str | None:
    """What a class with no evidence shows wrong in heatmaps right otherwise, or None."""
    import tensorflow as tf

    grad_model, images = _grad_cam_case_3()
    with tf.GradientTape() as tape:
        maps, logits = grad_model(tf.constant(images), training=False)
        scores = tf.gather(logits, GRAD_CAM_CLASSES_3, axis=1, batch_dims=1)
    weights = tape.gradient(scores, maps).numpy().astype(np.float64).mean(axis=(1, 2))
    cam = np.einsum("nhwk,nk->nhw", maps.numpy().astype(np.float64), weights)
    expected = _normalise(np.maximum(cam, 0))
    value = _call_with_hints(
        "5.6",
        grad_cam_heatmaps,
        grad_model,
        images,
        GRAD_CAM_CLASSES_3,
        names=("grad_model", "images", "class_index"),
    )
    returned = _numbers(value, "your heatmaps", "an array (n, h, w) of numbers")
    got = returned.astype(np.float64)
    if got.shape == expected.shape and np.allclose(got, expected, atol=1e-4):
        return None
    empty = [i for i, c in enumerate(GRAD_CAM_CLASSES_3) if c == 0]
    if got.shape == expected.shape and np.allclose(got[1], expected[1], atol=1e-4):
        if np.isnan(got[empty]).any():
            return (
                "on a grad model where class 0 has no evidence at all (its weighted maps are "
                "negative everywhere), your maps hold NaN: divide with tf.math.divide_no_nan "
                "so that a map with no evidence stays 0."
            )
        peak = cam.max(axis=(1, 2), keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            relu_after = np.maximum(cam / peak, 0)
        if np.allclose(got[empty], relu_after[empty], atol=1e-3, rtol=1e-3):
            return (
                "on a grad model where class 0 has no evidence at all (its weighted maps are "
                "negative everywhere), your maps for class 0 are not zero: you divided by the "
                "maximum before the ReLU. That maximum is negative, so the division flips the "
                "map's sign and the ReLU keeps the inverted map. Apply ReLU first, then divide "
                "each map by its own maximum (tf.math.divide_no_nan keeps an empty map at 0)."
            )
        return (
            "on a grad model where class 0 has no evidence at all (its weighted maps are "
            "negative everywhere), your maps for class 0 are not all zeros: the ReLU of a "
            "map that is negative everywhere is 0, and so is the map divided by its maximum "
            "with tf.math.divide_no_nan."
        )
    return (
        "on a grad model where class 0 has no evidence at all, your maps differ from "
        "ReLU(sum over k of mean(gradients of map k) × map k), each divided by its maximum; "
        + first_difference(returned, expected, "your maps", atol=1e-4)
    )


def exercise_5_6(grad_cam_heatmaps: Callable[[Any, np.ndarray, np.ndarray], Any]) -> CheckResult:
    """grad_cam_heatmaps(grad_model, images, class_index) -> (n, h, w) maps in [0, 1], one per
    image."""

    def diagnose() -> str | None:
        grad_model, images = _grad_cam_case()
        variants = _grad_cam_variants(grad_model, images, GRAD_CAM_CLASSES)
        expected = variants["right"]
        value = _call_with_hints(
            "5.6",
            grad_cam_heatmaps,
            grad_model,
            images,
            GRAD_CAM_CLASSES,
            names=("grad_model", "images", "class_index"),
        )
        # its own dtype, for the messages
        returned = _numbers(value, "your heatmaps", "an array (n, h, w) of numbers")
        got = returned.astype(np.float64)
        n, h, w = expected.shape
        if got.shape == (n, *images.shape[1:3]):
            return (
                f"your maps have the image's size {images.shape[1:3]}; return them at the "
                f"feature maps' resolution, ({h}, {w}): resizing is a separate step."
            )
        if got.shape == (h, w):
            return "that is a single map; return one map per image, shape (n, h, w)."
        problem = shape_problem(got, expected.shape, "your heatmaps")
        if problem:
            return problem
        if np.isnan(got).any():
            blank_only = np.isnan(got[-1]).all() and not np.isnan(got[:-1]).any()
            return (
                "NaN in the maps"
                + (" of the blank image, whose map is zero everywhere: 0 / 0" if blank_only else "")
                + ". Divide with tf.math.divide_no_nan so an empty map stays 0."
            )
        if np.allclose(got, expected, atol=1e-4):
            return _grad_cam_2_problem(grad_cam_heatmaps) or _grad_cam_3_problem(grad_cam_heatmaps)
        if got.min() < -1e-6:
            return (
                "your maps have negative values: apply ReLU to the weighted sum (tf.nn.relu), "
                "keeping only the evidence *for* the class."
            )
        for name, message in _GRAD_CAM_MESSAGES.items():
            if np.allclose(got, variants[name], atol=1e-4):
                return message
        for name in variants:
            if name.startswith("class ") and np.allclose(got, variants[name], atol=1e-4):
                c = name.removeprefix("class ")
                entries = np.flatnonzero(GRAD_CAM_CLASSES == int(c))
                source = (
                    f", whether written in or taken from one entry of class_index (here "
                    f"class_index[{entries[0]}] is {c})"
                    if entries.size
                    else ""
                )
                return (
                    f"those are the maps of class {c} for every image (logits[:, {c}]), one "
                    f"class for all the images{source}; explain each image's own class, given "
                    "in class_index: tf.gather(logits, class_index, axis=1, batch_dims=1)."
                )
        if returned.dtype.itemsize < 4 and np.allclose(got, expected, atol=2e-3):
            return (
                f"the maps are right to {returned.dtype}'s precision, about 3 digits, which is "
                "not enough to compare heatmaps: compute and return them in float32, as the "
                "model's outputs are."
            )
        peaks = got.max(axis=(1, 2))
        if not np.all(np.isclose(peaks, 1.0, atol=1e-4) | np.isclose(peaks, 0.0)):
            return "each map should peak at 1 (or be all zeros): divide it by its own maximum."
        return (
            "the maps differ from ReLU(sum over k of mean(gradients of map k) × map k), each "
            "scaled to peak at 1, computed for each image's class in class_index; "
            + first_difference(returned, expected, "your maps", atol=1e-4)
        )

    return run_check(
        "5.6", diagnose, "pooled gradients weigh the maps; ReLU and scaling give the heatmap."
    )
