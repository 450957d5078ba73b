"""The Flask application of the classifier service: :func:`create_app` and :func:`service`.

gunicorn imports ``course_lib.serving.wsgi:app``. The views live on three Blueprints:
:mod:`~course_lib.serving.api` (the page, predictions, history, feedback),
:mod:`~course_lib.serving.photo_routes` (the routes that hand out or delete people's photos,
behind ``COURSE_SERVE_TOKEN``) and :mod:`~course_lib.serving.tf_serving` (TensorFlow
Serving's REST format); :mod:`~course_lib.serving.errors` turns every error into JSON.
A view reaches the settings, the store and the model through :func:`service`, as
flaskr's views reach the database through ``get_db()``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

from course_lib.serving.batching import ModelHost
from course_lib.serving.classifier import Classifier, version_watch
from course_lib.serving.config import ServeConfig
from course_lib.serving.store import PredictionStore

EXTENSION = "course_serving"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Service:
    """What the views share: the settings, the prediction store and the model host."""

    config: ServeConfig
    store: PredictionStore
    host: ModelHost

    def __getitem__(self, name: str) -> Any:
        # app.extensions["course_serving"]["host"] still works for code written for a dict
        if name not in ("config", "store", "host"):
            raise KeyError(name)
        return getattr(self, name)


def service() -> Service:
    """The :class:`Service` of the app handling the current request."""
    return current_app.extensions[EXTENSION]


def create_app(
    config: ServeConfig | None = None,
    classifier: Classifier | Callable[[], Classifier] | None = None,
) -> Flask:
    """The classifier service.

    ``config`` defaults to :meth:`ServeConfig.from_env`. ``classifier`` is a ready
    :class:`Classifier`, a function that loads one, or None to load
    ``config.model``, run by ``config.runtime`` (see :mod:`~course_lib.serving.litert`).
    Loading runs in the background when
    ``config.load_in_background`` (``/health`` answers 503 until it is warm).
    """
    from course_lib.serving import api, errors, litert, photo_routes, tf_serving

    config = config or ServeConfig.from_env()
    # Chosen once, at start-up; each version served later is run the same way.
    runtime, note = litert.resolve_runtime(config.runtime)
    if note:
        log.warning("COURSE_SERVE_RUNTIME=%s: %s", config.runtime, note)
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=config.max_upload_bytes, DEBUG=False, PROPAGATE_EXCEPTIONS=False
    )
    app.json.sort_keys = False
    source = (
        classifier
        if classifier is not None
        else functools.partial(litert.load_served, config, runtime, note)
    )
    store = PredictionStore(
        config.db,
        keep_upload_bytes=config.keep_upload_bytes,
        keep_upload_days=config.keep_upload_days,
    )
    watch = version_watch(config.model) if classifier is None else None
    host = ModelHost(
        source,
        config.batch_size,
        config.batch_wait_ms,
        background=config.load_in_background,
        watch=watch,
    )
    app.extensions[EXTENSION] = Service(config, store, host)
    # A folder of versions: each request looks (at most once a second) whether another is served.
    app.before_request(host.refresh)
    for blueprint in (errors.bp, api.bp, photo_routes.bp, tf_serving.bp):
        app.register_blueprint(blueprint)
    return app
