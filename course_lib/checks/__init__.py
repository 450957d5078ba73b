"""Exercise checks: one function per exercise, ``checks.exercise_<lesson>_<n>(...)``.

A check never raises on a wrong answer: it returns a
:class:`~course_lib.record.CheckResult` that the notebook shows as one line
("✅ Correct …" or "❌ Not yet … <what is wrong>") and that also carries a
machine-readable copy for ``make course`` and the grader.
"""

from course_lib.checks.lesson01 import exercise_1_1, exercise_1_2, exercise_1_3, exercise_1_4
from course_lib.checks.lesson04 import exercise_4_1, exercise_4_2, exercise_4_3, exercise_4_4

__all__ = [
    "exercise_1_1",
    "exercise_1_2",
    "exercise_1_3",
    "exercise_1_4",
    "exercise_4_1",
    "exercise_4_2",
    "exercise_4_3",
    "exercise_4_4",
]
