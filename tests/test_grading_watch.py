"""The watch on calls of the course's own copies, as a graded kernel runs it, without Jupyter.

In two-phase grading the kernel watches the student's function for calls of the library's
copy of the exercise, with code and references that are the grader's own: ``_copies``' text
and the copies' sources sent by the judge, and what the guard (``grading/guard.py``) took
before the notebook's first cell. A stand-in kernel here (a Python process that runs
``kernel_code``'s text as the grader's cells do, and the "notebook" code it is sent) shows
that replacing the kernel's modules changes no verdict, and that switching the watch off
while the answer runs is reported (``unwatched``, which the grader turns into a
``tampering:`` finding) and not credited.
"""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from course_lib.checks import _copies
from course_lib.config import project_root
from course_lib.tools.grading import guard, judge
from course_lib.tools.grading.kernel_run import _KERNEL_PARTS, _KERNEL_SOURCE

ROOT = project_root()
EXPRESSION = "checks.exercise_1_1(to_grayscale)"
PASSED = "one luminance value per pixel, weighted as the eye sees."
COPIED = "your code calls course_lib.images.to_grayscale, the course's own copy"
SWITCHED_OFF = "your code calls sys.setprofile, which switched off the check's watch"

# The stand-in kernel: the guard added before any "notebook" code, then one JSON request per
# line on stdin; kernel_code's text and its parts' are run afresh for each, as each grader cell
# runs them.
_KERNEL = """
import json, sys
replies, sys.stdout = sys.stdout, sys.stderr  # the notebook's prints stay out of the replies
setup = json.loads(sys.stdin.readline())

def cell():
    grader = {"__name__": "course_grader_stand_in"}
    for text in setup["kernel_code"]:
        exec(compile(text, "course-grader", "exec"), grader)
    return grader

cell()["install_guard"](setup["guard"], setup["events"])
user = {"__name__": "__main__"}
for line in sys.stdin:
    request = json.loads(line)
    grader = cell()
    if request["do"] == "run":
        exec(compile(request["source"], "<notebook cell>", "exec"), user)
        reply = {}
    elif request["do"] == "eval":
        reply = {"value": eval(request["source"], user)}
    elif request["do"] == "values":
        reply = grader["export_values"](request["args"], user)
    else:
        reply = grader["call_answer"](request["args"], user, guarded=True)
    replies.write(json.dumps(reply) + "\\n")
    replies.flush()
"""


class StandInKernel:
    """A process that runs notebook code and the grader's kernel code, as a kernel would."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "COURSE_FAST": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", _KERNEL],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self._send(
            {
                "kernel_code": [_KERNEL_SOURCE, *_KERNEL_PARTS],
                "guard": Path(guard.__file__).read_text(encoding="utf-8"),
                "events": [_copies.COPY_EVENT, _copies.THREAD_EVENT],
            },
            reply=False,
        )

    def _send(self, request: dict, reply: bool = True) -> dict:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        if not reply:
            return {}
        line = self.process.stdout.readline()
        assert line, "the stand-in kernel died"
        return json.loads(line)

    def run(self, source: str) -> None:
        self._send({"do": "run", "source": textwrap.dedent(source)})

    def eval(self, source: str):
        return self._send({"do": "eval", "source": source})["value"]

    def grade(
        self, folder: Path, answer: str, expression: str = EXPRESSION, meddle=None
    ) -> tuple[dict, list[str]]:
        """The judge's reply to ``expression`` (1.1 by default) once the notebook ran
        ``answer``, and how the watch was switched off. ``meddle(out)``: done to each call's
        outcome folder once the kernel replied, before the judge reads it."""
        self.run(answer)
        values = str(folder / "values")
        names = judge.answer_names(expression)
        self._send({"do": "values", "args": {"names": names, "dir": values}})
        calls, unwatched = [], []
        for round_number in range(judge.MAX_CALLS + 1):
            reply = judge.handle(
                {
                    "expression": expression,
                    "root": str(folder),  # the kernel's working folder, as the grader made it
                    "values": values,
                    "calls": calls,
                    "salt": 7,
                    "next": str(folder / f"call{round_number}"),
                }
            )
            if reply["status"] != "need":
                return reply, unwatched
            call = {
                "name": reply["name"],
                "request": reply["request"],
                "out": str(folder / f"out{round_number}"),
            }
            called = self._send({"do": "call", "args": call | {"watch": reply["watch"]}})
            unwatched.append(called.get("unwatched", ""))
            if meddle is not None:
                meddle(Path(call["out"]))
            calls.append(call | {"digest": called.get("digest", "")})  # as the grader does
        raise AssertionError("the check needed too many calls")

    def close(self) -> None:
        self.process.kill()  # the process this object started
        self.process.wait(timeout=30)


@pytest.fixture
def kernel():
    started = StandInKernel()
    yield started
    started.close()


HONEST = """
def to_grayscale(photo):
    return np.round(photo.astype(np.float64) @ [0.299, 0.587, 0.114]).astype(np.uint8)
"""
# The library's copy, through whatever the notebook kept of it in `_copy`
COPY = """
def to_grayscale(photo):
    return np.round(_copy(photo) * 255).astype(np.uint8)
"""


def _imported_code(module: str, name: str):
    """The code of the function (or method, ``Class.method``) ``name`` as ``module`` imported it."""
    import importlib

    found = importlib.import_module(module)
    for part in name.split("."):
        found = vars(found)[part] if isinstance(found, type) else getattr(found, part)
    found = getattr(found, "fget", found)  # a property's
    return getattr(found, "__wrapped__", found).__code__  # functools.cache's


def _nested(code) -> list:
    inner = [c for c in code.co_consts if type(c) is type(code)]
    return inner + [n for c in inner for n in _nested(c)]


@pytest.mark.parametrize("which", ["copies", "their callers"])
def test_the_functions_compiled_from_the_judge_s_sources_are_the_code_a_kernel_imports(which):
    functions = _copies.COPIES
    if which == "their callers":
        functions = _copies.library_callers(_copies.COPIES)
        assert ("course_lib.photos", "upright_rgb") not in functions  # a copy already
        assert ("course_lib.images", "convolve2d") not in functions
        assert ("course_lib.retrain_data", "read_folder") not in functions
        assert ("course_lib.pretrained", "load_backbone") in functions  # efficientnet's scale
        assert ("course_lib.pipeline", "make_dataset") in functions  # in a nested function
    compiled = _copies.compiled_copies(_copies.copy_sources(functions))
    assert {name for _, name in compiled} == {f"{m}.{n}" for m, n in functions}
    for module, name in functions:
        loaded = _imported_code(module, name)
        codes = [code for code, named in compiled if named == f"{module}.{name}"]
        # the function's own code first found, then the code nested in it (its closures too)
        where = lambda c: (c.co_qualname, c.co_firstlineno)  # noqa: E731
        assert sorted(codes, key=where) == sorted([loaded, *_nested(loaded)], key=where), name
        own = next(code for code in codes if code.co_qualname == name)
        assert own == loaded and hash(own) == hash(loaded) and own is not loaded, name


# Everything the grader's code in the kernel once looked up, or still could, replaced
REPLACED = """
import builtins, contextlib, json, sys, threading
import numpy as np
import course_lib.checks._copies as _copies_mod
from course_lib import images as _images

_copy, _setprofile = _images.to_grayscale, sys.setprofile

@contextlib.contextmanager
def _quiet():
    yield []

_copies_mod.watching = _quiet
_copies_mod.watched_call = lambda func, args, *rest, **options: (func(*args), None, "", "")
_copies_mod.COPIES, _copies_mod.WATCH_CHECKS = (), False
_images.to_grayscale = lambda photo: photo[..., 0]  # the module no longer holds the copy
sys.setprofile = threading.setprofile = lambda function: None
sys.getprofile = threading.getprofile = lambda: None
_compile = builtins.compile

def _no_watch(source, filename, *args, **options):  # the watch's text, made harmless
    if str(filename).startswith("<course grader"):
        source += "\\nwatched_call = lambda func, args, *rest: (func(*args), None, '', '')\\n"
    return _compile(source, filename, *args, **options)

builtins.compile = _no_watch
_load = json.load

def _load_unwatched(*args, **options):  # any watch read from the kernel's folder: no copies
    data = _load(*args, **options)
    if isinstance(data, dict) and isinstance(data.get("watch"), dict):
        data["watch"]["copies"] = {}
    return data

json.load = _load_unwatched

def _rebind(event, args):  # an audit hook of the notebook's: rebinds the grader's names
    if event == "open" and str(args[0]).endswith("call.json"):
        frame = sys._getframe(1)
        while frame is not None and "_watched" not in frame.f_globals:
            frame = frame.f_back
        if frame is not None:
            frame.f_globals["_watched"] = lambda func, given, *rest: (func(*given), None, "")

sys.addaudithook(_rebind)
"""


def test_a_kernel_whose_watch_modules_and_profile_switches_are_replaced_is_watched_alike(
    kernel, tmp_path
):
    kernel.run(REPLACED)
    in_a_thread = textwrap.dedent("""
        import concurrent.futures
        def to_grayscale(photo):
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                return pool.submit(_answer, photo).result()
    """)
    cases = {
        "copy": (COPY, COPIED),
        "honest": (HONEST, PASSED),
        # a new thread takes its profile through sys.setprofile (threading's own code does):
        # with it replaced, no thread can be watched, which is reported (test below)
        "sys.setprofile put back": ("sys.setprofile = _setprofile", None),
        "copy_in_a_thread": (COPY.replace("to_grayscale", "_answer") + in_a_thread, COPIED),
        "honest_in_a_thread": (HONEST.replace("to_grayscale", "_answer") + in_a_thread, PASSED),
    }
    for case, (answer, words) in cases.items():
        if words is None:
            kernel.run(answer)
            continue
        reply, unwatched = kernel.grade(tmp_path / case, answer)
        assert words in reply["message"], (case, reply)
        assert reply["status"] == ("passed" if words == PASSED else "failed"), (case, reply)
        assert not any(unwatched), (case, unwatched)


SWITCHING_OFF = {
    "setprofile": """
        def to_grayscale(photo):
            watch = sys.getprofile()
            sys.setprofile(None)
            try:
                return np.round(_copy(photo) * 255).astype(np.uint8)
            finally:
                sys.setprofile(watch)
    """,
    "partial": """
        def to_grayscale(photo):
            watch = sys.getprofile()
            functools.partial(sys.setprofile, None)()
            gray = np.round(_copy(photo) * 255).astype(np.uint8)
            functools.partial(sys.setprofile, watch)()
            return gray
    """,
    "ctypes": """
        def to_grayscale(photo):
            ctypes.pythonapi.PyEval_SetProfile(None, None)
            return np.round(_copy(photo) * 255).astype(np.uint8)
    """,
    "settrace": """
        def to_grayscale(photo):
            sys.settrace(lambda *args: None)
            sys.settrace(None)
            return np.round(_copy(photo) * 255).astype(np.uint8)
    """,
    "threads": """
        def to_grayscale(photo):
            watch = threading.getprofile()
            threading.setprofile(None)
            out = {}
            thread = threading.Thread(target=lambda: out.setdefault("v", _copy(photo)))
            thread.start()
            thread.join()
            threading.setprofile(watch)
            return np.round(out["v"] * 255).astype(np.uint8)
    """,
    "sys.setprofile_replaced_for_a_thread": """
        def to_grayscale(photo):
            real, sys.setprofile = sys.setprofile, lambda function: None
            try:
                with concurrent.futures.ThreadPoolExecutor(1) as pool:
                    return np.round(pool.submit(_copy, photo).result() * 255).astype(np.uint8)
            finally:
                sys.setprofile = real
    """,
    "raw_thread": """
        def to_grayscale(photo):
            out = []
            _thread.start_new_thread(lambda: out.append(_copy(photo)), ())
            while not out:
                time.sleep(0.01)
            return np.round(out[0] * 255).astype(np.uint8)
    """,
    "record_emptied": """
        def to_grayscale(photo):
            gray = np.round(_copy(photo) * 255).astype(np.uint8)
            for kept in sys.getprofile().__defaults__:
                if type(kept) is list:
                    kept.clear()
            return gray
    """,
}


def test_switching_the_watch_off_while_the_answer_runs_is_reported_and_not_credited(
    kernel, tmp_path
):
    kernel.run("""
        import _thread, concurrent.futures, ctypes, functools, sys, threading, time
        import numpy as np
        from course_lib.images import to_grayscale as _copy
    """)
    for case, answer in SWITCHING_OFF.items():
        reply, unwatched = kernel.grade(tmp_path / case, answer)
        assert reply["status"] == "failed", (case, reply)
        # told the watch was switched off, or the copy, if it still saw it (a tracer)
        assert SWITCHED_OFF in reply["message"] or COPIED in reply["message"], (case, reply)
        assert any(unwatched), (case, unwatched)
    kernel.run("sys.settrace(lambda *args: None)")  # a tracer left running by a cell
    reply, unwatched = kernel.grade(tmp_path / "tracer", COPY)
    assert reply["status"] == "failed" and any(unwatched), (reply, unwatched)
    kernel.run("sys.settrace(None)")
    reply, unwatched = kernel.grade(tmp_path / "honest", HONEST)  # the watch is on again
    assert reply["status"] == "passed" and not any(unwatched), (reply, unwatched)


def test_the_guard_refuses_changes_to_the_grader_s_code_in_the_kernel(kernel):
    kernel.run("""
        import gc, sys

        def _probe():
            pass

        try:
            _probe.__defaults__ = ("course-grader-guard",)
        except Exception as answer:
            handed = answer.args[2]
        hooks = [o for o in gc.get_objects() if type(o) is type(_probe)
                 and o.__code__.co_filename == "<course grader guard>"]
        refused = []
        for target in [handed["counts"], handed["thread_setprofile"], *hooks]:
            for name, value in (("__code__", _probe.__code__), ("__defaults__", None)):
                try:
                    setattr(target, name, value)
                except PermissionError:
                    refused.append(name)
    """)
    assert kernel.eval("len(hooks)") >= 2  # the hook, and the counts it hands out
    assert kernel.eval("len(refused)") == 2 * (2 + kernel.eval("len(hooks)"))
    assert kernel.eval("handed['setprofile'] is sys.setprofile") is True


# ------------------------- the library's copies, and code passed off as the library's, graded

# A notebook's helper: ``src`` compiled under a file name of the course's (``relative`` in
# course_lib/), so that its code claims to be the library's, or a check's
AS_LIBRARY = """
import os as _os, course_lib as _cl
import numpy as np

def _as_library(src, relative="legacy.py", **names):
    space = dict(names)
    where = _os.path.join(_os.path.dirname(_cl.__file__), relative)
    exec(compile(src, where, "exec"), space)
    return space
"""
WRAPPED = {
    "3.1": (
        "checks.exercise_3_1(convolve_valid)",
        """
        from course_lib import images as _images
        convolve_valid = _as_library(
            'def convolve_valid(image, kernel):\\n    return conv(image, kernel)\\n',
            conv=_images.convolve2d,
        )['convolve_valid']
        """,
        "course_lib.images.convolve2d",
    ),
    "4.3": (
        "checks.exercise_4_3(build_better_cnn)",
        """
        import keras  # as the lesson's set-up cell does, before any answer is checked
        from course_lib import models as _models
        build_better_cnn = _as_library(
            'def build_better_cnn(input_shape, num_classes):\\n'
            '    return b(input_shape, num_classes)\\n',
            b=_models.build_better_cnn,
        )['build_better_cnn']
        """,
        "course_lib.models.build_better_cnn",
    ),
    "9.2": (
        "checks.exercise_9_2(split_files)",
        """
        from course_lib import photos as _photos
        split_files = _as_library(
            'def split_files(files, labels, fractions=(0.7, 0.15, 0.15), seed=0):\\n'
            '    return f(files, labels, fractions, seed)\\n',
            f=_photos.split_files,
        )['split_files']
        """,
        "course_lib.photos.split_files",
    ),
}


@pytest.mark.parametrize("exercise", sorted(WRAPPED))
def test_a_copy_called_through_code_compiled_under_a_library_file_name_is_seen(
    kernel, tmp_path, exercise
):
    expression, cell, copy = WRAPPED[exercise]
    kernel.run(AS_LIBRARY)
    reply, unwatched = kernel.grade(tmp_path, textwrap.dedent(cell), expression)
    assert reply["status"] == "failed", reply
    assert f"your code calls {copy}, the course's own copy of this exercise" in reply["message"]
    assert not any(unwatched), unwatched


@pytest.mark.parametrize("relative", ["checks/lesson04.py", "checks/_core.py"])
def test_a_check_s_code_called_through_code_compiled_under_its_file_name_is_seen(
    kernel, tmp_path, relative
):
    kernel.run(AS_LIBRARY)
    cell = f"""
        import keras  # as the lesson's set-up cell does, before any answer is checked
        from course_lib.checks import lesson04 as _lesson04
        early_stopping_epochs = _as_library(
            'def early_stopping_epochs(val_loss, patience):\\n'
            '    return replay(val_loss, patience)\\n',
            {relative!r},
            replay=_lesson04.keras_early_stopping,
        )['early_stopping_epochs']
    """
    expression = "checks.exercise_4_4(early_stopping_epochs)"
    reply, unwatched = kernel.grade(tmp_path, textwrap.dedent(cell), expression)
    assert reply["status"] == "failed", reply
    assert "your code calls course_lib.checks.lesson04." in reply["message"], reply
    assert "part of the check" in reply["message"], reply


# Copies the library keeps that lessons 02, 05, 06, 07 and 08 do not show as the exercise's copy
LIBRARY_ANSWERS = {
    "5.5": (
        "checks.exercise_5_5(top_k_accuracy)",
        """
        from course_lib import pretrained
        def top_k_accuracy(probabilities, y, k):
            rows = pretrained.decode_top_k(probabilities, k, list(range(probabilities.shape[1])))
            return float(np.mean([t in [i for i, _, _ in row] for row, t in zip(rows, y)]))
        """,
        "course_lib.pretrained.decode_top_k",
    ),
    "8.2": (
        "checks.exercise_8_2(make_tf_config)",
        """
        from course_lib import distributed_cluster as _cluster
        def make_tf_config(addresses, index):
            return _cluster.tf_config(addresses, index)
        """,
        "course_lib.distributed_cluster.tf_config",
    ),
    "7.3": (
        "checks.exercise_7_3(check_upload)",
        """
        from course_lib.serving import uploads as _uploads
        def check_upload(data, max_pixels):
            try:
                _uploads.decode_image(data, max_pixels)
            except _uploads.UploadError as error:
                return str(error)
            return None
        """,
        "course_lib.serving.uploads.decode_image",
    ),
    "2.1": (
        "checks.exercise_2_1(preprocess)",
        """
        from course_lib import pipeline as _pipeline
        def preprocess(image, label):
            return _pipeline._scale_batch(image[None])[0], label
        """,
        "course_lib.pipeline._scale_batch",
    ),
}


@pytest.mark.parametrize("exercise", sorted(LIBRARY_ANSWERS))
def test_a_graded_kernel_sees_the_library_s_other_copies(kernel, tmp_path, exercise):
    expression, cell, copy = LIBRARY_ANSWERS[exercise]
    kernel.run("import numpy as np")
    reply, unwatched = kernel.grade(tmp_path, textwrap.dedent(cell), expression)
    assert reply["status"] == "failed", reply
    assert f"your code calls {copy}, the course's own copy of this exercise" in reply["message"]
    assert not any(unwatched), unwatched


# ----------------------------------- ways past the watch an outside round found, closed

# Writing into the watch's record (a list reachable from sys.getprofile()) while the answer
# runs: what it then holds changes nothing the watch sees, or is reported
INTO_THE_RECORD = """
def _record():
    for kept in sys.getprofile().__defaults__:
        if type(kept) is list:
            return kept
"""
RECORD_WRITTEN = {
    # an empty name first: the profile once stopped at its first line
    "prefilled": (
        """
        def to_grayscale(photo):
            _record().append("")
            return np.round(_copy(photo) * 255).astype(np.uint8)
    """,
        COPIED,
    ),
    "replaced_after_the_copy": (
        """
        def to_grayscale(photo):
            gray = np.round(_copy(photo) * 255).astype(np.uint8)
            _record()[:] = ["", "course_lib.images.something_else"]
            return gray
    """,
        SWITCHED_OFF,
    ),
}


def test_what_the_notebook_writes_into_the_watch_s_record_hides_no_copy(kernel, tmp_path):
    kernel.run("""
        import sys
        import numpy as np
        from course_lib.images import to_grayscale as _copy
    """)
    kernel.run(INTO_THE_RECORD)
    for case, (answer, words) in RECORD_WRITTEN.items():
        reply, unwatched = kernel.grade(tmp_path / case, answer)
        assert reply["status"] == "failed", (case, reply)
        assert words in reply["message"], (case, reply)
        assert any(unwatched) is (words == SWITCHED_OFF), (case, unwatched)
    honest = "def to_grayscale(photo):\n    _record().append('')\n" + HONEST.split(":", 1)[1]
    reply, unwatched = kernel.grade(tmp_path / "honest", honest)  # junk, and no copy
    assert reply["status"] == "passed" and not any(unwatched), (reply, unwatched)


def test_a_copy_renamed_moved_or_given_another_file_name_is_known_by_its_code(kernel, tmp_path):
    kernel.run("""
        import types
        import numpy as np
        from course_lib import images as _images

        _code = _images.to_grayscale.__code__.replace(
            co_name="bb", co_qualname="bb", co_filename="<student>", co_firstlineno=3
        )
        _copy = types.FunctionType(_code, _images.to_grayscale.__globals__, "bb")
    """)
    reply, unwatched = kernel.grade(tmp_path, COPY)
    assert reply["status"] == "failed", reply
    assert COPIED in reply["message"], reply
    assert not any(unwatched), unwatched


def test_a_copy_handed_to_a_library_function_to_call_is_the_student_s_call(kernel, tmp_path):
    # memory.usage_of names an attribute `add` (as retrain_data.Examples.add, a copy) and
    # iterates what it is given: a map of the copy ran it from the library's frame
    kernel.run("""
        import numpy as np
        from course_lib import images as _images, memory as _memory

        def _launder(function, *args):
            store = []
            try:
                _memory.usage_of(map(store.append, map(function, *[[a] for a in args])))
            except AttributeError:
                pass
            return store[0]
    """)
    answer = (
        "def to_grayscale(photo):\n"
        "    return np.round(_launder(_images.to_grayscale, photo) * 255).astype(np.uint8)\n"
    )
    reply, unwatched = kernel.grade(tmp_path, answer)
    assert reply["status"] == "failed", reply
    assert COPIED in reply["message"], reply
    assert not any(unwatched), unwatched


# ----------------------------------------- the outcome of a call, as the judge reads it


def test_an_outcome_file_changed_after_the_kernel_wrote_it_is_refused_as_tampering(
    kernel, tmp_path
):
    kernel.run("import numpy as np\nfrom course_lib.images import to_grayscale as _copy")

    def forge(out: Path) -> None:  # what a thread of the notebook's did, in a race
        outcome = json.loads((out / "outcome.json").read_text(encoding="utf-8"))
        if outcome.get("raised", {}).get("type") == "CourseCopyUsed":
            forged = {"returned": {"t": "int", "v": "0"}, "changed": {}}
            (out / "outcome.json").write_text(json.dumps(forged), encoding="utf-8")

    reply, _ = kernel.grade(tmp_path / "race", COPY, meddle=forge)
    assert reply["status"] == "error", reply
    assert "outcome.json is not the file the grader's code in the kernel wrote" in reply["message"]
    assert "the notebook changed what the grader's code in its kernel wrote" in reply["tampering"]
    reply, _ = kernel.grade(tmp_path / "untouched", HONEST, meddle=forge)
    assert reply["status"] == "passed" and "tampering" not in reply, reply


def test_json_replaced_in_the_kernel_does_not_change_the_outcome_written(kernel, tmp_path):
    kernel.run("""
        import json
        import numpy as np
        from course_lib.images import to_grayscale as _copy

        _forged = {"returned": {"t": "int", "v": "0"}, "changed": {}}
        _dump, _dumps = json.dump, json.dumps

        def _as_returned(value):
            if isinstance(value, dict) and "raised" in value:
                return _forged
            return value

        json.dump = lambda value, *args, **options: _dump(_as_returned(value), *args, **options)
        json.dumps = lambda value, *args, **options: _dumps(_as_returned(value), *args, **options)
    """)
    reply, unwatched = kernel.grade(tmp_path, COPY)
    assert reply["status"] == "failed", reply
    assert COPIED in reply["message"], reply


# A thread of the notebook's code started before the check, which runs the copy for the
# answer (a pool of the standard library's, whose threads run its code only, is not told)
THREADS_BEFORE = {
    # the notebook's own worker loop in a thread of its own (stopped in the last cell)
    "worker": (
        """
        import queue, threading
        _work = queue.Queue()
        def _serve():
            while True:
                job = _work.get()
                if job is None:
                    return
                job[2].append(job[0](*job[1]))
                job[3].set()
        threading.Thread(target=_serve, daemon=True).start()
        """,
        """
        def to_grayscale(photo):
            box, done = [], threading.Event()
            _work.put((_copy, (photo,), box, done))
            done.wait()
            return np.round(box[0] * 255).astype(np.uint8)
        """,
        "_work.put(None)",
    ),
    # the notebook's own worker loop, run by a threading.Timer (no target of the notebook's)
    "timer": (
        """
        import queue, threading
        _jobs = queue.Queue()
        def _worker():
            while True:
                job = _jobs.get()
                if job is None:
                    return
                function, args, box, done = job
                box.append(function(*args))
                done.set()
        threading.Timer(0, _worker).start()
        def _ask(function, *args):
            box, done = [], threading.Event()
            _jobs.put((function, args, box, done))
            done.wait()
            return box[0]
        """,
        """
        def to_grayscale(photo):
            return np.round(_ask(_copy, photo) * 255).astype(np.uint8)
        """,
        "_jobs.put(None)",
    ),
    # a thread started through _thread, which threading does not list
    "raw": (
        """
        import _thread, queue
        _raw_jobs, _raw_done = queue.Queue(), queue.Queue()
        def _raw_worker():
            while True:
                job = _raw_jobs.get()
                if job is None:
                    return
                _raw_done.put(job[0](*job[1]))
        _thread.start_new_thread(_raw_worker, ())
        """,
        """
        def to_grayscale(photo):
            _raw_jobs.put((_copy, (photo,)))
            return np.round(_raw_done.get() * 255).astype(np.uint8)
        """,
        "_raw_jobs.put(None)",
    ),
}


def test_a_thread_the_notebook_started_before_the_check_is_reported_and_not_credited(
    kernel, tmp_path
):
    kernel.run(
        "import time\nimport numpy as np\nfrom course_lib.images import to_grayscale as _copy"
    )
    for case, (started, answer, stop) in THREADS_BEFORE.items():
        kernel.run(started)
        reply, unwatched = kernel.grade(tmp_path / case, answer)
        assert reply["status"] == "failed", (case, reply)
        assert "the grader could not watch this call: a thread" in reply["message"], (case, reply)
        assert any("a thread the notebook started was running" in u for u in unwatched), case
        kernel.run(stop)
        time.sleep(0.5)  # the thread ends
    reply, unwatched = kernel.grade(tmp_path / "honest", HONEST)  # none left running
    assert reply["status"] == "passed" and not any(unwatched), (reply, unwatched)


# ------------------------- the student's code the grader's cell runs besides the answer's call

# An answer that calls the copy only when the grader's code asks what it returned: the export
# runs under the watch too
AFTER_THE_CALL = {
    # an object that claims to be an array, and becomes one when asked for its values
    "claimed class": """
        class _Later:
            def __init__(self, photo):
                self._photo = photo
            @property
            def __class__(self):
                return np.ndarray
            def __array__(self, dtype=None, copy=None):
                return np.round(_copy(self._photo) * 255).astype(np.uint8)
        def to_grayscale(photo):
            return _Later(photo)
        """,
    # named as TensorFlow's tensors are, whose numpy() the export calls
    "tensor by name": """
        class EagerTensor:
            def __init__(self, photo):
                self._photo = photo
            def numpy(self):
                return np.round(_copy(self._photo) * 255).astype(np.uint8)
        EagerTensor.__module__ = "tensorflow.python.framework.ops"
        def to_grayscale(photo):
            return EagerTensor(photo)
        """,
    # a real array, filled by a finaliser left in the watch's record, run as the watch ends
    "finaliser": """
        import sys
        class _AfterWatch:
            def __init__(self, fill):
                self._fill = fill
            def __del__(self):
                self._fill()
        def to_grayscale(photo):
            out = np.zeros(photo.shape[:2], np.uint8)
            def fill():
                out[...] = np.round(_copy(photo) * 255).astype(np.uint8)
            for kept in sys.getprofile().__defaults__:
                if type(kept) is list:
                    kept.append(_AfterWatch(fill))
                    break
            return out
        """,
}


@pytest.mark.parametrize("case", sorted(AFTER_THE_CALL))
def test_an_answer_that_calls_the_copy_only_once_its_call_returned_is_not_credited(
    kernel, tmp_path, case
):
    kernel.run("import numpy as np\nfrom course_lib.images import to_grayscale as _copy")
    reply, _ = kernel.grade(tmp_path, AFTER_THE_CALL[case])
    assert reply["status"] == "failed", reply
    if case == "tensor by name":  # its numpy() ran while the export was watched
        assert COPIED in reply["message"], reply
    elif case == "claimed class":  # exported as what it is
        assert "_Later" in reply["message"], reply


def test_an_audit_hook_the_notebook_adds_is_left_out_in_a_graded_kernel(kernel, tmp_path):
    kernel.run("""
        import sys
        import numpy as np
        from course_lib.images import to_grayscale as _copy
        _heard = []
        sys.addaudithook(lambda event, args: _heard.append(event))
        """)
    reply, _ = kernel.grade(tmp_path, HONEST)
    assert reply["status"] == "passed", reply
    assert kernel.eval("len(_heard)") == 0  # it would have heard every file the cells opened


def test_an_exported_array_changed_after_the_kernel_wrote_it_is_refused_as_tampering(
    kernel, tmp_path
):
    from course_lib import images
    from course_lib.tools.grading.kernel_files import decode_plain

    kernel.run("import numpy as np")
    wrong = "def to_grayscale(photo):\n    return np.zeros(photo.shape[:2], np.uint8)\n"

    def rewrite(out: Path) -> None:  # the right answer, written over the wrong one exported
        sent = out.parent / out.name.replace("out", "call")
        request = json.loads((sent / "call.json").read_text(encoding="utf-8"))
        photo = decode_plain(request["args"][0], str(sent))
        right = np.round(images.to_grayscale(photo) * 255).astype(np.uint8)
        outcome = json.loads((out / "outcome.json").read_text(encoding="utf-8"))
        assert outcome["returned"]["file"] in outcome["files"]  # listed with its digest
        (out / outcome["returned"]["file"]).unlink()
        np.save(out / outcome["returned"]["file"], right)

    reply, _ = kernel.grade(tmp_path / "rewritten", wrong, meddle=rewrite)
    assert reply["status"] == "error", reply
    assert "v1.npy is not the file the grader's code in the kernel wrote" in reply["message"]
    assert "the notebook changed what the grader's code in its kernel wrote" in reply["tampering"]
    reply, _ = kernel.grade(tmp_path / "honest", HONEST)
    assert reply["status"] == "passed" and "tampering" not in reply, reply


def test_a_model_whose_config_and_weights_come_from_the_copy_when_exported_is_not_credited(
    kernel, tmp_path
):
    kernel.run("""
        import keras
        from course_lib import models
        def build_better_cnn(input_shape=(28, 28, 1), num_classes=10):
            # a real model holding only its input; its config and weights, asked for by the
            # export, are the copy's
            shell = keras.Sequential([keras.Input(shape=tuple(input_shape))], name="better_cnn")
            made = []
            def real():
                if not made:
                    made.append(models.build_better_cnn(input_shape, num_classes))
                return made[0]
            object.__setattr__(shell, "get_config", lambda: real().get_config())
            object.__setattr__(
                shell, "save_weights", lambda path, *a, **k: real().save_weights(path, *a, **k)
            )
            object.__setattr__(shell, "built", True)
            return shell
        """)
    reply, _ = kernel.grade(tmp_path, "", "checks.exercise_4_3(build_better_cnn)")
    assert reply["status"] == "failed", reply
    assert "calls course_lib.models.build_better_cnn, the course's own copy" in reply["message"]


def test_code_built_by_hand_that_runs_the_copy_when_hashed_is_reported_and_not_credited(
    kernel, tmp_path
):
    kernel.run("""
        import numpy as np
        from course_lib.images import to_grayscale as _copy

        class _Inside:
            job = None
            def __hash__(self):
                if _Inside.job is not None:
                    _Inside.job()
                return 0
            def __eq__(self, other):
                return self is other

        def _trigger():
            return None

        _trigger.__code__ = _trigger.__code__.replace(
            co_name="to_grayscale",
            co_qualname="to_grayscale",
            co_consts=_trigger.__code__.co_consts + (_Inside(),),
        )
        """)
    answer = """
        def to_grayscale(photo):
            box = []
            _Inside.job = lambda: box.append(np.round(_copy(photo) * 255).astype(np.uint8))
            _trigger()
            return box[0]
        """
    reply, unwatched = kernel.grade(tmp_path, answer)
    assert reply["status"] == "failed", reply
    assert "your code calls code built by hand (code.replace)" in reply["message"], reply
    assert any("code built by hand" in u for u in unwatched), unwatched
