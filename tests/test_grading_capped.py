"""A student cell that prints without end cannot fill the grader's memory or the disk."""

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from course_lib.config import KERNEL_NAME
from course_lib.tools.grading.capped import CappedClient, dropped_note

FLOOD = "for _ in range(40):\n    print('x' * 100_000)"  # 4 MB, in 40 messages or more


PAYLOAD = "application/x-grader+json"


def _payload(text_bytes):
    """A cell that displays one payload of the grader's mime type, then prints ``FLOOD``."""
    return (
        "from IPython.display import display\n"
        f"display({{{PAYLOAD!r}: {{'grade': 'x' * {text_bytes}}}}}, raw=True)\n" + FLOOD
    )


def _run(cells, grader_cells=(), **limits):
    nb = new_notebook(
        cells=cells, metadata={"kernelspec": {"name": KERNEL_NAME, "display_name": "course"}}
    )
    client = CappedClient(nb, payload_mime=PAYLOAD, kernel_name=KERNEL_NAME, timeout=120)
    client.grader_cells.update(grader_cells)
    for name, value in limits.items():
        setattr(client, name, value)
    client.execute()
    return nb


def _payload_bytes(cell):
    return sum(len(o.data[PAYLOAD]["grade"]) for o in cell.outputs if PAYLOAD in o.get("data", {}))


def _text(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_a_flooding_cell_keeps_its_first_output_and_says_the_rest_was_dropped():
    nb = _run([new_code_cell(FLOOD), new_code_cell("print('after')")], cell_limit=1_000_000)
    kept = _text(nb.cells[0])
    assert 500_000 < len(kept) <= 1_100_000, len(kept)
    assert kept.endswith(dropped_note(1_000_000))
    assert _text(nb.cells[1]) == "after\n"  # the next cell is counted afresh
    assert len(nbformat.writes(nb)) < 2_000_000


def test_the_notebook_limit_stops_many_cells_and_spares_the_grader_s_payload_alone():
    flood = [new_code_cell(FLOOD) for _ in range(3)]
    grader = new_code_cell(_payload(1_000_000))
    nb = _run([*flood, grader], grader_cells={3}, notebook_limit=6_000_000)
    assert len(_text(nb.cells[0])) >= 4_000_000  # within both limits: kept whole
    assert _text(nb.cells[1]).endswith(dropped_note(6_000_000))
    assert _text(nb.cells[2]) == dropped_note(6_000_000)
    # The grader's cell: its payload kept whole, and what else it receives (a student's
    # thread printing meanwhile) dropped like any student output past the limit.
    assert _payload_bytes(nb.cells[3]) == 1_000_000
    assert _text(nb.cells[3]) == dropped_note(6_000_000)


def test_a_student_cell_tagged_or_shaped_like_the_grader_s_is_capped_as_any_other():
    tagged = new_code_cell(FLOOD, metadata={"tags": ["course-grader"]})
    shaped = new_code_cell(_payload(3_000_000))  # the grader's mime type, in a student's cell
    nb = _run([tagged, shaped], cell_limit=1_000_000)
    assert _text(nb.cells[0]).endswith(dropped_note(1_000_000))
    assert len(_text(nb.cells[0])) <= 1_100_000
    assert _payload_bytes(nb.cells[1]) == 0 and _text(nb.cells[1]) == dropped_note(1_000_000)


def test_a_grader_s_cell_keeps_one_payload_and_counts_the_next_ones():
    twice = "from IPython.display import display\n" + "\n".join(
        f"display({{{PAYLOAD!r}: {{'grade': 'x' * 800_000}}}}, raw=True)" for _ in range(3)
    )
    nb = _run([new_code_cell(twice)], grader_cells={0}, cell_limit=1_000_000)
    assert _payload_bytes(nb.cells[0]) == 1_600_000  # the first free, the second counted
    assert _text(nb.cells[0]) == dropped_note(1_000_000)
