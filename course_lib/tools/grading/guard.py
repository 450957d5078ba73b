"""An audit hook the grader adds to a student's kernel before the notebook's first cell runs.

In two-phase grading one thing is still decided in the kernel: whether the student's code
called the course's own copy of an exercise (``course_lib/checks/_copies.py`` watches the
calls with a profiler). By the time the grader's cell runs, the notebook may have replaced
any module attribute (``sys.setprofile``, ``threading.setprofile``, ``builtins.compile``...).
So the watch takes what it needs from this hook, which took it before the notebook ran:
a grader cell sets a function's ``__defaults__`` to :data:`kernel_watch.GUARD
<course_lib.tools.grading.kernel_watch.GUARD>` (an audited operation, which no module attribute
stands in for, and this hook is called before any the notebook adds), and the hook answers by
raising an exception that carries them.

It also tells which Python threads running the notebook's own code (code compiled from no
file of the installation's: a cell's) were not running when it was added: the watch follows
only the threads the student's code starts while it watches, so such a thread (a
``threading.Timer``, the notebook's worker loop, a thread started through ``_thread``) could
run a copy unseen.

It also hands out what writes the outcome of a call (a JSON encoder and ``sha256``, for
the digest of the file the judge checks), taken before the notebook could replace ``json``.

It also counts, with counters the notebook can only advance:

- calls of ``sys.setprofile`` and ``sys.settrace`` (through ``functools.partial``, or
  ``PyEval_SetProfile`` through ``ctypes``, alike), but for a new ``threading`` thread
  taking the watch's profile: so a notebook that switches the watch off for a while is
  found out;
- the calls of a copy the watch saw (its audit event ``_copies.COPY_EVENT``): so is one
  that empties the watch's record;
- the threads the student's code started while watched (``_copies.THREAD_EVENT``), and
  those that took the watch's profile as they started: so is a thread that did not (started
  through ``_thread``, or with ``sys.setprofile`` or threading's hook replaced).

It refuses every audit hook added after it (the notebook's: run as the grader's cells open
files, with the watch off, it could compute an answer there).

An audit hook cannot be removed. This one refuses changes to the code and defaults of the
grader's own functions in the kernel (compiled under the file names ``course-grader`` and
``<course grader ...>``), its own included, and of the functions it hands out.

This file's text is sent with the grader's first cell (:func:`install` runs there); it imports
nothing from course_lib.
"""

from __future__ import annotations

from typing import Any

# What switches a thread's profiler or tracer, as Python audits it (the last two: 3.12 and later)
SWITCHES = (
    "sys.setprofile",
    "sys.settrace",
    "sys._setprofileallthreads",
    "sys._settraceallthreads",
)
# The file names the grader compiles its code in the kernel under
OWN_FILES = ("course-grader", "<course grader")


def install(marker: str, copy_event: str, thread_event: str) -> None:
    """Add the hook; the grader's cells ask it for its references with ``marker``."""
    import _json
    import _thread
    import builtins
    import hashlib
    import itertools
    import os
    import stat
    import sys
    import threading
    import time

    class Answer(Exception):
        """The hook's answer: ``(marker, counts, refs)``."""

    # Profilers or tracers switched; copies seen; threads started; threads that took the watch
    changes, copies, starts, watched = (itertools.count() for _ in range(4))

    def counts(_marker: str = marker, _answer: type = Answer) -> tuple[int, ...] | None:
        """The hook's counts now (in the order above), or None if no hook answered."""

        def probe() -> None:
            pass

        try:
            probe.__defaults__ = (_marker,)
        except _answer as answer:
            return answer.args[1]
        return None

    def notebook_threads(
        _frames: Any = sys._current_frames,
        _present: frozenset[int] = frozenset(sys._current_frames()),
        _ident: Any = _thread.get_ident,
        _stat: Any = os.stat,
        _regular: Any = stat.S_ISREG,
        _outside: str = os.path.join(os.getcwd(), ""),
        _frozen: str = "<frozen ",
        _list: type = list,
        _str: type = str,
        _failed: type = Exception,
    ) -> list[str]:
        """The Python threads running now that did not when the hook was added (started
        through ``threading`` or ``_thread``), but the caller's, whose code running now is in
        part the notebook's: compiled from no file of the installation's or the course's (a
        notebook cell's code, or code compiled from a text; nor a file in the kernel's working
        folder, the notebook's). For each, the function it started with and
        the one it runs now. A thread of a library's own, waiting for work (a pool of the
        standard library's, a server's), runs only files of the installation's."""
        found, own = [], _ident()
        for ident, frame in _list(_frames().items()):
            if ident in _present or ident == own:
                continue
            now, first, notebook = frame.f_code, frame.f_code, False
            while frame is not None:
                first, name = frame.f_code, frame.f_code.co_filename
                try:
                    installed = name.startswith(_frozen) or (
                        not name.startswith(_outside) and _regular(_stat(name).st_mode)
                    )
                except _failed:  # no such file: a cell's, or a text's
                    installed = False
                notebook = notebook or not installed
                frame = frame.f_back
            if notebook:
                found.append(_str(first.co_qualname) + " in " + _str(now.co_qualname))
        return found

    def not_json(value: Any, _refused: type = TypeError) -> None:
        raise _refused("not JSON")

    refs = {
        "setprofile": sys.setprofile,
        "getprofile": sys.getprofile,
        "gettrace": sys.gettrace,
        "thread_setprofile": threading.setprofile,
        "thread_getprofile": threading.getprofile,
        "audit": sys.audit,
        "counts": counts,
        # what starts a thread: the profile counts its calls (3.13 starts a joinable one)
        "thread_starts": (
            _thread.start_new_thread,
            getattr(_thread, "start_joinable_thread", _thread.start_new_thread),
        ),
        "sleep": time.sleep,
        "notebook_threads": notebook_threads,
        "compile": builtins.compile,
        "exec": builtins.exec,
        # what writes the outcome of a call, and its digest, which the judge checks: JSON as
        # json.dumps writes it, by the C encoder it uses (``encode(value, 0)``: the text's
        # parts), with nothing the notebook can replace in json's module
        "json_encode": _json.make_encoder(
            None, not_json, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True
        ),
        "sha256": hashlib.sha256,
    }
    kept = tuple(refs.items())  # a fresh dict for each answer: the one handed out may be changed
    own_builtins = tuple(vars(builtins).items())
    protected = (counts, threading.setprofile, threading.getprofile)
    bootstrap = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]
    function = type(install)

    def hook(
        event: str,
        args: tuple[Any, ...],
        _marker: str = marker,
        _copy_event: str = copy_event,
        _thread_event: str = thread_event,
        _switches: tuple[str, ...] = SWITCHES,
        _counters: tuple[Any, ...] = (changes, copies, starts, watched),
        _bootstrap: Any = bootstrap.__code__,
        _threading: dict[str, Any] = bootstrap.__globals__,
        _getframe: Any = sys._getframe,
        _answer: type = Answer,
        _kept: tuple[tuple[str, Any], ...] = kept,
        _builtins: tuple[tuple[str, Any], ...] = own_builtins,
        _protected: tuple[Any, ...] = protected,
        _own_files: tuple[str, ...] = OWN_FILES,
        _function: type = function,
        _type: type = type,
        _tuple: type = tuple,
        _str: type = str,
        _dict: type = dict,
        _len: Any = len,
        _next: Any = next,
        _repr: Any = repr,
        _int: type = int,
        _refused: type = PermissionError,
        _failed: type = ValueError,
        _add_hook: str = "sys.addaudithook",
        _not_added: type = RuntimeError,  # Python then leaves the new hook out, silently
    ) -> None:
        if event in _switches:
            try:
                caller = _getframe(1).f_code
            except _failed:  # no Python frame: set from C
                caller = None
            if caller is not _bootstrap:
                _next(_counters[0])
            elif event == "sys.setprofile":  # a new thread taking threading's profile hook
                taken = _threading.get("_profile_hook")
                ours = _type(taken) is _function and taken.__code__.co_filename.startswith(
                    _own_files
                )
                _next(_counters[3] if ours else _counters[0])
        elif event == _add_hook:
            # A hook of the notebook's would run the notebook's code inside the grader's
            # cells (as a file is opened), where the watch is not on: not added
            raise _not_added("a graded notebook cannot add an audit hook")
        elif event == _copy_event:
            _next(_counters[1])
        elif event == _thread_event:
            _next(_counters[2])
        elif (
            (event == "object.__setattr__" or event == "object.__delattr__")
            and _len(args) >= 2
            and _type(args[0]) is _function
        ):
            target, name, value = args[0], args[1], args[2] if _len(args) == 3 else None
            if (
                event == "object.__setattr__"
                and name == "__defaults__"
                and _type(value) is _tuple
                and _len(value) == 1
                and _type(value[0]) is _str
                and value[0] == _marker
            ):
                counted = _tuple(_int(_repr(counter)[6:-1]) for counter in _counters)
                refs = _dict(_kept)
                refs["builtins"] = _dict(_builtins)
                raise _answer(_marker, counted, refs)
            for own in _protected:
                if target is own:
                    raise _refused("the grader's code in the kernel cannot be changed")
            if target.__code__.co_filename.startswith(_own_files):
                raise _refused("the grader's code in the kernel cannot be changed")

    sys.addaudithook(hook)
