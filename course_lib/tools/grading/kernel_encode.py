"""Values as data, for the exchange between a student's kernel and the judge.

:func:`encode` writes a value as JSON, its arrays as ``.npy`` files without pickle; what is
not plain data is only described, or marked and kept where it is. The kernel exports a
check's arguments with it (:func:`export_values`, the ``values`` action of
:mod:`kernel_code`) and what the student's code returned; the judge, the arguments of the
calls it needs. Sent into the kernel as text; :mod:`kernel_files` reads the data back.
"""

from __future__ import annotations

from typing import Any

if __name__.startswith("course_lib."):  # imported; sent as text, the parts share a namespace
    from course_lib.tools.grading.kernel_files import create_file, place


MAX_ITEMS = 10_000  # longer containers are exported as opaque: no answer needs more


def encode(value: Any, folder: str | int, counter: list[int] | None = None) -> dict[str, Any]:
    """``value`` as JSON, arrays saved in ``folder`` (see :func:`place`) as ``.npy`` without pickle.

    Shared by the kernel (which sends this file's text) and the judge (which writes the
    arguments of the calls it needs). Whatever is not plain data (a generator, an object)
    becomes ``{"t": "opaque"}`` with its type's name: the judge sees what kind of thing came
    back, never the thing. A Keras model travels as its config and weights; a function, a
    tf.data dataset or a path is only marked (``function``, ``dataset``, ``path``): it stays
    here, for the grader's drivers to read.
    """
    import base64
    import math

    import numpy as np

    counter = counter if counter is not None else [0]
    if value is None:
        return {"t": "none"}
    # Each kind is told by the value's own type, never by isinstance, which believes a
    # ``__class__`` the student's object claims
    if type(value) is bool:
        return {"t": "bool", "v": value}
    if isinstance(value, int) and type(value) is int:
        return {"t": "int", "v": str(value)}
    if isinstance(value, float) and type(value) is float:
        return {"t": "float", "v": repr(value) if not math.isfinite(value) else value}
    if isinstance(value, complex) and type(value) is complex:  # named as such by the checks
        return {"t": "complex", "v": [repr(value.real), repr(value.imag)]}
    if type(value).__name__ in ("Fraction", "Decimal") and type(value).__module__ in (
        "fractions",
        "decimal",
        "_pydecimal",
    ):  # an exact number, which the checks take as the float it stands for
        return encode(float(value), folder, counter)
    if type(value) is str:
        return {"t": "str", "v": value}
    if type(value) is bytes:
        return {"t": "bytes", "v": base64.b64encode(value).decode("ascii")}
    if type(value) is type and value.__module__ == "numpy":
        try:  # a NumPy scalar type such as np.int8, which a check passes as a dtype
            return {"t": "dtype", "v": np.dtype(value).str}
        except TypeError:
            pass
    held = _held_tree(value)
    if held is not None:
        return held
    model = _model_tree(value, folder, counter)
    if model is not None:
        return model
    image = _image_tree(value, folder, counter)
    if image is not None:
        return image
    kind = "array"
    array = None
    if issubclass(type(value), (np.ndarray, np.generic)):
        array = np.asarray(value)
        kind = "array" if issubclass(type(value), np.ndarray) else "scalar"
    elif (
        type(value).__module__.startswith("tensorflow")
        and hasattr(value, "numpy")
        and type(value).__name__ in ("EagerTensor", "ResourceVariable", "Tensor")
    ):
        try:
            array, kind = np.asarray(value.numpy()), "tensor"
        except Exception:
            array = None
    if array is not None and array.dtype.kind in "biufcUS" and array.dtype.hasobject is False:
        counter[0] += 1
        name = f"v{counter[0]}.npy"
        with create_file(*place(folder, name)) as handle:
            np.save(handle, array, allow_pickle=False)
        return {"t": kind, "file": name}
    if type(value) in (tuple, list) and len(value) <= MAX_ITEMS:
        return {"t": type(value).__name__, "items": [encode(v, folder, counter) for v in value]}
    if type(value) is dict and len(value) <= MAX_ITEMS:
        return {
            "t": "dict",
            "items": [
                [encode(k, folder, counter), encode(v, folder, counter)] for k, v in value.items()
            ],
        }
    try:
        if callable(value) and not isinstance(value, type):
            return {"t": "function", "type": type(value).__name__}
    except Exception:
        pass
    tree = {
        "t": "opaque",
        "type": type(value).__name__[:80],
        "module": str(type(value).__module__)[:80],
    }
    try:  # an iterator is described as one ("its values are produced once"); they stay here
        import collections.abc

        if isinstance(value, collections.abc.Iterator):
            tree["iterator"] = True
    except Exception:
        pass
    return tree


def _held_tree(value: Any) -> dict[str, Any] | None:
    """A tf.data dataset or a filesystem path, marked as such (None for anything else).

    Like a function, it stays in the kernel: a check reaches it only through a driver
    (``checks._drivers``: the dataset's batches, the folder's file names), which the kernel
    runs on it. A path is never sent as one: the judge must not open the kernel's files.
    """
    import pathlib
    import sys

    tf = sys.modules.get("tensorflow")
    if tf is not None and issubclass(type(value), tf.data.Dataset):
        kind = "dataset"
    elif issubclass(type(value), pathlib.PurePath):
        kind = "path"
    else:
        return None
    return {"t": kind, "type": type(value).__name__[:80], "module": type(value).__module__[:80]}


def _model_tree(value: Any, folder: str | int, counter: list[int]) -> dict[str, Any] | None:
    """A Keras model as data: its config (JSON, compile settings included) and a ``.weights.h5``.

    None for anything that is not a Keras model. The other side rebuilds it with Keras's
    safe mode, so a model made of Keras's own layers travels, and custom code does not.
    """
    import json
    import os
    import sys
    import tempfile

    keras = sys.modules.get("keras")
    if keras is None or not issubclass(type(value), keras.Model):
        return None
    counter[0] += 1
    stem = f"m{counter[0]}"
    try:
        config = keras.saving.serialize_keras_object(value)
        with create_file(*place(folder, stem + ".json")) as handle:
            handle.write(json.dumps(config).encode("utf-8"))
        # A model never called (a Sequential of augmentation layers, say) has no weights yet:
        # its config is all of it.
        if value.built:
            # Saved in a folder of this process's own, then copied as a new file.
            with tempfile.TemporaryDirectory(prefix="course-weights-") as own:
                saved = os.path.join(own, "model.weights.h5")
                value.save_weights(saved)
                with (
                    open(saved, "rb") as source,
                    create_file(*place(folder, stem + ".weights.h5")) as handle,
                ):
                    handle.write(source.read())
    except Exception as exc:  # a model that is not built, or of classes Keras cannot describe
        return {
            "t": "opaque",
            "type": type(value).__name__[:80],
            "module": str(type(value).__module__)[:80],
            "why": f"{type(exc).__name__}: {str(exc)[:300]}",
        }
    return {"t": "model", "file": stem, "type": type(value).__name__[:80]}


def _image_tree(value: Any, folder: str | int, counter: list[int]) -> dict[str, Any] | None:
    """A Pillow image as data; None for anything else.

    An image a check opened from a file (it keeps the file as ``course_file``, see
    ``checks._core.opened_image``) travels to the kernel as that file, which the kernel opens
    as the student's function would get it (EXIF, palette, transparency and all). Any other
    image, and every image the kernel sends back, as its mode, size and pixels: the judge
    never parses a file the kernel wrote.
    """
    import base64
    import sys

    import numpy as np

    pil = sys.modules.get("PIL.Image")
    if pil is None or not issubclass(type(value), pil.Image):
        return None
    data = getattr(value, "course_file", None)
    if type(data) is bytes:
        return {"t": "image_file", "v": base64.b64encode(data).decode("ascii")}
    try:
        pixels = np.frombuffer(value.tobytes(), np.uint8)
    except Exception:  # a file that cannot be decoded: the judge sees an image it cannot read
        return {"t": "opaque", "type": type(value).__name__[:80], "module": "PIL.Image"}
    counter[0] += 1
    name = f"v{counter[0]}.npy"
    with create_file(*place(folder, name)) as handle:
        np.save(handle, pixels, allow_pickle=False)
    return {"t": "image", "mode": str(value.mode)[:16], "size": list(value.size), "file": name}


def export_values(args: dict[str, Any], namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    """The notebook variables named in ``args["names"]``, as data (functions marked as such)."""
    import json
    import os

    if namespace is None:
        from IPython import get_ipython

        namespace = get_ipython().user_ns
    folder = args["dir"]
    os.makedirs(folder, exist_ok=True)
    values: dict[str, Any] = {}
    for name in args["names"]:
        if name not in namespace:
            values[name] = {"t": "missing"}
            continue
        try:
            values[name] = encode(namespace[name], folder)
        except Exception as exc:  # an object that fights being looked at
            values[name] = {"t": "opaque", "type": type(exc).__name__, "module": "error"}
    with open(os.path.join(folder, "values.json"), "w", encoding="utf-8") as handle:
        json.dump(values, handle)
    return {"exported": sorted(values)}
