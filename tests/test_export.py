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


def test_next_export_is_a_new_version_and_old_versions_are_never_overwritten(
    trained_fashion, tmp_path
):
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
    assert (
        export.rest_url("m", "h", 9000, version=3) == "http://h:9000/v1/models/m/versions/3:predict"
    )
    command = export.docker_command(tmp_path / "fashion_cnn", "fashion_cnn")
    assert "tensorflow/serving" in command and "-e MODEL_NAME=fashion_cnn" in command
    assert "target=/models/fashion_cnn" in command and "-p 8501:8501" in command
    assert f"source={(tmp_path / 'fashion_cnn').resolve()}," in command


def test_docker_command_names_the_folder_from_where_it_is_typed_without_this_machines_path(
    tmp_path,
):
    command = export.docker_command(
        tmp_path / "build" / "export" / "fashion_cnn", "fashion_cnn", run_from=tmp_path
    )
    assert (
        '--mount=type=bind,source="$(pwd)"/build/export/fashion_cnn,target=/models/fashion_cnn'
        in command
    )
    assert str(tmp_path) not in command
    # A folder with a space stays one shell word.
    spaced = export.docker_command(tmp_path / "my models" / "m", "m", run_from=tmp_path)
    assert "source=\"$(pwd)\"/'my models/m',target=/models/m" in spaced


def test_checkpoint_of_a_keras_export_holds_the_weights_twice_bit_for_bit(
    trained_fashion, fashion_export
):
    model = trained_fashion.model
    groups = export.checkpoint_groups(fashion_export)
    assert set(groups) == {"variables", "_all_variables"}
    weights = {
        "tensors": len(model.weights),
        "values": model.count_params(),
        "bytes": model.count_params() * 4,
    }
    assert groups["_all_variables"] == weights  # the variables the serving function reads
    # The model's Keras variables: the same weights (this model has no Dropout, so no seed states).
    assert groups["variables"] == weights
    assert (
        export.tensors_found_in(fashion_export, "_all_variables", "variables")
        == (len(model.weights),) * 2
    )


def test_keras_file_contents_separates_the_weights_from_the_optimizers_slots(
    trained_fashion, tmp_path
):
    path = models.save_model(
        trained_fashion.model, tmp_path / "m.keras", trained_fashion.class_names
    )
    contents = export.keras_file_contents(path)
    model = trained_fashion.model
    assert contents["model.weights.h5: layers"] == {
        "tensors": len(model.weights),
        "bytes": model.count_params() * 4,
    }
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    optimizer = contents["model.weights.h5: optimizer"]
    # Adam: a momentum and a velocity per trainable weight, plus its step count and learning rate.
    assert optimizer["tensors"] == 2 * len(model.trainable_variables) + 2
    assert 2 * trainable * 4 <= optimizer["bytes"] <= 2 * trainable * 4 + 16
    assert {"config.json", "metadata.json", "model.weights.h5"} <= set(contents)


def test_course_service_answers_a_tf_serving_request_like_tf_serving(
    trained_fashion, fashion_export, tmp_path
):
    """The same {"instances": ...} body and URL path work on the course service and TF Serving."""
    path = models.save_model(
        trained_fashion.model, tmp_path / "fashion_cnn.keras", trained_fashion.class_names
    )
    app = create_app(
        ServeConfig(model=str(path), db=tmp_path / "p.sqlite3", load_in_background=False)
    )
    try:
        x = trained_fashion.x_test[:3]
        body = {"instances": x.tolist()}
        response = app.test_client().post("/v1/models/fashion_cnn:predict", json=body)
        assert response.status_code == 200, response.get_data(as_text=True)
        answer = response.get_json()
        # TF Serving's REST API: row-format requests answer {"predictions": [one output per
        # instance]}
        assert list(answer) == ["predictions"]
        predictions = np.asarray(answer["predictions"])
        assert predictions.shape == (3, 10)
        np.testing.assert_allclose(
            predictions, export.load_serving_function(fashion_export)(x), atol=1e-5
        )
        status = app.test_client().get("/v1/models/fashion_cnn").get_json()
        assert status["model_version_status"][0]["state"] == "AVAILABLE"
    finally:
        app.extensions["course_serving"]["host"].close()
