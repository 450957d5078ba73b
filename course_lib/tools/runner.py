"""Execute lessons headless with papermill and summarise them (``make course``).

Each lesson runs in its own Jupyter kernel, started by papermill through nbclient.
Around that run:

* what the kernel and everything it starts print outside the notebook (the kernel's
  start-up warnings, TensorFlow's C++ log lines, a server's access log) goes to one
  log file per lesson instead of the terminal: the kernel is launched with its
  stdout and stderr on that file, and the processes it starts inherit them;
* a :class:`Progress` line shows cell i of n, the elapsed time and the ``##``
  section being run, from nbclient's ``on_cell_start`` hook;
* a :class:`~course_lib.memory.PeakSampler` follows the kernel's process tree and
  keeps its peak memory (summed PSS), compared with the course's budget
  (:data:`~course_lib.memory.BUDGET_BYTES`).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import nbformat

from course_lib import memory, record
from course_lib.config import KERNEL_NAME
from course_lib.messages import first_line

CELL_LINES = 5  # first lines of a failing cell shown in the terminal
ERROR_LINES = 10  # last lines of its error
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class LessonRun:
    """What one executed lesson produced."""

    lesson: str
    seconds: float
    ok: bool
    output: Path
    headline: record.Metric | None = None
    metrics: list[record.Metric] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    error: str = ""
    tables: list[record.Table] = field(default_factory=list)
    peak: memory.Usage | None = None  # the kernel's process tree at its largest
    budget_bytes: int = memory.BUDGET_BYTES
    log: Path | None = None  # what the kernel and its children printed outside the notebook
    details: list[str] = field(default_factory=list)  # the failing cell and the end of its error

    @property
    def status(self) -> str:
        return "ok" if self.ok else "FAILED"

    @property
    def over_budget(self) -> bool:
        return self.peak is not None and memory.over_budget(self.peak, self.budget_bytes)

    @property
    def peak_label(self) -> str:
        return self.peak.short if self.peak is not None else "-"


class Progress:
    """One status line for a running lesson: cell i of n, elapsed time, ``##`` section.

    On a terminal the line is rewritten in place every ``tick`` seconds. Elsewhere
    (CI logs, files) a plain line is printed when a new section starts, and again
    when ``quiet_after`` seconds passed without one, so that a long cell still
    shows signs of life. With ``stream=None`` nothing is shown; the position is
    still tracked, to say where a lesson failed.
    """

    def __init__(
        self,
        lesson: str,
        cells: list[Any],
        stream: TextIO | None = None,
        *,
        live: bool | None = None,
        tick: float = 1.0,
        quiet_after: float = 60.0,
    ) -> None:
        self.lesson = lesson
        self.stream = stream
        self.live = bool(stream is not None and stream.isatty()) if live is None else live
        self.tick = tick
        self.quiet_after = quiet_after
        self.started = time.monotonic()
        self.cell_index: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._printed_section: str | None = None
        self._printed_at = self.started
        self.notebook_started(nbformat.from_dict({"cells": cells}))

    def notebook_started(self, notebook: Any, **_: Any) -> None:
        """nbclient hook: index the cells of the notebook actually executed."""
        self.cells = list(notebook["cells"])
        self._position: dict[int, int] = {}
        self._section: dict[int, str] = {}
        section, count = "", 0
        for index, cell in enumerate(self.cells):
            if cell["cell_type"] == "markdown":
                headings = [
                    line[3:].strip()
                    for line in _text(cell["source"]).splitlines()
                    if line.startswith("## ")
                ]
                section = headings[-1] if headings else section
            elif cell["cell_type"] == "code" and _text(cell["source"]).strip():
                count += 1
                self._position[index] = count
            self._section[index] = section
        self.total = count

    def cell_started(self, cell: Any, cell_index: int, **_: Any) -> None:
        """nbclient hook, called before each cell (Markdown ones too)."""
        if cell_index not in self._position:
            return
        with self._lock:
            self.cell_index = cell_index
            if self.stream is None:
                return
            if self.live:
                self._render()
            elif self.section != self._printed_section:
                self._print_line()

    @property
    def position(self) -> int:
        """Which code cell (1-based) is running; 0 before the first."""
        return self._position.get(self.cell_index, 0) if self.cell_index is not None else 0

    @property
    def section(self) -> str:
        return self._section.get(self.cell_index, "") if self.cell_index is not None else ""

    def position_of(self, cell_index: int) -> int:
        return self._position.get(cell_index, 0)

    def section_of(self, cell_index: int) -> str:
        return self._section.get(cell_index, "")

    def text(self) -> str:
        elapsed = int(time.monotonic() - self.started)
        where = f"cell {self.position}/{self.total}" if self.position else "starting the kernel"
        parts = [f"{self.lesson}: {where}", f"{elapsed // 60}:{elapsed % 60:02d}"]
        if self.section:
            parts.append(self.section)
        return ", ".join(parts)

    def _render(self) -> None:
        assert self.stream is not None
        width = shutil.get_terminal_size((100, 24)).columns - 1  # a wrapped line can't be redrawn
        self.stream.write("\r" + self.text()[:width] + "\x1b[K")
        self.stream.flush()

    def _print_line(self) -> None:
        assert self.stream is not None
        print("  " + self.text(), file=self.stream, flush=True)
        self._printed_section = self.section
        self._printed_at = time.monotonic()

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            with self._lock:
                if self.live:
                    self._render()
                elif self.position and time.monotonic() - self._printed_at >= self.quiet_after:
                    self._print_line()

    def __enter__(self) -> Progress:
        if self.stream is not None:
            self._thread = threading.Thread(target=self._run, name="lesson-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.live and self.stream is not None:
            self.stream.write("\r\x1b[K")  # the lesson's result line takes its place
            self.stream.flush()


def execute_lesson(
    notebook: Path,
    output_dir: Path,
    timeout: int | None = None,
    kernel_name: str = KERNEL_NAME,
    *,
    log_dir: Path | None = None,
    budget_bytes: int = memory.BUDGET_BYTES,
    stream: TextIO | None = None,
) -> LessonRun:
    """Run one notebook with papermill in its own folder and read its recorded results.

    A lesson fails when a cell raises or when one of its exercise checks reports
    a wrong answer. Its log goes to ``log_dir/<lesson>.log`` (default: next to the
    executed notebook in ``output_dir``); ``stream`` shows a :class:`Progress` line.
    """
    import papermill  # slow to import; only needed here
    from papermill.exceptions import PapermillExecutionError

    notebook, output_dir = notebook.resolve(), output_dir.resolve()  # papermill changes directory
    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / notebook.name
    log_dir = (log_dir or output_dir).resolve()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{notebook.stem}.log"
    samplers: list[memory.PeakSampler] = []
    error, details = "", []
    cells = nbformat.read(notebook, as_version=4).cells
    started = time.perf_counter()
    with (
        open(log_path, "w", encoding="utf-8") as log,
        _library_logs_to(log),
        Progress(notebook.stem, cells, stream) as progress,
    ):
        try:
            papermill.execute_notebook(
                str(notebook),
                str(output),
                kernel_name=kernel_name,
                cwd=str(notebook.parent),
                progress_bar=False,
                execution_timeout=timeout,
                kernel_manager_class=_kernel_manager_class(
                    log, lambda pid: samplers.append(memory.PeakSampler(pid).start())
                ),
                on_notebook_start=progress.notebook_started,
                on_cell_start=progress.cell_started,
            )
        except PapermillExecutionError as exc:  # a cell raised: papermill saved the notebook so far
            error = f"{exc.ename}: {first_line(exc.evalue, 300)}"
            details = _cell_excerpt(progress, exc.cell_index, exc.source) + _error_excerpt(
                exc.traceback
            )
        except Exception as exc:  # a cell timed out, the kernel died or never started, ...
            error = f"{type(exc).__name__}: {first_line(str(exc), 300)}"
            where = progress.cell_index
            if where is not None:
                details = _cell_excerpt(progress, where, _text(progress.cells[where]["source"]))
            # no traceback here: the start of the message says what happened
            message = [line for line in _ANSI.sub("", str(exc)).splitlines() if line.strip()]
            details += ["error:", *("  " + line for line in message[:ERROR_LINES])]
        finally:
            peaks = [sampler.stop() for sampler in samplers]
    seconds = time.perf_counter() - started
    run = LessonRun(
        notebook.stem,
        seconds,
        ok=not error,
        output=output,
        error=error,
        log=log_path,
        budget_bytes=budget_bytes,
        details=details,
        peak=max(peaks, key=lambda usage: usage.bytes, default=None),
    )
    if output.exists():
        cells = nbformat.read(output, as_version=4).cells
        run.metrics = [record.Metric(**m) for m in record.read_outputs(cells, record.METRIC_MIME)]
        run.headline = next((m for m in run.metrics if m.headline), None)
        run.tables = [record.Table(**t) for t in record.read_outputs(cells, record.TABLE_MIME)]
        checks = record.read_outputs(cells, record.CHECK_MIME)
        failed = [c for c in checks if not c["passed"]]
        run.failed_checks = [c["exercise"] for c in failed]
        if failed and not error:
            run.ok = False
            run.error = "exercise checks failed: " + ", ".join(run.failed_checks)
            run.details = [f"exercise {c['exercise']}: {c['message']}" for c in failed]
    return run


def run_lessons(
    notebooks: list[Path],
    output_dir: Path,
    timeout: int | None = None,
    *,
    log_dir: Path | None = None,
    stream: TextIO | None = None,
) -> list[LessonRun]:
    """Execute each notebook in order, with a progress line and a result line for each.

    A failed lesson also shows where it failed, the end of its error and its log.
    """
    stream = stream or sys.stdout
    runs = []
    for notebook in notebooks:
        run = execute_lesson(notebook, output_dir, timeout, log_dir=log_dir, stream=stream)
        result = f"{run.lesson}: {run.status} in {run.seconds:.0f} s, peak memory {run.peak_label}"
        if run.over_budget:
            result += f" (over the {memory.gb_label(run.budget_bytes)} budget)"
        print(result + (f": {run.error}" if run.error else ""), file=stream)
        if not run.ok:
            lines = [*run.details, f"log: {_shown_path(run.log)}" if run.log else ""]
            print("\n".join("    " + line for line in lines if line), file=stream)
        stream.flush()
        runs.append(run)
    return runs


def format_table(runs: list[LessonRun]) -> str:
    """A plain-text table: lesson, wall seconds, peak memory, headline figure, status."""
    rows = [("lesson", "seconds", "peak memory", "headline", "status")]
    for run in runs:
        headline = run.headline
        shown = f"{headline.name} = {record._format(headline.value)}" if headline else "-"
        peak = run.peak_label + (" OVER BUDGET" if run.over_budget else "")
        rows.append((run.lesson, f"{run.seconds:.1f}", peak, shown, run.status))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def memory_verdict(runs: list[LessonRun]) -> str:
    """One sentence: which lessons exceed the memory budget, or the highest peak if none does."""
    if not runs:
        return "no lesson ran"
    budget = memory.gb_label(runs[0].budget_bytes)
    over = [r for r in runs if r.over_budget]
    if over:
        named = ", ".join(f"{r.lesson} ({r.peak_label})" for r in over)
        return f"over the {budget} memory budget: {named}"
    measured = [r for r in runs if r.peak is not None]
    if not measured:
        return "peak memory was not measured"
    top = max(measured, key=lambda r: r.peak.bytes if r.peak else 0)
    return (
        f"every lesson within the {budget} memory budget (highest: {top.lesson}, {top.peak_label})"
    )


def mode() -> str:
    return "fast (COURSE_FAST=1)" if os.environ.get("COURSE_FAST") else "full"


def _kernel_manager_class(log: TextIO, started: Callable[[int], None]) -> type:
    """A kernel manager that launches the kernel with its output on ``log`` and reports its pid."""
    from jupyter_client.manager import AsyncKernelManager  # nbclient's default kind

    class LessonKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            # Popen arguments, passed down by jupyter_client to the kernel's launch
            kw.setdefault("stdout", log)
            kw.setdefault("stderr", log)
            await super().start_kernel(**kw)
            pid = getattr(self.provisioner, "pid", None)
            if pid is not None:
                started(pid)

    return LessonKernelManager


@contextmanager
def _library_logs_to(stream: TextIO) -> Iterator[None]:
    """Send papermill's, nbclient's and jupyter_client's log records to the lesson's log."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    saved = []
    for name in ("papermill", "nbclient", "traitlets", "jupyter_client"):
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, level, propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate


def _cell_excerpt(progress: Progress, cell_index: int, source: str) -> list[str]:
    lines = source.splitlines()
    where = f"cell {progress.position_of(cell_index)} of {progress.total}"
    section = progress.section_of(cell_index)
    shown = [f"in {where}" + (f" ({section})" if section else "") + ":"]
    shown += ["  | " + line for line in lines[:CELL_LINES]]
    if len(lines) > CELL_LINES:
        shown.append(f"  | ... ({len(lines) - CELL_LINES} more lines)")
    return shown


def _error_excerpt(lines: list[str]) -> list[str]:
    text = _ANSI.sub("", "\n".join(lines))
    tail = [line for line in text.splitlines() if line.strip()][-ERROR_LINES:]
    return ["error:", *("  " + line for line in tail)] if tail else []


def _text(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def _shown_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
