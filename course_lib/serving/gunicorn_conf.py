"""gunicorn settings for the classifier service, from ``COURSE_SERVE_*`` variables.

Use with ``gunicorn -c python:course_lib.serving.gunicorn_conf course_lib.serving.wsgi:app``
(what ``make serve`` and ``python -m course_lib.serving`` run).

- ``gthread`` workers: each worker process serves ``threads`` requests at once;
  TensorFlow releases the GIL while it computes, and the micro-batcher makes
  the model calls of one process share batches.
- No ``preload_app``: the model is loaded in each worker after the fork.
  TensorFlow is not safe to fork once it has started its thread pools, and
  each worker needs its own warmed-up copy anyway.
- A client that stops sending a request's body is answered 408 after ``timeout_s``
  (:func:`pre_request`).
- A worker starts without the modules Keras would import for features the service never
  uses (:func:`post_fork`).
- A worker that has stopped serving ends at once (:func:`worker_exit`), without
  Python's slow teardown of TensorFlow.
"""

import logging
import os
import signal
import sqlite3
import sys
import threading
import time

from course_lib.serving.config import ServeConfig
from course_lib.serving.process import skip_unused_imports

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


def pre_request(worker, req) -> None:
    """A request's body must keep arriving: a client silent for ``timeout_s`` frees its thread.

    gunicorn otherwise reads a body for as long as the connection stays open, so a client
    that announced more bytes than it sends (a wrong Content-Length, a stalled upload) would
    hold one of the worker's threads for good; the service answers it 408.
    """
    sock = getattr(req.unreader, "sock", None)
    if sock is not None:
        sock.settimeout(_config.timeout_s)


def post_fork(server, worker) -> None:
    """In each new worker, before it loads the app: no imports the service never uses."""
    skip_unused_imports()


def worker_exit(server, worker) -> None:
    """A worker that served and stops normally ends here, without Python's teardown.

    gunicorn calls this in the worker once it has finished its requests and closed its
    sockets (and in the master for each worker it reaps: nothing to do there). Python's
    teardown would take TensorFlow's and Keras' objects apart one by one, seconds of work
    for a process about to end. Every prediction is already committed; one checkpoint
    copies the log into the database file, as the last connection's close would.
    """
    exiting = sys.exc_info()[1]
    normal = isinstance(exiting, SystemExit) and exiting.code in (0, None)
    if worker.pid != os.getpid() or not worker.booted or not normal:
        return
    try:
        conn = sqlite3.connect(_config.db, timeout=5)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    except sqlite3.Error:  # the next process to open the file copies what is left
        pass
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
