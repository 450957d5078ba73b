"""The watch on calls of the course's own copies, as the grader's code in a kernel runs it.

The grader's first cell adds an audit hook to the kernel (grading/guard.py, sent as text:
:func:`install_guard`) that takes what the watch needs before the notebook's first cell;
later cells ask the hook for it (:func:`guard_tools`). :func:`_watched` runs a call of the
student's code under ``course_lib/checks/_copies.py``'s text, which the judge sends with
the call. Sent into the kernel as text, with the rest of the grader's code there
(:mod:`kernel_code`).
"""

from __future__ import annotations

from typing import Any

# The grader's first cell adds an audit hook to the kernel (grading/guard.py, sent as text) that
# holds what the watch on the course's copies needs, taken before the notebook's first cell;
# the grader's later cells ask it for that by setting a function's defaults to this marker.
GUARD = "course-grader-guard"


def install_guard(source: str, events: list[str]) -> None:
    """Run guard.py's text, sent with the grader's first cell, and add its audit hook.

    ``events``: the audit events the watch raises for a copy seen and a thread started.
    """
    guard: dict[str, Any] = {"__name__": "course_grader_guard"}
    exec(compile(source, "<course grader guard>", "exec", dont_inherit=True), guard)
    guard["install"](GUARD, *events)


def guard_tools() -> dict[str, Any] | None:
    """The guard's references (see grading/guard.py); None where no guard was added.

    Asked by an assignment that no module attribute stands in for, and answered by the guard
    with an exception: its hook is called before any the notebook added.
    """

    def probe() -> None:
        pass

    try:
        probe.__defaults__ = (GUARD,)
    except Exception as answer:
        found = answer.args
        if type(found) is tuple and len(found) == 3 and found[0] == GUARD:
            return found[2]
        raise
    return None


def _watched(func: Any, given: list[Any], watch: Any, tools: dict[str, Any] | None) -> Any:
    """``(result, raised, unwatched)`` of ``func(*given)`` under the watch sent with the call.

    The watch is ``course_lib/checks/_copies.py``'s text, sent by the judge with the sources
    of the copies and of the library's functions that call them, and run here in a namespace
    of its own, with the guard's ``compile``, ``exec``, built-ins and profiler switches
    (``tools``; this process's own where there is no guard): never a course_lib module of the
    kernel's, which the notebook may have replaced. A call of the course's own copy of the
    exercise, or of a check's code, is no answer: ``raised`` is then a ``CourseCopyUsed``.
    A copy called by the library's own code is let through only when the calling code is
    that compiled from the sources sent (``callers``), names that copy (``named``) and called
    it itself (not through a function of C's it called: ``opcodes``); no check runs in a
    graded kernel, so any call of a check's code counts there. ``unwatched`` says how the
    student's code switched the watch off, "" if it did not.
    """
    compile_, exec_ = (tools["compile"], tools["exec"]) if tools else (compile, exec)
    space: dict[str, Any] = {"__name__": "course_grader_watch"}
    if tools:
        space["__builtins__"] = tools["builtins"]
    exec_(compile_(str(watch["source"]), "<course grader watch>", "exec", dont_inherit=True), space)
    # Bound at once: the notebook's code may change anything in that namespace later (an
    # audit hook of its own, called as the copies are compiled; the student's code)
    compiled_copies, watched_call, message, copy_used = (
        space["compiled_copies"],
        space["watched_call"],
        space["message"],
        space["CourseCopyUsed"],
    )
    copies = compiled_copies(watch["copies"], compile_)
    callers = compiled_copies(watch["callers"], compile_)
    # No check runs in a graded kernel; without a guard (tests that stand in for a kernel in
    # the judge's process), the checks of this process
    checked = () if tools else None
    course = (str(watch["course"]), str(watch["sep"]))
    exercise = str(watch.get("exercise", ""))
    # The copies each of those functions names, the only ones it may call for the student
    # (none named: any), and how this Python's bytecode calls a function
    named = watch.get("named")
    if isinstance(named, dict):
        named = {str(owner): tuple(str(copy) for copy in names) for owner, names in named.items()}
    else:
        named = None
    ops = watch.get("opcodes")
    ops = tuple(int(op) for op in ops) if isinstance(ops, list) and len(ops) == 4 else None
    result, raised, used, off = watched_call(
        func,
        given,
        copies,
        course,
        tools,
        watch["watch_checks"] is True,
        callers,
        checked,
        named,
        ops,
    )
    if raised is None and used:
        raised = copy_used(message(used, exercise))
    return result, raised, off
