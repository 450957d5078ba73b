"""The judge's way into the exchange folder, which the student's kernel can change under it.

The exchange folder (``.course-grader`` in the kernel's working folder) and every folder in
it but those the judge makes belong to the kernel's user: a notebook can rename them, or
put a link in their place, at any moment, also while the judge works in them. The judge
runs as another user (root, when each kernel gets a user of its own) and sees the host's
files, so a link followed there would let a notebook make it create or read files anywhere.
It follows none: it opens the kernel's working folder, which the grader made, then each
folder below it relative to the one above, with ``O_NOFOLLOW``, and creates and reads
files relative to their folder's descriptor (:func:`kernel_files.place`). A descriptor
stays on its folder: a rename or a link made later, there or above it, redirects nothing.
"""

from __future__ import annotations

import os

_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


class Folders:
    """The folders one judge request works in, each opened once, all closed with it.

    ``root``: the kernel's working folder, which the grader made: its own path is followed
    as it is. The paths given to :meth:`open` and :meth:`make` lie inside it.
    """

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self._opened: dict[tuple[str, ...], int] = {}

    def __enter__(self) -> Folders:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for fd in self._opened.values():
            os.close(fd)
        self._opened.clear()

    def open(self, path: str) -> int:
        """The descriptor of the folder ``path``, reached from the root through no link."""
        return self._walk(self._parts(path))

    def make(self, path: str) -> int:
        """Make the folder ``path``, new (its parent must exist); return its descriptor."""
        parts = self._parts(path)
        if not parts:
            raise ValueError("the working folder itself cannot be made")
        parent = self._walk(parts[:-1])
        os.mkdir(parts[-1], dir_fd=parent)
        fd = self._remember(parts, os.open(parts[-1], _FOLDER, dir_fd=parent))
        # Between mkdir and open the kernel may have put a folder of its own in its place.
        if os.fstat(fd).st_uid != os.geteuid():
            raise ValueError(f"{parts[-1]} was replaced as it was made")
        return fd

    def _parts(self, path: str) -> tuple[str, ...]:
        relative = os.path.relpath(os.path.abspath(path), self.root)
        parts = () if relative == os.curdir else tuple(relative.split(os.sep))
        if any(part in ("", os.curdir, os.pardir) for part in parts):
            raise ValueError(f"{path} is not inside {self.root}")
        return parts

    def _walk(self, parts: tuple[str, ...]) -> int:
        if () not in self._opened:
            self._opened[()] = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        fd = self._opened[()]
        for depth in range(1, len(parts) + 1):
            if parts[:depth] not in self._opened:
                self._remember(parts[:depth], os.open(parts[depth - 1], _FOLDER, dir_fd=fd))
            fd = self._opened[parts[:depth]]
        return fd

    def _remember(self, parts: tuple[str, ...], fd: int) -> int:
        if parts in self._opened:  # opened before, moved away since: the new folder counts
            os.close(self._opened.pop(parts))
        self._opened[parts] = fd
        return fd
