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
        (checks.exercise_3_4, images.same_padding, "images.same_padding"),
        (checks.exercise_3_4, lambda n, k, s: images.same_padding(n, k, s), "images.same_padding"),
        (checks.exercise_5_4, _pairs_by_library, "metrics.most_confused_pairs"),
    ],
)
def test_the_library_s_copy_of_an_exercise_is_no_answer(check, answer, copy):
    result = check(answer)
    assert not result.passed
    assert f"calls course_lib.{copy}, the course's own copy" in result.message, result.message


def _channels_by_library(image, kernel):  # a student's 3.3: exercise 3.1's copy per channel
    return sum(images.convolve2d(image[..., c], kernel[..., c]) for c in range(image.shape[-1]))


def test_an_exercise_may_call_the_copy_of_an_earlier_one_its_lesson_uses_for_it():
    # The cell after exercise 3.3 sums images.convolve2d over the channels itself.
    result = checks.exercise_3_3(_channels_by_library)
    assert result.passed, result.message
    assert checks.exercise_3_3(lambda im, k: _channels_by_library(im, k)).passed
    # ... and the copy is still no answer to its own exercise, whichever check ran before.
    result = checks.exercise_3_1(images.convolve2d)
    assert not result.passed
    assert "calls course_lib.images.convolve2d, the course's own copy" in result.message


def test_another_copy_is_refused_as_the_copy_of_the_exercise_it_answers():
    def padded_by_library(image, kernel):
        images.same_padding(image.shape[0], kernel.shape[0], 1)
        return _channels_by_library(image, kernel)

    result = checks.exercise_3_3(padded_by_library)
    assert not result.passed
    assert (
        "calls course_lib.images.same_padding, the course's own copy of exercise 3.4, kept for "
        "the lessons after it; this exercise is to write the code yourself." in result.message
    ), result.message


def test_every_copy_names_the_exercise_it_answers():
    from course_lib.checks import _copies

    assert sorted(_copies.ANSWERS) == sorted(f"{m}.{n}" for m, n in _copies.COPIES)
    assert all(
        (module, name) in _copies.COPIES and _copies.ANSWERS[f"{module}.{name}"] != exercise
        for exercise, allowed in _copies.ALLOWED.items()
        for module, name in allowed
    )


def test_a_copy_the_library_calls_itself_passes_where_the_exercise_allows_the_caller():
    # 3.3 may call convolve2d, which pads with same_padding (3.4's copy) itself
    def convolve_channels(image, kernel):
        k, (h, w) = kernel.shape[0], image.shape[:2]
        top = (k - 1) // 2
        same = sum(
            images.convolve2d(image[..., c], kernel[..., c], padding="same")
            for c in range(image.shape[-1])
        )
        return same[top : top + h - k + 1, top : top + w - k + 1]

    result = checks.exercise_3_3(convolve_channels)
    assert result.passed, result.message


# --------------------------- wrappers compiled under a file name of the library's, or a check's

_FILE = "import os, course_lib\nfile = os.path.dirname(course_lib.__file__)\n"


def _compiled_under(relative, source, **names):
    """``source`` compiled as if it were the library's file ``relative``, run with ``names``."""
    import os

    import course_lib

    space = dict(names)
    path = os.path.join(os.path.dirname(course_lib.__file__), relative)
    exec(compile(source, path, "exec"), space)  # noqa: S102 - the test's own code
    return space


def _s2_answers():
    from course_lib import models, photos

    convolve_valid = _compiled_under(
        "legacy.py",
        "def convolve_valid(image, kernel):\n    return conv(image, kernel)\n",
        conv=images.convolve2d,
    )["convolve_valid"]
    build = _compiled_under(
        "legacy.py",
        "def build_better_cnn(input_shape, num_classes):\n    return b(input_shape, num_classes)\n",
        b=models.build_better_cnn,
    )["build_better_cnn"]
    split = _compiled_under(
        "legacy.py",
        "def split_files(files, labels, fractions=(0.7, 0.15, 0.15), seed=0):\n"
        "    return f(files, labels, fractions, seed)\n",
        f=photos.split_files,
    )["split_files"]
    return [
        (checks.exercise_3_1, convolve_valid, "images.convolve2d"),
        (checks.exercise_4_3, build, "models.build_better_cnn"),
        (checks.exercise_9_2, split, "photos.split_files"),
    ]


@pytest.mark.parametrize("case", range(3))
def test_a_wrapper_compiled_under_a_library_file_name_does_not_pass_for_the_library(case):
    check, answer, copy = _s2_answers()[case]
    result = check(answer)
    assert not result.passed
    assert f"calls course_lib.{copy}, the course's own copy of this exercise" in result.message, (
        result.message
    )


@pytest.mark.parametrize("relative", ["checks/lesson04.py", "checks/_core.py", "legacy.py"])
def test_a_wrapper_compiled_under_a_check_s_file_name_does_not_pass_for_the_check(relative):
    early_stopping_epochs = _compiled_under(
        relative,
        "def early_stopping_epochs(val_loss, patience):\n    return replay(val_loss, patience)\n",
        replay=checks.lesson04.keras_early_stopping,
    )["early_stopping_epochs"]
    result = checks.exercise_4_4(early_stopping_epochs)
    assert not result.passed
    assert "calls course_lib.checks.lesson04.keras_early_stopping" in result.message, result.message
    assert "part of the check" in result.message
