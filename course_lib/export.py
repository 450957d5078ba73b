"""Exporting a trained model for TensorFlow Serving (lesson 08).

TensorFlow Serving watches a *model base path* that holds one numbered folder
per version, each a SavedModel, and serves the highest number::

    build/export/fashion_cnn/        <- model base path (MODEL_NAME=fashion_cnn)
        1/saved_model.pb, variables/
        2/...

:func:`export_for_serving` writes the next version with Keras's own
``model.export()``; :func:`describe_signature` shows what a client must send;
:func:`load_serving_function` reloads the export with plain TensorFlow, as the
server would, to prove it predicts exactly what the Keras model did.
:func:`checkpoint_groups` and :func:`keras_file_contents` say what the bytes of a
SavedModel and of a ``.keras`` file are.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shlex
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # keras and tensorflow are imported lazily: importing course_lib stays fast
    import keras

SIGNATURE = "serving_default"
REST_PORT = 8501  # TensorFlow Serving's default REST port (gRPC is 8500)


def serving_versions(base_dir: str | Path) -> list[int]:
    """The version numbers under a model base path, oldest first (what TF Serving would see)."""
    base = Path(base_dir)
    if not base.is_dir():
        return []
    return sorted(
        int(p.name)
        for p in base.iterdir()
        if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").is_file()
    )


def export_for_serving(
    model: keras.Model,
    base_dir: str | Path,
    version: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Export ``model`` as SavedModel version ``version`` (default: next free) under ``base_dir``.

    ``metadata`` (class names, preprocessing) goes to ``assets.extra/course.json``
    in the version folder, a place TF Serving copies along but does not read.
    An existing version is never overwritten: serving would pick up changed
    weights under an unchanged number.
    """
    base = Path(base_dir)
    versions = serving_versions(base)
    version = (versions[-1] + 1 if versions else 1) if version is None else int(version)
    if version < 1:
        raise ValueError(f"TensorFlow Serving versions are positive integers, got {version}")
    target = base / str(version)
    if target.exists():
        raise FileExistsError(
            f"{target} already exists: export to a new version (the default) "
            "or delete the old one first"
        )
    base.mkdir(parents=True, exist_ok=True)
    model.export(str(target), format="tf_saved_model", verbose=False)
    if metadata is not None:
        extra = target / "assets.extra"
        extra.mkdir(exist_ok=True)
        (extra / "course.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return target


BYTES_SIGNATURE = "serving_bytes"


def export_images_in(
    model: keras.Model,
    base_dir: str | Path,
    version: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Export an images-in model (``photos.build_images_in_model``) with two signatures.

    - ``serving_default``: input ``image``, uint8 ``(n, height, width, 3)``, any size (the
      model crops, resizes and scales inside); output ``probabilities``.
    - ``serving_bytes``: input ``image_bytes``, a batch of encoded JPEG/PNG/GIF/BMP files as
      strings, each decoded with TensorFlow and classified on its own (so they may differ in
      size). TensorFlow Serving decodes ``{"b64": ...}`` JSON for inputs whose name ends in
      ``_bytes``: a client can send photos as they are. TensorFlow's decoder does not apply
      EXIF orientation or composite transparency on white, as the course's service does.

    Versions are numbered folders under ``base_dir``, as :func:`export_for_serving` writes them.
    """
    import keras
    import tensorflow as tf

    base = Path(base_dir)
    versions = serving_versions(base)
    version = (versions[-1] + 1 if versions else 1) if version is None else int(version)
    target = base / str(version)
    if target.exists():
        raise FileExistsError(
            f"{target} already exists: export to a new version (the default) "
            "or delete the old one first"
        )
    spec = model.inputs[0] if getattr(model, "inputs", None) else None
    if spec is None or spec.dtype != "uint8" or len(spec.shape) != 4:
        raise ValueError(
            f"{model.name} takes {getattr(spec, 'dtype', '?')} {getattr(spec, 'shape', '?')}; "
            "export_images_in wants "
            "an images-in model (uint8 pixels of any size in): see photos.build_images_in_model"
        )
    archive = keras.export.ExportArchive()
    archive.track(model)

    def from_pixels(image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probabilities": model(image, training=False)}

    def from_bytes(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        def one(encoded: tf.Tensor) -> tf.Tensor:
            pixels = tf.io.decode_image(encoded, channels=3, expand_animations=False)
            return model(pixels[None], training=False)[0]

        return {"probabilities": tf.map_fn(one, image_bytes, fn_output_signature=tf.float32)}

    archive.add_endpoint(
        SIGNATURE,
        from_pixels,
        input_signature=[tf.TensorSpec((None, None, None, 3), tf.uint8, name="image")],
    )
    archive.add_endpoint(
        BYTES_SIGNATURE,
        from_bytes,
        input_signature=[tf.TensorSpec((None,), tf.string, name="image_bytes")],
    )
    base.mkdir(parents=True, exist_ok=True)
    with (
        quiet_tensorflow_logs()
    ):  # "Assets written to: <absolute path>" says nothing the caller does not know
        archive.write_out(str(target), verbose=False)
    if metadata is not None:
        extra = target / "assets.extra"
        extra.mkdir(exist_ok=True)
        (extra / "course.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return target


@contextlib.contextmanager
def quiet_tensorflow_logs() -> Iterator[None]:
    """TensorFlow's Python INFO lines off for the duration (its warnings and errors still show)."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)


def _loaded_signature(export_dir: str | Path, name: str = SIGNATURE) -> Any:
    import tensorflow as tf

    path = Path(export_dir)
    if not (path / "saved_model.pb").is_file():
        raise FileNotFoundError(f"no SavedModel in {path} (expected {path / 'saved_model.pb'})")
    loaded = tf.saved_model.load(str(path))
    if name not in loaded.signatures:
        raise KeyError(f"{path} has no signature {name!r}; it has {sorted(loaded.signatures)}")
    return loaded, loaded.signatures[name]


def _spec(spec: Any) -> dict[str, Any]:
    return {
        "shape": [None if d is None else int(d) for d in spec.shape.as_list()],
        "dtype": spec.dtype.name,
    }


def describe_signature(export_dir: str | Path, name: str = SIGNATURE) -> dict[str, dict[str, Any]]:
    """Inputs and outputs of a SavedModel signature.

    ``{"inputs": {name: {shape, dtype}}, "outputs": ...}``.

    The same facts ``saved_model_cli show --all`` prints; ``None`` in a shape is
    the batch axis, free to be any size.
    """
    _, signature = _loaded_signature(export_dir, name)
    _, keyword_inputs = signature.structured_input_signature
    return {
        "inputs": {key: _spec(spec) for key, spec in keyword_inputs.items()},
        "outputs": {key: _spec(spec) for key, spec in signature.structured_outputs.items()},
    }


def load_serving_function(
    export_dir: str | Path, name: str = SIGNATURE
) -> Callable[[np.ndarray], np.ndarray]:
    """Reload an export with ``tf.saved_model.load``; returns ``f(batch) -> outputs`` as NumPy.

    Only TensorFlow is needed, not Keras nor the Python code that built the
    model: exactly what TF Serving (or another language's TF runtime) has.
    """
    import tensorflow as tf

    loaded, signature = _loaded_signature(export_dir, name)
    ((input_name, input_spec),) = signature.structured_input_signature[1].items()
    (output_name,) = signature.structured_outputs

    def predict(batch: np.ndarray) -> np.ndarray:
        x = tf.convert_to_tensor(np.asarray(batch), dtype=input_spec.dtype)
        return signature(**{input_name: x})[output_name].numpy()

    predict.loaded = loaded  # keeps the restored variables alive as long as the function
    return predict


def rest_url(
    model_name: str, host: str = "localhost", port: int = REST_PORT, version: int | None = None
) -> str:
    """TF Serving's REST ``:predict`` address for ``model_name`` (the latest unless ``version``)."""
    path = f"/v1/models/{model_name}" + (f"/versions/{int(version)}" if version is not None else "")
    return f"http://{host}:{port}{path}:predict"


def docker_command(
    base_dir: str | Path, model_name: str, port: int = REST_PORT, run_from: str | Path | None = None
) -> str:
    """The ``docker run`` line that serves ``base_dir`` with the official ``tensorflow/serving``
    image.

    Docker wants an absolute folder to mount. With ``run_from`` (the folder the command is meant
    to be typed in) the line names it as ``"$(pwd)"/<path from there>``, which the shell makes
    absolute on whichever machine runs it; without, it is ``base_dir``'s absolute path here.
    """
    base = Path(base_dir).resolve()
    if run_from is None:
        source = shlex.quote(str(base))
    else:
        relative = Path(os.path.relpath(base, Path(run_from).resolve())).as_posix()
        source = '"$(pwd)"/' + shlex.quote(relative)
    return " ".join(
        [
            "docker run --rm",
            f"-p {int(port)}:8501",
            f"--mount=type=bind,source={source},target=/models/{shlex.quote(model_name)}",
            f"-e MODEL_NAME={shlex.quote(model_name)}",
            "tensorflow/serving",
        ]
    )


def checkpoint_groups(export_dir: str | Path) -> dict[str, dict[str, int]]:
    """What a SavedModel's ``variables/`` checkpoint holds, grouped by the first part of each
    tensor's key.

    ``{"variables": {"tensors": 21, "values": 242222, "bytes": 968888}, "_all_variables": {...}}``:
    the count of tensors, of numbers and of their bytes, per group (the checkpoint's own
    object graph aside). Keras 3's export saves the model's Keras variables under ``variables``
    and the TensorFlow variables its serving function reads under ``_all_variables``.
    """
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(Path(export_dir) / "variables" / "variables"))
    dtypes = reader.get_variable_to_dtype_map()
    groups: dict[str, dict[str, int]] = {}
    for key, shape in sorted(reader.get_variable_to_shape_map().items()):
        if key == "_CHECKPOINTABLE_OBJECT_GRAPH":
            continue
        group = groups.setdefault(key.split("/", 1)[0], {"tensors": 0, "values": 0, "bytes": 0})
        values = int(np.prod(shape, dtype=np.int64))
        group["tensors"] += 1
        group["values"] += values
        group["bytes"] += values * dtypes[key].size
    return groups


def tensors_found_in(export_dir: str | Path, group: str, other: str) -> tuple[int, int]:
    """How many of ``group``'s tensors also stand in ``other`` bit for bit, and how many it has."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(Path(export_dir) / "variables" / "variables"))
    keys = reader.get_variable_to_shape_map()

    def digests(prefix: str) -> list[str]:
        found = []
        for key in sorted(keys):
            if key.split("/", 1)[0] == prefix:
                array = np.ascontiguousarray(reader.get_tensor(key))
                found.append(
                    hashlib.sha256(str(array.shape).encode() + array.tobytes()).hexdigest()
                )
        return found

    found, pool = digests(group), digests(other)
    return sum(1 for digest in found if digest in pool), len(found)


def keras_file_contents(path: str | Path) -> dict[str, dict[str, int]]:
    """What a ``.keras`` file holds: each member of the zip archive, and the weights file split by
    its groups.

    ``{"config.json": {"bytes": ...}, "model.weights.h5": {"bytes": ...},
    "model.weights.h5: layers": {"tensors": 19, "bytes": ...},
    "model.weights.h5: optimizer": {...}}``;
    the groups count the bytes of their arrays (HDF5's own bookkeeping aside). The optimizer
    group is there when the model was saved with its optimizer, as ``model.save`` does by default.
    """
    import h5py

    contents: dict[str, dict[str, int]] = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            contents[member.filename] = {"bytes": member.file_size}
        weights = (
            archive.read("model.weights.h5") if "model.weights.h5" in archive.namelist() else None
        )
    if weights is not None:
        with h5py.File(io.BytesIO(weights), "r") as h5:

            def count(name: str, item: object) -> None:
                if isinstance(item, h5py.Dataset):
                    group = contents.setdefault(
                        f"model.weights.h5: {name.split('/', 1)[0]}", {"tensors": 0, "bytes": 0}
                    )
                    group["tensors"] += 1
                    group["bytes"] += int(item.nbytes)

            h5.visititems(count)
    return contents
