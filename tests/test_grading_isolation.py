"""Notebooks that attack the grader's own processes, graded for real in one run.

The folder holds the real student notebook of lesson 01, unsolved, with one extra cell per
attack, then an untouched unsolved notebook graded after them by the same run (the same
judge process, or a new one if an attack stopped it): every attack is refused or caught,
and the later student's grades are the honest ones.
"""

import json
import sys

import nbformat
import pytest
from grading_support import student_notebook

from course_lib.config import project_root
from course_lib.tools.grading import GradeOptions, grade_folder, isolation

ROOT = project_root()
LESSON = "01_pixels"
NOT_ATTEMPTED = (
    "not attempted yet: replace the `raise NotImplementedError(...)` line with your code."
)

# Attach to the grading process (the kernel's parent) and to this run's judge (its child)
# with ptrace, as gdb does, and open their memory for writing; write down what happened.
PTRACE = """
    import ctypes, errno, glob, json, os
    _libc = ctypes.CDLL(None, use_errno=True)
    _grader = os.getppid()
    _targets = {"grader": _grader}
    for _stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            _pid, _fields = _stat.split("/")[2], open(_stat).read().rsplit(")", 1)[1].split()
            _cmd = open(f"/proc/{_pid}/cmdline", "rb").read()
        except OSError:
            continue
        if int(_fields[1]) == _grader and b"course_lib.tools.grading.judge" in _cmd:
            _targets["judge"] = int(_pid)
    _found = {}
    for _who, _pid in _targets.items():
        _attached = _libc.ptrace(16, _pid, 0, 0) == 0  # PTRACE_ATTACH
        _ptrace = "attached" if _attached else errno.errorcode[ctypes.get_errno()]
        if _attached:
            os.waitpid(_pid, 0)
            _libc.ptrace(17, _pid, 0, 0)  # PTRACE_DETACH
        try:
            with open(f"/proc/{_pid}/mem", "r+b"):
                _mem = "opened"
        except OSError as _error:
            _mem = errno.errorcode[_error.errno]
        _found[_who] = {"ptrace": _ptrace, "mem": _mem}
    open(REPORT, "w").write(json.dumps(_found))
"""

# Kill this run's judge, as a notebook that wants its checks (or a later student's) to fail.
KILL_JUDGE = """
    import glob, os, signal, time
    for _stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            _pid, _fields = _stat.split("/")[2], open(_stat).read().rsplit(")", 1)[1].split()
            _cmd = open(f"/proc/{_pid}/cmdline", "rb").read()
        except OSError:
            continue
        if int(_fields[1]) == os.getppid() and b"course_lib.tools.grading.judge" in _cmd:
            os.kill(int(_pid), signal.SIGKILL)
    time.sleep(1)
"""
KILLED = "the judge process was killed (SIGKILL) while this notebook ran"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("attacks")
    report = folder / "ptrace.json"
    submissions = folder / "submissions"
    for student, prelude in {
        "a_ptrace": PTRACE.replace("REPORT", repr(str(report))),
        "b_kill_judge": KILL_JUDGE,
        "z_later": "",
    }.items():
        (submissions / student).mkdir(parents=True)
        nbformat.write(student_notebook(LESSON, prelude), submissions / student / f"{LESSON}.ipynb")
    options = GradeOptions(timeout=600, cell_timeout=120, fast=True)
    grades = grade_folder(submissions, ROOT / "solutions", options, progress=lambda _: None)
    return {g.submission.student: g for g in grades}, folder


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
@pytest.mark.timeout(900)
def test_a_notebook_cannot_ptrace_or_open_the_memory_of_the_grader_or_the_judge(graded):
    _, folder = graded
    found = json.loads((folder / "ptrace.json").read_text())
    assert set(found) == {"grader", "judge"}, found
    for who in found:
        assert found[who] == {"ptrace": "EPERM", "mem": "EACCES"}, (who, found)
    assert not isolation.is_dumpable()


@pytest.mark.timeout(900)
def test_the_attacker_and_the_students_after_it_get_their_honest_grades(graded):
    grades, _ = graded
    for student in ("a_ptrace", "z_later"):
        exercises = grades[student].exercises
        assert [(e.passed, e.message) for e in exercises] == [(False, NOT_ATTEMPTED)] * 4, student
    assert grades["z_later"].problems == []


@pytest.mark.timeout(900)
def test_a_notebook_that_kills_the_judge_is_told_so_and_credited_nothing(graded):
    grades, _ = graded
    grade = grades["b_kill_judge"]
    assert f"tampering: {KILLED}" in grade.problems
    expected = f"not credited, the notebook tampers with grading; check did not run: {KILLED}"
    # The exercise being judged when the judge died says so; a fresh judge takes the others,
    # and none of the notebook's exercises is credited.
    assert (grade.exercises[0].passed, grade.exercises[0].message) == (False, expected)
    assert all(
        not e.passed and e.message.startswith("not credited, the notebook tampers with grading;")
        for e in grade.exercises
    )
