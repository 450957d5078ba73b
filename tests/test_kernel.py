"""`course kernel` registers the course's kernel, quiet about TensorFlow, leaving nothing behind."""

import json
import sys
import tempfile

from course_lib.config import KERNEL_NAME
from course_lib.tools import kernel


def test_the_kernel_is_installed_under_the_prefix_with_quiet_tensorflow_and_no_fd_capture(
    tmp_path,
):
    folder = kernel.install(prefix=str(tmp_path / "env"))
    assert folder == tmp_path / "env" / "share" / "jupyter" / "kernels" / KERNEL_NAME
    spec = json.loads((folder / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable
    assert spec["argv"].count("--IPKernelApp.capture_fd_output=False") == 1
    assert spec["env"]["TF_CPP_MIN_LOG_LEVEL"] == "2"


def test_installing_twice_leaves_nothing_in_the_temporary_folder(tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    kernel.install(prefix=str(tmp_path / "env"))
    folder = kernel.install(prefix=str(tmp_path / "env"))
    assert list(scratch.iterdir()) == []
    assert tempfile.gettempdir() == str(scratch)  # the setting it found is put back
    spec = json.loads((folder / "kernel.json").read_text())
    assert spec["argv"].count("--IPKernelApp.capture_fd_output=False") == 1
