"""What a graded notebook leaves behind: processes it detached, and patches to the import system.

One unsolved lesson-01 notebook is graded (in-process, as ``course grade`` does): its first
cell starts a process that detaches itself from the kernel (its parent exits at once, as a
double fork does, in a session of its own) and wraps ``SourceFileLoader.get_code``, through
which the grader re-imports course_lib from disk for the checks that run in the kernel.
"""

import os
import sys
import textwrap

import nbformat
import psutil
import pytest
from grading_support import unrendered_plots  # noqa: F401 - used by name below
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_lib.config import project_root
from course_lib.tools.grading import GradeOptions, answer_keys, grade_notebook
from course_lib.tools.grading.submissions import Submission

# The graded kernels draw no figures (grading_support.unrendered_plots).
pytestmark = pytest.mark.usefixtures("unrendered_plots")

LESSON = "01_pixels"

PRELUDE = """
    import subprocess, sys
    import importlib._bootstrap_external as _external

    # A process that outlives the kernel: the child starts it and exits at once.
    _sleeper = "import time; time.sleep(600)"
    _starter = (
        "import subprocess, sys; "
        f"p = subprocess.Popen([sys.executable, '-c', {_sleeper!r}], start_new_session=True); "
        f"open({PID_FILE!r}, 'w').write(str(p.pid))"
    )
    subprocess.run([sys.executable, "-c", _starter], check=True)

    # A loader that could hand the grader other code than the file on disk.
    _real_get_code = _external.SourceFileLoader.get_code
    def _get_code(self, fullname):
        return _real_get_code(self, fullname)
    _external.SourceFileLoader.get_code = _get_code
"""


def _unsolved_notebook(key, prelude):
    cells = [new_markdown_cell("# Lesson 01 — unsolved"), new_code_cell(prelude)]
    for exercise in key.exercises:
        cells.append(new_markdown_cell(f"### Exercise {exercise.number} — {exercise.title}"))
        cells.append(new_code_cell(exercise.check))
    return new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "image-course", "display_name": "Python 3"}}
    )


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("leftovers")
    pid_file = folder / "detached.pid"
    key = answer_keys(project_root() / "solutions")[LESSON]
    prelude = textwrap.dedent(PRELUDE).replace("{PID_FILE!r}", repr(str(pid_file)))
    path = folder / f"{LESSON}.ipynb"
    nbformat.write(_unsolved_notebook(key, prelude), path)
    # The system's view of the files (own_view=False): the notebooks write where this test
    # reads them, which a kernel in a view of its own cannot; what is left running is
    # stopped either way.
    options = GradeOptions(timeout=600, cell_timeout=120, fast=True, own_view=False)
    try:
        grade = grade_notebook(Submission(path, "mallory", LESSON), key, options)
        yield grade, int(pid_file.read_text())
    finally:
        if pid_file.exists():  # whatever the grader did, nothing of this test keeps running
            try:
                psutil.Process(int(pid_file.read_text())).kill()
            except psutil.Error:
                pass


def _running(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.mark.timeout(900)
def test_a_process_the_notebook_detached_is_stopped_when_grading_ends(graded):
    grade, pid = graded
    assert pid != os.getpid()
    assert not _running(pid)
    assert any(
        p.startswith("the grader stopped processes the notebook left running") and str(pid) in p
        for p in grade.problems
    ), grade.problems


@pytest.mark.timeout(900)
def test_a_notebook_that_patches_the_import_system_is_flagged_and_scores_zero(graded):
    grade, _ = graded
    flagged = [p for p in grade.problems if p.startswith("tampering:")]
    assert any("SourceFileLoader.get_code" in p for p in flagged), grade.problems
    assert [r.passed for r in grade.exercises] == [False] * len(grade.exercises)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
@pytest.mark.timeout(900)
def test_grading_gives_up_the_subreaper_role_when_it_is_done(graded):
    # Orphans of later, unrelated work must go to init again, which reaps them: a process
    # that stayed a subreaper would keep them as zombies.
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    state = ctypes.c_int(-1)
    assert libc.prctl(37, ctypes.byref(state), 0, 0, 0) == 0  # PR_GET_CHILD_SUBREAPER
    assert state.value == 0
