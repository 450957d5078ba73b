"""A notebook client that keeps a bounded amount of what a student's cells print or display.

nbclient keeps every output a cell sends, in the grading process's memory, and the executed
notebook is written to disk. A cell that prints without end would fill both, for every
notebook after it too. Past :data:`CELL_LIMIT` bytes in one cell, or :data:`NOTEBOOK_LIMIT`
in the whole notebook, a student cell's further outputs are dropped, and one line says so
where they would have been. Only the grader's payloads are never cut: the one output of
its mime type that each of its own cells sends, when small. Anything else a grader's cell
receives (what a student's thread prints meanwhile) counts as the student's.
"""

from __future__ import annotations

import json
from typing import Any

from nbclient import NotebookClient
from nbformat import NotebookNode
from nbformat.v4 import new_output

# The lessons' largest cells display a few figures, a few MB at most.
CELL_LIMIT = 20_000_000
NOTEBOOK_LIMIT = 100_000_000
# A grader's payload is a few kB (results, messages, module fingerprints).
PAYLOAD_LIMIT = 5_000_000


def dropped_note(limit: int) -> str:
    return f"[course grader: output beyond the first {limit / 1e6:.0f} MB was dropped]\n"


class CappedClient(NotebookClient):
    """:class:`nbclient.NotebookClient`, with student cells' outputs capped (see the module).

    ``payload_mime``: the mime type of the grader's payloads. Its cells are the indexes the
    grader adds to :attr:`grader_cells` (never a tag: a notebook's own cells carry the tags
    its author gives them); the first output of that type a grader's cell receives, up to
    :data:`PAYLOAD_LIMIT`, is neither capped nor counted.
    """

    def __init__(self, nb: NotebookNode, *, payload_mime: str, **kwargs: Any) -> None:
        super().__init__(nb, **kwargs)
        self.payload_mime = payload_mime
        self.grader_cells: set[int] = set()
        self.cell_limit, self.notebook_limit = CELL_LIMIT, NOTEBOOK_LIMIT
        self._cell_bytes: dict[int, int] = {}
        self._notebook_bytes = 0
        self._noted: set[int] = set()  # cells that got the note already
        self._paid: set[int] = set()  # grader's cells whose payload came already

    def output(
        self,
        outs: list[NotebookNode],
        msg: dict[str, Any],
        display_id: str | None,
        cell_index: int,
    ) -> NotebookNode | None:
        content = msg.get("content", {})
        if self._is_payload(content, cell_index):
            self._paid.add(cell_index)
            return super().output(outs, msg, display_id, cell_index)
        if cell_index in self._noted:
            return None
        used = self._cell_bytes.get(cell_index, 0)
        room = min(self.cell_limit - used, self.notebook_limit - self._notebook_bytes)
        limit = self.cell_limit if self.cell_limit - used <= room else self.notebook_limit
        size = len(json.dumps(content, default=str))
        if size > room and msg.get("msg_type") == "stream" and room > 0:
            # The kernel sends what a loop prints in large pieces: keep what fits of this one.
            text = str(content.get("text", ""))[:room]
            msg = {**msg, "content": {**content, "text": text}}
            size = len(text)
        if size > room:
            self._noted.add(cell_index)
            outs.append(new_output("stream", name="stderr", text=dropped_note(limit)))
            return None
        self._cell_bytes[cell_index] = used + size
        self._notebook_bytes += size
        out = super().output(outs, msg, display_id, cell_index)
        if size == room:  # full now: say so once, drop what follows
            self._noted.add(cell_index)
            outs.append(new_output("stream", name="stderr", text=dropped_note(limit)))
        return out

    def _is_payload(self, content: dict[str, Any], cell_index: int) -> bool:
        data = content.get("data")
        return (
            cell_index in self.grader_cells
            and cell_index not in self._paid
            and isinstance(data, dict)
            and self.payload_mime in data
            and len(json.dumps(content, default=str)) <= PAYLOAD_LIMIT
        )
