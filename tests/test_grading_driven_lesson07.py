"""Lesson 07's Flask exercises judged in two phases.

7.2: a Flask app cannot travel, so the kernel runs the driver ``flask_exchanges``: it builds
the student's app around the model, class names and record the check chose, sends it the
check's requests with Flask's test client, and returns the answers as data, which the check
judges. 7.4: the student's client talks to a service the judge runs itself
(:mod:`course_lib.checks._batch_service`), which counts the requests that reach it, instead of
the notebook's server. Each answer gets the message the check gives in a notebook, on the
same fresh draw of test data.
"""

import io
import re

import keras
import numpy as np
import pytest
import requests
from flask import Flask, jsonify, request
from PIL import Image
from serving_support import course_service_url
from test_checks_lesson07 import (
    Fake,
    _rgb_for_a_grayscale_model,
    _route,
    _route_at,
    _students_route,
)

from course_lib import checks
from course_lib.checks import _batch_service, _drivers, lesson07
from course_lib.checks._core import fresh_inputs
from course_lib.data import FASHION_MNIST_CLASSES
from course_lib.serving import create_minimal_app
from course_lib.tools.grading import judge, two_phase

SALT = 7070
CHECK_7_2 = "checks.exercise_7_2(create_minimal_app, model, class_names, prep)"
CHECK_7_4 = "checks.exercise_7_4(classify_batch, server, batch_files)"


# ---------------------------------------------------------------- 7.2 the minimal Flask app


def _notebook_model():
    """The notebook's `model`: any Keras model will do, the judge uses one of its own."""
    return keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )


def _namespace_7_2(answer, **changed):
    return {
        "create_minimal_app": answer,
        "model": _notebook_model(),
        "class_names": list(FASHION_MNIST_CLASSES),
        "prep": lesson07._lesson_record(),
        **changed,
    }


def _graded_and_direct_7_2(tmp_path, answer):
    """The judge's reply, and the check run here on the model, names and record the judge
    gives the kernel, with the same test data."""
    reply = judge.judge_locally(CHECK_7_2, _namespace_7_2(answer), SALT, str(tmp_path))
    with fresh_inputs(SALT):
        direct = checks.exercise_7_2(
            answer,
            lesson07._lesson_model(),
            list(FASHION_MNIST_CLASSES),
            lesson07._lesson_record(),
        )
    return reply, direct


def _create_app_with_pil_errors_caught(model, class_names, preprocessing):
    """Right, written differently: the form read with getlist, Pillow's errors caught by an
    error handler, the model's probabilities from predict."""
    app = Flask("written_differently")

    @app.errorhandler(OSError)
    def unreadable(exc):
        return jsonify({"error": f"cannot read the image: {exc}"}), 400

    @app.route("/predict", methods=["POST"])
    def predict():
        uploads = request.files.getlist("file")
        if not uploads:
            return jsonify({"error": "no file in the field 'file'"}), 400
        image = Image.open(uploads[0].stream)
        image = image.convert("L" if preprocessing["color_mode"] == "grayscale" else "RGB")
        image = image.resize(
            (preprocessing["width"], preprocessing["height"]), Image.Resampling.BILINEAR
        )
        x = np.asarray(image, np.float32) * preprocessing["scale"] + preprocessing["offset"]
        p = model.predict(x.reshape(1, preprocessing["height"], preprocessing["width"], -1))[0]
        return jsonify({"label": class_names[int(np.argmax(p))], "confidence": float(np.max(p))})

    return app


@pytest.mark.usefixtures("library_copies_allowed")  # the library's app, to show they agree
@pytest.mark.parametrize(
    "answer", [create_minimal_app, _create_app_with_pil_errors_caught, _students_route()]
)
def test_7_2_a_right_app_passes_when_the_kernel_builds_it_and_replays_the_requests(
    tmp_path, answer
):
    reply, direct = _graded_and_direct_7_2(tmp_path, answer)
    assert reply["status"] == "passed", reply
    assert direct.passed, direct.message


def _unfinished(model, class_names, preprocessing):
    app = Flask(__name__)

    @app.post("/predict")
    def predict():
        raise NotImplementedError("Exercise 7.2")

    return app


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (_route(scale=False), "not scaled"),
        (_route(read=lambda: request.form["file"]), "uploaded files are in request.files"),
        (
            _route(to_json=lambda label, p, i: jsonify(label=label, confidence=p[i])),
            "NumPy numbers are not JSON",
        ),
        (_route(bad_status=200), "got status 200"),
        (_route(softmax_again=True), "do not apply it again"),
        (_route(to_json=lambda label, p, i: f"{label} ({p[i]:.0%})"), "not a JSON object"),
        (_rgb_for_a_grayscale_model, "a batch of shape (1, 28, 28, 3), but it takes"),
        (_students_route(swap=True), "height and width swapped"),
        (_students_route(training=True), "the model ran in training mode"),
        (_students_route(Image.Resampling.NEAREST), "resized with nearest-neighbour"),
        (_route_at("/predict", batch_axis=False), "one image of shape (28, 28, 1), without the"),
        (_route_at("/classify"), "the app has no route at the path /predict"),
        (_unfinished, "not attempted yet"),
        (lambda model, class_names, prep: None, "forget to `return app`"),
        (lambda model, class_names, prep: "app", "return the Flask app itself"),
    ],
)
def test_7_2_a_wrong_app_gets_the_notebook_message_from_the_judge(tmp_path, answer, words):
    reply, direct = _graded_and_direct_7_2(tmp_path, answer)
    assert reply["status"] == "failed", reply
    assert words in reply["message"], reply
    assert _without_dropout_draws(reply["message"]) == _without_dropout_draws(direct.message)


def _without_dropout_draws(message):
    """The message without the two answers a model in training mode gave: Dropout draws them
    at random, in the kernel as in a notebook."""
    return re.sub(r"twice differently \(.*?\): ", "twice differently (...): ", message)


@pytest.mark.usefixtures("library_copies_allowed")
def test_7_2_the_kernel_builds_the_app_around_the_checks_model_not_the_notebooks(tmp_path):
    seen = []

    def recording(model, class_names, preprocessing):
        seen.append((model.name, list(class_names), dict(preprocessing)))
        return create_minimal_app(model, class_names, preprocessing)

    # A notebook whose variables were changed: a model that says the same for every image,
    # other class names, another record. The judge gives the app its own.
    constant = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    constant.set_weights([np.zeros((784, 10), np.float32), np.eye(10, dtype=np.float32)[3]])
    namespace = _namespace_7_2(
        recording,
        model=constant,
        class_names=[f"class {i}" for i in range(10)],
        prep=dict(lesson07._lesson_record(), scale=1.0),
    )
    reply = judge.judge_locally(CHECK_7_2, namespace, SALT, str(tmp_path))
    assert reply["status"] == "passed", reply
    assert seen[0] == (
        "check_lesson_model",
        list(FASHION_MNIST_CLASSES),
        lesson07._lesson_record(),
    )
    assert seen[1][0] == "check_second_model"  # then the check's second model


def test_7_2_the_judges_model_is_drawn_for_each_grading_run():
    with fresh_inputs(1):
        first = lesson07._lesson_model().get_weights()[0]
    with fresh_inputs(1):
        again = lesson07._lesson_model().get_weights()[0]
    with fresh_inputs(2):
        other = lesson07._lesson_model().get_weights()[0]
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_7_2_the_driver_returns_only_data():
    uploads = lesson07._test_uploads()
    sent = [
        {"path": "/predict", "files": [["file", "a.png", data]], "fresh": True}
        for data in uploads.values()
    ]
    sent.append({"path": "/predict", "files": [["image", "a.png", b"x"]], "fresh": False})
    outcome = _drivers.flask_exchanges(
        _route(read=lambda: request.files["file"]),
        lesson07._lesson_model(),
        list(FASHION_MNIST_CLASSES),
        lesson07._lesson_record(),
        sent,
    )
    good, missing = outcome["responses"][0], outcome["responses"][-1]
    assert good["status"] == 200 and set(good["json"]) == {"label", "confidence"}
    assert good["given"] == [1, 28, 28, 1]
    assert missing["status"] is None and "BadRequestKeyError" in missing["raised"]["classes"]
    assert missing["raised"]["key"] == "file"


def test_7_2_is_judged_in_two_phases():
    assert {"7.2", "7.4"} <= two_phase.TWO_PHASE
    assert "flask_exchanges" in _drivers.DRIVERS


# ---------------------------------------------------------------- 7.4 a client that sends a batch


@pytest.fixture(scope="module")
def course_url(tmp_path_factory):
    """The course service, for the check run as in a notebook."""
    with course_service_url(tmp_path_factory.mktemp("d7") / "p.sqlite3", Fake()) as url:
        yield url


class _Server:
    """The notebook's `server`: the judge never talks to it."""

    def __init__(self, url):
        self.url = url


def _graded_and_direct_7_4(tmp_path, answer, course_url):
    namespace = {
        "classify_batch": answer,
        "server": _Server("http://127.0.0.1:9"),
        "batch_files": [("shirt.png", b"not used by the judge")],
    }
    reply = judge.judge_locally(CHECK_7_4, namespace, SALT, str(tmp_path))
    with fresh_inputs(SALT):
        direct = checks.exercise_7_4(answer, course_url)
    return reply, direct


def _with_a_session(url, files):
    """Right, written differently: a prepared request sent by a Session, file objects with
    their content type, the status compared by hand."""
    parts = [("file", (name, io.BytesIO(data), "image/png")) for name, data in files]
    with requests.Session() as session:
        prepared = session.prepare_request(
            requests.Request("POST", url.rstrip("/") + "/predict", files=parts)
        )
        response = session.send(prepared, timeout=30)
    if not response.ok:
        raise RuntimeError(f"the server answered {response.status_code}: {response.text}")
    return [p["label"] for p in response.json()["predictions"]]


def _solution(url, files):
    form = [("file", (name, payload)) for name, payload in files]
    response = requests.post(f"{url}/predict", files=form, timeout=60)
    response.raise_for_status()
    return [prediction["label"] for prediction in response.json()["predictions"]]


def _health_first(url, files):
    """Right too: a look at /health first is not a second prediction request."""
    requests.get(f"{url}/health", timeout=10)
    return _solution(url, files)


@pytest.mark.parametrize("answer", [_solution, _with_a_session, _health_first])
def test_7_4_a_right_client_passes_against_the_judges_service(tmp_path, answer, course_url):
    reply, direct = _graded_and_direct_7_4(tmp_path, answer, course_url)
    assert reply["status"] == "passed", reply
    assert direct.passed, direct.message


def _one_by_one(url, files):
    return [
        requests.post(f"{url}/predict", files={"file": f}, timeout=30).json()["label"]
        for f in files
    ]


def _whole_body(url, files):
    return requests.post(f"{url}/predict", files=[("file", f) for f in files], timeout=30).json()


def _first_only(url, files):
    return [requests.post(f"{url}/predict", files={"file": files[0]}, timeout=30).json()["label"]]


def _reversed(url, files):
    return _solution(url, files)[::-1]


def _no_status_check(url, files):
    body = requests.post(f"{url}/predict", files=[("file", f) for f in files], timeout=30).json()
    return [p["label"] for p in body.get("predictions", [])]


def _deduplicated(url, files):  # a student's: one label per class, not per file
    return list(dict.fromkeys(_solution(url, files)))


def _stub(url, files):
    raise NotImplementedError("Exercise 7.4")


def _generator(url, files):
    body = requests.post(f"{url}/predict", files=[("file", f) for f in files], timeout=30).json()
    return (p["label"] for p in body["predictions"])


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (_one_by_one, "made 5 requests"),
        (_whole_body, "whole JSON body"),
        (_first_only, "1 label(s) for 5 files"),
        (_reversed, "not in the order of the files"),
        (_no_status_check, "response.raise_for_status()"),
        (_stub, "not attempted yet"),
        (lambda url, files: None, "forget to `return`"),
        (_generator, "return a list of labels"),
    ],
)
def test_7_4_a_wrong_client_gets_the_notebook_message_from_the_judge(
    tmp_path, answer, words, course_url
):
    reply, direct = _graded_and_direct_7_4(tmp_path, answer, course_url)
    assert reply["status"] == "failed", reply
    assert words in reply["message"], reply
    assert reply["message"] == direct.message


def test_7_4_labels_with_repeats_dropped_fail_against_the_judges_service_too(tmp_path, course_url):
    # The two services give other labels, so the messages name other ones: the same finding.
    reply, direct = _graded_and_direct_7_4(tmp_path, _deduplicated, course_url)
    for message in (reply["message"], direct.message):
        assert "labels for 5 files: the server answers" in message
        assert "(item0.png and again_item0.png hold the same image)" in message
        assert "repeats included (a set or dict.fromkeys drops them)" in message
    assert reply["status"] == "failed" and not direct.passed


def test_7_4_a_wrong_field_is_refused_by_the_judges_service_as_by_the_course_service(tmp_path):
    def wrong_field(url, files):
        response = requests.post(f"{url}/predict", files=[("image", f) for f in files], timeout=30)
        response.raise_for_status()

    namespace = {"classify_batch": wrong_field, "server": None, "batch_files": []}
    reply = judge.judge_locally(CHECK_7_4, namespace, SALT, str(tmp_path))
    assert reply["status"] == "failed", reply
    assert "HTTPError: 400 Client Error" in reply["message"]
    assert "multipart field 'file'" in reply["message"]


def test_7_4_the_kernel_calls_the_judges_service_not_the_notebooks_server(tmp_path):
    called = []

    def recording(url, files):
        called.append(url)
        return _solution(url, files)

    namespace = {
        "classify_batch": recording,
        # A notebook server that would say anything is never asked.
        "server": _Server("http://127.0.0.1:9"),
        "batch_files": [("a.png", b"x")],
    }
    reply = judge.judge_locally(CHECK_7_4, namespace, SALT, str(tmp_path))
    assert reply["status"] == "passed", reply
    assert len(set(called)) == 1 and called[0] != "http://127.0.0.1:9", called
    assert not _batch_service._RUNNING  # stopped once the check was done
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{called[0]}/health", timeout=5)


def test_7_4_labels_learnt_in_one_grading_run_do_not_pass_another(tmp_path):
    learnt = []

    def learning(url, files):
        labels = _solution(url, files)
        learnt.append(labels)
        return labels

    def replaying(url, files):  # the labels of the earlier run, whatever the files
        return learnt[0]

    first = judge.judge_locally(
        CHECK_7_4, {"classify_batch": learning, "server": None, "batch_files": []}, 1, str(tmp_path)
    )
    assert first["status"] == "passed", first
    again = judge.judge_locally(
        CHECK_7_4,
        {"classify_batch": replaying, "server": None, "batch_files": []},
        2,
        str(tmp_path / "again"),
    )
    assert again["status"] == "failed", again
    assert "differ from what the server answers" in again["message"] or "order" in again["message"]


def test_7_4_requests_left_from_an_earlier_grading_are_not_counted(tmp_path):
    service = _batch_service.running(FASHION_MNIST_CLASSES)
    try:
        png = lesson07._batch_files()[0][1]
        for _ in range(3):  # a grading that stopped half-way left these
            requests.post(f"{service.url}/predict", files={"file": ("a.png", png)}, timeout=10)
        namespace = {"classify_batch": _solution, "server": None, "batch_files": []}
        reply = judge.judge_locally(CHECK_7_4, namespace, SALT, str(tmp_path))
        assert reply["status"] == "passed", reply
    finally:
        _batch_service.stop()


def test_7_4_the_judges_service_answers_as_the_course_service(course_url):
    service = _batch_service.running(FASHION_MNIST_CLASSES)
    png = lesson07._batch_files()[0][1]
    asked = {
        "one": {"files": {"file": ("a.png", png)}},
        "two": {"files": [("file", ("a.png", png)), ("file", ("b.png", png))]},
        "text": {"files": {"file": ("n.png", b"a,b\n")}},
        "empty": {"files": {"file": ("e.png", b"")}},
        "other field": {"files": {"image": ("a.png", png)}},
        "no form": {"data": b"raw bytes"},
    }
    answers = {}
    try:
        for url in (service.url, course_url):
            for what, form in asked.items():
                response = requests.post(f"{url}/predict", timeout=10, **form)
                body = response.json()
                shape = sorted(body) if "predictions" in body or "error" in body else "prediction"
                answers.setdefault(what, []).append((response.status_code, shape))
            answers.setdefault("get", []).append(requests.get(f"{url}/predict").status_code)
            one = requests.post(f"{url}/predict", timeout=10, **asked["one"]).json()
            assert isinstance(one["label"], str) and isinstance(one["confidence"], float)
            assert {"label", "confidence", "class_index", "top_k"} <= set(one)
    finally:
        _batch_service.stop()
    for what, (judges, course) in answers.items():
        assert judges == course, (what, judges, course)


def test_7_4_in_a_notebook_the_check_also_takes_the_server_itself(course_url):
    assert checks.exercise_7_4(_solution, _Server(course_url)).passed
    result = checks.exercise_7_4(_solution, _Server(None))
    assert not result.passed and "the running server's address" in result.message
