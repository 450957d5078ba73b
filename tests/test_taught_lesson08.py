"""Lesson 08's distributed train step, as the notebook teaches it, is the library's copy.

Both run under a ``MirroredStrategy`` of two logical CPUs, where a step written wrong (a loss
averaged over each replica's share, say) differs from a right one. TensorFlow fixes its
devices when it starts, so the comparison runs in a fresh process.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def taught_and_library() -> dict:
    # The cycle collector is paused while TensorFlow and Keras are imported (their objects live
    # as long as the process), and then leaves them out of its later collections.
    script = textwrap.dedent(f"""
        import gc, json, sys
        gc.disable()
        import keras, tensorflow
        gc.enable()
        gc.freeze()
        sys.path.insert(0, {str(TESTS)!r})
        import lesson08_support
        print("RESULTS", json.dumps(lesson08_support.compare_taught_train_step()))
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=TESTS.parent,
        env=env,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULTS ")]
    assert lines, out.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("RESULTS "))


@pytest.mark.timeout(660)
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_notebook_train_step_gives_the_library_steps_losses_and_weights(
    taught_and_library, optimizer
):
    result = taught_and_library[optimizer]
    notebook, library = result["losses"]["notebook"], result["losses"]["library"]
    assert len(notebook) == len(library) == 2
    # The same operations in the same order on the same numbers: the same bits. 1e-6 would
    # leave room for a float sum taken in another order, nothing more.
    assert notebook == pytest.approx(library, abs=1e-6)
    assert result["weight_difference"] <= 1e-6
    assert result["weights_moved"] > 1e-4, "the steps trained: the weights moved from their start"
