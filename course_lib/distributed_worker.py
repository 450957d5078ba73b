"""One worker of a multi-worker training run.

Started as ``python -m course_lib.distributed_worker OUT_DIR ...``.

It reads its place in the cluster from the ``TF_CONFIG`` environment variable
(see :func:`course_lib.distributed_cluster.tf_config`), trains with
``MultiWorkerMirroredStrategy`` and :func:`course_lib.distributed.train`, and
writes ``worker-<i>.json`` and ``worker-<i>.npz`` into ``OUT_DIR``. The chief
(worker 0) also appends one line per step to ``progress.jsonl`` (step, loss and
the time it finished), so that the process that started the cluster can follow it.

A worker never outlives its time limit, nor the process that started it:
a worker whose partner died waits in a collective operation for ever otherwise.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import threading
import time
from dataclasses import fields
from pathlib import Path

#: Set by the process that starts the workers; they stop when it is gone.
PARENT_PID_VARIABLE = "COURSE_DISTRIBUTED_PARENT_PID"
#: Exit code of a worker stopped by its time limit (the same as coreutils' ``timeout``).
TIME_LIMIT_EXIT_CODE = 124
#: Packages Keras imports when they are installed, for things a worker never does (plots, pandas
#: frames, scikit-learn wrappers, notebook display, image files). Keras treats each as optional,
#: so a worker marks them missing and saves ~100 MB of memory: every worker is a whole process
#: with its own copy of everything it imports.
OPTIONAL_PACKAGES = ("matplotlib", "pandas", "sklearn", "scipy", "IPython", "PIL")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: the output folder, a training plan and where checkpoints go."""
    from course_lib.distributed import TrainingPlan

    parser = argparse.ArgumentParser(
        prog="python -m course_lib.distributed_worker", description=__doc__
    )
    parser.add_argument(
        "out_dir", type=Path, help="where worker-<i>.json/.npz and progress.jsonl go"
    )
    parser.add_argument(
        "--checkpoint-dir", type=Path, help="restore from and save checkpoints here"
    )
    parser.add_argument(
        "--time-limit", type=float, default=600.0, help="seconds before the worker gives up"
    )
    defaults = TrainingPlan()
    for plan_field in fields(TrainingPlan):
        kind = type(getattr(defaults, plan_field.name))
        parser.add_argument(
            f"--{plan_field.name.replace('_', '-')}",
            type=kind,
            default=getattr(defaults, plan_field.name),
        )
    args = parser.parse_args(argv)
    if args.steps < 1 or args.global_batch_size < 1 or args.checkpoint_every < 1:
        parser.error("--steps, --global-batch-size and --checkpoint-every must be at least 1")
    return args


def exit_when_stranded(time_limit: float) -> None:
    """Exit, from a background thread, at the time limit or when the parent process is gone."""
    parent = os.environ.get(PARENT_PID_VARIABLE)
    deadline = time.monotonic() + time_limit

    def watch() -> None:
        while time.monotonic() < deadline:
            if parent and not _alive(int(parent)):
                print(
                    f"the process that started this worker ({parent}) is gone: exiting", flush=True
                )
                os._exit(1)
            time.sleep(1.0)
        print(f"time limit of {time_limit:.0f} s reached: exiting", flush=True)
        os._exit(TIME_LIMIT_EXIT_CODE)  # a thread cannot interrupt a collective op; this can

    threading.Thread(target=watch, name="worker-watchdog", daemon=True).start()


def skip_optional_packages(names: tuple[str, ...] = OPTIONAL_PACKAGES) -> list[str]:
    """Make ``import name`` fail with ImportError for the given packages not imported yet; returns
    those.

    Call before importing TensorFlow. ``None`` in ``sys.modules`` is Python's own way of
    saying "this module cannot be imported here".
    """
    skipped = [name for name in names if name not in sys.modules]
    for name in skipped:
        sys.modules[name] = None
    return skipped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def import_quietly() -> None:
    """Import what a worker trains with, without Python's cycle collector running meanwhile.

    Importing TensorFlow and Keras makes some 500,000 objects that live as long as the process,
    and the collector would walk them again and again (about a tenth of the import's CPU time).
    Afterwards they are frozen, so that the collections of the training loop skip them too.
    """
    gc.disable()
    try:
        skip_optional_packages()
        import keras  # noqa: F401
        import tensorflow  # noqa: F401

        from course_lib import data, distributed, models  # noqa: F401
    finally:
        gc.enable()
    gc.freeze()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_when_stranded(args.time_limit)
    import_quietly()
    import tensorflow as tf

    from course_lib import distributed

    if "TF_CONFIG" not in os.environ:
        print("TF_CONFIG is not set: this worker does not know its cluster", file=sys.stderr)
        return 2
    plan = distributed.TrainingPlan(
        **{f.name: getattr(args, f.name) for f in fields(distributed.TrainingPlan)}
    )
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    index, num_workers = distributed.worker_index(strategy)
    print(f"worker {index} of {num_workers}: {plan}", flush=True)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    progress = open(args.out_dir / "progress.jsonl", "w") if index == 0 else None  # noqa: SIM115

    def report(step: int, loss: float) -> None:
        if (
            progress is not None
        ):  # the time lets the starter line the steps up with what it did (a kill)
            progress.write(json.dumps({"step": step, "loss": loss, "time": time.time()}) + "\n")
            progress.flush()

    try:
        run = distributed.train(plan, strategy, args.checkpoint_dir, on_step=report)
    finally:
        if progress is not None:
            progress.close()
    path = distributed.save_run(run, args.out_dir)
    print(
        f"worker {index}: steps {run.start_step}..{run.final_step} in {run.seconds:.1f} s -> "
        f"{path}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
