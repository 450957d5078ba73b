"""Keep a student's kernel out of the grader's own processes (Linux).

The kernel runs as the same user as the grading process and the judge, so by default it
could attach to them with ``ptrace`` (gdb, or ``ctypes``) or write their memory through
``/proc/<pid>/mem`` and change a verdict. Two defences, both from the kernel of the system:

- the grading process and the judge make themselves *non-dumpable*
  (``prctl(PR_SET_DUMPABLE, 0)``) before any student code runs: a process of the same user
  may then no longer attach to them nor open their memory, unless it holds
  ``CAP_SYS_PTRACE``;
- the kernel starts without ``CAP_SYS_PTRACE`` (dropped from its capability sets and from
  its bounding set, so no program it starts gets it back) and with ``no_new_privs`` (no
  set-user-id program gives it privileges), which matters when grading runs as root;
  and it is the first process the system kills when memory runs out.

Elsewhere these are no-ops: see ``docs/INSTRUCTORS.md`` for what that leaves open.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_DUMPABLE = 4  # from <linux/prctl.h>
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_CAP_SYS_PTRACE = 19  # from <linux/capability.h>
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


def kernel_preexec() -> Callable[[], None] | None:
    """What the kernel's process runs before it starts: no ptrace capability, no new privileges.

    Runs between ``fork`` and ``exec``, where only async-signal-safe work is sound: the C
    library is loaded here, in the grading process, and the child only makes system calls.
    """
    libc = _libc()
    if libc is None or not hasattr(libc, "capset"):
        return None
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    keep = ~(1 << _CAP_SYS_PTRACE) & 0xFFFFFFFF

    def confine() -> None:
        libc.prctl(_PR_CAPBSET_DROP, _CAP_SYS_PTRACE, 0, 0, 0)  # fails harmlessly if not root
        if libc.capget(ctypes.byref(header), data) == 0:
            data[0].effective &= keep
            data[0].permitted &= keep
            data[0].inheritable &= keep
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
