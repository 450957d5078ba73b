"""Unsolved notebooks that try to score anyway: one prelude per class of tampering strategy.

Shared by ``test_grading.py`` (lesson 01, through ``course grade``) and
``test_grading_two_phase.py`` (two-phase exercises of lessons 02 to 09): each prelude is a
code cell put before the first exercise; :data:`ANSWERS` is what an exercise's answer returns
for the strategies that need the answers' help. :func:`student_notebook` gives a lesson's
student notebook with an attack's cell after its set-up cell. :func:`unrendered_plots` keeps
the graded kernels from drawing figures that no test looks at.
"""

import textwrap

import nbformat
import pytest

from course_lib.config import project_root

STRATEGIES = {
    # Replace every check as soon as the grader imports course_lib.checks again.
    "importer": """
        import importlib
        from course_lib.record import CheckResult
        _real = importlib.import_module
        def _import(name, *args, **kwargs):
            module = _real(name, *args, **kwargs)
            if name.startswith("course_lib.checks"):
                for attr in dir(module):
                    if attr.startswith("exercise_"):
                        number = attr.removeprefix("exercise_").replace("_", ".")
                        forged = lambda *a, n=number: CheckResult(n, True, "well done.")
                        setattr(module, attr, forged)
            return module
        importlib.import_module = _import
    """,
    # Rewrite whatever the grader's cells display into a pass.
    "displayer": """
        import IPython.display, IPython.core.display_functions
        _show = IPython.display.display
        def display(*objs, **kwargs):
            forged = []
            for obj in objs:
                if isinstance(obj, dict):
                    obj = {
                        mime: (dict(body, status="passed", message="well done.", passed=True)
                               if isinstance(body, dict) else body)
                        for mime, body in obj.items()
                    }
                forged.append(obj)
            return _show(*forged, **kwargs)
        IPython.display.display = IPython.core.display_functions.display = display
    """,
    # Make NumPy's comparisons agree only while a check calls the answer, then put them back,
    # so that fingerprints taken before and after the check match.
    "patcher": """
        import numpy as np
        _saved = {n: getattr(np, n) for n in ("array_equal", "allclose", "isclose")}
        def _always(*args, **kwargs):
            return True
        def _patch_until_next_cell(*args, **kwargs):
            for n in _saved:
                setattr(np, n, _always)
            return np.zeros((1, 1), np.uint8)
        def _restore(*args, **kwargs):
            for n, f in _saved.items():
                setattr(np, n, f)
        get_ipython().events.register("post_run_cell", _restore)
    """,
    # Read the expected values (or the check's own models) out of the check's frames.
    "inspector": """
        import inspect
        import numpy as np
        _WANTED = ("expected", "want", "want_train", "model", "reference", "label", "addresses",
                   "backbone")
        def _expected(*args, **kwargs):
            for frame in inspect.stack(0):  # the frames' variables; no source lines needed
                if not frame.frame.f_code.co_filename.startswith("/"):
                    continue
                for name in _WANTED:
                    if name in frame.frame.f_locals:
                        value = frame.frame.f_locals[name]
                        if isinstance(value, np.ndarray) and value.size and value.max() > 1:
                            return value.astype(np.uint8)
                        return value
            return None
    """,
    # Rewrite the kernel's own outgoing messages (jupyter_client's Session.send), so that
    # every verdict a grader cell sends from the kernel reads as passed.
    "messenger": """
        import jupyter_client.session as _session
        _send = _session.Session.send
        def _forging_send(self, stream, msg_or_type, content=None, *args, **kwargs):
            body = msg_or_type.get("content") if isinstance(msg_or_type, dict) else content
            data = body.get("data", {}) if isinstance(body, dict) else {}
            for mime, value in data.items():
                if mime.startswith("application/vnd.course") and isinstance(value, dict):
                    if value.get("action") == "check" and value.get("status") != "passed":
                        value["status"], value["message"] = "passed", "ok"
            return _send(self, stream, msg_or_type, content, *args, **kwargs)
        _session.Session.send = _forging_send
    """,
}
# The expression an exercise's answer returns, for the strategies that need it.
ANSWERS = {"patcher": "_patch_until_next_cell()", "inspector": "_expected()"}


def student_notebook(lesson: str, prelude: str = "") -> nbformat.NotebookNode:
    """The student notebook of ``lesson`` as students get it, with ``prelude`` (dedented) as a
    code cell right after the set-up cell that imports course_lib."""
    nb = nbformat.read(project_root() / "notebooks" / f"{lesson}.ipynb", as_version=4)
    if prelude:
        setup = next(
            i
            for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and "from course_lib import" in cell.source
        )
        nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(textwrap.dedent(prelude)))
    return nb


@pytest.fixture(scope="module")
def unrendered_plots():
    """Kernels started while a module's tests run (and graders they start) draw no figures:
    Matplotlib's Agg backend instead of the inline one, which renders every figure to a PNG.
    What a notebook prints, raises or changes, and so its grade, is the same either way."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MPLBACKEND", "agg")
        yield
