"""Why gunicorn's workers load the model *after* the fork: an experiment in a separate process.

gunicorn's master forks its workers. If the master had loaded TensorFlow and run
the model first (``preload_app``), each worker would start with a copy of a
process whose TensorFlow threads did not come along: the fork copies only the
thread that called it, and locks those threads held stay locked. TensorFlow's
in-process runtime is not designed to be forked once it has run
(tensorflow/tensorflow#2448, #8220).

:func:`fork_experiments` runs ``python -m course_lib.serving.forking`` in its own
process group: it imports TensorFlow, forks, and lets the child call a small
Keras model, either the parent's (``"before"``: built and called before the
fork, as a preloading master would) or its own (``"after"``: built and first
called in the child, as gunicorn's workers do here). The parent waits at most
``child_timeout`` seconds, kills a child that has not answered by its process id,
and prints one JSON line per experiment. Nothing is left running either way.
Both experiments share one process, and so one import of TensorFlow: ``"after"``
runs first, while that process's TensorFlow has not run anything yet.
:func:`fork_experiment` runs one of them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from course_lib import processes


@dataclass(frozen=True)
class ForkResult:
    load: str  # "before" or "after" the fork
    answered: bool  # did the child's model call return?
    seconds: float  # from the fork to the child's answer (or to giving up)
    child_timeout: float


LOADS = ("before", "after")


def fork_experiment(load: str, child_timeout: float = 30.0) -> ForkResult:
    """Fork a process with a Keras model loaded ``"before"`` or ``"after"`` the fork (see above)."""
    return fork_experiments([load], child_timeout)[0]


def fork_experiments(
    loads: Sequence[str] = LOADS, child_timeout: float | Mapping[str, float] = 30.0
) -> list[ForkResult]:
    """The experiments ``loads`` (``"before"``, ``"after"``), in that order, in one process.

    ``child_timeout``: the seconds each waits for its child, or a wait per experiment.
    """
    loads = list(loads)
    for load in loads:
        if load not in LOADS:
            raise ValueError(f"load must be 'before' or 'after', got {load!r}")
    if len(set(loads)) != len(loads):
        raise ValueError(f"each experiment once, got {loads}")
    if not hasattr(os, "fork"):
        raise OSError("this system has no fork(); gunicorn does not run here either")
    timeouts = {
        load: float(child_timeout[load] if isinstance(child_timeout, Mapping) else child_timeout)
        for load in loads
    }
    # "after" first: its child must fork from a process whose TensorFlow has not run yet.
    order = sorted(loads, key=lambda load: load != "after")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "course_lib.serving.forking",
            *(f"{load}={timeouts[load]}" for load in order),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        **processes.NEW_PROCESS_GROUP,
    )
    try:
        # Importing TensorFlow takes a while on a busy machine; the child bounds its own waits.
        out, _ = process.communicate(timeout=sum(timeouts.values()) + 300)
    finally:
        if process.poll() is None:
            processes.signal_group(process, signal.SIGKILL)
            process.wait(10)
    reports = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    by_load = {report["load"]: report for report in reports}
    if process.returncode != 0 or set(by_load) != set(loads):
        raise RuntimeError(f"the fork experiment failed (exit code {process.returncode})")
    return [
        ForkResult(load, by_load[load]["answered"], by_load[load]["seconds"], timeouts[load])
        for load in loads
    ]


def _small_model():
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    return tf.function(lambda x: model(x, training=False))


def _run(load: str, child_timeout: float) -> dict[str, object]:
    x = np.zeros((8, 28, 28, 1), np.float32)
    call = None
    import keras  # noqa: F401  TensorFlow imported both ways: the child's time is the model's alone

    if load == "before":
        call = _small_model()
        call(x)  # TensorFlow's thread pools are running now, as in a preloaded gunicorn master
    started = time.perf_counter()
    child = os.fork()
    if child == 0:  # the child: answer by exit code 0 once the model has run
        try:
            (call or _small_model())(x).numpy()
            os._exit(0)
        except BaseException:
            os._exit(1)
    deadline = started + child_timeout
    while time.perf_counter() < deadline:
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            return {
                "load": load,
                "answered": os.waitstatus_to_exitcode(status) == 0,
                "seconds": round(time.perf_counter() - started, 2),
            }
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)  # hung: stop it by its id
    os.waitpid(child, 0)
    return {"load": load, "answered": False, "seconds": round(time.perf_counter() - started, 2)}


if __name__ == "__main__":
    from course_lib.serving.process import skip_unused_imports

    skip_unused_imports()  # this process only builds and runs a small model
    for argument in sys.argv[1:]:  # LOAD=SECONDS, "after" before "before"
        load, seconds = argument.split("=")
        print(json.dumps(_run(load, float(seconds))), flush=True)
    os._exit(
        0
    )  # skip TensorFlow's shutdown, which can itself wait on the threads a fork left behind
