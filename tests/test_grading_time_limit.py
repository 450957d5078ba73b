"""A notebook's time limit covers its code however it is called, by its cells or by the checks.

A lesson-01 notebook with right answers that sleep on every call, and its check cells deleted:
its answers are then first called by the grader's checks, after its own cells have run.
"""

import time

import nbformat
import pytest
from grading_support import unrendered_plots  # noqa: F401 - used by name below
from test_grading import LESSON, _answer, _solutions, _student

from course_lib.config import project_root
from course_lib.tools.grading import GradeOptions, answer_keys, grade_notebook
from course_lib.tools.grading.submissions import Submission

# The graded kernels draw no figures (grading_support.unrendered_plots).
pytestmark = pytest.mark.usefixtures("unrendered_plots")

LIMIT, CELL_LIMIT, NAP = 30, 20, 10


@pytest.mark.timeout(600)
def test_the_checks_that_call_a_notebook_s_code_stop_at_its_time_limit(tmp_path):
    nb = _student()
    for number, code in _solutions().items():
        _answer(nb, number, f"import time\ntime.sleep({NAP})\n{code}")
    nb.cells = [c for c in nb.cells if "checks.exercise_1_" not in c.source]
    path = tmp_path / f"{LESSON}.ipynb"
    nbformat.write(nb, path)
    key = answer_keys(project_root() / "solutions")[LESSON]
    options = GradeOptions(timeout=LIMIT, cell_timeout=CELL_LIMIT, fast=True)
    started = time.monotonic()
    grade = grade_notebook(Submission(path, "slow", LESSON), key, options)
    took = time.monotonic() - started
    messages = [e.message for e in grade.exercises]
    out_of_time = [m for m in messages if f"used up its time limit of {LIMIT} s" in m]
    # Four exercises, each called at least once for NAP seconds, cannot all be judged within
    # LIMIT: the ones the limit leaves out say so, and no call of the notebook's code starts
    # after it. The kernel's start, the grader's own cells and the judge's process come on
    # top of the notebook's time.
    assert out_of_time, messages
    assert all(m.startswith("check did not run: ") for m in out_of_time)
    assert not any(e.passed for e in grade.exercises if e.message in out_of_time)
    assert took < LIMIT + CELL_LIMIT + 60, (took, messages, grade.problems)
