"""How much memory a lesson uses, and how much the machine lets it use.

A lesson is a Jupyter kernel plus whatever it starts (a Flask server, training
workers). Its memory is measured as the **summed PSS** of that process tree:
PSS splits each shared page between the processes that map it, so three
processes that each load TensorFlow's 500 MB of libraries count them once, not
three times as summed RSS would. Where PSS is unavailable (macOS, Windows), RSS
is used and the figure says so.

The course's budget is :data:`BUDGET_BYTES` (1.5 GB) per lesson: a mybinder.org
pod has a 2 GB limit, shared with the Jupyter server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

BUDGET_BYTES = 1_500_000_000  # decimal GB, as Binder and the figures in the lessons state them
GB = 1e9


@dataclass(frozen=True)
class Usage:
    """Memory of a process tree at one moment (or its peak)."""

    bytes: int
    kind: str  # "pss" or "rss"
    processes: int

    @property
    def gb(self) -> float:
        return self.bytes / GB

    def __str__(self) -> str:
        return f"{self.gb:.2f} GB ({self.kind.upper()}, {self.processes} processes)"

    @property
    def short(self) -> str:
        """``0.81 GB`` for tables; ``(RSS)`` is added when PSS could not be read."""
        return f"{self.gb:.2f} GB" + (" (RSS)" if self.kind == "rss" else "")


def _process_memory(process: psutil.Process) -> tuple[int, str]:
    try:
        return int(process.memory_full_info().pss), "pss"
    except (AttributeError, psutil.AccessDenied):  # no PSS on this OS, or not ours to read
        return int(process.memory_info().rss), "rss"


def tree_usage(root: int | psutil.Process, include_root: bool = True) -> Usage:
    """Summed PSS (RSS where PSS can't be read) of ``root`` and all its descendants."""
    root = root if isinstance(root, psutil.Process) else psutil.Process(root)
    processes: list[psutil.Process] = [root] if include_root else []
    try:
        processes += root.children(recursive=True)
    except psutil.NoSuchProcess:
        pass
    return usage_of(processes)


def usage_of(processes: Iterable[psutil.Process]) -> Usage:
    """Summed memory of the given processes; ones that have exited are skipped."""
    total, kinds, count = 0, set(), 0
    for process in processes:
        try:
            amount, kind = _process_memory(process)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        total += amount
        kinds.add(kind)
        count += 1
    return Usage(total, "rss" if "rss" in kinds else "pss", count)


def rss_of(processes: Iterable[psutil.Process]) -> Usage:
    """Summed RSS of the given processes (ones that have exited are skipped): one cheap read
    each, and never below their summed PSS."""
    total, count = 0, 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        count += 1
    return Usage(total, "rss", count)


class PeakSampler:
    """Samples a process tree in a background thread and keeps the peak.

    ``with PeakSampler(pid) as sampler: ...`` then ``sampler.peak``. With
    ``include_root=False`` only the descendants count (e.g. the kernels that a
    test runner starts, not the runner itself).
    """

    def __init__(self, root: int, interval: float = 0.25, include_root: bool = True) -> None:
        self.root = psutil.Process(root)
        self.interval = interval
        self.include_root = include_root
        self.peak = Usage(0, "pss", 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def sample(self) -> Usage:
        processes: list[psutil.Process] = [self.root] if self.include_root else []
        try:
            processes += self.root.children(recursive=True)
        except psutil.NoSuchProcess:
            pass
        # Reading a process's PSS makes Linux walk all its pages (tens of milliseconds of
        # CPU for one holding TensorFlow); its RSS is one cheap read and never below its PSS.
        # While the summed RSS is at most the peak so far, no PSS can be a new peak.
        bound = rss_of(processes)
        if bound.bytes <= self.peak.bytes:
            return bound
        now = usage_of(processes)
        if now.bytes > self.peak.bytes:
            self.peak = now
        return now

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except psutil.NoSuchProcess:
                return
            self._stop.wait(self.interval)

    def start(self) -> PeakSampler:
        self._thread.start()
        return self

    def stop(self) -> Usage:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.peak

    def __enter__(self) -> PeakSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def container_limit_bytes(cgroup: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The memory limit of this container (cgroup v2, then v1), or None if there is none.

    mybinder.org sets 2 GB here. A host without a limit reports "max" (v2) or a
    huge number (v1); both mean None.
    """
    for path in (cgroup / "memory.max", cgroup / "memory" / "memory.limit_in_bytes"):
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text == "max":
            return None
        try:
            limit = int(text)
        except ValueError:
            continue
        return None if limit >= 1 << 60 else limit
    return None


def over_budget(usage: Usage, budget: int = BUDGET_BYTES) -> bool:
    """True when ``usage`` is above ``budget`` bytes (the budget itself is allowed)."""
    return usage.bytes > budget


def gb_label(amount: int) -> str:
    """A byte count as the lessons state budgets: ``1.5 GB`` (decimal, shortest form)."""
    return f"{amount / GB:g} GB"
