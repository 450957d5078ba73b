"""LiteRT's lanes: each free lane takes the next waiting image, whichever request sent it.

The lanes here run stand-in interpreters (names), so each test controls when a row finishes;
``tests/test_serving_litert.py`` runs them on the real model.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from course_lib.serving.lanes import Lanes

WAIT = 10.0  # seconds before a test gives up on a row that should have run


class Recorder:
    """An ``invoke`` that notes which lane ran which row of which request, then waits on a gate."""

    def __init__(self):
        self.ran = []
        self.gates = {}
        self._lock = threading.Lock()

    def invoke(self, request, gate=None):
        def run(interpreter, row):
            with self._lock:
                self.ran.append((request, row, interpreter))
            if gate is not None:
                assert gate.wait(WAIT), "the test never opened the gate"

        return run


@pytest.fixture
def lanes():
    made = Lanes(["lane A", "lane B"])
    yield made
    made.stop()


def test_every_row_of_concurrent_requests_runs_once_and_both_lanes_take_rows(lanes):
    recorder = Recorder()

    def request(k):
        def run(interpreter, row):
            time.sleep(0.002)  # long enough for the other lane to take the next row
            recorder.invoke(k)(interpreter, row)

        lanes.run(run, 1 + k % 3, timeout=WAIT)
        return k

    with ThreadPoolExecutor(6) as pool:
        assert sorted(pool.map(request, range(12))) == list(range(12))
    done = sorted((k, row) for k, row, _ in recorder.ran)
    assert done == sorted((k, row) for k in range(12) for row in range(1 + k % 3))
    assert {lane for _, _, lane in recorder.ran} == {"lane A", "lane B"}


def test_a_free_lane_takes_the_next_request_while_the_other_lane_is_still_busy(lanes):
    recorder, gate = Recorder(), threading.Event()
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(lanes.run, recorder.invoke("slow", gate), 1, WAIT)
        deadline = time.monotonic() + WAIT
        while not recorder.ran and time.monotonic() < deadline:
            time.sleep(0.001)
        # the slow row holds one lane; three rows of another request run on the other
        lanes.run(recorder.invoke("quick"), 3, timeout=WAIT)
        busy = recorder.ran[0][2]
        assert not slow.done()
        assert [lane for k, _, lane in recorder.ran if k == "quick"] == [
            "lane B" if busy == "lane A" else "lane A"
        ] * 3
        gate.set()
        slow.result(timeout=WAIT)


def test_an_image_alone_has_every_core_and_the_lanes_wait_until_it_is_done(lanes):
    recorder = Recorder()
    assert lanes.start_alone()
    assert not lanes.start_alone()  # one at a time
    with ThreadPoolExecutor(1) as pool:
        queued = pool.submit(lanes.run, recorder.invoke("queued"), 2, WAIT)
        time.sleep(0.05)
        assert recorder.ran == [] and not queued.done()  # held back while the image runs
        lanes.end_alone()
        queued.result(timeout=WAIT)
    assert len(recorder.ran) == 2


def test_an_image_does_not_run_alone_while_the_lanes_have_work(lanes):
    gate = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(lanes.run, Recorder().invoke("busy", gate), 1, WAIT)
        time.sleep(0.05)
        assert not lanes.start_alone()
        gate.set()
        busy.result(timeout=WAIT)
    assert lanes.start_alone()  # idle again
    lanes.end_alone()


def test_an_error_in_a_row_reaches_the_request_that_sent_it_and_the_lanes_go_on(lanes):
    def flaky(interpreter, row):
        if row == 1:
            raise ValueError(f"row {row} failed on {interpreter}")

    with pytest.raises(ValueError, match="row 1 failed on lane"):
        lanes.run(flaky, 3, timeout=WAIT)
    recorder = Recorder()
    lanes.run(recorder.invoke("next"), 2, timeout=WAIT)
    assert sorted(row for _, row, _ in recorder.ran) == [0, 1]


def test_a_request_that_times_out_leaves_its_rows_not_yet_started_unrun(lanes):
    gate, recorder = threading.Event(), Recorder()
    with ThreadPoolExecutor(2) as pool:
        blockers = [pool.submit(lanes.run, recorder.invoke(k, gate), 1, WAIT) for k in "ab"]
        deadline = time.monotonic() + WAIT
        while len(recorder.ran) < 2 and time.monotonic() < deadline:
            time.sleep(0.001)
        with pytest.raises(TimeoutError):
            lanes.run(recorder.invoke("late"), 3, timeout=0.05)
        gate.set()
        for blocker in blockers:
            blocker.result(timeout=WAIT)
    lanes.run(recorder.invoke("after"), 1, timeout=WAIT)  # the late rows were skipped before it
    assert [k for k, _, _ in recorder.ran if k == "late"] == []


def test_stopped_lanes_end_their_threads_and_refuse_new_rows():
    lanes = Lanes(["lane A", "lane B"])
    assert [t.is_alive() for t in lanes.threads] == [True, True]
    lanes.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        lanes.run(Recorder().invoke("late"), 1, timeout=WAIT)
    assert not lanes.start_alone()
    for thread in lanes.threads:
        thread.join(WAIT)
        assert not thread.is_alive()
