"""Peak memory and wall time of every lesson, on two cores and on one (full mode).

Writes ``bench/results/memory.md`` and, beside it, ``memory.json``, which keeps the
figures of both runs so that they can be taken at different times:

    python bench/bench_memory.py              # two cores (what `make bench` runs)
    python bench/bench_memory.py --one-core   # one core
    python bench/bench_memory.py --both       # one after the other
    python bench/bench_memory.py 01 05        # only these lessons (numbers or paths)

Each run replaces only its own figures (its core count, its lessons) and the
Markdown is rebuilt from the JSON, with the course's goals judged on what is
there: each lesson within 1.5 GB; on one core each lesson within 10 minutes and
the whole course within 30. Lessons are executed by ``course_lib.tools.runner``, as
``make course`` executes them. The core count is set with the CPU affinity of this
process, which the lessons' kernels and everything they start inherit.

With ``COURSE_FAST=1`` (a quick check of the script itself) the figures go to
``build/bench-fast/`` instead, unless ``--results`` says otherwise. Not part of the
test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_lib import config, memory  # noqa: E402

SETS = {"2 cores": 2, "1 core": 1}
LESSON_MINUTES_ONE_CORE = 10  # goals of the course on one core
COURSE_MINUTES_ONE_CORE = 30


def lessons_dir() -> Path:
    return ROOT / "solutions"


def all_lessons() -> list[Path]:
    return sorted(lessons_dir().glob("[0-9][0-9]_*.ipynb"))


def select_lessons(names: list[str]) -> list[Path]:
    """Lessons named by number (``05``, ``5``) or path; all of them when none is named."""
    if not names:
        return all_lessons()
    chosen = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb":
            if not path.is_file():
                sys.exit(f"no such notebook: {name}")
            chosen.append(path)
            continue
        found = (
            [p for p in all_lessons() if p.name.startswith(f"{int(name):02d}_")]
            if name.isdigit()
            else []
        )
        if not found:
            sys.exit(f"no lesson numbered {name!r} in {lessons_dir()}")
        chosen += found
    return chosen


def pin_to(count: int) -> list[int]:
    """Restrict this process (and the kernels it will start) to its first ``count`` CPUs."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < count:
        sys.exit(f"this measurement needs {count} CPUs; only {len(available)} available")
    os.sched_setaffinity(0, available[:count])
    return available[:count]


def machine_facts(cpus: list[int]) -> dict[str, Any]:
    import psutil

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    limit = memory.container_limit_bytes()
    return {
        "cpus_used": cpus,
        "cpus_online": os.cpu_count() or 1,
        "cpu_model": model or platform.processor() or platform.machine(),
        "memory_bytes": psutil.virtual_memory().total,
        "container_limit_bytes": limit,
        "platform": f"{platform.system()} {platform.machine()}",
        "load_average_at_end": round(os.getloadavg()[0], 2),
    }


def measure(label: str, lessons: list[Path], results: Path) -> dict[str, Any]:
    """Execute ``lessons`` on the cores of ``label``; merge their figures into ``memory.json``."""
    from course_lib.tools import report, runner

    cpus = pin_to(SETS[label])
    tag = label.replace(" ", "-")
    print(f"{label} (CPUs {cpus}), {runner.mode()} mode: {len(lessons)} lesson(s)", flush=True)
    runs = runner.run_lessons(
        lessons,
        config.build_dir() / "bench" / tag / "executed",
        log_dir=config.build_dir() / "bench" / tag / "logs",
    )
    env = report.Environment.current(runner.mode(), ROOT)
    facts = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "fast" if config.is_fast() else "full",
        "commit": env.commit,
        "versions": env.versions,
        "machine": machine_facts(cpus),
    }
    data = merge(load(results), label, runs, facts)
    save(data, results)
    return data


def merge(
    data: dict[str, Any], label: str, runs: list[Any], facts: dict[str, Any]
) -> dict[str, Any]:
    """Put ``runs`` (``runner.LessonRun``) into the set ``label``; other sets and lessons stay."""
    entry = data["sets"].setdefault(label, {"lessons": {}})
    entry.update(facts)
    for run in runs:
        entry["lessons"][run.lesson] = {
            "ok": run.ok,
            "error": run.error,
            "seconds": round(run.seconds, 1),
            "peak_bytes": run.peak.bytes if run.peak else None,
            "memory_kind": run.peak.kind if run.peak else None,
            "processes": run.peak.processes if run.peak else None,
        }
    return data


def load(results: Path) -> dict[str, Any]:
    path = results / "memory.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return {"budget_bytes": memory.BUDGET_BYTES, "sets": {}}


def save(data: dict[str, Any], results: Path) -> None:
    results.mkdir(parents=True, exist_ok=True)
    (results / "memory.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    (results / "memory.md").write_text(
        render(data, [p.stem for p in all_lessons()]), encoding="utf-8"
    )


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _peak(figures: dict[str, Any] | None) -> str:
    if not figures or figures.get("peak_bytes") is None:
        return "-"
    shown = f"{figures['peak_bytes'] / memory.GB:.2f} GB" + (
        " (RSS)" if figures["memory_kind"] == "rss" else ""
    )
    return shown + ("" if figures["ok"] else " FAILED")


def _time(figures: dict[str, Any] | None) -> str:
    if not figures:
        return "-"
    return _minutes(figures["seconds"]) + ("" if figures["ok"] else " FAILED")


def _unjudged(missing: list[str], failed: list[str]) -> str:
    reasons = [
        f"{', '.join(missing)} not measured" if missing else "",
        f"{', '.join(failed)} failed (their figures stop where they failed)" if failed else "",
    ]
    return "; ".join(filter(None, reasons))


def goals(data: dict[str, Any], lessons: list[str]) -> list[tuple[str, str]]:
    """Each goal of the course and whether the figures in ``data`` meet it."""
    budget = data.get("budget_bytes", memory.BUDGET_BYTES)
    sets = data["sets"]
    judged = []

    peaks: dict[str, float] = {}
    failed = set()
    for entry in sets.values():
        for lesson, figures in entry["lessons"].items():
            if figures["peak_bytes"] is not None:
                peaks[lesson] = max(peaks.get(lesson, 0), figures["peak_bytes"])
            if not figures["ok"]:
                failed.add(lesson)
    over = {lesson: peak for lesson, peak in peaks.items() if peak > budget}
    missing = [lesson for lesson in lessons if lesson not in peaks]
    goal = f"each lesson ≤ {memory.gb_label(budget)} (on 2 cores and on 1)"
    if over:
        named = ", ".join(
            f"{lesson} ({peak / memory.GB:.2f} GB)" for lesson, peak in sorted(over.items())
        )
        judged.append((goal, f"**not met**: {named}"))
    elif missing or failed:
        judged.append((goal, "not judged: " + _unjudged(missing, sorted(failed))))
    else:
        top = max(peaks, key=peaks.__getitem__)
        judged.append((goal, f"met: highest {peaks[top] / memory.GB:.2f} GB ({top})"))

    one = sets.get("1 core", {"lessons": {}})["lessons"]
    missing = [lesson for lesson in lessons if lesson not in one]
    broken = sorted(lesson for lesson, figures in one.items() if not figures["ok"])
    goal = f"on 1 core, each lesson ≤ {LESSON_MINUTES_ONE_CORE} min"
    slow = {
        lesson: f["seconds"]
        for lesson, f in one.items()
        if f["seconds"] > LESSON_MINUTES_ONE_CORE * 60
    }
    if slow:
        named = ", ".join(f"{lesson} ({_minutes(s)})" for lesson, s in sorted(slow.items()))
        judged.append((goal, f"**not met**: {named}"))
    elif missing or broken:
        judged.append((goal, "not judged: " + _unjudged(missing, broken)))
    else:
        top = max(one, key=lambda lesson: one[lesson]["seconds"])
        judged.append((goal, f"met: longest {_minutes(one[top]['seconds'])} ({top})"))

    goal = f"on 1 core, the whole course ≤ {COURSE_MINUTES_ONE_CORE} min"
    total = sum(one[lesson]["seconds"] for lesson in lessons if lesson in one)
    if total > COURSE_MINUTES_ONE_CORE * 60:
        judged.append(
            (
                goal,
                f"**not met**: {_minutes(total)}"
                + (" already, with lessons missing" if missing else ""),
            )
        )
    elif missing or broken:
        judged.append(
            (goal, f"not judged: {_minutes(total)} for the {len(one)} lesson(s) measured")
        )
    else:
        judged.append((goal, f"met: {_minutes(total)}"))
    return judged


def render(data: dict[str, Any], lessons: list[str]) -> str:
    """``memory.md``: the per-lesson table, the goals and where the figures come from."""
    sets = data["sets"]
    two = sets.get("2 cores", {}).get("lessons", {})
    one = sets.get("1 core", {}).get("lessons", {})
    modes = {entry["mode"] for entry in sets.values()}
    names = lessons + sorted((set(two) | set(one)) - set(lessons))
    lines = [
        "# Memory and time per lesson",
        "",
        "Each lesson executed by the course's runner (`bench/bench_memory.py`, as `make course`"
        " executes it)"
        + (
            " in **fast mode (COURSE_FAST=1): not the course's figures**."
            if "fast" in modes
            else " in full mode."
        ),
        "Peak memory is the summed PSS of the lesson's kernel and of every process it starts"
        " (servers,",
        "workers), sampled every quarter of a second; time is the lesson's wall time, kernel start"
        " included.",
        "On 1 core the runner and everything it starts are pinned to a single CPU.",
        "",
        "| lesson | peak, 2 cores | time, 2 cores | peak, 1 core | time, 1 core |",
        "|---|---:|---:|---:|---:|",
    ]
    for lesson in names:
        lines.append(
            f"| {lesson} | {_peak(two.get(lesson))} | {_time(two.get(lesson))} | "
            f"{_peak(one.get(lesson))} | {_time(one.get(lesson))} |"
        )
    totals = [
        _minutes(sum(f["seconds"] for f in figures.values())) if figures else "-"
        for figures in (two, one)
    ]
    lines.append(f"| **all lessons** | | {totals[0]} | | {totals[1]} |")
    lines += ["", "## Goals", "", "| goal | result |", "|---|---|"]
    lines += [f"| {goal} | {result} |" for goal, result in goals(data, lessons)]
    lines += ["", "## Where and when", ""]
    for label in SETS:
        entry = sets.get(label)
        if not entry:
            lines.append(
                f"- {label}: not measured yet (`python bench/bench_memory.py"
                + (" --one-core`)" if label == "1 core" else "`)")
            )
            continue
        m = entry["machine"]
        limit = m["container_limit_bytes"]
        load = m["load_average_at_end"]
        lines.append(
            f"- {label}: {entry['date']}, {entry['mode']} mode"
            + (f", commit `{entry['commit']}`" if entry.get("commit") else "")
            + f"; CPUs {m['cpus_used']} of {m['cpus_online']} ({m['cpu_model']}), "
            f"{m['memory_bytes'] / 2**30:.0f} GiB RAM, "
            + (
                f"container limit {limit / memory.GB:.1f} GB"
                if limit
                else "no container memory limit"
            )
            + f", {m['platform']}; load average at the end {load:.1f}"
            + (
                " (other processes were competing for the CPUs: times are inflated)"
                if load > m["cpus_online"]
                else ""
            )
        )
        lines.append(
            "  - " + ", ".join(f"{k} {v}" for k, v in entry["versions"].items() if k != "platform")
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "lessons", nargs="*", help="lesson numbers (01 05) or notebook paths; default: all"
    )
    cores = parser.add_mutually_exclusive_group()
    cores.add_argument("--one-core", action="store_true", help="measure on one core (default: two)")
    cores.add_argument("--both", action="store_true", help="measure on two cores, then on one")
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="folder of memory.md and memory.json (default: bench/results, "
        "or build/bench-fast with COURSE_FAST=1)",
    )
    args = parser.parse_args(argv)
    results = args.results or (
        config.build_dir() / "bench-fast" if config.is_fast() else ROOT / "bench" / "results"
    )
    lessons = select_lessons(args.lessons)
    if args.both:
        # each core count in a fresh process: threads started by the first run keep its CPUs
        passed = [*args.lessons, "--results", str(results)]
        for extra in ([], ["--one-core"]):
            done = subprocess.run([sys.executable, __file__, *passed, *extra], check=False)
            if done.returncode:
                return done.returncode
        return 0
    measure("1 core" if args.one_core else "2 cores", lessons, results)
    print(f"\nwrote {results / 'memory.md'} and {results / 'memory.json'}")
    print((results / "memory.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
