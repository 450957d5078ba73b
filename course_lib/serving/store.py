"""Predictions and feedback in SQLite (standard library, WAL mode).

Every prediction the service makes becomes a row; feedback ("was this right?",
the correct label) is attached to it. The history is for monitoring a model in
use, the feedback for improving it: :meth:`PredictionStore.feedback_rows` hands
the corrected examples, with the photos as they were uploaded, to retraining, and
:meth:`PredictionStore.export_feedback_csv` writes them out for a spreadsheet.

A photo is kept twice: a small preview beside the prediction (for the history
page) and the original upload, byte for byte, in the ``uploads`` table (for
retraining). Originals are capped in size (larger ones keep only the preview,
and their row says so) and in age (older ones are removed; the prediction row
stays); :meth:`PredictionStore.delete_image` removes both copies of one photo.
Deleted photos are overwritten with zeros in the file (``secure_delete``), not
only unlinked from the table.

Each thread gets its own connection. WAL mode lets readers work while one
writer commits, and ``busy_timeout`` makes a writer wait for the lock instead
of failing, which is what keeps every row under concurrent requests, also
across several server processes sharing one file. The threads of one process
take turns at writing through a lock of their own, so that a thread that
finds another writing wakes as soon as it is done (SQLite's busy handler
sleeps a millisecond or more between tries).

A commit appends to the write-ahead log without waiting for the disk
(``synchronous=NORMAL``). Copying the log back into the database (a
checkpoint) waits for the disk twice; SQLite would do it inside the commit
that fills the log, making that request tens of milliseconds slower. Here
the automatic checkpoint is off and a thread of the store's own runs it once
about as much was written as SQLite's default (1,000 pages, 4 MB), while
requests go on.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at    TEXT    NOT NULL,
    filename      TEXT    NOT NULL,
    model_name    TEXT    NOT NULL,
    model_version TEXT    NOT NULL,
    label         TEXT    NOT NULL,
    class_index   INTEGER NOT NULL,
    confidence    REAL    NOT NULL,
    top_k         TEXT    NOT NULL,
    latency_ms    REAL    NOT NULL,
    width         INTEGER,
    height        INTEGER,
    source        TEXT    NOT NULL DEFAULT 'upload',
    image         BLOB,
    image_type    TEXT
);
CREATE TABLE IF NOT EXISTS feedback (
    prediction_id INTEGER PRIMARY KEY REFERENCES predictions(id) ON DELETE CASCADE,
    correct       INTEGER NOT NULL CHECK (correct IN (0, 1)),
    correct_label TEXT,
    comment       TEXT,
    created_at    TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    prediction_id INTEGER PRIMARY KEY REFERENCES predictions(id) ON DELETE CASCADE,
    created_at    TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    mime          TEXT,
    data          BLOB,
    note          TEXT
);
CREATE INDEX IF NOT EXISTS uploads_kept ON uploads(created_at) WHERE data IS NOT NULL;
CREATE TABLE IF NOT EXISTS settings (
    name          TEXT    PRIMARY KEY,
    value         TEXT    NOT NULL
);
"""
# uploads: the original file as received (size in bytes, MIME type); data is NULL when it was
# never kept or has been removed, and note says which. settings: the service's retention, so
# that another program opening the file (course retrain) applies the same one.

_COLUMNS = (
    "p.id, p.created_at, p.filename, p.model_name, p.model_version, p.label, p.class_index, "
    "p.confidence, p.top_k, p.latency_ms, p.width, p.height, p.source, "
    "p.image IS NOT NULL AS has_image, "
    "f.correct, f.correct_label, f.comment, f.created_at AS feedback_at"
)
_SELECT = f"SELECT {_COLUMNS} FROM predictions p LEFT JOIN feedback f ON f.prediction_id = p.id"

# Bytes written to the log between two checkpoints: SQLite's default, 1,000 pages of 4 kB.
CHECKPOINT_BYTES = 1000 * 4096

CSV_FIELDS = [
    "prediction_id",
    "created_at",
    "filename",
    "model_name",
    "model_version",
    "predicted_label",
    "confidence",
    "correct",
    "correct_label",
    "comment",
    "feedback_at",
    "image_url",
    "original_url",
]


@dataclass(frozen=True)
class NewPrediction:
    """What the service records for one classified image."""

    filename: str
    model_name: str
    model_version: str
    label: str
    class_index: int
    confidence: float
    top_k: Sequence[dict[str, Any]]
    latency_ms: float
    width: int | None = None
    height: int | None = None
    source: str = "upload"
    image: bytes | None = None  # the preview
    image_type: str | None = None
    original: bytes | None = None  # the upload as received; the store decides whether to keep it
    original_type: str | None = None


def now() -> str:
    """The current time in UTC, ISO 8601 with milliseconds: sorts as text."""
    return timestamp(datetime.now(UTC))


def timestamp(moment: datetime) -> str:
    """``moment`` in the store's text format (UTC, milliseconds, ``Z``)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PredictionStore:
    """The service's SQLite database; safe to share between threads.

    ``keep_upload_bytes`` caps the size of an original upload that is kept (0 keeps none);
    ``keep_upload_days`` is how long one is kept (0 keeps none). The service passes its
    settings and the file records the retention; a program that opens the file without one
    (``keep_upload_days=None``, e.g. retraining) applies the recorded retention, so it can
    neither see older originals nor remove younger ones.
    """

    def __init__(
        self,
        path: str | Path,
        busy_timeout_ms: int = 10_000,
        keep_upload_bytes: int = 10 * 2**20,
        keep_upload_days: float | None = None,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.keep_upload_bytes = int(keep_upload_bytes)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._next_purge = 0.0
        self._write_lock = threading.Lock()  # one writer at a time among this process's threads
        self._unchecked = 0  # bytes written since the last checkpoint, roughly
        self._checkpoint_wanted = threading.Event()
        self._checkpointer: threading.Thread | None = None
        with self._connection() as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # persistent: recorded in the file
            conn.executescript(SCHEMA)
        self.keep_upload_days = self._retention(keep_upload_days)
        self.purge_expired()

    def _retention(self, days: float | None) -> float | None:
        """Record the service's retention in the file, or read it back (None: nothing expires)."""
        with self._transaction() as conn:
            if days is not None:
                conn.execute(
                    "INSERT INTO settings (name, value) VALUES ('keep_upload_days', ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    (repr(float(days)),),
                )
                return float(days)
            row = conn.execute(
                "SELECT value FROM settings WHERE name = 'keep_upload_days'"
            ).fetchone()
        return float(row["value"]) if row else None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
        conn.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a commit does not wait for fsync
        conn.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run on their own thread
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(
            "PRAGMA secure_delete=ON"
        )  # a deleted photo is overwritten, not left in free pages
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        yield conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as conn, self._write_lock:
            conn.execute("BEGIN IMMEDIATE")  # take the write lock now: no deadlock on upgrade
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _written(self, size: int) -> None:
        """Count ``size`` bytes written; past :data:`CHECKPOINT_BYTES`, wake the checkpointer.

        Called with the write lock held.
        """
        self._unchecked += size
        if self._unchecked < CHECKPOINT_BYTES:
            return
        self._unchecked = 0
        if self._checkpointer is None:
            self._checkpointer = threading.Thread(
                target=_checkpoints,
                args=(self.path, self.busy_timeout_ms, self._checkpoint_wanted),
                name="sqlite-checkpoint",
                daemon=True,
            )
            self._checkpointer.start()
        self._checkpoint_wanted.set()

    def add(self, predictions: Sequence[NewPrediction], created_at: str | None = None) -> list[int]:
        """Record predictions in one transaction; returns their ids, in order."""
        created = created_at or now()
        ids, size = [], 0
        with self._transaction() as conn:
            for p in predictions:
                cur = conn.execute(
                    "INSERT INTO predictions (created_at, filename, model_name, model_version, "
                    "label, class_index, confidence, top_k, latency_ms, width, height, source, "
                    "image, image_type) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        created,
                        p.filename,
                        p.model_name,
                        p.model_version,
                        p.label,
                        int(p.class_index),
                        float(p.confidence),
                        json.dumps(list(p.top_k)),
                        float(p.latency_ms),
                        p.width,
                        p.height,
                        p.source,
                        p.image,
                        p.image_type,
                    ),
                )
                pid = int(cur.lastrowid)
                ids.append(pid)
                size += 1024 + len(p.image or b"")  # the row, its preview
                if p.original is not None:
                    kept = self.keeps(len(p.original))
                    conn.execute(
                        "INSERT INTO uploads (prediction_id, created_at, size, mime, data, note) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            pid,
                            created,
                            len(p.original),
                            p.original_type,
                            p.original if kept else None,
                            None if kept else self.not_kept_reason(len(p.original)),
                        ),
                    )
                    size += len(p.original) if kept else 0
        with self._write_lock:
            self._written(size)
        if time.monotonic() >= self._next_purge:
            self.purge_expired()
        return ids

    def keeps(self, size: int) -> bool:
        """Whether an original upload of ``size`` bytes is kept."""
        return self.keep_upload_days != 0 and 0 < size <= self.keep_upload_bytes

    def not_kept_reason(self, size: int) -> str:
        """Why an upload of ``size`` bytes is not kept, for the person who sent it."""
        if self.keep_upload_days == 0 or self.keep_upload_bytes <= 0:
            return "originals are not kept on this service (only a preview)"
        return (
            f"the upload ({size / 2**20:.1f} MB) is larger than the "
            f"{self.keep_upload_bytes / 2**20:g} MB "
            "kept per photo: only a preview is kept"
        )

    def _cutoff(self) -> str:
        """The creation time before which originals are expired ("" when nothing expires)."""
        if self.keep_upload_days is None:
            return ""
        return timestamp(datetime.now(UTC) - timedelta(days=self.keep_upload_days))

    def purge_expired(self) -> int:
        """Remove originals older than ``keep_upload_days`` (predictions stay); returns how many.

        Runs when the store opens and then at most once a minute, on a write; reads never
        return an expired original in between.
        """
        self._next_purge = time.monotonic() + 60
        if self.keep_upload_days is None:
            return 0
        note = f"removed after {self.keep_upload_days:g} days"
        with self._transaction() as conn:
            return conn.execute(
                "UPDATE uploads SET data = NULL, note = ? "
                "WHERE data IS NOT NULL AND created_at < ?",
                (note, self._cutoff()),
            ).rowcount

    def original(self, prediction_id: int) -> tuple[bytes, str] | None:
        """The upload as received, ``(bytes, mime type)``; None if not (or no more) kept."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT data, mime FROM uploads WHERE prediction_id = ? AND data IS NOT NULL "
                "AND created_at >= ?",
                (prediction_id, self._cutoff()),
            ).fetchone()
        return (bytes(row["data"]), row["mime"] or "application/octet-stream") if row else None

    def original_status(self, prediction_id: int) -> dict[str, Any] | None:
        """``{"kept", "bytes", "note"}`` of a prediction's original upload; None for a tensor."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT size, data IS NOT NULL AND created_at >= ? AS kept, note FROM uploads "
                "WHERE prediction_id = ?",
                (self._cutoff(), prediction_id),
            ).fetchone()
        if row is None:
            return None
        note = row["note"] or (
            None if row["kept"] else f"removed after {self.keep_upload_days:g} days"
        )
        return {"kept": bool(row["kept"]), "bytes": row["size"], "note": note}

    def delete_image(self, prediction_id: int) -> dict[str, bool] | None:
        """Delete both stored copies of a prediction's photo, the preview and the original.

        The prediction's numbers and its feedback stay. Returns which copies existed
        (``{"preview": ..., "original": ...}``), or None if the id is unknown.
        """
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT image IS NOT NULL AS has_preview FROM predictions WHERE id = ?",
                (prediction_id,),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE predictions SET image = NULL, image_type = NULL WHERE id = ?",
                (prediction_id,),
            )
            original = conn.execute(
                "UPDATE uploads SET data = NULL, note = ? WHERE prediction_id = ? "
                "AND data IS NOT NULL",
                (f"deleted on request at {now()}", prediction_id),
            )
        return {"preview": bool(row["has_preview"]), "original": original.rowcount > 0}

    def get(self, prediction_id: int) -> dict[str, Any] | None:
        """One prediction with its feedback, or None."""
        with self._connection() as conn:
            row = conn.execute(f"{_SELECT} WHERE p.id = ?", (prediction_id,)).fetchone()
        return _as_dict(row) if row else None

    def history(self, page: int = 1, per_page: int = 20) -> dict[str, Any]:
        """A page of predictions, latest first, with the total count."""
        with self._connection() as conn:
            conn.execute("BEGIN")  # one snapshot for the count and the page
            try:
                total = conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
                rows = conn.execute(
                    f"{_SELECT} ORDER BY p.id DESC LIMIT ? OFFSET ?",
                    (per_page, (page - 1) * per_page),
                ).fetchall()
            finally:
                conn.execute("COMMIT")
        return {
            "items": [_as_dict(r) for r in rows],
            "page": page,
            "per_page": per_page,
            "total": total,
            "pages": max(1, -(-total // per_page)),
        }

    def count(self) -> int:
        with self._connection() as conn:
            return conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]

    def image(self, prediction_id: int) -> tuple[bytes, str] | None:
        """The stored preview of an upload: ``(bytes, mime type)``, or None."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT image, image_type FROM predictions WHERE id = ?", (prediction_id,)
            ).fetchone()
        return (
            (bytes(row["image"]), row["image_type"]) if row and row["image"] is not None else None
        )

    def set_feedback(
        self,
        prediction_id: int,
        correct: bool,
        correct_label: str | None = None,
        comment: str | None = None,
    ) -> dict[str, Any] | None:
        """Attach (or replace) feedback; returns the updated prediction, None for an unknown id."""
        with self._transaction() as conn:
            if (
                conn.execute("SELECT 1 FROM predictions WHERE id = ?", (prediction_id,)).fetchone()
                is None
            ):
                return None
            conn.execute(
                "INSERT INTO feedback (prediction_id, correct, correct_label, comment, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(prediction_id) DO UPDATE SET "
                "correct = excluded.correct, correct_label = excluded.correct_label, "
                "comment = excluded.comment, created_at = excluded.created_at",
                (prediction_id, int(bool(correct)), correct_label, comment, now()),
            )
        return self.get(prediction_id)

    def feedback_rows(self) -> list[dict[str, Any]]:
        """Every prediction with feedback, oldest first, with its original upload, for retraining.

        Keys: ``prediction_id``, ``created_at``, ``model_name``, ``model_version``, ``label``
        (predicted), ``correct``, ``correct_label`` (None when correct), ``image`` (the original
        upload's bytes as received; None when it was never kept, was deleted or has expired) and
        ``image_type`` (its MIME type, or None). The label to train on is ``label if correct
        else correct_label``.
        """
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT p.id, p.created_at, p.model_name, p.model_version, p.label, f.correct, "
                "f.correct_label, "
                "CASE WHEN u.created_at >= ? THEN u.data END AS data, u.mime "
                "FROM predictions p JOIN feedback f ON f.prediction_id = p.id "
                "LEFT JOIN uploads u ON u.prediction_id = p.id ORDER BY p.id",
                (self._cutoff(),),
            ).fetchall()
        out = []
        for row in rows:
            correct = bool(row["correct"])
            image = bytes(row["data"]) if row["data"] is not None else None
            out.append(
                {
                    "prediction_id": int(row["id"]),
                    "created_at": row["created_at"],
                    "model_name": row["model_name"],
                    "model_version": row["model_version"],
                    "label": row["label"],
                    "correct": correct,
                    "correct_label": None if correct else row["correct_label"],
                    "image": image,
                    "image_type": row["mime"] if image is not None else None,
                }
            )
        return out

    def export_feedback_csv(self, base_url: str = "") -> str:
        """Every prediction that has feedback, as CSV (one row each); returns the text.

        ``correct_label`` is the label to train on: the predicted one when the
        prediction was confirmed, the user's correction otherwise.
        """
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        with self._connection() as conn:
            rows = conn.execute(
                f"{_SELECT} WHERE f.prediction_id IS NOT NULL ORDER BY p.id"
            ).fetchall()
        for row in rows:
            item = _as_dict(row)
            feedback = item["feedback"]
            writer.writerow(
                {
                    "prediction_id": item["id"],
                    "created_at": item["created_at"],
                    "filename": _cell(item["filename"]),
                    "model_name": item["model"]["name"],
                    "model_version": item["model"]["version"],
                    "predicted_label": item["label"],
                    "confidence": item["confidence"],
                    "correct": int(feedback["correct"]),
                    "correct_label": _cell(
                        item["label"] if feedback["correct"] else (feedback["correct_label"] or "")
                    ),
                    "comment": _cell(feedback["comment"] or ""),
                    "feedback_at": feedback["created_at"],
                    "image_url": f"{base_url}/history/{item['id']}/image"
                    if item["has_image"]
                    else "",
                    "original_url": f"{base_url}/history/{item['id']}/original"
                    if (self.original_status(item["id"]) or {}).get("kept")
                    else "",
                }
            )
        return buffer.getvalue()

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _checkpoints(path: Path, busy_timeout_ms: int, wanted: threading.Event) -> None:
    """The checkpoint thread of a store: a passive checkpoint each time ``wanted`` is set.

    Passive: it copies what no reader still needs and never blocks a writer or a reader.
    """
    while True:
        wanted.wait()
        wanted.clear()
        try:
            conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                conn.close()
        except sqlite3.Error:  # the next checkpoint (or closing the file) copies what is left
            pass


def _cell(text: str) -> str:
    """Text as a CSV cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _as_dict(row: sqlite3.Row) -> dict[str, Any]:
    feedback = None
    if row["correct"] is not None:
        feedback = {
            "correct": bool(row["correct"]),
            "correct_label": row["correct_label"],
            "comment": row["comment"],
            "created_at": row["feedback_at"],
        }
    return {
        "id": row["id"],
        "created_at": row["created_at"],
        "filename": row["filename"],
        "label": row["label"],
        "class_index": row["class_index"],
        "confidence": row["confidence"],
        "top_k": json.loads(row["top_k"]),
        "latency_ms": row["latency_ms"],
        "model": {"name": row["model_name"], "version": row["model_version"]},
        "width": row["width"],
        "height": row["height"],
        "source": row["source"],
        "has_image": bool(row["has_image"]),
        "feedback": feedback,
    }
