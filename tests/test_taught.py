"""Each lesson's core code is written in the lesson, and the library's copy names that lesson.

The behaviour of each pair (notebook definition and library copy on the same inputs) is
pinned in ``tests/test_taught_lessonNN.py``; this file keeps the links between them honest.
"""

import importlib
import inspect
import pkgutil

import pytest
from taught_support import TAUGHT_IN, all_definitions, definitions

import course_lib

# The lessons whose core code students must write: the CNN, the regularised model, the
# Grad-CAM core, the Flask route and the distributed train step.
LESSONS_WITH_CORE_CODE = ["03", "04", "05", "07", "08"]
DEFINITIONS = all_definitions()


def _library_objects_taught_in_lessons():
    for info in pkgutil.walk_packages(course_lib.__path__, "course_lib."):
        if info.name.endswith("__main__"):
            continue  # running it would start the program
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == info.name:
                match = TAUGHT_IN.search(inspect.getdoc(obj) or "")
                if match:
                    yield info.name.removeprefix("course_lib.") + "." + name, match.group(1)


@pytest.mark.parametrize("lesson", LESSONS_WITH_CORE_CODE)
def test_lesson_writes_its_core_code_in_a_cell_kept_in_the_library(lesson):
    assert definitions(lesson), (
        f"lesson {lesson} has no cell starting '# Kept in the library as <module>.<name>'"
    )


@pytest.mark.parametrize(
    "definition", DEFINITIONS, ids=[f"{d.lesson}:{d.library_name}" for d in DEFINITIONS]
)
def test_library_copy_exists_and_names_the_lesson_that_teaches_it(definition):
    obj = definition.library_object()
    assert f"Taught in lesson {definition.lesson}" in (inspect.getdoc(obj) or ""), (
        f"course_lib.{definition.library_name}'s docstring should say 'Taught in lesson "
        f"{definition.lesson}'"
    )
    assert (
        f"def {definition.name}(" in definition.source
        or f"class {definition.name}" in definition.source
    ), f"the marked cell of lesson {definition.lesson} does not define {definition.name}"


def test_every_library_copy_that_names_a_lesson_is_taught_there():
    marked = {(d.library_name, d.lesson) for d in DEFINITIONS}
    claimed = set(_library_objects_taught_in_lessons())
    assert claimed, "no library docstring says 'Taught in lesson NN'"
    assert claimed <= marked, (
        f"named as taught but no lesson cell is marked: {sorted(claimed - marked)}"
    )
