"""Code that the grader runs inside a student's kernel, in cells the student never saw.

The grader does not import this module in the kernel (the student could have
replaced it there): it sends this file's *text* as the source of each of its own
cells, executed by ``exec`` in a private namespace holding ``ACTION``, ``ARGS``
and ``NONCE``. Every cell emits exactly one JSON output of type
:data:`GRADER_MIME` carrying the cell's fresh random ``NONCE``; the grader
process reads only those outputs of its own cells.

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
    afresh from the sources the grader read when grading started (sent with the
    cell, served by :class:`SnapshotFinder`, never read from disk), report which
    course_lib functions the notebook had replaced in memory, and evaluate one exercise's check
    expression (taken from the solution notebook) against the student's
    variables, on test data salted for this grading run, with a fingerprint
    just before and just after.
``values``
    Export the notebook variables an exercise's check takes, as data only (see
    :func:`encode`): functions are marked as such, to be called later by ``call``.
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

GRADER_MIME = "application/vnd.course.grader+json"


def _emit(payload: dict[str, Any], nonce: str) -> None:
    from IPython.display import display

    display({GRADER_MIME: {"nonce": nonce, **payload}}, raw=True)


def made_here(obj: Any) -> bool:
    """True for code the notebook itself defined (or exec'd), False for library code."""
    import functools
    import inspect

    if inspect.isclass(obj):
        return obj.__module__ == "__main__"
    func = getattr(obj, "__func__", obj)
    while isinstance(func, functools.partial):
        func = func.func
    code = getattr(func, "__code__", None)
    if code is not None:
        return getattr(func, "__module__", None) == "__main__" or code.co_filename.startswith("<")
    if inspect.isbuiltin(func) or inspect.ismethoddescriptor(func):
        return False
    return type(obj).__module__ == "__main__"


def _entry(value: Any) -> list[Any]:
    """[identity, made by the notebook?] of a hook, or of a list of hooks."""
    if isinstance(value, (list, tuple)):
        return [hash(tuple(map(id, value))), any(made_here(v) for v in value)]
    return [id(value), value is not None and made_here(value)]


def _methods_of(owner: Any, entries: dict[str, list[Any]]) -> None:
    import inspect

    label = type(owner).__qualname__
    for klass in inspect.getmro(type(owner)):
        if klass is object:
            continue
        for name, value in vars(klass).items():
            if inspect.isfunction(value) or inspect.isbuiltin(value):
                entries[f"{klass.__qualname__}.{name}"] = _entry(value)
    for name, value in vars(owner).items():
        if inspect.isroutine(value):
            entries[f"{label}.instance.{name}"] = _entry(value)


def _import_machinery(entries: dict[str, list[Any]]) -> None:
    """The import system the grader re-imports course_lib through: loaders, finders, caches."""
    import importlib
    import importlib.machinery
    import importlib.util
    import inspect
    import marshal
    import sys

    modules = [importlib, importlib.util, marshal]
    modules += [sys.modules[n] for n in ("_frozen_importlib", "_frozen_importlib_external")]
    for module in modules:
        for name, value in vars(module).items():
            if callable(value):
                entries[f"importlib.{module.__name__}.{name}"] = _entry(value)
    machinery = importlib.machinery
    for klass in (machinery.SourceFileLoader, machinery.SourcelessFileLoader, machinery.FileFinder,
                  machinery.PathFinder, machinery.ModuleSpec):  # fmt: skip
        # Every attribute as the class resolves it, so that an override set on the class
        # itself (not on the base that defines the method) changes an entry too.
        for name in dir(klass):
            value = inspect.getattr_static(klass, name)
            value = getattr(value, "__func__", value)  # classmethod, staticmethod
            if callable(value) and not name.startswith("__"):
                entries[f"importlib.{klass.__qualname__}.{name}"] = _entry(value)
    entries["sys.path_importer_cache"] = _entry(list(sys.path_importer_cache.values()))


# Standard-library modules whose code course_lib's checks and their results are built with:
# any change to them is tampering, whoever made it (elsewhere only code the notebook wrote is).
RELIED_ON = (
    "abc", "collections", "contextlib", "copy", "dataclasses", "enum", "functools", "inspect",
    "io", "itertools", "json", "math", "numbers", "operator", "re", "traceback", "types",
    "typing",
)  # fmt: skip


def _in_main(obj: Any) -> bool:
    """Defined by a notebook cell (``__main__``). Stricter than :func:`made_here`: the
    standard library makes code from strings too (``namedtuple``'s ``__new__``)."""
    try:
        return getattr(obj, "__module__", None) == "__main__"
    except Exception:  # an object of the notebook's whose attributes raise
        return True


def _standard_library(entries: dict[str, list[Any]]) -> None:
    """One entry per loaded standard-library module: a digest of its functions and classes,
    and of the functions and methods each of its classes defines.

    A patched ``dataclasses.dataclass``, say, would change every class the grader's fresh
    course_lib builds with it. A function's code object counts too: assigning
    ``f.__code__`` keeps ``id(f)``.
    """
    import inspect
    import sys

    for module_name, module in list(sys.modules.items()):
        top = module_name.partition(".")[0]
        if module is None or top not in sys.stdlib_module_names or top in ("builtins", "sys"):
            continue
        try:
            members = list(vars(module).items())
        except TypeError:
            continue
        identities, made = [], False
        for name, value in members:
            if not callable(value):
                continue
            found = [(name, value)]
            if isinstance(value, type) and value.__dict__.get("__module__") == module_name:
                found += [(f"{name}.{attr}", v) for attr, v in list(vars(value).items())]
            for label, item in found:
                item = item.__func__ if isinstance(item, (classmethod, staticmethod)) else item
                if not (inspect.isfunction(item) or inspect.isbuiltin(item) or label == name):
                    continue
                code = item.__code__ if inspect.isfunction(item) else None
                identities.append((label, id(item), id(code)))
                made = made or _in_main(item)
        entries[f"stdlib.{module_name}"] = [hash(tuple(sorted(identities))), made]


def fingerprint(baseline: dict[str, int] | None = None) -> dict[str, Any]:
    """What checks rely on outside course_lib, and notebook code that is still running.

    ``entries`` maps names (``"numpy.array_equal"``) to ``[identity, made by the notebook?]``;
    given the identities of an earlier ``baseline``, only the entries that differ from it.
    """
    import builtins
    import sys
    import threading

    import numpy as np
    from IPython import get_ipython

    entries: dict[str, list[Any]] = {}
    for module in (builtins, np):
        for name, value in vars(module).items():
            if callable(value):
                entries[f"{module.__name__}.{name}"] = _entry(value)
    for hook in ("displayhook", "excepthook", "meta_path", "path_hooks"):
        entries[f"sys.{hook}"] = _entry(getattr(sys, hook))
    _import_machinery(entries)
    _standard_library(entries)
    entries["sys.settrace"] = _entry(sys.gettrace())
    entries["sys.setprofile"] = _entry(sys.getprofile())
    shell = get_ipython()
    for attr in ("input_transformers_cleanup", "input_transformers_post", "ast_transformers"):
        entries[f"ipython.{attr}"] = _entry(getattr(shell, attr, []))
    for event, callbacks in shell.events.callbacks.items():
        entries[f"ipython.events.{event}"] = _entry(callbacks)
    for owner in (shell, shell.display_pub, shell.displayhook, getattr(shell, "kernel", None)):
        if owner is not None:
            _methods_of(owner, entries)
    started_here = [
        thread.name
        for thread in threading.enumerate()
        if thread.is_alive() and made_here(getattr(thread, "_target", None) or type(thread))
    ]
    if baseline is not None:  # what changed, and what the notebook's own code added since
        entries = {
            k: v
            for k, v in entries.items()
            if (k in baseline and baseline[k] != v[0]) or (k not in baseline and v[1])
        }
    return {"entries": entries, "threads": sorted(started_here)}


def _same_code(stale: Any, fresh: Any) -> bool:
    import inspect

    if inspect.isfunction(fresh):
        return inspect.isfunction(stale) and stale.__code__ == fresh.__code__
    return True


def _replaced(stale_modules: list[Any], fresh_modules: dict[str, Any]) -> list[str]:
    """Names of course_lib functions and methods that differ from the files on disk."""
    import inspect

    changed = []
    for stale in stale_modules:
        module_name = getattr(stale, "__name__", "")
        fresh = fresh_modules.get(module_name)
        if fresh is None or fresh is stale:
            continue
        short = module_name.removeprefix("course_lib.")
        for name, value in vars(fresh).items():
            if not getattr(value, "__module__", "").startswith("course_lib"):
                continue
            old = vars(stale).get(name)
            if inspect.isfunction(value) and not _same_code(old, value):
                changed.append(f"{short}.{name}")
            elif inspect.isclass(value) and value.__module__ == module_name:
                if not inspect.isclass(old):
                    changed.append(f"{short}.{name}")
                    continue
                for attr, method in vars(value).items():
                    if inspect.isfunction(method) and not _same_code(vars(old).get(attr), method):
                        changed.append(f"{short}.{name}.{attr}")
    return sorted(set(changed))


class SnapshotFinder:
    """Serves ``course_lib`` from the grader's snapshot of its sources, never from disk.

    ``modules``: ``{name: [path relative to root, source, is a package]}``
    (:meth:`snapshot.CourseSnapshot.modules`). A course_lib module that is not in it is not
    found at all. Modules keep their usual ``__file__``, and their source is in
    ``linecache``, so that tracebacks and ``inspect`` show the code that runs.
    """

    def __init__(self, root: str, modules: dict[str, list[Any]]):
        self.root, self.modules = root, modules

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        import importlib.util
        import os

        if name != "course_lib" and not name.startswith("course_lib."):
            return None
        if name not in self.modules:
            raise ModuleNotFoundError(f"No module named {name!r} in the course", name=name)
        relative, _, package = self.modules[name]
        origin = os.path.join(self.root, relative)
        spec = importlib.util.spec_from_loader(name, self, origin=origin, is_package=package)
        spec.has_location = True
        if package:
            spec.submodule_search_locations = [os.path.dirname(origin)]
        return spec

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        import linecache

        source = self.modules[module.__name__][1]
        filename = module.__spec__.origin
        # mtime None: linecache keeps this text and never reads the file on disk instead.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)

    def get_source(self, name: str) -> str:
        return self.modules[name][1]

    def is_package(self, name: str) -> bool:
        return bool(self.modules[name][2])


def unpack_modules(packed: str) -> dict[str, list[Any]]:
    """What :meth:`snapshot.CourseSnapshot.packed_modules` packed."""
    import base64
    import json
    import zlib

    return json.loads(zlib.decompress(base64.b64decode(packed)))


def fresh_course_lib(finder: SnapshotFinder) -> tuple[Any, dict[str, Any]]:
    """Import course_lib afresh through ``finder``; return its checks and the replaced modules.

    Every course_lib module the notebook had loaded is imported again, not only those
    the checks need, so that each can be compared with its stale copy. ``finder`` must be
    first in ``sys.meta_path`` while the check runs (its lazy imports too).
    """
    import importlib
    import sys

    stale = {
        n: m for n, m in sys.modules.items() if n == "course_lib" or n.startswith("course_lib.")
    }
    for name in stale:
        del sys.modules[name]
    checks = importlib.import_module("course_lib.checks")
    importlib.import_module("course_lib.record")
    for name in stale:
        try:
            importlib.import_module(name)
        except Exception:  # a module that fails to import cannot be compared
            continue
    if sys.modules["course_lib"].__spec__.loader is not finder:
        raise ImportError("course_lib was not imported from the grader's copy")
    return checks, stale


def run_check(args: dict[str, Any]) -> dict[str, Any]:
    """Evaluate one check expression on the student's variables with a fresh course_lib."""
    import sys

    result: dict[str, Any] = {"exercise": args["exercise"], "before": fingerprint(args["baseline"])}
    finder = SnapshotFinder(args["root"], unpack_modules(args["modules"]))
    sys.meta_path.insert(0, finder)
    try:
        outcome = _checked(args, finder)
    finally:  # the kernel's import system as it was, before the fingerprint after the check
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
    return result | outcome | {"after": fingerprint(args["baseline"])}


def _checked(args: dict[str, Any], finder: SnapshotFinder) -> dict[str, Any]:
    import sys
    import types

    from IPython import get_ipython

    result: dict[str, Any] = {}
    try:
        checks, stale = fresh_course_lib(finder)
    except Exception as exc:
        return result | {"status": "error", "message": f"course_lib failed to load: {exc}"}
    fresh = {
        n: m for n, m in sys.modules.items() if n == "course_lib" or n.startswith("course_lib.")
    }
    namespace = dict(get_ipython().user_ns)
    # The notebook's own names may still point at modules from an earlier import.
    held = [
        v
        for v in namespace.values()
        if isinstance(v, types.ModuleType) and v.__name__.partition(".")[0] == "course_lib"
    ]
    candidates = {id(m): m for m in [*stale.values(), *held]}
    result["replaced"] = _replaced(list(candidates.values()), fresh)
    namespace["checks"] = checks
    # Test data drawn afresh for this grading run (check_rng), so that answers written for
    # the test data in the checks' source do not match.
    salted = sys.modules["course_lib.checks._core"].fresh_inputs(int(args.get("salt", 0)))
    try:
        with salted:
            outcome, error = (
                eval(compile(args["expression"], "<exercise check>", "eval"), namespace),
                "",
            )
    except BaseException as exc:  # the student's code may raise anything, even SystemExit
        outcome, error = None, f"{type(exc).__name__}: {exc}"
    if error:
        return result | {"status": "error", "message": error}
    check_result = sys.modules["course_lib.record"].CheckResult
    if type(outcome) is not check_result:
        return result | {
            "status": "error",
            "message": f"the check returned a {type(outcome).__name__}",
        }
    passed = outcome.passed is True and outcome.exercise == args["exercise"]
    return result | {"status": "passed" if passed else "failed", "message": str(outcome.message)}


MAX_ITEMS = 10_000  # longer containers are exported as opaque: no answer needs more


def encode(value: Any, folder: str | int, counter: list[int] | None = None) -> dict[str, Any]:
    """``value`` as JSON, arrays saved in ``folder`` (see :func:`place`) as ``.npy`` without pickle.

    Shared by the kernel (which sends this file's text) and the judge (which writes the
    arguments of the calls it needs). Whatever is not plain data (a generator, an object)
    becomes ``{"t": "opaque"}`` with its type's name: the judge sees what kind of thing came
    back, never the thing. A Keras model travels as its config and weights; a function, a
    tf.data dataset or a path is only marked (``function``, ``dataset``, ``path``): it stays
    here, for the grader's drivers to read.
    """
    import base64
    import math

    import numpy as np

    counter = counter if counter is not None else [0]
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int) and type(value) is int:
        return {"t": "int", "v": str(value)}
    if isinstance(value, float) and type(value) is float:
        return {"t": "float", "v": repr(value) if not math.isfinite(value) else value}
    if type(value).__name__ in ("Fraction", "Decimal") and type(value).__module__ in (
        "fractions",
        "decimal",
        "_pydecimal",
    ):  # an exact number, which the checks take as the float it stands for
        return encode(float(value), folder, counter)
    if type(value) is str:
        return {"t": "str", "v": value}
    if type(value) is bytes:
        return {"t": "bytes", "v": base64.b64encode(value).decode("ascii")}
    if isinstance(value, type) and value.__module__ == "numpy":
        try:  # a NumPy scalar type such as np.int8, which a check passes as a dtype
            return {"t": "dtype", "v": np.dtype(value).str}
        except TypeError:
            pass
    held = _held_tree(value)
    if held is not None:
        return held
    model = _model_tree(value, folder, counter)
    if model is not None:
        return model
    image = _image_tree(value, folder, counter)
    if image is not None:
        return image
    kind = "array"
    array = None
    if isinstance(value, (np.ndarray, np.generic)):
        array, kind = np.asarray(value), "array" if isinstance(value, np.ndarray) else "scalar"
    elif (
        type(value).__module__.startswith("tensorflow")
        and hasattr(value, "numpy")
        and type(value).__name__ in ("EagerTensor", "ResourceVariable", "Tensor")
    ):
        try:
            array, kind = np.asarray(value.numpy()), "tensor"
        except Exception:
            array = None
    if array is not None and array.dtype.kind in "biufcUS" and array.dtype.hasobject is False:
        counter[0] += 1
        name = f"v{counter[0]}.npy"
        with create_file(*place(folder, name)) as handle:
            np.save(handle, array, allow_pickle=False)
        return {"t": kind, "file": name}
    if type(value) in (tuple, list) and len(value) <= MAX_ITEMS:
        return {"t": type(value).__name__, "items": [encode(v, folder, counter) for v in value]}
    if type(value) is dict and len(value) <= MAX_ITEMS:
        return {
            "t": "dict",
            "items": [
                [encode(k, folder, counter), encode(v, folder, counter)] for k, v in value.items()
            ],
        }
    try:
        if callable(value) and not isinstance(value, type):
            return {"t": "function", "type": type(value).__name__}
    except Exception:
        pass
    tree = {
        "t": "opaque",
        "type": type(value).__name__[:80],
        "module": str(type(value).__module__)[:80],
    }
    try:  # an iterator is described as one ("its values are produced once"); they stay here
        import collections.abc

        if isinstance(value, collections.abc.Iterator):
            tree["iterator"] = True
    except Exception:
        pass
    return tree


def _held_tree(value: Any) -> dict[str, Any] | None:
    """A tf.data dataset or a filesystem path, marked as such (None for anything else).

    Like a function, it stays in the kernel: a check reaches it only through a driver
    (``checks._drivers``: the dataset's batches, the folder's file names), which the kernel
    runs on it. A path is never sent as one: the judge must not open the kernel's files.
    """
    import pathlib
    import sys

    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(value, tf.data.Dataset):
        kind = "dataset"
    elif isinstance(value, pathlib.PurePath):
        kind = "path"
    else:
        return None
    return {"t": kind, "type": type(value).__name__[:80], "module": type(value).__module__[:80]}


def _model_tree(value: Any, folder: str | int, counter: list[int]) -> dict[str, Any] | None:
    """A Keras model as data: its config (JSON, compile settings included) and a ``.weights.h5``.

    None for anything that is not a Keras model. The other side rebuilds it with Keras's
    safe mode, so a model made of Keras's own layers travels, and custom code does not.
    """
    import json
    import os
    import sys
    import tempfile

    keras = sys.modules.get("keras")
    if keras is None or not isinstance(value, keras.Model):
        return None
    counter[0] += 1
    stem = f"m{counter[0]}"
    try:
        config = keras.saving.serialize_keras_object(value)
        with create_file(*place(folder, stem + ".json")) as handle:
            handle.write(json.dumps(config).encode("utf-8"))
        # A model never called (a Sequential of augmentation layers, say) has no weights yet:
        # its config is all of it.
        if value.built:
            # Saved in a folder of this process's own, then copied as a new file.
            with tempfile.TemporaryDirectory(prefix="course-weights-") as own:
                saved = os.path.join(own, "model.weights.h5")
                value.save_weights(saved)
                with (
                    open(saved, "rb") as source,
                    create_file(*place(folder, stem + ".weights.h5")) as handle,
                ):
                    handle.write(source.read())
    except Exception as exc:  # a model that is not built, or of classes Keras cannot describe
        return {
            "t": "opaque",
            "type": type(value).__name__[:80],
            "module": str(type(value).__module__)[:80],
            "why": f"{type(exc).__name__}: {str(exc)[:300]}",
        }
    return {"t": "model", "file": stem, "type": type(value).__name__[:80]}


def _image_tree(value: Any, folder: str | int, counter: list[int]) -> dict[str, Any] | None:
    """A Pillow image as data; None for anything else.

    An image a check opened from a file (it keeps the file as ``course_file``, see
    ``checks._core.opened_image``) travels to the kernel as that file, which the kernel opens
    as the student's function would get it (EXIF, palette, transparency and all). Any other
    image, and every image the kernel sends back, as its mode, size and pixels: the judge
    never parses a file the kernel wrote.
    """
    import base64
    import sys

    import numpy as np

    pil = sys.modules.get("PIL.Image")
    if pil is None or not isinstance(value, pil.Image):
        return None
    data = getattr(value, "course_file", None)
    if type(data) is bytes:
        return {"t": "image_file", "v": base64.b64encode(data).decode("ascii")}
    try:
        pixels = np.frombuffer(value.tobytes(), np.uint8)
    except Exception:  # a file that cannot be decoded: the judge sees an image it cannot read
        return {"t": "opaque", "type": type(value).__name__[:80], "module": "PIL.Image"}
    counter[0] += 1
    name = f"v{counter[0]}.npy"
    with create_file(*place(folder, name)) as handle:
        np.save(handle, pixels, allow_pickle=False)
    return {"t": "image", "mode": str(value.mode)[:16], "size": list(value.size), "file": name}


def place(folder: str | int, name: str) -> tuple[str, int | None]:
    """Where the file ``name`` of ``folder`` is opened, as ``(path, dir_fd)`` for ``os.open``.

    ``folder``: a path, or the descriptor of a folder the judge opened without following a
    link (:class:`course_lib.tools.grading.exchange.Folders`): the file is then opened
    relative to that very folder, wherever the kernel has moved it or put a link since.
    """
    import os

    if not isinstance(folder, int):
        return os.path.join(folder, name), None
    if name in ("", os.curdir, os.pardir) or os.sep in name:
        raise ValueError(f"not a file name: {name[:80]!r}")
    return name, folder


def create_file(path: str, dir_fd: int | None = None) -> Any:
    """A new file opened for writing; fails if anything (a link, a named pipe) is there already.

    The judge writes into the exchange folder, inside the student's kernel's working folder:
    a link planted where a file is about to be written would otherwise redirect the write.
    Readable by others: the kernel may run as another user than the judge (grading.own_view),
    and the folder is the kernel's own. ``dir_fd``: as for ``os.open`` (see :func:`place`).
    """
    import os

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    return os.fdopen(os.open(path, flags, 0o644, dir_fd=dir_fd), "wb")


def read_file(path: str, dir_fd: int | None = None) -> bytes:
    """A regular file's bytes; a named pipe, a device or a link in its place is refused at once.

    The exchange folder is inside the student's kernel's working folder: a notebook can put a
    named pipe where a file is expected, and a plain open() would wait for a writer forever.
    ``dir_fd``: as for ``os.open`` (see :func:`place`).
    """
    import os
    import stat

    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{os.path.basename(path)} is not a regular file")
        return handle.read()


def load_array(folder: str | int, name: str) -> Any:
    """The ``.npy`` file ``name`` of ``folder`` (see :func:`place`), read without pickle through
    :func:`read_file`."""
    import io
    import os

    import numpy as np

    data = read_file(*place(folder, os.path.basename(name)))
    return np.load(io.BytesIO(data), allow_pickle=False)


def load_image(tree: dict[str, Any], folder: str | int) -> Any:
    """What :func:`_image_tree` wrote, as a Pillow image."""
    import base64
    import io

    from PIL import Image

    if tree["t"] == "image_file":  # returned as it is, it goes back as pixels
        return Image.open(io.BytesIO(base64.b64decode(tree["v"])))
    width, height = (int(v) for v in tree["size"])
    pixels = load_array(folder, tree["file"])
    return Image.frombytes(str(tree["mode"]), (width, height), pixels.tobytes())


def load_model(tree: dict[str, Any], folder: str | int) -> Any:
    """What :func:`_model_tree` wrote, rebuilt in Keras's safe mode (no Lambda, no own code)."""
    import json
    import os
    import tempfile

    import keras

    stem = os.path.basename(tree["file"])
    config = json.loads(read_file(*place(folder, stem + ".json")).decode("utf-8"))
    model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    if not isinstance(model, keras.Model):
        raise ValueError(f"the exported model is a {type(model).__name__}")
    try:
        weights = read_file(*place(folder, stem + ".weights.h5"))
    except FileNotFoundError:
        if model.built:  # only a model not built yet comes without
            raise
        return model
    # Read as a regular file into a folder of this process's own, then loaded from there.
    with tempfile.TemporaryDirectory(prefix="course-weights-") as own:
        copy = os.path.join(own, "model.weights.h5")
        with open(copy, "wb") as handle:
            handle.write(weights)
        model.load_weights(copy)
    return model


def decode_plain(tree: dict[str, Any], folder: str | int) -> Any:
    """The inverse of :func:`encode` for plain data (what the grader sends the kernel)."""
    import base64

    import numpy as np

    kind = tree["t"]
    if kind == "none":
        return None
    if kind in ("bool", "str"):
        return tree["v"]
    if kind == "int":
        return int(tree["v"])
    if kind == "float":
        return float(tree["v"])
    if kind == "bytes":
        return base64.b64decode(tree["v"])
    if kind in ("array", "scalar", "tensor"):
        array = load_array(folder, tree["file"])
        if kind == "tensor":  # the check made a tensor: the student's function gets one
            import tensorflow as tf

            return tf.constant(array)
        return array[()] if kind == "scalar" else array
    if kind in ("tuple", "list"):
        items = [decode_plain(v, folder) for v in tree["items"]]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        return {decode_plain(k, folder): decode_plain(v, folder) for k, v in tree["items"]}
    if kind == "dtype":
        return np.dtype(str(tree["v"])).type
    if kind == "model":
        return load_model(tree, folder)
    if kind in ("image_file", "image"):
        return load_image(tree, folder)
    raise ValueError(f"cannot send a {kind} to the kernel")


def export_values(args: dict[str, Any], namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    """The notebook variables named in ``args["names"]``, as data (functions marked as such)."""
    import json
    import os

    if namespace is None:
        from IPython import get_ipython

        namespace = get_ipython().user_ns
    folder = args["dir"]
    os.makedirs(folder, exist_ok=True)
    values: dict[str, Any] = {}
    for name in args["names"]:
        if name not in namespace:
            values[name] = {"t": "missing"}
            continue
        try:
            values[name] = encode(namespace[name], folder)
        except Exception as exc:  # an object that fights being looked at
            values[name] = {"t": "opaque", "type": type(exc).__name__, "module": "error"}
    with open(os.path.join(folder, "values.json"), "w", encoding="utf-8") as handle:
        json.dump(values, handle)
    return {"exported": sorted(values)}


def _driven(func: Any, driver: str, source: str) -> Any:
    """``func`` as the grader's driver runs it (course_lib.checks._drivers, sent as text)."""
    drivers: dict[str, Any] = {"__name__": "course_grader_drivers"}
    exec(compile(source, "<course grader drivers>", "exec", dont_inherit=True), drivers)
    run = drivers["DRIVERS"][driver]
    return lambda *given: run(func, *given)


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

    The watch is ``course_lib/checks/_copies.py``'s text, sent by the judge with the copies'
    sources and run here in a namespace of its own, with the guard's ``compile``, ``exec``,
    built-ins and profiler switches (``tools``; this process's own where there is no guard):
    never a course_lib module of the kernel's, which the notebook may have replaced. A call
    of the course's own copy of the exercise, or of a check's code, is no answer: ``raised``
    is then a ``CourseCopyUsed``. ``unwatched`` says how the student's code switched the
    watch off, "" if it did not.
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
    course = (str(watch["course"]), str(watch["sep"]))
    result, raised, used, off = watched_call(
        func, given, copies, course, tools, watch["watch_checks"] is True
    )
    if raised is None and used:
        raised = copy_used(message(used))
    return result, raised, off


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
    """
    # Bound before anything else runs here: the notebook's own code may run during what
    # follows (an audit hook it added, called as a file is opened) and rebind this
    # namespace's names
    watched, tools = _watched, guard_tools() if guarded else None
    before = tools["counts"]() if tools else None
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
    try:
        if unwatched:  # the call is not made: what it did could not be seen
            raise RuntimeError(f"the grader could not watch this call: {unwatched}")
        result, raised, unwatched = watched(func, given, args["watch"], tools)
        after = tools["counts"]() if tools else None
        if before is not None and (after is None or after[0] - before[0] != 2):
            # the watch's own two are all: any other could have changed this cell's work
            unwatched = unwatched or "sys.setprofile or sys.settrace was called in the cell"
        if raised is None and unwatched:
            raised = RuntimeError(f"the grader could not watch this call: {unwatched}")
        if raised is not None:
            raise raised
    except BaseException as exc:  # the student's code may raise anything
        if isinstance(exc, KeyboardInterrupt):
            raise
        outcome = {
            "raised": {
                "type": type(exc).__name__[:80],
                "message": str(exc)[:500],
                "builtin": type(exc).__module__ == "builtins",
            }
        }
    else:
        try:
            outcome = {"returned": encode(result, out)}
        except Exception:  # the export, not the student's code, failed (a list nested too deep)
            outcome = {
                "returned": {
                    "t": "opaque",
                    "type": type(result).__name__[:80],
                    "module": str(type(result).__module__)[:80],
                }
            }
    counter = [1000]
    changed = {}
    for position, (before, after) in enumerate(zip(pristine, given, strict=True)):
        if isinstance(before, list):  # a list the student's code reordered or changed
            try:
                same = len(before) == len(after) and all(
                    a is b or a == b for a, b in zip(before, after, strict=True)
                )
            except Exception:  # items whose == is not a truth value
                same = False
            if not same:
                changed[str(position)] = encode(list(after), out, counter)
        elif before is not None and not np.array_equal(
            before, after, equal_nan=before.dtype.kind == "f"
        ):
            changed[str(position)] = encode(np.asarray(after), out, counter)
        elif before is None and request["args"][position].get("t") == "model":
            # A model the student's code may have changed (compiled, frozen, retrained):
            # its state after.
            changed[str(position)] = encode(after, out, counter)
    outcome["changed"] = changed
    with open(os.path.join(out, "outcome.json"), "w", encoding="utf-8") as handle:
        json.dump(outcome, handle)
    return {"called": args["name"]} | ({"unwatched": unwatched} if unwatched else {})


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
    main(ACTION, ARGS, NONCE)  # noqa: F821 - provided by the grader's exec namespace
