"""What a student's kernel exported, as the judge reads it back (phase B of grading).

:func:`decode` rebuilds values from the exchange's JSON and ``.npy`` files, never
unpickling, never running the student's code; what the kernel only described becomes a
stand-in of the same type's name, and what the grader cannot judge is :class:`Unsupported`.
"""

from __future__ import annotations

import base64
import builtins
import json
import os
from typing import Any

from course_lib.tools.grading import model_config
from course_lib.tools.grading.kernel_files import (
    decode_plain,
    load_image,
    load_model,
    place,
    read_file,
)


class Unsupported(BaseException):  # noqa: N818
    """An argument the grader cannot send to the kernel as data (a model, a dataset, a function).

    A BaseException for the same reason as :class:`judge_replay.NeedCall`. ``tampering``: a
    finding about the notebook, when what it exported can only have been forged.
    """

    def __init__(self, message: str = "", tampering: str = "") -> None:
        super().__init__(message)
        self.tampering = tampering


class _Opaque:
    """Stands for a value the kernel would not export as data; only its type's name travels."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class _OpaqueIterator(_Opaque):
    """Stands for an iterator (a generator, say): described as one, but its values stayed."""

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        raise TypeError("the values of an iterator stay in the notebook")


def _opaque(type_name: str, module: str, iterator: bool = False) -> Any:
    # Same name and module as the student's object, so that the checks describe it the same way.
    base = _OpaqueIterator if iterator else _Opaque
    return type(type_name or "object", (base,), {"__module__": module or "builtins"})()


class SentFile:
    """An image file the judge sent the kernel, known by its bytes: never opened here.

    Only the arguments of calls the judge wrote travel as files (the kernel sends images back
    as pixels), and they are decoded only to recognise a call already answered.
    """

    def __init__(self, data: bytes):
        self.course_file = data


def decode(tree: dict[str, Any], folder: str | int) -> Any:
    """A value the kernel exported; never unpickles, never runs the student's code.

    ``folder``: the descriptor of the folder it was exported to (:mod:`exchange`), or a path.
    """
    kind = tree.get("t")
    if kind == "tensor":
        import tensorflow as tf

        return tf.constant(decode_plain({"t": "array", "file": tree["file"]}, folder))
    if kind in ("tuple", "list"):
        items = [decode(v, folder) for v in tree["items"]]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        result = {}
        for k, v in tree["items"]:
            key = decode(k, folder)
            try:
                result[key] = decode(v, folder)
            except TypeError:  # an unhashable key (a list): keep the dict's kind, not its content
                return _opaque("dict", "builtins")
        return result
    if kind == "model":
        try:
            return load_model(tree, folder, vet=model_config)
        except model_config.Refused as exc:
            raise Unsupported(
                f"your {tree.get('type', 'model')} could not be rebuilt from its config with "
                f"Keras's safe mode and the grader's limits: {exc}",
                exc.tampering,
            ) from None
        except Exception as exc:
            foreign = _foreign_classes(tree, folder)
            why = (
                f"it uses {', '.join(foreign)}"
                if foreign
                else f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"
            )
            raise Unsupported(
                f"your {tree.get('type', 'model')} could not be rebuilt from its config and "
                f"weights with Keras's safe mode ({why}); build it from Keras's own layers, "
                "without Lambda layers or classes of your own"
            ) from None
    if kind == "image_file":
        return SentFile(base64.b64decode(tree["v"]))
    if kind == "image":
        try:
            return load_image(tree, folder)
        except Exception:  # pixels that do not fit the mode and size the kernel gave with them
            return _opaque("Image", "PIL.Image")
    if kind == "opaque" and tree.get("why"):
        raise Unsupported(
            f"your {tree.get('type', 'object')} could not be saved as a config and weights "
            f"({str(tree['why'])[:300]})"
        )
    if kind == "opaque" or kind in ("dataset", "path"):
        # A dataset or a path the student's function returned: only its kind travels.
        return _opaque(
            tree.get("type", "object"), tree.get("module", "builtins"), tree.get("iterator") is True
        )
    if kind == "missing":
        raise NameError("not defined in the notebook")
    return decode_plain(tree, folder)


def _exception(raised: dict[str, Any]) -> BaseException:
    """The student's exception, as its built-in type if it was one (checks test ``ValueError``)."""
    name, message = str(raised.get("type", "Exception")), str(raised.get("message", ""))
    builtin = getattr(builtins, name, None) if raised.get("builtin") else None
    if isinstance(builtin, type) and issubclass(builtin, Exception):
        try:
            return builtin(message)
        except Exception:
            pass
    return type(name, (Exception,), {"__module__": "student"})(message)


def _foreign_classes(tree: dict[str, Any], folder: str | int) -> list[str]:
    """The classes of an exported model config that safe mode refuses: Lambda, not Keras's own."""
    try:
        config = _read_json(folder, os.path.basename(tree["file"]) + ".json")
    except (OSError, ValueError, KeyError):
        return []
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            name, module = node.get("class_name"), node.get("module")
            if (
                isinstance(name, str)
                and isinstance(module, str)
                and (name == "Lambda" or module.partition(".")[0] not in ("keras", "course_lib"))
            ):
                found.append(name)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return sorted(set(found))[:5]


def _read_json(folder: str | int, name: str) -> Any:
    """An exported JSON file; never waits on a named pipe planted in its place."""
    return json.loads(read_file(*place(folder, name)).decode("utf-8"))
