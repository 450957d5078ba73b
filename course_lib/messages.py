"""One-line texts for messages: an exception as checks, the service and tools quote it."""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # colour codes, as in a kernel's traceback


def first_line(
    error: BaseException | str, limit: int | None = 200, *, with_type: bool = False
) -> str:
    """The first non-blank line of an exception's message (or of a text), colour codes removed.

    An exception without a message gives its type's name. A line longer than ``limit``
    characters is cut, its last character "…". ``with_type``: ``"ValueError: bad input"``,
    for the middle of a sentence (no full stop at the end).
    """
    text = _ANSI.sub("", str(error))
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    if limit is not None and len(line) > limit:
        line = line[: limit - 1] + "…"
    if not isinstance(error, BaseException):
        return line
    name = type(error).__name__
    if with_type:
        return f"{name}: {line.rstrip(' .')}" if line else name
    return line or name
