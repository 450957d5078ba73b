"""Grader code that runs a student's function the way one check needs it; returns plain data.

Some answers cannot be judged from what one plain call returns: a function tf.data traces
inside ``map``, a pipeline whose datasets must be read epoch by epoch, a Flask app, a
generator. A check then calls :func:`course_lib.checks._core.drive` with a driver named
here. In a notebook the driver runs right there. In two-phase grading the judge cannot run
the student's code, so it has the student's kernel run the driver (this module's *text* is
sent with the call and executed there, so it imports nothing from course_lib) and judges
the plain data the driver returned: arrays, numbers, strings, lists, tuples and dicts.

A driver never judges: it only calls and records. Whatever it returns may have been forged
by the kernel that ran it, so a check still judges the data, never trusts a verdict.
An exception from the student's code propagates, as from a plain call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DRIVERS: dict[str, Callable[..., Any]] = {}


def _driver(function: Callable[..., Any]) -> Callable[..., Any]:
    DRIVERS[function.__name__] = function
    return function


@_driver
def map_elements(func: Callable[..., Any], images: Any, labels: Any) -> list[Any]:
    """The elements of ``from_tensor_slices((images, labels)).map(func)``, as NumPy values.

    tf.data traces ``func`` into a graph: it gets symbolic tensors, as in a lesson's pipeline.
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((images, labels)).map(func)
    return list(ds.as_numpy_iterator())


@_driver
def decoding_watched(func: Callable[..., Any], *args: Any) -> tuple[Any, list[tuple[int, int]]]:
    """``func(*args)``, and the (width, height) of each image whose pixels Pillow decoded meanwhile.

    Pillow decodes in ``ImageFile.load``: a size check that comes before it decodes nothing.
    """
    from PIL import ImageFile

    sizes: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def load(self: Any, *given: Any, **options: Any) -> Any:
        sizes.append((int(self.size[0]), int(self.size[1])))
        return original(self, *given, **options)

    ImageFile.ImageFile.load = load
    try:
        result = func(*args)
    finally:
        ImageFile.ImageFile.load = original
    return result, sizes
