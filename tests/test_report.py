"""`make course`: its console output (progress, results, failures) and its run report."""

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_lib import memory, record
from course_lib.config import KERNEL_NAME, project_root
from course_lib.tools import report, runner
from course_lib.tools.runner import LessonRun

ENV = report.Environment(
    "2025-01-02 03:04 UTC",
    "full",
    {"Python": "3.11.9", "TensorFlow": "2.21.0", "Keras": "3.15.0"},
    "abc1234",
)


def _runs(root):
    accuracy = record.Metric("test accuracy", 0.9132)
    ok = LessonRun(
        "01_pixels",
        12.34,
        True,
        root / "build/executed/01_pixels.ipynb",
        headline=record.Metric("training images", 60000),
        metrics=[record.Metric("training images", 60000)],
        peak=memory.Usage(812_000_000, "pss", 2),
        log=root / "build/logs/01_pixels.log",
    )
    failed = LessonRun(
        "04_training",
        301.0,
        False,
        root / "build/executed/04_training.ipynb",
        headline=accuracy,
        metrics=[accuracy, record.Metric("epochs", 3, headline=False)],
        failed_checks=["4.2"],
        error="exercise checks failed: 4.2 | <b>",
        peak=memory.Usage(1_620_000_000, "pss", 3),
    )
    return [ok, failed]


def test_markdown_report_shows_status_time_figures_and_versions(tmp_path):
    text = report.to_markdown(_runs(tmp_path), ENV, tmp_path)
    assert "2025-01-02 03:04 UTC, full mode, commit `abc1234`." in text
    assert "**2 lessons, 1 FAILED (04_training), 313 s in all.**" in text
    assert "Python 3.11.9, TensorFlow 2.21.0, Keras 3.15.0" in text
    assert "| 01_pixels | ok | 12.3 | 0.81 GB | training images = 60000 | - |  |" in text
    assert (
        "| 04_training | **FAILED** | 301.0 | **⚠ 1.62 GB over budget** | test accuracy = 0.9132 | "
        "epochs = 3 | exercise checks failed: 4.2 \\| &lt;b&gt; |"
    ) in text


def test_reports_flag_lessons_over_the_memory_budget_under_the_summary(tmp_path):
    runs = _runs(tmp_path)
    line = "Over the 1.5 GB memory budget: 04_training (1.62 GB)."
    assert f"**⚠ {line}**" in report.to_markdown(runs, ENV, tmp_path)
    page = report.to_html(runs, ENV, tmp_path)
    assert f'<p style="color:#b42318;font-weight:600">⚠ {line}</p>' in page
    assert "⚠ 1.62 GB over budget</td>" in page
    facts = json.loads(report.to_json(runs, ENV, tmp_path))
    assert facts["memory_budget_bytes"] == 1_500_000_000 and facts["over_budget"] == ["04_training"]
    assert facts["lessons"][1]["peak_memory"] == {
        "bytes": 1_620_000_000,
        "kind": "pss",
        "processes": 3,
    }
    assert (
        facts["lessons"][1]["over_budget"] is True and facts["lessons"][0]["over_budget"] is False
    )
    assert facts["lessons"][0]["log"] == str(Path("build/logs/01_pixels.log"))
    within = runs[:1]
    text = report.to_markdown(within, ENV, tmp_path)
    assert "\nEvery lesson within the 1.5 GB memory budget (highest: 01_pixels, 0.81 GB).\n" in text
    assert "⚠" not in text
    unmeasured = [LessonRun("02_x", 1.0, False, tmp_path / "02_x.ipynb", error="kernel died")]
    assert "| 02_x | **FAILED** | 1.0 | - |" in report.to_markdown(unmeasured, ENV, tmp_path)
    assert runner.memory_verdict(unmeasured) == "peak memory was not measured"


def test_console_table_shows_peak_memory_next_to_the_time(tmp_path):
    table = runner.format_table(_runs(tmp_path)).splitlines()
    assert table[0].split() == ["lesson", "seconds", "peak", "memory", "headline", "status"]
    assert table[2].split()[:4] == ["01_pixels", "12.3", "0.81", "GB"]
    assert "1.62 GB OVER BUDGET" in table[3] and table[3].endswith("FAILED")


def test_html_report_escapes_and_colours_the_status(tmp_path):
    page = report.to_html(_runs(tmp_path), ENV, tmp_path)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "&lt;b&gt;" in page and "<b>" not in page
    assert 'color:#b42318;font-weight:600">FAILED' in page
    assert "<li>TensorFlow: 2.21.0</li>" in page


def test_write_puts_markdown_html_and_json_side_by_side(tmp_path):
    paths = report.write(_runs(tmp_path), tmp_path / "build" / "report.md", ENV, tmp_path)
    assert [p.name for p in paths] == ["report.md", "report.html", "report.json"]
    facts = json.loads(paths[2].read_text())
    assert facts["lessons"][1]["headline"] == {"name": "test accuracy", "value": 0.9132}
    assert facts["lessons"][1]["metrics"]["epochs"] == 3
    assert facts["lessons"][0]["notebook"] == str(Path("build/executed/01_pixels.ipynb"))
    assert facts["versions"]["Keras"] == "3.15.0"


def test_current_environment_reads_the_installed_versions():
    import sys

    env = report.Environment.current("fast (COURSE_FAST=1)")
    assert env.versions["Python"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}")
    assert env.versions["TensorFlow"][0].isdigit() and env.versions["Keras"][0].isdigit()


def _notebook(path, cells):
    nb = new_notebook(
        cells=[new_markdown_cell(c[3:]) if c.startswith("md:") else new_code_cell(c) for c in cells]
    )
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": KERNEL_NAME,
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def test_course_run_is_quiet_shows_progress_and_says_where_a_lesson_failed(tmp_path):
    ok = _notebook(
        tmp_path / "01_tiny.ipynb",
        [
            "md:## 1. Answer",
            "from course_lib import record\nrecord.metric('answer', 42)",
            "md:## 2. Noise",
            "import os\nos.write(2, b'fd-level noise\\n')",  # as TensorFlow's C++ logging does
        ],
    )
    broken = _notebook(
        tmp_path / "02_broken.ipynb",
        [
            "md:## 1. Set-up",
            "x = 1",
            "md:## 2. Trouble",
            "\n".join([f"line_{i} = {i}" for i in range(1, 8)] + ["1 / 0"]),
            "never = 'reached'",
        ],
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "course_lib.tools.cli",
            "run",
            str(ok),
            str(broken),
            "--output",
            str(tmp_path / "executed"),
            "--logs",
            str(tmp_path / "logs"),
            "--report",
            str(tmp_path / "report.md"),
        ],
        capture_output=True,
        text=True,
        cwd=project_root(),
        timeout=300,
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    # the kernel's own chatter is in the log, not on the terminal
    assert result.stderr == ""
    assert "IPKernelApp" not in out and "fd-level noise" not in out
    log = (tmp_path / "logs" / "01_tiny.log").read_text()
    assert "Kernel is running over TCP" in log
    # not a terminal: one plain progress line per section, then the result
    assert "  01_tiny: cell 1/2, 0:0" in out and ", 1. Answer\n" in out and ", 2. Noise\n" in out
    assert "\r" not in out
    assert "01_tiny: ok in " in out and ", peak memory 0." in out
    # a failure: the cell's first 5 lines, the end of the error, the log
    failure = out[out.index("02_broken: FAILED") : out.index("lesson  ")]
    assert "ZeroDivisionError: division by zero" in failure.splitlines()[0]
    assert "in cell 2 of 3 (2. Trouble):" in failure
    assert "| line_5 = 5" in failure and "line_6" not in failure.split("error:")[0]
    assert "| ... (3 more lines)" in failure
    error_lines = failure.split("error:")[1].split("log:")[0].strip().splitlines()
    assert (
        1 <= len(error_lines) <= 10
        and error_lines[-1].strip() == "ZeroDivisionError: division by zero"
    )
    assert f"log: {tmp_path / 'logs' / '02_broken.log'}" in failure
    # the summary table and the report
    assert "peak memory" in out.split("lesson  ", 1)[1].splitlines()[0]
    assert "every lesson within the 1.5 GB memory budget" in out
    assert "| 01_tiny | ok |" in (tmp_path / "report.md").read_text()
    assert "answer = 42" in (tmp_path / "report.html").read_text()


def _cells():
    return [
        new_markdown_cell("# Lesson 1"),
        new_code_cell("a = 1"),
        new_markdown_cell("## 1. Pixels\ntext"),
        new_code_cell("b = 2"),
        new_code_cell(""),
        new_code_cell("c = 3"),
        new_markdown_cell("## 2. Arrays\n### a detail"),
        new_code_cell("d = 4"),
    ]


def test_progress_off_a_terminal_prints_a_line_per_section():
    out, cells = io.StringIO(), _cells()
    progress = runner.Progress("01_x", cells, out, live=False)
    for index, cell in enumerate(cells):
        progress.cell_started(cell=cell, cell_index=index)
    assert out.getvalue().splitlines() == [
        "  01_x: cell 1/4, 0:00",
        "  01_x: cell 2/4, 0:00, 1. Pixels",
        "  01_x: cell 4/4, 0:00, 2. Arrays",
    ]
    assert (progress.position, progress.section) == (4, "2. Arrays")


def test_progress_off_a_terminal_repeats_itself_when_a_cell_runs_long():
    out, cells = io.StringIO(), _cells()
    with runner.Progress("01_x", cells, out, live=False, tick=0.02, quiet_after=0.1) as progress:
        progress.cell_started(cell=cells[3], cell_index=3)
        deadline = time.monotonic() + 10
        while out.getvalue().count("\n") < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 2 and all(
        line.startswith("  01_x: cell 2/4, 0:00, 1. Pixels") for line in lines
    )


def test_progress_on_a_terminal_rewrites_one_line_that_fits_the_width(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("COLUMNS", "24")
    out, cells = Terminal(), _cells()
    with runner.Progress("01_x", cells, out, tick=3600) as progress:
        assert progress.live
        progress.cell_started(cell=cells[3], cell_index=3)
        assert out.getvalue() == "\r01_x: cell 2/4, 0:00, 1\x1b[K"  # 23 characters: no wrapping
    assert out.getvalue().endswith("\r\x1b[K") and "\n" not in out.getvalue()


def test_lesson_tables_follow_the_summary_in_every_format(tmp_path):
    runs = _runs(tmp_path)
    runs[0].tables = [
        record.Table("Model formats", ["model", "size (KB)"], [["TFLite <int8>", 230.5]])
    ]
    text = report.to_markdown(runs, ENV, tmp_path)
    assert (
        "## 01_pixels: Model formats\n\n| model | size (KB) |\n|---|---|\n"
        "| TFLite &lt;int8&gt; | 230.5 |" in text
    )
    page = report.to_html(runs, ENV, tmp_path)
    assert (
        "<h2>01_pixels: Model formats</h2>" in page
        and "<td>TFLite &lt;int8&gt;</td><td>230.5</td>" in page
    )
    facts = json.loads(report.to_json(runs, ENV, tmp_path))
    assert facts["lessons"][0]["tables"] == [
        {
            "title": "Model formats",
            "columns": ["model", "size (KB)"],
            "rows": [["TFLite <int8>", 230.5]],
        }
    ]
    assert facts["lessons"][1]["tables"] == []
