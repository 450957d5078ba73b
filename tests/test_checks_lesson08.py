"""Lesson 08 checks accept right answers written in several ways and name each common mistake."""

import json
import math
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from solution_support import task_text

from course_lib import checks

TESTS = Path(__file__).resolve().parent

RNG = np.random.default_rng(8)
X_TRAIN = RNG.random((600, 28, 28, 1), dtype=np.float32)
X_TEST = RNG.random((50, 28, 28, 1), dtype=np.float32)


# Check 8.4 reads the course's Fashion-MNIST once for this file (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("check_8_4_reads_fashion_once")


def _fails_with(result, phrase):
    assert not result.passed, result.message
    assert phrase in result.message, result.message
    return True


# ---------------------------------------------------------------- 8.1 the distributed train step
# The check needs two replicas, and TensorFlow fixes its devices when it starts: every answer
# is checked in one fresh process with the CPU split in two (tests/lesson08_support.py).


@pytest.fixture(scope="module")
def train_step_checks() -> dict:
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(TESTS)!r})
        import lesson08_support
        results = lesson08_support.check_train_steps(list(lesson08_support.STEP_ANSWERS))
        print("RESULTS", json.dumps(results))
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=TESTS.parent,
        env=env,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULTS ")]
    assert lines, out.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("RESULTS "))


@pytest.mark.timeout(630)
@pytest.mark.parametrize(
    "answer",
    [
        "step_solution",
        "step_right_sum_over_global_batch_eager",
        "step_right_keras_default_reduction",
    ],
)
def test_8_1_accepts_the_step_written_with_other_losses_and_without_tf_function(
    train_step_checks, answer
):
    result = train_step_checks[answer]
    assert result["passed"], result["message"]
    assert (
        "largest difference" in result["message"]
        and "distributed.make_train_step" in result["message"]
    )


@pytest.mark.timeout(630)
@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (
            "step_wrong_per_replica_mean",
            "its own share (24 images) instead of the global batch (48)",
        ),
        ("step_wrong_no_strategy_run", "never calls strategy.run"),
        ("step_wrong_no_apply", "the weights did not change"),
        ("step_wrong_tape_outside_the_step", "a tape around strategy.run"),
        ("step_wrong_forward_pass_before_the_tape", "no gradient reached the weights"),
        ("step_wrong_mean_reduce", "not average them with ReduceOp.MEAN"),
        ("step_wrong_no_reduce", "one loss per replica"),
        ("step_wrong_lesson_batch_size", "not the lesson's GLOBAL_BATCH of 64"),
        ("step_wrong_returns_nothing", "make_train_step returned a NoneType"),
        ("step_not_attempted", "not attempted yet"),
        ("step_wrong_inference_mode", "calls the model in inference mode (training=False"),
        (
            "step_wrong_returned_loss_divided_again",
            "the weights are right, but the loss returned is 0.0208x the global batch's",
        ),
        ("step_wrong_returned_loss_divided_again", "divided by global_batch_size (48) once more"),
        ("step_wrong_local_mean_mean_reduce", "each step moves the weights 2x too far:"),
        (
            "step_wrong_local_mean_mean_reduce",
            "the loss returned is right only because ReduceOp.MEAN averaged",
        ),
        ("step_wrong_gradients_applied_twice", "the gradients were applied 4 times in 2 steps"),
        ("step_wrong_own_optimizer", "Mixing different tf.distribute.Strategy objects"),
        ("step_wrong_own_optimizer", "Use the arguments `model` and `optimizer`"),
        ("step_wrong_own_model", "AssertionError, with no message"),
        ("step_wrong_own_model", "Use the arguments `model` and `optimizer`"),
        ("step_wrong_own_strategy", "runs on another strategy than the one make_train_step"),
        ("step_wrong_returns_per_example_losses", "returns an EagerTensor of shape (24,); return"),
        ("step_wrong_returns_per_example_losses", "adds the replicas' values element by element"),
        (
            "step_wrong_the_library_s_copy",
            "calls course_lib.distributed.make_train_step, the course's own copy of this exercise",
        ),
    ],
)
def test_8_1_names_the_mistake(train_step_checks, answer, phrase):
    result = train_step_checks[answer]
    assert not result["passed"], answer
    assert phrase in result["message"], result["message"]


@pytest.mark.timeout(630)
def test_8_1_names_only_the_mistake_made(train_step_checks):
    # right weights: nothing about gradients; a right loss: no "too big"; applied twice: no
    # per-replica mean
    assert "gradients" not in train_step_checks["step_wrong_returned_loss_divided_again"]["message"]
    assert "too big" not in train_step_checks["step_wrong_local_mean_mean_reduce"]["message"]
    twice = train_step_checks["step_wrong_gradients_applied_twice"]["message"]
    assert "its own share" not in twice and "too big" not in twice


@pytest.mark.timeout(630)
def test_8_1_a_model_called_without_training_true_is_refused_as_the_task_says(train_step_checks):
    result = train_step_checks["step_wrong_no_training_argument"]
    assert not result["passed"]
    assert (
        "calls the model in inference mode (training=False, or no training argument)"
        in (result["message"])
    )
    assert "call model(images, training=True)" in result["message"]
    assert "calling the model with `training=True`" in task_text("8.1")


@pytest.mark.timeout(630)
def test_8_1_a_factory_that_raises_is_told_so_not_that_its_step_skips_strategy_run(
    train_step_checks,
):
    result = train_step_checks["step_wrong_factory_raises"]
    assert not result["passed"]
    assert (
        "make_train_step itself raised RuntimeError: boom, before it returned any step"
        in (result["message"])
    )
    assert "strategy.run" not in result["message"]


def test_8_1_needs_two_replicas_and_a_function_and_never_raises():
    import tensorflow as tf

    one_device = tf.distribute.get_strategy()
    assert _fails_with(checks.exercise_8_1(lambda *args: None, one_device), "two devices")
    assert _fails_with(
        checks.exercise_8_1(None, one_device), "expected the function make_train_step"
    )
    assert _fails_with(checks.exercise_8_1(lambda *args: None, None), "two devices")


# ---------------------------------------------------------------- 8.2 TF_CONFIG


def _tf_config(addresses, index):  # the configuration, with no look at its input
    return {"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}}


def _refusing(build):
    """``build`` behind the checks the exercise asks for: an index and addresses that work."""

    def make_tf_config(addresses, index):
        if not 0 <= index < len(addresses):
            raise ValueError(f"worker {index} is not one of the {len(addresses)} workers")
        for address in addresses:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{address!r} is not host:port")
        return build(addresses, index)

    return make_tf_config


def _split_refusing(addresses, index):  # a student's way: unpacking fails on a missing port
    if index not in range(len(addresses)):
        raise ValueError(f"index {index} out of range")
    for address in addresses:
        host, port = address.split(":")
        int(port)  # ValueError: invalid literal for int() with base 10: 'tf'
    return _tf_config(addresses, index)


def test_8_2_accepts_the_cluster_and_this_process_task_however_built():
    assert checks.exercise_8_2(_refusing(_tf_config)).passed
    assert checks.exercise_8_2(
        _refusing(lambda a, i: dict(task=dict(index=i, type="worker"), cluster=dict(worker=[*a])))
    ).passed
    assert checks.exercise_8_2(
        _refusing(lambda a, i: json.loads(json.dumps(_tf_config(a, i))))
    ).passed
    assert checks.exercise_8_2(_split_refusing).passed


def _index_below_only(addresses, index):  # forgets that -1 is no worker either
    if index >= len(addresses):
        raise ValueError(f"no worker {index}")
    return _tf_config(addresses, index)


def _asserting(addresses, index):
    assert 0 <= index < len(addresses), "bad index"
    return _tf_config(addresses, index)


def _index_error(addresses, index):
    addresses[index]  # IndexError for 3, but -1 is the last worker
    return _tf_config(addresses, index)


def _silent_value_error(addresses, index):
    if not 0 <= index < len(addresses):
        raise ValueError
    return _tf_config(addresses, index)


def _index_only(addresses, index):
    if not 0 <= index < len(addresses):
        raise ValueError(f"no worker {index}")
    return _tf_config(addresses, index)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_tf_config, "there is no worker 3: the 3 workers are numbered 0 to 2. Raise a ValueError"),
        (_index_below_only, "make_tf_config(['127.0.0.1:23456', '127.0.0.1:23457', "
         "'10.0.0.7:2222'], -1) returned a configuration; there is no worker -1"),
        (_asserting, "Python skips asserts when run with -O"),
        (_index_error, "raised IndexError: list index out of range; there is no worker 3"),
        (_silent_value_error, "raised a ValueError without a message"),
        (_index_only, "the address '127.0.0.1' has no port"),
    ],
)  # fmt: skip
def test_8_2_names_an_index_or_address_it_lets_through(answer, phrase):
    assert _fails_with(checks.exercise_8_2(answer), phrase)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda a, i: json.dumps(_tf_config(a, i)), "json.dumps(config)"),
        (lambda a, i: {"cluster": {"worker": a}}, "missing ['task']"),
        (lambda a, i: {"cluster": a, "task": {"type": "worker", "index": i}}, "by job"),
        (lambda a, i: _tf_config(a[::-1], i), "same order"),
        (lambda a, i: _tf_config(a[:1], i), "every worker's address"),
        (
            lambda a, i: {**_tf_config(a, i), "task": {"type": "chief", "index": i}},
            'must be "worker"',
        ),
        (
            lambda a, i: {**_tf_config(a, i), "task": {"type": "worker", "index": 0}},
            "its own position",
        ),
        (
            lambda a, i: {**_tf_config(a, i), "task": {"type": "worker", "index": str(i)}},
            "the integer",
        ),
        (lambda a, i: [a, i], "a dict"),
        (
            lambda a, i: {**_tf_config(a, i), "task": {"type": "worker", "index": float(i)}},
            'task["index"] is 0.0: make it the integer 0',
        ),
        (
            lambda a, i: {**_tf_config(a, i), "task": ["worker", i]},
            'task is a list of length 2; it is a dict that names this process: {"type": '
            '"worker", "index": 0}',
        ),
    ],
)
def test_8_2_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_8_2(answer), phrase)


@pytest.mark.parametrize(
    ("jobs", "phrase"),
    [
        (lambda a: {"ps": [a[0]]}, "a parameter server belongs to ParameterServerStrategy"),
        (lambda a: {"chief": [a[0]]}, "worker 0 already acts as chief"),
        (lambda a: {"evaluator": ["10.0.0.9:2222"]}, "runs workers only"),
    ],
)
def test_8_2_a_cluster_with_a_job_besides_worker_is_named(jobs, phrase):
    def with_jobs(addresses, index):  # a student's: a job no process is started for
        config = _tf_config(addresses, index)
        config["cluster"].update(jobs(addresses))
        return config

    result = checks.exercise_8_2(with_jobs)
    assert _fails_with(result, phrase)
    assert _fails_with(result, 'Give it the worker job alone: {"worker": addresses}')


# ------------------------------------------------------------ 8.3 a client within the request limit

WEIGHTS = RNG.random((28 * 28, 10))
CLIENT_IMAGES = RNG.random((300, 28, 28, 1), dtype=np.float32)


def _predict(x):
    """A stand-in model: softmax of a fixed linear map, so every image gets its own answer."""
    z = x.reshape(len(x), -1) @ WEIGHTS
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _predict_all(post, images, max_instances):
    predictions = []
    for start in range(0, len(images), max_instances):
        response = post({"instances": images[start : start + max_instances].tolist()})
        response.raise_for_status()
        predictions.extend(response.json()["predictions"])
    return np.asarray(predictions, dtype=np.float32)


def _predict_all_balanced(post, images, max_instances):
    """Right, written differently: as many requests as needed, of near-equal size."""
    parts = np.array_split(images, math.ceil(len(images) / max_instances))
    return np.concatenate(
        [post({"instances": part.tolist()}).json()["predictions"] for part in parts]
    )


def _predict_all_while(post, images, max_instances):
    """Right, written differently: a while loop over what is left, one array made at the end."""
    rest, out = images, []
    while len(rest):
        chunk, rest = rest[:max_instances], rest[max_instances:]
        out += post({"signature_name": "serving_default", "instances": chunk.tolist()}).json()[
            "predictions"
        ]
    return np.array(out)


def test_8_3_the_task_asks_for_as_few_requests_as_possible():
    # One image per request is "at most max_instances" too: the task says why it is not right.
    from course_lib.config import project_root

    path = project_root() / "solutions" / "08_beyond_one_laptop.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    task = next(
        " ".join("".join(c["source"]).split())
        for c in cells
        if "### Exercise 8.3" in "".join(c["source"])
    )
    assert "in as few requests as possible, each of at most `max_instances` images" in task


@pytest.mark.parametrize("answer", [_predict_all, _predict_all_balanced, _predict_all_while])
def test_8_3_accepts_every_image_in_order_within_the_limit(answer):
    assert checks.exercise_8_3(answer, _predict, CLIENT_IMAGES).passed


def test_8_3_repeats_a_small_set_up_to_the_sizes_it_needs():
    assert checks.exercise_8_3(_predict_all, _predict, CLIENT_IMAGES[:40]).passed


def _in_requests_of(size):
    return lambda post, images, max_instances: _predict_all(post, images, size)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (
            lambda post, x, k: post({"instances": x.tolist()}).json()["predictions"],
            "refused it (413",
        ),
        (_in_requests_of(256), "max_instances, the argument"),
        (
            lambda post, x, k: np.concatenate(
                [
                    post({"instances": x[i * k : (i + 1) * k].tolist()}).json()["predictions"]
                    for i in range(len(x) // k)
                ]
            ),
            "the 50 images left over",
        ),
        (
            lambda post, x, k: np.concatenate(
                [
                    post({"instances": x[i * k : (i + 1) * k].tolist()}).json()["predictions"]
                    for i in range(len(x) // k + 1)
                ]
            ),
            "no instances at all",
        ),
        (
            lambda post, x, k: _predict_all(
                lambda body: post({"instances": np.asarray(body["instances"])}), x, k
            ),
            "chunk.tolist()",
        ),
        (
            lambda post, x, k: [
                post({"instances": x[s : s + k].tolist()}).json()["predictions"]
                for s in range(0, len(x), k)
            ],
            "one row per image",
        ),
        (_in_requests_of(1), "250 requests for 250 images where 3 suffice"),
        (_in_requests_of(1), "the task asks for as few requests as possible"),
        (_in_requests_of(50), "5 requests for 250 images where 3 suffice"),
        (
            lambda post, x, k: [
                post({"instances": x[s : s + k].tolist()}).json()["outputs"]
                for s in range(0, len(x), k)
            ],
            'read response.json()["predictions"]',
        ),
        (lambda post, x, k: _predict_all(post, x, k)[::-1], "reverse order"),
        (lambda post, x, k: _predict_all(post, x * 255, k), "for any of the images"),
        (
            lambda post, x, k: _predict_all(
                post, x[np.random.default_rng(0).permutation(len(x))], k
            ),
            "in the order they come back",
        ),
        (lambda post, x, k: None, "returned None"),
    ],
)
def test_8_3_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_8_3(answer, _predict, CLIENT_IMAGES), phrase)


def test_8_3_a_limit_written_in_is_told_to_use_the_argument():
    # A student's: requests of 100, the limit of the first sets, whatever max_instances says
    result = checks.exercise_8_3(_in_requests_of(100), _predict, CLIENT_IMAGES)
    assert _fails_with(result, "with max_instances=64, a request carried 100 instances")
    assert "refused it (413): your requests fit the limit of 100" in result.message
    assert "at most max_instances, the argument" in result.message


def test_8_3_tries_another_limit_the_task_names():
    from course_lib.checks import lesson08
    from course_lib.config import project_root

    path = project_root() / "solutions" / "08_beyond_one_laptop.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    task = " ".join(
        " ".join("".join(c["source"]).split())
        for c in cells
        if "The check stands in for the service" in "".join(c["source"])
    )
    assert f"a limit of {lesson08.CLIENT_LIMIT} images per request" in task
    assert f"then under a limit of {lesson08.OTHER_LIMIT}" in task


def _predict_all_ignoring_errors(post, images, max_instances):
    out = []
    for start in range(0, len(images), max_instances):
        response = post({"instances": images[start : start + max_instances].tolist()})
        out.extend(response.json().get("predictions", []))  # a refused request vanishes
    return np.asarray(out)


def _predict_all_retrying(post, images, max_instances):
    """Right, written differently: a refused request is sent again, up to three times."""
    out = []
    for start in range(0, len(images), max_instances):
        for _ in range(3):
            response = post({"instances": images[start : start + max_instances].tolist()})
            if response.ok:
                break
        response.raise_for_status()
        out.extend(response.json()["predictions"])
    return np.asarray(out)


def _sending(body_of):
    def predict_all(post, images, max_instances):
        out = []
        for start in range(0, len(images), max_instances):
            response = post(body_of(images[start : start + max_instances]))
            response.raise_for_status()
            out.extend(response.json()["predictions"])
        return np.asarray(out)

    return predict_all


@pytest.mark.parametrize("salt", [None, 0, 5])
def test_8_3_a_refused_request_must_raise_or_be_retried(salt):
    import contextlib

    from course_lib.checks._core import fresh_inputs

    with fresh_inputs(salt) if salt is not None else contextlib.nullcontext():
        assert checks.exercise_8_3(_predict_all_retrying, _predict, CLIENT_IMAGES).passed
        result = checks.exercise_8_3(_predict_all_ignoring_errors, _predict, CLIENT_IMAGES)
    assert _fails_with(result, "refused the second of the requests for 250 images with 503")
    assert _fails_with(result, "a float64 array of shape (150, 10) instead of raising")


def _predict_all_retrying_once_then_dropping(post, images, max_instances):  # a student's
    out = []
    for s in range(0, len(images), max_instances):
        chunk = images[s : s + max_instances]
        r = post({"instances": chunk.tolist()})
        if not r.ok:
            r = post({"instances": chunk.tolist()})  # one retry
        if r.ok:
            out.append(np.asarray(r.json()["predictions"], np.float32))  # else: chunk dropped
    return np.concatenate(out)


def _predict_all_until_accepted(post, images, max_instances):
    """Right, written differently: a refused request is sent again until it is accepted."""
    out = []
    for start in range(0, len(images), max_instances):
        while True:
            response = post({"instances": images[start : start + max_instances].tolist()})
            if response.status_code != 503:
                break
        response.raise_for_status()
        out.extend(response.json()["predictions"])
    return np.asarray(out, dtype=np.float32)


def test_8_3_a_request_refused_several_times_must_not_vanish_either():
    from course_lib.checks import lesson08

    result = checks.exercise_8_3(_predict_all_retrying_once_then_dropping)
    assert _fails_with(result, "a refused request vanished from the result: the service refused")
    assert (
        f"the requests for 250 images {lesson08.REFUSED_TIMES} times in a row (503, busy)"
        in result.message
    )
    assert "your code sent it 2 times, then returned a float32 array of shape (150, 10)" in (
        result.message
    )
    assert checks.exercise_8_3(_predict_all_until_accepted).passed
    assert checks.exercise_8_3(_predict_all_retrying).passed  # three sends, then it raises
    assert "once, then several times in a row" in task_text("8.3")


def test_8_3_a_request_refused_several_times_is_judged_alike_in_two_phases(tmp_path):
    from course_lib.checks._core import fresh_inputs
    from course_lib.tools.grading import judge

    expression = "checks.exercise_8_3(predict_all)"
    for number, answer in enumerate(
        [_predict_all_retrying_once_then_dropping, _predict_all_until_accepted]
    ):
        reply = judge.judge_locally(
            expression, {"predict_all": answer}, 83, str(tmp_path / str(number))
        )
        with fresh_inputs(83):
            direct = checks.exercise_8_3(answer)
        assert reply["status"] == ("passed" if direct.passed else "failed"), reply
        assert reply["message"] == direct.message
        assert ("a refused request vanished" in reply["message"]) is (number == 0)


@pytest.mark.parametrize(
    ("body_of", "phrase"),
    [
        (lambda chunk: json.dumps({"instances": chunk.tolist()}), "a JSON string, not an object"),
        (lambda chunk: {"inputs": chunk.tolist()}, 'no key "instances" in the body'),
        (
            lambda chunk: {"instances": chunk[..., 0].tolist()},
            "shaped [28, 28, 1]; these are [28, 28]",
        ),
    ],
)
def test_8_3_says_why_the_service_refused_a_malformed_request(body_of, phrase):
    result = checks.exercise_8_3(_sending(body_of), _predict, CLIENT_IMAGES)
    assert _fails_with(result, "the service refused a request with 400: ")
    assert _fails_with(result, phrase)


def test_8_3_float16_predictions_are_named_not_called_other_predictions():
    def half(post, images, max_instances):
        return _predict_all(post, images, max_instances).astype(np.float16)

    result = checks.exercise_8_3(half, _predict, CLIENT_IMAGES)
    assert _fails_with(result, "the predictions are float16")
    assert "send each image exactly as given" not in result.message


def _predict_all_last_request_first(post, images, max_instances):
    starts = list(range(0, len(images), max_instances))
    chunks = [images[start : start + max_instances] for start in starts[-1:] + starts[:-1]]
    return np.concatenate([post({"instances": c.tolist()}).json()["predictions"] for c in chunks])


def test_8_3_says_which_row_differs_when_the_requests_come_back_out_of_order():
    result = checks.exercise_8_3(_predict_all_last_request_first, _predict, CLIENT_IMAGES)
    assert _fails_with(result, "not the predictions of the images in their order")
    assert _fails_with(result, "of 250 images, row 0 is [")


# ---------------------------------------------------------------- 8.4 the representative dataset


def _representative(images, count=200, wrap=lambda image: [image[None]]):
    def representative_dataset():
        for image in images[:count]:
            yield wrap(image)

    return representative_dataset


SHUFFLED = np.random.default_rng(84).permutation(len(X_TRAIN))


def test_8_4_accepts_a_few_hundred_training_images_one_at_a_time():
    assert checks.exercise_8_4(_representative(X_TRAIN[SHUFFLED]), X_TRAIN, X_TEST).passed

    def slices_of_one():
        for index in np.random.default_rng(1).permutation(len(X_TRAIN))[:300]:
            yield (X_TRAIN[index : index + 1],)

    def from_a_shuffled_copy():
        shuffled = X_TRAIN.copy()
        np.random.default_rng(0).shuffle(shuffled)  # the copy, not x_train
        for image in shuffled[:250]:
            yield [np.expand_dims(image, 0)]

    assert checks.exercise_8_4(slices_of_one, X_TRAIN, X_TEST).passed
    assert checks.exercise_8_4(from_a_shuffled_copy, X_TRAIN, X_TEST).passed


def _past_the_end():  # a student's: indices of one array slicing a shorter one
    for index in range(len(X_TRAIN), len(X_TRAIN) + 300):
        yield [X_TEST[index : index + 1]]


def _batches_of_ten():
    for start in range(0, 300, 10):
        yield [X_TRAIN[SHUFFLED[start : start + 10]]]


def test_8_4_names_x_train_shuffled_in_place_and_images_in_their_stored_order():
    x_train = X_TRAIN.copy()  # the notebook's x_train, which the generator reads

    def shuffles_x_train():
        np.random.default_rng(0).shuffle(x_train)  # x_train no longer matches y_train
        for image in x_train[:200]:
            yield [image[None]]

    assert _fails_with(checks.exercise_8_4(shuffles_x_train, x_train, X_TEST), "in place")
    assert _fails_with(
        checks.exercise_8_4(_representative(X_TRAIN), X_TRAIN, X_TEST),
        "the first 200 training images in their stored order",
    )


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_representative(X_TRAIN, wrap=lambda image: image[None]), "yield [batch]"),
        (_representative(X_TRAIN, wrap=lambda image: [image]), "add the batch axis"),
        (_representative(X_TRAIN, wrap=lambda image: [image[None].astype(np.float64)]), "float32"),
        (_representative(X_TRAIN * 255), "up to 255"),
        (_batches_of_ten, "a batch of 10 images, shape (10, 28, 28, 1); the task asks for one"),
        (_past_the_end, "holds no image"),
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
def test_8_4_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_8_4(answer, X_TRAIN, X_TEST), phrase)


def test_8_4_finds_test_images_by_the_course_s_own_test_set_whatever_the_notebook_names_so():
    # As the lesson's check cell calls it: the test set is read by the check, so a notebook that
    # swaps x_train and x_test before the check (and back after) still calibrates on test images.
    from course_lib import data, models

    fashion = data.load_fashion_mnist()  # in fast mode, a subset
    prep = models.preprocessing_for((28, 28, 1))
    training_part = models.fashion_validation_split(fashion)[0]  # what the lesson calibrates on
    n = min(3000, len(training_part), len(fashion.x_test))
    real_train = models.as_model_input(training_part[:n], prep)
    real_test = models.as_model_input(fashion.x_test[:n], prep)
    order = np.random.default_rng(0).permutation(n)[:300]
    honest = _representative(real_train[order], count=300)
    assert checks.exercise_8_4(honest, real_train).passed
    leaking = _representative(real_test[order], count=300)
    assert _fails_with(checks.exercise_8_4(leaking, real_test), "some samples are test images")


@pytest.fixture(scope="module")
def course_train():
    """The course's training images as the lesson's model sees them, and their classes."""
    from course_lib import data, models

    fashion = data.load_fashion_mnist()  # in fast mode, a subset
    prep = models.preprocessing_for((28, 28, 1))
    return models.as_model_input(fashion.x_train, prep), fashion.y_train


@pytest.fixture(scope="module")
def course_split():
    """Lesson 04's split of the course's training images, as the lesson's model sees them:
    the training part the lesson calibrates on, and the validation part it judges int8 on."""
    from course_lib import data, models

    fashion = data.load_fashion_mnist()  # in fast mode, a subset
    prep = models.preprocessing_for((28, 28, 1))
    x_train, x_val, _, _ = models.fashion_validation_split(fashion)
    return models.as_model_input(x_train, prep), models.as_model_input(x_val, prep)


def test_8_4_asks_for_the_count_the_task_names_and_accepts_it(course_split):
    x_train, _ = course_split
    order = np.random.default_rng(0).permutation(len(x_train))
    right = _representative(x_train[order], count=120)
    assert checks.exercise_8_4(right, count=120).passed
    result = checks.exercise_8_4(_representative(x_train[order], count=300), count=120)
    assert _fails_with(result, "yields 300 samples; the task asks for CALIBRATION_IMAGES = 120")


@pytest.mark.parametrize(
    ("scaled", "phrase"),
    [
        (lambda x: x / 255, "divided by 255 a second time"),  # a student's
        (lambda x: x * 2 - 1, "the model sees its images in [0, 1]"),
    ],
)
def test_8_4_names_training_images_on_another_scale(course_train, scaled, phrase):
    x_train, _ = course_train
    order = np.random.default_rng(0).permutation(len(x_train))
    answer = _representative(scaled(x_train[order]).astype(np.float32), count=150)
    assert _fails_with(checks.exercise_8_4(answer), phrase)


@pytest.mark.parametrize(
    ("pick", "phrase"),
    [
        (lambda n: np.arange(n - 150, n), "the last 150 training images in their stored order"),
        (lambda n: np.arange(200, 350), "training images 200 to 349, one run in their stored"),
        (lambda n: np.arange(n - 1, n - 151, -1), "one run of the stored order backwards"),
        (lambda n: np.arange(0, 150 * 6, 6), "every 6th training image of the stored order"),
    ],
)
def test_8_4_names_images_in_their_stored_order_wherever_they_start(course_train, pick, phrase):
    x_train, _ = course_train
    answer = _representative(x_train[pick(len(x_train))], count=150)
    result = checks.exercise_8_4(answer)
    assert _fails_with(result, phrase)
    assert _fails_with(result, "take them from a shuffled copy")


@pytest.mark.parametrize(
    ("pick", "phrase"),
    [
        (lambda n: np.arange(150), "the first 150 training images in their stored order"),
        (lambda n: np.arange(300, 450), "training images 300 to 449, one run in their stored"),
    ],
)
def test_8_4_names_a_slice_of_the_lesson_s_x_train_which_is_no_draw(course_split, pick, phrase):
    # x_train[:CALIBRATION_IMAGES]: lesson 04's split left x_train in an order of its own,
    # but the task asks for an order drawn with a generator seeded with SEED
    x_train, _ = course_split
    answer = _representative(x_train[pick(len(x_train))], count=150)
    result = checks.exercise_8_4(answer, count=150)
    assert _fails_with(result, phrase)
    assert _fails_with(result, "take them from a shuffled copy")


def test_8_4_names_a_stored_run_of_the_notebook_s_own_x_train():
    sorted_by_pixels = X_TRAIN[np.argsort(X_TRAIN.reshape(len(X_TRAIN), -1).sum(axis=1))]
    answer = _representative(sorted_by_pixels[-200:])
    result = checks.exercise_8_4(answer, sorted_by_pixels, X_TEST)
    assert _fails_with(result, "the last 200 training images in their stored order")


def test_8_4_accepts_a_shuffled_draw_whatever_order_it_is_yielded_in(course_split):
    x_train, _ = course_split
    drawn = np.random.default_rng(3).choice(len(x_train), 150, replace=False)
    for order in (drawn, np.sort(drawn), np.sort(drawn)[::-1]):  # increasing, but not a run
        assert checks.exercise_8_4(_representative(x_train[order], count=150)).passed


def test_8_4_names_validation_images_the_lesson_judges_int8_on(course_split, course_train):
    x_train, x_val = course_split
    order = np.random.default_rng(4).permutation(len(x_val))
    result = checks.exercise_8_4(_representative(x_val[order], count=100), count=100)
    assert _fails_with(result, "100 of your 100 samples are validation images")
    assert "this section decides on them whether int8 costs too much accuracy" in result.message
    # a draw from all the course's training images, lesson 04's validation part included
    whole, _ = course_train
    drawn = np.random.default_rng(5).permutation(len(whole))[:150]
    result = checks.exercise_8_4(_representative(whole[drawn], count=150), count=150)
    assert _fails_with(result, "of your 150 samples are validation images")
    assert "repeat" not in result.message and "stored order" not in result.message
    # the training part alone passes, drawn in any order
    right = np.random.default_rng(6).permutation(len(x_train))[:150]
    assert checks.exercise_8_4(_representative(x_train[right], count=150), count=150).passed


def _twice_each(order, count):  # a student's: each image of half the count, twice
    return np.repeat(order[: count // 2], 2)


def _drawn_with_replacement(order, count):  # rng.choice(..., replace=True), one repeat forced
    drawn = np.random.default_rng(5).choice(order, count, replace=True)
    drawn[-1] = drawn[0]
    return drawn


@pytest.mark.parametrize(
    ("pick", "phrase"),
    [
        (_twice_each, "50 of your 100 samples repeat an image yielded before (sample 1 is the"),
        (_drawn_with_replacement, "of your 100 samples repeat an image yielded before"),
    ],
)
def test_8_4_names_samples_that_repeat_an_image(course_train, pick, phrase):
    x_train, _ = course_train
    order = np.random.default_rng(0).permutation(len(x_train))
    result = checks.exercise_8_4(_representative(x_train[pick(order, 100)], count=100), count=100)
    assert _fails_with(result, phrase)
    assert "a shuffled copy of the training set holds each training image once" in result.message


def test_8_4_nan_images_are_not_called_repeats():
    # A student's: every sample the same NaN image; repeats, but NaN is the mistake
    nan = np.full((100, 28, 28, 1), np.nan, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no NumPy warning in the notebook
        result = checks.exercise_8_4(_representative(nan, count=100), count=100)
    assert _fails_with(result, "samples are not Fashion-MNIST training images")
    assert "repeat" not in result.message


def test_8_4_accepts_an_image_repeated_as_often_as_the_training_set_holds_it():
    x_train = X_TRAIN.copy()
    x_train[7] = x_train[3]  # the same image twice in the training set itself
    order = np.random.default_rng(2).permutation(len(x_train))
    order = np.concatenate([[3, 7], order[(order != 3) & (order != 7)]])
    assert checks.exercise_8_4(_representative(x_train[order]), x_train, X_TEST).passed
    twice = np.concatenate([[3, 3, 7], order[2:199]])  # three times, held twice
    result = checks.exercise_8_4(_representative(x_train[twice]), x_train, X_TEST)
    assert _fails_with(result, "2 of your 200 samples repeat an image yielded before")


def test_8_4_names_a_calibration_set_from_one_class_even_shuffled(course_train):
    x_train, y_train = course_train
    one_class = np.random.default_rng(0).permutation(np.flatnonzero(y_train == 3))
    result = checks.exercise_8_4(_representative(x_train[one_class], count=100))
    assert _fails_with(result, "come from 1 of the 10 classes only (Dress)")


def test_8_4_names_a_calibration_set_from_a_few_classes(course_train):
    x_train, y_train = course_train
    by_class = np.argsort(y_train, kind="stable")  # a student's: all of class 0 first
    answer = _representative(x_train[by_class], count=150)
    result = checks.exercise_8_4(answer)
    # one class of the whole set, two of fast mode's smaller one
    assert _fails_with(result, "of the 10 classes only (T-shirt/top")


# ---------------------------------------------------------------- 8.5 the quantisation parameters


def _quantization(low, high, dtype):
    info = np.iinfo(dtype)
    low, high = min(low, 0.0), max(high, 0.0)
    scale = (high - low) / (int(info.max) - int(info.min))
    return scale, int(info.min) - round(low / scale)


def _quantization_by_table(low, high, dtype):
    """Right, written differently: the integer range by hand, NumPy's rounding and types."""
    qmin, qmax = {np.uint8: (0, 255), np.int8: (-128, 127)}[dtype]
    low, high = np.minimum(low, 0), np.maximum(high, 0)
    scale = (high - low) / (qmax - qmin)
    return [scale, np.round(qmin - low / scale).astype(np.int64)]


@pytest.mark.parametrize(
    ("as_scale", "phrase"),
    [
        (str, "scale is a str ("),
        (lambda x: __import__("fractions").Fraction(x).limit_denominator(10**9), "a Fraction"),
        (lambda x: np.array(x), "scale is a float64 array of shape ()"),
    ],
)
def test_8_5_a_scale_of_the_right_value_but_not_a_float_is_named(as_scale, phrase):
    def answer(low, high, dtype):  # a student's: the right numbers, the scale not a float
        scale, zero_point = _quantization(low, high, dtype)
        return as_scale(scale), zero_point

    result = checks.exercise_8_5(answer)
    assert _fails_with(result, phrase)
    assert _fails_with(result, "the value is right, but the task asks for a float")


@pytest.mark.parametrize("as_scale", [float, np.float64, np.float32])
def test_8_5_accepts_the_scale_as_any_float(as_scale):
    def answer(low, high, dtype):
        scale, zero_point = _quantization(low, high, dtype)
        return as_scale(scale), zero_point

    result = checks.exercise_8_5(answer)
    assert result.passed, result.message


def test_8_5_a_zero_point_of_the_right_value_but_not_an_integer_is_named():
    def as_float(low, high, dtype):
        scale, zero_point = _quantization(low, high, dtype)
        return float(scale), float(zero_point)

    def in_an_array(low, high, dtype):
        return np.array(_quantization(low, high, dtype))

    result = checks.exercise_8_5(as_float)
    assert _fails_with(result, "zero_point is a float (")
    assert _fails_with(result, "the value is right, but the task asks for an integer")
    assert "return a tuple" not in result.message
    assert _fails_with(checks.exercise_8_5(in_an_array), "return a tuple")
    assert _fails_with(
        checks.exercise_8_5(
            lambda lo, hi, d: (
                (_quantization(lo, hi, d)[0], False) if lo >= 0 else _quantization(lo, hi, d)
            )
        ),
        "zero_point is a bool (False)",
    )


def _quantization_clipped(low, high, dtype):
    """Right, written differently: clip the range to include 0, zero point from the top end."""
    info = np.iinfo(dtype)
    low, high = np.clip([low, high], None, 0)[0], np.clip([low, high], 0, None)[1]
    scale = (high - low) / (float(info.max) - float(info.min))
    return float(scale), int(info.max - round(high / scale))


@pytest.mark.parametrize("answer", [_quantization, _quantization_by_table, _quantization_clipped])
def test_8_5_accepts_tflites_rule_however_written(answer):
    assert checks.exercise_8_5(answer).passed


def _step(low, high, dtype):
    return (max(high, 0.0) - min(low, 0.0)) / 255


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (
            lambda lo, hi, d: (
                (max(hi, 0.0) - min(lo, 0.0)) / 256,
                int(np.iinfo(d).min) - round(min(lo, 0.0) / ((max(hi, 0.0) - min(lo, 0.0)) / 256)),
            ),
            "255 steps",
        ),
        (
            lambda lo, hi, d: (_step(lo, hi, d), -round(min(lo, 0.0) / _step(lo, hi, d))),
            "low must map onto qmin",
        ),
        (
            lambda lo, hi, d: (
                _step(lo, hi, d),
                int(np.iinfo(d).min) - min(lo, 0.0) / _step(lo, hi, d),
            ),
            "round it",
        ),
        (
            lambda lo, hi, d: (
                (hi - lo) / 255,
                int(np.iinfo(d).min) - round(lo / ((hi - lo) / 255)),
            ),
            "widen the range to include 0",
        ),
        (lambda lo, hi, d: (255 / (hi - lo), 0), "not its inverse"),
        (lambda lo, hi, d: (max(abs(lo), abs(hi)) / np.iinfo(d).max, 0), "symmetric quantisation"),
        (
            lambda lo, hi, d: (
                _step(lo, hi, d),
                int(np.iinfo(d).min) + round(min(lo, 0.0) / _step(lo, hi, d)),
            ),
            "wrong sign",
        ),
        (lambda lo, hi, d: _step(lo, hi, d), "return the pair (scale, zero_point)"),
        (lambda lo, hi, d: ("1/255", 0), "are numbers"),
        (lambda lo, hi, d: None, "you returned None"),
    ],
)
def test_8_5_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_8_5(answer), phrase)


def _zero_point_cut(cut, whole_expression=True):
    def choose_quantization(low, high, dtype):
        info = np.iinfo(dtype)
        low, high = min(low, 0.0), max(high, 0.0)
        scale = (high - low) / (int(info.max) - int(info.min))
        if whole_expression:
            return float(scale), int(cut(int(info.min) - low / scale))
        return float(scale), int(info.min) - int(cut(low / scale))

    return choose_quantization


@pytest.mark.parametrize(
    "answer",
    [
        _zero_point_cut(int),  # a student's: int(i.min - low / s)
        _zero_point_cut(math.floor),
        _zero_point_cut(math.ceil),
        _zero_point_cut(int, whole_expression=False),
    ],
)
def test_8_5_names_a_zero_point_cut_instead_of_rounded(answer):
    # (-0.3, 1.0, uint8): qmin - low / scale = 58.85, so the zero point is 59, not 58.
    assert answer(-0.3, 1.0, np.uint8)[1] != 59 or answer(-0.1, 1.0, np.int8)[1] != -105
    result = checks.exercise_8_5(answer)
    assert _fails_with(result, "cut the fraction off")
    assert "Round to the nearest integer" in result.message


def test_8_5_reports_code_that_raises_as_not_yet():
    def raises(low, high, dtype):
        raise ZeroDivisionError("division by zero")

    assert _fails_with(checks.exercise_8_5(raises), "ZeroDivisionError")


def test_8_2_a_task_given_as_a_list_is_not_told_about_the_chief():
    result = checks.exercise_8_2(lambda a, i: {**_tf_config(a, i), "task": ["worker", i]})
    assert not result.passed and "chief" not in result.message


def test_8_2_accepts_the_workers_as_a_tuple_json_writes_it_as_a_list():
    def as_tuple(addresses, index):
        return {"cluster": {"worker": tuple(addresses)}, "task": {"type": "worker", "index": index}}

    assert checks.exercise_8_2(_refusing(as_tuple)).passed


def test_8_2_names_an_answer_written_for_two_workers_only():
    def two_only(addresses, index):
        return {"cluster": {"worker": addresses[:2]}, "task": {"type": "worker", "index": index}}

    result = checks.exercise_8_2(two_only)
    assert not result.passed and "every worker's address" in result.message


def test_8_5_a_range_written_in_for_uint8_is_named_without_handing_over_the_formula():
    def uint8_range(low, high, dtype):
        qmin, qmax = 0, 255  # uint8's, whatever dtype says
        low, high = min(low, 0.0), max(high, 0.0)
        scale = (high - low) / (qmax - qmin)
        return scale, qmin - round(low / scale)

    result = checks.exercise_8_5(uint8_range)
    assert not result.passed
    assert "np.iinfo" in result.message and "qmin - round" not in result.message


def _predict_all_as_rows(post, images, max_instances):  # a student's: the rows as a list
    out = []
    for i in range(0, len(images), max_instances):
        r = post({"instances": images[i : i + max_instances].tolist()})
        r.raise_for_status()
        out += r.json()["predictions"]
    return out


@pytest.mark.parametrize("container", [list, tuple])
def test_8_3_right_rows_in_a_python_list_are_not_the_one_array_the_task_asks_for(container):
    def answer(post, images, max_instances):
        return container(_predict_all_as_rows(post, images, max_instances))

    result = checks.exercise_8_3(answer)
    assert _fails_with(result, f"the right predictions, as a Python {container.__name__} of rows")
    assert "one array of shape (n, 10), (250, 10) here" in result.message
    assert "returns the predictions as one array `(n, 10)`" in task_text("8.3")


def test_8_3_a_list_of_rows_is_named_alike_in_two_phases(tmp_path):
    from course_lib.checks._core import fresh_inputs
    from course_lib.tools.grading import judge

    reply = judge.judge_locally(
        "checks.exercise_8_3(predict_all)", {"predict_all": _predict_all_as_rows}, 83, str(tmp_path)
    )
    with fresh_inputs(83):
        direct = checks.exercise_8_3(_predict_all_as_rows)
    assert reply["status"] == "failed" and reply["message"] == direct.message, reply
    assert "as a Python list of rows" in reply["message"]


def test_8_3_no_rows_and_no_request_is_not_called_a_missing_last_request():
    result = checks.exercise_8_3(lambda post, images, max_instances: np.empty((0, 10)))
    assert _fails_with(result, "predict_all sent no request and returned a float64 array of shape")
    assert "left over" not in result.message


def _calibration_as_a_list():  # a student's: a plain function, every sample made at once
    return [[X_TRAIN[i][None]] for i in SHUFFLED[:200]]


def test_8_4_a_function_that_returns_a_list_is_told_to_yield():
    result = checks.exercise_8_4(_calibration_as_a_list, X_TRAIN, X_TEST)
    assert _fails_with(result, "returned a list of 200 samples, made all at once")
    assert "`yield` each sample" in result.message
    assert "Write a generator function `representative_dataset()` that yields" in task_text("8.4")


def test_8_4_a_generator_expression_returned_is_still_accepted():
    def representative_dataset():
        return ([X_TRAIN[i][None]] for i in SHUFFLED[:200])

    assert checks.exercise_8_4(representative_dataset, X_TRAIN, X_TEST).passed


def test_8_4_test_images_taken_round_the_test_set_are_named_test_images_not_repeats():
    x_test = np.random.default_rng(7).random((150, 28, 28, 1), dtype=np.float32)

    def representative_dataset():  # a student's: training indices into the test set
        for i in SHUFFLED[:200]:
            yield [x_test[i % len(x_test)][None]]

    result = checks.exercise_8_4(representative_dataset, X_TRAIN, x_test)
    assert _fails_with(result, "some samples are test images")
    assert "repeat" not in result.message


def test_8_2_a_string_that_is_no_json_config_is_not_told_about_json_dumps():
    result = checks.exercise_8_2(lambda addresses, index: "worker")
    assert _fails_with(result, "got a str ('worker'); TF_CONFIG is a dict")
    assert "json.dumps" not in result.message
    dumped = checks.exercise_8_2(
        lambda addresses, index: json.dumps(
            {"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}}
        )
    )
    assert _fails_with(dumped, "it becomes a string only when it goes into the environment")


def test_8_5_a_float16_scale_is_named_as_the_precision_lost():
    def choose_quantization(low, high, dtype):  # a student's
        low, high = min(low, 0), max(high, 0)
        qmin, qmax = np.iinfo(dtype).min, np.iinfo(dtype).max
        scale = (high - low) / (qmax - qmin)
        return np.float16(scale), int(qmin - round(low / scale))

    result = checks.exercise_8_5(choose_quantization)
    assert _fails_with(result, "a float16, which keeps about 3 digits; expected 0.00392157")


def _unseeded():  # a student's: the order drawn anew at every call
    for index in np.random.permutation(len(X_TRAIN))[:200]:
        yield [X_TRAIN[index][None]]


_NOTEBOOK_RNG = np.random.default_rng(42)


def _drawn_from_a_generator_made_outside():  # a student's: the rng made once, in the cell
    for index in _NOTEBOOK_RNG.permutation(len(X_TRAIN))[:200]:
        yield [X_TRAIN[index][None]]


_ORDER = np.random.default_rng(42).permutation(len(X_TRAIN))


def _an_order_drawn_once_outside():  # right: the same order at every call
    for index in _ORDER[:200]:
        yield [X_TRAIN[index][None]]


def _seeded_inside():  # right: the task's way
    order = np.random.default_rng(42).permutation(len(X_TRAIN))
    for index in order[:200]:
        yield [X_TRAIN[index : index + 1]]


@pytest.mark.parametrize("answer", [_unseeded, _drawn_from_a_generator_made_outside])
def test_8_4_an_order_drawn_anew_at_every_call_is_named_not_repeatable(answer):
    result = checks.exercise_8_4(answer, X_TRAIN, X_TEST)
    assert _fails_with(result, "two calls of representative_dataset() yield different samples")
    assert "np.random.default_rng(SEED)" in result.message
    assert "every call of `representative_dataset()` yields the same" in task_text("8.4")


@pytest.mark.parametrize("answer", [_an_order_drawn_once_outside, _seeded_inside])
def test_8_4_an_order_that_every_call_repeats_passes(answer):
    assert checks.exercise_8_4(answer, X_TRAIN, X_TEST).passed


def test_8_4_an_unseeded_order_is_named_alike_in_two_phases(tmp_path, course_split):
    from course_lib.checks._core import fresh_inputs
    from course_lib.tools.grading import judge

    x_train = course_split[0]

    def representative_dataset():  # a student's, on the lesson's training part
        # default_rng() unseeded: np.random's own state is seeded by the judge when it runs
        # in this process, before each of its rounds (a real kernel is not)
        for index in np.random.default_rng().permutation(len(x_train))[:100]:
            yield [x_train[index][None]]

    expression = "checks.exercise_8_4(representative_dataset)"
    answers = {"representative_dataset": representative_dataset}
    reply = judge.judge_locally(expression, dict(answers), 6384, str(tmp_path))
    with fresh_inputs(6384):
        direct = checks.exercise_8_4(representative_dataset)
    assert reply["status"] == "failed", reply
    assert reply["message"] == direct.message
    assert "two calls of representative_dataset() yield different samples" in reply["message"]


def test_8_5_the_pair_in_the_other_order_is_named_so():
    def choose_quantization(low, high, dtype):  # a student's: (zero_point, scale)
        scale, zero_point = _quantization(low, high, dtype)
        return zero_point, scale

    result = checks.exercise_8_5(choose_quantization)
    assert _fails_with(result, "the right values in the other order")
    assert "Return (scale, zero_point), the scale first." in result.message


def test_8_5_a_range_that_wraps_round_in_the_dtype_s_own_integers_is_named():
    def choose_quantization(low, high, dtype):  # a student's: qmin, qmax as the dtype itself
        qmin, qmax = dtype(np.iinfo(dtype).min), dtype(np.iinfo(dtype).max)
        low, high = min(low, 0.0), max(high, 0.0)
        with np.errstate(over="ignore"):
            scale = (high - low) / (qmax - qmin)  # int8: 127 - (-128) wraps round to -1
        return float(scale), int(round(qmin - low / scale))

    result = checks.exercise_8_5(choose_quantization)
    assert _fails_with(result, "below 0: qmax - qmin came out as -1, not 255")
    assert "int(np.iinfo(dtype).max) - int(np.iinfo(dtype).min)" in result.message


def test_8_3_one_class_number_per_image_is_told_to_keep_the_probabilities():
    def predict_all(post, images, max_instances):  # a student's: the classes, not the rows
        return _predict_all(post, images, max_instances).argmax(axis=1)

    result = checks.exercise_8_3(predict_all)
    assert _fails_with(result, "one class number per image (argmax)")
    assert "one row of 10 per image, shape (250, 10)" in result.message
