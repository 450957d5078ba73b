"""TensorFlow Lite (LiteRT) models for phones and small boards (lesson 08).

:func:`convert_to_tflite` turns a SavedModel into a ``.tflite`` flatbuffer:
float32 as it is, or fully integer (int8 weights and activations, uint8 image
in and probabilities out) with post-training quantisation calibrated on a
representative dataset. :class:`TFLiteModel` runs either with the LiteRT
interpreter (``ai-edge-litert``), falling back to ``tf.lite.Interpreter``, and
hides the quantise/dequantise arithmetic so both take the same float batch.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

RepresentativeDataset = Callable[[], Iterable[list[np.ndarray]]]


def representative_dataset(
    images: np.ndarray, count: int = 300, seed: int = 0
) -> RepresentativeDataset:
    """A calibration generator: ``count`` of ``images`` (model input, float) in a seeded order, one
    per batch.

    Pass training images, never test images: calibration shapes the quantised
    model, and the test set must stay unseen to measure it honestly.
    """
    images = np.asarray(images, dtype=np.float32)
    if not 1 <= count <= len(images):
        raise ValueError(f"count must be between 1 and the {len(images)} images given, got {count}")
    chosen = np.random.default_rng(seed).permutation(len(images))[:count]

    def dataset() -> Iterable[list[np.ndarray]]:
        for index in chosen:
            yield [images[index][None]]

    return dataset


def convert_to_tflite(
    export_dir: str | Path,
    representative_dataset: RepresentativeDataset | None = None,
    signature: str = "serving_default",
) -> bytes:
    """Convert a SavedModel's ``signature``; with ``representative_dataset``, quantise it fully to
    integers.

    One signature only: an export may hold others that TFLite cannot run, such as
    ``export.export_images_in``'s ``serving_bytes``, which decodes JPEG and PNG files.

    ``representative_dataset`` is TensorFlow's own protocol: a function that
    yields ``[batch]`` lists of float32 input batches (usually one image each,
    a few hundred in all) from which the converter measures each tensor's range.
    """
    import tensorflow as tf

    path = Path(export_dir)
    if not (path / "saved_model.pb").is_file():
        raise FileNotFoundError(f"no SavedModel in {path}: export the model first")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(path), signature_keys=[signature])
    if representative_dataset is not None:
        if not callable(representative_dataset):
            raise TypeError("representative_dataset must be a function that yields [batch] lists")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset
        # Integer-only ops, so the model also runs on int8 accelerators (Edge TPU, NPUs, MCUs).
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    from course_lib.export import quiet_tensorflow_logs

    with warnings.catch_warnings(), quiet_tensorflow_logs():
        # Asks for TF1-style input statistics; the representative dataset already provides them.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return converter.convert()


def _interpreter_class() -> type:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # TensorFlow's own copy (deprecated in favour of LiteRT, still present)
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter


class TFLiteModel:
    """A ``.tflite`` model ready to run: ``TFLiteModel(content).predict(float_batch)``."""

    def __init__(self, content: bytes, num_threads: int | None = None) -> None:
        if not content:
            raise ValueError("empty TFLite model")
        self.content = bytes(content)
        self.interpreter = _interpreter_class()(model_content=self.content, num_threads=num_threads)
        self.interpreter.allocate_tensors()
        self._batch = 1
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    @classmethod
    def from_file(cls, path: str | Path, num_threads: int | None = None) -> TFLiteModel:
        return cls(Path(path).read_bytes(), num_threads)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.content)
        return path

    @property
    def size_bytes(self) -> int:
        return len(self.content)

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self.input["dtype"])

    @property
    def input_quantization(self) -> tuple[float, int]:
        """``(scale, zero_point)`` of the input; ``(0.0, 0)`` for a float input."""
        scale, zero_point = self.input["quantization"]
        return float(scale), int(zero_point)

    def _resize(self, batch: int) -> None:
        if batch != self._batch:
            shape = [batch, *self.input["shape"][1:]]
            self.interpreter.resize_tensor_input(self.input["index"], shape)
            self.interpreter.allocate_tensors()
            self.input = self.interpreter.get_input_details()[0]
            self.output = self.interpreter.get_output_details()[0]
            self._batch = batch

    def _quantise(self, x: np.ndarray) -> np.ndarray:
        scale, zero_point = self.input_quantization
        if not scale:
            return x.astype(self.input_dtype)
        info = np.iinfo(self.input_dtype)
        return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(
            self.input_dtype
        )

    def _dequantise(self, y: np.ndarray) -> np.ndarray:
        scale, zero_point = self.output["quantization"]
        if not scale:
            return y.astype(np.float32)
        return ((y.astype(np.int32) - zero_point) * scale).astype(np.float32)

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Float model input ``(n, h, w, c)`` → float outputs ``(n, k)``, in batches."""
        x = np.asarray(x, dtype=np.float32)
        expected = tuple(int(d) for d in self.input["shape"][1:])
        if x.shape[1:] != expected:
            raise ValueError(
                f"input batch has images of shape {x.shape[1:]}; this model takes {expected}"
            )
        outputs = []
        for start in range(0, len(x), batch_size):
            chunk = x[start : start + batch_size]
            self._resize(len(chunk))
            self.interpreter.set_tensor(self.input["index"], self._quantise(chunk))
            self.interpreter.invoke()
            outputs.append(self._dequantise(self.interpreter.get_tensor(self.output["index"])))
        return np.concatenate(outputs)


def classify_pixels(model: TFLiteModel, pixels: np.ndarray) -> np.ndarray:
    """One uint8 photo ``(h, w, 3)`` at its own size → the outputs of a model whose input size is
    free.

    For a ``.tflite`` converted from an images-in model (``export.export_images_in``): its
    input is ``(-1, -1, -1, 3)`` uint8 and the resize happens inside, so the input tensor is
    resized to this photo before each call.
    """
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 3:
        raise ValueError(
            f"expected one uint8 photo (h, w, channels), got {pixels.dtype} {pixels.shape}"
        )
    if model.input_dtype != np.uint8 or -1 not in model.input.get("shape_signature", [])[1:3]:
        raise ValueError("this TFLite model takes a fixed size; resize the photo and use predict()")
    interpreter = model.interpreter
    interpreter.resize_tensor_input(model.input["index"], [1, *pixels.shape])
    interpreter.allocate_tensors()
    model.input = interpreter.get_input_details()[0]
    model.output = interpreter.get_output_details()[0]
    model._batch = -1  # the next predict() resizes again
    interpreter.set_tensor(model.input["index"], pixels[None])
    interpreter.invoke()
    return model._dequantise(interpreter.get_tensor(model.output["index"]))[0]


def latencies_ms(call: Callable[[], Any], repeats: int = 50, warmup: int = 2) -> list[float]:
    """Wall time of each of ``repeats`` calls of ``call()`` in milliseconds, after ``warmup`` calls.

    The first calls trace graphs and allocate buffers: timing them would measure set-up, not
    the calls a running service makes. ``time.perf_counter`` is the clock made for this.
    """
    for _ in range(warmup):
        call()
    times = []
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def median_latency_ms(
    predict_one: Callable[[np.ndarray], Any], image: np.ndarray, repeats: int = 50
) -> float:
    """Median wall time of ``predict_one(image[None])`` in milliseconds, after two warm-up calls."""
    batch = np.asarray(image)[None]
    return float(np.median(latencies_ms(lambda: predict_one(batch), repeats)))
