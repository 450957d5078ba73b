"""Definitions a lesson teaches, loaded from its solution notebook for agreement tests.

A lesson writes its core code in plain Keras/TensorFlow/Flask, and ``course_lib`` keeps a
copy for later lessons. The cell that holds the lesson's definition starts with a line

    # Kept in the library as models.build_baseline_cnn (a test checks they agree).

naming the library copy (relative to ``course_lib``). Its library docstring says
"Taught in lesson NN". ``taught(lesson, name)`` executes only the cell's imports, function and
class definitions and constant assignments (never the demonstration code around them) in
a namespace that holds ``np``, ``tf``, ``keras`` and ``layers`` plus whatever the caller adds,
and returns the object the cell defines under ``name``. A test then calls it and the library
copy on the same inputs.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from course_lib.config import project_root

MARKER = re.compile(
    r"^#\s*Kept in the library as\s+`?(?:course_lib\.)?([\w.]*\w)`?[\s(.]", re.MULTILINE
)
TAUGHT_IN = re.compile(r"Taught in lesson (\d\d)")
SOLUTIONS = project_root() / "solutions"


@dataclass(frozen=True)
class TaughtDefinition:
    lesson: str  # "03"
    library_name: str  # "models.build_baseline_cnn"
    source: str  # the whole cell

    @property
    def name(self) -> str:
        """The name the notebook defines, the library copy's last part."""
        return self.library_name.rsplit(".", 1)[-1]

    def library_object(self) -> Any:
        module, _, attribute = self.library_name.rpartition(".")
        return getattr(importlib.import_module(f"course_lib.{module}"), attribute)


def lesson_path(lesson: str) -> Path:
    matches = sorted(SOLUTIONS.glob(f"{lesson}_*.ipynb"))
    if len(matches) != 1:
        raise FileNotFoundError(f"no single solutions/{lesson}_*.ipynb")
    return matches[0]


def _solution_text(source: str) -> str:
    # The solution notebook keeps its answers; only the marker lines go.
    return "\n".join(
        line
        for line in source.splitlines()
        if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
    )


def definitions(lesson: str) -> list[TaughtDefinition]:
    """Every marked definition in a lesson's solution notebook, in order."""
    nb = nbformat.read(lesson_path(lesson), as_version=4)
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for match in MARKER.finditer(cell.source):
            found.append(TaughtDefinition(lesson, match.group(1), _solution_text(cell.source)))
    return found


def all_definitions() -> list[TaughtDefinition]:
    return [
        d
        for path in sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))
        for d in definitions(path.name[:2])
    ]


def _definitions_only(source: str) -> ast.Module:
    keep = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    tree = ast.parse(source)
    body = []
    for node in tree.body:
        if isinstance(node, keep):
            body.append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and _is_constant(node.value):
            body.append(node)
    tree.body = body
    return tree


def _is_constant(node: ast.expr | None) -> bool:
    try:
        ast.literal_eval(node)  # numbers, strings, tuples of them: settings like KERNEL = 3
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return False
    return True


def taught(lesson: str, name: str, **namespace: Any) -> Any:
    """The object a lesson's marked cell defines as ``name`` (its library copy's last part)."""
    import keras
    import numpy as np
    import tensorflow as tf

    matches = [d for d in definitions(lesson) if d.name == name or d.library_name == name]
    if len(matches) != 1:
        raise LookupError(f"lesson {lesson} marks {len(matches)} cells as kept as {name!r}")
    scope: dict[str, Any] = {
        "np": np,
        "tf": tf,
        "keras": keras,
        "layers": keras.layers,
        **namespace,
    }
    code = compile(_definitions_only(matches[0].source), f"<lesson {lesson}: {name}>", "exec")
    exec(code, scope)  # noqa: S102 -- the course's own notebook, run to compare it with the library
    return scope[matches[0].name]
