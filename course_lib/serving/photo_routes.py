"""The routes that hand out or delete people's photos, and the token that guards them.

Whenever ``COURSE_SERVE_TOKEN`` is set (and it must be, to listen beyond loopback), each
of these asks for ``Authorization: Bearer <token>`` and answers 401 with a JSON reason
without it. The token is compared in constant time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from course_lib.serving.app import service
from course_lib.serving.errors import ApiError
from course_lib.serving.predicting import existing

bp = Blueprint("photos", __name__)


def needs_token(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse the request with 401 unless it carries the service's token (when one is set)."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        token = service().config.token
        if token:
            sent = request.headers.get("Authorization", "")
            scheme, _, given = sent.partition(" ")
            if not sent:
                raise ApiError(
                    "this route hands out photos: send the service's token as "
                    "'Authorization: Bearer <COURSE_SERVE_TOKEN>'",
                    401,
                )
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), token.encode()
            ):
                raise ApiError("the token sent does not match COURSE_SERVE_TOKEN", 401)
        return view(*args, **kwargs)

    return guarded


@bp.get("/history/<int:prediction_id>/image")
@needs_token
def history_image(prediction_id: int) -> Response:
    found = service().store.image(existing(prediction_id)["id"])
    if found is None:
        raise ApiError(f"prediction {prediction_id} has no stored image", 404)
    data, mime = found
    response = Response(data, mimetype=mime)
    response.headers["Cache-Control"] = (
        "private, no-cache"  # a deleted photo must not outlive its delete
    )
    return response


@bp.get("/history/<int:prediction_id>/original")
@needs_token
def history_original(prediction_id: int) -> Response:
    """The upload exactly as it was received, while it is kept (see COURSE_SERVE_KEEP_UPLOAD_*)."""
    store = service().store
    existing(prediction_id)
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


@bp.delete("/history/<int:prediction_id>/image")
@needs_token
def delete_image(prediction_id: int) -> Response:
    """Delete a prediction's photo: both the preview and the original upload.

    The prediction itself (label, confidence, model version) and its feedback stay: they
    are what monitoring counts and carry no picture. Without its photo the prediction
    no longer reaches retraining (``feedback_rows`` gives it no image). Answers
    ``{"id", "deleted": {"preview": bool, "original": bool}}``; 404 if the prediction
    had no photo left to delete.
    """
    existing(prediction_id)
    deleted = service().store.delete_image(prediction_id)
    if not deleted or not any(deleted.values()):
        raise ApiError(f"prediction {prediction_id} has no stored image", 404)
    return jsonify({"id": prediction_id, "deleted": deleted})


@bp.get("/feedback.csv")
@needs_token
def feedback_csv() -> Response:
    text = service().store.export_feedback_csv(base_url=request.host_url.rstrip("/"))
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=feedback.csv"},
    )
