"""Grade one student notebook in its own kernel, with the checks in grader-owned cells.

The student's cells run as "Run all" would (errors allowed, each cell under a
time limit, the whole notebook under a budget). Right after each exercise's
check cell the grader adds cells of its own to the same kernel: they export the
answer for the judge (:mod:`course_lib.tools.grading.judge`), or re-import
``course_lib`` from the sources read when grading started
(:mod:`course_lib.tools.grading.snapshot`) and evaluate the exercise's check
expression from the *solution* notebook against the student's variables. Only
the outputs of these cells count, and only when they carry the nonce the grader
made for that cell: whatever the student's notebook printed, displayed or
redefined earns nothing. See ``docs/INSTRUCTORS.md`` for what this does and
does not defend.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import psutil
from nbformat.v4 import new_code_cell, new_notebook

from course_lib import config
from course_lib.checks import _copies
from course_lib.messages import first_line
from course_lib.tools.grading import (
    analysis,
    fence,
    guard,
    isolation,
    judge,
    kernel_code,
    leftovers,
    own_view,
)
from course_lib.tools.grading.output import OutputFolder
from course_lib.tools.grading.snapshot import CourseSnapshot
from course_lib.tools.grading.submissions import ExerciseKey, LessonKey, Submission

_KERNEL_SOURCE = Path(kernel_code.__file__).read_text(encoding="utf-8")
# Sent with the grader's first cell, before the notebook's: the watch on the course's copies
# takes what it needs from this guard, not from modules the notebook can change
_GUARD = {
    "guard": Path(guard.__file__).read_text(encoding="utf-8"),
    "events": [_copies.COPY_EVENT, _copies.THREAD_EVENT],
}
_TIMEOUT_ENAME = "CourseGraderTimeout"
GRADER_TAG = "course-grader"
_PING_TIMEOUT = 15
_STARTUP_TIMEOUT = 120
_EXCHANGE = ".course-grader"  # in the kernel's working folder: the exported answers
# Signals a process receives only from another one (not from its own crash).
_SENT_SIGNALS = frozenset(
    {signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT}
    | {signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM}
)

# Exercises judged in two phases (the kernel exports data, another process judges it; see
# course_lib.tools.grading.judge): answers that are functions of plain data, plain values, Keras
# models, which travel as their config and a .weights.h5 and are rebuilt in the judge with
# Keras's safe mode, or answers a driver turns into data in the kernel. The others still run
# their check inside the student's kernel, on test data salted for the run, with the defences
# described in docs/INSTRUCTORS.md: their answers are generators, servers or files the kernel
# must read.
# A fixed list, never a decision on what a notebook exports, so that no notebook can choose
# the weaker path.
# Lesson 02: 2.4 (a Sequential of augmentation layers) travels as a model. The others are
# tf.data pipelines, read by drivers (course_lib.checks._drivers) in the kernel: 2.1's check
# has the kernel run `preprocess` inside Dataset.map and judges the elements that came out;
# 2.2's and 2.5's drivers build the test datasets from the judge's arrays, call the student's
# function and return what it made as data (type, cardinality, element spec, steps, shuffle
# buffers, and the batches of each epoch, capped); 2.3's answers are datasets the notebook
# made, kept in the kernel (exported as marks, like functions), whose batches a driver
# returns, and the folder's file names too: the judge never opens the kernel's folder.
# 6.3, 8.3 and 8.4 through drivers too: 6.3's photo files travel as their bytes (the kernel
# writes each in a folder of its own) and the backbone as its model; 8.3's stand-in service
# runs beside predict_all in the kernel, on the check's own model and images, and returns the
# size of every request; 8.4's generator is read in the kernel, at most 1,001 samples.
# Lesson 07: 7.2's Flask app cannot travel: the driver flask_exchanges builds it in the kernel
# around the check's own model, class names and record (not the notebook's), replays the
# check's requests with Flask's test client and returns the answers as data. 7.4's client
# talks to a service the judge runs itself (course_lib.checks._batch_service), which counts
# the requests that reach it, instead of the notebook's server.
# Lesson 08: 8.1's answer is a train step that must run under a MirroredStrategy, which
# cannot travel: the driver train_two_steps builds one over the kernel's logical CPUs (the
# lesson splits the CPU in two), trains the check's CNN (sent as its config and weights) for
# two steps with the student's step and returns the losses and weights; the judge computes
# the library's steps itself. The notebook's `strategy` reaches the judge as its type's name.
TWO_PHASE = frozenset(
    {
        "1.1",
        "1.2",
        "1.3",
        "1.4",
        "2.1",
        "2.2",
        "2.3",
        "2.4",
        "2.5",
        "3.1",
        "3.2",
        "3.3",
        "3.4",
        "3.5",
        "3.6",
        "4.1",
        "4.2",
        "4.3",
        "4.4",
        "5.1",
        "5.2",
        "5.3",
        "5.4",
        "5.5",
        "5.6",
        "6.1",
        "6.2",
        "6.3",
        "6.4",
        "6.5",
        "6.6",
        "7.1",
        "7.2",
        "7.3",
        "7.4",
        "7.5",
        "8.1",
        "8.2",
        "8.3",
        "8.4",
        "8.5",
        "9.1",
        "9.2",
        "9.3",
    }
)


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


# The grader's module path as it started, before any notebook ran: the judge's packages.
_GRADER_PATH = [p for p in sys.path if p and os.path.isabs(p)]
_JUDGE_BOOT = """
import importlib.util, json, linecache, os, sys  # what the finder imports, before it is in place
payload = json.loads(sys.stdin.readline())
sys.path.extend(p for p in payload["path"] if p not in sys.path)
boot = {"__name__": "course_grader_boot"}
exec(compile(payload["kernel_code"][1], payload["kernel_code"][0], "exec"), boot)
sys.meta_path.insert(0, boot["SnapshotFinder"](payload["root"], payload["modules"]))
from course_lib.tools.grading.judge import main
main(lazy_imports=sys.argv[1:] == ["--lazy-imports"])
"""


class Judge:
    """Phase B: a process of the grader's own that judges the kernel's exports (never its code).

    One serves a whole ``course grade`` run, judging each notebook's exports in turn: it loads
    Keras and every check once, while the first student's kernel starts. A judge that stopped
    answering (it died, or a check outlasted its time limit and may still be running) is
    replaced before the next notebook, so no notebook reads a reply meant for another.
    """

    def __init__(self, snapshot: CourseSnapshot | None = None, lazy_imports: bool = False) -> None:
        """``lazy_imports``: load Keras when a check first needs it, not before "ready"; only
        for a run whose every kernel is in a view of its own (:func:`kernel_views`), where no
        kernel can change the files the judge imports."""
        self.snapshot = snapshot or CourseSnapshot.take()
        self.lazy_imports = lazy_imports
        self.process = self._start()
        self.ready = False
        self.broken = False

    def _start(self) -> subprocess.Popen[str]:
        """The judge, with every course_lib module served from the snapshot, never from disk.

        Its first line on stdin carries the sources; it runs the snapshot's ``kernel_code``
        to install :class:`kernel_code.SnapshotFinder`, then imports the judge through it.
        """
        root = str(self.snapshot.root)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # A home of its own, made afresh at each start: Keras reads keras.json from the home,
        # which a notebook graded earlier could have written (-I already ignores the user
        # site-packages and PYTHON* variables).
        self.home = tempfile.mkdtemp(prefix="course-judge-")
        env |= private_home(self.home)
        env.pop("COURSE_FAST", None)
        process = subprocess.Popen(
            # -S: no site module, so no .pth file of the environment runs in the judge (a
            # notebook can plant one outside a read-only container); its packages are found
            # on the grader's own path, as it was when the grader started.
            [sys.executable, "-I", "-S", "-c", _JUDGE_BOOT]
            + (["--lazy-imports"] if self.lazy_imports else []),
            preexec_fn=isolation.die_with_parent(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=root,
            env=env,
            text=True,
            bufsize=1,
        )
        modules = self.snapshot.modules()
        payload = {
            "root": root,
            "path": _GRADER_PATH,
            "modules": modules,
            "kernel_code": modules["course_lib.tools.grading.kernel_code"][:2],
        }
        try:
            assert process.stdin is not None
            process.stdin.write(json.dumps(payload) + "\n")
            process.stdin.flush()
        except OSError:  # it died at once: for_next_notebook starts another
            pass
        return process

    def for_next_notebook(self) -> Judge:
        """This judge, or a fresh one in its place if it stopped answering."""
        if self.broken or self.process.poll() is not None:
            self.close()
            self.process, self.ready, self.broken = self._start(), False, False
        return self

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the judge has loaded every check (it then ignores changes on disk).

        A judge still loading when ``timeout`` runs out is kept: its "ready" comes later,
        for the next notebook.
        """
        if not self.ready:
            self.ready = self._reply(timeout, loading=True).get("status") == "ready"
        return self.ready

    def ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
        except OSError as exc:
            self.broken = True
            return {"status": "error", "message": f"the judge failed ({first_line(exc)})"}
        return self._reply(timeout)

    def _reply(self, timeout: float, loading: bool = False) -> dict[str, Any]:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            ready, _, _ = select.select([stdout], [], [], timeout)
            line = stdout.readline() if ready else ""
            if line:
                return json.loads(line)
            self.broken = not loading or ready or self.process.poll() is not None
            return {"status": "error", "message": "the judge gave no answer"}
        except (OSError, ValueError) as exc:
            self.broken = True
            return {"status": "error", "message": f"the judge failed ({first_line(exc)})"}

    def fate(self) -> str:
        """How the judge stopped answering when another process stopped it, "" otherwise.

        A judge that dies of a signal that only another process sends (a kill, a stop)
        was stopped by the notebook being graded: the grader's own processes never send
        one while it runs, and the kernel goes first when memory runs out (its
        ``oom_score_adj`` is the highest).
        """
        try:
            code = self.process.wait(timeout=5) if self.broken else self.process.poll()
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            try:
                stopped = psutil.Process(self.process.pid).status() in (
                    psutil.STATUS_STOPPED,
                    psutil.STATUS_TRACING_STOP,
                )
            except psutil.Error:
                return ""
            return "was stopped" if stopped else ""
        if code < 0 and -code in _SENT_SIGNALS:
            return f"was killed ({signal.Signals(-code).name})"
        return ""

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()  # by its own handle: the process this object started
        self.process.wait(timeout=30)
        shutil.rmtree(self.home, ignore_errors=True)


class _Stop(Exception):
    """The kernel can no longer run anything: stop and report ``reason``."""


_KERNEL_DIRS: dict[str, str] = {}


def _pinned_kernel_manager(kernel_name: str) -> type:
    """A KernelManager class that finds ``kernel_name`` only where it was when first asked.

    Jupyter looks for kernel specs in per-user folders too, which a notebook can write: a
    kernel.json planted there would start the next student's kernel with a command of its
    own. The spec's folder is found once, before the first notebook of the process runs.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager as KernelManager

    # The asynchronous manager, nbclient's own: with a synchronous one the kernel starts but
    # nbclient's interrupt, when a cell runs out of time, never reaches it.

    if kernel_name not in _KERNEL_DIRS:
        found = KernelSpecManager().find_kernel_specs().get(kernel_name)
        _KERNEL_DIRS[kernel_name] = os.path.dirname(found) if found else ""
    folder = _KERNEL_DIRS[kernel_name]
    if not folder:  # no such kernel: nbclient reports it as usual
        return KernelManager

    class PinnedKernelManager(KernelManager):
        kernel_owner: tuple[int, int] | None = None  # the user the kernel runs as, if another

        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            return KernelSpecManager(parent=self, kernel_dirs=[folder])

        def write_connection_file(self, **kwargs: Any) -> None:
            super().write_connection_file(**kwargs)
            if self.kernel_owner is not None:
                os.chown(self.connection_file, *self.kernel_owner)

    return PinnedKernelManager


# How a grader cell gets the `exec`, `compile` and built-ins it runs kernel_code with. The
# notebook may have rebound `__builtins__` in its namespace, where the cell runs, and so
# every name and `import` there: so the grader's first cell, before any of the notebook's,
# imports the builtins module and adds the guard (grading/guard.py), and every later cell
# asks the guard for what it took then, by an assignment no name stands in for. Without an
# answer the cell fails, and gives no result.
_UNGUARDED = (
    "import builtins as __course_builtins__\n"
    "__course_tools = {'exec': __course_builtins__.exec, 'compile': __course_builtins__.compile,"
    " 'builtins': __course_builtins__}\n"
)
_GUARDED = (
    "__course_tools = None\n"
    "def __course_grader():\n"
    "    pass\n"
    "try:\n"
    f"    __course_grader.__defaults__ = ({kernel_code.GUARD!r},)\n"
    "except BaseException as __course_answer:\n"
    "    __course_tools = __course_answer.args[2]\n"
)


class _KernelRun:
    """One kernel running one student notebook plus the grader's own cells."""

    def __init__(self, student_nb: nbformat.NotebookNode, options: GradeOptions, cwd: str):
        from course_lib.tools.grading.capped import CappedClient

        self.nb = new_notebook(metadata=student_nb.metadata)
        self.options = options
        self.timeouts: list[int] = []  # indexes in self.nb of cells that timed out
        self.client = CappedClient(
            self.nb,
            exempt_tag=GRADER_TAG,
            kernel_name=options.kernel_name,
            kernel_manager_class=_pinned_kernel_manager(options.kernel_name),
            allow_errors=True,
            interrupt_on_timeout=True,
            error_on_timeout={"ename": _TIMEOUT_ENAME, "evalue": "time limit", "traceback": []},
            startup_timeout=_STARTUP_TIMEOUT,
            shutdown_kernel="immediate",
            record_timing=False,
            resources={"metadata": {"path": cwd}},
            on_cell_error=self._on_error,
        )

    def _on_error(self, cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        if execute_reply["content"].get("ename") == _TIMEOUT_ENAME:
            self.timeouts.append(cell_index)

    def run(self, cell: nbformat.NotebookNode, timeout: float) -> nbformat.NotebookNode:
        from nbclient.exceptions import DeadKernelError

        self.nb.cells.append(cell)
        self.client.timeout = max(1, int(timeout))
        try:
            return self.client.execute_cell(cell, len(self.nb.cells) - 1)
        except DeadKernelError:
            raise _Stop(
                "the kernel died (the notebook ran out of memory or ended the process)"
            ) from None

    def timed_out(self) -> bool:
        return bool(self.timeouts) and self.timeouts[-1] == len(self.nb.cells) - 1

    def grader(self, action: str, args: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """Run one grader cell; its payload, or None if it produced no trustworthy one."""
        nonce = secrets.token_hex(16)
        source = (_GUARDED if "guard" not in args else _UNGUARDED) + (
            f"__course_tools['exec'](__course_tools['compile']({_KERNEL_SOURCE!r}, "
            "'course-grader', 'exec'), "
            "{'__builtins__': __course_tools['builtins'], '__name__': '__course_grader__', "
            f"'ACTION': {action!r}, 'ARGS': {args!r}, 'NONCE': {nonce!r}}})"
        )
        cell = self.run(new_code_cell(source, metadata={"tags": [GRADER_TAG]}), timeout)
        # The saved copy shows what the cell did, not the grader's whole source.
        cell.source = f"# course grader: {action} {args.get('exercise', '')}".rstrip()
        payloads = [
            output["data"][kernel_code.GRADER_MIME]
            for output in cell.get("outputs", [])
            if kernel_code.GRADER_MIME in output.get("data", {})
        ]
        genuine = [p for p in payloads if isinstance(p, dict) and p.get("nonce") == nonce]
        if len(payloads) != 1 or len(genuine) != 1 or genuine[0].get("action") != action:
            return None
        return genuine[0]

    def ensure_alive(self, after: str) -> None:
        """After a timeout: stop unless the kernel answers again."""
        if self.grader("ping", {}, _PING_TIMEOUT) is None:
            raise _Stop(f"{after} did not stop when interrupted; nothing after it could run")


# Where a process looks for per-user configuration and start-up code, relative to a home:
# IPython runs every file in its profile's startup/ folder, Keras reads keras.json (floatx),
# Matplotlib its matplotlibrc, Python the user site-packages (a .pth file there runs code).
_PER_USER = {
    "HOME": "",
    "IPYTHONDIR": ".ipython",
    "KERAS_HOME": ".keras",
    "MPLCONFIGDIR": ".config/matplotlib",
    "XDG_CONFIG_HOME": ".config",
    "XDG_CACHE_HOME": ".cache",
    "XDG_DATA_HOME": ".local/share",
    "XDG_STATE_HOME": ".local/state",
    "JUPYTER_CONFIG_DIR": ".jupyter",
    "JUPYTER_DATA_DIR": ".local/share/jupyter",
    "PYTHONUSERBASE": ".local",
}


def private_home(folder: str) -> dict[str, str]:
    """Environment variables that give a process ``folder`` as its home, empty, for all of these.

    Each student's kernel gets its own: a notebook that writes start-up code or settings into
    its home (an IPython startup file, a keras.json) changes nothing for the notebooks graded
    after it. The user site-packages are switched off as well (``PYTHONNOUSERSITE``).
    """
    env = {
        name: os.path.join(folder, relative) if relative else folder
        for name, relative in _PER_USER.items()
    }
    for path in env.values():
        os.makedirs(path, exist_ok=True)
    # Matplotlib's list of the system's fonts, as the grader found it: without it, every
    # process that imports Matplotlib would scan the fonts again (seconds of CPU each).
    for name, data in _font_caches():
        with open(os.path.join(env["MPLCONFIGDIR"], name), "xb") as handle:
            handle.write(data)
    return env | {"PYTHONNOUSERSITE": "1"}


@functools.cache
def _font_caches() -> tuple[tuple[str, bytes], ...]:
    """Matplotlib's font list files of the grader's user, read once, before any notebook ran.

    Kept in memory: a notebook may delete them, or put a link in their place, before the
    next kernel's home is made; only regular files are read.
    """
    folder = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib"
    )
    found = []
    for path in sorted(glob.glob(os.path.join(folder, "fontlist-*.json"))):
        try:
            found.append((os.path.basename(path), kernel_code.read_file(path)))
        except (OSError, ValueError):
            continue
    return tuple(found)


def private_build_dir(folder: str, fast: bool) -> str:
    """A build folder of the kernel's own, holding a copy of the course's saved models.

    Lessons save and load models (lesson 04's, which 05, 07 and 08 use) in the build folder:
    a shared one would hand the next student's kernel a model another student's notebook
    trained, or planted. The copy is of the course's own models as grading started; a lesson
    that finds none trains its quick fallback in its own folder.
    """
    build = os.path.join(folder, "build")
    models = config.build_dir() / "models" / ("fast" if fast else "")
    target = os.path.join(build, "models", "fast" if fast else "")
    if models.is_dir():
        shutil.copytree(models, target, ignore=shutil.ignore_patterns("fast"), dirs_exist_ok=True)
    os.makedirs(target, exist_ok=True)
    return build


def kernel_env(options: GradeOptions, folder: str | None = None) -> dict[str, str]:
    """The student's kernel environment: the course's own course_lib first, fast mode set.

    ``folder``: the notebook's own temporary folder, for its private home and build folder.
    """
    env = dict(os.environ)
    root = str(config.project_root())
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if options.fast:
        env["COURSE_FAST"] = "1"
    else:
        env.pop("COURSE_FAST", None)
    if folder is not None:
        # The datasets stay the course's (resolved before the home changes); the rest is private.
        env["COURSE_DATA_DIR"] = str(config.data_dir())
        env.pop("PYTHONSTARTUP", None)
        env |= private_home(os.path.join(folder, "home"))
        env["COURSE_BUILD_DIR"] = private_build_dir(folder, options.fast)
        # The answer keys, the course's tests and history, other students' notebooks and
        # what the grader wrote: out of the kernel's reach (its own folder and the data stay in)
        fence.install(
            env["IPYTHONDIR"], fenced_folders(options), allowed=[folder, env["COURSE_DATA_DIR"]]
        )
    return env


def fenced_folders(options: GradeOptions) -> tuple[str, ...]:
    """The folders a kernel may not read: the course's answer keys and everything graded."""
    outputs = [options.output.path] if options.output is not None else []
    if options.executed_dir is not None:
        outputs.append(options.executed_dir)
    return fence.fenced_folders([*outputs, *options.fenced])


def kernel_views(options: GradeOptions) -> bool:
    """Whether every kernel of a run with ``options`` gets a view of its own."""
    return options.own_view and own_view.possible()


def kernel_view(options: GradeOptions, root: str, *own: str) -> own_view.View | None:
    """The kernel's own view of the file systems, built in the empty folder ``root``, whose
    own folders are ``own`` (its working folder first); None where there is none."""
    if not kernel_views(options):
        return None
    python = _kernel_python(options.kernel_name)
    return own_view.view_for(fenced_folders(options), own, root, python)


@functools.cache
def _kernel_python(kernel_name: str) -> str:
    """The Python the kernel spec starts (its folders are in the kernel's view)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        return KernelSpecManager().get_kernel_spec(kernel_name).argv[0]
    except (NoSuchKernel, IndexError):
        return sys.executable


def needs_judge(key: LessonKey) -> bool:
    """Whether grading this lesson needs a :class:`Judge` (an exercise judged in two phases)."""
    return any(e.number in TWO_PHASE for e in key.exercises)


def grade_notebook(
    submission: Submission,
    key: LessonKey,
    options: GradeOptions,
    judge_process: Judge | None = None,
) -> NotebookGrade:
    """Grade one notebook; never raises for anything the notebook does.

    ``judge_process``: the run's judge, shared by its notebooks (:func:`tables.grade_folder`);
    without one, a notebook that needs it starts its own and stops it when it is graded.
    """
    started = time.perf_counter()
    # Before any student code runs: the kernel may not trace this process or read its memory,
    # and the course's files are read once, for every later import by grading code.
    isolation.make_undumpable()
    if options.snapshot is None:
        options = dataclasses.replace(options, snapshot=CourseSnapshot.take())
    assert options.snapshot is not None
    grade = NotebookGrade(submission)
    try:
        student_nb = analysis.read_notebook(submission.path)
    except (OSError, ValueError) as exc:
        grade.problems.append(f"could not read the notebook: {first_line(exc)}")
        return grade
    layout = analysis.Layout.of(student_nb, key)
    grade.problems.extend(layout.check_cell_problems())
    grade.problems.extend(layout.outdated_headings())
    results: dict[str, dict[str, Any] | None] = {}
    stopped = ""
    leftovers.become_subreaper()
    running_before = leftovers.descendants()
    with (
        tempfile.TemporaryDirectory(prefix="course-grade-", ignore_cleanup_errors=True) as cwd,
        # The kernel's home and build folder, made for it and gone with it.
        tempfile.TemporaryDirectory(prefix="course-home-", ignore_cleanup_errors=True) as private,
        # Where its own view's root is built (grading.own_view), empty for the grader.
        tempfile.TemporaryDirectory(prefix="course-view-", ignore_cleanup_errors=True) as root,
    ):
        kernel = _KernelRun(student_nb, options, cwd)
        view: own_view.View | None = None
        own_judge = judge_process is None and needs_judge(key)
        if own_judge:
            judge_process = Judge(options.snapshot, lazy_imports=kernel_views(options))
        elif judge_process is not None:
            judge_process = judge_process.for_next_notebook() if needs_judge(key) else None
        try:
            # The kernel's own stderr is TensorFlow's start-up chatter, and what it writes to
            # its stdout directly (os.write(1, ...)) would land in the grader's console, among
            # the grader's own lines; what the notebook prints reaches the grader as cell
            # outputs either way.
            env = kernel_env(options, private)
            view = kernel_view(options, root, cwd, private)
            if view is not None and view.uid:  # an account of its own, for the libraries
                env |= {"USER": "student", "LOGNAME": "student"}
            if view is not None:  # the connection file, in the kernel's view and readable by it
                km = kernel.client.km or kernel.client.create_kernel_manager()
                km.connection_file = os.path.join(private, "kernel.json")
                km.kernel_owner = (view.uid, view.gid)
            with kernel.client.setup_kernel(
                env=env,
                cwd=cwd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=isolation.kernel_preexec(view),
            ):
                _Grading(
                    kernel,
                    student_nb,
                    key,
                    layout,
                    grade,
                    results,
                    options,
                    judge_process,
                    os.path.join(cwd, _EXCHANGE),
                    in_own_view=view is not None,
                ).run()
        except _Stop as stop:
            stopped = str(stop)
            grade.problems.append(stopped)
        except Exception as exc:  # the kernel failed to start, or the connection broke
            stopped = f"the notebook could not be run ({first_line(exc)})"
            grade.problems.append(stopped)
        finally:
            if own_judge and judge_process is not None:
                judge_process.close()
            # The kernel has shut down: whatever the notebook started is stopped now,
            # before it could touch the grades (the run's shared judge is kept).
            keep = [judge_process.process.pid] if judge_process is not None else []
            stopped_processes = leftovers.stop_new_descendants(running_before, keep)
            if view is not None and view.uid:  # also those that escaped the process tree
                escaped = own_view.stop_user(view.uid)
                stopped_processes += [p for p in escaped if p not in stopped_processes]
            leftovers.become_subreaper(False)
            if stopped_processes:
                grade.problems.append(
                    "the grader stopped processes the notebook left running: "
                    + ", ".join(stopped_processes)
                )
            # Nothing of the notebook runs any more: the course's files as they were, for
            # the students after it, and a finding if the notebook had changed them.
            changed = options.snapshot.restore()
            if changed:
                shown = ", ".join(changed[:6]) + (" …" if changed[6:] else "")
                grade.problems.append(
                    f"{analysis.TAMPERING} the notebook changed the course's files ({shown}); "
                    "the grader restored them"
                )
            planted = options.snapshot.restore_startup()
            if planted:
                shown = ", ".join(planted[:3]) + (" …" if planted[3:] else "")
                grade.problems.append(
                    f"{analysis.TAMPERING} the notebook changed the files Python runs at start-up "
                    f"({shown}); the grader put them back"
                )
            _save_executed(kernel.nb, submission, options)
    for exercise in key.exercises:
        passed, message = analysis.exercise_result(
            exercise, results.get(exercise.number), layout, stopped
        )
        grade.exercises.append(ExerciseResult(exercise.number, passed, message))
    discredit_tampering(grade)
    grade.seconds = time.perf_counter() - started
    return grade


def discredit_tampering(grade: NotebookGrade) -> None:
    """No exercise of a notebook with a ``tampering:`` finding is credited."""
    if any(p.startswith(analysis.TAMPERING) for p in grade.problems):
        prefix = "not credited, the notebook tampers with grading; "
        for result in grade.exercises:
            result.passed = False
            if not result.message.startswith(prefix):
                result.message = prefix + result.message


class _Grading:
    """Run the student's cells with the grader's checks in between, collecting findings.

    Each exercise is checked right after its check cell in the student's notebook (or its
    last cell, if the student deleted the check cell), so later cells cannot change or lose
    what is checked; an exercise whose heading the student removed is checked at the end.
    """

    def __init__(
        self,
        kernel: _KernelRun,
        student_nb: nbformat.NotebookNode,
        key: LessonKey,
        layout: analysis.Layout,
        grade: NotebookGrade,
        results: dict[str, dict[str, Any] | None],
        options: GradeOptions,
        judge_process: Judge | None = None,
        exchange: str = "",
        in_own_view: bool = False,
    ):
        self.kernel, self.student_nb, self.key, self.layout = kernel, student_nb, key, layout
        self.grade, self.results, self.options = grade, results, options
        self.judge, self.exchange = judge_process, exchange
        self.in_own_view = in_own_view
        self.salt = secrets.randbits(
            62
        )  # this run's test data: drawn afresh, never sent to the kernel
        # The checks that still run in the kernel draw their test data from a salt of their own:
        # the kernel sees it, so it must tell nothing about the judge's.
        self.kernel_salt = secrets.randbits(62)
        self.baseline: dict[str, Any] = {}
        self.replaced: set[str] = set()
        self.tampering: list[str] = []
        self._kernel_modules = ""

    def run(self) -> None:
        try:
            baseline = self.kernel.grader("fingerprint", _GUARD, _STARTUP_TIMEOUT)
            if baseline is None:
                raise _Stop("the kernel could not run the grader's set-up cell")
            self.baseline = baseline
            # The judge imports Keras and the rest from disk while it starts. A kernel in a
            # view of its own can change none of those files, so its first cells run while the
            # judge loads; any other kernel waits, or its cells could rewrite what the judge
            # is about to import.
            if not self.in_own_view and not self._judge_ready():
                raise _Stop("the grader's judge process did not start")
            self._student_cells()
            for exercise in self.key.exercises:
                if exercise.number not in self.results:
                    self._check(exercise)
            self.grade.problems.extend(self.layout.errors_outside_exercises())
            final = self.kernel.grader("fingerprint", {"baseline": self._ids()}, _STARTUP_TIMEOUT)
            self._note_tampering(final, "the notebook")
        finally:
            if self.judge is not None:  # killed after this notebook's last check, too
                self._judge_fate()
            if self.replaced:
                self.grade.problems.append(
                    f"the notebook replaced course_lib code in memory "
                    f"({', '.join(sorted(self.replaced))}); "
                    "the checks ran on the course's own code, read when grading started"
                )
            self.grade.problems.extend(self.tampering)

    def _judge_ready(self) -> bool:
        return self.judge is None or self.judge.wait_ready(_STARTUP_TIMEOUT)

    def _judge(self, exercise: ExerciseKey) -> None:
        if not self._judge_ready():
            raise _Stop("the grader's judge process did not start")
        try:
            self.results[exercise.number] = _two_phase(self, exercise)
        except (
            judge.Unsupported
        ) as exc:  # a check expression of the course that takes no plain names
            self.results[exercise.number] = {"status": "error", "message": str(exc)}
        if self.judge is not None and self.judge.broken:
            fate = self._judge_fate()
            if fate:
                message = f"the judge process {fate} while this notebook ran"
                self.results[exercise.number] = {"status": "error", "message": message}
            # A judge that stopped answering is replaced at once: the notebook's next
            # exercises are judged by a fresh one, not each left to time out in turn.
            self.judge.for_next_notebook().wait_ready(_STARTUP_TIMEOUT)

    def _judge_fate(self) -> str:
        """How the judge was stopped by another process (the notebook's), noted as tampering."""
        fate = self.judge.fate() if self.judge is not None else ""
        finding = f"{analysis.TAMPERING} the judge process {fate} while this notebook ran"
        if fate and finding not in self.tampering:
            self.tampering.append(finding)
        return fate

    def note_unwatched(self, exercise: str, how: str) -> None:
        """The student's code switched off the watch on calls of the course's copies."""
        finding = (
            f"{analysis.TAMPERING} the notebook switched off the grader's watch on calls of the "
            f"course's own copies while exercise {exercise} was checked ({how[:200]})"
        )
        if finding not in self.tampering:
            self.tampering.append(finding)

    def kernel_modules(self) -> str:
        """course_lib's sources for a check cell (not its tools: the kernel's checks need none)."""
        if not self._kernel_modules:
            assert self.options.snapshot is not None
            self._kernel_modules = self.options.snapshot.packed_modules(("course_lib.tools",))
        return self._kernel_modules

    def _ids(self) -> dict[str, int]:
        return {name: entry[0] for name, entry in self.baseline.get("entries", {}).items()}

    def _note_tampering(self, found: dict[str, Any] | None, who: str) -> None:
        for finding in analysis.tampering(self.baseline, found, who):
            if finding not in self.tampering:
                self.tampering.append(finding)

    def _student_cells(self) -> None:
        due = self.layout.check_points()
        exercises = {e.number: e for e in self.key.exercises}
        deadline = time.monotonic() + self.options.timeout
        for index, cell in enumerate(self.student_nb.cells):
            if cell.cell_type != "code":
                self.kernel.nb.cells.append(cell)
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 1:
                self.grade.problems.append(
                    f"the notebook used up its time limit of {self.options.timeout} s; "
                    f"{self.layout.describe(index)} and the cells after it were not run"
                )
                return
            limit = int(min(self.options.cell_timeout, remaining))
            executed = self.kernel.run(cell, limit)
            if self.kernel.timed_out():
                self.grade.problems.append(
                    f"{self.layout.describe(index)} did not finish within "
                    f"{limit} s and was interrupted"
                )
                self.layout.timed_out.add(index)
                self.kernel.ensure_alive(self.layout.describe(index))
            else:
                self.layout.record_outputs(index, executed)
            for number in due.get(index, []):
                if number in exercises:
                    self._check(exercises[number])

    def _check(self, exercise: ExerciseKey) -> None:
        if exercise.number in TWO_PHASE and self.judge is not None:
            self._judge(exercise)
            return
        args = {
            "exercise": exercise.number,
            "expression": exercise.check,
            "root": str(self.options.snapshot.root),
            "modules": self.kernel_modules(),
            "baseline": self._ids(),
            "salt": self.kernel_salt,
        }
        result = self.kernel.grader("check", args, self.options.cell_timeout)
        if self.kernel.timed_out():
            self.results[exercise.number] = {
                "status": "timeout",
                "message": str(self.options.cell_timeout),
            }
            self.kernel.ensure_alive(f"the check of exercise {exercise.number}")
            return
        self.results[exercise.number] = result
        if result is None:
            return
        self.replaced.update(result.get("replaced", []))
        before, after = result.get("before"), result.get("after")
        self._note_tampering(before, "the notebook")
        if before is not None and after is not None:  # only what changed during the check
            during = {
                "entries": {
                    k: v for k, v in after["entries"].items() if before["entries"].get(k) != v
                },
                "threads": [t for t in after["threads"] if t not in before["threads"]],
            }
            self._note_tampering(during, "the student's code, while it was checked,")


def _two_phase(grading: _Grading, exercise: ExerciseKey) -> dict[str, Any] | None:
    """Phase A exports the check's arguments and makes the calls phase B asks for; B judges."""
    kernel, timeout = grading.kernel, grading.options.cell_timeout
    folder = os.path.join(grading.exchange, exercise.number)
    values = os.path.join(folder, "values")
    names = judge.answer_names(exercise.check)

    def in_kernel(action: str, args: dict[str, Any], what: str) -> bool | None:
        """Run one grader cell; None if it gave no result, False if it timed out."""
        payload = kernel.grader(action, args, timeout)
        if kernel.timed_out():
            kernel.ensure_alive(what)
            return False
        if payload is not None and payload.get("unwatched"):
            grading.note_unwatched(exercise.number, str(payload["unwatched"]))
        return payload is not None and payload.get("action") == action or None

    done = in_kernel(
        "values", {"names": names, "dir": values}, f"the export of exercise {exercise.number}"
    )
    if done is False:
        return {"status": "timeout", "message": str(timeout)}
    if done is None:
        return None
    calls: list[dict[str, str]] = []
    assert grading.judge is not None
    for round_number in range(judge.MAX_CALLS + 1):
        reply = grading.judge.ask(
            {
                "expression": exercise.check,
                # The kernel's working folder: the judge reaches the exchange from it, through
                # no link (grading.exchange)
                "root": os.path.dirname(grading.exchange),
                "values": values,
                "calls": calls,
                "salt": grading.salt,
                "next": os.path.join(folder, f"call{round_number}"),
            },
            timeout=max(timeout, _STARTUP_TIMEOUT),
        )
        if reply.get("status") != "need":
            if reply.get("status") == "unsupported":
                return {
                    "status": "failed",
                    "message": "the grader cannot judge what your code gave it: "
                    f"{reply.get('message', '')}",
                }
            return reply
        out = os.path.join(folder, f"out{round_number}")
        call = {"name": str(reply["name"]), "request": str(reply["request"]), "out": out}
        done = in_kernel(
            "call",
            call | {"watch": reply.get("watch")},
            f"your code, called by the check of exercise {exercise.number},",
        )
        if done is False:
            return {"status": "timeout", "message": str(timeout)}
        if done is None:
            return None
        calls.append(call)
    return {"status": "error", "message": "the check needed too many calls"}


def _save_executed(
    nb: nbformat.NotebookNode, submission: Submission, options: GradeOptions
) -> None:
    if not nb.cells or (options.output is None and options.executed_dir is None):
        return
    try:
        if options.output is not None:
            relative = f"executed/{submission.student}/{submission.path.name}"
            options.output.write(relative, nbformat.writes(nb).encode("utf-8"))
            return
        assert options.executed_dir is not None
        folder = options.executed_dir / submission.student
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / submission.path.name)
    except (OSError, ValueError):  # the copy is for reading only; grading goes on without it
        pass
