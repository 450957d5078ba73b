"""`course grade` on a folder of synthetic submissions gives exactly the expected grades.csv.

The submissions are made here from the real student notebook of lesson 01, with
answers filled in programmatically (right answers are the solution notebook's own),
so the test follows the lesson as it evolves. That the grader gives every lesson's solution
full marks is pinned where each solution is executed, in ``tests/test_notebooks.py``.
"""

import csv
import re
import subprocess
import sys
import textwrap

import nbformat
import pytest
from grading_support import (
    ANSWERS,
    STRATEGIES,
    unrendered_plots,  # noqa: F401 - used by name below
)
from solution_support import solution_cells

from course_lib.config import project_root
from course_lib.tools import notebooks
from course_lib.tools.grading import answer_keys, find_submissions
from course_lib.tools.grading.submissions import lesson_key

# The graded kernels draw no figures (grading_support.unrendered_plots).
pytestmark = pytest.mark.usefixtures("unrendered_plots")

ROOT = project_root()
LESSON = "01_pixels"
# Lesson 01 imports no TensorFlow: its slowest cell takes about a second on 2 idle cores.
# Generous for a busy machine, and erin's endless loop is waited out only this long.
CELL_TIMEOUT = 20

WRONG = {
    "1.1": "return photo.mean(axis=-1)",
    "1.2": "return image[:height, :width]",
    "1.3": "return image[:: image.shape[0] // height, :: image.shape[1] // width]",
    "1.4": "return (x_train - x_train.mean()) / x_train.std(), "
    "(x_test - x_test.mean()) / x_test.std()",
}
SUCCESS = {
    "1.1": "one luminance value per pixel, weighted as the eye sees.",
    "1.2": "centred, the odd row and column cut at the bottom and right.",
    "1.3": "each new pixel is the source pixel under its centre, as Pillow's NEAREST.",
    "1.4": "training statistics applied to both sets, float32, mean 0 and std 1 on training.",
}
MISTAKE = {
    "1.1": "you averaged the channels equally; the eye is most sensitive to green: weight red, "
    "green and blue by 0.299, 0.587 and 0.114.",
    "1.2": "your crop of a 7 x 10 image is the top-left corner; cut (h - height) // 2 rows at the "
    "top to centre it.",
    "1.3": "resizing 9 x 13 to 4 x 5 gave shape (5, 7): a step of h // height only fits when the "
    "sizes divide exactly. Compute one source index per output pixel instead.",
    "1.4": "the test images were standardised with their own mean and standard deviation: use the "
    "training statistics for both sets. The test set stands for images that arrive later, "
    "which you cannot measure while training.",
}
NOT_ATTEMPTED = (
    "not attempted yet: replace the `raise NotImplementedError(...)` line with your code."
)
TAMPERED = "not credited, the notebook tampers with grading; "
COPIED = (
    "your code calls course_lib.images.to_grayscale, the course's own copy of this exercise, "
    "kept for the lessons after it; the exercise is to write it yourself."
)
WATCH_OFF = (
    "your code calls sys.setprofile, which switched off the check's watch on these calls; "
    "leave it alone, and write the answer yourself."
)
# The kernel's own watch on copies made harmless, the copy kept, the library's function and
# the profiler's switches replaced (sys is not in the tampering fingerprint), and the
# notebook's built-ins rebound, with a `compile` that rewrites the grader's cells unwatched
REPLACED_WATCH = r"""
import builtins, contextlib, sys, types
try:
    import course_lib.checks._copies as _copies_mod
except ImportError:  # a graded kernel has no checks: a stand-in for the notebook's to change
    _copies_mod = types.SimpleNamespace()
from course_lib import images as _img

@contextlib.contextmanager
def _quiet():
    yield []

_copies_mod.watching = _quiet
_copies_mod.watched_call = lambda func, args, *rest, **options: (func(*args), None, "", "")
_copies_mod.COPIES, _copies_mod.WATCH_CHECKS = (), False
_copy, _img.to_grayscale = _img.to_grayscale, lambda photo: photo[..., 0]
sys.setprofile, sys.getprofile = (lambda function: None), (lambda: None)
_own_builtins, _compile = dict(vars(builtins)), builtins.compile

def _unwatched(source, filename, *args, **options):
    if filename == "course-grader":
        source = source.replace(
            'if __name__ == "__course_grader__":',
            "def _watched(func, given, watch, tools):\n    return func(*given), None, ''\n"
            'if __name__ == "__course_grader__":',
        )
    return _compile(source, filename, *args, **options)

def _import(name, *args, **options):  # `import builtins` in a cell gets the rewriting one
    if name == "builtins":
        return types.SimpleNamespace(**{**vars(builtins), "compile": _unwatched})
    return builtins.__import__(name, *args, **options)

_own_builtins["compile"], _own_builtins["__import__"] = _unwatched, _import
__builtins__ = _own_builtins
"""
SWITCHED_OFF = """\
watch = sys.getprofile()
sys.setprofile(None)
try:
    return np.round(_copy(photo) * 255).astype(np.uint8)
finally:
    sys.setprofile(watch)"""


WORKER = """\
import queue, threading
from course_lib.images import to_grayscale as _copy
_work = queue.Queue()

def _serve():
    while True:
        job = _work.get()
        if job is None:
            return
        job[2].append(job[0](*job[1]))
        job[3].set()

threading.Thread(target=_serve, daemon=True).start()

def _ask(function, *args):
    box, done = [], threading.Event()
    _work.put((function, args, box, done))
    done.wait()
    return box[0]"""
BLIND_AND_DUMP = """\
import json as _json, sys
from course_lib.images import to_grayscale as _copy
_dump = _json.dump

def _blind():
    for kept in sys.getprofile().__defaults__:
        if type(kept) is list:
            kept.append("")
            return

def _as_returned(value, *args, **options):
    if isinstance(value, dict) and value.get("raised", {}).get("type") == "CourseCopyUsed":
        value = {"returned": {"t": "int", "v": "0"}, "changed": {}}
    return _dump(value, *args, **options)

_json.dump = _as_returned"""


def _student():
    return nbformat.read(ROOT / "notebooks" / f"{LESSON}.ipynb", as_version=4)


def _solutions():
    """Exercise number -> the code between the solution markers, dedented."""
    numbers = [e.number for e in lesson_key(ROOT / "solutions" / f"{LESSON}.ipynb").exercises]
    found = {}
    for number, source in solution_cells(numbers).items():
        body = source.split(notebooks.BEGIN, 1)[1].split(notebooks.END, 1)[0]
        found[number] = textwrap.dedent(body.split("\n", 1)[1]).rstrip()
    return found


def _answer(nb, number, code):
    """Put ``code`` where the student notebook raises NotImplementedError for ``number``."""
    # One line, or three when the builder wrapped a long title.
    pattern = re.compile(
        rf"^( *)raise NotImplementedError\((?:\n *)?[\"']Exercise {re.escape(number)}\b.*"
        r"(?:\n *\))?$",
        re.MULTILINE,
    )
    for cell in nb.cells:
        match = pattern.search(cell.source)
        if match:
            indented = textwrap.indent(code, match.group(1))
            cell.source = cell.source[: match.start()] + indented + cell.source[match.end() :]
            return cell
    raise AssertionError(f"no exercise cell for {number}")


def _index(nb, text):
    return next(i for i, cell in enumerate(nb.cells) if text in cell.source)


def _describe(nb, index):
    first = nb.cells[index].source.strip().splitlines()[0].strip()
    return f'cell {index + 1} ("{first if len(first) <= 40 else first[:39] + "…"}")'


def _make_submissions(folder):
    right = _solutions()
    expected = []

    def rows(student, results, notes=()):
        expected.extend((student, LESSON, n, str(p), m) for n, (p, m) in results.items())
        expected.extend((student, LESSON, "notebook", "False", note) for note in notes)

    nb = _student()  # all right, one folder per student
    for number, code in right.items():
        _answer(nb, number, code)
    (folder / "alice").mkdir()
    nbformat.write(nb, folder / "alice" / f"{LESSON}.ipynb")
    (folder / "alice" / ".ipynb_checkpoints").mkdir()
    nbformat.write(nb, folder / "alice" / ".ipynb_checkpoints" / f"{LESSON}-checkpoint.ipynb")
    rows("alice", {n: (True, SUCCESS[n]) for n in right})

    nb = _student()  # all wrong, student's name before the lesson's file name
    for number, code in WRONG.items():
        _answer(nb, number, code)
    nbformat.write(nb, folder / f"bob_{LESSON}.ipynb")
    rows("bob", {n: (False, MISTAKE[n]) for n in WRONG})

    nb = _student()  # partly right; deleted a check cell and broke a cell outside the exercises
    for number in ("1.1", "1.3"):
        _answer(nb, number, right[number])
    _answer(nb, "1.2", WRONG["1.2"])
    del nb.cells[_index(nb, "checks.exercise_1_3(")]
    broken = _index(nb, "means = photos[name]")
    nb.cells[broken].source += "\nphoto.to_grayscale()"
    nbformat.write(nb, folder / f"carol-{LESSON}.ipynb")
    rows(
        "carol",
        {
            "1.1": (True, SUCCESS["1.1"]),
            "1.2": (False, MISTAKE["1.2"]),
            "1.3": (True, SUCCESS["1.3"]),
            "1.4": (False, NOT_ATTEMPTED),
        },
        [
            "the check cell of exercise 1.3 was deleted; the grader ran the check itself",
            f"{_describe(nb, broken)} raised AttributeError: 'numpy.ndarray' object has no "
            "attribute 'to_grayscale', outside the exercises",
        ],
    )

    (folder / "dave").mkdir()  # a file cut short
    (folder / "dave" / f"{LESSON}.ipynb").write_text(
        '{"cells": [{"cell_type": "code", "source": "x = 1"'
    )
    expected.append(
        (
            "dave",
            LESSON,
            "notebook",
            "False",
            "could not read the notebook: not valid "
            "JSON (Expecting ',' delimiter at line 1, column 51)",
        )
    )
    (folder / "dave" / "my notes.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    expected.append(
        (
            "dave",
            "?",
            "notebook",
            "False",
            "not a lesson of this course: my notes.ipynb "
            "(name it after the lesson, e.g. 01_pixels.ipynb)",
        )
    )

    nb = _student()  # loops forever before defining its answer to 1.2
    for number, code in right.items():
        _answer(nb, number, code)
    loop = nb.cells[_index(nb, "def centre_crop(")]
    # A loop that never ends; it sleeps, so that the other pytest worker keeps the CPU meanwhile.
    loop.source = (
        "import time\n\nwhile True:  # let me look at this image for a while\n    time.sleep(1)\n\n"
        + loop.source
    )
    nbformat.write(nb, folder / f"erin_{LESSON}.ipynb")
    rows(
        "erin",
        {
            "1.1": (True, SUCCESS["1.1"]),
            "1.2": (
                False,
                "check did not run: NameError: name 'centre_crop' is not defined; "
                "the exercise's cells timed out",
            ),
            "1.3": (True, SUCCESS["1.3"]),
            "1.4": (True, SUCCESS["1.4"]),
        },
        [
            f"{_describe(nb, _index(nb, 'while True'))} did not finish within {CELL_TIMEOUT} s "
            "and was interrupted"
        ],
    )

    nb = _student()  # wrong answers, a forged check, forged results and a patched NumPy
    cells = {number: _answer(nb, number, code) for number, code in WRONG.items()}
    cells["1.2"].source += textwrap.dedent("""
        np.array_equal = lambda *args, **kwargs: True
        from course_lib.record import CheckResult
        checks.exercise_1_2 = lambda *args: CheckResult("1.2", True, "well done.")
        try:
            from course_lib.checks import lesson01
            lesson01.run_check = lambda exercise, diagnose, success: CheckResult(
                exercise, True, success)
        except ImportError:  # a graded kernel has no checks
            pass""")
    fake = nbformat.v4.new_code_cell(
        textwrap.dedent("""
        from IPython.display import display
        for n in ("1.1", "1.2", "1.3", "1.4"):
            display({"application/vnd.course.check+json": {"exercise": n, "passed": True,
                                                            "message": "ok"},
                     "application/vnd.course.grader+json": {"nonce": "0", "action": "check",
                     "exercise": n, "status": "passed", "message": "ok"}}, raw=True)""")
    )
    nb.cells.insert(_index(nb, "## Recap"), fake)
    nbformat.write(nb, folder / f"frank_{LESSON}.ipynb")
    rows(
        "frank",
        {
            "1.1": (False, TAMPERED + MISTAKE["1.1"]),
            # judged outside the kernel, with NumPy's own array_equal: the real mistake
            "1.2": (False, TAMPERED + MISTAKE["1.2"]),
            "1.3": (False, TAMPERED + MISTAKE["1.3"]),
            "1.4": (False, TAMPERED + MISTAKE["1.4"]),
        },
        ["tampering: the notebook changed numpy.array_equal"],
    )

    # The library's copy of 1.1 handed in, with the kernel's watch replaced: the watch that
    # runs is the grader's own, sent with the call (so is what else the notebook replaced)
    nb = _student()
    _answer(nb, "1.1", "return np.round(_copy(photo) * 255).astype(np.uint8)")
    for number in ("1.2", "1.3", "1.4"):
        _answer(nb, number, right[number])
    nb.cells.insert(_index(nb, "### Exercise 1.1"), nbformat.v4.new_code_cell(REPLACED_WATCH))
    nbformat.write(nb, folder / f"grace_{LESSON}.ipynb")
    rows("grace", {n: (n != "1.1", SUCCESS[n] if n != "1.1" else COPIED) for n in right})

    # ... or with the watch switched off while the answer runs
    nb = _student()
    _answer(nb, "1.1", SWITCHED_OFF)
    for number in ("1.2", "1.3", "1.4"):
        _answer(nb, number, right[number])
    prelude = "import sys\nfrom course_lib.images import to_grayscale as _copy"
    nb.cells.insert(_index(nb, "### Exercise 1.1"), nbformat.v4.new_code_cell(prelude))
    nbformat.write(nb, folder / f"heidi_{LESSON}.ipynb")
    rows(
        "heidi",
        {n: (False, TAMPERED + (SUCCESS[n] if n != "1.1" else WATCH_OFF)) for n in right},
        [
            "tampering: the notebook switched off the grader's watch on calls of the course's "
            "own copies while exercise 1.1 was checked (sys.setprofile or sys.settrace was called)"
        ],
    )

    # The library's copy of 1.1 run by the notebook's worker thread, started before the check
    # (stopped after it): the watch cannot follow a thread already running, so the call is
    # not made
    nb = _student()
    _answer(nb, "1.1", "return np.round(_ask(_copy, photo) * 255).astype(np.uint8)")
    for number in ("1.2", "1.3", "1.4"):
        _answer(nb, number, right[number])
    nb.cells.insert(_index(nb, "### Exercise 1.1"), nbformat.v4.new_code_cell(WORKER))
    after = _index(nb, "checks.exercise_1_1(") + 1
    nb.cells.insert(after, nbformat.v4.new_code_cell("_work.put(None)\nimport time\ntime.sleep(1)"))
    nbformat.write(nb, folder / f"ivan_{LESSON}.ipynb")
    unwatched = (
        "the grader could not watch this call: a thread the notebook started was running "
        "while its answer was checked (Thread._bootstrap in Condition.wait)"
    )
    rows(
        "ivan",
        {
            n: (
                False,
                TAMPERED
                + (SUCCESS[n] if n != "1.1" else f"your code raised RuntimeError: {unwatched}"),
            )
            for n in right
        },
        [
            "tampering: the notebook switched off the grader's watch on calls of the course's "
            f"own copies while exercise 1.1 was checked ({unwatched.split(': ', 1)[1]})"
        ],
    )

    # ... or called with an empty name put in the watch's record first, and json.dump
    # patched to write "returned" for it (put back in the last cell)
    nb = _student()
    _answer(nb, "1.1", "_blind()\nreturn np.round(_copy(photo) * 255).astype(np.uint8)")
    for number in ("1.2", "1.3", "1.4"):
        _answer(nb, number, right[number])
    nb.cells.insert(_index(nb, "### Exercise 1.1"), nbformat.v4.new_code_cell(BLIND_AND_DUMP))
    nb.cells.append(nbformat.v4.new_code_cell("_json.dump = _dump  # put back"))
    nbformat.write(nb, folder / f"judy_{LESSON}.ipynb")
    rows("judy", {n: (n != "1.1", SUCCESS[n] if n != "1.1" else COPIED) for n in right})

    # Unsolved notebooks that try to score anyway, one per strategy class; judged in another
    # process on data the kernel exported, none of them can.
    for student, code in STRATEGIES.items():
        nb = _student()
        nb.cells.insert(
            _index(nb, "### Exercise 1.1"), nbformat.v4.new_code_cell(textwrap.dedent(code))
        )
        for number, answer in STRATEGY_ANSWERS.get(student, {}).items():
            _answer(nb, number, answer)
        nbformat.write(nb, folder / f"{student}_{LESSON}.ipynb")
        expected.extend((student, LESSON, n, "False") for n in SUCCESS)
    return expected


# The exercise cells' answers that go with a strategy.
STRATEGY_ANSWERS = {
    student: {
        "1.1": f"return {call}",
        "1.2": f"return {call}",
        "1.3": f"return {call}",
        "1.4": f"return {call}, {call}",
    }
    for student, call in ANSWERS.items()
}


def _grade(submissions, output, *options):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "course_lib.tools.cli",
            "grade",
            str(submissions),
            "--output",
            str(output),
            *options,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1500,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with (output / "grades.csv").open(newline="", encoding="utf-8") as handle:
        rows = [tuple(row) for row in csv.reader(handle)]
    assert rows[0] == ("student", "lesson", "exercise", "passed", "message")
    return result, rows[1:]


@pytest.mark.timeout(1500)
def test_course_grade_writes_exactly_the_expected_csv(tmp_path):
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    expected = _make_submissions(submissions)
    output = tmp_path / "grades"
    result, rows = _grade(
        submissions, output, "--cell-timeout", str(CELL_TIMEOUT), "--timeout", "400"
    )
    exact = [row for row in expected if len(row) == 5]
    assert [row for row in rows if row[0] not in STRATEGIES] == exact
    # The tampering attempts: every exercise of every one of them is not credited.
    attempts = [row[:4] for row in rows if row[0] in STRATEGIES and row[2] != "notebook"]
    assert sorted(attempts) == sorted(row for row in expected if len(row) == 4)
    summary = (output / "summary.csv").read_text(encoding="utf-8").splitlines()
    assert summary[0] == f"student,{LESSON},total,notes"
    by_student = {line.split(",")[0]: line for line in summary[1:]}
    students = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
    assert [by_student[s] for s in students] == [
        "alice,4/4,4/4,",
        "bob,0/4,0/4,",
        "carol,2/4,2/4,2",
        "dave,0/4,0/4,2",
        "erin,3/4,3/4,1",
        "frank,0/4,0/4,1",
        "grace,3/4,3/4,",
        "heidi,0/4,0/4,1",
        "ivan,0/4,0/4,1",
        "judy,3/4,3/4,",
    ]
    assert {s: by_student[s].split(",")[2] for s in STRATEGIES} == {s: "0/4" for s in STRATEGIES}
    assert (output / "executed" / "frank" / f"frank_{LESSON}.ipynb").is_file()
    assert "alice" in result.stdout and "4/4" in result.stdout


def test_the_grader_tells_every_lesson_of_a_folder_from_its_file_name(tmp_path):
    """A teacher's folder of the solutions: each file is graded against its own lesson's key."""
    solutions = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    (tmp_path / "teacher").mkdir()
    for solution in solutions:
        (tmp_path / "teacher" / solution.name).write_bytes(solution.read_bytes())
    found = find_submissions(tmp_path, list(answer_keys(ROOT / "solutions")))
    assert [(s.student, s.lesson) for s in found] == [("teacher", p.stem) for p in solutions]
