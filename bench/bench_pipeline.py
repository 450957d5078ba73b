"""Images per second: a tf.data pipeline against the legacy ImageDataGenerator, same folder.

Writes Fashion-MNIST training images as PNG files into a temporary folder, then reads them
back through both pipelines, doing the same work per image (decode, scale to [0, 1], batch,
and optionally the same random flip, rotation, zoom and shift). Each pipeline is timed over
whole epochs with ``course_lib.pipeline.measure_throughput`` (lesson 02 uses the same code),
``--repeats`` times; the median is reported. Results go to ``bench/results/pipeline.md``.

    python bench/bench_pipeline.py                 # 10,000 images, about a minute on 2 cores
    python bench/bench_pipeline.py --per-class 200 # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from course_lib import data, legacy, pipeline  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "pipeline.md"
GOAL = 3.0  # speed-up of tf.data over ImageDataGenerator the course aims for
# Legacy transforms call a SciPy function through a namespace SciPy has deprecated.
warnings.filterwarnings("ignore", category=DeprecationWarning, module="keras")


def median_rate(make_batches, n_images: int, repeats: int, fill_cache: bool = False) -> float:
    """Median images/s over ``repeats`` epochs, each from a fresh pipeline."""
    rates = []
    for _ in range(repeats):
        batches = make_batches()
        if fill_cache:
            for _ in batches:  # the first epoch reads the files and fills the cache
                pass
        rates.append(pipeline.measure_throughput(batches, n_images).images_per_second)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--per-class", type=int, default=1000, help="images per class in the folder"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    args.load_at_start = (
        ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    )
    generator_class, import_report = legacy.import_image_data_generator()
    if generator_class is None:
        sys.exit(f"ImageDataGenerator does not import here, nothing to compare: {import_report}")

    fashion = data.load_fashion_mnist()
    names = [data.folder_name(c) for c in fashion.class_names]
    rows = []
    with tempfile.TemporaryDirectory(prefix="fashion-png-") as tmp:
        started = time.perf_counter()
        root = data.make_image_folder(fashion, tmp, per_class=args.per_class, seed=args.seed)
        n_files = args.per_class * len(names)
        print(f"wrote {n_files:,} PNG files in {time.perf_counter() - started:.1f} s")
        for augmented in (False, True):
            old_way = median_rate(
                lambda a=augmented: legacy.folder_iterator(
                    generator_class, root, names, batch_size=args.batch_size, augment=a,
                    seed=args.seed),
                n_files, args.repeats,
            )  # fmt: skip

            def tf_data(cache: bool, a: bool = augmented) -> tf.data.Dataset:
                augment = pipeline.augmentation_layers(contrast=0, seed=args.seed) if a else None
                return pipeline.folder_dataset(
                    root,
                    names,
                    batch_size=args.batch_size,
                    augment=augment,
                    cache=cache,
                    seed=args.seed,
                )

            from_files = median_rate(lambda: tf_data(cache=False), n_files, args.repeats)
            cached = median_rate(
                lambda: tf_data(cache=True), n_files, args.repeats, fill_cache=True
            )
            work = "decode + scale + flip/rotate/zoom/shift" if augmented else "decode + scale"
            rows.append((work, old_way, from_files, cached))
            print(
                f"{work}: legacy {old_way:,.0f}/s, tf.data {from_files:,.0f}/s, "
                f"tf.data cached {cached:,.0f}/s"
            )

    write_results(args, rows, n_files)
    print(f"wrote {args.output}")


def write_results(
    args: argparse.Namespace, rows: list[tuple[str, float, float, float]], n_files: int
) -> None:
    import scipy

    lines = [
        "# Pipeline throughput: tf.data against ImageDataGenerator",
        "",
        f"Measured by `bench/bench_pipeline.py` on {dt.date.today().isoformat()}. "
        f"Both pipelines read the same folder of {n_files:,} Fashion-MNIST PNG files "
        f"(28 x 28 grayscale), scale them to [0, 1] and deliver batches of {args.batch_size}; "
        f"images per second are the median of {args.repeats} epochs, each after one warm-up "
        'batch. "tf.data" reads and decodes the files every epoch, as the legacy generator does; '
        '"tf.data cached" is an epoch after the first, served from the decoded images `cache()` '
        "kept in memory.",
        "",
        "| work per image | ImageDataGenerator | tf.data | speed-up | tf.data cached | speed-up |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for work, old_way, from_files, cached in rows:
        lines.append(
            f"| {work} | {old_way:,.0f}/s | {from_files:,.0f}/s | ×{from_files / old_way:.1f} "
            f"| {cached:,.0f}/s | ×{cached / old_way:.1f} |"
        )
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    verdicts = [
        f"{'met' if from_files / old_way >= GOAL else 'not met'} for {work} "
        f"(×{from_files / old_way:.1f} from files, ×{cached / old_way:.1f} cached)"
        for work, old_way, from_files, cached in rows
    ]
    lines += [
        "",
        f"Goal, tf.data at least {GOAL:g} times as fast as the legacy generator while both "
        f"read the files every epoch: {'; '.join(verdicts)}.",
        "",
        "## Machine",
        "",
        f"- CPUs: {os.cpu_count()} ({affinity} available to the process); {platform.machine()}, "
        f"{platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}, NumPy {np.__version__}, SciPy {scipy.__version__}",
        f"- Load average when the run started: {args.load_at_start}. Other processes were free "
        "to run at the same time; on a busy machine the figures move by tens of percent from "
        "run to run.",
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
