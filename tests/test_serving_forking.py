"""The fork experiment of lesson 07 reports what the forked child did and leaves nothing running."""

import os

import psutil
import pytest

from course_lib.serving import forking

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")


def _experiment_processes() -> list[psutil.Process]:
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if "course_lib.serving.forking" in " ".join(process.cmdline()):
                found.append(process)
        except psutil.NoSuchProcess:
            pass
    return found


@pytest.fixture(scope="module")
def results():
    """Both experiments, run as lesson 07 runs them: in one process, one import of TensorFlow."""
    after, before = forking.fork_experiments(
        ["after", "before"], child_timeout={"after": 60, "before": 5}
    )
    return {"after": after, "before": before}


def test_a_child_that_loads_its_own_model_after_the_fork_answers(results):
    result = results["after"]
    assert result.load == "after" and result.child_timeout == 60
    assert result.answered and 0 < result.seconds < 60
    assert not _experiment_processes()


def test_the_wait_for_a_child_is_bounded_and_nothing_is_left_running(results):
    result = results["before"]
    assert result.load == "before" and result.child_timeout == 5
    # Whether this child hangs depends on the system (on Linux it does); either way the wait ends
    # at the timeout, and a child still running then is killed.
    assert result.seconds <= 6
    assert not _experiment_processes()


def test_only_before_or_after_is_accepted():
    with pytest.raises(ValueError, match="before"):
        forking.fork_experiment("during")
    with pytest.raises(ValueError, match="before"):
        forking.fork_experiments(["after", "during"])
