"""The ``fingerprint`` action of the grader's code in a student's kernel (:mod:`kernel_code`).

Identities of the objects a check's outcome depends on beyond course_lib: NumPy's and the
built-in functions, ``sys`` hooks, the import system, the loaded standard-library modules,
IPython's input transformers, event callbacks and display machinery; plus the threads
started by notebook code. The grader compares them with those taken before the student's
cells ran (:func:`course_lib.tools.grading.analysis.tampering`). Sent into the kernel as
text, like the rest of the grader's code there; it imports nothing from course_lib.
"""

from __future__ import annotations

from typing import Any


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
