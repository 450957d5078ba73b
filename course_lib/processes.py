"""Child processes in a process group of their own: start them so, signal or stop the whole group.

The classifier service (gunicorn's master and its workers, :mod:`course_lib.serving.process`)
and lesson 08's training cluster (:mod:`course_lib.distributed_cluster`) start programs that
start programs of their own. Each is started in a new process group (a new session on POSIX),
so that Ctrl-C or a notebook's interrupt does not reach them, and stopped by signalling the
group, so that nothing it started is left behind::

    process = subprocess.Popen(command, **NEW_PROCESS_GROUP)
    ...
    stop_group(process)  # SIGTERM to the group, then SIGKILL to whatever is left

Windows has no process groups to signal: there the process itself is terminated.
"""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any

POSIX = os.name == "posix"

#: ``subprocess.Popen`` keyword arguments that start the child in a new process group.
NEW_PROCESS_GROUP: dict[str, Any] = (
    {"start_new_session": True}
    if POSIX
    else {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
)


def signal_group(process: subprocess.Popen, sig: int, *, after_exit: bool = False) -> None:
    """Send ``sig`` to the process group ``process`` leads (on Windows, terminate the process).

    By default nothing is sent once ``process`` has exited and been reaped. With
    ``after_exit=True`` the group is signalled anyway: it reaches members left behind by a
    leader that exited first (the group's id is not given to another process while any of its
    members lives). A group that no longer exists is not an error.
    """
    if not after_exit and process.poll() is not None:
        return
    if not POSIX:  # no process groups: end the process itself
        if process.poll() is None:
            process.terminate()  # on Windows the same as kill()
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:  # the whole group is gone already
        pass


def stop_group(process: subprocess.Popen, timeout: float = 15.0) -> int | None:
    """Stop ``process`` and its group: SIGTERM, up to ``timeout`` s to exit, then SIGKILL.

    Finally SIGKILL once more for members the leader left behind. Returns the exit code
    (None if the leader could not be reaped). On Windows: terminate, wait, kill.
    """
    if not POSIX:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5.0)
        return process.returncode
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    signal_group(process, signal.SIGKILL, after_exit=True)
    return process.returncode
