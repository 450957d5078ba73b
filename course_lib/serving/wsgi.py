"""The WSGI entry point for gunicorn: ``course_lib.serving.wsgi:app``.

gunicorn imports this module in each worker process after forking (the
course's configuration never preloads the app in the master), so every worker
loads and warms up its own copy of the model, in the background: ``/health``
answers 503 until it is ready. Settings come from ``COURSE_SERVE_*``
environment variables (see :class:`~course_lib.serving.config.ServeConfig`).
"""

from course_lib.serving.app import create_app

app = create_app()
