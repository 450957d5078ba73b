"""Exercises 6.3, 8.3 and 8.4 judged in two phases: the kernel runs the grader's drivers.

6.3's answer reads a photo file, which must be in the kernel's folder: the file travels as its
bytes, the backbone as its model. 8.3's answer talks to a service through a function of the
check's, which cannot travel: the stand-in service runs beside it in the kernel. 8.4's answer
is a generator: the kernel reads it, capped. Each answer gets the message the check gives in
a notebook, on the same fresh draw of test data, and the judge's test data do not depend on
the notebook's variables.
"""

import os
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from test_checks_lesson08 import (
    _predict_all,
    _predict_all_balanced,
    _predict_all_ignoring_errors,
    _predict_all_while,
)

from course_lib import checks, data, models, pretrained
from course_lib.checks import _drivers
from course_lib.checks._core import fresh_inputs
from course_lib.tools.grading import judge, two_phase

SALT = 6384


def _graded_and_direct(tmp_path, expression, answers):
    """The judge's reply, and the check's own result in this process on the same test data."""
    reply = judge.judge_locally(expression, dict(answers), SALT, str(tmp_path))
    with fresh_inputs(SALT):
        direct = eval(expression, {"checks": checks, **answers})
    return reply, direct


def _same_verdict(tmp_path, expression, answers, passed, words=""):
    reply, direct = _graded_and_direct(tmp_path, expression, answers)
    assert reply["status"] == ("passed" if passed else "failed"), reply
    assert direct.passed is passed, direct.message
    assert reply["message"] == direct.message
    assert words.lower() in reply["message"].lower(), reply
    return reply


def test_the_three_exercises_are_judged_in_two_phases():
    assert {"6.3", "8.3", "8.4"} <= two_phase.TWO_PHASE
    assert {"with_file", "behind_service", "generated_samples"} <= set(_drivers.DRIVERS)


# --------------------------------------------------------------------- 6.3 a photo from a file

CLASSIFY = "checks.exercise_6_3(classify_file)"


def _with_tensorflow(path, backbone, class_names, k):
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    probabilities = keras.ops.convert_to_numpy(
        keras.ops.softmax(backbone.model(backbone.prepare(image.numpy()[None]), training=False))
    )[0]
    best = np.argsort(probabilities)[::-1][:k]
    return [(int(i), class_names[i], float(probabilities[i])) for i in best]


def _with_keras_load_img(path, backbone, class_names, k):
    pixels = keras.utils.img_to_array(keras.utils.load_img(path))  # float32, 0-255, RGB
    logits = backbone.model.predict(backbone.prepare(pixels[None]), verbose=0)
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    return tuple(
        (i, class_names[i], probabilities[0, i]) for i in np.argsort(-probabilities[0])[:k]
    )


def _with_the_library(path, backbone, class_names, k):
    return pretrained.classify_file(path, backbone, class_names, k)


def _classify(read=lambda path: np.asarray(Image.open(path).convert("RGB")), softmax=True,
              before=lambda image: image[None], order=1):  # fmt: skip
    """A student's classify_file, right by default; each argument plants one mistake."""

    def classify_file(path, backbone, class_names, k):
        logits = backbone.model.predict_on_batch(backbone.prepare(before(read(path))))
        values = pretrained.softmax(logits) if softmax else np.asarray(logits)
        return pretrained.decode_top_k(values, k, class_names)[0][::order]

    return classify_file


@pytest.mark.parametrize("answer", [_with_tensorflow, _with_keras_load_img])
def test_6_3_a_right_answer_reads_the_file_in_the_kernel_and_passes(tmp_path, answer):
    _same_verdict(tmp_path, CLASSIFY, {"classify_file": answer}, passed=True)


def test_6_3_the_library_s_own_classify_file_is_refused_in_the_kernel_as_in_the_notebook(tmp_path):
    words = "calls course_lib.pretrained.classify_file, the course's own copy of this exercise"
    _same_verdict(
        tmp_path, CLASSIFY, {"classify_file": _with_the_library}, passed=False, words=words
    )


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (_classify(read=lambda path: np.asarray(Image.open(path))), "alpha channel"),
        (_classify(softmax=False), "logits, not probabilities"),
        (_classify(before=lambda image: image[None] / 255.0), "divided by 255 first"),
        (_classify(before=lambda image: image[None, ..., ::-1]), "BGR"),
        (_classify(order=-1), "least probable first"),
        (_classify(before=lambda image: image), "batch axis"),
        (
            _classify(read=lambda path: np.asarray(Image.open(path).convert("L").convert("RGB"))),
            "predictions differ",
        ),
        (lambda path, backbone, names, k: None, "forget to `return`"),
    ],
)
def test_6_3_a_wrong_answer_gets_the_notebook_message_from_the_judge(tmp_path, answer, words):
    _same_verdict(tmp_path, CLASSIFY, {"classify_file": answer}, passed=False, words=words)


def test_6_3_the_file_is_written_in_a_folder_of_its_own_and_removed_after(tmp_path):
    seen = []

    def recording(path, backbone, class_names, k):
        seen.append((path, os.path.isfile(path), type(backbone).__name__))
        return _with_tensorflow(path, backbone, class_names, k)

    reply = judge.judge_locally(CLASSIFY, {"classify_file": recording}, SALT, str(tmp_path))
    assert reply["status"] == "passed", reply
    # The photo is asked for twice, with two values of k.
    names = sorted(os.path.basename(path) for path, _, _ in seen)
    assert names == ["gray.png", "logo.png", "photo.png", "photo.png"], seen
    assert all(exists and kind == "Backbone" for _, exists, kind in seen), seen
    assert len({os.path.dirname(path) for path, _, _ in seen}) == len(seen)  # a fresh folder each
    assert not any(os.path.exists(path) for path, _, _ in seen)
    assert not any(str(tmp_path) in path for path, _, _ in seen)  # not the judge's folder


def test_6_3_the_backbone_the_kernel_builds_prepares_as_the_course_s_does():
    from course_lib.checks import lesson06

    course = lesson06._tiny_classifier()
    built = _drivers.Backbone(
        course.name, course.model, course.input_size, 127.0, 128.0, course.input_range
    )
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (2, 45, 60, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (1, 40, 50), dtype=np.uint8)
    same_size = rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    for images in (colour, gray, same_size, colour / 255.0, [colour[0], colour[1, :30]]):
        np.testing.assert_array_equal(built.prepare(images), course.prepare(images))
    np.testing.assert_array_equal(built.scale(colour), course.scale(colour))
    for x in (colour, built.prepare(colour) * 255, built.prepare(colour) * 3, colour[:, :32, :32]):
        with pytest.raises(ValueError) as ours:
            built.check_input(x)
        with pytest.raises(ValueError) as theirs:
            course.check_input(x)
        assert str(ours.value) == str(theirs.value)
    built.check_input(built.prepare(colour))


# ------------------------------------------------------- 8.3 a client within the request limit

PREDICT_ALL = "checks.exercise_8_3(predict_all)"


@pytest.mark.parametrize("answer", [_predict_all, _predict_all_balanced, _predict_all_while])
def test_8_3_a_right_client_passes_against_the_service_in_the_kernel(tmp_path, answer):
    _same_verdict(tmp_path, PREDICT_ALL, {"predict_all": answer}, passed=True)


def _every_k(post, x, k):
    return np.concatenate(
        [post({"instances": x[i * k : (i + 1) * k].tolist()}).json()["predictions"]
         for i in range(len(x) // k)]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (lambda post, x, k: post({"instances": x.tolist()}).json()["predictions"], "(413"),
        (lambda post, x, k: _predict_all(post, x, 256), "max_instances, the argument"),
        (lambda post, x, k: _predict_all(post, x, 100), "with max_instances=64, a request"),
        (_every_k, "the 50 images left over"),
        (
            lambda post, x, k: _predict_all(
                lambda body: post({"instances": np.asarray(body["instances"])}), x, k
            ),
            "chunk.tolist()",
        ),
        (lambda post, x, k: _predict_all(post, x, k)[::-1], "reverse order"),
        (lambda post, x, k: _predict_all(post, x, 1), "250 requests for 250 images"),
        (
            lambda post, x, k: [
                post({"instances": x[s : s + k].tolist()}).json()["outputs"]
                for s in range(0, len(x), k)
            ],
            'read response.json()["predictions"]',
        ),
        (
            lambda post, x, k: np.roll(_predict_all(post, x, k), 1, axis=0),
            "in the order they come back",
        ),
        (lambda post, x, k: (_ for _ in ()).throw(NotImplementedError), "not attempted"),
        (_predict_all_ignoring_errors, "with 503 (busy)"),
        (
            lambda post, x, k: _predict_all(post, x, k).astype(np.float16),
            "the predictions are float16",
        ),
        (
            lambda post, x, k: _predict_all(lambda body: post({"inputs": body["instances"]}), x, k),
            'no key "instances" in the body',
        ),
    ],
)
def test_8_3_a_wrong_client_gets_the_notebook_message_from_the_judge(tmp_path, answer, words):
    _same_verdict(tmp_path, PREDICT_ALL, {"predict_all": answer}, passed=False, words=words)


def test_8_3_the_check_uses_its_own_model_and_images_not_the_notebook_s():
    # A notebook that names a model of its own `serve` (all zeros, say) and answers the same
    # zeros without asking the service: the check's service does not use `serve`.
    def zeros(post, images, max_instances):
        return np.zeros((len(images), 10), np.float32)

    def serve(x):
        return np.zeros((len(x), 10), np.float32)

    x_test = np.zeros((300, 28, 28, 1), np.float32)
    for expression in (PREDICT_ALL, "checks.exercise_8_3(predict_all, serve, x_test)"):
        with fresh_inputs(SALT):
            result = eval(
                expression,
                {"checks": checks, "predict_all": zeros, "serve": serve, "x_test": x_test},
            )
        assert not result.passed and "not the predictions" in result.message, result.message
    with fresh_inputs(SALT):  # the cell the lesson had before still works
        assert checks.exercise_8_3(_predict_all, serve, x_test).passed


def test_8_3_the_lesson_s_check_cell_sends_only_the_answer():
    from course_lib.config import project_root
    from course_lib.tools.grading.submissions import lesson_key

    path = next((project_root() / "solutions").glob("08_*.ipynb"))
    cells = {e.number: e.check for e in lesson_key(path).exercises}
    assert judge.answer_names(cells["8.3"]) == ["predict_all"]
    # and the number of samples the task asks for: an int, sent as data
    assert judge.answer_names(cells["8.4"]) == ["representative_dataset", "CALIBRATION_IMAGES"]


# ---------------------------------------------------------------- 8.4 the representative dataset

REPRESENTATIVE = "checks.exercise_8_4(representative_dataset)"


@pytest.fixture(scope="module")
def course_train():
    """The course's training images, as the lesson prepares them (in fast mode, a subset)."""
    fashion = data.load_fashion_mnist()
    return models.as_model_input(fashion.x_train[:1000], models.preprocessing_for((28, 28, 1)))


@pytest.fixture(scope="module")
def course_training_part():
    """Lesson 04's training part, the images the lesson calibrates on (its validation part is
    where the lesson judges int8, and a calibration set must not hold those)."""
    x_train = models.fashion_validation_split(data.load_fashion_mnist())[0]
    return models.as_model_input(x_train[:1000], models.preprocessing_for((28, 28, 1)))


def _yielding(images, wrap=lambda image: [image[None]]):
    def representative_dataset():
        for image in images:
            yield wrap(image)

    return representative_dataset


def test_8_4_right_generators_pass_when_the_kernel_reads_them(tmp_path, course_training_part):
    x_train = course_training_part

    def slices_of_one():
        for index in np.random.default_rng(1).permutation(len(x_train))[:300]:
            yield (x_train[index : index + 1],)

    def from_a_shuffled_copy():
        shuffled = x_train.copy()
        np.random.default_rng(0).shuffle(shuffled)  # the copy, not x_train
        for image in shuffled[:250]:
            yield [tf.constant(np.expand_dims(image, 0))]

    for answer in (slices_of_one, from_a_shuffled_copy):
        _same_verdict(tmp_path / answer.__name__, REPRESENTATIVE,
                      {"representative_dataset": answer}, passed=True)  # fmt: skip


def _forever(images):
    def representative_dataset():
        index = 0
        while True:  # never ends: the driver stops after 1,001 samples
            yield [images[index % len(images)][None]]
            index += 1

    return representative_dataset


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda x: _yielding(x[7:307], wrap=lambda image: image[None]), "yield [batch]"),
        (lambda x: _yielding(x[7:307], wrap=lambda image: [image]), "add the batch axis"),
        (lambda x: _yielding(x[7:307] * 255), "up to 255"),
        (lambda x: _yielding(x[7:307], wrap=lambda i: [i[None].astype(np.float64)]), "float32"),
        (lambda x: _yielding(x[7:27]), "too few"),
        (_forever, "more than 1,000"),
        (lambda x: _yielding([x] * 300, wrap=lambda images: [images]), "a batch of 1000 images"),
        (lambda x: _yielding(x[:200]), "the first 200 training images in their stored order"),
        (
            lambda x: _yielding(
                np.repeat(x[np.random.default_rng(0).permutation(len(x))[:75]], 2, 0)
            ),
            "75 of your 150 samples repeat an image yielded before",
        ),
        (lambda x: lambda: None, "use `yield`"),
        (lambda x: lambda: 5, "returned a int, which cannot be iterated"),
        (
            lambda x: _yielding(x[7:307], wrap=lambda image: [image[None], image[None]]),
            "exactly one array",
        ),
    ],
)
def test_8_4_a_wrong_generator_gets_the_notebook_message_from_the_judge(
    tmp_path, course_train, make, words
):
    _same_verdict(tmp_path, REPRESENTATIVE, {"representative_dataset": make(course_train)},
                  passed=False, words=words)  # fmt: skip


def test_8_4_a_generator_that_raises_gets_the_notebook_message(tmp_path):
    def representative_dataset():
        raise NotImplementedError("write me")
        yield

    answers = {"representative_dataset": representative_dataset}
    words = "your generator raised NotImplementedError: write me"
    _same_verdict(tmp_path, REPRESENTATIVE, answers, passed=False, words=words)


def test_8_4_the_samples_the_kernel_sends_are_capped(tmp_path, course_train):
    # A batch of the whole set, 300 times: the driver stops once the samples pass what
    # 1,001 right samples would take, so the judge reads a few megabytes, not gigabytes.
    answer = _yielding([course_train] * 300, wrap=lambda images: [images])
    _same_verdict(tmp_path, REPRESENTATIVE, {"representative_dataset": answer}, passed=False)
    written = sum(f.stat().st_size for f in tmp_path.rglob("*.npy"))
    assert written < 4 * course_train.nbytes, written


def test_8_4_x_train_shuffled_in_place_in_the_kernel_is_named(tmp_path, course_train):
    # As a notebook has it: the generator shuffles the notebook's global x_train.
    namespace = {"np": np, "x_train": course_train.copy()}
    exec(  # noqa: S102 - a notebook cell
        "def representative_dataset():\n"
        "    np.random.default_rng(0).shuffle(x_train)\n"
        "    for image in x_train[:300]:\n"
        "        yield [image[None]]\n",
        namespace,
    )
    _same_verdict(tmp_path, REPRESENTATIVE, namespace, passed=False, words="in place")


def test_8_4_the_judge_knows_the_course_s_training_order_whatever_the_notebook_names_x_train(
    tmp_path, monkeypatch
):
    # The judge runs in full mode while the kernel ran in fast mode: the first images of either
    # order are named, with no x_train from the notebook at all.
    monkeypatch.delenv("COURSE_FAST", raising=False)
    fashion = data.load_fashion_mnist()
    assert len(fashion.x_train) == 60_000
    prep = models.preprocessing_for((28, 28, 1))
    fast, _ = data.balanced_subset(
        fashion.x_train, fashion.y_train, data.FAST_TRAIN_PER_CLASS, data.SUBSET_SEED
    )
    for first in (fashion.x_train[:200], fast[:200]):
        answer = _yielding(models.as_model_input(first, prep))
        reply = judge.judge_locally(
            REPRESENTATIVE, {"representative_dataset": answer}, SALT, str(tmp_path / str(id(first)))
        )
        assert reply["status"] == "failed", reply
        assert "the first 200 training images in their stored order" in reply["message"], reply


def test_8_4_the_judge_names_validation_images_of_a_fast_run_and_passes_its_training_part(
    tmp_path, monkeypatch
):
    # The kernel ran in fast mode, the judge runs in full mode: the samples are judged by
    # lesson 04's split of fast mode's subset, the one the kernel's x_train came from.
    monkeypatch.delenv("COURSE_FAST", raising=False)
    fashion = data.load_fashion_mnist()
    prep = models.preprocessing_for((28, 28, 1))
    fast_x, fast_y = data.balanced_subset(
        fashion.x_train, fashion.y_train, data.FAST_TRAIN_PER_CLASS, data.SUBSET_SEED
    )
    fast = SimpleNamespace(x_train=fast_x, y_train=fast_y)
    x_train, x_val, _, _ = models.fashion_validation_split(fast)
    replies = {}
    for name, images in (("validation", x_val), ("training", x_train)):
        order = np.random.default_rng(0).permutation(len(images))[:100]
        answer = _yielding(models.as_model_input(images[order], prep))
        replies[name] = judge.judge_locally(
            REPRESENTATIVE, {"representative_dataset": answer}, SALT, str(tmp_path / name)
        )
    assert replies["validation"]["status"] == "failed", replies["validation"]
    assert "100 of your 100 samples are validation images" in replies["validation"]["message"]
    assert replies["training"]["status"] == "passed", replies["training"]
