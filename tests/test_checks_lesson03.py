"""Lesson 03 checks accept the right answer and name each common mistake."""

import contextlib
import math

import keras
import numpy as np
import pytest
import scipy.signal
from keras import layers

from course_lib import checks, images
from course_lib.checks._core import fresh_inputs

# Answers and mistakes are built from the library's copies here (images.convolve2d and
# images.same_padding); tests/test_checks_copies.py shows they are refused as answers.
pytestmark = pytest.mark.usefixtures("library_copies_allowed")


def _fails_with(result, phrase):
    assert not result.passed, result.message
    assert phrase in result.message, result.message
    return True


def _loop_convolve(image, kernel, stop_short=0):
    k = kernel.shape[0]
    h, w = image.shape
    out = np.zeros((h - k + 1, w - k + 1))
    for i in range(h - k + 1 - stop_short):
        for j in range(w - k + 1):
            out[i, j] = (image[i : i + k, j : j + k] * kernel).sum()
    return out


def _windows_convolve(image, kernel):
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel)


def _three_by_three_only(image, kernel):
    h, w = image.shape
    out = np.zeros((h - 2, w - 2))
    for i in range(h - 2):
        for j in range(w - 2):
            out[i, j] = (image[i : i + 3, j : j + 3] * kernel).sum()
    return out


def _output_sized_for_three(image, kernel):
    k = kernel.shape[0]
    h, w = image.shape
    out = np.zeros((h - 2, w - 2))
    for i in range(h - 2):
        for j in range(w - 2):
            out[i, j] = (image[i : i + k, j : j + k] * kernel).sum()
    return out


def _output_of_the_image_dtype(image, kernel):
    k = kernel.shape[0]
    h, w = image.shape
    out = np.zeros((h - k + 1, w - k + 1), dtype=image.dtype)
    for i in range(h - k + 1):
        for j in range(w - k + 1):
            out[i, j] = (image[i : i + k, j : j + k] * kernel).sum()
    return out


def _list_of_rows(image, kernel):
    k = kernel.shape[0]
    h, w = image.shape
    return [
        [float((image[i : i + k, j : j + k] * kernel).sum()) for j in range(w - k + 1)]
        for i in range(h - k + 1)
    ]


def _float32_from_windows(image, kernel):
    k = len(kernel)
    rows, cols = image.shape[0] - k + 1, image.shape[1] - k + 1
    out = np.empty((rows, cols), dtype=np.float32)
    for i, j in np.ndindex(rows, cols):
        out[i, j] = np.sum(image[i : i + k, j : j + k] * kernel)
    return out


@pytest.mark.parametrize(
    "answer",
    [
        _float32_from_windows,
        lambda im, k: np.array(_list_of_rows(im, k)),
        _loop_convolve,
        images.convolve2d,
        _windows_convolve,
        lambda im, k: scipy.signal.correlate2d(im, k, mode="valid"),
    ],
)
def test_3_1_accepts_a_double_loop_sliding_windows_and_library_functions(answer):
    result = checks.exercise_3_1(answer)
    assert result.passed, result.message


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda im, k: _loop_convolve(im, k[::-1, ::-1]), "flipped the kernel"),
        (lambda im, k: _loop_convolve(im, k.T), "transposed"),
        (lambda im, k: images.convolve2d(im, k, padding="same"), "fits only"),
        (lambda im, k: _loop_convolve(im, k)[:-1, :-1], "one row and one column short"),
        (lambda im, k: _loop_convolve(im, k, stop_short=1), "last row or column is still 0"),
        (lambda im, k: _loop_convolve(im, k).T, "swapped"),
        (lambda im, k: _loop_convolve(im, k) * 2, "values differ"),
        (lambda im, k: None, "forget to `return`"),
        (
            _output_of_the_image_dtype,
            "right with float images, but with a 5x6 uint8 image and a 3x3 kernel: your output "
            "has dtype uint8",
        ),
        (_list_of_rows, "you returned a list of rows; the task asks for a float array"),
        (lambda im, k: (_loop_convolve(im, k) * 2).astype(np.float32), "dtype float32)"),
        (
            _three_by_three_only,
            "but with a 7x5 image and a 2x2 kernel, your code raised ValueError",
        ),
        (_output_sized_for_three, "but with a 7x5 image and a 2x2 kernel: the output is one row"),
        (
            lambda im, k: _loop_convolve(im, k) + (k.shape[0] == 2),
            "First difference: output[0, 0]",
        ),
    ],
)
def test_3_1_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_3_1(answer), phrase)


def _correlate_as(dtype):
    def convolve_valid(image, kernel):  # a student's, scipy's result cast at the end
        return scipy.signal.correlate2d(image, kernel, mode="valid").astype(dtype)

    return convolve_valid


@pytest.mark.parametrize(
    ("dtype", "message"),
    [
        (
            np.complex128,
            "your output holds complex128 values, complex numbers; the task asks for a float "
            "array: each weighted sum of real pixels and weights is a real number, so start "
            "from an array of floats (np.zeros gives float64).",
        ),
        (
            object,
            "your output is a NumPy array of dtype object (or of another dtype that holds no "
            "plain numbers), not the float array the task asks for: start from an array of "
            "floats (np.zeros gives float64), or turn yours into one with .astype(np.float64).",
        ),
    ],
)
def test_3_1_an_output_of_no_float_dtype_is_refused_and_the_check_warns_nothing(
    dtype, message, recwarn
):
    result = checks.exercise_3_1(_correlate_as(dtype))
    assert not result.passed
    assert str(result) == f"❌ Not yet (exercise 3.1): {message}"
    assert not [w for w in recwarn if "ComplexWarning" in type(w.message).__name__]


def test_3_1_a_float16_output_is_told_its_precision_is_what_differs():
    result = checks.exercise_3_1(_correlate_as(np.float16))
    assert _fails_with(
        result,
        "your output has dtype float16, which keeps only about 3 significant digits, so every "
        "weighted sum comes out rounded: output[0, 0] is ",
    )
    assert result.message.endswith("dtype float16). The task asks for float32 or float64.")
    assert "right shape, but the values differ" not in result.message
    # Values wrong beyond rounding are named as they are in any dtype
    wrong = checks.exercise_3_1(lambda im, k: (_loop_convolve(im, k) * 2).astype(np.float16))
    assert _fails_with(wrong, "right shape, but the values differ")


def test_3_1_unattempted_exercise_says_so():
    def untouched(image, kernel):
        raise NotImplementedError("Exercise 3.1")

    assert _fails_with(checks.exercise_3_1(untouched), "not attempted yet")


SOBEL_X = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
SOBEL_Y = [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]
# K[i, j] = j - i: the diagonal Sobel kernel, 0 on '/' edges and strong on '\' ones
RIGHT_DIAGONAL = [[0, 1, 2], [-1, 0, 1], [-2, -1, 0]]


def _j_minus_i():
    i, j = np.indices((3, 3))
    return (j - i).astype(np.float32)


@pytest.mark.parametrize(
    "kernel",
    [
        RIGHT_DIAGONAL,  # a list of lists
        -np.array(RIGHT_DIAGONAL, dtype=np.float64),  # the other sign: dark above the diagonal
        _j_minus_i(),  # built from the indices, float32
        np.array([[0, 0, 1], [0, 0, 0], [-1, 0, 0]]),  # only the two far corners, ints
        np.array([[0, 1, 1], [-1, 0, 1], [-1, -1, 0]]) * 0.5,  # Prewitt's diagonal, scaled
    ],
)
def test_3_2_accepts_diagonal_edge_kernels_written_in_different_ways(kernel):
    result = checks.exercise_3_2(kernel)
    assert result.passed, result.message


@pytest.mark.parametrize(
    ("kernel", "message"),
    [
        (
            SOBEL_X,
            "your kernel finds vertical edges (a change from left to right: it gives 0 on "
            "horizontal ones), and it responds to '/' edges too: on the '/' edge [[0, 0, 1], "
            "[0, 1, 1], [1, 1, 1]] it gives 3, not 0. A '/' edge also changes from left to "
            "right; a diagonal-edge kernel must ignore it.",
        ),
        (
            SOBEL_Y,
            "your kernel finds horizontal edges (a change from top to bottom: it gives 0 on "
            "vertical ones), and it responds to '/' edges too: on the '/' edge [[0, 0, 1], "
            "[0, 1, 1], [1, 1, 1]] it gives 3, not 0. A '/' edge also changes from top to "
            "bottom; a diagonal-edge kernel must ignore it.",
        ),
        (
            np.fliplr(RIGHT_DIAGONAL),
            "your kernel finds the other diagonal, edges that run like '/' (on the '/' edge "
            "[[0, 0, 1], [0, 1, 1], [1, 1, 1]] it gives -4, not 0), and gives 0 on every '\\' "
            "edge. The task asks for the opposite: 0 on '/' edges and a response on '\\' ones "
            "(mirror your kernel left to right).",
        ),
        (
            [[1, 1, 2], [-1, 1, 1], [-2, -1, 1]],  # a diagonal step with a bright centre
            "on a flat area, where every pixel is 1, your kernel gives 3 (the sum of its "
            "weights), not 0; on a flat area of brightness b it gives b times that. Make the "
            "weights add up to 0, so that only a change lights the kernel up.",
        ),
        (
            [[0, -1, 0], [-1, 4, -1], [0, -1, 0]],  # a Laplacian: edges of every direction
            "your kernel responds to edges that run like '/': on the '/' edge [[0, 0, 1], "
            "[0, 1, 1], [1, 1, 1]] it gives 2, not 0. Along each line from bottom-left to "
            "top-right such an edge has one brightness, wherever the step sits in the window; "
            "your kernel must give 0 on every one of them.",
        ),
        (
            [[0, 0, 1], [0, -1, 0], [0, 0, 0]],  # off the centre: blind when the diagonal is bright
            "your kernel gives 0 on the '\\' edge [[1, 1, 1], [0, 1, 1], [0, 0, 1]], which "
            "runs through the window's centre; it must respond to such an edge whether the "
            "diagonal pixels belong to the bright side or to the dark side.",
        ),
        (
            np.ones((3, 3)) / 9,
            "every weight has the same sign: that is a blur, an average of the neighbourhood. "
            "An edge detector subtracts one side from the other.",
        ),
        (
            np.zeros((3, 3)),
            "all weights are 0, so the output is 0 everywhere, on a '\\' edge too: give the "
            "weights values that tell the two sides of a '\\' edge apart.",
        ),
        ([[0, 1], [-1, 0]], "your kernel has shape (2, 2); expected (3, 3)."),
        (np.array(RIGHT_DIAGONAL)[:, :, None], "drop the last axis of size 1"),
        (None, "your kernel is None"),
        (np.ones((3, 3), dtype=bool), "your kernel holds bool values, not numbers."),
        (
            [[0, 1, float("nan")], [-1, 0, 1], [-2, -1, 0]],
            "your kernel holds NaN or infinite weights, so the windows it touches give NaN or "
            "infinity instead of a response: every weight must be an ordinary number.",
        ),
    ],
)
def test_3_2_names_the_mistake(kernel, message):
    assert _fails_with(checks.exercise_3_2(kernel), message)


def test_3_2_a_complex_kernel_is_no_array_of_weights_and_the_check_warns_nothing(recwarn):
    result = checks.exercise_3_2(np.array(RIGHT_DIAGONAL, dtype=float).astype(complex))
    assert _fails_with(result, "your kernel holds complex128 values, complex numbers")
    assert not [w for w in recwarn if "ComplexWarning" in type(w.message).__name__]


def _drawn_edges():
    from course_lib.checks import lesson03

    return lesson03._slash_edges()[8:], lesson03._backslash_edges()[4:]


def _is_step(patch, line):
    """Constant along each line of ``line`` (i + j or j - i), two levels at least 0.3 apart."""
    i, j = np.indices((3, 3))
    position = i + j if line == "/" else j - i
    levels = sorted({float(v) for v in patch.flat})
    constant = all(len({float(v) for v in patch[position == p]}) == 1 for p in np.unique(position))
    return constant and len(levels) == 2 and levels[1] - levels[0] >= 0.3


def test_3_2_draws_edges_afresh_in_each_grading_run():
    slash, backslash = _drawn_edges()
    again = _drawn_edges()
    assert [p.tolist() for p in slash + backslash] == [p.tolist() for p in again[0] + again[1]]
    with fresh_inputs(7):
        graded = _drawn_edges()
    assert len(slash) == len(graded[0]) == 4 and len(backslash) == len(graded[1]) == 2
    assert not all(np.array_equal(a, b) for a, b in zip(slash, graded[0], strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(backslash, graded[1], strict=True))
    for patches, line in [(slash + graded[0], "/"), (backslash + graded[1], "\\")]:
        assert all(_is_step(p, line) for p in patches), patches
    # A '\' edge runs through the centre: the diagonal on one side, its neighbours on the other
    assert all(p[1, 1] != p[1, 0] or p[1, 1] != p[1, 2] for p in backslash + graded[1])


def test_3_2_judges_the_edges_it_draws(monkeypatch):
    from course_lib.checks import lesson03

    # Only the drawn '/' edges left: the vertical-edge kernel is still named on one of them
    every_edge = lesson03._slash_edges
    monkeypatch.setattr(lesson03, "_slash_edges", lambda: every_edge()[8:])
    for salt in (None, 1, 2):
        with contextlib.nullcontext() if salt is None else fresh_inputs(salt):
            drawn = [lesson03._rows(p) for p in every_edge()[8:]]
            wrong = checks.exercise_3_2(SOBEL_X)
            right = checks.exercise_3_2(RIGHT_DIAGONAL)
        assert right.passed, right.message
        assert _fails_with(wrong, "your kernel finds vertical edges")
        assert any(f"on the '/' edge {rows} it gives" in wrong.message for rows in drawn)


# --- 3.3: a whole convolution layer, all channels and all filters ------------------------------


def _loop_channels(image, kernel):
    # A student's: the window loop of 3.1, each window weighed by every filter's kernel at once
    k = kernel.shape[0]
    h, w, _ = image.shape
    out = np.zeros((h - k + 1, w - k + 1, kernel.shape[-1]))
    for i in range(h - k + 1):
        for j in range(w - k + 1):
            out[i, j] = (image[i : i + k, j : j + k, :, None] * kernel).sum(axis=(0, 1, 2))
    return out


def _offsets_channels(image, kernel):
    # A student's: one kernel offset at a time, every window at once, channels by a matmul
    k = kernel.shape[0]
    rows, cols = image.shape[0] - k + 1, image.shape[1] - k + 1
    out = np.zeros((rows, cols, kernel.shape[-1]))
    for di in range(k):
        for dj in range(k):
            out += image[di : di + rows, dj : dj + cols] @ kernel[di, dj]
    return out


def _per_channel_maps(image, kernel):  # (h', w', c, f): nothing summed over the channels
    k = kernel.shape[0]
    rows, cols = image.shape[0] - k + 1, image.shape[1] - k + 1
    out = np.zeros((rows, cols, image.shape[-1], kernel.shape[-1]))
    for di in range(k):
        for dj in range(k):
            out += image[di : di + rows, dj : dj + cols, :, None] * kernel[di, dj]
    return out


def _filters_from_library(image, kernel):  # a student's: exercise 3.1's copy, summed
    return np.stack(
        [
            sum(
                images.convolve2d(image[..., c], kernel[:, :, c, m]) for c in range(image.shape[-1])
            )
            for m in range(kernel.shape[-1])
        ],
        axis=-1,
    )


def _einsum_channels(image, kernel):
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape[:3])[:, :, 0]
    return np.einsum("ijklc,klcf->ijf", windows, kernel)


def _keras_channels(image, kernel):
    # One Conv2D holding the kernel: float32 arithmetic, a right answer all the same.
    conv = layers.Conv2D(kernel.shape[-1], kernel.shape[0], use_bias=False)
    conv.build((None, *image.shape))
    conv.set_weights([kernel.astype("float32")])
    return conv(image[None].astype("float32"))[0]


def _three_channels_only(image, kernel):
    return _filters_from_library(image[..., :3], kernel[:, :, :3]) + 0 * image[0, 0, 2]


def _output_sized_for_k_three(image, kernel):
    k = kernel.shape[0]
    h, w, _ = image.shape
    out = np.zeros((h - 2, w - 2, kernel.shape[-1]))  # h - 3 + 1: written for a 3x3 kernel
    for i in range(h - 2):
        for j in range(w - 2):
            out[i, j] = (image[i : i + k, j : j + k, :, None] * kernel).sum(axis=(0, 1, 2))
    return out


def _window_of_three(image, kernel):
    h, w, _ = image.shape
    out = np.zeros((h - 2, w - 2, kernel.shape[-1]))
    for i in range(h - 2):
        for j in range(w - 2):  # fails for a 2x2 kernel
            out[i, j] = (image[i : i + 3, j : j + 3, :, None] * kernel).sum(axis=(0, 1, 2))
    return out


def _one_filter_copied_from_the_lesson(image, kernel):  # a student's: 3.1's window loop
    k = kernel.shape[0]
    h, w = image.shape[:2]
    out = np.zeros((h - k + 1, w - k + 1))
    for i in range(h - k + 1):
        for j in range(w - k + 1):
            out[i, j] = (image[i : i + k, j : j + k, :] * kernel).sum()
    return out


def _list_of_maps(image, kernel):  # a student's: one map per filter, in a list
    return [
        _filters_from_library(image, kernel[..., m : m + 1])[..., 0]
        for m in range(kernel.shape[-1])
    ]


@pytest.mark.parametrize(
    "answer",
    [
        _loop_channels,
        _offsets_channels,
        _filters_from_library,
        _einsum_channels,
        _keras_channels,
        lambda im, k: np.stack(
            [
                scipy.signal.correlate(im, k[..., m], mode="valid")[..., 0]
                for m in range(k.shape[-1])
            ],
            axis=-1,
        ),
    ],
)
def test_3_3_accepts_loops_offsets_einsum_keras_and_scipy(answer):
    assert checks.exercise_3_3(answer).passed, checks.exercise_3_3(answer).message


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_per_channel_maps, "one map per channel and per filter"),
        (
            lambda im, k: _per_channel_maps(im, k).sum(axis=-1),
            "your output has one map per input channel, shape (4, 5, 3)",
        ),
        (
            lambda im, k: _offsets_channels(im, k).sum(axis=-1),
            "you added the maps of the 4 filters into one",
        ),
        (
            lambda im, k: _offsets_channels(im, k)[..., 0],
            "your output is the first filter's map only",
        ),
        (
            _one_filter_copied_from_the_lesson,
            "operands could not be broadcast together with shapes (3,3,3) (3,3,3,4). The kernel "
            "has one axis more than a window of the image, the filters",
        ),
        (_list_of_maps, "the maps are right, but stacked on the first axis, shape (4, 4, 5)"),
        (lambda im, k: _per_channel_maps(im, k).mean(axis=-2), "averaged the channels"),
        (lambda im, k: _per_channel_maps(im, k)[:, :, 0], "only the first channel"),
        (
            lambda im, k: _offsets_channels(im, np.repeat(k[:, :, :1], im.shape[-1], axis=2)),
            "kernel[:, :, 0, m]",
        ),
        (lambda im, k: _offsets_channels(im, k[:, :, ::-1]), "paired in reverse order"),
        (
            lambda im, k: np.repeat(_offsets_channels(im, k)[..., :1], k.shape[-1], axis=-1),
            "every map is the first filter's",
        ),
        (lambda im, k: _offsets_channels(im, k[..., ::-1]), "the maps come in reverse order"),
        (lambda im, k: _loop_channels(im, k[::-1, ::-1]), "flipped the kernel"),
        (lambda im, k: _offsets_channels(im, k.transpose(1, 0, 2, 3)), "kernel transposed"),
        (
            _three_channels_only,
            "right for a 3-channel float32 image and a 3x3 kernel of 4 filters, but with a "
            "2-channel float64 image and a 2x2 kernel of 3 filters, your code raised",
        ),
        (_output_sized_for_k_three, "take k from kernel.shape[0]"),
        (_window_of_three, "your code raised ValueError"),
        (
            lambda im, k: np.stack(
                [
                    sum(
                        images.convolve2d(im[..., c], k[:, :, c, m], padding="same")
                        for c in range(im.shape[-1])
                    )
                    for m in range(k.shape[-1])
                ],
                axis=-1,
            ),
            "the output has the image's height and width (6, 7); with valid padding the 3x3 "
            "window fits only",
        ),
        (lambda im, k: _loop_channels(im, k) + 1, "values differ"),
        (lambda im, k: None, "forget to `return`"),
        (lambda im, k: {"out": 1}, "a dict of length 1, not an array of numbers"),
    ],
)
def test_3_3_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_3_3(answer), phrase)


def _channels_into(dtype):  # a student's: an output array of 8-bit pixels, values clipped
    def answer(image, kernel):
        out = np.zeros(_loop_channels(image, kernel).shape, dtype=dtype)
        out[...] = np.clip(_loop_channels(image, kernel), 0, 255)
        return out

    return answer


@pytest.mark.parametrize(
    ("dtype", "phrase"),
    [
        (np.uint8, "dtype uint8, so each weighted sum lost its fraction and a negative one cannot"),
        (
            np.int64,
            "dtype int64, so each weighted sum lost its fraction; the task asks for a float",
        ),
    ],
)
def test_3_3_an_integer_output_is_named_as_3_1_names_it(dtype, phrase):
    result = checks.exercise_3_3(_channels_into(dtype))
    assert _fails_with(result, phrase)
    assert "values differ" not in result.message


def test_3_3_values_that_differ_are_shown_with_the_answer_s_own_dtype():
    result = checks.exercise_3_3(lambda im, k: (_loop_channels(im, k) + 1).astype(np.float32))
    assert _fails_with(result, "values differ")
    assert _fails_with(result, "dtype float32)")


def test_3_3_an_output_with_extra_axes_is_shown_with_its_whole_shape():
    def convolve_channels(image, kernel):  # a student's
        return np.dot(image, kernel)

    result = checks.exercise_3_3(convolve_channels)
    assert not result.passed
    assert str(result) == (
        "❌ Not yet (exercise 3.3): your output has shape (6, 7, 3, 3, 4): the image's height "
        "and width (6, 7), then 3 extra axes (3, 3, 4). A layer gives one number per window "
        "position and filter, an output of shape (4, 5, 4): with valid padding the 3x3 window "
        "fits only (h - k + 1, w - k + 1) = (4, 5) times, and each window's weighted sum adds "
        "its rows, columns and channels into one number."
    )


# --- 3.4: where 'same' puts its zeros ------------------------------------------------------------


def _same_padding_with_ceil(n, k, s):
    out = math.ceil(n / s)
    total = max((out - 1) * s + k - n, 0)
    before = total // 2
    return before, total - before


def _same_padding_by_search(n, k, s):
    # The fewest zeros that give ceil(n / s) windows, the odd one at the end.
    total = 0
    while (n + total - k) // s + 1 < -(-n // s):
        total += 1
    return total // 2, total - total // 2


def _same_padding_as_numpy_ints(n, k, s):
    total = np.maximum((np.ceil(n / s) - 1) * s + k - n, 0).astype(np.int64)
    return tuple(np.array([total // 2, total - total // 2]))


@pytest.mark.parametrize(
    "answer",
    [
        _same_padding_with_ceil,
        _same_padding_by_search,
        images.same_padding,
        _same_padding_as_numpy_ints,
    ],
)
def test_3_4_accepts_tensorflows_rule_written_several_ways(answer):
    result = checks.exercise_3_4(answer)
    assert result.passed, result.message


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (lambda n, k, s: list(images.same_padding(n, k, s)), "a list of length 2"),
        (lambda n, k, s: np.array(images.same_padding(n, k, s)), "int64 array of shape (2,)"),
    ],
)
def test_3_4_right_numbers_in_a_list_or_array_are_not_the_pair_the_text_tests(answer, shown):
    # The exercise's own test, same_padding(28, 3, 1) == (1, 1), is False for [1, 1].
    result = checks.exercise_3_4(answer)
    assert _fails_with(result, "the numbers are right, but you return")
    assert shown in result.message
    assert "`return before, after`" in result.message


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda n, k, s: ((k - 1) // 2, (k - 1) // 2), "rule for stride 1"),
        (lambda n, k, s: ((k - 1) // 2, k - 1 - (k - 1) // 2), "k - 1 zeros in total"),
        (lambda n, k, s: images.same_padding(n, k, s)[::-1], "odd zero at the end"),
        (
            lambda n, k, s: (
                ((-(-n // s) - 1) * s + k - n) // 2,
                (-(-n // s) - 1) * s + k - n - ((-(-n // s) - 1) * s + k - n) // 2,
            ),
            "max(..., 0)",
        ),
        (
            lambda n, k, s: (
                (max((n // s - 1) * s + k - n, 0)) // 2,
                max((n // s - 1) * s + k - n, 0) - max((n // s - 1) * s + k - n, 0) // 2,
            ),
            "ceil(n / s)",
        ),
        (lambda n, k, s: sum(images.same_padding(n, k, s)), "return two"),
        (lambda n, k, s: (sum(images.same_padding(n, k, s)) / 2,) * 2, "whole number"),
        (lambda n, k, s: (0, 0), "TensorFlow pads"),
        (lambda n, k, s: None, "forget to `return`"),
        (lambda n, k, s: (1, 2, 3), "return two numbers"),
    ],
)
def test_3_4_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_3_4(answer), phrase)


def _clipped_half_only(n, k, s):  # a student's: max(..., 0) on the zeros before only
    out = -(-n // s)
    total = (out - 1) * s + k - n
    return max(total // 2, 0), total - total // 2


def test_3_4_windows_that_fit_with_pixels_to_spare_are_tried_too():
    assert _fails_with(
        checks.exercise_3_4(_clipped_half_only),
        "for n=7, k=1, s=4 you return (0, -1), a negative number of zeros: the last of the "
        "2 windows starts at 4 and reaches pixel 4, inside the 7 pixels (0 to 6), so "
        "TensorFlow pads (0, 0). Zeros are only ever added: clip the total at 0",
    )


def _same_padding_times_one(n, k, s):  # a student's: floats from / 2, then * 1.0
    out = math.ceil(n / s)
    total = max((out - 1) * s + k - n, 0)
    return math.floor(total / 2) * 1.0, total - math.floor(total / 2) * 1.0


def _same_padding_with_np_ceil(n, k, s):  # a student's: np.ceil gives NumPy floats
    out = np.ceil(n / s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


_WHOLE = (
    " for n=28, k=3, s=1); the task asks for two ints: a number of zeros is whole, and np.pad, "
    "say, refuses a float. Compute with ints (// instead of /, math.ceil or -(-n // s) instead "
    "of np.ceil), or convert with int(...)."
)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            _same_padding_times_one,
            "the values are right, but you return floats ((1.0, 1.0)" + _WHOLE,
        ),
        (
            _same_padding_with_np_ceil,
            "the values are right, but you return NumPy float64 numbers ((1.0, 1.0)" + _WHOLE,
        ),
        (
            lambda n, k, s: "0, 1",
            "your result is a str ('0, 1'), not a pair of whole numbers, (before, after).",
        ),
    ],
)
def test_3_4_padding_counts_must_be_whole_numbers_as_in_3_6(answer, message):
    result = checks.exercise_3_4(answer)
    assert not result.passed
    assert str(result) == f"❌ Not yet (exercise 3.4): {message}"


def test_3_4_numpy_integers_and_a_mix_with_python_ints_pass():
    def mixed(n, k, s):
        before, after = _same_padding_as_numpy_ints(n, k, s)
        return int(before), np.int32(after)

    for answer in (_same_padding_as_numpy_ints, mixed):
        result = checks.exercise_3_4(answer)
        assert result.passed, result.message


# --- 3.5: build the stated CNN -------------------------------------------------------------------


def _cnn(
    input_shape,
    num_classes,
    filters=(16, 32, 8),
    kernels=(3, 3, 1),
    padding="same",
    flatten=True,
    one_by_one=True,
    conv_activation="relu",
    hidden_activation="relu",
    last_activation="softmax",
    declared_shape=None,
    pool=2,
):
    stack = [
        keras.Input(shape=declared_shape or input_shape),
        layers.Conv2D(filters[0], kernels[0], padding=padding, activation=conv_activation),
        layers.MaxPooling2D(pool),
        layers.Conv2D(filters[1], kernels[1], padding=padding, activation=conv_activation),
        layers.MaxPooling2D(pool),
    ]
    if one_by_one:
        stack.append(layers.Conv2D(filters[2], kernels[2], activation=conv_activation))
    if flatten:
        stack.append(layers.Flatten())
    stack += [
        layers.Dense(64, activation=hidden_activation),
        layers.Dense(num_classes, activation=last_activation),
    ]
    return keras.Sequential(stack)


def _functional_cnn(input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)
    x = layers.Conv2D(16, (3, 3), padding="same")(inputs)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D(pool_size=(2, 2))(x)
    x = layers.Conv2D(32, (3, 3), padding="same")(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D(pool_size=(2, 2))(x)
    x = layers.Conv2D(8, (1, 1), activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Softmax()(layers.Dense(num_classes)(x))
    return keras.Model(inputs, outputs)


def _added_one_by_one(input_shape, num_classes):
    model = keras.Sequential()
    model.add(keras.Input(shape=input_shape))
    for filters, size in ((16, 3), (32, 3)):
        model.add(layers.Conv2D(filters, size, strides=1, padding="same"))
        model.add(layers.Activation("relu"))
        model.add(layers.MaxPooling2D(2, strides=2))
    model.add(layers.Conv2D(8, 1, padding="same", activation="relu"))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dense(num_classes))
    model.add(layers.Activation("softmax"))
    return model


@pytest.mark.parametrize("answer", [_cnn, _functional_cnn, _added_one_by_one])
def test_3_5_accepts_sequential_functional_and_separate_activation_layers(answer):
    result = checks.exercise_3_5(answer)
    assert result.passed, result.message


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda shape, n: _cnn(shape, n, flatten=False), "there is no Flatten"),
        (lambda shape, n: _cnn(shape, n, last_activation=None), "outputs logits"),
        (
            lambda shape, n: _cnn(shape, n, last_activation="sigmoid"),
            "activation is sigmoid, so the model outputs numbers in (0, 1), each squashed on "
            "its own",
        ),
        (
            lambda shape, n: _cnn(shape, n, hidden_activation="softmax"),
            "the first Dense layer has the softmax",
        ),
        (
            lambda shape, n: _cnn(shape, n, filters=(32, 64, 8)),
            "the first Conv2D has 32 filters; the architecture says 16: in the table its output "
            "has 16",
        ),
        (
            lambda shape, n: _cnn(shape, n, declared_shape=(28, 28, 1)),
            "use keras.Input(shape=input_shape)",
        ),
        (lambda shape, n: _cnn(shape, 10), "num_classes is 4"),
        (lambda shape, n: _cnn(shape, n, padding="valid"), "padding='valid'"),
        (
            lambda shape, n: _cnn(shape, n, one_by_one=False),
            "the third Conv2D is missing, the one the table gives an 8x8x8 output",
        ),
        (
            lambda shape, n: _cnn(shape, n, kernels=(3, 3, 3)),
            "the third Conv2D has a 3x3 kernel; the architecture says 1x1: the table gives it 264 "
            "parameters",
        ),
        (
            lambda shape, n: _cnn(shape, n, conv_activation=None),
            "the first Conv2D has no activation",
        ),
        (lambda shape, n: _cnn(shape, n, pool=4), "use MaxPooling2D(2)"),
        (
            lambda shape, n: keras.Sequential(
                [
                    keras.Input(shape=shape),
                    layers.Conv2D(16, 3, padding="same"),
                    layers.GlobalAveragePooling2D(),
                    layers.Dense(n, activation="softmax"),
                ]
            ),
            "GlobalAveragePooling2D where the architecture has Flatten",
        ),
        (lambda shape, n: [layers.Conv2D(16, 3), layers.Flatten()], "not a Keras model"),
        (lambda shape, n: None, "forget to `return`"),
        (
            lambda shape, n: keras.Sequential([layers.Dense(n)]).not_a_method(),
            "raised AttributeError",
        ),
    ],
)
def test_3_5_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_3_5(answer), phrase)


@pytest.mark.parametrize(
    ("pool", "phrase"),
    [
        (
            {"pool_size": 2, "padding": "same"},
            "the first MaxPooling2D has padding='same'; both poolings are the baseline's, "
            "MaxPooling2D(2), with padding='valid'",
        ),
        (
            {"pool_size": 3, "strides": 2, "padding": "same"},
            "the first MaxPooling2D has pool size (3, 3) and strides (2, 2); use MaxPooling2D(2)",
        ),
    ],
)
def test_3_5_a_same_padded_pooling_that_fits_the_table_is_named(pool, phrase):
    # Both also give 16x16 and 8x8 on the table's 32x32 input: only an odd side tells them
    # apart from MaxPooling2D(2), where the parameter count alone would not say why.
    def answer(shape, n):
        stack = _cnn_layers(n)
        stack[1], stack[3] = layers.MaxPooling2D(**pool), layers.MaxPooling2D(**pool)
        return keras.Sequential([keras.Input(shape=shape), *stack])

    from course_lib.checks import lesson03

    table = answer((32, 32, 3), 10)
    assert table.count_params() == lesson03.reference_cnn((32, 32, 3), 10).count_params()
    result = checks.exercise_3_5(answer)
    assert _fails_with(result, phrase)
    assert "Dense" not in result.message


def _cnn_layers(num_classes, conv=None, dense=None):
    conv, dense = conv or {}, dense or {}
    return [
        layers.Conv2D(16, 3, padding="same", activation="relu", **conv),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, padding="same", activation="relu", **conv),
        layers.MaxPooling2D(2),
        layers.Conv2D(8, 1, activation="relu", **conv),
        layers.Flatten(),
        layers.Dense(64, activation="relu", **dense),
        layers.Dense(num_classes, activation="softmax", **dense),
    ]


def test_3_5_a_model_that_never_uses_input_shape_is_told_to_start_with_keras_input():
    # A student's: unbuilt, it adapts to whatever batch it is called on, so the test of
    # two shapes alone cannot tell; 4.3 says the same for the same answer.
    result = checks.exercise_3_5(lambda shape, n: keras.Sequential(_cnn_layers(n)))
    assert _fails_with(result, "your model does not know its input shape yet")
    assert _fails_with(result, "keras.Input(shape=input_shape)")


def test_3_5_the_input_shape_given_to_the_first_layer_keras_2_style_still_passes():
    def keras_2_style(shape, n):
        first, *rest = _cnn_layers(n)
        return keras.Sequential(
            [layers.Conv2D(16, 3, padding="same", activation="relu", input_shape=shape), *rest]
        )

    with pytest.warns(UserWarning, match="input_shape"):
        result = checks.exercise_3_5(keras_2_style)
    assert result.passed, result.message


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (
            lambda shape, n: keras.Sequential([keras.Input(shape=shape)]),
            "no layers after the Input",
        ),
        (lambda shape, n: keras.Sequential([]), "your model has no layers: add the layers"),
    ],
)
def test_3_5_a_model_without_layers_is_told_so_not_about_input_shapes(answer, phrase):
    result = checks.exercise_3_5(answer)
    assert _fails_with(result, phrase)
    assert "input_shape" not in result.message


@pytest.mark.parametrize("activation", ["leaky_relu", "elu", "tanh"])
def test_3_5_another_non_linear_activation_is_not_said_to_collapse(activation):
    result = checks.exercise_3_5(lambda shape, n: _cnn(shape, n, conv_activation=activation))
    assert _fails_with(result, f"the first Conv2D has activation {activation}; the architecture")
    assert "collapse" not in result.message


@pytest.mark.parametrize(
    ("conv", "dense", "phrase"),
    [
        ({"use_bias": False}, {}, "the first Conv2D has no bias (use_bias=False)"),
        ({}, {"use_bias": False}, "the hidden Dense layer has no bias (use_bias=False)"),
    ],
)
def test_3_5_a_bias_left_out_is_named_not_only_counted(conv, dense, phrase):
    def answer(shape, n):
        return keras.Sequential([keras.Input(shape=shape), *_cnn_layers(n, conv, dense)])

    assert _fails_with(checks.exercise_3_5(answer), phrase)


def test_3_5_a_parameter_count_that_differs_names_the_layer():
    def grouped(shape, n):
        stack = _cnn_layers(n)
        stack[2] = layers.Conv2D(32, 3, padding="same", activation="relu", groups=2)
        return keras.Sequential([keras.Input(shape=shape), *stack])

    result = checks.exercise_3_5(grouped)
    assert _fails_with(result, "the architecture has 38,834: the second Conv2D has 2,336 where")


def _leaky_relu_layer_after_the_second_conv(input_shape, num_classes):  # a student's
    stack = [
        keras.Input(shape=input_shape),
        layers.Conv2D(16, 3, padding="same"),
        layers.ReLU(),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, padding="same"),
        layers.ReLU(negative_slope=0.2),
        layers.MaxPooling2D(2),
        layers.Conv2D(8, 1),
        layers.ReLU(),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dense(num_classes, activation="softmax"),
    ]
    return keras.Sequential([la for la in stack if la is not None])


def _capped_relu_after_the_hidden_dense(input_shape, num_classes):  # a student's
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(8, 1, activation="relu"),
            layers.Flatten(),
            layers.Dense(64),
            layers.ReLU(max_value=0.5),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )


def _relu6_layers(input_shape, num_classes):  # a student's
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(16, 3, padding="same"),
            layers.ReLU(max_value=6.0),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, padding="same"),
            layers.ReLU(max_value=6.0),
            layers.MaxPooling2D(2),
            layers.Conv2D(8, 1),
            layers.ReLU(max_value=6.0),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )


def _dilated_first_conv(input_shape, num_classes):  # a student's
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(16, 3, padding="same", activation="relu", dilation_rate=2),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(8, 1, activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )


_NOT_THE_PLAIN_RELU = (
    ": another activation than the architecture's ReLU, max(x, 0). Write layers.ReLU() "
    "without arguments, or activation='relu'."
)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            _leaky_relu_layer_after_the_second_conv,
            "the second Conv2D is followed by a ReLU layer with negative_slope=0.2, which lets "
            "values below 0 through, multiplied by 0.2 (a leaky ReLU)" + _NOT_THE_PLAIN_RELU,
        ),
        (
            _capped_relu_after_the_hidden_dense,
            "the hidden Dense layer is followed by a ReLU layer with max_value=0.5, which caps "
            "its outputs at 0.5" + _NOT_THE_PLAIN_RELU,
        ),
        (
            _relu6_layers,
            "the first Conv2D is followed by a ReLU layer with max_value=6, which caps its "
            "outputs at 6" + _NOT_THE_PLAIN_RELU,
        ),
        (
            _dilated_first_conv,
            "the first Conv2D has dilation_rate (2, 2): its 3x3 kernel is spread out with gaps "
            "between its weights and covers a 5x5 field, with the same parameters and output "
            "shape. The architecture has a plain 3x3 window: leave dilation_rate at its "
            "default, 1.",
        ),
    ],
)
def test_3_5_a_relu_layer_s_settings_and_a_dilation_are_compared(answer, message):
    result = checks.exercise_3_5(answer)
    assert not result.passed
    assert str(result) == f"❌ Not yet (exercise 3.5): {message}"


def test_3_5_plain_relu_layers_everywhere_and_a_dilated_1x1_conv_pass():
    def separate_relus(shape, n):  # ReLU() after every layer that has one, the Dense too
        return keras.Sequential(
            [
                keras.Input(shape=shape),
                layers.Conv2D(16, 3, padding="same"),
                layers.ReLU(),
                layers.MaxPooling2D(2),
                layers.Conv2D(32, 3, padding="same"),
                layers.ReLU(max_value=None, negative_slope=0.0, threshold=0.0),
                layers.MaxPooling2D(2),
                layers.Conv2D(8, 1, dilation_rate=2),  # a 1x1 window has no gaps to spread
                layers.ReLU(),
                layers.Flatten(),
                layers.Dense(64),
                layers.ReLU(),
                layers.Dense(n, activation="softmax"),
            ]
        )

    result = checks.exercise_3_5(separate_relus)
    assert result.passed, result.message


# --- 3.6: receptive field ------------------------------------------------------------------------


def _field_forward(stack):
    field, jump = 1, 1
    for k, s in stack:
        field += (k - 1) * jump
        jump *= s
    return field


def _field_backward(stack):
    # From one output value down to the input: r pixels of a layer's output need (r - 1) * s + k
    # inputs.
    r = 1
    for k, s in reversed(stack):
        r = (r - 1) * s + k
    return r


def _field_numpy(stack):
    if not stack:
        return 1
    kernels, strides = np.array(stack).T
    jumps = np.concatenate([[1], np.cumprod(strides)[:-1]])
    return np.int64(1 + ((kernels - 1) * jumps).sum())


def _field_stride_first(stack):
    field, jump = 1, 1
    for k, s in stack:
        jump *= s  # updated before it is used: the layer's own stride counted in its own window
        field += (k - 1) * jump
    return field


@pytest.mark.parametrize("answer", [_field_forward, _field_backward, _field_numpy])
def test_3_6_accepts_forward_backward_and_vectorised_answers(answer):
    assert checks.exercise_3_6(answer).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda stack: 1 + sum(k - 1 for k, _ in stack), "you ignored the strides"),
        (lambda stack: sum(k for k, _ in stack), "counts the overlap"),
        (lambda stack: math.prod(k for k, _ in stack), "multiplying the kernel sizes"),
        (_field_stride_first, "own stride does not widen its own window"),
        (
            lambda stack: (
                1 + sum((k - 1) * (stack[i - 1][1] if i else 1) for i, (k, _) in enumerate(stack))
            ),
            "strides multiply",
        ),
        (lambda stack: math.prod(s for _, s in stack), "that is the product of the strides"),
        (lambda stack: _field_forward(stack) - 1, "for [(3, 1)]"),
        (lambda stack: _field_forward(stack) + (len(stack) > 3), "each output value there sees"),
        (lambda stack: None, "forget to `return`"),
        (lambda stack: [_field_forward(stack)], "not a single number"),
        (lambda stack: _field_forward(stack) / 1, "you return a float (10 for the baseline CNN)"),
        (lambda stack: np.float64(_field_backward(stack)), "return a float64"),
    ],
)
def test_3_6_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_3_6(answer), phrase)


def _field_popping(stack):  # a student's: right numbers, but the caller's list is emptied
    field, jump = 1, 1
    while stack:
        k, s = stack.pop(0)
        field += (k - 1) * jump
        jump *= s
    return field


def _field_sorting(stack):  # sorts the caller's list: a list is passed by reference
    stack.sort()
    return 1 + sum(k - 1 for k, _ in stack)


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (lambda n, k, s: (0, 1, 2), "your function returned (0, 1, 2); return two numbers"),
        (lambda n, k, s: (True, False), "your function returned (True, False), not two numbers"),
        (lambda n, k, s: (np.int64(1),), "your function returned (1,); return two numbers"),
    ],
)
def test_3_4_a_returned_tuple_is_shown_as_the_tuple_it_is(answer, shown):
    result = checks.exercise_3_4(answer)
    assert _fails_with(result, shown)
    assert "array(" not in result.message


def test_3_6_a_returned_tuple_is_shown_as_the_tuple_it_is():
    result = checks.exercise_3_6(lambda stack: (3, np.int64(1)))
    assert _fails_with(result, "your function returned (3, 1), not a single number.")


def test_3_6_says_the_function_emptied_the_caller_s_list_of_layers():
    result = checks.exercise_3_6(_field_popping)
    assert _fails_with(result, "your function changed the list `stack` it was given")
    assert _fails_with(result, "it held 1 item, 0 after the call (pop, remove and del")
    assert "another order" not in result.message


def test_3_6_says_the_function_reordered_the_caller_s_list_of_layers():
    result = checks.exercise_3_6(_field_sorting)
    assert _fails_with(result, "its items are in another order after the call (sort or reverse)")


def test_3_6_reading_the_list_or_a_copy_of_it_is_fine():
    def on_a_copy(stack):
        stack = list(stack)
        stack.reverse()
        return _field_backward(stack[::-1])

    assert checks.exercise_3_6(on_a_copy).passed


def _field_max_of_layers(stack):  # a student's: max() of an empty list raises
    fields, field, jump = [], 1, 1
    for k, s in stack:
        field += (k - 1) * jump
        jump *= s
        fields.append(field)
    return max(fields)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (
            lambda stack: _field_forward(stack) if stack else 0,
            "for an empty stack, [], you return 0",
        ),
        (
            _field_max_of_layers,
            "for an empty stack, [], your code raised ValueError: max()",
        ),
    ],
)
def test_3_6_the_empty_stack_sees_one_pixel_as_the_task_says(answer, phrase):
    result = checks.exercise_3_6(answer)
    assert _fails_with(result, phrase)
    assert _fails_with(result, "right for every stack of layers")
    assert _fails_with(result, "so its field is 1")


def _field_yielding(stack):  # a student's: a generator function
    for k, _ in stack:
        yield k


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda stack: "10", "your result is a str ('10'), not a whole number (an int)."),
        (
            _field_yielding,
            "your result is a generator (an iterator: its values are produced once, on "
            "demand), not a whole number (an int).",
        ),
    ],
)
def test_3_6_what_is_no_number_is_told_it_is_no_int(answer, message):
    result = checks.exercise_3_6(answer)
    assert not result.passed
    assert str(result) == f"❌ Not yet (exercise 3.6): {message}"


def test_3_2_a_line_detector_is_not_said_to_find_horizontal_edges():
    # the textbook's 45° line kernel: its rows and its columns all add up to 0
    line = np.array([[2, -1, -1], [-1, 2, -1], [-1, -1, 2]], dtype=np.float64)
    result = checks.exercise_3_2(line)
    assert _fails_with(result, "your kernel responds to edges that run like '/'")
    assert "horizontal" not in result.message and "vertical" not in result.message


def _maps_per_channel_and_filter(image, kernel):  # a student's: the channels never added up
    return np.stack(
        [
            images.convolve2d(image[..., c], kernel[:, :, c, m])
            for m in range(kernel.shape[-1])
            for c in range(image.shape[-1])
        ],
        axis=-1,
    )


def test_3_3_one_map_per_channel_and_filter_side_by_side_is_named():
    result = checks.exercise_3_3(_maps_per_channel_and_filter)
    assert _fails_with(result, "12 maps for 4 filters: 3 channels times 4 filters")
    assert "add up each filter's channel maps" in result.message


class _SubclassedCnn(keras.Model):  # a student's: the right layers, in a subclass
    def __init__(self, num_classes):
        super().__init__()
        self.convs = [
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(8, 1, activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ]

    def call(self, x):
        for layer in self.convs:
            x = layer(x)
        return x


def _subclassed_cnn(input_shape, num_classes):
    model = _SubclassedCnn(num_classes)
    model(np.zeros((1, *input_shape), dtype="float32"))  # builds every layer for input_shape
    return model


def test_3_5_a_subclassed_model_is_told_to_use_sequential_or_functional():
    result = checks.exercise_3_5(_subclassed_cnn)
    assert _fails_with(result, "your model is a subclass of keras.Model (_SubclassedCnn)")
    assert "functional API" in result.message
    assert "start the Sequential" not in result.message


def _field_pairs_swapped(stack):  # a student's: each pair unpacked as (s, k)
    field, jump = 1, 1
    for s, k in stack:
        field += (k - 1) * jump
        jump *= s
    return field


def test_3_6_pairs_read_as_stride_then_kernel_are_named():
    result = checks.exercise_3_6(_field_pairs_swapped)
    assert _fails_with(result, "you read each pair as (stride, kernel size)")
    assert "`for k, s in stack`" in result.message
