"""Checks that run in the student's kernel: a notebook that patches the standard library the
checks build their results with scores nothing, and the grader says why.

Every exercise of the course is judged in two phases; an exercise added without being put in
``TWO_PHASE`` is checked in the kernel, which these tests stand for by emptying the list.
"""

import nbformat
import pytest
from grading_support import (
    student_notebook,
    unrendered_plots,  # noqa: F401 - used by name below
)

from course_lib.config import project_root
from course_lib.tools.grading import two_phase
from course_lib.tools.grading.execute import grade_notebook
from course_lib.tools.grading.notebook_grade import GradeOptions
from course_lib.tools.grading.submissions import Submission, lesson_key

# The graded kernels draw no figures (grading_support.unrendered_plots).
pytestmark = pytest.mark.usefixtures("unrendered_plots")

ROOT = project_root()
LESSON = "02_pipelines"
CELL_TIMEOUT = 240  # a busy 2-core machine: importing TensorFlow alone has taken over 40 s

# Every CheckResult built after this reads as passed, whatever the check found.
PATCH = """\
import dataclasses

_real_dataclass = dataclasses.dataclass


class _AlwaysTrue:
    def __get__(self, obj, owner=None):
        return True if obj is not None else self

    def __set__(self, obj, value):
        pass


def _dataclass(cls=None, /, **kwargs):
    def wrap(c):
        made = _real_dataclass(**kwargs)(c)
        if c.__name__ == "CheckResult":
            made.passed = _AlwaysTrue()
        return made

    return wrap if cls is None else wrap(cls)


dataclasses.dataclass = _dataclass
"""


@pytest.mark.timeout(900)
def test_an_unsolved_notebook_that_patches_dataclasses_scores_zero_and_is_named(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(two_phase, "TWO_PHASE", frozenset())  # every check runs in the kernel
    nb = student_notebook(LESSON, PATCH)
    path = tmp_path / f"mallory_{LESSON}.ipynb"
    nbformat.write(nb, path)
    key = lesson_key(ROOT / "solutions" / f"{LESSON}.ipynb")
    options = GradeOptions(timeout=900, cell_timeout=CELL_TIMEOUT, fast=True)
    grade = grade_notebook(Submission(path, "mallory", LESSON), key, options)
    assert [(r.exercise, r.passed) for r in grade.exercises] == [
        (e.number, False) for e in key.exercises
    ]
    assert any(p.startswith("tampering:") and "stdlib.dataclasses" in p for p in grade.problems), (
        grade.problems
    )
