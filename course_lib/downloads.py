"""Where the course datasets come from, and how their files are fetched, verified and parsed.

This module is the single source of truth for download addresses and SHA-256 checksums
(:data:`SOURCES`). It lives inside the package, not in a JSON file next to it, so that it
keeps working when ``course_lib`` is installed without the repository around it.

Every file is verified on every load, not only after a download: hashing costs ~0.03 s per
50 MB, small next to decompressing and parsing, and it means a pickle (CIFAR-10) is only
ever unpickled from bytes whose checksum has just passed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
import tempfile
import urllib.request
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path

import numpy as np

KERAS_MIRROR = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# A classroom or CI mirror: a base URL (https://, http:// or file://) holding one folder per
# dataset, e.g. $COURSE_MIRROR/fashion-mnist/train-images-idx3-ubyte.gz. When it is set it is
# the only place files are downloaded from; the checksums below still have to match.
MIRROR_ENV = "COURSE_MIRROR"
_CHUNK = 1 << 20
_TIMEOUT_S = 60


class DatasetUnavailableError(RuntimeError):
    """A dataset could be found neither offline nor online; the message says how to fix it."""


class ChecksumError(DatasetUnavailableError):
    """A file's SHA-256 does not match the one recorded in :data:`SOURCES`."""


@dataclass(frozen=True)
class Source:
    """One dataset's files, where to download them and how to check them.

    ``hash_of`` is ``"file"`` (SHA-256 of the bytes on disk) or ``"gunzipped"`` (SHA-256 of the
    decompressed payload of a ``.gz`` file).
    """

    title: str
    note: str
    mirrors: tuple[str, ...]
    files: dict[str, str]
    hash_of: str = "file"
    extra_fixes: tuple[str, ...] = field(default_factory=tuple)


SOURCES: dict[str, Source] = {
    "fashion-mnist": Source(
        title="Fashion-MNIST",
        note="Zalando Research, MIT licence (github.com/zalandoresearch/fashion-mnist). "
        "Checksums measured from the Debian package dataset-fashion-mnist.",
        # Zalando's own host is an S3 *website* endpoint, which serves plain http only;
        # that is safe here because every payload is checked against the hashes below.
        mirrors=(KERAS_MIRROR, "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
        files={
            "train-images-idx3-ubyte.gz": (
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
            ),
            "train-labels-idx1-ubyte.gz": (
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
            ),
        },
        # Debian recompressed the .gz files, so only the decompressed IDX bytes agree everywhere.
        hash_of="gunzipped",
        extra_fixes=(
            "sudo apt-get install dataset-fashion-mnist   (Debian/Ubuntu; offline from then on)",
        ),
    ),
    "mnist": Source(
        title="MNIST",
        note="Yann LeCun and Corinna Cortes, CC BY-SA 3.0; Keras's npz packaging. "
        "Checksum from keras/src/datasets/mnist.py.",
        mirrors=(KERAS_MIRROR,),
        files={"mnist.npz": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"},
    ),
    "flowers": Source(
        title="TensorFlow flower photos",
        note="3,670 photos of daisies, dandelions, roses, sunflowers and tulips from Flickr, "
        "CC BY 2.0 (LICENSE.txt in the archive lists each photo's author). "
        "Size (228,813,984 bytes) and checksum from tensorflow_datasets' "
        "url_checksums/tf_flowers.txt.",
        mirrors=("https://storage.googleapis.com/download.tensorflow.org/example_images/",),
        files={
            "flower_photos.tgz": "4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c"
        },
    ),
    "cifar10": Source(
        title="CIFAR-10",
        note="Alex Krizhevsky, 2009 (www.cs.toronto.edu/~kriz/cifar.html), python version. "
        "Checksum from keras/src/datasets/cifar10.py.",
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        files={
            "cifar-10-python.tar.gz": (
                "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
            )
        },
    ),
}


def read_verified(path: Path, expected: str, hash_of: str = "file") -> bytes:
    """Return the payload of ``path`` (decompressed if ``hash_of == "gunzipped"``) after
    checking its SHA-256; raise :class:`ChecksumError` naming expected and actual hashes."""
    raw = Path(path).read_bytes()
    if hash_of == "gunzipped":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ChecksumError(f"{path} is not a valid gzip file ({err}).") from None
    got = hashlib.sha256(raw).hexdigest()
    if got != expected:
        raise ChecksumError(f"SHA-256 mismatch for {path}: expected {expected}, got {got}.")
    return raw


def download(url: str, dest: Path, expected: str, hash_of: str = "file") -> Path:
    """Stream ``url`` (https://, http:// or file://) to ``dest``, verifying its SHA-256.

    The data goes to a temporary file next to ``dest`` and is renamed only once verified, so
    an interrupted or corrupted download never leaves a file that looks complete.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=_TIMEOUT_S) as resp:
            while chunk := resp.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        got = digest.hexdigest()
        if hash_of == "gunzipped":
            try:
                got = hashlib.sha256(gzip.decompress(tmp.read_bytes())).hexdigest()
            except (OSError, EOFError) as err:
                got = f"an invalid gzip file ({err})"
        if got != expected:
            raise ChecksumError(
                f"SHA-256 mismatch for {url}: expected {expected}, got {got}. "
                "The partial download was deleted."
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def mirrors(name: str) -> tuple[str, ...]:
    """Base URLs that dataset ``name``'s files are downloaded from, in order: only
    ``$COURSE_MIRROR/<name>/`` when that variable is set, else the official ones."""
    base = os.environ.get(MIRROR_ENV, "").strip()
    if base:
        return (f"{base.rstrip('/')}/{name}/",)
    return SOURCES[name].mirrors


def fetch(name: str, cache: Path, offline_dirs: Iterable[Path] = ()) -> dict[str, bytes]:
    """Verified payloads of every file of dataset ``name``, keyed by file name.

    Looks in ``cache`` first, then in each of ``offline_dirs`` (read-only, e.g. a Debian
    package), and only then downloads the missing files into ``cache``.
    """
    src = SOURCES[name]
    for folder in (cache, *offline_dirs):
        if not all((folder / f).is_file() for f in src.files):
            continue
        try:
            return {f: read_verified(folder / f, sha, src.hash_of) for f, sha in src.files.items()}
        except ChecksumError as err:
            if folder != cache:  # e.g. the Debian package: read-only, not ours to repair
                warnings.warn(f"{err} Ignoring {folder}.", stacklevel=3)
                continue
            warnings.warn(f"{err} Deleting the cached copy and fetching it again.", stacklevel=3)
            for f in src.files:
                (cache / f).unlink(missing_ok=True)
    failures: list[str] = []
    for fname, sha in src.files.items():
        if (cache / fname).is_file():
            continue
        for mirror in mirrors(name):
            url = mirror + fname
            try:
                download(url, cache / fname, sha, src.hash_of)
                break
            # URLError and socket timeouts are OSErrors; a bad URL is a ValueError.
            except (OSError, ValueError, HTTPException, ChecksumError) as err:
                failures.append(f"  - {url}: {err}")
        else:
            raise DatasetUnavailableError(_unavailable_message(src, cache, failures)) from None
    payloads = {}
    for fname, sha in src.files.items():
        try:
            payloads[fname] = read_verified(cache / fname, sha, src.hash_of)
        except ChecksumError as err:
            (cache / fname).unlink(missing_ok=True)
            raise ChecksumError(
                f"{err} The file was deleted; load again to fetch it afresh."
            ) from None
    return payloads


def _unavailable_message(src: Source, cache: Path, failures: list[str]) -> str:
    fixes = [
        *src.extra_fixes,
        f"connect to the internet once; the files are then cached in {cache}",
        f"copy {', '.join(src.files)} into {cache} (or set COURSE_DATA_DIR to a folder "
        f"whose {cache.name}/ subfolder holds them)",
    ]
    if os.environ.get(MIRROR_ENV, "").strip():
        fixes.insert(
            0,
            f"check that ${MIRROR_ENV} ({os.environ[MIRROR_ENV]}) has a "
            f"{cache.name}/ folder with these files, or unset {MIRROR_ENV} "
            "to download from the official mirrors",
        )
    return (
        f"{src.title} is not available offline and could not be downloaded.\nTried:\n"
        + "\n".join(failures)
        + "\nFix it in one of these ways:\n"
        + "\n".join(f"  * {fix}" for fix in fixes)
    )


def parse_idx(payload: bytes) -> np.ndarray:
    """Parse an uncompressed IDX file of unsigned bytes (the MNIST/Fashion-MNIST format)."""
    zero, dtype_code, ndim = struct.unpack(">HBB", payload[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"not an IDX file of uint8 (header {payload[:4].hex()})")
    shape = struct.unpack(f">{ndim}I", payload[4 : 4 + 4 * ndim])
    data = np.frombuffer(payload, dtype=np.uint8, offset=4 + 4 * ndim)
    return data.reshape(shape).copy()


def parse_mnist_npz(payload: bytes) -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_test, y_test)`` from Keras's ``mnist.npz``."""
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        return tuple(npz[k] for k in ("x_train", "y_train", "x_test", "y_test"))


_RECONSTRUCT = np.ndarray(0).__reduce__()[0]
# The official batches were written by Python 2 with numpy.core; pickles from today's numpy
# name numpy._core. Nothing else may be constructed, so even a file that somehow passed the
# checksum cannot run code while being unpickled.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): __import__("codecs").encode,
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name} from a CIFAR batch"
            ) from None


def _unpickle_batch(blob: bytes) -> dict:
    return _BatchUnpickler(io.BytesIO(blob), encoding="bytes").load()


def parse_cifar10_tar(
    payload: bytes,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """``(x_train, y_train, x_test, y_test, class_names)`` from ``cifar-10-python.tar.gz``.

    Reads the pickled batches straight from the archive in a single pass; images become
    ``(N, 32, 32, 3)`` uint8 (the files store them channel-first).
    """
    batches: dict[str, dict] = {}
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r|gz") as tar:
        for member in tar:
            folder, _, base = member.name.rpartition("/")
            if member.isfile() and folder.endswith("cifar-10-batches-py"):
                batches[base] = _unpickle_batch(tar.extractfile(member).read())

    def stack(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        missing = [n for n in names if n not in batches]
        if missing:
            raise ValueError(f"cifar-10-batches-py/ lacks {missing}")
        x = np.concatenate([np.asarray(batches[n][b"data"], dtype=np.uint8) for n in names])
        y = np.concatenate([np.asarray(batches[n][b"labels"], dtype=np.int64) for n in names])
        return x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), y

    x_train, y_train = stack([f"data_batch_{i}" for i in range(1, 6)])
    x_test, y_test = stack(["test_batch"])
    if "batches.meta" not in batches:
        raise ValueError("cifar-10-batches-py/ lacks batches.meta")
    names = [n.decode() for n in batches["batches.meta"][b"label_names"]]
    return x_train, y_train, x_test, y_test, names


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MB blocks (an archive need not fit in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_file(name: str, cache: Path) -> Path:
    """The verified path of dataset ``name``'s single file (an archive), downloaded into ``cache``
    if needed.

    Like :func:`fetch`, but streams: the file is hashed from disk and never read into memory whole.
    """
    src = SOURCES[name]
    if len(src.files) != 1 or src.hash_of != "file":
        raise ValueError(f"{name} is not a single-file dataset; use fetch()")
    ((fname, sha),) = src.files.items()
    path = Path(cache) / fname
    if path.is_file():
        got = file_sha256(path)
        if got == sha:
            return path
        warnings.warn(
            f"SHA-256 mismatch for {path}: expected {sha}, got {got}. "
            "Deleting the cached copy and fetching it again.",
            stacklevel=2,
        )
        path.unlink()
    failures: list[str] = []
    for mirror in mirrors(name):
        try:
            return download(mirror + fname, path, sha)
        except (OSError, ValueError, HTTPException, ChecksumError) as err:
            failures.append(f"  - {mirror + fname}: {err}")
    raise DatasetUnavailableError(_unavailable_message(src, Path(cache), failures))


def extract_image_folder(archive: Path, destination: Path) -> Path:
    """Unpack a ``.tgz`` of ``<top>/<class>/<photo>`` into ``destination`` and return
    ``destination/<top>``.

    Only regular files and folders are written, and only inside ``destination`` (tarfile's
    ``data`` filter refuses links, devices and paths that climb out). The archive is unpacked
    into a temporary folder and renamed into place, so an interrupted run never leaves half a
    folder that looks complete; an existing ``destination/<top>`` is kept as it is.
    """
    destination = Path(destination)
    with tarfile.open(archive, "r:gz") as tar:
        tops = {Path(m.name).parts[0] for m in tar.getmembers() if m.name not in ("", ".")}
        if len(tops) != 1:
            raise ValueError(f"{archive.name} should hold one top folder, found {sorted(tops)}")
        (top,) = tops
        target = destination / top
        if target.is_dir():
            return target
        destination.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=destination, prefix=f".{top}.") as tmp:
            tar.extractall(tmp, filter="data")
            os.replace(Path(tmp) / top, target)
    return target


def find_offline(name: str, cache: Path, offline_dirs: Iterable[Path] = ()) -> Path | None:
    """The first of ``cache`` and ``offline_dirs`` that holds every file of dataset ``name``
    with the right checksum, or None. Never downloads and never deletes anything."""
    src = SOURCES[name]
    for folder in (cache, *offline_dirs):
        try:
            for fname, sha in src.files.items():
                read_verified(folder / fname, sha, src.hash_of)
        except (OSError, ChecksumError):
            continue
        return folder
    return None
