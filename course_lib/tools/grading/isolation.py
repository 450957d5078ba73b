"""Keep a student's kernel out of the grader's own processes (Linux).

The kernel runs as the same user as the grading process and the judge, so by default it
could attach to them with ``ptrace`` (gdb, or ``ctypes``) or write their memory through
``/proc/<pid>/mem`` and change a verdict. Two defences, both from the kernel of the system:

- the grading process and the judge make themselves *non-dumpable*
  (``prctl(PR_SET_DUMPABLE, 0)``) before any student code runs: a process of the same user
  may then no longer attach to them nor open their memory, unless it holds
  ``CAP_SYS_PTRACE``;
- the kernel starts without any capability (dropped from its capability sets and from its
  bounding set, so no program it starts gets one back) and with ``no_new_privs`` (no
  set-user-id program gives it privileges), which matters when grading runs as root; there,
  it also gets a view of the file systems of its own, holding only what it needs, and runs as
  an unprivileged user where it can (:mod:`course_lib.tools.grading.own_view`);
  and it is the first process the system kills when memory runs out.

Elsewhere these are no-ops: see ``docs/INSTRUCTORS.md`` for what that leaves open.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

from course_lib.tools.grading import own_view

_PR_SET_DUMPABLE = 4  # from <linux/prctl.h>
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_CAP_LAST = 63  # the bounding set's last bit; the system refuses those it does not have
_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def make_undumpable() -> bool:
    """Refuse ``ptrace`` and ``/proc/<pid>/mem`` to other processes of this user; True if done."""
    libc = _libc()
    try:
        return libc is not None and libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except AttributeError:
        return False


def is_dumpable() -> bool:
    """Whether this process may still be traced by others of its user (True off Linux)."""
    libc = _libc()
    if libc is None:
        return True
    return libc.prctl(3, 0, 0, 0, 0) != 0  # PR_GET_DUMPABLE


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """What a helper process runs before it starts: it is killed when the grader ends.

    The judge would otherwise outlive a grader stopped by a signal (Ctrl-C, a scheduler's
    SIGTERM), and keep its memory and its CPU. Linux only; None elsewhere.
    """
    libc = _libc()
    if libc is None:
        return None
    parent = os.getpid()

    def arrange() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the grader ended already, before the line above
            os._exit(1)

    return arrange


def kernel_preexec(view: own_view.View | None = None) -> Callable[[], None] | None:
    """What the kernel's process runs before it starts: no capability, no new privileges.

    ``view``: its own view of the file systems (:mod:`.own_view`), None for the system's.

    A kernel started by root keeps root's user id but no capability, in any of its sets nor
    in its bounding set (so no program it starts gets one back): it cannot attach to other
    processes, read what others than root may not, mount or unmount, nor get past a file's
    permissions. Runs between ``fork`` and ``exec``, where only async-signal-safe work is
    sound: the C library is loaded here, in the grading process, and the child only makes
    system calls.
    """
    libc = _libc()
    if libc is None or not hasattr(libc, "capset"):
        return None
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    encoded = view.encoded() if view is not None else None
    uid, gid = (view.uid, view.gid) if view is not None else (0, 0)

    def confine() -> None:
        if encoded is not None:
            own_view.enter(libc, *encoded)
        for capability in range(_CAP_LAST + 1):  # fails harmlessly if not root
            libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0)
        if uid:  # after the view and the bounding set, which need root
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
        if libc.capget(ctypes.byref(header), data) == 0:
            for half in data:
                half.effective = half.permitted = half.inheritable = 0
            libc.capset(ctypes.byref(header), data)
        libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        # When memory runs out, the system kills the kernel first, never the judge: a judge
        # killed while a notebook runs is then the notebook's doing.
        try:
            fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
            try:
                os.write(fd, b"1000")
            finally:
                os.close(fd)
        except OSError:
            pass

    return confine
