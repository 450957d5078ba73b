"""The judge's stand-ins for the student's functions, which replay the kernel's answers.

A :class:`Replay` answers a check's call with what the student's function returned (or
raised, or changed in place) when the kernel called it with the same arguments, recognised
by their :func:`fingerprint`; a call the kernel has not made yet stops the check
(:class:`NeedCall`), and the judge has the kernel make it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

import numpy as np

from course_lib.tools.grading.in_place import InPlace
from course_lib.tools.grading.judge_decode import SentFile, Unsupported, _exception, decode


class NeedCall(BaseException):  # noqa: N818 - not an error: a request to the grader
    """The check called a student's function with arguments the kernel has not been given yet.

    A BaseException, so that the checks' ``except Exception`` (student bugs become feedback)
    lets it through. ``exercise``: the exercise whose check made the call, which decides the
    copies the kernel watches the call for (:func:`judge._watch`).
    """

    def __init__(self, name: str, args: tuple[Any, ...], driver: str = ""):
        from course_lib.checks import _copies

        super().__init__(name)
        self.name, self.args_given, self.driver = name, args, driver
        self.exercise = _copies.CHECKING[-1] if _copies.CHECKING else ""


class UnreadableOutcome(BaseException):  # noqa: N818 - ends the round, as NeedCall does
    """What the kernel wrote for one of its calls cannot be read (a file missing or swapped
    for a link, malformed JSON). A BaseException: a check's ``except Exception`` would take it
    for the student's function raising, and go on to other calls.
    """


class ForgedOutcome(UnreadableOutcome):  # noqa: N818 - as UnreadableOutcome
    """The outcome file of a call is not the one the kernel's grader code wrote: its bytes do
    not match the digest the kernel replied with (the notebook changed or replaced it)."""


def _fingerprint(value: Any, digest: Any) -> None:
    """Feed ``value`` into ``digest``: equal data, equal digests, whatever the container type."""
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        array = np.ascontiguousarray(value)
        digest.update(f"a{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    elif value is None or isinstance(value, (bool, int, float, str)):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, bytes):
        digest.update(b"bytes:" + hashlib.sha256(value).digest())
    elif isinstance(value, (tuple, list)):
        digest.update(f"{type(value).__name__}[{len(value)}".encode())
        for item in value:
            _fingerprint(item, digest)
        digest.update(b"]")
    elif isinstance(value, dict):
        digest.update(f"dict[{len(value)}".encode())
        for key, item in value.items():
            _fingerprint(key, digest)
            _fingerprint(item, digest)
        digest.update(b"]")
    elif isinstance(value, type) and value.__module__ == "numpy":
        digest.update(f"dtype:{np.dtype(value).str};".encode())
    elif _is_model(value):
        import keras

        digest.update(
            b"model:"
            + json.dumps(
                keras.saving.serialize_keras_object(value), sort_keys=True, default=str
            ).encode()
        )
        for weight in value.weights:
            _fingerprint(np.asarray(weight.numpy()), digest)
    elif _is_image(value) or isinstance(value, SentFile):
        data = getattr(value, "course_file", None)
        if type(data) is bytes:  # opened from a file: the file is what the kernel gets
            digest.update(b"image file:" + hashlib.sha256(data).digest())
        else:
            digest.update(f"image:{value.mode}{value.size}".encode())
            digest.update(hashlib.sha256(value.tobytes()).digest())
    elif type(value).__module__.startswith("tensorflow") and hasattr(value, "numpy"):
        try:
            _fingerprint(np.asarray(value.numpy()), digest)
        except Exception:
            raise Unsupported(f"a {type(value).__name__} argument") from None
    else:
        raise Unsupported(f"a {type(value).__name__} argument")


def _is_model(value: Any) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.Model)


def _is_image(value: Any) -> bool:
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(value, pil.Image)


def fingerprint(name: str, args: tuple[Any, ...], driver: str = "") -> str:
    digest = hashlib.sha256(f"{name}/{driver}(".encode() if driver else name.encode() + b"(")
    _fingerprint(list(args), digest)
    return digest.hexdigest()


class Replay:
    """Stands for one of the student's functions: answers the calls the kernel has made."""

    def __init__(
        self,
        name: str,
        outcomes: dict[str, tuple[dict[str, Any], str | int]],
        changes: InPlace | None = None,
    ):
        self.__name__ = name
        self.name, self.outcomes = name, outcomes
        # Where the changes it gives the check's objects are noted, to be undone (in_place)
        self.changes = changes if changes is not None else InPlace()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            raise Unsupported("a call with keyword arguments")
        return self._outcome(args, "")

    def course_drive(self, driver: str, *args: Any) -> Any:
        """What the driver ``driver`` (:mod:`course_lib.checks._drivers`) returned in the kernel."""
        from course_lib.checks import _drivers

        if driver not in _drivers.DRIVERS:
            raise ValueError(f"no driver {driver!r}")
        return self._outcome(args, driver)

    def _outcome(self, args: tuple[Any, ...], driver: str) -> Any:
        key = fingerprint(self.name, args, driver)
        if key not in self.outcomes:
            raise NeedCall(self.name, args, driver)
        outcome, folder = self.outcomes[key]
        try:
            for position, tree in outcome.get("changed", {}).items():
                target = args[int(position)]
                if _is_model(target) and tree.get("t") == "model":
                    self.changes.model(target, decode(tree, folder))
                elif type(target) is list and tree.get("t") == "list":
                    self.changes.items(target, decode(tree, folder))
                elif isinstance(target, np.ndarray) and target.flags.writeable:
                    changed = decode(tree, folder)
                    if changed.shape == target.shape:
                        self.changes.array(target, changed)
            if "raised" in outcome:
                raised = _exception(outcome["raised"])
            else:
                return decode(outcome["returned"], folder)
        except Exception as exc:
            raise UnreadableOutcome(f"{type(exc).__name__}: {str(exc)[:200]}") from None
        raise raised  # the student's function raised it: the check is meant to see it
