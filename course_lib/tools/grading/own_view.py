"""A student's kernel's own view of the file systems: the answer keys empty, the course read-only.

The audit hook of :mod:`course_lib.tools.grading.fence` turns Python's ways of opening the answer
keys away, but not the C library called through ``ctypes``, a program that finds them by itself
(``git show``, a shell's ``*``) nor libraries with readers of their own (``tf.io``). When the
grader runs as root on Linux, each kernel starts in a mount namespace of its own (the
mechanism containers are made of) where:

- every fenced folder (the solutions, the course's tests and history, the build folder, the
  submissions and the grader's output) is an empty, read-only file system: there is nothing
  under that name to read, by any means;
- the course and the Python it runs on (the interpreter and its packages) are read-only: a
  notebook can change neither the checks later notebooks import nor the files Python runs at
  start-up.

The kernel has no capability left (:func:`isolation.kernel_preexec`), so it cannot unmount any
of this, nor reach the system's view through another process's ``/proc/<pid>/root``. Nothing
changes on disk or for any other process, and the view ends with the kernel.
"""

from __future__ import annotations

import ctypes
import functools
import os
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass

from course_lib import config

_CLONE_NEWNS = 0x00020000  # from <sched.h>
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8  # from <sys/mount.h>
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
_EMPTY = _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC


@dataclass(frozen=True)
class View:
    """Folders a kernel sees empty, and folders it sees read-only (real paths)."""

    hidden: tuple[str, ...]
    read_only: tuple[str, ...]

    def encoded(self) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
        """As bytes, made before ``fork``: the child only makes system calls with them."""
        return tuple(map(os.fsencode, self.hidden)), tuple(map(os.fsencode, self.read_only))


def _holds(folder: str, path: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def course_and_python() -> list[str]:
    """What a notebook may not change: the course, the interpreter and its packages."""
    folders = [str(config.project_root()), sys.prefix, sys.base_prefix]
    folders += [*site.getsitepackages(), site.getusersitepackages()]
    return [os.path.realpath(f) for f in folders]


def view_for(fenced: Iterable[str], kernel_folders: Iterable[str]) -> View:
    """The view of a kernel whose own folders are ``kernel_folders``.

    A fenced folder that holds one of the kernel's own folders, or the course or Python,
    stays visible (the fence alone guards it); so does a read-only one that holds the
    kernel's own folders, which must stay writable.
    """
    own = [os.path.realpath(f) for f in kernel_folders]
    needed = [*own, *course_and_python(), os.path.realpath(config.data_dir())]
    hidden = sorted(
        {
            os.path.realpath(f)
            for f in fenced
            if os.path.isdir(f) and not any(_holds(os.path.realpath(f), n) for n in needed)
        }
    )
    read_only = sorted(
        {f for f in course_and_python() if os.path.isdir(f) and not any(_holds(f, o) for o in own)}
    )
    # A folder inside another read-only one is read-only already (the binds are recursive).
    read_only = [f for f in read_only if not any(_holds(o, f) and o != f for o in read_only)]
    return View(tuple(hidden), tuple(read_only))


def _fail(what: str) -> None:
    raise OSError(ctypes.get_errno(), what)


def enter(libc: ctypes.CDLL, hidden: tuple[bytes, ...], read_only: tuple[bytes, ...]) -> None:
    """Give this process its own view of the file systems (between ``fork`` and ``exec``)."""
    if libc.unshare(_CLONE_NEWNS) != 0:
        _fail("unshare(CLONE_NEWNS)")
    # Nothing mounted from here on reaches the system's view, nor comes back from it.
    if libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        _fail("mount --make-rprivate /")
    for folder in read_only:
        if libc.mount(folder, folder, None, _MS_BIND | _MS_REC, None) != 0:
            _fail(f"mount --bind {folder.decode()}")
        flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
        if libc.mount(None, folder, None, flags, None) != 0:
            _fail(f"mount -o remount,ro {folder.decode()}")
    for folder in hidden:
        if libc.mount(b"tmpfs", folder, b"tmpfs", _EMPTY, b"size=4k,mode=000") != 0:
            _fail(f"mount tmpfs on {folder.decode()}")


_PROBE = """
import ctypes, os, sys
from course_lib.tools.grading import own_view
hidden, read_only = sys.argv[1:3]
own_view.enter(ctypes.CDLL(None, use_errno=True), (hidden.encode(),), (read_only.encode(),))
assert not os.listdir(hidden)
try:
    open(os.path.join(read_only, "x"), "w")
except OSError as error:
    assert error.errno == 30  # EROFS: the view took
else:
    raise SystemExit("the view did not take")
"""


@functools.cache
def possible() -> bool:
    """Whether kernels can get views of their own here, asked once of a process that tries.

    Needs Linux, root and a system that allows mount namespaces (a container started
    without ``CAP_SYS_ADMIN``, as Docker's default, does not).
    """
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False
    with tempfile.TemporaryDirectory() as folder:
        hidden, read_only = os.path.join(folder, "hidden"), os.path.join(folder, "read-only")
        os.mkdir(hidden)
        os.mkdir(read_only)
        open(os.path.join(hidden, "x"), "w").close()
        try:
            done = subprocess.run(
                [sys.executable, "-c", _PROBE, hidden, read_only],
                env={**os.environ, "PYTHONPATH": str(config.project_root())},
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError):
            return False
    return done.returncode == 0
