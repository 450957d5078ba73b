"""The lessons' code keeps the course's fixed names (docs/INSTRUCTORS.md, "Vocabulary").

A reader who met ``metadata`` in lesson 04 should not meet ``meta`` for the same thing in
lesson 05. The scan reads the solutions' code cells as Python and looks at names only, so
strings, comments and words such as ``metadata_path`` or ``started`` never trip it.
"""

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Every lesson, by number: a new lesson is held to the vocabulary too.
LESSONS = sorted(path.name[:2] for path in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))

# A banned name -> the course's word for it.
BANNED = {"meta": "metadata", "WORK": "work_dir"}
PROBS = re.compile(r"(^|_)probs$")  # probs, val_probs, ...: the course says probabilities


def _solution(lesson: str) -> Path:
    (path,) = sorted((ROOT / "solutions").glob(f"{lesson}_*.ipynb"))
    return path


def _code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    # IPython's ! and % lines are not Python; blank them, keeping line numbers.
    return ["\n".join("" if line.lstrip().startswith(("!", "%")) else line
                      for line in source.splitlines()) for source in sources]  # fmt: skip


def _is_perf_counter_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name == "perf_counter"


def vocabulary_problems(source: str) -> list[str]:
    """The banned names one piece of Python uses, each with the word to use instead."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, ast.arg):
            names.append(node.arg)
        for name in names:
            if name in BANNED:
                problems.append(f"{name} (say {BANNED[name]})")
            elif PROBS.search(name):
                better = PROBS.sub(r"\1probabilities", name)
                problems.append(f"{name} (say {better})")
        if isinstance(node, ast.Assign) and _is_perf_counter_call(node.value):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == "start":
                    problems.append("start = time.perf_counter() (say started)")
    return problems


def test_the_scan_finds_each_banned_variant_and_nothing_else():
    bad = (
        "import time\n"
        "model, meta = load()\n"
        "probs = model(x)\n"
        "val_probs = probs[:10]\n"
        "WORK = make()\n"
        "start = time.perf_counter()\n"
        "def f(probs): return probs\n"
    )
    assert sorted(vocabulary_problems(bad)) == sorted(
        [
            "meta (say metadata)",
            "probs (say probabilities)",
            "val_probs (say val_probabilities)",
            "probs (say probabilities)",
            "WORK (say work_dir)",
            "start = time.perf_counter() (say started)",
            "probs (say probabilities)",
            "probs (say probabilities)",
        ]
    )
    good = (
        "import time\n"
        "model, metadata = load()\n"
        "probabilities = model(x)\n"
        "work_dir = make()\n"
        "started = time.perf_counter()\n"
        "start = names.index('block6a')\n"  # a position, not a time
        "print('probs, meta and WORK in a string are fine')  # and in a comment: probs\n"
        "for i, v in enumerate(values, start=1): pass\n"
    )
    assert vocabulary_problems(good) == []


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_code_uses_the_course_vocabulary(lesson):
    path = _solution(lesson)
    found = {
        problem
        for number, source in enumerate(_code_cells(path))
        for problem in (f"code cell {number}: {p}" for p in vocabulary_problems(source))
    }
    assert not found, f"{path.name} uses names outside the vocabulary: {sorted(found)}"
