"""Lesson 07 checks accept the right answer and name each common mistake."""

import io
import threading

import numpy as np
import pytest
import requests
from PIL import Image, UnidentifiedImageError
from werkzeug.serving import make_server

from course_lib import checks
from course_lib.serving import Classifier, ServeConfig, create_app, free_port

GRAY_28 = {"height": 28, "width": 28, "color_mode": "grayscale", "scale": 1 / 255, "offset": 0.0,
           "resize": "bilinear"}


def _fails_with(result, phrase):
    assert not result.passed, result.message
    assert phrase in result.message, result.message
    return True


# ---------------------------------------------------------------- 7.1 prepare an upload

def _open(data):
    return Image.open(io.BytesIO(data))


def prepare(data):
    image = _open(data).convert("L").resize((28, 28), Image.Resampling.BILINEAR)
    return (np.asarray(image, dtype=np.float32) / 255.0)[..., None]


def test_7_1_accepts_convert_resize_scale_in_either_order():
    assert checks.exercise_7_1(prepare, GRAY_28).passed

    def resize_first(data):
        image = _open(data).resize((28, 28), Image.Resampling.BILINEAR).convert("L")
        return (np.asarray(image, dtype=np.float32) / 255.0)[..., None]

    assert checks.exercise_7_1(resize_first, GRAY_28).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda d: prepare(d) * 255, "divide by 255"),
        (lambda d: prepare(d)[..., 0], "add the channel axis"),
        (lambda d: prepare(d)[None], "return one image"),
        (lambda d: np.repeat(prepare(d), 3, axis=-1), "convert the image to grayscale"),
        (lambda d: 1.0 - prepare(d), "inverted"),
        (lambda d: (np.asarray(_open(d).convert("L"), dtype=np.float32) / 255)[..., None], "resize it to 28×28"),
        (lambda d: (np.asarray(_open(d).convert("L").resize((28, 28), Image.Resampling.NEAREST),
                               dtype=np.float32) / 255)[..., None], "nearest-neighbour"),
        (lambda d: prepare(d).astype(np.float64), "float32"),
        (lambda d: prepare(d) * 0.9, "differ from the expected input"),
        (lambda d: None, "forget to `return`"),
    ],
)
def test_7_1_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_7_1(answer, GRAY_28), phrase)


def test_7_1_catches_swapped_width_and_height_for_a_non_square_model():
    wide = dict(GRAY_28, height=20, width=30)

    def swapped(data):
        image = _open(data).convert("L").resize((20, 30), Image.Resampling.BILINEAR)
        return (np.asarray(image, dtype=np.float32) / 255.0)[..., None]

    assert _fails_with(checks.exercise_7_1(swapped, wide), "height and width swapped")


# ---------------------------------------------------------------- 7.2 reject a bad upload

def check_upload(data, max_pixels):
    if not data:
        return "the file is empty"
    try:
        with _open(data) as image:
            width, height = image.size
            if width * height > max_pixels:
                return f"{width}×{height} pixels is over the limit"
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError):
        return "not a readable image"
    return None


def test_7_2_accepts_a_careful_check():
    assert checks.exercise_7_2(check_upload).passed
    assert checks.exercise_7_2(check_upload, max_pixels=2_500).passed


def test_7_2_names_the_mistake():
    def no_load(data, max_pixels):
        if not data:
            return "empty"
        try:
            width, height = _open(data).size
        except OSError:
            return "not an image"
        return "too big" if width * height > max_pixels else None

    def no_limit(data, max_pixels):
        return check_upload(data, 10**9)

    def greater_or_equal(data, max_pixels):
        return check_upload(data, max_pixels - 1)

    def raises(data, max_pixels):
        return None if _open(data).load() is None else None

    def extension_only(data, max_pixels):
        return None if data else "empty"

    cases = [(no_load, "truncated PNG passed"), (no_limit, "compare width × height"),
             (greater_or_equal, "use >, not >="), (raises, "catch Pillow's errors"),
             (extension_only, "a text file passed"), (lambda d, m: "bad", "you rejected a valid PNG"),
             (lambda d, m: False, "return None for a good upload"), (lambda d, m: "", "empty string"),
             (lambda d, m: check_upload(d, m) if d else None, "an empty file passed")]
    for answer, phrase in cases:
        assert _fails_with(checks.exercise_7_2(answer), phrase)


# ---------------------------------------------------------------- 7.3 a client that sends a batch

class Fake(Classifier):
    name, version, class_names = "fake", "1", ["dark", "mid", "bright"]
    preprocessing = GRAY_28

    def predict_inputs(self, inputs):
        means = inputs.reshape(len(inputs), -1).mean(axis=1)
        centres = np.array([0.1, 0.5, 0.9])
        scores = -np.abs(means[:, None] - centres[None, :]) * 100
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    config = ServeConfig(db=tmp_path_factory.mktemp("c7") / "p.sqlite3", load_in_background=False)
    app = create_app(config, Fake())
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(10)
        app.extensions["course_serving"]["host"].close()


def classify_batch(url, files):
    response = requests.post(f"{url}/predict", files=[("file", (name, data)) for name, data in files], timeout=30)
    response.raise_for_status()
    return [p["label"] for p in response.json()["predictions"]]


def test_7_3_accepts_one_request_with_every_file(url):
    assert checks.exercise_7_3(classify_batch, url).passed


def test_7_3_names_the_mistake(url):
    def one_by_one(url, files):
        return [requests.post(f"{url}/predict", files={"file": f}, timeout=30).json()["label"] for f in files]

    def whole_body(url, files):
        return requests.post(f"{url}/predict", files=[("file", f) for f in files], timeout=30).json()

    def first_only(url, files):
        return [requests.post(f"{url}/predict", files={"file": files[0]}, timeout=30).json()["label"]]

    def wrong_field(url, files):
        response = requests.post(f"{url}/predict", files=[("image", f) for f in files], timeout=30)
        response.raise_for_status()

    def reversed_labels(url, files):
        return classify_batch(url, files)[::-1]

    cases = [(one_by_one, "made 4 requests"), (whole_body, "whole JSON body"),
             (lambda u, f: requests.post(f"{u}/predict", files=[("file", x) for x in f], timeout=30)
              .json()["predictions"], "whole predictions"),
             (first_only, "1 label(s) for 4 files"), (wrong_field, "multipart field 'file'"),
             (lambda u, f: None, "forget to `return`")]
    for answer, phrase in cases:
        assert _fails_with(checks.exercise_7_3(answer, url), phrase)
    assert _fails_with(checks.exercise_7_3(reversed_labels, url), "not in the order of the files")
