"""Memory of a process tree, its peak, the container's limit, and the runner's budget check."""

import subprocess
import sys
import textwrap

import nbformat
import psutil
from nbformat.v4 import new_code_cell, new_notebook

from course_lib import memory
from course_lib.config import KERNEL_NAME
from course_lib.tools import report, runner

MB = 1_000_000
# A child that fills 300 MB (filled bytes: untouched pages would not count), says so, then waits.
ALLOCATE_300_MB = (
    "import sys, time\nblock = b'x' * 300_000_000\nprint('ready', flush=True)\n"
    "time.sleep({seconds})"
)


def _allocating_child(seconds: float) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", ALLOCATE_300_MB.format(seconds=seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "ready"
    return child


def test_tree_usage_counts_a_childs_memory():
    child = _allocating_child(seconds=30)
    try:
        assert memory.tree_usage(child.pid).bytes > 300 * MB
        mine = memory.tree_usage(
            psutil.Process(), include_root=False
        )  # only the descendants of this test
        assert mine.bytes > 300 * MB and mine.processes >= 1
    finally:
        child.kill()
        child.wait(timeout=10)


def test_peak_sampler_keeps_the_peak_of_a_child_that_has_exited():
    with memory.PeakSampler(psutil.Process().pid, interval=0.05, include_root=False) as sampler:
        child = _allocating_child(seconds=1)
        child.wait(timeout=30)
    assert sampler.peak.bytes > 300 * MB
    assert memory.tree_usage(psutil.Process(), include_root=False).bytes < sampler.peak.bytes


def test_rss_bounds_pss_so_the_sampler_reads_pss_only_for_a_possible_new_peak():
    child = _allocating_child(seconds=30)
    try:
        process = psutil.Process(child.pid)
        bound, usage = memory.rss_of([process]), memory.usage_of([process])
        assert usage.kind == "pss" and bound.bytes >= usage.bytes > 300 * MB
        sampler = memory.PeakSampler(child.pid)
        first = sampler.sample()  # nothing measured yet: PSS is read and is the peak
        assert first.kind == "pss" and sampler.peak == first and first.bytes > 300 * MB
        higher = memory.Usage(bound.bytes + 100 * MB, "pss", 1)
        sampler.peak = higher  # now no PSS can beat the peak: only the RSS is read
        assert sampler.sample().kind == "rss" and sampler.peak == higher
    finally:
        child.kill()
        child.wait(timeout=10)


def test_usage_is_shown_in_gb_and_says_when_it_is_rss():
    assert memory.Usage(812_000_000, "pss", 3).short == "0.81 GB"
    assert memory.Usage(812_000_000, "rss", 3).short == "0.81 GB (RSS)"
    assert str(memory.Usage(1_620_000_000, "pss", 2)) == "1.62 GB (PSS, 2 processes)"
    assert memory.gb_label(memory.BUDGET_BYTES) == "1.5 GB"


def test_over_budget_allows_the_budget_itself():
    assert not memory.over_budget(memory.Usage(memory.BUDGET_BYTES, "pss", 1))
    assert memory.over_budget(memory.Usage(memory.BUDGET_BYTES + 1, "pss", 1))
    assert memory.over_budget(memory.Usage(300 * MB, "pss", 1), budget=200 * MB)


def test_container_limit_from_cgroup_v2(tmp_path):
    (tmp_path / "memory.max").write_text("2147483648\n")
    assert memory.container_limit_bytes(tmp_path) == 2_147_483_648
    (tmp_path / "memory.max").write_text("max\n")  # a v2 host without a limit
    assert memory.container_limit_bytes(tmp_path) is None


def test_container_limit_from_cgroup_v1(tmp_path):
    (tmp_path / "memory").mkdir()
    limit = tmp_path / "memory" / "memory.limit_in_bytes"
    limit.write_text("2000000000\n")
    assert memory.container_limit_bytes(tmp_path) == 2_000_000_000
    limit.write_text("9223372036854771712\n")  # what v1 reports when nothing is set
    assert memory.container_limit_bytes(tmp_path) is None


def test_container_limit_is_none_without_cgroup_files_or_with_garbage(tmp_path):
    assert memory.container_limit_bytes(tmp_path) is None
    assert memory.container_limit_bytes(tmp_path / "missing") is None
    (tmp_path / "memory.max").write_text("lots\n")
    assert memory.container_limit_bytes(tmp_path) is None
    (tmp_path / "memory").mkdir()
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text("1500000000\n")
    assert memory.container_limit_bytes(tmp_path) == 1_500_000_000  # v2 unreadable: v1 is used


def test_runner_measures_what_a_lesson_starts_and_flags_a_run_over_budget(tmp_path):
    # The kernel alone stays well under 300 MB (no TensorFlow here): a peak above it
    # can only come from the child process that the cell starts.
    cell = textwrap.dedent(f"""\
        import subprocess, sys
        subprocess.run([sys.executable, "-c", {ALLOCATE_300_MB.format(seconds=1.5)!r}], check=True)
    """)
    nb = new_notebook(cells=[new_code_cell(cell)])
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": KERNEL_NAME,
        "language": "python",
    }
    nbformat.write(nb, tmp_path / "01_allocates.ipynb")
    run = runner.execute_lesson(
        tmp_path / "01_allocates.ipynb", tmp_path / "out", timeout=120, budget_bytes=200 * MB
    )
    assert run.ok, run.details
    assert run.peak is not None and run.peak.bytes > 300 * MB and run.peak.processes >= 2
    assert run.over_budget
    assert "OVER BUDGET" in runner.format_table([run])
    assert (
        runner.memory_verdict([run])
        == f"over the 0.2 GB memory budget: 01_allocates ({run.peak.short})"
    )
    env = report.Environment("2025-01-02 03:04 UTC", "fast", {"Python": "3.11"})
    assert "**⚠ Over the 0.2 GB memory budget: 01_allocates" in report.to_markdown([run], env)


def test_usage_of_skips_processes_that_have_exited():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    process = psutil.Process(child.pid)
    child.wait(timeout=30)
    usage = memory.usage_of([process, psutil.Process()])
    assert usage.processes == 1 and usage.bytes > 0 and usage.kind in {"pss", "rss"}
