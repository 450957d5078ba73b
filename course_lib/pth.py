"""Read PyTorch ``.pth`` state dicts in the legacy (non-zip) format into NumPy, without torch.

The course's offline ImageNet backbone ships as such a file. The format, as written
by ``torch.save(..., _use_new_zipfile_serialization=False)``, is a run of pickles
followed by raw bytes:

1. the magic number ``0x1950a86a20f9469cfc6c``;
2. the protocol version (1001);
3. ``sys_info``: byte order and type sizes;
4. the object itself, a state dict whose tensors point at *storages* through
   pickle "persistent ids" ``('storage', StorageType, key, location, numel, view)``;
5. the list of storage keys, in the order their bytes follow;
6. for each storage: its element count as an 8-byte little-endian integer, then
   its elements.

Unpickling runs code named in the file, so the unpickler here only accepts the
handful of names a state dict needs and maps each to a NumPy equivalent.
"""

from __future__ import annotations

import collections
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

STORAGE_DTYPES: dict[str, np.dtype] = {
    name: np.dtype(dtype)
    for name, dtype in {
        "FloatStorage": np.float32,
        "DoubleStorage": np.float64,
        "HalfStorage": np.float16,
        "LongStorage": np.int64,
        "IntStorage": np.int32,
        "ShortStorage": np.int16,
        "CharStorage": np.int8,
        "ByteStorage": np.uint8,
        "BoolStorage": np.bool_,
    }.items()
}


class PthFormatError(ValueError):
    """The file is not a legacy PyTorch pickle this reader understands."""


@dataclass(frozen=True)
class _StorageType:
    name: str

    @property
    def dtype(self) -> np.dtype:
        return STORAGE_DTYPES[self.name]


@dataclass
class _Storage:
    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None  # filled once the raw bytes have been read
    view: tuple[str, int, int] | None = None  # (root key, offset, size) for a storage view


@dataclass
class _Tensor:
    """A tensor whose storage bytes have not been read yet."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]
    extra: list[Any] = field(default_factory=list)


def _rebuild_tensor(
    storage: _Storage, offset: int, size: tuple, stride: tuple, *extra: Any
) -> _Tensor:
    return _Tensor(storage, int(offset), tuple(size), tuple(stride), list(extra))


def _rebuild_parameter(data: Any, requires_grad: bool = False, backward_hooks: Any = None) -> Any:
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _Unpickler(pickle.Unpickler):
    """Accepts only the names a state dict needs; storages become placeholders."""

    def __init__(self, file: BinaryIO, storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a state dict file")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] in ("storage", b"storage")):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) > 5 else None
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unknown storage type {storage_type!r}")
        key = str(key)
        if key not in self.storages:
            self.storages[key] = _Storage(key, storage_type.dtype, int(numel))
        if view is None:
            return self.storages[key]
        view_key, view_offset, view_size = view
        return _Storage(
            str(view_key),
            storage_type.dtype,
            int(view_size),
            view=(key, int(view_offset), int(view_size)),
        )


def _read_storage_bytes(file: BinaryIO, storage: _Storage, little_endian: bool) -> None:
    header = file.read(8)
    if len(header) != 8:
        raise PthFormatError(f"file ends before the data of storage {storage.key}")
    count = int.from_bytes(header, "little" if little_endian else "big")
    if count != storage.numel:
        raise PthFormatError(
            f"storage {storage.key}: {count} elements on disk, {storage.numel} expected"
        )
    dtype = storage.dtype.newbyteorder("<" if little_endian else ">")
    payload = file.read(count * dtype.itemsize)
    if len(payload) != count * dtype.itemsize:
        raise PthFormatError(f"file ends inside the data of storage {storage.key}")
    storage.data = np.frombuffer(payload, dtype=dtype).astype(storage.dtype.newbyteorder("="))


def _materialise(obj: Any, storages: dict[str, _Storage]) -> Any:
    """Replace every placeholder tensor in ``obj`` by a NumPy array (a copy)."""
    if isinstance(obj, _Tensor):
        storage = obj.storage
        base_offset = 0
        if storage.view is not None:
            root_key, base_offset, _ = storage.view
            storage = storages[root_key]
        flat = storage.data
        itemsize = flat.itemsize
        start = base_offset + obj.offset
        if obj.size and any(n == 0 for n in obj.size):
            return np.zeros(obj.size, dtype=flat.dtype)
        last = start + sum((n - 1) * s for n, s in zip(obj.size, obj.stride, strict=True))
        if start < 0 or last >= len(flat):
            raise PthFormatError(f"tensor of size {obj.size} runs past its storage {storage.key}")
        view = np.lib.stride_tricks.as_strided(
            flat[start:], shape=obj.size, strides=tuple(s * itemsize for s in obj.stride)
        )
        return np.array(view, order="C")  # a copy: independent of the storage and of other tensors
    if isinstance(obj, dict):
        return obj.__class__((k, _materialise(v, storages)) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return type(obj)(_materialise(v, storages) for v in obj)
    return obj


def load_state_dict(path: str | Path) -> collections.OrderedDict[str, np.ndarray]:
    """Read a legacy-format PyTorch state dict: parameter name → NumPy array.

    Raises :class:`PthFormatError` for anything else, including the zip-based
    format that ``torch.save`` writes by default since PyTorch 1.6.
    """
    with open(path, "rb") as file:
        if file.read(2) == b"PK":
            raise PthFormatError(
                f"{Path(path).name} is a zip-based PyTorch file; this reader reads the legacy "
                "format"
            )
        file.seek(0)
        try:
            magic = _Unpickler(file, {}).load()
            if magic != MAGIC_NUMBER:
                raise PthFormatError(
                    f"{Path(path).name} is not a legacy PyTorch file (magic number {magic!r})"
                )
            version = _Unpickler(file, {}).load()
            if version != PROTOCOL_VERSION:
                raise PthFormatError(f"unsupported protocol version {version!r}")
            sys_info = _Unpickler(file, {}).load()
            little_endian = bool(sys_info.get("little_endian", True))
            storages: dict[str, _Storage] = {}
            result = _Unpickler(file, storages).load()
            keys = _Unpickler(file, {}).load()
        except (pickle.UnpicklingError, EOFError) as exc:
            raise PthFormatError(f"{Path(path).name}: {exc}") from None
        for key in keys:
            if str(key) not in storages:
                raise PthFormatError(f"storage {key} is listed but never used")
            _read_storage_bytes(file, storages[str(key)], little_endian)
    state = _materialise(result, storages)
    if not isinstance(state, dict):
        raise PthFormatError(f"expected a state dict, found a {type(state).__name__}")
    return collections.OrderedDict(state)
