"""Exporting for TensorFlow Serving: version folders, the signature, and identical predictions."""

import json

import numpy as np
import pytest

from course_lib import export, models
from course_lib.serving import ServeConfig, create_app


def test_export_writes_version_1_with_the_signature_a_client_must_match(fashion_export):
    assert fashion_export.name == "1" and (fashion_export / "saved_model.pb").is_file()
    signature = export.describe_signature(fashion_export)
    (spec,) = signature["inputs"].values()
    assert spec == {"shape": [None, 28, 28, 1], "dtype": "float32"}
    (output,) = signature["outputs"].values()
    assert output == {"shape": [None, 10], "dtype": "float32"}


def test_reloaded_export_predicts_exactly_what_keras_predicted(trained_fashion, fashion_export):
    serve = export.load_serving_function(fashion_export)
    x = trained_fashion.x_test[:64]
    np.testing.assert_allclose(serve(x), trained_fashion.model.predict_on_batch(x), atol=1e-6)


def test_export_keeps_the_class_names_beside_the_model(trained_fashion, fashion_export):
    saved = json.loads((fashion_export / "assets.extra" / "course.json").read_text())
    assert saved["class_names"] == trained_fashion.class_names


def test_next_export_is_a_new_version_and_old_versions_are_never_overwritten(trained_fashion, tmp_path):
    base = tmp_path / "fashion_cnn"
    (base / "notes").mkdir(parents=True)  # not a version: TF Serving ignores it, and so do we
    (base / "7").mkdir()  # no saved_model.pb: not a version either
    assert export.export_for_serving(trained_fashion.model, base).name == "1"
    assert export.export_for_serving(trained_fashion.model, base).name == "2"
    assert export.serving_versions(base) == [1, 2]
    with pytest.raises(FileExistsError, match="new version"):
        export.export_for_serving(trained_fashion.model, base, version=2)
    with pytest.raises(ValueError, match="positive integers"):
        export.export_for_serving(trained_fashion.model, base, version=0)


def test_a_folder_without_a_savedmodel_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no SavedModel"):
        export.describe_signature(tmp_path)
    assert export.serving_versions(tmp_path / "missing") == []


def test_rest_url_and_docker_command_follow_tf_serving_conventions(tmp_path):
    assert export.rest_url("fashion_cnn") == "http://localhost:8501/v1/models/fashion_cnn:predict"
    assert export.rest_url("m", "h", 9000, version=3) == "http://h:9000/v1/models/m/versions/3:predict"
    command = export.docker_command(tmp_path / "fashion_cnn", "fashion_cnn")
    assert "tensorflow/serving" in command and "-e MODEL_NAME=fashion_cnn" in command
    assert "target=/models/fashion_cnn" in command and "-p 8501:8501" in command


def test_course_service_answers_a_tf_serving_request_like_tf_serving(trained_fashion, fashion_export, tmp_path):
    """The same {"instances": ...} body and URL path work on the course service and on TF Serving."""
    path = models.save_model(trained_fashion.model, tmp_path / "fashion_cnn.keras", trained_fashion.class_names)
    app = create_app(ServeConfig(model=str(path), db=tmp_path / "p.sqlite3", load_in_background=False))
    try:
        x = trained_fashion.x_test[:3]
        body = {"instances": x.tolist()}
        response = app.test_client().post("/v1/models/fashion_cnn:predict", json=body)
        assert response.status_code == 200, response.get_data(as_text=True)
        answer = response.get_json()
        # TF Serving's REST API: row-format requests answer {"predictions": [one output per instance]}
        assert list(answer) == ["predictions"]
        predictions = np.asarray(answer["predictions"])
        assert predictions.shape == (3, 10)
        np.testing.assert_allclose(predictions, export.load_serving_function(fashion_export)(x), atol=1e-5)
        status = app.test_client().get("/v1/models/fashion_cnn").get_json()
        assert status["model_version_status"][0]["state"] == "AVAILABLE"
    finally:
        app.extensions["course_serving"]["host"].close()
