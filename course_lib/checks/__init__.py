"""Exercise checks: one function per exercise, ``checks.exercise_<lesson>_<n>(...)``.

A check never raises on a wrong answer: it returns a
:class:`~course_lib.record.CheckResult` that the notebook shows as one line
("✅ Correct …" or "❌ Not yet … <what is wrong>") and that also carries a
machine-readable copy for ``make course`` and the grader.

Each lesson's checks live in ``lessonNN.py``. Every ``exercise_*`` function there is
exported here by name, guarded (see :func:`._core.guarded`: whatever the notebook passes,
a check answers and never raises); a test keeps this list and the lesson modules in step.
"""

from course_lib.checks import (
    lesson01,
    lesson02,
    lesson03,
    lesson04,
    lesson05,
    lesson06,
    lesson07,
    lesson08,
    lesson09,
)
from course_lib.checks._core import guarded

exercise_1_1 = guarded("1.1", lesson01.exercise_1_1)
exercise_1_2 = guarded("1.2", lesson01.exercise_1_2)
exercise_1_3 = guarded("1.3", lesson01.exercise_1_3)
exercise_1_4 = guarded("1.4", lesson01.exercise_1_4)
exercise_2_1 = guarded("2.1", lesson02.exercise_2_1)
exercise_2_2 = guarded("2.2", lesson02.exercise_2_2)
exercise_2_3 = guarded("2.3", lesson02.exercise_2_3)
exercise_2_4 = guarded("2.4", lesson02.exercise_2_4)
exercise_2_5 = guarded("2.5", lesson02.exercise_2_5)
exercise_3_1 = guarded("3.1", lesson03.exercise_3_1)
exercise_3_2 = guarded("3.2", lesson03.exercise_3_2)
exercise_3_3 = guarded("3.3", lesson03.exercise_3_3)
exercise_3_4 = guarded("3.4", lesson03.exercise_3_4)
exercise_3_5 = guarded("3.5", lesson03.exercise_3_5)
exercise_3_6 = guarded("3.6", lesson03.exercise_3_6)
exercise_4_1 = guarded("4.1", lesson04.exercise_4_1)
exercise_4_2 = guarded("4.2", lesson04.exercise_4_2)
exercise_4_3 = guarded("4.3", lesson04.exercise_4_3)
exercise_4_4 = guarded("4.4", lesson04.exercise_4_4)
exercise_5_1 = guarded("5.1", lesson05.exercise_5_1)
exercise_5_2 = guarded("5.2", lesson05.exercise_5_2)
exercise_5_3 = guarded("5.3", lesson05.exercise_5_3)
exercise_5_4 = guarded("5.4", lesson05.exercise_5_4)
exercise_5_5 = guarded("5.5", lesson05.exercise_5_5)
exercise_5_6 = guarded("5.6", lesson05.exercise_5_6)
exercise_6_1 = guarded("6.1", lesson06.exercise_6_1)
exercise_6_2 = guarded("6.2", lesson06.exercise_6_2)
exercise_6_3 = guarded("6.3", lesson06.exercise_6_3)
exercise_6_4 = guarded("6.4", lesson06.exercise_6_4)
exercise_6_5 = guarded("6.5", lesson06.exercise_6_5)
exercise_6_6 = guarded("6.6", lesson06.exercise_6_6)
exercise_7_1 = guarded("7.1", lesson07.exercise_7_1)
exercise_7_2 = guarded("7.2", lesson07.exercise_7_2)
exercise_7_3 = guarded("7.3", lesson07.exercise_7_3)
exercise_7_4 = guarded("7.4", lesson07.exercise_7_4)
exercise_7_5 = guarded("7.5", lesson07.exercise_7_5)
exercise_8_1 = guarded("8.1", lesson08.exercise_8_1)
exercise_8_2 = guarded("8.2", lesson08.exercise_8_2)
exercise_8_3 = guarded("8.3", lesson08.exercise_8_3)
exercise_8_4 = guarded("8.4", lesson08.exercise_8_4)
exercise_8_5 = guarded("8.5", lesson08.exercise_8_5)
exercise_9_1 = guarded("9.1", lesson09.exercise_9_1)
exercise_9_2 = guarded("9.2", lesson09.exercise_9_2)
exercise_9_3 = guarded("9.3", lesson09.exercise_9_3)

__all__ = [
    "exercise_1_1",
    "exercise_1_2",
    "exercise_1_3",
    "exercise_1_4",
    "exercise_2_1",
    "exercise_2_2",
    "exercise_2_3",
    "exercise_2_4",
    "exercise_2_5",
    "exercise_3_1",
    "exercise_3_2",
    "exercise_3_3",
    "exercise_3_4",
    "exercise_3_5",
    "exercise_3_6",
    "exercise_4_1",
    "exercise_4_2",
    "exercise_4_3",
    "exercise_4_4",
    "exercise_5_1",
    "exercise_5_2",
    "exercise_5_3",
    "exercise_5_4",
    "exercise_5_5",
    "exercise_5_6",
    "exercise_6_1",
    "exercise_6_2",
    "exercise_6_3",
    "exercise_6_4",
    "exercise_6_5",
    "exercise_6_6",
    "exercise_7_1",
    "exercise_7_2",
    "exercise_7_3",
    "exercise_7_4",
    "exercise_7_5",
    "exercise_8_1",
    "exercise_8_2",
    "exercise_8_3",
    "exercise_8_4",
    "exercise_8_5",
    "exercise_9_1",
    "exercise_9_2",
    "exercise_9_3",
]
