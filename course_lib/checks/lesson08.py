"""Checks for lesson 08, beyond one laptop: the distributed train step, TF_CONFIG, a TF Serving
client, the representative dataset and quantisation parameters."""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from course_lib.checks._core import (
    NOT_ATTEMPTED,
    NUMPY_IN_GRAPH,
    StudentCodeFailed,
    as_array,
    call_student,
    check_rng,
    correct,
    describe,
    drive,
    not_yet,
    numpy_on_symbolic,
    run_check,
    salted,
    student_error,
)
from course_lib.record import CheckResult


def _decoded(text: str) -> Any:
    """``text`` decoded as JSON, or None when it is no JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def _json_problem(value: Any, what: str) -> str | None:
    try:
        json.dumps(value)
    except TypeError as exc:
        if "ndarray" in str(exc) or "float32" in str(exc) or "int64" in str(exc):
            return f"{what} holds NumPy values, which JSON cannot encode: convert with `.tolist()`."
        return f"{what} cannot be encoded as JSON: {exc}."
    return None


# ---------------------------------------------------------------- 8.1 the distributed train step

STEP_BATCH = (
    48  # the check's global batch: not the lesson's 64, so a batch size written in by hand shows
)
STEP_LEARNING_RATE = 0.1

# Strategies that can hold several replicas, by their class's name. In two-phase grading the
# notebook's `strategy` cannot travel to the judge: only its type's name does, and the step is
# run under a MirroredStrategy the grader builds in the student's kernel.
_MULTI_REPLICA = frozenset(
    {
        "MirroredStrategy",
        "MultiWorkerMirroredStrategy",
        "CollectiveAllReduceStrategy",  # MultiWorkerMirroredStrategy's class
        "CentralStorageStrategy",
        "TPUStrategy",
    }
)

NEEDS_TWO_REPLICAS = (
    "the check needs the lesson's MirroredStrategy on two devices (`strategy`); "
    "with one replica a step that forgets the other replicas cannot be told from a "
    "right one."
)


def _half_precision(value: Any) -> np.dtype | None:
    """The float dtype narrower than float32 (float16, say) that ``value`` holds, else None."""
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return None
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        return None
    return dtype if dtype.kind == "f" and dtype.itemsize < 4 else None


def _step_model() -> Any:
    """A small CNN that ends in softmax, like the course's models: quick to trace and to run.

    Its BatchNormalization normalises by each replica's batch and updates its moving statistics
    with training=True only, so a step that calls the model in inference mode shows (without the
    randomness Dropout would bring into the comparison). Its layers are named, so that its
    config is the same however many models the process built before (the judge recognises a
    call by its arguments)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((12, 12, 1), name="images"),
            layers.Conv2D(4, 3, name="conv"),
            layers.BatchNormalization(name="batch_norm"),
            layers.Activation("relu", name="relu"),
            layers.MaxPooling2D(name="pool"),
            layers.Flatten(name="flatten"),
            layers.Dense(10, activation="softmax", name="classes"),
        ],
        name="step_cnn",
    )


def _error_line(kind: str, text: str) -> str:
    """What went wrong, in one line: TensorFlow's errors carry the traced code and end with the
    cause."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    causes = [line for line in lines if re.match(r"^\w+(Error|Exception): ", line)]
    return causes[-1] if causes else f"{kind}: {lines[-1] if lines else ''}"


def _flat(arrays: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(a).astype(np.float64) for a in arrays])


@functools.cache  # the same every time (its layers are named); building it is slow
def _step_model_parts() -> tuple[str, list[tuple[int, ...]], list[int], list[int]]:
    """What the checks read off the step model: its config (JSON), its weights' shapes, and
    which weights are BatchNormalization's variances and moving statistics."""
    import keras

    model = _step_model()
    paths = [variable.path for variable in model.weights]
    return (
        json.dumps(keras.saving.serialize_keras_object(model), sort_keys=True),
        [tuple(w.shape) for w in model.get_weights()],
        [index for index, path in enumerate(paths) if "variance" in path],
        [index for index, path in enumerate(paths) if "moving" in path],
    )


def _step_inputs() -> tuple[str, list[np.ndarray], np.ndarray, np.ndarray]:
    """The model's config (JSON), its start weights and two global batches of images, labels."""
    rng = check_rng(81)  # salted in a grading run
    images = rng.random((2 * STEP_BATCH, 12, 12, 1), dtype=np.float32)
    labels = rng.integers(0, 10, 2 * STEP_BATCH)
    config, shapes, variances, _ = _step_model_parts()
    start = [rng.normal(0.0, 0.3, shape).astype(np.float32) for shape in shapes]
    for index in variances:  # a variance is positive, as after some training
        start[index] = 0.5 + np.abs(start[index])
    return config, start, images, labels


# The library's two steps on one salt's data and one split: the same for every answer.
_REFERENCE: dict[tuple[Any, ...], tuple[list[float], list[list[np.ndarray]]]] = {}


def _reference_run(
    start: list[np.ndarray], images: np.ndarray, labels: np.ndarray, shares: list[list[int]]
) -> tuple[list[float], list[list[np.ndarray]]]:
    """The losses and weights of the library's step (distributed.make_train_step) on replicas
    that get ``shares`` of each global batch, computed on this process's one device.

    Under MirroredStrategy each replica runs the model on its own share: BatchNormalization
    normalises by that share's statistics, the loss of each replica is the sum of its
    per-example losses over the global batch size, the optimizer applies the sum of the
    replicas' gradients, and the moving statistics keep the first replica's update (what
    Keras's non-trainable variables do under the strategy). So the same step on one device is
    one tape around every share's forward pass, each share run statelessly from the same
    statistics. tests/test_grading_driven_lesson08_step.py checks it against the library's
    step under a real MirroredStrategy of two logical CPUs.
    """
    import keras
    import tensorflow as tf

    key = (int(check_rng(81).integers(2**62)), json.dumps(shares))  # one salt's data, one split
    cached = _REFERENCE.get(key)
    if cached is not None:
        return cached
    model = _step_model()
    model.set_weights(start)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)
    losses, weights = [], []
    for index, sizes in enumerate(shares):
        x = images[index * STEP_BATCH : (index + 1) * STEP_BATCH]
        y = labels[index * STEP_BATCH : (index + 1) * STEP_BATCH]
        trainable = list(model.trainable_variables)
        statistics = [v.value for v in model.non_trainable_variables]
        updated = []
        with tf.GradientTape() as tape:
            loss = tf.constant(0.0)
            for first, size in zip(np.cumsum([0, *sizes[:-1]]), sizes, strict=True):
                probabilities, new = model.stateless_call(
                    [v.value for v in trainable], statistics, x[first : first + size],
                    training=True,
                )  # fmt: skip
                per_example = loss_fn(y[first : first + size], probabilities)
                loss = loss + tf.reduce_sum(per_example) / STEP_BATCH
                updated.append(new)
        gradients = tape.gradient(loss, [v.value for v in trainable])
        for variable, gradient in zip(trainable, gradients, strict=True):
            variable.assign(variable.value - STEP_LEARNING_RATE * gradient)
        for variable, value in zip(model.non_trainable_variables, updated[0], strict=True):
            variable.assign(value)
        losses.append(float(loss))
        weights.append([np.array(w) for w in model.get_weights()])
    _REFERENCE.clear()  # one salt and one split at a time
    _REFERENCE[key] = (losses, weights)
    return losses, weights


def _devices(strategy: Any) -> list[str] | None:
    """The devices the notebook's strategy mirrors, or None (the kernel's logical CPUs)."""
    try:
        devices = list(strategy.extended.worker_devices)
    except Exception:  # not a strategy, or (in the judge) only its type's name
        return None
    return devices if devices and all(isinstance(d, str) for d in devices) else None


def _loss_problem(record: dict[str, Any], replicas: int) -> str | None:
    """The message for a step that returned something other than one number."""
    if record["kind"] == "none":
        return "train_step returns None: return the loss of the global batch (a scalar)."
    if record["kind"] == "per_replica":
        return (
            "train_step returns one loss per replica (a PerReplica value): add them into "
            "the global batch's loss with strategy.reduce(tf.distribute.ReduceOp.SUM, "
            "per_replica_loss, axis=None)."
        )
    shape = record.get("shape")
    kind = str(record["type"])
    vector = (
        " strategy.reduce with axis=None adds the replicas' values element by element: have "
        "replica_step return one number, the sum of its per-example losses divided by "
        "global_batch_size."
        if shape == [STEP_BATCH // replicas]  # one replica's share: per-example losses
        else ""
    )
    return (
        f"train_step returns {'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"
        + (f" of shape {tuple(shape)}" if shape else "")
        + "; return one number, the loss of the global batch."
        + vector
    )


def _other_strategy_problem(line: str, text: str, never_ran: bool) -> str | None:
    """The message for a step that trained something the strategy it was given does not hold
    (the notebook's model, strategy or optimizer, or one of its own), or None.

    TensorFlow says "Mixing different tf.distribute.Strategy objects" when a variable made
    under one strategy (or none) meets another; the optimizer it is given asserts, with no
    message, when it updates variables made outside the strategy's scope."""
    if never_ran and "Mixing different tf.distribute.Strategy objects" in text:
        return (
            "your step runs on another strategy than the one make_train_step is given: use "
            "its argument, strategy.run and strategy.reduce of `strategy`, not a strategy of "
            "the notebook's. The check trains under a MirroredStrategy of its own."
        )
    mixed = "Mixing different tf.distribute.Strategy objects" in text
    # "AssertionError: ", or in a traced step "AssertionError: AssertionError:"
    bare = line.startswith("AssertionError") and not line.replace("AssertionError:", "").strip()
    if not mixed and not bare:
        return None
    cause = (
        "TensorFlow found variables of two strategies in one step (Mixing different "
        "tf.distribute.Strategy objects)"
        if mixed
        else "AssertionError, with no message: what the optimizer raises when it updates "
        "variables made outside the strategy's scope"
    )
    return (
        f"your step raised an error: {cause}. It trains a model, or uses an optimizer, other "
        "than the ones make_train_step is given: the notebook's model, or a model or optimizer "
        "made inside make_train_step, belongs to no strategy or to another. Use the arguments "
        "`model` and `optimizer`, which the caller made under strategy.scope()."
    )


def exercise_8_1(make_train_step: Callable[..., Any], strategy: Any) -> CheckResult:
    """make_train_step(strategy, model, optimizer, global_batch_size) -> train_step(batch) -> the
    global batch's loss.

    The student's step trains a small CNN for two steps from given weights, on two global
    batches of ``STEP_BATCH`` images, under a MirroredStrategy of two replicas or more (the
    devices of ``strategy``; in two-phase grading the kernel's logical CPUs, as the lesson sets
    them up), through the driver ``train_two_steps``. The library's step
    (:func:`course_lib.distributed.make_train_step`) is computed from the same start on the
    same shares. The optimizer is plain SGD, whose update is the gradient times the learning
    rate: a loss scaled by a wrong factor moves the weights by that same factor, which tells
    the mistakes apart."""

    def diagnose() -> str | None:
        if not callable(make_train_step):
            return f"expected the function make_train_step, got a {type(make_train_step).__name__}."
        given = getattr(strategy, "num_replicas_in_sync", None)
        if given is None:  # not a strategy, or (in the judge) a strategy known by its name only
            if type(strategy).__name__ not in _MULTI_REPLICA:
                return NEEDS_TWO_REPLICAS
        elif int(given) < 2:
            return NEEDS_TWO_REPLICAS
        config, start, images, labels = _step_inputs()
        devices = _devices(strategy)
        args = (config, start, STEP_LEARNING_RATE, STEP_BATCH, images, labels)
        run = call_student(
            lambda: drive(
                "train_two_steps", make_train_step, *args, *([devices] if devices else [])
            )
        )
        replicas = int(run["replicas"])
        if replicas < 2:
            return NEEDS_TWO_REPLICAS
        shares = [[int(size) for size in sizes] for sizes in run["shares"]]
        if len(shares) != 2 or any(
            len(sizes) != replicas or sum(sizes) != STEP_BATCH or min(sizes) < 1 for sizes in shares
        ):
            raise ValueError(f"the global batches were split as {shares}")
        expected, reference_weights = _reference_run(start, images, labels, shares)

        if "step" in run:
            raise StudentCodeFailed(
                f"make_train_step returned a {run['step']}; return the step function "
                "(train_step) that takes one distributed batch."
            )
        raised = run.get("raised")
        if raised:
            if raised["not_implemented"]:
                raise StudentCodeFailed(
                    "not attempted yet: replace the `raise NotImplementedError(...)` lines "
                    "with your code."
                )
            # the student's code failed while tracing or running: say why
            message = _error_line(str(raised["type"]), str(raised["message"]))
            if raised.get("in_factory"):
                return (
                    f"make_train_step itself raised {message[:300]}, before it returned any "
                    "step: it only defines replica_step and train_step, and returns "
                    "train_step, which the check then calls on each batch."
                )
            other_strategy = _other_strategy_problem(
                message, str(raised["message"]), int(run["runs"]) == 0
            )
            if other_strategy:
                return other_strategy
            if int(run["runs"]) == 0:
                failure = (
                    "the model was handed a PerReplica value"
                    if "PerReplica" in message
                    else message[:160]
                )
                return (
                    f"your step never calls strategy.run, and failed ({failure}): a distributed "
                    "batch holds one share per replica, and strategy.run(replica_step, "
                    "args=batch) runs the step on each replica with its own share."
                )
            if "No gradients provided" in message:
                return (
                    "no gradient reached the weights: the tape must record the forward pass. "
                    "Inside the function that strategy.run runs on each replica, call the "
                    "model and compute the loss within `with tf.GradientTape() as tape:`; a "
                    "tape around strategy.run, outside the replica step, or a model called "
                    "before the tape, records nothing to differentiate."
                )
            return f"your step raised {message[:300]}."
        if int(run["runs"]) == 0:
            return (
                "strategy.run is never called: each replica must run the step on its own share "
                "of the batch, with strategy.run(replica_step, args=batch)."
            )
        records = run["losses"]
        if records[0]["kind"] in ("none", "per_replica"):
            return _loss_problem(records[0], replicas)
        if any(record["kind"] != "number" for record in records):
            return _loss_problem(records[0] | {"kind": "other"}, replicas)
        got = [float(record["value"]) for record in records]
        weights = [[np.asarray(w) for w in step] for step in run["weights"]]
        statistics = _step_model_parts()[3]

        def learned(arrays: Sequence[np.ndarray]) -> np.ndarray:
            """The weights that gradients move, without the BatchNormalization statistics."""
            return _flat([a for index, a in enumerate(arrays) if index not in statistics])

        moved = learned(weights[0]) - learned(start)
        if not np.any(moved):
            return (
                "the weights did not change: compute the gradients with tape.gradient(loss, "
                "model.trainable_variables) and apply them with "
                "optimizer.apply_gradients(zip(gradients, model.trainable_variables))."
            )
        if all(np.array_equal(weights[0][i], start[i]) for i in statistics):
            return (
                "your step calls the model in inference mode (training=False, or no training "
                "argument): BatchNormalization then normalises with its stored statistics and "
                "never updates them, and Dropout drops nothing. In a training step call "
                "model(images, training=True)."
            )
        reference_move = learned(reference_weights[0]) - learned(start)
        move_ratio = float(moved @ reference_move / (reference_move @ reference_move))
        loss_ratio = got[0] / expected[0]
        weight_gap = max(
            float(np.abs(_flat(a) - _flat(b)).max())
            for a, b in zip(weights, reference_weights, strict=True)
        )
        weights_right = weight_gap <= 1e-5
        if weights_right and np.allclose(got, expected, rtol=1e-5, atol=1e-6):
            agreement.append(
                "two steps from the same start give the losses of the library's "
                f"distributed.make_train_step ({expected[0]:.4f}, {expected[1]:.4f}; largest "
                f"difference {max(abs(a - b) for a, b in zip(got, expected, strict=True)):.1e}) "
                f"and its weights (largest difference {weight_gap:.1e})."
            )
            return None
        if weights_right and math.isclose(loss_ratio, 1 / replicas, rel_tol=1e-3):
            return (
                f"the weights are right, but the loss returned is 1/{replicas} of the global "
                "batch's: each replica's loss is already its share of the global mean, so add "
                "them with ReduceOp.SUM, not average them with ReduceOp.MEAN."
            )
        if weights_right:
            again = (
                f": it was divided by global_batch_size ({STEP_BATCH}) once more"
                if math.isclose(loss_ratio, 1 / STEP_BATCH, rel_tol=1e-3)
                else ""
            )
            return (
                f"the weights are right, but the loss returned is {loss_ratio:.3g}x the global "
                f"batch's (losses {got[0]:.4f}, {got[1]:.4f}; expected {expected[0]:.4f}, "
                f"{expected[1]:.4f}){again}. Return the loss the replicas differentiated, "
                "added up with ReduceOp.SUM, as it is."
            )
        updates = run.get("updates")
        if isinstance(updates, int) and updates > len(records):
            return (
                f"the gradients were applied {updates} times in {len(records)} steps, so each "
                f"step moves the weights {move_ratio:.2g}x too far: call "
                "optimizer.apply_gradients once per replica step."
            )
        if math.isclose(move_ratio, replicas, rel_tol=1e-3):
            if math.isclose(loss_ratio, 1.0, rel_tol=1e-3):
                loss_said = (
                    "; the loss returned is right only because ReduceOp.MEAN averaged the "
                    "replicas' losses back. Divide the sum of each replica's per-example "
                    "losses by global_batch_size instead (tf.nn has a function for exactly "
                    "this), and add the replicas' losses with ReduceOp.SUM."
                )
            else:
                loss_said = (
                    ". Divide the sum of each replica's per-example losses by "
                    "global_batch_size instead (tf.nn has a function for exactly this)."
                )
            return (
                f"each step moves the weights {replicas}x too far"
                + (
                    f" and the loss is {loss_ratio:.2f}x too big"
                    if math.isclose(loss_ratio, replicas, rel_tol=1e-3)
                    else ""
                )
                + f": every replica averaged its loss over its own share "
                f"({STEP_BATCH // replicas} images) instead of the global batch ({STEP_BATCH}), "
                f"so the {replicas} replicas' gradients add up to {replicas}x the mean" + loss_said
            )
        if math.isclose(move_ratio, loss_ratio, rel_tol=1e-2) and weight_gap > 1e-5:
            hint = f" ({STEP_BATCH} in this check)"
            if math.isclose(move_ratio, STEP_BATCH / 64, rel_tol=1e-3):
                hint = (
                    f": use the argument, {STEP_BATCH} in this check, not the lesson's "
                    "GLOBAL_BATCH of 64"
                )
            return (
                f"your loss, and so each step, is {loss_ratio:.3g}x the mean over the global "
                f"batch: divide the sum of the per-example losses by global_batch_size{hint}."
            )
        return (
            "after two steps your weights differ from the library's step by up to "
            f"{weight_gap:.1e} (losses {got[0]:.4f}, {got[1]:.4f}; expected {expected[0]:.4f}, "
            f"{expected[1]:.4f}): check the loss, the tape, and that every replica's gradients "
            "are applied once."
        )

    agreement: list[str] = []  # the success message: the library's copy and yours, side by side
    result = run_check("8.1", diagnose, "")
    return correct("8.1", agreement[0]) if result.passed else result


# ---------------------------------------------------------------- 8.2 TF_CONFIG


def exercise_8_2(make_tf_config: Callable[[Sequence[str], int], Any]) -> CheckResult:
    """make_tf_config(addresses, index) -> ``{"cluster": {"worker": [...]}, "task": {"type":
    "worker", "index": i}}``."""
    # Three workers: an answer written for the lesson's two (index 0 or 1 only, a list of two)
    # shows.
    addresses = ["127.0.0.1:23456", "127.0.0.1:23457", "10.0.0.7:2222"]
    if salted():  # a grading run: other ports and hosts, so that no list written in by hand matches
        rng = check_rng(82)
        ports = rng.choice(np.arange(2000, 60000), size=3, replace=False)
        addresses = [
            f"127.0.0.1:{ports[0]}",
            f"127.0.0.1:{ports[1]}",
            f"10.0.{rng.integers(0, 256)}.{rng.integers(1, 255)}:{ports[2]}",
        ]

    def diagnose() -> str | None:
        for index in range(len(addresses)):
            config = call_student(make_tf_config, list(addresses), index)
            if isinstance(config, str) and isinstance(_decoded(config), dict):
                return (
                    "return the dict; it becomes a string only when it goes into the environment: "
                    "os.environ['TF_CONFIG'] = json.dumps(config)."
                )
            if not isinstance(config, dict):
                return f'got {describe(config)}; TF_CONFIG is a dict with "cluster" and "task".'
            problem = _json_problem(config, "your TF_CONFIG")
            if problem:
                return problem
            missing = {"cluster", "task"} - set(config)
            if missing:
                return (
                    f"missing {sorted(missing)}: TF_CONFIG says who is in the cluster and "
                    "which one this process is."
                )
            cluster, task = config["cluster"], config["task"]
            if not isinstance(cluster, dict) or "worker" not in cluster:
                return 'the cluster must list its machines by job: {"worker": ["host:port", ...]}.'
            others = sorted(str(job) for job in cluster if job != "worker")
            if others:
                return _other_jobs(others, cluster)
            workers = cluster["worker"]
            # A tuple is the same list to JSON (json.dumps writes both as an array).
            if not isinstance(workers, (list, tuple)) or list(workers) != addresses:
                return (
                    'cluster["worker"] must be every worker\'s address, the same list in the same '
                    "order on "
                    f"every worker; got {cluster['worker']!r}."
                )
            if not isinstance(task, dict):
                return (
                    f"task is {describe(task)}; it is a dict that names this process: "
                    f'{{"type": "worker", "index": {index}}}.'
                )
            if task.get("type") != "worker":
                return (
                    'task["type"] must be "worker": with MultiWorkerMirroredStrategy worker '
                    "0 also acts as chief."
                )
            given = task.get("index")
            if (
                given != index
                or isinstance(given, bool | np.bool_)
                or not isinstance(given, int | np.integer)
            ):
                if str(given) == str(index) or (isinstance(given, float) and given == index):
                    return f'task["index"] is {task["index"]!r}: make it the integer {index}.'
                return (
                    f'for worker {index}, task["index"] is {task.get("index")!r}: each '
                    "process gives its own position."
                )
        return _refuses_bad_input(make_tf_config, addresses)

    return run_check(
        "8.2",
        diagnose,
        "each worker will find the others and know its own place, and a wrong index or "
        "address stops at once with a ValueError that names it.",
    )


def _refuses_bad_input(make_tf_config: Callable[..., Any], addresses: list[str]) -> str | None:
    """What is wrong with how ``make_tf_config`` treats an index or address it cannot use."""
    n, host = len(addresses), addresses[0].rpartition(":")[0]
    cases = [
        (addresses, n, f"there is no worker {n}: the {n} workers are numbered 0 to {n - 1}"),
        (addresses, -1, f"there is no worker -1: the {n} workers are numbered 0 to {n - 1}"),
        (
            [host, *addresses[1:]],
            0,
            f"the address {host!r} has no port: a worker listens on host:port",
        ),
        (
            [f"{host}:tf", *addresses[1:]],
            0,
            f"the port of {host + ':tf'!r} is not a number",
        ),
    ]
    for given, index, why in cases:
        call = f"make_tf_config({given!r}, {index})"
        try:
            config = call_student(make_tf_config, list(given), index)
        except StudentCodeFailed as exc:
            raised = getattr(exc, "raised", None)
            if raised is None:
                raise
            if isinstance(raised, AssertionError):
                return (
                    f"{call} failed an assert; Python skips asserts when run with -O, so "
                    f"raise ValueError yourself: {why}."
                )
            if not isinstance(raised, ValueError):
                return (
                    f"{call} raised {student_error(raised)}; {why}, which is a wrong value: "
                    "raise a ValueError that says so."
                )
            if not str(raised).strip():
                return f"{call} raised a ValueError without a message; say what is wrong: {why}."
            continue
        returned = "a configuration" if isinstance(config, dict) else describe(config)
        return (
            f"{call} returned {returned}; {why}. Raise a ValueError that says so, "
            "before any worker starts with a configuration that cannot work."
        )
    return None


def _other_jobs(others: list[str], cluster: dict[str, Any]) -> str:
    """Why a cluster needs no job besides "worker", in words fit for the first such job."""
    shown = ", ".join(f"{job!r}: {cluster[job]!r}" for job in others)
    why = {
        "ps": "a parameter server belongs to ParameterServerStrategy, another architecture",
        "chief": "with MultiWorkerMirroredStrategy worker 0 already acts as chief",
    }.get(others[0], "MultiWorkerMirroredStrategy runs workers only")
    return (
        f"the cluster has the job(s) {shown} besides 'worker': it lists every process the "
        f"cluster waits for, and no such process is started here ({why}). Give it the "
        'worker job alone: {"worker": addresses}.'
    )


# ------------------------------------------------ 8.3 a client that respects the request limit

CLIENT_LIMIT = (
    100  # the check's limit per request: not the service's 256, so a limit written in by hand shows
)


CLIENT_IMAGES = 250  # two sets: this many (the last request part-filled), then 200 (all full)
# The third set: CLIENT_IMAGES again, with another max_instances, so that a client that writes
# in the limit of the first two (100) shows
OTHER_LIMIT = 64


def _softmax_rows(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The check's stand-in model: softmax of a linear map, so every image gets its own answer.

    The same arithmetic as the stand-in service's (``_drivers.behind_service``).
    """
    z = x.reshape(len(x), -1).astype(np.float64) @ np.asarray(weights, np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _student_raised(raised: Sequence[str]) -> StudentCodeFailed:
    """What :func:`call_student` says of an exception a driver returned as (type name, text)."""
    name, text = str(raised[0]), str(raised[1])
    exc = type(name, (Exception,), {"__module__": "student"})(text)
    if name == "NotImplementedError":
        if numpy_on_symbolic(exc):
            return StudentCodeFailed(f"your code raised {student_error(exc)}. {NUMPY_IN_GRAPH}")
        return StudentCodeFailed(NOT_ATTEMPTED)
    return StudentCodeFailed(f"your code raised {student_error(exc)}")


def exercise_8_3(
    predict_all: Callable[..., Any], predict: Any = None, images: Any = None
) -> CheckResult:
    """predict_all(post, images, max_instances) -> the (n, classes) predictions, in order, in
    requests of at most ``max_instances`` images.

    ``post(body)`` is a stand-in for ``requests.post(url, json=body)`` in front of a service
    that refuses more than ``max_instances`` instances per request (413), as the course service
    does, and answers with a model of the check's own (softmax of a linear map) on images of
    its own, both drawn afresh: Fashion-MNIST's input shape, (28, 28, 1). Three sets are sent:
    one that does not divide into full requests, one that does, and the first again with
    another ``max_instances``, so that a limit written in shows. ``predict`` and ``images``
    (the lesson's `serve` and `x_test[:300]`, which earlier check cells passed) are not used:
    a notebook could name anything so."""
    del predict, images
    rng = check_rng(83)  # salted in a grading run
    shape = (28, 28, 1)
    images = rng.random((CLIENT_IMAGES, *shape), dtype=np.float32)
    weights = rng.normal(0.0, 0.1, (math.prod(shape), 10))
    # The last request part-filled, then full, then part-filled under another limit
    sets = ((CLIENT_IMAGES, CLIENT_LIMIT), (2 * CLIENT_LIMIT, CLIENT_LIMIT))
    sets += ((CLIENT_IMAGES, OTHER_LIMIT),)

    def diagnose() -> str | None:
        if not callable(predict_all):
            raise StudentCodeFailed(f"expected a function, got {type(predict_all).__name__}.")
        expected_all = _softmax_rows(images, weights)
        for count, limit in sets:
            x, expected = images[:count], expected_all[:count]
            # The stand-in service runs where predict_all does (in grading, the student's
            # kernel): it returns what predict_all returned or raised, and every request's size.
            served = call_student(
                lambda x=x, limit=limit: drive("behind_service", predict_all, x, weights, limit)
            )
            requests = [int(n) for n in served["requests"]]
            try:
                if served["raised"] is not None:
                    raise _student_raised(served["raised"])
                out = served["returned"]
            except StudentCodeFailed as exc:
                if any(n > limit for n in requests):
                    return _too_big(requests, limit)
                if 0 in requests:
                    return _empty_request(count)
                if "not JSON serializable" in str(exc):
                    return (
                        "a request holds NumPy values, which JSON cannot encode (requests "
                        "fails the same way): send each chunk as nested lists, chunk.tolist()."
                    )
                refused = [r for r in served.get("refusals", []) if int(r[1]) == 400]
                if refused:
                    return (
                        f"the service refused a request with 400: {refused[0][2]}. Each request "
                        'is post({"instances": chunk.tolist()}), with the images as given, '
                        f"shaped {list(shape)} ({exc})."
                    )
                if "KeyError" in str(exc):
                    return (
                        f'{exc}. The service answers a row-format request with {{"predictions": '
                        '[...]}: read response.json()["predictions"].'
                    )
                raise
            if any(n > limit for n in requests):
                return _too_big(requests, limit)
            if 0 in requests:
                return _empty_request(count)
            refused = [r for r in served.get("refusals", []) if int(r[1]) == 400]
            if refused:
                return (
                    f"the service refused a request with 400: {refused[0][2]}; and your code "
                    "went on without noticing (response.raise_for_status() stops there). "
                    'Each request is post({"instances": chunk.tolist()}), with the images as '
                    f"given, shaped {list(shape)}."
                )
            if out is None:
                return "predict_all returned None: return the predictions of every image."
            try:
                if np.iscomplexobj(out):  # NumPy would drop the imaginary part with a warning
                    raise TypeError
                got = np.asarray(out, dtype=np.float64)
            except Exception:
                return (
                    f"predict_all returned {describe(out)}, not one array of numbers: put the "
                    "predictions of every request together, in order, one row per image."
                )
            needed = math.ceil(count / limit)
            if got.ndim == 3 or (got.dtype == object):
                return (
                    "you returned one list per request: put the requests' predictions together "
                    "into one row per image (list.extend, or np.concatenate)."
                )
            if got.shape != expected.shape:
                if not requests and not got.size:
                    return (
                        f"predict_all sent no request and returned {describe(out)}: post the "
                        "images to the service, max_instances at a time, and return its "
                        "predictions."
                    )
                if got.shape == (count,) and np.array_equal(got, expected.argmax(axis=1)):
                    return (
                        f"the predictions have shape {got.shape}, one class number per image "
                        "(argmax); the task asks for the service's probabilities, one row of "
                        f"{expected.shape[1]} per image, shape {expected.shape}."
                    )
                if got.ndim == 2 and 0 < len(got) < count and len(got) % limit == 0:
                    return (
                        f"{len(got)} rows for {count} images: the last, smaller request with the "
                        f"{count - len(got)} images left over is missing."
                    )
                return (
                    f"the predictions have shape {got.shape}; for {count} images expected "
                    f"{expected.shape}."
                )
            if not np.allclose(got, expected, atol=1e-5):
                low = _half_precision(out)
                if low is not None and np.allclose(got, expected, atol=2e-3):
                    return (
                        f"the predictions are {low}, which keeps about 3 digits: "
                        "the values are off by up to "
                        f"{np.abs(got - expected).max():.1e}. Keep the service's numbers as "
                        "float32 (or float64)."
                    )
                if np.allclose(got, expected[::-1], atol=1e-5):
                    return (
                        "the rows come back in reverse order: keep them in the order of the images."
                    )
                row = int(np.flatnonzero(~np.isclose(got, expected, atol=1e-5).all(axis=1))[0])
                distances = np.abs(got[:, None, :] - expected[None, :, :]).max(axis=-1)
                if not (distances.min(axis=1) <= 1e-5).all():
                    return (
                        "some rows are not the predictions the service gives for any of the "
                        "images: send each image exactly as given, chunk.tolist() of the array "
                        "you were passed, and keep the service's answers as they come "
                        f"(of {count} images, row {row} is {np.round(got[row], 3).tolist()}, "
                        f"expected {np.round(expected[row], 3).tolist()})."
                    )
                return (
                    "the rows are not the predictions of the images in their order: send the "
                    "images in order and keep the answers in the order they come back (of "
                    f"{count} images, row {row} is {np.round(got[row], 3).tolist()}, expected "
                    f"{np.round(expected[row], 3).tolist()})."
                )
            if len(requests) > needed:
                return (
                    f"{len(requests)} requests for {count} images where {needed} "
                    "suffice: the task asks for as few requests as possible, since every "
                    f"request costs a round trip; fill each one up to max_instances "
                    f"({limit} here)."
                )
            if isinstance(out, list | tuple):
                return (
                    f"the right predictions, as a Python {type(out).__name__} of rows; the "
                    f"task asks for one array of shape (n, 10), {expected.shape} here, which "
                    "rows and columns can be sliced from: np.array(rows), or np.concatenate "
                    "of the requests' arrays."
                )
        return _refusal_problem(predict_all, images, weights)

    return run_check(
        "8.3",
        diagnose,
        "every image classified, in order, and no request above the service's limit.",
    )


# The second case of a busy service: the same request refused this many times in a row, then
# accepted. A client that raises passes, as does one that sends it again until it is accepted
# (on the next send); one that gives up sooner and goes on without it does not.
REFUSED_TIMES = 5


def _refusal_problem(
    predict_all: Callable[..., Any], images: np.ndarray, weights: Any
) -> str | None:
    """Whether a request the service refuses (503, busy, the second of three) shows: the
    answer raises, or (sending it again) still returns every prediction in order. Tried with
    the request refused once, then with it refused :data:`REFUSED_TIMES` times in a row."""
    expected = _softmax_rows(images, weights)
    for times in (1, REFUSED_TIMES):
        served = call_student(
            lambda times=times: drive(
                "behind_service", predict_all, images, weights, CLIENT_LIMIT, 1, times
            )
        )
        if served["raised"] is not None:
            continue
        out = served["returned"]
        try:
            got = np.asarray(out, dtype=np.float64)
            if got.shape == expected.shape and np.allclose(got, expected, atol=2e-3):
                continue  # sent again until accepted
        except Exception:  # not even numbers: the message says what came back
            pass
        if times == 1:
            return (
                f"the service refused the second of the requests for {len(images)} images "
                f"with 503 (busy), and your function returned {describe(out)} instead of "
                "raising: call response.raise_for_status() on every response, so that a "
                "refused request stops the call instead of vanishing from the result."
            )
        sends = sum(1 for refusal in served.get("refusals", []) if int(refusal[1]) == 503)
        return (
            f"a refused request vanished from the result: the service refused the second of "
            f"the requests for {len(images)} images {times} times in a row (503, busy), and "
            f"would have accepted it on the next send; your code sent it {sends} time"
            f"{'s' * (sends != 1)}, then returned {describe(out)} without its predictions. "
            "When a request is refused, raise (response.raise_for_status()) or send it again "
            "until the service accepts it, never go on without its images."
        )
    return None


def _too_big(sizes: list[int], limit: int = CLIENT_LIMIT) -> str:
    if limit != CLIENT_LIMIT:
        return (
            f"with max_instances={limit}, a request carried {max(sizes)} instances and the "
            f"service refused it (413): your requests fit the limit of {CLIENT_LIMIT} the "
            "check passed before, not this one. Split the images into requests of at most "
            "max_instances, the argument, rather than a number written in (the course service "
            "allows 256)."
        )
    return (
        f"a request carried {max(sizes)} instances and the service refused it (413: at most "
        f"{limit} in this check): split the images into requests of at most "
        "max_instances, the argument (the course service allows 256)."
    )


def _empty_request(count: int) -> str:
    return (
        f"one request had no instances at all, and the service refused it (400): with {count} "
        "images the last request is full, so no extra request is needed (range(0, len(images), "
        "max_instances) gives the starts)."
    )


# ---------------------------------------------------------------- 8.4 the representative dataset


SAMPLE_LIMIT = 1000  # "more than 1,000" is the check's "too many": one more sample tells it


def _samples(
    representative_dataset: Callable[[], Any], shape: tuple[int, ...], limit: int = SAMPLE_LIMIT
) -> tuple[list[Any], bool]:
    """The first ``limit + 1`` samples the generator yields, and whether it reordered the
    notebook's ``x_train`` meanwhile.

    Run by a driver where the function is (in grading, the student's kernel): a generator
    cannot travel, and may never end. Samples far bigger than ``shape`` are cut short there.
    """
    budget = (limit + 1) * (4 * math.prod(shape) + 256) + (1 << 20)
    outcome = call_student(
        lambda: drive("generated_samples", representative_dataset, limit, "x_train", budget)
    )
    if outcome["none"]:
        raise StudentCodeFailed(
            "calling representative_dataset() gave None: use `yield` inside it (a generator)."
        )
    if outcome.get("not_iterable") is not None:
        raise StudentCodeFailed(
            f"representative_dataset() returned a {outcome['not_iterable']}, "
            "which cannot be iterated: `yield` the samples one at a time."
        )
    if outcome.get("made_at_once") is not None:
        kind, length = outcome["made_at_once"]
        raise StudentCodeFailed(
            f"representative_dataset() returned a {kind} of {length} samples, made all at "
            "once; the task asks for a generator function: `yield` each sample inside the "
            "loop, so that the converter draws them one at a time."
        )
    if outcome.get("raised") is not None:
        name, text = outcome["raised"]
        raise StudentCodeFailed(f"your generator raised {name}: {text}")
    return list(outcome["samples"]), bool(outcome["reordered"])


def _course_fashion() -> Any:
    from course_lib import data  # here: the other checks do not need it

    return data.load_fashion_mnist()


def _course_test_images(shape: tuple[int, ...], fashion: Any = None) -> np.ndarray:
    """Fashion-MNIST's test images as the lesson's model sees them, read by the check itself."""
    from course_lib import models  # here: the other checks need neither

    fashion = _course_fashion() if fashion is None else fashion
    return models.as_model_input(fashion.x_test, models.preprocessing_for(shape))


def _course_training_starts(shape: tuple[int, ...], count: int, fashion: Any) -> list[np.ndarray]:
    """The first ``count`` training images of each order the lesson's ``x_train`` may be in
    (:func:`_course_orders`), as the model sees them."""
    from course_lib import models

    prep = models.preprocessing_for(shape)
    return [models.as_model_input(order[:count], prep) for order in _course_orders(fashion)]


def _course_orders(fashion: Any) -> list[np.ndarray]:
    """The course's uint8 training images in each order the lesson's ``x_train`` may be in:
    the whole set's and fast mode's subset's (the judge never runs in fast mode), each as
    stored and as the training part of lesson 04's split, the lesson's own ``x_train``."""
    from types import SimpleNamespace

    from course_lib import data, models

    sets = [(np.asarray(fashion.x_train), np.asarray(fashion.y_train))]
    per_class = data.FAST_TRAIN_PER_CLASS
    if len(fashion.x_train) > per_class * len(fashion.class_names):  # the whole set
        sets.append(
            data.balanced_subset(fashion.x_train, fashion.y_train, per_class, data.SUBSET_SEED)
        )
    orders = []
    for x, y in sets:
        split = models.fashion_validation_split(SimpleNamespace(x_train=x, y_train=y))
        orders += [np.asarray(x), np.asarray(split[0])]
    return orders


def _image_keys(rows: np.ndarray) -> list[bytes]:
    """A fingerprint of each uint8 image: a few pixels and the sum, enough to tell 60,000
    images apart, small to keep."""
    rows = rows.reshape(len(rows), -1)
    sums = rows.sum(axis=1, dtype=np.int64)
    return [row.tobytes() + int(total).to_bytes(4, "little") for row, total in
            zip(rows[:, ::37], sums, strict=True)]  # fmt: skip


def _as_pixels(images: np.ndarray) -> np.ndarray:
    """Images as the model sees them (pixels / 255) back to the uint8 pixels they came from.

    A NaN becomes some pixel value, without NumPy's warning about the cast in the student's
    notebook: the check names NaN samples on its own."""
    with np.errstate(invalid="ignore"):
        return np.rint(np.asarray(images, np.float64) * 255).clip(0, 255).astype(np.uint8)


def _training_classes(images: np.ndarray, fashion: Any) -> list[int | None]:
    """The class of each sample that is one of the course's training images as the model sees
    them (pixels / 255), None for the others; found by a fingerprint of each image's pixels."""
    train = np.asarray(fashion.x_train)
    label_of = dict(zip(_image_keys(train), np.asarray(fashion.y_train).tolist(), strict=True))
    return [label_of.get(key) for key in _image_keys(_as_pixels(images))]


def _stored_orders(x_train: np.ndarray | None, fashion: Any) -> list[np.ndarray]:
    """The uint8 training images in each order the notebook's ``x_train`` may be in: the one
    given, and the course's (:func:`_course_orders`)."""
    orders = [_as_pixels(x_train)] if x_train is not None else []
    return orders + (_course_orders(fashion) if fashion is not None else [])


def _stored_run(images: np.ndarray, orders: list[np.ndarray]) -> tuple[int, int, int] | None:
    """(first position, step, stored count) when the samples are training images taken at
    evenly spaced places of one stored order (a run x_train[a:b], every k-th, backwards), or
    None: a shuffled draw is never evenly spaced."""
    if len(images) < 3:
        return None
    keys = _image_keys(_as_pixels(images))
    for stored in orders:
        position = {key: i for i, key in enumerate(_image_keys(stored))}
        found = [position.get(key) for key in keys]
        if any(p is None for p in found):
            continue
        steps = np.diff(np.asarray(found, np.int64))
        if steps[0] != 0 and np.all(steps == steps[0]):
            return int(found[0]), int(steps[0]), len(stored)
    return None


def _run_problem(run: tuple[int, int, int], count: int) -> str:
    """The message for samples taken in the stored order: which ones, and why not so."""
    first, step, stored = run
    last = first + step * (count - 1)
    if step == 1 and last == stored - 1:
        which = f"the last {count} training images in their stored order"
    elif step == 1:
        which = f"training images {first} to {last}, one run in their stored order"
    elif step == -1:
        which = f"training images {first} down to {last}, one run of the stored order backwards"
    else:
        which = f"every {abs(step)}th training image of the stored order, from image {first}"
    return (
        f"the samples are {which}, not a shuffled draw: take them from a shuffled copy "
        "(rng.permutation(len(x_train))), since a set stored by class or by date would "
        "calibrate on a few classes only."
    )


def _repeated_problem(flat: np.ndarray, x_train: np.ndarray | None, fashion: Any) -> str | None:
    """Name samples that repeat an image yielded before, or None.

    A shuffled copy of the training set holds each image once, so the samples are so many
    different images, unless the training set itself holds an image that often.
    """
    if not np.isfinite(flat).all():
        return None  # NaN images are another mistake, named later
    counts = Counter(row.tobytes() for row in flat)
    repeated = {key: count for key, count in counts.items() if count > 1}
    if not repeated:
        return None
    first_at: dict[bytes, int] = {}
    for position, row in enumerate(flat):
        first_at.setdefault(row.tobytes(), position)
    rows = np.stack([np.frombuffer(key, flat.dtype) for key in repeated])
    keys = _image_keys(_as_pixels(rows))
    for stored in _stored_orders(x_train, fashion):
        held = Counter(_image_keys(stored))
        if all(held[key] >= count for key, count in zip(keys, repeated.values(), strict=True)):
            return None  # the training set holds these images as often
    sample = next(i for i, row in enumerate(flat) if first_at[row.tobytes()] != i)
    extra = sum(repeated.values()) - len(repeated)
    return (
        f"{extra} of your {len(flat)} samples repeat an image yielded before (sample {sample} "
        f"is the image of sample {first_at[flat[sample].tobytes()]}): a shuffled copy of the "
        f"training set holds each training image once, so the converter would calibrate on "
        f"{len(counts)} different image{'s' * (len(counts) != 1)}, not {len(flat)}. Take the "
        "first CALIBRATION_IMAGES of one permutation, rng.permutation(len(x_train)), "
        "not a draw with replacement or an index used twice."
    )


def _validation_problem(images: np.ndarray, fashion: Any) -> str | None:
    """Name samples that are lesson 04's validation images, on which the lesson judges the int8
    model, or None.

    The split is lesson 04's (:func:`course_lib.models.fashion_validation_split`) of the
    training images the notebook ran with: fast mode's subset when every sample lies in it (a
    few hundred draws from the whole set never do), else the whole set. An image held by both
    parts (Fashion-MNIST repeats a few) is not counted.
    """
    from types import SimpleNamespace

    from course_lib import data, models

    keys = _image_keys(_as_pixels(images))
    x, y = np.asarray(fashion.x_train), np.asarray(fashion.y_train)
    per_class = data.FAST_TRAIN_PER_CLASS
    if len(x) > per_class * len(fashion.class_names):  # the whole set: was the run a fast one?
        fast_x, fast_y = data.balanced_subset(x, y, per_class, data.SUBSET_SEED)
        if set(keys) <= set(_image_keys(fast_x)):
            x, y = fast_x, fast_y
    train, val, _, _ = models.fashion_validation_split(SimpleNamespace(x_train=x, y_train=y))
    only_val = set(_image_keys(val)) - set(_image_keys(train))
    found = [i for i, key in enumerate(keys) if key in only_val]
    if not found:
        return None
    return (
        f"{len(found)} of your {len(keys)} samples are validation images (sample {found[0]}, "
        "for one), the part of lesson 04's split the lesson keeps as x_val_pixels: this "
        "section decides on them whether int8 costs too much accuracy, and calibrating on "
        "them lets them shape the model that decision judges. Use the training part, x_train."
    )


def exercise_8_4(
    representative_dataset: Callable[[], Any],
    x_train: np.ndarray | None = None,
    x_test: np.ndarray | None = None,
    count: int | None = None,
) -> CheckResult:
    """A generator of ``[batch]`` lists, each one float32 training image of shape (1, h, w, c),
    scaled like training, 100–500 in all.

    The lesson's check cell passes the generator only: the training and test images it is
    judged against are the course's own Fashion-MNIST, read here as the lesson prepares them
    (the notebook's variables could name other images by then), and the notebook's
    ``x_train`` is watched for being reordered where the generator runs. ``x_train`` and
    ``x_test`` may be given for other data (earlier check cells passed ``x_train`` too).
    ``count`` is the number of samples the task asks for (the lesson's ``CALIBRATION_IMAGES``).
    """
    fashion = None
    if x_train is not None:
        try:  # x_train is a notebook variable too
            x_train = as_array(x_train)
            if x_train.ndim < 2:
                raise StudentCodeFailed("")
        except StudentCodeFailed:
            return not_yet(
                "8.4",
                f"the check needs the lesson's `x_train` image array; it got "
                f"{describe(x_train)}. Re-run the cell that loads it.",
            )
    shape = tuple(np.shape(x_train)[1:]) if x_train is not None else (28, 28, 1)
    if x_test is None and shape != (28, 28, 1):
        return not_yet(
            "8.4",
            f"the check needs the lesson's `x_train`, Fashion-MNIST images of shape (n, 28, 28, "
            f"1); it got {describe(x_train)}. Re-run the cell that loads it.",
        )
    if x_test is None:
        fashion = _course_fashion()
        x_test = _course_test_images(shape, fashion)
    else:
        x_test = as_array(x_test)

    def diagnose() -> str | None:
        if not callable(representative_dataset):
            return (
                "pass the function itself (representative_dataset, no parentheses): "
                "the converter calls it when it needs samples."
            )
        # A strided look at x_train, enough to see its order change (the whole set is large).
        step = max(1, len(x_train) // 256) if x_train is not None else 1
        before = np.array(x_train[::step]) if x_train is not None else None
        samples, reordered = _samples(representative_dataset, shape)
        if reordered or (x_train is not None and not np.array_equal(before, x_train[::step])):
            return (
                "your generator reordered x_train itself (np.random.shuffle(x_train) shuffles "
                "in place): its images no longer line up with y_train. Shuffle a copy, or draw "
                "an order: rng.permutation(len(x_train))."
            )
        if not samples:
            return "the generator yields nothing: loop over training images and `yield [batch]`."
        batches = []
        for item in samples:
            if isinstance(item, np.ndarray):
                return (
                    "each sample must be a list holding one batch per model input: `yield "
                    "[batch]`, not `yield batch`."
                )
            if not isinstance(item, list | tuple) or len(item) != 1:
                return (
                    "each sample must be a list with exactly one array (this model has one "
                    "input): `yield [batch]`."
                )
            batch = as_array(item[0], "a sample")
            if batch.shape == shape:
                return (
                    f"a sample has shape {batch.shape}: add the batch axis, image[None] → "
                    f"{(1, *shape)}."
                )
            if batch.ndim != len(shape) + 1 or batch.shape[1:] != shape:
                return (
                    f"a sample has shape {batch.shape}; expected (1, {', '.join(map(str, shape))})."
                )
            if batch.shape[0] == 0:
                return (
                    f"a sample holds no image, shape {batch.shape}: an index past the end of "
                    "the array it slices? The indices must number the training images, "
                    "x_train[i:i + 1]."
                )
            if batch.shape[0] != 1:
                return (
                    f"a sample holds a batch of {batch.shape[0]} images, shape {batch.shape}; "
                    f"the task asks for one image per sample, shape {(1, *shape)}: "
                    "x_train[i:i + 1] or x_train[i][None]."
                )
            if batch.dtype != np.float32:
                return (
                    f"a sample has dtype {batch.dtype}: the converter wants float32, like "
                    "the model input."
                )
            batches.append(batch)
        images = np.concatenate(batches)
        if images.max() > 1.5:
            return (
                f"values go up to {images.max():.0f}: calibrate on what the model really sees, "
                "images scaled to [0, 1] as in training."
            )
        if images.min() < -0.01:
            return (
                f"values go from {images.min():.2f} to {images.max():.2f}: the model sees its "
                "images in [0, 1], as x_train holds them; calibrating on another range gives "
                "the int8 model the wrong input scale."
            )
        if images.max() < 0.1:
            return (
                f"values go only up to {images.max():.4f}: the images were divided by 255 a "
                "second time. x_train already holds what the model sees, in [0, 1]: yield it "
                "as it is."
            )
        if isinstance(count, int | np.integer) and len(images) != count:
            more = " or more" if len(images) > SAMPLE_LIMIT else ""
            return (
                f"your generator yields {len(images)}{more} samples; the task asks for "
                f"CALIBRATION_IMAGES = {count}: take that many from the shuffled order."
            )
        if len(images) < 100:
            return (
                f"{len(images)} images: too few to measure each layer's range reliably; use "
                "a few hundred (100–500)."
            )
        if len(images) > 1000:
            return (
                "more than 1,000 images: the ranges are already stable at a few hundred "
                "(100–500), and conversion gets slow."
            )
        flat = images.reshape(len(images), -1)
        if len(np.unique(flat, axis=0)) < len(images) // 2:
            return (
                "most samples are the same image: the ranges need varied images (different "
                "training images)."
            )
        # Test images before repeats: x_test[i % len(x_test)] repeats them too.
        test_rows = {
            row.tobytes() for row in np.asarray(x_test, np.float32).reshape(len(x_test), -1)
        }
        if any(row.tobytes() in test_rows for row in flat):
            return (
                "some samples are test images: calibrating on the test set lets it shape the model "
                "you then score on it. Use the training part, x_train."
            )
        problem = _repeated_problem(flat, x_train, fashion)
        if problem:
            return problem
        stored = [x_train[: len(images)]] if x_train is not None else []
        if fashion is not None:
            stored += _course_training_starts(shape, len(images), fashion)
        if any(np.array_equal(images, np.asarray(start, np.float32)) for start in stored):
            return (
                f"the samples are the first {len(images)} training images in their stored "
                "order: take them from a shuffled copy (rng.permutation(len(x_train))), since a "
                "set stored by class or by date would calibrate on a few classes only."
            )
        run = _stored_run(images, _stored_orders(x_train, fashion))
        if run is not None:
            return _run_problem(run, len(images))
        if fashion is not None and shape == (28, 28, 1):
            classes = _training_classes(images, fashion)
            if classes.count(None) > len(classes) // 10:
                return (
                    f"{classes.count(None)} of {len(classes)} samples are not Fashion-MNIST "
                    "training images as the model sees them: yield x_train's images as they "
                    "are, x_train[i:i + 1]."
                )
            found = sorted({c for c in classes if c is not None})
            if len(found) < len(fashion.class_names) // 2:
                names = ", ".join(fashion.class_names[c] for c in found)
                return (
                    f"your {len(classes)} samples come from {len(found)} of the "
                    f"{len(fashion.class_names)} classes only ({names}): the ranges must cover "
                    "every kind of image the model will see. Take them from a shuffled copy of "
                    "the training set (rng.permutation(len(x_train)))."
                )
            problem = _validation_problem(images, fashion)
            if problem:
                return problem
        return _unrepeatable_problem(representative_dataset, shape, images)

    return run_check("8.4", diagnose, "a calibration set the int8 converter can use.")


def _unrepeatable_problem(
    representative_dataset: Callable[[], Any], shape: tuple[int, ...], images: np.ndarray
) -> str | None:
    """Whether a second call of the generator yields other samples than the first, ``images``.

    A call of its own (another limit: in two-phase grading each distinct call is run once), so
    that an order drawn unseeded, or from a random state made once outside the function, shows."""
    try:
        again, _ = _samples(representative_dataset, shape, limit=len(images) - 1)
        second = np.concatenate([as_array(item[0], "a sample") for item in again])
        same = second.shape == images.shape and np.array_equal(second, images)
    except Exception:  # a second call that fails or yields something else: not the same samples
        same = False
    if same:
        return None
    return (
        "two calls of representative_dataset() yield different samples, so the conversion "
        "cannot be repeated: the order is drawn unseeded (np.random.permutation, "
        "np.random.default_rng()), or from a random state that moves on at every call (a "
        "generator made outside the function, tf.random.shuffle). Make the generator inside "
        "the function, np.random.default_rng(SEED), so that every call yields the same samples."
    )


# ---------------------------------------------- 8.5 the quantisation parameters of a range

QUANTIZATION_CASES = [  # (low, high, dtype): (scale, zero_point), by TensorFlow Lite's rule
    (0.0, 1.0, np.uint8),  # the model's input: pixels in [0, 1]
    (-1.0, 3.0, np.int8),  # an activation that goes below 0
    (0.5, 2.0, np.uint8),  # a range that does not include 0
    (-6.0, -0.5, np.int8),  # nor this one, from below
    # Zero points that are not whole numbers before rounding: qmin - low / scale is 58.85 and
    # -104.82 here, so cutting the fraction off (int, floor, ceil) gives 58 or -104, not 59, -105.
    (-0.3, 1.0, np.uint8),
    (-0.1, 1.0, np.int8),
]


def _quantization(low: float, high: float, dtype: Any) -> tuple[float, int]:
    info = np.iinfo(dtype)
    low, high = min(low, 0.0), max(high, 0.0)
    scale = (high - low) / (int(info.max) - int(info.min))
    return scale, int(info.min) - round(low / scale)


def exercise_8_5(choose_quantization: Callable[[float, float, Any], Any]) -> CheckResult:
    """choose_quantization(low, high, dtype) -> (scale, zero_point): the range, widened to
    include 0, onto the dtype's integers from its smallest to its largest."""

    cases = QUANTIZATION_CASES
    if salted():  # a grading run: the same kinds of range, stretched by a factor drawn for the run
        factors = np.round(check_rng(85).uniform(0.3, 3.0, size=len(cases)), 2)
        cases = [
            (float(low * f), float(high * f), dtype)
            for (low, high, dtype), f in zip(cases, factors, strict=True)
        ]

    def diagnose() -> str | None:
        type_problem = None
        for low, high, dtype in cases:
            answer = call_student(choose_quantization, low, high, dtype)
            name = np.dtype(dtype).name
            from_array = isinstance(answer, np.ndarray) and answer.shape == (2,)
            if from_array:
                answer = tuple(answer)
            if not isinstance(answer, tuple | list) or len(answer) != 2:
                return (
                    f"for ({low}, {high}, {name}) you returned {answer!r}; return the pair "
                    "(scale, zero_point)."
                )
            try:
                scale, zero_point = float(answer[0]), float(answer[1])
            except (TypeError, ValueError, OverflowError):
                return (
                    f"for ({low}, {high}, {name}) you returned {answer!r}: scale and "
                    "zero_point are numbers."
                )
            expected_scale, expected_zero = _quantization(low, high, dtype)
            info = np.iinfo(dtype)
            steps = int(info.max) - int(info.min)
            span = high - low
            if scale == expected_zero and math.isclose(zero_point, expected_scale, rel_tol=1e-6):
                return (
                    f"for ({low}, {high}, {name}) you returned {answer!r}: the right values in "
                    "the other order. Return (scale, zero_point), the scale first."
                )
            if scale < 0:
                wrapped = math.isclose(scale, -(max(high, 0.0) - min(low, 0.0)), rel_tol=1e-6)
                return f"for ({low}, {high}, {name}) scale is {scale:.6g}, below 0" + (
                    f": qmax - qmin came out as -1, not {steps}. In {name}'s own integers "
                    f"{info.max} - ({info.min}) wraps around; compute with Python's integers, "
                    "int(np.iinfo(dtype).max) - int(np.iinfo(dtype).min)."
                    if wrapped
                    else "; the size of one integer step is positive, (high - low) / (qmax - qmin)."
                )
            if math.isclose(scale, steps / span, rel_tol=1e-6) or math.isclose(
                scale, 1 / expected_scale, rel_tol=1e-6
            ):
                return (
                    "scale is the real size of one integer step, (high - low) / (qmax - qmin), "
                    "not its inverse."
                )
            if math.isclose(scale, span / (steps + 1), rel_tol=1e-6) or math.isclose(
                scale, (max(high, 0.0) - min(low, 0.0)) / (steps + 1), rel_tol=1e-6
            ):
                return (
                    f"{name} has {steps + 1} values but {steps} steps between its smallest and "
                    f"its largest: divide the range by qmax - qmin = {steps}."
                )
            if (
                zero_point == 0
                and math.isclose(scale, max(abs(low), abs(high)) / int(info.max), rel_tol=1e-6)
                and not math.isclose(scale, expected_scale, rel_tol=1e-6)
            ):
                return (
                    "that is symmetric quantisation (zero point 0, scale max|x| / qmax), which "
                    "TensorFlow Lite uses for weights; activations use the whole range [low, "
                    "high] with a zero point."
                )
            if math.isclose(scale, span / steps, rel_tol=1e-6) and not math.isclose(
                scale, expected_scale, rel_tol=1e-6
            ):
                return (
                    f"for the range [{low}, {high}] the real number 0 falls between two "
                    "integers: widen the range to include 0 before computing the scale, so "
                    "that 0, the padding and ReLU's output, is stored exactly."
                )
            given_scale = answer[0]
            low_precision = _half_precision(given_scale)
            if (
                low_precision is not None
                and math.isclose(scale, expected_scale, rel_tol=2e-3)
                and not math.isclose(scale, expected_scale, rel_tol=1e-6)
            ):
                return (
                    f"for ({low}, {high}, {name}) scale is {scale:.6g}, a "
                    f"{low_precision.name}, which keeps about 3 digits; expected "
                    f"{expected_scale:.6g}. Keep the scale a float (Python's, or float32/64)."
                )
            if not math.isclose(scale, expected_scale, rel_tol=1e-6):
                return (
                    f"for ({low}, {high}, {name}) scale is {scale:.6g}; expected "
                    f"{expected_scale:.6g}, (high - low) / (qmax - qmin)."
                )
            if zero_point != round(zero_point):
                return (
                    f"zero_point is {zero_point:g}: it is the integer that stands for 0, so "
                    "round it (the stored q values are integers too)."
                )
            exact_zero = int(info.min) - min(low, 0.0) / expected_scale
            if zero_point != expected_zero and zero_point in (
                math.trunc(exact_zero),
                math.floor(exact_zero),
                math.ceil(exact_zero),
                int(info.min) - math.trunc(min(low, 0.0) / expected_scale),
            ):
                return (
                    f"for ({low}, {high}, {name}) zero_point is {zero_point:g}, but qmin - low / "
                    f"scale is {exact_zero:.2f} there: int(), floor or ceil cut the fraction "
                    "off the wrong way. Round to the nearest integer, so that the real 0 lands "
                    "as close as it can to an integer."
                )
            if zero_point == -round(low / scale) != expected_zero:
                return (
                    f"for {name}, zero_point is {zero_point:g}, which maps low onto 0; but "
                    f"{name}'s integers run from {info.min} to {info.max}: low must map onto "
                    "qmin, the type's smallest integer. Take qmin and qmax from the dtype "
                    "(np.iinfo), not from another type's range."
                )
            if zero_point == int(info.min) + round(low / scale) != expected_zero:
                return (
                    "zero_point has the wrong sign of low / scale: low must map onto qmin, "
                    "that is qmin = low / scale + zero_point; solve that for zero_point."
                )
            if zero_point != expected_zero:
                return (
                    f"for ({low}, {high}, {name}) zero_point is {zero_point:g}; expected "
                    f"{expected_zero}: low must map onto qmin, qmin = low / scale + "
                    "zero_point, with zero_point rounded to an integer."
                )
            given_scale = answer[0]
            if not isinstance(given_scale, float | np.floating):  # bool is no float either
                type_problem = type_problem or (  # named once every value is right, as below
                    f"for ({low}, {high}, {name}) scale is {describe(given_scale)}: the value "
                    "is right, but the task asks for a float, a real number of the step; "
                    "return float(...) of it."
                )
            given = answer[1]
            if isinstance(given, bool | np.bool_) or not isinstance(given, int | np.integer):
                array = (
                    " (a NumPy array holds one type for both: return a tuple)" if from_array else ""
                )
                type_problem = type_problem or (  # named once every value is right
                    f"for ({low}, {high}, {name}) zero_point is {describe(given)}: the value is "
                    "right, but the task asks for an integer, the type it is stored as; return "
                    f"int(...) of it{array}."
                )
        return type_problem

    return run_check(
        "8.5",
        diagnose,
        "low maps onto the smallest integer, high onto the largest, 0 exactly onto "
        "zero_point: TensorFlow Lite's rule for activations.",
    )
