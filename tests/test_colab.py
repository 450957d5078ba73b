"""The student notebooks' Colab cell, run as close to Colab as this machine gets.

Colab ships its own ``tensorflow`` (the full wheel, not ``tensorflow-cpu``), Keras and
NumPy, often older than the course's lock. This test makes such an environment (an older
``tensorflow`` with the Keras and NumPy of its time), runs lesson 01's real Colab cell in
it with ``google.colab`` present (the GitHub address swapped for this checkout, the
dataset served from a ``file://`` mirror), and checks that TensorFlow, Keras and NumPy are
the same distributions at the same versions afterwards, that pip finds no broken
requirement, and that lesson 01 then runs. Select it with ``pytest -m environment``.
"""

from __future__ import annotations

import json
import time

import nbformat
import pytest
from environment_support import (
    colab_cell,
    copy_checkout,
    errors_outside_exercises,
    new_venv,
    preinstall,
    require_reference_platform_and_data,
    run,
    run_student_lesson,
    sandbox_env,
    write_mirror,
)

from course_lib import downloads
from course_lib.config import project_root
from course_lib.tools import links

pytestmark = [pytest.mark.environment, pytest.mark.timeout(1500)]

# Older than the lock on purpose, as Colab's usually are: pip must keep them, not upgrade.
COLAB_LIKE = {"tensorflow": "2.19.0", "keras": "3.10.0", "numpy": "2.0.2"}
_VERSIONS = """\
import json
from importlib import metadata
names = ("tensorflow", "tensorflow-cpu", "keras", "numpy")
found = {}
for name in names:
    try:
        found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        found[name] = None
print(json.dumps(found))
"""


_INSTALLED = """
import json
from course_lib import config, pretrained
print(json.dumps({"imagenet_classes": len(pretrained.imagenet_class_names()),
                  "build_dir": str(config.build_dir())}))
"""


def test_colab_cell_installs_the_course_around_colabs_tensorflow_and_lesson_01_runs(tmp_path):
    require_reference_platform_and_data()
    started = time.perf_counter()
    checkout = copy_checkout(tmp_path / "repo")
    venv = tmp_path / "venv"
    python = new_venv(venv)
    env = sandbox_env(tmp_path, venv, write_mirror(tmp_path / "mirror"))
    preinstall(python, [f"{n}=={v}" for n, v in COLAB_LIKE.items()], env, checkout)
    before = json.loads(run([str(python), "-c", _VERSIONS], env, checkout, 120))
    assert before == COLAB_LIKE | {"tensorflow-cpu": None}

    notebook = nbformat.read(checkout / "notebooks" / "01_pixels.ipynb", as_version=4)
    source = next(c.source for c in notebook.cells if c.get("id") == "colab-setup")
    repo = links.repository(project_root() / "pyproject.toml")
    github = f"git+https://github.com/{repo}"
    assert github in source
    cell = tmp_path / "colab_cell.py"
    cell.write_text(
        'import sys, types\nsys.modules["google.colab"] = types.ModuleType("google.colab")\n'
        + source.replace(github, checkout.as_uri())
    )
    run([str(python), str(cell)], env, checkout, 1200)

    after = json.loads(run([str(python), "-c", _VERSIONS], env, checkout, 120))
    assert after == before, "Colab's TensorFlow, Keras and NumPy are untouched"
    run([str(python), "-m", "pip", "check"], env, checkout, 120)
    cache = tmp_path / "course-data" / "fashion-mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        downloads.SOURCES["fashion-mnist"].files
    )

    run([str(python), "-m", "course_lib.tools.cli", "kernel"], env, checkout, 120)
    executed = run_student_lesson(python, checkout, tmp_path / "01_executed.ipynb", env)
    assert errors_outside_exercises(executed) == []
    assert colab_cell(executed)["outputs"] == [], "off Colab (the kernel) the cell is silent"

    # What later lessons need from a plain (non-editable) install, run from Colab's /content.
    content = tmp_path / "content"
    content.mkdir()
    found = json.loads(
        run([str(python), "-c", _INSTALLED], env, content, 300).strip().splitlines()[-1]
    )
    assert found["imagenet_classes"] == 1000, "the ImageNet class names ship with the package"
    assert found["build_dir"] == str(content / "build"), (
        "outputs go beside the notebooks, not into site-packages"
    )
    print(f"Colab simulation: {time.perf_counter() - started:.0f} s")
