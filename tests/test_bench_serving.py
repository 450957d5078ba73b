"""The serving benchmark's own parts: its client, how it pools rounds, how it judges the machine."""

import importlib.util
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "bench_serving", ROOT / "bench" / "bench_serving.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_serving"] = module  # its dataclass looks itself up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("bench_serving", None)


class Echo(BaseHTTPRequestHandler):
    """Answers ``/predict`` with what it received: its connection, type and body's length."""

    protocol_version = "HTTP/1.1"  # keeps connections alive, as gunicorn does

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = 200 if b"filename=" in body else 500
        answer = json.dumps(
            {
                "connection": self.client_address[1],
                "type": self.headers["Content-Type"],
                "bytes": len(body),
                "has_payload": b"\x89PNG-ish payload" in body,
            }
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def echo_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_the_client_posts_a_multipart_upload_over_one_kept_alive_connection(bench, echo_url):
    payload = b"\x89PNG-ish payload"
    with bench.Client(echo_url) as client:
        answers = [client.post("a.png", payload) for _ in range(3)]
    for ms, body in answers:
        assert ms > 0 and body["has_payload"]
        assert body["type"].startswith("multipart/form-data; boundary=")
    assert len({body["connection"] for _, body in answers}) == 1  # one connection, kept alive


def test_the_client_reports_a_refused_request_as_an_os_error(bench, echo_url):
    class Broken(bench.Client):  # an upload without a file name: the echo answers 500
        def post(self, name, payload):
            self._bodies[(name, id(payload))] = (b"no file here", "multipart/form-data; b=x")
            return super().post(name, payload)

    with Broken(echo_url) as client, pytest.raises(OSError, match="answered 500"):
        client.post("a.png", b"x")
    with bench.Client("http://127.0.0.1:9") as client, pytest.raises(OSError, match="failed"):
        client.post("a.png", b"x")  # nothing listens on the discard port


def test_rounds_pool_into_all_requests_over_all_seconds(bench):
    # 100 requests in 1 s, then 50 in 2 s: 150 in 3 s, not the mean of 100 and 25 per second
    runs = [([1.0] * 100, 100.0, 0), ([2.0] * 50, 25.0, 1)]
    latencies, rate, errors = bench.pooled(runs)
    assert len(latencies) == 150 and rate == pytest.approx(50.0) and errors == 1


def snapshot(bench, load, busy, own, at):
    return bench.Snapshot((load, load, load), busy, own, at)


def test_a_run_is_quiet_only_when_little_cpu_went_to_other_processes(bench):
    start = snapshot(bench, 0.5, busy=1000.0, own=10.0, at=0.0)
    # 100 s on 2 cores: the benchmark used 150 CPU s, the machine 155 (2.5 % elsewhere)
    text, quiet = bench.machine_paragraph(start, snapshot(bench, 3.5, 1155.0, 160.0, 100.0), 2)
    assert quiet and "2.5% of the cores' 100 s" in text
    # the same run with 40 CPU s of other work beside it (20 %)
    text, quiet = bench.machine_paragraph(start, snapshot(bench, 3.5, 1190.0, 160.0, 100.0), 2)
    assert not quiet and "shared with other work" in text and "20.0%" in text
    # a load average left high by what ran before, nothing else during the run: quiet
    after_work = snapshot(bench, 2.5, 1000.0, 10.0, 0.0)
    assert bench.machine_paragraph(after_work, snapshot(bench, 3.5, 1150.0, 160.0, 100.0), 2)[1]
    # without /proc/stat the load averages decide
    start, end = snapshot(bench, 2.5, None, 10.0, 0.0), snapshot(bench, 2.5, None, 160.0, 100.0)
    assert not bench.machine_paragraph(start, end, 2)[1]
    start, end = snapshot(bench, 0.5, None, 10.0, 0.0), snapshot(bench, 1.7, None, 160.0, 100.0)
    assert bench.machine_paragraph(start, end, 2)[1]
