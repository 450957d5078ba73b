"""Latency and throughput of the course service against the ``model.predict`` baseline.

Both apps run at the same time under the same gunicorn settings on 127.0.0.1,
load the same ``.keras`` file and receive the same image files; only the app
code differs. Measurements alternate between the two apps in rounds, so that
other activity on the machine affects both alike. Two models:

- the Fashion-MNIST CNN (lesson 04's, trained now if missing): a small model,
  where the cost of calling it dominates. The target: p50 at least 10× lower.
- ImageNet EfficientNet-Lite0 (lesson 06's, the default of ``make serve``), where
  the network's own compute is a larger share of each request.

Writes ``bench/results/serving.md``. Run with ``make bench`` or
``python bench/bench_serving.py [--quick]``.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib import config, data, models  # noqa: E402
from course_lib.serving import ServeConfig, free_port, start_server  # noqa: E402
from course_lib.serving.classifier import imagenet_preprocessing  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "serving.md"
WORK = config.build_dir() / "bench" / "serving"
THREADS = 8  # gunicorn threads per worker, and concurrent clients


def encode(pixels: np.ndarray, fmt: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def fashion_case() -> tuple[Path, list[tuple[str, bytes]]]:
    _, _ = models.load_or_train_fashion_cnn()
    test = data.load_fashion_mnist().x_test[:200]
    return models.fashion_model_path(), [
        (f"fashion{i}.png", encode(x, "PNG")) for i, x in enumerate(test)
    ]


def imagenet_case() -> tuple[Path, list[tuple[str, bytes]]]:
    from course_lib import efficientnet_lite, pretrained

    path = WORK / "efficientnet_lite0.keras"
    if not path.is_file():
        model = efficientnet_lite.efficientnet_lite0(include_top=True)
        models.save_model(
            model,
            path,
            pretrained.imagenet_class_names(),
            imagenet_preprocessing(),
            outputs="logits",
        )
    photos = data.sample_photos()
    return path, [(f"{name}.jpg", encode(pixels, "JPEG")) for name, pixels in photos.items()]


def post(session: requests.Session, url: str, name: str, payload: bytes) -> tuple[float, dict]:
    started = time.perf_counter()
    response = session.post(f"{url}/predict", files={"file": (name, payload)}, timeout=120)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed, response.json()


def sequential(
    url: str, images: list[tuple[str, bytes]], n: int, start: int = 0
) -> tuple[list[float], dict[str, dict]]:
    latencies, answers = [], {}
    with requests.Session() as session:
        for i in range(start, start + n):
            name, payload = images[i % len(images)]
            ms, body = post(session, url, name, payload)
            latencies.append(ms)
            answers[name] = body
    return latencies, answers


def concurrent(
    url: str, images: list[tuple[str, bytes]], per_client: int
) -> tuple[list[float], float, int]:
    def client(k: int) -> tuple[list[float], int]:
        times, errors = [], 0
        with requests.Session() as session:
            for i in range(per_client):
                name, payload = images[(k * per_client + i) % len(images)]
                try:
                    times.append(post(session, url, name, payload)[0])
                except requests.RequestException:
                    errors += 1
        return times, errors

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(client, range(THREADS)))
    seconds = time.perf_counter() - started
    latencies = [t for times, _ in results for t in times]
    return latencies, len(latencies) / seconds, sum(e for _, e in results)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def bench_model(
    label: str,
    model_path: Path,
    images: list[tuple[str, bytes]],
    rounds: int,
    per_round: int,
    per_client: int,
) -> dict:
    print(
        f"\n== {label}: {len(images)} images, {rounds} rounds of {per_round} sequential requests per app"
    )
    db = WORK / f"{model_path.stem}.sqlite3"
    db.unlink(missing_ok=True)
    service_config = ServeConfig.from_env(
        {}, model=str(model_path), db=db, port=free_port(), threads=THREADS
    )
    baseline_config = ServeConfig.from_env({}, port=free_port(), threads=THREADS)
    servers = {}
    try:
        servers["service"] = start_server(
            service_config, log_path=WORK / "service.log", timeout=600
        )
        servers["baseline"] = start_server(
            baseline_config,
            app="baseline_app:app",
            log_path=WORK / "baseline.log",
            timeout=600,
            env={"BASELINE_MODEL": str(model_path), "PYTHONPATH": str(ROOT / "bench")},
        )
        for server in servers.values():  # warm both up (first calls trace and allocate)
            sequential(server.url, images, min(20, 2 * len(images)))
        latencies: dict[str, list[float]] = {"service": [], "baseline": []}
        answers: dict[str, dict] = {"service": {}, "baseline": {}}
        for r in range(rounds):
            for name in ("baseline", "service") if r % 2 else ("service", "baseline"):
                times, seen = sequential(servers[name].url, images, per_round, start=r * per_round)
                latencies[name] += times
                answers[name].update(seen)
            print(
                f"round {r + 1}: p50 service {statistics.median(latencies['service']):.1f} ms, "
                f"baseline {statistics.median(latencies['baseline']):.1f} ms",
                flush=True,
            )
        loaded = {}
        for name in ("service", "baseline"):
            loaded[name] = concurrent(servers[name].url, images, per_client)
            print(
                f"{name}: {loaded[name][1]:.0f} requests/s with {THREADS} concurrent clients",
                flush=True,
            )
    finally:
        for server in servers.values():
            server.stop()
    same_label = sum(
        answers["service"][k]["label"] == answers["baseline"][k]["label"]
        for k in answers["baseline"]
    )
    gap = max(
        abs(answers["service"][k]["confidence"] - answers["baseline"][k]["confidence"])
        for k in answers["baseline"]
    )
    return {
        "label": label,
        "images": len(answers["baseline"]),
        "same_label": same_label,
        "gap": gap,
        "latencies": latencies,
        "loaded": loaded,
    }


def in_process_call_costs(model_path: Path, repeats: int = 50) -> dict[str, float]:
    """Median ms for one image: ``model.predict`` vs the service's compiled call."""
    from course_lib.serving import KerasClassifier

    classifier = KerasClassifier.from_saved(model_path)
    x = np.zeros((1, *classifier.input_shape), np.float32)
    out = {}
    for name, call in (
        ("model.predict", lambda: classifier.model.predict(x, verbose=0)),
        ("compiled call (tf.function)", lambda: classifier.predict_inputs(x)),
    ):
        call()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
        out[name] = statistics.median(times)
    return out


def report(results: list[dict], calls: dict[str, float]) -> str:
    import keras
    import tensorflow as tf

    lines = [
        "# Serving benchmark: the course service vs `model.predict` per request",
        "",
        f"Measured by `bench/bench_serving.py` on {time.strftime('%Y-%m-%d')}: {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"load average at start {os.getloadavg()[0]:.1f}.",
        "",
        *(
            [
                f"The machine was busy with other work (a load average above its {os.cpu_count()} cores), which "
                "slows both apps alike: read the ratios more than the absolute times.",
                "",
            ]
            if os.getloadavg()[0] > (os.cpu_count() or 1)
            else []
        ),
        f"Both apps run at the same time under gunicorn (1 worker, {THREADS} threads) on 127.0.0.1, load the "
        "same `.keras` file and receive the same image files over HTTP. *Sequential*: one client, one request "
        "at a time, rounds alternating between the apps. *Concurrent*: "
        f"{THREADS} clients at once. Latency is measured by the client, per request.",
        "",
        "| model | app | p50 ms | p99 ms | requests/s (1 client) | p50 ms | p99 ms | requests/s "
        f"({THREADS} clients) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    summary = []
    for r in results:
        for name in ("baseline", "service"):
            seq = r["latencies"][name]
            conc, rate, errors = r["loaded"][name]
            app = (
                "baseline: `model.predict` per request" if name == "baseline" else "course service"
            )
            lines.append(
                f"| {r['label']} | {app} | {percentile(seq, 50):.1f} | {percentile(seq, 99):.1f} | "
                f"{1000 / statistics.mean(seq):.0f} | {percentile(conc, 50):.1f} | "
                f"{percentile(conc, 99):.1f} | {rate:.0f}{f' ({errors} errors)' if errors else ''} |"
            )
        ratio = percentile(r["latencies"]["baseline"], 50) / percentile(
            r["latencies"]["service"], 50
        )
        rate_ratio = r["loaded"]["service"][1] / r["loaded"]["baseline"][1]
        summary.append(
            f"- **{r['label']}**: p50 latency **{ratio:.1f}× lower** than the baseline "
            f"(sequential); {rate_ratio:.1f}× the requests/s with {THREADS} clients. "
            f"Same label for {r['same_label']} of {r['images']} images; largest confidence "
            f"difference {r['gap']:.1e}."
        )
    lines += [
        "",
        *summary,
        "",
        "In-process cost of one call on one image (Fashion-MNIST CNN, median):",
        "",
    ]
    lines += [f"- {name}: {ms:.2f} ms" for name, ms in calls.items()]
    lines += [
        "",
        "The service also decodes and checks each upload, keeps a preview and writes a SQLite row, "
        "which the baseline does not; the gap comes from how the model is called.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer requests, Fashion-MNIST model only"
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    fashion_path, fashion_images = fashion_case()
    results = [
        bench_model(
            "Fashion-MNIST CNN",
            fashion_path,
            fashion_images,
            rounds=2 if args.quick else 4,
            per_round=50 if args.quick else 150,
            per_client=10 if args.quick else 40,
        )
    ]
    if not args.quick:
        imagenet_path, photos = imagenet_case()
        results.append(
            bench_model(
                "EfficientNet-Lite0 (ImageNet)",
                imagenet_path,
                photos,
                rounds=4,
                per_round=30,
                per_client=10,
            )
        )
    calls = in_process_call_costs(fashion_path)
    text = report(results, calls)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print("\n" + text)


if __name__ == "__main__":
    main()
