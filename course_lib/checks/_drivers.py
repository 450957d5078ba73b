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


class _CountingStrategy:
    """A strategy that counts the calls of ``run``; everything else goes to the real one."""

    def __init__(self, strategy: Any) -> None:
        self._strategy = strategy
        self.runs = 0

    def run(self, fn: Callable, args: Any = (), kwargs: Any = None, options: Any = None) -> Any:
        self.runs += 1
        return self._strategy.run(fn, args=args, kwargs=kwargs, options=options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._strategy, name)


def _loss_record(loss: Any) -> dict[str, Any]:
    """What a train step returned, as data: a number, None, per-replica values, or its type."""
    import numpy as np
    import tensorflow as tf

    if loss is None:
        return {"kind": "none"}
    if isinstance(loss, tf.distribute.DistributedValues):
        return {"kind": "per_replica"}
    shape = getattr(loss, "shape", None)
    record: dict[str, Any] = {
        "kind": "other",
        "type": type(loss).__name__,
        "shape": None if shape is None else [None if d is None else int(d) for d in shape],
    }
    try:
        return record | {"kind": "number", "value": float(np.asarray(loss))}
    except (TypeError, ValueError):
        return record


@_driver
def train_two_steps(
    make_train_step: Callable[..., Any],
    model_config: str,
    start: list[Any],
    learning_rate: float,
    global_batch_size: int,
    images: Any,
    labels: Any,
    devices: list[str] | None = None,
) -> dict[str, Any]:
    """Train a model with the step ``make_train_step`` makes, under a ``MirroredStrategy``.

    The strategy mirrors ``devices``, or every logical CPU of this process (the lesson splits
    the CPU in two before TensorFlow starts, and a strategy object cannot travel). The model
    is rebuilt from ``model_config`` (Keras's serialised config, as JSON, with safe mode) under
    the strategy's scope and starts from the weights ``start``; the optimizer is plain SGD.
    Each global batch of ``global_batch_size`` of ``images``/``labels``, split by the strategy,
    is one step. Returns ``replicas``, each batch's ``shares`` (images per replica), how often
    the step called ``strategy.run`` (``runs``), what each step returned (``losses``) and the
    weights after each step; ``step`` (its type's name) if make_train_step returned no
    function; ``raised`` if the student's code raised (type, message, and whether it was a
    NotImplementedError): a traced step's error ends with its cause, which the check reads.
    """
    import json

    import keras
    import numpy as np
    import tensorflow as tf

    names = devices or [d.name for d in tf.config.list_logical_devices("CPU")]
    # Sums gathered on one device, not collective all-reduces: every MirroredStrategy in a
    # process numbers its collectives from the same key, so a second one (the lesson's
    # `strategy` is the first, and a check may run twice) could meet the first's.
    strategy = tf.distribute.MirroredStrategy(
        names, cross_device_ops=tf.distribute.ReductionToOneDevice()
    )
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(global_batch_size)
    batches = list(strategy.experimental_distribute_dataset(dataset))
    result: dict[str, Any] = {
        "replicas": int(strategy.num_replicas_in_sync),
        "shares": [
            [int(share.shape[0]) for share in strategy.experimental_local_results(batch[0])]
            for batch in batches
        ],
        "runs": 0,
        "losses": [],
        "weights": [],
    }
    with strategy.scope():
        model = keras.saving.deserialize_keras_object(json.loads(model_config), safe_mode=True)
        model.set_weights(start)
        optimizer = keras.optimizers.SGD(learning_rate)  # updates proportional to the gradients
    counting = _CountingStrategy(strategy)
    try:
        step = make_train_step(counting, model, optimizer, global_batch_size)
        if not callable(step):
            return result | {"step": type(step).__name__}
        for batch in batches:
            result["losses"].append(_loss_record(step(batch)))
            result["weights"].append([np.array(w) for w in model.get_weights()])
    except Exception as exc:  # the student's code failed while tracing or running
        result["raised"] = {
            "type": type(exc).__name__,
            "message": str(exc)[-20_000:],  # the cause is at the end
            "not_implemented": isinstance(exc, NotImplementedError),
        }
    result["runs"] = counting.runs
    return result
