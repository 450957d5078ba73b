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


class Backbone:
    """``course_lib.pretrained.Backbone`` as a student's function uses it, built from data.

    The check's backbone cannot travel (its ``scale`` is a function), and this module imports
    nothing from course_lib: the same attributes and methods, ``prepare`` resizing and scaling
    exactly as the course's does (a test holds them equal).
    """

    def __init__(
        self,
        name: str,
        model: Any,
        input_size: int,
        mean: float,
        std: float,
        input_range: tuple[float, float],
    ) -> None:
        self.name, self.model, self.input_size = name, model, int(input_size)
        self.mean, self.std = float(mean), float(std)
        self.input_range = (float(input_range[0]), float(input_range[1]))

    def __repr__(self) -> str:
        return f"Backbone(name={self.name!r}, input_size={self.input_size})"

    def scale(self, x: Any) -> Any:
        import numpy as np

        return ((np.asarray(x, dtype="float32") - self.mean) / self.std).astype("float32")

    def prepare(self, images: Any) -> Any:
        import numpy as np

        if isinstance(images, list | tuple):
            return np.concatenate([self.prepare(np.asarray(image)[None]) for image in images])
        x, size = np.asarray(images), self.input_size
        if x.ndim == 3:
            x = x[..., None]
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
        if x.shape[1:3] == (size, size):
            return self.scale(x.astype("float32"))
        import tensorflow as tf

        resized = tf.image.resize(
            x.astype("float32"), (size, size), method="bilinear", antialias=True
        ).numpy()
        return self.scale(resized)

    def check_input(self, x: Any) -> None:
        import numpy as np

        x = np.asarray(x)
        expected = (self.input_size, self.input_size, 3)
        if x.ndim != 4 or x.shape[1:] != expected:
            raise ValueError(
                f"{self.name} expects a batch of shape (n, {self.input_size}, {self.input_size}, "
                "3), "
                f"got {x.shape}: use backbone.prepare(images) to resize"
            )
        low, high = self.input_range
        if x.min() >= 0 and x.max() > max(high + 0.5, 2.0):
            raise ValueError(
                f"inputs go up to {x.max():.1f}, but {self.name} expects values in "
                f"[{low:g}, {high:g}]: these look like unscaled 0-255 pixels; use backbone.prepare"
            )
        if x.min() < low - 0.5 or x.max() > high + 0.5:
            raise ValueError(
                f"inputs span [{x.min():.2f}, {x.max():.2f}], but {self.name} expects "
                f"[{low:g}, {high:g}]: the scaling does not match the backbone's training"
            )


@_driver
def with_file(
    func: Callable[..., Any], name: str, data: bytes, backbone: dict[str, Any], *rest: Any
) -> Any:
    """``func(path, backbone, *rest)``, ``path`` a file ``name`` holding ``data``, in a new folder.

    The check's own folder is in another process, and different each time: the file travels
    as bytes and is written here. ``backbone`` is a :class:`Backbone`'s fields as data.
    """
    import os
    import shutil
    import tempfile

    import keras

    # A model of its own for each call, as the kernel rebuilds it from the data it was sent:
    # a model called before on other shapes answers a wrong input with another error.
    model = keras.models.clone_model(backbone["model"])
    model.set_weights(backbone["model"].get_weights())
    folder = tempfile.mkdtemp(prefix="course-check-")
    try:
        path = os.path.join(folder, os.path.basename(name))
        with open(path, "wb") as handle:
            handle.write(data)
        return func(path, Backbone(**(backbone | {"model": model})), *rest)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _raised(exc: BaseException) -> list[str]:
    """An exception of the student's code as data: its type's name and its text."""
    return [type(exc).__name__, str(exc)]


@_driver
def behind_service(
    func: Callable[..., Any], images: Any, weights: Any, limit: int
) -> dict[str, Any]:
    """``func(post, images, limit)`` with ``post`` a stand-in for the course service's route.

    ``post(body)`` answers as ``requests.post(url, json=body)`` against the service would: the
    body encoded as JSON (NumPy values fail there), 413 above ``limit`` instances, 400 for an
    empty or malformed request, else the predictions ``softmax(x @ weights)`` of the instances.
    Returns what ``func`` returned or raised, and the number of instances of every request
    (-1 for a body without a list of instances), in order: a refused request counts too.
    """
    import json

    import numpy as np
    import requests

    sent: list[int] = []
    shape = tuple(np.shape(images)[1:])

    def respond(status: int, payload: dict[str, Any]) -> Any:
        response = requests.Response()
        response.status_code = status
        response.reason = {200: "OK", 400: "Bad Request", 413: "Payload Too Large"}[status]
        response.url = "http://127.0.0.1:8000/v1/models/fashion_cnn:predict"
        response.headers["Content-Type"] = "application/json"
        response._content = json.dumps(payload).encode()
        return response

    def post(body: Any) -> Any:
        body = json.loads(json.dumps(body))  # what requests does with json=: NumPy values fail
        instances = body.get("instances") if isinstance(body, dict) else None
        sent.append(len(instances) if isinstance(instances, list) else -1)
        if not isinstance(instances, list) or not instances:
            return respond(400, {"error": '"instances" must be a non-empty list'})
        if len(instances) > limit:
            return respond(
                413, {"error": f"{len(instances)} instances in one request; the limit is {limit}"}
            )
        try:
            x = np.asarray(instances, dtype=np.float32)
        except (ValueError, TypeError):
            return respond(400, {"error": "instances must be numbers, all of the same shape"})
        if x.shape[1:] != shape:
            return respond(400, {"error": f"instances must be shaped {list(shape)}"})
        z = x.reshape(len(x), -1).astype(np.float64) @ np.asarray(weights, np.float64)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return respond(200, {"predictions": (z / z.sum(axis=1, keepdims=True)).tolist()})

    outcome: dict[str, Any] = {"returned": None, "raised": None}
    try:
        outcome["returned"] = func(post, np.array(images, copy=True), limit)
    except Exception as exc:  # the check needs the requests made before it too
        outcome["raised"] = _raised(exc)
    outcome["requests"] = sent
    return outcome


def _nbytes(value: Any) -> int:
    """About how many bytes ``value`` takes as data: its arrays and tensors, however nested."""
    if isinstance(value, list | tuple):
        return sum(_nbytes(item) for item in value) + 8
    if isinstance(value, dict):
        return sum(_nbytes(k) + _nbytes(v) for k, v in value.items()) + 8
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        try:
            import numpy as np

            size = getattr(dtype, "size", None) or np.dtype(dtype).itemsize
            return int(np.prod([int(n) for n in shape])) * int(size) + 8
        except Exception:
            return 8
    return 8


@_driver
def generated_samples(
    func: Callable[[], Any], limit: int, watched: str, budget: int = 64 << 20
) -> dict[str, Any]:
    """What ``func()`` yields: its first ``limit + 1`` items (an endless generator stops there).

    ``watched``: the name of a global array of ``func``'s (the notebook's ``x_train``), whose
    order the student's code must not change; ``reordered`` says whether it did. Items are
    kept until they pass ``budget`` bytes (the first is always kept): a sample far too big is
    already wrong, and must not be copied a thousand times. Returns ``samples``, or
    ``none``, ``not_iterable`` (the type's name) or ``raised`` (while iterating).
    """
    import itertools

    import numpy as np

    array = getattr(func, "__globals__", {}).get(watched)
    array = array if isinstance(array, np.ndarray) and array.ndim > 0 else None
    step = max(1, len(array) // 256) if array is not None else 1
    before = np.array(array[::step]) if array is not None else None
    produced = func()  # what it raises here propagates, as from a plain call
    outcome: dict[str, Any] = {"samples": None, "none": produced is None}
    if produced is not None:
        try:
            iterator = iter(produced)
        except TypeError:
            outcome["not_iterable"] = type(produced).__name__
        else:
            samples, total = [], 0
            try:
                for item in itertools.islice(iterator, limit + 1):
                    samples.append(item)
                    total += _nbytes(item)
                    if total > budget:
                        outcome["truncated"] = True
                        break
            except Exception as exc:
                outcome["raised"] = _raised(exc)
            outcome["samples"] = samples
    outcome["reordered"] = bool(
        array is not None and not np.array_equal(before, array[::step], equal_nan=True)
    )
    return outcome
