"""An answer that calls the course library's own copy of its exercise is refused, named."""

import numpy as np
import pytest

from course_lib import checks, images, metrics


def _gray_by_library(photo):
    return np.round(images.to_grayscale(photo) * 255).astype(np.uint8)


def _pairs_by_library(cm):
    top = metrics.most_confused_pairs(cm, [str(i) for i in range(len(cm))], k=1)
    return int(top.iloc[0]["true"]), int(top.iloc[0]["predicted"])


@pytest.mark.parametrize(
    ("check", "answer", "copy"),
    [
        (checks.exercise_1_1, _gray_by_library, "images.to_grayscale"),
        (checks.exercise_3_1, images.convolve2d, "images.convolve2d"),
        (checks.exercise_3_1, lambda im, k: images.convolve2d(im, k), "images.convolve2d"),
        (
            checks.exercise_3_3,
            lambda im, k: sum(images.convolve2d(im[..., c], k[..., c]) for c in range(k.shape[-1])),
            "images.convolve2d",
        ),
        (checks.exercise_3_4, images.same_padding, "images.same_padding"),
        (checks.exercise_3_4, lambda n, k, s: images.same_padding(n, k, s), "images.same_padding"),
        (checks.exercise_5_4, _pairs_by_library, "metrics.most_confused_pairs"),
    ],
)
def test_the_library_s_copy_of_an_exercise_is_no_answer(check, answer, copy):
    result = check(answer)
    assert not result.passed
    assert f"calls course_lib.{copy}, the course's own copy" in result.message, result.message
