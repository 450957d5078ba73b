"""The service on LiteRT: the same answers as on Keras, a conversion cached by the model file's
digest, a new conversion for each newly served version, and Keras when LiteRT cannot run,
with the runtime named in ``/model`` and in every prediction."""

import gc
import io
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image
from serving_support import png, save_fruit_version, tiny_model_path

from course_lib import data, versions
from course_lib.serving import ServeConfig, create_app, litert
from course_lib.serving.classifier import KerasClassifier, load_imagenet_classifier
from course_lib.serving.uploads import decode_image

PHOTOS = ["cat", "coffee", "astronaut", "rocket", "hubble", "immunohistochemistry"]


def as_jpeg(pixels):
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=92)
    return out.getvalue()


@pytest.fixture(scope="module")
def imagenet_pair(tmp_path_factory):
    """EfficientNet-Lite0 on Keras and on LiteRT (converted once, then cached in build/)."""
    keras_classifier = load_imagenet_classifier()
    cache = litert.default_cache_dir(tmp_path_factory.mktemp("db") / "p.sqlite3")
    served = litert.with_runtime(keras_classifier, "litert", cache, threads=2)
    assert served.runtime == "litert", served.runtime_note
    return keras_classifier, served


def test_litert_gives_the_keras_top_1_on_real_photos(imagenet_pair):
    keras_classifier, served = imagenet_pair
    sample = data.sample_photos()
    # Both runtimes get the same model input: prepare is the Keras classifier's own.
    inputs = np.stack([served.prepare(decode_image(as_jpeg(sample[name]))) for name in PHOTOS])
    on_keras = keras_classifier.predict_inputs(inputs)
    on_litert = served.predict_inputs(inputs)
    assert on_litert.argmax(axis=1).tolist() == on_keras.argmax(axis=1).tolist()
    np.testing.assert_allclose(on_litert, on_keras, atol=1e-4)
    names = keras_classifier.class_names
    assert names[int(on_litert[0].argmax())] in {"Egyptian cat", "tabby", "tiger cat"}
    assert served.decode_at_least is keras_classifier.decode_at_least is None  # lesson 06's resize


def test_a_batch_on_litert_is_its_images_one_by_one_spread_over_a_lane_per_core(imagenet_pair):
    _, served = imagenet_pair
    served.warm_up()  # makes the lanes, so that the first batch under load does not
    assert served.describe()["runtime_detail"] == {
        "tflite": served.tflite_path.name,
        "threads": 2,
        "batch_lanes": 2,
    }
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (3, *served.input_shape), dtype=np.uint8)
    batch = served.predict_batch(pixels)  # images 0 and 2 on one lane, image 1 on the other
    one_by_one = np.concatenate([served.predict_batch(p[None]) for p in pixels])
    np.testing.assert_array_equal(batch, one_by_one)


def test_requests_at_once_on_litert_each_get_the_answers_of_their_own_images(imagenet_pair):
    _, served = imagenet_pair
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (1 + k % 2, *served.input_shape), np.uint8) for k in range(8)]
    alone = [served.predict_batch(x) for x in images]  # one request at a time
    with ThreadPoolExecutor(8) as pool:  # all at once: the images share the lanes
        together = list(pool.map(served.predict_batch, images))
    for one, other in zip(alone, together, strict=True):
        np.testing.assert_array_equal(other, one)


def test_the_lanes_threads_end_when_their_classifier_is_no_longer_used(tmp_path):
    classifier = KerasClassifier.from_saved(saved_copy(tmp_path))
    served = litert.with_runtime(classifier, "litert", tmp_path / "cache", threads=2)
    served.warm_up()
    threads = served._lanes.threads
    assert len(threads) == 2 and all(t.is_alive() for t in threads)
    del served
    gc.collect()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive(), thread.name


def saved_copy(tmp_path, name="model"):
    """The tiny saved CNN copied into a folder of its own (the test may change it)."""
    import shutil

    source = tiny_model_path()
    folder = tmp_path / name
    folder.mkdir()
    for path in source.parent.glob(f"{source.stem}.*"):
        if path.suffix in (".keras", ".json"):
            shutil.copy(path, folder / path.name)
    return folder / source.name


def test_the_conversion_is_cached_by_the_model_files_digest(tmp_path):
    model_path = saved_copy(tmp_path)
    classifier = KerasClassifier.from_saved(model_path)
    first, made = litert.cached_tflite(classifier, tmp_path / "cache")
    assert made and first.parent == model_path.parent and first.suffix == ".tflite"
    served = litert.LiteRTClassifier(classifier, first, threads=1)
    assert served.decode_at_least == classifier.decode_at_least == max(classifier.input_shape[:2])
    assert litert.cached_tflite(classifier, tmp_path / "cache") == (first, False)

    # Retrained weights in the same file: another digest, a new conversion beside the old one.
    import keras

    model = keras.models.load_model(model_path)
    model.set_weights([w + 0.01 for w in model.get_weights()])
    model.save(model_path)
    changed = KerasClassifier.from_saved(model_path)
    second, made = litert.cached_tflite(changed, tmp_path / "cache")
    assert made and second != first and first.is_file()
    served = litert.with_runtime(changed, "litert", tmp_path / "cache", threads=1)
    x = changed.to_inputs(np.full((1, *changed.input_shape), 128, np.uint8))
    np.testing.assert_allclose(served.predict_inputs(x), changed.predict_inputs(x), atol=1e-5)


def test_a_read_only_model_folder_is_converted_into_the_cache_folder(tmp_path, monkeypatch):
    model_path = saved_copy(tmp_path)
    classifier = KerasClassifier.from_saved(model_path)
    real_access = litert.os.access
    monkeypatch.setattr(
        litert.os,
        "access",
        lambda path, mode: (
            False if str(path) == str(model_path.parent) else real_access(path, mode)
        ),
    )
    path = litert.cache_path(classifier, tmp_path / "cache")
    assert path.parent == tmp_path / "cache" and path.name.startswith(classifier.name)


def post_photo(client):
    response = client.post(
        "/predict", data={"file": (io.BytesIO(png()), "a.png")}, content_type="multipart/form-data"
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def serve(model, tmp_path, **settings):
    config = ServeConfig(
        model=str(model), db=tmp_path / "p.sqlite3", load_in_background=False, **settings
    )
    return create_app(config)


def test_model_and_predictions_name_the_runtime(tmp_path):
    model_path = saved_copy(tmp_path)
    for runtime in ("litert", "keras"):
        app = serve(model_path, tmp_path, runtime=runtime)
        try:
            client = app.test_client()
            info = client.get("/model").get_json()
            assert (info["runtime"], info["runtime_note"]) == (runtime, None)
            body = post_photo(client)
            assert body["model"] == {
                "name": "tiny_fashion",
                "version": "test-1",
                "runtime": runtime,
            }
        finally:
            app.extensions["course_serving"].host.close()


def test_without_litert_the_service_runs_on_keras_and_says_so(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # import ai_edge_litert fails
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    app = serve(saved_copy(tmp_path), tmp_path)  # the default, auto
    try:
        client = app.test_client()
        info = client.get("/model").get_json()
        assert info["runtime"] == "keras"
        assert "LiteRT is unavailable" in info["runtime_note"]
        assert post_photo(client)["model"]["runtime"] == "keras"
    finally:
        app.extensions["course_serving"].host.close()
    assert any("LiteRT is unavailable" in r.getMessage() for r in caplog.records)


def test_a_failed_conversion_leaves_the_service_on_keras(tmp_path, monkeypatch):
    def broken(classifier):
        raise RuntimeError("this op is not supported")

    monkeypatch.setattr(litert, "convert", broken)
    app = serve(saved_copy(tmp_path), tmp_path, runtime="litert")
    try:
        info = app.test_client().get("/model").get_json()
        assert info["runtime"] == "keras"
        assert (
            "conversion failed" in info["runtime_note"] and "not supported" in info["runtime_note"]
        )
    finally:
        app.extensions["course_serving"].host.close()


def test_litert_follows_a_promotion_with_a_new_conversion(tmp_path):
    root = tmp_path / "fruit"
    save_fruit_version(root, 1, "apple")
    save_fruit_version(root, 2, "pear")
    versions.promote(root, 1, "first")
    app = serve(root, tmp_path, runtime="litert")
    app.extensions["course_serving"].host.check_every_s = 0
    try:
        client = app.test_client()
        body = post_photo(client)
        assert (body["label"], body["model"]["version"], body["model"]["runtime"]) == (
            "apple",
            "1",
            "litert",
        )
        assert len(list((root / "1").glob("*.tflite"))) == 1
        assert not list((root / "2").glob("*.tflite"))

        versions.promote(root, 2, "better on the holdout")
        body = post_photo(client)
        assert (body["label"], body["model"]["version"], body["model"]["runtime"]) == (
            "pear",
            "2",
            "litert",
        )
        assert len(list((root / "2").glob("*.tflite"))) == 1
        info = client.get("/model").get_json()
        assert (info["version"], info["runtime"]) == ("2", "litert")
    finally:
        app.extensions["course_serving"].host.close()
