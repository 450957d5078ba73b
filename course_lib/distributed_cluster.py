"""A cluster of training workers on one machine: start, watch, kill, always reap (lesson 08).

:func:`start_workers` starts ``n`` processes of :mod:`course_lib.distributed_worker`,
each in its own process group and listening on 127.0.0.1 only, and tells each one its
place in the cluster through ``TF_CONFIG``. :meth:`WorkerCluster.stop` kills every
group by its id; it also runs on ``with``-block exit, after a failure and at
interpreter exit, so no worker is left behind. :func:`crash_and_resume` is the
fault-tolerance demonstration: a worker dies mid-run and a new cluster carries on
from the last checkpoint.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from course_lib import config as course_config
from course_lib import processes
from course_lib.allocator import release_freed_memory
from course_lib.distributed import TrainingPlan, TrainingRun, load_run
from course_lib.distributed_worker import PARENT_PID_VARIABLE
from course_lib.serving.process import free_port

HOST = "127.0.0.1"
POSIX = processes.POSIX
# Each worker in its own process group: signals for the notebook's kernel (Ctrl-C, interrupt)
# do not reach the workers, and stop() ends a worker together with anything it started.
NEW_PROCESS_GROUP = processes.NEW_PROCESS_GROUP
#: Set in every worker's environment: each worker is a whole process with TensorFlow, and a
#: lesson runs two of them next to its kernel within a 2 GB Binder session.
WORKER_ENVIRONMENT = {
    # oneDNN's own allocator keeps every freed tensor's memory for reuse; the system's returns it.
    "TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "1",
    # glibc gives a process up to 8 memory arenas per CPU core, each keeping freed memory of its
    # own, and a worker runs ~120 threads. On 2 cores this made no difference we could measure;
    # on a many-core host it keeps a small worker from spreading over dozens of arenas.
    "MALLOC_ARENA_MAX": "2",
}


def worker_addresses(n: int = 2) -> list[str]:
    """``n`` addresses ``127.0.0.1:<port>`` on ports that are free right now."""
    return [f"{HOST}:{free_port(HOST)}" for _ in range(n)]


def tf_config(addresses: list[str], index: int) -> dict[str, Any]:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of ``addresses`` (worker 0: the chief)."""
    if not addresses:
        raise ValueError("a cluster needs at least one worker address")
    if not 0 <= index < len(addresses):
        raise ValueError(f"worker index {index} is outside the cluster's {len(addresses)} workers")
    for address in addresses:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"worker address {address!r} is not host:port with a port number")
    return {"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}}


@dataclass
class WorkerCluster:
    """Worker processes started by :func:`start_workers`; a context manager that stops them all."""

    processes: list[subprocess.Popen]
    out_dir: Path
    addresses: list[str] = field(
        default_factory=list
    )  # "host:port" of each worker, in TF_CONFIG order
    _stopped: bool = field(default=False, repr=False)

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def log_path(self, index: int) -> Path:
        return self.out_dir / f"worker-{index}.log"

    def log_tail(self, index: int, lines: int = 15) -> str:
        """The last lines of worker ``index``'s log."""
        try:
            return "\n".join(self.log_path(index).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def progress(self) -> list[dict[str, Any]]:
        """The steps the chief has finished so far: ``[{"step": 1, "loss": 2.3}, ...]``."""
        path = self.out_dir / "progress.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [
            json.loads(line) for line in lines if line.endswith("}")
        ]  # the last may be half-written

    def wait(self, timeout: float = 300.0) -> list[TrainingRun]:
        """Wait for every worker to finish and return their runs, in worker order.

        Raises ``RuntimeError`` with the log's tail as soon as a worker fails, and
        ``TimeoutError`` after ``timeout`` seconds; either way the cluster is stopped.
        """
        deadline = time.monotonic() + timeout
        try:
            while True:
                codes = [process.poll() for process in self.processes]
                for index, code in enumerate(codes):
                    if code not in (None, 0):
                        raise RuntimeError(
                            f"worker {index} failed (exit code {code}); the end of its log:\n"
                            f"{self.log_tail(index)}"
                        )
                if all(code == 0 for code in codes):
                    return [load_run(self.out_dir / f"worker-{i}.json") for i in range(len(codes))]
                if time.monotonic() > deadline:
                    waiting = [i for i, code in enumerate(codes) if code is None]
                    raise TimeoutError(
                        f"workers {waiting} still running after {timeout:.0f} s; the end of worker "
                        f"{waiting[0]}'s log:\n{self.log_tail(waiting[0])}"
                    )
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise

    def kill(self, index: int) -> None:
        """Kill worker ``index`` at once (SIGKILL), as a crashed machine would stop."""
        _signal_group(self.processes[index], getattr(signal, "SIGKILL", signal.SIGTERM))
        self.processes[index].wait(10.0)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every worker's process group (SIGTERM, then SIGKILL) and wait for them."""
        if self._stopped:
            return
        self._stopped = True
        for process in self.processes:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for process in self.processes:  # the stubborn ones
            _signal_group(process, getattr(signal, "SIGKILL", signal.SIGTERM))
            process.wait(10.0)

    def __enter__(self) -> WorkerCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _signal_group(process: subprocess.Popen, sig: signal.Signals) -> None:
    """Send ``sig`` to the worker's process group, unless the worker has been reaped already.

    Once reaped, its id may be given to an unrelated process.
    """
    processes.signal_group(process, sig)


def worker_environment(parent: Mapping[str, str]) -> dict[str, str]:
    """The environment of a worker started from a process with environment ``parent``.

    :data:`WORKER_ENVIRONMENT` and a quiet TensorFlow log unless ``parent`` sets them
    otherwise, the project on ``PYTHONPATH``, and this process's id so that the worker
    stops when this process is gone.
    """
    env = {
        **WORKER_ENVIRONMENT,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        **parent,
        PARENT_PID_VARIABLE: str(os.getpid()),
    }
    root = str(course_config.project_root())
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def start_workers(
    n: int = 2,
    out_dir: str | Path | None = None,
    plan: TrainingPlan | None = None,
    checkpoint_dir: str | Path | None = None,
    time_limit: float = 600.0,
    extra_args: list[str] | None = None,
) -> WorkerCluster:
    """Start ``n`` workers training ``plan`` together; results and logs go to ``out_dir``.

    ``out_dir`` defaults to ``build/distributed/run-<time>``. Each worker exits by
    itself after ``time_limit`` seconds or if this process dies.
    """
    plan = plan or TrainingPlan()
    out_dir = Path(out_dir or course_config.build_dir() / "distributed" / f"run-{time.time_ns()}")
    out_dir.mkdir(parents=True, exist_ok=True)
    addresses = worker_addresses(n)
    args = [
        f"--{name.replace('_', '-')}={value}"
        for name, value in asdict(plan).items()
        if value is not None
    ]
    if checkpoint_dir is not None:
        args.append(f"--checkpoint-dir={checkpoint_dir}")
    env = worker_environment(os.environ)
    release_freed_memory()  # room for the workers: give back what this process has freed
    cluster = WorkerCluster([], out_dir, addresses)
    atexit.register(cluster.stop)
    try:
        for index in range(n):
            command = [
                sys.executable,
                "-m",
                "course_lib.distributed_worker",
                str(out_dir),
                f"--time-limit={time_limit}",
                *args,
                *(extra_args or []),
            ]
            env["TF_CONFIG"] = json.dumps(tf_config(addresses, index))
            with open(cluster.log_path(index), "wb") as log:
                cluster.processes.append(
                    subprocess.Popen(
                        command,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        **NEW_PROCESS_GROUP,
                    )
                )
    except BaseException:
        cluster.stop()
        raise
    return cluster


@dataclass
class ResumeReport:
    """What :func:`crash_and_resume` saw: how far the first cluster got, where the second began."""

    steps_before_crash: int  # the last step the chief finished before a worker was killed
    resumed_from: int  # the step of the checkpoint the restarted workers restored
    final_step: int
    workers_agree: bool  # the restarted workers ended with bit-identical weights
    losses_before_crash: dict[int, float]
    runs: list[TrainingRun]  # the restarted workers' runs
    kill_after_step: int | None = None  # the step whose report the killer waited for
    kill_sent_at: float | None = None  # time.time() when the kill was sent
    step_finished_at: dict[int, float] = field(
        default_factory=dict
    )  # chief's step -> time.time() it finished

    @property
    def steps_redone(self) -> int:
        """Steps finished before the crash but after the last checkpoint, so trained twice."""
        return self.steps_before_crash - self.resumed_from

    def kill_timeline(self, before: int = 2) -> list[tuple[str, float]]:
        """The chief's last steps and the kill, in milliseconds from the moment the kill was sent.

        ``[("step 25 finished", -95.2), ("step 26 finished", -41.0), ("kill sent", 0.0),
        ("step 27 finished", 12.3)]``: a step finished after the kill was sent is one the killed
        worker had already done its share of. Empty if the times were not recorded.
        """
        if self.kill_sent_at is None or not self.step_finished_at:
            return []
        first = (self.kill_after_step or self.steps_before_crash) - before
        events = [
            (f"step {step} finished", (at - self.kill_sent_at) * 1000)
            for step, at in sorted(self.step_finished_at.items())
            if step >= first
        ]
        events.append(("kill sent", 0.0))
        return sorted(events, key=lambda event: event[1])

    def __str__(self) -> str:
        redone = f"{self.steps_redone} step{'' if self.steps_redone == 1 else 's'} redone"
        asked = (
            ""
            if self.kill_after_step is None
            else f"worker killed once step {self.kill_after_step} was done; "
        )
        return (
            f"{asked}crashed after step {self.steps_before_crash}, resumed from checkpoint step "
            f"{self.resumed_from} ({redone}), finished at step {self.final_step}; "
            f"workers agree: {self.workers_agree}"
        )


def crash_and_resume(
    plan: TrainingPlan | None = None,
    out_dir: str | Path | None = None,
    n: int = 2,
    crash_after_step: int | None = None,
    kill_worker: int = 1,
    timeout: float = 300.0,
) -> ResumeReport:
    """Kill a worker after step ``crash_after_step``; restart the cluster from its checkpoints.

    ``crash_after_step`` defaults to the first checkpoint, ``plan.checkpoint_every``.
    The first cluster writes to ``out_dir/before-crash``, the second to
    ``out_dir/after-restart``; both share ``out_dir/checkpoints``.

    The kill is asynchronous: this process sees the chief's report of ``crash_after_step`` at
    its next look at the progress file, and meanwhile the workers carry on, so the crash can
    come a step or more later. ``steps_before_crash`` is what the chief really finished, and
    :meth:`ResumeReport.kill_timeline` lines its steps up with the kill.
    """
    plan = plan or TrainingPlan()
    crash_after_step = crash_after_step or plan.checkpoint_every
    if not plan.checkpoint_every <= crash_after_step < plan.steps:
        raise ValueError(
            f"crash_after_step must be between the first checkpoint "
            f"({plan.checkpoint_every}) and the last step ({plan.steps}), got {crash_after_step}"
        )
    out_dir = Path(out_dir or course_config.build_dir() / "distributed" / f"crash-{time.time_ns()}")
    checkpoint_dir = out_dir / "checkpoints"
    if (checkpoint_dir / "checkpoint").exists():
        raise ValueError(
            f"{checkpoint_dir} already holds checkpoints; give crash_and_resume a new out_dir"
        )
    with start_workers(n, out_dir / "before-crash", plan, checkpoint_dir) as cluster:
        _wait_for_step(cluster, crash_after_step, plan.steps, timeout)
        kill_sent_at = time.time()
        cluster.kill(kill_worker)
    # Leaving the block stopped the survivors too: they wait for the dead worker in a collective op.
    progress = cluster.progress()
    losses_before_crash = {entry["step"]: entry["loss"] for entry in progress}
    finished_at = {entry["step"]: entry["time"] for entry in progress if "time" in entry}
    with start_workers(n, out_dir / "after-restart", plan, checkpoint_dir) as cluster:
        runs = cluster.wait(timeout)
    digests = {run.digest for run in runs}
    return ResumeReport(
        max(losses_before_crash),
        runs[0].start_step,
        runs[0].final_step,
        len(digests) == 1,
        losses_before_crash,
        runs,
        crash_after_step,
        kill_sent_at,
        finished_at,
    )


def _wait_for_step(cluster: WorkerCluster, step: int, last_step: int, timeout: float) -> None:
    """Wait until the chief reports ``step``; fail if a worker exits or the run ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = max((entry["step"] for entry in cluster.progress()), default=0)
        if done >= last_step:
            raise RuntimeError(
                f"the run reached its last step ({last_step}) before the crash; "
                "plan more steps or crash earlier"
            )
        if done >= step:
            return
        for index, process in enumerate(cluster.processes):
            if process.poll() is not None:
                raise RuntimeError(
                    f"worker {index} exited (code {process.returncode}) before step "
                    f"{step}; the end of its log:\n{cluster.log_tail(index)}"
                )
        time.sleep(0.05)
    raise TimeoutError(
        f"the chief did not reach step {step} within {timeout:.0f} s:\n{cluster.log_tail(0)}"
    )
