"""Code that the grader runs inside a student's kernel, in cells the student never saw.

The grader does not import this module in the kernel (the student could have
replaced it there): it sends this file's *text* as the source of each of its own
cells, executed by ``exec`` in a private namespace holding ``ACTION``, ``ARGS``,
``NONCE`` and ``PARTS``: the texts of the modules that hold the actions' code
(``kernel_fingerprint``, ``snapshot_finder``, ``kernel_check``, ``kernel_encode``,
``kernel_files``, ``kernel_watch``, ``kernel_call``), which this text runs in that same
namespace before :func:`main`. So they import nothing from course_lib there, and each other
only where they are imported as modules (by the grader, the judge and tests). Every cell
emits exactly one JSON output of type :data:`GRADER_MIME` carrying the cell's fresh random
``NONCE``; the grader process reads only those outputs of its own cells.

Actions:

``fingerprint``
    Identities of the objects a check's outcome depends on beyond course_lib
    (NumPy and built-in functions, ``sys`` hooks, IPython's input transformers,
    event callbacks and display machinery), plus threads started by notebook
    code. Taken in full before the student's cells run, when the grader's guard
    (:mod:`course_lib.tools.grading.guard`, sent as text) is added too; later,
    given that baseline, only what has changed since.
``check``
    Drop every ``course_lib`` module from ``sys.modules``, import the package
    afresh from the sources the grader read when grading started (sent with the cell,
    served by :class:`snapshot_finder.SnapshotFinder`, never read from disk), report which
    course_lib functions the notebook had replaced in memory, and evaluate one exercise's check
    expression (taken from the solution notebook) against the student's
    variables, on test data salted for this grading run, with a fingerprint
    just before and just after.
``values``
    Export the notebook variables an exercise's check takes, as data only (see
    :func:`kernel_encode.encode`): functions are marked as such, to be called later by
    ``call``.
``call``
    Call one of the student's functions on arguments the grader wrote (``.npy``
    files read without pickle, JSON), and export what it returned or raised, and
    any argument it changed in place; or run it through one of the grader's drivers
    (``course_lib.checks._drivers``, sent as text with the call: tf.data's ``map``, say),
    which returns data too. The grader judges these data in another
    process (:mod:`course_lib.tools.grading.judge`): no check, expected value or course
    answer is ever loaded here. The call is watched for calls of the course's own copy of
    the exercise (``course_lib.checks._copies``, sent as text too, with what the guard took
    before the notebook ran); a notebook that switched the watch off is reported.
``ping``
    Answers at once: tells the grader the kernel recovered after an interrupt.
"""

from __future__ import annotations

from typing import Any

if __name__.startswith("course_lib."):  # imported; sent as text, the parts share a namespace
    from course_lib.tools.grading.kernel_call import call_answer
    from course_lib.tools.grading.kernel_check import run_check
    from course_lib.tools.grading.kernel_encode import export_values
    from course_lib.tools.grading.kernel_fingerprint import fingerprint
    from course_lib.tools.grading.kernel_watch import install_guard

GRADER_MIME = "application/vnd.course.grader+json"


def _emit(payload: dict[str, Any], nonce: str) -> None:
    from IPython.display import display

    display({GRADER_MIME: {"nonce": nonce, **payload}}, raw=True)


def main(action: str, args: dict[str, Any], nonce: str) -> None:
    if action == "fingerprint":
        if "guard" in args:  # the grader's first cell, before the notebook's
            install_guard(args["guard"], args["events"])
        _emit({"action": action, **fingerprint(args.get("baseline"))}, nonce)
    elif action == "check":
        _emit({"action": action, **run_check(args)}, nonce)
    elif action == "values":
        _emit({"action": action, **export_values(args)}, nonce)
    elif action == "call":
        _emit({"action": action, **call_answer(args, guarded=True)}, nonce)
    else:
        _emit({"action": "ping"}, nonce)


if __name__ == "__course_grader__":
    for _part in PARTS:  # noqa: F821 - provided by the grader's exec namespace
        exec(compile(_part, "course-grader", "exec", dont_inherit=True), globals())
    main(ACTION, ARGS, NONCE)  # noqa: F821 - provided by the grader's exec namespace
