"""Lesson 04's better CNN, trained as the lesson trains it (full mode): wall time and test accuracy.

Writes ``bench/results/training.md``. Run with ``make bench`` or
``python bench/bench_training.py``; not part of the test suite. The
hyperparameters are read from the lesson's parameters cell, and the model is
built and trained with the same ``course_lib`` functions, so the figure is the
lesson's own. ``--augment`` also trains the variant with augmentation.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from course_lib import config, data, models, training  # noqa: E402

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


def train_once(p: dict[str, object], augment: bool) -> dict[str, object]:
    """Split, build, fit and evaluate exactly as section 6 of the lesson does."""
    training.set_seed(p["SEED"])
    fashion = data.load_fashion_mnist()
    x_all = fashion.x_train[..., None].astype("float32") / 255.0
    x_test = fashion.x_test[..., None].astype("float32") / 255.0
    x_train, x_val, y_train, y_val = train_test_split(
        x_all, fashion.y_train, test_size=p["VAL_FRACTION"], stratify=fashion.y_train, random_state=p["SEED"]
    )
    training.set_seed(p["SEED"])
    model = models.build_better_cnn(x_train.shape[1:], fashion.num_classes, augment=augment)
    callbacks = training.make_callbacks(
        config.build_dir() / "bench" / "checkpoint.keras", patience=p["PATIENCE"], schedule=p["LR_SCHEDULE"],
        epochs=p["EPOCHS"], learning_rate=p["LEARNING_RATE"],
    )
    started = time.perf_counter()
    history = training.fit_classifier(
        model, x_train, y_train, x_val, y_val, epochs=p["EPOCHS"], batch_size=p["BATCH_SIZE"],
        learning_rate=p["LEARNING_RATE"], callbacks=callbacks,
    )
    seconds = time.perf_counter() - started
    _, test_accuracy = model.evaluate(x_test, fashion.y_test, verbose=0)
    return {
        "model": model.name,
        "seconds": seconds,
        "epochs": len(history.history["loss"]),
        "best_epoch": training.best_epoch(history),
        "test_accuracy": test_accuracy,
        "train_images": len(x_train),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--augment", action="store_true", help="also train the variant with augmentation")
    args = parser.parse_args()
    if config.is_fast():
        sys.exit("the benchmark measures full mode: unset COURSE_FAST")
    import keras
    import tensorflow as tf

    p = lesson_parameters()
    rows = [train_once(p, augment=p["AUGMENT"])]
    if args.augment and not p["AUGMENT"]:
        rows.append(train_once(p, augment=True))
    cpus, load = os.cpu_count() or 1, os.getloadavg()[0]
    lines = [
        "# Training benchmark (lesson 04)",
        "",
        "The better CNN of lesson 04 trained on Fashion-MNIST exactly as the lesson does in full mode",
        f"(`bench/bench_training.py`, parameters read from `{LESSON.relative_to(ROOT)}`).",
        "",
        "| model | training images | epochs run (max) | best epoch | wall time | s / epoch | test accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['train_images']:,} | {r['epochs']} ({p['EPOCHS']}) | {r['best_epoch']} "
            f"| {r['seconds'] / 60:.1f} min | {r['seconds'] / r['epochs']:.0f} | {r['test_accuracy']:.4f} |"
        )
    lines += [
        "",
        f"- parameters: batch {p['BATCH_SIZE']}, learning rate {p['LEARNING_RATE']} ({p['LR_SCHEDULE']} schedule), "
        f"early-stopping patience {p['PATIENCE']}, validation fraction {p['VAL_FRACTION']}, seed {p['SEED']}",
        f"- machine: {cpus} CPUs ({platform.machine()}, {platform.system()}), load average at the end "
        f"{load:.1f}" + (" (above the CPU count: other processes were competing for the CPUs)" if load > cpus else ""),
        f"- Python {platform.python_version()}, TensorFlow {tf.__version__}, Keras {keras.__version__}",
        f"- date: {dt.date.today().isoformat()}",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
