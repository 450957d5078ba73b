"""The set-up files agree with each other and with README's two commands."""

import re
import subprocess
import sys
import tomllib

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement

from course_lib.config import project_root

ROOT = project_root()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DEPENDENCIES = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]

PLATFORMS = {
    "linux-x86_64": {"sys_platform": "linux", "platform_machine": "x86_64", "platform_system": "Linux"},
    "linux-aarch64": {"sys_platform": "linux", "platform_machine": "aarch64", "platform_system": "Linux"},
    "macos-arm64": {"sys_platform": "darwin", "platform_machine": "arm64", "platform_system": "Darwin"},
    "macos-x86_64": {"sys_platform": "darwin", "platform_machine": "x86_64", "platform_system": "Darwin"},
    "windows": {"sys_platform": "win32", "platform_machine": "AMD64", "platform_system": "Windows"},
}


def _selected(platform):
    env = default_environment() | PLATFORMS[platform]
    return [r for r in DEPENDENCIES if r.marker is None or r.marker.evaluate(env)]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_exactly_one_tensorflow_distribution_installs_on_each_platform(platform):
    names = [r.name for r in _selected(platform) if r.name.startswith("tensorflow")]
    assert len(names) == 1, names
    expected = "tensorflow-cpu" if platform in ("linux-x86_64", "windows") else "tensorflow"
    assert names == [expected]


def test_binder_environment_installs_the_same_packages_as_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_list = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    binder = {Requirement(r).name: str(Requirement(r).specifier) for r in pip_list}
    linux = {r.name: str(r.specifier) for r in _selected("linux-x86_64")}  # Binder runs on Linux x86-64
    assert binder == linux


def test_postbuild_installs_the_package_kernel_and_data():
    text = (ROOT / "postBuild").read_text()
    assert "pip install --no-deps -e ." in text
    assert "course_lib.cli kernel" in text and "course_lib.cli download" in text


def test_readme_gives_two_commands_and_ci_runs_exactly_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "make course" in readme and "make test" in readme
    ci_commands = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()
                   if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))]
    assert ci_commands == ["make test"]


def test_make_test_runs_the_whole_suite_in_fast_mode_including_student_notebooks():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE).group(1)
    assert "COURSE_FAST=1" in recipe and "pytest tests notebooks --nbval-lax" in recipe


def test_top_level_layout_is_the_documented_one():
    for name in ("notebooks", "solutions", "course_lib", "datasets", "tests", "environment.yml",
                 "README.md", "postBuild", "pyproject.toml", "Makefile", ".ci/run"):
        assert (ROOT / name).exists(), name


def test_course_cli_reports_no_drift_between_solutions_and_notebooks():
    result = subprocess.run([sys.executable, "-m", "course_lib.cli", "notebooks", "--check"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_course_cli_rejects_an_unknown_dataset_with_a_clear_message():
    result = subprocess.run([sys.executable, "-m", "course_lib.cli", "download", "imagenet"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2
    assert "unknown dataset imagenet" in result.stderr and "fashion-mnist" in result.stderr
