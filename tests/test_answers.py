"""A student's wrong answer never stops the lesson cells after an exercise.

Cells below an exercise call the student's function again through ``answers.use``: a missing
answer prints the lesson's own line, a wrong one (it raises, or returns another type or shape)
prints one line naming the function and the exercise, and the cell goes on with a fallback.
Each such cell is run here, in this process, on small stand-ins for the lesson's data, with
several wrong answers and with the solution's; no kernel, no TensorFlow.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
import types
from pathlib import Path
from typing import Any

import flask
import nbformat
import numpy as np
import pytest
from PIL import Image, ImageOps
from sklearn.metrics import precision_recall_curve, precision_score, recall_score
from solution_support import solution_cells

from course_lib import answers, metrics, photos
from course_lib.config import project_root
from course_lib.tools.notebooks import BEGIN, END

SOLUTIONS = project_root() / "solutions"


def _raises(exc: BaseException):
    def func(*args: Any) -> Any:
        raise exc

    return func


def _returns(value: Any):
    def func(*args: Any) -> Any:
        return value

    return func


# Wrong answers a student writes: each raises, or returns what the lesson cannot use.
RAISING = [
    TypeError("unsupported operand type(s) for -: 'list' and 'float'"),
    ValueError("operands could not be broadcast together"),
    IndexError("index 10 is out of bounds for axis 0 with size 10"),
    KeyError("probabilities"),
    AttributeError("'list' object has no attribute 'shape'"),
    ZeroDivisionError("division by zero"),
    NotImplementedError(
        "Cannot convert a symbolic tf.Tensor to a numpy array."
    ),  # TensorFlow's, not the exercise's stub
]
NOT_WRITTEN = NotImplementedError("Exercise: write your code here")


def _cell(lesson: str, cell_id: str) -> str:
    path = next(SOLUTIONS.glob(f"{lesson}_*.ipynb"))
    return next(c.source for c in nbformat.read(path, 4).cells if c.get("id") == cell_id)


def _run(source: str, namespace: dict[str, Any]) -> str:
    """What the cell prints, run in ``namespace`` (which it updates)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<cell>", "exec"), namespace)  # noqa: S102 -- the course's own cell
    return out.getvalue()


def _unguarded(exercise: str, func: Any, *args: Any, **_: Any) -> Any:
    """``answers.use`` as a plain call: what the cell printed before it was guarded."""
    return func(*args)


def _same_as_unguarded(source: str, make_namespace) -> str:
    """With the solution's answer the guarded cell prints what the plain call prints."""
    guarded = _run(source, make_namespace())
    plain = _run(source, {**make_namespace(), "answers": types.SimpleNamespace(use=_unguarded)})
    assert guarded == plain
    return guarded


def _wrong_answers(name: str, right_type_wrong_value: list[Any]) -> list[Any]:
    """``name``s that raise each of RAISING, then ones that return each of the values."""
    funcs = [_raises(e) for e in RAISING] + [_returns(v) for v in right_type_wrong_value]
    for func in funcs:
        func.__name__ = name
    return funcs


def _names_the_exercise(printed: str, exercise: str, function: str) -> None:
    first = printed.splitlines()[0]
    assert first.startswith(f"your {function} ") and f"exercise {exercise}" in first, printed


# ------------------------------------------------------------------ answers.use itself


@pytest.mark.parametrize("exc", RAISING, ids=lambda e: type(e).__name__)
def test_an_answer_that_raises_gives_the_fallback_and_one_line_naming_it(exc, capsys):
    def threshold_for_precision(*args):
        raise exc

    got = answers.use("5.3", threshold_for_precision, 1, missing="write it", fallback="fb")
    printed = capsys.readouterr().out
    assert got == "fb"
    assert printed.count("\n") == 1
    assert printed == (
        f"your threshold_for_precision raised {type(exc).__name__}: {str(exc).rstrip('.')}; "
        "the check of exercise 5.3 says what to fix.\n"
    )


def test_a_missing_answer_prints_the_lessons_own_line(capsys):
    got = answers.use("6.6", _raises(NOT_WRITTEN), missing="write keep_fine_tuned", fallback=0)
    assert got == 0 and capsys.readouterr().out == "write keep_fine_tuned\n"


@pytest.mark.parametrize(
    "value, returns, said",
    [
        ("abc", (float, None), "returned 'abc', not a number or None"),
        ([0.5], (float, None), "returned [0.5], not a number or None"),
        (True, (float, None), "returned True, not a number or None"),
        (np.array([0.5, 0.7]), (float, None), "returned an array of dtype float64 and shape (2,)"),
        (0.03, bool, "returned 0.03, not a bool (True or False)"),
        (None, bool, "returned None, not a bool"),
        ("yes", bool, "returned 'yes', not a bool"),
        (np.array([True]), bool, "returned an array of dtype bool and shape (1,), not a bool"),
        (None, (tuple, list), "returned None, not a tuple or a list"),
        ("x" * 100, str.__class__, "returned '" + "x" * 58 + "…"),
    ],
)
def test_a_value_of_another_type_gives_the_fallback(value, returns, said, capsys):
    got = answers.use("1.1", _returns(value), returns=returns, missing="", fallback="fb", name="f")
    printed = capsys.readouterr().out
    assert got == "fb" and said in printed and printed.startswith("your f returned ")
    assert printed.endswith("; the check of exercise 1.1 says what to fix.\n")


@pytest.mark.parametrize(
    "value",
    [
        None,
        "maps",
        [[1, 2], [3]],  # ragged
        np.zeros((3, 7)),  # a map short
        np.zeros((4, 7, 7)),  # one map too many
        np.full((3, 7, 7), np.nan),
        np.array([["a"] * 7] * 7 * 3).reshape(3, 7, 7),
        {"maps": 1},
    ],
)
def test_an_array_of_another_shape_or_kind_gives_the_fallback(value, capsys):
    got = answers.use("5.6", _returns(value), shape=(3, 7, 7), missing="", name="maps")
    printed = capsys.readouterr().out
    assert got is None
    assert "not an array of numbers of shape (3, 7, 7)" in printed and printed.count("\n") == 1


def test_a_right_answer_comes_back_as_it_was_returned(capsys):
    assert answers.use("5.3", _returns(0.25), returns=(float, None), missing="") == 0.25
    assert answers.use("5.3", _returns(None), returns=(float, None), missing="", fallback=1) is None
    assert answers.use("5.3", _returns(np.float32(0.5)), returns=float, missing="") == 0.5
    assert answers.use("5.3", _returns(np.array(0.5)), returns=float, missing="") == 0.5
    assert answers.use("6.6", _returns(np.True_), returns=bool, missing="") is np.True_
    as_list = answers.use("5.6", _returns([[1, 2]]), shape=(1, 2), missing="")
    assert isinstance(as_list, np.ndarray) and as_list.tolist() == [[1, 2]]
    assert capsys.readouterr().out == ""


def test_the_lessons_arrays_stay_as_they_are_whatever_the_answer_does():
    probabilities = np.array([[0.1, 0.9], [0.8, 0.2]])

    def sorts_in_place(p, mass):
        p.sort(axis=1)
        return (p > mass).sum(axis=1)

    answers.use("6.1", sorts_in_place, probabilities, 0.5, shape=(2,), missing="")
    assert probabilities.tolist() == [[0.1, 0.9], [0.8, 0.2]]


# ------------------------------------------------------------------ lesson 04, exercise 4.4


def _namespace_4_4(func):
    history_small = types.SimpleNamespace(history={"val_loss": [0.9, 0.7, 0.8, 0.75, 0.74]})
    return {
        "answers": answers,
        "early_stopping_epochs": func,
        "history_small": history_small,
        "PATIENCE": 3,
        "epochs_run": 5,
        "kept": 2,
    }


def test_lesson_04_early_stopping_cell():
    cell = _cell("04", "1ee1daf9")
    ns: dict[str, Any] = {}
    exec(solution_cells(["4.4"])["4.4"], ns)  # noqa: S102
    printed = _same_as_unguarded(cell, lambda: _namespace_4_4(ns["early_stopping_epochs"]))
    assert printed == "early_stopping_epochs says (5, 2) ; Keras did (5, 2)\n"
    for wrong in _wrong_answers("early_stopping_epochs", [None, 5, "5, 2"]):
        _names_the_exercise(_run(cell, _namespace_4_4(wrong)), "4.4", "early_stopping_epochs")
    missing = _run(cell, _namespace_4_4(_raises(NOT_WRITTEN)))
    assert missing == "write early_stopping_epochs in exercise 4.4 to compare it with Keras\n"


# ------------------------------------------------------------------ lesson 05, exercises 5.3, 5.6


def _namespace_5_3(func):
    rng = np.random.default_rng(0)
    is_shirt = rng.random(200) < 0.2
    return {
        "answers": answers,
        "np": np,
        "threshold_for_precision": func,
        "is_shirt_val": is_shirt,
        "shirt_score_val": np.clip(is_shirt * 0.4 + rng.random(200) * 0.6, 0, 1),
        "MIN_PRECISION": 0.9,
        "precision_score": precision_score,
        "recall_score": recall_score,
    }


def test_lesson_05_threshold_cell():
    cell = _cell("05", "c6f9274d")
    ns: dict[str, Any] = {"np": np, "precision_recall_curve": precision_recall_curve}
    exec(solution_cells(["5.3"])["5.3"], ns)  # noqa: S102
    printed = _same_as_unguarded(cell, lambda: _namespace_5_3(ns["threshold_for_precision"]))
    assert re.fullmatch(r"threshold 0\.\d{3}: validation precision \S+, recall \S+\n", printed)
    assert _run(cell, _namespace_5_3(_returns(None))).startswith("no threshold reaches")
    for wrong in _wrong_answers(
        "threshold_for_precision", ["0.5", [0.5], np.array([0.4, 0.6]), {"t": 0.5}, True]
    ):
        namespace = _namespace_5_3(wrong)
        _names_the_exercise(_run(cell, namespace), "5.3", "threshold_for_precision")
        assert namespace["threshold"] is None  # what the test set below meets: the argmax rule
    namespace = _namespace_5_3(_raises(NOT_WRITTEN))
    assert _run(cell, namespace) == (
        "write threshold_for_precision in exercise 5.3 to choose the threshold\n"
    )
    assert namespace["threshold"] is None


def _namespace_5_6(func):
    maps = np.random.default_rng(1).random((3, 7, 7)).astype(np.float32)
    return {
        "answers": answers,
        "np": np,
        "grad_cam_heatmaps": func,
        "explain": types.SimpleNamespace(grad_cam_heatmaps=lambda model, x, c: maps),
        "grad_model": None,
        "x": np.zeros((6, 28, 28, 1), np.float32),
        "y_test": np.array([0, 1, 2, 0, 1, 2]),
        "y_pred": np.array([0, 1, 1, 0, 2, 2]),
        "class_names": ["a", "b", "c"],
        "maps": maps,
    }


def test_lesson_05_grad_cam_comparison_cell():
    cell = _cell("05", "e0c581eb")
    right = _namespace_5_6(None)["maps"]
    printed = _same_as_unguarded(cell, lambda: _namespace_5_6(_returns(right)))
    assert printed == (
        "maps (3, 7, 7); largest difference between yours and the library's: 0.0e+00\n"
    )
    wrong_maps = [None, "maps", np.zeros((3, 28, 28)), np.zeros((7, 7)), [[0.0] * 7] * 7]
    for wrong in _wrong_answers("grad_cam_heatmaps", wrong_maps):
        _names_the_exercise(_run(cell, _namespace_5_6(wrong)), "5.6", "grad_cam_heatmaps")
    assert _run(cell, _namespace_5_6(_raises(NOT_WRITTEN))) == (
        "write grad_cam_heatmaps in exercise 5.6 to compare it with the library's copy\n"
    )


# ------------------------------------------------------------------ lesson 06, exercises 6.1, 6.6


def _namespace_6_1(func):
    probabilities = np.random.default_rng(2).dirichlet(np.full(50, 0.3), size=4)
    return {
        "answers": answers,
        "classes_to_cover": func,
        "probabilities": probabilities,
        "photo_names": ["cat", "coffee", "rocket", "astronaut"],
    }


def test_lesson_06_classes_to_cover_cell():
    cell = _cell("06", "4a388499")
    ns: dict[str, Any] = {"np": np}
    exec(solution_cells(["6.1"])["6.1"], ns)  # noqa: S102
    printed = _same_as_unguarded(cell, lambda: _namespace_6_1(ns["classes_to_cover"]))
    assert len(printed.splitlines()) == 4 and "classes to hold 90%" in printed
    wrong_counts = [None, 3, "3", [1, 2], np.zeros((4, 50)), np.array([1.0, np.nan, 2, 3])]
    for wrong in _wrong_answers("classes_to_cover", wrong_counts):
        printed = _run(cell, _namespace_6_1(wrong))
        _names_the_exercise(printed, "6.1", "classes_to_cover")
        assert len(printed.splitlines()) == 5 and "classes to hold" not in printed
    missing = _run(cell, _namespace_6_1(_raises(NOT_WRITTEN)))
    assert missing.startswith("write classes_to_cover in exercise 6.1")


def _namespace_6_6(func):
    rng = np.random.default_rng(3)
    y_val = rng.integers(0, 5, 120)
    features = np.where(rng.random(120) < 0.7, y_val, (y_val + 1) % 5)
    fine = np.where(rng.random(120) < 0.75, y_val, (y_val + 2) % 5)
    return {
        "answers": answers,
        "keep_fine_tuned": func,
        "y_val": y_val,
        "val_predictions": {"feature extraction": features, "fine-tuned": fine},
        "fine_vs_features": metrics.compare_classifiers(y_val, features, fine),
    }


def test_lesson_06_keep_fine_tuned_cell():
    cell = _cell("06", "ff446522")
    ns: dict[str, Any] = {"np": np, "metrics": metrics}
    exec(solution_cells(["6.6"])["6.6"], ns)  # noqa: S102
    printed = _same_as_unguarded(cell, lambda: _namespace_6_6(ns["keep_fine_tuned"]))
    assert printed.splitlines()[-1].startswith("chosen on validation: ")
    for wrong in _wrong_answers(
        "keep_fine_tuned", [None, 0.03, "fine-tuned", np.array([True, False]), 1]
    ):
        namespace = _namespace_6_6(wrong)
        printed = _run(cell, namespace)
        _names_the_exercise(printed, "6.6", "keep_fine_tuned")
        assert namespace["chosen"] == "feature extraction"  # as before the answer is written
        assert printed.endswith("chosen on validation: feature extraction\n")


# ------------------------------------------------------------------ lesson 07, exercise 7.2


def _namespace_7_2(func):
    def library_app(model, class_names, prep):
        app = flask.Flask("library")

        @app.post("/predict")
        def predict():
            if "file" not in flask.request.files:
                return flask.jsonify(error="no file"), 400
            return flask.jsonify(label="boot", confidence=0.5)

        return app

    serving = types.SimpleNamespace(minimal=types.SimpleNamespace(create_minimal_app=library_app))
    return {
        "answers": answers,
        "flask": flask,
        "io": io,
        "json": json,
        "serving": serving,
        "create_minimal_app": func,
        "model": None,
        "class_names": ["boot"],
        "prep": {},
        "test_uploads": {"test0.png": b"\x89PNG", "empty.png": b""},
        "library_app": library_app,
    }


def _app_whose_route(route):
    def create_minimal_app(model, class_names, prep):
        app = flask.Flask("yours")
        app.post("/predict")(route)
        return app

    return create_minimal_app


def test_lesson_07_minimal_app_cell():
    cell = _cell("07", "6ee5a07d")
    right = _namespace_7_2(None)["library_app"]
    printed = _same_as_unguarded(cell, lambda: _namespace_7_2(right))
    assert printed.splitlines() == [
        'test0.png     4 bytes -> 200 {"confidence": 0.5, "label": "boot"}   '
        "same as the library's: True",
        'empty.png     0 bytes -> 200 {"confidence": 0.5, "label": "boot"}   '
        "same as the library's: True",
    ]

    def numpy_number():
        return flask.jsonify(label="boot", confidence=np.float32(0.5))

    def no_return():
        flask.request.files["file"].read()

    def index_error():
        return flask.jsonify(label=["boot"][3])

    wrong = [
        *_wrong_answers("create_minimal_app", [None, "app", flask.Flask]),
        _app_whose_route(numpy_number),
        _app_whose_route(no_return),
        _app_whose_route(index_error),
    ]
    for create in wrong:
        printed = _run(cell, _namespace_7_2(create))
        assert len(printed.splitlines()) == 1, printed
        assert "exercise 7.2" in printed
        assert re.match(r"your (create_minimal_app|app) (raised|returned) ", printed), printed

    # A route that answers, wrongly: the comparison with the library's says so, line by line.
    def form_field():
        return flask.jsonify(label=flask.request.form["label"])  # a missing field: Flask's 400

    printed = _run(cell, _namespace_7_2(_app_whose_route(form_field)))
    assert printed.splitlines()[0].endswith("-> 400 null   same as the library's: False")

    def not_written():
        raise NOT_WRITTEN

    missing = _run(cell, _namespace_7_2(_app_whose_route(not_written)))
    assert missing == "write the route of create_minimal_app in exercise 7.2 to try your app here\n"


# ------------------------------------------------------------------ lesson 09, exercises 9.1, 9.3


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("source")
    (folder / "bag").mkdir()
    Image.new("RGB", (6, 4), (200, 10, 10)).save(folder / "bag" / "001.png")
    Image.new("RGBA", (5, 5), (0, 0, 255, 100)).save(folder / "bag" / "002.png")
    Image.new("L", (3, 7), 90).save(folder / "bag" / "003.png")
    (folder / "bag" / "004.jpg").write_bytes(b"\xff\xd8 cut short")  # Pillow cannot read it
    return folder


def _namespace_9_1(func, folder):
    return {
        "answers": answers,
        "np": np,
        "Image": Image,
        "photos": photos,
        "source": folder,
        "upright_rgb": func,
    }


def test_lesson_09_upright_rgb_comparison_cell(photo_folder):
    cell = _cell("09", "f90036cc")
    ns: dict[str, Any] = {"Image": Image, "ImageOps": ImageOps}
    exec(solution_cells(["9.1"])["9.1"], ns)  # noqa: S102
    printed = _same_as_unguarded(cell, lambda: _namespace_9_1(ns["upright_rgb"], photo_folder))
    assert printed == "3 files compared; largest pixel difference: 0\n"

    def upright_rgb(image):
        raise OSError("cannot write mode RGBA as JPEG")

    wrong = _wrong_answers("upright_rgb", [None, "RGB", np.zeros((4, 6, 3)), [1, 2, 3]]) + [
        upright_rgb
    ]
    for func in wrong:
        printed = _run(cell, _namespace_9_1(func, photo_folder))
        assert printed.count("\n") == 1, printed
        _names_the_exercise(printed, "9.1", func.__name__)
    missing = _run(cell, _namespace_9_1(_raises(NOT_WRITTEN), photo_folder))
    assert missing == "write upright_rgb in exercise 9.1 to compare it with the library's copy\n"


class _Model:
    """A stand-in for a Keras model: what cell 36 of lesson 09 asks of one."""

    def __init__(self, output: Any = None) -> None:
        self.output = np.array([[0.2, 0.8]], np.float32) if output is None else output
        self.inputs = [types.SimpleNamespace(dtype="uint8", shape=(None, None, None, 3))]

    def __call__(self, images, training=False):
        if isinstance(self.output, Exception):
            raise self.output
        return self.output

    def count_params(self) -> int:
        return 1234

    def get_layer(self, name: str):
        return lambda images: np.zeros((1, 4, 4, 3), np.float32)


class _Tensor(np.ndarray):
    """A NumPy array that answers ``.numpy()``, as the images of a tf.data batch do."""

    def numpy(self) -> np.ndarray:
        return np.asarray(self)


class _Dataset:
    """``ds_val``: its files, and one batch of one image."""

    file_paths = ["a.png"]

    def __iter__(self):
        return iter([([np.zeros((4, 4, 3), np.float32).view(_Tensor)], None)])


def _namespace_9_3(func):
    return {
        "answers": answers,
        "np": np,
        "keras": types.SimpleNamespace(Model=_Model),
        "photos": types.SimpleNamespace(
            build_images_in_model=lambda backbone, head, size: _Model(),
            read_photo=lambda path: np.zeros((4, 4, 3), np.uint8),
        ),
        "backbone": types.SimpleNamespace(model=None),
        "chosen_head": None,
        "IMAGE_SIZE": 4,
        "ds_val": _Dataset(),
        "predict": lambda model, x: np.array([[0.2, 0.8]], np.float32),
        "top": None,
        "cached_val": None,
        "build_images_in_model": func,
    }


def test_lesson_09_images_in_model_cell():
    cell = _cell("09", "55f9d312")
    printed = _same_as_unguarded(cell, lambda: _namespace_9_3(_returns(_Model())))
    assert printed.splitlines()[1] == (
        "your model and the library's, on the first validation photo: largest difference 0.0e+00"
    )
    wrong = _wrong_answers("build_images_in_model", [None, "model", _Model])
    wrong += [_returns(_Model(ValueError("Input 0 is incompatible"))), _returns(_Model("probs"))]
    wrong += [_returns(_Model(np.zeros((1, 3), np.float32)))]
    for func in wrong:
        lines = _run(cell, _namespace_9_3(func)).splitlines()
        assert len(lines) == 4, lines
        assert re.match(r"your (build_images_in_model|model) (raised|returned) ", lines[1])
        assert "exercise 9.3" in lines[1]
        assert lines[-1].startswith("largest difference between the two resized versions")
    missing = _run(cell, _namespace_9_3(_raises(NOT_WRITTEN))).splitlines()[1]
    assert missing == (
        "write build_images_in_model in exercise 9.3 to compare it with the library's copy"
    )


# ------------------------------------------------------------------ the whole class of cells


def _student_names(source: str) -> set[str]:
    """The names an exercise cell defines in its solution: its functions, and what it assigns
    between the markers."""
    lines = source.splitlines()
    begin = [i + 1 for i, line in enumerate(lines) if line.strip() == BEGIN]
    end = [i + 1 for i, line in enumerate(lines) if line.strip() == END]
    names = set()
    for node in ast.parse(source).body:
        last = node.end_lineno or node.lineno
        if not any(b <= last and node.lineno <= e for b, e in zip(begin, end, strict=True)):
            continue
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def _loads_outside_answers_use(tree: ast.AST, names: set[str]) -> list[str]:
    """Where a cell reads one of ``names`` other than as the function ``answers.use`` calls."""
    passed = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "use"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "answers"
            and len(node.args) > 1
        ):
            passed.add(id(node.args[1]))
    return [
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name)
        and isinstance(node.ctx, ast.Load)
        and node.id in names
        and id(node) not in passed
    ]


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_lesson_cells_use_a_students_answer_only_through_answers_use(path):
    """A cell after an exercise that reads a name the student's answer defines (not its
    check) passes it to answers.use, which turns any answer into one the cell can use."""
    names: set[str] = set()
    for index, cell in enumerate(nbformat.read(path, 4).cells):
        if cell.cell_type != "code" or cell.source.lstrip().startswith("%"):
            continue
        if BEGIN in cell.source:
            names |= _student_names(cell.source)
            continue
        if re.match(r"\s*checks\.exercise_\d+_\d+\(", cell.source):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython magics inside: no student's name in those cells
            continue
        unguarded = _loads_outside_answers_use(tree, names)
        assert not unguarded, f"cell {index} uses {sorted(set(unguarded))} unguarded"


def _bound(tree: ast.AST) -> set[str]:
    """The names a cell binds: assignments, loops, `with ... as`, functions, classes, imports."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_no_lesson_cell_rebinds_a_course_module_it_imported(path):
    """A cell that named a variable `answers` or `plots` would break every earlier cell that
    uses the module, when a student runs it again: each module keeps its name."""
    modules: set[str] = set()
    for index, cell in enumerate(nbformat.read(path, 4).cells):
        if cell.cell_type != "code" or cell.source.lstrip().startswith("%"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython magics inside
            continue
        imported = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "course_lib"
            for alias in node.names
        }
        rebound = (_bound(tree) - imported) & modules
        assert not rebound, f"cell {index} rebinds {sorted(rebound)}"
        modules |= imported
