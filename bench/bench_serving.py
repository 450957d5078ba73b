"""Latency and throughput of the course service, on Keras and on LiteRT, against ``model.predict``.

Three apps run at the same time under the same gunicorn settings on 127.0.0.1, load the
same ``.keras`` file and receive the same image files: the naive baseline
(``bench/baseline_app.py``, ``model.predict`` per request), the course service with
``COURSE_SERVE_RUNTIME=keras`` and the course service with ``COURSE_SERVE_RUNTIME=litert``.
Measurements rotate between the apps in rounds, so that other activity on the machine
affects them alike. Two models:

- the Fashion-MNIST CNN (lesson 04's, trained now if missing): a small model, where the
  cost of calling it dominates;
- ImageNet EfficientNet-Lite0 (lesson 06's, the default of ``make serve``), where the
  network's own compute is a larger share of each request.

Also measured in-process: one image at a time against batches of 8 on each runtime, which
is what decides where micro-batching helps, and what each step of ``/predict`` costs on
LiteRT (decoding, the model input, the model, the preview, the SQLite row, the whole request
through Flask's test client). Writes ``bench/results/serving.md``. Run with
``make bench`` or ``python bench/bench_serving.py [--quick]``.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import platform
import statistics
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
import urllib3
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib import config, data, models  # noqa: E402
from course_lib.serving import ServeConfig, free_port, start_server  # noqa: E402
from course_lib.serving.classifier import imagenet_preprocessing  # noqa: E402

APPS = {
    "baseline": "baseline: `model.predict` per request",
    "keras": "course service, Keras",
    "litert": "course service, LiteRT",
}
# Targets, reported as met or not: EfficientNet-Lite0 on LiteRT with one client, its
# requests/s with 8 clients against the Keras service's earlier figure (29.3 ms p50, 43
# requests/s on 2026-11-23), and the Fashion CNN's p50 against the baseline's.
TARGET_P50_MS = 12.0
OLD_SERVICE_RATE, TARGET_RATE_RATIO = 43.0, 2.5
TARGET_FASHION_SPEEDUP = 12.0

# The run counts as quiet when other processes (and the kernel's own work) took less than
# this share of the cores meanwhile; without /proc/stat, when the 1-minute load average is
# below this many per core at the start (1.5 on 2 cores) and twice that at the end.
QUIET_OTHER_SHARE = 0.10
QUIET_LOAD_PER_CORE = 0.75

RESULTS = ROOT / "bench" / "results" / "serving.md"
WORK = config.build_dir() / "bench" / "serving"
THREADS = 8  # gunicorn threads per worker, and concurrent clients


def encode(pixels: np.ndarray, fmt: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def fashion_case() -> tuple[Path, list[tuple[str, bytes]]]:
    """Lesson 04's saved model; without it, the same baseline CNN trained briefly here.

    Latency depends on the architecture, not on how well it was trained: one epoch on
    12,000 images gives confident, stable labels to compare, in a minute.
    """
    fashion = data.load_fashion_mnist()
    path = models.fashion_model_path()
    if not (path.is_file() and models.metadata_path(path).is_file()):
        path = WORK / "fashion_cnn.keras"
        if not (path.is_file() and models.metadata_path(path).is_file()):
            prep = models.preprocessing_for((*fashion.x_train.shape[1:], 1))
            x = models.as_model_input(fashion.x_train[:12_000], prep)
            model = models.build_baseline_cnn(x.shape[1:], fashion.num_classes)
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            model.fit(x, fashion.y_train[:12_000], batch_size=128, epochs=1, verbose=0)
            models.save_model(model, path, fashion.class_names, prep, dataset="fashion-mnist")
    test = fashion.x_test[:200]
    return path, [(f"fashion{i}.png", encode(x, "PNG")) for i, x in enumerate(test)]


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


class Client:
    """One client of an app: a kept-alive HTTP connection that posts image files to ``/predict``.

    ``http.client`` with each file's multipart body encoded once (urllib3's encoder): the
    clients run on the same cores as the apps, so the less CPU a request costs them, the
    less they take from what is measured. (``requests`` spent about 1.2 ms of CPU a request.)
    """

    def __init__(self, url: str) -> None:
        address = urllib.parse.urlsplit(url)
        self._host, self._port = address.hostname or "127.0.0.1", address.port or 80
        self._connection: http.client.HTTPConnection | None = None
        self._bodies: dict[tuple[str, int], tuple[bytes, str]] = {}

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def post(self, name: str, payload: bytes) -> tuple[float, dict]:
        """``(milliseconds, JSON answer)`` of one upload; an HTTP error raises ``OSError``."""
        key = (name, id(payload))
        if key not in self._bodies:
            self._bodies[key] = urllib3.encode_multipart_formdata({"file": (name, payload)})
        body, content_type = self._bodies[key]
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self._host, self._port, timeout=120)
        started = time.perf_counter()
        try:
            self._connection.request("POST", "/predict", body, {"Content-Type": content_type})
            response = self._connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()  # the next request opens a new connection
            raise OSError(f"POST /predict failed: {exc}") from None
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise OSError(f"POST /predict answered {response.status}: {answer[:200]!r}")
        return elapsed, json.loads(answer)


def sequential(
    url: str, images: list[tuple[str, bytes]], n: int, start: int = 0
) -> tuple[list[float], dict[str, dict]]:
    latencies, answers = [], {}
    with Client(url) as client:
        for i in range(start, start + n):
            name, payload = images[i % len(images)]
            ms, body = client.post(name, payload)
            latencies.append(ms)
            answers[name] = body
    return latencies, answers


def concurrent(
    url: str, images: list[tuple[str, bytes]], per_client: int
) -> tuple[list[float], float, int]:
    def client(k: int) -> tuple[list[float], int]:
        times, errors = [], 0
        with Client(url) as uploader:
            for i in range(per_client):
                name, payload = images[(k * per_client + i) % len(images)]
                try:
                    times.append(uploader.post(name, payload)[0])
                except OSError:
                    errors += 1
        return times, errors

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(client, range(THREADS)))
    seconds = time.perf_counter() - started
    latencies = [t for times, _ in results for t in times]
    return latencies, len(latencies) / seconds, sum(e for _, e in results)


def pooled(runs: list[tuple[list[float], float, int]]) -> tuple[list[float], float, int]:
    """Several :func:`concurrent` runs as one: all latencies, all requests over all seconds."""
    latencies = [t for times, _, _ in runs for t in times]
    seconds = sum(len(times) / rate for times, rate, _ in runs if rate)
    return latencies, len(latencies) / seconds, sum(errors for _, _, errors in runs)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


@dataclass(frozen=True)
class Snapshot:
    """The machine at one moment: load average, CPU seconds busy, this run's CPU seconds."""

    load: tuple[float, float, float]  # 1, 5 and 15 minute load averages
    busy: float | None  # every core's busy seconds since boot (/proc/stat), None off Linux
    own: float  # this process's CPU seconds and its waited-for children's (the apps)
    at: float  # time.monotonic()

    @classmethod
    def now(cls) -> Snapshot:
        times = os.times()
        return cls(
            os.getloadavg(),
            machine_busy_seconds(),
            times.user + times.system + times.children_user + times.children_system,
            time.monotonic(),
        )


def machine_busy_seconds() -> float | None:
    """Seconds all cores spent busy since boot, from ``/proc/stat``; None where it is missing."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields)
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def shown(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{value:.1f}" for value in load)


def machine_paragraph(start: Snapshot, end: Snapshot, cores: int) -> tuple[str, bool]:
    """What the machine did besides the benchmark, and whether it was quiet.

    Quiet: the CPU time spent outside the benchmark's own processes (its apps are its
    children) is below :data:`QUIET_OTHER_SHARE` of the cores' time over the run. Where
    ``/proc/stat`` is missing, the load averages stand in: the 1-minute one below
    :data:`QUIET_LOAD_PER_CORE` per core at the start and below twice that at the end (which
    includes the benchmark's own work); a load average also remembers the last minutes.
    """
    limit = QUIET_LOAD_PER_CORE * cores
    measured = (
        f"load average (1, 5, 15 min) {shown(start.load)} at the start and {shown(end.load)} "
        f"at the end, on {cores} cores (the end includes the benchmark's own apps and clients)"
    )
    if start.busy is not None and end.busy is not None:
        capacity = (end.at - start.at) * cores
        other = max(0.0, (end.busy - start.busy) - (end.own - start.own)) / capacity
        measured += (
            f"; CPU time outside the benchmark's own processes: {other:.1%} of the cores' "
            f"{end.at - start.at:.0f} s"
        )
        quiet = other < QUIET_OTHER_SHARE
    else:
        quiet = start.load[0] < limit and end.load[0] < 2 * limit
    if quiet:
        return (
            f"The machine was quiet: {measured}. The apps ran side by side, in rotating rounds, "
            "so the figures of one run compare with each other.",
            True,
        )
    return (
        f"The machine was shared with other work during the run: {measured}. Absolute times "
        "are slower than on an idle machine; the apps ran side by side, in rotating rounds, so "
        "the figures of one run compare with each other, and the ratios are what to read.",
        False,
    )


def start_apps(model_path: Path) -> dict:
    servers = {}
    for runtime in ("keras", "litert"):
        db = WORK / f"{model_path.stem}-{runtime}.sqlite3"
        db.unlink(missing_ok=True)
        config = ServeConfig.from_env(
            {}, model=str(model_path), db=db, port=free_port(), threads=THREADS, runtime=runtime
        )
        servers[runtime] = start_server(
            config, log_path=WORK / f"service-{runtime}.log", timeout=900
        )
        served = requests.get(f"{servers[runtime].url}/model", timeout=30).json()
        if served["runtime"] != runtime:
            raise RuntimeError(f"asked for {runtime}, got {served['runtime']}: {served}")
    servers["baseline"] = start_server(
        ServeConfig.from_env({}, port=free_port(), threads=THREADS),
        app="baseline_app:app",
        log_path=WORK / "baseline.log",
        timeout=600,
        env={"BASELINE_MODEL": str(model_path), "PYTHONPATH": str(ROOT / "bench")},
    )
    return servers


def bench_model(
    label: str,
    model_path: Path,
    images: list[tuple[str, bytes]],
    rounds: int,
    per_round: int,
    per_client: int,
) -> dict:
    print(
        f"\n== {label}: {len(images)} images, {rounds} rounds of {per_round} sequential "
        "requests per app",
        flush=True,
    )
    servers: dict = {}
    try:
        servers = start_apps(model_path)
        for server in servers.values():  # warm up (first calls trace and allocate)
            sequential(server.url, images, min(20, 2 * len(images)))
        latencies: dict[str, list[float]] = {name: [] for name in APPS}
        answers: dict[str, dict] = {name: {} for name in APPS}
        order = list(APPS)
        for r in range(rounds):
            for name in order[r % 3 :] + order[: r % 3]:  # each app first in turn
                times, seen = sequential(servers[name].url, images, per_round, start=r * per_round)
                latencies[name] += times
                answers[name].update(seen)
            print(
                f"round {r + 1}: p50 "
                + ", ".join(f"{n} {statistics.median(latencies[n]):.1f} ms" for n in APPS),
                flush=True,
            )
        # every image at least once on every app, for the label comparison
        for name in APPS:
            missing = [(n, b) for n, b in images if n not in answers[name]]
            answers[name].update(sequential(servers[name].url, missing, len(missing))[1])
        runs: dict[str, list[tuple[list[float], float, int]]] = {name: [] for name in APPS}
        for r in range(rounds):  # the same rotation, THREADS clients at once
            for name in order[r % 3 :] + order[: r % 3]:
                runs[name].append(concurrent(servers[name].url, images, per_client))
            print(
                f"round {r + 1}, {THREADS} clients: "
                + ", ".join(f"{n} {runs[n][-1][1]:.0f} requests/s" for n in APPS),
                flush=True,
            )
        loaded = {name: pooled(runs[name]) for name in APPS}
    finally:
        for server in servers.values():
            server.stop()
    base = answers["baseline"]
    same = {name: sum(answers[name][k]["label"] == base[k]["label"] for k in base) for name in APPS}
    same["litert vs keras"] = sum(
        answers["litert"][k]["label"] == answers["keras"][k]["label"] for k in base
    )
    gap = {
        name: max(abs(answers[name][k]["confidence"] - base[k]["confidence"]) for k in base)
        for name in ("keras", "litert")
    }
    return {
        "label": label,
        "reduced": reduced_scale(images),
        "images": len(base),
        "same": same,
        "gap": gap,
        "latencies": latencies,
        "loaded": loaded,
        "round_rates": {name: [rate for _, rate, _ in runs[name]] for name in APPS},
    }


def reduced_scale(images: list[tuple[str, bytes]]) -> dict[str, str]:
    """The images the service decodes at a reduced scale, with the scale (``"1/2"``, ...)."""
    from course_lib.serving import uploads

    out = {}
    for name, payload in images:
        upload = uploads.decode_upload(payload, at_least=uploads.PREVIEW_SIDE)
        if upload.image.size != upload.size:
            out[Path(name).stem] = f"1/{round(upload.size[0] / upload.image.size[0])}"
    return out


def per_image_ms(call, x: np.ndarray, repeats: int, clock=time.perf_counter) -> float:
    """Median ms per image of ``call(x)``, after two warm-up calls.

    ``clock=time.process_time``: the CPU time of every thread of the process instead of the
    time that passes, which is what a busy server runs out of.
    """
    call(x)
    call(x)
    times = []
    for _ in range(repeats):
        started = clock()
        call(x)
        times.append((clock() - started) * 1000 / len(x))
    return statistics.median(times)


def in_process_costs(model_path: Path, repeats: int) -> dict[str, float]:
    """Median ms per image: ``model.predict``, the Keras call and LiteRT, one image or 8 at once."""
    from ai_edge_litert.interpreter import Interpreter

    from course_lib.serving import KerasClassifier, litert

    classifier = KerasClassifier.from_saved(model_path)
    served = litert.with_runtime(classifier, "litert", WORK, threads=litert.cpu_threads())
    rng = np.random.default_rng(0)
    x8 = classifier.to_inputs(rng.integers(0, 256, (8, *classifier.input_shape), np.uint8))
    x1 = x8[:1]
    # A second interpreter whose input is resized to 8: one call for the whole batch.
    batched = Interpreter(model_path=str(served.tflite_path), num_threads=served.threads)
    index = batched.get_input_details()[0]["index"]
    batched.resize_tensor_input(index, list(x8.shape))
    batched.allocate_tensors()
    output = batched.get_output_details()[0]["index"]

    def one_by_one(x: np.ndarray) -> np.ndarray:  # how the service ran a batch before lanes
        return np.concatenate([served.predict_inputs(image[None]) for image in x])

    def one_call_of_8(x: np.ndarray) -> np.ndarray:
        batched.set_tensor(index, x)
        batched.invoke()
        return batched.get_tensor(output)

    return {
        "`model.predict`, 1 image": per_image_ms(
            lambda x: classifier.model.predict(x, verbose=0), x1, repeats
        ),
        "Keras compiled call, 1 image": per_image_ms(classifier.predict_inputs, x1, repeats),
        "Keras compiled call, batch of 8": per_image_ms(
            classifier.predict_inputs, x8, max(3, repeats // 8)
        ),
        "LiteRT, 1 image": per_image_ms(served.predict_inputs, x1, repeats),
        "LiteRT, 8 images one by one on the all-cores interpreter": per_image_ms(
            one_by_one, x8, max(3, repeats // 8)
        ),
        "LiteRT, 8 images over a single-thread lane per core (what the service does)": (
            per_image_ms(served.predict_inputs, x8, max(3, repeats // 8))
        ),
        "CPU time: 8 images one by one on the all-cores interpreter": per_image_ms(
            one_by_one, x8, max(3, repeats // 8), time.process_time
        ),
        "CPU time: 8 images over a single-thread lane per core": per_image_ms(
            served.predict_inputs, x8, max(3, repeats // 8), time.process_time
        ),
        "LiteRT, batch of 8 in one call (input resized to 8)": per_image_ms(
            one_call_of_8, x8, max(3, repeats // 8)
        ),
    }


def stage_costs(
    model_path: Path, images: list[tuple[str, bytes]], requests_: int
) -> dict[str, float]:
    """Median ms per request of each step of ``/predict``, in-process, on LiteRT.

    The steps are the service's own functions, called as ``/predict`` calls them, on the
    benchmark's files in turn; the last row is the whole request through Flask's test client
    (no HTTP), which also parses the upload, calls the model through the micro-batcher and
    answers JSON.
    """
    from course_lib.serving import KerasClassifier, create_app, litert, uploads
    from course_lib.serving.store import NewPrediction, PredictionStore

    classifier = KerasClassifier.from_saved(model_path)
    served = litert.with_runtime(classifier, "litert", WORK, threads=litert.cpu_threads())
    needed = served.decode_at_least
    at_least = None if needed is None else max(needed, uploads.PREVIEW_SIDE)
    db = WORK / f"stages-{model_path.stem}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = PredictionStore(db)
    row = {"model_name": "m", "model_version": "1", "label": "x", "class_index": 0}
    row |= {"confidence": 1.0, "top_k": [], "latency_ms": 1.0, "image_type": "image/jpeg"}
    steps = {
        "decode and check the upload": lambda payload: uploads.decode_upload(
            payload, at_least=at_least
        ),
        "prepare the model input (resize, scale)": lambda upload: served.prepare(upload.image),
        "the model (LiteRT, 1 image)": lambda x: served.predict_inputs(x[None]),
        "the preview": lambda upload: uploads.preview_bytes(upload.image),
        "the SQLite row (preview and original)": lambda both: store.add(
            [NewPrediction(filename="a", **row, image=both[0], original=both[1])]
        ),
    }
    decoded = [uploads.decode_upload(payload, at_least=at_least) for _, payload in images]
    inputs = [served.prepare(upload.image) for upload in decoded]
    previews = [uploads.preview_bytes(upload.image)[0] for upload in decoded]
    arguments = {
        "decode and check the upload": [payload for _, payload in images],
        "prepare the model input (resize, scale)": decoded,
        "the model (LiteRT, 1 image)": inputs,
        "the preview": decoded,
        "the SQLite row (preview and original)": [
            (preview, payload) for preview, (_, payload) in zip(previews, images, strict=True)
        ],
    }
    settings = ServeConfig.from_env(
        {}, db=WORK / f"stages-app-{model_path.stem}.sqlite3", load_in_background=False
    )
    app = create_app(settings, served)
    client = app.test_client()

    def whole(item: tuple[str, bytes]) -> None:
        name, payload = item
        answer = client.post(
            "/predict",
            data={"file": (io.BytesIO(payload), name)},
            content_type="multipart/form-data",
        )
        if answer.status_code != 200:
            raise RuntimeError(answer.get_data(as_text=True))

    steps["the whole /predict, in-process (Flask test client)"] = whole
    arguments["the whole /predict, in-process (Flask test client)"] = images
    costs = {}
    for step, call in steps.items():
        values = arguments[step]
        for value in values:  # warm up
            call(value)
        times = []
        for i in range(requests_):
            started = time.perf_counter()
            call(values[i % len(values)])
            times.append((time.perf_counter() - started) * 1000)
        costs[step] = statistics.median(times)
    app.extensions["course_serving"].host.close()
    store.close()
    return costs


def ratio_line(name: str, value: float, target: float, higher_is_better: bool) -> str:
    met = value >= target if higher_is_better else value <= target
    share = value / target
    return f"- {name}: **{'met' if met else 'not met'}** ({share:.2f}× the target)"


def report(
    results: list[dict],
    calls: dict[str, dict[str, float]],
    machine: tuple[Snapshot, Snapshot],
    cores: int | None = None,
    stages: dict[str, dict[str, float]] | None = None,
) -> str:
    import keras
    import tensorflow as tf

    cores = cores or os.cpu_count() or 1
    machine_text, quiet = machine_paragraph(*machine, cores)
    lines = [
        "# Serving benchmark: the course service on Keras and on LiteRT vs `model.predict`",
        "",
        f"Measured by `bench/bench_serving.py` on {time.strftime('%Y-%m-%d')}: "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}.",
        "",
        machine_text,
        "",
        f"The three apps run at the same time under gunicorn (1 worker, {THREADS} threads) on "
        "127.0.0.1, load the same `.keras` file and receive the same image files over HTTP. "
        "*1 client*: one request at a time, rounds rotating between the apps. "
        f"*{THREADS} clients*: {THREADS} at once, in rounds rotating the same way; "
        "requests/s is all of an app's requests over all of its seconds. Latency is measured "
        "by the client, per request. The clients are threads of the benchmark's process, each "
        "with a kept-alive connection (`http.client`, every file's upload encoded once), so "
        "that they take as little as possible of the cores the apps need. *Same label*: the "
        "images whose label is the baseline's.",
        "",
        f"| model | app | p50 ms | p99 ms | requests/s (1 client) | p50 ms | p99 ms | "
        f"requests/s ({THREADS} clients) | same label |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    summary = []
    by_label = {r["label"]: r for r in results}
    for r in results:
        for name, app in APPS.items():
            seq = r["latencies"][name]
            conc, rate, errors = r["loaded"][name]
            lines.append(
                f"| {r['label']} | {app} | {percentile(seq, 50):.1f} | {percentile(seq, 99):.1f} "
                f"| {1000 / statistics.mean(seq):.0f} | {percentile(conc, 50):.1f} | "
                f"{percentile(conc, 99):.1f} | {rate:.0f}{f' ({errors} errors)' if errors else ''} "
                f"| {r['same'][name]}/{r['images']} |"
            )
        p50 = {name: percentile(r["latencies"][name], 50) for name in APPS}
        rate = {name: r["loaded"][name][1] for name in APPS}
        summary.append(
            f"- **{r['label']}**: p50 with one client {p50['baseline'] / p50['keras']:.1f}× "
            f"lower than the baseline on Keras, {p50['baseline'] / p50['litert']:.1f}× on "
            f"LiteRT (LiteRT's p50 {p50['litert'] / p50['keras']:.2f}× Keras's); with "
            f"{THREADS} clients {rate['keras'] / rate['baseline']:.1f}× the baseline's "
            f"requests/s on Keras, {rate['litert'] / rate['baseline']:.1f}× on LiteRT. "
            f"Same label as the baseline on {r['same']['keras']} (Keras) and "
            f"{r['same']['litert']} (LiteRT) of {r['images']} images, LiteRT as Keras on "
            f"{r['same']['litert vs keras']}; largest confidence difference from the baseline "
            f"{r['gap']['keras']:.1e} (Keras), {r['gap']['litert']:.1e} (LiteRT)."
        )
    lines += ["", *summary, "", "## Targets", ""]
    if not quiet:
        lines += [
            "The targets in milliseconds and requests/s were set for an idle machine: under "
            "load they say little on their own; read them with the same-run ratios above.",
            "",
        ]
    imagenet = by_label.get("EfficientNet-Lite0 (ImageNet)")
    if imagenet:
        p50 = percentile(imagenet["latencies"]["litert"], 50)
        lines.append(
            ratio_line(
                f"EfficientNet-Lite0 on LiteRT, p50 with one client {p50:.1f} ms, "
                f"target ≤ {TARGET_P50_MS:g} ms",
                p50,
                TARGET_P50_MS,
                higher_is_better=False,
            )
        )
        rate = imagenet["loaded"]["litert"][1]
        rounds = ", ".join(f"{r:.0f}" for r in imagenet["round_rates"]["litert"])
        lines.append(
            ratio_line(
                f"EfficientNet-Lite0 on LiteRT, {rate:.0f} requests/s with {THREADS} clients "
                f"({rounds} in its rounds), target ≥ {TARGET_RATE_RATIO:g}× the earlier "
                f"service's {OLD_SERVICE_RATE:g} "
                f"(= {TARGET_RATE_RATIO * OLD_SERVICE_RATE:.0f}); in this run the Keras "
                f"service made {imagenet['loaded']['keras'][1]:.0f}, so LiteRT "
                f"{rate / imagenet['loaded']['keras'][1]:.2f}× that",
                rate,
                TARGET_RATE_RATIO * OLD_SERVICE_RATE,
                higher_is_better=True,
            )
        )
    fashion = by_label.get("Fashion-MNIST CNN")
    if fashion:
        speedup = percentile(fashion["latencies"]["baseline"], 50) / percentile(
            fashion["latencies"]["litert"], 50
        )
        lines.append(
            ratio_line(
                f"Fashion CNN on LiteRT, p50 {speedup:.1f}× lower than the baseline's, "
                f"target ≥ {TARGET_FASHION_SPEEDUP:g}×",
                speedup,
                TARGET_FASHION_SPEEDUP,
                higher_is_better=True,
            )
        )
    for r in results:
        every = r["same"]["litert"] == r["same"]["keras"] == r["images"]
        lines.append(
            f"- {r['label']}, the same label on every benchmark image (both runtimes and the "
            f"baseline): **{'met' if every else 'not met'}** ({r['same']['litert']}/{r['images']} "
            f"LiteRT, {r['same']['keras']}/{r['images']} Keras)"
        )
    lines += [
        "",
        "## One image at a time or a batch (in-process, median ms per image)",
        "",
        "| call | " + " | ".join(calls) + " |",
        "|---|" + "---:|" * len(calls),
    ]
    for call in next(iter(calls.values())):
        lines.append(f"| {call} | " + " | ".join(f"{c[call]:.2f}" for c in calls.values()) + " |")
    lines += [
        "",
        "The service runs LiteRT one image per call: an interpreter's input is never "
        "resized, because XNNPACK plans the graph again at each new batch size. On Keras, a "
        "request that finds the model idle and nobody queued calls it in its own thread, and "
        "the micro-batcher joins the requests that arrive while the model is busy into one "
        "call. On LiteRT, an image that finds nothing else running goes to an interpreter "
        "that uses every core; under load, every image goes to the next free one of a "
        "single-thread interpreter per core (`course_lib/serving/lanes.py`), whichever "
        "request it came with, so no core waits for a batch to finish. The table shows what a "
        "batch saves per image on each runtime; the CPU rows count the time of every thread, "
        "which is what a busy server runs out of.",
        "",
        "The service also decodes and checks each upload, keeps a preview and writes a SQLite "
        "row, which the baseline does not; the differences come from how the model is called.",
        "",
    ]
    reduced = [
        f"{r['label']}: " + ", ".join(f"{name} at {scale}" for name, scale in r["reduced"].items())
        for r in results
        if r["reduced"]
    ]
    if reduced:
        lines += [
            "One difference in the input: the service decodes a JPEG at least twice the "
            "preview's 256 pixels on both sides at a reduced scale (Pillow's `Image.draft`), "
            f"here {'; '.join(reduced)}. The confidence differences from the baseline above "
            "include it.",
            "",
        ]
    if stages:
        lines += [
            "## Where a request's time goes (in-process, LiteRT, median ms per request)",
            "",
            "| step | " + " | ".join(stages) + " |",
            "|---|" + "---:|" * len(stages),
        ]
        for step in next(iter(stages.values())):
            lines.append(
                f"| {step} | " + " | ".join(f"{c[step]:.2f}" for c in stages.values()) + " |"
            )
        lines += [
            "",
            "Each step is the service's own function on the benchmark's files in turn; the "
            "whole request also parses the upload (Werkzeug's multipart parser), calls the "
            "model (in the request's own thread, the model being idle) while another thread "
            "makes the preview, and answers JSON. What the HTTP "
            "figures above add to it is gunicorn, the connection and the client.",
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
    start = Snapshot.now()
    print(f"load average at the start: {shown(start.load)}", flush=True)
    fashion_path, fashion_images = fashion_case()
    results = [
        bench_model(
            "Fashion-MNIST CNN",
            fashion_path,
            fashion_images,
            rounds=2 if args.quick else 3,
            per_round=50 if args.quick else 70,
            per_client=10 if args.quick else 25,
        )
    ]
    calls = {"Fashion CNN": in_process_costs(fashion_path, 20 if args.quick else 50)}
    stages = {"Fashion CNN": stage_costs(fashion_path, fashion_images, 40 if args.quick else 200)}
    if not args.quick:
        imagenet_path, photos = imagenet_case()
        results.append(
            bench_model(
                "EfficientNet-Lite0 (ImageNet)",
                imagenet_path,
                photos,
                rounds=3,
                per_round=24,
                per_client=20,
            )
        )
        calls["EfficientNet-Lite0"] = in_process_costs(imagenet_path, 24)
        stages["EfficientNet-Lite0"] = stage_costs(imagenet_path, photos, 120)
    text = report(results, calls, (start, Snapshot.now()), stages=stages)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print("\n" + text)


if __name__ == "__main__":
    main()
