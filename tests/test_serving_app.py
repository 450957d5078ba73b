"""The Flask app through its test client: every route, and every kind of bad request."""

import base64
import csv
import io
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from serving_support import encode, jpeg, png

from course_lib.serving import Classifier, ServeConfig, create_app
from course_lib.serving.uploads import decode_image, decode_upload, to_model_pixels

CLASSES = ["cat", "dog", "<b>bird</b>", "fish"]


class FakeClassifier(Classifier):
    """Probabilities from the mean brightness: fast, deterministic, no TensorFlow."""

    name, version = "fake", "v1"
    class_names = CLASSES
    preprocessing = {
        "height": 8,
        "width": 8,
        "color_mode": "rgb",
        "scale": 1 / 255,
        "offset": 0.0,
        "resize": "bilinear",
    }

    def predict_inputs(self, inputs):
        means = inputs.reshape(len(inputs), -1).mean(axis=1)
        logits = np.stack([means * (k + 1) * 3 for k in range(len(CLASSES))], axis=1)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def make_app(tmp_path: Path, classifier=None, **settings):
    config = ServeConfig(db=tmp_path / "predictions.sqlite3", load_in_background=False, **settings)
    return create_app(config, classifier or FakeClassifier())


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path)
    yield app
    app.extensions["course_serving"]["host"].close()


@pytest.fixture
def client(app):
    return app.test_client()


def upload(client, *files, field="file", query=""):
    parts = {field: [(io.BytesIO(data), name) for name, data in files]}
    return client.post(f"/predict{query}", data=parts, content_type="multipart/form-data")


def assert_error(response, status, phrase):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == status and phrase in body["error"], body
    assert "Traceback" not in body["error"]


# ---------------------------------------------------------------- happy paths


def test_health_reports_the_warm_model(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok" and response.get_json()["model"] == {
        "name": "fake",
        "version": "v1",
    }


def test_predict_one_image_returns_label_confidence_top_k_model_and_latency(client):
    response = upload(client, ("photo.png", png()))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) >= {
        "id",
        "label",
        "class_index",
        "confidence",
        "top_k",
        "model",
        "latency_ms",
        "image_url",
    }
    assert body["label"] == CLASSES[body["class_index"]] and body["filename"] == "photo.png"
    assert len(body["top_k"]) == 4  # TOP_K=5, capped at the number of classes
    confidences = [t["confidence"] for t in body["top_k"]]
    assert confidences == sorted(confidences, reverse=True) and body["confidence"] == confidences[0]
    assert body["model"] == {"name": "fake", "version": "v1", "runtime": "keras"}
    assert body["latency_ms"] > 0


def test_predictions_are_exactly_the_classifier_on_the_preprocessed_upload(client):
    data = jpeg((50, 30), seed=3)
    pixels = to_model_pixels(decode_image(data), FakeClassifier.preprocessing)
    expected = FakeClassifier().predict_batch(pixels[None])[0]
    body = upload(client, ("x.jpg", data), query="?top_k=4").get_json()
    by_index = {t["class_index"]: t["confidence"] for t in body["top_k"]}
    assert np.allclose([by_index[i] for i in range(4)], expected, atol=1e-6)


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_unless_the_classifier_needs_it_whole(
    tmp_path, client
):
    data = jpeg((1200, 600), seed=4)
    body = upload(client, ("big.jpg", data), query="?top_k=4").get_json()
    reduced = decode_upload(data, at_least=256).image
    assert reduced.size == (600, 300)
    expected = FakeClassifier().predict_inputs(FakeClassifier().prepare(reduced)[None])[0]
    by_index = {t["class_index"]: t["confidence"] for t in body["top_k"]}
    assert np.allclose([by_index[i] for i in range(4)], expected, atol=1e-6)
    row = client.get(f"/history/{body['id']}").get_json()
    assert (row["width"], row["height"]) == (1200, 600)  # the photo's own size
    assert Image.open(io.BytesIO(client.get(body["image_url"]).data)).size == (256, 128)

    class Whole(FakeClassifier):
        decode_at_least = None  # its prepare resizes the photo as decoded

    whole = make_app(tmp_path / "whole", Whole())
    body = upload(whole.test_client(), ("big.jpg", data), query="?top_k=4").get_json()
    pixels = to_model_pixels(decode_image(data), FakeClassifier.preprocessing)
    expected = Whole().predict_batch(pixels[None])[0]
    by_index = {t["class_index"]: t["confidence"] for t in body["top_k"]}
    assert np.allclose([by_index[i] for i in range(4)], expected, atol=1e-6)
    whole.extensions["course_serving"]["host"].close()


def test_several_files_in_one_request_come_back_in_order(client):
    response = upload(
        client, ("a.png", png(seed=1)), ("b.jpg", jpeg(seed=2)), ("c.png", png(seed=3))
    )
    predictions = response.get_json()["predictions"]
    assert [p["filename"] for p in predictions] == ["a.png", "b.jpg", "c.png"]
    assert [p["id"] for p in predictions] == sorted(p["id"] for p in predictions)


def test_a_request_of_many_large_photos_holds_one_at_full_size_at_a_time(tmp_path):
    from course_lib.serving.uploads import preview_bytes

    seen, sizes = [], []

    class Watching(FakeClassifier):
        def prepare(self, image):
            # every photo prepared before this one has shrunk to its preview's size
            assert all(max(earlier.size) <= 256 for earlier in seen), [e.size for e in seen]
            seen.append(image)
            sizes.append(image.size)
            return super().prepare(image)

    app = make_app(tmp_path, Watching())
    datas = [png((900, 600), seed=i) for i in range(3)]
    items = upload(app.test_client(), *[(f"{i}.png", d) for i, d in enumerate(datas)])
    items = items.get_json()["predictions"]
    assert sizes == [(900, 600)] * 3  # each whole when prepared
    for item, data in zip(items, datas, strict=True):
        expected = FakeClassifier().predict_batch(
            to_model_pixels(decode_image(data), FakeClassifier.preprocessing)[None]
        )[0]
        assert np.isclose(item["top_k"][0]["confidence"], expected.max(), atol=1e-6)
        preview = app.test_client().get(item["image_url"]).data
        assert preview == preview_bytes(decode_image(data))[0]  # the same preview as before
    app.extensions["course_serving"]["host"].close()


def test_concurrent_good_and_bad_uploads_record_exactly_the_good_ones(client):
    from concurrent.futures import ThreadPoolExecutor

    bad = [b"", b"text", png()[:80], jpeg()[:300]]

    def send(i):
        files = [(f"good{i}.png", png(seed=i % 5))]
        if i % 3 == 0:
            files.append((f"bad{i}.png", bad[i % 4]))
        response = upload(client, *files)
        return response.status_code, len(files) if response.status_code == 200 else 0

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, range(60)))
    assert {status for status, _ in results} <= {200, 400, 415}
    assert sum(status == 200 for status, _ in results) == 40
    history = client.get("/history?per_page=100").get_json()
    assert history["total"] == sum(n for _, n in results) == 40
    assert sorted(item["filename"] for item in history["items"]) == sorted(
        f"good{i}.png" for i in range(60) if i % 3
    )


def test_top_k_can_be_asked_for(client):
    assert len(upload(client, ("a.png", png()), query="?top_k=2").get_json()["top_k"]) == 2


def test_history_is_latest_first_and_paginated(client):
    for seed in range(5):
        upload(client, (f"img{seed}.png", png(seed=seed)))
    page1 = client.get("/history?per_page=2").get_json()
    page3 = client.get("/history?per_page=2&page=3").get_json()
    assert page1["total"] == 5 and page1["pages"] == 3
    assert [i["filename"] for i in page1["items"]] == ["img4.png", "img3.png"]
    assert [i["filename"] for i in page3["items"]] == ["img0.png"]
    one = client.get(f"/history/{page3['items'][0]['id']}").get_json()
    assert one["filename"] == "img0.png" and one["feedback"] is None


def test_the_uploaded_image_is_kept_as_a_small_preview(client):
    body = upload(client, ("big.jpg", jpeg((800, 400)))).get_json()
    response = client.get(body["image_url"])
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(response.data)).size == (256, 128)


def test_the_preview_is_made_while_the_model_runs_not_after_it(tmp_path, monkeypatch):
    from course_lib.serving import predicting, uploads

    events = []
    preview_started, serving = threading.Event(), threading.Event()
    make_preview = uploads.preview_bytes

    def preview(image):
        events.append(("preview", threading.current_thread().name))
        preview_started.set()
        return make_preview(image)

    class Watched(FakeClassifier):
        def predict_inputs(self, inputs):
            if serving.is_set():  # not the warm-up: wait here until the preview has begun
                assert preview_started.wait(10), "no preview was started before the model ran"
                events.append(("model", threading.current_thread().name))
            return super().predict_inputs(inputs)

    monkeypatch.setattr(predicting.uploads, "preview_bytes", preview)
    app = make_app(tmp_path, Watched())
    serving.set()
    try:
        body = upload(app.test_client(), ("big.jpg", jpeg((800, 400)))).get_json()
        image = app.test_client().get(body["image_url"])
    finally:
        app.extensions["course_serving"]["host"].close()
    assert [kind for kind, _ in events][:2] == ["preview", "model"]
    assert events[0][1] != events[1][1]  # two threads
    assert Image.open(io.BytesIO(image.data)).size == (256, 128)
    assert body["original"]["kept"] and body["label"] in CLASSES


def test_feedback_is_stored_replaced_and_shown_in_the_history(client):
    pid = upload(client, ("a.png", png())).get_json()["id"]
    right = client.post(f"/feedback/{pid}", json={"correct": True}).get_json()
    assert right["feedback"]["correct"] is True and right["feedback"]["correct_label"] is None
    wrong = client.post(
        f"/feedback/{pid}", json={"correct": False, "label": "dog", "comment": " blurry "}
    )
    assert wrong.status_code == 200
    assert wrong.get_json()["feedback"] | {"created_at": None} == {
        "correct": False,
        "correct_label": "dog",
        "comment": "blurry",
        "created_at": None,
    }
    assert client.get("/history").get_json()["items"][0]["feedback"]["correct_label"] == "dog"


def test_feedback_also_accepts_a_plain_form(client):
    pid = upload(client, ("a.png", png())).get_json()["id"]
    response = client.post(f"/feedback/{pid}", data={"correct": "no", "label": "fish"})
    assert (
        response.status_code == 200 and response.get_json()["feedback"]["correct_label"] == "fish"
    )


def test_feedback_exports_as_csv_ready_for_retraining(client):
    first = upload(client, ("a.png", png(seed=1))).get_json()
    second = upload(client, ("=cmd.png", png(seed=2))).get_json()
    upload(client, ("no-feedback.png", png(seed=3)))
    client.post(f"/feedback/{first['id']}", json={"correct": True})
    client.post(
        f"/feedback/{second['id']}",
        json={"correct": False, "label": "fish", "comment": "=HYPERLINK(1)"},
    )
    response = client.get("/feedback.csv")
    assert (
        response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    )
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(r["prediction_id"]) for r in rows] == [first["id"], second["id"]]
    assert rows[0]["correct"] == "1" and rows[0]["correct_label"] == first["label"]
    assert rows[1]["correct"] == "0" and rows[1]["correct_label"] == "fish"
    assert rows[1]["comment"] == "'=HYPERLINK(1)"  # never a live spreadsheet formula
    assert rows[0]["image_url"].endswith(f"/history/{first['id']}/image")


def test_history_survives_a_restart(tmp_path):
    first = make_app(tmp_path)
    pid = upload(first.test_client(), ("a.png", png())).get_json()["id"]
    first.extensions["course_serving"]["host"].close()
    second = make_app(tmp_path)
    client = second.test_client()
    assert client.get("/history").get_json()["total"] == 1
    assert client.get(f"/history/{pid}").get_json()["filename"] == "a.png"
    second.extensions["course_serving"]["host"].close()


def test_model_route_lists_classes_and_limits(client):
    body = client.get("/model").get_json()
    assert body["class_names"] == CLASSES and body["input_shape"] == [8, 8, 3]
    assert body["limits"]["max_files"] == 16


# ---------------------------------------------------------------- the page


def test_page_serves_html_with_escaped_class_names_and_its_assets(client):
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "&lt;b&gt;bird&lt;/b&gt;" in html and "<b>bird</b>" not in html
    assert 'name="viewport"' in html and 'id="predict-button"' in html
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200


def test_page_script_inserts_user_text_as_text_never_as_html():
    script = (Path(__file__).parents[1] / "course_lib/serving/static/app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script


def test_uploaded_file_names_are_made_safe(client):
    body = upload(client, ("<img src=x onerror=alert(1)>.png", png())).get_json()
    assert (
        "<" not in body["filename"]
        and ">" not in body["filename"]
        and body["filename"].endswith(".png")
    )
    assert upload(client, ("../../etc/passwd", png())).get_json()["filename"] == "etc_passwd"


def test_file_names_in_another_script_or_too_long_stay_readable_and_short(client):
    assert upload(client, ("写真 😀.png", png())).get_json()["filename"] == "upload.png"
    long_name = upload(client, ("a" * 5000 + ".png", png())).get_json()["filename"]
    assert long_name == "a" * 116 + ".png"
    assert client.get("/history").get_json()["items"][0]["filename"] == long_name


def test_responses_carry_security_headers(client):
    headers = client.get("/").headers
    assert (
        "script-src" not in headers["Content-Security-Policy"]
    )  # default-src 'self' covers scripts
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


# ---------------------------------------------------------------- bad requests


def test_missing_field_names_the_field_that_was_sent(client):
    assert_error(
        upload(client, ("a.png", png()), field="image"), 400, "no image in the field 'file'"
    )
    assert_error(upload(client, ("a.png", png()), field="image"), 400, "'image'")


def test_no_file_chosen_in_the_browser(client):
    response = client.post(
        "/predict", data={"file": (io.BytesIO(b""), "")}, content_type="multipart/form-data"
    )
    assert_error(response, 400, "choose an image")


def test_a_text_field_named_file_asks_for_the_file_itself(client):
    # curl -F file=photo.jpg, without the @, sends the words "photo.jpg"
    response = client.post(
        "/predict", data={"file": "photo.jpg"}, content_type="multipart/form-data"
    )
    assert_error(response, 400, "holds text, not a file")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--B\r\nxx"),  # no boundary
        ("multipart/form-data; boundary=B", b"--B\r\nContent-Disposition: form-da"),  # cut short
    ],
    ids=["no-boundary", "cut-short"],
)
def test_a_multipart_body_that_cannot_be_read_is_named_as_such(client, content_type, body):
    response = client.post("/predict", data=body, content_type=content_type)
    assert_error(response, 400, "multipart/form-data body could not be read")
    assert client.get("/history").get_json()["total"] == 0


def test_a_chunked_upload_and_a_lying_content_length_get_a_json_answer(tmp_path):
    import http.client
    import urllib.parse

    from serving_support import course_service_url

    head = b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
    form = head + png() + b"\r\n--B--\r\n"
    too_big = head + b"\0" * (10 * 2**20 + 1) + b"\r\n--B--\r\n"

    def post(url, body, headers):
        connection = http.client.HTTPConnection(urllib.parse.urlsplit(url).netloc, timeout=30)
        try:
            connection.putrequest("POST", "/predict")
            connection.putheader("Content-Type", "multipart/form-data; boundary=B")
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            try:
                if "Transfer-Encoding" in headers:
                    for start in range(0, len(body), 2**16):
                        part = body[start : start + 2**16]
                        connection.send(b"%x\r\n%s\r\n" % (len(part), part))
                    connection.send(b"0\r\n\r\n")
                else:
                    connection.send(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered and closed before reading it all
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    with course_service_url(tmp_path / "p.sqlite3", FakeClassifier()) as url:
        chunked = {"Transfer-Encoding": "chunked"}
        status, body = post(url, form, chunked)
        assert status == 200 and body["filename"] == "a.png"
        status, body = post(url, too_big, chunked)
        assert status == 413 and "10 MB upload limit" in body["error"]
        status, body = post(url, form, {"Content-Length": "100"})  # says less than it sends
        assert status == 400 and "could not be read" in body["error"]


class Stalled(io.BytesIO):
    """A request body that stops arriving: reading it times out, as gunicorn's socket does."""

    def read(self, size=-1):
        raise TimeoutError("timed out")

    readinto = read1 = read


@pytest.mark.parametrize(
    ("body", "status", "phrase"),
    [
        (Stalled(), 408, "stopped arriving for 30 s"),
        (io.BytesIO(b"--B\r\nContent-Disposition: form-data"), 400, "ended before its Content"),
    ],
    ids=["stalled", "shorter"],
)
def test_a_body_that_stops_before_its_content_length_is_answered_not_waited_for(
    client, body, status, phrase
):
    for path in ("/predict", "/v1/models/fake:predict"):
        body.seek(0)
        response = client.post(
            path,
            input_stream=body,
            content_type="multipart/form-data; boundary=B",
            environ_overrides={"CONTENT_LENGTH": "5000"},  # more than it sends
        )
        assert_error(response, status, phrase)
    assert client.get("/history").get_json()["total"] == 0


def test_gunicorn_gives_a_request_s_body_the_service_s_timeout(monkeypatch):
    import socket
    from types import SimpleNamespace

    from course_lib.serving import gunicorn_conf

    server, client = socket.socketpair()
    with server, client:
        gunicorn_conf.pre_request(None, SimpleNamespace(unreader=SimpleNamespace(sock=server)))
        assert server.gettimeout() == ServeConfig.from_env().timeout_s


def test_not_multipart(client):
    assert_error(client.post("/predict", json={"file": "cat.jpg"}), 415, "multipart/form-data")
    assert_error(client.post("/predict"), 415, "multipart/form-data")


def test_empty_file(client):
    assert_error(upload(client, ("empty.png", b"")), 400, "'empty.png' is empty")


def test_not_an_image(client):
    assert_error(upload(client, ("notes.png", b"just some text, not pixels")), 415, "not an image")


def test_truncated_image(client):
    assert_error(upload(client, ("cut.jpg", jpeg((64, 64))[:400])), 400, "truncated or corrupt")


def test_one_bad_file_in_a_batch_names_it_and_records_nothing(client):
    response = upload(client, ("good.png", png()), ("bad.png", b"nope"))
    assert_error(response, 415, "'bad.png'")
    assert client.get("/history").get_json()["total"] == 0


def test_request_larger_than_the_upload_limit(tmp_path):
    client = make_app(tmp_path, max_upload_mb=0.01).test_client()
    big = encode(
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 80, 3), dtype=np.uint8))
    )
    assert len(big) > 0.01 * 1024 * 1024
    assert_error(upload(client, ("big.png", big)), 413, "0.01 MB upload limit")


@pytest.mark.parametrize(
    "form",
    [{f"field{i}": "x" for i in range(1500)}, {"note": "x" * 600_000}],
    ids=["1500-parts", "600-kb-text"],
)
def test_a_small_form_refused_for_its_shape_is_not_called_too_large(client, form):
    form = {**form, "file": (io.BytesIO(png()), "a.png")}
    response = client.post("/predict", data=form, content_type="multipart/form-data")
    assert_error(response, 413, "the form has too many parts, or a text field too long")


def test_image_with_too_many_pixels(tmp_path):
    client = make_app(tmp_path, max_pixels=10_000).test_client()
    assert_error(
        upload(client, ("wide.png", encode(Image.new("L", (200, 100))))), 413, "20,000 pixels"
    )


def test_too_many_files(tmp_path):
    client = make_app(tmp_path, max_files=2).test_client()
    files = [(f"{i}.png", png(seed=i)) for i in range(3)]
    assert_error(upload(client, *files), 413, "3 files in one request; the limit is 2")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "/predict", "POST"),
        ("get", "/feedback/1", "POST"),
        ("post", "/history", "GET"),
        ("delete", "/history/1", "GET"),
        ("put", "/", "GET"),
    ],
)
def test_wrong_method(client, method, path, allowed):
    response = getattr(client, method)(path)
    assert_error(response, 405, f"use {allowed}")
    assert allowed in response.headers["Allow"]


@pytest.mark.parametrize("path", ["/history/999", "/history/999/image"])
def test_unknown_prediction_id(client, path):
    assert_error(client.get(path), 404, "no prediction with id 999")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/history/{id}"),
        ("get", "/history/{id}/image"),
        ("get", "/history/{id}/original"),
        ("delete", "/history/{id}/image"),
        ("post", "/feedback/{id}"),
    ],
)
def test_an_id_past_the_largest_sqlite_number_is_unknown_too(client, method, path):
    huge = 2**63
    response = getattr(client, method)(path.format(id=huge), json={"correct": True})
    assert_error(response, 404, f"no prediction with id {huge}")


def test_a_json_body_nested_too_deep_to_read_is_a_400(client):
    pid = upload(client, ("a.png", png())).get_json()["id"]
    deep = "[" * 100_000 + "]" * 100_000
    for path in ("/v1/models/fake:predict", f"/feedback/{pid}"):
        response = client.post(path, data=deep, content_type="application/json")
        assert_error(response, 400, "nested too deeply")


def test_feedback_correct_may_be_json_1_or_0(client):
    pid = upload(client, ("a.png", png())).get_json()["id"]
    assert client.post(f"/feedback/{pid}", json={"correct": 1}).get_json()["feedback"]["correct"]
    body = client.post(f"/feedback/{pid}", json={"correct": 0, "label": "dog"}).get_json()
    assert body["feedback"]["correct"] is False and body["feedback"]["correct_label"] == "dog"
    assert_error(client.post(f"/feedback/{pid}", json={"correct": 2}), 400, "true or false")


def test_feedback_on_unknown_id(client):
    assert_error(
        client.post("/feedback/999", json={"correct": True}), 404, "no prediction with id 999"
    )


def test_unknown_route_is_json_too(client):
    assert_error(client.get("/no/such/page"), 404, "/no/such/page")
    assert_error(client.get("/history/abc"), 404, "/history/abc")


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ({}, '"correct" must be true or false'),
        ({"correct": "maybe"}, '"correct" must be true or false'),
        ({"correct": False, "label": "unicorn"}, "unknown label 'unicorn'"),
        ({"correct": False, "comment": "x" * 501}, "the limit is 500"),
        ({"correct": False, "label": 7}, '"label" must be text'),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_feedback(client, body, phrase):
    pid = upload(client, ("a.png", png())).get_json()["id"]
    assert_error(client.post(f"/feedback/{pid}", json=body), 400, phrase)


@pytest.mark.parametrize(
    ("query", "phrase"),
    [
        ("page=0", "page must be between"),
        ("page=x", "whole number"),
        ("per_page=1000", "per_page must be between 1 and 100"),
    ],
)
def test_bad_history_query(client, query, phrase):
    assert_error(client.get(f"/history?{query}"), 400, phrase)


def test_bad_top_k(client):
    assert_error(
        upload(client, ("a.png", png()), query="?top_k=0"), 400, "top_k must be between 1 and 4"
    )


def test_no_row_is_written_for_a_failed_request(client):
    upload(client, ("empty.png", b""))
    upload(client, ("text.png", b"text"))
    assert client.get("/history").get_json()["total"] == 0


# ---------------------------------------------------------------- loading and failures


def test_health_and_predict_answer_503_until_the_model_is_warm(tmp_path):
    # A request that comes while the model loads waits up to COURSE_SERVE_TIMEOUT_S, then 503.
    release = threading.Event()

    def slow_loader():
        release.wait(10)
        return FakeClassifier()

    config = ServeConfig(db=tmp_path / "p.sqlite3", load_in_background=True, timeout_s=0.1)
    app = create_app(config, slow_loader)
    client = app.test_client()
    assert_error(upload(client, ("a.png", png())), 503, "still loading")
    assert (
        client.get("/health").status_code == 503
        and client.get("/health").get_json()["status"] == "loading"
    )
    assert upload(client, ("a.png", png())).headers["Retry-After"]
    release.set()
    assert app.extensions["course_serving"]["host"].wait(10)
    assert (
        client.get("/health").status_code == 200
        and upload(client, ("a.png", png())).status_code == 200
    )
    app.extensions["course_serving"]["host"].close()


def test_a_model_that_fails_to_load_is_reported(tmp_path):
    def broken_loader():
        raise FileNotFoundError("no saved model at /nowhere.keras")

    app = create_app(ServeConfig(db=tmp_path / "p.sqlite3", load_in_background=True), broken_loader)
    app.extensions["course_serving"]["host"].wait(10)
    client = app.test_client()
    health = client.get("/health")
    assert health.status_code == 503 and health.get_json()["status"] == "failed"
    assert "/nowhere.keras" in health.get_json()["error"]
    assert_error(upload(client, ("a.png", png())), 503, "could not be loaded")


def test_a_crash_inside_the_service_is_a_json_500_without_a_traceback(tmp_path):
    class Broken(FakeClassifier):
        def predict_inputs(self, inputs):
            if len(inputs) == 1 and inputs.mean() > 0:  # the warm-up (zeros) passes
                raise RuntimeError("secret internal detail")
            return super().predict_inputs(inputs)

    client = make_app(tmp_path, Broken()).test_client()
    response = upload(client, ("a.png", png()))
    assert_error(response, 500, "unexpected error")
    assert "secret" not in response.get_data(as_text=True)


# ---------------------------------------------------------------- TensorFlow Serving's REST API


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_tf_serving_b64_instances_give_the_same_probabilities_as_predict(client):
    data = png(seed=5)
    mine = upload(client, ("a.png", data), query="?top_k=4").get_json()
    response = client.post(
        "/v1/models/fake:predict",
        json={"instances": [{"b64": b64(data)}, {"b64": b64(png(seed=6))}]},
    )
    assert response.status_code == 200
    predictions = response.get_json()["predictions"]
    assert len(predictions) == 2 and len(predictions[0]) == 4
    by_index = {t["class_index"]: t["confidence"] for t in mine["top_k"]}
    assert np.allclose(predictions[0], [by_index[i] for i in range(4)], atol=1e-6)


def test_tf_serving_b64_may_be_wrapped_in_lines_as_the_base64_command_writes_it(client):
    data = png((64, 64), seed=2)
    wrapped = base64.encodebytes(data).decode()  # a line break every 76 characters
    assert "\n" in wrapped
    response = client.post("/v1/models/fake:predict", json={"instances": [{"b64": wrapped}]})
    plain = client.post("/v1/models/fake:predict", json={"instances": [{"b64": b64(data)}]})
    assert response.status_code == 200 and response.get_json() == plain.get_json()


def test_tf_serving_b64_images_share_the_pixels_of_predict_s_largest_request(tmp_path):
    client = make_app(tmp_path, max_files=2, max_pixels=10_000).test_client()
    image = {"b64": b64(png((100, 100)))}  # 10,000 pixels: the most one file may hold
    path = "/v1/models/fake:predict"
    assert client.post(path, json={"instances": [image] * 2}).status_code == 200
    response = client.post(path, json={"instances": [image] * 3})
    assert_error(response, 413, "hold more than 2 × 10,000 pixels together; send fewer at once")
    assert client.get("/history").get_json()["total"] == 2


def test_tf_serving_reads_json_sent_without_its_content_type_as_curl_d_sends_it(client):
    body = json.dumps({"instances": [{"b64": b64(png())}]})
    for content_type in ("application/x-www-form-urlencoded", None):
        response = client.post("/v1/models/fake:predict", data=body, content_type=content_type)
        assert response.status_code == 200 and len(response.get_json()["predictions"]) == 1


def test_tf_serving_tensor_and_named_instances(client):
    tensor = np.full((8, 8, 3), 0.5).tolist()
    assert (
        len(
            client.post("/v1/models/fake:predict", json={"instances": [tensor, tensor]}).get_json()[
                "predictions"
            ]
        )
        == 2
    )
    named = client.post(
        "/v1/models/fake/versions/1:predict",
        json={"instances": [{"image_bytes": {"b64": b64(png())}}]},
    )
    assert named.status_code == 200
    columnar = client.post("/v1/models/fake:predict", json={"inputs": [tensor]})
    assert columnar.status_code == 200 and list(columnar.get_json()) == ["outputs"]


def test_tf_serving_accepts_its_default_signature_name_and_refuses_others(client):
    tensor = np.full((8, 8, 3), 0.5).tolist()
    named = client.post(
        "/v1/models/fake:predict", json={"signature_name": "serving_default", "instances": [tensor]}
    )
    assert named.status_code == 200 and len(named.get_json()["predictions"]) == 1
    assert_error(
        client.post(
            "/v1/models/fake:predict", json={"signature_name": "classify", "instances": [tensor]}
        ),
        400,
        "'classify' not found",
    )


def test_tf_serving_model_status(client):
    body = client.get("/v1/models/fake").get_json()
    assert body["model_version_status"][0]["state"] == "AVAILABLE"


@pytest.mark.parametrize(
    ("name", "body", "status", "phrase"),
    [
        ("other", {"instances": [[0]]}, 404, "Servable not found"),
        ("fake", None, 400, "JSON object"),
        ("fake", {"instances": []}, 400, "non-empty list"),
        ("fake", {"signature_name": "serving_default"}, 400, "non-empty list"),
        ("fake", {"instances": [np.zeros((4, 4, 3)).tolist()]}, 400, "the model takes [8, 8, 3]"),
        ("fake", {"instances": [[1, 2], [3]]}, 400, "all the same shape"),
        ("fake", {"instances": [{"b64": "***"}]}, 400, "not valid base64"),
        ("fake", {"instances": [{"b64": 5}]}, 400, '"b64" must be text'),
        ("fake", {"instances": [{"b64": b64(b"text")}]}, 415, "not an image"),
        ("fake", {"instances": [{"b64": b64(png())}, np.zeros((8, 8, 3)).tolist()]}, 400, "mix of"),
        ("fake", {"instances": [np.full((8, 8, 3), np.nan).tolist()]}, 400, "NaN"),
        ("fake", {"instances": [[0]] * 300}, 413, "the limit is 256"),
    ],
)
def test_tf_serving_bad_requests(client, name, body, status, phrase):
    kwargs = (
        {"json": body}
        if body is not None
        else {"data": "not json", "content_type": "application/json"}
    )
    if (
        isinstance(body, dict)
        and body.get("instances")
        and isinstance(body["instances"][0], list)
        and np.isnan(np.asarray(body["instances"][0], dtype=float)).any()
    ):
        kwargs = {
            "data": '{"instances": [' + str(body["instances"][0]).replace("nan", "NaN") + "]}",
            "content_type": "application/json",
        }
    assert_error(client.post(f"/v1/models/{name}:predict", **kwargs), status, phrase)


def test_real_keras_model_serves_its_own_exact_outputs(tmp_path):
    from serving_support import tiny_model_path

    from course_lib import models
    from course_lib.serving import KerasClassifier

    classifier = KerasClassifier.from_saved(tiny_model_path())
    assert classifier.name == "tiny_fashion" and classifier.version == "test-1"
    app = make_app(tmp_path, classifier)
    data = png((40, 40), seed=9)
    body = upload(app.test_client(), ("a.png", data), query="?top_k=10").get_json()
    model, meta = models.load_model(tiny_model_path())
    x = models.as_model_input(
        to_model_pixels(decode_image(data), meta["preprocessing"])[None], meta["preprocessing"]
    )
    expected = model.predict_on_batch(x)[0]
    by_index = {t["class_index"]: t["confidence"] for t in body["top_k"]}
    assert np.allclose([by_index[i] for i in range(10)], expected, atol=1e-6)
    app.extensions["course_serving"]["host"].close()
