"""Lesson 05 checks accept right answers written in different ways and name each common mistake."""

from fractions import Fraction

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from sklearn.metrics import precision_recall_curve, top_k_accuracy_score
from solution_support import task_text

from course_lib import checks, explain


def _fails_with(result, phrase):
    assert not result.passed, result.message
    assert phrase in result.message, result.message
    return True


def _precision_and_recall(cm, k):
    return cm[k, k] / cm[:, k].sum(), cm[k, k] / cm[k, :].sum()


def test_5_1_accepts_precision_over_the_column_and_recall_over_the_row():
    assert checks.exercise_5_1(_precision_and_recall).passed
    assert checks.exercise_5_1(
        lambda cm, k: np.array(_precision_and_recall(cm, k), dtype=np.float32)
    ).passed

    def from_the_totals(cm, k):  # the diagonal over the column and row totals, as floats
        predicted, actual, right = cm.sum(axis=0), cm.sum(axis=1), np.diag(cm)
        return [float(right[k] / predicted[k]), float(right[k] / actual[k])]

    assert checks.exercise_5_1(from_the_totals).passed


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


def _precision_at_prevalence(cm, k, factor):
    tp = cm[k, k] * factor
    fp = cm[:, k].sum() - cm[k, k]
    return tp / (tp + fp)


def _scaled_row_copy(cm, k, factor):
    scaled = cm.astype(float)
    scaled[k] *= factor  # the whole row: false negatives shrink too, and do not matter here
    return scaled[k, k] / scaled[:, k].sum()


def test_5_2_accepts_true_positives_scaled_and_false_positives_kept():
    assert checks.exercise_5_2(_precision_at_prevalence).passed
    assert checks.exercise_5_2(_scaled_row_copy).passed
    assert checks.exercise_5_2(
        lambda cm, k, f: 1 / (1 + (cm[:, k].sum() - cm[k, k]) / (f * cm[k, k]))
    ).passed


def test_5_2_accepts_the_precision_as_an_exact_fraction():
    def exact(cm, k, factor):
        true_positives = Fraction(float(factor)) * int(cm[k, k])
        return true_positives / (true_positives + int(cm[:, k].sum() - cm[k, k]))

    assert checks.exercise_5_2(exact).passed


def _scaled_integer_copy(cm, k, factor):
    scaled = cm.copy()
    scaled[k] = scaled[k] * factor  # an integer matrix: 12.5 is stored as 12
    return scaled[k, k] / scaled[:, k].sum()


def _scaled_float_in_place(cm, k, factor):
    cm = cm.astype(float)
    cm[:, k] *= factor  # the column: true and false positives alike
    return cm[k, k] / cm[:, k].sum()


@pytest.mark.parametrize(
    "answer",
    [
        lambda cm, k, factor: float(cm[k, k] / cm[:, k].sum()),  # a student's: factor ignored
        _scaled_float_in_place,  # factor on TP and FP alike: the same numbers
    ],
)
def test_5_2_a_precision_that_ignores_the_factor_is_named_as_such(answer):
    result = checks.exercise_5_2(answer)
    assert _fails_with(result, "you return class k's precision today")
    assert "as if factor were 1" in result.message
    assert "Either the factor is not used at all, or it scales the false positives" in (
        result.message
    )


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_scaled_float_in_place, "does not change with factor"),
        (lambda cm, k, f: cm[k, k] / cm[k].sum(), "that is recall"),
        (lambda cm, k, f: _precision_at_prevalence(cm, k, 1 / f), "wrong way round"),
        (
            lambda cm, k, f: cm[k, k] / (cm[k, k] + f * (cm[:, k].sum() - cm[k, k])),
            "wrong way round",
        ),
        (_scaled_integer_copy, "whole numbers"),
        (
            lambda cm, k, f: (
                np.floor(cm[k, k] * f) / (np.floor(cm[k, k] * f) + cm[:, k].sum() - cm[k, k])
            ),
            "whole numbers",
        ),
        (lambda cm, k, f: f * cm[k, k], "between 0 and 1"),
        (lambda cm, k, f: [_precision_at_prevalence(cm, k, f)] * 2, "one number"),
        (lambda cm, k, f: (_precision_at_prevalence(cm, k, f),), "a tuple of length 1"),
        (lambda cm, k, f: np.array([_precision_at_prevalence(cm, k, f)]), "one number (a float)"),
        (lambda cm, k, f: None, "forget to `return`"),
        (lambda cm, k, f: 0.5, "values differ"),
    ],
)
def test_5_2_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_5_2(answer), phrase)


@pytest.mark.parametrize(
    "to_float16",
    [lambda value: tf.constant(value, tf.float16), np.float16],
    ids=["tf", "numpy"],
)
def test_5_2_a_float16_precision_is_named_by_its_type_not_by_the_formula(to_float16):
    result = checks.exercise_5_2(lambda cm, k, f: to_float16(_precision_at_prevalence(cm, k, f)))
    assert _fails_with(result, "you returned float16 numbers, which keep only about 3")
    assert "values differ" not in result.message
    assert "Return a Python float" in result.message


def test_5_2_a_value_off_in_the_5th_decimal_is_shown_with_the_digits_that_differ():
    result = checks.exercise_5_2(lambda cm, k, f: round(_precision_at_prevalence(cm, k, f), 4))
    assert _fails_with(result, "you returned 0.277800, expected 0.277778")


def test_5_2_accepts_float32_and_float64_results():
    assert checks.exercise_5_2(
        lambda cm, k, f: tf.constant(_precision_at_prevalence(cm, k, f), tf.float32)
    ).passed
    assert checks.exercise_5_2(
        lambda cm, k, f: np.float32(_precision_at_prevalence(cm, k, f))
    ).passed


def test_5_2_names_a_matrix_changed_in_place_and_an_integer_multiply():
    def changes_its_input(cm, k, f):
        cm[:, :] = 0
        return 0.5

    def multiplies_integers_in_place(cm, k, f):
        cm[k, k] *= f
        return 0.5

    def assigns_in_place(cm, k, f):
        cm[k] = cm[k] * f
        return cm[k, k] / cm[:, k].sum()

    assert _fails_with(checks.exercise_5_2(changes_its_input), "changed the matrix")
    assert _fails_with(checks.exercise_5_2(assigns_in_place), "changed the matrix")
    assert _fails_with(checks.exercise_5_2(multiplies_integers_in_place), "cm.astype(float)")


def _pr_threshold(y, scores, target):
    precision, _, thresholds = precision_recall_curve(y, scores)
    reached = np.flatnonzero(precision[:-1] >= target)
    return float(thresholds[reached[0]]) if len(reached) else None


def _loop_threshold(y, scores, target):
    y = np.asarray(y, bool)
    for threshold in sorted(
        set(scores.tolist())
    ):  # ascending: the first that reaches it keeps most recall
        flagged = scores >= threshold
        if y[flagged].sum() / flagged.sum() >= target:
            return threshold
    return None


def _pandas_threshold(y, scores, target):
    table = pd.DataFrame({"score": scores, "positive": np.asarray(y, int)}).groupby("score").sum()
    table = table.assign(count=pd.Series(scores).value_counts().sort_index().to_numpy()).sort_index(
        ascending=False
    )
    precision = (
        table["positive"].cumsum() / table["count"].cumsum()
    )  # flagging everything at or above the score
    reached = precision[precision >= target]
    return reached.index.min() if len(reached) else None


def _searchsorted_threshold(y_true, scores, min_precision):
    """Uses >=, as the task asks, but assumes precision rises with the threshold."""
    p, r, t = precision_recall_curve(y_true, scores)
    i = np.searchsorted(p[:-1], min_precision)
    return float(t[i]) if i < len(t) else None


def test_5_3_accepts_the_lowest_threshold_that_reaches_the_precision():
    assert checks.exercise_5_3(_pr_threshold).passed
    assert checks.exercise_5_3(_loop_threshold).passed
    assert checks.exercise_5_3(_pandas_threshold).passed


def _curve_answer(pick):
    def answer(y, scores, target):
        precision, recall, thresholds = precision_recall_curve(y, scores)
        return pick(precision, recall, thresholds, target)

    return answer


def _first(mask):
    found = np.flatnonzero(mask)
    return found[0] if len(found) else None


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (
            _curve_answer(
                lambda p, r, t, target: (
                    t[np.flatnonzero(p[:-1] >= target)[-1]] if (p[:-1] >= target).any() else None
                )
            ),
            "*highest* threshold",
        ),
        (_curve_answer(lambda p, r, t, target: t[np.argmax(p[:-1])]), "highest precision"),
        (_curve_answer(lambda p, r, t, target: t[np.argmin(np.abs(p[:-1] - target))]), "*closest*"),
        (
            _curve_answer(
                lambda p, r, t, target: (
                    None if _first(p[:-1] > target) is None else t[_first(p[:-1] > target)]
                )
            ),
            "includes equality",
        ),
        (
            _curve_answer(
                lambda p, r, t, target: (
                    None if _first(p[1:] >= target) is None else t[_first(p[1:] >= target)]
                )
            ),
            "neighbouring threshold",
        ),
        (
            lambda y, s, target: next((t for t in np.unique(s) if y[s > t].mean() >= target), None),
            "neighbouring threshold",
        ),
        (
            _curve_answer(lambda p, r, t, target: t[np.flatnonzero(p >= target)[0]]),
            "one entry more",
        ),
        (
            _curve_answer(
                lambda p, r, t, target: (
                    t[0] if _first(p[:-1] >= target) is None else t[_first(p[:-1] >= target)]
                )
            ),
            "return None when",
        ),
        (
            _curve_answer(
                lambda p, r, t, target: (
                    np.nan if _first(p[:-1] >= target) is None else t[_first(p[:-1] >= target)]
                )
            ),
            "not NaN",
        ),
        (
            _curve_answer(
                lambda p, r, t, target: (
                    None if _first(p[:-1] >= target) is None else p[_first(p[:-1] >= target)]
                )
            ),
            "precision reached",
        ),
        (_curve_answer(lambda p, r, t, target: _first(p[:-1] >= target)), "an index"),
        (lambda y, s, target: None, "can be reached here"),
        (_searchsorted_threshold, "a sorted search (np.searchsorted) can land past it"),
        (_curve_answer(lambda p, r, t, target: t), "one threshold"),
        (lambda y, s, target: "0.5", "not a str"),
    ],
)
def test_5_3_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_5_3(answer), phrase)


def _most_confused(cm):
    off = cm.copy()
    np.fill_diagonal(off, 0)
    return np.unravel_index(np.argmax(off), cm.shape)


def test_5_4_accepts_the_largest_off_diagonal_cell():
    assert checks.exercise_5_4(_most_confused).passed
    assert checks.exercise_5_4(lambda cm: [int(i) for i in _most_confused(cm)]).passed

    def with_masked_array(cm):  # another way to set the diagonal aside
        masked = np.ma.masked_array(cm, mask=np.eye(len(cm), dtype=bool))
        row, col = divmod(int(masked.argmax()), cm.shape[1])
        return row, col

    def with_a_loop(cm):
        best, pair = -1, None
        for i in range(len(cm)):
            for j in range(len(cm)):
                if i != j and cm[i, j] > best:
                    best, pair = cm[i, j], (i, j)
        return pair

    assert checks.exercise_5_4(with_masked_array).passed
    assert checks.exercise_5_4(with_a_loop).passed
    assert checks.exercise_5_4(
        lambda cm: tf.unravel_index(
            tf.argmax(tf.reshape(tf.linalg.set_diag(cm, tf.zeros(len(cm), cm.dtype)), [-1])),
            cm.shape,
        ).numpy()
    ).passed


def _in_place(cm):
    np.fill_diagonal(cm, 0)  # the caller's matrix loses its diagonal
    return np.unravel_index(np.argmax(cm), cm.shape)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda cm: np.unravel_index(np.argmax(cm), cm.shape), "diagonal"),
        (lambda cm: _most_confused(cm)[::-1], "the mirror image of the right cell"),
        (lambda cm: np.argmax(cm - np.diag(np.diag(cm))), "np.unravel_index"),
        (
            lambda cm: tuple(
                int(i)
                for i in np.unravel_index(
                    np.argmin(cm + np.diag(np.full(len(cm), 10**6))), cm.shape
                )
            ),
            "smallest cell",
        ),
        (lambda cm: (1, 2), "cm[1, 2] = 3 is not the largest"),
        (lambda cm: (1, 2, 3), "two class indices"),
        (_in_place, "changed its input `cm` in place"),
        (lambda cm: np.array(_most_confused(cm)) == 3, "booleans"),
        (lambda cm: tuple(float(i) for i in _most_confused(cm)), "float64 numbers"),
        (lambda cm: (7, 1), "not a cell of the 5 x 5 matrix"),
        (lambda cm: str(_most_confused(cm)), "a str"),
    ],
)
def test_5_4_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_5_4(answer), phrase)


def _row_with_most_mistakes_first(cm):
    off = cm.copy()
    np.fill_diagonal(off, 0)
    row = int(off.sum(axis=1).argmax())
    return row, int(off[row].argmax())


def _column_with_most_mistakes_first(cm):
    off = cm.copy()
    np.fill_diagonal(off, 0)
    column = int(off.sum(axis=0).argmax())
    return int(off[:, column].argmax()), column


def _largest_share_of_the_row(cm):
    shares = cm / cm.sum(axis=1, keepdims=True)
    np.fill_diagonal(shares, 0)
    return tuple(int(i) for i in np.unravel_index(np.argmax(shares), cm.shape))


def _largest_pair_then_its_larger_direction(cm):
    pairs = (cm + cm.T).astype(float)
    np.fill_diagonal(pairs, 0)
    i, j = (int(v) for v in np.unravel_index(np.argmax(pairs), cm.shape))
    return (i, j) if cm[i, j] >= cm[j, i] else (j, i)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_row_with_most_mistakes_first, "the largest count of row 1, the class with the most"),
        (_column_with_most_mistakes_first, "the largest count of column 1, the class predicted"),
        (_largest_share_of_the_row, "largest *share* of its row"),
        (_largest_pair_then_its_larger_direction, "cm[1, 2] + cm[2, 1] = 37 is the largest pair"),
    ],
)
def test_5_4_names_a_method_that_finds_the_right_cell_on_the_first_matrix_only(answer, phrase):
    # On the 5 x 5 matrix these find the right cell by luck; the second matrix tells them apart.
    result = checks.exercise_5_4(answer)
    assert _fails_with(result, "on a second matrix, 4 x 4")
    assert phrase in result.message
    assert "cm[3, 2] = 24" in result.message


def test_5_4_second_matrix_tells_every_way_of_finding_a_cell_apart():
    from course_lib.checks import lesson05

    cm = lesson05.CONFUSED_CM_2
    answers = [
        _most_confused,
        _row_with_most_mistakes_first,
        _column_with_most_mistakes_first,
        _largest_share_of_the_row,
        _largest_pair_then_its_larger_direction,
        lambda cm: _largest_share_of_the_row(cm.T)[::-1],  # the largest share of a column
    ]
    cells = [tuple(int(i) for i in answer(cm)) for answer in answers]
    assert len(set(cells)) == len(cells), cells
    assert cells[0][::-1] not in cells


def test_5_4_names_the_largest_share_of_a_column():
    def largest_share_of_the_column(cm):
        shares = cm / cm.sum(axis=0, keepdims=True)
        np.fill_diagonal(shares, 0)
        return np.unravel_index(np.argmax(shares), cm.shape)

    assert _fails_with(
        checks.exercise_5_4(largest_share_of_the_column), "largest *share* of its column"
    )


def _top_k_accuracy(probs, y, k):
    top = np.argsort(probs, axis=1)[:, ::-1][:, :k]
    return (top == y[:, None]).any(axis=1).mean()


def test_5_5_accepts_top_k_accuracy_and_agrees_with_sklearn():
    assert checks.exercise_5_5(_top_k_accuracy).passed
    assert checks.exercise_5_5(
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
        (
            lambda p, y, k: (np.argsort(-p, axis=1)[:, :k] == y[:, None]).any(axis=1),
            "single number",
        ),
        (lambda p, y, k: 0.5, "values differ"),
    ],
)
def test_5_5_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_5_5(answer), phrase)


def test_5_5_off_by_one_message_fits_an_ascending_sort_too():
    # [:, -k - 1:] after an ascending argsort keeps k + 1 classes; "[:, :k]" would be wrong there
    def ascending_one_too_many(p, y, k):
        return (np.argsort(p, axis=1)[:, -k - 1 :] == y[:, None]).any(axis=1).mean()

    result = checks.exercise_5_5(ascending_one_too_many)
    assert _fails_with(result, "k + 1 most likely classes")
    assert "[:, :k]" not in result.message


def _numpy_grad_cam(grad_model, images, class_index):
    # One tape per image, the weights summed rather than averaged (the scale cancels out),
    # NumPy for the rest.
    maps_out = []
    for image, c in zip(images, class_index, strict=True):
        with tf.GradientTape() as tape:
            maps, logits = grad_model(image[None], training=False)
            score = logits[0, int(c)]
        grads = tape.gradient(score, maps).numpy()[0]
        cam = np.maximum((maps.numpy()[0] * grads.sum(axis=(0, 1))).sum(axis=-1), 0)
        maps_out.append(cam / cam.max() if cam.max() > 0 else cam)
    return np.stack(maps_out)


def _gather_nd_grad_cam(grad_model, images, class_index):
    with tf.GradientTape() as tape:
        maps, logits = grad_model(images)
        rows = tf.range(tf.shape(logits)[0])
        scores = tf.gather_nd(logits, tf.stack([rows, tf.cast(class_index, tf.int32)], axis=1))
    weights = tf.reduce_mean(tape.gradient(scores, maps), axis=[1, 2], keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(maps * weights, axis=-1))
    peak = tf.reduce_max(cam, axis=[1, 2], keepdims=True)
    return tf.where(peak > 0, cam / tf.maximum(peak, 1e-12), 0.0)


@pytest.mark.usefixtures("library_copies_allowed")
def test_5_6_accepts_grad_cam_written_in_different_ways():
    assert checks.exercise_5_6(explain.grad_cam_heatmaps).passed
    assert checks.exercise_5_6(_numpy_grad_cam).passed
    assert checks.exercise_5_6(_gather_nd_grad_cam).passed


def _grad_cam_with(
    *,
    score=None,
    pool_axis=(1, 2),
    pooled=True,
    relu=True,
    normalise="per image",
    outside_tape=False,
    resize=False,
    keepdims=False,
    training=False,
):
    """A Grad-CAM with one deliberate mistake, as students write them."""

    def answer(grad_model, images, class_index):
        if outside_tape:
            maps, logits = grad_model(images, training=False)
        with tf.GradientTape() as tape:
            if not outside_tape:
                maps, logits = grad_model(images, training=training)
            chosen = (score or (lambda lg, c: tf.gather(lg, c, axis=1, batch_dims=1)))(
                logits, class_index
            )
        grads = tape.gradient(chosen, maps)
        weights = tf.reduce_mean(grads, axis=pool_axis, keepdims=True) if pooled else grads
        cam = tf.reduce_sum(maps * weights, axis=-1)
        if relu:
            cam = tf.nn.relu(cam)
        if normalise == "per image":
            cam = tf.math.divide_no_nan(cam, tf.reduce_max(cam, axis=(1, 2), keepdims=True))
        elif normalise == "batch":
            cam = cam / tf.reduce_max(cam)
        elif normalise == "plain":
            cam = cam / tf.reduce_max(cam, axis=(1, 2), keepdims=True)
        elif normalise == "min-max":
            low = tf.reduce_min(cam, axis=(1, 2), keepdims=True)
            high = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
            cam = tf.math.divide_no_nan(cam - low, high - low)
        if resize:
            cam = tf.image.resize(cam[..., None], images.shape[1:3])[..., 0]
        return cam[..., None] if keepdims else cam

    return answer


def _gradients_ignored(grad_model, images, class_index):  # a student's: maps averaged
    maps, _ = grad_model(images, training=False)
    cam = tf.nn.relu(tf.reduce_mean(maps, axis=-1))
    return tf.math.divide_no_nan(cam, tf.reduce_max(cam, axis=(1, 2), keepdims=True))


def _grad_cam_weighing(weigh, relu_each_map=False):
    """A student's Grad-CAM with the maps' weights from ``weigh(grads)``."""

    def answer(grad_model, images, class_index):
        with tf.GradientTape() as tape:
            maps, logits = grad_model(images, training=False)
            chosen = tf.gather(logits, class_index, axis=1, batch_dims=1)
        weighted = maps * weigh(tape.gradient(chosen, maps))
        if relu_each_map:
            cam = tf.reduce_sum(tf.nn.relu(weighted), axis=-1)
        else:
            cam = tf.nn.relu(tf.reduce_sum(weighted, axis=-1))
        return tf.math.divide_no_nan(cam, tf.reduce_max(cam, axis=(1, 2), keepdims=True))

    return answer


def _mean(grads):
    return tf.reduce_mean(grads, axis=(1, 2), keepdims=True)


def _shifted_grad_cam(grad_model, images, class_index):
    """Right maps, each rolled by one pixel: no known mistake, so the message says where."""
    maps = explain.grad_cam_heatmaps(grad_model, images, class_index)
    return np.roll(np.asarray(maps, dtype=np.float32), 1, axis=2)


@pytest.mark.usefixtures("library_copies_allowed")
@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_grad_cam_with(relu=False), "negative values"),
        (_grad_cam_with(normalise=None), "not scaled"),
        (_grad_cam_with(normalise="batch"), "whole batch"),
        (_grad_cam_with(normalise="plain"), "NaN in the maps of the blank image"),
        (_grad_cam_with(pooled=False), "pools the gradients first"),
        (_grad_cam_with(pool_axis=(0, 1, 2)), "over the batch too"),
        (_grad_cam_with(pool_axis=-1), "over the feature maps"),
        (_grad_cam_with(pool_axis=(0, 1, 2, 3)), "every feature map got the same weight"),
        (_gradients_ignored, "every feature map got the same weight"),
        (_grad_cam_weighing(_mean, relu_each_map=True), "ReLU to each weighted map before"),
        (
            _grad_cam_weighing(lambda g: tf.reduce_max(g, axis=(1, 2), keepdims=True)),
            "each map's weight is its largest gradient",
        ),
        (
            _grad_cam_weighing(lambda g: _mean(tf.nn.relu(g))),
            "you kept only the positive gradients",
        ),
        (_grad_cam_with(score=lambda lg, c: tf.gather(lg, c, axis=1)), "other images' classes"),
        (_grad_cam_with(score=lambda lg, c: tf.reduce_max(lg, axis=1)), "*predicted* class"),
        (
            _grad_cam_with(
                score=lambda lg, c: tf.gather(tf.nn.softmax(lg), c, axis=1, batch_dims=1)
            ),
            "softmax",
        ),
        (_grad_cam_with(outside_tape=True), "inside the `with tf.GradientTape()`"),
        (_grad_cam_with(resize=True), "image's size (28, 28)"),
        (_grad_cam_with(resize=True), "feature maps' resolution, (14, 14)"),
        (_shifted_grad_cam, "values differ; shape (6, 14, 14), dtype float32)"),
        (_grad_cam_with(keepdims=True), "drop the last axis"),
        (
            lambda grad_model, images, class_index: np.asarray(
                explain.grad_cam_heatmaps(grad_model, images, class_index), np.float16
            ),
            "right to float16's precision",
        ),
        (lambda grad_model, images, class_index: None, "forget to `return`"),
    ],
)
def test_5_6_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_5_6(answer), phrase)


def _students_grad_cam(grad_model, images, class_index, training=True, min_max=False):
    images = tf.convert_to_tensor(images, tf.float32)
    with tf.GradientTape() as tape:
        maps, logits = grad_model(images, training=training)
        scores = tf.gather(logits, tf.convert_to_tensor(class_index), axis=1, batch_dims=1)
    grads = tape.gradient(scores, maps)
    w = tf.reduce_mean(grads, axis=(1, 2))
    cam = tf.nn.relu(tf.einsum("nhwk,nk->nhw", maps, w))
    low = tf.reduce_min(cam, axis=(1, 2), keepdims=True) if min_max else 0.0
    return tf.math.divide_no_nan(cam - low, tf.reduce_max(cam, axis=(1, 2), keepdims=True) - low)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_students_grad_cam, "Call grad_model(images, training=False)"),
        (_grad_cam_with(training=True), "run in training mode"),
        (
            lambda m, x, c: _students_grad_cam(m, x, c, training=False, min_max=True),
            "you subtracted each map's minimum",
        ),
        (_grad_cam_with(normalise="min-max"), "Divide each map by its own maximum only"),
    ],
)
def test_5_6_training_mode_and_min_max_scaling_are_named_on_a_second_model(answer, phrase):
    # The first model has no BatchNormalization and its maps all reach 0: both pass there.
    result = checks.exercise_5_6(answer)
    assert _fails_with(result, phrase)
    assert result.message.startswith("on a second grad model")


def _relu_after_normalising(grad_model, images, class_index, no_nan=False):
    images = tf.convert_to_tensor(images, tf.float32)
    with tf.GradientTape() as tape:
        maps, logits = grad_model(images, training=False)
        scores = tf.gather(logits, tf.convert_to_tensor(class_index), axis=1, batch_dims=1)
    w = tf.reduce_mean(tape.gradient(scores, maps), axis=(1, 2))
    cam = tf.einsum("nhwk,nk->nhw", maps, w)  # a student's answer: ReLU last
    peak = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
    cam = tf.math.divide_no_nan(cam, peak) if no_nan else cam / (peak + 1e-8)
    return tf.nn.relu(cam).numpy()


@pytest.mark.parametrize("no_nan", [False, True])
def test_5_6_relu_after_the_normalisation_is_named_on_a_class_with_no_evidence(no_nan):
    result = checks.exercise_5_6(lambda m, x, c: _relu_after_normalising(m, x, c, no_nan))
    assert _fails_with(result, "you divided by the maximum before the ReLU")
    assert result.message.startswith("on a grad model where class 0 has no evidence at all")
    assert "Apply ReLU first" in result.message


@pytest.mark.parametrize("salt", [0, 1, 2, 3])
def test_5_6_third_model_has_a_class_with_no_evidence_on_every_draw(salt):
    from course_lib.checks import lesson05
    from course_lib.checks._core import fresh_inputs

    with fresh_inputs(salt):
        grad_model, images = lesson05._grad_cam_case_3()
        right = explain.grad_cam_heatmaps(grad_model, images, lesson05.GRAD_CAM_CLASSES_3)
        wrong = _relu_after_normalising(grad_model, images, lesson05.GRAD_CAM_CLASSES_3)
    empty = lesson05.GRAD_CAM_CLASSES_3 == 0
    assert np.all(np.asarray(right)[empty] == 0) and np.asarray(right)[~empty].max() > 0.99
    assert np.all(wrong[empty].max(axis=(1, 2)) > 0.5)


def test_5_6_second_model_tells_training_mode_and_min_max_apart():
    from course_lib.checks import lesson05

    variants = lesson05._grad_cam_2_variants()
    right = variants["right"]
    assert right.min(axis=(1, 2)).min() > 0.05  # positive everywhere: min-max changes it
    for name in ("training", "min-max"):
        assert np.abs(variants[name] - right).max() > 0.05, name


def test_5_6_test_data_tells_each_mistake_apart():
    from course_lib.checks import lesson05

    grad_model, images = lesson05._grad_cam_case()
    variants = lesson05._grad_cam_variants(grad_model, images, lesson05.GRAD_CAM_CLASSES)
    names = list(variants)
    for i, a in enumerate(names):
        assert variants[a][:-1].max(axis=(1, 2)).min() > 0, (
            f"{a}: an image other than the blank one has an empty map"
        )
        for b in names[i + 1 :]:
            assert not np.allclose(variants[a], variants[b], atol=1e-3), (
                f"{a} and {b} give the same maps"
            )


def _raises(*args):
    raise ValueError("student bug")


@pytest.mark.parametrize("exercise", ["5_1", "5_2", "5_3", "5_4", "5_5", "5_6"])
@pytest.mark.parametrize(
    "answer",
    [
        _raises,
        lambda *args: "text",
        lambda *args: {"a": 1},
        lambda *args: tf.constant([1.0, 2.0]),
        42,
    ],
    ids=["raises", "a string", "a dict", "a tensor", "not a function"],
)
def test_every_check_says_not_yet_to_any_odd_answer_without_crashing(exercise, answer):
    result = getattr(checks, f"exercise_{exercise}")(answer)
    assert not result.passed and result.message


def _threshold_sorting_in_place(y_true, scores, min_precision):
    order = np.argsort(scores)
    y_true[:] = y_true[order]  # sorted "to walk the curve": the caller's labels are reordered
    scores.sort()
    return _pr_threshold(y_true, scores, min_precision)


def test_5_3_names_labels_and_scores_sorted_in_place():
    assert _fails_with(checks.exercise_5_3(_threshold_sorting_in_place), "in place")


def _top_k_with_keras_metric(probs, y, k):
    metric = keras.metrics.SparseTopKCategoricalAccuracy(k=k)
    metric.update_state(y, probs)
    return float(metric.result())


def _top_k_with_in_top_k(probs, y, k):
    return float(
        tf.reduce_mean(tf.cast(tf.math.in_top_k(tf.cast(y, tf.int32), probs, k), tf.float32))
    )


@pytest.mark.parametrize("answer", [_top_k_with_keras_metric, _top_k_with_in_top_k])
def test_5_5_accepts_keras_and_tensorflow_on_the_float32_probabilities_a_model_gives(answer):
    assert checks.exercise_5_5(answer).passed


def test_5_1_names_integer_division_and_says_where_an_unknown_answer_differs():
    assert _fails_with(
        checks.exercise_5_1(lambda cm, k: (cm[k, k] // cm[:, k].sum(), cm[k, k] // cm[k].sum())),
        "`//` divides and drops the fraction",
    )
    assert _fails_with(
        checks.exercise_5_1(lambda cm, k: (0.5, 0.25)),
        "For k=0 you returned (0.5000, 0.2500), expected",
    )


def test_5_1_names_a_division_by_the_false_positives_or_negatives_alone():
    def over_fp(cm, k):
        return cm[k, k] / (cm[:, k].sum() - cm[k, k]), cm[k, k] / cm[k].sum()

    def over_fp_and_fn(cm, k):
        return cm[k, k] / (cm[:, k].sum() - cm[k, k]), cm[k, k] / (cm[k].sum() - cm[k, k])

    result = checks.exercise_5_1(over_fp)
    assert _fails_with(result, "you divided precision by the rest of column k alone")
    assert "recall by the rest" not in result.message and "those are counts" not in result.message
    assert _fails_with(
        checks.exercise_5_1(over_fp_and_fn),
        "(use the whole column total) and recall by the rest of row k alone",
    )


def test_5_5_names_a_percentage():
    result = checks.exercise_5_5(lambda p, y, k: 100 * _top_k_accuracy(p, y, k))
    assert _fails_with(result, "those are percentages")
    assert "those are counts" not in result.message


def test_5_3_names_nan_when_a_threshold_exists():
    result = checks.exercise_5_3(lambda y, s, target: float("nan"))
    assert _fails_with(result, "you returned NaN, yet precision 0.7 can be reached")
    assert "None" not in result.message


def _walk_images_one_by_one(y_true, scores, min_precision):
    """A student's: precision after each image by score, tied scores not grouped."""
    order = np.argsort(-np.asarray(scores))
    labels, ranked = np.asarray(y_true)[order].astype(float), np.asarray(scores)[order]
    precision = np.cumsum(labels) / np.arange(1, len(labels) + 1)
    reached = np.flatnonzero(precision >= min_precision)
    return float(ranked[reached[-1]]) if len(reached) else None


@pytest.mark.parametrize("salt", [None, 1, 2, 3, 4])
def test_5_3_names_tied_scores_counted_one_by_one(salt):
    from course_lib.checks._core import fresh_inputs

    if salt is None:
        result = checks.exercise_5_3(_walk_images_one_by_one)
    else:
        with fresh_inputs(salt):
            result = checks.exercise_5_3(_walk_images_one_by_one)
    assert _fails_with(result, "images share the score")
    assert "compute the precision at each distinct score" in result.message
    assert "neighbouring" not in result.message and "searchsorted" not in result.message


@pytest.mark.parametrize(
    ("score", "named"),
    [
        (lambda logits, c: logits[:, 0], 0),
        (lambda logits, c: logits[:, 3], 3),
        # A student's: one entry of class_index taken as the class of every image.
        (lambda logits, c: tf.gather(logits, c[-1], axis=1), 1),
    ],
)
def test_5_6_names_the_maps_of_one_class_for_every_image_whichever_class(score, named):
    result = checks.exercise_5_6(_grad_cam_with(score=score))
    assert _fails_with(result, f"those are the maps of class {named} for every image")
    assert f"(logits[:, {named}])" in result.message


def test_5_6_the_first_entry_of_class_index_for_every_image_is_not_called_written_in_only():
    # A student's: scores = logits[:, int(class_index[0])]; class_index[0] is 0 in the check
    result = checks.exercise_5_6(_grad_cam_with(score=lambda lg, c: lg[:, int(c[0])]))
    assert not result.passed
    assert result.message == (
        "those are the maps of class 0 for every image (logits[:, 0]), one class for all the "
        "images, whether written in or taken from one entry of class_index (here "
        "class_index[0] is 0); explain each image's own class, given in class_index: "
        "tf.gather(logits, class_index, axis=1, batch_dims=1)."
    )


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (  # a student's
            lambda y, s, m: [0.5],
            "you returned [0.5], a list of length 1; return the threshold itself, a float: t, "
            "not [t] (a mask such as thresholds[ok][:1] keeps an array of one element; "
            "thresholds[ok][0] or .min() gives the number).",
        ),
        (
            lambda y, s, m: (
                _pr_threshold(y, s, m)
                if _pr_threshold(y, s, m) is None
                else np.array([_pr_threshold(y, s, m)])
            ),
            "you returned array([",
        ),
    ],
)
def test_5_3_a_threshold_inside_a_list_or_array_is_named_as_such(answer, message):
    result = checks.exercise_5_3(answer)
    assert _fails_with(result, message)
    assert "a float: t, not [t]" in result.message


def test_5_4_class_names_for_indices_are_named_as_names():
    result = checks.exercise_5_4(lambda cm: ("Shirt", "T-shirt/top"))  # a student's
    assert not result.passed
    assert result.message == (
        "your pair holds names, ('Shirt', 'T-shirt/top'); return the class indices, two ints "
        "(true_class, predicted_class): the row and the column of the count in cm."
    )
    # Other values that are no numbers are named in words, not as NumPy's dtype codes
    result = checks.exercise_5_4(lambda cm: [b"3", b"1"])
    assert _fails_with(result, "your pair is a list of length 2, holding bytes, not two ints")


@pytest.mark.parametrize(
    ("exercise", "answer", "message"),
    [
        (  # a student's
            "5.1",
            lambda cm, k: {"precision": 0.5, "recall": 0.5},
            "your result is a dict of length 2, not a pair of numbers, (precision, recall).",
        ),
        (  # a student's
            "5.1",
            lambda cm, k: "high precision, low recall",
            "your result is a str ('high precision, low recall'), not a pair of numbers, "
            "(precision, recall).",
        ),
        (  # a student's
            "5.2",
            lambda cm, k, factor: "lower",
            "your precision is a str ('lower'), not a number (a float).",
        ),
        (  # a student's
            "5.5",
            lambda probabilities, y, k: "95%",
            "your accuracy is a str ('95%'), not a number (a float in [0, 1]).",
        ),
    ],
)
def test_5_what_is_no_number_is_told_what_the_task_asks_for(exercise, answer, message):
    result = getattr(checks, f"exercise_{exercise.replace('.', '_')}")(answer)
    assert not result.passed
    assert str(result) == f"❌ Not yet (exercise {exercise}): {message}"


@pytest.mark.parametrize(
    ("exercise", "answer", "message"),
    [
        (  # a student's
            "5.2",
            lambda cm, k, factor: complex(0.5, 0.1),
            "your precision is a complex ((0.5+0.1j)); its imaginary part (the j) must not be "
            "there: the task asks for a number (a float). Look for where the complex value "
            "comes from.",
        ),
        (
            "5.1",
            lambda cm, k: np.array(_precision_and_recall(cm, k), dtype=np.complex128),
            "your result is a complex128 array of shape (2,); its imaginary part (the j) must "
            "not be there: the task asks for a pair of numbers, (precision, recall).",
        ),
    ],
)
def test_5_a_complex_value_is_named_complex_and_the_check_warns_nothing(
    exercise, answer, message, recwarn
):
    result = getattr(checks, f"exercise_{exercise.replace('.', '_')}")(answer)
    assert not result.passed
    assert str(result).startswith(f"❌ Not yet (exercise {exercise}): {message}")
    assert not [w for w in recwarn if "complex" in str(w.message).lower()], [
        str(w.message) for w in recwarn
    ]


def _threshold_for_0_9(y_true, scores, min_precision):  # a student's: 0.9 written in
    p, r, t = precision_recall_curve(y_true, scores)
    reached = np.flatnonzero(p[:-1] >= 0.9)
    return float(t[reached[0]]) if len(reached) else None


def test_5_3_a_target_written_in_is_said_to_ignore_min_precision():
    result = checks.exercise_5_3(_threshold_for_0_9)
    assert not result.passed
    assert str(result) == (
        "❌ Not yet (exercise 5.3): your function seems to ignore min_precision: on the same "
        "scores it returns 0.78 for min_precision 0.6, 0.7, 0.8, 0.9 and 0.95 alike, the "
        "lowest threshold that reaches a precision of 0.9 there, and on every test the "
        "threshold of that one target. Compare the precision with the argument, not with a "
        "number written in."
    )


def test_5_3_a_function_that_uses_min_precision_wrongly_is_not_said_to_ignore_it():
    def assumes_precision_rises(y_true, scores, min_precision):  # a student's
        p, r, t = precision_recall_curve(y_true, scores)
        below = np.flatnonzero(p[:-1] < min_precision)
        start = below[-1] + 1 if len(below) else 0
        return float(t[start]) if start < len(t) else None

    for answer in (assumes_precision_rises, lambda y, s, target: None):
        result = checks.exercise_5_3(answer)
        assert _fails_with(result, "precision 0.7 can be reached here (at threshold 0.42)")
        assert "ignore" not in result.message


@pytest.mark.parametrize(
    ("number", "recipe"),
    [
        ("5.1", ["TP", "FP", "FN", "column k", "row k"]),
        ("5.6", ["GradientTape", "gather", "reduce_mean", "einsum", "divide_no_nan", "relu"]),
    ],
)
def test_5_1_and_5_6_task_texts_state_the_contract_not_the_steps(number, recipe):
    text = task_text(number)
    assert [step for step in recipe if step in text] == []


def test_5_1_names_percentages_as_percentages_not_counts():
    def in_percent(cm, k):
        precision, recall = _precision_and_recall(cm, k)
        return 100 * precision, 100 * recall

    result = checks.exercise_5_1(in_percent)
    assert _fails_with(result, "those are percentages")
    assert "counts" not in result.message


def test_5_1_a_single_value_is_one_value_and_an_in_place_division_gets_its_hint():
    assert _fails_with(
        checks.exercise_5_1(lambda cm, k: cm[k, k] / cm[:, k].sum()), "got one value."
    )

    def divides_in_place(cm, k):
        cm /= cm.sum(axis=0)  # an integer matrix: numpy refuses to store the fractions
        return cm[k, k], cm[k, k]

    assert _fails_with(
        checks.exercise_5_1(divides_in_place), "Hint: the matrix holds integers: an in-place"
    )


def test_5_2_names_today_s_precision_multiplied_by_the_factor():
    assert _fails_with(
        checks.exercise_5_2(lambda cm, k, factor: cm[k, k] / cm[:, k].sum() * factor),
        "you multiplied class k's precision today by the factor",
    )


def test_an_index_error_gets_only_the_hint_of_its_own_exercise():
    def overruns_the_column(cm, k, factor):  # one row too many
        fp = sum(cm[i, k] for i in range(len(cm) + 1) if i != k)
        return cm[k, k] * factor / (cm[k, k] * factor + fp)

    result = checks.exercise_5_2(overruns_the_column)
    assert _fails_with(result, "IndexError")
    assert "sklearn" not in result.message

    def overruns_the_maps(grad_model, images, class_index):
        maps, _ = grad_model(images, training=False)
        return maps.numpy()[..., 7]

    result = checks.exercise_5_6(overruns_the_maps)
    assert _fails_with(result, "IndexError")
    assert "sklearn" not in result.message


def test_5_6_logits_indexed_with_the_array_of_classes_gets_a_hint():
    def indexes_with_the_classes(grad_model, images, class_index):
        with tf.GradientTape() as tape:
            maps, logits = grad_model(images, training=False)
            scores = logits[:, class_index]
        return tape.gradient(scores, maps).numpy().mean(axis=-1)

    assert _fails_with(
        checks.exercise_5_6(indexes_with_the_classes),
        "Hint: a TensorFlow tensor cannot be indexed with an array of classes",
    )


@pytest.mark.parametrize("pick", [np.min, np.max])
def test_5_3_precision_and_recall_swapped_when_unpacking_is_named(pick):
    def swapped(y_true, scores, min_precision):
        recall, precision, thresholds = precision_recall_curve(y_true, scores)
        reached = thresholds[precision[:-1] >= min_precision]
        return float(pick(reached)) if reached.size else None

    result = checks.exercise_5_3(swapped)
    assert _fails_with(result, "the *recall* reaches min_precision")
    assert "ignore min_precision" not in result.message


def test_5_5_names_a_mean_over_the_k_columns_and_integer_division():
    def mean_over_columns(probabilities, y, k):
        top = np.argsort(-probabilities, axis=1)[:, :k]
        return float((top == y[:, None]).mean())

    assert _fails_with(
        checks.exercise_5_5(mean_over_columns), "your mean runs over the k columns too"
    )

    def floor_division(probabilities, y, k):
        top = np.argsort(-probabilities, axis=1)[:, :k]
        return int((top == y[:, None]).any(axis=1).sum()) // len(y)

    assert _fails_with(checks.exercise_5_5(floor_division), "`//` divides")
    # a float 0 everywhere is no floor division: it is told where it differs
    result = checks.exercise_5_5(lambda probabilities, y, k: 0.0)
    assert _fails_with(result, "values differ")
