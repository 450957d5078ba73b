"""The ``call`` action of the grader's code in a student's kernel (:mod:`kernel_code`).

:func:`call_answer` calls one of the student's functions on arguments the judge wrote, or
runs it through one of the grader's drivers (``course_lib.checks._drivers``, sent as text),
under the watch on the course's copies (:mod:`kernel_watch`), and exports what it returned
or raised, and any argument it changed in place (:mod:`kernel_encode`). Sent into the kernel
as text.
"""

from __future__ import annotations

from typing import Any

if __name__.startswith("course_lib."):  # imported; sent as text, the parts share a namespace
    from course_lib.tools.grading.kernel_encode import encode
    from course_lib.tools.grading.kernel_files import decode_plain, read_file
    from course_lib.tools.grading.kernel_watch import _watched, guard_tools


def _driven(func: Any, driver: str, source: str) -> Any:
    """``func`` as the grader's driver runs it (course_lib.checks._drivers, sent as text)."""
    drivers: dict[str, Any] = {"__name__": "course_grader_drivers"}
    exec(compile(source, "<course grader drivers>", "exec", dont_inherit=True), drivers)
    run = drivers["DRIVERS"][driver]
    return lambda *given: run(func, *given)


def _threads_running(tools: dict[str, Any]) -> str:
    """The Python threads running the notebook's own code that did not when the guard was
    added (grading/guard.py): started by the notebook before the call; "" if none."""
    try:
        return ", ".join(tools["notebook_threads"]())[:300]
    except Exception:  # an audit hook of the notebook's refused to list them
        return "?"


def call_answer(
    args: dict[str, Any], namespace: dict[str, Any] | None = None, guarded: bool = False
) -> dict[str, Any]:
    """Call the student's ``args["name"]`` on the grader's arguments; export the outcome.

    ``args``: ``name``, the ``request`` folder holding the arguments (``call.json``), the
    ``out`` folder, and the ``watch`` the judge sent (sent in the grader's cell, not through
    the kernel's folder or its ``json``: it decides whether the answer is a copy).
    ``guarded``: in a graded kernel, whose guard (grading/guard.py) the watch must use.
    Then no profiler or tracer of the notebook's may run in this cell (it could change what
    the grader's code holds), and ``sys.setprofile`` or ``sys.settrace`` may be called in
    it only by the watch, switching itself on and off.
    The answer is exported while the watch is still on (the export calls the student's
    objects: a returned array-like's ``__array__``, a model's ``get_config``).
    The reply carries the ``digest`` (sha256) of the outcome file written, which lists the
    other files of the export with their own digests, taken under the watch; the judge checks
    both (a file the notebook changed or replaced after it was written is not read).
    """
    # Bound before anything else runs here: the notebook's own code may run during what
    # follows (an audit hook it added, called as a file is opened) and rebind this
    # namespace's names
    watched, threads_running, export, read = _watched, _threads_running, encode, read_file
    tools = guard_tools() if guarded else None
    before = tools["counts"]() if tools else None
    # What writes the outcome, taken from the guard before the student's code runs (which
    # can reach this cell's dict of tools, and may have replaced json)
    to_json, sha256 = (tools["json_encode"], tools["sha256"]) if tools else (None, None)
    import hashlib
    import json
    import os

    import numpy as np

    if namespace is None:
        from IPython import get_ipython

        namespace = get_ipython().user_ns

    with open(os.path.join(args["request"], "call.json"), encoding="utf-8") as handle:
        request = json.load(handle)
    given = [decode_plain(tree, args["request"]) for tree in request["args"]]
    pristine = [a.copy() if isinstance(a, (np.ndarray, list)) else None for a in given]
    out = args["out"]
    os.makedirs(out, exist_ok=True)
    func = namespace.get(args["name"])
    if request.get("driver"):
        func = _driven(func, str(request["driver"]), str(request.get("driver_source", "")))
    unwatched = ""
    if guarded and (tools is None or before is None):
        unwatched = "the grader's guard did not answer"
    elif not isinstance(args.get("watch"), dict):
        unwatched = "the check sent no watch with the call"
    elif tools and (tools["gettrace"]() is not None or tools["getprofile"]() is not None):
        unwatched = "a profiler or tracer of the notebook's ran in the grader's cell"
    elif tools and (running := threads_running(tools)):
        # the watch cannot follow a thread already running: it could run a copy for the answer
        unwatched = (
            f"a thread the notebook started was running while its answer was checked ({running})"
        )

    def raised_tree(exc: BaseException) -> dict[str, Any]:
        return {
            "type": type(exc).__name__[:80],
            "message": str(exc)[:500],
            "builtin": type(exc).__module__ == "builtins",
        }

    def serialised(outcome: dict[str, Any]) -> tuple[bytes, str]:
        """outcome.json's bytes, written by the guard's encoder, and their digest."""
        text = "".join(to_json(outcome, 0)) if to_json is not None else json.dumps(outcome)
        data = text.encode("utf-8")
        return data, (sha256 or hashlib.sha256)(data).hexdigest()

    def exported(outcome: dict[str, Any]) -> tuple[bytes, str]:
        """``outcome`` with what the arguments became, as the bytes of outcome.json and
        their digest; the files it names are listed with their own digests."""
        counter = [1000]
        changed = {}
        for position, (sent, now) in enumerate(zip(pristine, given, strict=True)):
            if isinstance(sent, list):  # a list the student's code reordered or changed
                try:
                    same = len(sent) == len(now) and all(
                        a is b or a == b for a, b in zip(sent, now, strict=True)
                    )
                except Exception:  # items whose == is not a truth value
                    same = False
                if not same:
                    changed[str(position)] = export(list(now), out, counter)
            elif sent is not None and not np.array_equal(
                sent, now, equal_nan=sent.dtype.kind == "f"
            ):
                changed[str(position)] = export(np.asarray(now), out, counter)
            elif sent is None and request["args"][position].get("t") == "model":
                # A model the student's code may have changed (compiled, frozen, retrained):
                # its state after.
                changed[str(position)] = export(now, out, counter)
        outcome["changed"] = changed
        files = {}
        for name in sorted(os.listdir(out)):
            try:
                data = read(os.path.join(out, name))
            except ValueError:  # not a regular file: not the export's, never read by the judge
                continue
            files[name] = (sha256 or hashlib.sha256)(data).hexdigest()
        outcome["files"] = files
        return serialised(outcome)

    def answered(*arguments: Any) -> tuple[bytes, str]:
        """The student's call, and its export, all of it under the watch: the export runs
        the student's code too (a returned object's ``__array__``, a model's ``get_config``),
        and nothing of what it wrote may change after."""
        try:
            result = func(*arguments)
        except BaseException as exc:  # the student's code may raise anything
            if isinstance(exc, KeyboardInterrupt):
                raise
            return exported({"raised": raised_tree(exc)})
        try:
            returned = export(result, out)
        except Exception:  # the export, not the student's code, failed (a list nested too deep)
            returned = {
                "t": "opaque",
                "type": type(result).__name__[:80],
                "module": str(type(result).__module__)[:80],
            }
        return exported({"returned": returned})

    try:
        if unwatched:  # the call is not made: what it did could not be seen
            raise RuntimeError(f"the grader could not watch this call: {unwatched}")
        written, raised, unwatched = watched(answered, given, args["watch"], tools)
        after = tools["counts"]() if tools else None
        if before is not None and (after is None or after[0] - before[0] != 2):
            # the watch's own two are all: any other could have changed this cell's work
            unwatched = unwatched or "sys.setprofile or sys.settrace was called in the cell"
        if raised is None and unwatched:
            raised = RuntimeError(f"the grader could not watch this call: {unwatched}")
        if raised is not None:
            raise raised
        data, digest = written
    except BaseException as exc:  # the watch's verdict (a copy called), or the grader's own
        if isinstance(exc, KeyboardInterrupt):
            raise
        # Nothing of what the student's code exported counts: no file is listed
        data, digest = serialised({"raised": raised_tree(exc), "changed": {}, "files": {}})
    # Written once, as the digest the judge checks the file against says: a file changed
    # after this (by a thread of the notebook's) is not the kernel's outcome
    with open(os.path.join(out, "outcome.json"), "wb") as handle:
        handle.write(data)
    reply = {"called": args["name"], "digest": digest}
    return reply | ({"unwatched": unwatched} if unwatched else {})
