"""A stand-in for the course service, run by the judge for exercise 7.4 (a batch client).

In a notebook, check 7.4 talks to the lesson's running server. In two-phase grading that server
is the student's (its kernel started it; it could answer anything and count nothing), so the
judge runs this one instead: a small HTTP server on 127.0.0.1, on a port of its own, in a
daemon thread of the judge's process. The student's kernel calls ``classify_batch`` with its
URL; the server answers ``POST /predict`` as the course service does (one prediction for one
file, ``{"predictions": [...]}`` for several, in order, JSON errors with 4xx statuses), with
labels the check chose, and records every request it gets. The check then knows how many
requests the call made and what it answered to each.

It stays up from the check's first round to its last (so that the URL, an argument of the
call, is the same in each round and the call is recognised), and stops when the check is
done, or with the judge's process. Bounded: requests of at most 10 MB, 16 files, and
a few hundred records.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # the course service's default limit
MAX_FILES = 16  # images per request, as the course service
MAX_RECORDS = 500  # requests kept; a client that makes more is counted, not stored


class BatchService:
    """The server, its records, and the labels it gives the files a check sends."""

    def __init__(self, class_names: list[str]) -> None:
        from flask import Flask
        from werkzeug.serving import make_server

        self.class_names = list(class_names)
        self.labels: dict[str, int] = {}  # sha256 of a file -> the class it is given
        self.records: list[dict[str, Any]] = []
        self.marks: dict[str, int] = {}
        self.lock = threading.Lock()
        self.next_id = 1
        app = Flask("course_check_batch_service")
        app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        app.add_url_rule("/", "root", self._answer, defaults={"path": ""}, methods=methods)
        app.add_url_rule("/<path:path>", "any", self._answer, methods=methods)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="course-check-batch-service", daemon=True
        )
        self.thread.start()

    # ------------------------------------------------------------------ what the check uses

    def give_labels(self, files: list[tuple[str, bytes]], indexes: list[int]) -> None:
        """Answer ``files[i]`` with the class ``indexes[i]``, whichever request carries it."""
        with self.lock:
            for (_, data), index in zip(files, indexes, strict=True):
                self.labels[hashlib.sha256(data).hexdigest()] = int(index)

    def label_of(self, data: bytes) -> str:
        """The label this server answers for a file with these bytes."""
        return self.class_names[self._index(data)]

    def mark(self, call: str, first: bool = False) -> None:
        """The kernel is about to make the call ``call``: the requests from now on are its.

        ``first``: the check's first call, before which nothing this server recorded belongs
        to this check (an earlier grading that stopped half-way, say).
        """
        with self.lock:
            if first:
                self.records.clear()
                self.marks.clear()
            self.marks[call] = len(self.records)

    def requests_of(self, call: str) -> list[dict[str, Any]]:
        """The requests the kernel's call ``call`` made (until the next call's mark)."""
        with self.lock:
            if call not in self.marks:
                return []
            start = self.marks[call]
            later = [m for m in self.marks.values() if m > start]
            return [dict(r) for r in self.records[start : min(later, default=len(self.records))]]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    # ------------------------------------------------------------------ the service

    def _index(self, data: bytes) -> int:
        digest = hashlib.sha256(data).hexdigest()
        found = self.labels.get(digest)
        return found if found is not None else int(digest[:8], 16) % len(self.class_names)

    def _record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            if len(self.records) < MAX_RECORDS:
                self.records.append(entry)

    def _answer(self, path: str) -> Any:
        from flask import request
        from werkzeug.exceptions import RequestEntityTooLarge

        if len(self.records) >= MAX_RECORDS:  # a flood: refused unread (and not recorded)
            return {"error": "too many requests", "status": 429}, 429
        entry: dict[str, Any] = {"method": request.method, "path": "/" + path, "files": []}
        try:
            status, body = self._predict(entry) if path == "predict" else self._other(path)
        except RequestEntityTooLarge:
            status, body = 413, {"error": "the request is larger than the 10 MB upload limit"}
        except Exception:  # a request the form parser refuses
            status, body = 400, {"error": "the request could not be read", "status": 400}
        entry["status"] = status
        self._record(entry)
        return body, status

    def _other(self, path: str) -> tuple[int, dict[str, Any]]:
        from flask import request

        if path == "health" and request.method == "GET":
            return 200, {"status": "ok"}
        return 404, {"error": f"nothing here: /{path}", "status": 404}

    def _predict(self, entry: dict[str, Any]) -> tuple[int, Any]:
        import time

        from flask import request
        from werkzeug.utils import secure_filename

        from course_lib.serving.uploads import UploadError, decode_image

        if request.method != "POST":
            return 405, {"error": f"{request.method} is not allowed on /predict; use POST"}
        if request.content_length and request.content_length > MAX_UPLOAD_BYTES:
            message = "the request is larger than the 10 MB upload limit"
            return 413, {"error": message, "status": 413}
        if not request.content_type or not request.content_type.startswith("multipart/form-data"):
            message = (
                "send the image as multipart/form-data in the field 'file' "
                "(curl: -F file=@photo.jpg)"
            )
            return 415, {"error": message, "status": 415}
        uploads = [(f.filename, f.read(MAX_UPLOAD_BYTES)) for f in request.files.getlist("file")]
        entry["files"] = [[name or "", len(data)] for name, data in uploads]
        entry["fields"] = sorted(set(request.files))
        uploads = [(name, data) for name, data in uploads if name or data]
        if not uploads:
            others = sorted(set(request.files))
            hint = f" (the form has {', '.join(repr(o) for o in others)})" if others else ""
            message = f"no image in the field 'file'{hint}: choose an image to upload"
            return 400, {"error": message, "status": 400}
        if len(uploads) > MAX_FILES:
            message = f"{len(uploads)} files in one request; the limit is {MAX_FILES}"
            return 413, {"error": message, "status": 413}
        items = []
        for name, data in uploads:
            shown = secure_filename(name or "") or "upload"
            try:
                image = decode_image(data, name=f"'{shown}'")
            except UploadError as exc:
                return exc.status, {"error": exc.message, "status": exc.status}
            items.append(self._prediction(shown, data, image.size))
        created = time.strftime("%Y-%m-%dT%H:%M:%S")
        for item in items:
            item["created_at"] = created
        return 200, items[0] if len(items) == 1 else {"predictions": items}

    def _prediction(self, name: str, data: bytes, size: tuple[int, int]) -> dict[str, Any]:
        """One prediction, shaped as the course service's (its stored row's fields too)."""
        best = self._index(data)
        digest = hashlib.sha256(data).digest()
        confidence = round(0.5 + digest[8] / 255 * 0.49, 6)
        rest = [i for i in range(len(self.class_names)) if i != best]
        second = rest[digest[9] % len(rest)]
        top = [
            {"label": self.class_names[best], "class_index": best, "confidence": confidence},
            {
                "label": self.class_names[second],
                "class_index": second,
                "confidence": round((1 - confidence) / 2, 6),
            },
        ]
        with self.lock:
            prediction_id, self.next_id = self.next_id, self.next_id + 1
        return {
            "id": prediction_id,
            "filename": name,
            "label": self.class_names[best],
            "class_index": best,
            "confidence": confidence,
            "top_k": top,
            "model": {"name": "fashion_cnn", "version": "1", "runtime": "keras"},
            "latency_ms": 1.0,
            "width": size[0],
            "height": size[1],
            "image_url": f"/history/{prediction_id}/image",
            "original": None,
            "original_url": None,
        }


_RUNNING: list[BatchService] = []


def running(class_names: list[str]) -> BatchService:
    """The judge's service, started on first use; the same one (and URL) until :func:`stop`."""
    if not _RUNNING:
        _RUNNING.append(BatchService(class_names))
    return _RUNNING[0]


def stop() -> None:
    """Stop the service once a check is done with it."""
    while _RUNNING:
        _RUNNING.pop().stop()
