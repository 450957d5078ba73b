"""``course_lib`` served from the grader's snapshot of its sources, never from disk.

Where it serves, its text is sent, not the module imported: with the grader's code to a
student's kernel (:mod:`kernel_code`), where each check cell imports course_lib afresh
through :class:`SnapshotFinder` (:func:`fresh_course_lib`), and to the judge's process
(:mod:`course_lib.tools.grading.judge_process`), which imports the judge through it. It
imports nothing from course_lib.
"""

from __future__ import annotations

from typing import Any


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
