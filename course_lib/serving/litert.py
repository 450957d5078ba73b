"""The served model on LiteRT: the Keras model converted once to a float ``.tflite``.

``COURSE_SERVE_RUNTIME`` picks what runs the model: ``keras`` (the compiled Keras call of
:class:`~course_lib.serving.classifier.KerasClassifier`), ``litert`` (this module) or
``auto`` (the default: LiteRT when ``ai_edge_litert`` imports and the conversion works,
else Keras). :func:`with_runtime` turns a loaded Keras classifier into the one to serve.

What LiteRT runs is the same model the Keras classifier calls, after its own preprocessing:
the photo goes through :meth:`~course_lib.serving.classifier.Classifier.prepare` exactly as
on Keras (for an images-in model, the model's own resize layer), then the rest of the model
runs in the LiteRT interpreter, with XNNPACK, on float32. The ``.tflite`` is written next to
the model file with the file's digest in its name, so a new version (or a retrained file)
gets its own and an unchanged model is never converted twice. Where that folder is read-only
(a mounted volume, the package that ships the ImageNet weights) it goes to ``cache_dir``.

Interpreters are never resized: XNNPACK re-plans the whole graph when the batch size
changes, which costs more than it saves on a CPU (``bench/bench_serving.py`` measures both
ways). One image with nothing else running goes to an interpreter that uses every core;
under load, every image goes to the next free single-thread interpreter of one per core
(:mod:`~course_lib.serving.lanes`), which spends less CPU per image than every core working
on one image at a time and waiting for each other, and never waits for a batch to finish.
"""

from __future__ import annotations

import importlib
import logging
import os
import tempfile
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from course_lib.serving.classifier import (
    Classifier,
    KerasClassifier,
    file_digest,
    model_inputs,
)
from course_lib.serving.config import ServeConfig
from course_lib.serving.lanes import Lanes

log = logging.getLogger(__name__)

# Part of the cache file's name: a change in how the model is converted makes new files.
RECIPE = "float32-v1"


def unavailable_reason() -> str | None:
    """Why LiteRT cannot run here (``ai_edge_litert`` does not import), or None if it can."""
    try:
        importlib.import_module("ai_edge_litert.interpreter")
    except ImportError as exc:
        return f"ai_edge_litert does not import ({exc})"
    return None


def resolve_runtime(requested: str) -> tuple[str, str | None]:
    """The runtime to use for ``COURSE_SERVE_RUNTIME=requested``, and why, if not the one asked.

    Chosen once at start-up: ``auto`` and ``litert`` become ``litert`` when LiteRT imports;
    otherwise ``keras``, with the reason.
    """
    if requested == "keras":
        return "keras", None
    reason = unavailable_reason()
    if reason is None:
        return "litert", None
    return "keras", f"LiteRT is unavailable: {reason}; running on Keras"


def cpu_threads(workers: int = 1) -> int:
    """The cores this process may use, shared among ``workers`` server processes."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, workers))


def cache_path(classifier: KerasClassifier, cache_dir: str | Path) -> Path:
    """Where the ``.tflite`` of ``classifier``'s model file goes: named by the file's digest.

    Next to a ``.keras`` file whose folder is writable (``models/<name>/<version>/``);
    otherwise in ``cache_dir``, with the model's name in front.
    """
    source = classifier.source_file
    if source is None:
        raise ValueError(f"{classifier.name} was not loaded from a file: nothing to name a cache")
    source = Path(source)
    stem = f"{source.stem}.{file_digest(source, 16)}.{RECIPE}.tflite"
    if source.suffix == ".keras" and os.access(source.parent, os.W_OK):
        return source.parent / stem
    return Path(cache_dir) / f"{classifier.name}-{stem}"


def convert(classifier: KerasClassifier) -> bytes:
    """The float ``.tflite`` of what ``classifier.predict_inputs`` runs (after ``prepare``).

    Exported through a SavedModel (Keras 3's :class:`keras.export.ExportArchive`) with a
    float32 input of the model's input size and an open batch size, then converted by
    ``tf.lite.TFLiteConverter``; a logits model gets its softmax inside.
    """
    import keras
    import tensorflow as tf

    from course_lib.export import quiet_tensorflow_logs

    body, softmax = classifier.body, classifier.outputs == "logits"
    archive = keras.export.ExportArchive()
    archive.track(body)

    def probabilities(inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        y = body(inputs, training=False)
        return {"probabilities": tf.nn.softmax(y) if softmax else y}

    spec = tf.TensorSpec((None, *classifier.input_shape), tf.float32, name="inputs")
    archive.add_endpoint("serving_default", probabilities, input_signature=[spec])
    with tempfile.TemporaryDirectory(prefix="course-litert-") as folder, quiet_tensorflow_logs():
        archive.write_out(folder, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        return converter.convert()


def cached_tflite(classifier: KerasClassifier, cache_dir: str | Path) -> tuple[Path, bool]:
    """The ``.tflite`` file of ``classifier``, converted only if missing; returns (path, made)."""
    path = cache_path(classifier, cache_dir)
    if path.is_file() and path.stat().st_size > 0:
        return path, False
    content = convert(classifier)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then renamed: another worker converting the same file never reads half.
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return path, True


class LiteRTClassifier(Classifier):
    """The classifier of a :class:`KerasClassifier`, with the model run by LiteRT.

    Name, version, classes, preprocessing and :meth:`prepare` are the Keras classifier's, so a
    photo reaches both runtimes as the same model input; only :meth:`predict_inputs` differs.
    """

    runtime = "litert"
    concurrent_calls = True  # shares concurrent calls out over its lanes: no micro-batcher

    def __init__(self, keras_classifier: KerasClassifier, tflite_path: Path, threads: int) -> None:
        self.keras = keras_classifier
        self.name, self.version = keras_classifier.name, keras_classifier.version
        self.class_names = list(keras_classifier.class_names)
        self.preprocessing = dict(keras_classifier.preprocessing)
        self.tflite_path, self.threads = Path(tflite_path), int(threads)
        self._interpreter = self._interpreter_of(self.threads)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        expected = (1, *self.input_shape)
        if tuple(int(d) for d in self._input["shape"]) != expected:
            raise ValueError(f"{tflite_path} takes {self._input['shape']}, not {expected}")
        self._lock = threading.Lock()  # one call at a time when there are no lanes
        self._lanes: Lanes | None = None  # one single-thread interpreter per core, made when needed

    def _interpreter_of(self, threads: int) -> Any:
        from ai_edge_litert.interpreter import Interpreter

        # The default op resolver applies the XNNPACK delegate to a float model.
        interpreter = Interpreter(model_path=str(self.tflite_path), num_threads=threads)
        interpreter.allocate_tensors()
        return interpreter

    @property
    def model(self) -> Any:
        """The Keras model the ``.tflite`` was converted from (for code written for Keras)."""
        return self.keras.model

    def prepare(self, image: Any) -> np.ndarray:
        return self.keras.prepare(image)

    @property
    def decode_at_least(self) -> int | None:
        return self.keras.decode_at_least

    def to_inputs(self, pixels: np.ndarray) -> np.ndarray:
        return self.keras.to_inputs(pixels)

    def predict_inputs(self, inputs: np.ndarray, timeout: float | None = None) -> np.ndarray:
        """Probabilities for float32 ``inputs``; many threads may call it at once.

        One image while nothing else runs: the interpreter that uses every core, in the
        caller's thread. Anything else: each image to the next free lane (:mod:`lanes`).
        ``timeout``: seconds to wait for the lanes before :class:`TimeoutError`.
        """
        inputs = model_inputs(inputs, self.input_shape)
        out = np.empty((len(inputs), len(self.class_names)), np.float32)
        if self.threads < 2:
            with self._lock:
                self._invoke_each(self._interpreter, inputs, out, range(len(inputs)))
            return out
        lanes = self._lanes_of_cores()
        if len(inputs) == 1 and lanes.start_alone():
            try:
                self._invoke_each(self._interpreter, inputs, out, range(1))
            finally:
                lanes.end_alone()
            return out

        def invoke(lane: Any, row: int) -> None:
            self._invoke_each(lane, inputs, out, range(row, row + 1))

        lanes.run(invoke, len(inputs), timeout)
        return out

    def _invoke_each(
        self, interpreter: Any, inputs: np.ndarray, out: np.ndarray, rows: range
    ) -> None:
        for i in rows:  # interpreters release the GIL while they run
            interpreter.set_tensor(self._input["index"], inputs[i : i + 1])
            interpreter.invoke()
            out[i] = interpreter.get_tensor(self._output["index"])[0]

    def _lanes_of_cores(self) -> Lanes:
        """One single-thread interpreter per core (``threads``), made on first use."""
        with self._lock:
            if self._lanes is None:
                self._lanes = Lanes(self._interpreter_of(1) for _ in range(self.threads))
                # the lanes' threads end when this classifier is no longer used
                weakref.finalize(self, self._lanes.stop)
            return self._lanes

    def warm_up(self, batch_sizes: Sequence[int] = (1,)) -> float:
        # Every call is a batch-1 call: one image warms the interpreter of single requests, a
        # batch of one image per core the lanes (made here, not under the first load).
        return super().warm_up((1, self.threads) if self.threads > 1 else (1,))

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["runtime_detail"] = {
            "tflite": self.tflite_path.name,
            "threads": self.threads,  # of the interpreter that runs a single image
            "batch_lanes": len(self._lanes or ()),  # single-thread interpreters, one per core
        }
        return info


def default_cache_dir(db: str | Path) -> Path:
    """Where conversions of models in read-only folders go: ``build/serving/litert``.

    Beside the prediction database (``<db folder>/litert``) when the build folder cannot be
    written, as in the container, whose only writable place is the ``/data`` volume.
    """
    from course_lib import config

    folder = config.build_dir() / "serving" / "litert"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder
    except OSError:
        pass
    return Path(db).parent / "litert"


def load_served(serve_config: ServeConfig, runtime: str, note: str | None = None) -> Classifier:
    """The classifier ``COURSE_SERVE_MODEL`` names, run by ``runtime`` (:func:`resolve_runtime`).

    ``note`` is why the runtime is not the one asked for (LiteRT unavailable), shown in ``/model``.
    The service calls this for the first model and again for each newly served version.
    """
    from course_lib.serving.classifier import load_classifier

    classifier = with_runtime(
        load_classifier(serve_config.model),
        runtime,
        default_cache_dir(serve_config.db),
        cpu_threads(serve_config.workers),
    )
    if note and classifier.runtime_note is None:
        classifier.runtime_note = note
    return classifier


def with_runtime(
    classifier: Classifier, runtime: str, cache_dir: str | Path, threads: int | None = None
) -> Classifier:
    """``classifier`` as ``runtime`` (already resolved: ``keras`` or ``litert``) runs it.

    For ``litert``, converts the model (or reuses its cached ``.tflite``) and loads it; when
    that fails, logs why and keeps the Keras classifier, whose ``runtime_note`` says so.
    """
    if runtime != "litert" or not isinstance(classifier, KerasClassifier):
        return classifier
    try:
        path, made = cached_tflite(classifier, cache_dir)
        served = LiteRTClassifier(classifier, path, threads or cpu_threads())
    except Exception as exc:  # any failure leaves a working service on Keras
        classifier.runtime_note = (
            f"LiteRT conversion failed ({type(exc).__name__}: {exc}); running on Keras"
        )
        log.warning("%s %s: %s", classifier.name, classifier.version, classifier.runtime_note)
        return classifier
    log.info(
        "%s %s runs on LiteRT (%s %s, %d threads)",
        classifier.name,
        classifier.version,
        "converted to" if made else "cached",
        path,
        served.threads,
    )
    return served
