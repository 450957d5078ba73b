"""The Dockerfile runs what `make serve` runs, as a non-root user, with a health check (/health)."""

import json
import re
import shutil
import subprocess
import time
import uuid

import pytest

from course_lib.config import project_root
from course_lib.serving import healthcheck
from course_lib.serving.config import ServeConfig

ROOT = project_root()


def instructions():
    """(INSTRUCTION, arguments) pairs of the Dockerfile, continuations joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [tuple(line.strip().split(None, 1)) for line in joined.splitlines() if line.strip()]


def last(name):
    found = [args for instruction, args in instructions() if instruction == name]
    assert found, f"the Dockerfile has no {name}"
    return found[-1]


def make_serve_command():
    """The command of the Makefile's serve recipe, with $(PY) as plain python."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^serve:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE).group(1)
    (line,) = [r.strip() for r in recipe.splitlines() if r.strip()]
    return line.replace("$(PY)", "python").split()


def test_container_command_is_what_make_serve_runs():
    assert json.loads(last("CMD")) == make_serve_command() == ["python", "-m", "course_lib.serving"]


def test_image_is_slim_runs_as_a_user_and_checks_health():
    assert re.fullmatch(r"python:3\.1[1-9]-slim", last("FROM"))
    assert last("USER") not in ("root", "0")
    health = last("HEALTHCHECK")
    assert "--start-period=" in health
    assert json.loads(health.split("CMD", 1)[1]) == [
        "python",
        "-m",
        "course_lib.serving.healthcheck",
    ]


def test_container_settings_are_valid_service_settings_once_given_a_token():
    env = dict(
        re.findall(
            r"(COURSE_SERVE_\w+)=(\S+)", " ".join(args for i, args in instructions() if i == "ENV")
        )
    )
    assert "COURSE_SERVE_TOKEN" not in env  # a secret is never baked into an image
    with pytest.raises(ValueError, match="set COURSE_SERVE_TOKEN"):
        ServeConfig.from_env(env)  # every interface, no token: the container refuses to start
    config = ServeConfig.from_env(env | {"COURSE_SERVE_TOKEN": "from docker run -e"})
    assert config.model == "imagenet" and str(config.db) == "/data/predictions.sqlite3"
    assert config.port == 8000 and f"EXPOSE {config.port}" in " ".join(
        " ".join(i) for i in instructions()
    )
    # everything else as `make serve` has it
    defaults = ServeConfig()
    assert (config.workers, config.threads, config.timeout_s, config.runtime) == (
        defaults.workers,
        defaults.threads,
        defaults.timeout_s,
        defaults.runtime,
    )


def test_dockerignore_keeps_the_environment_and_build_out_of_the_image():
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", "build", ".git"} <= set(ignored)
    copied = [args.split()[0] for i, args in instructions() if i == "COPY"]
    assert all(not any(path.startswith(x) for x in (".venv", "build")) for path in copied)


def test_healthcheck_is_unhealthy_when_nothing_listens():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free now, and nothing will listen on it
    started = time.monotonic()
    assert healthcheck.healthy(port, timeout=2) is False
    assert time.monotonic() - started < 5


def docker_works():
    """A docker client and a daemon it can reach."""
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not docker_works(), reason="no docker daemon here")
def test_image_builds_and_answers_health():
    tag = f"course-serve-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "build", "-t", tag, str(ROOT)], check=True, timeout=1800)
    container = subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--rm",
            "-p",
            "127.0.0.1::8000",
            "-e",
            f"COURSE_SERVE_TOKEN={uuid.uuid4().hex}",
            tag,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    try:
        port = (
            subprocess.run(
                ["docker", "port", container, "8000"],
                check=True,
                capture_output=True,
                text=True,
                timeout=30,
            )
            .stdout.strip()
            .rsplit(":", 1)[1]
        )
        deadline = time.monotonic() + 300
        while not healthcheck.healthy(int(port)) and time.monotonic() < deadline:
            time.sleep(2)
        assert healthcheck.healthy(int(port))
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, timeout=60)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=120)
