"""Starting and stopping a real server from Python: notebooks, tests and benchmarks.

:func:`start_server` runs gunicorn in its own process group on 127.0.0.1 and
waits until ``/health`` says the model is warm. :meth:`ServerProcess.stop`
stops the whole group (master and workers) by its id. The server also stops
by itself if the Python process that started it dies, and at interpreter exit.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_lib import config as course_config
from course_lib import processes
from course_lib.serving.config import ServeConfig

GUNICORN_CONF = "python:course_lib.serving.gunicorn_conf"
POSIX = processes.POSIX
# What Keras imports when it finds it installed, for features a process that only runs a model
# never uses: its scikit-learn wrapper, pandas inputs to fit(), matplotlib's image gallery.
UNUSED_BY_SERVERS = ("sklearn", "pandas", "matplotlib")


def skip_unused_imports(names: tuple[str, ...] = UNUSED_BY_SERVERS) -> None:
    """Mark ``names`` as not installed in this process, unless it has imported them already.

    For processes that load and run a model and nothing else (gunicorn's workers, the fork
    experiment): Keras then starts without them, about a second sooner.
    """
    for name in names:
        sys.modules.setdefault(name, None)


def server_command(app: str, config: ServeConfig) -> list[str]:
    """The command that serves ``app``: gunicorn, or Flask's own server where gunicorn cannot run.

    gunicorn needs a POSIX system. On Windows the lessons fall back to Flask's
    development server, threaded and without debug mode, which is fine for one
    person on one machine and nothing more.
    """
    if importlib.util.find_spec("gunicorn") is not None and POSIX:
        return [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONF, app]
    return [
        sys.executable,
        "-m",
        "flask",
        "--app",
        app,
        "run",
        "--host",
        config.host,
        "--port",
        str(config.port),
        "--with-threads",
        "--no-reload",
        "--no-debugger",
    ]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    """A gunicorn server started by :func:`start_server`."""

    process: subprocess.Popen
    url: str
    log_path: Path
    _stopped: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log (gunicorn's and the app's messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_until_ready(self, timeout: float = 180.0, workers: int = 1) -> dict[str, Any]:
        """Poll ``/health`` until ``workers`` processes answer 200; returns the last JSON body.

        Each gunicorn worker loads its own model, so one worker can be ready while
        another is still loading. Polls use fresh connections, which the kernel
        hands to whichever worker is free; after the first 200, twenty answers in
        a row without a 503 also count as everyone being ready.
        """
        import requests

        deadline = time.monotonic() + timeout
        last, ready, streak = "no answer yet", set(), 0
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(
                    f"the server exited (code {self.process.returncode}):\n{self.log_tail()}"
                )
            try:
                response = requests.get(
                    f"{self.url}/health", timeout=5, headers={"Connection": "close"}
                )
                body = response.json()
                if response.status_code == 200:
                    ready.add(body.get("worker"))
                    streak += 1
                    if len(ready) >= workers or streak >= 20:
                        return body
                    continue
                streak = 0
                if body.get("status") == "failed":
                    raise RuntimeError(f"the server could not load its model: {body.get('error')}")
                last = f"{response.status_code} {body.get('status')}"
            except requests.RequestException as exc:
                last = type(exc).__name__
            time.sleep(0.25)
        raise TimeoutError(
            f"the server was not ready after {timeout:.0f} s ({last}):\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 15.0) -> int | None:
        """Stop gunicorn's process group (gracefully, then by force); returns the exit code."""
        if self._stopped:
            return self.process.returncode
        self._stopped = True
        # Without process groups (Windows) the development server is a single process.
        return processes.stop_group(self.process, timeout)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_server(
    config: ServeConfig | None = None,
    *,
    app: str = "course_lib.serving.wsgi:app",
    env: dict[str, str] | None = None,
    log_path: str | Path | None = None,
    wait: bool = True,
    timeout: float = 180.0,
) -> ServerProcess:
    """Run the service under gunicorn in the background and return a handle to it.

    (On Windows, where gunicorn does not run, under Flask's server: see :func:`server_command`.)

    ``config`` defaults to the environment's settings on a free port of 127.0.0.1.
    The process inherits this one's environment plus ``config``'s ``COURSE_SERVE_*``
    variables and ``env``. With ``wait`` it returns once ``/health`` is 200.
    """
    config = config or ServeConfig.from_env(host="127.0.0.1", port=free_port())
    child_env = {**os.environ, **config.as_env(), **(env or {})}
    root = str(course_config.project_root())
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (root, child_env.get("PYTHONPATH", "")) if p
    )
    child_env["COURSE_SERVE_PARENT_PID"] = str(os.getpid())
    child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if log_path is None:
        log_path = Path(tempfile.gettempdir()) / f"course-serve-{config.port}.log"
    log_path = Path(log_path)
    # Its own process group, so that stop() ends gunicorn's master and workers together.
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            server_command(app, config),
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            **processes.NEW_PROCESS_GROUP,
        )
    server = ServerProcess(process, f"http://{config.host}:{config.port}", log_path)
    atexit.register(server.stop)
    if wait:
        try:
            server.wait_until_ready(timeout, workers=config.workers)
        except BaseException:
            server.stop()
            raise
    return server
