"""Model versions side by side, TF Serving-style: ``models/<name>/<version>/``.

Each version is a positive whole-number folder holding what
:func:`course_lib.photos.save_photo_model` writes (``model.keras`` + ``model.json``). Which
version is served is recorded in ``models/<name>/serving.json``::

    {"version": 3, "history": [1, 3], "updated_at": "2026-12-02T08:00:00.000Z",
     "reason": "promoted: holdout 0.81 vs 0.79"}

``history`` lists the served versions in order, the last one being ``version``; :func:`rollback`
steps back along it. The file is written to a temporary file in the same folder and moved into
place with :func:`os.replace`, so a service reading it at any moment sees the old record or the
new one, never half of one. Without ``serving.json`` the highest version is served.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SERVING_FILE = "serving.json"
MODEL_FILE = (
    "model.keras"  # the same name as photos.MODEL_FILE; photos imports numpy, this module does not
)


def _root(model_root: str | os.PathLike[str]) -> Path:
    return Path(model_root)


def list_versions(model_root: str | os.PathLike[str]) -> list[int]:
    """The versions under ``model_root``, ascending: whole-number folders that hold
    ``model.keras``."""
    root = _root(model_root)
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        # "01" or "+1" would name the same number as "1": only the plain spelling counts
        if (
            child.name.isdigit()
            and str(int(child.name)) == child.name
            and int(child.name) > 0
            and (child / MODEL_FILE).is_file()
        ):
            found.append(int(child.name))
    return sorted(found)


def is_model_root(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder of numbered versions (at least one holding ``model.keras``)."""
    return bool(list_versions(path))


def version_folder(model_root: str | os.PathLike[str], version: int) -> Path:
    """The folder of ``version`` under ``model_root`` (it may not exist yet)."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"a version is a positive whole number, not {version!r}")
    return _root(model_root) / str(version)


def next_version(model_root: str | os.PathLike[str]) -> int:
    """The number the next saved version should take: one more than the highest, or 1."""
    versions = list_versions(model_root)
    return versions[-1] + 1 if versions else 1


def _read_record(model_root: str | os.PathLike[str]) -> dict[str, Any] | None:
    path = _root(model_root) / SERVING_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{path} cannot be read as JSON ({error}); delete it to serve the highest version"
        ) from None
    if not isinstance(record, dict) or not isinstance(record.get("version"), int):
        raise ValueError(
            f"{path} has no whole-number 'version'; delete it to serve the highest version"
        )
    history = record.get("history")
    if not isinstance(history, list) or not all(isinstance(v, int) for v in history):
        record["history"] = [record["version"]]
    elif not history or history[-1] != record["version"]:
        record["history"] = [
            *history,
            record["version"],
        ]  # the served version is always the last entry
    return record


def served_version(model_root: str | os.PathLike[str]) -> int | None:
    """The version to serve: ``serving.json``'s if that folder exists, else the highest, else
    None."""
    versions = list_versions(model_root)
    try:
        record = _read_record(model_root)
    except ValueError:
        record = None  # a damaged record must not stop the service: fall back as if it were absent
    if record is not None and record["version"] in versions:
        return int(record["version"])
    return versions[-1] if versions else None


def _write_record(model_root: Path, record: dict[str, Any]) -> None:
    # a temporary file in the same folder, then os.replace: readers never see a half-written file
    handle, temporary = tempfile.mkstemp(prefix=".serving-", suffix=".json", dir=model_root)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(record, stream, indent=2)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, model_root / SERVING_FILE)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _history(model_root: Path) -> list[int]:
    record = _read_record(model_root)
    if record is not None:
        return list(record["history"])
    served = served_version(model_root)
    return [served] if served is not None else []


def promote(model_root: str | os.PathLike[str], version: int, reason: str = "") -> None:
    """Serve ``version`` from now on, appending it to the history; ValueError if it does not
    exist."""
    root = _root(model_root)
    versions = list_versions(root)
    if version not in versions:
        saved = ", ".join(map(str, versions)) or "none"
        raise ValueError(
            f"cannot promote version {version!r} of {root}: no {MODEL_FILE} in "
            f"{root / str(version)} (saved versions: {saved})"
        )
    history = _history(root)
    if not history or history[-1] != version:
        history.append(version)
    _write_record(
        root, {"version": version, "history": history, "updated_at": _now(), "reason": reason}
    )


def rollback(model_root: str | os.PathLike[str], reason: str = "") -> int:
    """Serve the previously served version again; returns it. ValueError if there is none."""
    root = _root(model_root)
    versions = set(list_versions(root))
    history = _history(root)
    # step back past versions whose folders have since been deleted
    earlier = [v for v in history[:-1] if v in versions]
    if not earlier:
        served = history[-1] if history else None
        raise ValueError(
            f"no earlier served version to roll back to in {root} (served: {served}, "
            f"history: {history}); promote a version first"
        )
    while history and history[-1] != earlier[-1]:
        history.pop()
    version = history[-1]
    _write_record(
        root,
        {
            "version": version,
            "history": history,
            "updated_at": _now(),
            "reason": reason or "rolled back",
        },
    )
    return version


def serving_stamp(model_root: str | os.PathLike[str]) -> tuple[int, int] | None:
    """``(st_mtime_ns, st_size)`` of ``serving.json``, or None: a cheap "has it changed?" key."""
    try:
        stat = (_root(model_root) / SERVING_FILE).stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
