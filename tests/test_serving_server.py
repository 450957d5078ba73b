"""The service for real: gunicorn on loopback, called with `requests`, under concurrent load.

The server is started once for the module, on a free port of 127.0.0.1, and
stopped by its process group in the fixture's teardown, whatever the tests do.
"""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from serving_support import FASHION_CLASSES, jpeg, png, tiny_model_path

from course_lib.serving import ServeConfig, free_port, start_server

THREADS, REQUESTS_EACH = 20, 50
TIMEOUT = 30


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    config = ServeConfig(
        model=str(tiny_model_path()),
        db=folder / "predictions.sqlite3",
        port=free_port(),
        workers=2,
        threads=8,
        max_upload_mb=1,
    )
    server = start_server(config, log_path=folder / "server.log", timeout=240)
    try:
        yield server
    finally:
        server.stop()
        # master and workers are all gone, once the killed workers have been reaped
        deadline = time.monotonic() + 10
        while group_exists(server.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        with pytest.raises(ProcessLookupError):
            os.killpg(server.pid, 0)


def group_exists(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_health_page_and_a_real_upload(server):
    health = requests.get(f"{server.url}/health", timeout=TIMEOUT)
    assert health.status_code == 200 and health.json()["model"]["name"] == "tiny_fashion"
    page = requests.get(server.url, timeout=TIMEOUT)
    assert page.status_code == 200 and "Predict" in page.text
    response = requests.post(
        f"{server.url}/predict",
        files={"file": ("shirt.jpg", jpeg((120, 90)), "image/jpeg")},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label"] in FASHION_CLASSES and body["model"]["version"] == "test-1"
    feedback = requests.post(
        f"{server.url}/feedback/{body['id']}",
        json={"correct": False, "label": "Shirt"},
        timeout=TIMEOUT,
    )
    assert feedback.json()["feedback"]["correct_label"] == "Shirt"
    assert "Shirt" in requests.get(f"{server.url}/feedback.csv", timeout=TIMEOUT).text


def test_bad_requests_over_the_wire_are_json_4xx(server):
    too_big = requests.post(
        f"{server.url}/predict", files={"file": ("big.bin", b"\0" * (2 * 2**20))}, timeout=TIMEOUT
    )
    assert too_big.status_code == 413 and "1 MB upload limit" in too_big.json()["error"]
    wrong = requests.get(f"{server.url}/predict", timeout=TIMEOUT)
    assert wrong.status_code == 405 and wrong.json()["error"]
    not_image = requests.post(
        f"{server.url}/predict", files={"file": ("a.png", b"text")}, timeout=TIMEOUT
    )
    assert not_image.status_code == 415


def test_concurrent_load_has_no_errors_and_loses_no_row(server):
    images = [png(seed=i) for i in range(8)]
    before = requests.get(f"{server.url}/history?per_page=1", timeout=TIMEOUT).json()["total"]

    def client(worker: int) -> list[int]:
        statuses = []
        with requests.Session() as session:
            for i in range(REQUESTS_EACH):
                try:
                    response = session.post(
                        f"{server.url}/predict",
                        timeout=TIMEOUT,
                        files={"file": (f"{worker}-{i}.png", images[(worker + i) % 8])},
                    )
                    statuses.append(response.status_code)
                except requests.RequestException:
                    statuses.append(0)
        return statuses

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        statuses = [s for batch in pool.map(client, range(THREADS)) for s in batch]
    seconds = time.perf_counter() - started
    successes = statuses.count(200)
    assert successes == THREADS * REQUESTS_EACH, {s: statuses.count(s) for s in set(statuses)}
    after = requests.get(f"{server.url}/history?per_page=1", timeout=TIMEOUT).json()["total"]
    assert after - before == successes
    print(f"{successes} requests in {seconds:.1f} s ({successes / seconds:.0f} requests/s)")


def test_the_server_stops_itself_when_its_parent_dies(tmp_path):
    # A parent process starts a server and is then killed without stopping it, as a
    # crashed notebook kernel would be. The model spec is invalid on purpose: the
    # server still runs (and says why on /health) without paying for TensorFlow.
    port = free_port()
    script = (
        "import sys; from course_lib.serving import ServeConfig, start_server;"
        "s = start_server(ServeConfig(model='no-such-model', "
        f"db={str(tmp_path / 'p.sqlite3')!r}, port={port}, "
        "threads=2), wait=False); print(s.pid, flush=True); sys.stdin.read()"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    server_pid = None
    try:
        server_pid = int(parent.stdout.readline())
        assert _answers(f"http://127.0.0.1:{port}/health", within=60) == 503
        os.killpg(parent.pid, signal.SIGKILL)  # no atexit, no cleanup
        parent.wait(10)
        assert _gone(server_pid, within=30), "the orphaned server kept running"
    finally:
        for pid in (parent.pid, server_pid):
            if pid:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def _answers(url: str, within: float) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=5).status_code
        except requests.ConnectionError:
            time.sleep(0.25)
    raise TimeoutError(f"no answer from {url} within {within} s")


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.25)
    return False
