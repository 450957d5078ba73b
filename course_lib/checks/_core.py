"""Building blocks shared by the exercise checks."""

from __future__ import annotations

import contextlib
import decimal
import functools
import inspect
import numbers
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from course_lib.checks import _copies
from course_lib.messages import plain_text
from course_lib.record import CheckResult

_SALTS: list[int] = []


@contextlib.contextmanager
def fresh_inputs(salt: int) -> Iterator[None]:
    """Within this block, :func:`check_rng` draws test data that depend on ``salt`` too.

    The grader uses it with a salt drawn for each grading run, so that answers computed in
    advance for the test data in this (public) file do not match.
    """
    _SALTS.append(int(salt))
    try:
        yield
    finally:
        _SALTS.pop()


def salted() -> bool:
    """True while a grading run draws fresh test data (inside :func:`fresh_inputs`)."""
    return bool(_SALTS)


def check_rng(seed: int) -> np.random.Generator:
    """The random generator a check draws its test data from: ``seed``'s, salted when grading."""
    return np.random.default_rng([seed, _SALTS[-1]] if _SALTS else seed)


def opened_image(data: bytes) -> Any:
    """A Pillow image opened from the file ``data``, as ``Image.open`` gives it to a function.

    It keeps the file as ``course_file``: the grader sends the student's kernel that file, to
    open the same way, since an opened image's EXIF tag and palette transparency are in it.
    """
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(data))
    image.course_file = data  # type: ignore[attr-defined]
    return image


def drive(driver: str, func: Any, *args: Any) -> Any:
    """``func`` run by the driver of that name (:mod:`course_lib.checks._drivers`) on ``args``.

    In a notebook the driver runs here. In two-phase grading ``func`` stands for the student's
    function in the judge, and the student's kernel runs the driver: the check gets the data
    it returned, or the exception the student's code raised.
    """
    # By the type first: a student's object may raise on any attribute looked up on it.
    if type(func).__module__.startswith("course_lib.tools.grading") and hasattr(
        type(func), "course_drive"
    ):
        return func.course_drive(driver, *args)
    from course_lib.checks import _drivers

    return _drivers.DRIVERS[driver](func, *args)


class StudentCodeFailed(Exception):
    """Raised inside a check when calling the student's code failed; becomes a 'Not yet'.

    ``raised``: the student's own exception, when there is one, whose whole text a check may
    read (the message quotes one line of it).
    """

    raised: BaseException | None = None


def correct(exercise: str, message: str = "well done.") -> CheckResult:
    return CheckResult(exercise, True, shown(message))


def not_yet(exercise: str, message: str) -> CheckResult:
    return CheckResult(exercise, False, shown(message))


def shown(message: str) -> str:
    """``message`` without terminal colour codes or control characters (:func:`plain_text`):
    every check's text passes here, and a quoted error of Keras's would otherwise show as
    ``ESC[1m`` garbage in the notebook's HTML."""
    return plain_text(message)


NOT_ATTEMPTED = (
    "not attempted yet: replace the `raise NotImplementedError(...)` line with your code."
)


NUMPY_IN_GRAPH = (
    "NumPy cannot run on the symbolic tensors TensorFlow passes to a function it traces into "
    "a graph (inside Dataset.map or tf.function): they have no values yet. Use TensorFlow "
    "operations there, such as tf.cast and tf.expand_dims."
)


def numpy_on_symbolic(exc: BaseException) -> bool:
    """Is ``exc`` TensorFlow refusing to hand a graph tensor to NumPy (a NotImplementedError)?"""
    return "symbolic" in str(exc) and "numpy" in str(exc).lower()


def _judge_stand_in(func: Any) -> bool:
    """Is ``func`` the judge's stand-in for the student's function (in two-phase grading)?

    It answers with what the student's function did in the kernel, which ran it under the
    watch on the course's copies and reports what the watch saw: the judge's own code that
    reads the answer back (rebuilding a model, say) needs no watch of its own, which would
    only slow it down several times over.
    """
    replay = sys.modules.get("course_lib.tools.grading.judge_replay")
    return replay is not None and type(func) is replay.Replay


def _watched(func: Any, args: tuple[Any, ...]) -> tuple[Any, BaseException | None, str]:
    """``func(*args)`` under the watch: ``(result, what it raised, the copy used or "")``."""
    if _judge_stand_in(func):
        try:
            return func(*args), None, ""
        except BaseException as exc:  # as the watch gives it: the check decides
            return None, exc, ""
    result, raised, used, _ = _copies.watched_call(func, args)
    return result, raised, used


def call_student(func: Any, *args: Any) -> Any:
    """Call the student's function, turning its exceptions into a readable reason."""
    if not callable(func):
        raise StudentCodeFailed(f"expected a function, got {type(func).__name__}.")
    try:
        result, raised, used = _watched(func, args)
        if raised is not None:
            raise raised
        if used:
            exercise = _copies.CHECKING[-1] if _copies.CHECKING else ""
            raise _copies.CourseCopyUsed(_copies.message(used, exercise))
        return result
    except NotImplementedError as exc:
        if numpy_on_symbolic(exc):  # TensorFlow's error, not the exercise's stub
            raise StudentCodeFailed(
                f"your code raised {student_error(exc)}. {NUMPY_IN_GRAPH}"
            ) from None
        raise StudentCodeFailed(NOT_ATTEMPTED) from None
    except Exception as exc:  # any bug in student code is feedback, not a crash
        if type(exc).__name__ == _copies.COPY_USED:  # here, or in a graded kernel
            raise StudentCodeFailed(str(exc)) from None
        failed = StudentCodeFailed(f"your code raised {student_error(exc)}")
        failed.raised = exc
        raise failed from None


def call_watched(func: Any, *args: Any) -> Any:
    """``func(*args)`` under the watch on the course's copies, raising what it raised as it is.

    For a check that reads the student's exception itself (tf.data's, say) where
    :func:`call_student` would turn it into a reason. A call of the library's copy of an
    exercise, or of a check's code, is a :class:`StudentCodeFailed` that names it.
    """
    result, raised, used = _watched(func, args)
    if raised is not None and not isinstance(raised, Exception):
        raise raised  # an interrupt, or the judge asking the kernel for a call
    if used:
        exercise = _copies.CHECKING[-1] if _copies.CHECKING else ""
        raise StudentCodeFailed(_copies.message(used, exercise))
    if raised is not None:
        if type(raised).__name__ == _copies.COPY_USED:  # found in a graded kernel
            raise StudentCodeFailed(str(raised)) from None
        raise raised
    return result


def call_pure(func: Any, *args: Any, names: tuple[str, ...] = ()) -> Any:
    """Call the student's function on copies of ``args`` and make sure it left them unchanged.

    The arrays a caller passes (its photo, ``x_train``, a confusion matrix) are still needed
    after the call: a function that writes into them (``x -= mean``, ``np.fill_diagonal(cm, 0)``)
    corrupts the caller's data. ``names`` are the parameters' names, for the message.
    """
    given = [
        a.copy() if isinstance(a, np.ndarray) else list(a) if type(a) is list else a for a in args
    ]
    result = call_student(func, *given)
    for position, (before, after) in enumerate(zip(args, given, strict=True)):
        name = names[position] if position < len(names) else f"argument {position + 1}"
        if type(before) is list and not _same_list(before, after):
            raise StudentCodeFailed(
                f"your function changed the list `{name}` it was given: "
                f"{_list_change(before, after, name)}. The caller still needs it (a list is passed "
                "by reference, not copied): read it without changing it, or work on a copy, "
                f"list({name})."
            )
        if isinstance(before, np.ndarray) and not np.array_equal(
            before, after, equal_nan=before.dtype.kind == "f"
        ):
            changed = int(np.sum(before != after))
            raise StudentCodeFailed(
                f"your function changed its input `{name}` in place ({changed} of "
                f"{before.size} values): "
                "the caller still needs it. Work on a copy (`.copy()`, or operations that "
                "return a new "
                "array such as `x - mean` instead of `x -= mean`)."
            )
    return result


def _same_list(before: list[Any], after: list[Any]) -> bool:
    try:
        return len(before) == len(after) and all(
            a is b or bool(a == b) for a, b in zip(before, after, strict=True)
        )
    except Exception:  # items whose == is not a truth value
        return False


def _list_change(before: list[Any], after: list[Any], name: str) -> str:
    """How ``after`` differs from ``before``, in the words of the list method that did it."""
    if len(after) < len(before):
        return (
            f"it held {_items(len(before))}, {len(after)} after the call (pop, remove and del "
            "take items out of the list itself)"
        )
    if len(after) > len(before):
        return f"it held {_items(len(before))}, {len(after)} after the call (append or insert)"
    try:
        reordered = sorted(before) == sorted(after)
    except Exception:  # items that cannot be ordered
        reordered = False
    if reordered:
        return "its items are in another order after the call (sort or reverse)"
    return f"some of its items were replaced (an assignment such as {name}[i] = ...)"


def _items(count: int) -> str:
    return "1 item" if count == 1 else f"{count} items"


CHECK_FAILED = "the check itself failed on what your code gave it"


def run_check(exercise: str, diagnose: Callable[[], str | None], success: str) -> CheckResult:
    """Run ``diagnose`` (returns a problem description, or None when right).

    Whatever ``diagnose`` raises is a "Not yet": an answer the check did not foresee must
    never crash the student's notebook, nor pass. While it runs, the watch on the student's
    calls knows the exercise, and lets through a copy the exercise may use (_copies.ALLOWED).
    """
    _copies.CHECKING.append(exercise)
    try:
        problem = diagnose()
    except StudentCodeFailed as exc:
        return not_yet(exercise, str(exc))
    except Exception as exc:  # a return value no rule of the check foresaw
        return not_yet(
            exercise, f"{CHECK_FAILED} ({student_error(exc)}); look at what your code returns."
        )
    finally:
        _copies.CHECKING.pop()
    if problem is not None and not isinstance(problem, str):
        return not_yet(exercise, f"{CHECK_FAILED}.")
    return not_yet(exercise, problem) if problem else correct(exercise, success)


def guarded(exercise: str, check: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
    """``check`` that answers "Not yet" instead of raising, whatever the notebook passes it.

    A check's other arguments (the notebook's ``model``, ``prep``, a server's URL) come from
    the student's variables as well, and may be anything.
    """

    @functools.wraps(check)
    def safe(*args: Any, **kwargs: Any) -> CheckResult:
        try:
            result = check(*args, **kwargs)
        except Exception as exc:
            return not_yet(
                exercise,
                f"{CHECK_FAILED} ({student_error(exc)}); look at the values "
                "passed to the check and at what your code returns.",
            )
        if not isinstance(result, CheckResult):
            return not_yet(exercise, f"{CHECK_FAILED}.")
        return result

    safe.__wrapped__ = check  # type: ignore[attr-defined]
    return safe


def _a(word: object) -> str:
    """``word`` with its article: "a float32", "an int64", "an object", "a uint8"."""
    text = str(word)
    return f"{'an' if text[:1].lower() in 'aeio' else 'a'} {text}"


def _short_repr(value: object, limit: int = 30) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(value: Any) -> str:
    """What a value is, in the words a student recognises: "None", "a dict", "a float32 array of
    shape (2, 3)"."""
    try:
        if value is None:
            return "None"
        if isinstance(value, np.ndarray):
            return f"{_a(value.dtype)} array of shape {value.shape}"
        if isinstance(value, np.generic):
            return f"a NumPy {value.dtype} scalar ({value!r})"
        module = type(value).__module__ or ""
        if (
            module.startswith(("tensorflow", "keras"))
            and hasattr(value, "dtype")
            and hasattr(value, "shape")
        ):
            dtype = getattr(value.dtype, "name", value.dtype)
            return f"{_a(type(value).__name__)} of dtype {dtype} and shape {tuple(value.shape)}"
        if isinstance(value, (bool, int, float, complex)):
            return f"{_a(type(value).__name__)} ({_short_repr(value)})"
        if isinstance(value, (str, bytes)):
            shown = (
                value
                if len(value) <= 30
                else value[:29] + (b"..." if isinstance(value, bytes) else "...")
            )
            return f"a {type(value).__name__} ({shown!r})"
        if isinstance(value, (list, tuple, set, frozenset, dict)):
            return f"a {type(value).__name__} of length {len(value)}"
        if inspect.isgenerator(value) or isinstance(value, Iterator):
            return (
                f"a {type(value).__name__} (an iterator: its values are produced once, on demand)"
            )
        if inspect.isroutine(value):
            return f"a function ({getattr(value, '__name__', '?')})"
        if inspect.isclass(value):
            return f"the class {value.__name__}"
        return _a(type(value).__name__)
    except Exception:  # an object that raises even on these questions
        return "an object the check cannot inspect"


def student_error(exc: BaseException) -> str:
    """``ValueError: bad input``, kept to one line of reasonable length, without colour codes."""
    text = " ".join(shown(str(exc)).split())
    # Cut at a space, so that no word is left cut in half
    text = text if len(text) <= 200 else text[:199].rsplit(" ", 1)[0] + " …"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def as_array(
    value: Any, what: str = "your result", wanted: str = "an array of numbers"
) -> np.ndarray:
    """The student's value as a numeric array, or a StudentCodeFailed naming what it was.

    Accepts NumPy arrays, TensorFlow/Keras tensors, Python numbers and (nested) lists or tuples
    of numbers. Anything else (None, a dict, a generator, strings, ragged lists, objects) is
    answered with what it was, never converted into a meaningless 0-d object array, and with
    ``wanted``, what the task asks for in its words: "a number (a float)", "a pair of whole
    numbers".
    """
    if value is None:
        raise StudentCodeFailed(f"{what} is None: did you forget to `return` it?")
    if (
        isinstance(value, (dict, set, frozenset, str, bytes))
        or inspect.isroutine(value)
        or inspect.isclass(value)
        or (isinstance(value, Iterator) and not isinstance(value, np.ndarray))
    ):
        raise StudentCodeFailed(f"{what} is {describe(value)}, not {wanted}.")
    try:
        if not isinstance(value, np.ndarray) and hasattr(value, "numpy") and callable(value.numpy):
            value = value.numpy()  # a TensorFlow tensor, or a Keras variable
        array = np.asarray(value)
    except Exception:
        raise StudentCodeFailed(f"{what} is {describe(value)}, not {wanted}.") from None
    if (
        array.dtype == object
        and array.size
        and all(isinstance(x, numbers.Real | decimal.Decimal) for x in array.flat)
    ):
        try:
            array = array.astype(np.float64)  # exact numbers: a Fraction, a Decimal
        except (OverflowError, ValueError, TypeError):
            where = "" if array.ndim == 0 else "holding a number "
            raise StudentCodeFailed(
                f"{what} is {describe(value)}, {where}too large for a 64-bit number."
            ) from None
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise StudentCodeFailed(
            f"{what} is {describe(value)}, holding {_held_values(array.dtype)}, not {wanted}."
        )
    return array


def _held_values(dtype: np.dtype) -> str:
    """What an array of no numbers holds, in words: "strings", not NumPy's ``<U11``."""
    words = {
        "U": "strings",
        "S": "bytes",
        "O": "Python objects",
        "M": "dates (datetime64)",
        "m": "time spans (timedelta64)",
    }
    return words.get(dtype.kind, f"{dtype} values")


def first_difference(
    got: np.ndarray,
    expected: np.ndarray,
    what: str = "your result",
    atol: float = 1e-5,
    rtol: float = 1e-5,
) -> str:
    """Where ``got`` first differs from ``expected``: index, expected against got, shape and dtype.

    The message for an answer that matches no known mistake, so that it still says what differs.
    """
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape:
        return (
            f"{what} has shape {got.shape} and dtype {got.dtype}; expected shape "
            f"{expected.shape} and dtype {expected.dtype}."
        )
    with np.errstate(invalid="ignore"):
        wrong = ~np.isclose(
            got.astype(np.float64), expected.astype(np.float64), atol=atol, rtol=rtol
        )
    if not wrong.any():
        return f"{what} has the right values (shape {got.shape}, dtype {got.dtype})."
    index = tuple(int(i) for i in np.argwhere(wrong)[0])
    where = f"[{', '.join(map(str, index))}]" if index else ""
    return (
        f"{what}{where} is {_number(got[index])}, expected {_number(expected[index])} "
        f"({int(wrong.sum())} of {wrong.size} values differ; shape {got.shape}, dtype {got.dtype})."
    )


def amount(difference: float) -> str:
    """A difference as a message states it: 0.4, 4.8e-05, 120; never "0" for one that is not.

    Significant digits, not decimals: a fixed number of decimals rounds a small difference
    away ("differ by up to 0" for values 0.4 apart).
    """
    return f"{float(difference):.3g}"


def returned_repr(value: Any, limit: int = 60) -> str:
    """What the student's function returned, as the student wrote it: ``(3, 1)`` for a tuple,
    not the ``array([3, 1])`` the check turned it into; NumPy scalars inside as plain numbers."""

    def plain(item: Any) -> Any:
        if isinstance(item, np.generic):
            return item.item()
        if type(item).__module__.startswith("tensorflow") and getattr(item, "shape", None) == ():
            return np.asarray(item.numpy()).item()  # a scalar tensor, by its value
        return item

    try:
        if type(value) in (tuple, list):
            text = repr(type(value)(plain(item) for item in value))
        elif isinstance(value, np.ndarray | np.generic):
            text = repr(value) if isinstance(value, np.ndarray) else repr(value.item())
        elif type(value).__module__.startswith(("tensorflow", "keras")) and hasattr(
            value, "numpy"
        ):  # a tensor: what it is, and its values when they are few
            values = np.asarray(value.numpy())
            shown = f", {values.tolist()!r}" if values.size <= 10 else ""
            return describe(value) + shown
        else:
            text = repr(value)
    except Exception:  # an object that raises even on repr
        return describe(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: Any) -> str:
    """One array element as a student writes it: 76, 0.25, -1.01459 (no ``np.uint8(...)``)."""
    item = np.asarray(value).item()
    return f"{item:.6g}" if isinstance(item, float) else repr(item)


def shape_problem(
    got: np.ndarray, expected_shape: tuple[int, ...], what: str = "your result"
) -> str | None:
    """Explain a shape mismatch in the terms students meet most often."""
    if got.shape == expected_shape:
        return None
    if (
        got.ndim == len(expected_shape)
        and got.shape == tuple(reversed(expected_shape[:2])) + expected_shape[2:]
    ):
        return f"{what} has shape {got.shape}, height and width swapped; expected {expected_shape}."
    if got.shape == expected_shape + (1,):
        return (
            f"{what} has shape {got.shape}: drop the last axis of size 1 to get {expected_shape}."
        )
    if got.shape + (1,) == expected_shape:
        return f"{what} has shape {got.shape}; add a channel axis to get {expected_shape}."
    return f"{what} has shape {got.shape}; expected {expected_shape}."
