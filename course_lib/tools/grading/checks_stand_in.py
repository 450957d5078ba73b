"""``course_lib.checks`` as a graded kernel has it: no check at all, only a note per check cell.

A graded kernel never holds the checks' code: the grader judges every exercise itself, in a
process of its own, on data the kernel exports (two-phase grading), and the checks' folder is
out of the kernel's reach (hidden from its view of the file systems, or fenced). A check's
code and the expected values in it are then nothing a notebook can call, copy or read while
it is graded.

The notebook still imports ``checks`` and runs its check cells: the kernel's IPython start-up
(:func:`course_lib.tools.grading.kernel_setup.stand_in_for_checks`) runs this file's text as
the module ``course_lib.checks`` before the notebook's first cell, and each
``checks.exercise_<lesson>_<n>(...)`` shows that the grader checks that exercise. Run from its
text in the kernel, it imports nothing but what a notebook written for an earlier version of
lesson 04 asks for (``checks.lesson04.LEARNING_CURVES``, now in ``course_lib.training``).
"""

from __future__ import annotations

from typing import Any


class CheckedByTheGrader:
    """What a check cell shows in a graded notebook: no verdict, which only the grader gives."""

    def __init__(self, exercise: str) -> None:
        self.exercise = exercise

    @property
    def text(self) -> str:
        return (
            f"Exercise {self.exercise} is checked by the grader, in a process of its own; "
            "its result is in the grades."
        )

    def __repr__(self) -> str:
        return self.text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/plain": self.text}


def __getattr__(name: str) -> Any:
    """``exercise_<lesson>_<n>``: a check that shows :class:`CheckedByTheGrader`."""
    if name.startswith("exercise_"):
        exercise = name.removeprefix("exercise_").replace("_", ".")

        def check(*args: Any, **kwargs: Any) -> CheckedByTheGrader:
            return CheckedByTheGrader(exercise)

        check.__name__ = check.__qualname__ = name
        return check
    if name == "lesson04":
        import types

        from course_lib import training

        return types.SimpleNamespace(LEARNING_CURVES=training.LEARNING_CURVES)
    raise AttributeError(
        f"module 'course_lib.checks' has no attribute {name!r}: a graded kernel has no checks"
    )
