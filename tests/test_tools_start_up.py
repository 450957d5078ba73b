"""The course's tools start without work no notebook needs, and still validate notebooks."""

import subprocess
import sys

import nbformat
import pytest

from course_lib.config import project_root

ROOT = project_root()

_IMPORT_THE_GRADER = """
import sys
import course_lib.tools.grading
import jsonschema
print(sys.modules.get("rfc3987_syntax") is None, "nbformat" in sys.modules)
"""


def test_the_grader_imports_nbformat_without_building_jsonschema_s_iri_parsers():
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_THE_GRADER],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


def test_notebooks_are_still_validated_against_nbformat_s_schema():
    import course_lib.tools  # noqa: F401  (what every tool imports first)

    notebook = nbformat.read(ROOT / "solutions" / "01_pixels.ipynb", as_version=4)
    nbformat.validate(notebook)
    notebook.cells[0]["cell_type"] = "not a cell type"
    with pytest.raises(nbformat.ValidationError):
        nbformat.validate(notebook)
