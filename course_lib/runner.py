"""Execute lessons headless with papermill and summarise them (``make course``)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_lib import record
from course_lib.config import KERNEL_NAME


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

    @property
    def status(self) -> str:
        return "ok" if self.ok else "FAILED"


def execute_lesson(
    notebook: Path, output_dir: Path, timeout: int | None = None, kernel_name: str = KERNEL_NAME
) -> LessonRun:
    """Run one notebook with papermill in its own folder and read its recorded results.

    A lesson fails when a cell raises (outside cells tagged ``raises-exception``)
    or when one of its exercise checks reports a wrong answer.
    """
    import papermill  # slow to import; only needed here

    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / notebook.name
    started = time.perf_counter()
    error = ""
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            kernel_name=kernel_name,
            cwd=str(notebook.parent),
            progress_bar=False,
            execution_timeout=timeout,
        )
    except Exception as exc:  # papermill raises PapermillExecutionError, timeouts, kernel deaths
        error = _first_line(exc)
    seconds = time.perf_counter() - started
    run = LessonRun(notebook.stem, seconds, ok=not error, output=output, error=error)
    if output.exists():
        cells = nbformat.read(output, as_version=4).cells
        run.metrics = [record.Metric(**m) for m in record.read_outputs(cells, record.METRIC_MIME)]
        run.headline = next((m for m in run.metrics if m.headline), None)
        run.tables = [record.Table(**t) for t in record.read_outputs(cells, record.TABLE_MIME)]
        checks = record.read_outputs(cells, record.CHECK_MIME)
        run.failed_checks = [c["exercise"] for c in checks if not c["passed"]]
        if run.failed_checks and not error:
            run.ok = False
            run.error = "exercise checks failed: " + ", ".join(run.failed_checks)
    return run


def run_lessons(
    notebooks: list[Path], output_dir: Path, timeout: int | None = None
) -> list[LessonRun]:
    """Execute each notebook in order, printing a line as each one finishes."""
    runs = []
    for notebook in notebooks:
        print(f"running {notebook.name} ...", flush=True)
        run = execute_lesson(notebook, output_dir, timeout)
        print(f"  {run.status} in {run.seconds:.0f} s" + (f": {run.error}" if run.error else ""))
        runs.append(run)
    return runs


def format_table(runs: list[LessonRun]) -> str:
    """A plain-text table: lesson, wall seconds, headline figure, status."""
    rows = [("lesson", "seconds", "headline", "status")]
    for run in runs:
        headline = run.headline
        shown = f"{headline.name} = {record._format(headline.value)}" if headline else "-"
        rows.append((run.lesson, f"{run.seconds:.1f}", shown, run.status))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def mode() -> str:
    return "fast (COURSE_FAST=1)" if os.environ.get("COURSE_FAST") else "full"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    # papermill's message starts with a banner; the exception line is the useful part
    useful = [line for line in text if "Error" in line or "Exception" in line]
    return (useful[-1] if useful else (text[0] if text else type(exc).__name__))[:300]
