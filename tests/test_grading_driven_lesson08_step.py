"""Exercise 8.1 judged in two phases: the kernel trains with the student's step, the judge judges.

A strategy cannot travel between processes, and the kernel's devices are fixed once TensorFlow
has started: the driver ``train_two_steps`` (:mod:`course_lib.checks._drivers`) builds a
MirroredStrategy over the kernel's logical CPUs (the lesson splits the CPU in two), rebuilds
the check's CNN from its config under the strategy's scope, runs two steps of the student's
``make_train_step`` and returns the losses and weights as arrays. The judge computes the
library's steps itself, on one device. Each answer gets the message the check gives in a
notebook, on the same fresh draw of test data.

The answers run in one fresh process whose CPU is split in two before TensorFlow starts (as
in tests/test_checks_lesson08.py): there ``judge.judge_locally`` plays both phases.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from course_lib import checks
from course_lib.checks import _drivers
from course_lib.checks._core import fresh_inputs
from course_lib.tools.grading import judge, two_phase

TESTS = Path(__file__).resolve().parent
SALT = 8181
EXPRESSION = "checks.exercise_8_1(make_train_step, strategy)"


# ------------------------------------------------ answers written differently from the lesson's


def step_right_functional_loss_and_apply(strategy, model, optimizer, global_batch_size):
    """Right: Keras's functional loss, the sum times 1/global_batch_size, optimizer.apply and
    the reduction named by its string, all in one tf.function."""
    import keras
    import tensorflow as tf

    scale = 1.0 / global_batch_size

    def one_replica(images, labels):
        with tf.GradientTape() as tape:
            probabilities = model(images, training=True)
            losses = keras.losses.sparse_categorical_crossentropy(labels, probabilities)
            loss = tf.reduce_sum(losses) * scale
        optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
        return loss

    @tf.function
    def train_step(batch):
        images, labels = batch
        losses = strategy.run(one_replica, args=(images, labels))
        return strategy.reduce("SUM", losses, axis=None)

    return train_step


def step_right_returns_a_float(strategy, model, optimizer, global_batch_size):
    """Right: the reduced loss turned into a Python float outside the traced step, and the
    per-example losses from a loss object called with reduction=None."""
    import keras
    import tensorflow as tf

    cross_entropy = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            loss = tf.nn.compute_average_loss(
                cross_entropy(labels, model(images, training=True)),
                global_batch_size=global_batch_size,
            )
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(list(zip(grads, model.trainable_variables, strict=True)))
        return loss

    @tf.function
    def distributed_step(batch):
        return strategy.reduce(
            tf.distribute.ReduceOp.SUM, strategy.run(replica_step, args=batch), axis=None
        )

    return lambda batch: float(distributed_step(batch))


def step_wrong_divides_by_the_share(strategy, model, optimizer, global_batch_size):
    """Divides by this replica's share of the batch: the global batch over the replicas."""
    import keras
    import tensorflow as tf

    cross_entropy = keras.losses.SparseCategoricalCrossentropy(reduction=None)
    share = global_batch_size // strategy.num_replicas_in_sync

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(cross_entropy(labels, model(images, training=True))) / share
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def train_step(batch):
        return strategy.reduce("SUM", strategy.run(replica_step, args=batch), axis=None)

    return train_step


def step_wrong_returns_the_losses(strategy, model, optimizer, global_batch_size):
    """Returns the per-example losses of both replicas, gathered, instead of their sum."""
    import keras
    import tensorflow as tf

    cross_entropy = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            per_example = cross_entropy(labels, model(images, training=True))
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return per_example

    @tf.function
    def train_step(batch):
        return strategy.gather(strategy.run(replica_step, args=batch), axis=0)

    return train_step


def step_raises(strategy, model, optimizer, global_batch_size):
    """A bug in the student's code: what the generic two-phase test hands in."""
    raise ZeroDivisionError("student bug")


OWN_ANSWERS = {name: obj for name, obj in globals().items() if name.startswith("step_")}
RIGHT = [
    "step_solution",
    "step_right_sum_over_global_batch_eager",
    "step_right_keras_default_reduction",
    "step_right_functional_loss_and_apply",
    "step_right_returns_a_float",
]
WRONG = {
    "step_wrong_per_replica_mean": "its own share (24 images) instead of the global batch (48)",
    "step_wrong_divides_by_the_share": "its own share (24 images) instead of the global batch",
    "step_wrong_no_strategy_run": "never calls strategy.run",
    "step_wrong_no_apply": "the weights did not change",
    "step_wrong_tape_outside_the_step": "a tape around strategy.run",
    "step_wrong_forward_pass_before_the_tape": "no gradient reached the weights",
    "step_wrong_mean_reduce": "not average them with ReduceOp.MEAN",
    "step_wrong_no_reduce": "one loss per replica",
    "step_wrong_returns_the_losses": "of shape (48,); return one number",
    "step_wrong_lesson_batch_size": "not the lesson's GLOBAL_BATCH of 64",
    "step_wrong_returns_nothing": "make_train_step returned a NoneType",
    "step_not_attempted": "not attempted yet",
    "step_wrong_inference_mode": "calls the model in inference mode (training=False",
    "step_raises": "ZeroDivisionError: student bug",
}


def run_in_two_devices(folder: str) -> dict:
    """Every answer, judged in two phases and checked directly, in a process with two CPUs.

    Also the library's step under the lesson's MirroredStrategy (collective all-reduce)
    against the reference the check computes on one device, and the strategies a notebook
    may pass by mistake. Call in a fresh process: the CPU is split before TensorFlow starts.
    """
    from course_lib import distributed

    devices = distributed.use_logical_cpus(2)
    import keras
    import numpy as np
    import tensorflow as tf

    sys.path.insert(0, str(TESTS))
    import lesson08_support

    from course_lib.checks import lesson08

    tf.get_logger().setLevel("ERROR")
    strategy = tf.distribute.MirroredStrategy(devices)
    answers = {**lesson08_support.STEP_ANSWERS, **OWN_ANSWERS}
    results: dict = {"answers": {}, "strategies": {}}
    for name in [*RIGHT, *WRONG]:
        namespace = {"make_train_step": answers[name], "strategy": strategy}
        reply = judge.judge_locally(EXPRESSION, namespace, SALT, os.path.join(folder, name))
        with fresh_inputs(SALT):
            direct = checks.exercise_8_1(answers[name], strategy)
        results["answers"][name] = {
            "reply": reply,
            "direct": {"passed": direct.passed, "message": direct.message},
        }

    # The reference the check computes on one device, against the library's step run under
    # the lesson's kind of strategy (collective all-reduce) on the same data.
    with fresh_inputs(SALT):
        config, start, images, labels = lesson08._step_inputs()
        expected, expected_weights = lesson08._reference_run(start, images, labels, [[24, 24]] * 2)
    with strategy.scope():
        model = keras.saving.deserialize_keras_object(json.loads(config))
        model.set_weights(start)
        optimizer = keras.optimizers.SGD(lesson08.STEP_LEARNING_RATE)
    step = distributed.make_train_step(strategy, model, optimizer, lesson08.STEP_BATCH)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(lesson08.STEP_BATCH)
    losses, gaps = [], []
    for batch, reference in zip(
        strategy.experimental_distribute_dataset(dataset), expected_weights, strict=True
    ):
        losses.append(float(step(batch)))
        gaps.append(
            max(
                float(np.abs(a - b).max())
                for a, b in zip(model.get_weights(), reference, strict=True)
            )
        )
    results["library"] = {"losses": losses, "expected": expected, "weight_gaps": gaps}

    # Strategies a notebook may pass: judged by their type's name in the judge.
    solution = lesson08_support.step_solution
    for label, given in {
        "none": None,
        "default": tf.distribute.get_strategy(),
        "one_device": tf.distribute.OneDeviceStrategy(devices[0]),
        "mirrored_on_one_device": tf.distribute.MirroredStrategy(devices[:1]),
    }.items():
        namespace = {"make_train_step": solution, "strategy": given}
        reply = judge.judge_locally(EXPRESSION, namespace, SALT, os.path.join(folder, label))
        with fresh_inputs(SALT):
            direct = checks.exercise_8_1(solution, given)
        results["strategies"][label] = {
            "reply": reply,
            "direct": {"passed": direct.passed, "message": direct.message},
        }

    # What the generic two-phase tests (tests/test_grading_judge.py) ask of every exercise.
    results["salts"] = {
        str(salt): judge.judge_locally(
            EXPRESSION,
            {"make_train_step": solution, "strategy": strategy},
            salt,
            os.path.join(folder, f"salt{salt}"),
        )
        for salt in (11, 2**40 + 3)
    }
    return results


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("step")
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(TESTS)!r})
        import test_grading_driven_lesson08_step as here
        print("RESULTS", json.dumps(here.run_in_two_devices({str(folder)!r})))
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=TESTS.parent,
        env=env,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULTS ")]
    assert lines, out.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("RESULTS "))


@pytest.mark.timeout(930)
@pytest.mark.parametrize("answer", RIGHT)
def test_a_right_step_passes_when_the_kernel_trains_with_it(graded, answer):
    result = graded["answers"][answer]
    assert result["reply"]["status"] == "passed", result
    assert result["direct"]["passed"], result
    assert "distributed.make_train_step" in result["reply"]["message"]


@pytest.mark.timeout(930)
@pytest.mark.parametrize(("answer", "phrase"), WRONG.items())
def test_a_wrong_step_gets_the_notebook_message_from_the_judge(graded, answer, phrase):
    result = graded["answers"][answer]
    assert result["reply"]["status"] == "failed", result
    assert phrase in result["reply"]["message"], result
    assert result["reply"]["message"] == result["direct"]["message"]


@pytest.mark.timeout(930)
def test_the_judge_reference_is_the_library_step_under_a_mirrored_strategy(graded):
    library = graded["library"]
    assert library["losses"] == pytest.approx(library["expected"], rel=1e-6)
    assert max(library["weight_gaps"]) <= 1e-6, library


@pytest.mark.timeout(930)
@pytest.mark.parametrize("strategy", ["none", "default", "one_device"])
def test_a_strategy_of_one_replica_gets_the_notebook_message_from_its_type(graded, strategy):
    result = graded["strategies"][strategy]
    assert result["reply"]["status"] == "failed", result
    assert "needs the lesson's MirroredStrategy on two devices" in result["reply"]["message"]
    assert result["reply"]["message"] == result["direct"]["message"]


@pytest.mark.timeout(930)
def test_the_judge_trains_on_the_kernels_devices_whatever_the_strategy_mirrors(graded):
    # The judge sees only "MirroredStrategy": the kernel trains on its two logical CPUs, so
    # a right step passes there even when the notebook's own strategy has one device.
    result = graded["strategies"]["mirrored_on_one_device"]
    assert not result["direct"]["passed"]
    assert result["reply"]["status"] == "passed", result


@pytest.mark.timeout(930)
@pytest.mark.parametrize("salt", ["11", str(2**40 + 3)])
def test_the_solution_passes_on_every_fresh_draw(graded, salt):
    assert graded["salts"][salt]["status"] == "passed", graded["salts"][salt]


def test_a_kernel_with_one_device_gets_the_two_devices_message(tmp_path):
    # This process has one CPU device: a MirroredStrategy on it has one replica, and the
    # driver reports the kernel's one replica to the judge.
    import tensorflow as tf
    from lesson08_support import step_solution

    strategy = tf.distribute.MirroredStrategy()
    namespace = {"make_train_step": step_solution, "strategy": strategy}
    reply = judge.judge_locally(EXPRESSION, namespace, SALT, str(tmp_path))
    with fresh_inputs(SALT):
        direct = checks.exercise_8_1(step_solution, strategy)
    assert reply["status"] == "failed", reply
    assert "needs the lesson's MirroredStrategy on two devices" in reply["message"]
    assert reply["message"] == direct.message


def test_the_step_is_run_by_a_driver_and_8_1_is_judged_in_two_phases():
    assert "train_two_steps" in _drivers.DRIVERS
    assert "8.1" in two_phase.TWO_PHASE
