"""Exercise checks: one function per exercise, ``checks.exercise_<lesson>_<n>(...)``.

A check never raises on a wrong answer: it returns a
:class:`~course_lib.record.CheckResult` that the notebook shows as one line
("✅ Correct …" or "❌ Not yet … <what is wrong>") and that also carries a
machine-readable copy for ``make course`` and the grader.

Each lesson's checks live in ``lessonNN.py``; every ``exercise_*`` function found
there is exported here (guarded, see :func:`._core.guarded`), so adding a lesson needs no edit of this file.
"""

import importlib
import pkgutil

from course_lib.checks._core import guarded

__all__: list[str] = []

for _module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _module_info.name.startswith("lesson"):
        _module = importlib.import_module(f"{__name__}.{_module_info.name}")
        for _name in sorted(vars(_module)):
            if _name.startswith("exercise_"):
                # Guarded: whatever the notebook passes, a check answers and never raises.
                globals()[_name] = guarded(_name.removeprefix("exercise_").replace("_", "."),
                                           getattr(_module, _name))
                __all__.append(_name)
