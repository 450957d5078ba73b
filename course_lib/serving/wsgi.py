"""The WSGI entry point for gunicorn: ``course_lib.serving.wsgi:app``.

gunicorn imports this module in each worker process after forking (the
course's configuration never preloads the app in the master), so every worker
loads and warms up its own copy of the model, in the background: ``/health``
answers 503 until it is ready. Settings come from ``COURSE_SERVE_*``
environment variables (see :class:`~course_lib.serving.config.ServeConfig`).

``app`` is made on first access (gunicorn's and Flask's ``getattr(module, "app")``),
not on import: a program that only imports the module, such as a tool that walks the
package, starts no model loading that could outlive it.
"""

import functools
import logging
from typing import Any

from flask import Flask

from course_lib.serving.app import create_app


@functools.cache
def _app() -> Flask:
    # The service's own messages (model loaded, unexpected errors) go to gunicorn's log.
    gunicorn = logging.getLogger("gunicorn.error")
    if gunicorn.handlers:
        service = logging.getLogger("course_lib.serving")
        service.handlers = gunicorn.handlers
        service.setLevel(gunicorn.level)
        service.propagate = False
    return create_app()


def __getattr__(name: str) -> Any:
    if name == "app":
        return _app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
