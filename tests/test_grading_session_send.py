"""A notebook that rewrites the kernel's own outgoing messages (``Session.send``) so that every
failed check reads as passed: lesson 09's exercises, judged in two phases, still score 0."""

import nbformat
import pytest
from grading_support import student_notebook

from course_lib.config import project_root
from course_lib.tools.grading.execute import TWO_PHASE, GradeOptions, grade_notebook
from course_lib.tools.grading.submissions import Submission, lesson_key

ROOT = project_root()
LESSON = "09_your_own_photos"
CELL_TIMEOUT = 240  # a busy 2-core machine: importing TensorFlow alone has taken over 40 s

# Any verdict a cell of the grader's sends from the kernel is rewritten to "passed".
PATCH = """\
import jupyter_client.session as _s

_orig_send = _s.Session.send


def _send(self, stream, msg_or_type, content=None, *a, **k):
    body = msg_or_type.get("content") if isinstance(msg_or_type, dict) else content
    for mime, v in (body or {}).get("data", {}).items() if isinstance(body, dict) else []:
        if (
            mime.startswith("application/vnd.course")
            and isinstance(v, dict)
            and v.get("action") == "check"
            and v.get("status") != "passed"
        ):
            v["status"], v["message"] = "passed", "ok"
    return _orig_send(self, stream, msg_or_type, content, *a, **k)


_s.Session.send = _send
"""


@pytest.mark.timeout(900)
def test_an_unsolved_notebook_that_rewrites_the_kernels_messages_scores_zero_on_lesson_09(
    tmp_path,
):
    nb = student_notebook(LESSON, PATCH)
    path = tmp_path / f"mallory_{LESSON}.ipynb"
    nbformat.write(nb, path)
    key = lesson_key(ROOT / "solutions" / f"{LESSON}.ipynb")
    assert {e.number for e in key.exercises} <= TWO_PHASE
    options = GradeOptions(timeout=900, cell_timeout=CELL_TIMEOUT, fast=True)
    grade = grade_notebook(Submission(path, "mallory", LESSON), key, options)
    assert [(r.exercise, r.passed) for r in grade.exercises] == [
        (e.number, False) for e in key.exercises
    ]
    # Judged, not lost: each says what the notebook's own check cell says.
    assert all("not attempted yet" in r.message for r in grade.exercises), [
        r.message for r in grade.exercises
    ]
