"""Lesson 08: the distributed training loop, its checkpoints and a cluster of local workers.

The cluster tests start real worker processes (each imports TensorFlow, ~5 s), so
they share one two-worker run per test module, and every test that starts workers
checks that none of them is left running afterwards.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from course_lib import config, distributed, distributed_cluster, distributed_worker

# Short SGD runs: the regime where one device and two replicas agree to MATCH_TOLERANCE.
PLAN = distributed.TrainingPlan(steps=40, checkpoint_every=10, optimizer="sgd", learning_rate=0.01)
ROOT = Path(__file__).resolve().parent.parent


def workers_running(marker: str) -> list[int]:
    """Pids of live worker processes whose command line contains ``marker``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().split(") ")[-1][:1]
        except OSError:
            continue
        if "course_lib.distributed_worker" in command and marker in command and state != "Z":
            pids.append(int(proc.name))
    return pids


def assert_reaped(pids: list[int]) -> None:
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory) -> list[distributed.TrainingRun]:
    out_dir = tmp_path_factory.mktemp("two-workers")
    with distributed_cluster.start_workers(
        2, out_dir, PLAN, checkpoint_dir=out_dir / "checkpoints"
    ) as cluster:
        runs = cluster.wait(timeout=240)
    assert_reaped(cluster.pids)
    return runs


@pytest.fixture(scope="module")
def single_worker() -> distributed.TrainingRun:
    return distributed.train(PLAN)


def test_tf_config_names_the_cluster_and_this_workers_place():
    addresses = distributed_cluster.worker_addresses(2)
    assert len(set(addresses)) == 2 and all(a.startswith("127.0.0.1:") for a in addresses)
    assert distributed_cluster.tf_config(addresses, 1) == {
        "cluster": {"worker": addresses}, "task": {"type": "worker", "index": 1},
    }  # fmt: skip


@pytest.mark.parametrize("addresses, index, message", [
    (["127.0.0.1:1"], 1, "outside the cluster's 1 workers"),
    (["127.0.0.1:1"], -1, "outside"),
    ([], 0, "at least one worker address"),
    (["127.0.0.1:1", "127.0.0.1"], 0, "'127.0.0.1' is not host:port"),
    (["127.0.0.1:tf"], 0, "with a port number"),
    ([":2222"], 0, "not host:port"),
])  # fmt: skip
def test_tf_config_rejects_a_bad_index_address_or_an_empty_cluster(addresses, index, message):
    with pytest.raises(ValueError, match=message):
        distributed_cluster.tf_config(addresses, index)


def test_importing_the_distributed_modules_does_not_import_tensorflow():
    code = "import sys, course_lib.distributed_cluster; print('tensorflow' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert out.stdout.strip() == "False", out.stderr


def test_max_weight_difference_finds_the_largest_gap_and_rejects_other_shapes():
    a = [np.zeros((2, 2), np.float32), np.ones(3, np.float32)]
    b = [np.zeros((2, 2), np.float32), np.array([1.0, 1.5, 0.75], np.float32)]
    assert distributed.max_weight_difference(a, b) == 0.5
    assert distributed.weights_digest(a) == distributed.weights_digest([w.copy() for w in a])
    assert distributed.weights_digest(a) != distributed.weights_digest(b)
    with pytest.raises(ValueError, match="different shapes"):
        distributed.max_weight_difference(a, b[:1])


def test_training_dataset_gives_the_batches_of_shuffling_the_scaled_images_bit_for_bit():
    import tensorflow as tf

    from course_lib import data, models

    fashion = data.load_fashion_mnist(subset=20)  # 200 images: twelve 64-image batches cross epochs
    x = models.as_model_input(fashion.x_train, models.preprocessing_for((28, 28, 1)))
    # The plain way, with the scaled images themselves in the shuffle buffer.
    plain = tf.data.Dataset.from_tensor_slices((x, fashion.y_train))
    plain = plain.shuffle(len(x), seed=3, reshuffle_each_iteration=True).repeat()
    plain = plain.batch(64, drop_remainder=True).skip(5)
    lean = distributed.training_dataset(fashion.x_train, fashion.y_train, 64, seed=3, start_step=5)
    for (images, labels), (lean_images, lean_labels) in zip(
        plain.take(12), lean.take(12), strict=True
    ):
        assert lean_images.dtype == tf.float32 and tuple(lean_images.shape) == (64, 28, 28, 1)
        np.testing.assert_array_equal(lean_images.numpy(), images.numpy())
        np.testing.assert_array_equal(lean_labels.numpy(), labels.numpy())


def test_worker_environment_adds_the_memory_settings_unless_the_caller_set_its_own():
    env = distributed_cluster.worker_environment({"PATH": "/bin", "MALLOC_ARENA_MAX": "8"})
    assert env["TF_ONEDNN_USE_SYSTEM_ALLOCATOR"] == "1"
    assert env["MALLOC_ARENA_MAX"] == "8"
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "2" and env["PATH"] == "/bin"
    assert env[distributed_worker.PARENT_PID_VARIABLE] == str(os.getpid())
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(config.project_root())


@pytest.fixture(scope="module")
def fresh_process_lines() -> tuple[dict[str, str], str]:
    """One fresh process, as a worker starts, that also splits its CPU before TensorFlow starts.

    Both need a Python that has not imported TensorFlow yet; they share it, and so its import.
    Returns the lines it printed, by their first word, and the end of its stderr.
    """
    script = textwrap.dedent("""
        import sys
        from course_lib import distributed_worker
        skipped = distributed_worker.skip_optional_packages()
        from course_lib import distributed
        devices = distributed.use_logical_cpus(2)
        print("devices", len(devices))
        print("again", distributed.use_logical_cpus(2) == devices)
        import tensorflow as tf
        run = distributed.train(distributed.TrainingPlan(steps=3, subset=10))
        plan = distributed.TrainingPlan(steps=10, optimizer="sgd", learning_rate=0.01)
        mirrored = distributed.train(plan, tf.distribute.MirroredStrategy(devices))
        single = distributed.train(plan)
        print("difference", distributed.max_weight_difference(mirrored.weights, single.weights))
        try:
            distributed.use_logical_cpus(3)
        except RuntimeError as exc:
            print("refused", exc)
        loaded = [name for name in distributed_worker.OPTIONAL_PACKAGES
                  if sys.modules.get(name) is not None]
        print("skipped", ",".join(skipped))
        print("loaded", ",".join(loaded) or "none")
        print("steps", run.final_step)
    """)
    env = {**os.environ, "COURSE_FAST": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=330,  # a guard against a hang: TensorFlow starts slowly on a busy machine
        cwd=ROOT,
        env=env,
    )
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
    return lines, out.stderr[-2000:]


@pytest.mark.timeout(360)
def test_a_worker_trains_without_importing_the_packages_keras_only_might_use(fresh_process_lines):
    lines, stderr = fresh_process_lines
    assert lines.get("skipped") == ",".join(distributed_worker.OPTIONAL_PACKAGES), stderr
    assert lines["loaded"] == "none"
    assert lines["steps"] == "3"


def test_skip_optional_packages_leaves_imported_ones_alone_and_makes_the_others_fail_to_import():
    name = "course_no_such_optional_package"
    try:
        assert distributed_worker.skip_optional_packages(("json", name)) == [name]
        assert sys.modules["json"] is not None
        with pytest.raises(ImportError):
            __import__(name)
    finally:
        sys.modules.pop(name, None)


@pytest.mark.timeout(360)
def test_logical_cpus_run_mirrored_training_and_refuse_a_late_change(fresh_process_lines):
    lines, stderr = fresh_process_lines
    assert lines.get("devices") == "2", stderr
    assert lines["again"] == "True"
    assert float(lines["difference"]) <= distributed.MATCH_TOLERANCE["sgd"]
    assert "Restart the kernel" in lines["refused"]


@pytest.mark.timeout(300)
def test_training_resumed_from_a_checkpoint_ends_where_an_uninterrupted_run_ends(
    tmp_path, single_worker
):
    uninterrupted = single_worker  # the same plan, trained once for the module
    first_half = dataclasses.replace(PLAN, steps=20)
    stopped = distributed.train(first_half, checkpoint_dir=tmp_path)
    resumed = distributed.train(PLAN, checkpoint_dir=tmp_path)
    assert (stopped.start_step, stopped.final_step) == (0, 20)
    assert (resumed.start_step, resumed.final_step) == (20, 40)
    assert sorted(resumed.losses) == list(range(21, 41))
    assert resumed.losses == {s: uninterrupted.losses[s] for s in range(21, 41)}
    assert resumed.digest == uninterrupted.digest


@pytest.mark.timeout(300)
def test_two_workers_finish_with_identical_weights(two_workers):
    chief, other = two_workers
    assert (chief.worker, other.worker, chief.num_workers) == (0, 1, 2)
    assert (chief.start_step, chief.final_step) == (0, PLAN.steps)
    assert chief.digest == other.digest
    assert all(np.array_equal(a, b) for a, b in zip(chief.weights, other.weights, strict=True))
    assert chief.losses == other.losses and sorted(chief.losses) == list(range(1, PLAN.steps + 1))


@pytest.mark.timeout(300)
def test_two_workers_match_one_worker_within_the_stated_tolerance(two_workers, single_worker):
    difference = distributed.max_weight_difference(two_workers[0].weights, single_worker.weights)
    assert difference <= distributed.MATCH_TOLERANCE["sgd"]
    # Same initial weights, same first batch: the first losses agree to float precision.
    assert two_workers[0].losses[1] == pytest.approx(single_worker.losses[1], abs=1e-5)


@pytest.mark.timeout(300)
def test_killed_worker_is_reaped_and_a_new_cluster_resumes_from_the_last_checkpoint(
    tmp_path, two_workers
):
    temporary = set(Path(tempfile.gettempdir()).glob("course-worker*"))
    report = distributed_cluster.crash_and_resume(PLAN, tmp_path, timeout=240)
    assert not workers_running(str(tmp_path))
    # The killed worker's scratch checkpoints stay in the run's folder, nowhere else.
    assert set(Path(tempfile.gettempdir()).glob("course-worker*")) == temporary
    assert 0 < report.resumed_from <= report.steps_before_crash < PLAN.steps
    assert report.resumed_from % PLAN.checkpoint_every == 0
    assert report.final_step == PLAN.steps and report.workers_agree
    # The restarted workers trained only the steps after the checkpoint.
    assert sorted(report.runs[0].losses) == list(range(report.resumed_from + 1, PLAN.steps + 1))
    assert sorted(report.losses_before_crash) == list(range(1, report.steps_before_crash + 1))
    # Same batches for the same steps: the crash changed nothing in the result.
    assert report.runs[0].digest == two_workers[0].digest
    assert "resumed from checkpoint step" in str(report)
    # The chief timed every step it finished; the kill came once it had reported the step asked for.
    assert report.kill_after_step == PLAN.checkpoint_every
    assert sorted(report.step_finished_at) == sorted(report.losses_before_crash)
    asked_for = report.step_finished_at[report.kill_after_step]
    assert asked_for <= report.kill_sent_at
    timeline = report.kill_timeline()
    assert ("kill sent", 0.0) in timeline and [ms for _, ms in timeline] == sorted(
        ms for _, ms in timeline
    )


@pytest.mark.timeout(120)
def test_a_worker_that_cannot_start_fails_with_its_log_tail(tmp_path):
    cluster = distributed_cluster.start_workers(2, tmp_path, PLAN, extra_args=["--no-such-option"])
    started = time.monotonic()
    with pytest.raises(
        RuntimeError, match=r"(?s)worker \d failed.*unrecognized arguments: --no-such-option"
    ):
        cluster.wait(timeout=60)
    assert time.monotonic() - started < 30
    assert_reaped(cluster.pids)


@pytest.mark.timeout(120)
def test_a_crashed_worker_stops_the_wait_and_its_partner_is_reaped(tmp_path):
    with distributed_cluster.start_workers(2, tmp_path, PLAN) as cluster:
        os.kill(cluster.pids[1], signal.SIGKILL)
        with pytest.raises(RuntimeError, match=r"worker 1 failed \(exit code -9\)"):
            cluster.wait(timeout=60)
    assert_reaped(cluster.pids)
    assert not workers_running(str(tmp_path))


@pytest.mark.timeout(120)
def test_wait_gives_up_after_its_timeout_and_reaps_the_workers(tmp_path):
    cluster = distributed_cluster.start_workers(1, tmp_path, PLAN)
    with pytest.raises(TimeoutError, match=r"still running after 1 s"):
        cluster.wait(timeout=1)
    assert_reaped(cluster.pids)


@pytest.mark.timeout(120)
def test_a_worker_exits_by_itself_at_its_time_limit(tmp_path):
    with distributed_cluster.start_workers(1, tmp_path, PLAN, time_limit=1) as cluster:
        with pytest.raises(RuntimeError, match=r"(?s)exit code 124.*time limit of 1 s reached"):
            cluster.wait(timeout=60)
    assert_reaped(cluster.pids)


def test_crash_and_resume_refuses_a_crash_outside_the_run():
    with pytest.raises(ValueError, match="between the first checkpoint"):
        distributed_cluster.crash_and_resume(PLAN, crash_after_step=PLAN.steps)


def test_resume_report_reads_as_one_sentence_with_the_steps_redone():
    report = distributed_cluster.ResumeReport(26, 25, 200, True, {}, [])
    assert report.steps_redone == 1
    assert str(report) == (
        "crashed after step 26, resumed from checkpoint step 25 (1 step redone), "
        "finished at step 200; workers agree: True"
    )
    assert "(3 steps redone)" in str(dataclasses.replace(report, steps_before_crash=28))
    asked = dataclasses.replace(report, steps_before_crash=27, kill_after_step=26)
    assert str(asked).startswith("worker killed once step 26 was done; crashed after step 27, ")


def test_kill_timeline_puts_the_chiefs_last_steps_and_the_kill_in_order_of_time():
    finished = {24: 100.0, 25: 100.1, 26: 100.2, 27: 100.3}
    report = distributed_cluster.ResumeReport(
        27,
        25,
        200,
        True,
        {},
        [],
        kill_after_step=26,
        kill_sent_at=100.25,
        step_finished_at=finished,
    )
    timeline = report.kill_timeline()
    assert [event for event, _ in timeline] == [
        "step 24 finished",
        "step 25 finished",
        "step 26 finished",
        "kill sent",
        "step 27 finished",
    ]
    assert [round(ms) for _, ms in timeline] == [-250, -150, -50, 0, 50]
    assert distributed_cluster.ResumeReport(26, 25, 200, True, {}, []).kill_timeline() == []
