"""A student notebook's run in its kernel: its cells, with the grader's checks in between.

:class:`_Grading` runs the student's cells as "Run all" would, checks each exercise right
after its check cell (in the kernel, or in two phases: :mod:`two_phase`), and collects what
the grader found: results, problems, and tampering.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import nbformat

from course_lib.tools.grading import analysis, two_phase
from course_lib.tools.grading.judge_decode import Unsupported
from course_lib.tools.grading.judge_process import Judge
from course_lib.tools.grading.kernel_run import _GUARD, _STARTUP_TIMEOUT, _KernelRun, _Stop
from course_lib.tools.grading.notebook_grade import GradeOptions, NotebookGrade
from course_lib.tools.grading.submissions import ExerciseKey, LessonKey


class _Grading:
    """Run the student's cells with the grader's checks in between, collecting findings.

    Each exercise is checked right after its check cell in the student's notebook (or its
    last cell, if the student deleted the check cell), so later cells cannot change or lose
    what is checked; an exercise whose heading the student removed is checked at the end.
    """

    def __init__(
        self,
        kernel: _KernelRun,
        student_nb: nbformat.NotebookNode,
        key: LessonKey,
        layout: analysis.Layout,
        grade: NotebookGrade,
        results: dict[str, dict[str, Any] | None],
        options: GradeOptions,
        judge_process: Judge | None = None,
        exchange: str = "",
        in_own_view: bool = False,
    ):
        self.kernel, self.student_nb, self.key, self.layout = kernel, student_nb, key, layout
        self.grade, self.results, self.options = grade, results, options
        self.judge, self.exchange = judge_process, exchange
        self.in_own_view = in_own_view
        self.salt = secrets.randbits(
            62
        )  # this run's test data: drawn afresh, never sent to the kernel
        # The checks that still run in the kernel draw their test data from a salt of their own:
        # the kernel sees it, so it must tell nothing about the judge's.
        self.kernel_salt = secrets.randbits(62)
        self.baseline: dict[str, Any] = {}
        self.deadline = time.monotonic() + options.timeout
        self.replaced: set[str] = set()
        self.tampering: list[str] = []
        self._kernel_modules = ""

    def run(self) -> None:
        try:
            baseline = self.kernel.grader("fingerprint", _GUARD, _STARTUP_TIMEOUT)
            if baseline is None:
                raise _Stop("the kernel could not run the grader's set-up cell")
            self.baseline = baseline
            # The judge imports Keras and the rest from disk while it starts. A kernel in a
            # view of its own can change none of those files, so its first cells run while the
            # judge loads; any other kernel waits, or its cells could rewrite what the judge
            # is about to import.
            if not self.in_own_view and not self._judge_ready():
                raise _Stop("the grader's judge process did not start")
            # The notebook's time limit covers its own cells and every call of its code by
            # the checks that follow them.
            self.deadline = time.monotonic() + self.options.timeout
            self._student_cells()
            for exercise in self.key.exercises:
                if exercise.number not in self.results:
                    self._check(exercise)
            self.grade.problems.extend(self.layout.errors_outside_exercises())
            final = self.kernel.grader("fingerprint", {"baseline": self._ids()}, _STARTUP_TIMEOUT)
            self._note_tampering(final, "the notebook")
        finally:
            if self.judge is not None:  # killed after this notebook's last check, too
                self._judge_fate()
            if self.replaced:
                self.grade.problems.append(
                    f"the notebook replaced course_lib code in memory "
                    f"({', '.join(sorted(self.replaced))}); "
                    "the checks ran on the course's own code, read when grading started"
                )
            self.grade.problems.extend(self.tampering)

    def time_left(self) -> int:
        """Whole seconds the notebook's code may still run: one cell's limit at most."""
        return int(min(self.options.cell_timeout, self.deadline - time.monotonic()))

    def out_of_time(self) -> dict[str, Any]:
        """The result of a check that found the notebook's time used up before it could run."""
        return {
            "status": "error",
            "message": f"the notebook had used up its time limit of {self.options.timeout} s "
            "before the check could call its code",
        }

    def _judge_ready(self) -> bool:
        return self.judge is None or self.judge.wait_ready(_STARTUP_TIMEOUT)

    def _judge(self, exercise: ExerciseKey) -> None:
        if not self._judge_ready():
            raise _Stop("the grader's judge process did not start")
        try:
            self.results[exercise.number] = two_phase._two_phase(self, exercise)
        except Unsupported as exc:  # a check expression of the course that takes no plain names
            self.results[exercise.number] = {"status": "error", "message": str(exc)}
        if self.judge is not None and self.judge.broken:
            fate = self._judge_fate()
            if fate:
                message = f"the judge process {fate} while this notebook ran"
                self.results[exercise.number] = {"status": "error", "message": message}
            # A judge that stopped answering is replaced at once: the notebook's next
            # exercises are judged by a fresh one, not each left to time out in turn.
            self.judge.for_next_notebook().wait_ready(_STARTUP_TIMEOUT)

    def _judge_fate(self) -> str:
        """How the judge was stopped by another process (the notebook's), noted as tampering."""
        fate = self.judge.fate() if self.judge is not None else ""
        finding = f"{analysis.TAMPERING} the judge process {fate} while this notebook ran"
        if fate and finding not in self.tampering:
            self.tampering.append(finding)
        return fate

    def note_unwatched(self, exercise: str, how: str) -> None:
        """The student's code switched off the watch on calls of the course's copies."""
        finding = (
            f"{analysis.TAMPERING} the notebook switched off the grader's watch on calls of the "
            f"course's own copies while exercise {exercise} was checked ({how[:200]})"
        )
        if finding not in self.tampering:
            self.tampering.append(finding)

    def note_judged(self, exercise: str, what: str) -> None:
        """The judge found that what the notebook exported for ``exercise`` tampered with it."""
        finding = f"{analysis.TAMPERING} {what[:400]} (exercise {exercise})"
        if finding not in self.tampering:
            self.tampering.append(finding)

    def kernel_modules(self) -> str:
        """course_lib's sources for a check cell (not its tools: the kernel's checks need none)."""
        if not self._kernel_modules:
            assert self.options.snapshot is not None
            self._kernel_modules = self.options.snapshot.packed_modules(("course_lib.tools",))
        return self._kernel_modules

    def _ids(self) -> dict[str, int]:
        return {name: entry[0] for name, entry in self.baseline.get("entries", {}).items()}

    def _note_tampering(self, found: dict[str, Any] | None, who: str) -> None:
        for finding in analysis.tampering(self.baseline, found, who):
            if finding not in self.tampering:
                self.tampering.append(finding)

    def _student_cells(self) -> None:
        due = self.layout.check_points()
        exercises = {e.number: e for e in self.key.exercises}
        for index, cell in enumerate(self.student_nb.cells):
            if cell.cell_type != "code":
                self.kernel.nb.cells.append(cell)
                continue
            limit = self.time_left()
            if limit < 1:
                self.grade.problems.append(
                    f"the notebook used up its time limit of {self.options.timeout} s; "
                    f"{self.layout.describe(index)} and the cells after it were not run"
                )
                return
            executed = self.kernel.run(cell, limit)
            if self.kernel.timed_out():
                self.grade.problems.append(
                    f"{self.layout.describe(index)} did not finish within "
                    f"{limit} s and was interrupted"
                )
                self.layout.timed_out.add(index)
                self.kernel.ensure_alive(self.layout.describe(index))
            else:
                self.layout.record_outputs(index, executed)
            for number in due.get(index, []):
                if number in exercises:
                    self._check(exercises[number])

    def _check(self, exercise: ExerciseKey) -> None:
        if exercise.number in two_phase.TWO_PHASE and self.judge is not None:
            self._judge(exercise)
            return
        args = {
            "exercise": exercise.number,
            "expression": exercise.check,
            "root": str(self.options.snapshot.root),
            "modules": self.kernel_modules(),
            "baseline": self._ids(),
            "salt": self.kernel_salt,
        }
        limit = self.time_left()
        if limit < 1:
            self.results[exercise.number] = self.out_of_time()
            return
        result = self.kernel.grader("check", args, limit)
        if self.kernel.timed_out():
            self.results[exercise.number] = {"status": "timeout", "message": str(limit)}
            self.kernel.ensure_alive(f"the check of exercise {exercise.number}")
            return
        self.results[exercise.number] = result
        if result is None:
            return
        self.replaced.update(result.get("replaced", []))
        before, after = result.get("before"), result.get("after")
        self._note_tampering(before, "the notebook")
        if before is not None and after is not None:  # only what changed during the check
            during = {
                "entries": {
                    k: v for k, v in after["entries"].items() if before["entries"].get(k) != v
                },
                "threads": [t for t in after["threads"] if t not in before["threads"]],
            }
            self._note_tampering(during, "the student's code, while it was checked,")
