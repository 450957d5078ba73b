"""Every lesson runs, and the repository's notebooks are clean and consistent.

Each solution notebook is executed once here (fast mode, offline), by the grader: one run
shows that the lesson runs top to bottom within its memory budget, that its own checks
pass and that the grader gives it full marks. `make course`'s papermill path runs lesson 01.
The student notebooks are executed by nbval (``pytest --nbval-lax notebooks``), which
``make test`` runs in the same session.
"""

import contextlib
import os
import re

import nbformat
import psutil
import pytest

from course_lib import memory, record
from course_lib.config import KERNEL_NAME, project_root
from course_lib.tools import grading, notebooks, runner
from course_lib.tools.grading.judge_process import Judge
from course_lib.tools.grading.kernel_run import GRADER_TAG
from course_lib.tools.grading.kernel_setup import kernel_views
from course_lib.tools.grading.submissions import Submission, lesson_key

ROOT = project_root()
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
ALL_NOTEBOOKS = SOLUTIONS + sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in SOLUTIONS]
# Lesson 01 runs through `make course`'s papermill path below, and the grader gives it full
# marks in tests/test_grading.py (a student notebook filled with the solution's answers).
RUN_BY_PAPERMILL = "01_pixels"
GRADED = [p for p in SOLUTIONS if p.stem != RUN_BY_PAPERMILL]
CELL_TIMEOUT = 600  # any one cell: a guard against a hung cell, not a speed target
LESSON_TIMEOUT = 1100  # the whole lesson, within pytest's hang guard (pyproject.toml)


def test_there_are_lessons():
    assert SOLUTIONS, "no solutions/NN_*.ipynb found"


@pytest.mark.parametrize(
    "path", ALL_NOTEBOOKS, ids=[f"{p.parent.name}/{p.stem}" for p in ALL_NOTEBOOKS]
)
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


# A temporary folder or file that nothing removes: each run of the lesson would leave one more.
_LEFT_BEHIND = re.compile(r"\b(mkdtemp|mkstemp)\s*\(|NamedTemporaryFile\([^)]*delete\s*=\s*False")


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_lesson_writes_its_files_in_the_build_folder_never_in_temporary_ones_it_leaves(path):
    sources = "\n".join(
        c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"
    )
    assert not _LEFT_BEHIND.search(sources), (
        "write under config.build_dir() (or in a `with tempfile.TemporaryDirectory()` block)"
    )


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
    assert one_liners <= 1, (
        f"{one_liners} exercise answers are one line long (at most one per lesson)"
    )


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


def _is_kernel(process: psutil.Process) -> bool:
    try:
        return any("ipykernel" in part for part in process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


class KernelPeak(memory.PeakSampler):
    """The peak of the Jupyter kernels this process starts, each with everything it starts.

    The grader's kernel is a child of this process, as papermill's is under ``make course``;
    the grader's own judge process is not the lesson's, so it is left out.
    """

    def __init__(self, interval: float = 0.25) -> None:
        super().__init__(os.getpid(), interval, include_root=False)

    def sample(self) -> memory.Usage:
        processes: set[psutil.Process] = set()
        for kernel in filter(_is_kernel, self.root.children(recursive=True)):
            processes.add(kernel)
            with contextlib.suppress(psutil.NoSuchProcess):
                processes.update(kernel.children(recursive=True))
        # As PeakSampler does: PSS is read only when the summed RSS, its cheap upper
        # bound, could make a new peak (four samples a second, for the whole lesson).
        bound = memory.rss_of(processes)
        if bound.bytes <= self.peak.bytes:
            return bound
        now = memory.usage_of(processes)
        if now.bytes > self.peak.bytes:
            self.peak = now
        return now


def _errors(cell) -> list[str]:
    return [
        f"{o.get('ename')}: {o.get('evalue')}"
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]


@pytest.fixture(scope="session")
def shared_judge():
    """One judge for this worker's solution runs, as `course grade` shares one across a class
    (and starts it: loading Keras only when a check needs it, where kernels get views)."""
    process = Judge(lazy_imports=kernel_views(grading.GradeOptions()))
    yield process
    process.close()


# Each solution runs once, in fast mode, in the grader's kernel: the grader's full marks and
# the lesson's outputs and memory are all read from that one execution.
@pytest.mark.parametrize("path", GRADED, ids=[p.stem for p in GRADED])
def test_solution_notebook_executes_passes_its_own_checks_and_gets_full_marks(
    path, tmp_path, shared_judge
):
    # One copy is graded and compared with: the lesson as it was when the test started.
    lesson = tmp_path / "lesson" / path.name
    lesson.parent.mkdir()
    lesson.write_bytes(path.read_bytes())
    options = grading.GradeOptions(
        timeout=LESSON_TIMEOUT, cell_timeout=CELL_TIMEOUT, fast=True, executed_dir=tmp_path
    )
    with KernelPeak() as sampler:
        grade = grading.grade_notebook(
            Submission(lesson, "solution", path.stem), lesson_key(lesson), options, shared_judge
        )
    solution = nbformat.read(lesson, as_version=4)
    expected = [e.number for e in notebooks.exercises(solution)]
    # The grader never fails a right answer, and finds nothing wrong with the lesson as written.
    assert [e.exercise for e in grade.exercises] == expected
    assert all(e.passed for e in grade.exercises), [e for e in grade.exercises if not e.passed]
    assert not grade.problems, grade.problems
    executed = nbformat.read(tmp_path / "solution" / path.name, as_version=4)
    cells = [c for c in executed.cells if GRADER_TAG not in c.metadata.get("tags", [])]
    code = [c for c in cells if c.cell_type == "code"]
    assert len(code) == sum(c.cell_type == "code" for c in solution.cells), (
        "every cell of the lesson ran"
    )
    raised = {
        c.source.splitlines()[0]: _errors(c)
        for c in code
        if _errors(c) and "raises-exception" not in c.metadata.get("tags", [])
    }
    assert not raised, raised
    # The memory watchdog: the kernel and all it starts, at their largest. A kernel that has
    # imported TensorFlow is far above 100 MB, so a smaller figure means nothing was measured.
    peak = sampler.peak
    assert peak.bytes > 100_000_000, f"peak not measured: {peak}"
    assert peak.bytes <= memory.BUDGET_BYTES, (
        f"{path.stem} peaked at {peak}, over the {memory.gb_label(memory.BUDGET_BYTES)} budget"
    )
    # A graded kernel has no checks: each check cell ran on the stand-in, which says so (the
    # checks themselves judged the answers in the judge, above)
    shown = [
        re.findall(r"Exercise (\d+\.\d+) is checked by the grader", o["data"]["text/plain"])
        for c in code
        for o in c.get("outputs", [])
        if "text/plain" in o.get("data", {})
    ]
    assert [n for found in shown for n in found] == expected, "every check cell ran, in order"
    assert not record.read_outputs(cells, record.CHECK_MIME), "no check ran in the kernel"
    metrics = [record.Metric(**m) for m in record.read_outputs(cells, record.METRIC_MIME)]
    assert any(m.headline for m in metrics), (
        "each lesson records a headline figure with record.metric"
    )


def test_make_course_runs_a_lesson_with_papermill_and_reads_its_results(tmp_path, monkeypatch):
    """`make course`'s path on lesson 01: papermill, its memory sampler, the report's reading."""
    monkeypatch.setenv("COURSE_FAST", "1")  # the kernel inherits it
    path = ROOT / "solutions" / f"{RUN_BY_PAPERMILL}.ipynb"
    run = runner.execute_lesson(path, tmp_path, timeout=CELL_TIMEOUT)
    assert run.ok, "\n".join([run.error, *run.details, f"log: {run.log}"])
    assert run.peak is not None and 100_000_000 < run.peak.bytes <= memory.BUDGET_BYTES, run.peak
    nb = nbformat.read(run.output, as_version=4)
    expected = [e.number for e in notebooks.exercises(nbformat.read(path, as_version=4))]
    assert [r["exercise"] for r in record.read_outputs(nb.cells, record.CHECK_MIME)] == expected
    assert run.headline is not None and not run.failed_checks


def test_lesson_01_runs_without_importing_tensorflow(tmp_path, monkeypatch):
    """Pixels need NumPy and Pillow only: lesson 01's kernel starts fast and stays small."""
    from nbclient import NotebookClient

    monkeypatch.setenv("COURSE_FAST", "1")  # the kernel inherits it
    nb = nbformat.read(ROOT / "solutions" / "01_pixels.ipynb", as_version=4)
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import sys\nprint(sorted({'tensorflow', 'keras'} & set(sys.modules)))"
        )
    )
    client = NotebookClient(
        nb,
        kernel_name=KERNEL_NAME,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(ROOT)}},
    )
    client.execute()
    # A kernel may send one print in several stream messages: their text together
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    assert printed == "[]\n"
