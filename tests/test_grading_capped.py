"""A student cell that prints without end cannot fill the grader's memory or the disk."""

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from course_lib.config import KERNEL_NAME
from course_lib.tools.grading.capped import CappedClient, dropped_note

FLOOD = "for _ in range(40):\n    print('x' * 100_000)"  # 4 MB, in 40 messages or more


def _run(cells, **limits):
    nb = new_notebook(
        cells=cells, metadata={"kernelspec": {"name": KERNEL_NAME, "display_name": "course"}}
    )
    client = CappedClient(nb, exempt_tag="grader", kernel_name=KERNEL_NAME, timeout=120)
    for name, value in limits.items():
        setattr(client, name, value)
    client.execute()
    return nb


def _text(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_a_flooding_cell_keeps_its_first_output_and_says_the_rest_was_dropped():
    nb = _run([new_code_cell(FLOOD), new_code_cell("print('after')")], cell_limit=1_000_000)
    kept = _text(nb.cells[0])
    assert 500_000 < len(kept) <= 1_100_000, len(kept)
    assert kept.endswith(dropped_note(1_000_000))
    assert _text(nb.cells[1]) == "after\n"  # the next cell is counted afresh
    assert len(nbformat.writes(nb)) < 2_000_000


def test_the_notebook_limit_stops_many_cells_and_spares_the_grader_s_cells():
    flood = [new_code_cell(FLOOD) for _ in range(3)]
    grader = new_code_cell(FLOOD, metadata={"tags": ["grader"]})
    nb = _run([*flood, grader], notebook_limit=6_000_000)
    assert len(_text(nb.cells[0])) >= 4_000_000  # within both limits: kept whole
    assert _text(nb.cells[1]).endswith(dropped_note(6_000_000))
    assert _text(nb.cells[2]) == dropped_note(6_000_000)
    assert len(_text(nb.cells[3])) >= 4_000_000  # the grader's cell: never cut
