"""Phase B judges exported answers with the notebook's own checks, on test data drawn afresh."""

import ast
import itertools

import numpy as np
import pytest
from solution_support import exercises_key, lesson_path, solution_cells
from test_checks_lesson03 import _field_popping  # empties the list it is given
from test_checks_lesson04 import (
    _better_cnn_with,  # the stated CNN, one layer changed
    _l2_on_the_first_conv,  # a student's 4.3
    _popping,  # empties the list it is given
)
from test_checks_lesson06 import (
    _classify,
    _classify_returning,
    _classify_with_tensors,
    _keep_on_accuracy_gap,
    _one_image,
    _only_for,
    _resize,
    _scaled,
    _unfreeze_from,
    _unfreeze_until_break,
    _unfrozen_again,
    _with_value,
    nested_head,
)
from test_checks_lesson07 import (  # a student's answers, as the check tests have them
    _ONE_SIDE_LIMITS,
    _confidence_made_up,
    _in_percent_everywhere,
    _limit_on,
    _lowest_score,
    _offset_added_first,
    _reads_keys_of_anything,
)
from test_checks_lesson07 import prepare as prepare_upload
from test_checks_lesson09 import (  # the reference the check tests use too
    rescaled_with,
    share_of,
    upright_by_hand,
    whitened_where,
    with_input,
    without_a_resize,
)

from course_lib import checks
from course_lib.checks._core import check_rng, fresh_inputs
from course_lib.tools.grading import judge, judge_decode, two_phase


def _to_grayscale(photo):
    return np.round(photo.astype(np.float64) @ [0.299, 0.587, 0.114]).astype(np.uint8)


def _centre_crop(image, height, width):
    rows, cols = image.shape[:2]
    if height > rows or width > cols:
        raise ValueError("crop larger than the image")
    top, left = (rows - height) // 2, (cols - width) // 2
    return image[top : top + height, left : left + width]


def _resize_nearest(image, height, width):
    rows = np.floor((np.arange(height) + 0.5) * image.shape[0] / height).astype(int)
    cols = np.floor((np.arange(width) + 0.5) * image.shape[1] / width).astype(int)
    return image[rows[:, None], cols]


def _standardise(x_train, x_test):
    mean, std = x_train.astype(np.float64).mean(), x_train.astype(np.float64).std()
    return ((x_train - mean) / std).astype(np.float32), ((x_test - mean) / std).astype(np.float32)


RIGHT = {
    "to_grayscale": _to_grayscale,
    "centre_crop": _centre_crop,
    "resize_nearest": _resize_nearest,
    "standardise": _standardise,
}
EXPRESSIONS = {
    "1.1": "checks.exercise_1_1(to_grayscale)",
    "1.2": "checks.exercise_1_2(centre_crop)",
    "1.3": "checks.exercise_1_3(resize_nearest)",
    "1.4": "checks.exercise_1_4(standardise)",
}


def _judge(tmp_path, number, namespace, salt=12345):
    return judge.judge_locally(EXPRESSIONS[number], namespace, salt, str(tmp_path / number))


def _fails_as_in_the_notebook(tmp_path, expression, name, answer, words, salt):
    """The judge refuses ``answer`` with ``words`` in its message, the notebook's own message."""
    reply = judge.judge_locally(expression, {name: answer}, salt, str(tmp_path))
    assert reply["status"] == "failed" and words in reply["message"], reply
    with fresh_inputs(salt):
        direct = eval(expression, {"checks": checks, name: answer})
    assert reply["message"] == direct.message


@pytest.mark.parametrize("salt", [1, 2, 3, 2**31 + 7])
@pytest.mark.parametrize("number", sorted(EXPRESSIONS))
def test_right_answers_pass_on_every_fresh_draw_of_the_test_data(tmp_path, number, salt):
    reply = _judge(tmp_path, number, RIGHT, salt)
    assert reply["status"] == "passed", reply


@pytest.mark.parametrize(
    ("number", "answer", "message"),
    [
        ("1.1", {"to_grayscale": lambda p: p.mean(axis=-1)}, "you averaged the channels equally"),
        ("1.2", {"centre_crop": lambda im, h, w: im[:h, :w]}, "is the top-left corner"),
        (
            "1.2",
            {
                "centre_crop": lambda im, h, w: im[(im.shape[0] - h) // 2 :][
                    :h, (im.shape[1] - w) // 2 :
                ][:, :w]
            },
            "Raise a ValueError when the crop is larger than the image",
        ),
        (
            "1.2",
            {
                "centre_crop": lambda im, h, w: (
                    _centre_crop(im, h, w)
                    if h < im.shape[0] and w < im.shape[1]
                    else (_ for _ in ()).throw(ValueError("too big"))
                )
            },
            "crop of a 9 x 8 image (the crop's height equal to the image's), your code raised",
        ),
        (  # fails on images with channels only: the check asks the kernel for a 2-D crop too
            "1.2",
            {"centre_crop": lambda im, h, w: _centre_crop(im.T, w, h).T},
            "though your function crops the same image without its channels",
        ),
        ("1.3", {"resize_nearest": lambda im, h, w: None}, "did you forget to `return` it?"),
        (
            "1.4",
            {"standardise": lambda a, b: ((a - a.mean()) / a.std(), (b - b.mean()) / b.std())},
            "standardised with their own mean",
        ),
    ],
)
def test_wrong_answers_get_the_notebook_check_message(tmp_path, number, answer, message):
    reply = _judge(tmp_path, number, answer)
    assert reply["status"] == "failed" and message in reply["message"], reply
    with fresh_inputs(12345):  # the same verdict as the check itself on the same test data
        direct = getattr(checks, f"exercise_{number.replace('.', '_')}")(*answer.values())
    assert reply["message"] == direct.message


def test_a_change_to_the_input_in_place_is_seen_across_the_process_boundary(tmp_path):
    def grayscale_in_place(photo):
        photo[..., 0] = _to_grayscale(photo)
        return photo[..., 0]

    reply = _judge(tmp_path, "1.1", {"to_grayscale": grayscale_in_place})
    assert reply["status"] == "failed" and "changed its input `photo` in place" in reply["message"]


@pytest.mark.parametrize(
    ("expression", "name", "answer", "words"),
    [
        (
            "checks.exercise_3_6(receptive_field)",
            "receptive_field",
            _field_popping,
            "your function changed the list `stack` it was given",
        ),
        (
            "checks.exercise_4_4(early_stopping_epochs)",
            "early_stopping_epochs",
            _popping,
            "your function changed the list `val_loss` it was given: it held 7 items, 2 after",
        ),
    ],
)
def test_a_list_changed_in_place_is_seen_across_the_process_boundary(
    tmp_path, expression, name, answer, words
):
    _fails_as_in_the_notebook(tmp_path, expression, name, answer, words, 12345)


def test_a_precision_returned_as_an_exact_fraction_is_judged_as_in_the_notebook(tmp_path):
    from fractions import Fraction

    def exact(cm, k, factor):
        true_positives = Fraction(float(factor)) * int(cm[k, k])
        return true_positives / (true_positives + int(cm[:, k].sum() - cm[k, k]))

    expression = "checks.exercise_5_2(precision_at_prevalence)"
    namespace = {"precision_at_prevalence": exact}
    reply = judge.judge_locally(expression, namespace, 12345, str(tmp_path / "5.2"))
    assert reply["status"] == "passed", reply


def test_a_precision_returned_as_float16_is_named_as_in_the_notebook(tmp_path):
    def half(cm, k, factor):
        true_positives = factor * cm[k, k]
        return np.float16(true_positives / (true_positives + cm[:, k].sum() - cm[k, k]))

    expression = "checks.exercise_5_2(precision_at_prevalence)"
    namespace = {"precision_at_prevalence": half}
    reply = judge.judge_locally(expression, namespace, 12345, str(tmp_path / "5.2"))
    assert reply["status"] == "failed" and "float16 numbers" in reply["message"], reply
    with fresh_inputs(12345):
        assert reply["message"] == checks.exercise_5_2(half).message


@pytest.mark.parametrize("value", [complex(0.5, 0.1), complex(float("nan"), float("inf"))])
def test_a_complex_precision_is_named_complex_as_in_the_notebook(tmp_path, value):
    def complex_precision(cm, k, factor):  # a student's, with a square root of a negative
        return value

    expression = "checks.exercise_5_2(precision_at_prevalence)"
    namespace = {"precision_at_prevalence": complex_precision}
    reply = judge.judge_locally(expression, namespace, 12345, str(tmp_path / "5.2"))
    assert reply["status"] == "failed" and "imaginary part" in reply["message"], reply
    with fresh_inputs(12345):
        assert reply["message"] == checks.exercise_5_2(complex_precision).message


@pytest.mark.parametrize(
    ("dtype", "words"),
    [
        (np.complex128, "complex numbers"),
        (object, "your output is a NumPy array of dtype object"),  # no data: only its type travels
        (np.float16, "which keeps only about 3 significant digits"),
    ],
)
def test_3_1_an_output_of_no_float32_or_float64_dtype_gets_the_notebook_message(
    tmp_path, dtype, words
):
    import scipy.signal

    def convolve_valid(image, kernel):  # a student's
        return scipy.signal.correlate2d(image, kernel, mode="valid").astype(dtype)

    expression = "checks.exercise_3_1(convolve_valid)"
    _fails_as_in_the_notebook(tmp_path, expression, "convolve_valid", convolve_valid, words, 21)


def _row_with_most_mistakes_first(cm):
    off = cm.copy()
    np.fill_diagonal(off, 0)
    row = int(off.sum(axis=1).argmax())
    return row, int(off[row].argmax())


def _keep_below_half_alpha(y_val, pred_features, pred_fine_tuned, alpha=0.05):
    from course_lib import metrics

    comparison = metrics.compare_classifiers(y_val, pred_features, pred_fine_tuned)
    return bool(comparison.only_b_right > comparison.only_a_right) and bool(
        comparison.p_value < alpha / 2
    )


@pytest.mark.parametrize(
    ("expression", "name", "answer", "words"),
    [
        (
            "checks.exercise_5_4(most_confused)",
            "most_confused",
            _row_with_most_mistakes_first,
            "on a second matrix, 4 x 4",
        ),
        (
            "checks.exercise_6_6(keep_fine_tuned)",
            "keep_fine_tuned",
            _keep_below_half_alpha,
            "you compare p with alpha / 2",
        ),
    ],
)
def test_the_added_cases_of_5_4_and_6_6_are_judged_as_in_the_notebook(
    tmp_path, expression, name, answer, words
):
    reply = judge.judge_locally(expression, {name: answer}, 21, str(tmp_path))
    assert reply["status"] == "failed" and words in reply["message"], reply
    with fresh_inputs(21):
        assert reply["message"] == eval(expression, {"checks": checks, name: answer}).message


def test_answers_computed_for_the_published_test_data_fail_on_a_fresh_draw(tmp_path):
    # A lookup table of the right outputs for the check's own seeded inputs: right in the
    # notebook (the test data are public), wrong when the grader draws new ones.
    photo_outputs = {}

    def memorising(photo):
        return photo_outputs.get(photo.tobytes(), np.zeros(photo.shape[:2], np.uint8))

    photo = None
    for _ in range(1):
        from course_lib.checks import lesson01

        photo = lesson01._test_photo()
        photo_outputs[photo.tobytes()] = _to_grayscale(photo)
    assert checks.exercise_1_1(memorising).passed
    reply = _judge(tmp_path, "1.1", {"to_grayscale": memorising})
    assert reply["status"] == "failed", reply


def test_salted_test_data_differ_between_runs_and_repeat_within_one():
    with fresh_inputs(1):
        a = check_rng(5).integers(0, 1000, 8)
    with fresh_inputs(2):
        b = check_rng(5).integers(0, 1000, 8)
    with fresh_inputs(1):
        c = check_rng(5).integers(0, 1000, 8)
    assert not np.array_equal(a, b) and np.array_equal(a, c)
    assert np.array_equal(
        check_rng(5).integers(0, 1000, 8), np.random.default_rng(5).integers(0, 1000, 8)
    )


@pytest.mark.parametrize(
    ("namespace", "message"),
    [
        ({}, "NameError"),
        ({"to_grayscale": (x for x in range(3))}, "generator"),
        ({"to_grayscale": lambda p: (x for x in range(3))}, "generator"),
        ({"to_grayscale": lambda p: {"gray": p}}, "dict"),
        ({"to_grayscale": lambda p: 1 / 0}, "ZeroDivisionError"),
    ],
)
def test_junk_exported_by_the_kernel_is_judged_without_crashing(tmp_path, namespace, message):
    reply = _judge(tmp_path, "1.1", namespace)
    assert reply["status"] in ("failed", "error") and message in reply["message"], reply


def test_a_tampered_export_is_an_error_not_a_crash(tmp_path):
    folder = tmp_path / "values"
    folder.mkdir()
    (folder / "values.json").write_text(
        '{"to_grayscale": {"t": "array", "file": "../../etc/passwd"}}'
    )
    reply = judge.handle(
        {
            "root": str(tmp_path),
            "expression": EXPRESSIONS["1.1"],
            "values": str(folder),
            "calls": [],
            "salt": 1,
            "next": str(tmp_path / "next"),
        }
    )
    assert reply["status"] == "error"
    pickled = tmp_path / "values2"
    pickled.mkdir()
    np.save(pickled / "v1.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (pickled / "values.json").write_text('{"to_grayscale": {"t": "array", "file": "v1.npy"}}')
    reply = judge.handle(
        {
            "root": str(tmp_path),
            "expression": EXPRESSIONS["1.1"],
            "values": str(pickled),
            "calls": [],
            "salt": 1,
            "next": str(tmp_path / "next2"),
        }
    )
    assert reply["status"] == "error" and "pickle" in reply["message"].lower(), reply


# ---------------------------------------------------------------- every two-phase exercise


def _solution_namespace(number):
    """The solution notebook's answer to exercise ``number``, defined as the student would."""
    import json

    cells = json.loads(lesson_path(number).read_text(encoding="utf-8"))["cells"]
    namespace = {}
    for cell in cells:  # the notebook's imports, as its set-up cells make them
        try:
            tree = ast.parse("".join(cell["source"])) if cell["cell_type"] == "code" else None
        except SyntaxError:  # a cell with IPython magics
            continue
        for node in tree.body if tree else []:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                exec(ast.unparse(node), namespace)
            elif (  # and its constants, such as SEED
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)
            ):
                exec(ast.unparse(node), namespace)
    if number == "7.1":  # the lesson reads it from the saved model's metadata, before the exercise
        from course_lib import models

        namespace["prep"] = models.preprocessing_for((28, 28, 1))
    if number == "2.3":  # the lesson writes its folder of PNG files before the exercise
        from course_lib import config, data

        fashion = data.load_fashion_mnist(subset=5)
        namespace["class_names"] = fashion.class_names
        namespace["folder"] = data.make_image_folder(  # the worker's build folder: removed at exit
            fashion, config.build_dir() / "judge-tests" / "fashion-png", per_class=5
        )
    if number == "8.4":  # the lesson loads Fashion-MNIST early on; the exercise's cell reads it
        from course_lib import data, models

        namespace["fashion"] = data.load_fashion_mnist()
        namespace["prep"] = models.preprocessing_for((28, 28, 1))
    if number == "7.2":  # loaded by the lesson before the exercise (the judge uses its own)
        from course_lib import data, models

        namespace["model"] = models.build_baseline_cnn()
        namespace["class_names"] = list(data.FASHION_MNIST_CLASSES)
        namespace["prep"] = models.preprocessing_for((28, 28, 1))
        namespace["__name__"] = "__main__"  # Flask(__name__) as in a notebook
    if number == "7.4":  # what the exercise's cell makes its batch from, and the lesson's server
        import io

        from PIL import Image

        def png_bytes(pixels):  # the lesson's
            out = io.BytesIO()
            Image.fromarray(pixels).save(out, "PNG")
            return out.getvalue()

        namespace["png_bytes"] = png_bytes
        namespace["x_test"] = np.arange(10 * 28 * 28, dtype=np.uint8).reshape(10, 28, 28)
        namespace["y_test"] = np.arange(10)
        namespace["server"] = object()  # the judge talks to a service of its own
    exec(solution_cells([number])[number], namespace)
    return namespace


def _check_expression(number):
    return exercises_key("one", [number]).exercises[0].check


# 8.1 trains under a MirroredStrategy of two logical CPUs, which this process does not have
# (TensorFlow fixes its devices when it starts): tests/test_grading_driven_lesson08_step.py
# judges its right and wrong answers in a process whose CPU is split in two.
NEEDS_TWO_DEVICES = {"8.1"}

# That the solution of every other two-phase exercise passes the judge under two salts (one
# above 2**32) is asserted by tests/test_checks_fresh_cases.py, which judges it under both.


@pytest.mark.parametrize("number", sorted(two_phase.TWO_PHASE - NEEDS_TWO_DEVICES))
def test_every_two_phase_exercise_fails_an_answer_that_raises_or_is_missing(tmp_path, number):
    namespace = _solution_namespace(number)
    names = judge.answer_names(_check_expression(number))
    for name in names:
        if callable(namespace.get(name)):
            namespace[name] = lambda *args: (_ for _ in ()).throw(ZeroDivisionError("student bug"))
    if not any(callable(namespace.get(name)) for name in names):  # the answer is a value
        namespace[names[0]] = None
    reply = judge.judge_locally(_check_expression(number), namespace, 5, str(tmp_path))
    assert reply["status"] == "failed", reply


@pytest.mark.usefixtures("library_copies_allowed")
@pytest.mark.parametrize(
    ("number", "answer", "message"),
    [
        (
            "4.4",
            lambda v, p: tuple(float(n) for n in checks.lesson04.keras_early_stopping(list(v), p)),
            "the epochs are right, but you return floats",
        ),
        (
            "5.2",
            lambda cm, k, factor: float(cm[k, k] / cm[:, k].sum()),
            "as if factor were 1",
        ),
    ],
)
def test_low_findings_get_the_notebook_message_in_two_phases(tmp_path, number, answer, message):
    expression = _check_expression(number)
    (name,) = judge.answer_names(expression)
    _fails_as_in_the_notebook(tmp_path, expression, name, answer, message, 21)


def _one_image_per_request(post, images, max_instances):
    rows = []
    for start in range(len(images)):
        response = post({"instances": images[start : start + 1].tolist()})
        response.raise_for_status()
        rows += response.json()["predictions"]
    return np.asarray(rows, np.float32)


def _in_requests_of_100(post, images, max_instances):  # the limit of the first sets written in
    rows = []
    for start in range(0, len(images), 100):
        response = post({"instances": images[start : start + 100].tolist()})
        response.raise_for_status()
        rows += response.json()["predictions"]
    return np.asarray(rows, np.float32)


def _scale_as_text(low, high, dtype):
    info = np.iinfo(dtype)
    low, high = min(low, 0.0), max(high, 0.0)
    scale = (high - low) / (int(info.max) - int(info.min))
    return str(scale), int(info.min) - round(low / scale)


@pytest.mark.parametrize(
    ("number", "answer", "message"),
    [
        # which image shows it first depends on the limit drawn for the run
        ("7.3", _limit_on(_ONE_SIDE_LIMITS["height squared"]), "width × height"),
        ("7.3", _limit_on(_ONE_SIDE_LIMITS["tall images only"]), "width × height"),
        ("7.5", _reads_keys_of_anything, "null (None), your code raised TypeError"),
        ("7.5", _confidence_made_up, "A confidence the body does not hold is made up"),
        ("7.5", _lowest_score, "the lowest score"),
        ("7.5", _in_percent_everywhere, "you multiplied it by 100"),
        (
            "8.2",
            lambda a, i: {
                "cluster": {"worker": list(a), "ps": [a[0]]},
                "task": {"type": "worker", "index": i},
            },
            "ParameterServerStrategy",
        ),
        ("8.3", _one_image_per_request, "the task asks for as few requests as possible"),
        ("8.3", _in_requests_of_100, "with max_instances=64, a request carried 100 instances"),
        ("8.5", _scale_as_text, "the task asks for a float"),
        ("9.2", share_of(0), "the share of train, fractions[0]"),
    ],
)
def test_answers_students_wrote_that_passed_fail_in_two_phases_with_the_notebook_message(
    tmp_path, number, answer, message
):
    expression = _check_expression(number)
    (name,) = judge.answer_names(expression)
    _fails_as_in_the_notebook(tmp_path, expression, name, answer, message, 21)


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (_offset_added_first, "you added the offset before multiplying"),
        (lambda upload, prep: prepare_upload(upload, prep).tolist(), "is a Python list, not an"),
    ],
)
def test_7_1_an_upload_scaled_in_the_wrong_order_or_listed_gets_the_notebook_message(
    tmp_path, answer, words
):
    from course_lib import models

    namespace = {"prepare": answer, "prep": models.preprocessing_for((28, 28, 1))}
    reply = judge.judge_locally(_check_expression("7.1"), namespace, 21, str(tmp_path))
    assert reply["status"] == "failed" and words in reply["message"], reply
    with fresh_inputs(21):
        direct = checks.exercise_7_1(answer, namespace["prep"])
    assert reply["message"] == direct.message


def test_a_rounded_upload_is_refused_in_two_phases_with_the_notebook_message(tmp_path):
    from course_lib import models

    def rounded(upload, preprocessing):
        return np.round(prepare_upload(upload, preprocessing), 2)

    namespace = {"prepare": rounded, "prep": models.preprocessing_for((28, 28, 1))}
    reply = judge.judge_locally(_check_expression("7.1"), namespace, 21, str(tmp_path))
    assert reply["status"] == "failed", reply
    assert "your values are rounded to 2 decimal(s)" in reply["message"], reply
    with fresh_inputs(21):
        direct = checks.exercise_7_1(rounded, namespace["prep"])
    assert reply["message"] == direct.message


# -------------------------------------------------- models, exported as config and weights


def _expression(number):
    return f"checks.exercise_{number.replace('.', '_')}({', '.join(_NAMES[number])})"


_NAMES = {
    "2.4": ["augment"],
    "3.5": ["build_cnn"],
    "4.1": ["compile_for_one_hot_logits"],
    "4.3": ["build_better_cnn"],
    "6.4": ["build_transfer_model"],
    "6.5": ["unfreeze_top"],
    "5.6": ["grad_cam_heatmaps"],
    "9.3": ["build_images_in_model"],
}


def _lambda_cnn(input_shape, num_classes):
    import keras

    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Lambda(lambda x: x * 0 + 1),
            keras.layers.Flatten(),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )


def _own_layer_cnn(input_shape, num_classes):
    import keras

    class Doubling(keras.layers.Layer):  # a class of the student's own: the judge cannot rebuild it
        def call(self, x):
            return 2 * x

    return keras.Sequential(
        [
            keras.Input(input_shape),
            Doubling(),
            keras.layers.Flatten(),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )


@pytest.mark.parametrize(
    ("answer", "words"), [(_lambda_cnn, "Lambda"), (_own_layer_cnn, "Doubling")]
)
def test_a_model_with_code_of_its_own_is_not_rebuilt_in_the_judge(tmp_path, answer, words):
    reply = judge.judge_locally(
        "checks.exercise_3_5(build_cnn)", {"build_cnn": answer}, 3, str(tmp_path)
    )
    assert reply["status"] == "unsupported", reply
    assert "safe mode" in reply["message"] and words in reply["message"], reply


def test_an_exported_model_config_cannot_make_the_judge_import_or_run_anything(tmp_path):
    # A config that names a function outside Keras: safe mode and Keras's own lookup refuse it.
    folder = tmp_path / "values"
    folder.mkdir()
    witness = tmp_path / "ran"
    config = {
        "module": "os",
        "class_name": "system",
        "config": f"touch {witness}",
        "registered_name": None,
    }
    (folder / "m1.json").write_text(__import__("json").dumps(config))
    (folder / "m1.weights.h5").write_bytes(b"")
    (folder / "values.json").write_text(
        '{"verdicts": {"t": "model", "file": "m1"}, "best_epoch_a": {"t": "int", "v": "7"}}'
    )
    reply = judge.handle(
        {
            "root": str(tmp_path),
            "expression": "checks.exercise_4_2(verdicts, best_epoch_a)",
            "values": str(folder),
            "calls": [],
            "salt": 1,
            "next": str(tmp_path / "next"),
        }
    )
    assert reply["status"] in ("unsupported", "error") and not witness.exists(), reply


def _cnn_without_input(input_shape, num_classes):  # never uses input_shape: unbuilt
    import keras
    from keras import layers

    return keras.Sequential(
        [
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(8, 1, activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )


def _wrong_cnn(input_shape, num_classes):  # no pooling: a common first attempt
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.Conv2D(8, 1, activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )


def _compile_sparse(model):  # the loss for integer labels, on one-hot ones
    import keras

    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def _compile_categorical_string(model):  # the string cannot say from_logits=True
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])


def _compile_without_logits(model):
    import keras

    model.compile(
        optimizer="adam", loss=keras.losses.CategoricalCrossentropy(), metrics=["accuracy"]
    )


def _logits_loss():
    import keras

    return keras.losses.CategoricalCrossentropy(from_logits=True)


def _compile_with_a_schedule(model):
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.ExponentialDecay(1e-3, 100, 0.5)
        ),
        loss=_logits_loss(),
        metrics=["accuracy"],
    )


def _compile_metrics_by_position(model):
    model.compile("adam", _logits_loss(), ["accuracy"])


def _compile_at_a_rate_of_its_own(model):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=_logits_loss(), metrics=["accuracy"])


def _compile_a_clone(model):
    import keras

    clone = keras.models.clone_model(model)
    clone.compile(optimizer="adam", loss=_logits_loss(), metrics=["accuracy"])
    return clone


def _compile_with_binary_accuracy(model):
    import keras

    model.compile(optimizer="adam", loss=_logits_loss(), metrics=[keras.metrics.BinaryAccuracy()])


def _compile_with_sparse_accuracy(model):
    model.compile(optimizer="adam", loss=_logits_loss(), metrics=["sparse_categorical_accuracy"])


def _compile_smoothing_labels(model):
    import keras

    loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])


def _grad_cam_relu_last(grad_model, images, class_index):
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    with tf.GradientTape() as tape:
        maps, logits = grad_model(images, training=False)
        scores = tf.gather(
            logits, tf.convert_to_tensor(class_index, tf.int32), axis=1, batch_dims=1
        )
    w = tf.reduce_mean(tape.gradient(scores, maps), axis=(1, 2))
    cam = tf.einsum("nhwk,nk->nhw", maps, w)
    cam = cam / (tf.reduce_max(cam, axis=(1, 2), keepdims=True) + 1e-8)
    return tf.nn.relu(cam).numpy()


def _unfreeze_everything(backbone, first_layer):
    backbone.trainable = True


def _transfer_not_frozen(backbone, num_classes):
    import keras

    inputs = keras.Input(backbone.input_shape[1:])
    outputs = keras.layers.Dense(num_classes, activation="softmax")(backbone(inputs))
    return keras.Model(inputs, outputs)


def _grad_cam_without_relu(grad_model, images, class_index):
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    with tf.GradientTape() as tape:
        maps, logits = grad_model(images, training=False)
        scores = tf.gather(
            logits, tf.convert_to_tensor(class_index, tf.int32), axis=1, batch_dims=1
        )
    weights = tf.reduce_mean(tape.gradient(scores, maps), axis=(1, 2))
    cam = tf.einsum("nhwk,nk->nhw", maps, weights).numpy()
    peak = np.abs(cam).max(axis=(1, 2), keepdims=True)
    return np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0)


def _augment_upside_down():
    import keras

    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal"),
            keras.layers.RandomRotation(0.5),
            keras.layers.RandomBrightness(0.1, value_range=(0, 1)),
        ]
    )


@pytest.mark.parametrize("called_before", [False, True])
def test_an_augmentation_travels_as_a_model_whether_or_not_it_was_called(tmp_path, called_before):
    """A Sequential never called has no weights yet: its config is the whole answer."""
    import keras

    augment = keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=1),
            keras.layers.RandomZoom(0.1, seed=2),
            keras.layers.RandomBrightness(0.1, value_range=(0, 1), seed=3),
        ]
    )
    if called_before:
        augment(np.zeros((1, 28, 28, 1), np.float32), training=True)
    assert augment.built is called_before
    reply = judge.judge_locally(_expression("2.4"), {"augment": augment}, 4, str(tmp_path))
    assert reply["status"] == "passed", reply


def test_an_augmentation_that_turns_garments_upside_down_gets_the_notebook_message(tmp_path):
    reply = judge.judge_locally(
        _expression("2.4"), {"augment": _augment_upside_down()}, 21, str(tmp_path)
    )
    assert reply["status"] == "failed" and "upside down" in reply["message"], reply
    assert reply["message"] == checks.exercise_2_4(_augment_upside_down()).message


def test_an_augmentation_with_a_layer_that_changes_nothing_gets_the_notebook_message(tmp_path):
    import keras

    def idle():  # a student's: only the flip changes the images
        return keras.Sequential(
            [
                keras.layers.RandomFlip("horizontal"),
                keras.layers.RandomRotation(0.0),
                keras.layers.RandomBrightness(0.0, value_range=(0, 1)),
            ]
        )

    reply = judge.judge_locally(_expression("2.4"), {"augment": idle()}, 21, str(tmp_path))
    assert reply["status"] == "failed", reply
    assert "your RandomRotation never changes an image" in reply["message"], reply
    assert reply["message"] == checks.exercise_2_4(idle()).message


def test_a_built_model_exported_without_its_weights_is_not_judged(tmp_path):
    """Only a model never called may come as a config alone: a built one needs its weights."""
    from course_lib.tools.grading import kernel_encode

    augment = _augment_upside_down()
    augment(np.zeros((1, 28, 28, 1), np.float32), training=True)
    values = tmp_path / "values"
    kernel_encode.export_values({"names": ["augment"], "dir": str(values)}, {"augment": augment})
    (weights,) = values.glob("*.weights.h5")
    weights.unlink()
    reply = judge.handle(
        {
            "root": str(tmp_path),
            "expression": _expression("2.4"),
            "values": str(values),
            "calls": [],
            "salt": 1,
            "next": str(tmp_path / "next"),
        }
    )
    assert reply["status"] == "unsupported" and "could not be rebuilt" in reply["message"], reply


def test_an_augmentation_with_a_lambda_is_not_rebuilt_in_the_judge(tmp_path):
    import keras

    augment = keras.Sequential(
        [keras.layers.RandomFlip("horizontal"), keras.layers.Lambda(lambda x: x)]
    )
    reply = judge.judge_locally(_expression("2.4"), {"augment": augment}, 4, str(tmp_path))
    assert reply["status"] == "unsupported" and "Lambda" in reply["message"], reply


def _images_in_squashed(backbone, head, image_size):
    import keras

    inputs = keras.Input((None, None, 3), dtype="uint8")
    x = keras.layers.Resizing(image_size, image_size)(inputs)
    x = keras.layers.Rescaling(1 / 128, offset=-127 / 128)(x)
    return keras.Model(inputs, head(backbone(x, training=False)))


@pytest.mark.parametrize(
    ("number", "answer", "words"),
    [
        ("9.3", _images_in_squashed, "squashed to a square, not cropped"),
        ("9.3", with_input((None, None, 1)), "it declares 1 channel, and photos arrive in RGB"),
        ("9.3", with_input((None, None, 4)), "images of shape (None, 16, 16, 4), 4 channels"),
        ("9.3", rescaled_with((1 / 128, -127)), "offset=-127 counts in pixels"),
        ("9.3", rescaled_with((1 / 127, -1)), "your Rescaling layer computes x × 0.00787402 - 1"),
        ("9.3", without_a_resize, "your model has no Resizing layer"),
        ("3.5", _wrong_cnn, "MaxPooling"),
        ("3.5", _cnn_without_input, "your model does not know its input shape yet"),
        ("4.1", _compile_sparse, "sparse_categorical_crossentropy takes integer labels"),
        ("4.1", _compile_categorical_string, "the string 'categorical_crossentropy' gives"),
        ("4.1", _compile_without_logits, "has from_logits=False (the default)"),
        ("4.1", _compile_at_a_rate_of_its_own, "Adam's learning rate is 0.01"),
        ("4.1", _compile_a_clone, "Compile the model given, in place"),
        ("4.1", _compile_with_a_schedule, "a schedule (ExponentialDecay, starting at 0.001)"),
        ("4.1", _compile_metrics_by_position, "went to loss_weights"),
        ("4.1", _compile_with_binary_accuracy, "binary_accuracy is the accuracy of yes/no"),
        ("4.1", _compile_with_sparse_accuracy, "sparse_categorical_accuracy compares"),
        ("4.1", _compile_smoothing_labels, "the loss is set to label_smoothing=0.1"),
        ("5.6", _grad_cam_relu_last, "you divided by the maximum before the ReLU"),
        ("6.5", _unfreeze_everything, "keep the layers before"),
        ("6.4", _transfer_not_frozen, "backbone.trainable = False"),
        ("5.6", _grad_cam_without_relu, "negative values"),
        (
            "4.3",
            _better_cnn_with(first_conv=_l2_on_the_first_conv),
            "layer 1, a Conv2D, has kernel_regularizer=L2(l2=0.01), which the task does not set",
        ),
    ],
)
def test_a_wrong_model_answer_gets_the_notebook_check_message_from_the_judge(
    tmp_path, number, answer, words
):
    expression = _expression(number)
    _fails_as_in_the_notebook(tmp_path, expression, _NAMES[number][0], answer, words, 21)


def _nested_head_without_dropout(backbone, num_classes):
    import keras

    backbone.trainable = False
    inputs = keras.Input(backbone.input_shape[1:])
    head = keras.Sequential([keras.layers.Dense(num_classes, activation="softmax")])
    return keras.Model(inputs, head(backbone(inputs, training=False)))


def test_a_head_written_as_a_nested_model_is_judged_inside_when_rebuilt(tmp_path):
    reply = judge.judge_locally(
        _expression("6.4"), {"build_transfer_model": nested_head}, 21, str(tmp_path / "right")
    )
    assert reply["status"] == "passed", reply
    wrong = judge.judge_locally(
        _expression("6.4"),
        {"build_transfer_model": _nested_head_without_dropout},
        21,
        str(tmp_path / "wrong"),
    )
    assert wrong["status"] == "failed" and "your model has no Dropout" in wrong["message"], wrong
    with fresh_inputs(21):
        assert wrong["message"] == checks.exercise_6_4(_nested_head_without_dropout).message


_LESSON_06 = {
    "6.2": ("checks.exercise_6_2(prepare)", "prepare"),
    "6.3": ("checks.exercise_6_3(classify_file)", "classify_file"),
    "6.4": ("checks.exercise_6_4(build_transfer_model)", "build_transfer_model"),
    "6.5": ("checks.exercise_6_5(unfreeze_top)", "unfreeze_top"),
    "6.6": ("checks.exercise_6_6(keep_fine_tuned)", "keep_fine_tuned"),
}


def _is_batch_norm(layer):
    import keras

    return isinstance(layer, keras.layers.BatchNormalization)


@pytest.mark.parametrize(
    ("number", "answer", "words"),
    [
        ("6.2", lambda im: np.squeeze(_scaled(_resize(im))), "for a batch of one image"),
        ("6.2", _only_for(_one_image, _with_value(np.nan)), "of one 260x180 photo are NaN"),
        ("6.2", lambda im: _scaled(_resize(im, "mitchellcubic")), "a Mitchell-cubic resize"),
        ("6.2", lambda im: _scaled(_resize(im).astype("float64")), "dtype is float64"),
        ("6.2", lambda im: (_resize(im) - 127) / 127, "your values follow (x - 127) / 127"),
        ("6.3", _classify_returning(lambda i, name, p: (str(i), name, p)), "one is a str"),
        ("6.3", _classify_returning(lambda i, name, p: (i, name, 100 * p)), "percentages"),
        (
            "6.3",
            lambda path, backbone, names, k: _classify()(path, backbone, names, k)[0],
            "you returned one prediction",
        ),
        ("6.4", _unfrozen_again(_is_batch_norm), "BatchNormalization layers inside it"),
        ("6.4", lambda backbone, n: (nested_head(backbone, n), backbone), "a tuple of 2 items"),
        ("6.5", _unfreeze_from(-1), "block14_add (no weights) should stay frozen"),
        ("6.5", _unfreeze_from(1), "block15_expand_conv itself is still frozen"),
        ("6.6", _keep_on_accuracy_gap(0.05), "your decision does not follow p"),
    ],
)
def test_lesson_06_wrong_answers_get_the_notebook_message_from_the_judge(
    tmp_path, number, answer, words
):
    expression, name = _LESSON_06[number]
    _fails_as_in_the_notebook(tmp_path, expression, name, answer, words, 21)


@pytest.mark.parametrize(
    ("number", "answer"),
    [
        ("6.2", lambda im: _scaled(_resize(im))),
        ("6.3", _classify_with_tensors),  # 0-d tensors as indices, sent back as tensors
        ("6.5", _unfreeze_until_break),
    ],
)
def test_lesson_06_right_answers_pass_in_the_judge_on_fresh_test_data(tmp_path, number, answer):
    expression, name = _LESSON_06[number]
    reply = judge.judge_locally(expression, {name: answer}, 21, str(tmp_path))
    assert reply["status"] == "passed", reply


# ---------------------------------------------------------------- lesson 09's photos and split


def _upright_keeping_alpha(image):
    from PIL import ImageOps

    return ImageOps.exif_transpose(image)


def _upright_in_place_if_rgb(image):  # the image it was given, when that is already right
    return image if image.mode == "RGB" and not image.getexif() else upright_by_hand(image)


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (lambda image: image.convert("RGB"), "comes out sideways"),
        (_upright_keeping_alpha, "in mode 'RGBA'"),
        (lambda image: np.asarray(upright_by_hand(image), np.float32) / 255, "float32 array"),
        (
            lambda image: upright_by_hand(image) if image.mode != "P" else image.convert("RGB"),
            "a palette image keeps its transparency",
        ),
        (whitened_where(lambda alpha: alpha < 255), "half-transparent pixels came out pure white"),
    ],
)
def test_a_wrong_photo_reading_gets_the_notebook_check_message_from_the_judge(
    tmp_path, answer, words
):
    reply = judge.judge_locally(
        "checks.exercise_9_1(upright_rgb)", {"upright_rgb": answer}, 21, str(tmp_path)
    )
    assert reply["status"] == "failed" and words in reply["message"], reply
    with fresh_inputs(21):
        assert reply["message"] == checks.exercise_9_1(answer).message


@pytest.mark.parametrize("answer", [upright_by_hand, _upright_in_place_if_rgb])
def test_photos_travel_to_the_kernel_as_their_files_and_back_as_pixels(tmp_path, answer):
    reply = judge.judge_locally(
        "checks.exercise_9_1(upright_rgb)", {"upright_rgb": answer}, 8, str(tmp_path)
    )
    assert reply["status"] == "passed", reply


def test_an_image_file_from_the_kernel_is_never_opened_in_the_judge(tmp_path):
    import base64
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (3, 2), "red").save(out, "PNG")
    tree = {"t": "image_file", "v": base64.b64encode(out.getvalue()).decode("ascii")}
    decoded = judge_decode.decode(tree, str(tmp_path))
    assert isinstance(decoded, judge_decode.SentFile) and not isinstance(decoded, Image.Image)
    assert checks.exercise_9_1(lambda image: decoded).passed is False


def test_photo_readings_written_for_the_published_pixels_fail_when_graded(tmp_path):
    table = {}

    def recording(image):
        table[np.asarray(image).tobytes()] = upright_by_hand(image)
        return table[np.asarray(image).tobytes()]

    assert checks.exercise_9_1(recording).passed

    def written_out(image):  # the published files' outputs, looked up by their pixels
        return table.get(np.asarray(image).tobytes(), image.convert("RGB"))

    assert checks.exercise_9_1(written_out).passed
    reply = judge.judge_locally(
        "checks.exercise_9_1(upright_rgb)", {"upright_rgb": written_out}, 2, str(tmp_path)
    )
    assert reply["status"] == "failed", reply


_CALLS = itertools.count(1000)


def _split_unseeded(files, labels, fractions, seed):
    # Ignores its seed: a new shuffle on every call. Drawn from a counter rather than at
    # random, so that two calls never happen to share a shuffle and the check (here and in
    # the judge) always meets the same mistake.
    from course_lib import photos

    return photos.split_files(files, labels, fractions, next(_CALLS))


def _split_truncating(files, labels, fractions, seed):
    rng = np.random.default_rng(seed)
    out = ([], [], [])
    for label in sorted(set(labels)):
        mine = [files[i] for i, lab in enumerate(labels) if lab == label]
        mine = [mine[i] for i in rng.permutation(len(mine))]
        n_val, n_test = (int(len(mine) * f) for f in fractions[1:])
        out[1].extend(mine[:n_val])
        out[2].extend(mine[n_val : n_val + n_test])
        out[0].extend(mine[n_val + n_test :])
    return out


def _split_ignoring_fractions(files, labels, fractions, seed):  # 0.15 written in
    from course_lib import photos

    return photos.split_files(files, labels, (0.7, 0.15, 0.15), seed)


@pytest.mark.usefixtures("library_copies_allowed")
@pytest.mark.parametrize(
    ("answer", "words"),
    [
        # The judge answers each distinct call once: the repeated call must differ in form.
        (_split_unseeded, "two calls with seed=0 gave different splits"),
        (_split_truncating, "which int() and // cut down to 0"),
        (_split_ignoring_fractions, "take the shares from the `fractions` argument"),
    ],
)
def test_a_wrong_split_gets_the_notebook_check_message_from_the_judge(tmp_path, answer, words):
    reply = judge.judge_locally(
        "checks.exercise_9_2(split_files)", {"split_files": answer}, 21, str(tmp_path)
    )
    assert reply["status"] == "failed" and words in reply["message"], reply
    with fresh_inputs(21):
        assert reply["message"] == checks.exercise_9_2(answer).message


@pytest.mark.usefixtures("library_copies_allowed")
def test_splits_written_for_the_published_file_names_pass_in_the_notebook_and_fail_when_graded(
    tmp_path,
):
    from course_lib import photos

    table = {}

    def recording(files, labels, fractions, seed):
        table[seed, tuple(fractions)] = photos.split_files(files, labels, fractions, seed)
        return table[seed, tuple(fractions)]

    assert checks.exercise_9_2(recording).passed

    def written_out(files, labels, fractions, seed):  # the published splits, by seed and shares
        return table[seed, tuple(fractions)]

    assert checks.exercise_9_2(written_out).passed
    failed = [
        judge.judge_locally(
            "checks.exercise_9_2(split_files)",
            {"split_files": written_out},
            salt,
            str(tmp_path / str(salt)),
        )
        for salt in (1, 2)
    ]
    assert [r["status"] for r in failed] == ["failed"] * 2, failed


# ---------------------------------------------------------------- tables salted for the grading run


def _published_tf_config(addresses, index):  # the lesson's check addresses, written in by hand
    if not 0 <= index < 3:
        raise ValueError(f"no worker {index}")
    for address in addresses:  # the refusals, as the exercise asks
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"{address!r} is not host:port")
    return {
        "cluster": {"worker": ["127.0.0.1:23456", "127.0.0.1:23457", "10.0.0.7:2222"]},
        "task": {"type": "worker", "index": index},
    }


_PUBLISHED_TOP = {
    "the course service": ("Sneaker", 0.91),
    "responses": ("Cat", 0.97),
    "Labels": ("Cat", 0.974),
    "Labels under 1 %": ("Fog", 0.0087),
    "tagsResult": ("cat", 0.99),
    "list": ("tabby, tabby cat", 0.58),
}


def _published_top_label(
    body,
):  # the expected answers of the lesson's check, looked up by the body's shape
    if isinstance(body, list):
        if not body or not all(isinstance(entry, dict) and "score" in entry for entry in body):
            raise ValueError("unknown")  # a list of other entries: no shape of the five
        return _PUBLISHED_TOP["list"]
    if not isinstance(body, dict):
        raise ValueError("unknown")
    if any(label["Name"] == "Fog" for label in body.get("Labels", [])):
        return _PUBLISHED_TOP["Labels under 1 %"]
    for key in ("responses", "Labels", "tagsResult"):
        if key in body:
            return _PUBLISHED_TOP[key]
    if "top_k" in body:
        return _PUBLISHED_TOP["the course service"]
    raise ValueError("unknown")


def _published_quantization(low, high, dtype):
    from course_lib.checks import lesson08

    table = {
        (lo, hi, np.dtype(d).name): lesson08._quantization(lo, hi, d)
        for lo, hi, d in lesson08.QUANTIZATION_CASES
    }
    return table.get((low, high, np.dtype(dtype).name), (1.0, 0))


def _upload_checked_against_10_000(data, max_pixels):  # ignores the limit it is given
    import io

    from PIL import Image

    if not data:
        return "empty"
    try:
        image = Image.open(io.BytesIO(data))
        if image.size[0] * image.size[1] > 10_000:
            return "too big"
        image.load()
    except Exception as exc:
        return str(exc) or "unreadable"
    return None


@pytest.mark.usefixtures("library_copies_allowed")
@pytest.mark.parametrize(
    ("expression", "name", "answer"),
    [
        ("checks.exercise_8_2(make_tf_config)", "make_tf_config", _published_tf_config),
        ("checks.exercise_7_5(top_label)", "top_label", _published_top_label),
        (
            "checks.exercise_8_5(choose_quantization)",
            "choose_quantization",
            _published_quantization,
        ),
        ("checks.exercise_7_3(check_upload)", "check_upload", _upload_checked_against_10_000),
    ],
)
def test_answers_written_for_the_published_tables_pass_in_the_notebook_and_fail_when_graded(
    tmp_path, expression, name, answer
):
    assert eval(expression, {"checks": checks, name: answer}).passed
    failed = [
        judge.judge_locally(expression, {name: answer}, salt, str(tmp_path / str(salt)))["status"]
        for salt in (1, 2, 3)
    ]
    assert failed == ["failed"] * 3, failed


# ------------------------------------------------- the course's own copy of an exercise


@pytest.mark.parametrize(
    ("number", "name", "answer", "words"),
    [
        ("4.3", "build_better_cnn", "models.build_better_cnn", "models.build_better_cnn"),
        ("9.1", "upright_rgb", "lambda image: photos.upright_rgb(image)", "photos.upright_rgb"),
        (
            "4.4",
            "early_stopping_epochs",
            "lambda v, p: checks.lesson04.keras_early_stopping(v, p)",
            "part of the check",
        ),
        (  # a copy the exercise does not allow: that of the exercise it answers is named
            "3.3",
            "convolve_channels",
            "lambda im, k: images.same_padding(3, 3, 1) and np.stack([sum("
            "images.convolve2d(im[..., c], k[:, :, c, m]) for c in range(im.shape[-1])) "
            "for m in range(k.shape[-1])], axis=-1)",
            "the course's own copy of exercise 3.4",
        ),
    ],
)
def test_the_library_s_copy_or_the_check_s_code_is_refused_by_the_judge_as_in_the_notebook(
    tmp_path, number, name, answer, words
):
    from course_lib import images, models, photos

    names = {"models": models, "photos": photos, "checks": checks, "images": images, "np": np}
    handed = eval(answer, names)  # noqa: S307  (the test's own expressions)
    expression = f"checks.exercise_{number.replace('.', '_')}({name})"
    reply = judge.judge_locally(expression, {name: handed}, 22, str(tmp_path))
    assert reply["status"] == "failed" and words in reply["message"], reply
    with fresh_inputs(22):
        direct = getattr(checks, f"exercise_{number.replace('.', '_')}")(handed)
    assert reply["message"] == direct.message


def test_the_copy_an_exercise_may_call_passes_in_the_judge_as_in_the_notebook(tmp_path):
    # A student's 3.3: exercise 3.1's copy summed over the channels, as the lesson does it
    from course_lib import images

    def convolve_channels(image, kernel):
        return np.stack(
            [
                sum(
                    images.convolve2d(image[..., c], kernel[:, :, c, m])
                    for c in range(image.shape[-1])
                )
                for m in range(kernel.shape[-1])
            ],
            axis=-1,
        )

    expression = "checks.exercise_3_3(convolve_channels)"
    reply = judge.judge_locally(
        expression, {"convolve_channels": convolve_channels}, 22, str(tmp_path)
    )
    assert reply["status"] == "passed", reply
    reply = judge.judge_locally(
        "checks.exercise_3_1(convolve_valid)",
        {"convolve_valid": images.convolve2d},
        22,
        str(tmp_path / "3.1"),
    )
    assert (
        reply["status"] == "failed" and "the course's own copy of this exercise" in reply["message"]
    )
