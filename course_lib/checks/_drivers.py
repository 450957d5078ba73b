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

    # Traced once more as written, without AutoGraph, whatever that gives: AutoGraph runs a
    # converted copy of each function the student's calls, in which the watch on the
    # course's copies would not know the library's
    try:
        tf.data.Dataset.from_tensor_slices((images[:1], labels[:1])).map(
            tf.autograph.experimental.do_not_convert(func)
        )
    except Exception:  # noqa: S110 - only the calls it makes are looked at
        pass
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).map(func)
    return list(ds.as_numpy_iterator())


# Pillow's settings for the whole process, which a function that checks one upload must leave
# as they are: (module, name)
PILLOW_SETTINGS = (("Image", "MAX_IMAGE_PIXELS"), ("ImageFile", "LOAD_TRUNCATED_IMAGES"))


def _setting_value(value: Any) -> Any:
    """A setting's value as plain data: None, a bool or a number as it is, else its repr."""
    import numbers

    if value is None or type(value) in (bool, int, float):
        return value
    try:
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            return float(value)
        return repr(value)[:80]
    except Exception:  # an object that raises even on repr
        return type(value).__name__[:80]


@_driver
def decoding_watched(
    func: Callable[..., Any], *args: Any
) -> tuple[Any, list[tuple[int, int]], list[list[Any]]]:
    """``func(*args)``, the (width, height) of each image whose pixels Pillow decoded meanwhile,
    and the settings of Pillow's that ``func`` changed, each as ``[module, name, before,
    changed to, still changed after the call]``.

    Pillow decodes in ``ImageFile.load``: a size check that comes before it decodes nothing.
    A setting counts as changed if it differs after the call, or while an image is decoded
    (a change put back in a ``finally``). It is put back as it was after the call, so that
    nothing else in this process (the notebook's later cells, a service's other requests)
    runs with it.
    """
    from PIL import Image, ImageFile

    modules = {"Image": Image, "ImageFile": ImageFile}
    before = {(m, n): getattr(modules[m], n) for m, n in PILLOW_SETTINGS}
    changed: dict[tuple[str, str], list[Any]] = {}

    def note(after: bool = False) -> None:
        for (module, name), value in before.items():
            now = getattr(modules[module], name)
            try:
                differs = bool(now != value)
            except Exception:  # a value whose != is not a truth value
                differs = now is not value
            if differs:
                seen = changed.setdefault((module, name), [_setting_value(now), False])
                seen[1] = seen[1] or after

    sizes: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def load(self: Any, *given: Any, **options: Any) -> Any:
        sizes.append((int(self.size[0]), int(self.size[1])))
        note()
        return original(self, *given, **options)

    ImageFile.ImageFile.load = load
    try:
        result = func(*args)
    finally:
        ImageFile.ImageFile.load = original
        note(after=True)
        for (module, name), value in before.items():
            setattr(modules[module], name, value)
    settings = [
        [module, name, _setting_value(before[(module, name)]), now, left]
        for (module, name), (now, left) in changed.items()
    ]
    return result, sizes, settings


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


def _exception_data(exc: BaseException) -> list[str]:
    """An exception of the student's code as data: its type's name and its text."""
    return [type(exc).__name__, str(exc)]


@_driver
def behind_service(
    func: Callable[..., Any],
    images: Any,
    weights: Any,
    limit: int,
    refuse: int = -1,
    times: int = 1,
) -> dict[str, Any]:
    """``func(post, images, limit)`` with ``post`` a stand-in for the course service's route.

    ``post(body)`` answers as ``requests.post(url, json=body)`` against the service would: the
    body encoded as JSON (NumPy values fail there), 413 above ``limit`` instances, 400 for an
    empty or malformed request (its error says what is wrong), else the predictions
    ``softmax(x @ weights)`` of the instances. ``refuse``: the number (from 0) of a request
    answered 503, whatever it holds, as a busy service may; the same body sent again is
    refused too, ``times`` refusals in all: a client that sends it again until it is accepted
    gets its answer on the ``times + 1``-th send.
    Returns what ``func`` returned or raised, the number of instances of every request (-1
    for a body without a list of instances), in order: a refused request counts too, and
    every refusal as (request number, status, error).
    """
    import gc
    import json

    import numpy as np
    import requests

    sent: list[int] = []
    refusals: list[list[Any]] = []
    busy: dict[str, Any] = {"body": None, "count": 0}  # the refused body, and its refusals
    shape = tuple(np.shape(images)[1:])
    reasons = {200: "OK", 400: "Bad Request", 413: "Payload Too Large"}
    reasons[503] = "Service Unavailable"

    def respond(status: int, payload: dict[str, Any]) -> Any:
        response = requests.Response()
        response.status_code = status
        response.reason = reasons[status]
        response.url = "http://check-stand-in/v1/models/fashion_cnn:predict"
        response.headers["Content-Type"] = "application/json"
        response._content = json.dumps(payload).encode()
        if status != 200:
            refusals.append([len(sent) - 1, status, payload["error"]])
        return response

    def post(body: Any) -> Any:
        body = json.loads(json.dumps(body))  # what requests does with json=: NumPy values fail
        instances = body.get("instances") if isinstance(body, dict) else None
        sent.append(len(instances) if isinstance(instances, list) else -1)
        number = len(sent) - 1
        if busy["count"] < times and (
            number == refuse if not busy["count"] else body == busy["body"]
        ):
            busy["body"], busy["count"] = body, busy["count"] + 1
            return respond(503, {"error": "the service is busy: try again later"})
        if isinstance(body, str):
            return respond(
                400, {"error": "the body is a JSON string, not an object: post the dict itself"}
            )
        if not isinstance(body, dict):
            return respond(
                400, {"error": f"the body is a JSON {type(body).__name__}, not an object"}
            )
        if "instances" not in body:
            keys = ", ".join(repr(k) for k in body) or "none"
            return respond(400, {"error": f'no key "instances" in the body (its keys: {keys})'})
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
            return respond(
                400,
                {"error": f"instances must be shaped {list(shape)}; these are {list(x.shape[1:])}"},
            )
        z = x.reshape(len(x), -1).astype(np.float64) @ np.asarray(weights, np.float64)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return respond(200, {"predictions": (z / z.sum(axis=1, keepdims=True)).tolist()})

    outcome: dict[str, Any] = {"returned": None, "raised": None}
    # Every request and answer is a JSON round trip of nested lists: many short-lived
    # objects, which refcounting frees; the cycle collector would walk the whole kernel over
    # and over meanwhile (two thirds of check 8.3's time). It rests during the call, in a
    # notebook's check and in a graded kernel alike, and is switched back on as it was found.
    collecting = gc.isenabled()
    gc.disable()
    try:
        outcome["returned"] = func(post, np.array(images, copy=True), limit)
    except Exception as exc:  # the check needs the requests made before it too
        outcome["raised"] = _exception_data(exc)
    finally:
        if collecting:
            gc.enable()
    outcome["requests"] = sent
    outcome["refusals"] = refusals
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
    ``none``, ``not_iterable`` (the type's name) or ``raised`` (while iterating); and
    ``made_at_once`` (type name, length) when ``func`` returned a list or array, not a generator.
    """
    import itertools

    import numpy as np

    array = getattr(func, "__globals__", {}).get(watched)
    array = array if isinstance(array, np.ndarray) and array.ndim > 0 else None
    step = max(1, len(array) // 256) if array is not None else 1
    before = np.array(array[::step]) if array is not None else None
    produced = func()  # what it raises here propagates, as from a plain call
    outcome: dict[str, Any] = {"samples": None, "none": produced is None}
    if isinstance(produced, list | tuple | dict) or getattr(produced, "ndim", 0):  # made at once
        outcome["made_at_once"] = [type(produced).__name__, len(produced)]
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
                outcome["raised"] = _exception_data(exc)
            outcome["samples"] = samples
    outcome["reordered"] = bool(
        array is not None and not np.array_equal(before, array[::step], equal_nan=True)
    )
    return outcome


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
    function; ``raised`` if the student's code raised (type, message, whether it was a
    NotImplementedError, and whether make_train_step itself raised, before returning a step):
    a traced step's error ends with its cause, which the check reads.
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
    made = False  # whether make_train_step returned: an error before it is the factory's own
    try:
        step = make_train_step(counting, model, optimizer, global_batch_size)
        made = True
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
            "in_factory": not made,
        }
    result["runs"] = counting.runs
    try:  # how many times the gradients were applied (once per step is right)
        result["updates"] = int(np.asarray(optimizer.iterations))
    except Exception:
        pass
    return result


class _NotedModel:
    """A model that notes the shape of the batch each call gives it; the rest is the model's."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.given: list[int] | None = None

    def _note(self, x: Any) -> None:
        import numpy as np

        try:
            self.given = [int(n) for n in np.shape(x)]
        except Exception:  # a batch without a shape: the model's own error says more
            self.given = None

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        self._note(x)
        return self._model(x, *args, **kwargs)

    def predict(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        self._note(x)
        return self._model.predict(x, *args, **kwargs)

    def predict_on_batch(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        self._note(x)
        return self._model.predict_on_batch(x, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def _raised(exc: BaseException) -> dict[str, Any]:
    """An exception as data: its type, the names of the classes it is an instance of, its text."""
    key = exc.args[0] if exc.args and isinstance(exc.args[0], (str, int)) else None
    return {
        "type": type(exc).__name__,
        "classes": [klass.__name__ for klass in type(exc).__mro__],
        "message": str(exc)[:4000],
        "key": key,
    }


def _plain_value(value: Any) -> Any:
    """What a factory returned instead of an app, as data a check can describe."""
    import inspect

    if value is None or type(value) in (bool, int, float, str, bytes):
        return ["value", value]
    if type(value) in (list, tuple, dict, set, frozenset):
        return ["container", type(value).__name__, len(value)]
    if inspect.isroutine(value):
        return ["function", str(getattr(value, "__name__", "?"))[:80]]
    return ["object", type(value).__name__[:80]]


MAX_EXCHANGES = 40  # requests one check replays against a student's app


@_driver
def flask_exchanges(
    create_app: Callable[..., Any],
    model: Any,
    class_names: list[str],
    preprocessing: dict[str, Any],
    requests: list[dict[str, Any]],
) -> dict[str, Any]:
    """Build the student's Flask app and send it ``requests`` with Flask's test client.

    ``requests``: dicts with ``path`` (POSTed to), ``files`` (``[field, file name, bytes]``
    triples, sent as a multipart form) and ``fresh`` (forget the batch the model was last
    given before this request). The app runs with ``testing`` and ``TRAP_BAD_REQUEST_ERRORS``
    on, so that the route's exceptions come out here instead of as a 500 page.

    Returns ``{"app": [...]}`` (what the factory returned instead of an app) or
    ``{"responses": [...]}``, one per request: ``status``, ``content_type``, ``json`` (the
    body as JSON, or None), ``raised`` (the route's exception, or None) and ``given`` (the
    shape of the batch the model was given last, or None).
    """
    import io

    from werkzeug.exceptions import BadRequestKeyError, HTTPException

    noted = _NotedModel(model)
    app = create_app(noted, list(class_names), dict(preprocessing))
    if app is None or not hasattr(app, "test_client"):
        return {"app": _plain_value(app)}
    app.testing = True  # the route's exceptions reach the check instead of becoming a 500 page
    app.config["TRAP_BAD_REQUEST_ERRORS"] = True  # request.form['file'] raises KeyError, visibly
    client = app.test_client()
    responses = []
    for sent in requests[:MAX_EXCHANGES]:
        if sent.get("fresh"):
            noted.given = None
        form: dict[str, Any] = {}
        for field, name, data in sent["files"]:
            form.setdefault(str(field), []).append((io.BytesIO(bytes(data)), str(name)))
        answer: dict[str, Any] = {"status": None, "content_type": "", "json": None, "raised": None}
        try:
            response = client.post(str(sent["path"]), data=form, content_type="multipart/form-data")
        except HTTPException as exc:
            if isinstance(exc, BadRequestKeyError):
                answer["raised"] = _raised(exc)
                response = None
            else:  # abort(400) and the like: the page Flask would have sent
                response = exc.get_response()
        except Exception as exc:  # app.testing passes the route's exceptions up to here
            answer["raised"] = _raised(exc)
            response = None
        if response is not None:
            answer["status"] = int(response.status_code)
            answer["content_type"] = str(response.content_type or "")
            answer["json"] = response.get_json(silent=True)
        answer["given"] = noted.given
        responses.append(answer)
    return {"responses": responses}


# ---------------------------------------------------------------- datasets, read as data
# Lesson 02's checks judge tf.data pipelines: what a dataset is (its steps, element spec,
# cardinality) and what it yields, epoch by epoch. These drivers read a dataset in the process
# that holds it and describe it as plain data; the check judges the description, in a
# notebook and in the judge alike.

INFINITE = -1  # tf.data.INFINITE_CARDINALITY
MAX_PASS_BYTES = 256 * 2**20  # one pass keeps at most this much data: the rest is cut


def _what_it_is(value: Any) -> str:
    """What a value is, as the checks' ``describe`` words it, for values the judge never sees."""
    import inspect

    import numpy as np

    def a(word: object) -> str:
        return f"{'an' if str(word)[:1].lower() in 'aeio' else 'a'} {word}"

    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"{a(value.dtype)} array of shape {value.shape}"
    if isinstance(value, (bool, int, float, complex)):
        text = repr(value)
        return f"{a(type(value).__name__)} ({text if len(text) <= 30 else text[:29] + '…'})"
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
    return a(type(value).__name__)


def _reading_error(exc: BaseException) -> dict[str, Any]:
    """An exception as data; the checks rebuild it (builtin types as themselves) to word it."""
    return {
        "type": type(exc).__name__[:80],
        "message": str(exc)[:4000],
        "builtin": type(exc).__module__ == "builtins",
    }


def _spec_data(spec: Any) -> dict[str, Any]:
    """An element_spec as data: tuples and dicts opened up, each TensorSpec as shape and dtype."""
    kind = type(spec).__name__
    if isinstance(spec, (tuple, list)):
        return {"kind": "tuple", "items": [_spec_data(s) for s in spec]}
    if isinstance(spec, dict):
        return {"kind": "dict", "items": {str(k): _spec_data(v) for k, v in spec.items()}}
    shape = getattr(spec, "shape", None)
    try:
        dims = None if shape is None or shape.rank is None else list(shape.as_list())
    except Exception:  # a spec without a TensorShape
        dims = None
    dtype = str(getattr(getattr(spec, "dtype", None), "name", ""))
    return {"kind": kind, "shape": dims, "dtype": dtype}


def _pipeline_steps(ds: Any) -> list[str]:
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


def _dataset_summary(ds: Any) -> dict[str, Any]:
    """What ``ds`` is, without reading it: a Dataset's type, cardinality, spec and steps."""
    import os

    import tensorflow as tf

    if not isinstance(ds, tf.data.Dataset):
        return {"dataset": False, "type": type(ds).__name__, "described": _what_it_is(ds)}
    paths = getattr(ds, "file_paths", None)  # image_dataset_from_directory's own datasets
    if paths is not None:
        paths = [os.path.realpath(str(p)) for p in list(paths)]
    return {
        "dataset": True,
        "type": type(ds).__name__,
        "cardinality": int(ds.cardinality()),
        "spec": _spec_data(ds.element_spec),
        "steps": _pipeline_steps(ds),
        "buffers": _shuffle_buffers(ds),
        "file_paths": paths,
    }


def _element_data(element: Any) -> Any:
    import numpy as np

    if isinstance(element, tuple):
        return tuple(_element_data(e) for e in element)
    if isinstance(element, list):
        return [_element_data(e) for e in element]
    if isinstance(element, dict):
        return {k: _element_data(v) for k, v in element.items()}
    return np.asarray(element.numpy() if hasattr(element, "numpy") else element)


def _element_bytes(element: Any) -> int:
    if isinstance(element, (tuple, list)):
        return sum(_element_bytes(e) for e in element)
    if isinstance(element, dict):
        return sum(_element_bytes(e) for e in element.values())
    return int(getattr(element, "nbytes", 0))


def _dataset_pass(ds: Any, limit: int) -> dict[str, Any]:
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
            element = _element_data(element)
            size += _element_bytes(element)
            elements.append(element)
    except Exception as exc:  # the student's pipeline fails while it runs
        error = _reading_error(exc)
    return {"elements": elements, "cut": cut, "error": error}


def _dataset_read(ds: Any, passes: int, limit: int) -> dict[str, Any]:
    view = _dataset_summary(ds)
    if view["dataset"] and view["cardinality"] != INFINITE:
        view["passes"] = [_dataset_pass(ds, limit) for _ in range(passes)]
    return view


def _global_seed() -> tuple[int, Any]:
    """TensorFlow's global seed (its default when none is set), and the generator of operation
    seeds that each tf.random.set_seed makes anew: compared before and after a call, they show
    that the call set the global seed, even to the value it had.

    Only read: get_seed is given an op seed of its own, as without one it would draw the next
    operation seed and so change the orders the student's later shuffles get.
    """
    import tensorflow as tf
    from tensorflow.python.eager import context

    # A private attribute: without it (another TensorFlow), the seed's value alone tells.
    return int(tf.compat.v1.get_seed(0)[0]), getattr(context.context(), "_rng", None)


def _set_global_seed(before: tuple[int, Any]) -> bool:
    """Whether TensorFlow's global seed was set since :func:`_global_seed` gave ``before``."""
    after = _global_seed()
    return after[0] != before[0] or after[1] is not before[1]


def _seeded_order(labels: Any, seed: int) -> list[int]:
    """The first epoch's order of ``labels`` in ``ds.cache().shuffle(ds.cardinality(),
    seed=seed)``, the shuffle the exercises prescribe.

    Built in the process that ran the student's function, right after it: the order a seed
    gives depends on TensorFlow's global seed too (a tf.random.set_seed in the notebook), and
    only this process has it.
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(labels)
    return [int(label) for label in ds.cache().shuffle(ds.cardinality(), seed=seed)]


@_driver
def pipeline_epochs(
    make: Callable[..., Any], images: Any, labels: Any, batch_size: int, seed: int, epochs: int
) -> dict[str, Any]:
    """``make(from_tensor_slices((images, labels)), batch_size, seed)``, described, and ``epochs``
    passes over it (at most twice as many elements as the source has: more are cut).

    ``seeded_order``: the order the prescribed shuffle with ``seed`` gives the labels here;
    ``sets_global_seed``: whether ``make`` set TensorFlow's global seed.
    """
    import tensorflow as tf

    before = _global_seed()
    ds = make(tf.data.Dataset.from_tensor_slices((images, labels)), batch_size, seed)
    view = _dataset_read(ds, epochs, 2 * len(labels) + 2)
    view["sets_global_seed"] = _set_global_seed(before)
    view["seeded_order"] = _seeded_order(labels, seed)
    return view


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
    described and read (val first, as the check reads them). ``seeded_order`` and
    ``sets_global_seed`` as :func:`pipeline_epochs` gives them, for the training labels."""
    import keras
    import tensorflow as tf

    augment = keras.layers.RandomBrightness(brightness, value_range=(0, 1), seed=brightness_seed)
    before = _global_seed()
    result = make(
        tf.data.Dataset.from_tensor_slices(tuple(train)),
        tf.data.Dataset.from_tensor_slices(tuple(val)),
        augment,
        batch_size,
        seed,
    )
    pair = isinstance(result, (tuple, list)) and len(result) == 2
    view: dict[str, Any] = {"pair": pair, "type": type(result).__name__}
    view["described"] = _what_it_is(result)
    if pair:
        view["val"] = _dataset_read(result[1], val_epochs, 2 * len(val[1]) + 2)
        view["train"] = _dataset_read(result[0], train_epochs, 2 * len(train[1]) + 2)
    view["sets_global_seed"] = _set_global_seed(before)
    view["seeded_order"] = _seeded_order(train[1], seed)
    return view


@_driver
def dataset_passes(ds: Any, limits: list[int]) -> dict[str, Any]:
    """A dataset the notebook made (image_dataset_from_directory's, say), described, and one
    pass over it per entry of ``limits``, each of at most that many elements (none: described
    only)."""
    view = _dataset_summary(ds)
    if view["dataset"]:
        view["passes"] = [_dataset_pass(ds, int(limit)) for limit in limits]
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
        return {"is_dir": False, "described": _what_it_is(folder)}
    root = Path(os.path.realpath(folder))
    files, cut = [], False
    for path in sorted(root.rglob("*")):
        if path.is_file():
            if len(files) >= limit:
                cut = True
                break
            files.append(path.relative_to(root).as_posix())
    return {"is_dir": True, "root": str(root), "files": files, "cut": cut}
