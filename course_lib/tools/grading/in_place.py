"""What a student's function changed in place, given to the check's own objects for one request.

The kernel calls the student's function on rebuilt copies of the check's arguments and
reports what the function changed in them: a model's weights, trainable flags and compile
settings, an array's or a list's items. The judge gives those changes to the check's own
objects, so that the check sees them (that is how it notices an answer that changed its
input in place). Some of those objects outlive the request: checks keep models they build
once (``functools.lru_cache``), and module constants. The judge serves a whole grading run,
so :class:`InPlace` notes each object's state before changing it and puts every one back
when the request ends, whatever its outcome: nothing a kernel reports reaches the students
graded after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class NotRestored(Exception):
    """An object of the check's could not be put back as it was before the request."""


class InPlace:
    """The changes applied to the check's objects during one request, undone by :meth:`undo`."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def model(self, target: Any, changed: Any) -> None:
        """Give the check's model ``target`` the state of the kernel's copy ``changed``."""
        self._undo.append(_model_restorer(target))
        take_state(target, changed)

    def array(self, target: np.ndarray, changed: np.ndarray) -> None:
        saved = target.copy()
        self._undo.append(lambda: np.copyto(target, saved))
        np.copyto(target, changed, casting="unsafe")

    def items(self, target: list[Any], changed: list[Any]) -> None:
        saved = list(target)
        self._undo.append(lambda: target.__setitem__(slice(None), saved))
        target[:] = changed

    def undo(self) -> None:
        """Put back every object changed since the last undo, the latest change first.

        Tries them all, so that one failure leaves no other object changed; raises
        :class:`NotRestored` if any could not be put back.
        """
        failed = []
        while self._undo:
            try:
                self._undo.pop()()
            except Exception as exc:
                failed.append(f"{type(exc).__name__}: {exc}")
        if failed:
            raise NotRestored("; ".join(failed)[:500])


def take_state(target: Any, changed: Any) -> None:
    """Make the check's own model ``target`` what the student's code left its copy as.

    The kernel changed a rebuilt copy of the model (compiled it, froze or unfroze layers,
    trained it); the check looks at its own object, so the copy's state moves onto it.
    """
    layers, new_layers = list(target._flatten_layers()), list(changed._flatten_layers())
    if [type(a).__name__ for a in layers] != [type(b).__name__ for b in new_layers]:
        raise ValueError("the model came back with other layers")
    for layer, new in zip(
        layers, new_layers, strict=True
    ):  # outer models first, as Keras sets them
        layer.trainable = new.trainable
    target.set_weights(changed.get_weights())
    if changed.compiled:
        target.compile_from_config(changed.get_compile_config())


def _model_restorer(model: Any) -> Callable[[], None]:
    """A function that puts ``model`` back in the state it has now, for :func:`take_state`.

    Compiling only sets attributes of the model (Keras does not track them while it
    compiles): if the model was compiled, before or since, they are put back as they were,
    those compiling added removed, past Keras's own ``__setattr__``, which would track them
    anew. (A model never compiled keeps what the check's own use of it set, a traced predict
    function, say.) Then the trainable flags (each layer's, outer models first, then each
    variable's, which a layer's flag overrides) and the values.
    """
    attributes = dict(vars(model))
    layers = list(model._flatten_layers())
    flags = [layer.trainable for layer in layers]
    variables = list(model.weights)
    saved = [(v.trainable, np.array(v.numpy(), copy=True)) for v in variables]

    def restore() -> None:
        if attributes.get("compiled") or vars(model).get("compiled"):
            for name in [n for n in vars(model) if n not in attributes]:
                object.__delattr__(model, name)
            for name, value in attributes.items():
                if vars(model).get(name, _ABSENT) is not value:
                    object.__setattr__(model, name, value)
        for layer, flag in zip(layers, flags, strict=True):
            layer.trainable = flag
        for variable, (flag, value) in zip(variables, saved, strict=True):
            variable.trainable = flag
            variable.assign(value)

    return restore


_ABSENT = object()
