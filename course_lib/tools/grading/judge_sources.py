"""The course's own sources that the judge sends a student's kernel with a call to make.

A kernel needs the code of a driver (:mod:`course_lib.checks._drivers`) to call a student's
function the way a check does, and the code that watches the call for copies of the
library (:mod:`course_lib.checks._copies`). Both are sent as text, read by this process's
loader, never from the files on disk, which the notebook being graded may have changed.
"""

from __future__ import annotations

import functools
import os
from typing import Any

_DRIVERS_SOURCE: list[str] = []


def drivers_source() -> str:
    """The text of :mod:`course_lib.checks._drivers` as this process imported it.

    Read once, when the judge starts (:func:`judge.main`), through the module's loader: in a
    judge, the grader's snapshot of the course, never the file on disk, which the notebook
    being graded may have changed (a judge can be started again in the middle of a run).
    """
    if not _DRIVERS_SOURCE:
        from course_lib.checks import _drivers

        _DRIVERS_SOURCE.append(_drivers.__spec__.loader.get_source(_drivers.__name__))
    return _DRIVERS_SOURCE[0]


_COPIES_SOURCE: list[str] = []


def watch(exercise: str = "") -> dict[str, Any]:
    """What the kernel watches a call of the student's code with (kernel_call.call_answer).

    The text of :mod:`course_lib.checks._copies`, the sources of the copies it knows that
    ``exercise`` forbids (all of them for no exercise), and those of the library's functions
    that call them (found in the sources: ``_copies.library_callers``), as this process's
    loader serves them (the grader's snapshot of the course, when grading): the kernel runs
    them in a namespace of their own, so a notebook that replaced its own ``_copies`` or the
    library's functions has no say in what is watched, and a copy is let through only when
    the code that calls it is the library's own, compiled from those sources, names that
    copy (``named``) and calls it itself (``opcodes``: the judge runs the kernel's Python).
    """
    from course_lib.checks import _copies

    if not _COPIES_SOURCE:
        _COPIES_SOURCE.append(_copies.__spec__.loader.get_source(_copies.__name__))
    forbidden = _copies.forbidden(exercise)
    callers = _library_callers(forbidden)
    return {
        "source": _COPIES_SOURCE[0],
        "copies": _copy_sources(forbidden),
        "callers": _copy_sources(callers),
        "named": _named(forbidden + callers, forbidden),
        "opcodes": list(_copies.opcodes() or ()),
        "course": os.path.dirname(os.path.dirname(os.path.abspath(_copies.__file__))),
        "sep": os.sep,
        "watch_checks": _copies.WATCH_CHECKS,
        "exercise": exercise,
    }


@functools.lru_cache(maxsize=4)
def _copy_sources(copies: tuple[tuple[str, str], ...]) -> dict[str, list[Any]]:
    from course_lib.checks import _copies

    return _copies.copy_sources(copies)


@functools.lru_cache(maxsize=4)
def _library_callers(copies: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    from course_lib.checks import _copies

    return _copies.library_callers(copies)


@functools.lru_cache(maxsize=4)
def _named(
    functions: tuple[tuple[str, str], ...], copies: tuple[tuple[str, str], ...]
) -> dict[str, list[str]]:
    from course_lib.checks import _copies

    return {owner: list(names) for owner, names in _copies.named_copies(functions, copies).items()}
