"""A kernel's own view: its user id, and what it leaves running, stopped by that id."""

import os
import subprocess
import tempfile
import time

import psutil
import pytest

from course_lib.tools.grading import isolation, own_view

pytestmark = pytest.mark.skipif(not own_view.possible(), reason="views need root on Linux")

# Detached twice, in a session of its own, forking on: no process tree holds it.
SURVIVOR = """
(setsid sh -c 'while true; do sleep 0.05 & wait; done' > /dev/null 2>&1 &)
sleep 0.3
"""


def _processes_of(uid):
    return [
        p
        for p in psutil.process_iter(["uids", "status"])
        if p.info["uids"] and p.info["uids"].real == uid and p.info["status"] != "zombie"
    ]


def test_a_kernel_gets_a_user_id_of_its_own_and_what_it_leaves_running_is_stopped():
    with tempfile.TemporaryDirectory() as cwd, tempfile.TemporaryDirectory() as home:
        with tempfile.TemporaryDirectory() as root:
            first = own_view.view_for([], [cwd, home], root)
            second = own_view.view_for([], [cwd, home], root)
            assert first.uid >= 1_500_000_000 and first.uid != second.uid
            assert os.stat(cwd).st_uid == second.uid  # its folders are handed to it
            done = subprocess.run(
                ["sh", "-c", "id -u; touch /dev/shm/mine; ls /dev/shm; " + SURVIVOR],
                preexec_fn=isolation.kernel_preexec(second),
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=60,
            )
            uid, shm = done.stdout.split()[:2]
            assert int(uid) == second.uid and shm == "mine"  # /dev/shm is its own
            assert not os.path.exists("/dev/shm/mine")
            assert _processes_of(second.uid), "the survivor should be running"
            stopped = own_view.stop_user(second.uid)
            assert stopped and all("(" in name for name in stopped)
            deadline = time.monotonic() + 10
            while _processes_of(second.uid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _processes_of(second.uid)
