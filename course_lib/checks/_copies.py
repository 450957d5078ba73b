"""Answers that call the course's own copy of an exercise, or a check's code, instead of
doing the work.

Some lessons keep a tested copy of an exercise's answer in the library, for the lessons
after it (``models.build_better_cnn``, ``explain.grad_cam_heatmaps``, ...), and the checks
compute what they expect with code of their own (Keras' EarlyStopping replayed, say). An
answer that calls one of them passes without being the student's work. :func:`watched_call`
runs the student's code with a profiler that notes such a call: in the notebook
(``_core.call_student``) and in a graded kernel (``kernel_call.call_answer``). An exercise
may call the copy of an earlier one where its lesson does so itself (:data:`ALLOWED`): the
watch leaves that copy out while the exercise's check runs (:func:`forbidden`).

In a graded kernel this module is not imported: a notebook can replace anything there. The
judge sends its text and the sources of the copies the exercise forbids
(:func:`copy_sources`) with each call; the kernel runs them in a namespace of their own,
hands :func:`watched_call` the references to ``sys.setprofile`` and the like that the
grader took before the notebook's first cell (``tools/grading/guard.py``), and recognises a
copy by its code compiled from those sources (:func:`compiled_copies`). So the module
imports nothing when it is run, and the watch keeps what it decides with in its own locals
and defaults while the student's code runs.
"""

from __future__ import annotations

TYPE_CHECKING = False  # no import at all when the kernel runs this text
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# The exercises' answers the library keeps, as (module, function)
COPIES = (
    ("course_lib.images", "to_grayscale"),
    ("course_lib.images", "convolve2d"),
    ("course_lib.images", "same_padding"),
    ("course_lib.metrics", "most_confused_pairs"),
    ("course_lib.models", "build_better_cnn"),
    ("course_lib.explain", "grad_cam_heatmaps"),
    ("course_lib.serving.minimal", "create_minimal_app"),
    ("course_lib.distributed", "make_train_step"),
    ("course_lib.photos", "upright_rgb"),
    ("course_lib.photos", "split_files"),
    ("course_lib.photos", "build_images_in_model"),
    ("course_lib.edge", "representative_dataset"),
)
# The exercise each copy answers
ANSWERS = {
    "course_lib.images.to_grayscale": "1.1",
    "course_lib.images.convolve2d": "3.1",
    "course_lib.images.same_padding": "3.4",
    "course_lib.metrics.most_confused_pairs": "5.4",
    "course_lib.models.build_better_cnn": "4.3",
    "course_lib.explain.grad_cam_heatmaps": "5.6",
    "course_lib.serving.minimal.create_minimal_app": "7.2",
    "course_lib.distributed.make_train_step": "8.1",
    "course_lib.photos.upright_rgb": "9.1",
    "course_lib.photos.split_files": "9.2",
    "course_lib.photos.build_images_in_model": "9.3",
    "course_lib.edge.representative_dataset": "8.4",
}
# The copies an exercise's answer may call, because the lesson itself calls them for that
# exercise: the cell after exercise 3.3 sums exercise 3.1's convolve2d over the channels.
# Each of them is still no answer to its own exercise.
ALLOWED: dict[str, tuple[tuple[str, str], ...]] = {
    "3.3": (("course_lib.images", "convolve2d"),),
}
# The exercises whose checks are running, the innermost last (``_core.run_check`` sets it)
CHECKING: list[str] = []
# Whether a call of a check's own code counts too (tests turn both off to build answers)
WATCH_CHECKS = True
# The exception's name: it travels from a graded kernel to the judge as a name and a message
COPY_USED = "CourseCopyUsed"
# What the student is told when their code switched the watch off
SWITCHED_OFF = "sys.setprofile, which switched off the check's watch on these calls"
# The audit events the watch raises for each copy it sees and each thread the student's code
# starts: the grader's guard counts them (tools/grading/guard.py)
COPY_EVENT = "course-grader.copy"
THREAD_EVENT = "course-grader.thread"
# Grading machinery in checks/, which calls the student's code rather than answering for it
_MACHINERY = frozenset(
    {"__init__.py", "_core.py", "_drivers.py", "_batch_service.py", "_copies.py"}
)


class CourseCopyUsed(Exception):
    """The student's code called the course's own copy of the exercise, or a check's code."""


def message(name: str, exercise: str = "", _answers: dict[str, str] = ANSWERS) -> str:
    """What the student is told when their code, checked for ``exercise``, called ``name``."""
    if name.startswith("sys.setprofile"):
        return f"your code calls {name}; leave it alone, and write the answer yourself."
    if name.startswith("course_lib.checks."):
        return (
            f"your code calls {name}, part of the check that judges it; write the answer yourself."
        )
    answered = _answers.get(name, "")
    if exercise and answered and answered != exercise:
        return (
            f"your code calls {name}, the course's own copy of exercise {answered}, kept for "
            "the lessons after it; this exercise is to write the code yourself."
        )
    return (
        f"your code calls {name}, the course's own copy of this exercise, kept for the "
        "lessons after it; the exercise is to write it yourself."
    )


def forbidden(exercise: str | None = None) -> tuple[tuple[str, str], ...]:
    """The copies the student's code may not call in ``exercise``: :data:`COPIES` but those
    the exercise allows (:data:`ALLOWED`). By default, the exercise whose check is running."""
    if exercise is None:
        exercise = CHECKING[-1] if CHECKING else ""
    allowed = ALLOWED.get(exercise, ())
    return tuple(copy for copy in COPIES if copy not in allowed)


def copy_sources(copies: tuple[tuple[str, str], ...]) -> dict[str, list[Any]]:
    """``{module: [file, text, [function names]]}``: what a kernel compiles the copies from.

    Each module's text keeps its copies and its other top-level statements at their lines, and
    leaves out its other functions and classes: the copies compile to code equal (``==``) to
    the code of the module the kernel imported (the compiler treats names bound by an import
    differently, so the imports must be there). Read through the module's loader, which in
    the judge serves the grader's snapshot of the course.
    """
    import ast
    import importlib.util

    found: dict[str, list[Any]] = {}
    for module, name in copies:
        if module not in found:
            spec = importlib.util.find_spec(module)
            if spec is None or spec.loader is None or spec.origin is None:
                continue
            found[module] = [spec.origin, spec.loader.get_source(module), []]
        found[module][2].append(name)
    for entry in found.values():
        lines = entry[1].splitlines()
        kept = [""] * len(lines)
        for node in ast.parse(entry[1]).body:
            defined = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            if defined and node.name not in entry[2]:
                continue
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            kept[start - 1 : node.end_lineno] = lines[start - 1 : node.end_lineno]
        entry[1] = "\n".join(kept) + "\n"
    return found


def compiled_copies(
    sources: dict[str, list[Any]], compile_: Callable[..., Any] = compile
) -> tuple[tuple[Any, str], ...]:
    """``((code, "module.function"), ...)`` compiled from :func:`copy_sources`' texts."""
    found = []
    for module, (filename, text, names) in sources.items():
        code = compile_(text, filename, "exec", dont_inherit=True)
        for const in code.co_consts:
            if getattr(const, "co_name", None) in names:
                found.append((const, f"{module}.{const.co_name}"))
    return tuple(found)


def _loaded_copies() -> tuple[tuple[Any, str], ...]:
    """The code of the copies the running exercise forbids (:func:`forbidden`), as this
    process imported them (the notebook's watch)."""
    import importlib

    found = []
    for module, name in forbidden():
        try:
            code = getattr(importlib.import_module(module), name).__code__
        except Exception:  # a copy that does not import here cannot be called either
            continue
        found.append((code, f"{module}.{name}"))
    return tuple(found)


def _own_tools() -> dict[str, Any]:
    """This process's own profiler switches (the notebook's watch: no guard counts calls)."""
    import sys
    import threading

    return {
        "setprofile": sys.setprofile,
        "getprofile": sys.getprofile,
        "thread_setprofile": threading.setprofile,
        "thread_getprofile": threading.getprofile,
    }


def _course() -> tuple[str, str]:
    """The folder of course_lib, and the path separator."""
    import os

    return os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.sep


def _profile(
    copies: tuple[tuple[Any, str], ...],
    course: tuple[str, str],
    used: list[str],
    tools: dict[str, Any],
    watch_checks: bool,
    own: Any,
) -> Callable[..., None]:
    """The profiler: notes in ``used`` the first copy, or check's code, the student's code calls.

    A copy counts unless the library calls it itself; a check's code counts when the
    student's code calls it (not when a check calls its own code). So does a call of
    ``sys.setprofile`` (not the watch's own, in ``own``) or of ``threading.setprofile``.
    With a guard (``tools["audit"]``) it reports each copy it notes, and each thread the
    student's code starts, for the guard to count.
    Everything it decides with is in its defaults, set before the student's code runs, and
    it looks up no name at all: the student's code may change any module meanwhile.
    """
    folder, sep = course
    checks = folder + sep + "checks" + sep
    audit, thread_code = tools.get("audit"), getattr(tools["thread_setprofile"], "__code__", None)
    start, joinable = tools.get("thread_starts", (None, None))

    def profile(
        frame: Any,
        event: str,
        arg: Any,
        _codes: frozenset[Any] = frozenset(code for code, _ in copies),
        _copies: tuple[tuple[Any, str], ...] = copies,
        _used: list[str] = used,
        _audit: Any = audit,
        _event: str = COPY_EVENT,
        _thread_event: str = THREAD_EVENT,
        _start: Any = start,
        _joinable: Any = joinable,
        _setprofile: Any = tools["setprofile"],
        _thread_code: Any = thread_code,
        _own: Any = own,
        _off: str = SWITCHED_OFF,
        _course: str = folder + sep,
        _checks: str = checks,
        _callers: tuple[str, str] = (checks, folder + sep + "tools" + sep),
        _machinery: frozenset[str] = _MACHINERY,
        _watch_checks: bool = watch_checks,
        _sep: str = sep,
    ) -> None:
        if _used:
            return
        if event == "c_call":
            if arg is _setprofile:
                if frame.f_code is not _own:
                    _used.append(_off)
            elif _audit is not None and (arg is _start or arg is _joinable):
                _audit(_thread_event, "")  # a new thread, which must take this profile
            return
        if event != "call":
            return
        code = frame.f_code
        if code is _thread_code:
            _used.append(_off)
            return
        back = frame.f_back
        caller = back.f_code.co_filename if back is not None else ""
        if code in _codes:
            # the library using its own function is fine; the student's code calling it, or
            # the checks' machinery calling it because it was handed in as the answer, is not
            if caller.startswith(_course) and not caller.startswith(_callers):
                return
            for known, name in _copies:
                if known == code:
                    _used.append(name)
                    if _audit is not None:
                        _audit(_event, name)
                    return
            return
        filename = code.co_filename
        if not _watch_checks or not filename.startswith(_checks):
            return
        module = filename.rpartition(_sep)[2]
        if module in _machinery or caller.startswith(_course):  # a check calling its own code
            return
        _used.append("course_lib.checks." + module.removesuffix(".py") + "." + code.co_name)
        if _audit is not None:
            _audit(_event, _used[0])

    return profile


def watched_call(
    func: Callable[..., Any],
    args: tuple[Any, ...] | list[Any],
    copies: tuple[tuple[Any, str], ...] | None = None,
    course: tuple[str, str] | None = None,
    tools: dict[str, Any] | None = None,
    watch_checks: bool | None = None,
) -> tuple[Any, BaseException | None, str, str]:
    """``func(*args)`` with the watch on: ``(result, what it raised, used, off)``.

    ``used`` names the copy or check's code the student's code called (``SWITCHED_OFF`` if
    it switched the watch off), "" if none; ``off`` says how the watch was switched off, ""
    if it stayed on. The watch covers the threads that code starts through ``threading``.
    In a graded kernel ``copies``, ``course`` and ``tools`` are the grader's (see the module's
    docstring), and ``tools["counts"]`` gives the guard's counts, which the notebook cannot
    lower: a call of ``sys.setprofile`` or ``sys.settrace`` but the watch's own two, a copy
    seen that ``used`` no longer names, or a thread started that did not take the watch's
    profile, is switching it off.
    After the student's code ran, this function looks up no name: only its locals.
    """
    tools = _own_tools() if tools is None else tools
    copies = _loaded_copies() if copies is None else copies
    course = _course() if course is None else course
    watch_checks = WATCH_CHECKS if watch_checks is None else watch_checks
    setprofile, getprofile = tools["setprofile"], tools["getprofile"]
    thread_setprofile, thread_getprofile = tools["thread_setprofile"], tools["thread_getprofile"]
    counts, sleep = tools.get("counts"), tools.get("sleep")
    waits = range(40) if counts is not None else range(0)
    # Bound before the student's code runs, which may rebind any global or built-in name
    switched_off, caught = SWITCHED_OFF, BaseException
    used: list[str] = []
    profile = _profile(copies, course, used, tools, watch_checks, watched_call.__code__)
    before = counts() if counts is not None else None
    previous, previous_threads = getprofile(), thread_getprofile()
    result, raised, off = None, None, ""
    try:
        try:
            thread_setprofile(profile)  # threads the student's code starts meanwhile
            setprofile(profile)
        except caught as exc:  # refused by an audit hook of the notebook's
            off = f"the watch could not start ({type(exc).__name__})"
        if not off and getprofile() is not profile:
            off = "the watch did not start"
        if not off:
            try:
                result = func(*args)
            except caught as exc:  # the student's code may raise anything
                raised = exc
            if getprofile() is not profile:
                off = "the profile was no longer in place after the call"
            elif thread_getprofile() is not profile:
                off = "threading's profile was no longer in place after the call"
            # A thread the answer started and left running takes the profile as it starts:
            # a moment to do so, before it is compared with the threads started
            for _ in waits:
                now = counts()
                if now is None or before is None or now[2] - before[2] <= now[3] - before[3]:
                    break
                sleep(0.05)
    finally:  # an interrupt too (a time limit) leaves the kernel's profile as it was
        setprofile(previous)
        thread_setprofile(previous_threads)
    if counts is not None:
        after = counts()
        if before is None or after is None:
            off = off or "the grader's guard did not answer"
        elif after[0] - before[0] != 2:  # the watch's own: switched on, then off
            off = off or "sys.setprofile or sys.settrace was called"
        elif after[1] != before[1] and not used:
            off = off or "the watch's record of the copies called was emptied"
        elif after[2] - before[2] > after[3] - before[3]:
            off = off or "a thread the student's code started was not watched"
    if used and used[0] is switched_off:
        off = off or "sys.setprofile or threading.setprofile was called"
    if off and not used:
        used.append(switched_off)
    return result, raised, used[0] if used else "", off
