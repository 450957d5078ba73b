"""The grader's output folder, written so that no notebook can destroy or redirect the results.

A notebook runs as the same user as the grader and can find the output folder (it is on the
grader's command line). It could plant a folder named ``grades.csv`` (writing it would fail
and lose every student's results) or a link to one of the instructor's files (writing it
would overwrite that file). So the folder is opened once, before any notebook runs, and
every file is written relative to that handle: to a new temporary file, then renamed over
the name (``os.replace`` replaces a link, never the file it points to); a folder or a link
found where a file or a folder of the grader's belongs is moved aside first. After each
notebook, :meth:`OutputFolder.changes` names what changed in the folder that the grader did
not write, so that the notebook can be flagged.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import time
from pathlib import Path

INTERRUPTED = "INTERRUPTED.txt"  # a run stopped before its last notebook: its files are partial
_RUN_FILES = ("grades.csv", "summary.csv", "executed", INTERRUPTED)
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0)


class OutputFolder:
    def __init__(self, path: Path):
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        self.moved_aside: list[str] = []
        self.written: set[str] = set()  # since the last accept(): not changes of a notebook's
        self._accepted_moves = 0
        self.expected = self._state()

    def set_aside_earlier_run(self) -> Path | None:
        """Move the files of an earlier run (``grades.csv``, ``summary.csv``, ``executed/``,
        ``INTERRUPTED.txt``) into ``earlier/<when it was written>/``, so that this run's files
        are its own and none of the earlier grades is lost; that folder, or None if there was
        no earlier run."""
        present = []
        for name in _RUN_FILES:
            try:
                present.append((name, os.stat(name, dir_fd=self.fd, follow_symlinks=False)))
            except FileNotFoundError:
                continue
        if not present:
            return None
        last = max(info.st_mtime for _, info in present)
        when = time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime(last))
        earlier = self._folder(["earlier"])
        try:
            folder = when
            while True:
                try:
                    os.mkdir(folder, dir_fd=earlier)
                    break
                except FileExistsError:  # two runs within a second
                    folder = f"{when}-{secrets.token_hex(2)}"
        finally:
            os.close(earlier)
        folder = f"earlier/{folder}"
        for name, _ in present:
            os.rename(name, f"{folder}/{name}", src_dir_fd=self.fd, dst_dir_fd=self.fd)
        self.accept()
        return self.path / folder

    def earlier_runs(self) -> tuple[int, int]:
        """How many earlier runs ``earlier/`` keeps, and their size in bytes (links not
        followed): nothing there is ever deleted, so the instructor is told when it grows."""
        folder = self.path / "earlier"
        runs = [entry for entry in _entries(folder) if entry.is_dir(follow_symlinks=False)]
        size = 0
        for run in runs:
            for top, _, files in os.walk(run.path):
                for name in files:
                    with contextlib.suppress(OSError):
                        size += os.lstat(os.path.join(top, name)).st_size
        return len(runs), size

    def write(self, relative: str, data: bytes) -> Path:
        """Write ``data`` to ``relative`` (``a/b.csv``) in the folder, atomically; its path."""
        parts = relative.split("/")
        *folders, name = parts
        dir_fd = self._folder(folders)
        # The folders are the grader's even if the file cannot be written.
        self.written.update("/".join(parts[: n + 1]) for n, _ in enumerate(folders))
        try:
            # Not derived from `name`: a name near the system's limit (255 bytes) is a valid
            # submission's, and must not fail for the temporary file's longer one.
            temporary = f".grader-{secrets.token_hex(6)}.tmp"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(temporary, flags, 0o644, dir_fd=dir_fd)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                try:
                    if stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                        self._move_aside(dir_fd, name, "/".join(folders))
                except FileNotFoundError:
                    pass
                os.replace(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except OSError:  # a full disk, a name too long: no temporary file is left behind
                os.unlink(temporary, dir_fd=dir_fd)
                raise
            self.written.update("/".join(parts[: n + 1]) for n, _ in enumerate(parts))
        finally:
            if dir_fd != self.fd:
                os.close(dir_fd)
        return self.path / relative

    def changes(self) -> list[str]:
        """What changed in the folder since the grader last wrote it (relative names)."""
        now = self._state()
        found = {
            name
            for name in now.keys() | self.expected.keys()
            if now.get(name) != self.expected.get(name)
            and name not in self.written
            and ".moved-aside-" not in name
        }
        return sorted(found | set(self.moved_aside[self._accepted_moves :]))

    def repair(self, changed: list[str]) -> None:
        """Move aside what a notebook put in the folder, and give it its permissions back."""
        for name in sorted(changed, key=lambda n: n.count("/")):
            if name == ".":
                os.chmod(self.fd, stat.S_IMODE(self.expected["."][2]))
                continue
            try:
                os.lstat(name, dir_fd=self.fd)
                os.rename(
                    name,
                    f"{name}.moved-aside-{secrets.token_hex(4)}",
                    src_dir_fd=self.fd,
                    dst_dir_fd=self.fd,
                )
            except OSError:  # gone already, with the folder it was in
                continue

    def accept(self) -> None:
        """The folder as it is now is what the grader expects (after it wrote its files)."""
        self.expected = self._state()
        self.written.clear()
        self._accepted_moves = len(self.moved_aside)

    def _folder(self, parts: list[str]) -> int:
        """A handle on the folder ``parts`` below the output folder, made if missing."""
        current = self.fd
        for depth, part in enumerate(parts):
            try:
                child = os.open(part, _DIRECTORY, dir_fd=current)
            except FileNotFoundError:
                os.mkdir(part, dir_fd=current)
                child = os.open(part, _DIRECTORY, dir_fd=current)
            except OSError:  # a link or a file where the grader's folder belongs
                self._move_aside(current, part, "/".join(parts[:depth]))
                os.mkdir(part, dir_fd=current)
                child = os.open(part, _DIRECTORY, dir_fd=current)
            if current != self.fd:
                os.close(current)
            current = child
        return current

    def _move_aside(self, dir_fd: int, name: str, where: str) -> None:
        aside = f"{name}.moved-aside-{secrets.token_hex(4)}"
        os.rename(name, aside, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        self.moved_aside.append(f"{where}/{name}" if where else name)

    def _state(self) -> dict[str, tuple[int, ...]]:
        """Every entry: kind and identity; a file's change time; a folder's permissions."""
        top = os.stat(self.fd)
        state: dict[str, tuple[int, ...]] = {".": (1, top.st_ino, top.st_mode)}
        for folder, folders, files, dir_fd in os.fwalk(".", dir_fd=self.fd):
            for name in folders + files:
                relative = os.path.normpath(os.path.join(folder, name))
                try:
                    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(info.st_mode):
                    state[relative] = (1, info.st_ino, info.st_mode)
                else:
                    state[relative] = (0, info.st_ino, info.st_mode, info.st_ctime_ns)
        return state


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError:
        return []
