"""One photo file, one model, one answer: Keras, the exported SavedModel (both signatures),
TFLite and the web service give the same top-1 on real photos.

The model is an images-in model (photos.build_images_in_model) around the ImageNet
EfficientNet-Lite0, so that the answers are real labels with 1000 ways to disagree.
"""

import base64
import io

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from course_lib import data, edge, efficientnet_lite, export, photos, pretrained
from course_lib.serving import ServeConfig, create_app
from course_lib.serving.classifier import KerasClassifier, load_classifier
from course_lib.serving.uploads import decode_image

PHOTOS = ["cat", "coffee", "astronaut", "rocket", "hubble"]


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory):
    """scikit-image's colour photos written as camera-quality JPEGs."""
    folder = tmp_path_factory.mktemp("photos")
    sample = data.sample_photos()
    paths = []
    for name in PHOTOS:
        path = folder / f"{name}.jpg"
        Image.fromarray(sample[name]).save(path, quality=92)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def imagenet_images_in(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    backbone = efficientnet_lite.efficientnet_lite0(include_top=True, weights="imagenet")
    model = photos.build_images_in_model(
        backbone, keras.layers.Softmax(name="probabilities"), 224, name="imagenet_photos"
    )
    saved = photos.save_photo_model(
        model, folder / "imagenet_photos" / "1", pretrained.imagenet_class_names()
    )
    exported = export.export_images_in(model, folder / "export")
    return model, saved, exported


@pytest.fixture(scope="module")
def photo_classifier(imagenet_images_in):
    """The saved photo model as the service loads it (one load for the tests that read it)."""
    _, saved, _ = imagenet_images_in
    return load_classifier(str(saved))


@pytest.fixture(scope="module")
def keras_probabilities(photo_files, imagenet_images_in):
    """The Keras call's probabilities on each photo file, one file at a time (computed once for
    the tests that compare with them)."""
    model, _, _ = imagenet_images_in
    return np.concatenate(
        [np.asarray(model(photos.read_photo(path)[None], training=False)) for path in photo_files]
    )


def keras_top_1(keras_probabilities):
    return [int(i) for i in np.argmax(keras_probabilities, axis=1)]


def test_keras_savedmodel_and_tflite_give_the_same_top_1(
    photo_files, imagenet_images_in, keras_probabilities
):
    _, _, exported = imagenet_images_in
    pixels = [photos.read_photo(path) for path in photo_files]
    keras_top = keras_top_1(keras_probabilities)

    by_pixels = export.load_serving_function(exported)
    savedmodel_top = [int(np.argmax(by_pixels(p[None]))) for p in pixels]
    # the other signature of the same loaded SavedModel, as lesson 09 reads it
    by_bytes = by_pixels.loaded.signatures[export.BYTES_SIGNATURE]
    encoded = tf.constant([path.read_bytes() for path in photo_files])
    bytes_top = np.argmax(by_bytes(image_bytes=encoded)["probabilities"].numpy(), axis=1).tolist()

    lite = edge.TFLiteModel(edge.convert_to_tflite(exported))
    tflite_top = [int(np.argmax(edge.classify_pixels(lite, p))) for p in pixels]

    names = pretrained.imagenet_class_names()
    assert names[keras_top[0]] in {
        "Egyptian cat",
        "tabby",
        "tiger cat",
    }  # the model is the real one
    answers = {
        "Keras": keras_top,
        "SavedModel uint8": savedmodel_top,
        "SavedModel bytes": bytes_top,
        "TFLite": tflite_top,
    }
    assert all(top == keras_top for top in answers.values()), str(
        {k: [names[i] for i in v] for k, v in answers.items()}
    )


def test_the_classifier_the_service_loads_gives_the_keras_top_1(
    photo_files, keras_probabilities, photo_classifier
):
    classifier = photo_classifier
    served = [
        int(
            np.argmax(
                classifier.predict_inputs(classifier.prepare(decode_image(path.read_bytes()))[None])
            )
        )
        for path in photo_files
    ]
    assert served == keras_top_1(keras_probabilities)


@pytest.mark.parametrize("runtime", ["keras", "litert"])
def test_service_predict_and_tf_serving_routes_give_the_keras_answer(
    photo_files, imagenet_images_in, keras_probabilities, tmp_path, runtime
):
    _, saved, _ = imagenet_images_in
    app = create_app(
        ServeConfig(
            model=str(saved), db=tmp_path / "p.sqlite3", load_in_background=False, runtime=runtime
        )
    )
    try:
        client = app.test_client()
        files = [(io.BytesIO(path.read_bytes()), path.name) for path in photo_files]
        body = client.post(
            "/predict", data={"file": files}, content_type="multipart/form-data"
        ).get_json()
        assert body["predictions"][0]["model"] == {
            "name": "imagenet_photos",
            "version": "1",
            "runtime": runtime,
        }
        service_top = [item["class_index"] for item in body["predictions"]]
        instances = [{"b64": base64.b64encode(path.read_bytes()).decode()} for path in photo_files]
        tf_serving = client.post(
            "/v1/models/imagenet_photos:predict", json={"instances": instances}
        ).get_json()
    finally:
        app.extensions["course_serving"]["host"].close()
    expected = keras_probabilities
    assert service_top == expected.argmax(axis=1).tolist()
    # Not only the top-1: the service computes the Keras call's probabilities on the file itself.
    confidences = [item["confidence"] for item in body["predictions"]]
    np.testing.assert_allclose(confidences, expected.max(axis=1), atol=1e-5)
    np.testing.assert_allclose(np.asarray(tf_serving["predictions"]), expected, atol=1e-5)


def test_service_serves_a_model_folder_and_names_its_version(imagenet_images_in, tmp_path):
    _, saved, _ = imagenet_images_in
    app = create_app(
        ServeConfig(model=str(saved), db=tmp_path / "p.sqlite3", load_in_background=False)
    )
    try:
        client = app.test_client()
        info = client.get("/model").get_json()
        assert (info["name"], info["version"], len(info["class_names"])) == (
            "imagenet_photos",
            "1",
            1000,
        )
        assert info["preprocessing"]["in_model"] is True
        cat = io.BytesIO()
        Image.fromarray(data.sample_photos()["cat"]).save(cat, "PNG")
        cat.seek(0)
        body = client.post(
            "/predict", data={"file": (cat, "cat.png")}, content_type="multipart/form-data"
        ).get_json()
        assert body["label"] in {"Egyptian cat", "tabby", "tiger cat"}
        assert body["model"]["name"] == "imagenet_photos" and body["model"]["version"] == "1"
    finally:
        app.extensions["course_serving"]["host"].close()


def test_savedmodel_signatures_name_their_inputs(imagenet_images_in):
    _, _, exported = imagenet_images_in
    pixels = export.describe_signature(exported)
    assert pixels["inputs"] == {"image": {"shape": [None, None, None, 3], "dtype": "uint8"}}
    assert pixels["outputs"] == {"probabilities": {"shape": [None, 1000], "dtype": "float32"}}
    encoded = export.describe_signature(exported, export.BYTES_SIGNATURE)
    assert encoded["inputs"] == {"image_bytes": {"shape": [None], "dtype": "string"}}


def test_service_prepare_is_the_keras_call_on_the_photo(
    photo_files, keras_probabilities, photo_classifier
):
    classifier = photo_classifier
    assert isinstance(classifier, KerasClassifier) and classifier.name == "imagenet_photos"
    for path, direct in zip(photo_files[:3], keras_probabilities, strict=False):
        image = decode_image(path.read_bytes())
        served = classifier.predict_inputs(classifier.prepare(image)[None])[0]
        np.testing.assert_allclose(served, direct, atol=1e-5)


def test_imagenet_service_prepares_a_photo_as_lesson_06_does():
    classifier = load_classifier("imagenet")
    rocket = data.sample_photos()["rocket"]
    lesson06 = pretrained.softmax(
        classifier.model.predict_on_batch(
            efficientnet_lite.scale(pretrained.resize(rocket[None], 224))
        )
    )[0]
    served = classifier.predict_inputs(classifier.prepare(Image.fromarray(rocket))[None])[0]
    np.testing.assert_allclose(served, lesson06, atol=1e-5)


def test_export_images_in_refuses_a_fixed_size_float_model(tmp_path):
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    with pytest.raises(ValueError, match="images-in model"):
        export.export_images_in(model, tmp_path / "export")
