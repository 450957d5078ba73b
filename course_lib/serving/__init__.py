"""The classifier service: a Flask app with a web page, a JSON API, and SQLite history.

::

    from course_lib import serving
    app = serving.create_app()                      # settings from COURSE_SERVE_* variables
    server = serving.start_server()                 # the same app under gunicorn, in the background

Lesson 07 starts from :mod:`~course_lib.serving.minimal` (one Flask route, what students
write first); the service is that route plus the hardening the lesson measures.
Modules: :mod:`~course_lib.serving.config` (settings), :mod:`~course_lib.serving.uploads`
(untrusted bytes → model pixels), :mod:`~course_lib.serving.classifier` (the model
interface and adapters), :mod:`~course_lib.serving.litert` (the model on LiteRT),
:mod:`~course_lib.serving.batching` (load, warm up, micro-batch, swap in a new version),
:mod:`~course_lib.serving.store` (SQLite),
:mod:`~course_lib.serving.app` (the app factory and the views' shared :class:`Service`),
:mod:`~course_lib.serving.predicting` (the predict path), the Blueprints
:mod:`~course_lib.serving.api`, :mod:`~course_lib.serving.photo_routes` and
:mod:`~course_lib.serving.tf_serving`, :mod:`~course_lib.serving.errors` (JSON errors),
:mod:`~course_lib.serving.params` (request parameters),
:mod:`~course_lib.serving.process` (run gunicorn from Python),
:mod:`~course_lib.serving.forking` (why workers load the model after the fork),
:mod:`~course_lib.serving.managed` (what managed vision APIs answer) and
:mod:`~course_lib.serving.screenshot` (a browser's picture of the page).
"""

from course_lib.serving import forking, managed, minimal
from course_lib.serving.app import create_app
from course_lib.serving.batching import MicroBatcher, ModelHost
from course_lib.serving.classifier import (
    Classifier,
    KerasClassifier,
    load_classifier,
    load_imagenet_classifier,
    top_k,
)
from course_lib.serving.config import ServeConfig
from course_lib.serving.minimal import create_minimal_app
from course_lib.serving.process import ServerProcess, free_port, start_server
from course_lib.serving.store import PredictionStore
from course_lib.serving.uploads import UploadError, decode_image, to_model_pixels

__all__ = [
    "Classifier",
    "KerasClassifier",
    "MicroBatcher",
    "ModelHost",
    "PredictionStore",
    "ServeConfig",
    "ServerProcess",
    "UploadError",
    "create_app",
    "create_minimal_app",
    "decode_image",
    "forking",
    "free_port",
    "load_classifier",
    "load_imagenet_classifier",
    "managed",
    "minimal",
    "start_server",
    "to_model_pixels",
    "top_k",
]
