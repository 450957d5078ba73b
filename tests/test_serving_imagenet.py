"""The default model of `make serve`: ImageNet EfficientNet-Lite0, real photos in, labels out."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from course_lib import data, efficientnet_lite, pretrained
from course_lib.serving import ServeConfig, create_app, load_classifier

CATS = {"Egyptian cat", "tabby", "tiger cat"}
COFFEE = {"espresso", "cup", "coffee mug"}


@pytest.fixture(scope="module")
def imagenet_app(tmp_path_factory):
    config = ServeConfig(
        db=tmp_path_factory.mktemp("imagenet") / "p.sqlite3", load_in_background=False
    )
    assert config.model == "imagenet"  # what `make serve` serves with no settings
    app = create_app(config)
    yield app
    app.extensions["course_serving"]["host"].close()


def jpeg_bytes(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=92)
    return out.getvalue()


def test_real_photos_get_real_labels(imagenet_app):
    client = imagenet_app.test_client()
    photos = data.sample_photos()
    files = [(io.BytesIO(jpeg_bytes(photos[name])), f"{name}.jpg") for name in ("cat", "coffee")]
    body = client.post(
        "/predict", data={"file": files}, content_type="multipart/form-data"
    ).get_json()
    cat, coffee = body["predictions"]
    assert cat["label"] in CATS and coffee["label"] in COFFEE, (cat["top_k"], coffee["top_k"])
    assert cat["model"]["name"] == "efficientnet_lite0" and cat["model"]["version"].startswith(
        "imagenet-"
    )
    assert len(client.get("/model").get_json()["class_names"]) == 1000


def test_serving_agrees_with_lesson_06_and_with_tf_serving_clients(imagenet_app):
    client = imagenet_app.test_client()
    cat = data.sample_photos()["cat"]
    classifier = imagenet_app.extensions["course_serving"]["host"].classifier
    lesson06 = pretrained.softmax(
        classifier.model.predict_on_batch(
            efficientnet_lite.scale(pretrained.resize(cat[None], 224))
        )
    )[0]
    encoded = base64.b64encode(jpeg_bytes(cat)).decode()
    response = client.post(
        "/v1/models/efficientnet_lite0:predict", json={"instances": [{"b64": encoded}]}
    )
    served = np.asarray(response.get_json()["predictions"][0])
    assert served.shape == (1000,) and abs(served.sum() - 1) < 1e-4
    assert served.argmax() == lesson06.argmax()  # Pillow vs TensorFlow resizing: same answer


def test_unknown_model_setting_says_what_is_allowed():
    with pytest.raises(ValueError, match="use 'imagenet', 'fashion' or the path"):
        load_classifier("resnet")
