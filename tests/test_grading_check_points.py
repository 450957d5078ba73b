"""An answer is judged as it stood at its check cell, whatever the cells after it do.

One honest lesson-01 notebook (the solution's answers in the real student notebook) with two
cells added, graded for real: right after the check cell of 1.1, a cell that redefines the
answer wrongly; right after the check cell of 1.3, a cell that ends the kernel's process.
"""

import copy

import nbformat
import pytest
from grading_support import unrendered_plots  # noqa: F401 - used by name below
from nbformat.v4 import new_code_cell
from test_grading import LESSON, SUCCESS, WRONG, _answer, _index, _solutions, _student

from course_lib.config import project_root
from course_lib.tools.grading import GradeOptions, answer_keys, grade_notebook
from course_lib.tools.grading.submissions import Submission

# The graded kernels draw no figures (grading_support.unrendered_plots).
pytestmark = pytest.mark.usefixtures("unrendered_plots")

DIED = "the kernel died (the notebook ran out of memory or ended the process)"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    nb = _student()
    for number, code in _solutions().items():
        _answer(nb, number, code)
    wrong = _answer(copy.deepcopy(_student()), "1.1", WRONG["1.1"])
    nb.cells.insert(_index(nb, "checks.exercise_1_1(") + 1, new_code_cell(wrong.source))
    nb.cells.insert(_index(nb, "checks.exercise_1_3(") + 1, new_code_cell("import os\nos._exit(3)"))
    path = tmp_path_factory.mktemp("check-points") / f"{LESSON}.ipynb"
    nbformat.write(nb, path)
    key = answer_keys(project_root() / "solutions")[LESSON]
    options = GradeOptions(timeout=600, cell_timeout=120, fast=True)
    return grade_notebook(Submission(path, "erin", LESSON), key, options)


@pytest.mark.timeout(900)
def test_an_answer_is_judged_as_it_stood_at_its_check_cell(graded):
    results = {e.exercise: (e.passed, e.message) for e in graded.exercises}
    assert results["1.1"] == (True, SUCCESS["1.1"])  # redefined wrongly after its check
    assert results["1.3"] == (True, SUCCESS["1.3"])  # the kernel died after its check


@pytest.mark.timeout(900)
def test_only_the_exercises_after_the_kernel_died_are_lost(graded):
    results = {e.exercise: (e.passed, e.message) for e in graded.exercises}
    assert results["1.2"] == (True, SUCCESS["1.2"])
    assert results["1.4"] == (False, f"check did not run: {DIED}")
    assert DIED in graded.problems
