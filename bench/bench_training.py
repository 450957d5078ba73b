"""Lesson 04's full training run, side by side with the candidates it was chosen from.

Writes ``bench/results/training.md``. Run with ``make bench`` or
``python bench/bench_training.py [--candidates lesson,previous,...] [--seeds 42,1]``;
not part of the test suite. Each candidate is trained the way section 6 of the lesson
trains: Fashion-MNIST split as the lesson splits it, batches from ``pipeline.make_dataset``,
Adam, early stopping and a checkpoint on the validation loss. The ``lesson`` candidate reads
its hyperparameters from the lesson's parameters cell and builds the model and the schedule
with the library copies the lesson is tested against, so its figures are the lesson's own.

Per candidate the table gives the wall time and the CPU time (user + system, all threads)
per epoch: on a machine shared with other work the wall time grows with the load, the CPU
time much less. The load average is sampled before and after every candidate.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import math
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from course_lib import config, data, models, pipeline, training  # noqa: E402

LESSON = ROOT / "solutions" / "04_training.ipynb"
RESULTS = ROOT / "bench" / "results" / "training.md"


def lesson_parameters(path: Path = LESSON) -> dict[str, object]:
    """The literal assignments of the lesson's ``parameters`` cell."""
    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    params = {}
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            params[node.targets[0].id] = ast.literal_eval(node.value)
    return params


@dataclass(frozen=True)
class Candidate:
    """A model and how it is trained; the data, split, pipeline and callbacks are shared."""

    name: str
    description: str
    build: Callable[[], object]
    epochs: int
    optimizer: Callable[[int], object]  # steps per epoch -> a Keras optimizer
    callbacks: Callable[[], list] = list  # extra callbacks (a per-epoch learning-rate scheduler)


def _previous_cosine(
    epoch: int, epochs: int = 12, initial: float = 1e-3, final: float = 1e-5
) -> float:
    """The per-epoch cosine the lesson used before: 1e-3 down to 1e-5 over 12 epochs."""
    progress = min(epoch, epochs - 1) / (epochs - 1)
    return final + 0.5 * (initial - final) * (1 + math.cos(math.pi * progress))


def candidates(p: dict[str, object]) -> dict[str, Candidate]:
    import keras
    from keras import layers

    def adam_warmup(peak: float, epochs: int) -> Callable[[int], object]:
        return lambda steps: keras.optimizers.Adam(training.warmup_cosine(peak, epochs, steps))

    def gap_head() -> (
        object
    ):  # the lesson's blocks, one more 128-filter conv on 3x3, global average pooling
        stack = [keras.Input((28, 28, 1))]
        for width, pool in ((16, True), (32, True), (64, True), (128, False)):
            stack += [
                layers.Conv2D(width, 3, padding="same", use_bias=False),
                layers.BatchNormalization(momentum=0.9),
                layers.ReLU(),
            ] + ([layers.MaxPooling2D()] if pool else [])
        stack += [
            layers.GlobalAveragePooling2D(),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ]
        return keras.Sequential(stack, name="better_cnn_gap")

    epochs, peak = int(p["EPOCHS"]), float(p["PEAK_LEARNING_RATE"])
    lesson = (
        "filters 16-32-64, Dense 128, dropout 0.1 / 0.2; warm-up + cosine to a peak of "
        f"{peak:g}, {epochs} epochs"
    )
    return {
        "lesson": Candidate(
            "lesson", lesson, lambda: models.build_better_cnn(), epochs, adam_warmup(peak, epochs)
        ),
        "previous": Candidate(
            "previous",
            "filters 32-64-128, Dense 128, dropout 0.25 / 0.3; per-epoch cosine 1e-3 -> 1e-5, "
            "12 epochs (the lesson before this benchmark)",
            lambda: models.build_better_cnn(
                filters=(32, 64, 128), conv_dropout=0.25, dense_dropout=0.3
            ),
            12,
            lambda steps: keras.optimizers.Adam(1e-3),
            # Keras calls a schedule that takes two arguments as schedule(epoch, lr): the
            # lambda keeps the current rate out of `epochs`.
            lambda: [keras.callbacks.LearningRateScheduler(lambda epoch: _previous_cosine(epoch))],
        ),
        "dropout-0.25-0.3": Candidate(
            "dropout-0.25-0.3",
            "the lesson's, with dropout 0.25 / 0.3",
            lambda: models.build_better_cnn(conv_dropout=0.25, dense_dropout=0.3),
            epochs,
            adam_warmup(peak, epochs),
        ),
        "peak-3e-3": Candidate(
            "peak-3e-3",
            "the lesson's, with a peak learning rate of 3e-3",
            lambda: models.build_better_cnn(),
            epochs,
            adam_warmup(3e-3, epochs),
        ),
        "gap": Candidate(
            "gap",
            "the lesson's three blocks, then Conv 128 on 3x3 and global average pooling instead of "
            "Flatten + Dense 128 (dropout 0.3 before the output)",
            gap_head,
            epochs,
            adam_warmup(peak, epochs),
        ),
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def train_once(candidate: Candidate, p: dict[str, object], seed: int) -> dict[str, object]:
    """Split, build, fit and evaluate as section 6 of the lesson does."""
    import keras

    fashion = data.load_fashion_mnist()
    x_train, x_val, y_train, y_val = train_test_split(
        fashion.x_train,
        fashion.y_train,
        test_size=p["VAL_FRACTION"],
        stratify=fashion.y_train,
        random_state=p["SEED"],
    )
    training.set_seed(seed)
    ds_train = pipeline.make_dataset(x_train, y_train, p["BATCH_SIZE"], shuffle=True, seed=seed)
    ds_val = pipeline.make_dataset(x_val, y_val, p["BATCH_SIZE"])
    model = candidate.build()
    model.compile(
        optimizer=candidate.optimizer(int(ds_train.cardinality())),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=p["PATIENCE"], restore_best_weights=True
        ),
        keras.callbacks.ModelCheckpoint(
            config.build_dir() / "bench" / "checkpoint.keras", save_best_only=True
        ),
        *candidate.callbacks(),
    ]
    load_before = os.getloadavg()[0]
    cpu, started = _cpu_seconds(), time.perf_counter()
    history = model.fit(
        ds_train, validation_data=ds_val, epochs=candidate.epochs, callbacks=callbacks, verbose=2
    )
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    _, test_accuracy = model.evaluate(
        pipeline.make_dataset(fashion.x_test, fashion.y_test, 512), verbose=0
    )
    epochs = len(history.history["loss"])
    best = training.best_epoch(history)
    return {
        "name": candidate.name,
        "seed": seed,
        "params": model.count_params(),
        "epochs": epochs,
        "max_epochs": candidate.epochs,
        "best_epoch": best,
        "seconds": seconds,
        "cpu": cpu,
        "val_accuracy": history.history["val_accuracy"][best - 1],
        "test_accuracy": test_accuracy,
        "load": (load_before, os.getloadavg()[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--candidates",
        default="lesson,previous",
        help="comma-separated, from: lesson, previous, dropout-0.25-0.3, peak-3e-3, gap",
    )
    parser.add_argument(
        "--seeds", default="", help="comma-separated training seeds (default: the lesson's SEED)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if config.is_fast():
        sys.exit("the benchmark measures full mode: unset COURSE_FAST")
    import keras
    import tensorflow as tf

    p = lesson_parameters()
    available = candidates(p)
    chosen = [available[name] for name in args.candidates.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [int(p["SEED"])]
    cpus = len(os.sched_getaffinity(0))
    rows = [train_once(c, p, seed) for seed in seeds for c in chosen]
    lines = [
        "# Training benchmark (lesson 04)",
        "",
        "Lesson 04's full run and the candidates it was chosen from, trained one after the other",
        "in one process (`bench/bench_training.py`, parameters read from",
        f"`{LESSON.relative_to(ROOT)}`): the same split, `pipeline.make_dataset` batches of",
        f"{p['BATCH_SIZE']}, Adam, early stopping (patience {p['PATIENCE']}) on the validation "
        "loss.",
        "",
        "| candidate | seed | parameters | epochs run (max) | best epoch | wall s / epoch "
        "| CPU s / epoch | training wall time | load before → after "
        "| val accuracy (best epoch) | test accuracy |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['seed']} | {r['params']:,} | {r['epochs']} ({r['max_epochs']}) "
            f"| {r['best_epoch']} | {r['seconds'] / r['epochs']:.1f} "
            f"| {r['cpu'] / r['epochs']:.1f} | {r['seconds'] / 60:.1f} min "
            f"| {r['load'][0]:.1f} → {r['load'][1]:.1f} | {r['val_accuracy']:.4f} | "
            f"{r['test_accuracy']:.4f} |"
        )
    lines += ["", "Candidates:"]
    lines += [f"- `{c.name}`: {c.description}" for c in chosen]
    lines += [
        "",
        f"- machine: {cpus} CPU(s) available to the process "
        f"({platform.machine()}, {platform.system()}); the load average is the 1-minute one. "
        f"Above {cpus}, other processes were competing for the CPUs and the wall times are "
        "inflated; the CPU times much less so.",
        "- peak resident memory of the benchmark process: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB",
        f"- Python {platform.python_version()}, TensorFlow {tf.__version__}, Keras "
        f"{keras.__version__}",
        f"- date: {dt.date.today().isoformat()}",
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
