"""Training on several devices or machines with ``tf.distribute`` (lesson 08).

The same custom training loop, :func:`train_loop`, runs under three strategies:

- the default strategy: one device, the single-worker baseline;
- ``MirroredStrategy``: several devices in one process (:func:`use_logical_cpus`
  splits a laptop's CPU in two so there is something to mirror);
- ``MultiWorkerMirroredStrategy``: several processes, each started by
  :mod:`course_lib.distributed_cluster` and running :mod:`course_lib.distributed_worker`.

Every step sees the same global batch whatever the strategy: the data order is a
seeded shuffle, so a given step number always gets the same batch, and a run
resumed from a checkpoint continues exactly where the lost one was.
TensorFlow is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from course_lib import config
from course_lib.allocator import release_freed_memory

if TYPE_CHECKING:
    import keras
    import tensorflow as tf


#: How far (largest absolute difference) the weights of a run on several replicas may be from
#: the single-device run of the same plan. Mathematically the two compute the same gradients,
#: but float sums in another order differ in the last bits, and training amplifies that.
#: Measured on fast-mode data, batch 64, 2 replicas vs 1: SGD (lr 0.01) 1.5e-8 after 5 steps,
#: 7.3e-5 after 40, 1.1e-4 after 80; Adam (lr 1e-3) 6.1e-5 after 10 steps, 5.3e-3 after 40,
#: since Adam divides by the gradients' size, near-zero gradients turn rounding noise into
#: full-size steps. These bounds hold for such short runs only: after 300 full-mode steps the
#: weights differed by 0.05 to 0.09 with either optimizer, so longer runs compare losses instead.
MATCH_TOLERANCE = {"sgd": 1e-3, "adam": 2e-2}


def use_logical_cpus(n: int = 2) -> list[str]:
    """Split the CPU into ``n`` logical devices and return their names, for ``MirroredStrategy``.

    TensorFlow fixes its devices the first time it uses one, so call this in the
    set-up cell, before anything else touches TensorFlow.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * n
        )
    except RuntimeError as exc:  # raised once the devices exist, unless they are configured alike
        found = len(tf.config.list_logical_devices("CPU"))
        if found == n:
            return [device.name for device in tf.config.list_logical_devices("CPU")]
        raise RuntimeError(
            f"TensorFlow already set up {found} CPU device(s) and cannot split the CPU into {n} "
            "now. "
            "Restart the kernel and run the set-up cell (which calls use_logical_cpus) first."
        ) from exc
    return [device.name for device in tf.config.list_logical_devices("CPU")]


@dataclass(frozen=True)
class TrainingPlan:
    """Everything that decides what a run computes; two runs with equal plans train alike."""

    steps: int = field(default_factory=lambda: config.pick(full=300, fast=40))
    global_batch_size: int = 64
    checkpoint_every: int = field(default_factory=lambda: config.pick(full=50, fast=10))
    learning_rate: float = 1e-3
    optimizer: str = "adam"  # "adam" or "sgd"
    seed: int = 0
    subset: int = field(
        default_factory=lambda: config.pick(full=1000, fast=100)
    )  # training images per class


@dataclass
class TrainingRun:
    """What one worker (or one in-process run) did: steps, losses and the final weights."""

    worker: int
    num_workers: int
    start_step: int  # 0, or the step of the checkpoint it resumed from
    final_step: int
    losses: dict[int, float]  # step number (counted from 1) -> loss of that step's global batch
    weights: list[np.ndarray]
    seconds: float

    @property
    def digest(self) -> str:
        """A short fingerprint of the final weights: equal digests, bit-identical weights."""
        return weights_digest(self.weights)


def training_dataset(
    images: np.ndarray, labels: np.ndarray, global_batch_size: int, seed: int, start_step: int = 0
) -> tf.data.Dataset:
    """Global batches in a seeded order, starting with the batch of step ``start_step + 1``."""
    import tensorflow as tf

    from course_lib import models

    images = np.asarray(images)
    if images.ndim == 3:  # grayscale without a channel axis: the model wants (h, w, 1)
        images = images[..., None]
    prep = models.preprocessing_for(images.shape[1:])
    # The images stay uint8 in memory (a quarter of float32's size: every worker is a process of
    # its own holding a copy) and each batch is scaled as it is gathered by models.scale_pixels,
    # the course's one scale rule, which as_model_input applies too: bit-identical values
    # (tests/test_distributed.py checks it).
    x = tf.constant(images)
    y = tf.constant(labels)

    def gather(batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return models.scale_pixels(tf.gather(x, batch), prep), tf.gather(y, batch)

    # Shuffle the images' *indices*, not the images: the same batches in the same order (same
    # seed, same shuffle), without the copies of the data that from_tensor_slices and a
    # shuffle buffer of images would hold.
    ds = tf.data.Dataset.range(len(labels))
    ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(global_batch_size, drop_remainder=True).skip(start_step).map(gather)
    options = tf.data.Options()
    # The data is in memory, not in files: each worker takes its share of every global batch.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def make_train_step(
    strategy: tf.distribute.Strategy,
    model: keras.Model,
    optimizer: keras.Optimizer,
    global_batch_size: int,
) -> Callable:
    """One synchronous training step on every replica; returns the loss of the global batch.

    Taught in lesson 08, where students write it (exercise 8.1) because Keras 3's ``fit`` does not
    run under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585). This copy is the one
    :func:`train` and the workers of :mod:`course_lib.distributed_worker` run.
    """
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            per_example_loss = loss_fn(labels, model(images, training=True))
            # Divide by the GLOBAL batch size, not this replica's share: the sum over
            # replicas is then the mean over the whole batch, as on one device.
            loss = tf.nn.compute_average_loss(per_example_loss, global_batch_size=global_batch_size)
        gradients = tape.gradient(loss, model.trainable_variables)
        # Under a strategy the optimizer sums the replicas' gradients before applying them.
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def train_step(batch):
        per_replica_loss = strategy.run(replica_step, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica_loss, axis=None)

    return train_step


def train_loop(
    strategy: tf.distribute.Strategy,
    model: keras.Model,
    optimizer: keras.Optimizer,
    dataset: tf.data.Dataset,
    step: tf.Variable,
    plan: TrainingPlan,
    checkpoints: tf.train.CheckpointManager | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> dict[int, float]:
    """Train from ``step`` to ``plan.steps``, with a checkpoint every ``plan.checkpoint_every``."""
    train_step = make_train_step(strategy, model, optimizer, plan.global_batch_size)
    batches = iter(strategy.experimental_distribute_dataset(dataset))
    losses = {}
    while int(step) < plan.steps:
        loss = float(train_step(next(batches)))
        step.assign_add(1)
        losses[int(step)] = loss
        if checkpoints is not None and int(step) % plan.checkpoint_every == 0:
            checkpoints.save(
                checkpoint_number=int(step)
            )  # every worker saves: it may need collectives
        if on_step is not None:  # after the save: a step reported is a step that survives a crash
            on_step(int(step), loss)
    return losses


def worker_index(strategy: tf.distribute.Strategy) -> tuple[int, int]:
    """This process's index among the workers, and how many there are (0, 1 outside a cluster)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return 0, 1
    return int(resolver.task_id), len(resolver.cluster_spec().as_dict().get("worker", []))


def build_optimizer(plan: TrainingPlan) -> keras.Optimizer:
    """The plan's optimizer: Adam by default, plain SGD for the closest 1-vs-n-worker match."""
    import keras

    if plan.optimizer == "adam":
        return keras.optimizers.Adam(plan.learning_rate)
    if plan.optimizer == "sgd":
        return keras.optimizers.SGD(plan.learning_rate)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {plan.optimizer!r}")


def train(
    plan: TrainingPlan | None = None,
    strategy: tf.distribute.Strategy | None = None,
    checkpoint_dir: str | Path | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainingRun:
    """Train the baseline CNN on Fashion-MNIST with :func:`train_loop` under ``strategy``.

    With ``checkpoint_dir`` it first restores the latest checkpoint there and
    continues from its step. Only the chief (worker 0) writes to ``checkpoint_dir``;
    the other workers save to a temporary folder that is deleted afterwards.
    """
    import keras
    import tensorflow as tf

    from course_lib import data, models

    plan = plan or TrainingPlan()
    strategy = strategy or tf.distribute.get_strategy()
    keras.utils.set_random_seed(plan.seed)
    fashion = data.load_fashion_mnist(subset=plan.subset)
    started = time.perf_counter()
    with strategy.scope():
        model = models.build_baseline_cnn((28, 28, 1), fashion.num_classes)
        optimizer = build_optimizer(plan)
        optimizer.build(
            model.trainable_variables
        )  # its slots must exist before a restore fills them
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    index, num_workers = worker_index(strategy)
    checkpoints, scratch = None, None
    if checkpoint_dir is not None:
        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step)
        latest = tf.train.latest_checkpoint(str(checkpoint_dir))
        if latest:
            checkpoint.restore(latest).assert_existing_objects_matched()
        if index != 0:  # two workers writing one folder would corrupt it
            # Inside the run's own folder, so that a worker killed before its clean-up
            # leaves nothing in the system's temporary folder.
            scratch = Path(checkpoint_dir) / f".worker{index}-scratch"
            shutil.rmtree(scratch, ignore_errors=True)  # a killed predecessor's
            scratch.mkdir(parents=True)
        checkpoints = tf.train.CheckpointManager(
            checkpoint, str(scratch or checkpoint_dir), max_to_keep=3
        )
    start_step = int(step)
    dataset = training_dataset(
        fashion.x_train, fashion.y_train, plan.global_batch_size, plan.seed, start_step
    )
    del fashion  # the dataset holds the images it needs; the rest is not kept for the whole run
    release_freed_memory()  # what loading the data left behind
    try:
        losses = train_loop(strategy, model, optimizer, dataset, step, plan, checkpoints, on_step)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return TrainingRun(
        index,
        num_workers,
        start_step,
        int(step),
        losses,
        model.get_weights(),
        time.perf_counter() - started,
    )


def weights_digest(weights: Sequence[np.ndarray]) -> str:
    """SHA-256 (first 16 hex digits) of the weights' bytes, in order."""
    sha = hashlib.sha256()
    for array in weights:
        sha.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    return sha.hexdigest()[:16]


def max_weight_difference(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """The largest absolute difference between two models' corresponding weights."""
    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b, strict=True)):
        raise ValueError("the two lists of weights have different shapes")
    return max(
        float(np.max(np.abs(np.asarray(x, np.float64) - y))) for x, y in zip(a, b, strict=True)
    )


def save_run(run: TrainingRun, out_dir: str | Path) -> Path:
    """Write ``worker-<i>.json`` (steps, losses, digest) and ``worker-<i>.npz`` (weights)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez(out_dir / f"worker-{run.worker}.npz", *run.weights)
    summary = {
        "worker": run.worker, "num_workers": run.num_workers, "start_step": run.start_step,
        "final_step": run.final_step, "losses": run.losses, "weights_digest": run.digest,
        "weights_file": f"worker-{run.worker}.npz", "seconds": round(run.seconds, 3),
    }  # fmt: skip
    path = out_dir / f"worker-{run.worker}.json"
    path.write_text(json.dumps(summary, indent=1))
    return path


def load_run(path: str | Path) -> TrainingRun:
    """Read back what :func:`save_run` wrote."""
    path = Path(path)
    summary = json.loads(path.read_text())
    with np.load(path.parent / summary["weights_file"]) as npz:
        weights = [npz[f"arr_{i}"] for i in range(len(npz.files))]
    losses = {int(step): loss for step, loss in summary["losses"].items()}
    return TrainingRun(
        summary["worker"],
        summary["num_workers"],
        summary["start_step"],
        summary["final_step"],
        losses,
        weights,
        summary["seconds"],
    )
