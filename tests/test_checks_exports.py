"""``course_lib.checks`` exports exactly the exercise checks its lesson modules define, each
guarded."""

import ast
import inspect
from pathlib import Path

import course_lib.checks as checks
from course_lib.checks import _core

LESSON_FILES = sorted(Path(checks.__file__).parent.glob("lesson*.py"))


def _defined() -> dict[str, str]:
    """``exercise_N_M`` -> the lesson module defining it, read from the source files themselves."""
    found = {}
    for path in LESSON_FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("exercise_"):
                found[node.name] = path.stem
    return found


def test_every_check_a_lesson_module_defines_is_exported_and_nothing_else():
    defined = _defined()
    assert len(defined) >= 40 and LESSON_FILES
    assert sorted(checks.__all__) == sorted(defined)
    public = {name for name in vars(checks) if name.startswith("exercise_")}
    assert public == set(defined)


def test_each_export_is_the_guarded_check_of_its_own_number():
    for name, module in _defined().items():
        exported = getattr(checks, name)
        lesson = getattr(checks, module)
        assert exported is not getattr(lesson, name), (
            name
        )  # the guarded wrapper, not the bare check
        assert exported.__wrapped__ is getattr(lesson, name), name
        # The number its "Not yet" carries when the check itself fails.
        assert inspect.getclosurevars(exported).nonlocals["exercise"] == name.removeprefix(
            "exercise_"
        ).replace("_", ".")
        assert exported.__code__ is _core.guarded("0.0", print).__code__


def test_a_student_error_is_one_line_without_terminal_colour_codes():
    exc = ValueError(
        "Exception encountered when calling Sequential.call().\n\x1b[1mInput 0\x1b[0m bad"
    )
    assert _core.student_error(exc) == (
        "ValueError: Exception encountered when calling Sequential.call(). Input 0 bad"
    )
