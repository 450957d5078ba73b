"""What a lesson sees of ``course_lib``: the lessons' modules, never the maintainers' tooling.

The ``course`` command, the lesson runner and its report, the grader, the notebook builder and
the set-up doctor live in ``course_lib.tools``; ``import course_lib`` followed by the imports
the lessons make must not bring any of them into the package's namespace (``dir``, tab
completion).
"""

import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys

import pytest

from course_lib.config import project_root

TOOLS = [
    "cli",
    "doctor",
    "grading",
    "kernel",
    "links",
    "lockfile",
    "notebooks",
    "report",
    "runner",
]
# "from course_lib import a, b" or "from course_lib import (\n    a,\n    b,\n)"
IMPORT_LINE = re.compile(
    r"^\s*from course_lib(\.[\w.]+)? import (\([\w,\s]+\)|[\w, ]+)", re.MULTILINE
)


def _lesson_imports() -> set[str]:
    """Every ``from course_lib... import ...`` statement of the lessons, as module names."""
    modules = set()
    for path in sorted((project_root() / "solutions").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        for package, names in IMPORT_LINE.findall(source):
            if package:
                modules.add("course_lib" + package)
            else:
                names = names.strip("()")
                modules.update(f"course_lib.{n.strip()}" for n in names.split(",") if n.strip())
    return modules


def test_lessons_import_course_lib_modules():
    # Lesson 08 measures its own memory: course_lib.memory is the lessons', not a tool.
    expected = {"course_lib.checks", "course_lib.data", "course_lib.memory", "course_lib.plots"}
    assert expected <= _lesson_imports()


def _fresh_course_lib(modules: list[str]) -> dict[str, list[str]]:
    """``dir(course_lib)`` and the tools loaded, in a new interpreter that imports ``modules``."""
    code = (
        "import importlib, json, sys\n"
        "import course_lib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps({'dir': dir(course_lib), 'all': getattr(course_lib, '__all__', []),"
        " 'tools': sorted(m for m in sys.modules if m.startswith('course_lib.tools'))}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=project_root(),
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_package_exports_no_tooling():
    seen = _fresh_course_lib([])
    assert not set(seen["dir"] + seen["all"]) & {*TOOLS, "tools"}
    assert seen["tools"] == []


def test_lessons_imports_bring_no_tooling_into_the_package():
    # As a lesson's kernel: import course_lib, then every module the lessons import.
    seen = _fresh_course_lib(sorted(_lesson_imports()))
    assert not set(seen["dir"]) & {*TOOLS, "tools"}
    assert seen["tools"] == []


@pytest.mark.parametrize("name", TOOLS)
def test_tooling_lives_in_course_lib_tools(name):
    assert importlib.util.find_spec(f"course_lib.{name}") is None
    module = importlib.import_module(f"course_lib.tools.{name}")
    assert module.__name__ == f"course_lib.tools.{name}"


def test_course_command_runs_as_a_module_of_tools():
    done = subprocess.run(
        [sys.executable, "-m", "course_lib.tools.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project_root(),
    )
    assert done.returncode == 0, done.stderr
    assert "grade" in done.stdout and "notebooks" in done.stdout
