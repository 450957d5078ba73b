"""Two model versions compared on a fixed holdout, and the rule that promotes the new one.

:func:`compare_on_holdout` scores both versions on the same photos: each one's count of right
answers, the paired difference in accuracy with a 95% paired-bootstrap interval, and McNemar's
exact p. :func:`should_promote` applies :data:`PROMOTION_RULE`, stated before any number is
seen. :func:`course_lib.retrain.retrain` uses both after each round.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROMOTION_RULE = (
    "promote the new version only if it is right on at least as many holdout photos "
    "as the served version (new correct >= old correct)"
)


@dataclass(frozen=True)
class HoldoutComparison:
    """Two versions scored on the same holdout photos."""

    n: int
    old_correct: int
    new_correct: int
    only_old_right: int
    only_new_right: int
    interval: tuple[float, float]  # 95% paired-bootstrap interval of new - old accuracy
    p_value: float  # McNemar's exact test

    @property
    def old_accuracy(self) -> float:
        """The served version's share of right holdout photos."""
        return self.old_correct / self.n

    @property
    def new_accuracy(self) -> float:
        """The new version's share of right holdout photos."""
        return self.new_correct / self.n

    @property
    def difference(self) -> float:
        """New accuracy minus old accuracy."""
        return (self.new_correct - self.old_correct) / self.n

    def summary(self) -> str:
        """Both counts and accuracies, the difference with its interval, and McNemar's p."""
        low, high = self.interval
        return (
            f"holdout of {self.n}: served {self.old_correct} right ({self.old_accuracy:.3f}), "
            f"new {self.new_correct} right ({self.new_accuracy:.3f}); difference "
            f"{self.difference:+.3f}, 95% interval [{low:+.3f}, {high:+.3f}]; only served right "
            f"{self.only_old_right}, only new right {self.only_new_right}, "
            f"McNemar p = {self.p_value:.3g}"
        )


def compare_on_holdout(
    y_true: np.ndarray,
    old_pred: np.ndarray,
    new_pred: np.ndarray,
    seed: int = 0,
    resamples: int = 2000,
) -> HoldoutComparison:
    """Both versions' holdout scores, the paired difference's 95% interval and McNemar's p."""
    from course_lib import metrics

    paired = metrics.compare_classifiers(y_true, old_pred, new_pred)
    interval = metrics.accuracy_difference_interval(
        y_true, old_pred, new_pred, confidence=0.95, resamples=resamples, seed=seed
    )
    y_true, old_pred, new_pred = (np.asarray(v).ravel() for v in (y_true, old_pred, new_pred))
    return HoldoutComparison(
        len(y_true),
        int(np.sum(old_pred == y_true)),
        int(np.sum(new_pred == y_true)),
        paired.only_a_right,
        paired.only_b_right,
        interval,
        paired.p_value,
    )


def should_promote(comparison: HoldoutComparison) -> bool:
    """:data:`PROMOTION_RULE`: at least as many photos right on the holdout."""
    return comparison.new_correct >= comparison.old_correct
