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
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
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
    return sorted(int(p.name) for p in base.iterdir()
                  if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").is_file())


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
        raise FileExistsError(f"{target} already exists: export to a new version (the default) "
                              "or delete the old one first")
    base.mkdir(parents=True, exist_ok=True)
    model.export(str(target), format="tf_saved_model", verbose=False)
    if metadata is not None:
        extra = target / "assets.extra"
        extra.mkdir(exist_ok=True)
        (extra / "course.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return target


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
    return {"shape": [None if d is None else int(d) for d in spec.shape.as_list()], "dtype": spec.dtype.name}


def describe_signature(export_dir: str | Path, name: str = SIGNATURE) -> dict[str, dict[str, Any]]:
    """Inputs and outputs of a SavedModel signature: ``{"inputs": {name: {shape, dtype}}, "outputs": ...}``.

    The same facts ``saved_model_cli show --all`` prints; ``None`` in a shape is
    the batch axis, free to be any size.
    """
    _, signature = _loaded_signature(export_dir, name)
    _, keyword_inputs = signature.structured_input_signature
    return {
        "inputs": {key: _spec(spec) for key, spec in keyword_inputs.items()},
        "outputs": {key: _spec(spec) for key, spec in signature.structured_outputs.items()},
    }


def load_serving_function(export_dir: str | Path, name: str = SIGNATURE) -> Callable[[np.ndarray], np.ndarray]:
    """Reload an export with ``tf.saved_model.load``; returns ``f(batch) -> outputs`` as NumPy.

    Only TensorFlow is needed, not Keras nor the Python code that built the
    model: exactly what TF Serving (or another language's TF runtime) has.
    """
    import tensorflow as tf

    loaded, signature = _loaded_signature(export_dir, name)
    (input_name, input_spec), = signature.structured_input_signature[1].items()
    (output_name,) = signature.structured_outputs

    def predict(batch: np.ndarray) -> np.ndarray:
        x = tf.convert_to_tensor(np.asarray(batch), dtype=input_spec.dtype)
        return signature(**{input_name: x})[output_name].numpy()

    predict.loaded = loaded  # keeps the restored variables alive as long as the function
    return predict


def rest_url(model_name: str, host: str = "localhost", port: int = REST_PORT,
             version: int | None = None) -> str:
    """TF Serving's REST ``:predict`` address for ``model_name`` (latest version unless ``version``)."""
    path = f"/v1/models/{model_name}" + (f"/versions/{int(version)}" if version is not None else "")
    return f"http://{host}:{port}{path}:predict"


def docker_command(base_dir: str | Path, model_name: str, port: int = REST_PORT) -> str:
    """The ``docker run`` line that serves ``base_dir`` with the official ``tensorflow/serving`` image."""
    source = Path(base_dir).resolve()
    return " ".join([
        "docker run --rm", f"-p {int(port)}:8501",
        shlex.quote(f"--mount=type=bind,source={source},target=/models/{model_name}"),
        f"-e MODEL_NAME={shlex.quote(model_name)}", "tensorflow/serving",
    ])
