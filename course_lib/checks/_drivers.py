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


# ---------------------------------------------------------------- datasets, read as data
# Lesson 02's checks judge tf.data pipelines: what a dataset is (its steps, element spec,
# cardinality) and what it yields, epoch by epoch. These drivers read a dataset in the process
# that holds it and describe it as plain data; the check judges the description, in a
# notebook and in the judge alike.

INFINITE = -1  # tf.data.INFINITE_CARDINALITY
MAX_PASS_BYTES = 256 * 2**20  # one pass keeps at most this much data: the rest is cut


def _described(value: Any) -> str:
    """What a value is, as the checks' ``describe`` words it, for values the judge never sees."""
    import inspect

    import numpy as np

    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    if isinstance(value, (bool, int, float, complex)):
        return f"a {type(value).__name__} ({value!r})"
    if isinstance(value, (str, bytes)):
        shown = (
            value
            if len(value) <= 30
            else value[:29] + ("..." if isinstance(value, str) else b"...")
        )
        return f"a {type(value).__name__} ({shown!r})"
    if inspect.isroutine(value):
        return f"a function ({getattr(value, '__name__', '?')})"
    if inspect.isclass(value):
        return f"the class {value.__name__}"
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"


def _raised(exc: BaseException) -> dict[str, Any]:
    """An exception as data; the checks rebuild it (builtin types as themselves) to word it."""
    return {
        "type": type(exc).__name__[:80],
        "message": str(exc)[:4000],
        "builtin": type(exc).__module__ == "builtins",
    }


def _spec(spec: Any) -> dict[str, Any]:
    """An element_spec as data: tuples and dicts opened up, each TensorSpec as shape and dtype."""
    kind = type(spec).__name__
    if isinstance(spec, (tuple, list)):
        return {"kind": "tuple", "items": [_spec(s) for s in spec]}
    if isinstance(spec, dict):
        return {"kind": "dict", "items": {str(k): _spec(v) for k, v in spec.items()}}
    shape = getattr(spec, "shape", None)
    try:
        dims = None if shape is None or shape.rank is None else list(shape.as_list())
    except Exception:  # a spec without a TensorShape
        dims = None
    dtype = str(getattr(getattr(spec, "dtype", None), "name", ""))
    return {"kind": kind, "shape": dims, "dtype": dtype}


def _steps(ds: Any) -> list[str]:
    """The dataset's steps from source to end, e.g. ['tensorslice', 'cache', 'shuffle', ...]."""
    steps = []
    while ds is not None:
        steps.append(type(ds).__name__.strip("_").removesuffix("Dataset").lower())
        ds = getattr(ds, "_input_dataset", None)
    return steps[::-1]


def _shuffle_buffers(ds: Any) -> list[int]:
    """The buffer size of each shuffle step, where the dataset says it (outermost first)."""
    sizes = []
    while ds is not None:
        if "shuffle" in type(ds).__name__.lower():
            try:
                sizes.append(int(ds._buffer_size))
            except Exception:  # a buffer only known inside a graph: the order test decides
                pass
        ds = getattr(ds, "_input_dataset", None)
    return sizes


def _summary(ds: Any) -> dict[str, Any]:
    """What ``ds`` is, without reading it: a Dataset's type, cardinality, spec and steps."""
    import os

    import tensorflow as tf

    if not isinstance(ds, tf.data.Dataset):
        return {"dataset": False, "type": type(ds).__name__, "described": _described(ds)}
    paths = getattr(ds, "file_paths", None)  # image_dataset_from_directory's own datasets
    if paths is not None:
        paths = [os.path.realpath(str(p)) for p in list(paths)]
    return {
        "dataset": True,
        "type": type(ds).__name__,
        "cardinality": int(ds.cardinality()),
        "spec": _spec(ds.element_spec),
        "steps": _steps(ds),
        "buffers": _shuffle_buffers(ds),
        "file_paths": paths,
    }


def _as_numpy(element: Any) -> Any:
    import numpy as np

    if isinstance(element, tuple):
        return tuple(_as_numpy(e) for e in element)
    if isinstance(element, list):
        return [_as_numpy(e) for e in element]
    if isinstance(element, dict):
        return {k: _as_numpy(v) for k, v in element.items()}
    return np.asarray(element.numpy() if hasattr(element, "numpy") else element)


def _nbytes(element: Any) -> int:
    if isinstance(element, (tuple, list)):
        return sum(_nbytes(e) for e in element)
    if isinstance(element, dict):
        return sum(_nbytes(e) for e in element.values())
    return int(getattr(element, "nbytes", 0))


def _read_pass(ds: Any, limit: int) -> dict[str, Any]:
    """One pass over ``ds``: its first ``limit`` elements as NumPy values, in order.

    ``cut``: the pass had more (or more than :data:`MAX_PASS_BYTES`), never read: a dataset
    without end must not hang the check. ``error``: what reading raised, after the elements
    read until then.
    """
    elements: list[Any] = []
    size, cut, error = 0, False, None
    try:
        for element in ds:
            if len(elements) >= limit or size > MAX_PASS_BYTES:
                cut = True
                break
            element = _as_numpy(element)
            size += _nbytes(element)
            elements.append(element)
    except Exception as exc:  # the student's pipeline fails while it runs
        error = _raised(exc)
    return {"elements": elements, "cut": cut, "error": error}


def _read(ds: Any, passes: int, limit: int) -> dict[str, Any]:
    view = _summary(ds)
    if view["dataset"] and view["cardinality"] != INFINITE:
        view["passes"] = [_read_pass(ds, limit) for _ in range(passes)]
    return view


@_driver
def pipeline_epochs(
    make: Callable[..., Any], images: Any, labels: Any, batch_size: int, seed: int, epochs: int
) -> dict[str, Any]:
    """``make(from_tensor_slices((images, labels)), batch_size, seed)``, described, and ``epochs``
    passes over it (at most twice as many elements as the source has: more are cut)."""
    import tensorflow as tf

    ds = make(tf.data.Dataset.from_tensor_slices((images, labels)), batch_size, seed)
    return _read(ds, epochs, 2 * len(labels) + 2)


@_driver
def augmented_pipelines(
    make: Callable[..., Any],
    train: tuple[Any, Any],
    val: tuple[Any, Any],
    brightness: float,
    brightness_seed: int,
    batch_size: int,
    seed: int,
    train_epochs: int,
    val_epochs: int,
) -> dict[str, Any]:
    """``make(train, val, augment, batch_size, seed)`` with (images, labels) datasets and a
    seeded ``RandomBrightness(brightness, value_range=(0, 1))``; both datasets it returned
    described and read (val first, as the check reads them)."""
    import keras
    import tensorflow as tf

    augment = keras.layers.RandomBrightness(brightness, value_range=(0, 1), seed=brightness_seed)
    result = make(
        tf.data.Dataset.from_tensor_slices(tuple(train)),
        tf.data.Dataset.from_tensor_slices(tuple(val)),
        augment,
        batch_size,
        seed,
    )
    pair = isinstance(result, (tuple, list)) and len(result) == 2
    view: dict[str, Any] = {"pair": pair, "type": type(result).__name__}
    view["described"] = _described(result)
    if pair:
        view["val"] = _read(result[1], val_epochs, 2 * len(val[1]) + 2)
        view["train"] = _read(result[0], train_epochs, 2 * len(train[1]) + 2)
    return view


@_driver
def dataset_passes(ds: Any, limits: list[int]) -> dict[str, Any]:
    """A dataset the notebook made (image_dataset_from_directory's, say), described, and one
    pass over it per entry of ``limits``, each of at most that many elements (none: described
    only)."""
    view = _summary(ds)
    if view["dataset"]:
        view["passes"] = [_read_pass(ds, int(limit)) for limit in limits]
    return view


@_driver
def folder_files(held: Any, folder: Any = None, limit: int = 10_000) -> dict[str, Any]:
    """The files under a folder, as paths relative to it (``/``-separated, sorted).

    ``folder`` is that path, or None when ``held`` is (a path the judge cannot send: the kernel
    holds it). ``held`` otherwise only says which process is to look: the one holding it.
    """
    import os
    from pathlib import Path

    folder = held if folder is None else folder
    if not isinstance(folder, (str, os.PathLike)) or not os.path.isdir(folder):
        return {"is_dir": False, "described": _described(folder)}
    root = Path(os.path.realpath(folder))
    files, cut = [], False
    for path in sorted(root.rglob("*")):
        if path.is_file():
            if len(files) >= limit:
                cut = True
                break
            files.append(path.relative_to(root).as_posix())
    return {"is_dir": True, "root": str(root), "files": files, "cut": cut}
