"""Grade a whole folder, and write ``grades.csv`` and the per-student summary."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import astuple, dataclass
from pathlib import Path

from course_lib.messages import escaped_hidden, first_line, plain_text
from course_lib.tools.grading.analysis import TAMPERING
from course_lib.tools.grading.execute import grade_notebook
from course_lib.tools.grading.judge_process import Judge
from course_lib.tools.grading.kernel_setup import kernel_views
from course_lib.tools.grading.notebook_grade import GradeOptions, NotebookGrade, discredit_tampering
from course_lib.tools.grading.snapshot import CourseSnapshot
from course_lib.tools.grading.submissions import answer_keys, find_submissions
from course_lib.tools.grading.two_phase import needs_judge

COLUMNS = ("student", "lesson", "exercise", "passed", "message")
NOTEBOOK = "notebook"  # the exercise column of rows about the notebook as a whole
UNKNOWN_LESSON = "?"
# A cell that starts with one of these is a formula to a spreadsheet (=HYPERLINK(...), =cmd|...):
# student names come from folder and file names, which the students choose.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A cell that starts with ' gets one more, so that the names '=x and =x are never written alike.
_QUOTED_STARTS = (*_FORMULA_STARTS, "'")


def spreadsheet_safe(text: str) -> str:
    """``text``, never a formula to a spreadsheet: a leading ``'`` if it could be one (or if it
    starts with ``'`` already, so that two different texts are never written alike)."""
    return "'" + text if text.startswith(_QUOTED_STARTS) else text


def _from_spreadsheet_safe(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_QUOTED_STARTS) else text


def valid_text(text: str) -> str:
    """``text`` as valid Unicode: bytes of a file name that are not UTF-8 (which Python keeps as
    lone surrogates) are written out as ``\\xff``, so that the tables can be written at all.
    For messages; a name is written with :func:`escaped_hidden`, which writes them out too."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def shown_path(path: Path | str) -> str:
    """A relative path for a line of text, each of its names as :func:`escaped_hidden` writes it
    (``alice\\x20/01_pixels.ipynb``)."""
    return "/".join(escaped_hidden(part) for part in Path(path).parts)


@dataclass(frozen=True)
class GradeRow:
    student: str
    lesson: str
    exercise: str  # "1.2", or "notebook" for a finding about the whole notebook
    passed: bool
    message: str
    # The notebook's path: when a student handed in a lesson twice, the summary counts the
    # better one. Not a column of grades.csv (twins' messages start with its file name instead).
    notebook: str = dataclasses.field(default="", compare=False)


def grade_folder(
    folder: Path,
    solutions: Path,
    options: GradeOptions,
    progress: Callable[[str], None] = print,
    after_each: Callable[[list[NotebookGrade]], None] | None = None,
) -> list[NotebookGrade]:
    """Grade every notebook under ``folder`` against the lessons in ``solutions``.

    ``after_each`` is given the grades so far after each notebook (to write them, so that
    nothing is lost if the run stops). A notebook that changed the run's output folder
    (``options.output``) is flagged as tampering.
    """
    # Before any student code runs: the course's files as every import by grading code sees
    # them (the answer keys are read here too), restored after each notebook.
    if options.snapshot is None:
        options = dataclasses.replace(options, snapshot=CourseSnapshot.take())
    # The notebooks handed in and the answer keys: out of every graded kernel's reach
    options = dataclasses.replace(options, fenced=(*options.fenced, str(folder), str(solutions)))
    keys = answer_keys(solutions)
    output = options.output.path if options.output is not None else None
    submissions = find_submissions(folder, list(keys), output)
    by_pair: dict[tuple[str, str], list[str]] = defaultdict(list)
    for submission in submissions:
        if submission.lesson in keys:
            by_pair[(submission.student, submission.lesson)].append(submission.name)
    grades = []
    # One judge process for the whole run, started by the first notebook that needs one and
    # stopped when the run ends, whatever happened.
    judge_process: Judge | None = None
    try:
        for number, submission in enumerate(submissions, start=1):
            name = submission.path.relative_to(folder)
            if submission.not_graded or submission.lesson not in keys:
                grade = NotebookGrade(submission)
                grade.problems.append(
                    f"{shown_path(submission.name)}: {submission.not_graded}"
                    if submission.not_graded
                    else f"not a lesson of this course: {shown_path(submission.name)} "
                    "(name it after the lesson, e.g. 01_pixels.ipynb)"
                )
                progress(
                    f"[{number}/{len(submissions)}] {shown_path(name)}: not graded, "
                    + (submission.not_graded or "not a lesson of this course")
                )
            else:
                progress(f"[{number}/{len(submissions)}] {shown_path(name)} ...")
                key = keys[submission.lesson]
                if judge_process is None and needs_judge(key):
                    judge_process = Judge(options.snapshot, lazy_imports=kernel_views(options))
                try:
                    grade = grade_notebook(submission, key, options, judge_process)
                except Exception as exc:  # one notebook the grader cannot handle: on to the next
                    grade = NotebookGrade(submission)
                    grade.problems.append(
                        f"the grader could not grade this notebook ({type(exc).__name__}: "
                        f"{first_line(exc)[:300]}); no exercise was credited"
                    )
                if submission.from_title:
                    grade.problems.append(
                        f"the file name {shown_path(submission.name)} names no lesson "
                        "of this course; "
                        f"graded as {submission.lesson}, the lesson its title names"
                    )
                passed = sum(e.passed for e in grade.exercises)
                progress(
                    # out of the lesson's exercises, as in summary.csv, also for a
                    # notebook that was not run (empty, another lesson's, unreadable)
                    f"    {passed}/{len(key.exercises)} passed in {grade.seconds:.0f} s"
                    + (f", {len(grade.problems)} note(s)" if grade.problems else "")
                )
            twins = by_pair.get((submission.student, submission.lesson), [])
            if len(twins) > 1 and submission.name == twins[0]:  # said once, not per twin
                grade.problems.append(
                    f"{len(twins)} notebooks for this lesson from this student: "
                    + ", ".join(shown_path(twin) for twin in twins)
                )
            if options.output is not None:
                changed = options.output.changes()
                if changed:
                    shown = ", ".join(shown_path(c) for c in changed[:6])
                    grade.problems.append(
                        f"{TAMPERING} the notebook changed the grader's output folder ({shown}"
                        + (" …)" if changed[6:] else ")")
                    )
                    discredit_tampering(grade)
                    options.output.repair(changed)
            grades.append(grade)
            if after_each is not None:
                after_each(grades)
            if options.output is not None:
                options.output.accept()
    finally:
        if judge_process is not None:
            judge_process.close()
    return grades


def rows_of(grades: list[NotebookGrade]) -> list[GradeRow]:
    """One row per exercise of each notebook, then one per finding about the notebook.

    When a student handed in several notebooks of one lesson, each of their messages starts
    with the notebook's file name, so that their rows can be told apart. Names (the student's,
    the file's) are written with :func:`escaped_hidden`: two different names are never written
    alike, in the files or in the printed table.
    """
    # Of a lesson: the rows of what is of none (not graded) name their file already.
    handed_in = Counter(
        (g.submission.student, g.submission.lesson) for g in grades if g.submission.lesson
    )
    rows = []
    for grade in grades:
        student = escaped_hidden(grade.submission.student)
        lesson = grade.submission.lesson or UNKNOWN_LESSON
        notebook = str(grade.submission.path)
        prefix = (
            f"{shown_path(grade.submission.name)}: "
            if handed_in[(grade.submission.student, grade.submission.lesson)] > 1
            else ""
        )
        findings = [(e.exercise, e.passed, e.message) for e in grade.exercises]
        findings += [(NOTEBOOK, False, problem) for problem in grade.problems]
        rows += [
            GradeRow(
                student,
                lesson,
                exercise,
                passed,
                valid_text(prefix + plain_text(message)),
                notebook,
            )
            for exercise, passed, message in findings
        ]
    return rows


def grades_csv(rows: list[GradeRow]) -> str:
    """The text of ``grades.csv``."""
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(COLUMNS)
    writer.writerows(
        [spreadsheet_safe(v) if isinstance(v, str) else v for v in astuple(row)[: len(COLUMNS)]]
        for row in rows
    )
    return handle.getvalue()


def write_grades_csv(rows: list[GradeRow], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(grades_csv(rows))


def read_grades_csv(path: Path) -> list[GradeRow]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            GradeRow(
                *(_from_spreadsheet_safe(r[c]) for c in ("student", "lesson", "exercise")),
                r["passed"] == "True",
                _from_spreadsheet_safe(r["message"]),
            )
            for r in csv.DictReader(handle)
        ]


def summary(rows: list[GradeRow], exercises: dict[str, int]) -> tuple[list[str], list[list[str]]]:
    """Header and one row per student: ``passed/exercises`` for each lesson, total, notes.

    ``exercises`` is each lesson's number of exercises, so that a notebook that could
    not be read still counts as 0 out of all of them.
    """
    submitted = {(r.student, r.lesson) for r in rows}
    lessons = sorted({lesson for _, lesson in submitted if lesson in exercises})
    by_notebook: dict[tuple[str, str, str], int] = defaultdict(int)
    notes: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.exercise == NOTEBOOK:
            notes[row.student] += 1
        else:
            by_notebook[(row.student, row.lesson, row.notebook)] += row.passed
    # A lesson handed in twice counts once, its better notebook (the notes say there were two).
    passed: dict[tuple[str, str], int] = defaultdict(int)
    for (student, lesson, _), count in by_notebook.items():
        passed[(student, lesson)] = max(passed[(student, lesson)], count)
    table = []
    for student in sorted({student for student, _ in submitted}):
        graded = [lesson for lesson in lessons if (student, lesson) in submitted]
        cells = [
            f"{passed[(student, lesson)]}/{exercises[lesson]}" if lesson in graded else "-"
            for lesson in lessons
        ]
        got = sum(passed[(student, lesson)] for lesson in graded)
        out_of = sum(exercises[lesson] for lesson in graded)
        table.append([student, *cells, f"{got}/{out_of}", str(notes[student] or "")])
    return ["student", *lessons, "total", "notes"], table


def summary_csv(rows: list[GradeRow], exercises: dict[str, int]) -> str:
    """The text of ``summary.csv``."""
    header, table = summary(rows, exercises)
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(header)
    writer.writerows([spreadsheet_safe(line[0]), *line[1:]] for line in table)
    return handle.getvalue()


def write_summary_csv(rows: list[GradeRow], exercises: dict[str, int], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(summary_csv(rows, exercises))


def format_summary(rows: list[GradeRow], exercises: dict[str, int]) -> str:
    """The summary as an aligned plain-text table, names written as in the files (rows_of)."""
    header, table = summary(rows, exercises)
    everything = [header, *table]
    widths = [max(len(line[i]) for line in everything) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in everything
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
