"""The grader's parts that need no kernel: layouts, answer keys, findings, tables."""

import dataclasses
import functools
import os
import types
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from course_lib.tools.grading import (
    analysis,
    kernel_check,
    kernel_code,
    notebook_grade,
    submissions,
    tables,
)
from course_lib.tools.grading.kernel_fingerprint import fingerprint, made_here
from course_lib.tools.grading.kernel_setup import kernel_env
from course_lib.tools.grading.notebook_grade import ExerciseResult, GradeOptions, NotebookGrade
from course_lib.tools.grading.submissions import ExerciseKey, LessonKey, Submission

LESSONS = ["01_pixels", "02_pipelines", "03_cnn_layers"]
KEY = LessonKey(
    "01_pixels",
    (
        ExerciseKey("1.1", "Grey", "checks.exercise_1_1(to_grayscale)"),
        ExerciseKey("1.2", "Mirror", "checks.exercise_1_2(mirror)"),
    ),
)


def _touch(path, text="{}"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_students_and_lessons_come_from_folders_or_file_names(tmp_path):
    for name in (
        "alice/01_pixels.ipynb",
        "alice/week 2/02_pipelines.ipynb",
        "bob_01_pixels.ipynb",
        "carol-02_pipelines (1).ipynb",
        "dan.03_CNN_layers.ipynb",
        "erin_01_pixel.ipynb",
        "alice/.ipynb_checkpoints/01_pixels-checkpoint.ipynb",
        "__MACOSX/x_01_pixels.ipynb",
    ):
        _touch(tmp_path / name)
    found = {
        (s.student, s.lesson, s.path.name) for s in submissions.find_submissions(tmp_path, LESSONS)
    }
    assert found == {
        ("alice", "01_pixels", "01_pixels.ipynb"),
        ("alice", "02_pipelines", "02_pipelines.ipynb"),
        ("bob", "01_pixels", "bob_01_pixels.ipynb"),
        ("carol", "02_pipelines", "carol-02_pipelines (1).ipynb"),
        ("dan", "03_cnn_layers", "dan.03_CNN_layers.ipynb"),
        ("erin", "01_pixels", "erin_01_pixel.ipynb"),  # a lesson number alone is enough
    }


def test_the_lesson_falls_back_to_the_notebook_title_and_otherwise_stays_unknown(tmp_path):
    titled = new_notebook(cells=[new_markdown_cell("# Lesson 3 — CNN layers")])
    _touch(tmp_path / "frank" / "homework.ipynb", nbformat.writes(titled))
    _touch(tmp_path / "frank" / "scratch.ipynb", nbformat.writes(new_notebook()))
    _touch(tmp_path / "frank" / "broken.ipynb", "{not json")
    _touch(tmp_path / "frank" / "cells.ipynb", '{"cells": {"x": 1}}')
    _touch(tmp_path / "frank" / "deep.ipynb", "[" * 200_000 + "]" * 200_000)
    found = [(s.path.name, s.lesson) for s in submissions.find_submissions(tmp_path, LESSONS)]
    assert found == [
        ("homework.ipynb", "03_cnn_layers"),
        ("broken.ipynb", ""),
        ("cells.ipynb", ""),
        ("deep.ipynb", ""),
        ("scratch.ipynb", ""),
    ]


def test_a_file_name_that_is_not_utf8_is_written_to_the_tables_escaped(tmp_path, monkeypatch):
    name = os.fsdecode(b"\xff\xfe_02_pipelines.ipynb")
    _touch(tmp_path / "in" / name, "not json")
    (grade,) = _graded_offline(
        tmp_path,
        monkeypatch,
        tmp_path / "in",
        lambda submission, *args, **kwargs: NotebookGrade(submission, problems=["not JSON"]),
    )
    rows = tables.rows_of([grade])
    text = tables.grades_csv(rows)
    text.encode("utf-8")  # what the command writes
    assert "\\xff\\xfe" in text


def test_a_name_spelled_composed_or_decomposed_is_one_student(tmp_path):
    _touch(tmp_path / "Zo\u00eb" / "01_pixels.ipynb")
    _touch(tmp_path / "Zoe\u0308" / "02_pipelines.ipynb")
    _touch(tmp_path / "Zoe\u0308_03_cnn_layers.ipynb")
    found = submissions.find_submissions(tmp_path, LESSONS)
    assert [(s.student, s.lesson) for s in found] == [
        ("Zo\u00eb", "01_pixels"),
        ("Zo\u00eb", "02_pipelines"),
        ("Zo\u00eb", "03_cnn_layers"),
    ]


@pytest.mark.timeout(60)
def test_pipes_and_links_to_them_are_never_read_while_finding_submissions(tmp_path):
    (tmp_path / "ann").mkdir()
    os.mkfifo(tmp_path / "ann" / "02_pipelines.ipynb")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "homework.ipynb").symlink_to(tmp_path / "ann" / "02_pipelines.ipynb")
    found = [
        (s.student, s.lesson, s.not_graded) for s in submissions.find_submissions(tmp_path, LESSONS)
    ]
    assert found == [
        ("ann", "", "not a regular file (a pipe or a device)"),
        ("bob", "", ""),  # not a lesson; grading would refuse the link
    ]


def test_a_folder_named_like_a_notebook_is_searched_not_graded(tmp_path):
    _touch(tmp_path / "gina_02_pipelines.ipynb" / "02_pipelines.ipynb")
    found = [(s.student, s.path.name) for s in submissions.find_submissions(tmp_path, LESSONS)]
    assert found == [("gina_02_pipelines.ipynb", "02_pipelines.ipynb")]


def test_files_that_are_not_notebooks_and_folders_not_followed_get_a_row_each(
    tmp_path, monkeypatch
):
    folder = tmp_path / "in"
    outside = tmp_path / "outside"
    _touch(outside / "02_pipelines.ipynb")
    for name in (
        "ann/02_pipelines.ipynb",
        "ann/02_pipelines.py",
        "ann/Thumbs.db",
        "ann/02_pipelines.ipynb:Zone.Identifier",
        "ann/.ipynb_checkpoints/02_pipelines-checkpoint.ipynb",
        "bob_02_pipelines.zip",
        "cat/02_Pipelines.IPYNB",
        "dan/02_pipelines.ipynb",
        ".DS_Store",
        "__MACOSX/ann/._02_pipelines.ipynb",
    ):
        _touch(folder / name)
    (folder / "eve").symlink_to(outside, target_is_directory=True)
    real_scandir = os.scandir

    def scandir(path="."):  # dan's folder as a system would refuse it (root reads anything)
        if os.fspath(path).endswith("dan"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    progress = []
    monkeypatch.setattr(tables, "Judge", lambda snapshot=None, lazy_imports=False: None)
    monkeypatch.setattr(tables, "grade_notebook", lambda s, *a, **k: NotebookGrade(s))
    solutions = tmp_path / "solutions"
    _touch(solutions / "02_pipelines.ipynb", nbformat.writes(_solution()))
    grades = tables.grade_folder(folder, solutions, GradeOptions(), progress=progress.append)
    rows = [(r.student, r.lesson, r.message) for r in tables.rows_of(grades)]
    assert rows == [
        ("ann", "?", "02_pipelines.py: not a notebook, only .ipynb files are graded"),
        (
            "bob",
            "?",
            "bob_02_pipelines.zip: not a notebook, only .ipynb files are graded; "
            "unpack the archive first",
        ),
        ("dan", "?", "dan: a folder the grader may not read (Permission denied)"),
        ("eve", "?", "eve: a link to a folder, not followed; hand in the notebooks themselves"),
    ]
    graded = [(g.submission.student, g.submission.path.name) for g in grades if not g.problems]
    assert graded == [("ann", "02_pipelines.ipynb"), ("cat", "02_Pipelines.IPYNB")]
    assert "[1/6] ann/02_pipelines.ipynb ..." in progress
    assert (
        "[2/6] ann/02_pipelines.py: not graded, not a notebook, only .ipynb files are graded"
        in progress
    )


def _graded_offline(tmp_path, monkeypatch, folder, grade=None, options=None, progress=None):
    """grade_folder over ``folder`` against a one-exercise lesson 02, no kernel and no judge."""
    monkeypatch.setattr(tables, "Judge", lambda snapshot=None, lazy_imports=False: None)
    monkeypatch.setattr(
        tables,
        "grade_notebook",
        grade or (lambda submission, *args, **kwargs: NotebookGrade(submission)),
    )
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    nbformat.write(
        _solution(
            new_markdown_cell("### Exercise 2.1 — Do"), new_code_cell("checks.exercise_2_1(x)")
        ),
        solutions / "02_pipelines.ipynb",
    )
    options = options or GradeOptions()
    shown = progress.append if progress is not None else lambda _: None
    return tables.grade_folder(folder, solutions, options, progress=shown)


def test_a_notebook_graded_without_a_run_counts_out_of_its_lesson_s_exercises(
    tmp_path, monkeypatch
):
    """The console line says 0/1, as summary.csv does, not 0/0 (a wrong or empty notebook)."""
    _touch(tmp_path / "in" / "ann" / "02_pipelines.ipynb", nbformat.writes(new_notebook()))

    def not_run(submission, *args, **kwargs):
        grade = NotebookGrade(submission)
        grade.problems.append("the notebook is empty: it has no cells, or only blank ones")
        return grade

    progress = []
    _graded_offline(tmp_path, monkeypatch, tmp_path / "in", not_run, progress=progress)
    assert "    0/1 passed in 0 s, 1 note(s)" in progress


def test_a_notebook_that_breaks_the_grader_gets_a_note_and_the_run_goes_on(tmp_path, monkeypatch):
    for student in ("ann", "ben"):
        _touch(tmp_path / "in" / student / "02_pipelines.ipynb", nbformat.writes(new_notebook()))

    def grade(submission, *args, **kwargs):
        if submission.student == "ann":
            raise RuntimeError("something no one foresaw")
        return NotebookGrade(submission)

    graded = _graded_offline(tmp_path, monkeypatch, tmp_path / "in", grade)
    assert [g.submission.student for g in graded] == ["ann", "ben"]
    assert graded[0].problems == [
        "the grader could not grade this notebook (RuntimeError: something no one foresaw); "
        "no exercise was credited"
    ]
    assert graded[1].problems == []


def test_a_lesson_told_from_the_title_alone_is_noted(tmp_path, monkeypatch):
    titled = new_notebook(cells=[new_markdown_cell("# Lesson 2 — Pipelines")])
    _touch(tmp_path / "in" / "frank_10_extra.ipynb", nbformat.writes(titled))
    (grade,) = _graded_offline(tmp_path, monkeypatch, tmp_path / "in")
    assert grade.submission.lesson == "02_pipelines"
    assert grade.problems == [
        "the file name frank_10_extra.ipynb names no lesson of this course; graded as "
        "02_pipelines, the lesson its title names"
    ]


def test_a_top_level_file_without_a_student_name_is_named_after_itself(tmp_path):
    _touch(tmp_path / "01_pixels.ipynb")
    (found,) = submissions.find_submissions(tmp_path, LESSONS)
    assert (found.student, found.lesson) == ("01_pixels", "01_pixels")


def _solution(*cells):
    return new_notebook(cells=[new_markdown_cell("# Lesson 09 — Test"), *cells])


def test_answer_key_takes_each_check_expression_from_the_solution(tmp_path):
    nb = _solution(
        new_markdown_cell("### Exercise 9.1 — Add"),
        new_code_cell("x = 1"),
        new_code_cell("checks.exercise_9_1(x, y_train)\n"),
        new_markdown_cell("### Exercise 9.2 — Sub"),
        new_code_cell("checks.exercise_9_2(f)"),
    )
    nbformat.write(nb, tmp_path / "09_test.ipynb")
    keys = submissions.answer_keys(tmp_path)
    assert keys["09_test"] == LessonKey(
        "09_test",
        (
            ExerciseKey("9.1", "Add", "checks.exercise_9_1(x, y_train)"),
            ExerciseKey("9.2", "Sub", "checks.exercise_9_2(f)"),
        ),
    )


@pytest.mark.parametrize(
    "check_cell, problem",
    [
        ("print(1)", "has no check cell"),
        ("r = checks.exercise_9_1(x)\nprint(r)", "must be a single expression"),
    ],
)
def test_answer_key_refuses_exercises_it_could_not_grade(tmp_path, check_cell, problem):
    nb = _solution(new_markdown_cell("### Exercise 9.1 — Add"), new_code_cell(check_cell))
    nbformat.write(nb, tmp_path / "09_test.ipynb")
    with pytest.raises(submissions.AnswerKeyError, match=problem):
        submissions.answer_keys(tmp_path)


@pytest.mark.parametrize(
    "text, reason",
    [
        ('{"cells": [', "not valid JSON (Expecting value at line 1, column 12)"),
        ("", "an empty file: the notebook was not saved, or not uploaded"),
        (" \n", "an empty file: the notebook was not saved, or not uploaded"),
        ("[1, 2]", "JSON, but not a notebook (no cells)"),
        (
            '{"cells": 3, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
            "not a valid notebook (its cells are not a list)",
        ),
        (
            '{"cells": [{"cell_type": "widget"}], "metadata": {}, '
            '"nbformat": 4, "nbformat_minor": 5}',
            "not a valid notebook (cell 1 has no known type)",
        ),
    ],
)
def test_unreadable_notebooks_give_a_short_reason(tmp_path, text, reason):
    (tmp_path / "x.ipynb").write_text(text)
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        analysis.read_notebook(tmp_path / "x.ipynb")


def test_notebooks_from_other_editors_are_read_even_when_not_schema_perfect(tmp_path):
    # No cell ids, no metadata, no outputs: nbformat's schema says no, Jupyter runs it.
    text = (
        '{"cells": [{"cell_type": "code", "source": ["x = 1\\n", "y = 2"]}], '
        '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    )
    (tmp_path / "x.ipynb").write_text(text)
    nb = analysis.read_notebook(tmp_path / "x.ipynb")
    assert nb.cells[0].source == "x = 1\ny = 2" and nb.cells[0].outputs == []


def test_fields_a_cell_type_does_not_have_are_dropped_so_the_layout_can_be_read(tmp_path):
    # A student's notebook: a markdown cell with "outputs" (and a stray field) opens in
    # every editor, but failed nbformat's validation later and stopped the whole run.
    text = (
        '{"cells": [{"cell_type": "markdown", "source": "### Exercise 1.1 \u2014 Grey", '
        '"outputs": [], "execution_count": 3, "x": 1}, '
        '{"cell_type": "code", "source": "x = 1", "attachments": {}}], '
        '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    )
    (tmp_path / "x.ipynb").write_text(text)
    nb = analysis.read_notebook(tmp_path / "x.ipynb")
    assert set(nb.cells[0]) == {"cell_type", "id", "source", "metadata"}
    assert "attachments" not in nb.cells[1]
    nbformat.validate(nb)
    key = LessonKey("01_pixels", (ExerciseKey("1.1", "Grey", "checks.exercise_1_1(f)"),))
    assert analysis.Layout.of(nb, key).headings == {"1.1": "Grey"}


def test_a_notebook_saved_with_a_byte_order_mark_is_read(tmp_path):
    text = (
        '{"cells": [{"cell_type": "code", "source": "x = 1"}], '
        '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    )
    (tmp_path / "x.ipynb").write_text(text, encoding="utf-8-sig")
    assert analysis.read_notebook(tmp_path / "x.ipynb").cells[0].source == "x = 1"


def test_a_notebook_the_grader_may_not_read_gets_a_short_reason(tmp_path, monkeypatch):
    (tmp_path / "x.ipynb").write_text("{}")
    (tmp_path / "x.ipynb").chmod(0)  # and, as root reads it anyway, as the system would say

    def refused(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", refused)
    with pytest.raises(ValueError, match=r"^the grader may not read this file \(permission"):
        analysis.read_notebook(tmp_path / "x.ipynb")


@pytest.mark.parametrize("cells", [[], [new_code_cell(""), new_markdown_cell(" \n")]])
def test_a_notebook_with_no_cells_is_called_empty_and_not_run(tmp_path, cells):
    from course_lib.tools.grading.execute import grade_notebook

    nbformat.write(new_notebook(cells=cells), tmp_path / "01_pixels.ipynb")
    submission = Submission(tmp_path / "01_pixels.ipynb", "ann", "01_pixels")
    grade = grade_notebook(submission, KEY, GradeOptions(snapshot=types.SimpleNamespace()))
    assert grade.problems == ["the notebook is empty: it has no cells, or only blank ones"]
    assert grade.exercises == []


def test_a_submission_that_is_a_link_to_another_file_is_not_read(tmp_path):
    key = tmp_path / "answers.ipynb"
    key.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    (tmp_path / "x.ipynb").symlink_to(key)
    with pytest.raises(ValueError, match="a link to another file"):
        analysis.read_notebook(tmp_path / "x.ipynb")


def test_a_notebook_of_the_old_format_3_is_converted_not_refused(tmp_path):
    from nbformat import v3

    old = v3.new_notebook(worksheets=[v3.new_worksheet(cells=[v3.new_code_cell("x = 1")])])
    (tmp_path / "x.ipynb").write_text(v3.writes_json(old))
    nb = analysis.read_notebook(tmp_path / "x.ipynb")
    assert nb.nbformat == 4 and nb.cells[0].source == "x = 1"


def _student_nb():
    return new_notebook(
        cells=[
            new_code_cell("import numpy as np"),
            new_markdown_cell("### Exercise 1.1 — Grey"),
            new_code_cell("def to_grayscale(p):\n    raise NotImplementedError"),
            new_code_cell("checks.exercise_1_1(to_grayscale)"),
            new_markdown_cell("Some narrative."),
            new_code_cell("plot_everything()  # a long line that will be shortened in messages"),
            new_markdown_cell("### Exercise 1.2 — Mirror"),
            new_code_cell("checks.exercise_1_2(lambda image: image)"),
        ]
    )


def _error(ename, evalue):
    return new_code_cell(outputs=[new_output("error", ename=ename, evalue=evalue, traceback=[])])


def test_layout_finds_exercise_cells_and_errors_outside_them():
    layout = analysis.Layout.of(_student_nb(), KEY)
    assert layout.region == {2: "1.1", 3: "1.1", 7: "1.2"}
    assert layout.check_points() == {3: ["1.1"], 7: ["1.2"]}
    layout.record_outputs(3, _error("NameError", "name 'x' is not defined"))
    layout.record_outputs(5, _error("NameError", "\x1b[0;31mname 'plot_everything' is not defined"))
    layout.record_outputs(0, _error("ImportError", "no numpy"))
    assert layout.errors_outside_exercises() == [
        'cell 1 ("import numpy as np") raised ImportError: no numpy, outside the exercises; '
        "1 more cell outside the exercises raised an error too"
    ]
    assert layout.describe(5) == 'cell 6 ("plot_everything()  # a long line that w…")'
    assert layout.exercise_trouble("1.1") == (
        "the check cell raised NameError: name 'x' is not defined (cells run from top to "
        "bottom: is the answer defined in a cell below its check, or not at all?)"
    )
    layout.record_outputs(2, _error("ValueError", "bad"))
    assert layout.exercise_trouble("1.1") == "the exercise cell raised ValueError: bad"
    layout.timed_out.add(7)
    assert layout.exercise_trouble("1.2") == "the exercise's cells timed out"


def test_deleted_and_changed_check_cells_are_reported():
    problems = analysis.Layout.of(_student_nb(), KEY).check_cell_problems()
    assert problems == [
        "the check cell of exercise 1.2 was changed; the grader ran the original check"
    ]
    nb = _student_nb()
    del nb.cells[3]
    assert analysis.Layout.of(nb, KEY).check_cell_problems()[0] == (
        "the check cell of exercise 1.1 was deleted; the grader ran the check itself"
    )


def test_headings_from_another_version_of_the_lesson_are_named():
    assert analysis.Layout.of(_student_nb(), KEY).outdated_headings() == []
    nb = _student_nb()
    nb.cells[6] = new_markdown_cell("### Exercise 1.2 — Build  the REQUEST body")
    nb.cells.append(new_markdown_cell("### Exercise 1.3 — Dequantize"))
    problems = analysis.Layout.of(nb, KEY).outdated_headings()
    assert problems == [
        "exercise 1.2 is 'Build  the REQUEST body' in this notebook but 'Mirror' in the current "
        "lesson: the notebook comes from another version of it, and its answer was checked "
        "against the current task",
        "exercise 1.3 ('Dequantize') is not in the current lesson: the notebook comes from "
        "another version of it",
    ]
    nb.cells[6] = new_markdown_cell(
        "### Exercise 1.2 —  mirror "
    )  # spacing and case are not a version
    assert len(analysis.Layout.of(nb, KEY).outdated_headings()) == 1


def test_a_notebook_of_another_lesson_is_named_so_in_one_note():
    nb = _student_nb()
    nb.cells[1] = new_markdown_cell("### Exercise 2.1 — A map function")
    nb.cells[6] = new_markdown_cell("### Exercise 2.2 — Build the pipeline")
    assert analysis.Layout.of(nb, KEY).outdated_headings() == [
        "exercises 2.1, 2.2 are lesson 02's, not 01_pixels's: the notebook is another lesson's, "
        "graded as 01_pixels because of its file name"
    ]


def test_a_notebook_of_another_lesson_is_not_run_and_says_why(tmp_path, monkeypatch):
    from course_lib.tools.grading import execute

    def no_kernel(*args, **kwargs):
        raise AssertionError("a kernel was started for a notebook of another lesson")

    monkeypatch.setattr(execute, "_KernelRun", no_kernel)
    nb = _student_nb()
    nb.cells[1] = new_markdown_cell("### Exercise 2.1 — A map function")
    nb.cells[6] = new_markdown_cell("### Exercise 2.2 — Build the pipeline")
    path = tmp_path / "01_pixels.ipynb"
    nbformat.write(nb, path)
    grade = execute.grade_notebook(Submission(path, "ann", "01_pixels"), KEY, GradeOptions())
    assert grade.exercises == []
    assert grade.problems == [
        "exercises 2.1, 2.2 are lesson 02's, not 01_pixels's: the notebook is another lesson's, "
        "graded as 01_pixels because of its file name",
        "the notebook was not run: none of its exercises is 01_pixels's (hand in that lesson's "
        "notebook)",
    ]
    # One heading of this lesson among them: the notebook runs as any other.
    nb.cells[1] = new_markdown_cell("### Exercise 1.1 — Grey")
    assert not analysis.Layout.of(nb, KEY).is_another_lessons()
    assert not analysis.Layout.of(
        new_notebook(cells=[new_code_cell("1")]), KEY
    ).is_another_lessons()


@pytest.mark.parametrize(
    "payload, expected",
    [
        ({"status": "passed", "message": "well done."}, (True, "well done.")),
        ({"status": "failed", "message": "upside down."}, (False, "upside down.")),
        (
            {"status": "timeout", "message": "30"},
            (False, "check did not run: it did not finish within 30 s"),
        ),
        (
            {"status": "error", "message": "NameError: x"},
            (False, "check did not run: NameError: x"),
        ),
        (None, (False, "check did not run: the grader cell gave no result")),
    ],
)
def test_exercise_results_never_credit_a_check_that_did_not_pass(payload, expected):
    layout = analysis.Layout.of(_student_nb(), KEY)
    assert analysis.exercise_result(KEY.exercises[1], payload, layout) == expected


def test_a_stopped_kernel_is_named_in_every_check_that_did_not_run():
    layout = analysis.Layout.of(_student_nb(), KEY)
    assert analysis.exercise_result(KEY.exercises[0], None, layout, "the kernel died") == (
        False,
        "check did not run: the kernel died",
    )


def test_tampering_is_any_change_to_numpy_or_builtins_and_notebook_code_in_hooks():
    before = {
        "entries": {
            "numpy.mean": [1, False],
            "numpy.sum": [2, False],
            "builtins.input": [3, False],
            "sys.excepthook": [4, False],
            "ipython.events.pre_run_cell": [5, False],
        },
        "threads": [],
    }
    after = {
        "entries": {
            "numpy.mean": [9, True],
            "numpy.sum": [8, False],  # np.sum = np.prod
            "builtins.input": [7, False],  # ipykernel does this for every cell
            "sys.excepthook": [6, False],  # a library's hook
            "ipython.events.pre_run_cell": [5, True],
        },  # unchanged
        "threads": ["Thread-1 (spy)"],
    }
    assert analysis.tampering(before, after, "the notebook") == [
        "tampering: the notebook changed numpy.mean, numpy.sum",
        "tampering: threads started by the notebook are still running (Thread-1 (spy))",
    ]
    after["entries"]["ipython.events.pre_run_cell"] = [10, True]
    assert "ipython.events.pre_run_cell" in analysis.tampering(before, after, "x")[0]
    assert analysis.tampering(before, before, "the notebook") == []
    assert analysis.tampering(before, None, "the notebook")[0].startswith("tampering:")


def _in_main(source, name):
    namespace = {"__name__": "__main__"}
    exec(compile(source, "/tmp/ipykernel_1/123.py", "exec"), namespace)
    return namespace[name]


def test_made_here_tells_notebook_code_from_library_code():
    import numpy as np

    fake = _in_main("def array_equal(a, b):\n    return True", "array_equal")
    assert made_here(fake)
    assert made_here(functools.partial(fake, 1))
    assert made_here(_in_main("class Finder:\n    pass", "Finder"))
    assert made_here(eval("lambda: 0", {"__name__": "anything"}))  # code from a string
    assert not made_here(np.array_equal)
    assert not made_here(len)
    assert not made_here(functools.partial(np.mean))
    assert not made_here([].append)


def test_replaced_names_the_course_lib_functions_and_methods_changed_in_memory():
    def module(name, **attrs):
        m = types.ModuleType(name)
        vars(m).update(attrs)
        return m

    def good(x):
        return x

    good.__module__ = "course_lib.checks.lesson01"

    class Result:
        def __bool__(self):
            return True

    Result.__module__ = "course_lib.record"
    fresh = {
        "course_lib.checks": module("course_lib.checks", exercise_1_2=good),
        "course_lib.record": module("course_lib.record", CheckResult=Result),
    }
    assert kernel_check._replaced(list(fresh.values()), fresh) == []

    class Patched:
        def __bool__(self):
            return False

    stale = [
        module("course_lib.checks", exercise_1_2=lambda x: True),
        module("course_lib.record", CheckResult=Patched),
    ]
    assert kernel_check._replaced(stale, fresh) == [
        "checks.exercise_1_2",
        "record.CheckResult.__bool__",
    ]


def test_grader_cells_read_only_the_kernel_code_entry_point():
    source = kernel_code.__file__ and open(kernel_code.__file__).read()
    assert 'if __name__ == "__course_grader__":' in source
    compile(source, "course-grader", "exec")


def test_kernel_env_puts_the_course_first_and_sets_the_mode(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.setenv("COURSE_FAST", "1")
    env = kernel_env(GradeOptions(fast=False))
    assert env["PYTHONPATH"].split(":")[1] == "/elsewhere" and "COURSE_FAST" not in env
    assert kernel_env(GradeOptions(fast=True))["COURSE_FAST"] == "1"


def _grade(student, lesson, passed, problems=(), name=None):
    grade = NotebookGrade(Submission(Path(name or f"{student}_{lesson}.ipynb"), student, lesson))
    grade.exercises = [ExerciseResult(f"1.{i + 1}", p, "m") for i, p in enumerate(passed)]
    grade.problems = list(problems)
    return grade


def test_rows_csv_and_summary(tmp_path):
    grades = [
        _grade("ann", "01_pixels", [True, False]),
        _grade("ann", "02_pipelines", [True]),
        _grade("ben", "01_pixels", [], ["could not read the notebook: not valid JSON"]),
        _grade("ben", "", [], ["not a lesson of this course: x.ipynb"]),
    ]
    rows = tables.rows_of(grades)
    assert rows[0] == tables.GradeRow("ann", "01_pixels", "1.1", True, "m")
    assert rows[-1] == tables.GradeRow(
        "ben", "?", "notebook", False, "not a lesson of this course: x.ipynb"
    )
    tables.write_grades_csv(rows, tmp_path / "grades.csv")
    assert tables.read_grades_csv(tmp_path / "grades.csv") == rows
    header, table = tables.summary(rows, {"01_pixels": 2, "02_pipelines": 3})
    assert header == ["student", "01_pixels", "02_pipelines", "total", "notes"]
    assert table == [["ann", "1/2", "1/3", "2/5", ""], ["ben", "0/2", "-", "0/2", "2"]]
    text = tables.format_summary(rows, {"01_pixels": 2, "02_pipelines": 3})
    assert text.splitlines()[2].split() == ["ann", "1/2", "1/3", "2/5"]


def test_a_lesson_handed_in_twice_counts_its_better_notebook_and_rows_say_which_is_which():
    grades = [
        _grade("ann", "02_pipelines", [False, False, True], name="02_pipelines.ipynb"),
        _grade("ann", "02_pipelines", [True, True, False], name="02_pipelines (1).ipynb"),
        _grade("ann", "01_pixels", [True]),
    ]
    rows = tables.rows_of(grades)
    twins = [r.message for r in rows if r.lesson == "02_pipelines"]
    assert twins[:3] == ["02_pipelines.ipynb: m"] * 3
    assert twins[3:] == ["02_pipelines (1).ipynb: m"] * 3
    assert [r.message for r in rows if r.lesson == "01_pixels"] == ["m"]  # handed in once
    header, table = tables.summary(rows, {"01_pixels": 1, "02_pipelines": 3})
    assert table == [["ann", "1/1", "2/3", "3/4", ""]]  # never more passes than exercises


def test_terminal_colour_codes_never_reach_the_grades():
    grade = _grade("ann", "09_your_own_photos", [False])
    grade.exercises[0].message = "your code raised ValueError: \x1b[1mInput 0\x1b[0m is wrong"
    (row,) = tables.rows_of([grade])
    assert row.message == "your code raised ValueError: Input 0 is wrong"


def test_control_and_bidi_characters_in_a_student_s_name_are_written_out_not_obeyed(tmp_path):
    name = "eve\u202etxt.exe\x07"
    grades = [_grade(name, "01_pixels", [True], name="01_pixels.ipynb")]
    grades.append(_grade(name, "01_pixels", [False], name="01_pixels\u2066 (1).ipynb"))
    rows = tables.rows_of(grades)
    assert {row.student for row in rows} == {"eve\\u202etxt.exe\\x07"}
    assert rows[1].message == "01_pixels\\u2066 (1).ipynb: m"
    tables.write_grades_csv(rows, tmp_path / "grades.csv")
    written = (tmp_path / "grades.csv").read_text(encoding="utf-8")
    assert "\u202e" not in written and "\x07" not in written and "\u2066" not in written


def test_a_student_whose_name_is_not_utf_8_handing_in_twice_gets_rows_told_apart():
    name = "b\udcffn"  # a byte of a file name that is not UTF-8, as Python keeps it
    grades = [_grade(name, "01_pixels", [True], name=n) for n in ("a.ipynb", "b.ipynb")]
    rows = tables.rows_of(grades)
    assert [row.student for row in rows] == ["b\\xffn"] * 2
    assert [row.message for row in rows] == ["a.ipynb: m", "b.ipynb: m"]


def test_cli_grade_refuses_a_missing_or_empty_folder(tmp_path, capsys):
    from course_lib.tools import cli

    assert cli.main(["grade", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err
    _touch(tmp_path / "alice_01_pixels.ipynb")
    assert cli.main(["grade", str(tmp_path / "alice_01_pixels.ipynb")]) == 2
    assert "is a file: give the folder that holds" in capsys.readouterr().err
    (tmp_path / "alice_01_pixels.ipynb").unlink()
    assert cli.main(["grade", str(tmp_path)]) == 2
    assert "no .ipynb files" in capsys.readouterr().err
    _touch(tmp_path / "submissions.zip")
    assert cli.main(["grade", str(tmp_path)]) == 2
    assert capsys.readouterr().err.endswith(
        "\n  submissions.zip: not a notebook, only .ipynb files are graded; "
        "unpack the archive first\n"
    )


def test_cli_grade_refuses_an_output_folder_that_holds_the_submissions(tmp_path, capsys):
    from course_lib.tools import cli

    _touch(tmp_path / "in" / "alice_01_pixels.ipynb")
    for output in (tmp_path / "in", tmp_path):
        args = ["grade", str(tmp_path / "in"), "--output", str(output)]
        assert cli.main(args) == 2
        assert capsys.readouterr().err == (
            f"course grade: the submissions {tmp_path / 'in'} are in the output folder "
            f"{output}: give another --output\n"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_cli_grade_says_so_of_a_folder_it_may_not_read(tmp_path, capsys, monkeypatch):
    from course_lib.tools import cli

    def scandir(path="."):  # as the system refuses a folder to all but root
        raise PermissionError(13, "Permission denied", os.fspath(path))

    monkeypatch.setattr(os, "scandir", scandir)
    assert cli.main(["grade", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"course grade: cannot read {tmp_path}: Permission denied\n"


def _cli_grade(tmp_path, monkeypatch, grade_folder):
    """`course grade` over one notebook, the grading itself ``grade_folder``'s."""
    from jupyter_client.kernelspec import KernelSpecManager

    from course_lib.tools import cli, grading

    monkeypatch.setattr(KernelSpecManager, "get_kernel_spec", lambda self, name: None)
    monkeypatch.setattr(grading, "grade_folder", grade_folder)
    _touch(tmp_path / "in" / "ann_01_pixels.ipynb")
    _touch(tmp_path / "in" / "ben_01_pixels.ipynb")
    return cli.main(["grade", str(tmp_path / "in"), "--output", str(tmp_path / "out")])


def test_a_second_run_keeps_the_first_run_s_grades_and_says_where(tmp_path, monkeypatch, capsys):
    def grade_folder(folder, solutions, options, after_each):
        options.output.write("executed/ann/ann_01_pixels.ipynb", b"{}")
        grades = [_grade("ann", "01_pixels", [True] * 4)]
        after_each(grades)
        return grades

    assert _cli_grade(tmp_path, monkeypatch, grade_folder) == 0
    first = (tmp_path / "out" / "grades.csv").read_text()
    assert "earlier" not in capsys.readouterr().out
    assert _cli_grade(tmp_path, monkeypatch, grade_folder) == 0
    (kept,) = (tmp_path / "out" / "earlier").iterdir()
    assert f"the grades of an earlier run in {tmp_path / 'out'} are kept in {kept}" in (
        capsys.readouterr().out
    )
    assert (kept / "grades.csv").read_text() == first
    assert (kept / "executed" / "ann" / "ann_01_pixels.ipynb").is_file()
    assert sorted(p.name for p in (kept).iterdir()) == ["executed", "grades.csv", "summary.csv"]
    assert (tmp_path / "out" / "grades.csv").read_text() == first


def test_once_earlier_keeps_five_runs_the_grader_says_how_much_they_hold(
    tmp_path, monkeypatch, capsys
):
    def grade_folder(folder, solutions, options, after_each):
        return [_grade("ann", "01_pixels", [True] * 4)]

    for run in range(3):  # three earlier runs kept, 1 MB each
        _touch(tmp_path / "out" / "earlier" / f"2026-01-0{run + 1}_10-00-00" / "grades.csv")
        (tmp_path / "out" / "earlier" / f"2026-01-0{run + 1}_10-00-00" / "big").write_bytes(
            b"x" * 1_000_000
        )
    assert _cli_grade(tmp_path, monkeypatch, grade_folder) == 0  # nothing to set aside yet
    assert _cli_grade(tmp_path, monkeypatch, grade_folder) == 0  # the fourth kept
    assert "earlier runs" not in capsys.readouterr().out
    assert _cli_grade(tmp_path, monkeypatch, grade_folder) == 0  # the fifth
    out = capsys.readouterr().out
    assert f"{tmp_path / 'out' / 'earlier'} keeps 5 earlier runs (3.0 MB); nothing there" in out
    assert len(list((tmp_path / "out" / "earlier").iterdir())) == 5  # none deleted


def test_an_output_folder_inside_the_submissions_is_not_graded_on_the_next_run(tmp_path):
    _touch(tmp_path / "ann_01_pixels.ipynb")
    _touch(tmp_path / "grades" / "executed" / "ann" / "ann_01_pixels.ipynb")
    _touch(tmp_path / "grades" / "grades.csv")
    found = submissions.find_submissions(tmp_path, LESSONS, tmp_path / "grades")
    assert [s.path.relative_to(tmp_path) for s in found] == [Path("ann_01_pixels.ipynb")]


def test_ctrl_c_keeps_the_grades_so_far_and_says_what_was_not_graded(tmp_path, monkeypatch, capsys):
    from course_lib.tools import cli, grading

    def grade_folder(folder, solutions, options, after_each):
        after_each([_grade("ann", "01_pixels", [True] * 4)])
        raise KeyboardInterrupt

    assert _cli_grade(tmp_path, monkeypatch, grade_folder) == 130
    err = capsys.readouterr().err
    assert err == (
        f"\ninterrupted: {tmp_path / 'out' / 'grades.csv'} and summary.csv hold the first 1 "
        "of 2 submissions; the rest were not graded\n"
    )
    assert (tmp_path / "out" / "summary.csv").read_text().splitlines()[1:] == ["ann,4/4,4/4,"]
    assert (
        (tmp_path / "out" / "INTERRUPTED.txt")
        .read_text()
        .startswith(
            "This grading run was interrupted: grades.csv and summary.csv hold the first 1 of 2 "
            f"submissions of {tmp_path / 'in'}.\n"
        )
    )
    # The next run, whole, sets the partial one aside with its mark.
    whole = [_grade("ann", "01_pixels", [True] * 4), _grade("ben", "01_pixels", [True] * 4)]
    assert _cli_grade(tmp_path, monkeypatch, lambda *args, **kwargs: whole) == 0
    assert not (tmp_path / "out" / "INTERRUPTED.txt").exists()
    (kept,) = (tmp_path / "out" / "earlier").iterdir()
    assert (kept / "INTERRUPTED.txt").is_file()

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(grading, "answer_keys", interrupted)  # before grading starts
    assert cli.main(["grade", str(tmp_path / "in")]) == 130
    assert capsys.readouterr().err == "\ncourse grade: interrupted\n"


def test_a_grading_run_shares_one_judge_process_and_stops_it_at_the_end(tmp_path, monkeypatch):
    started, closed, given = [], [], []

    class FakeJudge:
        def __init__(self, snapshot=None, lazy_imports=False):
            started.append(self)

        def close(self):
            closed.append(self)

    def fake_grade(submission, key, options, judge_process=None):
        given.append((submission.student, key.lesson, judge_process))
        if submission.student == "dan":  # the instructor presses Ctrl-C
            raise KeyboardInterrupt
        return NotebookGrade(submission)

    monkeypatch.setattr(tables, "Judge", FakeJudge)
    monkeypatch.setattr(tables, "grade_notebook", fake_grade)
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    # 2.9: an exercise number no lesson has, and so not judged in two phases
    for lesson, number in (("01_pixels", "1.1"), ("02_pipelines", "2.9")):
        nb = _solution(
            new_markdown_cell(f"### Exercise {number} — Do"),
            new_code_cell(f"checks.exercise_{number.replace('.', '_')}(x)"),
        )
        nbformat.write(nb, solutions / f"{lesson}.ipynb")
    folder = tmp_path / "submissions"
    for student, lesson in (("ann", "02_pipelines"), ("ben", "01_pixels"), ("cal", "01_pixels")):
        _touch(folder / student / f"{lesson}.ipynb")
    grades = tables.grade_folder(folder, solutions, GradeOptions(), progress=lambda _: None)
    assert len(grades) == 3 and len(started) == 1 and closed == started
    # This lesson 02 has no two-phase exercise: it starts no judge; lesson 01's share one.
    judge = started[0]
    assert given == [
        ("ann", "02_pipelines", None),
        ("ben", "01_pixels", judge),
        ("cal", "01_pixels", judge),
    ]
    _touch(folder / "dan" / "01_pixels.ipynb")
    with pytest.raises(KeyboardInterrupt):
        tables.grade_folder(folder, solutions, GradeOptions(), progress=lambda _: None)
    assert len(started) == 2 and closed == started


@pytest.fixture
def shell():
    """An IPython shell in this process for the fingerprint, gone again afterwards: while it
    exists, code here would believe it runs in a notebook (record.metric would display)."""
    from IPython.core.interactiveshell import InteractiveShell

    yield InteractiveShell.instance()
    InteractiveShell.clear_instance()


@pytest.mark.parametrize(
    "patch",
    [
        # the standard library the checks' results are built with: any change counts
        "import dataclasses\n_real = dataclasses.dataclass\n"
        "def dataclass(cls=None, /, **kw):\n    return _real(cls, **kw)\n"
        "dataclasses.dataclass = dataclass",
        "import functools\nfunctools.wraps.__code__ = (lambda *a, **k: None).__code__",
        "import dataclasses\ndataclasses.Field.__repr__ = lambda self: 'x'",
        # elsewhere in the standard library: code the notebook wrote
        "import logging\nlogging.getLogger = lambda name=None: None",
        # a module loaded only after the baseline, then patched
        "import fractions\nfractions.gcd = lambda a, b: 1",
    ],
    ids=["dataclass", "code-object", "class-method", "other-module", "loaded-later"],
)
def test_patching_the_standard_library_in_the_kernel_is_tampering(shell, patch, monkeypatch):
    import sys

    monkeypatch.delitem(sys.modules, "fractions", raising=False)
    baseline = fingerprint()
    ids = {name: entry[0] for name, entry in baseline["entries"].items()}
    assert "stdlib.dataclasses" in ids and "stdlib.fractions" not in ids
    assert fingerprint(ids)["entries"] == {}  # nothing changed: nothing reported
    saved = {
        name: dict(vars(sys.modules[name])) for name in ("dataclasses", "functools", "logging")
    }
    saved_code, saved_repr = functools.wraps.__code__, vars(dataclasses.Field)["__repr__"]
    try:
        exec(compile(patch, "<ipython-input-1>", "exec"), {"__name__": "__main__"})
        found = analysis.tampering(baseline, fingerprint(ids), "the notebook")
    finally:
        functools.wraps.__code__ = saved_code
        dataclasses.Field.__repr__ = saved_repr
        for name, members in saved.items():
            vars(sys.modules[name]).update(members)
    assert len(found) == 1 and found[0].startswith("tampering: the notebook changed stdlib."), found


def test_a_library_changing_the_standard_library_is_not_the_notebooks_doing(shell):
    import logging

    baseline = fingerprint()
    ids = {name: entry[0] for name, entry in baseline["entries"].items()}
    real = logging.getLogger
    try:
        logging.getLogger = functools.partial(real)  # library code, not the notebook's
        found = analysis.tampering(baseline, fingerprint(ids), "the notebook")
    finally:
        logging.getLogger = real
    assert found == []


def test_a_standard_library_module_loaded_after_the_baseline_is_not_tampering(shell, monkeypatch):
    import importlib
    import sys

    monkeypatch.delitem(sys.modules, "sched", raising=False)  # its Event is a namedtuple,
    baseline = fingerprint()  # whose __new__ the standard library makes from a string
    ids = {name: entry[0] for name, entry in baseline["entries"].items()}
    importlib.import_module("sched")
    assert analysis.tampering(baseline, fingerprint(ids), "the notebook") == []


def test_two_notebooks_of_a_student_with_one_file_name_in_two_folders_stay_two(
    tmp_path, monkeypatch
):
    folder = tmp_path / "submissions"
    for week in ("week 1", "week 2"):
        _touch(folder / "ann" / week / "02_pipelines.ipynb", nbformat.writes(new_notebook()))
    _touch(folder / "ann" / "week 2" / "notes.txt")

    def grade(submission, key, options, judge_process=None):
        notebook_grade._save_executed(new_notebook(cells=[new_code_cell("x")]), submission, options)
        return NotebookGrade(
            submission, [ExerciseResult("2.1", submission.name.startswith("week 1"), "m")]
        )

    options = GradeOptions(executed_dir=tmp_path / "executed")
    grades = _graded_offline(tmp_path, monkeypatch, folder, grade, options)
    assert [(r.exercise, r.passed, r.message) for r in tables.rows_of(grades)] == [
        ("2.1", True, "week 1/02_pipelines.ipynb: m"),
        (
            "notebook",
            False,
            "week 1/02_pipelines.ipynb: 2 notebooks for this lesson from this student: "
            "week 1/02_pipelines.ipynb, week 2/02_pipelines.ipynb",
        ),
        ("2.1", False, "week 2/02_pipelines.ipynb: m"),
        ("notebook", False, "week 2/notes.txt: not a notebook, only .ipynb files are graded"),
    ]
    executed = sorted(p.relative_to(tmp_path) for p in (tmp_path / "executed").rglob("*.ipynb"))
    assert executed == [
        Path("executed/ann/week 1/02_pipelines.ipynb"),
        Path("executed/ann/week 2/02_pipelines.ipynb"),
    ]


def test_a_lesson_handed_in_twice_is_noted_once(tmp_path, monkeypatch):
    folder = tmp_path / "submissions"
    _touch(folder / "ann" / "02_pipelines.ipynb")
    _touch(folder / "ann_02_pipelines.ipynb")
    grades = _graded_offline(tmp_path, monkeypatch, folder)
    notes = [p for g in grades for p in g.problems]
    assert len(grades) == 2 and len(notes) == 1
    assert notes[0].startswith("2 notebooks for this lesson from this student: ")


def test_a_file_name_at_the_system_s_limit_is_written_and_is_no_change_of_a_notebook(tmp_path):
    from course_lib.tools.grading.output import OutputFolder

    folder = OutputFolder(tmp_path / "out")
    name = "x" * 249 + ".ipynb"  # 255 bytes: the longest name a submission can have here
    written = folder.write(f"executed/student/{name}", b"{}")
    assert written.read_bytes() == b"{}"
    assert folder.changes() == []


def test_a_file_the_grader_cannot_write_leaves_no_trace_it_would_blame_on_a_notebook(tmp_path):
    from course_lib.tools.grading.output import OutputFolder

    folder = OutputFolder(tmp_path / "out")
    with pytest.raises(OSError):
        folder.write("executed/student/" + "y" * 300 + ".ipynb", b"{}")  # over the limit
    assert folder.changes() == []
    assert not [p for p in (tmp_path / "out").rglob("*.tmp")]


def test_folders_and_links_planted_in_the_output_are_named_moved_aside_and_written_past(tmp_path):
    # What a kernel without a view of its own can do to the output folder between two
    # notebooks (tests/test_grading_output.py grades such a notebook where kernels get one).
    from course_lib.tools.grading.output import OutputFolder

    instructor = tmp_path / "instructor"
    instructor.mkdir()
    (instructor / "notes.txt").write_text("the instructor's notes")
    folder = OutputFolder(tmp_path / "out")
    for name in ("grades.csv", "summary.csv", "executed/a/01_pixels.ipynb"):
        folder.write(name, b"before")
    folder.accept()
    out = tmp_path / "out"
    (out / "grades.csv").unlink()
    (out / "grades.csv" / "x").mkdir(parents=True)
    (out / "summary.csv").unlink()
    (out / "summary.csv").symlink_to(instructor / "notes.txt")
    (out / "executed" / "z_later").symlink_to(instructor)
    changed = folder.changes()
    assert changed == ["executed/z_later", "grades.csv", "grades.csv/x", "summary.csv"]
    folder.repair(changed)
    for name in ("grades.csv", "summary.csv", "executed/z_later/01_pixels.ipynb"):
        folder.write(name, b"after")
    folder.accept()
    assert (out / "grades.csv").read_bytes() == (out / "summary.csv").read_bytes() == b"after"
    assert not (out / "summary.csv").is_symlink() and not (out / "executed/z_later").is_symlink()
    assert (instructor / "notes.txt").read_text() == "the instructor's notes"
    assert sorted(p.name for p in instructor.iterdir()) == ["notes.txt"]
    assert len(list(out.glob("*.moved-aside-*"))) == 2 and folder.changes() == []


def test_every_exercise_of_the_course_is_judged_in_two_phases():
    from course_lib.config import project_root
    from course_lib.tools.grading.submissions import lesson_key
    from course_lib.tools.grading.two_phase import TWO_PHASE

    numbers = {
        e.number
        for path in sorted((project_root() / "solutions").glob("[0-9][0-9]_*.ipynb"))
        for e in lesson_key(path).exercises
    }
    assert len(numbers) >= 40
    assert numbers - TWO_PHASE == set()
