"""Reading a request's parameters, each refused with a 400 and a reason when it is wrong."""

from __future__ import annotations

from typing import Any

from flask import request

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


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
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
        others = sorted(set(request.files))
        hint = f" (the form has {', '.join(repr(o) for o in others)})" if others else ""
        raise ApiError(f"no image in the field 'file'{hint}: choose an image to upload")
    if len(files) > config.max_files:
        raise ApiError(f"{len(files)} files in one request; the limit is {config.max_files}", 413)
    return files
