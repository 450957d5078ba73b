"""The run report of `make course`, rendered from made-up lesson runs."""

import json
from pathlib import Path

from course_lib import record, report
from course_lib.runner import LessonRun

ENV = report.Environment("2025-01-02 03:04 UTC", "full",
                         {"Python": "3.11.9", "TensorFlow": "2.21.0", "Keras": "3.15.0"}, "abc1234")


def _runs(root):
    accuracy = record.Metric("test accuracy", 0.9132)
    ok = LessonRun("01_pixels", 12.34, True, root / "build/executed/01_pixels.ipynb",
                   headline=record.Metric("training images", 60000),
                   metrics=[record.Metric("training images", 60000)])
    failed = LessonRun("04_training", 301.0, False, root / "build/executed/04_training.ipynb",
                       headline=accuracy, metrics=[accuracy, record.Metric("epochs", 3, headline=False)],
                       failed_checks=["4.2"], error="exercise checks failed: 4.2 | <b>")
    return [ok, failed]


def test_markdown_report_shows_status_time_figures_and_versions(tmp_path):
    text = report.to_markdown(_runs(tmp_path), ENV, tmp_path)
    assert "2025-01-02 03:04 UTC, full mode, commit `abc1234`." in text
    assert "**2 lessons, 1 FAILED (04_training), 313 s in all.**" in text
    assert "Python 3.11.9, TensorFlow 2.21.0, Keras 3.15.0" in text
    assert "| 01_pixels | ok | 12.3 | training images = 60000 | - |  |" in text
    assert ("| 04_training | **FAILED** | 301.0 | test accuracy = 0.9132 | epochs = 3 | "
            "exercise checks failed: 4.2 \\| &lt;b&gt; |") in text


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


def test_course_run_writes_the_report(tmp_path):
    import subprocess
    import sys

    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from course_lib.config import KERNEL_NAME, project_root

    nb = new_notebook(cells=[new_code_cell("from course_lib import record\nrecord.metric('answer', 42)")])
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": KERNEL_NAME, "language": "python"}
    nbformat.write(nb, tmp_path / "01_tiny.ipynb")
    result = subprocess.run(
        [sys.executable, "-m", "course_lib.cli", "run", str(tmp_path / "01_tiny.ipynb"),
         "--output", str(tmp_path / "executed"), "--report", str(tmp_path / "report.md")],
        capture_output=True, text=True, cwd=project_root(), timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| 01_tiny | ok |" in (tmp_path / "report.md").read_text()
    assert "answer = 42" in (tmp_path / "report.html").read_text()


def test_lesson_tables_follow_the_summary_in_every_format(tmp_path):
    runs = _runs(tmp_path)
    runs[0].tables = [record.Table("Model formats", ["model", "size (KB)"], [["TFLite <int8>", 230.5]])]
    text = report.to_markdown(runs, ENV, tmp_path)
    assert "## 01_pixels: Model formats\n\n| model | size (KB) |\n|---|---|\n| TFLite &lt;int8&gt; | 230.5 |" in text
    page = report.to_html(runs, ENV, tmp_path)
    assert "<h2>01_pixels: Model formats</h2>" in page and "<td>TFLite &lt;int8&gt;</td><td>230.5</td>" in page
    facts = json.loads(report.to_json(runs, ENV, tmp_path))
    assert facts["lessons"][0]["tables"] == [{"title": "Model formats", "columns": ["model", "size (KB)"],
                                             "rows": [["TFLite <int8>", 230.5]]}]
    assert facts["lessons"][1]["tables"] == []
