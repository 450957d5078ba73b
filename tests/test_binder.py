"""Binder's build, simulated as far as this machine can: everything but conda.

Binder (repo2docker) makes a conda environment with Python 3.11 and pip, pip-installs the
pinned list of ``environment.yml``, then runs ``postBuild``. Here a fresh venv stands for
the conda layer and the pins are installed into it (with uv, quickly; see
environment_support); the rest is Binder's own steps on a copy of the checkout:
``postBuild`` itself (the course package without dependencies, the kernel, the dataset
download from a ``file://`` mirror, ``course doctor``), then lesson 01 as a student opens
it, on that environment's kernel. Select it with ``pytest -m environment``.
"""

from __future__ import annotations

import time

import pytest
from environment_support import (
    ROOT,
    colab_cell,
    copy_checkout,
    errors_outside_exercises,
    kernel_python,
    new_venv,
    preinstall,
    require_reference_platform_and_data,
    run,
    run_student_lesson,
    sandbox_env,
    write_mirror,
)

from course_lib import downloads
from course_lib.tools import lockfile

pytestmark = [pytest.mark.environment, pytest.mark.timeout(1500)]


def test_binder_build_installs_the_pins_runs_postbuild_and_lesson_01(tmp_path):
    require_reference_platform_and_data()
    started = time.perf_counter()
    checkout = copy_checkout(tmp_path / "repo")
    venv = tmp_path / "venv"
    python = new_venv(venv)
    env = sandbox_env(tmp_path, venv, write_mirror(tmp_path / "mirror"))

    pins = lockfile.binder_pins(ROOT / "environment.yml")
    preinstall(python, [f"{name}=={version}" for name, version in pins.items()], env, checkout)
    run(["bash", "postBuild"], env, checkout, 600)

    # postBuild downloaded every file through the mirror into the course cache, checked.
    cache = tmp_path / "course-data" / "fashion-mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        downloads.SOURCES["fashion-mnist"].files
    )
    # The kernel is this environment's, registered inside it, not in the user's folders.
    assert kernel_python(python, env, checkout) == str(python)
    assert not (tmp_path / "jupyter-data" / "kernels").exists()
    # pip left the pinned versions alone: --no-deps installed only the course package.
    installed = run(
        [str(python), "-m", "pip", "freeze", "--all", "--exclude-editable"], env, checkout, 120
    )
    assert {
        n: v for n, v in lockfile.read_pins(installed.splitlines()).items() if n in pins
    } == pins
    run([str(python), "-m", "pip", "check"], env, checkout, 120)  # pip's view: nothing missing

    executed = run_student_lesson(python, checkout, tmp_path / "01_executed.ipynb", env)
    assert errors_outside_exercises(executed) == []
    assert colab_cell(executed)["outputs"] == [], "the Colab cell is silent off Colab"
    print(f"Binder simulation: {time.perf_counter() - started:.0f} s")
