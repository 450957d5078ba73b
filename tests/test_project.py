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
from course_lib.tools import links

ROOT = project_root()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
# What make setup and Binder install: the package, TensorFlow and JupyterLab.
DEPENDENCIES = [
    Requirement(r) for r in PYPROJECT["project"]["dependencies"] + EXTRAS["tf"] + EXTRAS["lab"]
]
REPO = links.repository(ROOT / "pyproject.toml")

PLATFORMS = {
    "linux-x86_64": {
        "sys_platform": "linux",
        "platform_machine": "x86_64",
        "platform_system": "Linux",
    },
    "linux-aarch64": {
        "sys_platform": "linux",
        "platform_machine": "aarch64",
        "platform_system": "Linux",
    },
    "macos-arm64": {
        "sys_platform": "darwin",
        "platform_machine": "arm64",
        "platform_system": "Darwin",
    },
    "macos-x86_64": {
        "sys_platform": "darwin",
        "platform_machine": "x86_64",
        "platform_system": "Darwin",
    },
    "windows": {"sys_platform": "win32", "platform_machine": "AMD64", "platform_system": "Windows"},
}


def _selected(platform):
    env = default_environment() | PLATFORMS[platform] | {"extra": ""}
    return [r for r in DEPENDENCIES if r.marker is None or r.marker.evaluate(env)]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_exactly_one_tensorflow_distribution_installs_on_each_platform(platform):
    names = [r.name for r in _selected(platform) if r.name.startswith("tensorflow")]
    assert len(names) == 1, names
    expected = "tensorflow-cpu" if platform in ("linux-x86_64", "windows") else "tensorflow"
    assert names == [expected]


def test_binder_environment_pins_every_package_pyproject_asks_for_on_linux():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_list = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    binder = {Requirement(r).name: Requirement(r) for r in pip_list}
    for req in _selected("linux-x86_64"):  # Binder runs on Linux x86-64
        pinned = binder[req.name]
        assert str(pinned.specifier).startswith("=="), pinned
        assert req.specifier.contains(next(iter(pinned.specifier)).version), (req, pinned)


def test_postbuild_installs_the_package_kernel_and_data():
    text = (ROOT / "postBuild").read_text()
    assert "pip install --no-deps -e ." in text  # the pins of environment.yml stay as they are
    assert "course_lib.tools.cli kernel" in text and "course_lib.tools.cli download" in text


def test_readme_gives_two_commands_and_ci_runs_exactly_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "make course" in readme and "make test" in readme
    ci_commands = [
        line.strip()
        for line in (ROOT / ".ci/run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))
    ]
    assert ci_commands == ["make test"]


def test_make_test_runs_the_whole_suite_in_fast_mode_including_student_notebooks():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE).group(1)
    assert "COURSE_FAST=1" in recipe and "pytest tests notebooks --nbval-lax" in recipe


def test_top_level_layout_is_the_documented_one():
    for name in (
        "notebooks",
        "solutions",
        "course_lib",
        "datasets",
        "tests",
        "environment.yml",
        "README.md",
        "postBuild",
        "pyproject.toml",
        "Makefile",
        ".ci/run",
    ):
        assert (ROOT / name).exists(), name


def test_course_cli_reports_no_drift_between_solutions_and_notebooks():
    result = subprocess.run(
        [sys.executable, "-m", "course_lib.tools.cli", "notebooks", "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_course_cli_rejects_an_unknown_dataset_with_a_clear_message():
    result = subprocess.run(
        [sys.executable, "-m", "course_lib.tools.cli", "download", "imagenet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown dataset imagenet" in result.stderr and "fashion-mnist" in result.stderr


def test_repository_setting_is_owner_slash_name_and_bad_values_are_refused(tmp_path):
    owner, name = REPO.split("/")
    assert owner and name
    for bad in ("OWNER", "a/b/c", "https://github.com/a/b", ""):
        path = tmp_path / "pyproject.toml"
        path.write_text(f'[tool.course]\nrepository = "{bad}"\n')
        with pytest.raises(ValueError, match="owner/name"):
            links.repository(path)


def test_link_formats_for_binder_colab_and_the_ci_badge():
    assert links.binder_url("me/course") == (
        "https://mybinder.org/v2/gh/me/course/HEAD?urlpath=lab/tree/notebooks/01_pixels.ipynb"
    )
    assert links.colab_url("me/course", "03_cnn_layers.ipynb") == (
        "https://colab.research.google.com/github/me/course/blob/main/notebooks/03_cnn_layers.ipynb"
    )
    assert links.actions_url("me/course") + "/badge.svg" == (
        "https://github.com/me/course/actions/workflows/course.yml/badge.svg"
    )
    assert links.pip_url("me/course") == "course-lib @ git+https://github.com/me/course"


def test_readme_badges_are_made_from_the_repository_setting():
    readme = (ROOT / "README.md").read_text()
    assert links.update_readme(readme, REPO) == readme, "run `make notebooks`"
    owner, name = (re.escape(part) for part in REPO.split("/"))
    badges = readme.split(links.BADGES_START)[1].split(links.BADGES_END)[0]
    assert re.search(
        rf"\(https://mybinder\.org/v2/gh/{owner}/{name}/HEAD\?urlpath=lab/tree/"
        rf"notebooks/01_pixels\.ipynb\)",
        badges,
    )
    assert re.search(
        rf"\(https://colab\.research\.google\.com/github/{owner}/{name}/blob/main/"
        rf"notebooks/01_pixels\.ipynb\)",
        badges,
    )
    assert re.search(
        rf"\(https://github\.com/{owner}/{name}/actions/workflows/course\.yml/"
        rf"badge\.svg\)",
        badges,
    )
    for notebook in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        linked = re.findall(
            r"https://colab\.research\.google\.com/github/[^)\s]+", notebook.read_text()
        )
        assert linked == [links.colab_url(REPO, notebook.name)], notebook.name


def test_update_readme_replaces_only_the_badge_block_and_needs_its_markers():
    text = f"# Title\n\n{links.BADGES_START}\nold\n{links.BADGES_END}\n\nBody OWNER/REPO stays.\n"
    updated = links.update_readme(text, "me/course")
    assert "old" not in updated and "mybinder.org/v2/gh/me/course/" in updated
    assert updated.endswith("\n\nBody OWNER/REPO stays.\n") and updated.startswith("# Title\n\n")
    with pytest.raises(ValueError, match="badge block"):
        links.update_readme("# no markers", "me/course")


def test_course_badges_check_passes_on_the_committed_readme():
    result = subprocess.run(
        [sys.executable, "-m", "course_lib.tools.cli", "badges", "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
