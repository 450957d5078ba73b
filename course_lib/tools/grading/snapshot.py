"""The course's files as they were when grading started, so that no notebook can change them.

A notebook runs as the same user as the grader and, outside a read-only container, can
rewrite ``course_lib/checks/lesson02.py`` and restore it in its last cell. So a grading run
reads ``course_lib``'s files (and the solution notebooks, its answer keys) once, before any
student code runs, and:

- every later import of ``course_lib`` by grading code (the checks that run in a student's
  kernel, and the judge, also one started again in the middle of a run) is served from this
  snapshot by :class:`snapshot_finder.SnapshotFinder`, never read from disk;
- after each notebook, :meth:`CourseSnapshot.restore` compares the files on disk with it
  (content, and the file's identity and change time, which a notebook cannot set back):
  the notebook that changed them is flagged, and they are written back as they were, so
  that later students and the instructor's copy are unaffected. Compiled caches
  (``__pycache__``) written or changed meanwhile are deleted, so that a forged one is never
  loaded later.
"""

from __future__ import annotations

import base64
import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from course_lib import config

_PACKAGE = "course_lib"
_CACHE = "__pycache__"


def _identity(path: Path) -> tuple[int, int]:
    info = path.lstat()
    return info.st_ino, info.st_ctime_ns


def site_folders() -> list[str]:
    """The folders whose ``.pth`` files Python's site module runs: site-packages, the user's."""
    import site

    return [*site.getsitepackages(), site.getusersitepackages()]


def _startup_files() -> dict[str, bytes]:
    """The files Python runs at every start: site-packages' ``.pth`` files (a line starting
    with ``import`` is executed), ``sitecustomize`` and ``usercustomize`` anywhere on the path.
    """
    import sys

    sites = site_folders()
    found: dict[str, bytes] = {}
    for folder in dict.fromkeys([*sites, *sys.path]):
        if not folder or not os.path.isdir(folder):
            continue
        names = ["sitecustomize.py", "usercustomize.py"]
        if folder in sites:
            try:
                names += [n for n in os.listdir(folder) if n.endswith(".pth")]
            except OSError:
                continue
        for name in names:
            path = os.path.join(folder, name)
            try:
                with open(path, "rb") as handle:
                    found[path] = handle.read()
            except OSError:  # not there
                continue
    return found


@dataclass
class CourseSnapshot:
    root: Path
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> content
    identities: dict[str, tuple[int, int]] = field(default_factory=dict)
    caches: dict[str, tuple[int, int]] = field(default_factory=dict)  # .pyc files
    startup: dict[str, bytes] = field(default_factory=dict)  # absolute path -> content

    @classmethod
    def take(cls, root: Path | None = None) -> CourseSnapshot:
        root = root or config.project_root()
        snapshot = cls(root)
        for path, relative in snapshot._tracked():
            snapshot.files[relative] = path.read_bytes()
            snapshot.identities[relative] = _identity(path)
        snapshot.caches = snapshot._caches()
        snapshot.startup = _startup_files()
        return snapshot

    def restore_startup(self) -> list[str]:
        """Python's start-up files changed or planted since the snapshot, put back; their paths.

        Every later process of the run would otherwise run what a notebook wrote there (the
        next students' kernels; the judge starts without them). Outside a read-only
        environment a notebook can write them.
        """
        now = _startup_files()
        changed = sorted(
            p for p in now.keys() | self.startup.keys() if now.get(p) != self.startup.get(p)
        )
        for path in changed:
            try:
                if path in self.startup:
                    self._write_back(Path(path), self.startup[path])
                else:
                    os.unlink(path)
            except OSError:
                continue
        return changed

    def _tracked(self) -> list[tuple[Path, str]]:
        found = [p for p in (self.root / _PACKAGE).rglob("*") if _CACHE not in p.parts]
        found += list((self.root / "solutions").glob("[0-9][0-9]_*.ipynb"))
        return [
            (p, p.relative_to(self.root).as_posix())
            for p in sorted(found)
            if p.is_file() or p.is_symlink()
        ]

    def _caches(self) -> dict[str, tuple[int, int]]:
        caches = {}
        for path in (self.root / _PACKAGE).rglob(f"{_CACHE}/*"):
            try:
                caches[path.relative_to(self.root).as_posix()] = _identity(path)
            except OSError:
                continue
        return caches

    def modules(self, without: tuple[str, ...] = ()) -> dict[str, list[object]]:
        """``{module name: [relative path, source, is a package]}`` of every course_lib module.

        ``without``: packages left out (``course_lib.tools``, which a student's kernel does not
        need), so that what each check cell carries stays small.
        """
        modules: dict[str, list[object]] = {}
        for relative, content in self.files.items():
            if not relative.startswith(_PACKAGE + "/") or not relative.endswith(".py"):
                continue
            parts = relative.removesuffix(".py").split("/")
            package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if package else parts)
            if any(name == w or name.startswith(w + ".") for w in without):
                continue
            modules[name] = [relative, content.decode("utf-8"), package]
        return modules

    def packed_modules(self, without: tuple[str, ...] = ()) -> str:
        """:meth:`modules` as compressed text, for a grader cell."""
        raw = json.dumps(self.modules(without)).encode("utf-8")
        return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")

    def restore(self) -> list[str]:
        """Files changed on disk since the snapshot, written back as they were; their names."""
        changed = []
        tracked = dict((relative, path) for path, relative in self._tracked())
        for relative in sorted(self.files.keys() | tracked.keys()):
            path = self.root / relative
            try:
                same = (
                    relative in self.files
                    and not path.is_symlink()
                    and _identity(path) == self.identities[relative]
                    and path.read_bytes() == self.files[relative]
                )
            except OSError:
                same = False
            if same:
                continue
            changed.append(relative)
            try:
                if relative not in self.files:  # planted: nothing of the course's is there
                    path.unlink()
                    continue
                self._write_back(path, self.files[relative])
                self.identities[relative] = _identity(path)
            except OSError:
                continue
        for relative, identity in self._caches().items():
            if self.caches.get(relative) != identity:  # compiled meanwhile: maybe forged
                try:
                    (self.root / relative).unlink()
                except OSError:
                    pass
        self.caches = self._caches()
        return changed

    @staticmethod
    def _write_back(path: Path, content: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.restore")
        temporary.write_bytes(content)
        if path.is_dir() and not path.is_symlink():
            path.rename(path.with_name(f"{path.name}.moved-aside"))
        os.replace(temporary, path)
