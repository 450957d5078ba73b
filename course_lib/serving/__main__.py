"""``python -m course_lib.serving``: run the service under gunicorn (what ``make serve`` does)."""

import os
import sys

from course_lib.serving.config import ServeConfig


def main() -> None:
    try:
        config = ServeConfig.from_env()  # fail here, with a clear message, on a bad variable
    except ValueError as exc:
        sys.exit(f"course_lib.serving: {exc}")
    print(
        f"Serving model {config.model!r} on http://{config.host}:{config.port} "
        f"({config.workers} worker(s) x {config.threads} threads).\n"
        "The page answers as soon as the model is loaded; Ctrl+C stops the server.",
        flush=True,
    )
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:course_lib.serving.gunicorn_conf",
        "course_lib.serving.wsgi:app",
        *sys.argv[1:],
    ]
    os.execv(sys.executable, args)


if __name__ == "__main__":
    main()
