"""The WSGI entry point for gunicorn: ``course_lib.serving.wsgi:app``.

gunicorn imports this module in each worker process after forking (the
course's configuration never preloads the app in the master), so every worker
loads and warms up its own copy of the model, in the background: ``/health``
answers 503 until it is ready. Settings come from ``COURSE_SERVE_*``
environment variables (see :class:`~course_lib.serving.config.ServeConfig`).
"""

import logging

from course_lib.serving.app import create_app

# The service's own messages (model loaded, unexpected errors) go to gunicorn's log.
_gunicorn = logging.getLogger("gunicorn.error")
if _gunicorn.handlers:
    _service = logging.getLogger("course_lib.serving")
    _service.handlers = _gunicorn.handlers
    _service.setLevel(_gunicorn.level)
    _service.propagate = False

app = create_app()
