"""Lesson 07 checks accept right answers written in different ways and name each common mistake."""

import io

import keras
import numpy as np
import pytest
import requests
from flask import Flask, abort, jsonify, request
from PIL import Image, UnidentifiedImageError
from serving_support import course_service_url
from solution_support import task_text

from course_lib import checks
from course_lib.serving import Classifier, create_minimal_app
from course_lib.serving.uploads import header_only_png

GRAY_28 = {
    "height": 28,
    "width": 28,
    "color_mode": "grayscale",
    "scale": 1 / 255,
    "offset": 0.0,
    "resize": "bilinear",
}
CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def _fails_with(result, phrase):
    assert not result.passed, result.message
    assert phrase in result.message, result.message
    return True


# ---------------------------------------------------------------- 7.1 prepare an upload


def _open(data):
    return Image.open(io.BytesIO(data))


def prepare(data, prep):
    image = _open(data).convert("L").resize((prep["width"], prep["height"]), Image.BILINEAR)
    return (np.asarray(image, dtype=np.float32) * prep["scale"] + prep["offset"])[..., None]


def _prepare_with_numpy_scaling(data, prep):
    size = (prep["width"], prep["height"])
    image = _open(data).convert("L").resize(size, resample=Image.Resampling.BILINEAR)
    pixels = np.array(image).astype("float32")
    return np.expand_dims(pixels * np.float32(prep["scale"]) + np.float32(prep["offset"]), -1)


def _prepare_with_keyword_arguments(upload, preprocessing):
    with Image.open(io.BytesIO(upload)) as image:
        gray = image.convert(mode="L")
    gray = gray.resize(
        size=(int(preprocessing["width"]), int(preprocessing["height"])),
        resample=Image.Resampling.BILINEAR,
    )
    x = np.asarray(gray, dtype=np.float64) * preprocessing["scale"] + preprocessing["offset"]
    return x.astype(np.float32).reshape(preprocessing["height"], preprocessing["width"], 1)


def _prepare_dividing_in_float64(upload, preprocessing):
    """Right, written differently: float64 arithmetic, a division, then float32 at the end."""
    image = _open(upload).convert("L")
    image = image.resize((preprocessing["width"], preprocessing["height"]), Image.BILINEAR)
    pixels = np.array(image, dtype=np.float64)[:, :, np.newaxis]
    return (pixels / (1 / preprocessing["scale"]) + preprocessing["offset"]).astype("float32")


def _prepare_with_the_library_scaling(upload, preprocessing):
    from course_lib import models

    image = _open(upload).convert("L")
    image = image.resize((preprocessing["width"], preprocessing["height"]), Image.BILINEAR)
    return models.scale_pixels(np.asarray(image)[..., None], preprocessing)


@pytest.mark.parametrize(
    "answer",
    [
        prepare,
        _prepare_with_numpy_scaling,
        _prepare_with_keyword_arguments,
        _prepare_dividing_in_float64,
        _prepare_with_the_library_scaling,
    ],
)
def test_7_1_accepts_the_record_read_however_written(answer):
    result = checks.exercise_7_1(answer, GRAY_28)
    assert result.passed, result.message
    assert "exactly the input the record describes" in result.message


def _default_filter(upload, prep):
    image = Image.open(io.BytesIO(upload)).convert("L").resize((prep["width"], prep["height"]))
    return (np.asarray(image, dtype=np.float32) * prep["scale"] + prep["offset"])[..., None]


def _filter(method):
    def prepare_with(upload, prep):
        image = _open(upload).convert("L").resize((prep["width"], prep["height"]), method)
        return (np.asarray(image, dtype=np.float32) * prep["scale"] + prep["offset"])[..., None]

    return prepare_with


def _typed_in_scale(upload, prep):  # a student's: the size read, the scale typed in
    image = _open(upload).convert("L").resize((prep["width"], prep["height"]), Image.BILINEAR)
    return (np.asarray(image, np.float32) / 255.0)[..., None]


def _typed_in_size(upload, prep):
    image = _open(upload).convert("L").resize((28, 28), Image.BILINEAR)
    return (np.asarray(image, np.float32) * prep["scale"] + prep["offset"])[..., None]


def _resize_before_convert(upload, prep):  # a student's second answer
    image = _open(upload).resize((prep["width"], prep["height"]), Image.BILINEAR).convert("L")
    return (np.asarray(image, np.float32) * prep["scale"] + prep["offset"])[..., None]


def _prepare_without_the_record(upload):  # the exercise as it was first written
    return prepare(upload, GRAY_28)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda d, p: prepare(d, p) * 255, "scale them as in training"),
        (lambda d, p: prepare(d, p).astype(np.uint8), "a cast to integers cuts them"),
        (lambda d, p: prepare(d, p)[..., 0], "add the channel axis"),
        (lambda d, p: prepare(d, p)[None], "return one image"),
        (lambda d, p: np.repeat(prepare(d, p), 3, axis=-1), "convert the image to grayscale"),
        (lambda d, p: 1.0 - prepare(d, p), "inverted"),
        (
            lambda d, p: (np.asarray(_open(d).convert("L"), dtype=np.float32) / 255)[..., None],
            "resize it to 28×28",
        ),
        (_filter(Image.Resampling.NEAREST), "nearest-neighbour; the model's preprocessing"),
        (lambda d, p: prepare(d, p).astype(np.float64), "float32"),
        (lambda d, p: prepare(d, p) * 0.9, "differ from the expected input"),
        (lambda d, p: prepare(d, p) * 0.9, "dtype float32)"),
        (_default_filter, "Pillow's BICUBIC filter (what Image.resize uses when given none)"),
        (_filter(Image.Resampling.LANCZOS), "Pillow's LANCZOS filter;"),
        (lambda d, p: None, "forget to `return`"),
        (_resize_before_convert, "the wide RGB PNG was resized in colour and converted to"),
        (_resize_before_convert, "up to 0.0039 off (1.00 of a grey level)"),
        (_typed_in_scale, "instead of typing the numbers in"),
        (_typed_in_scale, "with another model's record (height 20, width 30, scale 2/255"),
        (_typed_in_size, "read the size from preprocessing['height']"),
        (_prepare_without_the_record, "prepare takes two arguments"),
        (lambda d, p: prepare(d, p) / 255, "divided by 255 on top of preprocessing['scale']"),
    ],
)
def test_7_1_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_7_1(answer, GRAY_28), phrase)


def _channel_first(upload, prep):  # a student's: x[None] where x[..., None] was meant
    image = _open(upload).convert("L").resize((prep["width"], prep["height"]), Image.BILINEAR)
    return (np.asarray(image, np.float32) * prep["scale"] + prep["offset"])[None]


def _colour_kept(upload, prep):  # a student's: no .convert('L'), the axis added anyway
    image = _open(upload).resize((prep["width"], prep["height"]), Image.BILINEAR)
    return (np.asarray(image, np.float32) * prep["scale"] + prep["offset"])[..., None]


def _resized_in_float(upload, prep):  # tf.image.resize: within a grey level, between levels
    import tensorflow as tf

    x = np.asarray(_open(upload).convert("L"), np.float32)[..., None]
    x = tf.image.resize(x, (prep["height"], prep["width"]), antialias=True).numpy()
    return x * prep["scale"] + prep["offset"]


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda d, p: np.round(prepare(d, p), 2), "your values are rounded to 2 decimal(s)"),
        (lambda d, p: np.round(prepare(d, p), 3), "your values are rounded to 3 decimal(s)"),
        (_resized_in_float, "your values lie between whole grey levels"),
        (_channel_first, "gave shape (1, 28, 28), the channel axis first"),
        (_colour_kept, "gave shape (28, 28, 3, 1): the image kept its 3 colour channels"),
    ],
)
def test_7_1_wants_exactly_the_recorded_input_and_names_what_differs(answer, phrase):
    result = checks.exercise_7_1(answer, GRAY_28)
    assert _fails_with(result, phrase)
    assert "resize it to" not in result.message  # these images were resized


def _resized_by_tensorflow_without_antialiasing(upload, prep):  # a student's, lesson 06's way
    import tensorflow as tf

    x = np.asarray(_open(upload).convert("L"), np.float32)[..., None]
    x = tf.image.resize(x, (prep["height"], prep["width"])).numpy()
    return x * prep["scale"] + prep["offset"]


def test_7_1_a_tensorflow_resize_without_antialiasing_is_named():
    result = checks.exercise_7_1(_resized_by_tensorflow_without_antialiasing, GRAY_28)
    assert _fails_with(result, "the wide RGB PNG was resized by TensorFlow (tf.image.resize")
    assert "bilinear without antialias=True" in result.message
    assert ".resize((width, height), Image.Resampling.BILINEAR)" in result.message


def _prepare_with_tensorflow_only(upload, p):  # a student's: decoded gray, resized in float
    import tensorflow as tf

    x = tf.io.decode_image(upload, channels=1, expand_animations=False)  # gray first
    x = tf.image.resize(
        tf.cast(x, tf.float32), (p["height"], p["width"]), method="bilinear", antialias=True
    )
    return (x.numpy() * p["scale"] + p["offset"]).astype(np.float32)


def test_7_1_a_tensorflow_only_input_is_not_told_it_resized_a_palette_image_first():
    result = checks.exercise_7_1(_prepare_with_tensorflow_only, GRAY_28)
    assert _fails_with(result, "for the wide RGB PNG, values differ by up to 0.0064")
    assert "from the input the model was trained on (with Pillow: .convert('L')" in result.message
    assert "your input[0, 0, 0] is 0.560095, expected 0.560784" in result.message
    assert "Your values lie between whole grey levels" in result.message
    assert "The task prescribes Pillow's steps" in result.message
    assert "palette" not in result.message and "resized before" not in result.message


def test_7_1_resizing_before_converting_differs_only_for_the_palette_upload():
    # RGB and gray: the two orders agree within a grey level; a palette image is resized with
    # nearest-neighbour by Pillow, so the order matters there.
    from course_lib.checks import lesson07

    for name, data in lesson07._test_uploads().items():
        first = prepare(data, GRAY_28)
        late = _resize_before_convert(data, GRAY_28)
        worst = float(np.abs(first - late).max()) * 255
        assert (worst > 20) if name == "palette PNG" else (worst < 1.01), (name, worst)


def _swapped(data, prep):
    image = _open(data).convert("L").resize((prep["height"], prep["width"]), Image.BILINEAR)
    return (np.asarray(image, dtype=np.float32) * prep["scale"] + prep["offset"])[..., None]


def _offset_added_first(upload, prep):  # a student's: (x + offset) * scale
    image = _open(upload).convert("L").resize((prep["width"], prep["height"]), Image.BILINEAR)
    return ((np.asarray(image, np.float32) + prep["offset"]) * prep["scale"])[..., None]


def _offset_left_out(upload, prep):
    image = _open(upload).convert("L").resize((prep["width"], prep["height"]), Image.BILINEAR)
    return (np.asarray(image, np.float32) * prep["scale"])[..., None]


def test_7_1_an_offset_added_before_the_multiplication_is_told_the_order_is_wrong():
    result = checks.exercise_7_1(_offset_added_first, GRAY_28)
    assert _fails_with(result, "with another model's record (height 20, width 30")
    assert "you added the offset before multiplying, (pixels + offset) × scale" in result.message
    assert "multiply by 0.00784314 first, then add -1" in result.message
    # An offset left out altogether is not told it came first
    result = checks.exercise_7_1(_offset_left_out, GRAY_28)
    assert _fails_with(result, "values go up to 2: scale them as in training")
    assert "before multiplying" not in result.message


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (lambda d, p: prepare(d, p).tolist(), "list"),
        (lambda d, p: tuple(prepare(d, p)), "tuple"),
    ],
)
def test_7_1_right_values_in_a_python_list_are_not_called_float64(answer, kind):
    result = checks.exercise_7_1(answer, GRAY_28)
    assert _fails_with(result, f"values are right, but your input is a Python {kind}, not an array")
    assert "leave out .tolist()" in result.message
    assert "float64" not in result.message


def _opened_as_a_file_name(upload, prep):  # a student's: Image.open given the bytes themselves
    image = Image.open(upload).convert("L").resize((prep["width"], prep["height"]), Image.BILINEAR)
    return (np.asarray(image, np.float32) * prep["scale"] + prep["offset"])[..., None]


def test_7_1_bytes_given_to_image_open_are_told_to_go_through_a_file_object():
    result = checks.exercise_7_1(_opened_as_a_file_name, GRAY_28)
    assert _fails_with(result, "your code raised ValueError: embedded null byte")
    assert "Wrap the upload in io.BytesIO(upload)" in result.message
    # The task leaves the way to open bytes, and the traps, to the student and this message
    assert "BytesIO" not in task_text("7.1") and "Hints" not in task_text("7.1")


def test_7_1_catches_swapped_width_and_height_for_a_non_square_model():
    wide = dict(GRAY_28, height=20, width=30)
    assert _fails_with(checks.exercise_7_1(_swapped, wide), "height and width swapped")
    # With the lesson's square record, the other model's record shows it.
    result = checks.exercise_7_1(_swapped, GRAY_28)
    assert _fails_with(result, "another model's record")
    assert "height and width swapped" in result.message


# ---------------------------------------------------------------- 7.2 the minimal Flask app


@pytest.fixture(scope="module")
def model():
    """A linear softmax model whose answers are confident and change a lot when pixels are not
    scaled."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    rng = np.random.default_rng(3)
    model.layers[-1].set_weights(
        [rng.normal(0, 0.3, (784, 10)).astype("float32"), np.zeros(10, "float32")]
    )
    return model


def _pixels(image, prep, scale=True):
    mode = "L" if prep["color_mode"] == "grayscale" else "RGB"
    image = image.convert(mode).resize((prep["width"], prep["height"]), Image.Resampling.BILINEAR)
    x = np.asarray(image, dtype=np.float32)
    x = x * prep["scale"] + prep["offset"] if scale else x
    return x.reshape(1, prep["height"], prep["width"], -1)


def _app(route):
    """A factory whose POST /predict is ``route(model, class_names, prep)``'s view."""

    def factory(model, class_names, prep):
        app = Flask(__name__)
        app.add_url_rule("/predict", "predict", route(model, class_names, prep), methods=["POST"])
        return app

    return factory


@pytest.mark.usefixtures("library_copies_allowed")
def test_7_2_accepts_the_library_app(model):
    assert checks.exercise_7_2(create_minimal_app, model, CLASSES, GRAY_28).passed


def test_7_2_accepts_an_app_written_another_way(model):
    def create(model, class_names, prep):
        app = Flask("another")

        @app.errorhandler(OSError)
        def not_an_image(exc):
            return {"error": f"cannot read the image ({exc})"}, 400

        @app.route("/predict", methods=["POST"])
        def predict():
            files = request.files.getlist("file")
            if not files:
                return {"error": "no file"}, 400
            image = Image.open(files[0].stream)
            image = image.convert({"grayscale": "L"}.get(prep["color_mode"], "RGB")).resize(
                (prep["width"], prep["height"]), Image.Resampling.BILINEAR
            )
            x = np.asarray(image, dtype=np.float32) * prep["scale"] + prep["offset"]
            x = x.reshape(1, prep["height"], prep["width"], -1)
            p = model.predict(x, verbose=0)[0]
            return {
                "label": class_names[p.argmax()],
                "confidence": p.max().item(),
                "all": p.tolist(),
            }

        return app

    assert checks.exercise_7_2(create, model, CLASSES, GRAY_28).passed


def test_7_2_accepts_a_route_that_catches_everything_pillow_raises(model):
    def route(model, class_names, prep):
        def predict():
            if "file" not in request.files:
                return jsonify({"error": "please attach an image as 'file'"}), 400
            try:
                x = _pixels(Image.open(io.BytesIO(request.files["file"].read())), prep)
            except Exception as exc:
                return jsonify({"error": str(exc)}), 400
            p = np.asarray(model(x))[0]
            i = int(np.argmax(p))
            return jsonify({"label": class_names[i], "confidence": round(float(p[i]), 6)})

        return predict

    assert checks.exercise_7_2(_app(route), model, CLASSES, GRAY_28).passed


def _route(
    read=None, scale=True, to_json=None, bad_status=400, catch=(OSError,), softmax_again=False
):
    """A mostly right route with one thing changed."""

    def route(model, class_names, prep):
        def predict():
            upload = read() if read else request.files.get("file")
            if upload is None:
                return jsonify(error="no file"), 400
            try:
                x = _pixels(Image.open(io.BytesIO(upload.read())), prep, scale)
            except catch:
                return jsonify(error="not an image"), bad_status
            p = np.asarray(model(x))[0]
            if softmax_again:
                p = np.exp(p) / np.exp(p).sum()
            best = int(p.argmax())
            if to_json:
                return to_json(class_names[best], p, best)
            return jsonify(label=class_names[best], confidence=float(p[best]))

        return predict

    return _app(route)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_route(read=lambda: request.form["file"]), "uploaded files are in request.files['file']"),
        (
            _route(read=lambda: request.form.get("file")),
            "It is in request.files['file']; request.form",
        ),
        (
            _route(to_json=lambda label, p, i: jsonify(label=label, confidence=p[i])),
            "NumPy numbers are not JSON",
        ),
        (
            _route(
                to_json=lambda label, p, i: jsonify(
                    {"label": label, "confidence": p[i], "index": i}
                )
            ),
            "NumPy numbers are not JSON",
        ),
        (_route(scale=False), "not scaled"),
        (_route(bad_status=200), "got status 200"),
        (_route(catch=(UnidentifiedImageError,)), "a truncated file's error are both OSErrors"),
        (_route(catch=()), "made your route raise UnidentifiedImageError"),
        (_route(read=lambda: request.files["file"]), "check `'file' in request.files` first"),
        (_route(softmax_again=True), "do not apply it again"),
        (
            _route(to_json=lambda label, p, i: jsonify(label=i, confidence=float(p[i]))),
            "not one of the class names",
        ),
        (
            _route(to_json=lambda label, p, i: jsonify(label=label, confidence=f"{p[i]:.0%}")),
            "send a number",
        ),
        (
            _route(to_json=lambda label, p, i: jsonify(prediction=label)),
            "it needs 'label' and 'confidence'",
        ),
        (_route(to_json=lambda label, p, i: f"{label} ({p[i]:.0%})"), "not a JSON object"),
    ],
)
def test_7_2_names_the_mistake(model, answer, phrase):
    assert _fails_with(checks.exercise_7_2(answer, model, CLASSES, GRAY_28), phrase)


def _try_around_image_open_only(model, class_names, prep):  # a student's: decoded outside
    def predict():
        upload = request.files.get("file")
        if upload is None:
            return jsonify(error="no file"), 400
        try:
            image = Image.open(io.BytesIO(upload.read()))
        except OSError:
            return jsonify(error="not an image"), 400
        p = np.asarray(model(_pixels(image, prep)))[0]
        return jsonify(label=class_names[int(p.argmax())], confidence=float(p.max()))

    return predict


def test_7_2_a_truncated_file_that_fails_outside_the_try_is_told_where_pillow_decodes(model):
    result = checks.exercise_7_2(_app(_try_around_image_open_only), model, CLASSES, GRAY_28)
    assert _fails_with(result, "a truncated PNG made your route raise OSError")
    assert "Image.open reads only the file's header" in result.message
    assert "belong inside the try as well" in result.message
    # Only for a truncated file: an unreadable one fails in Image.open itself
    result = checks.exercise_7_2(_route(catch=()), model, CLASSES, GRAY_28)
    assert _fails_with(result, "made your route raise UnidentifiedImageError")
    assert "reads only the file's header" not in result.message


def _no_test_for_a_missing_file(model, class_names, prep):  # a student's: .get() unchecked
    def predict():
        upload = request.files.get("file")
        try:
            x = _pixels(Image.open(io.BytesIO(upload.read())), prep)
        except OSError:
            return jsonify(error="not an image"), 400
        p = np.asarray(model(x))[0]
        return jsonify(label=class_names[int(p.argmax())], confidence=float(p.max()))

    return predict


def test_7_2_a_route_that_fails_on_a_missing_file_is_told_to_test_for_it_not_to_catch_it(model):
    result = checks.exercise_7_2(_app(_no_test_for_a_missing_file), model, CLASSES, GRAY_28)
    assert _fails_with(result, "made your route raise AttributeError")
    assert _fails_with(result, "request.files.get('file') is None")
    assert _fails_with(result, "`if 'file' not in request.files:`")
    assert "OSError" not in result.message


def _students_route(method=Image.Resampling.BILINEAR, swap=False, training=False):
    """A student's route, with one of its three mistakes."""

    def create_minimal_app(model, class_names, preprocessing):
        app = Flask(__name__)

        @app.post("/predict")
        def predict():
            f = request.files.get("file")
            if f is None:
                return jsonify(error="no file in field 'file'"), 400
            try:
                img = Image.open(io.BytesIO(f.read()))
                img = img.convert("L" if preprocessing.get("color_mode") == "grayscale" else "RGB")
                size = (preprocessing["width"], preprocessing["height"])
                img = img.resize(size[::-1] if swap else size, method)
            except OSError as e:
                return jsonify(error=f"not an image: {e}"), 400
            x = np.asarray(img, np.float32) * preprocessing["scale"] + preprocessing["offset"]
            if x.ndim == 2:
                x = x[..., None]
            p = np.asarray(model(x[None], training=training))[0]
            k = int(p.argmax())
            return jsonify(label=class_names[k], class_index=k, confidence=float(p[k]))

        return app

    return create_minimal_app


def _typed_in_route(model, class_names, preprocessing):
    app = Flask(__name__)

    @app.post("/predict")
    def predict():
        upload = request.files.get("file")
        if upload is None:
            return jsonify(error="no file"), 400
        try:
            image = Image.open(upload.stream).convert(
                "RGB" * (preprocessing["color_mode"] != "grayscale") or "L"
            )
            image = image.resize((preprocessing["width"], preprocessing["height"]), Image.BILINEAR)
        except OSError:
            return jsonify(error="not an image"), 400
        x = np.asarray(image, np.float32) / 255.0
        p = model.predict(x.reshape(1, *x.shape[:2], -1), verbose=0)[0]
        return jsonify(label=class_names[int(p.argmax())], confidence=float(p.max()))

    return app


def _always_gray_route(model, class_names, preprocessing):
    app = Flask(__name__)

    @app.post("/predict")
    def predict():
        if "file" not in request.files:
            return jsonify(error="no file"), 400
        try:
            x = _pixels(
                Image.open(request.files["file"]), dict(preprocessing, color_mode="grayscale")
            )
        except OSError:
            return jsonify(error="not an image"), 400
        p = model.predict(x, verbose=0)[0]
        return jsonify(label=class_names[int(p.argmax())], confidence=float(p.max()))

    return app


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_students_route(swap=True), "height and width swapped"),
        (_students_route(training=True), "the model ran in training mode"),
        (_typed_in_route, "instead of typing the numbers in"),
        (_always_gray_route, "convert every upload with .convert('RGB')"),
    ],
)
def test_7_2_names_on_a_second_model_what_the_lessons_model_cannot_show(model, answer, phrase):
    # The lesson's model is square, grayscale, in [0, 1] and without Dropout.
    result = checks.exercise_7_2(answer, model, CLASSES, GRAY_28)
    assert _fails_with(result, phrase)
    assert "with a second model (RGB input, 24 pixels high and 32 wide" in result.message


def test_7_2_names_nearest_neighbour_resizing(model):
    answer = _students_route(Image.Resampling.NEAREST)
    result = checks.exercise_7_2(answer, model, CLASSES, GRAY_28)
    assert _fails_with(result, "it was resized with nearest-neighbour")
    assert "Image.Resampling.BILINEAR" in result.message


def test_7_2_names_resizing_before_converting(model):
    def route(model, class_names, prep):
        def predict():
            image = Image.open(request.files["file"].stream).resize(
                (prep["width"], prep["height"]), Image.Resampling.BILINEAR
            )
            image = image.convert("L" if prep["color_mode"] == "grayscale" else "RGB")
            x = np.asarray(image, np.float32) * prep["scale"] + prep["offset"]
            p = np.asarray(model(x.reshape(1, prep["height"], prep["width"], -1)))[0]
            return jsonify(label=class_names[int(p.argmax())], confidence=float(p.max()))

        return predict

    result = checks.exercise_7_2(_app(route), model, CLASSES, GRAY_28)
    assert _fails_with(result, "for the palette PNG: it was resized before it was converted")


def test_7_2_accepts_a_students_route_without_its_mistakes(model):
    result = checks.exercise_7_2(_students_route(), model, CLASSES, GRAY_28)
    assert result.passed, result.message


def _rgb_for_a_grayscale_model(model, class_names, preprocessing):
    app = Flask(__name__)

    @app.post("/predict")
    def predict():
        upload = request.files.get("file")
        if upload is None:
            return jsonify(error="no file"), 400
        try:
            image = Image.open(io.BytesIO(upload.read())).convert("RGB")
            size = (preprocessing["width"], preprocessing["height"])
            image = image.resize(size, Image.Resampling.BILINEAR)
        except OSError:
            return jsonify(error="not an image"), 400
        x = np.asarray(image, dtype=np.float32) * preprocessing["scale"]
        p = model.predict(x[None], verbose=0)[0]
        return jsonify(label=class_names[int(p.argmax())], confidence=float(p.max()))

    return app


def test_7_2_names_an_rgb_batch_for_a_grayscale_model_in_one_line(model):
    result = checks.exercise_7_2(_rgb_for_a_grayscale_model, model, CLASSES, GRAY_28)
    assert _fails_with(result, "a batch of shape (1, 28, 28, 3), but it takes (1, 28, 28, 1)")
    assert "convert every upload with .convert('L')" in result.message
    assert "\n" not in result.message and len(result.message) < 400, result.message


def test_7_2_names_mistakes_in_the_app_itself(model):
    def abort_html(model, class_names, prep):
        def predict():
            upload = request.files.get("file")
            try:
                x = _pixels(Image.open(io.BytesIO(upload.read())), prep)
            except (OSError, AttributeError):
                abort(400)
            p = np.asarray(model(x))[0]
            return jsonify(label=class_names[int(p.argmax())], confidence=float(p.max()))

        return predict

    def no_batch_axis(model, class_names, prep):
        def predict():
            x = _pixels(Image.open(request.files["file"].stream), prep)[0]
            p = np.asarray(model(x))[0]
            return jsonify(label=class_names[int(p.argmax())], confidence=float(p.max()))

        return predict

    def get_only(model, class_names, prep):
        app = Flask(__name__)
        app.add_url_rule("/predict", "predict", lambda: "hello")
        return app

    def unfinished(model, class_names, prep):
        app = Flask(__name__)

        @app.post("/predict")
        def predict():
            raise NotImplementedError("Exercise 7.2")

        return app

    cases = [
        (_app(abort_html), "but not JSON"),
        (_app(no_batch_axis), "add the batch axis"),
        (get_only, "register the route for POST"),
        (unfinished, "not attempted yet"),
        (lambda m, c, p: None, "forget to `return app`"),
        (lambda m, c, p: "app", "return the Flask app"),
        (_app(lambda m, c, p: lambda: None), "your route returned None"),
    ]
    for answer, phrase in cases:
        assert _fails_with(checks.exercise_7_2(answer, model, CLASSES, GRAY_28), phrase)


def _route_at(path, batch_axis=True):
    """A student's right app, its route at ``path``, its image given with or without the
    batch axis."""

    def create_minimal_app(model, class_names, preprocessing):
        app = Flask("route_at")

        @app.post(path)
        def predict():
            upload = request.files.get("file")
            if upload is None:
                return jsonify(error="no file"), 400
            try:
                x = _pixels(Image.open(io.BytesIO(upload.read())), preprocessing)
            except OSError:
                return jsonify(error="not an image"), 400
            height, width = preprocessing["height"], preprocessing["width"]
            x = x.reshape(1, height, width, -1) if batch_axis else x.reshape(height, width, -1)
            p = np.asarray(model(x, training=False))[0]
            return jsonify(label=class_names[int(p.argmax())], confidence=float(p.max()))

        return app

    return create_minimal_app


def test_7_2_an_image_given_without_the_batch_axis_is_named_not_only_keras_s_error(model):
    result = checks.exercise_7_2(_route_at("/predict", False), model, CLASSES, GRAY_28)
    assert _fails_with(
        result, "your route gave the model one image of shape (28, 28, 1), without the batch axis"
    )
    assert "the model takes a batch, (1, 28, 28, 1)" in result.message
    assert "x[None]" in result.message


def test_7_2_a_route_at_another_path_is_told_the_path_not_the_method(model):
    result = checks.exercise_7_2(_route_at("/classify"), model, CLASSES, GRAY_28)
    assert _fails_with(result, "POST /predict answered 404 (Not Found): the app has no route")
    assert "at the path /predict" in result.message
    assert "register the route for POST" not in result.message


def test_7_2_a_404_the_route_answers_itself_is_not_called_a_missing_route(model):
    def route(model, class_names, prep):
        return lambda: (jsonify(error="no such model"), 404)

    result = checks.exercise_7_2(_app(route), model, CLASSES, GRAY_28)
    assert _fails_with(result, "is a valid image but got status 404 ('no such model')")
    assert "no route" not in result.message


def test_7_2_an_error_body_that_is_json_but_not_an_object_is_told_the_error_key_is_missing(
    model,
):
    def string_error(model, class_names, prep):
        def predict():
            upload = request.files.get("file")
            if upload is None:
                return jsonify("no file"), 400
            try:
                x = _pixels(Image.open(io.BytesIO(upload.read())), prep)
            except OSError:
                return jsonify("not an image"), 400
            p = np.asarray(model(x))[0]
            return jsonify(label=class_names[int(p.argmax())], confidence=float(p.max()))

        return predict

    result = checks.exercise_7_2(_app(string_error), model, CLASSES, GRAY_28)
    assert _fails_with(
        result, "got 400 with the JSON 'no file', not an object with the key 'error'"
    )
    assert "not JSON" not in result.message


# ---------------------------------------------------------------- 7.3 reject a bad upload


def _open(data):
    return Image.open(io.BytesIO(data))


def check_upload(data, max_pixels):
    if not data:
        return "the file is empty"
    try:
        with _open(data) as image:
            width, height = image.size
            if width * height > max_pixels:
                return f"{width}×{height} pixels is over the limit"
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        return "not a readable image"
    return None


def test_7_3_accepts_a_careful_check():
    assert checks.exercise_7_3(check_upload).passed
    assert checks.exercise_7_3(check_upload, max_pixels=2_500).passed


def test_7_3_accepts_checks_written_other_ways():
    def broad(data, max_pixels):
        try:
            image = _open(data)
        except Exception as exc:
            return f"cannot open it: {type(exc).__name__}"
        if image.width * image.height > max_pixels:
            return "too many pixels"
        try:
            image.load()
        except Exception:
            return "damaged image"
        return None

    def with_reasons(data, max_pixels):
        reasons = {
            Image.DecompressionBombError: "far too many pixels",
            UnidentifiedImageError: "not an image",
            OSError: "damaged or truncated",
        }
        try:
            with _open(data) as image:
                if image.size[0] * image.size[1] > max_pixels:
                    return "over the pixel limit"
                image.convert("RGB")
        except tuple(reasons) as exc:
            return next(reason for kind, reason in reasons.items() if isinstance(exc, kind))
        return None

    assert checks.exercise_7_3(broad).passed
    assert checks.exercise_7_3(with_reasons).passed


def test_7_3_names_the_mistake():
    def no_bomb(data, max_pixels):  # catches Pillow's errors but not DecompressionBombError
        if not data:
            return "the file is empty"
        try:
            with _open(data) as image:
                if image.width * image.height > max_pixels:
                    return "too big"
                image.load()
        except (UnidentifiedImageError, OSError, SyntaxError):
            return "not an image"
        return None

    def no_load(data, max_pixels):
        if not data:
            return "empty"
        try:
            width, height = _open(data).size
        except (OSError, Image.DecompressionBombError):
            return "not an image"
        return "too big" if width * height > max_pixels else None

    def load_first(data, max_pixels):
        try:
            image = _open(data)
            image.load()
        except (OSError, Image.DecompressionBombError):
            return "not an image"
        return "too big" if image.width * image.height > max_pixels else None

    def no_limit(data, max_pixels):
        return check_upload(data, 10**12)

    def greater_or_equal(data, max_pixels):
        return check_upload(data, max_pixels - 1)

    def raises(data, max_pixels):
        return None if _open(data).load() is None else None

    def extension_only(data, max_pixels):
        return None if data else "empty"

    def verify_and_end_marker(data, max_pixels):  # a student's: whole files, never decoded
        if not data.rstrip().endswith((b"\xff\xd9", b"IEND\xaeB`\x82")):
            return "cut short"
        return verify_instead_of_load(data, max_pixels)

    def verify_instead_of_load(data, max_pixels):  # a student's: verify() decodes no JPEG
        try:
            image = _open(data)
        except (OSError, Image.DecompressionBombError):
            return "not an image"
        if image.width * image.height > max_pixels:
            return "too big"
        try:
            image.verify()
        except OSError:
            return "damaged"
        return None

    def truncated_allowed(data, max_pixels):  # a student's: load() told to accept a cut file
        from PIL import ImageFile

        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            return check_upload(data, max_pixels)
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = False

    cases = [
        (truncated_allowed, "LOAD_TRUNCATED_IMAGES left False"),
        (no_bomb, "DecompressionBombError, which is not an OSError"),
        (no_load, "truncated PNG passed"),
        (load_first, "before finding it too big"),
        (no_limit, "compare width × height"),
        (greater_or_equal, "reject only when width × height is more than max_pixels (>, not"),
        (raises, "catch Pillow's errors"),
        (extension_only, "a text file passed"),
        (verify_instead_of_load, "image.verify() decodes no JPEG pixels"),
        (verify_and_end_marker, "pixel data is damaged passed"),
        (lambda d, m: "bad", "you rejected a valid PNG"),
        (lambda d, m: False, "return None for a good upload"),
        (lambda d, m: "", "empty string"),
        (lambda d, m: check_upload(d, m) if d else None, "an empty file passed"),
    ]
    for answer, phrase in cases:
        assert _fails_with(checks.exercise_7_3(answer), phrase)


def _limit_set_for_pillow(data, max_pixels):  # a student's: Pillow's own limit set to max_pixels
    import warnings

    Image.MAX_IMAGE_PIXELS = max_pixels  # global Pillow setting
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            im.load()
    except (OSError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        return f"refused: {e}"
    return None


def _limit_set_and_put_back(data, max_pixels):  # the same, Pillow's limit put back after
    before = Image.MAX_IMAGE_PIXELS
    try:
        return _limit_set_for_pillow(data, max_pixels)
    finally:
        Image.MAX_IMAGE_PIXELS = before


@pytest.mark.parametrize(
    ("answer", "when"),
    [
        (_limit_set_for_pillow, "and left it so (the check put it back)"),
        (_limit_set_and_put_back, "while it ran: put back afterwards or not"),
    ],
)
def test_7_3_pillow_s_limit_for_the_whole_process_is_put_back_and_named(answer, when):
    before = Image.MAX_IMAGE_PIXELS
    result = checks.exercise_7_3(answer)
    assert Image.MAX_IMAGE_PIXELS == before
    assert _fails_with(result, "your function changed Image.MAX_IMAGE_PIXELS, Pillow's limit")
    assert f"from {before!r} to 10000, {when}" in result.message
    assert "compare the image's size, width × height, with max_pixels" in result.message
    with _open(_encode_gray(300, 451)) as image:  # the lesson's cat photo's size opens as before
        image.load()


def _encode_gray(width, height):
    out = io.BytesIO()
    Image.new("L", (width, height)).save(out, "PNG")
    return out.getvalue()


def _limit_on(size_of):
    """check_upload with the pixel count computed by ``size_of(width, height)``."""

    def answer(data, max_pixels):
        try:
            image = _open(data)
        except (OSError, Image.DecompressionBombError) as exc:
            return f"not an image: {exc}"
        if size_of(*image.size) > max_pixels:
            return f"too many pixels: {image.width}x{image.height}"
        try:
            image.load()
        except (OSError, Image.DecompressionBombError) as exc:
            return f"cannot decode: {exc}"
        return None

    return answer


_ONE_SIDE_LIMITS = {  # rules on the pixel count right only for square-ish images
    "longer side squared": lambda w, h: max(w, h) ** 2,
    "height squared": lambda w, h: h * h,
    "width squared": lambda w, h: w * w,
    "shorter side squared": lambda w, h: min(w, h) ** 2,
    "one column too many": lambda w, h: (w + 1) * h,
    "tall images only": lambda w, h: w * h if h >= w else 0,
}


@pytest.mark.parametrize(
    ("rule", "phrase"),
    [
        ("longer side squared", "a wide 997×10 image, 9,970 pixels, was rejected"),
        ("height squared", "a tall 10×997 image, 9,970 pixels, was rejected"),
        ("width squared", "one row more than 10,000, passed"),
        ("shorter side squared", "one row more than 10,000, passed"),
        ("one column too many", "is allowed: reject only when width × height is more than"),
        ("tall images only", "a wide 1050×10 image, 10,500 pixels, passed"),
    ],
)
def test_7_3_the_limit_is_on_width_times_height_for_very_wide_and_very_tall_images(rule, phrase):
    result = checks.exercise_7_3(_limit_on(_ONE_SIDE_LIMITS[rule]))
    assert _fails_with(result, phrase)
    assert "use >, not >=" not in result.message
    assert "width × height" in result.message
    assert checks.exercise_7_3(_limit_on(lambda w, h: w * h)).passed


@pytest.mark.parametrize("salt", [3, 4])
def test_7_3_long_sides_show_with_the_limit_drawn_for_a_grading_run(salt):
    from course_lib.checks._core import fresh_inputs

    with fresh_inputs(salt):
        assert checks.exercise_7_3(_limit_on(lambda w, h: w * h)).passed
        for rule in _ONE_SIDE_LIMITS.values():
            assert _fails_with(checks.exercise_7_3(_limit_on(rule)), "width × height")


def test_7_3_bomb_is_a_few_dozen_bytes_that_pillow_refuses_with_a_non_oserror():
    bomb = header_only_png(20_000, 20_000)
    assert len(bomb) < 60
    with pytest.raises(Image.DecompressionBombError) as caught:
        _open(bomb)
    assert not isinstance(caught.value, OSError)


# ---------------------------------------------------------------- 7.4 a client that sends a batch


class Fake(Classifier):
    name, version, class_names = "fake", "1", ["dark", "mid", "bright"]
    preprocessing = GRAY_28

    def predict_inputs(self, inputs):
        means = inputs.reshape(len(inputs), -1).mean(axis=1)
        centres = np.array([0.1, 0.5, 0.9])
        scores = -np.abs(means[:, None] - centres[None, :]) * 100
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    with course_service_url(tmp_path_factory.mktemp("c7") / "p.sqlite3", Fake()) as url:
        yield url


def classify_batch(url, files):
    response = requests.post(
        f"{url}/predict", files=[("file", (name, data)) for name, data in files], timeout=30
    )
    response.raise_for_status()
    return [p["label"] for p in response.json()["predictions"]]


def classify_batch_with_a_session(url, files):
    """Right, written differently: a Session, file objects with their content type, the status
    compared by hand."""
    parts = [("file", (name, io.BytesIO(data), "image/png")) for name, data in files]
    with requests.Session() as session:
        response = session.post(url.rstrip("/") + "/predict", files=parts, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"the server answered {response.status_code}: {response.text}")
    return [prediction["label"] for prediction in response.json()["predictions"]]


@pytest.mark.parametrize("answer", [classify_batch, classify_batch_with_a_session])
def test_7_4_accepts_one_request_with_every_file(url, answer):
    assert checks.exercise_7_4(answer, url).passed


def test_7_4_names_the_mistake(url):
    def one_by_one(url, files):
        return [
            requests.post(f"{url}/predict", files={"file": f}, timeout=30).json()["label"]
            for f in files
        ]

    def whole_body(url, files):
        return requests.post(
            f"{url}/predict", files=[("file", f) for f in files], timeout=30
        ).json()

    def first_only(url, files):
        return [
            requests.post(f"{url}/predict", files={"file": files[0]}, timeout=30).json()["label"]
        ]

    def wrong_field(url, files):
        response = requests.post(f"{url}/predict", files=[("image", f) for f in files], timeout=30)
        response.raise_for_status()

    def first_file_read_as_a_batch(url, files):  # a student's: one file, a batch's reading
        response = requests.post(f"{url}/predict", files=[("file", files[0])], timeout=30)
        return [p["label"] for p in response.json()["predictions"]]

    def generator(url, files):
        body = requests.post(f"{url}/predict", files=[("file", f) for f in files], timeout=30)
        return (p["label"] for p in body.json()["predictions"])

    def reversed_labels(url, files):
        return classify_batch(url, files)[::-1]

    def as_form_data(url, files):  # data= sends text fields, not files: 415
        response = requests.post(
            f"{url}/predict", data={"file": [data for _, data in files]}, timeout=30
        )
        response.raise_for_status()
        return [p["label"] for p in response.json()["predictions"]]

    def no_status_check(url, files):  # a refused request comes back as an empty list of labels
        body = requests.post(
            f"{url}/predict", files=[("file", f) for f in files], timeout=30
        ).json()
        return [p["label"] for p in body.get("predictions", [])]

    cases = [
        (one_by_one, "made 5 requests"),
        (whole_body, "whole JSON body"),
        (
            lambda u, f: requests.post(
                f"{u}/predict", files=[("file", x) for x in f], timeout=30
            ).json()["predictions"],
            "whole predictions",
        ),
        (first_only, "1 label(s) for 5 files"),
        (first_file_read_as_a_batch, "Did only one file go?"),
        (generator, "return a list of labels"),
        (wrong_field, "multipart field 'file'"),
        (lambda u, f: None, "forget to `return`"),
        (no_status_check, "response.raise_for_status()"),
        (as_form_data, "sends for files=, not for data= (text fields)"),
    ]
    for answer, phrase in cases:
        assert _fails_with(checks.exercise_7_4(answer, url), phrase)
    assert _fails_with(checks.exercise_7_4(reversed_labels, url), "not in the order of the files")


def test_7_4_a_dict_holding_the_list_of_files_is_told_to_send_a_list_of_pairs(url):
    def dict_of_a_list(url, files):  # a student's: the one-file form, given every file
        response = requests.post(f"{url}/predict", files={"file": files}, timeout=30)
        response.raise_for_status()
        return [p["label"] for p in response.json()["predictions"]]

    result = checks.exercise_7_4(dict_of_a_list, url)
    assert _fails_with(result, "too many values to unpack")
    assert "a dict holds one value per field" in result.message
    assert "files=[('file', (name, data)) for name, data in files]" in result.message
    # The task names the section of requests' documentation, not the form of the call
    text = task_text("7.4")
    assert '"POST Multiple Multipart-Encoded Files"' in text
    assert "raise_for_status" not in text and "list of pairs instead" not in text


def _without_repeats(keep):
    def answer(url, files):
        response = requests.post(f"{url}/predict", files=[("file", f) for f in files], timeout=30)
        response.raise_for_status()
        return keep([p["label"] for p in response.json()["predictions"]])

    return answer


@pytest.mark.parametrize(
    "keep", [lambda labels: list(dict.fromkeys(labels)), lambda labels: sorted(set(labels))]
)
def test_7_4_labels_with_repeats_dropped_are_named(url, keep):
    result = checks.exercise_7_4(_without_repeats(keep), url)
    assert _fails_with(result, "labels for 5 files: the server answers")
    assert _fails_with(result, "(item0.png and again_item0.png hold the same image)")
    assert _fails_with(result, "repeats included (a set or dict.fromkeys drops them)")


def test_7_4_sends_a_file_twice_so_that_two_labels_repeat(url):
    sent = []

    def recording(url, files):
        sent.append([name for name, _ in files])
        return classify_batch(url, files)

    files = [("a.png", _open_png(40)), ("b.png", _open_png(200))]
    assert checks.exercise_7_4(recording, url, files).passed
    assert sent[0] == ["a.png", "b.png", "again_a.png"]


def _open_png(level):
    out = io.BytesIO()
    Image.fromarray(np.full((28, 28), level, np.uint8)).save(out, "PNG")
    return out.getvalue()


# ---------------------------------------------------------------- 7.5 one client, several services


def top_label(body):
    if isinstance(body, list):  # Hugging Face
        if not all(isinstance(e, dict) and {"label", "score"} <= set(e) for e in body):
            raise ValueError("a list, but not of Hugging Face's entries")
        best = max(body, key=lambda e: e["score"])
        return best["label"], best["score"]
    if not isinstance(body, dict):
        raise ValueError(f"not a JSON object: {body!r:.60}")
    if "label" in body and "confidence" in body:  # the course service
        return body["label"], body["confidence"]
    if "responses" in body:  # Google Cloud Vision
        best = max(body["responses"][0]["labelAnnotations"], key=lambda e: e["score"])
        return best["description"], best["score"]
    if "Labels" in body:  # Amazon Rekognition, in percent
        best = max(body["Labels"], key=lambda e: e["Confidence"])
        return best["Name"], best["Confidence"] / 100
    if "tagsResult" in body:  # Azure AI Vision
        best = max(body["tagsResult"]["values"], key=lambda e: e["confidence"])
        return best["name"], best["confidence"]
    raise ValueError(f"unknown answer: {body!r:.60}")


def test_7_5_accepts_adapters_written_differently():
    readers = {  # where the entries are, and their label and score keys
        "responses": (lambda b: b["responses"][0]["labelAnnotations"], "description", "score", 1),
        "Labels": (lambda b: b["Labels"], "Name", "Confidence", 100),
        "tagsResult": (lambda b: b["tagsResult"]["values"], "name", "confidence", 1),
    }

    def by_table(body):
        try:
            return _by_table(body)
        except (KeyError, TypeError, IndexError) as exc:  # any other shape
            raise ValueError(f"not a shape I know: {exc}") from exc

    def _by_table(body):
        if isinstance(body, list):
            entries, name, score, scale = body, "label", "score", 1
        elif "confidence" in body:
            return [body["label"], np.float64(body["confidence"])]
        else:
            key = next((k for k in readers if k in body), None)
            if key is None:
                raise ValueError("not a shape I know")
            get, name, score, scale = readers[key]
            entries = get(body)
        ranked = sorted(entries, key=lambda e: e[score], reverse=True)
        return ranked[0][name], ranked[0][score] / scale

    assert checks.exercise_7_5(top_label).passed
    assert checks.exercise_7_5(by_table).passed


def test_7_5_names_the_mistake():
    def no_percent(body):
        if "Labels" in body:
            best = max(body["Labels"], key=lambda e: e["Confidence"])
            return best["Name"], best["Confidence"]
        return top_label(body)

    def first_entry(body):
        if isinstance(body, list):
            return body[0]["label"], body[0]["score"]
        return top_label(body)

    def key_error_when_unknown(body):
        if isinstance(body, list) or "label" in body or "responses" in body or "Labels" in body:
            return top_label(body)
        best = max(body["tagsResult"]["values"], key=lambda e: e["confidence"])
        return best["name"], best["confidence"]

    def none_when_unknown(body):
        try:
            return top_label(body)
        except ValueError:
            return None

    def google_not_nested(body):
        if isinstance(body, dict) and "responses" in body:
            best = max(body["labelAnnotations"], key=lambda e: e["score"])
            return best["description"], best["score"]
        return top_label(body)

    def whole_entry(body):
        if isinstance(body, list):
            return max(body, key=lambda e: e["score"])
        return top_label(body)

    cases = [
        (no_percent, "percentage (0–100)"),
        (first_entry, "you took the first entry"),
        (key_error_when_unknown, "raise ValueError('...') instead"),
        (none_when_unknown, "you returned None"),
        (google_not_nested, "for Google Cloud Vision's answer, your code raised KeyError"),
        (whole_entry, "return a pair (label, confidence)"),
        (
            lambda body: (
                ("Cat", "97%")
                if isinstance(body, dict) and "responses" in body
                else top_label(body)
            ),
            "must be a number",
        ),
    ]
    for answer, phrase in cases:
        assert _fails_with(checks.exercise_7_5(answer), phrase)


def _in_percent_everywhere(body):  # a student's: every confidence multiplied by 100
    label, confidence = top_label(body)
    return label, 100 * confidence


def _rekognition_left_in_percent(body):
    if isinstance(body, dict) and "Labels" in body:
        best = max(body["Labels"], key=lambda e: e["Confidence"])
        return best["Name"], best["Confidence"]
    return top_label(body)


def test_7_5_a_confidence_multiplied_by_100_is_not_told_the_service_speaks_in_percent():
    result = checks.exercise_7_5(_in_percent_everywhere)
    assert _fails_with(result, "for the course service you returned a confidence of 91.0")
    assert "100 times the 0.91 its answer holds" in result.message
    assert "already in [0, 1], and you multiplied it by 100" in result.message
    assert "its Confidence is a percentage" not in result.message
    result = checks.exercise_7_5(_rekognition_left_in_percent)
    assert _fails_with(result, "for Amazon Rekognition you returned a confidence of 97.4: its")
    assert "Confidence is a percentage (0–100); divide by 100" in result.message


def _lowest_score(body):  # min where max was meant
    if isinstance(body, dict) and "responses" in body:
        worst = min(body["responses"][0]["labelAnnotations"], key=lambda e: e["score"])
        return worst["description"], worst["score"]
    return top_label(body)


def _top_topicality_with_its_score(body):  # a student's: the most relevant entry, its score
    if isinstance(body, dict) and "responses" in body:
        best = max(body["responses"][0]["labelAnnotations"], key=lambda e: e["topicality"])
        return best["description"], best["score"]
    return top_label(body)


def test_7_5_an_entry_lowest_in_score_and_highest_in_topicality_is_named_both_ways():
    # In the notebook's Google answer 'Carnivore' has the lowest score and the highest
    # topicality: a student who took either is told of both
    for answer in (_lowest_score, _top_topicality_with_its_score):
        result = checks.exercise_7_5(answer)
        assert _fails_with(result, "you took 'Carnivore', the entry with the lowest score (min")
        assert "It is also the entry with the highest 'topicality'" in result.message
    result = checks.exercise_7_5(_lowest_for_azure_only)
    assert _fails_with(result, "the first entry and the one with the lowest score")
    assert "topicality" not in result.message


def _lowest_for_azure_only(body):  # a student's: Azure's first entry is its lowest too
    if isinstance(body, dict) and "tagsResult" in body:
        worst = min(body["tagsResult"]["values"], key=lambda e: e["confidence"])
        return worst["name"], worst["confidence"]
    return top_label(body)


def _reads_keys_of_anything(body):  # a student's: `in` and [] on whatever came
    if isinstance(body, list):
        best = max(body, key=lambda e: e["score"])
        return best["label"], best["score"]
    if "label" in body:
        return body["label"], body.get("confidence", 1.0)
    return top_label(body)


def _lists_of_anything(body):
    if isinstance(body, list):
        best = max(body, key=lambda e: e["score"])
        return best["label"], best["score"]
    return top_label(body)


def _first_score_only(body):  # a student's: a list is Hugging Face's if its first entry is
    if isinstance(body, list) and body and "score" in body[0]:
        best = max((e for e in body if "score" in e), key=lambda e: e["score"])
        return best["label"], best["score"]
    return top_label(body)


def _empty_list_as_nothing(body):  # a student's: no entry, no label and no confidence
    if body == []:
        return "", 0.0
    return top_label(body)


def _confidence_made_up(body):
    if isinstance(body, dict) and "label" in body:
        return body["label"], body.get("confidence", 1.0)
    return top_label(body)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_lowest_score, "you took 'Carnivore', the entry with the lowest score (min"),
        (_lowest_for_azure_only, "the first entry and the one with the lowest score"),
        (_reads_keys_of_anything, "null (None), your code raised TypeError"),
        (_lists_of_anything, "a list of lists, [[0.02, 0.98]], your code raised TypeError"),
        (_confidence_made_up, "you returned ('cat', 1.0); raise ValueError('...') instead"),
        (_confidence_made_up, "A confidence the body does not hold is made up"),
        (_first_score_only, "a list of Hugging Face's entries mixed with others"),
        (_empty_list_as_nothing, "an empty list, [] (no label at all), you returned ('', 0.0)"),
    ],
)
def test_7_5_names_the_lowest_entry_and_bodies_of_any_other_shape(answer, phrase):
    result = checks.exercise_7_5(answer)
    assert _fails_with(result, phrase)
    assert "you took the first entry" not in result.message


@pytest.mark.parametrize(
    "body",
    [None, 42, "text", [[0.1, 0.9]], [{"class": "cat"}], [3], [], {"label": "cat"}, {}, {"a": 1}],
)
def test_7_5_the_reference_reader_raises_value_error_for_every_unknown_shape(body):
    with pytest.raises(ValueError):
        top_label(body)


def _ranked_by_topicality(body):
    if isinstance(body, dict) and "responses" in body:
        best = max(body["responses"][0]["labelAnnotations"], key=lambda e: e["topicality"])
        return best["description"], best["topicality"]
    return top_label(body)


def _scored_but_topicality_returned(body):
    if isinstance(body, dict) and "responses" in body:
        best = max(body["responses"][0]["labelAnnotations"], key=lambda e: e["score"])
        return best["description"], best["topicality"]
    return top_label(body)


def _type_error_for_non_dicts(body):
    if not isinstance(body, (dict, list)):
        raise TypeError("not a dict")
    return top_label(body)


def _percent_guessed_from_the_value(body):
    if isinstance(body, dict) and "Labels" in body:
        best = max(body["Labels"], key=lambda e: e["Confidence"])
        confidence = best["Confidence"]
        return best["Name"], confidence / 100 if confidence > 1 else confidence
    return top_label(body)


@pytest.mark.parametrize("salt", [None, 0, 1, 2, 3])
def test_7_5_tells_topicality_from_score_non_dict_bodies_and_a_percentage_below_1(salt):
    import contextlib

    from course_lib.checks._core import fresh_inputs

    with fresh_inputs(salt) if salt is not None else contextlib.nullcontext():
        assert checks.exercise_7_5(top_label).passed
        for answer in (_ranked_by_topicality, _scored_but_topicality_returned):
            assert _fails_with(checks.exercise_7_5(answer), "read from 'topicality'")
        result = checks.exercise_7_5(_type_error_for_non_dicts)
        assert _fails_with(result, "a str ('Service Unavailable'), your code raised TypeError")
        assert _fails_with(
            checks.exercise_7_5(_percent_guessed_from_the_value),
            "a percentage even when it is below 1",
        )
        for answer in (_type_error_for_non_dicts, _percent_guessed_from_the_value):
            assert "topicality" not in checks.exercise_7_5(answer).message


def test_7_3_the_untouched_stub_is_told_only_that_it_is_not_attempted():
    def check_upload(data, max_pixels):
        raise NotImplementedError("Exercise 7.3: Reject a bad upload")

    result = checks.exercise_7_3(check_upload)
    assert _fails_with(result, "not attempted yet")
    assert "Pillow" not in result.message


def test_7_3_an_answer_that_lets_every_unreadable_file_through_is_told_so_not_sent_to_if_not_data():
    def swallows_errors(data, max_pixels):
        try:
            image = _open(data)
            image.load()
            return None if image.width * image.height <= max_pixels else "too big"
        except Exception:
            return None

    result = checks.exercise_7_3(swallows_errors)
    assert not result.passed
    assert "none of the unreadable files got a reason" in result.message
    assert "if not data" not in result.message


# --- rt12-b: answers of a teacher's red-team round -----------------------------------------


def test_7_5_a_string_body_decoded_as_json_is_refused():
    import json

    def top_label_decoding(body):  # a student's: a string body decoded once more
        if isinstance(body, str):
            body = json.loads(body)
        return top_label(body)

    result = checks.exercise_7_5(top_label_decoding)
    assert _fails_with(result, "a str that holds JSON text")
    assert "you returned ('cat', 0.9); raise ValueError('...') instead" in result.message
    assert "The body comes decoded already, as response.json() gives it" in result.message
    text = " ".join(task_text("7.5").split())
    assert "a string (even one that holds JSON text)" in text
    assert "already decoded as `response.json()` returns it" in text


def test_7_4_a_dict_that_is_not_the_server_s_body_is_not_called_the_whole_body(url):
    result = checks.exercise_7_4(lambda url, files: {"labels": []}, url)
    assert _fails_with(result, "you returned a dict of length 1; return a list of labels")
    assert "whole JSON body" not in result.message


def test_7_3_a_long_reason_for_a_valid_upload_is_shown_cut():
    result = checks.exercise_7_3(lambda data, max_pixels: "x" * 10**6)
    assert _fails_with(result, "(your reason: 'xxx")
    assert len(result.message) < 1000, len(result.message)
