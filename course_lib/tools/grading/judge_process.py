"""The judge's process (phase B of two-phase grading), as the grader starts and asks it.

It runs :mod:`course_lib.tools.grading.judge` with every course_lib module served from the
grader's snapshot (:mod:`snapshot_finder`), in a home of its own, and answers one request
per line; the grader replaces one that stopped answering, and tells how it was stopped.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Any

import psutil

from course_lib.messages import first_line
from course_lib.tools.grading import isolation
from course_lib.tools.grading.kernel_setup import private_home
from course_lib.tools.grading.snapshot import CourseSnapshot

# Signals a process receives only from another one (not from its own crash).
_SENT_SIGNALS = frozenset(
    {signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT}
    | {signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM}
)


# How far the judge's resident memory may grow beyond its size when it was ready before it is
# replaced between two notebooks. A judge that has loaded Keras and judged every lesson keeps
# well under 1 GB (about 700 MB measured); the largest model a config may ask for
# (model_config.MAX_WEIGHTS, 60 M weights: 240 MB, three times that with an optimizer's
# slots) stays far below this, while a model that got past the budget, or memory that
# TensorFlow keeps, would otherwise be carried to the next student's notebook.
MAX_GROWTH = 1_500_000_000

# The grader's module path as it started, before any notebook ran: the judge's packages.
_GRADER_PATH = [p for p in sys.path if p and os.path.isabs(p)]
_JUDGE_BOOT = """
import importlib.util, json, linecache, os, sys  # what the finder imports, before it is in place
payload = json.loads(sys.stdin.readline())
sys.path.extend(p for p in payload["path"] if p not in sys.path)
boot = {"__name__": "course_grader_boot"}
exec(compile(payload["finder"][1], payload["finder"][0], "exec"), boot)
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
        for a run whose every kernel is in a view of its own (:func:`kernel_setup.kernel_views`),
        where no kernel can change the files the judge imports."""
        self.snapshot = snapshot or CourseSnapshot.take()
        self.lazy_imports = lazy_imports
        self.process = self._start()
        self.ready = False
        self.broken = False
        self.ready_memory = 0

    def _start(self) -> subprocess.Popen[str]:
        """The judge, with every course_lib module served from the snapshot, never from disk.

        Its first line on stdin carries the sources; it runs the snapshot's ``snapshot_finder``
        to install :class:`snapshot_finder.SnapshotFinder`, then imports the judge through it.
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
            "finder": modules["course_lib.tools.grading.snapshot_finder"][:2],
        }
        try:
            assert process.stdin is not None
            process.stdin.write(json.dumps(payload) + "\n")
            process.stdin.flush()
        except OSError:  # it died at once: for_next_notebook starts another
            pass
        return process

    def for_next_notebook(self) -> Judge:
        """This judge, or a fresh one in its place if it stopped answering or its memory grew
        more than :data:`MAX_GROWTH` beyond its size when it was ready."""
        if self.broken or self.process.poll() is not None or self.grown():
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
            if self.ready:
                self.ready_memory = self.memory()
        return self.ready

    def memory(self) -> int:
        """The judge's resident memory in bytes; 0 if it cannot be read."""
        try:
            return int(psutil.Process(self.process.pid).memory_info().rss)
        except psutil.Error:
            return 0

    def grown(self) -> bool:
        """Whether the judge holds far more memory than when it was ready."""
        return self.ready and self.memory() - self.ready_memory > MAX_GROWTH

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
