"""Small evaluation helpers that scikit-learn does not provide.

Accuracy, precision, recall, F1, confusion matrices and calibration curves
come from :mod:`sklearn.metrics` and :mod:`sklearn.calibration`; this module
adds the few summaries a lesson needs on top of them: the most confused class
pairs of a confusion matrix, and the per-bin calibration table with its
expected calibration error (ECE).
"""

from __future__ import annotations

from collections.abc import Sequence

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
                cm[rows, cols], row_totals[rows], out=np.zeros(len(rows)), where=row_totals[rows] > 0
            ),
        }
    )


def _confidence_and_correct(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y).ravel()
    if probs.ndim != 2 or len(probs) != len(y):
        raise ValueError(f"expected probabilities (n, classes) for {len(y)} labels, got shape {probs.shape}")
    return probs.max(axis=1), probs.argmax(axis=1) == y


def reliability_table(probs: np.ndarray, y: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Group predictions by confidence (the top probability) into ``n_bins`` equal-width bins.

    One row per bin: ``lower``, ``upper``, ``count``, ``confidence`` (the mean
    top probability in the bin) and ``accuracy`` (the share of correct
    predictions in it); both are NaN for an empty bin. Bins are ``(lower,
    upper]``, the first also holds 0, as in
    :func:`sklearn.calibration.calibration_curve`.
    """
    confidence, correct = _confidence_and_correct(probs, y)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], confidence)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(bins, weights=confidence, minlength=n_bins) / count
        accuracy = np.bincount(bins, weights=correct, minlength=n_bins) / count
    return pd.DataFrame(
        {"lower": edges[:-1], "upper": edges[1:], "count": count, "confidence": mean_confidence, "accuracy": accuracy}
    )


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """ECE: the gap between confidence and accuracy, averaged over bins weighted by their size.

    ``ECE = sum over bins of (count / n) * |accuracy - confidence|``, with the
    bins of :func:`reliability_table`. 0 means "70 % sure" is right 70 % of the
    time, at every confidence level.
    """
    table = reliability_table(probs, y, n_bins)
    used = table[table["count"] > 0]
    gaps = (used["accuracy"] - used["confidence"]).abs()
    return float((used["count"] * gaps).sum() / table["count"].sum())
