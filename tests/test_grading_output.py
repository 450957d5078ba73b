"""What ``course grade`` writes, when students choose names and notebooks aim at the output.

One run of the command on a folder of real lesson-01 notebooks (unsolved, so each is quick):
a student whose folder name is a spreadsheet formula with a newline in it, two students whose
names differ by a hidden character (with a notebook that is no lesson: no kernel), notebooks that
attack the output folder, and an untouched notebook graded after them. Where kernels get a view
of their own (grading.own_view), the output folder is empty in it and the attack fails at once;
tests/test_grading_units.py plants the same things in an output folder directly.
"""

import csv
import subprocess
import sys

import nbformat
import pytest
from grading_support import (
    student_notebook,
    unrendered_plots,  # noqa: F401 - used by name below
)
from nbformat.v4 import new_notebook

from course_lib.config import project_root
from course_lib.tools.grading import own_view

# The graded kernels draw no figures (grading_support.unrendered_plots).
pytestmark = pytest.mark.usefixtures("unrendered_plots")

ROOT = project_root()
LESSON = "01_pixels"
FORMULA = '=HYPERLINK("http:,evil")\nx,1.1,True'
SHOWN_FORMULA = FORMULA.replace("\n", "\\n")  # as every output writes it
# A folder named with a real RIGHT-TO-LEFT OVERRIDE, and one that spells it out
TWINS = {"alice\u202e": "alice\\u202e", "alice\\u202e": "alice\\\\u202e"}
NOT_ATTEMPTED = (
    "not attempted yet: replace the `raise NotImplementedError(...)` line with your code."
)

# Find the output folder on the grader's command line; put folders where grades.csv and
# summary.csv go, a link to the instructor's file where summary.csv goes, and a link to
# the instructor's folder where the next student's executed copy goes.
GRIEF = """
    import os
    os.write(1, b"    4/4 passed in 1 s SPOOFED\\n")  # a line among the grader's own
    _argv = open(f"/proc/{os.getppid()}/cmdline", "rb").read().decode().split("\\0")
    _out = _argv[_argv.index("--output") + 1]
    for _name in ("grades.csv", "summary.csv"):  # written after the students before
        if os.path.lexists(os.path.join(_out, _name)):
            os.remove(os.path.join(_out, _name))
    os.makedirs(os.path.join(_out, "grades.csv", "x"))
    os.makedirs(os.path.join(_out, "executed"), exist_ok=True)
    os.symlink(INSTRUCTOR + "/notes.txt", os.path.join(_out, "summary.csv"))
    os.symlink(INSTRUCTOR, os.path.join(_out, "executed", "z_later"))
"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("output")
    submissions, output = folder / "submissions", folder / "grades"
    instructor = folder / "instructor"
    instructor.mkdir()
    (instructor / "notes.txt").write_text("the instructor's notes")
    students = {
        FORMULA: "",
        "b_grief": GRIEF.replace("INSTRUCTOR", repr(str(instructor))),
        "z_later": "",
    }
    for student, prelude in students.items():
        (submissions / student).mkdir(parents=True)
        nbformat.write(student_notebook(LESSON, prelude), submissions / student / f"{LESSON}.ipynb")
    for student in TWINS:
        (submissions / student).mkdir(parents=True)
        nbformat.write(new_notebook(), submissions / student / "notes.ipynb")
    result = subprocess.run(
        [sys.executable, "-m", "course_lib.tools.cli", "grade", str(submissions)]
        + ["--output", str(output), "--cell-timeout", "120", "--timeout", "400"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1500,
    )
    return result, output, instructor


def _rows(path):
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.mark.timeout(1500)
def test_student_names_never_become_spreadsheet_formulas_nor_break_the_printed_table(graded):
    result, output, _ = graded
    assert result.returncode == 0, result.stderr[-3000:]
    grades = _rows(output / "grades.csv")
    students = ["'" + SHOWN_FORMULA, *sorted(TWINS.values()), "b_grief", "z_later"]
    assert {row[0] for row in grades[1:]} == set(students)
    assert [row[4] for row in grades[1:] if row[0] == "'" + SHOWN_FORMULA] == [NOT_ATTEMPTED] * 4
    summary = _rows(output / "summary.csv")
    assert [row[0] for row in summary[1:]] == students
    table = _printed_table(result)
    assert len(table) == 7, table  # header, rule, one line per student
    assert table[2].startswith('=HYPERLINK("http:,evil")\\nx,1.1,True  0/4'), table
    assert '[1/5] =HYPERLINK("http:,evil")\\nx,1.1,True/01_pixels.ipynb ...' in result.stdout
    assert "SPOOFED" not in result.stdout + result.stderr  # the kernel's stdout goes nowhere


@pytest.mark.timeout(1500)
def test_two_students_whose_names_differ_by_a_hidden_character_stay_two_in_every_output(graded):
    result, output, _ = graded
    assert result.returncode == 0, result.stderr[-3000:]
    shown = sorted(TWINS.values())
    grades = _rows(output / "grades.csv")
    assert [(row[0], row[4][:28]) for row in grades[1:] if row[0].startswith("alice")] == [
        (name, "not a lesson of this course:") for name in shown
    ]
    summary = _rows(output / "summary.csv")
    assert [row for row in summary[1:] if row[0].startswith("alice")] == [
        [name, "-", "0/0", "1"] for name in shown
    ]
    table = [line.split() for line in _printed_table(result) if line.startswith("alice")]
    assert table == [[name, "-", "0/0", "1"] for name in shown]
    for text in (
        (output / "grades.csv").read_text("utf-8"),
        (output / "summary.csv").read_text("utf-8"),
        result.stdout,
    ):
        assert "\u202e" not in text


def _printed_table(result):
    return result.stdout[result.stdout.index("student ") :].split("\n\n")[0].splitlines()


@pytest.mark.timeout(1500)
def test_a_notebook_that_plants_folders_and_links_in_the_output_loses_nobody_s_results(graded):
    result, output, instructor = graded
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    for name in ("grades.csv", "summary.csv"):
        assert (output / name).is_file() and not (output / name).is_symlink()
    assert (instructor / "notes.txt").read_text() == "the instructor's notes"
    assert sorted(p.name for p in instructor.iterdir()) == ["notes.txt"]
    executed = output / "executed" / "z_later"
    assert executed.is_dir() and not executed.is_symlink()
    assert (executed / f"{LESSON}.ipynb").is_file()
    grades = _rows(output / "grades.csv")
    later = [row for row in grades[1:] if row[0] == "z_later"]
    assert [(row[3], row[4]) for row in later] == [("False", NOT_ATTEMPTED)] * 4
    notes = [row[4] for row in grades[1:] if row[0] == "b_grief" and row[2] == "notebook"]
    if own_view.possible():  # the output folder is empty in the kernel's view: nothing to attack
        assert len(notes) == 1, notes
        assert "raised PermissionError" in notes[0], notes
    else:  # the notebook changes the folder; the grader names it and writes past it
        assert any(
            n.startswith("tampering: the notebook changed the grader's output folder (")
            for n in notes
        ), notes
    credited = {row[3] for row in grades[1:] if row[0] == "b_grief" and row[2] != "notebook"}
    assert credited == {"False"}
