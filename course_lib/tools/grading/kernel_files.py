"""The exchange's files, as a student's kernel and the judge write and read them.

Files of a folder the judge opened without following a link are opened relative to it
(:func:`place`), created only where nothing is yet (:func:`create_file`) and read only if
they are regular files (:func:`read_file`); arrays are read without pickle, models rebuilt
in Keras's safe mode, and :func:`decode_plain` turns the plain data the grader sends the
kernel back into values. Sent into the kernel as text, with the rest of the grader's code
there (:mod:`kernel_code`).
"""

from __future__ import annotations

from typing import Any


class FilesRead(dict):  # type: ignore[type-arg]
    """Files already read and checked, ``{name: bytes}``: a folder for :func:`place` and
    :func:`read_file` that no later change on disk reaches."""


def place(folder: Any, name: str) -> tuple[str, Any]:
    """Where the file ``name`` of ``folder`` is opened, as ``(path, dir_fd)`` for ``os.open``.

    ``folder``: a path, or the descriptor of a folder the judge opened without following a
    link (:class:`course_lib.tools.grading.exchange.Folders`): the file is then opened
    relative to that very folder, wherever the kernel has moved it or put a link since; or
    :class:`FilesRead`, whose file :func:`read_file` gives from memory.
    """
    import os

    if isinstance(folder, FilesRead):
        return name, folder
    if not isinstance(folder, int):
        return os.path.join(folder, name), None
    if name in ("", os.curdir, os.pardir) or os.sep in name:
        raise ValueError(f"not a file name: {name[:80]!r}")
    return name, folder


def create_file(path: str, dir_fd: int | None = None) -> Any:
    """A new file opened for writing; fails if anything (a link, a named pipe) is there already.

    The judge writes into the exchange folder, inside the student's kernel's working folder:
    a link planted where a file is about to be written would otherwise redirect the write.
    Readable by others: the kernel may run as another user than the judge (grading.own_view),
    and the folder is the kernel's own. ``dir_fd``: as for ``os.open`` (see :func:`place`).
    """
    import os

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    return os.fdopen(os.open(path, flags, 0o644, dir_fd=dir_fd), "wb")


def read_file(path: str, dir_fd: Any = None, limit: int = 1 << 30) -> bytes:
    """A regular file's bytes; a named pipe, a device or a link in its place is refused at once.

    The exchange folder is inside the student's kernel's working folder: a notebook can put a
    named pipe where a file is expected, and a plain open() would wait for a writer forever.
    ``dir_fd``: as for ``os.open`` (see :func:`place`). A file of more than ``limit`` bytes is
    refused unread (1 GiB unless told: a notebook can export a file as large as its disk).
    """
    import os
    import stat

    if isinstance(dir_fd, FilesRead):
        if path not in dir_fd:
            raise FileNotFoundError(f"{path} is not among the files of the export")
        if len(dir_fd[path]) > limit:
            raise ValueError(f"{path} has more than {limit:,} bytes, the grader's limit")
        return dir_fd[path]
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{os.path.basename(path)} is not a regular file")
        data = handle.read(limit + 1)  # the file may grow while it is read
        if len(data) > limit:
            raise ValueError(
                f"{os.path.basename(path)} has more than {limit:,} bytes, the grader's limit"
            )
        return data


def load_array(folder: str | int, name: str) -> Any:
    """The ``.npy`` file ``name`` of ``folder`` (see :func:`place`), read without pickle through
    :func:`read_file`."""
    import io
    import os

    import numpy as np

    data = read_file(*place(folder, os.path.basename(name)))
    return np.load(io.BytesIO(data), allow_pickle=False)


def load_image(tree: dict[str, Any], folder: str | int) -> Any:
    """What :func:`_image_tree` wrote, as a Pillow image."""
    import base64
    import io

    from PIL import Image

    if tree["t"] == "image_file":  # returned as it is, it goes back as pixels
        return Image.open(io.BytesIO(base64.b64decode(tree["v"])))
    width, height = (int(v) for v in tree["size"])
    pixels = load_array(folder, tree["file"])
    return Image.frombytes(str(tree["mode"]), (width, height), pixels.tobytes())


def load_model(tree: dict[str, Any], folder: str | int, vet: Any = None) -> Any:
    """What :func:`_model_tree` wrote, rebuilt in Keras's safe mode (no Lambda, no own code).

    ``vet``: in the judge, :mod:`course_lib.tools.grading.model_config`, which refuses a
    config that names anything but Keras's modelling objects or exceeds its size budget,
    before anything is built, and caps the files read and the weights made.
    """
    import contextlib
    import json
    import os
    import tempfile

    import keras

    stem = os.path.basename(tree["file"])
    limits = (vet.MAX_CONFIG_BYTES, vet.MAX_WEIGHTS_BYTES) if vet else (1 << 30, 1 << 30)
    config = json.loads(read_file(*place(folder, stem + ".json"), limit=limits[0]).decode("utf-8"))
    if vet:
        vet.check(config)
    with vet.weight_budget() if vet else contextlib.nullcontext():
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    if not isinstance(model, keras.Model):
        raise ValueError(f"the exported model is a {type(model).__name__}")
    try:
        weights = read_file(*place(folder, stem + ".weights.h5"), limit=limits[1])
    except FileNotFoundError:
        if model.built:  # only a model not built yet comes without
            raise
        return model
    # Read as a regular file into a folder of this process's own, then loaded from there.
    with tempfile.TemporaryDirectory(prefix="course-weights-") as own:
        copy = os.path.join(own, "model.weights.h5")
        with open(copy, "wb") as handle:
            handle.write(weights)
        model.load_weights(copy)
    return model


def decode_plain(tree: dict[str, Any], folder: str | int) -> Any:
    """The inverse of :func:`encode` for plain data (what the grader sends the kernel)."""
    import base64

    import numpy as np

    kind = tree["t"]
    if kind == "none":
        return None
    if kind in ("bool", "str"):
        return tree["v"]
    if kind == "int":
        return int(tree["v"])
    if kind == "float":
        return float(tree["v"])
    if kind == "complex":
        real, imag = tree["v"]
        return complex(float(real), float(imag))
    if kind == "bytes":
        return base64.b64decode(tree["v"])
    if kind in ("array", "scalar", "tensor"):
        array = load_array(folder, tree["file"])
        if kind == "tensor":  # the check made a tensor: the student's function gets one
            import tensorflow as tf

            return tf.constant(array)
        return array[()] if kind == "scalar" else array
    if kind in ("tuple", "list"):
        items = [decode_plain(v, folder) for v in tree["items"]]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        return {decode_plain(k, folder): decode_plain(v, folder) for k, v in tree["items"]}
    if kind == "dtype":
        return np.dtype(str(tree["v"])).type
    if kind == "model":
        return load_model(tree, folder)
    if kind in ("image_file", "image"):
        return load_image(tree, folder)
    raise ValueError(f"cannot send a {kind} to the kernel")
