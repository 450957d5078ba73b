"""The service's parts on their own: settings, the SQLite store, and the micro-batcher."""

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from course_lib.serving.batching import BatcherClosed, MicroBatcher, ModelHost, ModelNotReady
from course_lib.serving.classifier import Classifier, top_k
from course_lib.serving.config import ServeConfig
from course_lib.serving.store import SCHEMA, NewPrediction, PredictionStore, timestamp

# ---------------------------------------------------------------- settings


def test_settings_come_from_course_serve_variables():
    config = ServeConfig.from_env(
        {
            "COURSE_SERVE_MODEL": "/m/a.keras",
            "COURSE_SERVE_PORT": "9001",
            "COURSE_SERVE_MAX_UPLOAD_MB": "2.5",
            "COURSE_SERVE_LOAD_IN_BACKGROUND": "no",
            "COURSE_SERVE_DB": "/tmp/x.sqlite3",
            "COURSE_SERVE_THREADS": "",
        }
    )
    assert (
        config.model == "/m/a.keras"
        and config.port == 9001
        and config.max_upload_bytes == int(2.5 * 2**20)
    )
    assert (
        config.load_in_background is False
        and str(config.db) == "/tmp/x.sqlite3"
        and config.threads == 8
    )
    assert ServeConfig.from_env({}).host == "127.0.0.1"  # loopback unless asked otherwise
    assert ServeConfig.from_env({}, port=1234).port == 1234
    assert ServeConfig.from_env(config.as_env()) == config


@pytest.mark.parametrize(
    ("variables", "phrase"),
    [
        ({"COURSE_SERVE_PORT": "eighty"}, "COURSE_SERVE_PORT must be a number"),
        ({"COURSE_SERVE_PORT": "70000"}, "must be a TCP port"),
        ({"COURSE_SERVE_THREADS": "0"}, "COURSE_SERVE_THREADS must be at least 1"),
        ({"COURSE_SERVE_MAX_UPLOAD_MB": "-1"}, "must be positive"),
        ({"COURSE_SERVE_LOAD_IN_BACKGROUND": "maybe"}, "must be 1/0"),
    ],
)
def test_bad_settings_fail_at_start_naming_the_variable(variables, phrase):
    with pytest.raises(ValueError, match=phrase):
        ServeConfig.from_env(variables)


# ---------------------------------------------------------------- store


def row(label="cat", **extra):
    values = {
        "filename": "a.png",
        "model_name": "m",
        "model_version": "1",
        "label": label,
        "class_index": 0,
        "confidence": 0.9,
        "top_k": [{"label": label, "class_index": 0, "confidence": 0.9}],
        "latency_ms": 1.5,
    }
    return NewPrediction(**(values | extra))


def test_store_uses_wal_and_keeps_rows_across_reopening(tmp_path):
    store = PredictionStore(tmp_path / "p.sqlite3")
    ids = store.add([row("cat"), row("dog")])
    assert ids == [1, 2]
    store.close()
    with sqlite3.connect(tmp_path / "p.sqlite3") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = PredictionStore(tmp_path / "p.sqlite3")
    assert again.count() == 2 and again.get(2)["label"] == "dog" and again.get(3) is None


def test_store_loses_no_row_under_concurrent_writers_in_two_stores(tmp_path):
    # Two store objects on one file behave like two server processes.
    stores = [PredictionStore(tmp_path / "p.sqlite3"), PredictionStore(tmp_path / "p.sqlite3")]

    def write(i):
        stores[i % 2].add([row(f"label{i}")])
        stores[(i + 1) % 2].history(1, 5)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(write, range(400)))
    assert stores[0].count() == 400
    assert len({item["label"] for item in stores[1].history(1, 100)["items"]}) == 100


def test_a_commit_never_copies_the_log_and_the_store_s_own_thread_does(tmp_path, monkeypatch):
    from course_lib.serving import store as store_module

    monkeypatch.setattr(store_module, "CHECKPOINT_BYTES", 10**9)
    path = tmp_path / "p.sqlite3"
    store = PredictionStore(path)
    empty = path.stat().st_size
    photo = bytes(range(256)) * 1024  # 256 kB kept as the original
    for _ in range(20):  # 5 MB: past SQLite's own automatic checkpoint (4 MB)
        store.add([row(original=photo, original_type="image/png")])
    assert path.stat().st_size == empty, "a commit copied the log into the database"
    assert store._checkpointer is None

    monkeypatch.setattr(store_module, "CHECKPOINT_BYTES", len(photo))
    store.add([row(original=photo, original_type="image/png")])
    deadline = time.monotonic() + 10
    while path.stat().st_size < 5 * len(photo) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size >= 5 * len(photo), "no checkpoint copied the rows"
    assert store._checkpointer is not None and store._checkpointer.name == "sqlite-checkpoint"
    assert store.count() == 21 and store.original(21) == (photo, "image/png")


def test_feedback_for_unknown_prediction_is_none_and_replaces_otherwise(tmp_path):
    store = PredictionStore(tmp_path / "p.sqlite3")
    (pid,) = store.add([row()])
    assert store.set_feedback(99, True) is None
    store.set_feedback(pid, False, "dog", "looks like a dog")
    assert store.set_feedback(pid, True)["feedback"]["correct"] is True
    assert store.export_feedback_csv().count("\n") == 2  # header + one row


def test_store_keeps_the_original_upload_byte_for_byte_up_to_its_size_cap(tmp_path):
    store = PredictionStore(tmp_path / "p.sqlite3", keep_upload_bytes=1000)
    small, large = bytes(range(256)) * 3, b"x" * 1001
    kept, too_big, tensor = store.add(
        [
            row(original=small, original_type="image/png"),
            row(original=large, original_type="image/jpeg"),
            row(),
        ]
    )
    assert store.original(kept) == (small, "image/png")
    assert store.original(too_big) is None and store.original(tensor) is None
    assert store.original_status(kept) == {"kept": True, "bytes": 768, "note": None}
    status = store.original_status(too_big)
    assert (
        status["kept"] is False
        and status["bytes"] == 1001
        and "only a preview is kept" in status["note"]
    )
    assert store.original_status(tensor) is None  # a tensor request has no file


def test_store_removes_originals_past_retention_and_keeps_the_prediction(tmp_path):
    store = PredictionStore(tmp_path / "p.sqlite3", keep_upload_days=30)
    recent = datetime.now(UTC) - timedelta(days=29)
    (old,) = store.add(
        [row(original=b"old photo", original_type="image/png")],
        created_at=timestamp(datetime.now(UTC) - timedelta(days=31)),
    )
    (new,) = store.add(
        [row(original=b"new photo", original_type="image/png")], created_at=timestamp(recent)
    )
    for pid in (old, new):
        store.set_feedback(pid, False, "dog")
    assert store.original(old) is None and store.original(new) == (
        b"new photo",
        "image/png",
    )  # before any purge
    assert [r["image"] for r in store.feedback_rows()] == [None, b"new photo"]
    assert store.purge_expired() == 1 and store.purge_expired() == 0
    with sqlite3.connect(tmp_path / "p.sqlite3") as raw:
        assert raw.execute("SELECT COUNT(*) FROM uploads WHERE data IS NOT NULL").fetchone()[0] == 1
    assert store.get(old)["label"] == "cat" and store.get(old)["feedback"]["correct_label"] == "dog"
    assert store.original_status(old)["note"] == "removed after 30 days"


def test_a_program_opening_the_file_applies_the_services_recorded_retention(tmp_path):
    service = PredictionStore(tmp_path / "p.sqlite3", keep_upload_days=90)
    (pid,) = service.add(
        [row(original=b"photo", original_type="image/png")],
        created_at=timestamp(datetime.now(UTC) - timedelta(days=60)),
    )
    service.set_feedback(pid, True)
    reader = PredictionStore(
        tmp_path / "p.sqlite3"
    )  # as course retrain opens it, with no setting of its own
    assert (
        reader.keep_upload_days == 90 and reader.feedback_rows()[0]["image"] == b"photo"
    )  # not purged at 30
    assert (
        PredictionStore(tmp_path / "other.sqlite3").keep_upload_days is None
    )  # nothing recorded: none expire


def test_store_with_zero_retention_keeps_no_original(tmp_path):
    store = PredictionStore(tmp_path / "p.sqlite3", keep_upload_days=0)
    (pid,) = store.add([row(original=b"photo", original_type="image/png")])
    assert store.original(pid) is None and "not kept" in store.original_status(pid)["note"]


def test_deleting_an_image_removes_preview_and_original_and_keeps_the_feedback(tmp_path):
    store = PredictionStore(tmp_path / "p.sqlite3")
    secret = b"SECRET-PHOTO-BYTES" * 2000  # larger than a page, as photos are
    (pid,) = store.add(
        [row(image=b"preview", image_type="image/png", original=secret, original_type="image/png")]
    )
    store.set_feedback(pid, True)
    assert store.delete_image(pid) == {"preview": True, "original": True}
    assert store.delete_image(pid) == {"preview": False, "original": False}
    assert store.delete_image(999) is None
    assert store.image(pid) is None and store.original(pid) is None
    assert (
        store.get(pid)["feedback"]["correct"] is True and store.feedback_rows()[0]["image"] is None
    )
    assert "deleted on request" in store.original_status(pid)["note"]
    store.close()
    # secure_delete: the bytes are gone from the file itself, not only from the table
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("p.sqlite3*"))
    assert secret[:18] not in raw


def test_feedback_rows_are_the_labelled_predictions_oldest_first_with_their_originals(tmp_path):
    store = PredictionStore(tmp_path / "p.sqlite3")
    ids = store.add(
        [
            row("cat", original=b"one", original_type="image/jpeg"),
            row("dog", model_version="2", original=b"two", original_type="image/png"),
            row("cat", original=b"three", original_type="image/png"),
            row("fish"),
        ]
    )
    store.set_feedback(ids[1], False, "cat", "it is my cat")
    store.set_feedback(ids[0], True, "ignored for a confirmed prediction")
    store.set_feedback(ids[3], False)  # wrong, no label given
    rows = store.feedback_rows()
    assert [r["prediction_id"] for r in rows] == [ids[0], ids[1], ids[3]]
    assert set(rows[0]) == {
        "prediction_id",
        "created_at",
        "model_name",
        "model_version",
        "label",
        "correct",
        "correct_label",
        "image",
        "image_type",
    }
    assert (rows[0]["label"], rows[0]["correct"], rows[0]["correct_label"]) == ("cat", True, None)
    assert (rows[1]["label"], rows[1]["correct"], rows[1]["correct_label"]) == ("dog", False, "cat")
    assert (rows[1]["image"], rows[1]["image_type"], rows[1]["model_version"]) == (
        b"two",
        "image/png",
        "2",
    )
    assert (rows[2]["correct_label"], rows[2]["image"], rows[2]["image_type"]) == (None, None, None)


def test_a_database_from_before_originals_were_kept_opens_and_gains_the_table(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.executescript(SCHEMA.split("CREATE TABLE IF NOT EXISTS uploads")[0])
    store = PredictionStore(path)
    (pid,) = store.add([row(original=b"photo", original_type="image/png")])
    assert store.original(pid) == (b"photo", "image/png")


# ---------------------------------------------------------------- classifier and batching


class CountingClassifier(Classifier):
    name, version, class_names = "count", "1", ["a", "b"]
    preprocessing = {
        "height": 2,
        "width": 2,
        "color_mode": "grayscale",
        "scale": 1.0,
        "offset": 0.0,
    }

    def __init__(self, delay=0.0):
        self.batch_sizes = []
        self.delay = delay
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def predict_inputs(self, inputs):
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        time.sleep(self.delay)
        self.batch_sizes.append(len(inputs))
        first = inputs[:, 0, 0, 0]
        with self._lock:
            self.active -= 1
        return np.stack([first, -first], axis=1)


def pixels(value, n=1):
    return np.full((n, 2, 2, 1), value, np.uint8)


def test_batcher_returns_each_request_its_own_rows_and_shares_model_calls():
    classifier = CountingClassifier(delay=0.02)
    batcher = MicroBatcher(classifier, max_batch=64)
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda v: batcher.predict(pixels(v, n=1 + v % 3)), range(60)))
    batcher.close()
    for value, result in enumerate(results):
        assert result.shape == (1 + value % 3, 2) and (result[:, 0] == value).all()
    assert sum(classifier.batch_sizes) == sum(1 + v % 3 for v in range(60))
    assert batcher.calls < 60 and max(classifier.batch_sizes) > 3  # requests shared calls
    assert classifier.max_active == 1  # one model call at a time


def test_batcher_alone_does_not_wait_and_respects_max_batch():
    classifier = CountingClassifier()
    batcher = MicroBatcher(classifier, max_batch=4, max_wait_ms=0)
    started = time.perf_counter()
    batcher.predict(pixels(1))
    assert time.perf_counter() - started < 0.5
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda v: batcher.predict(pixels(v)), range(40)))
    batcher.close()
    assert max(classifier.batch_sizes) <= 4


def test_batcher_lets_a_request_that_finds_it_idle_call_the_model_in_its_own_thread():
    class Where(CountingClassifier):
        def predict_inputs(self, inputs):
            self.threads.append(threading.current_thread().name)
            return super().predict_inputs(inputs)

    classifier = Where(delay=0.01)
    classifier.threads = []
    batcher = MicroBatcher(classifier, max_batch=64)
    assert batcher.predict(pixels(7))[0, 0] == 7
    assert classifier.threads == [threading.current_thread().name] and batcher.direct_calls == 1
    # under load the others still queue and share the inference thread's calls, one at a time
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda v: batcher.predict(pixels(v)), range(60)))
    batcher.close()
    assert [int(r[0, 0]) for r in results] == list(range(60))
    assert "micro-batcher" in classifier.threads and max(classifier.batch_sizes) > 1
    assert classifier.max_active == 1


def test_batcher_lets_a_classifier_that_takes_concurrent_calls_have_them_all_at_once():
    class Concurrent(CountingClassifier):
        concurrent_calls = True

        def predict_inputs(self, inputs, timeout=None):
            self.threads.add(threading.current_thread().name)
            self.timeouts.add(timeout)
            return super().predict_inputs(inputs)

    classifier = Concurrent(delay=0.02)
    classifier.threads, classifier.timeouts = set(), set()
    batcher = MicroBatcher(classifier, max_batch=64)
    with ThreadPoolExecutor(6, thread_name_prefix="request") as pool:
        results = list(pool.map(lambda v: batcher.predict(pixels(v), timeout=7.0), range(24)))
    batcher.close()
    assert [int(r[0, 0]) for r in results] == list(range(24))
    assert classifier.batch_sizes == [1] * 24  # never joined into batches
    assert classifier.max_active > 1  # called from several requests at once
    assert all(name.startswith("request") for name in classifier.threads)
    assert classifier.timeouts == {7.0}  # the request's own limit reaches the classifier


def test_batcher_starts_no_inference_thread_for_a_classifier_that_takes_concurrent_calls():
    class Concurrent(CountingClassifier):
        concurrent_calls = True

        def predict_inputs(self, inputs, timeout=None):
            return super().predict_inputs(inputs)

    before = set(threading.enumerate())  # threads, not names: other batchers' may be alive
    batcher = MicroBatcher(Concurrent())
    assert batcher.predict(pixels(3))[0, 0] == 3
    assert not [t for t in set(threading.enumerate()) - before if t.name == "micro-batcher"]
    batcher.close()
    with pytest.raises(BatcherClosed):
        batcher.predict(pixels(3))


def test_batcher_hands_model_errors_to_the_waiting_requests_and_keeps_going():
    class Flaky(CountingClassifier):
        def predict_inputs(self, inputs):
            if (inputs == 13).any():
                raise ValueError("unlucky")
            return super().predict_inputs(inputs)

    batcher = MicroBatcher(Flaky())
    with pytest.raises(ValueError, match="unlucky"):
        batcher.predict(pixels(13))
    assert batcher.predict(pixels(2))[0, 0] == 2
    batcher.close()


def test_model_host_warms_up_before_saying_ready_and_refuses_early_requests():
    release = threading.Event()
    classifier = CountingClassifier()

    def loader():
        release.wait(5)
        return classifier

    host = ModelHost(loader, max_batch=8, background=True)
    assert host.state == "loading"
    with pytest.raises(ModelNotReady):
        host.predict(pixels(1))
    release.set()
    assert host.wait(5) and host.state == "ready"
    assert classifier.batch_sizes[:2] == [1, 8]  # warm-up at both batch sizes
    assert host.predict(pixels(5))[0, 0] == 5
    host.close()


def test_top_k_orders_by_confidence_and_caps_k():
    result = top_k(np.array([0.1, 0.6, 0.3]), ["a", "b", "c"], 5)
    assert [r["label"] for r in result] == ["b", "c", "a"] and result[0] == {
        "label": "b",
        "class_index": 1,
        "confidence": 0.6,
    }
    assert len(top_k(np.array([0.5, 0.5]), ["a", "b"], 1)) == 1


def test_classifier_refuses_pixels_of_the_wrong_shape_or_type():
    with pytest.raises(ValueError, match=r"expected uint8 pixels of shape \(n, 2, 2, 1\)"):
        CountingClassifier().predict_batch(np.zeros((1, 3, 3, 1), np.uint8))
    with pytest.raises(ValueError, match="float32"):
        CountingClassifier().predict_batch(np.zeros((1, 2, 2, 1), np.float32))


# ---------------------------------------------------------------- starting the server


def test_servers_run_under_gunicorn_and_fall_back_to_flask_without_debug_where_it_cannot(
    monkeypatch,
):
    from course_lib.serving import process

    config = ServeConfig(port=8123)
    command = process.server_command("course_lib.serving.wsgi:app", config)
    assert command[1:4] == ["-m", "gunicorn", "-c"] and command[-1] == "course_lib.serving.wsgi:app"
    monkeypatch.setattr(process, "POSIX", False)
    fallback = process.server_command("course_lib.serving.wsgi:app", config)
    assert (
        fallback[1:3] == ["-m", "flask"]
        and "--no-debugger" in fallback
        and "--debug" not in fallback
    )
    assert fallback[fallback.index("--host") + 1] == "127.0.0.1" and "8123" in fallback


def test_make_serve_and_the_browser_set_up():
    from course_lib.config import project_root

    makefile = (project_root() / "Makefile").read_text()
    assert "\n\t$(PY) -m course_lib.serving\n" in makefile.split("\nserve:")[1]
    browser = makefile.split("\nbrowser:")[1].split("\n\n")[0]
    assert (
        "/usr/bin/chromium" in browser
        and "apt-get install -y -qq chromium chromium-driver" in browser
    )
    assert "browser" in makefile.split("\nsetup:")[1].splitlines()[0]
