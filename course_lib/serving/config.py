"""Settings of the classifier service, read from environment variables.

Every setting has a default that works on a laptop; README's "Serving the
classifier" section lists them. Values are checked when read, so a typo in a
variable fails at start-up with a message naming it, not later in a request.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from course_lib import config

PREFIX = "COURSE_SERVE_"
RUNTIMES = ("auto", "keras", "litert")


def default_db_path() -> Path:
    """Where predictions and feedback are stored unless ``COURSE_SERVE_DB`` says otherwise."""
    return config.build_dir() / "serving" / "predictions.sqlite3"


@dataclass(frozen=True)
class ServeConfig:
    """What the service needs to know; build it with :meth:`from_env` or directly in tests."""

    # "imagenet" (lesson 06), "fashion" (lesson 04), a .keras path or a model folder (lesson 09)
    model: str = "imagenet"
    # What runs the model: "keras", "litert" (a float .tflite made from it) or "auto", which
    # picks LiteRT when ai_edge_litert imports and the conversion works, else Keras.
    runtime: str = "auto"
    db: Path = Path()  # empty: default_db_path()
    max_upload_mb: float = 10.0  # whole request body, enforced by Flask before reading it
    max_pixels: int = 40_000_000  # per image, checked before decoding
    max_files: int = 16  # images per /predict request
    top_k: int = 5
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    threads: int = 8
    batch_size: int = 32  # largest micro-batch sent to the model at once
    batch_wait_ms: float = 0.0  # extra wait for a batch to fill; 0 batches only what is queued
    timeout_s: float = 30.0  # longest a request waits for its prediction
    load_in_background: bool = True  # /health answers 503 while the model loads
    # The original upload is kept beside its prediction up to this size; 0: never.
    keep_upload_mb: float = 10.0
    # Originals older than this are removed (the prediction row stays); 0: never kept.
    keep_upload_days: float = 30.0
    # Needed by the routes that hand out or delete photos; required to listen beyond loopback.
    token: str = dataclasses.field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.db == Path():
            object.__setattr__(self, "db", default_db_path())
        object.__setattr__(self, "db", Path(self.db))
        for name in ("max_pixels", "max_files", "top_k", "workers", "threads", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"{PREFIX}{name.upper()} must be at least 1, got {getattr(self, name)}"
                )
        for name in ("max_upload_mb", "timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(
                    f"{PREFIX}{name.upper()} must be positive, got {getattr(self, name)}"
                )
        for name in ("batch_wait_ms", "keep_upload_mb", "keep_upload_days"):
            if getattr(self, name) < 0:
                raise ValueError(
                    f"{PREFIX}{name.upper()} must be 0 or more, got {getattr(self, name)}"
                )
        if self.runtime not in RUNTIMES:
            raise ValueError(
                f"{PREFIX}RUNTIME must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}"
            )
        if not 0 < self.port < 65536:
            raise ValueError(f"{PREFIX}PORT must be a TCP port (1-65535), got {self.port}")
        if not self.token and not is_loopback(self.host):
            raise ValueError(
                f"{PREFIX}HOST={self.host!r} lets other machines reach the service, and with it "
                f"the uploaded photos: set {PREFIX}TOKEN to a secret (e.g. python -c "
                '"import secrets; print(secrets.token_urlsafe())") that clients send as '
                f"'Authorization: Bearer <token>', or keep {PREFIX}HOST=127.0.0.1"
            )

    @property
    def keep_upload_bytes(self) -> int:
        return int(self.keep_upload_mb * 1024 * 1024)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ServeConfig:
        """Defaults, then ``COURSE_SERVE_<FIELD>`` variables, then ``overrides``."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = environ.get(PREFIX + field.name.upper())
            if raw is None or raw.strip() == "":
                continue
            values[field.name] = _parse(field.name, field.type, raw.strip())
        return replace(cls(**values), **overrides) if overrides else cls(**values)

    def as_env(self) -> dict[str, str]:
        """The ``COURSE_SERVE_*`` variables that reproduce this configuration in another process."""
        out = {}
        for field in fields(self):
            value = getattr(self, field.name)
            out[PREFIX + field.name.upper()] = (
                ("1" if value else "0") if isinstance(value, bool) else str(value)
            )
        return out


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach: ``localhost``, 127.0.0.0/8, ``::1``.

    Any other name counts as reachable from outside: what a name resolves to can change.
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _parse(name: str, kind: Any, raw: str) -> Any:
    kind = kind if isinstance(kind, str) else kind.__name__
    variable = PREFIX + name.upper()
    if kind == "bool":
        if raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
        raise ValueError(f"{variable} must be 1/0 (or true/false), got {raw!r}")
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ValueError(f"{variable} must be a number, got {raw!r}") from None
    if kind == "Path":
        return Path(raw).expanduser()
    return raw
