"""Most-confused pairs and calibration summaries, on examples small enough to check by hand."""

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from course_lib import metrics

CM = np.array(
    [
        [50, 2, 8],
        [9, 40, 1],
        [3, 3, 44],
    ]
)


def test_most_confused_pairs_are_off_diagonal_and_largest_first():
    table = metrics.most_confused_pairs(CM, ["a", "b", "c"], k=4)
    assert list(zip(table["true"], table["predicted"], strict=True)) == [
        ("b", "a"),
        ("a", "c"),
        ("c", "a"),
        ("c", "b"),
    ]
    assert list(table["count"]) == [9, 8, 3, 3]
    assert table["share of true class"].iloc[0] == pytest.approx(9 / 50)


def test_most_confused_pairs_rejects_a_mismatch():
    with pytest.raises(ValueError, match="2 class names"):
        metrics.most_confused_pairs(CM, ["a", "b"])
    with pytest.raises(ValueError, match="square"):
        metrics.most_confused_pairs(CM[:2], ["a", "b"])


# Four predictions over two classes; their top probabilities are 0.9, 0.8, 0.6 and 0.65.
PROBS = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.35, 0.65]])
Y = np.array([0, 0, 0, 1])  # right, wrong, right, right


def test_expected_calibration_error_matches_a_hand_computation():
    # With 2 bins, (0, 0.5] is empty and (0.5, 1] holds all four: confidence
    # (0.9 + 0.8 + 0.6 + 0.65) / 4 = 0.7375, accuracy 3/4, ECE = |0.75 - 0.7375|.
    assert metrics.expected_calibration_error(PROBS, Y, n_bins=2) == pytest.approx(0.0125)
    # With 5 bins: (0.8, 1] holds 0.9 (right); (0.6, 0.8] holds 0.8 (wrong) and
    # 0.65 (right); (0.4, 0.6] holds 0.6 (right).
    # ECE = 1/4 |1 - 0.9| + 2/4 |0.5 - 0.725| + 1/4 |1 - 0.6| = 0.025 + 0.1125 + 0.1
    assert metrics.expected_calibration_error(PROBS, Y, n_bins=5) == pytest.approx(0.2375)


def test_a_perfectly_calibrated_and_a_perfect_model_score_zero():
    certain = np.eye(3)[[0, 1, 2, 1]]
    assert metrics.expected_calibration_error(certain, [0, 1, 2, 1]) == 0.0
    assert metrics.expected_calibration_error(certain, [1, 1, 2, 1]) == pytest.approx(0.25)


def test_reliability_table_bins_like_sklearn_calibration_curve():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(300, 4)) * 2
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = rng.integers(0, 4, 300)
    table = metrics.reliability_table(probabilities, y, n_bins=10)
    assert table["count"].sum() == 300 and len(table) == 10
    correct = probabilities.argmax(axis=1) == y
    accuracy, confidence = calibration_curve(correct, probabilities.max(axis=1), n_bins=10)
    used = table[table["count"] > 0]
    np.testing.assert_allclose(used["accuracy"], accuracy)
    np.testing.assert_allclose(used["confidence"], confidence)
    assert table[table["count"] == 0]["accuracy"].isna().all()


def test_compare_classifiers_counts_disagreements_and_gives_mcnemars_exact_p_value():
    from scipy.stats import binomtest

    y = np.zeros(100, dtype=int)
    pred_a = y.copy()
    pred_b = y.copy()
    pred_b[:12] = 1  # B wrong on 12 that A gets right
    pred_a[90:93] = 1  # A wrong on 3 that B gets right
    result = metrics.compare_classifiers(y, pred_a, pred_b)
    assert (result.only_a_right, result.only_b_right) == (12, 3)
    assert result.accuracy_a == 0.97 and result.accuracy_b == 0.88
    assert result.p_value == pytest.approx(binomtest(12, 15, 0.5).pvalue)
    assert result.p_value < 0.05
    assert "McNemar p" in result.summary("cnn", "dense")


def test_compare_classifiers_that_never_disagree_cannot_be_told_apart():
    y = np.arange(10) % 3
    assert metrics.compare_classifiers(y, y, y).p_value == 1.0


def test_compare_classifiers_refuses_arrays_of_different_lengths():
    with pytest.raises(ValueError, match="equal"):
        metrics.compare_classifiers(np.zeros(3), np.zeros(3), np.zeros(2))


def _pair_with_disagreements(only_a: int, only_b: int, both: int, neither: int):
    """Labels and two classifiers' answers with the given counts of each kind of example."""
    n = only_a + only_b + both + neither
    y = np.zeros(n, dtype=int)
    pred_a, pred_b = y.copy(), y.copy()
    pred_b[:only_a] = 1  # A right, B wrong
    pred_a[only_a : only_a + only_b] = 1  # B right, A wrong
    pred_a[n - neither :] = pred_b[n - neither :] = 1  # both wrong
    return y, pred_a, pred_b


def test_accuracy_difference_interval_brackets_the_difference_like_the_normal_approximation():
    # Lesson 06's full-run counts: 138 only A right, 257 only B right, of 2,000
    y, pred_a, pred_b = _pair_with_disagreements(138, 257, 1400, 205)
    low, high = metrics.accuracy_difference_interval(y, pred_a, pred_b, seed=1)
    difference = (257 - 138) / 2000
    # the normal approximation from the discordant counts: the same interval, give or take
    se = np.sqrt((138 + 257) - (257 - 138) ** 2 / 2000) / 2000
    assert low < difference < high
    assert low == pytest.approx(difference - 1.96 * se, abs=0.003)
    assert high == pytest.approx(difference + 1.96 * se, abs=0.003)
    # B against A is A against B turned round
    flipped = metrics.accuracy_difference_interval(y, pred_b, pred_a, seed=1)
    assert flipped == pytest.approx((-high, -low), abs=1e-9)
    # a wider confidence, a wider interval; the seed is what makes it repeatable
    wide = metrics.accuracy_difference_interval(y, pred_a, pred_b, confidence=0.99, seed=1)
    assert wide[0] < low and wide[1] > high
    assert metrics.accuracy_difference_interval(y, pred_a, pred_b, seed=1) == (low, high)


def test_accuracy_difference_interval_is_paired_not_two_separate_accuracies():
    # B is right on 30 more of 1,000 examples and never wrong where A is right: a sure gain,
    # although two separate 95% intervals of accuracies near 0.5 would overlap widely
    y, pred_a, pred_b = _pair_with_disagreements(0, 30, 470, 500)
    low, high = metrics.accuracy_difference_interval(y, pred_a, pred_b)
    assert 0 < low < 0.03 < high < 0.05


def test_accuracy_difference_interval_of_classifiers_that_never_disagree_is_one_value():
    y = np.arange(10) % 3
    pred = np.where(y == 2, 0, y)  # wrong on the three 2s
    assert metrics.accuracy_difference_interval(y, pred, pred) == (0.0, 0.0)
    # B right on every example, A on none: every example gives the same difference, 1
    assert metrics.accuracy_difference_interval(y, (y + 1) % 3, y) == (1.0, 1.0)


def test_accuracy_difference_interval_refuses_arrays_of_different_lengths():
    with pytest.raises(ValueError, match="equal"):
        metrics.accuracy_difference_interval(np.zeros(3), np.zeros(3), np.zeros(2))
