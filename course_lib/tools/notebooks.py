"""Build the student notebooks from the solution notebooks, and keep both clean.

``solutions/`` is the only source. Inside an exercise cell the solution sits
between nbgrader-compatible markers::

    ### BEGIN SOLUTION
    gray = photo.mean(axis=-1)
    ### END SOLUTION

The student version replaces each marked region with
``raise NotImplementedError("Exercise 1.2: …")`` at the same indentation, and
tags the exercise cell and its check cell ``raises-exception`` so the student
notebook still runs top to bottom (nbval and "Run all" carry on past them).

Each student notebook also gets an "Open in Colab" badge under its title and, as its
first code cell, a set-up cell that acts only on Colab (:func:`colab_setup_source`):
it installs the course package around Colab's own TensorFlow, Keras and NumPy and
fetches Fashion-MNIST; anywhere else it does nothing and prints nothing.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_lib.config import KERNEL_DISPLAY_NAME, KERNEL_NAME, project_root
from course_lib.tools import links

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
RAISES_TAG = "raises-exception"
LINE_LENGTH = 100  # pyproject.toml's [tool.ruff] line-length: student notebooks are formatted
_EXERCISE_HEADING = re.compile(r"^#+\s*Exercise\s+(\d+\.\d+)\s*[—–:-]?\s*(.*)$", re.MULTILINE)
_CHECK_CALL = re.compile(r"\bchecks\.exercise_\d+_\d+\(")
COLAB_TAG = "colab"
COLAB_CELL_ID = "colab-setup"
# Distributions Colab ships that the course must never replace.
COLAB_KEEP = ("tensorflow", "tensorflow-cpu", "keras", "numpy")
# Metadata that execution adds and that must not reach git.
_VOLATILE_CELL_KEYS = ("execution", "papermill", "collapsed", "scrolled", "ExecuteTime")


class NotebookSourceError(ValueError):
    """A solution notebook whose markers or exercise headings are malformed."""


@dataclass(frozen=True)
class Exercise:
    number: str  # "1.2"
    title: str


def strip_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove outputs, execution counts and run metadata; set the course kernel."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in _VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)
    for key in ("papermill", "widgets", "jupytext", "language_info"):
        nb.metadata.pop(key, None)
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": KERNEL_DISPLAY_NAME,
        "language": "python",
    }
    return nb


def exercises(nb: nbformat.NotebookNode) -> list[Exercise]:
    """The exercises announced by Markdown headings like ``### Exercise 1.2 — Title``."""
    found = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for number, title in _EXERCISE_HEADING.findall(cell.source):
                found.append(Exercise(number, title.strip()))
    return found


def colab_setup_source(repository: str) -> str:
    """The first code cell of a student notebook: on Colab only, install the course and
    fetch Fashion-MNIST; elsewhere nothing happens and nothing is printed.

    pip is asked for Colab's installed TensorFlow, Keras and NumPy at their exact
    versions next to the course package. They are then part of what pip resolves, so it
    keeps them and their own requirements (protobuf, ml-dtypes...) satisfied, and it fails
    rather than replace one. TensorFlow itself is no dependency of the course package
    (only of its ``tf`` extra), so nothing asks for a second TensorFlow.
    """
    keep = ", ".join(f'"{dist}"' for dist in COLAB_KEEP)
    # Written as `ruff format` writes it: the student notebooks are checked against it.
    return f"""\
# Colab only: install the course package next to Colab's own TensorFlow, Keras and NumPy
# (kept at their versions), then fetch Fashion-MNIST, checked against its SHA-256.
# Anywhere else this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess
    from importlib import metadata

    keep = []
    for dist in ({keep}):
        try:
            keep.append(f"{{dist}}=={{metadata.version(dist)}}")
        except metadata.PackageNotFoundError:
            pass
    course = {_quoted(links.pip_url(repository))}
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", course, *keep], check=True)
    download = ["download", "fashion-mnist"]
    subprocess.run([sys.executable, "-m", "course_lib.tools.cli", *download], check=True)"""


def _quoted(text: str) -> str:
    """A Python string literal for ``text`` in double quotes, as `ruff format` writes it."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in text:
        literal = '"' + literal[1:-1] + '"'
    return literal


def add_colab(nb: nbformat.NotebookNode, filename: str, repository: str) -> None:
    """Put the Colab badge under the notebook's title and the Colab set-up cell before its
    first code cell (in place)."""
    title = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    badge = links.colab_badge(repository, filename)
    if title is not None:
        heading, _, body = title.source.partition("\n")
        title.source = "\n\n".join([heading, badge, *([body.strip("\n")] if body.strip() else [])])
    setup = nbformat.v4.new_code_cell(colab_setup_source(repository))
    setup.id = COLAB_CELL_ID
    setup.metadata["tags"] = [COLAB_TAG]
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    nb.cells.insert(first_code, setup)


def make_student_notebook(
    solution: nbformat.NotebookNode, filename: str | None = None, repository: str | None = None
) -> nbformat.NotebookNode:
    """The student version of a solution notebook (outputs stripped). With ``filename``
    (e.g. ``01_pixels.ipynb``) and ``repository`` (``owner/name``) it also gets the Colab
    badge and set-up cell (:func:`add_colab`)."""
    nb = strip_outputs(solution)
    current: Exercise | None = None
    awaiting_check = False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            headings = _EXERCISE_HEADING.findall(cell.source)
            if headings:
                current = Exercise(headings[-1][0], headings[-1][1].strip())
            continue
        if cell.cell_type != "code":
            continue
        if BEGIN in cell.source or END in cell.source:
            if current is None:
                raise NotebookSourceError(
                    "a solution region comes before any '### Exercise N.M — Title' heading"
                )
            cell.source = _replace_solutions(cell.source, current)
            _add_tag(cell, RAISES_TAG)
            awaiting_check = True
        elif awaiting_check and _CHECK_CALL.search(cell.source):
            _add_tag(cell, RAISES_TAG)
            awaiting_check = False
    if filename and repository:
        add_colab(nb, filename, repository)
    return nb


def _replace_solutions(source: str, exercise: Exercise) -> str:
    lines = source.split("\n")
    out: list[str] = []
    inside = False
    for number, line in enumerate(lines, start=1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise NotebookSourceError(
                    f"exercise {exercise.number}: nested {BEGIN} (line {number})"
                )
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            title = f": {exercise.title}" if exercise.title else ""
            message = f"Exercise {exercise.number}{title}"
            out.extend(_raise_not_implemented(indent, message))
        elif marker == END:
            if not inside:
                raise NotebookSourceError(f"exercise {exercise.number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise NotebookSourceError(f"exercise {exercise.number}: {BEGIN} without {END}")
    return "\n".join(out)


def _raise_not_implemented(indent: str, message: str) -> list[str]:
    """``raise NotImplementedError("...")`` at ``indent``, wrapped as `ruff format` wraps it."""
    line = f"{indent}raise NotImplementedError({_quoted(message)})"
    if len(line) <= LINE_LENGTH:
        return [line]
    return [
        f"{indent}raise NotImplementedError(",
        f"{indent}    {_quoted(message)}",
        f"{indent})",
    ]


def _add_tag(cell: nbformat.NotebookNode, tag: str) -> None:
    tags = cell.metadata.setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)


def dumps(nb: nbformat.NotebookNode) -> str:
    """Serialise a notebook the one way the repository stores it."""
    return nbformat.writes(nb, version=4) + "\n"


@dataclass(frozen=True)
class BuildResult:
    written: list[Path]
    unchanged: list[Path]
    stale: list[Path]  # student notebooks with no solution any more


def build_student_notebooks(
    solutions: Path, notebooks: Path, check: bool = False, repository: str | None = None
) -> BuildResult:
    """Write ``notebooks/NN_*.ipynb`` from ``solutions/``; with ``check`` only compare.

    ``repository`` (``owner/name``) is where the Colab links point; by default the
    ``[tool.course] repository`` setting of the course's ``pyproject.toml``.
    """
    repository = repository or links.repository(project_root() / "pyproject.toml")
    notebooks.mkdir(parents=True, exist_ok=True)
    written, unchanged = [], []
    sources = sorted(solutions.glob("[0-9][0-9]_*.ipynb"))
    for source in sources:
        target = notebooks / source.name
        solution = nbformat.read(source, as_version=4)
        text = dumps(make_student_notebook(solution, source.name, repository))
        if target.exists() and target.read_text(encoding="utf-8") == text:
            unchanged.append(target)
            continue
        if not check:
            target.write_text(text, encoding="utf-8")
        written.append(target)
    names = {s.name for s in sources}
    stale = [p for p in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")) if p.name not in names]
    return BuildResult(written, unchanged, stale)


def strip_in_place(path: Path) -> bool:
    """Strip one notebook file; True if it changed."""
    before = path.read_text(encoding="utf-8")
    after = dumps(strip_outputs(nbformat.reads(before, as_version=4)))
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before
