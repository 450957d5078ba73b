"""A child started in its own process group is stopped together with whatever it started."""

import os
import signal
import subprocess
import sys
import time

import pytest

from course_lib import processes

pytestmark = pytest.mark.skipif(not processes.POSIX, reason="process groups are POSIX")

# A parent that starts a grandchild (in the same group), prints its pid and waits.
PARENT = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(120)\n"
)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(pid, 0): look at its state
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def start_parent():
    process = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        stdout=subprocess.PIPE,
        text=True,
        **processes.NEW_PROCESS_GROUP,
    )
    grandchild = int(process.stdout.readline())
    return process, grandchild


def test_stop_group_ends_the_child_and_what_it_started():
    process, grandchild = start_parent()
    try:
        assert os.getpgid(process.pid) == process.pid  # a group of its own
        assert os.getpgid(grandchild) == process.pid
        code = processes.stop_group(process, timeout=10)
        assert code == -signal.SIGTERM
        deadline = time.monotonic() + 10
        while alive(grandchild) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(grandchild)
    finally:
        for pid in (process.pid, grandchild):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait(10)
        process.stdout.close()


def test_signal_group_leaves_a_reaped_process_alone_unless_asked(monkeypatch):
    process = subprocess.Popen([sys.executable, "-c", "pass"], **processes.NEW_PROCESS_GROUP)
    process.wait(30)
    sent = []
    monkeypatch.setattr(processes.os, "killpg", lambda pid, sig: sent.append((pid, sig)))
    processes.signal_group(process, signal.SIGTERM)
    assert sent == []  # its id may belong to another process by now
    processes.signal_group(process, signal.SIGKILL, after_exit=True)
    assert sent == [(process.pid, signal.SIGKILL)]
