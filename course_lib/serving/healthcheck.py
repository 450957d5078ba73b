"""``python -m course_lib.serving.healthcheck``: exit 0 if the local service's ``/health`` is 200.

The container's ``HEALTHCHECK`` runs it (the slim image has no curl). It asks
``127.0.0.1`` on ``COURSE_SERVE_PORT``, whatever address the service binds.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from course_lib.serving.config import ServeConfig


def healthy(port: int, timeout: float = 4.0) -> bool:
    """True when ``http://127.0.0.1:<port>/health`` answers 200 (the model is loaded and warm)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main() -> int:
    return 0 if healthy(ServeConfig.from_env().port) else 1


if __name__ == "__main__":
    sys.exit(main())
