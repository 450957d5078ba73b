"""Reading a request's parameters, each refused with a 400 and a reason when it is wrong."""

from __future__ import annotations

import os
from typing import Any

from flask import request
from werkzeug.utils import secure_filename

from course_lib.serving.config import ServeConfig
from course_lib.serving.errors import ApiError


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """The query parameter ``name`` as a whole number in ``[low, high]``, or ``default``."""
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


# The longest file name kept with a prediction (longer ones are cut, keeping the extension).
MAX_NAME = 120


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):  # JSON's 1 and 0, as the form's "1" and "0"
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "yes", "1", "false", "no", "0"}:
        return value.strip().lower() in {"true", "yes", "1"}
    raise ApiError('"correct" must be true or false (was the prediction right?)')


def clean_text(value: Any, field: str, limit: int) -> str | None:
    """Stripped text of at most ``limit`` characters, or None when empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(f'"{field}" must be text')
    value = value.strip()
    if len(value) > limit:
        raise ApiError(f'"{field}" is {len(value)} characters long; the limit is {limit}')
    return value or None


def uploaded_files(config: ServeConfig) -> list[Any]:
    """The files of the multipart field ``file``, at most ``config.max_files`` of them."""
    if not request.content_type or not request.content_type.startswith("multipart/form-data"):
        raise ApiError(
            "send the image as multipart/form-data in the field 'file' (curl: -F file=@photo.jpg)",
            415,
        )
    files = [f for f in request.files.getlist("file") if f.filename or f.content_length]
    if not files:
        if "file" in request.form:
            raise ApiError(
                "the field 'file' holds text, not a file: attach the image itself "
                "(curl: -F file=@photo.jpg, with the @)"
            )
        if not request.files and not request.form and _unreadable_form():
            raise ApiError(
                "the multipart/form-data body could not be read (no boundary, malformed, or "
                "shorter than its Content-Length): send the image in the field 'file' "
                "(curl: -F file=@photo.jpg)"
            )
        others = sorted(set(request.files))
        hint = f" (the form has {', '.join(repr(o) for o in others)})" if others else ""
        raise ApiError(f"no image in the field 'file'{hint}: choose an image to upload")
    if len(files) > config.max_files:
        raise ApiError(f"{len(files)} files in one request; the limit is {config.max_files}", 413)
    return files


def _unreadable_form() -> bool:
    """Whether the request sent a body that did not parse as a form (rather than no body)."""
    sent = bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")
    return sent or "boundary" not in request.mimetype_params


def upload_name(raw: str | None, limit: int = MAX_NAME) -> str:
    """An uploaded file's name as the history keeps it: ``secure_filename``'s (ASCII, no
    folders), at most ``limit`` characters with the extension kept, ``upload.<ext>`` when
    nothing but the extension survives (a name written in another script, say)."""
    raw = raw or ""
    name = secure_filename(raw)
    ext = secure_filename(os.path.splitext(raw)[1])  # "png" for "photo.png"
    if not name or name == ext:
        name = f"upload.{ext}" if ext else "upload"
    if len(name) > limit:
        tail = f".{ext}" if ext and len(ext) < 10 and name.endswith(f".{ext}") else ""
        name = name[: limit - len(tail)] + tail
    return name


def json_body(force: bool = False) -> Any:
    """The request's JSON, None when it is not JSON; a 400 when it nests too deep to read.

    ``force``: read the body as JSON whatever its Content-Type says (curl's ``-d`` sends
    ``application/x-www-form-urlencoded``).
    """
    try:
        return request.get_json(force=force, silent=True)
    except RecursionError:
        raise ApiError("the JSON body is nested too deeply to read") from None
