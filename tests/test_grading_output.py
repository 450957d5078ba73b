"""What ``course grade`` writes, when students choose names and notebooks aim at the output.

One run of the command on a folder of real lesson-01 notebooks (unsolved, so each is quick):
a student whose folder name is a spreadsheet formula with a newline in it, notebooks that
attack the output folder, and an untouched notebook graded after them.
"""

import csv
import subprocess
import sys
import textwrap

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from course_lib.config import project_root

ROOT = project_root()
LESSON = "01_pixels"
FORMULA = '=HYPERLINK("http:,evil")\nx,1.1,True'
NOT_ATTEMPTED = (
    "not attempted yet: replace the `raise NotImplementedError(...)` line with your code."
)


def _notebook(prelude=""):
    nb = nbformat.read(ROOT / "notebooks" / f"{LESSON}.ipynb", as_version=4)
    if prelude:
        setup = next(i for i, c in enumerate(nb.cells) if "from course_lib" in c.source)
        nb.cells.insert(setup + 1, new_code_cell(textwrap.dedent(prelude)))
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("output")
    submissions, output = folder / "submissions", folder / "grades"
    students = {FORMULA: "", "z_later": ""}
    for student, prelude in students.items():
        (submissions / student).mkdir(parents=True)
        nbformat.write(_notebook(prelude), submissions / student / f"{LESSON}.ipynb")
    result = subprocess.run(
        [sys.executable, "-m", "course_lib.tools.cli", "grade", str(submissions)]
        + ["--output", str(output), "--cell-timeout", "120", "--timeout", "400"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1500,
    )
    return result, output


def _rows(path):
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.mark.timeout(1500)
def test_student_names_never_become_spreadsheet_formulas_nor_break_the_printed_table(graded):
    result, output = graded
    assert result.returncode == 0, result.stderr[-3000:]
    grades = _rows(output / "grades.csv")
    assert {row[0] for row in grades[1:]} == {"'" + FORMULA, "z_later"}
    assert [row[4] for row in grades[1:] if row[0] == "'" + FORMULA] == [NOT_ATTEMPTED] * 4
    summary = _rows(output / "summary.csv")
    assert [row[0] for row in summary[1:]] == ["'" + FORMULA, "z_later"]
    table = result.stdout[result.stdout.index("student ") :].split("\n\n")[0].splitlines()
    assert len(table) == 4, table  # header, rule, one line per student
    assert table[2].startswith('=HYPERLINK("http:,evil")\\nx,1.1,True  0/4'), table
    assert '[1/2] =HYPERLINK("http:,evil")\\nx,1.1,True/01_pixels.ipynb ...' in result.stdout
