"""A student's kernel as the grader drives it: the notebook's cells and the grader's own.

:class:`_KernelRun` runs one cell at a time, each under its time limit, and the grader's
cells (:meth:`_KernelRun.grader`), whose text is :mod:`kernel_code`'s and its parts', and
whose only output that counts is the one that carries the nonce made for that cell.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from course_lib.checks import _copies
from course_lib.tools.grading import (
    guard,
    kernel_call,
    kernel_check,
    kernel_code,
    kernel_encode,
    kernel_files,
    kernel_fingerprint,
    kernel_watch,
    snapshot_finder,
)
from course_lib.tools.grading.kernel_setup import _pinned_kernel_manager
from course_lib.tools.grading.notebook_grade import GradeOptions

# The grader's code in the kernel, sent as text with each of its cells: kernel_code's text,
# which runs the texts of its parts in the same namespace (see kernel_code)
_KERNEL_SOURCE = Path(kernel_code.__file__).read_text(encoding="utf-8")
_KERNEL_PARTS = tuple(
    Path(part.__file__).read_text(encoding="utf-8")
    for part in (
        kernel_fingerprint,
        snapshot_finder,
        kernel_check,
        kernel_encode,
        kernel_files,
        kernel_watch,
        kernel_call,
    )
)
# Sent with the grader's first cell, before the notebook's: the watch on the course's copies
# takes what it needs from this guard, not from modules the notebook can change
_GUARD = {
    "guard": Path(guard.__file__).read_text(encoding="utf-8"),
    "events": [_copies.COPY_EVENT, _copies.THREAD_EVENT],
}
_TIMEOUT_ENAME = "CourseGraderTimeout"
GRADER_TAG = "course-grader"
_PING_TIMEOUT = 15
_STARTUP_TIMEOUT = 120


class _Stop(Exception):
    """The kernel can no longer run anything: stop and report ``reason``."""


# How a grader cell gets the `exec`, `compile` and built-ins it runs kernel_code with. The
# notebook may have rebound `__builtins__` in its namespace, where the cell runs, and so
# every name and `import` there: so the grader's first cell, before any of the notebook's,
# imports the builtins module and adds the guard (grading/guard.py), and every later cell
# asks the guard for what it took then, by an assignment no name stands in for. Without an
# answer the cell fails, and gives no result.
_UNGUARDED = (
    "import builtins as __course_builtins__\n"
    "__course_tools = {'exec': __course_builtins__.exec, 'compile': __course_builtins__.compile,"
    " 'builtins': __course_builtins__}\n"
)
_GUARDED = (
    "__course_tools = None\n"
    "def __course_grader():\n"
    "    pass\n"
    "try:\n"
    f"    __course_grader.__defaults__ = ({kernel_watch.GUARD!r},)\n"
    "except BaseException as __course_answer:\n"
    "    __course_tools = __course_answer.args[2]\n"
)


class _KernelRun:
    """One kernel running one student notebook plus the grader's own cells."""

    def __init__(self, student_nb: nbformat.NotebookNode, options: GradeOptions, cwd: str):
        from course_lib.tools.grading.capped import CappedClient

        self.nb = new_notebook(metadata=student_nb.metadata)
        self.options = options
        self.timeouts: list[int] = []  # indexes in self.nb of cells that timed out
        self.client = CappedClient(
            self.nb,
            payload_mime=kernel_code.GRADER_MIME,
            kernel_name=options.kernel_name,
            kernel_manager_class=_pinned_kernel_manager(options.kernel_name),
            allow_errors=True,
            interrupt_on_timeout=True,
            error_on_timeout={"ename": _TIMEOUT_ENAME, "evalue": "time limit", "traceback": []},
            startup_timeout=_STARTUP_TIMEOUT,
            shutdown_kernel="immediate",
            record_timing=False,
            resources={"metadata": {"path": cwd}},
            on_cell_error=self._on_error,
        )

    def _on_error(self, cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        if execute_reply["content"].get("ename") == _TIMEOUT_ENAME:
            self.timeouts.append(cell_index)

    def run(
        self, cell: nbformat.NotebookNode, timeout: float, grader: bool = False
    ) -> nbformat.NotebookNode:
        from nbclient.exceptions import DeadKernelError

        self.nb.cells.append(cell)
        if grader:
            self.client.grader_cells.add(len(self.nb.cells) - 1)
        self.client.timeout = max(1, int(timeout))
        try:
            return self.client.execute_cell(cell, len(self.nb.cells) - 1)
        except DeadKernelError:
            raise _Stop(
                "the kernel died (the notebook ran out of memory or ended the process)"
            ) from None

    def timed_out(self) -> bool:
        return bool(self.timeouts) and self.timeouts[-1] == len(self.nb.cells) - 1

    def grader(self, action: str, args: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """Run one grader cell; its payload, or None if it produced no trustworthy one."""
        nonce = secrets.token_hex(16)
        source = (_GUARDED if "guard" not in args else _UNGUARDED) + (
            f"__course_tools['exec'](__course_tools['compile']({_KERNEL_SOURCE!r}, "
            "'course-grader', 'exec'), "
            "{'__builtins__': __course_tools['builtins'], '__name__': '__course_grader__', "
            f"'PARTS': {_KERNEL_PARTS!r}, "
            f"'ACTION': {action!r}, 'ARGS': {args!r}, 'NONCE': {nonce!r}}})"
        )
        cell = self.run(
            new_code_cell(source, metadata={"tags": [GRADER_TAG]}), timeout, grader=True
        )
        # The saved copy shows what the cell did, not the grader's whole source.
        cell.source = f"# course grader: {action} {args.get('exercise', '')}".rstrip()
        payloads = [
            output["data"][kernel_code.GRADER_MIME]
            for output in cell.get("outputs", [])
            if kernel_code.GRADER_MIME in output.get("data", {})
        ]
        genuine = [p for p in payloads if isinstance(p, dict) and p.get("nonce") == nonce]
        if len(payloads) != 1 or len(genuine) != 1 or genuine[0].get("action") != action:
            return None
        return genuine[0]

    def ensure_alive(self, after: str) -> None:
        """After a timeout: stop unless the kernel answers again."""
        if self.grader("ping", {}, _PING_TIMEOUT) is None:
            raise _Stop(f"{after} did not stop when interrupted; nothing after it could run")
