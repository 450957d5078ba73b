"""The solution notebooks' answers, read for tests that grade or judge them as a student's.

Shared by the grading tests that put the course's own answers into notebooks of their own
(``test_grading.py``, ``test_grading_two_phase.py``, ``test_grading_model_config.py``) or run
them outside a kernel (``test_grading_judge.py``).
"""

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import nbformat

from course_lib.config import project_root
from course_lib.tools.grading.submissions import LessonKey, lesson_key
from course_lib.tools.notebooks import BEGIN

HEADING = re.compile(r"### Exercise (\d+\.\d+)")


def lesson_path(number: str) -> Path:
    """The solution notebook that holds exercise ``number`` (``"4.1"`` -> ``04_*.ipynb``)."""
    lesson = number.split(".")[0].zfill(2)
    return next((project_root() / "solutions").glob(f"{lesson}_*.ipynb"))


def _code_cells_by_exercise(path: Path) -> Iterable[tuple[str | None, str]]:
    """Each code cell's source, with the exercise whose heading came last before it."""
    current = None
    for cell in nbformat.read(path, as_version=4).cells:
        headings = HEADING.findall(cell.source)
        if cell.cell_type == "markdown" and headings:
            current = headings[-1]
        elif cell.cell_type == "code":
            yield current, cell.source


def solution_cells(numbers: Iterable[str]) -> dict[str, str]:
    """Exercise number -> the whole source of its solution cell (the one with the markers)."""
    wanted = set(numbers)
    found = {}
    for path in sorted({lesson_path(n) for n in wanted}):
        for current, source in _code_cells_by_exercise(path):
            if current in wanted and BEGIN in source:
                found[current] = source
    missing = wanted - found.keys()
    assert not missing, f"no solution cell for {sorted(missing)}"
    return found


def lesson_imports(numbers: Iterable[str]) -> list[str]:
    """The import statements of the lessons that hold ``numbers``, once each, in order."""
    imports = []
    for path in sorted({lesson_path(n) for n in numbers}):
        for _, source in _code_cells_by_exercise(path):
            try:
                tree = ast.parse(source)
            except SyntaxError:  # a cell with IPython magics
                continue
            imports += [
                ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
            ]
    return list(dict.fromkeys(imports))


def exercises_key(name: str, numbers: Iterable[str]) -> LessonKey:
    """A lesson key made of the solution notebooks' exercises ``numbers``, in that order."""
    numbers = tuple(numbers)
    keys = {}
    for path in sorted({lesson_path(n) for n in numbers}):
        keys.update({e.number: e for e in lesson_key(path).exercises})
    return LessonKey(name, tuple(keys[n] for n in numbers))


def task_text(number: str) -> str:
    """The Markdown cell that sets exercise ``number``, its whitespace folded to single spaces."""
    for cell in nbformat.read(lesson_path(number), as_version=4).cells:
        if cell.cell_type == "markdown" and f"### Exercise {number} " in cell.source:
            return " ".join(cell.source.split())
    raise AssertionError(f"no task text for exercise {number}")
