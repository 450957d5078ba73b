"""Where `make test`'s pytest spends its time: the suite as `make test` runs it, summed per group.

    python bench/bench_tests.py                 # the suite (fast mode, two workers), summarised
    python bench/bench_tests.py --workers 0     # one process
    python bench/bench_tests.py --junit FILE    # summarise an earlier run's JUnit report

The suite runs as `make test` runs it (`COURSE_FAST=1 pytest tests notebooks --nbval-lax -n 2`),
with a JUnit report in ``build/bench/tests.xml``. The summary prints pytest's wall time, the
load average before and after (other work on the machine slows the suite), and the seconds
summed per xdist group of ``tests/conftest.py`` (a student notebook's cells, a test file, a
lesson's solution run, a model chain), the longest first: the two workers can finish no
earlier than the longest group, nor than half of the sum. The figures go in
``bench/results/tests.md`` by hand, with what was measured beside them. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import xdist_group_of  # noqa: E402


def node_id(testcase: ET.Element) -> str:
    """The pytest node id of a JUnit test case (its file and name)."""
    classname, name = testcase.get("classname", ""), testcase.get("name", "")
    if classname.startswith("notebooks."):  # nbval: "notebooks.04_training.ipynb" + "Cell 3"
        return f"{classname.replace('.', '/', 1)}::{name}"
    parts = classname.split(".")
    return "/".join(parts[:2]) + ".py::" + "::".join([*parts[2:], name])


def group_seconds(report: Path) -> tuple[Counter[str], int]:
    """Seconds summed per xdist group, and the number of test cases."""
    seconds: Counter[str] = Counter()
    count = 0
    for testcase in ET.parse(report).getroot().iter("testcase"):
        seconds[xdist_group_of(node_id(testcase))] += float(testcase.get("time") or 0.0)
        count += 1
    return seconds, count


def run_suite(report: Path, workers: int) -> float:
    report.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "tests",
        "notebooks",
        "--nbval-lax",
        "-p",
        "no:cacheprovider",
        "-n",
        str(workers),
        "-q",
        f"--junitxml={report}",
    ]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env={**os.environ, "COURSE_FAST": "1"}, check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--junit", type=Path, help="summarise this JUnit report instead of running the suite"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="pytest-xdist workers (0: one process)"
    )
    parser.add_argument("--top", type=int, default=25, help="groups shown")
    args = parser.parse_args()
    report = args.junit or ROOT / "build" / "bench" / "tests.xml"
    if args.junit is None:
        before = os.getloadavg()[0]
        wall = run_suite(report, args.workers)
        print(
            f"\npytest wall time {wall:.0f} s with {args.workers} worker(s); "
            f"load average {before:.1f} before, {os.getloadavg()[0]:.1f} after"
        )
    seconds, count = group_seconds(report)
    total = sum(seconds.values())
    print(
        f"{count} test cases, {total:.0f} s summed over all of them; longest group "
        f"{max(seconds.values(), default=0):.0f} s\n"
    )
    print("| group | seconds | share |\n|---|---:|---:|")
    for group, value in seconds.most_common(args.top):
        print(f"| `{group}` | {value:.0f} | {value / total:.0%} |")


if __name__ == "__main__":
    main()
