"""TensorFlow Serving's REST API on the course service: a TF Serving client works unchanged.

``GET /v1/models/<name>`` reports the model's status; ``POST /v1/models/<name>:predict``
takes ``{"instances": [...]}`` (row format, answered with ``"predictions"``) or
``{"inputs": [...]}`` (columnar, answered with ``"outputs"``), each instance a
``{"b64": ...}`` encoded image or a model-input tensor.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

import numpy as np
from flask import Blueprint, Response, jsonify

from course_lib.serving.classifier import Classifier
from course_lib.serving.errors import ApiError
from course_lib.serving.params import json_body
from course_lib.serving.predicting import classify_files, classify_inputs, ready_classifier, served

bp = Blueprint("tf_serving", __name__)

MAX_INSTANCES = 256  # per request


@bp.get("/v1/models/<name>")
@bp.get("/v1/models/<name>/versions/<version>")
def status(name: str, version: str | None = None) -> Response:
    classifier = _model_named(name, ready_classifier())
    return jsonify(
        {
            "model_version_status": [
                {
                    "version": classifier.version,
                    "state": "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""},
                }
            ]
        }
    )


@bp.post("/v1/models/<name>:predict")
@bp.post("/v1/models/<name>/versions/<version>:predict")
def predict(name: str, version: str | None = None) -> Response:
    started = time.perf_counter()
    with served() as model:
        classifier = _model_named(name, model.classifier)
        body = json_body(force=True)  # as TF Serving, whatever the Content-Type says
        if not isinstance(body, dict):
            raise ApiError(
                'send a JSON object: {"instances": [...]} (TensorFlow Serving\'s REST format)'
            )
        signature = body.get("signature_name", "serving_default")
        if signature != "serving_default":
            raise ApiError(
                f'signature_name {signature!r} not found; this model has "serving_default"'
            )
        # Row format ("instances") answers with "predictions", columnar ("inputs") with "outputs".
        answer_key = "outputs" if "inputs" in body and "instances" not in body else "predictions"
        instances = body.get("instances", body.get("inputs"))
        if not isinstance(instances, list) or not instances:
            raise ApiError(
                '"instances" must be a non-empty list (of image tensors or {"b64": ...} objects)'
            )
        if len(instances) > MAX_INSTANCES:
            raise ApiError(
                f"{len(instances)} instances in one request; the limit is {MAX_INSTANCES}", 413
            )
        encoded = [_b64_of(instance) for instance in instances]
        names = [f"instance-{i}" for i in range(len(instances))]
        if all(e is not None for e in encoded):
            files = [
                (name, _decode_b64(e, i), f"instance {i}")
                for i, (name, e) in enumerate(zip(names, encoded, strict=True))
            ]
            _, probabilities = classify_files(model, files, 1, "tf-serving", started)
        elif any(e is not None for e in encoded):
            raise ApiError('mix of {"b64": ...} and tensor instances; send one kind per request')
        else:
            inputs = _tensor_instances(instances, classifier)
            _, probabilities = classify_inputs(model, inputs, names, 1, "tf-serving", started)
    return jsonify({answer_key: probabilities.astype(float).tolist()})


def _model_named(name: str, classifier: Classifier) -> Classifier:
    if name != classifier.name:
        raise ApiError(
            f"Servable not found for request: Latest({name}); this server serves "
            f"{classifier.name!r}",
            404,
        )
    return classifier


def _b64_of(instance: Any) -> str | None:
    """The base64 text of ``{"b64": ...}`` or ``{"input_name": {"b64": ...}}``, else None."""
    if isinstance(instance, dict):
        if "b64" in instance:
            if not isinstance(instance["b64"], str):
                raise ApiError('"b64" must be text: the image file\'s bytes in base64')
            return instance["b64"]
        if len(instance) == 1:
            return _b64_of(next(iter(instance.values())))
        raise ApiError('an instance object must be {"b64": ...} or hold one named input')
    return None


def _decode_b64(text: str, index: int) -> bytes:
    try:
        # without line breaks: `base64 photo.jpg` wraps its output every 76 characters
        text = "".join(text.split())
        return base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(f'instance {index}: "b64" is not valid base64') from None


def _tensor_instances(instances: list[Any], classifier: Classifier) -> np.ndarray:
    expected = classifier.input_shape
    try:
        x = np.asarray(instances, dtype=np.float32)
    except (ValueError, TypeError):
        raise ApiError(
            f"instances must be numbers shaped {list(expected)} (all the same shape)"
        ) from None
    if x.ndim == len(expected) and expected[-1] == 1:
        x = x[..., None]  # grayscale sent without its channel axis
    if x.shape[1:] != expected:
        raise ApiError(
            f"each instance has shape {list(x.shape[1:])}; the model takes {list(expected)}"
        )
    if not np.isfinite(x).all():
        raise ApiError("instances contain NaN or infinite values")
    return x
