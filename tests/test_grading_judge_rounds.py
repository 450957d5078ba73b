"""The judge's rounds of one exercise stop at the notebook's time limit, one round late at most.

A stand-in kernel answers every call at once and a stand-in judge takes a while per round
and always needs one more call: the rounds are what uses the notebook's time here.
"""

import time
from types import SimpleNamespace

from course_lib.tools.grading import judge, two_phase
from course_lib.tools.grading.submissions import ExerciseKey

ROUND = 0.2  # seconds per judge round
LIMIT = 1.0  # the notebook's time left when the exercise starts


class _Kernel:
    def grader(self, action, args, limit):
        return {"action": action}

    def timed_out(self):
        return False


class _SlowJudge:
    def __init__(self, seconds):
        self.rounds, self.seconds = 0, seconds

    def ask(self, request, timeout):
        self.rounds += 1
        time.sleep(self.seconds)
        return {"status": "need", "name": "f", "request": f"r{self.rounds}"}


class _Grading:
    def __init__(self, tmp_path, limit, seconds_per_round):
        self.kernel = _Kernel()
        self.judge = _SlowJudge(seconds_per_round)
        self.exchange = str(tmp_path / "exchange")
        self.salt = 1
        self.options = SimpleNamespace(cell_timeout=60, timeout=limit)
        self.deadline = time.monotonic() + limit

    def time_left(self):
        return int(min(self.options.cell_timeout, self.deadline - time.monotonic()))

    def out_of_time(self):
        return {"status": "error", "message": "out of time"}

    def note_judged(self, number, text):
        raise AssertionError(text)

    def note_unwatched(self, number, text):
        raise AssertionError(text)


def _exercise():
    return ExerciseKey("9.9", "slow", "checks.exercise_9_9(f)")


def test_judge_rounds_stop_at_the_notebook_s_time_limit(tmp_path):
    grading = _Grading(tmp_path, LIMIT, ROUND)
    started = time.monotonic()
    result = two_phase._two_phase(grading, _exercise())
    took = time.monotonic() - started
    assert result == {"status": "error", "message": "out of time"}
    # time_left() rounds down: the last round starts with under a second left at most.
    assert grading.judge.rounds <= LIMIT / ROUND + 1
    assert took < LIMIT + 2 * ROUND


def test_judge_rounds_go_on_while_the_notebook_has_time(tmp_path):
    grading = _Grading(tmp_path, 5, 0.001)
    result = two_phase._two_phase(grading, _exercise())
    assert result == {"status": "error", "message": "the check needed too many calls"}
    assert grading.judge.rounds == judge.MAX_CALLS + 1
