"""One-line texts for messages: an exception as checks, the service and tools quote it."""

from __future__ import annotations

import re
import unicodedata

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # colour codes, as in a kernel's traceback
# Terminal colour codes (ESC [ 1 m ... ESC [ 0 m, which Keras puts in some error messages),
# then every character a message never shows: the C0 controls but tab and newline (ESC, NUL,
# BEL, CR ...), DEL and C1, and the format characters (Unicode category Cf: bidi overrides,
# embeddings, isolates and marks, zero-width spaces and joiners, the soft hyphen, U+FEFF ...),
# which would make a message read otherwise than it is written in a table or a viewer.
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# The line and paragraph separators (U+2028, U+2029) end a line as a newline does.
_LINE_BREAKS = re.compile("[\u2028\u2029]")
# Letters and marks that show as nothing or as a blank, and belong in no one's name, though
# Python calls them printable: the combining grapheme joiner, the Hangul fillers, two Khmer
# vowels that Unicode deprecates, the blank Braille pattern. Written out in names too.
_BLANK = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")


def plain_text(text: str) -> str:
    """``text`` without terminal codes, control characters (tab and newline stay) or format
    characters (bidi controls and marks, zero-width characters): every message a student or an
    instructor reads passes here. Line and paragraph separators become newlines."""
    text = _HIDDEN.sub("", _TERMINAL_CODES.sub("", str(text)))
    if text.isascii():
        return text
    text = _LINE_BREAKS.sub("\n", text)
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def escaped_hidden(text: str) -> str:
    """``text`` with every character that does not show as itself written out (``\\u202e``).

    For names, which must stay unique and recognisable: a folder name with a control, format
    or separator character in it is shown with that character spelled out, never obeyed nor
    silently dropped. Written out: the characters of Unicode categories Cc, Cf, Cs, Co, Cn,
    Zl, Zp and Zs but the plain space (newline, tab, U+202E, U+200B, U+00A0 ...), a few
    letters that show as blank, a space at either end, and the backslash itself (``\\\\``),
    so that two different names are never written alike. A byte of a file name that is not
    UTF-8 (which Python keeps as a lone surrogate, U+DC80 to U+DCFF) is written ``\\x85``,
    the control character U+0085 ``\\u0085``.
    Accents, other scripts and emoji stay as they are.
    """
    shown = "".join(_escape(c) if _hidden(c) else c for c in str(text))
    if shown.startswith(" "):
        shown = "\\x20" + shown[1:]
    if shown.endswith(" "):
        shown = shown[:-1] + "\\x20"
    return shown


def _hidden(character: str) -> bool:
    # Not printable: exactly the categories C* and Z* but the plain space.
    return character == "\\" or character in _BLANK or not character.isprintable()


def _escape(character: str) -> str:
    """One character written out, one way per character (the inverse is unambiguous)."""
    code = ord(character)
    if character in "\\\t\n\r":
        return character.encode("unicode_escape").decode("ascii")  # \\ \t \n \r
    if code < 0x80:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, as os.fsdecode keeps it
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


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
