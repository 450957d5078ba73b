"""The run report of ``make course``: ``build/report.md``, ``report.html`` and ``report.json``.

One row per lesson (ok or FAILED, wall time, peak memory, headline figure, the
other figures, what failed) under the versions of Python, TensorFlow, Keras and
NumPy that ran it, so that a nightly regression shows at a glance. A lesson whose
peak memory exceeds the course's budget (1.5 GB) is flagged, in its row and in a
line under the summary; it does not count as failed, since its figures are still
right, but it would not fit a 2 GB Binder pod.
"""

from __future__ import annotations

import html
import json
import platform
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from course_lib import memory, record
from course_lib.tools.runner import LessonRun, memory_verdict

# Installed distributions to report, first one found wins (TensorFlow has several names).
_PACKAGES = {
    "TensorFlow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos"),
    "Keras": ("keras",),
    "NumPy": ("numpy",),
}


@dataclass(frozen=True)
class Environment:
    """Where and with what a run happened."""

    when: str
    mode: str
    versions: dict[str, str]
    commit: str = ""

    @classmethod
    def current(cls, mode: str, root: Path | None = None) -> Environment:
        versions = {"Python": platform.python_version()}
        for label, names in _PACKAGES.items():
            versions[label] = next((v for v in map(_installed, names) if v), "not installed")
        versions["platform"] = f"{platform.system()} {platform.machine()}"
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return cls(when, mode, versions, _git_commit(root) if root else "")


def _installed(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def _git_commit(root: Path) -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def _figure(metric: record.Metric | None) -> str:
    return f"{metric.name} = {record._format(metric.value)}" if metric else "-"


def _row(run: LessonRun, root: Path | None) -> dict[str, str]:
    others = [m for m in run.metrics if m != run.headline]
    return {
        "lesson": run.lesson,
        "status": run.status,
        "seconds": f"{run.seconds:.1f}",
        "peak memory": run.peak_label,
        "headline": _figure(run.headline),
        "figures": "; ".join(_figure(m) for m in others) or "-",
        "problem": run.error or "",
        "notebook": _relative(run.output, root),
    }


def _relative(path: Path, root: Path | None) -> str:
    return str(path.relative_to(root) if root is not None and path.is_relative_to(root) else path)


def _memory_line(runs: list[LessonRun], bold: bool = False) -> str:
    """Under the summary: which lessons exceed the memory budget, prominently, or that none does."""
    text = memory_verdict(runs)
    text = text[0].upper() + text[1:] + "."
    if any(r.over_budget for r in runs):
        return f"**⚠ {text}**" if bold else f"⚠ {text}"
    return text


def _summary(runs: list[LessonRun]) -> str:
    failed = [r.lesson for r in runs if not r.ok]
    total = sum(r.seconds for r in runs)
    verdict = f"{len(failed)} FAILED ({', '.join(failed)})" if failed else "all ok"
    lessons = f"{len(runs)} lesson" + ("" if len(runs) == 1 else "s")
    return f"{lessons}, {verdict}, {total:.0f} s in all"


def to_markdown(runs: list[LessonRun], env: Environment, root: Path | None = None) -> str:
    """The report as GitHub-flavoured Markdown."""

    def cell(text: str) -> str:
        return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")

    versions = ", ".join(f"{k} {v}" for k, v in env.versions.items())
    lines = [
        "# Course run report",
        "",
        f"{env.when}, {env.mode} mode" + (f", commit `{env.commit}`" if env.commit else "") + ".",
        "",
        f"**{_summary(runs)}.**",
        "",
        _memory_line(runs, bold=True),
        "",
        f"Versions: {versions}.",
        "",
        "| lesson | status | seconds | peak memory | headline | other figures | problem |",
        "|---|---|---:|---:|---|---|---|",
    ]
    for run in runs:
        row = _row(run, root)
        status = row["status"] if run.ok else f"**{row['status']}**"
        peak = f"**⚠ {row['peak memory']} over budget**" if run.over_budget else row["peak memory"]
        lines.append(
            f"| {cell(row['lesson'])} | {status} | {row['seconds']} | {peak} | "
            f"{cell(row['headline'])} | {cell(row['figures'])} | {cell(row['problem'])} |"
        )
    for run in runs:
        for table in run.tables:
            lines += ["", f"## {cell(run.lesson)}: {cell(table.title)}", "", table.to_markdown()]
    return "\n".join(lines) + "\n"


def to_html(runs: list[LessonRun], env: Environment, root: Path | None = None) -> str:
    """The report as one self-contained HTML page."""
    esc = html.escape
    rows = []
    for run in runs:
        row = _row(run, root)
        colour = "#1a7f37" if run.ok else "#b42318"
        peak = esc(row["peak memory"])
        peak_cell = (
            f'<td style="text-align:right;color:#b42318;font-weight:600">⚠ {peak} over budget</td>'
            if run.over_budget
            else f'<td style="text-align:right">{peak}</td>'
        )
        rows.append(
            "<tr>" + f"<td>{esc(row['lesson'])}</td>"
            f'<td style="color:{colour};font-weight:600">{esc(row["status"])}</td>'
            f'<td style="text-align:right">{esc(row["seconds"])}</td>{peak_cell}'
            f"<td>{esc(row['headline'])}</td><td>{esc(row['figures'])}</td>"
            f"<td>{esc(row['problem'])}</td></tr>"
        )
    versions = "".join(f"<li>{esc(k)}: {esc(v)}</li>" for k, v in env.versions.items())
    tables = "".join(_html_table(run.lesson, table) for run in runs for table in run.tables)
    commit = f", commit <code>{esc(env.commit)}</code>" if env.commit else ""
    over = any(r.over_budget for r in runs)
    memory_style = ' style="color:#b42318;font-weight:600"' if over else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Course run report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}
table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}</style>
</head><body>
<h1>Course run report</h1>
<p>{esc(env.when)}, {esc(env.mode)} mode{commit}.</p>
<p><strong>{esc(_summary(runs))}.</strong></p>
<p{memory_style}>{esc(_memory_line(runs))}</p>
<table><thead><tr><th>lesson</th><th>status</th><th>seconds</th><th>peak memory</th>
<th>headline</th><th>other figures</th><th>problem</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
{tables}
<h2>Versions</h2><ul>{versions}</ul>
</body></html>
"""


def _html_table(lesson: str, table: record.Table) -> str:
    esc = html.escape

    def cell(value: object) -> str:
        return esc(record._format_cell(value))

    head = "".join(f"<th>{esc(c)}</th>" for c in table.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in table.rows
    )
    return (
        f"<h2>{esc(lesson)}: {esc(table.title)}</h2>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def to_json(runs: list[LessonRun], env: Environment, root: Path | None = None) -> str:
    """The same facts for scripts, e.g. to compare two nightly runs."""
    lessons = []
    for run in runs:
        lessons.append(
            {
                "lesson": run.lesson,
                "ok": run.ok,
                "seconds": round(run.seconds, 1),
                "headline": {"name": run.headline.name, "value": run.headline.value}
                if run.headline
                else None,
                "metrics": {m.name: m.value for m in run.metrics},
                "failed_checks": run.failed_checks,
                "error": run.error,
                "peak_memory": asdict(run.peak) if run.peak else None,
                "over_budget": run.over_budget,
                "tables": [table.payload() for table in run.tables],
                "notebook": _row(run, root)["notebook"],
                "log": _relative(run.log, root) if run.log else None,
            }
        )
    budget = runs[0].budget_bytes if runs else memory.BUDGET_BYTES
    return (
        json.dumps(
            {
                "when": env.when,
                "mode": env.mode,
                "commit": env.commit,
                "versions": env.versions,
                "memory_budget_bytes": budget,
                "over_budget": [r.lesson for r in runs if r.over_budget],
                "lessons": lessons,
            },
            indent=1,
        )
        + "\n"
    )


def write(
    runs: list[LessonRun], markdown_path: Path, env: Environment, root: Path | None = None
) -> list[Path]:
    """Write ``report.md`` and, next to it, ``report.html`` and ``report.json``."""
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    paths = [markdown_path, markdown_path.with_suffix(".html"), markdown_path.with_suffix(".json")]
    for path, render in zip(paths, (to_markdown, to_html, to_json), strict=True):
        path.write_text(render(runs, env, root), encoding="utf-8")
    return paths
