"""Register the course's Jupyter kernel inside the current environment."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from course_lib.config import KERNEL_DISPLAY_NAME, KERNEL_NAME

# TensorFlow writes C++ start-up lines straight to file descriptor 2 before its
# own log level is read. ipykernel would copy them into every notebook as red
# stderr boxes; with fd capture off they go to the terminal running Jupyter.
KERNEL_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}
KERNEL_FLAGS = ["--IPKernelApp.capture_fd_output=False"]


def install(prefix: str | None = None) -> Path:
    """Install the kernelspec under ``prefix`` (default: this environment); return its folder."""
    from ipykernel.kernelspec import install as install_kernelspec

    # ipykernel writes the spec into a folder it makes with tempfile.mkdtemp, and removes the
    # spec afterwards but not that folder: each install would leave an empty one behind.
    with tempfile.TemporaryDirectory(prefix="course-kernel-") as scratch:
        default, tempfile.tempdir = tempfile.tempdir, scratch
        try:
            folder = Path(
                install_kernelspec(
                    kernel_name=KERNEL_NAME,
                    display_name=KERNEL_DISPLAY_NAME,
                    prefix=prefix or sys.prefix,
                    env=KERNEL_ENV,
                )
            )
        finally:
            tempfile.tempdir = default
    spec_file = folder / "kernel.json"
    spec = json.loads(spec_file.read_text())
    spec["argv"] = [arg for arg in spec["argv"] if arg not in KERNEL_FLAGS] + KERNEL_FLAGS
    spec_file.write_text(json.dumps(spec, indent=1) + "\n")
    return folder
