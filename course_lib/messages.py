"""One-line texts for messages: an exception as checks, the service and tools quote it."""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # colour codes, as in a kernel's traceback
# Terminal colour codes (ESC [ 1 m ... ESC [ 0 m, which Keras puts in some error messages),
# then every character a message never shows: the C0 controls but tab and newline (ESC, NUL,
# BEL, CR ...), DEL and C1, and the bidi overrides, embeddings and isolates, which would make
# a message read otherwise than it is written in a table or a viewer.
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain_text(text: str) -> str:
    """``text`` without terminal codes, control characters (tab and newline stay) or bidi
    controls: every message a student or an instructor reads passes here."""
    return _HIDDEN.sub("", _TERMINAL_CODES.sub("", str(text)))


def escaped_hidden(text: str) -> str:
    """``text`` with what :func:`plain_text` removes written out instead (``\\u202e``).

    For names, which must stay unique and recognisable: a folder name with a bidi control
    in it is shown with that control spelled out, never obeyed nor silently dropped.
    """
    return _HIDDEN.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


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
