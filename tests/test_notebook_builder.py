"""The student notebooks are built from the solutions by replacing marked regions."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_lib.config import KERNEL_NAME
from course_lib.tools import notebooks


def _solution(*cells):
    return new_notebook(cells=list(cells))


def test_solution_region_is_replaced_by_raise_at_the_same_indent():
    nb = _solution(
        new_markdown_cell("### Exercise 2.1 — Normalise the batch"),
        new_code_cell(
            "def f(x):\n    ### BEGIN SOLUTION\n    return x / 255\n    ### END SOLUTION\n"
        ),
    )
    student = notebooks.make_student_notebook(nb)
    source = student.cells[1].source
    assert "return x / 255" not in source
    assert "BEGIN SOLUTION" not in source
    assert '    raise NotImplementedError("Exercise 2.1: Normalise the batch")' in source
    compile(source, "<cell>", "exec")  # still valid Python


def test_code_outside_the_markers_is_kept():
    nb = _solution(
        new_markdown_cell("### Exercise 1.4 — Count"),
        new_code_cell("before = 1\n### BEGIN SOLUTION\nsecret = 2\n### END SOLUTION\nafter = 3"),
    )
    source = notebooks.make_student_notebook(nb).cells[1].source
    assert source.splitlines() == [
        "before = 1",
        'raise NotImplementedError("Exercise 1.4: Count")',
        "after = 3",
    ]


def test_exercise_and_check_cells_are_tagged_raises_exception_and_others_not():
    nb = _solution(
        new_code_cell("x = 1"),
        new_markdown_cell("### Exercise 1.1 — Gray"),
        new_code_cell("### BEGIN SOLUTION\ng = 1\n### END SOLUTION"),
        new_code_cell("checks.exercise_1_1(g)"),
        new_code_cell("y = 2"),
    )
    student = notebooks.make_student_notebook(nb)
    tags = [c.metadata.get("tags", []) for c in student.cells]
    assert "raises-exception" in tags[2] and "raises-exception" in tags[3]
    assert "raises-exception" not in tags[0] and "raises-exception" not in tags[4]


def test_solution_notebook_is_left_untouched():
    nb = _solution(
        new_markdown_cell("### Exercise 1.1 — A"),
        new_code_cell("### BEGIN SOLUTION\na = 1\n### END SOLUTION"),
    )
    notebooks.make_student_notebook(nb)
    assert "a = 1" in nb.cells[1].source


@pytest.mark.parametrize(
    "source",
    [
        "### BEGIN SOLUTION\na = 1",
        "a = 1\n### END SOLUTION",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
    ],
)
def test_unbalanced_markers_are_an_error(source):
    nb = _solution(new_markdown_cell("### Exercise 1.1 — A"), new_code_cell(source))
    with pytest.raises(notebooks.NotebookSourceError):
        notebooks.make_student_notebook(nb)


def test_solution_before_any_exercise_heading_is_an_error():
    nb = _solution(new_code_cell("### BEGIN SOLUTION\na = 1\n### END SOLUTION"))
    with pytest.raises(notebooks.NotebookSourceError, match="Exercise"):
        notebooks.make_student_notebook(nb)


def test_strip_outputs_removes_outputs_counts_and_run_metadata_and_sets_kernel():
    cell = new_code_cell("1 + 1", execution_count=3)
    cell.outputs = [
        nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=3)
    ]
    cell.metadata["execution"] = {"iopub.status.busy": "now"}
    nb = _solution(cell)
    nb.metadata["papermill"] = {"duration": 1}
    stripped = notebooks.strip_outputs(nb)
    assert stripped.cells[0].outputs == [] and stripped.cells[0].execution_count is None
    assert "execution" not in stripped.cells[0].metadata and "papermill" not in stripped.metadata
    assert stripped.metadata["kernelspec"]["name"] == KERNEL_NAME


def test_build_writes_then_reports_nothing_to_do_and_detects_drift(tmp_path):
    solutions, student = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    nb = _solution(
        new_markdown_cell("### Exercise 9.1 — A"),
        new_code_cell("### BEGIN SOLUTION\na = 1\n### END SOLUTION"),
    )
    nbformat.write(nb, solutions / "09_demo.ipynb")
    assert [p.name for p in notebooks.build_student_notebooks(solutions, student).written] == [
        "09_demo.ipynb"
    ]
    assert notebooks.build_student_notebooks(solutions, student, check=True).written == []
    (student / "09_demo.ipynb").write_text(
        (student / "09_demo.ipynb").read_text().replace("raise", "pass;")
    )
    assert notebooks.build_student_notebooks(solutions, student, check=True).written
    (student / "10_orphan.ipynb").write_text("{}")
    assert [p.name for p in notebooks.build_student_notebooks(solutions, student).stale] == [
        "10_orphan.ipynb"
    ]


# ---- Colab: badge under the title, set-up cell first among the code cells ----------------


def _lesson():
    return _solution(
        new_markdown_cell("# Lesson 09 — Demo\n\nWhat it teaches."),
        new_code_cell("SEED = 1", metadata={"tags": ["parameters"]}),
        new_markdown_cell("### Exercise 9.1 — A"),
        new_code_cell("### BEGIN SOLUTION\na = 1\n### END SOLUTION"),
    )


def test_student_notebook_gets_the_colab_badge_under_its_title_and_the_setup_cell_first():
    student = notebooks.make_student_notebook(_lesson(), "09_demo.ipynb", "me/course")
    title = student.cells[0].source
    assert title.startswith("# Lesson 09 — Demo\n\n[![Open In Colab]")
    assert (
        "(https://colab.research.google.com/github/me/course/blob/main/notebooks/09_demo.ipynb)"
        in title
    )
    assert title.endswith("\n\nWhat it teaches.")
    code = [c for c in student.cells if c.cell_type == "code"]
    assert code[0].id == notebooks.COLAB_CELL_ID and code[0].metadata["tags"] == ["colab"]
    assert code[1].metadata["tags"] == ["parameters"], "papermill still finds its parameters"
    assert "git+https://github.com/me/course" in code[0].source
    assert len({c.id for c in student.cells}) == len(student.cells)


def test_without_a_repository_the_student_notebook_has_no_colab_additions():
    student = notebooks.make_student_notebook(_lesson())
    assert "colab" not in nbformat.writes(student).lower()


def _run_colab_cell(monkeypatch, capsys, on_colab):
    import subprocess
    import sys
    import types

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: calls.append((args, kw)))
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(notebooks.colab_setup_source("me/course"), "<colab cell>", "exec"), {})
    return calls, capsys.readouterr()


def test_colab_cell_does_nothing_and_prints_nothing_off_colab(monkeypatch, capsys):
    calls, printed = _run_colab_cell(monkeypatch, capsys, on_colab=False)
    assert calls == [] and printed.out == "" and printed.err == ""


def test_colab_cell_installs_the_course_pinning_the_installed_tensorflow_keras_numpy(
    monkeypatch, capsys
):
    from importlib import metadata

    calls, _ = _run_colab_cell(monkeypatch, capsys, on_colab=True)
    (install, install_kw), (download, download_kw) = calls
    assert install[1:5] == ["-m", "pip", "install", "--quiet"]
    assert install[5] == "course-lib @ git+https://github.com/me/course", "no [tf] extra"
    kept = dict(arg.split("==") for arg in install[6:])
    for dist in ("keras", "numpy"):
        assert kept[dist] == metadata.version(dist)
    installed_tf = [d for d in ("tensorflow", "tensorflow-cpu") if d in kept]
    assert installed_tf and all(kept[d] == metadata.version(d) for d in installed_tf)
    assert download[1:] == ["-m", "course_lib.tools.cli", "download", "fashion-mnist"]
    assert install_kw == download_kw == {"check": True}


def test_build_takes_the_colab_links_from_the_repository_setting(tmp_path):
    solutions, student = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    nbformat.write(_lesson(), solutions / "09_demo.ipynb")
    notebooks.build_student_notebooks(solutions, student, repository="someone/fork")
    text = (student / "09_demo.ipynb").read_text()
    assert "github/someone/fork/blob/main/notebooks/09_demo.ipynb" in text
    assert "git+https://github.com/someone/fork" in text


def test_student_notebooks_are_as_ruff_format_writes_them(tmp_path):
    # `make lint` checks notebooks/ with `ruff format --check`: what the builder adds (the
    # raise lines, short and long, and the Colab cell) must already be formatted.
    long_title = "An augmentation for clothes that switches itself off when it is not training"
    solution = _solution(
        new_markdown_cell("# Lesson 09 — Demo"),
        new_code_cell("import numpy as np"),
        new_markdown_cell("### Exercise 9.1 — It's short"),
        new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
        new_markdown_cell(f"### Exercise 9.2 — {long_title}"),
        new_code_cell(
            "class A:\n    def f(self, x):\n        ### BEGIN SOLUTION\n        return x\n"
            "        ### END SOLUTION"
        ),
    )
    solutions, student = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    nbformat.write(solution, solutions / "09_demo.ipynb")
    repository = "a-rather-long-organisation-name/image-classification-course"
    notebooks.build_student_notebooks(solutions, student, repository=repository)
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run(
        [str(ruff), "format", "--check", "--diff", "--line-length", "100", str(student)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = (student / "09_demo.ipynb").read_text()
    assert long_title in text and repository in text
