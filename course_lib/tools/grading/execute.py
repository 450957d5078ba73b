"""Grade one student notebook in its own kernel, with the checks in grader-owned cells.

The student's cells run as "Run all" would (errors allowed, each cell under a
time limit, the whole notebook under a budget). Right after each exercise's
check cell the grader adds cells of its own to the same kernel: they export the
answer for the judge (:mod:`course_lib.tools.grading.judge`), or re-import
``course_lib`` from the sources read when grading started
(:mod:`course_lib.tools.grading.snapshot`) and evaluate the exercise's check
expression from the *solution* notebook against the student's variables. Only
the outputs of these cells count, and only when they carry the nonce the grader
made for that cell: whatever the student's notebook printed, displayed or
redefined earns nothing. See ``docs/INSTRUCTORS.md`` for what this does and
does not defend.

Here is one notebook's grading from start to end (:func:`grade_notebook`); its parts are
modules of their own: the kernel's start-up (:mod:`kernel_setup`), the grader's cells in it
(:mod:`kernel_run`), the notebook's cells with the checks in between (:mod:`notebook_run`),
two-phase grading (:mod:`two_phase`, :mod:`judge_process`) and the grade
(:mod:`notebook_grade`).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import tempfile
import time
from typing import Any

from course_lib.messages import first_line
from course_lib.tools.grading import analysis, isolation, leftovers, own_view
from course_lib.tools.grading.judge_process import Judge
from course_lib.tools.grading.kernel_run import _KernelRun, _Stop
from course_lib.tools.grading.kernel_setup import kernel_env, kernel_view, kernel_views
from course_lib.tools.grading.notebook_grade import (
    ExerciseResult,
    GradeOptions,
    NotebookGrade,
    _save_executed,
    discredit_tampering,
)
from course_lib.tools.grading.notebook_run import _Grading
from course_lib.tools.grading.snapshot import CourseSnapshot
from course_lib.tools.grading.submissions import LessonKey, Submission
from course_lib.tools.grading.two_phase import needs_judge

_EXCHANGE = ".course-grader"  # in the kernel's working folder: the exported answers


def grade_notebook(
    submission: Submission,
    key: LessonKey,
    options: GradeOptions,
    judge_process: Judge | None = None,
) -> NotebookGrade:
    """Grade one notebook; never raises for anything the notebook does.

    ``judge_process``: the run's judge, shared by its notebooks (:func:`tables.grade_folder`);
    without one, a notebook that needs it starts its own and stops it when it is graded.
    """
    started = time.perf_counter()
    # Before any student code runs: the kernel may not trace this process or read its memory,
    # and the course's files are read once, for every later import by grading code.
    isolation.make_undumpable()
    if options.snapshot is None:
        options = dataclasses.replace(options, snapshot=CourseSnapshot.take())
    assert options.snapshot is not None
    grade = NotebookGrade(submission)
    try:
        student_nb = analysis.read_notebook(submission.path)
    except (OSError, ValueError) as exc:
        grade.problems.append(f"could not read the notebook: {first_line(exc)}")
        return grade
    if not any(cell.source.strip() for cell in student_nb.cells):  # nothing to run: no kernel
        grade.problems.append("the notebook is empty: it has no cells, or only blank ones")
        return grade
    layout = analysis.Layout.of(student_nb, key)
    if layout.is_another_lessons():  # minutes of running would earn nothing: say so at once
        grade.problems.extend(layout.outdated_headings())
        grade.problems.append(
            f"the notebook was not run: none of its exercises is {key.lesson}'s "
            "(hand in that lesson's notebook)"
        )
        return grade
    grade.problems.extend(layout.check_cell_problems())
    grade.problems.extend(layout.outdated_headings())
    results: dict[str, dict[str, Any] | None] = {}
    stopped = ""
    leftovers.become_subreaper()
    running_before = leftovers.descendants()
    with (
        tempfile.TemporaryDirectory(prefix="course-grade-", ignore_cleanup_errors=True) as cwd,
        # The kernel's home and build folder, made for it and gone with it.
        tempfile.TemporaryDirectory(prefix="course-home-", ignore_cleanup_errors=True) as private,
        # Where its own view's root is built (grading.own_view), empty for the grader.
        tempfile.TemporaryDirectory(prefix="course-view-", ignore_cleanup_errors=True) as root,
    ):
        kernel = _KernelRun(student_nb, options, cwd)
        view: own_view.View | None = None
        own_judge = judge_process is None and needs_judge(key)
        if own_judge:
            judge_process = Judge(options.snapshot, lazy_imports=kernel_views(options))
        elif judge_process is not None:
            judge_process = judge_process.for_next_notebook() if needs_judge(key) else None
        try:
            # The kernel's own stderr is TensorFlow's start-up chatter, and what it writes to
            # its stdout directly (os.write(1, ...)) would land in the grader's console, among
            # the grader's own lines; what the notebook prints reaches the grader as cell
            # outputs either way.
            env = kernel_env(options, private)
            view = kernel_view(options, root, cwd, private)
            if view is not None and view.uid:  # an account of its own, for the libraries
                env |= {"USER": "student", "LOGNAME": "student"}
            if view is not None:  # the connection file, in the kernel's view and readable by it
                km = kernel.client.km or kernel.client.create_kernel_manager()
                km.connection_file = os.path.join(private, "kernel.json")
                km.kernel_owner = (view.uid, view.gid)
            with kernel.client.setup_kernel(
                env=env,
                cwd=cwd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=isolation.kernel_preexec(view),
            ):
                _Grading(
                    kernel,
                    student_nb,
                    key,
                    layout,
                    grade,
                    results,
                    options,
                    judge_process,
                    os.path.join(cwd, _EXCHANGE),
                    in_own_view=view is not None,
                ).run()
        except _Stop as stop:
            stopped = str(stop)
            grade.problems.append(stopped)
        except Exception as exc:  # the kernel failed to start, or the connection broke
            stopped = f"the notebook could not be run ({first_line(exc)})"
            grade.problems.append(stopped)
        finally:
            if own_judge and judge_process is not None:
                judge_process.close()
            # The kernel has shut down: whatever the notebook started is stopped now,
            # before it could touch the grades (the run's shared judge is kept).
            keep = [judge_process.process.pid] if judge_process is not None else []
            stopped_processes = leftovers.stop_new_descendants(running_before, keep)
            if view is not None and view.uid:  # also those that escaped the process tree
                escaped = own_view.stop_user(view.uid)
                stopped_processes += [p for p in escaped if p not in stopped_processes]
            leftovers.become_subreaper(False)
            if stopped_processes:
                grade.problems.append(
                    "the grader stopped processes the notebook left running: "
                    + ", ".join(stopped_processes)
                )
            # Nothing of the notebook runs any more: the course's files as they were, for
            # the students after it, and a finding if the notebook had changed them.
            changed = options.snapshot.restore()
            if changed:
                shown = ", ".join(changed[:6]) + (" …" if changed[6:] else "")
                grade.problems.append(
                    f"{analysis.TAMPERING} the notebook changed the course's files ({shown}); "
                    "the grader restored them"
                )
            planted = options.snapshot.restore_startup()
            if planted:
                shown = ", ".join(planted[:3]) + (" …" if planted[3:] else "")
                grade.problems.append(
                    f"{analysis.TAMPERING} the notebook changed the files Python runs at start-up "
                    f"({shown}); the grader put them back"
                )
            _save_executed(kernel.nb, submission, options)
    for exercise in key.exercises:
        passed, message = analysis.exercise_result(
            exercise, results.get(exercise.number), layout, stopped
        )
        grade.exercises.append(ExerciseResult(exercise.number, passed, message))
    discredit_tampering(grade)
    grade.seconds = time.perf_counter() - started
    return grade
