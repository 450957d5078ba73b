"""The service's own API: the page, health, the model, predictions, history and feedback."""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request

import course_lib
from course_lib.serving.app import service
from course_lib.serving.classifier import VersionWatch
from course_lib.serving.errors import ApiError
from course_lib.serving.params import (
    clean_text,
    int_arg,
    json_body,
    parse_bool,
    upload_name,
    uploaded_files,
)
from course_lib.serving.predicting import classify_files, existing, public, ready_classifier, served

bp = Blueprint("api", __name__)

MAX_PER_PAGE = 100
MAX_COMMENT = 500


@bp.get("/")
def index() -> str:
    config, host = service().config, service().host
    model = host.classifier.describe() if host.ready and host.classifier else None
    return render_template(
        "index.html",
        model=model,
        config=config,
        version=course_lib.__version__,
        token_required=bool(config.token),  # the page then asks for it to show the photos
    )


@bp.get("/health")
def health() -> tuple[Response, int]:
    host = service().host
    body: dict[str, Any] = {
        "status": {"ready": "ok"}.get(host.state, host.state),
        "worker": os.getpid(),
    }
    if host.ready and host.classifier is not None:
        body["model"] = {"name": host.classifier.name, "version": host.classifier.version}
        body["load_seconds"] = round(host.load_seconds or 0.0, 2)
    if host.reloading:
        body["loading_version"] = host.reloading
    if host.error or host.reload_error:
        body["error"] = host.error or host.reload_error
    return jsonify(body), 200 if host.ready else 503


@bp.get("/model")
def model_info() -> Response:
    config = service().config
    info = ready_classifier(wait=False).describe()
    if isinstance(service().host.watch, VersionWatch):
        info["versions"] = service().host.watch.describe()
    info["limits"] = {
        "max_upload_mb": config.max_upload_mb,
        "max_pixels": config.max_pixels,
        "max_files": config.max_files,
        "top_k": config.top_k,
    }
    return jsonify(info)


@bp.post("/predict")
def predict() -> Response:
    started = time.perf_counter()
    config = service().config
    with (
        served() as model
    ):  # one version from start to end, even if another is swapped in meanwhile
        k = int_arg("top_k", config.top_k, 1, len(model.classifier.class_names))
        files = []
        for file in uploaded_files(config):
            name = upload_name(file.filename)
            files.append((name, file.read(), f"'{name}'"))
        items, _ = classify_files(model, files, k, "upload", started)
    return jsonify(items[0] if len(items) == 1 else {"predictions": items})


@bp.get("/history")
def history() -> Response:
    page = int_arg("page", 1, 1, 10**9)
    per_page = int_arg("per_page", 20, 1, MAX_PER_PAGE)
    result = service().store.history(page, per_page)
    result["items"] = [public(item) for item in result["items"]]
    return jsonify(result)


@bp.get("/history/<int:prediction_id>")
def history_item(prediction_id: int) -> Response:
    return jsonify(public(existing(prediction_id)))


@bp.post("/feedback/<int:prediction_id>")
def feedback(prediction_id: int) -> Response:
    existing(prediction_id)
    form: Any = request.form
    if request.is_json:
        form = json_body()
        if not isinstance(form, dict):
            raise ApiError(
                'send feedback as a JSON object, e.g. {"correct": false, "label": "Sneaker"}'
            )
    correct = parse_bool(form.get("correct"))
    label = clean_text(form.get("label"), "label", 200)
    comment = clean_text(form.get("comment"), "comment", MAX_COMMENT)
    if correct and label:
        label = None  # a confirmed prediction keeps its own label
    classifier = service().host.classifier
    names = classifier.class_names if classifier else []
    if label and names and label not in names:
        raise ApiError(
            f"unknown label {label!r}: use one of the model's {len(names)} class names "
            "(GET /model lists them)"
        )
    return jsonify(public(service().store.set_feedback(prediction_id, correct, label, comment)))
