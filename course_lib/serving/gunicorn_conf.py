"""gunicorn settings for the classifier service, from ``COURSE_SERVE_*`` variables.

Use with ``gunicorn -c python:course_lib.serving.gunicorn_conf course_lib.serving.wsgi:app``
(what ``make serve`` and ``python -m course_lib.serving`` run).

- ``gthread`` workers: each worker process serves ``threads`` requests at once;
  TensorFlow releases the GIL while it computes, and the micro-batcher makes
  the model calls of one process share batches.
- No ``preload_app``: the model is loaded in each worker after the fork.
  TensorFlow is not safe to fork once it has started its thread pools, and
  each worker needs its own warmed-up copy anyway.
"""

import os
import signal
import threading
import time

from course_lib.serving.config import ServeConfig

_config = ServeConfig.from_env()

bind = f"{_config.host}:{_config.port}"
workers = _config.workers
threads = _config.threads
worker_class = "gthread"
preload_app = False
# The worker heartbeat; the model loads on a background thread, so this only
# has to cover the slowest single request.
timeout = max(60, int(_config.timeout_s * 2))
graceful_timeout = 15
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = "info"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
proc_name = "course-serve"


def when_ready(server) -> None:
    """Exit when the process that started the server (a notebook, a test) is gone.

    ``course_lib.serving.process.start_server`` sets ``COURSE_SERVE_PARENT_PID``;
    if that process dies without stopping the server, the server stops itself
    instead of holding the port forever.
    """
    parent = os.environ.get("COURSE_SERVE_PARENT_PID")
    if not parent:
        return
    parent_pid = int(parent)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                server.log.info("parent process %s is gone: stopping", parent_pid)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            except PermissionError:
                pass  # alive, owned by someone else

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
