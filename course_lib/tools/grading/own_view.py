"""A student's kernel's own view of the file systems: only what it needs, and nothing to keep.

The audit hook of :mod:`course_lib.tools.grading.fence` turns Python's ways of opening the answer
keys away, but not the C library called through ``ctypes``, a program that finds them by itself
(``git show``, a shell's ``*``) nor libraries with readers of their own (``tf.io``). And the
answer keys are not the only thing to keep from a notebook: another copy of the course, last
week's submissions, the grader's own caches, the system's configuration (``/etc/ipython`` runs
in every later kernel). When the grader runs as root on Linux, each kernel starts in a mount
namespace of its own (the mechanism containers are made of), in a root folder built for it
from an allow-list:

- the system's programs and libraries (``/usr``, ``/etc``, ``/opt``), ``/sys``, the course
  and the Python it runs on (the interpreter and its packages) and the dataset cache:
  read-only; every fenced folder of the course (solutions, tests, history, build folder) is
  empty in it;
- ``/dev`` and ``/proc`` as they are, and an empty ``/tmp`` of its own;
- its own working folder and home: the only places it can write.

Nothing else of the machine is in its view: not root's home, not other copies of the course,
not the submissions, not the grader's output. Its System V shared memory and ``/dev/shm`` are
its own, and ``/proc/sys`` and the control groups are read-only. The kernel runs as a user id
of its own, which no account and no other process has, where the folders it needs are
readable by others, else as root; either way without any capability
(:func:`isolation.kernel_preexec`): it can neither leave the view, nor unmount any of it, nor
look through another process's ``/proc/<pid>/root``. What it leaves running is stopped by its
user id (:func:`stop_user`). Nothing changes on disk or
for any other process, and the view ends with the kernel.
"""

from __future__ import annotations

import ctypes
import functools
import os
import pwd
import secrets
import signal
import site
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from course_lib import config

_CLONE_NEWNS, _CLONE_NEWIPC = 0x00020000, 0x08000000  # from <sched.h>
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8  # from <sys/mount.h>
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
_EMPTY = _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
# The system's own folders, read-only (those that are links, as /bin -> usr/bin, stay links)
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/sys")
AS_THEY_ARE = ("/dev", "/proc")
# Read-only again inside those: the system's settings, and the control groups under /sys
SETTINGS = ("/proc/sys", "/sys/fs/cgroup")
# Kernels' own user ids: a range no account uses
_FIRST_UID, _UIDS = 1_500_000_000, 400_000_000


@dataclass(frozen=True)
class View:
    """How a kernel's root folder is built: real paths; ``root`` is an empty folder."""

    root: str
    read_only: tuple[str, ...]
    writable: tuple[str, ...]
    hidden: tuple[str, ...]
    cwd: str
    uid: int = 0
    gid: int = 0

    def encoded(self) -> tuple[bytes, list[tuple[bytes, int]], tuple[bytes, ...], bytes]:
        """Made before ``fork``: (root, [(path, how)], hidden, cwd) with how 0 a link, 1
        read-only, 2 writable; parents before what they hold."""
        binds = [(p, 1) for p in self.read_only] + [(p, 2) for p in self.writable]
        binds.sort(key=lambda item: (item[0].count("/"), item[0]))
        order = [(os.fsencode(p), 0 if os.path.islink(p) else how) for p, how in binds]
        return (
            os.fsencode(self.root),
            order,
            tuple(map(os.fsencode, self.hidden)),
            os.fsencode(self.cwd),
        )


def _holds(folder: str, path: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def course_and_python(kernel_python: str = sys.executable) -> list[str]:
    """What a notebook may read but not change: the course, the interpreter and its packages."""
    folders = [str(config.project_root()), sys.prefix, sys.base_prefix]
    folders += [os.path.dirname(os.path.dirname(kernel_python))]
    folders += [os.path.dirname(os.path.dirname(os.path.realpath(kernel_python)))]
    folders += [*site.getsitepackages(), config.data_dir()]
    return [os.path.realpath(f) for f in folders if os.path.isdir(f)]


def _kernel_user(read_only: Iterable[str], writable: Iterable[str]) -> tuple[int, int]:
    """A user id of the kernel's own, if it can read every folder it needs, else root (0).

    Drawn afresh for each kernel from ids no account and no running process has: a process
    a notebook leaves behind can then reach neither another student's kernel nor its files,
    and the grader stops everything of that id when the notebook is graded
    (:func:`stop_user`).
    """
    for folder in read_only:
        mode = os.stat(folder).st_mode
        if mode & (stat.S_IROTH | stat.S_IXOTH) != stat.S_IROTH | stat.S_IXOTH:
            return 0, 0
    running = {p.info["uids"].real for p in psutil.process_iter(["uids"]) if p.info["uids"]}
    while True:
        uid = _FIRST_UID + secrets.randbelow(_UIDS)
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if uid not in running:
                break
    for folder in writable:
        hand_over(folder, uid, uid)
    return uid, uid


def stop_user(uid: int) -> list[str]:
    """Kill every process of ``uid`` (a kernel's own id), forks made meanwhile included.

    Returns "name (pid)" of each process found first. A process the notebook left running,
    however it detached, is one of them; ``kill(-1)`` sent as that user reaches them all.
    """
    found = []
    for process in psutil.process_iter(["uids", "name", "status"]):
        info = process.info
        if info["uids"] and info["uids"].real == uid and info["status"] != psutil.STATUS_ZOMBIE:
            found.append(f"{info['name']} ({process.pid})")

    def as_that_user() -> None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        for _ in range(1000):  # until none is left, forks made meanwhile included
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                return

    if found:
        try:
            subprocess.run(["true"], preexec_fn=as_that_user, timeout=60, check=False)
        except (OSError, subprocess.SubprocessError):  # the killing ran before exec either way
            pass
    return found


def hand_over(folder: str, uid: int, gid: int) -> None:
    """Make ``uid`` the owner of ``folder`` and everything in it."""
    os.chown(folder, uid, gid)
    for parent, dirs, files in os.walk(folder):
        for name in dirs + files:
            os.lchown(os.path.join(parent, name), uid, gid)


def view_for(
    fenced: Iterable[str], own: Iterable[str], root: str, kernel_python: str = sys.executable
) -> View:
    """The view of a kernel whose own folders are ``own`` (its working folder first), built in
    the empty folder ``root``; hands ``own`` over to the user the kernel will run as."""
    own = [os.path.realpath(f) for f in own]
    read_only = [f for f in SYSTEM if os.path.lexists(f)]
    read_only += [f for f in course_and_python(kernel_python) if not any(_holds(f, o) for o in own)]
    read_only = sorted(set(read_only))
    hidden = sorted(
        {
            os.path.realpath(f)
            for f in fenced
            if os.path.isdir(f)
            and any(_holds(r, os.path.realpath(f)) for r in read_only)
            and not any(_holds(os.path.realpath(f), n) for n in [*own, *read_only])
        }
    )
    checked = [f for f in read_only if not os.path.islink(f) and f not in ("/sys",)]
    uid, gid = _kernel_user(checked, own)
    read_only += [f for f in SETTINGS if os.path.isdir(f)]
    return View(root, tuple(read_only), (*AS_THEY_ARE, *own), tuple(hidden), own[0], uid, gid)


def _fail(what: str) -> None:
    raise OSError(ctypes.get_errno(), what)


def _bind(libc: ctypes.CDLL, source: bytes, target: bytes, how: int) -> None:
    if how == 0:  # a link such as /bin -> usr/bin: the same link in the view
        os.symlink(os.readlink(source), target)
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    if libc.mount(source, target, None, _MS_BIND | _MS_REC, None) != 0:
        _fail(f"mount --bind {source.decode()}")
    if how == 1:
        flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
        if libc.mount(None, target, None, flags, None) != 0:
            _fail(f"mount -o remount,ro {target.decode()}")


def enter(
    libc: ctypes.CDLL,
    root: bytes,
    binds: list[tuple[bytes, int]],
    hidden: tuple[bytes, ...],
    cwd: bytes,
) -> None:
    """Give this process its own view (between ``fork`` and ``exec``, as root) and enter it."""
    # Its own mounts, and its own System V shared memory and semaphores
    if libc.unshare(_CLONE_NEWNS | _CLONE_NEWIPC) != 0:
        _fail("unshare(CLONE_NEWNS | CLONE_NEWIPC)")
    # Nothing mounted from here on reaches the system's view, nor comes back from it.
    if libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        _fail("mount --make-rprivate /")
    flags = _MS_NOSUID | _MS_NODEV
    if libc.mount(b"tmpfs", root, b"tmpfs", flags, b"size=1m,mode=0755") != 0:
        _fail(f"mount tmpfs on {root.decode()}")
    tmp = root + b"/tmp"
    os.mkdir(tmp)
    if libc.mount(b"tmpfs", tmp, b"tmpfs", flags, b"size=2g,mode=1777") != 0:
        _fail("mount tmpfs on /tmp")
    for source, how in binds:
        _bind(libc, source, root + source, how)
    for folder in hidden:
        if libc.mount(b"tmpfs", root + folder, b"tmpfs", _EMPTY, b"size=4k,mode=000") != 0:
            _fail(f"mount tmpfs on {folder.decode()}")
    shm = root + b"/dev/shm"  # shared memory of its own, not the machine's
    if os.path.isdir(shm) and libc.mount(b"tmpfs", shm, b"tmpfs", flags, b"size=1g,mode=1777"):
        _fail("mount tmpfs on /dev/shm")
    os.chroot(root)
    os.chdir(cwd)  # the working folder set before was outside the new root


# The probe loads this file alone, not the grading package, which would import the grader's
# dependencies (nbformat, jsonschema: seconds) for a question answered in milliseconds.
_PROBE = """
import ctypes, importlib.util, os, sys
root, kept, hidden, source = sys.argv[1:5]
spec = importlib.util.spec_from_file_location("course_own_view_probe", source)
own_view = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(own_view)
view = own_view.View(root, ("/usr", "/etc"), (kept,), (), kept)
own_view.enter(ctypes.CDLL(None, use_errno=True), *view.encoded())
assert os.listdir(kept) == ["x"] and not os.path.exists(hidden)
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
        paths = [os.path.join(folder, name) for name in ("root", "kept", "hidden")]
        for path in paths:
            os.mkdir(path)
        open(os.path.join(paths[1], "x"), "w").close()
        try:
            done = subprocess.run(
                [sys.executable, "-c", _PROBE, *paths, __file__],
                env={**os.environ, "PYTHONPATH": str(config.project_root())},
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError):
            return False
    return done.returncode == 0
