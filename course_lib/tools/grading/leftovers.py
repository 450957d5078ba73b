"""Stop the processes a graded notebook leaves behind.

A notebook can start processes that outlive its kernel: a server it forgot to stop, or
a detached process (double fork, ``setsid``) waiting to rewrite the grades once the
grader is done. On Linux the grading process makes itself a *child subreaper*
(``prctl(PR_SET_CHILD_SUBREAPER)``), so such orphans are re-parented to it instead of
to init, and it can still find and stop them after the kernel has shut down.
Elsewhere only the kernel's own descendants that are still attached can be found.
"""

from __future__ import annotations

import ctypes
import sys

import psutil

_PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>


def become_subreaper(on: bool = True) -> bool:
    """Make orphaned descendants of this process its children (Linux); True if it took.

    ``on=False`` gives the role up again: a subreaper must reap what comes to it, so a
    process that goes on doing other work (a test run) keeps it only while it grades.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def descendants() -> set[int]:
    """Process ids of every living descendant of this process."""
    try:
        return {child.pid for child in psutil.Process().children(recursive=True)}
    except psutil.Error:
        return set()


def _with_descendants(pid: int) -> set[int]:
    try:
        process = psutil.Process(pid)
        return {pid} | {child.pid for child in process.children(recursive=True)}
    except psutil.Error:
        return set()


def stop_new_descendants(before: set[int], keep: list[int]) -> list[str]:
    """Kill descendants that are not in ``before`` nor ``keep`` (with their own children).

    Returns "name (pid)" of each process stopped. Zombies among them are reaped, so a
    long grading run does not collect them.
    """
    kept = set(before)
    for pid in keep:
        kept |= _with_descendants(pid)
    try:
        leftovers = [p for p in psutil.Process().children(recursive=True) if p.pid not in kept]
    except psutil.Error:
        return []
    stopped = []
    for process in leftovers:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                stopped.append(f"{process.name()} ({process.pid})")
            process.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(leftovers, timeout=10)
    return stopped
