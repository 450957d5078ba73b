"""Answers that call the course's own copy of an exercise, or a check's code, instead of
doing the work.

Some lessons keep a tested copy of an exercise's answer in the library, for the lessons
after it (``models.build_better_cnn``, ``explain.grad_cam_heatmaps``, ...), and the checks
compute what they expect with code of their own (Keras' EarlyStopping replayed, say). An
answer that calls one of them passes without being the student's work. :func:`watching`
notes such a call, made from the student's own code, while a check runs that code: in the
notebook (``_core.call_student``) and in a graded kernel (``kernel_code.call_answer``).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
from collections.abc import Iterator
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
# Whether a call of a check's own code counts too (tests turn both off to build answers)
WATCH_CHECKS = True
# The exception's name: it travels from a graded kernel to the judge as a name and a message
COPY_USED = "CourseCopyUsed"

_CHECKS = os.path.dirname(os.path.abspath(__file__))
_COURSE = os.path.dirname(_CHECKS)
# Code that calls what it is handed: the checks and the grader (``course_lib/tools``)
_CALLERS_OF_ANSWERS = (_CHECKS + os.sep, os.path.join(_COURSE, "tools") + os.sep)
# Grading machinery in checks/, which calls the student's code rather than answering for it
_MACHINERY = {"__init__.py", "_core.py", "_drivers.py", "_batch_service.py", "_copies.py"}


class CourseCopyUsed(Exception):
    """The student's code called the course's own copy of the exercise, or a check's code."""


def message(name: str) -> str:
    if name.startswith("sys.setprofile"):
        return f"your code calls {name}; leave it alone, and write the answer yourself."
    if name.startswith("course_lib.checks."):
        return (
            f"your code calls {name}, part of the check that judges it; write the answer yourself."
        )
    return (
        f"your code calls {name}, the course's own copy of this exercise, kept for the "
        "lessons after it; the exercise is to write it yourself."
    )


def _copies() -> dict[Any, str]:
    found = {}
    for module, name in COPIES:
        try:
            found[getattr(importlib.import_module(module), name).__code__] = f"{module}.{name}"
        except Exception:  # a copy that does not import here cannot be called either
            continue
    return found


@contextlib.contextmanager
def watching() -> Iterator[list[str]]:
    """While the block runs, the names of the copies the student's code called (at most one).

    A copy counts unless the library calls it itself; a check's code counts when the
    student's code calls it (not when a check calls its own code).
    """
    used: list[str] = []
    copies = _copies()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event != "call" or used:
            return
        code = frame.f_code
        caller = frame.f_back.f_code.co_filename if frame.f_back is not None else ""
        name = copies.get(code)
        if name is not None:
            # the library using its own function is fine; the student's code calling it, or
            # the checks' machinery calling it because it was handed in as the answer, is not
            library = caller.startswith(_COURSE + os.sep) and not caller.startswith(
                _CALLERS_OF_ANSWERS
            )
            if not library:
                used.append(name)
            return
        filename = code.co_filename
        if (
            not WATCH_CHECKS
            or not filename.startswith(_CHECKS + os.sep)
            or os.path.basename(filename) in _MACHINERY
        ):
            return
        if caller.startswith(_COURSE + os.sep):  # a check calling its own code
            return
        module = os.path.basename(filename).removesuffix(".py")
        used.append(f"course_lib.checks.{module}.{code.co_name}")

    previous, previous_threads = sys.getprofile(), threading.getprofile()
    sys.setprofile(profile)
    threading.setprofile(profile)  # threads the student's code starts meanwhile
    try:
        yield used
        if sys.getprofile() is not profile and not used:
            used.append("sys.setprofile, which switched off the check's watch on these calls")
    finally:
        sys.setprofile(previous)
        threading.setprofile(previous_threads)
