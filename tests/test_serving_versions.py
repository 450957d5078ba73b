"""Serving a folder of versions: the promoted one is served, a promotion or a rollback is followed
without a restart, requests in flight finish on the version they started with, and every answer
names its version."""

import io
import threading
import time

import numpy as np
import pytest
import requests
from serving_support import FRUIT_CLASSES, png, save_fruit_version

from course_lib import photos, versions
from course_lib.serving import ServeConfig, create_app, free_port, start_server
from course_lib.serving.batching import ModelHost
from course_lib.serving.classifier import Classifier

CLASSES = FRUIT_CLASSES


@pytest.fixture(scope="module")
def saved_root(tmp_path_factory):
    """models/fruit/1 answers apple, models/fruit/2 answers pear; nothing promoted yet."""
    root = tmp_path_factory.mktemp("models") / "fruit"
    save_fruit_version(root, 1, "apple")
    save_fruit_version(root, 2, "pear")
    return root


@pytest.fixture
def root(saved_root, tmp_path):
    """A fresh copy of the two versions, so each test promotes on its own."""
    import shutil

    copy = tmp_path / "fruit"
    shutil.copytree(saved_root, copy)
    return copy


def make_app(root, tmp_path, **settings):
    app = create_app(
        ServeConfig(
            model=str(root),
            db=tmp_path / "p.sqlite3",
            load_in_background=False,
            **{"runtime": "keras", **settings},  # test_serving_litert follows versions on LiteRT
        )
    )
    app.extensions["course_serving"][
        "host"
    ].check_every_s = 0  # look at the record on every request
    return app


def predict(client):
    response = client.post(
        "/predict", data={"file": (io.BytesIO(png()), "a.png")}, content_type="multipart/form-data"
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    return body["label"], body["model"]["version"]


def test_a_photo_model_gets_each_upload_decoded_whole(saved_root):
    # Its own resize layer resizes the photo as decoded: no JPEG is decoded at a reduced scale.
    from course_lib.serving.classifier import ImageNetClassifier, KerasClassifier

    classifier = KerasClassifier.from_folder(saved_root / "1")
    assert classifier.decode_at_least is None and ImageNetClassifier.decode_at_least is None


def test_the_service_follows_promotion_and_rollback_without_a_restart(root, tmp_path):
    versions.promote(root, 1, "first")
    app = make_app(root, tmp_path)
    client = app.test_client()
    try:
        model = client.get("/model").get_json()
        assert (model["name"], model["version"]) == ("fruit", "1")
        assert model["versions"] == {"available": [1, 2], "served": 1}
        assert predict(client) == ("apple", "1")

        versions.promote(root, 2, "better on the holdout")
        assert predict(client) == ("pear", "2")
        assert client.get("/model").get_json()["version"] == "2"
        assert client.get("/health").get_json()["model"] == {"name": "fruit", "version": "2"}

        assert versions.rollback(root) == 1
        assert predict(client) == ("apple", "1")
        tf_serving = client.post(
            "/v1/models/fruit:predict", json={"instances": [np.zeros((8, 8, 3)).tolist()]}
        )
        assert np.argmax(tf_serving.get_json()["predictions"][0]) == 0  # apple, from version 1

        history = client.get("/history?per_page=10").get_json()["items"]
        assert [item["model"]["version"] for item in reversed(history)] == ["1", "2", "1", "1"]
        assert app.extensions["course_serving"]["host"].swaps == 2
    finally:
        app.extensions["course_serving"]["host"].close()


def test_without_a_serving_record_the_highest_version_is_served(root, tmp_path):
    app = make_app(root, tmp_path)
    try:
        assert predict(app.test_client()) == ("pear", "2")
    finally:
        app.extensions["course_serving"]["host"].close()


def test_a_version_folder_is_served_as_it_is_and_never_swapped(root, tmp_path):
    app = make_app(root / "1", tmp_path)
    client = app.test_client()
    try:
        versions.promote(root, 2)
        assert predict(client) == ("apple", "1")
        assert "versions" not in client.get("/model").get_json()
    finally:
        app.extensions["course_serving"]["host"].close()


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(root, tmp_path):
    versions.promote(root, 1)
    (root / "3").mkdir()
    (root / "3" / photos.MODEL_FILE).write_bytes(b"not a keras file")
    app = make_app(root, tmp_path)
    client = app.test_client()
    try:
        versions.promote(root, 3, "broken on purpose")
        assert predict(client) == ("apple", "1")
        health = client.get("/health").get_json()
        assert (
            health["status"] == "ok"
            and health["model"]["version"] == "1"
            and "version 3" in health["error"]
        )
        versions.promote(root, 2)  # the next promotion is followed as usual
        assert predict(client) == ("pear", "2")
    finally:
        app.extensions["course_serving"]["host"].close()


# ---------------------------------------------------------------- the host on its own


class Numbered(Classifier):
    """Answers its own version number as the first probability; can hold a call until released."""

    class_names = ["version", "other"]
    preprocessing = {
        "height": 2,
        "width": 2,
        "color_mode": "grayscale",
        "scale": 1.0,
        "offset": 0.0,
    }

    def __init__(self, version):
        self.name, self.version = "numbered", str(version)
        self.entered, self.release = threading.Event(), threading.Event()
        self.release.set()

    def predict_inputs(self, inputs):
        self.entered.set()
        assert self.release.wait(10)
        return np.tile(np.array([[float(self.version), 0.0]], np.float32), (len(inputs), 1))


class FakeWatch:
    def __init__(self):
        self.version, self.stamps = 1, 0

    def stamp(self):
        self.stamps += 1
        return self.version

    def wanted(self):
        return str(self.version)


def inputs():
    return np.zeros((1, 2, 2, 1), np.float32)


def test_requests_in_flight_finish_on_the_old_version_and_later_ones_get_the_new():
    watch = FakeWatch()
    loaded = {}

    def source():
        loaded[watch.version] = Numbered(watch.version)
        return loaded[watch.version]

    host = ModelHost(source, max_batch=4, background=False, watch=watch, check_every_s=0)
    old = loaded[1]
    old.entered.clear()
    old.release.clear()
    answers = {}

    def slow_request():
        with host.lease() as served:
            answers["served"] = served
            answers["in flight"] = served.predict_inputs(inputs())[0, 0]

    request = threading.Thread(target=slow_request)
    request.start()
    assert old.entered.wait(10)  # the request is inside the old model's call
    watch.version = 2
    host.refresh()  # loads version 2 and swaps it in while the request still runs
    assert host.classifier.version == "2"
    assert host.predict_inputs(inputs())[0, 0] == 2.0
    assert not answers["served"].batcher.closed  # the old version waits for its last request
    old.release.set()
    request.join(10)
    assert answers["in flight"] == 1.0 and answers["served"].classifier is old
    assert answers["served"].batcher.closed  # and then lets go of its thread
    host.close()


def test_the_record_is_looked_at_no_more_than_once_per_interval():
    watch = FakeWatch()
    host = ModelHost(
        lambda: Numbered(watch.version), background=False, watch=watch, check_every_s=60
    )
    stamps = watch.stamps
    for _ in range(200):
        host.refresh()
    watch.version = 2
    host.refresh()
    assert (
        watch.stamps == stamps and host.classifier.version == "1"
    )  # not looked at again within 60 s
    host.check_every_s = 0
    host.refresh()
    assert host.classifier.version == "2"
    host.close()


def test_in_the_background_the_old_version_answers_while_the_new_one_loads():
    watch = FakeWatch()
    gate = threading.Event()

    def source():
        if watch.version == 2:
            assert gate.wait(10)
        return Numbered(watch.version)

    host = ModelHost(source, background=True, watch=watch, check_every_s=0)
    assert host.wait(10)
    watch.version = 2
    host.refresh()
    assert host.reloading == "2" and host.predict_inputs(inputs())[0, 0] == 1.0
    gate.set()
    deadline = time.monotonic() + 10
    while host.swaps == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert host.reloading is None and host.predict_inputs(inputs())[0, 0] == 2.0
    host.close()


# ---------------------------------------------------------------- a real server


def test_a_running_server_follows_promotion_and_rollback(root, tmp_path):
    versions.promote(root, 1)
    config = ServeConfig(
        model=str(root),
        db=tmp_path / "p.sqlite3",
        port=free_port(),
        workers=1,
        threads=2,
        runtime="keras",
    )
    server = start_server(config, log_path=tmp_path / "server.log", timeout=240)
    try:

        def served_label():
            body = requests.post(
                f"{server.url}/predict", files={"file": ("a.png", png())}, timeout=30
            ).json()
            return body["label"], body["model"]["version"]

        def wait_for(version):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if requests.get(f"{server.url}/model", timeout=30).json()["version"] == version:
                    return True
                time.sleep(0.5)
            return False

        assert served_label() == ("apple", "1")
        versions.promote(root, 2)
        assert wait_for("2") and served_label() == ("pear", "2")
        versions.rollback(root)
        assert wait_for("1") and served_label() == ("apple", "1")
    finally:
        server.stop()
