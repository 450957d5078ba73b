"""CI, pre-commit, Makefile, README and Binder agree with each other and with the code."""

import re
import shlex
import shutil
import subprocess
import sys
import tomllib

import nbformat
import pytest
import yaml
from nbformat.v4 import new_output
from packaging.specifiers import SpecifierSet

from course_lib import downloads
from course_lib.config import project_root
from course_lib.tools import cli, notebooks

ROOT = project_root()
WORKFLOW = yaml.safe_load((ROOT / ".github/workflows/course.yml").read_text())
README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()
PRECOMMIT = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())


def _readme_commands():
    block = re.search(r"## Two commands.*?```bash\n(.*?)```", README, re.DOTALL).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def _runs(job):
    return [step["run"].strip() for step in WORKFLOW["jobs"][job]["steps"] if "run" in step]


def _triggers():
    return WORKFLOW.get("on", WORKFLOW.get(True))  # YAML 1.1 reads a bare `on` as True


def _recipe(target):
    return re.search(rf"^{target}:.*\n((?:\t.*\n)+)", MAKEFILE, re.MULTILINE).group(1)


def test_workflow_tests_every_push_and_runs_the_course_nightly():
    triggers = _triggers()
    assert {"push", "pull_request", "schedule", "workflow_dispatch"} <= set(triggers)
    assert re.fullmatch(r"[\d*/,-]+( [\d*/,-]+){4}", triggers["schedule"][0]["cron"])
    assert (
        "push" in WORKFLOW["jobs"]["test"]["if"]
        and "pull_request" in WORKFLOW["jobs"]["test"]["if"]
    )
    assert "schedule" in WORKFLOW["jobs"]["course"]["if"]


def test_workflow_calls_the_same_make_commands_as_readme():
    assert _readme_commands() == ["make course", "make test"]
    make_steps = {job: [r for r in _runs(job) if r.startswith("make")] for job in WORKFLOW["jobs"]}
    # `latest` is the nightly `make test` on the newest releases, without the lock
    assert make_steps == {"test": ["make test"], "course": ["make course"], "latest": ["make test"]}
    assert "COURSE_FAST" not in yaml.safe_dump(WORKFLOW["jobs"]["course"]), "nightly runs in full"


def test_nightly_run_uploads_the_executed_notebooks_and_the_report():
    uploads = [
        s
        for s in WORKFLOW["jobs"]["course"]["steps"]
        if s.get("uses", "").startswith("actions/upload-artifact")
    ]
    assert len(uploads) == 1 and uploads[0]["if"] == "always()"
    paths = uploads[0]["with"]["path"].split()
    assert {"build/executed/", "build/report.md", "build/report.html"} <= set(paths)


def test_make_course_writes_the_report_that_ci_uploads():
    assert "course_lib.tools.cli run --report build/report.md" in _recipe("course")
    assert "build/report.md" in " ".join(_runs("course"))


def test_make_test_lints_code_and_notebooks_before_pytest():
    recipe = _recipe("test").splitlines()
    linted = re.search(r"^LINTED := (.*)$", MAKEFILE, re.MULTILINE).group(1).split()
    assert {"course_lib", "tests", "solutions", "notebooks"} <= set(linted)
    assert "ruff check $(LINTED)" in recipe[0] and "pytest" in recipe[1]


def test_make_grade_and_doctor_call_the_cli():
    assert 'course_lib.tools.cli grade "$(DIR)"' in _recipe("grade")
    assert "course_lib.tools.cli doctor" in _recipe("doctor")
    result = (
        subprocess.run(
            ["make", "-s", "grade"], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        if shutil.which("make")
        else None
    )
    if result is not None:
        assert result.returncode == 2 and "usage: make grade DIR=" in result.stderr


def test_precommit_strips_lints_and_checks_drift_like_make_test():
    hooks = {h["id"]: h for repo in PRECOMMIT["repos"] for h in repo["hooks"]}
    assert set(hooks) == {"nbstripout", "ruff", "ruff-format", "student-notebooks"}
    assert (
        hooks["ruff"]["entry"].startswith("ruff check") and "jupyter" in hooks["ruff"]["types_or"]
    )
    notebooks_entry = hooks["student-notebooks"]["entry"]
    assert notebooks_entry == "python -m course_lib.tools.cli notebooks --check"
    assert "--keep-id" in hooks["nbstripout"]["entry"]
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][
        "dev"
    ]
    assert {"pre-commit", "nbstripout", "ruff"} <= {re.split(r"[<>=~!]", d)[0] for d in dev}


def test_nbstripout_as_configured_agrees_with_course_strip(tmp_path):
    pytest.importorskip("nbstripout")
    nb = nbformat.read(ROOT / "solutions" / "01_pixels.ipynb", as_version=4)
    for count, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = count + 1
        cell.outputs = [new_output("stream", name="stdout", text="hello\n")]
        cell.metadata["execution"] = {"iopub.status.busy": "2025-01-01T00:00:00Z"}
        cell.metadata["papermill"] = {"duration": 1.0}
    nb.metadata["papermill"] = {"duration": 10.0}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.9"}
    path = tmp_path / "executed.ipynb"
    nbformat.write(nb, path)
    hook = next(h for r in PRECOMMIT["repos"] for h in r["hooks"] if h["id"] == "nbstripout")
    command = [sys.executable, "-m", *shlex.split(hook["entry"]), str(path)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    stripped = path.read_text(encoding="utf-8")
    assert stripped == notebooks.dumps(
        notebooks.strip_outputs(nbformat.reads(stripped, as_version=4))
    )
    assert stripped == (ROOT / "solutions" / "01_pixels.ipynb").read_text(encoding="utf-8")


def test_binder_python_satisfies_the_package_and_postbuild_uses_real_commands():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python.split("=", 1)[1] + ".0" in SpecifierSet(requires)
    commands = [
        line.split()
        for line in (ROOT / "postBuild").read_text().splitlines()
        if line.startswith("python -m course_lib.tools.cli")
    ]
    for command in commands:  # argparse exits 0 on --help only when the arguments before it parse
        with pytest.raises(SystemExit) as done:
            cli.main([*command[3:], "--help"])
        assert done.value.code == 0, command
        if command[3] == "download":
            assert set(command[4:]) <= set(downloads.SOURCES)
    assert [c[3] for c in commands] == ["kernel", "download", "doctor"]


def test_readme_has_the_binder_badge_a_run_locally_section_and_the_instructors_guide():
    assert "https://mybinder.org/badge_logo.svg" in README
    assert re.search(r"https://mybinder\.org/v2/gh/[^/\s]+/[^/\s]+/HEAD\?urlpath=lab", README)
    assert "## Run locally" in README and "course_lib.tools.cli doctor" in README
    assert "docs/INSTRUCTORS.md" in README and (ROOT / "docs" / "INSTRUCTORS.md").is_file()


def test_instructors_guide_covers_its_topics():
    guide = (ROOT / "docs" / "INSTRUCTORS.md").read_text()
    for heading in (
        "## Assign a lesson",
        "## Collect submissions",
        "## Grade",
        "## Add an exercise",
        "## Add a lesson",
        "## What CI checks",
    ):
        assert heading in guide


def _bench_memory():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_memory", ROOT / "bench" / "bench_memory.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _measured(bench, data, label, figures):
    from course_lib import memory
    from course_lib.tools.runner import LessonRun

    runs = [
        LessonRun(
            lesson,
            seconds,
            ok,
            ROOT / f"{lesson}.ipynb",
            peak=memory.Usage(int(gb * 1e9), "pss", 2),
        )
        for lesson, gb, seconds, ok in figures
    ]
    machine = {
        "cpus_used": [0],
        "cpus_online": 2,
        "cpu_model": "x",
        "memory_bytes": 24 * 2**30,
        "container_limit_bytes": None,
        "platform": "Linux x86_64",
        "load_average_at_end": 0.5,
    }
    return bench.merge(
        data,
        label,
        runs,
        {
            "date": "2026-01-02 03:04 UTC",
            "mode": "full",
            "commit": "abc",
            "versions": {"Python": "3.11.9"},
            "machine": machine,
        },
    )


def test_bench_memory_keeps_both_core_counts_and_judges_the_goals(tmp_path):
    bench = _bench_memory()
    lessons = ["01_a", "02_b"]
    data = bench.load(tmp_path)
    data = _measured(bench, data, "2 cores", [("01_a", 0.8, 60, True), ("02_b", 1.2, 300, True)])
    assert bench.goals(data, lessons)[0][1] == "met: highest 1.20 GB (02_b)"
    assert bench.goals(data, lessons)[1][1].startswith("not judged: 01_a, 02_b not measured")
    data = _measured(bench, data, "1 core", [("01_a", 0.7, 120, True), ("02_b", 1.1, 540, True)])
    assert [result for _, result in bench.goals(data, lessons)] == [
        "met: highest 1.20 GB (02_b)",
        "met: longest 9.0 min (02_b)",
        "met: 11.0 min",
    ]
    text = bench.render(data, lessons)
    assert "| 01_a | 0.80 GB | 1.0 min | 0.70 GB | 2.0 min |" in text
    assert "| **all lessons** | | 6.0 min | | 11.0 min |" in text
    # one lesson measured again on one core: it alone changes, the two-core figures stay
    data = _measured(bench, data, "1 core", [("02_b", 1.6, 700, True)])
    assert "| 02_b | 1.20 GB | 5.0 min | 1.60 GB | 11.7 min |" in bench.render(data, lessons)
    assert [result for _, result in bench.goals(data, lessons)] == [
        "**not met**: 02_b (1.60 GB)",
        "**not met**: 02_b (11.7 min)",
        "met: 13.7 min",
    ]
    bench.save(data, tmp_path)
    assert bench.load(tmp_path) == data and (tmp_path / "memory.md").read_text().startswith(
        "# Memory and time"
    )


def test_bench_memory_does_not_judge_what_failed_or_was_not_measured():
    bench = _bench_memory()
    data = _measured(
        bench,
        {"budget_bytes": 1_500_000_000, "sets": {}},
        "1 core",
        [("01_a", 0.5, 2000, True), ("02_b", 0.5, 10, False)],
    )
    results = [result for _, result in bench.goals(data, ["01_a", "02_b", "03_c"])]
    assert results[0].startswith("not judged: 03_c not measured; 02_b failed")
    assert results[1] == "**not met**: 01_a (33.3 min)"
    assert results[2] == "**not met**: 33.5 min already, with lessons missing"
    assert "| 02_b | - | - | 0.50 GB FAILED | 0.2 min FAILED |" in bench.render(
        data, ["01_a", "02_b", "03_c"]
    )


def test_bench_memory_selects_lessons_by_number():
    bench = _bench_memory()
    assert [p.name for p in bench.select_lessons(["1", "05"])] == [
        next(p.name for p in bench.all_lessons() if p.name.startswith(n)) for n in ("01_", "05_")
    ]
    assert bench.select_lessons([]) == bench.all_lessons()
