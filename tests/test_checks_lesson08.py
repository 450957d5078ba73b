"""Lesson 08 checks accept the right answer and name each common mistake."""

import json

import numpy as np
import pytest

from course_lib import checks

RNG = np.random.default_rng(8)
IMAGES = RNG.random((3, 28, 28, 1), dtype=np.float32)
X_TRAIN = RNG.random((600, 28, 28, 1), dtype=np.float32)
X_TEST = RNG.random((50, 28, 28, 1), dtype=np.float32)


def _fails_with(result, phrase):
    assert not result.passed, result.message
    assert phrase in result.message, result.message
    return True


# ---------------------------------------------------------------- 8.1 TF_CONFIG

def _tf_config(addresses, index):
    return {"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}}


def test_8_1_accepts_the_cluster_and_this_process_task():
    assert checks.exercise_8_1(_tf_config).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda a, i: json.dumps(_tf_config(a, i)), "json.dumps(config)"),
        (lambda a, i: {"cluster": {"worker": a}}, "missing ['task']"),
        (lambda a, i: {"cluster": a, "task": {"type": "worker", "index": i}}, 'by job'),
        (lambda a, i: _tf_config(a[::-1], i), "same order"),
        (lambda a, i: _tf_config(a[:1], i), "every worker's address"),
        (lambda a, i: {**_tf_config(a, i), "task": {"type": "chief", "index": i}}, 'must be "worker"'),
        (lambda a, i: {**_tf_config(a, i), "task": {"type": "worker", "index": 0}}, "its own position"),
        (lambda a, i: {**_tf_config(a, i), "task": {"type": "worker", "index": str(i)}}, "the integer"),
        (lambda a, i: [a, i], "a dict"),
    ],
)
def test_8_1_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_8_1(answer), phrase)


# ---------------------------------------------------------------- 8.2 the TF Serving request body

def test_8_2_accepts_the_row_format_with_or_without_the_signature_name():
    assert checks.exercise_8_2(lambda x: {"instances": x.tolist()}, IMAGES).passed
    assert checks.exercise_8_2(lambda x: {"signature_name": "serving_default", "instances": x.tolist()},
                               IMAGES).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda x: {"instances": x}, ".tolist()"),
        (lambda x: json.dumps({"instances": x.tolist()}), "return the dict itself"),
        (lambda x: {"inputs": x.tolist()}, "columnar"),
        (lambda x: {"images": x.tolist()}, '"instances"'),
        (lambda x: {"instances": x.tolist(), "model": "fashion_cnn"}, "unexpected keys"),
        (lambda x: {"instances": [x.tolist()]}, "no extra brackets"),
        (lambda x: {"instances": x[..., 0].tolist()}, "keep the channel axis"),
        (lambda x: {"instances": (x * 255).tolist()}, "up to 255"),
        (lambda x: {"instances": x[::-1].tolist()}, "same order"),
        (lambda x: {"instances": x.tolist(), "signature_name": "predict"}, "serving_default"),
        (lambda x: [x.tolist()], "a dict"),
        (lambda x: None, "forget to `return`"),
    ],
)
def test_8_2_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_8_2(answer, IMAGES), phrase)


# ---------------------------------------------------------------- 8.3 the representative dataset

def _representative(images, count=200, wrap=lambda image: [image[None]]):
    def representative_dataset():
        for image in images[:count]:
            yield wrap(image)
    return representative_dataset


def test_8_3_accepts_a_few_hundred_training_images_one_at_a_time_or_in_batches():
    assert checks.exercise_8_3(_representative(X_TRAIN), X_TRAIN, X_TEST).passed

    def batches_of_ten():
        for start in range(0, 300, 10):
            yield [X_TRAIN[start:start + 10]]
    assert checks.exercise_8_3(batches_of_ten, X_TRAIN, X_TEST).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_representative(X_TRAIN, wrap=lambda image: image[None]), "yield [batch]"),
        (_representative(X_TRAIN, wrap=lambda image: [image]), "add the batch axis"),
        (_representative(X_TRAIN, wrap=lambda image: [image[None].astype(np.float64)]), "float32"),
        (_representative(X_TRAIN * 255), "up to 255"),
        (_representative(X_TRAIN, count=20), "too few"),
        (_representative(np.concatenate([X_TRAIN] * 3), count=1500), "more than 1,000"),
        (_representative(np.repeat(X_TRAIN[:1], 300, axis=0)), "same image"),
        (_representative(np.concatenate([X_TRAIN[:150], X_TEST])), "test images"),
        (lambda: None, "use `yield`"),
        (lambda: 5, "cannot be iterated"),
        (lambda: iter([]), "yields nothing"),
        (_representative(X_TRAIN)(), "the function itself"),
    ],
)
def test_8_3_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_8_3(answer, X_TRAIN, X_TEST), phrase)


# ---------------------------------------------------------------- 8.4 dequantising

def test_8_4_accepts_subtract_then_scale_in_int32_or_float():
    assert checks.exercise_8_4(lambda q, s, z: (q.astype(np.int32) - z) * s).passed
    assert checks.exercise_8_4(lambda q, s, z: ((q.astype("float32") - z) * s).astype("float32")).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda q, s, z: ((q - z) * s), "wrapped around"),
        (lambda q, s, z: q * s - z, "after scaling"),
        (lambda q, s, z: q * s + z, "not added"),
        (lambda q, s, z: (q.astype(np.int32) - z) / s, "divided by scale"),
        (lambda q, s, z: (q.astype(np.int32) - z), "return floats"),
        (lambda q, s, z: (q.astype(np.int32) - z)[:2] * s, "every value"),
        (lambda q, s, z: q.astype(np.float32) * s * 0.5, "values are off"),
    ],
)
def test_8_4_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_8_4(answer), phrase)
