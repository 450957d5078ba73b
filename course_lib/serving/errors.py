"""Every error as JSON: ``{"error": reason, "status": code}``, with a 4xx status for a bad request.

Only a bug in the service itself produces a 500, and even that answers JSON without a
traceback. The Blueprint also adds the security headers to every response.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import (
    ClientDisconnected,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
)

from course_lib.serving.app import service
from course_lib.serving.uploads import UploadError

log = logging.getLogger(__name__)
bp = Blueprint("errors", __name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class ApiError(Exception):
    """A request the service refuses, with the status and reason to send back."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def error_response(message: str, status: int) -> Response:
    response = jsonify(error=message, status=status)
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = "5"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="course-serve"'
    return response


@bp.app_errorhandler(ApiError)
@bp.app_errorhandler(UploadError)
def refused(exc: ApiError | UploadError) -> Response:
    return error_response(exc.message, exc.status)


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(exc: RequestEntityTooLarge) -> Response:
    config = service().config
    if request.content_length is not None and request.content_length <= config.max_upload_bytes:
        # small enough: Flask refused the form's shape (MAX_FORM_PARTS, MAX_FORM_MEMORY_SIZE)
        return error_response(
            "the form has too many parts, or a text field too long, to be read: send the "
            f"images in the field 'file' (at most {config.max_files}) and little else",
            413,
        )
    return error_response(
        f"the request is larger than the {config.max_upload_mb:g} MB upload limit; "
        "send a smaller image (or fewer at once)",
        413,
    )


@bp.app_errorhandler(ClientDisconnected)
def body_cut_short(exc: ClientDisconnected) -> Response:
    if isinstance(exc.__context__, TimeoutError):  # the socket's timeout: gunicorn_conf
        return error_response(
            f"the request's body stopped arriving for {service().config.timeout_s:g} s "
            "before its end (check its Content-Length); send it again",
            408,
        )
    return error_response(
        "the request's body ended before its Content-Length said it would; send it again", 400
    )


@bp.app_errorhandler(MethodNotAllowed)
def wrong_method(exc: MethodNotAllowed) -> Response:
    allowed = sorted(set(exc.valid_methods or []) - {"HEAD", "OPTIONS"})
    response = error_response(
        f"{request.method} is not allowed on {request.path}; use {' or '.join(allowed)}", 405
    )
    response.headers["Allow"] = ", ".join(exc.valid_methods or [])
    return response


@bp.app_errorhandler(NotFound)
def not_found(exc: NotFound) -> Response:
    default = NotFound.description
    message = exc.description if exc.description != default else f"nothing here: {request.path}"
    return error_response(message, 404)


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    return error_response(exc.description or exc.name, exc.code or 500)


@bp.app_errorhandler(Exception)
def unexpected(exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.path)
    return error_response("the service hit an unexpected error; it has been logged", 500)


@bp.after_app_request
def security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response
