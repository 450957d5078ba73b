"""The course's maintainer tooling, apart from what lessons import.

Lessons import ``course_lib`` (data, plots, checks, ...); instructors and CI use these
modules through the ``course`` command (:mod:`course_lib.tools.cli`): running lessons
(:mod:`~course_lib.tools.runner`, :mod:`~course_lib.tools.report`), grading submissions
(:mod:`~course_lib.tools.grading`), building student notebooks
(:mod:`~course_lib.tools.notebooks`), checking a machine (:mod:`~course_lib.tools.doctor`).
"""

import sys

# Every tool reads notebooks with nbformat, which imports jsonschema to validate them.
# jsonschema imports rfc3987_syntax when it is installed (Jupyter's jupyter-events asks for
# jsonschema[format-nongpl]), and rfc3987_syntax compiles about 40 parsers for IRIs as it is
# imported: 1.2 s of CPU in every `course` command, grader and judge process, for a string
# format that no notebook schema uses (python-jsonschema/jsonschema#1428). Marked absent
# here, jsonschema leaves that one format unchecked; notebooks are validated as before.
sys.modules.setdefault("rfc3987_syntax", None)
