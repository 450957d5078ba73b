"""The two-phase grader, in a real kernel, on exercises whose answers are Keras models or tables.

One notebook per case holds the exercises of lessons 03 to 09 that are judged in two phases and
were not lesson 01's (models built, compiled, frozen or explained; curves read; uploads, service
answers, TF_CONFIG and quantisation; photos opened from files): an honest one scores full marks,
an empty one 0, and one per tampering strategy class (``grading_support.py``, shared with
``test_grading.py``) scores 0 on every exercise while leaving them unsolved.
"""

import re
import textwrap

import nbformat
import pytest
from grading_support import (
    ANSWERS,
    unrendered_plots,  # noqa: F401 - used by name below
)
from grading_support import STRATEGIES as TAMPERING
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from solution_support import exercises_key, lesson_imports, solution_cells

from course_lib.tools.grading import judge
from course_lib.tools.grading.execute import grade_notebook
from course_lib.tools.grading.judge_process import Judge
from course_lib.tools.grading.notebook_grade import GradeOptions
from course_lib.tools.grading.submissions import Submission
from course_lib.tools.grading.two_phase import TWO_PHASE

# The graded kernels draw no figures (grading_support.unrendered_plots).
pytestmark = pytest.mark.usefixtures("unrendered_plots")

EXERCISES = (
    "3.5",
    "4.1",
    "4.2",
    "4.3",
    "4.4",
    "5.6",
    "6.4",
    "6.5",
    "6.6",
    "7.1",
    "7.3",
    "7.5",
    "8.2",
    "8.5",
    "9.1",
)
CELL_TIMEOUT = 240  # a busy 2-core machine: importing TensorFlow alone has taken over 40 s


def _key():
    return exercises_key("two_phase", EXERCISES)


def _notebook(answers, prelude=""):
    """The set-up cell, then for each exercise its heading, ``answers[number]``, its check cell."""
    setup = "\n".join(
        [
            *lesson_imports(EXERCISES),
            "from course_lib import checks, models",
            # the lesson reads it from the model's metadata
            "prep = models.preprocessing_for((28, 28, 1))",
        ]
    )
    cells = [new_markdown_cell("# Lesson 99 — Two-phase exercises"), new_code_cell(setup)]
    if prelude:
        cells.append(new_code_cell(textwrap.dedent(prelude)))
    for exercise in _key().exercises:
        cells.append(new_markdown_cell(f"### Exercise {exercise.number} — {exercise.title}"))
        if exercise.number in answers:
            cells.append(new_code_cell(answers[exercise.number]))
        cells.append(new_code_cell(exercise.check))
    return new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "image-course", "display_name": "Python 3"}}
    )


def _names(number):
    return judge.answer_names(next(e.check for e in _key().exercises if e.number == number))


def _answering(make):
    """Every exercise answered by ``make()``'s expression: functions return it, values are it."""
    answers = {}
    for number in EXERCISES:
        solution = solution_cells(EXERCISES)[number]
        lines = []
        for name in _names(number):
            if re.search(rf"^def {name}\(", solution, re.MULTILINE):
                lines.append(f"def {name}(*args, **kwargs):\n    return {make}")
            else:
                lines.append(f"{name} = {make}")
        answers[number] = "\n".join(lines)
    return answers


# Each strategy's prelude and what every answer returns (None: the answers stay unsolved).
STRATEGIES = {name: (prelude, ANSWERS.get(name)) for name, prelude in TAMPERING.items()}


@pytest.fixture(scope="module")
def shared_judge():
    """One judge for the module's gradings, as `course grade` shares one across notebooks."""
    process = Judge()
    yield process
    process.close()


def _grade(tmp_path, name, nb, shared_judge):
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    options = GradeOptions(timeout=1500, cell_timeout=CELL_TIMEOUT, fast=True)
    return grade_notebook(Submission(path, name, "two_phase"), _key(), options, shared_judge)


def test_every_exercise_here_is_judged_in_two_phases():
    assert set(EXERCISES) <= TWO_PHASE


@pytest.mark.timeout(1800)
def test_an_honest_notebook_scores_full_marks_and_an_empty_one_zero(tmp_path, shared_judge):
    honest = _grade(tmp_path, "honest", _notebook(solution_cells(EXERCISES)), shared_judge)
    assert [(r.exercise, r.passed) for r in honest.exercises] == [(n, True) for n in EXERCISES], [
        (r.exercise, r.message) for r in honest.exercises if not r.passed
    ]
    empty = _grade(tmp_path, "empty", _notebook({}), shared_judge)
    assert [(r.exercise, r.passed) for r in empty.exercises] == [(n, False) for n in EXERCISES]
    assert all("is not defined" in r.message for r in empty.exercises), [
        r.message for r in empty.exercises
    ]


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_an_unsolved_notebook_that_tampers_scores_zero(tmp_path, strategy, shared_judge):
    prelude, answer = STRATEGIES[strategy]
    nb = _notebook(_answering(answer) if answer else {}, prelude)
    grade = _grade(tmp_path, strategy, nb, shared_judge)
    assert [(r.exercise, r.passed) for r in grade.exercises] == [(n, False) for n in EXERCISES], [
        (r.exercise, r.message) for r in grade.exercises if r.passed
    ]
