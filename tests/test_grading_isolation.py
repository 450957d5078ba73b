"""Notebooks that attack the grader's own processes, graded for real in one run.

The folder holds the real student notebook of lesson 01, unsolved, with one extra cell per
attack, then an untouched unsolved notebook graded after them by the same run (the same
judge process, or a new one if an attack stopped it): every attack is refused or caught,
and the later student's grades are the honest ones.
"""

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from grading_support import (
    student_notebook,
    unrendered_plots,  # noqa: F401 - used by name below
)

from course_lib.config import project_root
from course_lib.tools.grading import GradeOptions, grade_folder, isolation, own_view

# The graded kernels draw no figures (grading_support.unrendered_plots).
pytestmark = pytest.mark.usefixtures("unrendered_plots")

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
    print("REPORT " + json.dumps(_found))
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


# Read the answer keys, the course's tests and history, and another student's notebook, as
# a student's notebooks did (and run a solution cell if one could be read); write down what
# happened to each attempt.
STEAL = """
    import gc, json, os, subprocess, course_lib
    _root = os.path.dirname(os.path.dirname(course_lib.__file__))
    _tried = {}

    def _try(name, action):
        try:
            _tried[name] = "read: " + str(action())[:80]
        except PermissionError as _error:
            _tried[name] = "refused: " + str(_error)
        except Exception as _error:
            _tried[name] = f"failed: {type(_error).__name__}"

    def _steal():
        _key = json.load(open(os.path.join(_root, "solutions", "01_pixels.ipynb")))
        for _cell in _key["cells"]:
            if _cell["cell_type"] == "code" and "def to_grayscale(" in "".join(_cell["source"]):
                exec("".join(_cell["source"]), globals())
        return "solution run"

    _try("solutions", _steal)
    _try("solutions listed", lambda: os.listdir(os.path.join(_root, "solutions")))
    _try("tests", lambda: open(os.path.join(_root, "tests", "conftest.py")).read())
    _try("git", lambda: open(os.path.join(_root, ".git", "HEAD")).read())
    # The checks' code and the expected values in it
    _try("checks", lambda: open(os.path.join(_root, "course_lib", "checks", "lesson04.py")).read())
    _try("checks listed", lambda: os.listdir(os.path.join(_root, "course_lib", "checks")))
    _try("check imported", lambda: __import__("course_lib.checks.lesson04").checks.lesson04)

    def _afresh():
        import sys
        del sys.modules["course_lib.checks"]
        import course_lib.checks
        return course_lib.checks.exercise_1_1
    _try("checks imported afresh", _afresh)
    _try("peer", lambda: open(os.path.join(SUBMISSIONS, "z_later", "01_pixels.ipynb")).read())
    _try("cat", lambda: subprocess.run(
        ["cat", os.path.join(_root, "solutions", "01_pixels.ipynb")], capture_output=True
    ).stdout)
    _hook = next(f for f in gc.get_objects()
                 if getattr(f, "__name__", "") == "_course_fence")  # fmt: skip

    def _unfence():
        _hook.__defaults__ = ((),) + _hook.__defaults__[1:]
        return open(os.path.join(_root, "solutions", "01_pixels.ipynb")).read()

    _try("unfenced", _unfence)
    _try("own folder", lambda: open("mine.txt", "w").write("kept"))
    print("REPORT " + json.dumps(_tried))
"""


# The ways past the fence (an audit hook sees only Python's own file calls): a library's
# reader, a path relative to an open folder, the C library, programs that find the files by
# themselves, another process's view of the files; then changing the course's checks and
# planting a start-up file. With a view of its own, each one fails.
PAST_THE_FENCE = """
    import ctypes, errno, json, os, subprocess, sysconfig, course_lib
    _root = os.path.dirname(os.path.dirname(course_lib.__file__))
    _key = os.path.join(_root, "solutions", "01_pixels.ipynb")
    _tried = {}

    def _try(name, action):
        try:
            _tried[name] = "read: " + repr(action())[:80]
        except OSError as _error:
            _name = errno.errorcode.get(_error.errno or 0, type(_error).__name__)
            _tried[name] = "failed: " + _name
        except Exception as _error:
            _tried[name] = f"failed: {type(_error).__name__}"

    def _tf():
        import tensorflow as tf
        return tf.io.gfile.GFile(_key, "rb").read()

    def _dir_fd():
        _fd = os.open(_root, os.O_RDONLY)
        return os.read(os.open("solutions/01_pixels.ipynb", os.O_RDONLY, dir_fd=_fd), 80)

    def _libc():
        return _c_read(_key)

    def _c_read(path):
        _c = ctypes.CDLL(None, use_errno=True)
        _fd = _c.open(path.encode(), 0)
        if _fd < 0:
            raise OSError(ctypes.get_errno(), "open")
        _buffer = ctypes.create_string_buffer(80)
        _c.read(_fd, _buffer, 80)
        return _buffer.raw

    def _run(command, **kwargs):
        return subprocess.run(command, capture_output=True, check=True, **kwargs).stdout

    _try("tf.io", _tf)
    _try("dir_fd", _dir_fd)
    _try("ctypes", _libc)
    _try("git show", lambda: _run(["git", "-C", _root, "show", "HEAD:solutions/01_pixels.ipynb"]))
    _try("shell glob", lambda: _run(f"cat {_root}/sol*/01_* {_root}/tes*/conf*", shell=True))
    _try("proc root", lambda: open("/proc/1/root" + _key).read())
    _try("course file", lambda: open(
        os.path.join(_root, "course_lib", "images.py"), "a").write("#"))
    _try("checks", lambda: _c_read(os.path.join(_root, "course_lib", "checks", "lesson04.py")))
    _try("start-up file", lambda: open(
        os.path.join(sysconfig.get_paths()["purelib"], "zz_course.pth"), "w").write("import os"))
    _try("system config", lambda: open("/etc/ipython_kernel_config.py", "w").write("x = 1"))
    _try("the grader's home", lambda: open(SECRET).read())
    _mine = (os.getcwd(), os.environ["HOME"], _root)  # its own folders, and the course
    _try("other folders", lambda: [p for p in os.listdir("/tmp") if not any(
        m == "/tmp/" + p or m.startswith("/tmp/" + p + "/") for m in _mine)])
    if os.getuid():  # another user than the grader's: its processes are out of reach
        _try("signal the grader", lambda: os.kill(os.getppid(), 0))
    _try("own folder", lambda: open("mine.txt", "w").write("kept"))
    print("REPORT " + json.dumps({**_tried, "uid": os.getuid()}))
"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("attacks")
    submissions = folder / "submissions"
    # A file in the grader's home, as a cache or a Jupyter connection file would be
    secret = Path.home() / f".course-grading-test-{os.getpid()}"
    for student, prelude in {
        "a_ptrace": PTRACE,
        "b_kill_judge": KILL_JUDGE,
        "c_steal": STEAL.replace("SUBMISSIONS", repr(str(submissions))),
        "d_past_the_fence": PAST_THE_FENCE.replace("SECRET", repr(str(secret))),
        "z_later": "",
    }.items():
        (submissions / student).mkdir(parents=True)
        nbformat.write(student_notebook(LESSON, prelude), submissions / student / f"{LESSON}.ipynb")
    (submissions / "y_solved").mkdir()
    solved = nbformat.read(ROOT / "solutions" / f"{LESSON}.ipynb", as_version=4)
    nbformat.write(solved, submissions / "y_solved" / f"{LESSON}.ipynb")
    executed = folder / "executed"
    options = GradeOptions(timeout=600, cell_timeout=120, fast=True, executed_dir=executed)
    try:
        secret.write_text("the grader's own file")
        grades = grade_folder(submissions, ROOT / "solutions", options, progress=lambda _: None)
    finally:
        secret.unlink(missing_ok=True)
    return {g.submission.student: g for g in grades}, executed


def _report(executed, student):
    """What the attack printed (kernels in a view of their own see none of the test's folders)."""
    nb = nbformat.read(executed / student / f"{LESSON}.ipynb", as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith("REPORT "):
                    return json.loads(line.split(" ", 1)[1])
    raise AssertionError(f"{student} printed no report")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
@pytest.mark.timeout(900)
def test_a_notebook_cannot_ptrace_or_open_the_memory_of_the_grader_or_the_judge(graded):
    _, executed = graded
    found = _report(executed, "a_ptrace")
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
    grades, executed = graded
    grade = grades["b_kill_judge"]
    if own_view.possible() and _report(executed, "d_past_the_fence")["uid"]:
        # The kernel runs as another user: the signal is refused, the judge goes on.
        # (test_grading_course_files.py kills it from a kernel in the system's view.)
        assert len(grade.problems) == 1 and "raised PermissionError" in grade.problems[0]
        assert [(e.passed, e.message) for e in grade.exercises] == [(False, NOT_ATTEMPTED)] * 4
        return
    assert f"tampering: {KILLED}" in grade.problems
    expected = f"not credited, the notebook tampers with grading; check did not run: {KILLED}"
    # The exercise being judged when the judge died says so; a fresh judge takes the others,
    # and none of the notebook's exercises is credited.
    assert (grade.exercises[0].passed, grade.exercises[0].message) == (False, expected)
    assert all(
        not e.passed and e.message.startswith("not credited, the notebook tampers with grading;")
        for e in grade.exercises
    )


@pytest.mark.timeout(900)
def test_a_solved_notebook_runs_its_check_cells_on_the_stand_in_and_gets_full_marks(graded):
    grades, executed = graded
    assert [e.passed for e in grades["y_solved"].exercises] == [True] * 4
    assert grades["y_solved"].problems == []
    nb = nbformat.read(executed / "y_solved" / f"{LESSON}.ipynb", as_version=4)
    shown = [
        output.get("data", {}).get("text/plain", "")
        for cell in nb.cells
        if "checks.exercise_" in cell.source
        for output in cell.get("outputs", [])
    ]
    assert len(shown) == 4 and all("is checked by the grader" in text for text in shown), shown


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
@pytest.mark.timeout(900)
def test_a_notebook_cannot_read_the_answer_keys_or_another_students_notebook(graded):
    grades, executed = graded
    tried = _report(executed, "c_steal")
    for name in ("solutions", "solutions listed", "tests", "git", "peer", "cat", "unfenced"):
        assert tried[name].startswith("refused: "), (name, tried[name])
    for name in ("checks", "checks listed", "check imported", "checks imported afresh"):
        assert not tried[name].startswith("read: "), (name, tried[name])
    assert tried["checks"].startswith("refused: ")
    assert "out of reach while the notebook is graded" in tried["solutions"]
    assert "cannot be changed" in tried["unfenced"]
    assert tried["own folder"] == "read: 4"  # its own folder stays its own
    exercises = grades["c_steal"].exercises
    assert [(e.passed, e.message) for e in exercises] == [(False, NOT_ATTEMPTED)] * 4


@pytest.mark.skipif(not own_view.possible(), reason="kernels get views of their own as root only")
@pytest.mark.timeout(900)
def test_in_its_own_view_no_way_past_the_fence_reaches_the_answer_keys_or_changes_the_course(
    graded,
):
    grades, executed = graded
    tried = _report(executed, "d_past_the_fence")
    assert tried.pop("own folder") == "read: 4"
    assert tried.pop("uid") != 0 or "signal the grader" not in tried
    assert tried["other folders"] == "read: []", tried["other folders"]
    tried.pop("other folders")
    # Read-only, and not the kernel's where it runs as another user
    for name in ("course file", "start-up file", "system config"):
        assert tried[name] in ("failed: EROFS", "failed: EACCES"), (name, tried[name])
    for name, outcome in tried.items():
        assert outcome.startswith("failed: "), (name, outcome)
    assert not (ROOT / "course_lib" / "images.py").read_text().endswith("#")
    exercises = grades["d_past_the_fence"].exercises
    assert [(e.passed, e.message) for e in exercises] == [(False, NOT_ATTEMPTED)] * 4
    assert grades["d_past_the_fence"].problems == []
