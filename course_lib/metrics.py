"""Small evaluation helpers that scikit-learn does not provide.

Accuracy, precision, recall, F1, confusion matrices and calibration curves
come from :mod:`sklearn.metrics` and :mod:`sklearn.calibration`; this module
adds the few summaries a lesson needs on top of them: the most confused class
pairs of a confusion matrix, and the per-bin calibration table with its
expected calibration error (ECE); and, for two classifiers scored on one set, McNemar's
test and a paired-bootstrap interval for the difference of their accuracies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


def most_confused_pairs(cm: np.ndarray, class_names: Sequence[str], k: int = 5) -> pd.DataFrame:
    """The ``k`` largest off-diagonal cells of a confusion matrix, largest first.

    ``cm[i, j]`` counts images of true class ``i`` predicted as ``j`` (the
    layout of :func:`sklearn.metrics.confusion_matrix`). Columns: ``true``,
    ``predicted``, ``count`` and ``share of true class`` (the count divided by
    the row total). Ties keep the order of the matrix, row by row.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"expected a square confusion matrix, got shape {cm.shape}")
    if len(class_names) != len(cm):
        raise ValueError(f"{len(class_names)} class names for a {len(cm)}x{len(cm)} matrix")
    off_diagonal = cm.astype(np.float64).copy()
    np.fill_diagonal(off_diagonal, -np.inf)
    order = np.argsort(-off_diagonal, axis=None, kind="stable")[:k]
    rows, cols = np.unravel_index(order, cm.shape)
    row_totals = cm.sum(axis=1)
    return pd.DataFrame(
        {
            "true": [class_names[i] for i in rows],
            "predicted": [class_names[j] for j in cols],
            "count": cm[rows, cols],
            "share of true class": np.divide(
                cm[rows, cols],
                row_totals[rows],
                out=np.zeros(len(rows)),
                where=row_totals[rows] > 0,
            ),
        }
    )


def _confidence_and_correct(
    probabilities: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(y).ravel()
    if probabilities.ndim != 2 or len(probabilities) != len(y):
        raise ValueError(
            f"expected probabilities (n, classes) for {len(y)} labels, "
            f"got shape {probabilities.shape}"
        )
    return probabilities.max(axis=1), probabilities.argmax(axis=1) == y


def reliability_table(probabilities: np.ndarray, y: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Group predictions by confidence (the top probability) into ``n_bins`` equal-width bins.

    One row per bin: ``lower``, ``upper``, ``count``, ``confidence`` (the mean
    top probability in the bin) and ``accuracy`` (the share of correct
    predictions in it); both are NaN for an empty bin. Bins are ``(lower,
    upper]``, the first also holds 0, as in
    :func:`sklearn.calibration.calibration_curve`.
    """
    confidence, correct = _confidence_and_correct(probabilities, y)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], confidence)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(bins, weights=confidence, minlength=n_bins) / count
        accuracy = np.bincount(bins, weights=correct, minlength=n_bins) / count
    return pd.DataFrame(
        {
            "lower": edges[:-1],
            "upper": edges[1:],
            "count": count,
            "confidence": mean_confidence,
            "accuracy": accuracy,
        }
    )


def expected_calibration_error(probabilities: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """ECE: the gap between confidence and accuracy, averaged over bins weighted by their size.

    ``ECE = sum over bins of (count / n) * |accuracy - confidence|``, with the
    bins of :func:`reliability_table`. 0 means "70 % sure" is right 70 % of the
    time, at every confidence level.
    """
    table = reliability_table(probabilities, y, n_bins)
    used = table[table["count"] > 0]
    gaps = (used["accuracy"] - used["confidence"]).abs()
    return float((used["count"] * gaps).sum() / table["count"].sum())


@dataclass(frozen=True)
class PairedComparison:
    """Two classifiers scored on the same examples: where they disagree, how surprising that is."""

    n: int
    accuracy_a: float
    accuracy_b: float
    only_a_right: int  # examples A gets right and B wrong
    only_b_right: int
    p_value: float  # exact McNemar test: two-sided binomial test on the disagreements

    def summary(self, name_a: str = "A", name_b: str = "B") -> str:
        return (
            f"{name_a} {self.accuracy_a:.4f} vs {name_b} {self.accuracy_b:.4f} "
            f"on {self.n} examples; only {name_a} right on {self.only_a_right}, "
            f"only {name_b} right on {self.only_b_right}; McNemar p = {self.p_value:.3g}"
        )


def compare_classifiers(
    y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray
) -> PairedComparison:
    """Compare two classifiers' labels on one set with McNemar's exact test.

    Only the examples where exactly one of them is right carry information; if both were
    equally good, each such example would be a fair coin. A small p-value (say below 0.05)
    says the difference is unlikely to be luck of this particular set; a large one says the
    set cannot tell them apart. Used where lessons compare two models (scipy's ``binomtest`` does
    the
    arithmetic).
    """
    from scipy.stats import binomtest

    y_true, pred_a, pred_b = (np.asarray(v).ravel() for v in (y_true, pred_a, pred_b))
    if not (len(y_true) == len(pred_a) == len(pred_b)) or len(y_true) == 0:
        raise ValueError(
            f"need three equal, non-empty label arrays, got lengths "
            f"{len(y_true)}, {len(pred_a)}, {len(pred_b)}"
        )
    right_a, right_b = pred_a == y_true, pred_b == y_true
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
    p_value = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return PairedComparison(
        len(y_true), float(right_a.mean()), float(right_b.mean()), only_a, only_b, float(p_value)
    )


def accuracy_difference_interval(
    y_true: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """A paired-bootstrap interval for accuracy(B) - accuracy(A) on one set (percentile method).

    Each resample draws the examples again with replacement, and every drawn example keeps
    both classifiers' answers: the interval is that of a paired difference, which only the
    examples where exactly one of them is right can move. McNemar's test
    (:func:`compare_classifiers`) says whether B differs from A at all; this interval says by
    how much, as a share of the examples (multiply by 100 for accuracy points). When every
    example gives the same difference (say the two are right on the same ones) there is nothing
    to resample, and the interval is that one value.
    """
    from scipy.stats import bootstrap

    compare_classifiers(y_true, pred_a, pred_b)  # refuses mismatched or empty arrays
    y_true, pred_a, pred_b = (np.asarray(v).ravel() for v in (y_true, pred_a, pred_b))
    # resampling examples, not predictions: each example keeps both answers (paired)
    gain = (pred_b == y_true).astype(float) - (pred_a == y_true)
    if np.all(gain == gain[0]):
        return float(gain[0]), float(gain[0])
    result = bootstrap(
        (gain,),
        np.mean,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)
