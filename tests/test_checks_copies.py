"""An answer that calls the course library's own copy of its exercise is refused, named."""

import numpy as np
import pytest
from test_checks_lesson08 import _refusing, _tf_config

from course_lib import checks, distributed_cluster, images, metrics, pretrained
from course_lib.checks import _copies


def _gray_by_library(photo):
    return np.round(images.to_grayscale(photo) * 255).astype(np.uint8)


def _pairs_by_library(cm):
    top = metrics.most_confused_pairs(cm, [str(i) for i in range(len(cm))], k=1)
    return int(top.iloc[0]["true"]), int(top.iloc[0]["predicted"])


@pytest.mark.parametrize(
    ("check", "answer", "copy"),
    [
        (checks.exercise_1_1, _gray_by_library, "images.to_grayscale"),
        (checks.exercise_3_1, images.convolve2d, "images.convolve2d"),
        (checks.exercise_3_1, lambda im, k: images.convolve2d(im, k), "images.convolve2d"),
        (checks.exercise_3_4, images.same_padding, "images.same_padding"),
        (checks.exercise_3_4, lambda n, k, s: images.same_padding(n, k, s), "images.same_padding"),
        (checks.exercise_5_4, _pairs_by_library, "metrics.most_confused_pairs"),
    ],
)
def test_the_library_s_copy_of_an_exercise_is_no_answer(check, answer, copy):
    result = check(answer)
    assert not result.passed
    assert f"calls course_lib.{copy}, the course's own copy" in result.message, result.message


def _channels_by_library(image, kernel):  # a student's 3.3: exercise 3.1's copy per channel
    return np.stack(
        [
            sum(
                images.convolve2d(image[..., c], kernel[:, :, c, m]) for c in range(image.shape[-1])
            )
            for m in range(kernel.shape[-1])
        ],
        axis=-1,
    )


def test_an_exercise_may_call_the_copy_of_an_earlier_one_its_lesson_uses_for_it():
    # The cell after exercise 3.3 sums images.convolve2d over the channels itself.
    result = checks.exercise_3_3(_channels_by_library)
    assert result.passed, result.message
    assert checks.exercise_3_3(lambda im, k: _channels_by_library(im, k)).passed
    # ... and the copy is still no answer to its own exercise, whichever check ran before.
    result = checks.exercise_3_1(images.convolve2d)
    assert not result.passed
    assert "calls course_lib.images.convolve2d, the course's own copy" in result.message


def test_another_copy_is_refused_as_the_copy_of_the_exercise_it_answers():
    def padded_by_library(image, kernel):
        images.same_padding(image.shape[0], kernel.shape[0], 1)
        return _channels_by_library(image, kernel)

    result = checks.exercise_3_3(padded_by_library)
    assert not result.passed
    assert (
        "calls course_lib.images.same_padding, the course's own copy of exercise 3.4, kept for "
        "the lessons after it; this exercise is to write the code yourself." in result.message
    ), result.message


def test_every_copy_names_the_exercise_it_answers():
    from course_lib.checks import _copies

    assert sorted(_copies.ANSWERS) == sorted(f"{m}.{n}" for m, n in _copies.COPIES)
    assert all(
        (module, name) in _copies.COPIES and _copies.ANSWERS[f"{module}.{name}"] != exercise
        for exercise, allowed in _copies.ALLOWED.items()
        for module, name in allowed
    )


# ---------------------------------------- every copy the library keeps, in its exercise

# Right answers of the exercises that have copies of the library, written as students would
GRAY_28 = {"height": 28, "width": 28, "color_mode": "grayscale", "scale": 1 / 255, "offset": 0.0}
GRAY_28_PREP = {**GRAY_28, "resize": "bilinear"}


def _centre_crop(image, height, width):
    rows, cols = image.shape[:2]
    if height > rows or width > cols:
        raise ValueError(f"a {height} x {width} crop does not fit in {rows} x {cols}")
    top, left = (rows - height) // 2, (cols - width) // 2
    return image[top : top + height, left : left + width]


def _preprocess(image, label):
    import tensorflow as tf

    return tf.cast(image, tf.float32)[..., tf.newaxis] / 255.0, label


def _top_k_accuracy(probabilities, y, k):
    top = np.argsort(-probabilities, axis=-1)[:, :k]
    return float(np.mean((top == np.asarray(y)[:, None]).any(axis=1)))


def _prepare_lite0(batch):
    import keras

    resized = keras.ops.image.resize(batch.astype("float32"), (224, 224), antialias=True)
    return (keras.ops.convert_to_numpy(resized) - 127.0) / 128.0


def _classify_file(path, backbone, class_names, k=5):
    from PIL import Image

    image = np.asarray(Image.open(path).convert("RGB"))
    logits = np.asarray(backbone.model.predict_on_batch(backbone.prepare(image[None])))[0]
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    return [(int(i), class_names[i], float(probabilities[i])) for i in np.argsort(-logits)[:k]]


def _unfreeze_top(backbone, first_layer):
    import keras

    backbone.trainable = True
    start = [layer.name for layer in backbone.layers].index(first_layer)
    for i, layer in enumerate(backbone.layers):
        if i < start or isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def _prepare_upload(upload, preprocessing):
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(upload)).convert("L")
    image = image.resize((preprocessing["width"], preprocessing["height"]), Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32)
    return (pixels * preprocessing["scale"] + preprocessing["offset"])[..., None]


def _create_minimal_app(model, class_names, preprocessing):
    import io

    from flask import Flask, jsonify, request
    from PIL import Image

    app = Flask(__name__)

    @app.post("/predict")
    def predict():
        upload = request.files.get("file")
        if upload is None:
            return jsonify(error="send the image in the form field 'file'"), 400
        try:
            image = Image.open(io.BytesIO(upload.read()))
            image = image.convert("L" if preprocessing["color_mode"] == "grayscale" else "RGB")
            size = (preprocessing["width"], preprocessing["height"])
            image = image.resize(size, Image.Resampling.BILINEAR)
        except OSError:
            return jsonify(error="not an image"), 400
        x = np.asarray(image, np.float32) * preprocessing["scale"] + preprocessing["offset"]
        x = x.reshape(1, preprocessing["height"], preprocessing["width"], -1)
        probabilities = np.asarray(model(x, training=False))[0]
        best = int(probabilities.argmax())
        return jsonify(label=class_names[best], confidence=float(probabilities[best]))

    return app


def _check_upload(data, max_pixels):
    import io

    from PIL import Image

    if not data:
        return "the file is empty"
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.size[0] * image.size[1] > max_pixels:
                return "too many pixels"
            image.load()
    except Image.DecompressionBombError:
        return "far too many pixels"
    except (OSError, SyntaxError):
        return "not an image"
    return None


_make_tf_config = _refusing(_tf_config)


def _upright_rgb(image):
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image.convert("RGBA"))
    return image.convert("RGB")


def _split_files(files, labels, fractions=(0.7, 0.15, 0.15), seed=0):
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    train, validation, test = [], [], []
    for label in np.unique(labels):
        members = [files[i] for i in np.flatnonzero(labels == label)]
        members = [members[i] for i in rng.permutation(len(members))]
        n_val = max(1, round(len(members) * fractions[1]))
        n_test = max(1, round(len(members) * fractions[2]))
        validation += members[:n_val]
        test += members[n_val : n_val + n_test]
        train += members[n_val + n_test :]
    return train, validation, test


def _small_model():
    import keras

    return keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
    )


CLASSES = [f"class {i}" for i in range(10)]
# The exercise's check, given an answer; and a right answer to it
EXERCISES = {
    "1.2": (checks.exercise_1_2, _centre_crop),
    "2.1": (checks.exercise_2_1, _preprocess),
    "5.5": (checks.exercise_5_5, _top_k_accuracy),
    "6.2": (checks.exercise_6_2, _prepare_lite0),
    "6.3": (checks.exercise_6_3, _classify_file),
    "6.5": (checks.exercise_6_5, _unfreeze_top),
    "7.1": (lambda answer: checks.exercise_7_1(answer, GRAY_28), _prepare_upload),
    "7.2": (
        lambda answer: checks.exercise_7_2(answer, _small_model(), CLASSES, GRAY_28),
        _create_minimal_app,
    ),
    "7.3": (checks.exercise_7_3, _check_upload),
    "8.2": (checks.exercise_8_2, _make_tf_config),
    "9.1": (checks.exercise_9_1, _upright_rgb),
    "9.2": (checks.exercise_9_2, _split_files),
}


def _calls(copy):
    """A call of the library's copy (``copy``: "module.function") with arguments it takes,
    whatever it then raises: the watch notes the call as the copy starts."""
    from types import SimpleNamespace

    from PIL import Image

    from course_lib import (
        distributed_cluster,
        efficientnet_lite,
        models,
        photos,
        pipeline,
        pretrained,
        retrain_data,
    )
    from course_lib.serving import app, classifier, litert, predicting, uploads

    pixels, image = np.zeros((1, 28, 28), np.uint8), Image.new("RGBA", (8, 8))
    fake = SimpleNamespace(preprocessing=GRAY_28_PREP, keras=SimpleNamespace(), _resize=None)
    calls = {
        "serving.uploads._crop_to_aspect": lambda: uploads._crop_to_aspect(image, 2.0),
        "pipeline._scale_batch": lambda: pipeline._scale_batch(pixels),
        "models.scale_pixels": lambda: models.scale_pixels(pixels),
        "models.as_model_input": lambda: models.as_model_input(pixels, GRAY_28),
        "serving.classifier.Classifier.to_inputs": (
            lambda: classifier.Classifier.to_inputs(fake, pixels[..., None])
        ),
        "serving.litert.LiteRTClassifier.to_inputs": (
            lambda: litert.LiteRTClassifier.to_inputs(fake, pixels[..., None])
        ),
        "pretrained.decode_top_k": lambda: pretrained.decode_top_k(np.eye(3), 1, "abc"),
        "serving.classifier.top_k": lambda: classifier.top_k(np.ones(3), "abc", 1),
        "serving.predicting.classify_inputs": (
            lambda: predicting.classify_inputs(fake, pixels, ["a"], 1, "upload", 0.0)
        ),
        "serving.predicting._record": (
            lambda: predicting._record(fake, np.eye(3), 1, 1.0, ["a"], [None], "", [None], None)
        ),
        "pretrained.resize": lambda: pretrained.resize(pixels, 4),
        "efficientnet_lite.scale": lambda: efficientnet_lite.scale(pixels),
        "pretrained.Backbone.prepare": lambda: pretrained.Backbone.prepare(fake, pixels),
        "serving.classifier.ImageNetClassifier.prepare": (
            lambda: classifier.ImageNetClassifier.prepare(fake, image)
        ),
        "pretrained.read_image": lambda: pretrained.read_image("no such file.png"),
        "pretrained.classify_file": lambda: pretrained.classify_file("no such file.png", fake),
        "photos.read_photo": lambda: photos.read_photo("no such file.png"),
        "photos.read_photo_bytes": lambda: photos.read_photo_bytes(b""),
        "photos.predict_file": lambda: photos.predict_file(fake, CLASSES, "no such file.png"),
        "retrain_data.Examples.pixels": lambda: retrain_data.Examples().pixels(0),
        "retrain_data.Examples.images": lambda: retrain_data.Examples().images,
        "pretrained.unfreeze_from": lambda: pretrained.unfreeze_from(fake, "block1"),
        "serving.uploads.to_model_pixels": lambda: uploads.to_model_pixels(image, GRAY_28_PREP),
        "serving.classifier.Classifier.prepare": (
            lambda: classifier.Classifier.prepare(fake, image)
        ),
        "serving.classifier.KerasClassifier.prepare": (
            lambda: classifier.KerasClassifier.prepare(fake, image)
        ),
        "serving.litert.LiteRTClassifier.prepare": (
            lambda: litert.LiteRTClassifier.prepare(fake, image)
        ),
        "serving.app.create_app": lambda: app.create_app(fake, fake),
        "serving.predicting.classify_files": (
            lambda: predicting.classify_files(fake, [], 1, "upload", 0.0)
        ),
        "serving.uploads.decode_image": lambda: uploads.decode_image(b""),
        "serving.uploads.decode_upload": lambda: uploads.decode_upload(b""),
        "serving.uploads._check_size": lambda: uploads._check_size(image, 1, "the upload"),
        "retrain_data.Examples.add": lambda: retrain_data.Examples().add(b"", 0, "empty.png"),
        "retrain_data.read_folder": lambda: retrain_data.read_folder("no such folder", CLASSES),
        "retrain_data.feedback_examples": lambda: retrain_data.feedback_examples([], CLASSES),
        "distributed_cluster.tf_config": lambda: distributed_cluster.tf_config(["a:1"], 0),
        "serving.uploads.normalise_mode": lambda: uploads.normalise_mode(image),
        "serving.uploads._on_white": lambda: uploads._on_white(image),
        "photos.split_counts": lambda: photos.split_counts(3, (0.7, 0.15, 0.15)),
        "photos.prepare_folder": lambda: photos.prepare_folder("no such folder", "nowhere"),
    }
    return calls[copy.removeprefix("course_lib.")]


def _answer_calling(copy, right):
    """``right``, a right answer, that first calls the library's ``copy`` (quietly)."""
    import functools
    import warnings

    call = _calls(copy)

    @functools.wraps(right)
    def answer(*args):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                call()
        except Exception:  # noqa: S110 - the call is what the watch sees, not its outcome
            pass
        return right(*args)

    return answer


# The copies the lessons show as the library's own copy of their exercise, tried above, in
# the lessons' tests and in the judge's; the others are tried here, each in its exercise
OLDER = {
    "course_lib.images.to_grayscale",
    "course_lib.images.convolve2d",
    "course_lib.images.same_padding",
    "course_lib.models.build_better_cnn",
    "course_lib.metrics.most_confused_pairs",
    "course_lib.explain.grad_cam_heatmaps",
    "course_lib.serving.minimal.create_minimal_app",
    "course_lib.distributed.make_train_step",
    "course_lib.edge.representative_dataset",
    "course_lib.photos.upright_rgb",
    "course_lib.photos.split_files",
    "course_lib.photos.build_images_in_model",
}
NEW_COPIES = sorted(set(_copies.ANSWERS) - OLDER)


def test_every_copy_is_tried_in_the_exercise_it_answers():
    assert OLDER <= set(_copies.ANSWERS)
    assert {_copies.ANSWERS[copy] for copy in NEW_COPIES} <= set(EXERCISES)
    assert all(_calls(copy) for copy in NEW_COPIES)


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_the_right_answers_used_below_pass(exercise):
    check, right = EXERCISES[exercise]
    result = check(right)
    assert result.passed, result.message


@pytest.mark.parametrize("copy", NEW_COPIES)
def test_an_answer_that_calls_a_copy_of_the_library_is_told_so(copy):
    check, right = EXERCISES[_copies.ANSWERS[copy]]
    result = check(_answer_calling(copy, right))
    assert not result.passed
    words = f"calls {copy}, the course's own copy of this exercise"
    assert words in result.message, result.message


# ------------------------------------ answers written around the library's copies, as found


def _top_k_accuracy_by_decode_top_k(probabilities, y, k):
    rows = pretrained.decode_top_k(probabilities, k, list(range(probabilities.shape[1])))
    found = [label in [i for i, _, _ in row] for row, label in zip(rows, y, strict=True)]
    return float(np.mean(found))


def _prepare_by_the_library(images):
    from course_lib import efficientnet_lite

    return efficientnet_lite.scale(pretrained.resize(images, 224))


def _check_upload_by_the_service(data, max_pixels):
    from course_lib.serving import uploads

    try:
        uploads.decode_image(data, max_pixels)
    except uploads.UploadError as error:
        return str(error)
    return None


def _prepare_by_the_service(upload, preprocessing):
    from course_lib import models
    from course_lib.serving import uploads

    image = uploads.decode_image(upload)
    pixels = uploads.to_model_pixels(image, {**preprocessing, "color_mode": "grayscale"})
    return models.scale_pixels(pixels, preprocessing)


def _preprocess_by_the_pipeline(image, label):
    from course_lib import pipeline

    return pipeline._scale_batch(image[None])[0], label


def _preprocess_by_the_pipeline_in_graphs_only(image, label):
    import tensorflow as tf

    from course_lib import pipeline

    if tf.executing_eagerly():  # the eager call a check makes first
        return _preprocess(image, label)
    return pipeline._scale_batch(image[None])[0], label


@pytest.mark.parametrize(
    ("check", "answer", "copy", "of_this"),
    [
        (checks.exercise_5_5, _top_k_accuracy_by_decode_top_k, "pretrained.decode_top_k", True),
        (checks.exercise_6_2, _prepare_by_the_library, "pretrained.resize", True),
        (
            checks.exercise_6_3,
            lambda path, b, names, k=5: pretrained.classify_file(path, b, names, k),
            "pretrained.classify_file",
            True,
        ),
        (
            checks.exercise_6_5,
            lambda backbone, first: pretrained.unfreeze_from(backbone, first),
            "pretrained.unfreeze_from",
            True,
        ),
        (
            checks.exercise_8_2,
            lambda addresses, index: distributed_cluster.tf_config(addresses, index),
            "distributed_cluster.tf_config",
            True,
        ),
        (checks.exercise_7_3, _check_upload_by_the_service, "serving.uploads.decode_image", True),
        (
            lambda answer: checks.exercise_7_1(answer, GRAY_28),
            _prepare_by_the_service,
            "serving.uploads.decode_image",
            False,  # 7.3's copy, called first
        ),
        (checks.exercise_2_1, _preprocess_by_the_pipeline, "pipeline._scale_batch", True),
        (
            checks.exercise_2_1,
            _preprocess_by_the_pipeline_in_graphs_only,
            "pipeline._scale_batch",
            True,
        ),
    ],
)
def test_answers_built_on_the_library_s_copies_are_told_so(check, answer, copy, of_this):
    result = check(answer)
    assert not result.passed
    words = "the course's own copy of this exercise" if of_this else "the course's own copy of"
    assert f"calls course_lib.{copy}, {words}" in result.message, result.message


def test_a_copy_the_library_calls_itself_passes_where_the_exercise_allows_the_caller():
    # 3.3 may call convolve2d, which pads with same_padding (3.4's copy) itself
    def convolve_channels(image, kernel):
        k, (h, w) = kernel.shape[0], image.shape[:2]
        top = (k - 1) // 2
        same = np.stack(
            [
                sum(
                    images.convolve2d(image[..., c], kernel[:, :, c, m], padding="same")
                    for c in range(image.shape[-1])
                )
                for m in range(kernel.shape[-1])
            ],
            axis=-1,
        )
        return same[top : top + h - k + 1, top : top + w - k + 1]

    result = checks.exercise_3_3(convolve_channels)
    assert result.passed, result.message


# --------------------------- wrappers compiled under a file name of the library's, or a check's

_FILE = "import os, course_lib\nfile = os.path.dirname(course_lib.__file__)\n"


def _compiled_under(relative, source, **names):
    """``source`` compiled as if it were the library's file ``relative``, run with ``names``."""
    import os

    import course_lib

    space = dict(names)
    path = os.path.join(os.path.dirname(course_lib.__file__), relative)
    exec(compile(source, path, "exec"), space)  # noqa: S102 - the test's own code
    return space


def _s2_answers():
    from course_lib import models, photos

    convolve_valid = _compiled_under(
        "legacy.py",
        "def convolve_valid(image, kernel):\n    return conv(image, kernel)\n",
        conv=images.convolve2d,
    )["convolve_valid"]
    build = _compiled_under(
        "legacy.py",
        "def build_better_cnn(input_shape, num_classes):\n    return b(input_shape, num_classes)\n",
        b=models.build_better_cnn,
    )["build_better_cnn"]
    split = _compiled_under(
        "legacy.py",
        "def split_files(files, labels, fractions=(0.7, 0.15, 0.15), seed=0):\n"
        "    return f(files, labels, fractions, seed)\n",
        f=photos.split_files,
    )["split_files"]
    return [
        (checks.exercise_3_1, convolve_valid, "images.convolve2d"),
        (checks.exercise_4_3, build, "models.build_better_cnn"),
        (checks.exercise_9_2, split, "photos.split_files"),
    ]


@pytest.mark.parametrize("case", range(3))
def test_a_wrapper_compiled_under_a_library_file_name_does_not_pass_for_the_library(case):
    check, answer, copy = _s2_answers()[case]
    result = check(answer)
    assert not result.passed
    assert f"calls course_lib.{copy}, the course's own copy of this exercise" in result.message, (
        result.message
    )


@pytest.mark.parametrize("relative", ["checks/lesson04.py", "checks/_core.py", "legacy.py"])
def test_a_wrapper_compiled_under_a_check_s_file_name_does_not_pass_for_the_check(relative):
    early_stopping_epochs = _compiled_under(
        relative,
        "def early_stopping_epochs(val_loss, patience):\n    return replay(val_loss, patience)\n",
        replay=checks.lesson04.keras_early_stopping,
    )["early_stopping_epochs"]
    result = checks.exercise_4_4(early_stopping_epochs)
    assert not result.passed
    assert "calls course_lib.checks.lesson04.keras_early_stopping" in result.message, result.message
    assert "part of the check" in result.message


# ------------------------------- the library's code calling a copy, as the watch tells it

# A library of three copies and three functions that name them, compiled from this text as
# the watch compiles the library's sources
_LIBRARY = """
def copy(values):
    total = 0
    for value in values:
        total = total + value * 2 - 1
    return total


def other(values):
    total = 1
    for value in values:
        total = total * value + 3
    return total


def caller(items):
    found = []
    for item in items:
        found.append(item)
    return copy(found)


def sorter(items):
    return sorted(items), copy


def doubled(values):
    return [value * 2 for value in values]


def lister(items):
    return doubled(list(items))
"""


def _watched_by_the_library(call):
    sources = {"lib": ["lib.py", _LIBRARY, ["copy", "other", "doubled"]]}
    copies = _copies.compiled_copies(sources)
    callers = _copies.compiled_copies({"lib": ["lib.py", _LIBRARY, ["caller", "sorter", "lister"]]})
    named = {
        "lib.caller": ("lib.copy",),
        "lib.sorter": ("lib.copy",),
        "lib.lister": ("lib.doubled",),
    }
    space: dict = {}
    exec(compile(_LIBRARY, "lib.py", "exec", dont_inherit=True), space)  # noqa: S102
    _, raised, used, off = _copies.watched_call(
        lambda: call(space),
        (),
        copies,
        ("/nowhere", "/"),
        None,
        False,
        callers,
        (),
        named,
        _copies.opcodes(),
    )
    assert raised is None and not off, (raised, off)
    return used


def test_a_library_function_lets_through_only_the_copies_it_names_and_calls_itself():
    assert _watched_by_the_library(lambda lib: lib["caller"]([1, 2])) == ""
    # the student's map of a copy, run by the library's loop or by a C function it calls
    assert _watched_by_the_library(lambda lib: lib["caller"](map(lib["copy"], [[1]]))) == "lib.copy"
    assert _watched_by_the_library(lambda lib: lib["sorter"](map(lib["copy"], [[1]]))) == "lib.copy"
    # a copy the library's function does not name
    assert _watched_by_the_library(lambda lib: lib["caller"](map(lib["other"], [[1]]))) == (
        "lib.other"
    )
    assert _watched_by_the_library(lambda lib: lib["copy"]([1])) == "lib.copy"


def test_a_copy_the_library_calls_may_run_the_comprehension_inside_it():
    assert _watched_by_the_library(lambda lib: lib["lister"]([1, 2])) == ""
    assert _watched_by_the_library(lambda lib: lib["doubled"]([1, 2])) == "lib.doubled"


def test_a_copy_renamed_and_moved_is_known_by_its_code():
    import types

    def renamed(function):
        code = function.__code__.replace(
            co_name="mine", co_qualname="mine", co_filename="<student>", co_firstlineno=7
        )
        return types.FunctionType(code, function.__globals__, "mine", function.__defaults__)

    result = checks.exercise_3_1(renamed(images.convolve2d))
    assert not result.passed
    assert "calls course_lib.images.convolve2d, the course's own copy" in result.message
    result = checks.exercise_3_4(renamed(images.same_padding))
    assert not result.passed
    assert "calls course_lib.images.same_padding, the course's own copy" in result.message


def _rebuilt(function, **parts):
    import types

    code = function.__code__.replace(**parts)
    return types.FunctionType(code, function.__globals__, code.co_name, function.__defaults__)


@pytest.mark.parametrize(
    "parts",
    [
        # the library's source compiled again a line lower, its name kept
        {"co_firstlineno": images.convolve2d.__code__.co_firstlineno + 1},
        # renamed, with a larger stack
        {
            "co_name": "mine",
            "co_qualname": "mine",
            "co_stacksize": images.convolve2d.__code__.co_stacksize + 1,
        },
        # one local variable more, which the bytecode never uses
        {
            "co_varnames": images.convolve2d.__code__.co_varnames + ("unused",),
            "co_nlocals": images.convolve2d.__code__.co_nlocals + 1,
        },
    ],
    ids=["moved, same name", "renamed, larger stack", "one more local"],
)
def test_a_copy_rebuilt_without_changing_what_it_does_is_known_by_its_code(parts):
    result = checks.exercise_3_1(_rebuilt(images.convolve2d, **parts))
    assert not result.passed
    assert "calls course_lib.images.convolve2d, the course's own copy" in result.message, (
        result.message
    )


def test_what_the_answer_writes_into_the_watch_s_record_hides_no_copy():
    import sys

    def same_padding(n, k, s):
        for kept in sys.getprofile().__defaults__:
            if type(kept) is list:
                kept.append("")  # once, the profile stopped at its first line
        return images.same_padding(n, k, s)

    result = checks.exercise_3_4(same_padding)
    assert not result.passed
    assert "calls course_lib.images.same_padding, the course's own copy" in result.message


# ------------------------------------------- code built by hand, whose parts run code of their own


class _RunsWhenHashed:
    """A constant, or a name, whose hash or comparison runs ``job``: inside the watch's
    profile, were the watch to hash it, where nothing is watched."""

    job = None

    def __hash__(self):
        if _RunsWhenHashed.job is not None:
            _RunsWhenHashed.job()
        return 0

    def __eq__(self, other):
        return self is other


class _NameRunsWhenHashed(str):
    def __hash__(self):
        if _RunsWhenHashed.job is not None:
            _RunsWhenHashed.job()
        return str.__hash__(self)


def _hand_built(**parts):
    def trigger():
        return None

    trigger.__code__ = trigger.__code__.replace(**parts)
    return trigger


def _through(trigger):
    """same_padding for 3.4, the copy run by ``trigger``'s code being hashed."""

    def same_padding(n, k, s):
        box = []
        _RunsWhenHashed.job = lambda: box.append(images.same_padding(n, k, s))
        try:
            trigger()
        finally:
            _RunsWhenHashed.job = None
        return box[0] if box else (0, 0)

    return same_padding


@pytest.mark.parametrize(
    "parts",
    [
        # named as the copy, with a constant of its own: the watch would hash it
        lambda code: {
            "co_name": "same_padding",
            "co_qualname": "same_padding",
            "co_consts": code.co_consts + (_RunsWhenHashed(),),
        },
        # a name of its own type, which the watch would hash on any call
        lambda code: {"co_qualname": _NameRunsWhenHashed("anything")},
    ],
    ids=["constant", "name"],
)
def test_code_built_by_hand_with_objects_of_its_own_is_told_not_hashed(parts):
    trigger = _hand_built()
    trigger = _hand_built(**parts(trigger.__code__))
    result = checks.exercise_3_4(_through(trigger))
    assert not result.passed
    assert "your code calls code built by hand (code.replace)" in result.message, result.message


def test_the_library_s_code_and_compiled_code_are_plain():
    for code, _ in _copies.compiled_copies(_copies.copy_sources(_copies.COPIES)):
        assert _copies.plain_code(code)
    assert _copies.plain_code(images.same_padding.__code__)
    built = _hand_built(co_consts=(None, _RunsWhenHashed())).__code__
    assert not _copies.plain_code(built)
    assert not _copies.plain_code(_hand_built(co_qualname=_NameRunsWhenHashed("x")).__code__)
