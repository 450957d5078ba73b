"""Machine-readable results that notebooks leave in their outputs.

A lesson states its numbers in plain text for the student; the same numbers
also travel as a JSON output with a course-specific MIME type, so that
``make course`` (and the grader) can read them from an executed notebook
instead of scraping printed text.

:func:`metric` and :func:`table` publish their output themselves when they run
in a notebook, so a figure reaches the report whether the call ends its cell,
sits in the middle of one, or is wrapped in ``display(...)``; the object they
return then displays nothing more, so the notebook shows each figure once.
``metric(..., echo=False)`` sends a figure to the report without its
``name: value`` line, for a cell that has just printed that value in its own words.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

METRIC_MIME = "application/vnd.course.metric+json"
CHECK_MIME = "application/vnd.course.check+json"
TABLE_MIME = "application/vnd.course.table+json"


@dataclass(frozen=True)
class Metric:
    """A number a lesson computed, e.g. ``Metric("test accuracy", 0.9132)``."""

    name: str
    value: float
    headline: bool = True
    # True once the notebook shows it (see metric()): displaying it again would duplicate it
    shown: bool = dataclasses.field(default=False, compare=False, repr=False)
    # False: the notebook shows no "name: value" line, the report still gets the figure
    echo: bool = dataclasses.field(default=True, compare=False, repr=False)

    def payload(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "headline": self.headline}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        # Without the echo, an empty text/plain (as in Table) keeps Jupyter from saying that it
        # has no renderer for the course's type.
        text = f"{self.name}: {_format(self.value)}" if self.echo else ""
        return {"text/plain": text, METRIC_MIME: self.payload()}

    def _ipython_display_(self) -> None:
        if not self.shown:
            _publish(self._repr_mimebundle_())


def metric(name: str, value: float, headline: bool = True, *, echo: bool = True) -> Metric:
    """Report a figure the notebook computed; shows ``name: value`` in the notebook.

    ``headline=True`` marks the figure that the ``make course`` table and report
    show for this lesson. In a notebook the line is shown at once, wherever the
    call is in its cell. ``echo=False`` leaves the line out (for a cell that has
    just printed the value itself); the report gets the figure all the same.
    """
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"metric {name!r} is not a finite number: {value}")
    result = Metric(name, value, headline, echo=echo)
    return dataclasses.replace(result, shown=_publish(result._repr_mimebundle_()))


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one exercise check; shown as a friendly line in the notebook."""

    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    @property
    def text(self) -> str:
        mark = "✅ Correct" if self.passed else "❌ Not yet"
        return f"{mark} (exercise {self.exercise}): {self.message}"

    def __str__(self) -> str:
        return self.text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        colour = "#1a7f37" if self.passed else "#b42318"
        page = f'<p style="color:{colour};font-weight:600">{html.escape(self.text)}</p>'
        return {"text/plain": self.text, "text/html": page, CHECK_MIME: asdict(self)}


@dataclass(frozen=True)
class Table:
    """A small table a lesson computed, e.g. model formats against size and accuracy."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    shown: bool = dataclasses.field(default=False, compare=False, repr=False)  # as Metric.shown

    def payload(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows}

    def to_markdown(self) -> str:
        def cell(value: Any) -> str:
            return html.escape(_format_cell(value), quote=False).replace("|", "\\|")

        lines = [
            "| " + " | ".join(map(cell, self.columns)) + " |",
            "|" + "---|" * len(self.columns),
        ]
        lines += ["| " + " | ".join(map(cell, row)) + " |" for row in self.rows]
        return "\n".join(lines)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        # The lesson displays its own DataFrame; this output only carries the data. An empty
        # text/plain keeps Jupyter from saying that it has no renderer for the course's type.
        return {"text/plain": "", TABLE_MIME: self.payload()}

    def _ipython_display_(self) -> None:
        if not self.shown:
            _publish(self._repr_mimebundle_())


def table(title: str, frame: Any) -> Table:
    """Hand a pandas DataFrame to the ``make course`` report, under ``title``.

    Nothing is shown in the notebook (display the DataFrame itself for that).
    The index becomes the first column. Cells must be numbers or text; a
    non-finite number is refused, as in :func:`metric`.
    """
    flat = frame.reset_index() if getattr(frame.index, "name", None) is not None else frame
    rows = []
    for values in flat.itertuples(index=False):
        row = []
        for value in values:
            if hasattr(value, "item"):  # NumPy scalars become plain Python numbers for JSON
                value = value.item()
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"table {title!r} has a non-finite number: {value}")
            row.append(value if isinstance(value, int | float | str) else str(value))
        rows.append(row)
    result = Table(title, [str(c) for c in flat.columns], rows)
    return dataclasses.replace(result, shown=_publish(result._repr_mimebundle_()))


def read_outputs(cells: Iterable[dict[str, Any]], mime: str) -> list[dict[str, Any]]:
    """All payloads of type ``mime`` in the outputs of executed notebook cells."""
    found = []
    for cell in cells:
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(mime)
            if payload is not None:
                found.append(json.loads(payload) if isinstance(payload, str) else dict(payload))
    return found


def _publish(bundle: dict[str, Any]) -> bool:
    """Show ``bundle`` as a display output if this runs in IPython; True if it did.

    IPython is looked up, not imported: a plain script never loads it.
    """
    ipython = sys.modules.get("IPython")
    if ipython is None or ipython.get_ipython() is None:
        return False
    from IPython.display import display

    display(bundle, raw=True)
    return True


def _format(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    if abs(value) < 1e-3:  # a tiny difference must not read as 0.0000
        return f"{value:.1e}"
    # four decimals at most, none that say nothing: 2.69 rather than 2.6900
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _format_cell(value: Any) -> str:
    """A table cell: numbers to 6 significant digits (sizes, latencies and accuracies alike)."""
    return f"{value:.6g}" if isinstance(value, float) else str(value)
