"""The course's maintainer tooling, apart from what lessons import.

Lessons import ``course_lib`` (data, plots, checks, ...); instructors and CI use these
modules through the ``course`` command (:mod:`course_lib.tools.cli`): running lessons
(:mod:`~course_lib.tools.runner`, :mod:`~course_lib.tools.report`), grading submissions
(:mod:`~course_lib.tools.grading`), building student notebooks
(:mod:`~course_lib.tools.notebooks`), checking a machine (:mod:`~course_lib.tools.doctor`).
"""
