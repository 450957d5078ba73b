"""Grade a folder of student notebooks: ``course grade SUBMISSIONS/``.

Each notebook runs in its own kernel (:mod:`course_lib.tools.grading.execute`); the
results become one row per exercise in ``grades.csv`` plus a per-student summary
(:mod:`course_lib.tools.grading.tables`). Layouts and lesson detection are described in
:mod:`course_lib.tools.grading.submissions`.
"""

from course_lib.tools.grading.execute import grade_notebook
from course_lib.tools.grading.notebook_grade import GradeOptions, NotebookGrade
from course_lib.tools.grading.submissions import answer_keys, find_submissions
from course_lib.tools.grading.tables import (
    GradeRow,
    format_summary,
    grade_folder,
    read_grades_csv,
    rows_of,
    write_grades_csv,
    write_summary_csv,
)

__all__ = [
    "GradeOptions",
    "GradeRow",
    "NotebookGrade",
    "answer_keys",
    "find_submissions",
    "format_summary",
    "grade_folder",
    "grade_notebook",
    "read_grades_csv",
    "rows_of",
    "write_grades_csv",
    "write_summary_csv",
]
