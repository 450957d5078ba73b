"""Phase B of grading: judge what a student's kernel exported, in a process of the grader's own.

The student's notebook runs in its kernel (phase A, :mod:`course_lib.tools.grading.execute`). For
each exercise, the kernel exports the check's arguments as data (:func:`kernel_encode.encode`:
JSON and ``.npy`` files written without pickle). This process runs the exercise's *own
check*, from ``course_lib.checks``, with stand-ins for the student's functions: a stand-in
answers a call with what the student's function returned (or raised, or changed in place)
when the kernel called it with the same arguments. A call the kernel has not made yet stops
the check: the grader has the kernel make it, and runs the check again with one more answer
known. The check's verdict and message are those a student sees in the notebook.

Nothing here imports the student's code or unpickles anything, and the kernel never sees a
check, an expected value or a seed: the checks draw their test data from a salt chosen
afresh for each grading run (:func:`course_lib.checks._core.fresh_inputs`), so answers
computed in advance for the published test data do not match.

Run as ``python -m course_lib.tools.grading.judge``: one JSON request per line on stdin, one JSON
reply per line on stdout (see :func:`handle`).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
from typing import Any

from course_lib.tools.grading import exchange, judge_settings, judge_sources
from course_lib.tools.grading.in_place import InPlace, NotRestored
from course_lib.tools.grading.judge_decode import Unsupported, _read_json, decode
from course_lib.tools.grading.judge_replay import (
    ForgedOutcome,
    NeedCall,
    Replay,
    UnreadableOutcome,
    fingerprint,
)
from course_lib.tools.grading.kernel_call import call_answer
from course_lib.tools.grading.kernel_encode import encode, export_values
from course_lib.tools.grading.kernel_files import FilesRead, create_file, place, read_file
from course_lib.tools.grading.model_config import MAX_WEIGHTS_BYTES

# The largest file of an export the judge reads: a model's weights are the largest there are
MAX_EXPORT_FILE_BYTES = MAX_WEIGHTS_BYTES

MAX_CALLS = 60  # an exercise's check calls the student's functions at most this often
# What the kernel keeps and the judge only reaches through calls (kernel_encode.encode): the
# student's functions, and datasets and paths, which drivers read in the kernel.
HELD = ("function", "dataset", "path")


def answer_names(expression: str) -> list[str]:
    """The notebook variables a check expression takes, e.g. ``['prepare', 'prep']``."""
    call = ast.parse(expression, mode="eval").body
    if not isinstance(call, ast.Call):
        raise ValueError(f"not a call: {expression}")
    names = []
    for arg in [*call.args, *(k.value for k in call.keywords)]:
        if not isinstance(arg, ast.Name):
            raise Unsupported(f"argument {ast.unparse(arg)} is not a plain variable")
        names.append(arg.id)
    return names


def judge(request: dict[str, Any]) -> dict[str, Any]:
    """One round of judging an exercise; see :func:`handle` for the request's fields.

    What the student's code changed in place is given to the check's objects for this round
    only: they are put back when it ends, whatever it gives (:mod:`in_place`). Every folder
    of the exchange is reached, and every file in it read or created, through no link
    (:mod:`exchange`): the kernel can change them while the judge works.
    """
    if not isinstance(request.get("root"), str):
        return {"status": "error", "message": "the request names no working folder"}
    changes = InPlace()
    try:
        with exchange.Folders(request["root"]) as folders:
            return _judged(request, folders, changes)
    finally:
        changes.undo()


def _judged(request: dict[str, Any], folders: exchange.Folders, changes: InPlace) -> dict[str, Any]:
    from course_lib import checks
    from course_lib.checks import _core

    names = answer_names(request["expression"])
    values = folders.open(request["values"])
    exported = _read_json(values, "values.json")
    outcomes: dict[str, tuple[dict[str, Any], str | int]] = {}
    for call in request.get("calls", []):
        sent_to, out = folders.open(call["request"]), folders.open(call["out"])
        sent = _read_json(sent_to, "call.json")
        outcome, files = _outcome(out, call)
        args = tuple(decode(tree, sent_to) for tree in sent["args"])
        outcomes[fingerprint(call["name"], args, sent.get("driver", ""))] = (outcome, files)
    namespace: dict[str, Any] = {"checks": checks}
    for name in names:
        tree = exported.get(name, {"t": "missing"})
        if tree.get("t") == "missing":
            return {"status": "error", "message": f"NameError: name {name!r} is not defined"}
        namespace[name] = (
            Replay(name, outcomes, changes) if tree.get("t") in HELD else decode(tree, values)
        )
    if "keras" in sys.modules:
        # The check may build models: the same names and initial weights on each round, so
        # that the calls it makes are recognised as the ones the kernel has answered.
        import keras

        keras.backend.clear_session(free_memory=False)
        keras.utils.set_random_seed(int(request["salt"]) % 2**32)
    try:
        with _core.fresh_inputs(int(request["salt"])):
            outcome = eval(compile(request["expression"], "<exercise check>", "eval"), namespace)
    except NeedCall as need:
        if len(outcomes) >= MAX_CALLS:
            return {"status": "error", "message": "the check needed too many calls"}
        # New each round: anything already there was put there by the kernel
        folder = folders.make(request["next"])
        counter = [0]
        try:
            trees = [encode(a, folder, counter) for a in need.args_given]
        except Exception as exc:
            return {"status": "unsupported", "message": f"cannot send the arguments: {exc}"}
        if any(t["t"] in ("opaque", *HELD) for t in trees):
            return {"status": "unsupported", "message": "an argument is not plain data"}
        sent: dict[str, Any] = {"args": trees}
        if need.driver:  # the kernel runs the driver's code, sent as text with the call
            sent |= {"driver": need.driver, "driver_source": judge_sources.drivers_source()}
        with create_file(*place(folder, "call.json")) as handle:
            handle.write(json.dumps(sent).encode("utf-8"))
        # The watch goes with the grader's cell, never through the kernel's folder
        return {
            "status": "need",
            "name": need.name,
            "request": request["next"],
            "watch": judge_sources.watch(need.exercise),
        }
    except Unsupported as exc:
        return _unsupported(exc)
    if not isinstance(outcome, _core.CheckResult):
        return {"status": "error", "message": f"the check returned a {type(outcome).__name__}"}
    message = str(outcome.message)
    return {"status": "passed" if outcome.passed is True else "failed", "message": message}


def _outcome(out: str | int, call: dict[str, Any]) -> tuple[Any, Any]:
    """What the kernel wrote for ``call`` in ``out``, and the folder its files are read from.

    When the call carries a digest (the grader's calls always do), outcome.json's bytes must
    be those the kernel replied with, and every file it lists those of the digest it gives:
    each is read once, here, and the rest of the round reads it from memory
    (:class:`FilesRead`); a file it does not list is never read. Otherwise
    :class:`ForgedOutcome`.
    """
    data = read_file(*place(out, "outcome.json"))
    if "digest" not in call:  # a test standing in for a kernel
        return json.loads(data.decode("utf-8")), out
    if hashlib.sha256(data).hexdigest() != str(call["digest"]):
        raise ForgedOutcome(
            "outcome.json is not the file the grader's code in the kernel wrote"
            + ("" if call["digest"] else " (the kernel gave no digest of it)")
        )
    outcome = json.loads(data.decode("utf-8"))
    listed = outcome.get("files") if isinstance(outcome, dict) else None
    if not isinstance(listed, dict):
        raise ForgedOutcome("outcome.json lists none of the files of the export")
    files = FilesRead()
    for name, digest in listed.items():
        try:
            content = read_file(*place(out, str(name)), limit=MAX_EXPORT_FILE_BYTES)
        except (OSError, ValueError) as exc:
            raise ForgedOutcome(f"{str(name)[:80]} could not be read ({exc})") from None
        if hashlib.sha256(content).hexdigest() != str(digest):
            raise ForgedOutcome(
                f"{str(name)[:80]} is not the file the grader's code in the kernel wrote"
            )
        files[str(name)] = content
    return outcome, files


def _unsupported(exc: Unsupported) -> dict[str, Any]:
    reply = {"status": "unsupported", "message": str(exc)}
    return reply | ({"tampering": exc.tampering} if exc.tampering else {})


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Answer one request, never raising; Keras's process-wide settings as they were before.

    A reply may carry ``tampering``: what the notebook's export did to the judge (a setting
    of Keras's it changed, which is put back; a config only a forged export has), for a
    finding against the notebook being graded.
    """
    reply = _handled(request)
    changed = judge_settings.restore()
    if changed:
        finding = (
            "what the notebook exported changed the judge's Keras settings "
            f"({'; '.join(changed)}); the grader put them back"
        )
        reply["tampering"] = "; ".join(filter(None, [reply.get("tampering", ""), finding]))
    return reply


def _handled(request: dict[str, Any]) -> dict[str, Any]:
    """:func:`handle`, before Keras's settings are compared with the judge's baseline.

    ``request``: ``expression`` (the check cell's, from the solution notebook), ``root`` (the
    kernel's working folder, which the grader made: the folders below lie in it), ``values``
    (the folder the kernel exported the check's arguments to), ``calls`` (the calls the
    kernel made: ``name``, ``request`` and ``out`` folders), ``next`` (where to write the
    next call's arguments) and ``salt`` (this grading run's).
    Reply ``status``: ``passed``/``failed`` with the check's ``message``; ``need`` with the
    ``name`` of the function to call on the arguments in ``request``, and the ``watch`` to call
    it under (:func:`_watch`); ``unsupported`` or ``error``.
    """
    try:
        return judge(request)
    except NotRestored as exc:
        # A check's object may keep what a kernel reported: this judge must judge no one
        # else (main stops it, and the grader starts a fresh one).
        return {
            "status": "error",
            "message": f"the judge could not undo a change to the check's objects ({exc})",
            "stop": True,
        }
    except Unsupported as exc:
        return _unsupported(exc)
    except ForgedOutcome as exc:
        return {
            "status": "error",
            "message": f"the exported answer could not be read ({exc})",
            "tampering": f"the notebook changed what the grader's code in its kernel wrote: {exc}",
        }
    except UnreadableOutcome as exc:
        return {"status": "error", "message": f"the exported answer could not be read ({exc})"}
    except Exception as exc:  # a malformed export: the student's kernel wrote it
        return {
            "status": "error",
            "message": f"the exported answer could not be read ({type(exc).__name__}: "
            f"{str(exc)[:200]})",
        }


def main(lazy_imports: bool = False) -> None:
    # First of all: no process of this user (a student's kernel) may trace this one or
    # open its memory to change a verdict.
    from course_lib.tools.grading import isolation

    isolation.make_undumpable()
    replies = sys.stdout
    sys.stdout = sys.stderr  # whatever the checks print must not mix with the replies
    # Keras and every check are in memory before "ready". The grader lets the first cell of a
    # kernel run only after it, unless the kernel is in a view of its own, where it can
    # change none of the files read here: a notebook that rewrites files on disk (possible
    # outside a read-only container) does not change what judges it. When every kernel of
    # the run has a view (``lazy_imports``), Keras waits for the first check that needs it:
    # lessons judged with NumPy alone never spend seconds loading it.
    if not lazy_imports:
        import keras  # noqa: F401

    from course_lib import checks  # noqa: F401

    judge_sources.drivers_source()
    from course_lib.checks import _copies

    for exercise in ("", *_copies.ALLOWED):
        judge_sources.watch(exercise)
    judge_settings.record()  # now, or right after Keras is imported (lazy_imports)

    replies.write(json.dumps({"status": "ready"}) + "\n")
    replies.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError:
            reply = {"status": "error", "message": "unreadable request"}
        else:
            reply = handle(request)
        stop = reply.pop("stop", False)
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
        if stop:
            return


if __name__ == "__main__":
    main()


def judge_locally(
    expression: str, namespace: dict[str, Any], salt: int, folder: str
) -> dict[str, Any]:
    """Both phases in this process, with ``namespace`` standing for the kernel's variables.

    For tests of the protocol: the calls go through the same export (:mod:`kernel_encode`) and
    the same files as in grading, only without a kernel in between.
    """
    values = os.path.join(folder, "values")
    export_values({"names": answer_names(expression), "dir": values}, namespace)
    calls: list[dict[str, str]] = []
    for round_number in range(MAX_CALLS + 1):
        reply = handle(
            {
                "expression": expression,
                "root": folder,
                "values": values,
                "calls": calls,
                "salt": salt,
                "next": os.path.join(folder, f"call{round_number}"),
            }
        )
        if reply["status"] != "need":
            return reply
        out = os.path.join(folder, f"out{round_number}")
        call = {"name": reply["name"], "request": reply["request"], "out": out}
        call_answer(call | {"watch": reply["watch"]}, namespace)
        calls.append(call)
    return {"status": "error", "message": "the check needed too many calls"}
