"""Every exercise check, of every lesson, answers "Not yet" to junk and says what came back.

The checks are found in ``course_lib.checks`` (so a new lesson's checks are covered without
editing this file). Each gets, in place of the student's answer, values of every kind a
student's cell can leave behind: None, containers, a generator, strings, tensors of several
dtypes, arrays of the wrong shape, an object that raises on every use, and functions that
return such values or raise. The other arguments of a check are notebook variables too, so
they get junk as well; where a lesson's real context is cheap to build, the junk answer is also
tried with it, so that the check reaches the code that looks at the answer.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

from course_lib import checks
from course_lib.checks._core import CHECK_FAILED
from course_lib.record import CheckResult

# Check 8.4 reads the course's Fashion-MNIST once for this file (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("check_8_4_reads_fashion_once")


class Hostile:
    """An object every operation on which raises: len, iteration, comparison, conversion,
    attributes."""

    def _boom(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("hostile object")

    __len__ = __iter__ = __getitem__ = __eq__ = __ne__ = __lt__ = __gt__ = __bool__ = _boom
    __float__ = __int__ = __index__ = __array__ = __add__ = __mul__ = __truediv__ = _boom
    __hash__ = None  # type: ignore[assignment]

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"hostile object has no {name}")

    def __repr__(self) -> str:
        return "Hostile()"


def _generator() -> Iterator[int]:
    yield from range(3)


def _junk_values() -> dict[str, Any]:
    return {
        "None": None,
        "dict": {"a": 1},
        "empty list": [],
        "list of str": ["a", "b"],
        "nested list": [[1, 2], [3]],
        "generator": _generator(),
        "str": "hello",
        "bytes": b"\x00\x01",
        "int": 7,
        "float nan": float("nan"),
        "int too large for 64 bits": 10**400,
        "list holding an int too large for 64 bits": [1, 10**400],
        "bool": True,
        "tuple": (1, "x", None),
        "empty array": np.zeros((0,), dtype=np.float32),
        "object array": np.array([None, "x"], dtype=object),
        "bool array": np.ones((3, 3), dtype=bool),
        "complex array": np.ones((2, 2), dtype=np.complex64),
        "uint8 5-d array": np.zeros((1, 2, 3, 4, 5), dtype=np.uint8),
        "string tensor": tf.constant(["a", "b"]),
        "int64 tensor": tf.constant([[1, 2], [3, 4]], dtype=tf.int64),
        "bool tensor": tf.constant([True, False]),
        "float16 tensor": tf.zeros((2, 3), dtype=tf.float16),
        "ragged tensor": tf.ragged.constant([[1], [2, 3]]),
        "hostile": Hostile(),
        "type": int,
    }


def _returning(value: Any) -> Callable[..., Any]:
    def answer(*args: Any, **kwargs: Any) -> Any:
        return value

    return answer


def _raising(exc: BaseException) -> Callable[..., Any]:
    def answer(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return answer


def _junk_answers() -> dict[str, Any]:
    answers: dict[str, Any] = dict(_junk_values())
    for name, value in _junk_values().items():
        answers[f"function returning {name}"] = _returning(value)
    answers["function raising ValueError"] = _raising(ValueError("student bug"))
    answers["function raising ZeroDivisionError"] = _raising(ZeroDivisionError("division by zero"))
    answers["function raising StopIteration"] = _raising(StopIteration())
    answers["function raising RecursionError"] = _raising(RecursionError("too deep"))
    answers["function raising NotImplementedError"] = _raising(NotImplementedError("write me"))
    answers["function raising a tf error"] = _raising(
        tf.errors.InvalidArgumentError(None, None, "bad")
    )
    answers["function with no parameters"] = lambda: np.zeros(3)
    return answers


# Real context of the checks whose other arguments are cheap to build, by check name.
def _contexts() -> dict[str, tuple[Any, ...]]:
    gray_28 = {
        "height": 28,
        "width": 28,
        "color_mode": "grayscale",
        "scale": 1 / 255,
        "offset": 0.0,
        "resize": "bilinear",
    }
    images = np.random.default_rng(0).random((7, 28, 28, 1)).astype(np.float32)
    return {
        "exercise_7_1": (gray_28,),
        "exercise_8_3": (lambda batch: np.zeros((len(batch), 10), np.float32), images),
        "exercise_8_4": (images, images[:3]),
    }


def _checks() -> list[tuple[str, Callable[..., CheckResult]]]:
    return [(name, getattr(checks, name)) for name in sorted(checks.__all__)]


def _required(check: Callable[..., CheckResult]) -> int:
    return sum(
        1
        for p in inspect.signature(check).parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    )


def _run(check: Callable[..., CheckResult], args: tuple[Any, ...]) -> CheckResult:
    try:
        result = check(*args)
    except BaseException as exc:  # noqa: BLE001 - the point is that nothing escapes
        pytest.fail(f"raised {type(exc).__name__}: {exc}")
    assert isinstance(result, CheckResult), f"returned {type(result).__name__}"
    # The guard around every check turns a crash into "Not yet"; a check must not need it.
    if CHECK_FAILED in result.message:
        pytest.fail(f"crashed inside the check: {result.message}")
    return result


def _takes_a_function(check: Callable[..., CheckResult]) -> bool:
    first = next(iter(inspect.signature(check).parameters.values()))
    return "Callable" in str(first.annotation)


def test_checks_are_discovered():
    names = [name for name, _ in _checks()]
    assert len(names) >= 30
    assert "exercise_1_1" in names and "exercise_8_5" in names


@pytest.mark.parametrize(("name", "check"), _checks(), ids=[name for name, _ in _checks()])
def test_check_says_not_yet_to_junk_answers_and_never_raises(name, check):
    failures = []
    contexts = _contexts()
    for label, answer in _junk_answers().items():
        junk_context = [tuple([answer] * _required(check))]
        if name in contexts:
            junk_context.append((answer, *contexts[name]))
        for args in junk_context:
            try:
                result = _run(check, args)
            except pytest.fail.Exception as exc:
                failures.append(f"{label}: {exc}")
                continue
            if result.passed:
                failures.append(f"{label}: passed with {result.message!r}")
            elif not result.message.strip():
                failures.append(f"{label}: no message")
    assert not failures, f"{name}:\n" + "\n".join(failures)


# What the answer was -> words of which the message must hold one.
_NAMED_RETURNS = {
    "function returning None": ["none", "return"],
    "function returning dict": ["dict", "{'a': 1}"],
    "function returning generator": ["generator", "iterator"],
    "function raising ValueError": ["valueerror"],
    "function raising ZeroDivisionError": ["zerodivisionerror"],
    "function raising NotImplementedError": ["not attempted"],
}
_NAMED_VALUES = {
    "None": ["none"],
    "dict": ["dict"],
    "generator": ["generator", "iterator"],
    "str": ["str"],
    "function returning None": ["function"],
}


# Checks for which one of those is a legitimate kind of answer, judged on its merits instead:
# compile_model and unfreeze_top work in place (returns None), check_upload returns None for a
# good upload, make_tf_config returns a dict, representative_dataset is a generator function.
_LEGITIMATE = {
    "exercise_4_1": {
        "function returning None",
        "function returning dict",
        "function returning generator",
    },
    "exercise_6_5": {
        "function returning None",
        "function returning dict",
        "function returning generator",
    },
    "exercise_7_3": {"function returning None"},
    "exercise_8_2": {"function returning dict"},
    "exercise_8_4": {"function returning dict", "function returning generator"},
}


@pytest.mark.parametrize(("name", "check"), _checks(), ids=[name for name, _ in _checks()])
def test_check_names_what_a_junk_answer_returned(name, check):
    contexts = _contexts()
    if name not in contexts and _required(check) > 1:
        pytest.skip("its other arguments are costly to build; the junk test above covers it")
    answers = _junk_answers()
    vague = []
    named = _NAMED_RETURNS if _takes_a_function(check) else _NAMED_VALUES
    for label, needles in named.items():
        if label in _LEGITIMATE.get(name, set()):
            continue
        result = _run(check, (answers[label], *contexts.get(name, ())))
        if result.passed or not any(n in result.message.lower() for n in needles):
            vague.append(f"{label}: {result.message!r}")
    assert not vague, f"{name}:\n" + "\n".join(vague)
