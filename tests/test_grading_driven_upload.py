"""Exercise 7.3 in two phases: the kernel reports which images were decoded, the judge judges.

The task asks to compare an upload's size with the limit before decoding its pixels. Whether
an answer decodes first shows only while it runs, so the kernel runs it through the grader's
``decoding_watched`` driver and the judge gets the answer and the sizes decoded meanwhile.
"""

import pytest
from PIL import Image
from test_checks_lesson07 import _limit_set_for_pillow, _open, check_upload

from course_lib import checks
from course_lib.checks._core import fresh_inputs
from course_lib.tools.grading import judge

SALT = 7303
EXPRESSION = "checks.exercise_7_3(check_upload)"


def _graded_and_direct(tmp_path, answer):
    reply = judge.judge_locally(EXPRESSION, {"check_upload": answer}, SALT, str(tmp_path))
    with fresh_inputs(SALT):
        direct = checks.exercise_7_3(answer)
    return reply, direct


def _decodes_first(data, max_pixels):
    try:
        image = _open(data)
        image.load()
    except (OSError, SyntaxError, Exception):
        return "not an image"
    return "too big" if image.width * image.height > max_pixels else None


def _converts_first(data, max_pixels):
    try:
        with _open(data) as image:
            rgb = image.convert("RGB")  # decodes every pixel
    except Exception:
        return "not an image"
    return "too big" if rgb.width * rgb.height > max_pixels else None


def _pixels_after_the_size(data, max_pixels):
    if not data:
        return "an empty upload"
    try:
        with _open(data) as image:
            if image.width * image.height > max_pixels:
                return "too large"
            image.tobytes()  # decodes the pixels, once the size is known to be fine
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        return f"unreadable ({type(exc).__name__})"
    return None


@pytest.mark.parametrize("answer", [check_upload, _pixels_after_the_size])
def test_a_size_check_before_decoding_passes_in_two_phases(tmp_path, answer):
    reply, direct = _graded_and_direct(tmp_path, answer)
    assert reply["status"] == "passed", reply
    assert direct.passed


@pytest.mark.parametrize("answer", [_decodes_first, _converts_first])
def test_decoding_before_the_size_check_is_seen_by_the_judge_too(tmp_path, answer):
    reply, direct = _graded_and_direct(tmp_path, answer)
    assert reply["status"] == "failed", reply
    assert "before finding it too big" in reply["message"], reply
    assert reply["message"] == direct.message


def test_an_answer_that_is_not_a_function_is_named_in_both_phases(tmp_path):
    reply, direct = _graded_and_direct(tmp_path, 42)
    assert reply["status"] == "failed"
    assert reply["message"] == direct.message
    assert "expected a function, got int" in reply["message"]


def test_pillow_s_limit_changed_in_the_kernel_is_put_back_there_and_named_by_the_judge(tmp_path):
    before = Image.MAX_IMAGE_PIXELS
    reply = judge.judge_locally(
        EXPRESSION, {"check_upload": _limit_set_for_pillow}, SALT, str(tmp_path)
    )
    assert Image.MAX_IMAGE_PIXELS == before  # the kernel's, here the same process
    assert reply["status"] == "failed", reply
    assert "your function changed Image.MAX_IMAGE_PIXELS" in reply["message"], reply
    assert "and left it so (the check put it back)" in reply["message"]
    with fresh_inputs(SALT):
        direct = checks.exercise_7_3(_limit_set_for_pillow)
    assert reply["message"] == direct.message
    assert Image.MAX_IMAGE_PIXELS == before
