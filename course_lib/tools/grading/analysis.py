"""What the grader makes of a student notebook's structure and of the grader cells' results."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from course_lib.messages import first_line
from course_lib.tools import notebooks
from course_lib.tools.grading import kernel_fingerprint
from course_lib.tools.grading.submissions import ExerciseKey, LessonKey

TAMPERING = "tampering:"
# NumPy's and Python's own functions must never change; other hooks (sys, IPython) are
# rebound by libraries too, so only replacements the notebook defined count there.
# the grader re-imports through these, and builds the checks' results with these
_STRICT = (
    "numpy.",
    "builtins.",
    "importlib.",
    *(f"stdlib.{name}" for name in kernel_fingerprint.RELIED_ON),
)
_LIBRARY_SWAPS = {"builtins.input"}  # ipykernel rebinds input() for every cell
_SHOWN_NAMES = 6


_CELL_FIELDS = {
    "code": {"cell_type", "id", "source", "metadata", "outputs", "execution_count"},
    "markdown": {"cell_type", "id", "source", "metadata", "attachments"},
    "raw": {"cell_type", "id", "source", "metadata", "attachments"},
}


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path``, validated; ValueError with a short reason otherwise."""
    if path.is_symlink():  # an archive can hold a link to the answer keys or any file
        raise ValueError("a link to another file, not a notebook: hand in the notebook itself")
    try:
        # utf-8-sig: some editors on Windows start the file with a byte-order mark
        text = path.read_text(encoding="utf-8-sig")
        if not text.strip():
            raise ValueError("an empty file: the notebook was not saved, or not uploaded")
        content = json.loads(text)
    except PermissionError:
        raise ValueError("the grader may not read this file (permission denied)") from None
    except UnicodeDecodeError:
        raise ValueError("not a text file") from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(content, dict):
        raise ValueError("JSON, but not a notebook (no cells)")
    version = content.get("nbformat", 4)
    if not isinstance(version, int):
        raise ValueError("not a valid notebook (no format version)")
    if version < 4:  # old formats (cells in "worksheets") go through nbformat's converter
        try:
            return nbformat.reads(text, as_version=4)
        except Exception as exc:  # nbformat's conversion errors
            raise ValueError(
                f"not a valid notebook of format {version} ({first_line(exc)})"
            ) from None
    if "cells" not in content:
        raise ValueError("JSON, but not a notebook (no cells)")
    # Only what running it needs: editors other than Jupyter write notebooks that fail
    # nbformat's strict schema (no cell ids, no metadata) yet run perfectly well.
    cells = content["cells"]
    if not isinstance(cells, list):
        raise ValueError("not a valid notebook (its cells are not a list)")
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise ValueError(f"not a valid notebook (cell {number} has no known type)")
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise ValueError(f"not a valid notebook (cell {number} has no text)")
        cell["source"] = source
        cell.setdefault("id", f"cell-{number}")
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = {}
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None  # run afresh anyway
        # Only the fields nbformat's schema allows for the cell's type: a markdown cell with
        # "outputs", say, opens in every editor but would fail validation later.
        allowed = _CELL_FIELDS[cell["cell_type"]]
        cells[number - 1] = cell = {k: v for k, v in cell.items() if k in allowed}
        if not isinstance(cell["id"], str) or not cell["id"]:
            cell["id"] = f"cell-{number}"
    if not isinstance(content.get("metadata"), dict):
        content["metadata"] = {}
    content["nbformat"] = 4
    content["nbformat_minor"] = 5  # cell ids, as added above
    return nbformat.from_dict(content)


@dataclass
class Layout:
    """Where a student notebook's exercises are, and what its cells raised."""

    nb: nbformat.NotebookNode
    key: LessonKey
    region: dict[int, str] = field(default_factory=dict)  # code cell index -> exercise number
    errors: dict[int, tuple[str, str]] = field(default_factory=dict)
    timed_out: set[int] = field(default_factory=set)
    headings: dict[str, str] = field(
        default_factory=dict
    )  # exercise number -> title in the notebook

    @classmethod
    def of(cls, nb: nbformat.NotebookNode, key: LessonKey) -> Layout:
        layout = cls(nb, key)
        current = None
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                found = notebooks.exercises(nbformat.v4.new_notebook(cells=[cell]))
                current = found[-1].number if found else None
                layout.headings.update((e.number, e.title) for e in found)
            elif cell.cell_type == "code" and current:
                layout.region[index] = current
        return layout

    def check_points(self) -> dict[int, list[str]]:
        """Cell index -> the exercises to check right after that cell.

        An exercise is checked right after its check cell (the last of its cells that calls
        its check), so that the cells after it can neither change what was checked nor lose
        it (a cell that kills the kernel or never ends); an exercise without a check cell
        among its cells, right after its last cell.
        """
        last: dict[str, int] = {}
        checked: dict[str, int] = {}
        for index, number in self.region.items():
            last[number] = max(index, last.get(number, index))
            call = f"checks.exercise_{number.replace('.', '_')}("
            if call in self.nb.cells[index].source:
                checked[number] = max(index, checked.get(number, index))
        due: dict[int, list[str]] = {}
        for number, index in last.items():
            due.setdefault(checked.get(number, index), []).append(number)
        return due

    def describe(self, index: int) -> str:
        lines = [line for line in self.nb.cells[index].source.splitlines() if line.strip()]
        start = lines[0].strip() if lines else ""
        start = start if len(start) <= 40 else start[:39] + "…"
        return f'cell {index + 1} ("{start}")'

    def record_outputs(self, index: int, cell: nbformat.NotebookNode) -> None:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                self.errors[index] = (
                    output.get("ename", ""),
                    first_line(str(output.get("evalue", "")), 120),
                )
                return

    def errors_outside_exercises(self) -> list[str]:
        outside = [i for i in sorted(self.errors) if i not in self.region]
        if not outside:
            return []
        ename, evalue = self.errors[outside[0]]
        more = len(outside) - 1
        more_text = (
            (
                f"; {more} more cell{'s' if more > 1 else ''} outside the exercises "
                f"raised an error too"
            )
            if more
            else ""
        )
        return [
            f"{self.describe(outside[0])} raised {ename}: {evalue}, "
            f"outside the exercises{more_text}"
        ]

    def exercise_trouble(self, number: str) -> str:
        """What went wrong in the student's own cells of exercise ``number``, if anything."""
        for index, exercise in self.region.items():
            if exercise != number:
                continue
            if index in self.timed_out:
                return "the exercise's cells timed out"
            if index in self.errors:
                ename, evalue = self.errors[index]
                check = f"checks.exercise_{number.replace('.', '_')}("
                if check not in self.nb.cells[index].source:
                    return f"the exercise cell raised {ename}: {evalue}"
                why = (
                    " (cells run from top to bottom: is the answer defined in a cell below "
                    "its check, or not at all?)"
                    if ename == "NameError"
                    else ""
                )
                return f"the check cell raised {ename}: {evalue}{why}"
        return ""

    def check_cell_problems(self) -> list[str]:
        problems = []
        code = [cell.source for cell in self.nb.cells if cell.cell_type == "code"]
        for exercise in self.key.exercises:
            call = f"checks.exercise_{exercise.number.replace('.', '_')}("
            calls = [source.strip() for source in code if call in source]
            if not calls:
                problems.append(
                    f"the check cell of exercise {exercise.number} was deleted; "
                    "the grader ran the check itself"
                )
            elif exercise.check not in calls:
                problems.append(
                    f"the check cell of exercise {exercise.number} was changed; "
                    "the grader ran the original check"
                )
        return problems

    def _other_lessons(self) -> list[str]:
        """The exercise numbers among the headings that are another lesson's."""
        lesson = self.key.lesson[:2]
        if not lesson.isdigit():
            return []
        return [n for n in self.headings if int(n.split(".")[0]) != int(lesson)]

    def is_another_lessons(self) -> bool:
        """Every exercise heading is another lesson's: a wrong file, which running cannot credit."""
        return bool(self.headings) and len(self._other_lessons()) == len(self.headings)

    def outdated_headings(self) -> list[str]:
        """Exercises whose heading differs from the current lesson's: an older notebook.

        Exercises are graded by number, so an answer written for an older lesson, where that
        number was another task, is checked against the current task. Say so, so that an
        instructor can tell a wrong answer from an outdated notebook.
        """
        current = {e.number: e.title for e in self.key.exercises}
        problems = []
        others = self._other_lessons()
        if others:  # a notebook of another lesson, renamed or handed in under this one's name
            problems.append(
                f"exercises {', '.join(others)} are lesson {int(others[0].split('.')[0]):02d}'s, "
                f"not {self.key.lesson}'s: the notebook is another lesson's, graded as "
                f"{self.key.lesson} because of its file name"
            )
        for number, title in self.headings.items():
            if number in others:
                continue
            if number not in current:
                problems.append(
                    f"exercise {number} ({title!r}) is not in the current lesson: "
                    "the notebook comes from another version of it"
                )
            elif _normal(title) != _normal(current[number]):
                problems.append(
                    f"exercise {number} is {title!r} in this notebook but {current[number]!r} "
                    "in the current lesson: the notebook comes from another version of it, "
                    "and its answer was checked against the current task"
                )
        return problems


def _normal(title: str) -> str:
    return " ".join(title.casefold().split())


def exercise_result(
    exercise: ExerciseKey, result: dict[str, Any] | None, layout: Layout, stopped: str = ""
) -> tuple[bool, str]:
    """(passed, message) for one exercise from its grader cell's payload."""
    if result is None:
        return False, f"check did not run: {stopped or 'the grader cell gave no result'}"
    status, message = result.get("status"), str(result.get("message", ""))
    if status == "passed":
        return True, message
    if status == "failed":
        return False, message
    if status == "timeout":
        message = f"it did not finish within {message} s"
    trouble = layout.exercise_trouble(exercise.number)
    return False, f"check did not run: {message}" + (f"; {trouble}" if trouble else "")


def _strict(name: str) -> bool:
    return (
        name.startswith(_STRICT[:3])
        or name in _STRICT[3:]
        or name.startswith(tuple(f"{prefix}." for prefix in _STRICT[3:]))
    )


def tampering(before: dict[str, Any] | None, after: dict[str, Any] | None, who: str) -> list[str]:
    """A ``tampering:`` finding if ``after`` differs from ``before`` in what checks rely on."""
    if before is None or after is None:
        return [f"{TAMPERING} the grader could not inspect the kernel after {who} ran"]
    old, new = before.get("entries", {}), after.get("entries", {})
    changed = sorted(
        name
        for name, (identity, made_by_notebook) in new.items()
        if (
            name in old
            and old[name][0] != identity
            and name not in _LIBRARY_SWAPS
            and (made_by_notebook or _strict(name))
        )
        or (name not in old and made_by_notebook)  # a module the notebook loaded, then patched
    )
    findings = []
    if changed:
        shown = ", ".join(changed[:_SHOWN_NAMES]) + (" …" if changed[_SHOWN_NAMES:] else "")
        findings.append(f"{TAMPERING} {who} changed {shown}")
    threads = [t for t in after.get("threads", []) if t not in before.get("threads", [])]
    if threads:
        findings.append(
            f"{TAMPERING} threads started by {who} are still running ({', '.join(threads)})"
        )
    return findings
