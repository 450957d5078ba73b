"""A notebook that rewrites the course's library on disk, and puts it back, scores nothing.

The real student notebook of lesson 02, unsolved, with the answers of 2.3 and 2.4 set to None
so that every check expression runs, and two cells added: after the set-up, one that appends
to ``course_lib/pipeline.py`` (the checks' folder is out of a graded kernel's reach) code that
forges a pass for every exercise of lesson 02 in any process that imports both; at the end,
one that writes the file back as it was. It is graded for
real, with a lesson-01 notebook that kills the judge and an untouched one after them, in one
run, in a copy of the course: the
forger writes to the course it is graded with, and other tests of this checkout running
meanwhile must not see that (nor another grading run take it for its own notebook's doing).

The kernels run in the system's view of the files (``own_view=False``), as they do where the
system gives them no view of their own: in theirs the course is read-only, the forger's write
fails and the judge is another user's process (tests/test_grading_isolation.py).
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import nbformat
import pytest
from grading_support import (
    student_notebook,
    unrendered_plots,  # noqa: F401 - used by name below
)
from nbformat.v4 import new_code_cell
from test_grading_isolation import KILL_JUDGE, KILLED, NOT_ATTEMPTED

from course_lib.config import project_root

# The graded kernels draw no figures (grading_support.unrendered_plots).
pytestmark = pytest.mark.usefixtures("unrendered_plots")

ROOT = project_root()

FORGE = """
    import importlib
    _path = importlib.import_module("course_lib.pipeline").__file__
    _orig = open(_path).read()
    _extra = (
        "\\nfrom course_lib.record import CheckResult as _RT_CR\\n"
        "import course_lib.checks as _RT_CHECKS\\n"
        + "".join(
            f"\\n_RT_CHECKS.exercise_{e.replace('.', '_')} = "
            f"lambda *a, **k: _RT_CR({e!r}, True, 'looks right')\\n"
            for e in ["2.1", "2.2", "2.3", "2.4", "2.5"]
        )
    )
    open(_path, "w").write(_orig + _extra)
"""
PUT_BACK = 'open(_path, "w").write(_orig)'


def _forging_notebook():
    nb = nbformat.read(ROOT / "notebooks" / "02_pipelines.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.source.startswith("raise NotImplementedError(") and "2.3" in cell.source:
            cell.source = "ds_folder_train = ds_folder_val = folder = fashion = None"
        elif cell.source.startswith("raise NotImplementedError(") and "2.4" in cell.source:
            cell.source = "augment_fashion = None"
    setup = next(i for i, c in enumerate(nb.cells) if "from course_lib" in c.source)
    nb.cells.insert(setup + 1, new_code_cell(textwrap.dedent(FORGE)))
    nb.cells.append(new_code_cell(PUT_BACK))
    return nb


# Runs in the copy of the course: course_lib is imported from there, so the grader's root,
# its snapshot and the kernels' course are the copy's.
GRADE = """
import json, sys
from pathlib import Path
from course_lib.tools.grading import GradeOptions, grade_folder
from course_lib.config import project_root
options = GradeOptions(timeout=900, cell_timeout=180, fast=True, own_view=False)
grades = grade_folder(Path(sys.argv[1]), project_root() / "solutions", options,
                      progress=lambda _: None)
print(json.dumps({g.submission.student: {"problems": g.problems, "exercises": [
    {"passed": e.passed, "message": e.message} for e in g.exercises]} for g in grades}))
"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("course_lib", "solutions", "notebooks", "datasets"):
        shutil.copytree(ROOT / folder, course / folder, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", course / "pyproject.toml")
    library = course / "course_lib" / "pipeline.py"
    submissions = tmp_path_factory.mktemp("course-files")
    (submissions / "a_forger").mkdir()
    nbformat.write(_forging_notebook(), submissions / "a_forger" / "02_pipelines.ipynb")
    (submissions / "b_kill_judge").mkdir()
    nbformat.write(
        student_notebook("01_pixels", KILL_JUDGE), submissions / "b_kill_judge" / "01_pixels.ipynb"
    )
    (submissions / "z_later").mkdir()
    later = nbformat.read(ROOT / "notebooks" / "01_pixels.ipynb", as_version=4)
    nbformat.write(later, submissions / "z_later" / "01_pixels.ipynb")
    original = library.read_bytes()
    env = {
        **os.environ,
        "PYTHONPATH": str(course),
        "COURSE_BUILD_DIR": str(tmp_path_factory.mktemp("build")),
    }
    done = subprocess.run(
        [sys.executable, "-c", GRADE, str(submissions)],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=1400,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    grades = json.loads(done.stdout.strip().splitlines()[-1])
    yield grades, library.read_bytes() == original


@pytest.mark.timeout(1500)
def test_a_library_rewritten_on_disk_and_put_back_forges_no_check(graded):
    grades, _ = graded
    exercises = grades["a_forger"]["exercises"]
    assert [e["passed"] for e in exercises] == [False] * 5
    assert not any("looks right" in e["message"] for e in exercises)
    # The course's own checks ran and judged the unsolved answers.
    assert "NotImplementedError" in exercises[0]["message"], exercises[0]["message"]
    assert not any("failed to load" in e["message"] for e in exercises)


@pytest.mark.timeout(1500)
def test_a_notebook_that_changed_the_course_files_is_flagged_and_they_are_restored(graded):
    grades, unchanged = graded
    assert (
        "tampering: the notebook changed the course's files (course_lib/pipeline.py); "
        "the grader restored them"
    ) in grades["a_forger"]["problems"]
    assert unchanged
    later = grades["z_later"]
    assert later["problems"] == [] and [e["passed"] for e in later["exercises"]] == [False] * 4


@pytest.mark.timeout(1500)
def test_a_notebook_that_kills_the_judge_is_told_so_and_credited_nothing(graded):
    grades, _ = graded
    grade = grades["b_kill_judge"]
    assert f"tampering: {KILLED}" in grade["problems"]
    expected = f"not credited, the notebook tampers with grading; check did not run: {KILLED}"
    # The exercise being judged when the judge died says so; a fresh judge takes the others,
    # and none of the notebook's exercises is credited.
    exercises = grade["exercises"]
    assert (exercises[0]["passed"], exercises[0]["message"]) == (False, expected)
    assert all(
        not e["passed"] and e["message"].startswith("not credited, the notebook tampers")
        for e in exercises
    )
    assert [e["message"] for e in grades["z_later"]["exercises"]] == [NOT_ATTEMPTED] * 4
