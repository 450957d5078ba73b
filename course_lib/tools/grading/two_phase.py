"""Two-phase grading, as the grader runs it: which exercises, and the exchange for one.

Phase A, in the student's kernel, exports the check's arguments and makes the calls of the
student's functions that phase B, the judge (:mod:`course_lib.tools.grading.judge`, in a
process of the grader's own: :mod:`judge_process`), asks for; B judges.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from course_lib.tools.grading import judge
from course_lib.tools.grading.kernel_run import _STARTUP_TIMEOUT
from course_lib.tools.grading.submissions import ExerciseKey, LessonKey

if TYPE_CHECKING:
    from course_lib.tools.grading.notebook_run import _Grading

# Exercises judged in two phases (the kernel exports data, another process judges it; see
# course_lib.tools.grading.judge): answers that are functions of plain data, plain values, Keras
# models, which travel as their config and a .weights.h5 and are rebuilt in the judge with
# Keras's safe mode, or answers a driver turns into data in the kernel. The others still run
# their check inside the student's kernel, on test data salted for the run, with the defences
# described in docs/INSTRUCTORS.md: their answers are generators, servers or files the kernel
# must read.
# A fixed list, never a decision on what a notebook exports, so that no notebook can choose
# the weaker path.
# Lesson 02: 2.4 (a Sequential of augmentation layers) travels as a model. The others are
# tf.data pipelines, read by drivers (course_lib.checks._drivers) in the kernel: 2.1's check
# has the kernel run `preprocess` inside Dataset.map and judges the elements that came out;
# 2.2's and 2.5's drivers build the test datasets from the judge's arrays, call the student's
# function and return what it made as data (type, cardinality, element spec, steps, shuffle
# buffers, and the batches of each epoch, capped); 2.3's answers are datasets the notebook
# made, kept in the kernel (exported as marks, like functions), whose batches a driver
# returns, and the folder's file names too: the judge never opens the kernel's folder.
# 6.3, 8.3 and 8.4 through drivers too: 6.3's photo files travel as their bytes (the kernel
# writes each in a folder of its own) and the backbone as its model; 8.3's stand-in service
# runs beside predict_all in the kernel, on the check's own model and images, and returns the
# size of every request; 8.4's generator is read in the kernel, at most 1,001 samples.
# Lesson 07: 7.2's Flask app cannot travel: the driver flask_exchanges builds it in the kernel
# around the check's own model, class names and record (not the notebook's), replays the
# check's requests with Flask's test client and returns the answers as data. 7.4's client
# talks to a service the judge runs itself (course_lib.checks._batch_service), which counts
# the requests that reach it, instead of the notebook's server.
# Lesson 08: 8.1's answer is a train step that must run under a MirroredStrategy, which
# cannot travel: the driver train_two_steps builds one over the kernel's logical CPUs (the
# lesson splits the CPU in two), trains the check's CNN (sent as its config and weights) for
# two steps with the student's step and returns the losses and weights; the judge computes
# the library's steps itself. The notebook's `strategy` reaches the judge as its type's name.
TWO_PHASE = frozenset(
    {
        "1.1",
        "1.2",
        "1.3",
        "1.4",
        "2.1",
        "2.2",
        "2.3",
        "2.4",
        "2.5",
        "3.1",
        "3.2",
        "3.3",
        "3.4",
        "3.5",
        "3.6",
        "4.1",
        "4.2",
        "4.3",
        "4.4",
        "5.1",
        "5.2",
        "5.3",
        "5.4",
        "5.5",
        "5.6",
        "6.1",
        "6.2",
        "6.3",
        "6.4",
        "6.5",
        "6.6",
        "7.1",
        "7.2",
        "7.3",
        "7.4",
        "7.5",
        "8.1",
        "8.2",
        "8.3",
        "8.4",
        "8.5",
        "9.1",
        "9.2",
        "9.3",
    }
)


def needs_judge(key: LessonKey) -> bool:
    """Whether grading this lesson needs a :class:`Judge` (an exercise judged in two phases)."""
    return any(e.number in TWO_PHASE for e in key.exercises)


def _two_phase(grading: _Grading, exercise: ExerciseKey) -> dict[str, Any] | None:
    """Phase A exports the check's arguments and makes the calls phase B asks for; B judges."""
    kernel = grading.kernel
    folder = os.path.join(grading.exchange, exercise.number)
    values = os.path.join(folder, "values")
    names = judge.answer_names(exercise.check)

    replies: list[dict[str, Any]] = []

    def in_kernel(action: str, args: dict[str, Any], what: str) -> tuple[bool, dict | None]:
        """One grader cell, within the notebook's time left.

        ``(True, None)`` when it answered (its reply last in ``replies``); else ``(False,
        the exercise's result)``, whose result is None when the cell gave none.
        """
        limit = grading.time_left()
        if limit < 1:
            return False, grading.out_of_time()
        payload = kernel.grader(action, args, limit)
        if kernel.timed_out():
            kernel.ensure_alive(what)
            return False, {"status": "timeout", "message": str(limit)}
        if payload is not None and payload.get("unwatched"):
            grading.note_unwatched(exercise.number, str(payload["unwatched"]))
        replies.append(payload or {})
        return payload is not None and payload.get("action") == action, None

    answered, result = in_kernel(
        "values", {"names": names, "dir": values}, f"the export of exercise {exercise.number}"
    )
    if not answered:
        return result
    calls: list[dict[str, str]] = []
    assert grading.judge is not None
    for round_number in range(judge.MAX_CALLS + 1):
        reply = grading.judge.ask(
            {
                "expression": exercise.check,
                # The kernel's working folder: the judge reaches the exchange from it, through
                # no link (grading.exchange)
                "root": os.path.dirname(grading.exchange),
                "values": values,
                "calls": calls,
                "salt": grading.salt,
                "next": os.path.join(folder, f"call{round_number}"),
            },
            timeout=max(grading.options.cell_timeout, _STARTUP_TIMEOUT),
        )
        if reply.get("tampering"):  # what the export did to the judge: the notebook is named
            grading.note_judged(exercise.number, str(reply["tampering"]))
        if reply.get("status") != "need":
            if reply.get("status") == "unsupported":
                return {
                    "status": "failed",
                    "message": "the grader cannot judge what your code gave it: "
                    f"{reply.get('message', '')}",
                }
            return reply
        out = os.path.join(folder, f"out{round_number}")
        call = {"name": str(reply["name"]), "request": str(reply["request"]), "out": out}
        answered, result = in_kernel(
            "call",
            call | {"watch": reply.get("watch")},
            f"your code, called by the check of exercise {exercise.number},",
        )
        if not answered:
            return result
        # The digest of the outcome file the kernel wrote: the judge reads no other
        calls.append(call | {"digest": str(replies[-1].get("digest", ""))})
    return {"status": "error", "message": "the check needed too many calls"}
