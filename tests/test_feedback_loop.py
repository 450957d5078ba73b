"""The whole loop with a tiny model: feedback stored with its photos becomes version 2, which is
promoted and answers the service's predictions; a rollback brings version 1 back; a clearly
worse candidate is written but refused, and the service keeps answering with the served one."""

import io
import time

import numpy as np
import pytest
from retrain_support import (
    CLASSES,
    labelled_rows,
    photo_bytes,
    photo_folder,
    store_feedback,
    tiny_model_root,
)

from course_lib import retrain, versions
from course_lib.serving import PredictionStore, ServeConfig, create_app
from course_lib.tools import cli


def served_version(client, photo: bytes, expected: str, timeout_s: float = 20.0) -> str:
    """The version in /predict's answer, asked until it is ``expected``."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = client.post(
            "/predict",
            data={"file": (io.BytesIO(photo), "x.png")},
            content_type="multipart/form-data",
        )
        assert answer.status_code == 200, answer.get_json()
        version = str(answer.get_json()["model"]["version"])
        if version == expected or time.monotonic() > deadline:
            return version
        time.sleep(0.25)


@pytest.fixture
def loop(tmp_path):
    root = tiny_model_root(tmp_path / "models" / "tiny")
    train, holdout = (
        photo_folder(tmp_path / "train", 6, seed=1),
        photo_folder(tmp_path / "holdout", 15, seed=2),
    )
    store = PredictionStore(tmp_path / "feedback.sqlite3")
    app = create_app(
        ServeConfig(model=str(root), db=tmp_path / "served.sqlite3", load_in_background=False)
    )
    # the service looks at serving.json on every request, not once a second: no waiting for it
    app.extensions["course_serving"]["host"].check_every_s = 0
    try:
        yield root, train, holdout, store, app.test_client()
    finally:
        app.extensions["course_serving"]["host"].close()
        store.close()


def test_feedback_becomes_a_promoted_version_the_service_answers_with_and_rollback_restores_the_old(
    loop,
):
    root, train, holdout, store, client = loop
    photo = photo_bytes("red", np.random.default_rng(9))
    assert str(client.get("/model").get_json()["version"]) == "1"
    assert served_version(client, photo, "1") == "1"

    store_feedback(store, labelled_rows(10, seed=3))
    rows = store.feedback_rows()
    assert len(rows) == 20 and all(
        row["image"] for row in rows
    )  # the originals came back from the store
    result = retrain.retrain(root, rows, train, holdout, epochs=40, learning_rate=0.05)
    assert result.new_version == 2 and result.promoted, result.summary()
    assert served_version(client, photo, "2") == "2"
    assert str(client.get("/model").get_json()["version"]) == "2"

    assert cli.main(["rollback", str(root)]) == 0
    assert versions.served_version(root) == 1
    assert served_version(client, photo, "1") == "1"


def test_a_clearly_worse_candidate_is_refused_and_the_service_keeps_the_served_version(loop):
    root, train, holdout, store, client = loop
    photo = photo_bytes("blue", np.random.default_rng(9))
    store_feedback(store, labelled_rows(10, seed=3))
    good = retrain.retrain(
        root, store.feedback_rows(), train, holdout, epochs=40, learning_rate=0.05
    )
    assert good.promoted and served_version(client, photo, "2") == "2"

    # every photo taught as the other class: a candidate much worse than version 2
    worse = labelled_rows(30, seed=4, flip=True)
    for row in worse:
        row["prediction_id"] += 1000
    store_feedback(store, worse)
    bad = retrain.retrain(
        root, store.feedback_rows()[20:], train, holdout, epochs=40, learning_rate=0.05
    )
    assert bad.new_version == 3 and not bad.promoted
    assert bad.comparison.new_correct < bad.comparison.old_correct
    assert versions.list_versions(root) == [1, 2, 3] and versions.served_version(root) == 2
    # this request looks at serving.json, and still gets the served version, not version 3
    assert served_version(client, photo, "3", timeout_s=0) == "2"
    assert set(CLASSES) == set(client.get("/model").get_json()["class_names"])
