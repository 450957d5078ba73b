"""A lesson cell that goes on from a student's answer, whatever that answer does.

Below an exercise, a lesson may call the student's function again (to compare it with the
library's copy, or to let it make a decision). A missing answer raises the exercise's
``NotImplementedError``; a wrong one may raise anything, or return a value of another type or
shape that would break the cell's own code. :func:`use` calls the function, and when there is
no answer to use it says so in one line and hands back a fallback, so the cell, and the lesson
after it, run on::

    threshold = answers.use(
        "5.3", threshold_for_precision, y_true, scores, 0.9,
        returns=(float, None),
        missing="write threshold_for_precision in exercise 5.3 to choose the threshold",
    )

The exercise's check says what to fix; this only keeps the lesson running. A graded kernel
has no checks (:mod:`course_lib.tools.grading.checks_stand_in`), so this module is not part of
them and uses none of their code.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from course_lib.messages import first_line, plain_text


def use(
    exercise: str,
    func: Callable[..., Any],
    *args: Any,
    missing: str,
    returns: type | None | tuple[type | None, ...] = None,
    shape: tuple[int, ...] | None = None,
    fallback: Any = None,
    name: str | None = None,
) -> Any:
    """``func(*args)``, the student's answer to ``exercise`` ("5.3"), or ``fallback``.

    ``fallback`` comes back, with one printed line, when ``func``:

    - raises the exercise's ``NotImplementedError`` (not written yet): the line is ``missing``;
    - raises anything else: "your <name> raised TypeError: ...; the check of exercise 5.3
      says what to fix.";
    - returns a value that is not one of ``returns`` (types; ``None`` stands for None itself; a
      NumPy scalar counts as its Python type, ``int`` as a ``float``, a bool as neither; a number
      in a 0-d array or tensor as a ``float``, and comes back as one) or,
      with ``shape``, not an array of numbers of that shape, all finite: "your <name>
      returned 'abc', not a number; ...".

    An answer of ``returns`` comes back as it was returned, one of ``shape`` as a NumPy array.
    NumPy arrays among ``args`` are passed as copies: the lesson's own arrays stay as they are,
    whatever the function does to what it gets. ``name`` is the function's name in the line
    (its ``__name__`` by default).
    """
    name = name or getattr(func, "__name__", None) or "answer"
    given = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    try:
        value = func(*given)
    except NotImplementedError as exc:
        if "symbolic" in str(exc) and "numpy" in str(exc).lower():  # TensorFlow's, not the stub
            return _said(fallback, f"your {name} raised {_error(exc)}", exercise)
        print(missing)
        return fallback
    except Exception as exc:  # any mistake in the answer is the check's to explain
        return _said(fallback, f"your {name} raised {_error(exc)}", exercise)
    problem = _problem(value, returns, shape)
    if problem:
        return _said(fallback, f"your {name} returned {_shown(value)}, not {problem}", exercise)
    if shape is not None:
        return _as_array(value)
    if _number_in_array(value):  # a number held in a 0-d array or tensor, as a float
        return float(_as_array(value))  # type: ignore[arg-type]
    return value


def _said(fallback: Any, what: str, exercise: str) -> Any:
    print(plain_text(f"{what}; the check of exercise {exercise} says what to fix."))
    return fallback


def _error(exc: BaseException) -> str:
    """``ValueError: bad input``: the first line of the message, at most 150 characters."""
    return first_line(exc, 150, with_type=True)


def _problem(value: Any, returns: Any, shape: tuple[int, ...] | None) -> str | None:
    """What a right answer would have been, in words, or None if ``value`` is one."""
    if shape is not None:
        array = _as_array(value)
        wanted = f"an array of numbers of shape {tuple(shape)}"
        if array is None or array.shape != tuple(shape):
            return wanted
        if not np.isfinite(array).all():
            return f"{wanted} without NaN or infinite values"
        return None
    if returns is None:
        return None
    kinds = returns if isinstance(returns, tuple) else (returns,)
    if any(_is(value, kind) for kind in kinds):
        return None
    return " or ".join(_kind_words(kind) for kind in kinds)


def _is(value: Any, kind: Any) -> bool:
    if kind is None:
        return value is None
    if kind is bool:
        return isinstance(value, bool | np.bool_)
    if isinstance(value, bool | np.bool_):
        return False  # True is no number of anything, here
    if kind is float:
        return isinstance(value, numbers.Real) or _number_in_array(value)
    if kind is int:
        return isinstance(value, numbers.Integral)
    return isinstance(value, kind)


def _number_in_array(value: Any) -> bool:
    """Is ``value`` one number (not a bool) in a 0-d NumPy array or TensorFlow tensor?"""
    if isinstance(value, numbers.Number) or not hasattr(value, "shape"):
        return False
    array = _as_array(value)
    return array is not None and array.shape == () and array.dtype.kind in "iuf"


def _kind_words(kind: Any) -> str:
    words = {None: "None", bool: "a bool (True or False)", float: "a number", int: "a whole number"}
    return words.get(kind) or f"a {getattr(kind, '__name__', kind)}"


def _as_array(value: Any) -> np.ndarray | None:
    """``value`` as an array of numbers (from NumPy, TensorFlow or nested lists), or None."""
    if value is None or isinstance(value, str | bytes | dict | set):
        return None
    try:
        if not isinstance(value, np.ndarray) and callable(getattr(value, "numpy", None)):
            value = value.numpy()  # a TensorFlow tensor
        array = np.asarray(value)
    except Exception:  # ragged lists, objects that refuse
        return None
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        return None
    return array


def _shown(value: Any) -> str:
    """What came back, as a student recognises it: ``'abc'``, ``None``, ``0.3``, or for an
    array or a tensor its type, dtype and shape."""
    try:
        if isinstance(value, np.ndarray) or (
            hasattr(value, "shape") and hasattr(value, "dtype") and not np.isscalar(value)
        ):
            dtype = getattr(value.dtype, "name", value.dtype)
            kind = "an array" if isinstance(value, np.ndarray) else f"a {type(value).__name__}"
            return f"{kind} of dtype {dtype} and shape {tuple(value.shape)}"
        if isinstance(value, np.generic):
            value = value.item()
        text = repr(value)
    except Exception:  # an object that raises even on repr
        return f"a {type(value).__name__}"
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:59] + "…"
