"""Lesson 07's minimal Flask app, as written in the notebook, and its library copy answer alike.

``serving.minimal.create_minimal_app`` is the notebook's exercise 7.2 kept in the library:
for the same model and the same uploads, good and bad, both apps give the same status
and the same JSON.
"""

import io

import keras
import numpy as np
import pytest
from PIL import Image
from taught_support import taught

from course_lib.checks.lesson07 import _truncated_png
from course_lib.serving import minimal
from course_lib.serving.uploads import header_only_png

CLASSES = [f"class {i}" for i in range(10)]
GRAY_28 = {
    "height": 28,
    "width": 28,
    "color_mode": "grayscale",
    "scale": 1 / 255,
    "offset": 0.0,
    "resize": "bilinear",
}
RGB_32 = {
    "height": 32,
    "width": 32,
    "color_mode": "rgb",
    "scale": 1 / 127.5,
    "offset": -1.0,
    "resize": "bilinear",
}


def _model(shape):
    keras.utils.set_random_seed(7)
    return keras.Sequential(
        [
            keras.Input(shape),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def _encode(pixels, fmt="PNG"):
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt)
    return out.getvalue()


def _requests():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (45, 60, 3), dtype=np.uint8)
    return {
        "RGB PNG": {"file": (io.BytesIO(_encode(photo)), "photo.png")},
        "JPEG": {"file": (io.BytesIO(_encode(photo, "JPEG")), "photo.jpg")},
        "gray PNG": {"file": (io.BytesIO(_encode(photo[..., 0])), "gray.png")},
        "RGBA PNG": {
            "file": (io.BytesIO(_encode(np.dstack([photo, photo[..., :1]]))), "alpha.png")
        },
        "no file": {"image": (io.BytesIO(_encode(photo)), "photo.png")},
        "empty file": {"file": (io.BytesIO(b""), "empty.png")},
        "text file": {"file": (io.BytesIO(b"not an image"), "notes.png")},
        "truncated PNG": {"file": (io.BytesIO(_truncated_png()), "cut.png")},
        "header claiming 20000x20000": {
            "file": (io.BytesIO(header_only_png(20_000, 20_000)), "bomb.png")
        },
    }


@pytest.fixture(scope="module")
def notebook_factory():
    # Flask(__name__) finds the app's folder by its module name; the notebook runs as a module of
    # its own.
    return taught("07", "create_minimal_app", __name__="lesson_07")


@pytest.mark.parametrize(
    ("preprocessing", "shape"),
    [(GRAY_28, (28, 28, 1)), (RGB_32, (32, 32, 3))],
    ids=["grayscale", "rgb"],
)
def test_notebook_app_and_library_app_answer_every_upload_alike(
    notebook_factory, preprocessing, shape
):
    model = _model(shape)
    apps = {
        "notebook": notebook_factory(model, CLASSES, dict(preprocessing)),
        "library": minimal.create_minimal_app(model, CLASSES, dict(preprocessing)),
    }
    answers = {}
    for source, app in apps.items():
        client = app.test_client()
        answers[source] = {
            name: client.post("/predict", data=form, content_type="multipart/form-data")
            for name, form in _requests().items()
        }
    for name in _requests():
        notebook, library = answers["notebook"][name], answers["library"][name]
        assert notebook.status_code == library.status_code, name
        assert notebook.get_json(silent=True) == library.get_json(silent=True), name
    statuses = {name: response.status_code for name, response in answers["library"].items()}
    assert [name for name, status in statuses.items() if status == 200] == [
        "RGB PNG",
        "JPEG",
        "gray PNG",
        "RGBA PNG",
    ]
    assert (
        statuses["header claiming 20000x20000"] == 500
    )  # Pillow's DecompressionBombError is no OSError
    assert all(
        statuses[name] == 400 for name in ("no file", "empty file", "text file", "truncated PNG")
    )


def test_the_library_app_answers_what_the_model_says(notebook_factory):
    model = _model((28, 28, 1))
    pixels = np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8)
    body = (
        minimal.create_minimal_app(model, CLASSES, GRAY_28)
        .test_client()
        .post("/predict", data={"file": (io.BytesIO(_encode(pixels)), "x.png")})
        .get_json()
    )
    probabilities = model(pixels[None, ..., None].astype("float32") / 255, training=False).numpy()[
        0
    ]
    assert body["label"] == CLASSES[int(probabilities.argmax())]
    assert body["class_index"] == int(probabilities.argmax())
    assert body["confidence"] == pytest.approx(float(probabilities.max()), abs=1e-6)
