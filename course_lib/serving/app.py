"""The Flask application: the web page, the JSON API and the TF Serving-style route.

Build it with :func:`create_app`; gunicorn imports ``course_lib.serving.wsgi:app``.
Every error, including bad uploads, answers a JSON body ``{"error": reason,
"status": code}`` with a 4xx status; only a bug in the service itself can
produce a 500, and even that answers JSON without a traceback.

The routes that hand out or delete people's photos (``/history/<id>/image``,
``/history/<id>/original``, ``DELETE /history/<id>/image`` and ``/feedback.csv``)
ask for ``Authorization: Bearer <COURSE_SERVE_TOKEN>`` whenever a token is set,
and a token must be set to listen on any address other than loopback.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.utils import secure_filename

import course_lib
from course_lib.serving import uploads
from course_lib.serving.batching import BatcherClosed, ModelHost, ModelNotReady, Served
from course_lib.serving.classifier import (
    Classifier,
    VersionWatch,
    load_classifier,
    top_k,
    version_watch,
)
from course_lib.serving.config import ServeConfig
from course_lib.serving.store import NewPrediction, PredictionStore, now

log = logging.getLogger(__name__)

MAX_PER_PAGE = 100
MAX_INSTANCES = 256  # per TF Serving-style request
MAX_COMMENT = 500
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class ApiError(Exception):
    """A request the service refuses, with the status and reason to send back."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def create_app(config: ServeConfig | None = None,
               classifier: Classifier | Callable[[], Classifier] | None = None) -> Flask:
    """The classifier service.

    ``config`` defaults to :meth:`ServeConfig.from_env`. ``classifier`` is a ready
    :class:`Classifier`, a function that loads one, or None to load
    ``config.model``. Loading runs in the background when
    ``config.load_in_background`` (``/health`` answers 503 until it is warm).
    """
    config = config or ServeConfig.from_env()
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=config.max_upload_bytes, DEBUG=False, PROPAGATE_EXCEPTIONS=False)
    app.json.sort_keys = False
    source = classifier if classifier is not None else (lambda: load_classifier(config.model))
    store = PredictionStore(config.db, keep_upload_bytes=config.keep_upload_bytes,
                            keep_upload_days=config.keep_upload_days)
    watch = version_watch(config.model) if classifier is None else None
    host = ModelHost(source, config.batch_size, config.batch_wait_ms, background=config.load_in_background,
                     watch=watch)
    app.extensions["course_serving"] = {"config": config, "store": store, "host": host}
    # A folder of versions: each request looks (at most once a second) whether another is served.
    app.before_request(host.refresh)
    _register_errors(app)
    _register_routes(app)
    return app


def _state() -> tuple[ServeConfig, PredictionStore, ModelHost]:
    ext = current_app.extensions["course_serving"]
    return ext["config"], ext["store"], ext["host"]


def _ready_classifier(wait: bool = True) -> Classifier:
    """The loaded classifier; a request that arrives while it loads waits up to the request timeout."""
    config, _, host = _state()
    if wait and host.state == "loading":
        host.wait(config.timeout_s)
    if host.state == "failed":
        raise ApiError(f"the model could not be loaded: {host.error}", 503)
    if not host.ready or host.classifier is None:
        raise ApiError("the model is still loading; try again in a few seconds", 503)
    return host.classifier


@contextmanager
def _served() -> Iterator[Served]:
    """The served model for this request (waiting while it loads), kept until the request is done."""
    _, _, host = _state()
    _ready_classifier()
    try:
        with host.lease() as served:
            yield served
    except ModelNotReady as exc:
        raise ApiError(str(exc), 503) from None


# ---------------------------------------------------------------- errors

def _error(message: str, status: int) -> Response:
    response = jsonify(error=message, status=status)
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = "5"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="course-serve"'
    return response


def _register_errors(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return _error(exc.message, exc.status)

    @app.errorhandler(uploads.UploadError)
    def upload_error(exc: uploads.UploadError) -> Response:
        return _error(exc.message, exc.status)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> Response:
        config, _, _ = _state()
        return _error(f"the request is larger than the {config.max_upload_mb:g} MB upload limit; "
                      "send a smaller image (or fewer at once)", 413)

    @app.errorhandler(MethodNotAllowed)
    def wrong_method(exc: MethodNotAllowed) -> Response:
        allowed = sorted(set(exc.valid_methods or []) - {"HEAD", "OPTIONS"})
        response = _error(f"{request.method} is not allowed on {request.path}; use {' or '.join(allowed)}", 405)
        response.headers["Allow"] = ", ".join(exc.valid_methods or [])
        return response

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound) -> Response:
        default = NotFound.description
        message = exc.description if exc.description != default else f"nothing here: {request.path}"
        return _error(message, 404)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return _error(exc.description or exc.name, exc.code or 500)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _error("the service hit an unexpected error; it has been logged", 500)

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response


# ---------------------------------------------------------------- routes

def _register_routes(app: Flask) -> None:
    @app.get("/")
    def index() -> str:
        config, _, host = _state()
        model = host.classifier.describe() if host.ready and host.classifier else None
        return render_template("index.html", model=model, config=config, version=course_lib.__version__)

    @app.get("/health")
    def health() -> tuple[Response, int]:
        _, _, host = _state()
        body: dict[str, Any] = {"status": {"ready": "ok"}.get(host.state, host.state), "worker": os.getpid()}
        if host.ready and host.classifier is not None:
            body["model"] = {"name": host.classifier.name, "version": host.classifier.version}
            body["load_seconds"] = round(host.load_seconds or 0.0, 2)
        if host.reloading:
            body["loading_version"] = host.reloading
        if host.error or host.reload_error:
            body["error"] = host.error or host.reload_error
        return jsonify(body), 200 if host.ready else 503

    @app.get("/model")
    def model_info() -> Response:
        config, _, _ = _state()
        info = _ready_classifier(wait=False).describe()
        watch = _state()[2].watch
        if isinstance(watch, VersionWatch):
            info["versions"] = watch.describe()
        info["limits"] = {"max_upload_mb": config.max_upload_mb, "max_pixels": config.max_pixels,
                          "max_files": config.max_files, "top_k": config.top_k}
        return jsonify(info)

    @app.post("/predict")
    def predict() -> Response:
        started = time.perf_counter()
        config, store, _ = _state()
        with _served() as served:  # one version from start to end, even if another is swapped in meanwhile
            classifier = served.classifier
            k = _int_arg("top_k", config.top_k, 1, len(classifier.class_names))
            files = _uploaded_files(config)
            names, images, originals, inputs = [], [], [], []
            for file in files:
                name = secure_filename(file.filename or "") or "upload"
                data = file.read()
                image = uploads.decode_image(data, config.max_pixels, name=f"'{name}'")
                names.append(name)
                images.append(image)
                originals.append(data)
                inputs.append(classifier.prepare(image))  # the lesson's own way from photo to model input
            probabilities = _run_model(served, np.stack(inputs), config)
            latency_ms = (time.perf_counter() - started) * 1000
            items = _record(store, classifier, probabilities, k, latency_ms, names, images, "upload", originals)
            return jsonify(items[0] if len(items) == 1 else {"predictions": items})

    @app.get("/history")
    def history() -> Response:
        _, store, _ = _state()
        page = _int_arg("page", 1, 1, 10**9)
        per_page = _int_arg("per_page", 20, 1, MAX_PER_PAGE)
        result = store.history(page, per_page)
        result["items"] = [_public(item) for item in result["items"]]
        return jsonify(result)

    @app.get("/history/<int:prediction_id>")
    def history_item(prediction_id: int) -> Response:
        _, store, _ = _state()
        return jsonify(_public(_existing(store, prediction_id)))

    @app.get("/history/<int:prediction_id>/image")
    @_needs_token
    def history_image(prediction_id: int) -> Response:
        _, store, _ = _state()
        found = store.image(_existing(store, prediction_id)["id"])
        if found is None:
            raise ApiError(f"prediction {prediction_id} has no stored image", 404)
        data, mime = found
        response = Response(data, mimetype=mime)
        response.headers["Cache-Control"] = "private, no-cache"  # a deleted photo must not outlive its delete
        return response

    @app.get("/history/<int:prediction_id>/original")
    @_needs_token
    def history_original(prediction_id: int) -> Response:
        """The upload exactly as it was received, while it is kept (see COURSE_SERVE_KEEP_UPLOAD_*)."""
        _, store, _ = _state()
        _existing(store, prediction_id)
        found = store.original(prediction_id)
        if found is None:
            status = store.original_status(prediction_id)
            why = status["note"] if status else "it was sent as a tensor, not as a file"
            raise ApiError(f"prediction {prediction_id} has no stored original: {why}", 404)
        data, mime = found
        response = Response(data, mimetype=mime)
        response.headers["Cache-Control"] = "private, no-cache"
        response.headers["Content-Disposition"] = f"attachment; filename=prediction-{prediction_id}"
        return response

    @app.delete("/history/<int:prediction_id>/image")
    @_needs_token
    def delete_image(prediction_id: int) -> Response:
        """Delete a prediction's photo: both the preview and the original upload.

        The prediction itself (label, confidence, model version) and its feedback stay: they
        are what monitoring counts and carry no picture. Without its photo the prediction
        no longer reaches retraining (``feedback_rows`` gives it no image). Answers
        ``{"id", "deleted": {"preview": bool, "original": bool}}``; 404 if the prediction
        had no photo left to delete.
        """
        _, store, _ = _state()
        _existing(store, prediction_id)
        deleted = store.delete_image(prediction_id)
        if not deleted or not any(deleted.values()):
            raise ApiError(f"prediction {prediction_id} has no stored image", 404)
        return jsonify({"id": prediction_id, "deleted": deleted})

    @app.post("/feedback/<int:prediction_id>")
    def feedback(prediction_id: int) -> Response:
        _, store, host = _state()
        _existing(store, prediction_id)
        form: Any = request.form
        if request.is_json:
            form = request.get_json(silent=True)
            if not isinstance(form, dict):
                raise ApiError('send feedback as a JSON object, e.g. {"correct": false, "label": "Sneaker"}')
        correct = _parse_bool(form.get("correct"))
        label = _clean_text(form.get("label"), "label", 200)
        comment = _clean_text(form.get("comment"), "comment", MAX_COMMENT)
        if correct and label:
            label = None  # a confirmed prediction keeps its own label
        names = host.classifier.class_names if host.classifier else []
        if label and names and label not in names:
            raise ApiError(f"unknown label {label!r}: use one of the model's {len(names)} class names "
                           "(GET /model lists them)")
        item = store.set_feedback(prediction_id, correct, label, comment)
        return jsonify(_public(item))

    @app.get("/feedback.csv")
    @_needs_token
    def feedback_csv() -> Response:
        _, store, _ = _state()
        text = store.export_feedback_csv(base_url=request.host_url.rstrip("/"))
        return Response(text, mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=feedback.csv"})

    @app.get("/v1/models/<name>")
    @app.get("/v1/models/<name>/versions/<version>")
    def tf_serving_status(name: str, version: str | None = None) -> Response:
        classifier = _tf_serving_model(name)
        return jsonify({"model_version_status": [{"version": classifier.version, "state": "AVAILABLE",
                                                  "status": {"error_code": "OK", "error_message": ""}}]})

    @app.post("/v1/models/<name>:predict")
    @app.post("/v1/models/<name>/versions/<version>:predict")
    def tf_serving_predict(name: str, version: str | None = None) -> Response:
        started = time.perf_counter()
        config, store, _ = _state()
        with _served() as served:
            classifier = _tf_serving_model(name, served.classifier)
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                raise ApiError('send a JSON object: {"instances": [...]} (TensorFlow Serving\'s REST format)')
            signature = body.get("signature_name", "serving_default")
            if signature != "serving_default":
                raise ApiError(f'signature_name {signature!r} not found; this model has "serving_default"')
            # Row format ("instances") answers with "predictions", columnar ("inputs") with "outputs".
            answer_key = "outputs" if "inputs" in body and "instances" not in body else "predictions"
            instances = body.get("instances", body.get("inputs"))
            if not isinstance(instances, list) or not instances:
                raise ApiError('"instances" must be a non-empty list (of image tensors or {"b64": ...} objects)')
            if len(instances) > MAX_INSTANCES:
                raise ApiError(f"{len(instances)} instances in one request; the limit is {MAX_INSTANCES}", 413)
            encoded = [_b64_of(instance) for instance in instances]
            originals: list[bytes | None]
            if all(e is not None for e in encoded):
                originals = [_decode_b64(e, i) for i, e in enumerate(encoded)]
                images = [uploads.decode_image(data, config.max_pixels, name=f"instance {i}")
                          for i, data in enumerate(originals)]
                probabilities = _run_model(served, np.stack([classifier.prepare(im) for im in images]), config)
            elif any(e is not None for e in encoded):
                raise ApiError('mix of {"b64": ...} and tensor instances; send one kind per request')
            else:
                images, originals = [None] * len(instances), [None] * len(instances)
                probabilities = classifier.predict_inputs(_tensor_instances(instances, classifier))
            latency_ms = (time.perf_counter() - started) * 1000
            names = [f"instance-{i}" for i in range(len(instances))]
            _record(store, classifier, probabilities, 1, latency_ms, names, images, "tf-serving", originals)
            return jsonify({answer_key: probabilities.astype(float).tolist()})


# ---------------------------------------------------------------- helpers

def _uploaded_files(config: ServeConfig) -> list[Any]:
    if not request.content_type or not request.content_type.startswith("multipart/form-data"):
        raise ApiError("send the image as multipart/form-data in the field 'file' "
                       "(curl: -F file=@photo.jpg)", 415)
    files = [f for f in request.files.getlist("file") if f.filename or f.content_length]
    if not files:
        others = sorted(set(request.files))
        hint = f" (the form has {', '.join(repr(o) for o in others)})" if others else ""
        raise ApiError(f"no image in the field 'file'{hint}: choose an image to upload")
    if len(files) > config.max_files:
        raise ApiError(f"{len(files)} files in one request; the limit is {config.max_files}", 413)
    return files


def _run_model(served: Served, inputs: np.ndarray, config: ServeConfig) -> np.ndarray:
    try:
        return served.predict_inputs(inputs, timeout=config.timeout_s)
    except BatcherClosed as exc:
        raise ApiError(str(exc), 503) from None
    except TimeoutError:
        raise ApiError(f"the model did not answer within {config.timeout_s:g} s; the server is overloaded, "
                       "try again", 503) from None


def _record(store: PredictionStore, classifier: Classifier, probabilities: np.ndarray, k: int,
            latency_ms: float, names: list[str], images: list[Any], source: str,
            originals: list[bytes | None]) -> list[dict[str, Any]]:
    created = now()
    rows, tops = [], []
    for name, image, original, probs in zip(names, images, originals, probabilities, strict=True):
        top = top_k(probs, classifier.class_names, k)
        best = top[0]
        preview, mime = uploads.preview_bytes(image) if image is not None else (None, None)
        rows.append(NewPrediction(
            filename=name, model_name=classifier.name, model_version=classifier.version,
            label=best["label"], class_index=best["class_index"], confidence=best["confidence"],
            top_k=top, latency_ms=round(latency_ms, 3), width=image.width if image else None,
            height=image.height if image else None, source=source, image=preview, image_type=mime,
            original=original, original_type=uploads.mime_type(original) if original is not None else None))
        tops.append(top)
    ids = store.add(rows, created_at=created)
    return [{"id": pid, "filename": row.filename, "label": row.label, "class_index": row.class_index,
             "confidence": row.confidence, "top_k": top,
             "model": {"name": row.model_name, "version": row.model_version},
             "latency_ms": row.latency_ms, "created_at": created,
             "image_url": f"/history/{pid}/image" if row.image else None,
             **_original_fields(pid, _original_of(store, row.original))}
            for pid, row, top in zip(ids, rows, tops, strict=True)]


def _original_of(store: PredictionStore, data: bytes | None) -> dict[str, Any] | None:
    """What the store does with an upload of these bytes, as ``original_status`` reports it."""
    if data is None:
        return None
    kept = store.keeps(len(data))
    return {"kept": kept, "bytes": len(data), "note": None if kept else store.not_kept_reason(len(data))}


def _original_fields(prediction_id: int, status: dict[str, Any] | None) -> dict[str, Any]:
    url = f"/history/{prediction_id}/original" if status and status["kept"] else None
    return {"original": status, "original_url": url}


def _public(item: dict[str, Any]) -> dict[str, Any]:
    _, store, _ = _state()
    item = dict(item)
    item["image_url"] = f"/history/{item['id']}/image" if item.pop("has_image") else None
    item.update(_original_fields(item["id"], store.original_status(item["id"])))
    return item


def _needs_token(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse the request with 401 unless it carries the service's token (when one is set)."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        config, _, _ = _state()
        if config.token:
            sent = request.headers.get("Authorization", "")
            scheme, _, given = sent.partition(" ")
            if not sent:
                raise ApiError("this route hands out photos: send the service's token as "
                               "'Authorization: Bearer <COURSE_SERVE_TOKEN>'", 401)
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), config.token.encode()):
                raise ApiError("the token sent does not match COURSE_SERVE_TOKEN", 401)
        return view(*args, **kwargs)

    return guarded


def _existing(store: PredictionStore, prediction_id: int) -> dict[str, Any]:
    item = store.get(prediction_id)
    if item is None:
        raise ApiError(f"no prediction with id {prediction_id}", 404)
    return item


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(f"{name} must be a whole number, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise ApiError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "yes", "1", "false", "no", "0"}:
        return value.strip().lower() in {"true", "yes", "1"}
    raise ApiError('"correct" must be true or false (was the prediction right?)')


def _clean_text(value: Any, field: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(f'"{field}" must be text')
    value = value.strip()
    if len(value) > limit:
        raise ApiError(f'"{field}" is {len(value)} characters long; the limit is {limit}')
    return value or None


def _tf_serving_model(name: str, classifier: Classifier | None = None) -> Classifier:
    classifier = classifier or _ready_classifier()
    if name != classifier.name:
        raise ApiError(f"Servable not found for request: Latest({name}); this server serves "
                       f"{classifier.name!r}", 404)
    return classifier


def _b64_of(instance: Any) -> str | None:
    """The base64 text of ``{"b64": ...}`` or ``{"input_name": {"b64": ...}}``, else None."""
    if isinstance(instance, dict):
        if "b64" in instance:
            return instance["b64"] if isinstance(instance["b64"], str) else ""
        if len(instance) == 1:
            return _b64_of(next(iter(instance.values())))
        raise ApiError("an instance object must be {\"b64\": ...} or hold one named input")
    return None


def _decode_b64(text: str, index: int) -> bytes:
    try:
        return base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(f'instance {index}: "b64" is not valid base64') from None


def _tensor_instances(instances: list[Any], classifier: Classifier) -> np.ndarray:
    expected = classifier.input_shape
    try:
        x = np.asarray(instances, dtype=np.float32)
    except (ValueError, TypeError):
        raise ApiError(f"instances must be numbers shaped {list(expected)} (all the same shape)") from None
    if x.ndim == len(expected) and expected[-1] == 1:
        x = x[..., None]  # grayscale sent without its channel axis
    if x.shape[1:] != expected:
        raise ApiError(f"each instance has shape {list(x.shape[1:])}; the model takes {list(expected)}")
    if not np.isfinite(x).all():
        raise ApiError("instances contain NaN or infinite values")
    return x
