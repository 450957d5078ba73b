"""Shared by the Binder and Colab simulations: fresh venvs, a dataset mirror, a lesson run.

Both build a virtual environment from scratch, serve Fashion-MNIST from a ``file://``
mirror the test writes, and run lesson 01's student notebook in fast mode on the new
environment's own Jupyter kernel, registered in that environment and found through a
temporary Jupyter data folder: the user's kernels are never read or written.

The environment itself and what the platform installs before the course's own steps
(Binder's pinned packages, Colab's TensorFlow) are installed with uv: the same packages
and versions from the same indexes as pip, in seconds rather than minutes, from uv's
cache after the first run.
What the course's own files run (postBuild, the Colab cell) runs with pip, as there.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_lib import downloads
from course_lib.config import KERNEL_NAME, project_root
from course_lib.tools import lockfile
from course_lib.tools.pip_indexes import configured_uv_index_options

ROOT = project_root()
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
# Neither Binder nor Colab has Debian's dataset package: hide it from every Python of the
# new environment, so the data really comes through the downloader and the mirror.
_HIDE_DEBIAN = """\
try:
    import course_lib.data
except ImportError:  # before postBuild has installed the course package
    pass
else:
    course_lib.data.DEBIAN_FASHION_MNIST_DIR = course_lib.data.Path("/nonexistent/fashion-mnist")
"""
# Runs a notebook the way Jupyter's "Run all" does: cells tagged raises-exception (the
# student's unfinished exercises) may fail, any other error stops the run.
_RUN_NOTEBOOK = """\
import sys
import nbclient, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
nbclient.NotebookClient(nb, kernel_name=sys.argv[3], timeout=600,
                        resources={"metadata": {"path": sys.argv[4]}}).execute()
nbformat.write(nb, sys.argv[2])
"""


def require_reference_platform_and_data() -> None:
    if not lockfile.is_reference_platform():
        pytest.skip(f"the pins are for {lockfile.REFERENCE_PLATFORM}")
    if not all(
        (DEBIAN_FASHION_MNIST / f).is_file() for f in downloads.SOURCES["fashion-mnist"].files
    ):
        pytest.skip("needs Debian's dataset-fashion-mnist (make setup installs it as root)")


def copy_checkout(dest: Path) -> Path:
    """The course as a fresh clone has it: no venv, build output, caches or git folder."""
    shutil.copytree(
        ROOT,
        dest,
        ignore=shutil.ignore_patterns(
            ".venv",
            "build",
            ".git",
            "__pycache__",
            "*.egg-info",
            ".ipynb_checkpoints",
            ".pytest_cache",
            ".ruff_cache",
        ),
    )
    return dest


def write_mirror(folder: Path) -> Path:
    """A ``COURSE_MIRROR`` folder: the real Fashion-MNIST files from Debian's package. They
    are gzip files whose decompressed bytes are what downloads.SOURCES checksums."""
    target = folder / "fashion-mnist"
    target.mkdir(parents=True)
    for name in downloads.SOURCES["fashion-mnist"].files:
        shutil.copyfile(DEBIAN_FASHION_MNIST / name, target / name)
    return folder


def _uv() -> str:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.skip("needs uv (the dev extra installs it)")
    return uv


# unsafe-best-match: like pip, the best version across all indexes, not the first index's.
def _uv_indexes() -> list[str]:
    return ["--index-strategy", "unsafe-best-match", *configured_uv_index_options()]


def new_venv(path: Path) -> Path:
    """A virtual environment with this Python's base interpreter and the current pip,
    setuptools and wheel (as Binder's conda and Colab have them, newer than the pip that
    ``python -m venv`` bundles); returns its python."""
    subprocess.run(
        [_uv(), "venv", "--quiet", "--seed", "--python", sys._base_executable, *_uv_indexes()]
        + [str(path)],
        check=True,
        timeout=300,
    )
    return path / "bin" / "python"


def preinstall(python: Path, requirements: list[str], env: dict[str, str], cwd: Path) -> None:
    """Install ``requirements`` into ``python``'s environment, as the platform would."""
    run(
        [_uv(), "pip", "install", "--quiet", "--python", str(python), *_uv_indexes()]
        + requirements,
        env,
        cwd,
        1200,
    )


def sandbox_env(tmp: Path, venv: Path, mirror: Path) -> dict[str, str]:
    """Environment variables of a machine where only ``venv`` and the mirror exist."""
    hide = tmp / "hide-debian"
    hide.mkdir(exist_ok=True)
    (hide / "sitecustomize.py").write_text(_HIDE_DEBIAN)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COURSE_", "JUPYTER", "PYTHON", "VIRTUAL_ENV"))
    }
    return env | {
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
        "PYTHONPATH": str(hide),
        "JUPYTER_DATA_DIR": str(tmp / "jupyter-data"),
        "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"),
        "COURSE_DATA_DIR": str(tmp / "course-data"),
        "COURSE_MIRROR": mirror.as_uri(),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        # pip's bytecode compilation of everything it installs (a third of the Colab cell's
        # pip time here) is not what is tested: Python compiles what the lesson imports.
        "PIP_COMPILE": "0",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def run(command: list[str], env: dict[str, str], cwd: Path, timeout: float) -> str:
    """Run ``command``; on failure, fail the test with its output. Returns stdout."""
    started, cpu = time.perf_counter(), _children_cpu()
    result = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    took = time.perf_counter() - started
    print(f"[{took:6.1f} s, CPU {_children_cpu() - cpu:5.1f} s] {' '.join(command)[:120]}")
    if result.returncode != 0:
        pytest.fail(
            f"{command} exited {result.returncode} after {took:.0f} s\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result.stdout


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def kernel_python(python: Path, env: dict[str, str], cwd: Path) -> str:
    """The interpreter that the ``image-course`` kernel seen from ``python`` runs."""
    specs = json.loads(
        run([str(python), "-m", "jupyter", "kernelspec", "list", "--json"], env, cwd, 120)
    )["kernelspecs"]
    return specs[KERNEL_NAME]["spec"]["argv"][0]


def run_student_lesson(python: Path, checkout: Path, out: Path, env: dict[str, str]) -> dict:
    """Execute ``notebooks/01_pixels.ipynb`` of ``checkout`` in fast mode on the
    environment's ``image-course`` kernel; return the executed notebook (as JSON)."""
    script = out.parent / "run_notebook.py"
    script.write_text(_RUN_NOTEBOOK)
    notebook = checkout / "notebooks" / "01_pixels.ipynb"
    run(
        [str(python), str(script), str(notebook), str(out), KERNEL_NAME, str(notebook.parent)],
        env | {"COURSE_FAST": "1"},
        checkout,
        900,
    )
    return json.loads(out.read_text(encoding="utf-8"))


def errors_outside_exercises(executed: dict) -> list[str]:
    """Error outputs of cells that are not tagged raises-exception."""
    found = []
    for cell in executed["cells"]:
        if "raises-exception" in cell["metadata"].get("tags", []):
            continue
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                found.append(f"{output['ename']}: {output['evalue']}")
    return found


def colab_cell(executed: dict) -> dict:
    return next(c for c in executed["cells"] if c.get("id") == "colab-setup")
