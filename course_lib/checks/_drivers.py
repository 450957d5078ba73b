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
