"""Lesson 03 checks accept the right answer and name each common mistake."""

import math

import numpy as np
import pytest

from course_lib import checks, images


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


def test_3_1_accepts_a_double_loop_and_the_library_function():
    assert checks.exercise_3_1(_loop_convolve).passed
    assert checks.exercise_3_1(images.convolve2d).passed


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
    ],
)
def test_3_1_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_3_1(answer), phrase)


def test_3_1_unattempted_exercise_says_so():
    def untouched(image, kernel):
        raise NotImplementedError("Exercise 3.1")

    assert _fails_with(checks.exercise_3_1(untouched), "not attempted yet")


SOBEL_X = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]


@pytest.mark.parametrize("kernel", [SOBEL_X, np.array(SOBEL_X).T.T * -1.0, [[-1, 0, 1]] * 3, [[0, 1, -1]] * 3])
def test_3_2_accepts_vertical_edge_kernels_of_either_sign(kernel):
    assert checks.exercise_3_2(kernel).passed


@pytest.mark.parametrize(
    ("kernel", "phrase"),
    [
        (np.array(SOBEL_X).T, "detects horizontal edges"),
        (np.ones((3, 3)), "that is a blur"),
        (np.ones((3, 3)) / 9, "that is a blur"),
        ([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], "not 0"),
        ([[-1, 0, 2], [-1, 0, 2], [-1, 0, 2]], "add up to 0"),
        ([[0, 1, 0], [1, -4, 1], [0, 1, 0]], "also responds to horizontal edges"),
        (np.zeros((3, 3)), "all weights are 0"),
        ([[0, 0, 0], [0, 1, -1], [0, 0, 0]][:2], "expected (3, 3)"),
        (None, "None"),
    ],
)
def test_3_2_names_the_mistake(kernel, phrase):
    assert _fails_with(checks.exercise_3_2(kernel), phrase)


def test_3_3_accepts_the_formula():
    assert checks.exercise_3_3(lambda n, k, s, p: (n + 2 * p - k) // s + 1).passed
    assert checks.exercise_3_3(lambda n, k, s, p: math.floor((n + 2 * p - k) / s) + 1).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda n, k, s, p: (n + 2 * p - k) // s, "forgot the + 1"),
        (lambda n, k, s, p: (n + p - k) // s + 1, "n + 2p, not n + p"),
        (lambda n, k, s, p: (n - k) // s + 1, "padding p is missing"),
        (lambda n, k, s, p: math.ceil((n + 2 * p - k) / s) + 1, "round down"),
        (lambda n, k, s, p: n + 2 * p - k + 1, "stride is ignored"),
        (lambda n, k, s, p: (n + 2 * p - k) / s + 1, "floor division"),
        (lambda n, k, s, p: n // s, "the layer gives"),
        (lambda n, k, s, p: None, "forget to `return`"),
        (lambda n, k, s, p: "14", "not a single number"),
    ],
)
def test_3_3_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_3_3(answer), phrase)


def test_3_4_accepts_the_formula_and_a_real_layer_count():
    assert checks.exercise_3_4(lambda k, c_in, c_out: k * k * c_in * c_out + c_out).passed
    assert checks.exercise_3_4(lambda k, c_in, c_out: (k * k * c_in + 1) * c_out).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda k, c_in, c_out: k * k * c_in * c_out, "forgot the biases"),
        (lambda k, c_in, c_out: k * k * c_out + c_out, "forgot the input channels"),
        (lambda k, c_in, c_out: k * k * c_out, "both the input channels and the biases"),
        (lambda k, c_in, c_out: k * c_in * c_out + c_out, "k * k weights"),
        (lambda k, c_in, c_out: k * k * c_in * c_out + c_in * c_out, "one bias per filter"),
        (lambda k, c_in, c_out: k * k * c_in * c_out + c_in, "+ c_out, not + c_in"),
        (lambda k, c_in, c_out: 0, "Conv2D has"),
    ],
)
def test_3_4_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_3_4(answer), phrase)


def test_3_4_reference_matches_keras():
    import keras

    layer = keras.layers.Conv2D(16, 5)
    layer.build((None, 8, 8, 3))
    assert layer.count_params() == 5 * 5 * 3 * 16 + 16
    assert checks.exercise_3_4(lambda k, c_in, c_out: layer.count_params() if (k, c_in, c_out) == (5, 3, 16)
                               else k * k * c_in * c_out + c_out).passed
