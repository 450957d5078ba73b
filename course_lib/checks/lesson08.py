"""Checks for lesson 08, beyond one laptop: TF_CONFIG, TF Serving requests and quantisation."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from course_lib.checks._core import StudentCodeFailed, as_array, call_student, run_check
from course_lib.record import CheckResult


def _json_problem(value: Any, what: str) -> str | None:
    try:
        json.dumps(value)
    except TypeError as exc:
        if "ndarray" in str(exc) or "float32" in str(exc) or "int64" in str(exc):
            return f"{what} holds NumPy values, which JSON cannot encode: convert with `.tolist()`."
        return f"{what} cannot be encoded as JSON: {exc}."
    return None


def exercise_8_1(make_tf_config: Callable[[Sequence[str], int], Any]) -> CheckResult:
    """make_tf_config(addresses, index) -> ``{"cluster": {"worker": [...]}, "task": {"type": "worker", "index": i}}``."""
    addresses = ["127.0.0.1:23456", "127.0.0.1:23457"]

    def diagnose() -> str | None:
        for index in range(len(addresses)):
            config = call_student(make_tf_config, list(addresses), index)
            if isinstance(config, str):
                return ("return the dict; it becomes a string only when it goes into the environment: "
                        "os.environ['TF_CONFIG'] = json.dumps(config).")
            if not isinstance(config, dict):
                return f"got a {type(config).__name__}; TF_CONFIG is a dict with \"cluster\" and \"task\"."
            problem = _json_problem(config, "your TF_CONFIG")
            if problem:
                return problem
            missing = {"cluster", "task"} - set(config)
            if missing:
                return f"missing {sorted(missing)}: TF_CONFIG says who is in the cluster and which one this process is."
            cluster, task = config["cluster"], config["task"]
            if not isinstance(cluster, dict) or "worker" not in cluster:
                return 'the cluster must list its machines by job: {"worker": ["host:port", ...]}.'
            if cluster["worker"] != addresses:
                return ("cluster[\"worker\"] must be every worker's address, the same list in the same order on "
                        f"every worker; got {cluster['worker']!r}.")
            if not isinstance(task, dict) or task.get("type") != "worker":
                return ('task["type"] must be "worker": with MultiWorkerMirroredStrategy worker 0 also acts as chief.')
            if task.get("index") != index or isinstance(task.get("index"), bool):
                if str(task.get("index")) == str(index):
                    return f'task["index"] is {task["index"]!r}: make it the integer {index}.'
                return f'for worker {index}, task["index"] is {task.get("index")!r}: each process gives its own position.'
        return None

    return run_check("8.1", diagnose, "each worker will find the others and know its own place.")


def exercise_8_2(make_predict_request: Callable[[np.ndarray], Any], images: np.ndarray) -> CheckResult:
    """make_predict_request(batch) -> TF Serving's row-format body ``{"instances": [...]}``."""
    x = np.asarray(images, dtype=np.float32)

    def diagnose() -> str | None:
        body = call_student(make_predict_request, x)
        if body is None:
            return "your function returned None: did you forget to `return` the body?"
        if isinstance(body, str | bytes):
            return "return the dict itself; `requests.post(url, json=body)` turns it into JSON text."
        if not isinstance(body, dict):
            return f"the body is a {type(body).__name__}; TF Serving expects a JSON object (a dict)."
        if "instances" not in body:
            if "inputs" in body:
                return ('"inputs" is TF Serving\'s columnar format; this exercise asks for the row format, '
                        '{"instances": [...]}, one entry per image.')
            return f'the body has keys {sorted(body)}; TF Serving reads the images from "instances".'
        extra = set(body) - {"instances", "signature_name"}
        if extra:
            return f"unexpected keys {sorted(extra)}: send only \"instances\" (and, if you like, \"signature_name\")."
        if body.get("signature_name", "serving_default") != "serving_default":
            return f"signature_name {body['signature_name']!r}: Keras exports its signature as \"serving_default\"."
        problem = _json_problem(body, '"instances"')
        if problem:
            return problem
        instances = body["instances"]
        if not isinstance(instances, list):
            return f'"instances" is a {type(instances).__name__}; it must be a list with one entry per image.'
        if len(instances) != len(x):
            if len(instances) == 1 and len(x) > 1:
                return "one instance for the whole batch: the list needs one entry per image (no extra brackets)."
            return f"{len(instances)} instances for {len(x)} images: one entry per image."
        try:
            sent = np.asarray(instances, dtype=np.float64)
        except (ValueError, TypeError):
            return "the instances are not all numbers of the same shape."
        if sent.shape[1:] != x.shape[1:]:
            if sent.shape[1:] + (1,) == x.shape[1:]:
                return f"each instance is {list(sent.shape[1:])}; the signature wants {list(x.shape[1:])}: keep the channel axis."
            return f"each instance has shape {list(sent.shape[1:])}; the signature wants {list(x.shape[1:])}."
        if np.allclose(sent, x * 255, atol=1e-3) and x.max() > 0:
            return "the values go up to 255: send the model input (scaled to [0, 1]), exactly what model.predict takes."
        if not np.allclose(sent, x, atol=1e-6):
            return "the instances are not the images you were given (same order, same values)."
        return None

    return run_check("8.2", diagnose, "TF Serving (and the course service) will accept this body.")


def _samples(representative_dataset: Callable[[], Any], limit: int = 5000) -> list[Any]:
    produced = call_student(representative_dataset)
    if produced is None:
        raise StudentCodeFailed("calling representative_dataset() gave None: use `yield` inside it (a generator).")
    try:
        return list(itertools.islice(iter(produced), limit + 1))
    except TypeError:
        raise StudentCodeFailed(f"representative_dataset() returned a {type(produced).__name__}, "
                                "which cannot be iterated: `yield` the samples one at a time.") from None
    except Exception as exc:
        raise StudentCodeFailed(f"your generator raised {type(exc).__name__}: {exc}") from None


def exercise_8_3(representative_dataset: Callable[[], Any], x_train: np.ndarray, x_test: np.ndarray) -> CheckResult:
    """A generator of ``[batch]`` lists of float32 training images, scaled like training, 100–500 in all."""
    shape = tuple(np.shape(x_train)[1:])

    def diagnose() -> str | None:
        if not callable(representative_dataset):
            return ("pass the function itself (representative_dataset, no parentheses): "
                    "the converter calls it when it needs samples.")
        samples = _samples(representative_dataset)
        if not samples:
            return "the generator yields nothing: loop over training images and `yield [batch]`."
        batches = []
        for item in samples:
            if isinstance(item, np.ndarray):
                return "each sample must be a list holding one batch per model input: `yield [batch]`, not `yield batch`."
            if not isinstance(item, list | tuple) or len(item) != 1:
                return "each sample must be a list with exactly one array (this model has one input): `yield [batch]`."
            batch = as_array(item[0], "a sample")
            if batch.shape == shape:
                return f"a sample has shape {batch.shape}: add the batch axis, image[None] → {(1, *shape)}."
            if batch.ndim != len(shape) + 1 or batch.shape[1:] != shape:
                return f"a sample has shape {batch.shape}; expected (1, {', '.join(map(str, shape))})."
            if batch.dtype != np.float32:
                return f"a sample has dtype {batch.dtype}: the converter wants float32, like the model input."
            batches.append(batch)
        images = np.concatenate(batches)
        if images.max() > 1.5:
            return (f"values go up to {images.max():.0f}: calibrate on what the model really sees, "
                    "images scaled to [0, 1] as in training.")
        if len(images) < 100:
            return f"{len(images)} images: too few to measure each layer's range reliably; use a few hundred (100–500)."
        if len(images) > 1000:
            return "more than 1,000 images: the ranges are already stable at a few hundred (100–500), and conversion gets slow."
        flat = images.reshape(len(images), -1)
        if len(np.unique(flat, axis=0)) < len(images) // 2:
            return "most samples are the same image: the ranges need varied images (different training images)."
        test_rows = {row.tobytes() for row in np.asarray(x_test, np.float32).reshape(len(x_test), -1)}
        if any(row.tobytes() in test_rows for row in flat):
            return ("some samples are test images: calibrating on the test set lets it shape the model "
                    "you then score on it. Use training images.")
        return None

    return run_check("8.3", diagnose, "a calibration set the int8 converter can use.")


def exercise_8_4(dequantize: Callable[[np.ndarray, float, int], Any]) -> CheckResult:
    """dequantize(q, scale, zero_point) -> float32 real values ``(q - zero_point) * scale``."""
    q = np.array([0, 3, 100, 128, 200, 255], dtype=np.uint8)
    cases = [(q, 1 / 256, 0), (q, 0.05, 128), (q.astype(np.int8, casting="unsafe"), 0.1, -20)]

    def diagnose() -> str | None:
        for values, scale, zero_point in cases:
            out = as_array(call_student(dequantize, values.copy(), scale, zero_point), "your result")
            expected = (values.astype(np.int32) - zero_point) * scale
            if out.shape != values.shape:
                return f"shape {out.shape} for input of shape {values.shape}: dequantise every value."
            if np.issubdtype(out.dtype, np.integer):
                return f"dtype {out.dtype}: real values are fractions; return floats (e.g. .astype('float32'))."
            if np.allclose(out, expected, atol=1e-5):
                continue
            wrapped = (values - np.asarray(zero_point).astype(values.dtype)).astype(np.int32) * scale
            if np.allclose(out, wrapped, atol=1e-5):
                return (f"q is {values.dtype}: q - zero_point wrapped around instead of going below 0. "
                        "Convert q to int32 (or float) before subtracting.")
            if np.allclose(out, values.astype(np.float64) * scale - zero_point, atol=1e-5):
                return "you subtracted zero_point after scaling: it is in integer units, subtract it from q first."
            if np.allclose(out, values.astype(np.float64) * scale + zero_point, atol=1e-5):
                return "zero_point is subtracted from q (before scaling), not added after."
            if np.allclose(out, (values.astype(np.float64) - zero_point) / scale, atol=1e-3):
                return "you divided by scale: dequantising multiplies, real = (q - zero_point) * scale."
            return (f"for scale={scale}, zero_point={zero_point} the values are off; "
                    "real = (q - zero_point) * scale.")
        return None

    return run_check("8.4", diagnose, "that is how every int8 tensor turns back into real numbers.")
