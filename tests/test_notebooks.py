"""Every lesson runs, and the repository's notebooks are clean and consistent.

The solution notebooks are executed here with papermill (fast mode, offline);
the student notebooks are executed by nbval (``pytest --nbval-lax notebooks``),
which ``make test`` runs in the same session.
"""

import nbformat
import pytest

from course_lib import memory, notebooks, record, runner
from course_lib.config import KERNEL_NAME, project_root

ROOT = project_root()
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
ALL_NOTEBOOKS = SOLUTIONS + sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in SOLUTIONS]


def test_there_are_lessons():
    assert SOLUTIONS, "no solutions/NN_*.ipynb found"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=[f"{p.parent.name}/{p.stem}" for p in ALL_NOTEBOOKS])
def test_notebook_is_stored_stripped_with_the_course_kernel(path):
    text = path.read_text(encoding="utf-8")
    assert text == notebooks.dumps(notebooks.strip_outputs(nbformat.reads(text, as_version=4))), (
        f"{path.name} has outputs or run metadata: run `course strip {path}`"
    )
    assert nbformat.reads(text, as_version=4).metadata["kernelspec"]["name"] == KERNEL_NAME


def test_student_notebooks_are_exactly_what_the_build_generates():
    result = notebooks.build_student_notebooks(ROOT / "solutions", ROOT / "notebooks", check=True)
    assert not result.written, f"out of date (run `make notebooks`): {result.written}"
    assert not result.stale, f"student notebooks without a solution: {result.stale}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_lesson_follows_the_template(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# Lesson ")
    parameters = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1, "exactly one cell tagged `parameters`"
    exercises = notebooks.exercises(nb)
    assert len(exercises) >= 3, "each lesson has at least 3 checked exercises"
    lesson = path.name[:2].lstrip("0")
    sources = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for exercise in exercises:
        assert exercise.number.split(".")[0] == lesson
        check = f"checks.exercise_{exercise.number.replace('.', '_')}("
        assert check in sources, f"exercise {exercise.number} has no check cell calling {check}"
    assert "## Recap" in nb.cells[-1].source


def _solution_line_counts(nb):
    """Per solution region, how many lines of code the answer takes (comments and blanks aside)."""
    counts = []
    for cell in nb.cells:
        if cell.cell_type != "code" or notebooks.BEGIN not in cell.source:
            continue
        inside, lines = False, 0
        for line in cell.source.splitlines():
            if line.strip() == notebooks.BEGIN:
                inside, lines = True, 0
            elif line.strip() == notebooks.END:
                inside = False
                counts.append(lines)
            elif inside and line.strip() and not line.strip().startswith("#"):
                lines += 1
    return counts


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_lesson_has_at_most_one_one_line_exercise(path):
    counts = _solution_line_counts(nbformat.read(path, as_version=4))
    assert counts, "no solution regions found"
    one_liners = sum(1 for n in counts if n <= 1)
    assert one_liners <= 1, f"{one_liners} exercise answers are one line long (at most one per lesson)"


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_student_version_raises_in_every_exercise_and_nowhere_else(path):
    student = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
    for cell in student.cells:
        if cell.cell_type != "code":
            continue
        tagged = "raises-exception" in cell.metadata.get("tags", [])
        assert ("BEGIN SOLUTION" in cell.source) is False
        if "raise NotImplementedError" in cell.source:
            assert tagged


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_solution_notebook_executes_and_passes_its_own_checks(path, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")  # the kernel inherits it: tiny subsets, few epochs
    run = runner.execute_lesson(path, tmp_path, timeout=600)
    assert run.ok, "\n".join([run.error, *run.details, f"log: {run.log}"])
    # The memory watchdog: the kernel and all it starts, at their largest. A kernel that has
    # imported TensorFlow is far above 100 MB, so a smaller figure means nothing was measured.
    assert run.peak is not None and run.peak.bytes > 100_000_000, f"peak not measured: {run.peak}"
    assert run.peak.bytes <= memory.BUDGET_BYTES, (
        f"{path.stem} peaked at {run.peak}, over the {memory.gb_label(memory.BUDGET_BYTES)} budget")
    nb = nbformat.read(run.output, as_version=4)
    results = record.read_outputs(nb.cells, record.CHECK_MIME)
    expected = [e.number for e in notebooks.exercises(nbformat.read(path, as_version=4))]
    assert [r["exercise"] for r in results] == expected, "every exercise check ran, in order"
    assert all(r["passed"] for r in results), [r for r in results if not r["passed"]]
    assert run.headline is not None, "each lesson records a headline figure with record.metric"
