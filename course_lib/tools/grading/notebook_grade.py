"""One notebook's grading as data: the options it runs with, and the grade it gives.

Also what becomes of a grade at the end: no credit at all for a notebook found tampering
with grading (:func:`discredit_tampering`), and the executed notebook kept for reading
(:func:`_save_executed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_lib import config
from course_lib.tools.grading import analysis
from course_lib.tools.grading.output import OutputFolder
from course_lib.tools.grading.snapshot import CourseSnapshot
from course_lib.tools.grading.submissions import Submission


@dataclass
class ExerciseResult:
    exercise: str
    passed: bool
    message: str


@dataclass
class GradeOptions:
    """Time limits (seconds) and mode for grading."""

    timeout: int = 600  # the student's cells, all together
    cell_timeout: int = 120  # any one cell, and each check
    fast: bool = True  # COURSE_FAST=1 in the student's kernel
    kernel_name: str = config.KERNEL_NAME
    executed_dir: Path | None = None  # keep each executed notebook here
    # ...or in executed/ of the run's output folder, written safely (see grading.output)
    output: OutputFolder | None = None
    # Folders the kernel may not read besides the course's own (grading.fence): the
    # submissions being graded, say
    fenced: tuple[str, ...] = ()
    # Each kernel in a view of the file systems of its own, holding only what it needs (the
    # course read-only, its answer keys empty), where the system allows it (grading.own_view:
    # root on Linux)
    own_view: bool = True
    # The course's files as grading started; taken by grade_folder (or grade_notebook)
    snapshot: CourseSnapshot | None = None


@dataclass
class NotebookGrade:
    submission: Submission
    exercises: list[ExerciseResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # notebook-level findings
    seconds: float = 0.0


def discredit_tampering(grade: NotebookGrade) -> None:
    """No exercise of a notebook with a ``tampering:`` finding is credited."""
    if any(p.startswith(analysis.TAMPERING) for p in grade.problems):
        prefix = "not credited, the notebook tampers with grading; "
        for result in grade.exercises:
            result.passed = False
            if not result.message.startswith(prefix):
                result.message = prefix + result.message


def _save_executed(
    nb: nbformat.NotebookNode, submission: Submission, options: GradeOptions
) -> None:
    if not nb.cells or (options.output is None and options.executed_dir is None):
        return
    try:
        if options.output is not None:
            relative = f"executed/{submission.student}/{submission.name}"
            options.output.write(relative, nbformat.writes(nb).encode("utf-8"))
            return
        assert options.executed_dir is not None
        path = options.executed_dir / submission.student / submission.name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
    except (OSError, ValueError):  # the copy is for reading only; grading goes on without it
        pass
