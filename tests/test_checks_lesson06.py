"""Lesson 06 checks accept the right answer and name each common mistake."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from solution_support import task_text

from course_lib import checks, efficientnet_lite, metrics, pretrained


def _fails_with(result, phrase):
    assert not result.passed, result.message
    assert phrase in result.message, result.message
    return True


# --- 6.1 how many classes hold a share of the probability ------------------------------


def _cover_by_cumsum(probabilities, mass):
    running = np.cumsum(np.sort(probabilities, axis=1)[:, ::-1], axis=1)
    return np.argmax(running >= mass, axis=1) + 1


def _cover_by_a_loop(probabilities, mass):
    counts = np.zeros(len(probabilities), dtype=int)
    for i, row in enumerate(probabilities):
        total = 0.0
        for k, p in enumerate(sorted(row, reverse=True), start=1):
            total += p
            if total >= mass:
                counts[i] = k
                break
    return counts


def _cover_by_searchsorted(probabilities, mass):
    running = np.cumsum(-np.sort(-probabilities, axis=-1), axis=-1)
    return np.array([np.searchsorted(row, mass) + 1 for row in running])


def _cover_in_float32_with_tensorflow(probabilities, mass):
    ranked = tf.sort(tf.constant(probabilities, tf.float32), axis=-1, direction="DESCENDING")
    return tf.reduce_sum(tf.cast(tf.cumsum(ranked, axis=-1) < mass, tf.int32), axis=-1) + 1


@pytest.mark.parametrize(
    "answer",
    [
        _cover_by_cumsum,
        _cover_by_a_loop,
        _cover_by_searchsorted,
        _cover_in_float32_with_tensorflow,
    ],
)
def test_6_1_accepts_counts_written_in_different_ways(answer):
    result = checks.exercise_6_1(answer)
    assert result.passed, result.message


def _running(p):
    return np.cumsum(np.sort(p, axis=1)[:, ::-1], axis=1)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        # sorted ascending, or np.sort(p)[::-1], which reverses the images instead
        (
            lambda p, m: np.argmax(np.cumsum(np.sort(p, axis=1), axis=1) >= m, axis=1) + 1,
            "add up the *least* probable classes first",
        ),
        (
            lambda p, m: np.argmax(np.cumsum(np.sort(p)[::-1], axis=1) >= m, axis=1) + 1,
            "[::-1] alone reverses the order of the images",
        ),
        # the classes in their index order, never sorted
        (
            lambda p, m: np.argmax(np.cumsum(p, axis=1) >= m, axis=1) + 1,
            "in the order of their indices",
        ),
        # an index where a count is asked
        (lambda p, m: np.argmax(_running(p) >= m, axis=1), "each count is one short"),
        (lambda p, m: (_running(p) < m).sum(axis=1) + 2, "each count is one too many"),
        # > where the task says at least
        (
            lambda p, m: np.argmax(_running(p) > m, axis=1) + 1,
            "'At least mass' is >=, not >",
        ),
        (
            lambda p, m: np.array([np.searchsorted(r, m, side="right") + 1 for r in _running(p)]),
            "two classes hold exactly 0.75, so the answer is 2; you return 3",
        ),
        # one running sum over the whole batch
        (
            lambda p, m: np.argmax(np.cumsum(np.sort(p, axis=1)[:, ::-1]) >= m) + 1,
            "you returned one number, 1, for a batch of 4 images",
        ),
        (
            lambda p, m: (np.cumsum(np.sort(p, axis=1)[:, ::-1]).reshape(p.shape) < m).sum(1) + 1,
            "carries on from one image to the next",
        ),
        # the classes that reach the mass on their own
        (lambda p, m: (p >= m).sum(axis=1), "have a probability of at least 0.9 each"),
        # the classes themselves
        (
            lambda p, m: [
                np.argsort(-row)[:k] for row, k in zip(p, _cover_by_cumsum(p, m), strict=True)
            ],
            "those are the classes themselves",
        ),
        (lambda p, m: _running(p) < m, "the classes, not how many of them"),
        # the form of the answer
        (lambda p, m: _cover_by_cumsum(p, m).astype(float), "their dtype is float64"),
        (lambda p, m: _cover_by_cumsum(p, m).tolist(), "without .tolist()"),
        (lambda p, m: _cover_by_cumsum(p, m)[:, None], "drop the last axis of size 1"),
        (lambda p, m: np.squeeze(_cover_by_cumsum(p, m)), "no np.squeeze"),
        (lambda p, m: _running(p)[:, 0], "not whole numbers"),
        (lambda p, m: _cover_by_cumsum(p, 0.9), "use the argument `mass`"),
        (lambda p, m: None, "forget to `return`"),
    ],
)
def test_6_1_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_6_1(answer), phrase)


def test_6_1_sorting_the_caller_s_probabilities_in_place_is_refused():
    def classes_to_cover(probabilities, mass):  # a student's: sorts the rows it was given
        probabilities.sort(axis=1)
        return np.argmax(np.cumsum(probabilities[:, ::-1], axis=1) >= mass, axis=1) + 1

    result = checks.exercise_6_1(classes_to_cover)
    assert _fails_with(result, "changed its input `probabilities` in place")


def test_6_1_fixed_cases_stay_clear_of_the_masses_and_reach_0_75_exactly():
    from course_lib.checks import lesson06

    batch, exact = lesson06._cover_cases()
    assert np.allclose(batch.sum(axis=1), 1) and np.allclose(exact.sum(axis=1), 1)
    for mass in (0.9, 0.65):
        assert np.abs(_running(batch) - mass).min() >= 0.01 - 1e-12
    # the rows are shuffled: adding the classes in their index order gives other counts
    in_index_order = np.argmax(np.cumsum(batch, axis=1) >= 0.9, axis=1) + 1
    assert not np.array_equal(lesson06._cover(batch, 0.9), in_index_order)
    running = _running(exact)
    assert all((row == 0.75).any() for row in running)  # exactly, whatever the order of adding
    assert lesson06._cover(exact, 0.75).tolist() == [2, 3, 1]


def test_6_1_draws_float32_and_float64_batches_afresh_in_each_grading_run():
    from course_lib.checks import lesson06
    from course_lib.checks._core import fresh_inputs

    drawn = lesson06._fresh_cover_cases()
    with fresh_inputs(7):
        other = lesson06._fresh_cover_cases()
    assert [p.dtype for p, _ in drawn] == [np.float32, np.float64]
    assert drawn[0][0].shape[1] == 1000
    assert not any(np.array_equal(a, b) for (a, _), (b, _) in zip(drawn, other, strict=True))
    for probabilities, mass in drawn + other:
        # no running sum so close to the mass that float32 additions could change a count
        assert np.abs(_running(probabilities.astype(np.float64)) - mass).min() > 1e-4


def test_6_1_a_fresh_batch_s_wrong_count_names_the_batch_and_the_image():
    from course_lib.checks import lesson06

    (float32_batch, mass), _ = lesson06._fresh_cover_cases()
    right = lesson06._cover(float32_batch, mass)

    def classes_to_cover(probabilities, m):  # right on the fixed cases, wrong on 1000 classes
        counts = _cover_by_cumsum(probabilities, m)
        return np.minimum(counts, 1) if probabilities.shape[1] == 1000 else counts

    result = checks.exercise_6_1(classes_to_cover)
    image = int(np.flatnonzero(right != 1)[0])
    assert _fails_with(result, f"on another batch ({len(float32_batch)} images of 1000 classes")
    assert f"image {image}: you return 1, expected {right[image]}" in result.message


def test_6_1_the_task_states_at_least_and_the_shape_and_shows_no_code():
    text = task_text("6.1")
    assert "at least `mass`" in text and "`(n,)`" in text
    assert "cumsum" not in text and "argsort" not in text


# --- 6.2 preprocessing -----------------------------------------------------------------


def _resize(images, method="bilinear", antialias=True):
    return tf.image.resize(
        images.astype("float32"), (224, 224), method=method, antialias=antialias
    ).numpy()


def test_6_2_accepts_an_antialiased_bilinear_resize_then_the_lite0_scaling():
    assert checks.exercise_6_2(lambda im: (_resize(im) - 127) / 128).passed
    # Keras' own resize and Pillow's bilinear (antialiased when shrinking) pass too
    resized = lambda im: keras.ops.image.resize(  # noqa: E731
        im.astype("float32"), (224, 224), antialias=True
    ).numpy()
    assert checks.exercise_6_2(lambda im: (resized(im) - 127) / 128).passed
    assert checks.exercise_6_2(lambda im: (_resize_pillow(im) - 127) / 128).passed
    assert checks.exercise_6_2(
        lambda im: (
            (tf.image.resize(tf.cast(im, tf.float32), (224, 224), antialias=True) - 127) / 128
        )
    ).passed


def _resize_skimage(images, mode):
    from skimage.transform import resize

    return np.stack(
        [
            resize(im, (224, 224), order=1, mode=mode, anti_aliasing=True, preserve_range=True)
            for im in images
        ]
    )


def test_6_2_a_resize_that_mirrors_the_border_is_told_that_only_the_edges_differ():
    # A student's: skimage's bilinear resize, whose default mode='reflect' mirrors the pixels
    # beyond the border; inside the images it is TensorFlow's bilinear resize
    result = checks.exercise_6_2(
        lambda im: ((_resize_skimage(im, "reflect") - 127) / 128).astype("float32")
    )
    assert _fails_with(result, "values match a bilinear resize inside the images")
    assert "mode='reflect'" in result.message
    # With mode='edge' it is right until the images must shrink: its anti_aliasing smooths too
    # little there
    result = checks.exercise_6_2(
        lambda im: ((_resize_skimage(im, "edge") - 127) / 128).astype("float32")
    )
    assert _fails_with(result, "shrunk without antialiasing")
    assert "skimage.transform.resize's anti_aliasing smooths far too little" in result.message


@pytest.mark.parametrize(
    ("answer", "copy"),
    [
        (lambda im: (pretrained.resize(im, 224) - 127) / 128, "pretrained.resize"),
        (lambda im: efficientnet_lite.scale(_resize(im)), "efficientnet_lite.scale"),
    ],
)
def test_6_2_the_library_s_resize_or_scaling_is_the_course_s_copy(answer, copy):
    result = checks.exercise_6_2(answer)
    assert _fails_with(result, f"calls course_lib.{copy}, the course's own copy of this exercise")


def test_6_2_a_resize_without_antialiasing_is_right_only_until_the_images_must_shrink():
    result = checks.exercise_6_2(lambda im: (_resize(im, antialias=False) - 127) / 128)
    assert _fails_with(result, "shrunk without antialiasing")
    assert "antialias=True" in result.message
    keras_default = lambda im: keras.ops.image.resize(  # noqa: E731
        im.astype("float32"), (224, 224)
    ).numpy()
    assert _fails_with(
        checks.exercise_6_2(lambda im: (keras_default(im) - 127) / 128), "antialias=True"
    )


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (
            lambda im: (_resize(im.astype("float32") / 255.0) - 127.0) / 128.0,
            "the pixels were divided by 255 before (x - 127) / 128",
        ),
        (
            lambda im: (_resize(im) - 127.0) / 128.0 / 255.0,
            "(x - 127) / 128 was divided by 255 as well",
        ),
    ],
)
def test_6_2_names_a_division_by_255_on_top_of_the_scale(answer, phrase):
    result = checks.exercise_6_2(answer)
    assert _fails_with(result, phrase)
    assert "values differ" not in result.message


def test_6_2_a_box_filter_is_not_the_bilinear_resize_asked_for():
    result = checks.exercise_6_2(lambda im: (_resize(im, "area") - 127) / 128)
    assert _fails_with(result, "blocks of repeated pixels")
    assert "use bilinear" in result.message


def _prepare_reordering_channels_in_place(images):  # a student's: BGR to RGB, in the batch
    images[...] = images[..., ::-1]
    return _scaled(_resize(images))


def test_6_2_a_batch_changed_in_place_is_refused_as_the_task_says():
    result = checks.exercise_6_2(_prepare_reordering_channels_in_place)
    assert _fails_with(result, "your function changed its input `images` in place")
    assert "the caller still needs it" in result.message
    assert "Leave `images` as it is: the caller still needs it" in task_text("6.2")


def _resize_pillow(images):
    return np.stack(
        [
            np.asarray(Image.fromarray(i).resize((224, 224), Image.BILINEAR), dtype="float32")
            for i in images
        ]
    )


def _subtract_in_uint8(images):
    return (tf.image.resize(images - 127, (224, 224)).numpy() / 128).astype(np.float32)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda im: _resize(im), "still 0-255 pixels"),
        (lambda im: _resize(im) / 255, "divided by 255"),
        (
            lambda im: ((_resize(im) / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]).astype(
                "float32"
            ),
            "mean/std",
        ),
        (lambda im: (_resize(im)[..., ::-1] - 127) / 128, "BGR"),
        (lambda im: (keras.ops.image.resize(im, (224, 224)).numpy() - 127) / 128, "wrapped around"),
        (lambda im: (_resize(im, "nearest", antialias=False) - 127) / 128, "nearest-neighbour"),
        (lambda im: (_resize(im, "bicubic") - 127) / 128, "differ from a bilinear resize"),
        (lambda im: (_resize(im).astype(np.uint8).astype("float32") - 127) / 128, "cut to whole"),
        (lambda im: (im.astype("float32") - 127) / 128, "resize them to 224x224"),
        (lambda im: (_resize(im)[..., :1] - 127) / 128, "expected (2, 224, 224, 3)"),
        (lambda im: (_resize(im) - 100) / 128, "differ from a bilinear resize"),
        (lambda im: (_resize(im) - 127) / 128 + 0.5, "dtype float32)"),
        (lambda im: _resize(im) / 127.5 - 1, "MobileNetV2's scaling"),
        (lambda im: (_resize_pillow(im) - 127.5) / 127.5, "MobileNetV2's scaling"),
        (lambda im: (_resize(im) - 128) / 128, "exactly 127"),
        (_subtract_in_uint8, "images - 127 on uint8 pixels"),
        (lambda im: (_resize(im).astype("float64") - 127) / 128, "float64"),
        (lambda im: None, "forget to `return`"),
    ],
)
def test_6_2_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_6_2(answer), phrase)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        # a student's: about 0.008 off at the ends of the range, like MobileNet's scaling
        (lambda im: ((_resize(im) - 127) / 127).astype("float32"), "(x - 127) / 127"),
        (lambda im: ((_resize(im) - 127) / 129).astype("float32"), "(x - 127) / 129"),
        (lambda im: ((_resize_pillow(im) - 127) / 127).astype("float32"), "/ 127 (a line"),
        (lambda im: ((_resize(im) - 127) / 125).astype("float32"), "(x - 127) / 125"),
        (lambda im: ((_resize(im) - 128) / 127).astype("float32"), "(x - 128) / 127"),
    ],
)
def test_6_2_a_division_by_another_number_than_128_is_named(answer, phrase):
    result = checks.exercise_6_2(answer)
    assert _fails_with(result, "your values follow (x - ")
    assert phrase in result.message
    assert "not (x - 127) / 128" in result.message
    assert "Divide by exactly 128" in result.message


def _scaled(x):
    return (x - 127) / 128


@pytest.mark.parametrize(
    "answer",
    [
        # tf.image.resize returns float32 whatever the input's float type (a student's
        # "float64" answer is one of these)
        lambda im: _scaled(
            tf.image.resize(im.astype("float64"), (224, 224), antialias=True).numpy()
        ),
        lambda im: _scaled(
            np.asarray(keras.layers.Resizing(224, 224, antialias=True)(im.astype("float32")))
        ),
        lambda im: _scaled(_resize(im.astype("float64")).astype("float64")).astype("float32"),
        lambda im: _resize(_scaled(im.astype("float32"))),  # scaled first: the resize is linear
        lambda im: np.stack([_scaled(_resize(image[None]))[0] for image in im]),
        lambda im: _scaled(np.round(_resize(im))).astype("float32"),  # whole grey levels
        lambda im: list(_scaled(_resize(im))),
        # the scale written other ways: a multiplication, float64 arithmetic, TF and Keras ops
        lambda im: ((_resize(im) - 127) * (1 / 128)).astype("float32"),
        lambda im: (_resize(im).astype("float64") * 0.0078125 - 0.9921875).astype("float32"),
        lambda im: tf.math.divide(tf.subtract(_resize(im), 127.0), 128.0).numpy(),
        lambda im: keras.ops.convert_to_numpy(
            keras.layers.Rescaling(1 / 128, -127 / 128)(_resize(im))
        ),
    ],
)
def test_6_2_accepts_a_float32_bilinear_batch_however_it_is_computed(answer):
    result = checks.exercise_6_2(answer)
    assert result.passed, result.message


def _resize_pillow_with(resample):
    return lambda im: _scaled(
        np.stack(
            [np.asarray(Image.fromarray(i).resize((224, 224), resample), "float32") for i in im]
        )
    )


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda im: _scaled(_resize(im, "mitchellcubic")), "a Mitchell-cubic resize"),
        (lambda im: _scaled(_resize(im, "lanczos3")), "a Lanczos resize (method='lanczos3')"),
        (lambda im: _scaled(_resize(im, "gaussian")), "a Gaussian resize"),
        (_resize_pillow_with(Image.Resampling.BICUBIC), "a bicubic resize"),
        (_resize_pillow_with(Image.Resampling.HAMMING), "values differ from a bilinear resize"),
    ],
)
def test_6_2_a_resize_filter_other_than_bilinear_is_told_apart_on_hard_edges(answer, phrase):
    result = checks.exercise_6_2(answer)
    assert _fails_with(result, phrase)
    assert "method='bilinear'" in result.message or "your batch[" in result.message


def _only_for(condition, wrong):
    """A right prepare, except on the batches ``condition`` picks, where it does ``wrong``."""
    return lambda im: wrong(im) if condition(im) else _scaled(_resize(im))


def _enlarged(images):
    return images.shape[1] < 224


def _shrunk(images):
    return len(images) > 1 and images.shape[1] > 224


def _one_image(images):
    return len(images) == 1


@pytest.mark.parametrize("which", [_enlarged, _shrunk, _one_image])
def test_6_2_a_float64_result_is_refused_on_every_batch(which):
    answer = _only_for(which, lambda im: _scaled(_resize(im).astype("float64")))
    assert _fails_with(checks.exercise_6_2(answer), "dtype is float64; use float32")


@pytest.mark.parametrize(
    "answer",
    [
        lambda im: np.squeeze(_scaled(_resize(im))),
        _only_for(_one_image, lambda im: _scaled(_resize(im))[0]),
    ],
)
def test_6_2_a_batch_of_one_image_stays_a_batch(answer):
    result = checks.exercise_6_2(answer)
    assert _fails_with(result, "for a batch of one image, shape (1, 260, 180, 3)")
    assert "you returned shape (224, 224, 3)" in result.message
    assert "(1, 224, 224, 3)" in result.message


def test_6_2_a_batch_of_one_is_resized_like_the_others():
    answer = _only_for(_one_image, lambda im: _scaled(_resize(im, antialias=False)))
    assert _fails_with(checks.exercise_6_2(answer), "not on a batch of one 260x180 photo")


def _with_value(value, where=(0, 5, 5, 0)):
    def prepare(images):
        x = _scaled(_resize(images))
        x[where] = value
        return x

    return prepare


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda im: np.full((len(im), 224, 224, 3), np.nan, "float32"), "301056 of 301056"),
        (_with_value(np.nan), "1 of 301056 values of your prepared batch are NaN"),
        (_with_value(np.inf), "1 of 301056 values of your prepared batch are infinite"),
        (_with_value(np.nan, (slice(None), 0, 0, 0)), "the first at [0, 0, 0, 0]"),
        # a student's: NaN only where the images are enlarged, right where they shrink
        (_only_for(_enlarged, lambda im: np.full((2, 224, 224, 3), np.nan, "float32")), "NaN"),
        (_only_for(_shrunk, _with_value(-np.inf)), "of 300x340 photos are infinite"),
        (_only_for(_one_image, _with_value(np.nan)), "of one 260x180 photo are NaN"),
    ],
)
def test_6_2_nan_and_infinite_values_are_named_as_such(answer, phrase):
    result = checks.exercise_6_2(answer)
    assert _fails_with(result, phrase)
    assert "antialias" not in result.message and "right on images" not in result.message


# --- 6.3 a photo from a file -----------------------------------------------------------


def _read_pil(path):
    return np.asarray(Image.open(path).convert("RGB"))


def _classify(
    read=_read_pil,
    softmax=True,
    batch=lambda image: image[None],
    scale_first=None,
    order=1,
    k_fix=None,
    resize=None,
    pairs=False,
):
    """A student's classify_file, right by default; each argument plants one mistake."""

    def classify_file(path, backbone, class_names, k):
        image = read(path)
        if resize is not None:
            image = np.asarray(Image.fromarray(image).resize((backbone.input_size,) * 2, resize))
        if scale_first is not None:
            image = scale_first(image)
        logits = backbone.model.predict_on_batch(backbone.prepare(batch(image)))
        values = pretrained.softmax(logits) if softmax else np.asarray(logits)
        top = pretrained.decode_top_k(values, k_fix or k, class_names)[0][::order]
        return [(name, p) for _, name, p in top] if pairs else top

    return classify_file


def _classify_with_tensorflow(path, backbone, class_names, k):
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    x = backbone.prepare(image.numpy()[None])
    probabilities = keras.ops.convert_to_numpy(
        keras.ops.softmax(backbone.model(x, training=False))
    )[0]
    best = np.argsort(probabilities)[::-1][:k]
    return [(int(i), class_names[i], float(probabilities[i])) for i in best]


def _classify_with_keras_load_img(path, backbone, class_names, k):
    pixels = keras.utils.img_to_array(keras.utils.load_img(path))  # float32, 0-255, RGB
    logits = backbone.model.predict(backbone.prepare(pixels[None]), verbose=0)
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    order = np.argsort(-probabilities[0])[:k]
    return tuple((i, class_names[i], probabilities[0, i]) for i in order)


def _least_probable(ascending):
    """np.argsort without the minus sign: the k least probable classes, in either order."""

    def classify_file(path, backbone, class_names, k):
        x = np.asarray(Image.open(path).convert("RGB"))
        logits = backbone.model.predict_on_batch(backbone.prepare(x[None]))
        probabilities = pretrained.softmax(logits)[0]
        order = np.argsort(probabilities)[:k]
        order = order if ascending else order[::-1]
        return [(int(i), class_names[i], float(probabilities[i])) for i in order]

    return classify_file


def test_6_3_accepts_pillow_tensorflow_and_keras_ways_of_reading_the_file():
    assert checks.exercise_6_3(_classify()).passed
    assert checks.exercise_6_3(_classify_with_tensorflow).passed
    assert checks.exercise_6_3(_classify_with_keras_load_img).passed


@pytest.mark.parametrize(
    ("answer", "copy"),
    [
        (lambda path, b, names, k: pretrained.classify_file(path, b, names, k), "classify_file"),
        (_classify(read=lambda path: pretrained.read_image(path)), "read_image"),
    ],
)
def test_6_3_the_library_s_classify_file_or_read_image_is_the_course_s_copy(answer, copy):
    result = checks.exercise_6_3(answer)
    words = f"calls course_lib.pretrained.{copy}, the course's own copy of this exercise"
    assert _fails_with(result, words)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (
            _classify(read=lambda path: np.asarray(Image.open(path))),
            "alpha channel (four channels, RGBA), your code raised",
        ),
        (_classify(softmax=False), "logits, not probabilities"),
        (_classify(scale_first=lambda image: image / 255.0), "divided by 255 first"),
        (
            _classify(scale_first=lambda image: (image.astype("float32") - 127) / 128),
            "scaled twice",
        ),
        (_classify(batch=lambda image: image), "batch axis"),
        (_classify(resize=Image.Resampling.NEAREST), "resized by Pillow (nearest"),
        (_classify(read=lambda path: _read_pil(path)[..., ::-1]), "BGR"),
        (_classify(order=-1), "least probable first"),
        (_least_probable(ascending=True), "*least* probable classes, least probable first"),
        (_least_probable(ascending=False), "3 *least* probable classes: take the first k"),
        (_classify(k_fix=5), "5 predictions for k=3"),
        (_classify(pairs=True), "(index, name, probability)"),
        (
            lambda path, backbone, names, k: pretrained.decode_top_k(
                pretrained.softmax(
                    backbone.model.predict_on_batch(backbone.prepare(_read_pil(path)[None]))
                ),
                k,
                names,
            ),
            "take the first, [0]",
        ),
        (lambda path, backbone, names, k: None, "forget to `return`"),
    ],
)
def test_6_3_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_6_3(answer), phrase)


def test_6_3_a_file_read_in_grayscale_only_is_named():
    def gray_everywhere(path, backbone, class_names, k):
        gray = np.asarray(Image.open(path).convert("L"))  # every file as grayscale
        return _classify(read=lambda _: np.repeat(gray[..., None], 3, axis=-1))(
            path, backbone, class_names, k
        )

    result = checks.exercise_6_3(gray_everywhere)
    assert _fails_with(result, "predictions differ")
    assert _fails_with(result, "you returned [(") and "expected [(" in result.message


def _classify_returning(make_item):
    """classify_file, right up to the list it returns: each (index, name, probability) is
    ``make_item(index, name, probability)``, the index a Python int, the probability a float."""

    def classify_file(path, backbone, class_names, k):
        return [make_item(i, name, p) for i, name, p in _classify()(path, backbone, class_names, k)]

    return classify_file


def _classify_with_tensors(path, backbone, class_names, k):
    """Right, written differently: tf.math.top_k's values and indices, 0-d tensors each."""
    image = np.asarray(Image.open(path).convert("RGB"))
    probabilities = tf.nn.softmax(backbone.model(backbone.prepare(image[None]), training=False))
    top = tf.math.top_k(probabilities[0], k=k)
    return [(i, class_names[int(i)], p) for i, p in zip(top.indices, top.values, strict=True)]


@pytest.mark.parametrize(
    "answer",
    [
        _classify_with_tensors,
        _classify_returning(lambda i, name, p: (np.int64(i), name, np.float32(p))),
        _classify_returning(lambda i, name, p: (np.uint8(i), name, np.array(p))),
        _classify_returning(lambda i, name, p: [i, name, p]),
    ],
)
def test_6_3_accepts_indices_and_probabilities_of_any_integer_and_float_type(answer):
    result = checks.exercise_6_3(answer)
    assert result.passed, result.message


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_classify_returning(lambda i, name, p: (str(i), name, p)), "one is a str ('1')"),
        (_classify_returning(lambda i, name, p: (float(i), name, p)), "one is a float (1.0)"),
        (_classify_returning(lambda i, name, p: (np.float64(i), name, p)), "NumPy float64"),
        (_classify_returning(lambda i, name, p: (i == 0, name, p)), "one is a bool"),
    ],
)
def test_6_3_an_index_that_is_not_an_integer_is_refused(answer, phrase):
    result = checks.exercise_6_3(answer)
    assert _fails_with(result, "the index of each prediction should be an integer")
    assert phrase in result.message


def test_6_3_a_probability_that_is_not_a_number_is_refused():
    result = checks.exercise_6_3(_classify_returning(lambda i, name, p: (i, name, f"{p:.3f}")))
    assert _fails_with(result, "the probability of each prediction should be a number")
    assert "a str ('0." in result.message


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_6_3_nan_or_infinite_probabilities_are_named(value):
    result = checks.exercise_6_3(_classify_returning(lambda i, name, p: (i, name, value)))
    assert _fails_with(result, "a probability that is NaN or infinite")
    assert f"(1, 'bee', {value})" in result.message and "Expected [(" in result.message


def test_6_3_percentages_are_not_called_logits():
    result = checks.exercise_6_3(_classify_returning(lambda i, name, p: (i, name, 100 * p)))
    assert _fails_with(result, "these are percentages (probability × 100)")
    assert "logits" not in result.message and "apply softmax" not in result.message


def test_6_3_values_above_1_that_are_neither_logits_nor_percentages_say_what_they_span():
    result = checks.exercise_6_3(_classify_returning(lambda i, name, p: (i, name, p + 1)))
    assert _fails_with(result, "a probability is a number from 0 to 1, yours go from 1.")
    assert "these are logits" not in result.message and "expected [(" in result.message


@pytest.mark.parametrize("container", [tuple, list])
def test_6_3_a_single_prediction_is_told_apart_from_a_list_of_k(container):
    def one_prediction(path, backbone, class_names, k):
        return container(_classify()(path, backbone, class_names, k)[0])

    result = checks.exercise_6_3(one_prediction)
    assert _fails_with(result, "you returned one prediction, ")
    assert "return a list of the k most probable predictions" in result.message
    assert "one is" not in result.message


def _classify_with_k_written_in(path, backbone, class_names, k=5):  # a student's: k ignored
    x = np.asarray(Image.open(path).convert("RGB"))
    probs = pretrained.softmax(backbone.model.predict_on_batch(backbone.prepare(x[None])))
    return pretrained.decode_top_k(probs, 3, class_names)[0]  # k ignored, 3 typed in


def test_6_3_a_k_written_in_is_caught_with_another_k():
    result = checks.exercise_6_3(_classify_with_k_written_in)
    assert _fails_with(result, "right for k=3, but for k=2 you returned 3 predictions again")
    assert "k the argument, not a number written in" in result.message


def test_6_3_an_index_beyond_the_classes_is_called_out_of_range():
    result = checks.exercise_6_3(lambda path, backbone, names, k: [(99, "x", 0.5)] * k)
    assert _fails_with(result, "you returned the index 99, out of range")
    assert "class_names has 6 classes here, indices 0 to 5" in result.message
    assert "do not match" not in result.message


# --- 6.4 transfer model ----------------------------------------------------------------


def _transfer(
    freeze=True, units=None, activation="softmax", use_backbone=True, training=False, rate=0.5
):
    def build(backbone, num_classes):
        backbone.trainable = not freeze and backbone.trainable or (freeze is False)
        if freeze:
            backbone.trainable = False
        inputs = keras.Input(backbone.input_shape[1:])
        if not use_backbone:
            x = keras.layers.GlobalAveragePooling2D()(inputs)
        else:
            x = backbone(inputs, training=training) if training is not None else backbone(inputs)
        if rate:
            x = keras.layers.Dropout(rate)(x)
        outputs = keras.layers.Dense(units or num_classes, activation=activation)(x)
        return keras.Model(inputs, outputs)

    return build


def _frozen_after_building(backbone, num_classes):
    """Right, written differently: the backbone frozen once the model is built, keras.layers.Input,
    the softmax as a layer of its own."""
    inputs = keras.layers.Input(shape=backbone.input_shape[1:])
    features = backbone(inputs, training=False)
    scores = keras.layers.Dense(num_classes)(keras.layers.Dropout(rate=0.5)(features))
    model = keras.Model(inputs, keras.layers.Softmax()(scores))
    backbone.trainable = False
    return model


def _frozen_by_layer(backbone, num_classes):
    """Right, written differently: every layer frozen one by one, the layers chained in a loop."""
    for layer in backbone.layers:
        layer.trainable = False
    x = inputs = keras.Input(backbone.input_shape[1:])
    x = backbone(x, training=False)
    for layer in (
        keras.layers.Dropout(0.5),
        keras.layers.Dense(num_classes, activation=keras.activations.softmax),
    ):
        x = layer(x)
    return keras.Model(inputs=inputs, outputs=x)


def nested_head(backbone, num_classes):
    """Right, written differently (a student's): the head is a Sequential of its own."""
    backbone.trainable = False
    inputs = keras.Input(backbone.input_shape[1:])
    feats = backbone(inputs, training=False)
    head = keras.Sequential(
        [keras.layers.Dropout(0.5), keras.layers.Dense(num_classes, activation="softmax")]
    )
    return keras.Model(inputs, head(feats))


def _nested_backbone(backbone, num_classes):
    """Right, written differently: the backbone called inside a functional model of its own."""
    backbone.trainable = False
    inputs = keras.Input(backbone.input_shape[1:])
    features = keras.Model(inputs, backbone(inputs, training=False), name="features")
    outer = keras.Input(backbone.input_shape[1:])
    x = keras.layers.Dropout(0.5)(features(outer))
    return keras.Model(outer, keras.layers.Dense(num_classes, activation="softmax")(x))


@pytest.mark.parametrize(
    "answer", [_transfer(), _frozen_after_building, _frozen_by_layer, nested_head, _nested_backbone]
)
def test_6_4_accepts_a_frozen_backbone_with_a_softmax_head(answer):
    result = checks.exercise_6_4(answer)
    assert result.passed, result.message


def _nested_head_with(*head_layers, training=False):
    def build(backbone, num_classes):
        backbone.trainable = False
        inputs = keras.Input(backbone.input_shape[1:])
        feats = backbone(inputs, training=training)
        head = keras.Sequential(
            [
                layer if layer != "dense" else keras.layers.Dense(num_classes, activation="softmax")
                for layer in head_layers
            ]
        )
        return keras.Model(inputs, head(feats))

    return build


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_nested_head_with(keras.layers.Dropout(0.2), "dense"), "Dropout with rate [0.2]"),
        (_nested_head_with("dense"), "no Dropout"),
        (
            _nested_head_with("dense", keras.layers.Dropout(0.5)),
            "Dropout comes after the Dense layer",
        ),
        (
            _nested_head_with(keras.layers.Dropout(0.5), "dense", training=None),
            "not called with training=False (it was left out, or True)",
        ),
    ],
)
def test_6_4_looks_inside_a_head_written_as_a_model_of_its_own(answer, phrase):
    assert _fails_with(checks.exercise_6_4(answer), phrase)


def test_6_4_a_sequential_around_the_backbone_calls_it_in_training_mode():
    def build(backbone, num_classes):
        backbone.trainable = False
        return keras.Sequential(
            [
                keras.Input(backbone.input_shape[1:]),
                backbone,
                keras.layers.Dropout(0.5),
                keras.layers.Dense(num_classes, activation="softmax"),
            ]
        )

    assert _fails_with(
        checks.exercise_6_4(build), "not called with training=False (it was left out, or True)"
    )


def _dropout_after(where):
    def build(backbone, num_classes):
        backbone.trainable = False
        inputs = keras.Input(backbone.input_shape[1:])
        x = keras.layers.Dropout(0.5)(inputs) if where == "input" else inputs
        x = keras.layers.Dense(num_classes, activation="softmax")(backbone(x, training=False))
        if where == "dense":
            x = keras.layers.Dropout(0.5)(x)
        return keras.Model(inputs, x)

    return build


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_transfer(freeze=False), "backbone.trainable = False"),
        (_transfer(units=1000), "1000 outputs"),
        (_transfer(units=3), "expected (None, 7)"),
        (_transfer(activation=None), "activation='softmax'"),
        (_transfer(use_backbone=False), "not inside your model"),
        (lambda backbone, n: None, "forget to `return`"),
        (_transfer(training=None), "not called with training=False (it was left out, or True)"),
        (_transfer(training=True), "not called with training=False (it was left out, or True)"),
        (_transfer(rate=0.2), "Dropout with rate [0.2]"),
        (_transfer(rate=0), "no Dropout"),
        (_dropout_after("dense"), "Dropout comes after the Dense layer"),
        (_dropout_after("input"), "Dropout comes before the backbone"),
    ],
)
def test_6_4_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_6_4(answer), phrase)


def _head_with_an_extra(layer):
    """A student's: a frozen backbone, but one more layer with weights in the head."""

    def build(backbone, num_classes):
        backbone.trainable = False
        inputs = keras.Input(backbone.input_shape[1:])
        x = layer()(backbone(inputs, training=False))
        x = keras.layers.Dropout(0.5)(x)
        return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))

    return build


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (
            _head_with_an_extra(lambda: keras.layers.Dense(64, activation="relu")),
            "more layers with weights than the Dense layer: Dense(64) (81,984 weights)",
        ),
        (
            _head_with_an_extra(keras.layers.BatchNormalization),
            "more layers with weights than the Dense layer: BatchNormalization (2,560 weights)",
        ),
        (
            _nested_head_with(keras.layers.Dense(32), keras.layers.Dropout(0.5), "dense"),
            "Dense(32)",
        ),
    ],
)
def test_6_4_an_extra_layer_in_the_head_is_named_not_blamed_on_the_backbone(answer, phrase):
    result = checks.exercise_6_4(answer)
    assert _fails_with(result, phrase)
    assert "the backbone is frozen, right" in result.message
    assert "backbone.trainable = False" not in result.message


class _SubclassedHead(keras.Model):
    def __init__(self, backbone, num_classes):
        super().__init__()
        self.backbone = backbone
        self.drop = keras.layers.Dropout(0.5)
        self.out = keras.layers.Dense(num_classes, activation="softmax")

    def call(self, x, training=False):
        return self.out(self.drop(self.backbone(x, training=False), training=training))


def _subclassed(backbone, num_classes):  # a student's: the model as a subclass
    backbone.trainable = False
    model = _SubclassedHead(backbone, num_classes)
    model(np.zeros((1, *backbone.input_shape[1:]), np.float32))
    return model


def _sequential_never_built(backbone, num_classes):
    backbone.trainable = False
    return keras.Sequential(
        [keras.layers.Dropout(0.5), keras.layers.Dense(num_classes, activation="softmax")]
    )


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_subclassed, "your model is a subclass of keras.Model (_SubclassedHead)"),
        (_sequential_never_built, "your Sequential model has no input yet"),
    ],
)
def test_6_4_a_model_keras_cannot_read_the_layers_of_asks_for_the_functional_form(answer, phrase):
    result = checks.exercise_6_4(answer)
    assert _fails_with(result, phrase)
    assert "keras.Input(backbone.input_shape[1:])" in result.message
    assert "check itself failed" not in result.message


def test_6_4_a_frozen_head_is_named():
    def everything_frozen(backbone, num_classes):
        model = _transfer()(backbone, num_classes)
        model.trainable = False
        return model

    assert _fails_with(checks.exercise_6_4(everything_frozen), "nothing is trainable")


def _unfrozen_again(which):
    """A student's: backbone.trainable = False, then some of its layers trainable again."""

    def build(backbone, num_classes):
        backbone.trainable = False
        for layer in backbone.layers:
            if which(layer):
                layer.trainable = True
        inputs = keras.Input(backbone.input_shape[1:])
        x = keras.layers.Dropout(0.5)(backbone(inputs, training=False))
        return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))

    return build


@pytest.mark.parametrize(
    ("which", "phrase"),
    [
        (
            lambda layer: isinstance(layer, keras.layers.BatchNormalization),
            "but 49 BatchNormalization layers inside it (stem_bn, block0_dw_bn, "
            "block0_project_bn, ...) were made trainable again afterwards",
        ),
        (
            lambda layer: layer.name == "head_conv",
            "but 1 layer inside it (head_conv) was made trainable again",
        ),
    ],
)
def test_6_4_layers_made_trainable_inside_a_frozen_backbone_are_named_not_the_head(which, phrase):
    result = checks.exercise_6_4(_unfrozen_again(which))
    assert _fails_with(result, "backbone.trainable is False, but ")
    assert phrase in result.message and "only the head's 8,967 weights" in result.message
    assert "the backbone is frozen" not in result.message and "Dropout(0.5)" not in result.message


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda backbone, n: (_transfer()(backbone, n), backbone), "you returned a tuple of 2"),
        (lambda backbone, n: [_transfer()(backbone, n)], "you returned a list of 1 items"),
        (lambda backbone, n: "model", "expected a keras.Model, got a str ('model')."),
    ],
)
def test_6_4_something_returned_that_is_not_a_model_is_not_asked_if_return_was_forgotten(
    answer, phrase
):
    result = checks.exercise_6_4(answer)
    assert _fails_with(result, phrase)
    assert "forget" not in result.message


# --- 6.5 unfreezing --------------------------------------------------------------------


def _unfreeze(set_backbone=True, keep_bn_frozen=True, freeze_below=True, unfreeze_above=True):
    def unfreeze_top(backbone, first_layer):
        if set_backbone:
            backbone.trainable = True
        names = [layer.name for layer in backbone.layers]
        start = names.index(first_layer)
        for i, layer in enumerate(backbone.layers):
            above = i >= start
            is_bn = isinstance(layer, keras.layers.BatchNormalization)
            if above:
                layer.trainable = unfreeze_above and not (keep_bn_frozen and is_bn)
            elif freeze_below:
                layer.trainable = False

    return unfreeze_top


def _unfreeze_by_slices(backbone, first_layer):
    """Right, written differently: the layers before and from first_layer as two slices."""
    backbone.trainable = True
    start = [layer.name for layer in backbone.layers].index(first_layer)
    for layer in backbone.layers[:start]:
        layer.trainable = False
    for layer in backbone.layers[start:]:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def _unfreeze_with_a_flag(backbone, first_layer):
    """Right, written differently: one pass that switches on at first_layer, a returned backbone."""
    backbone.trainable = True
    reached = False
    for layer in backbone.layers:
        reached = reached or layer.name == first_layer
        layer.trainable = reached and type(layer).__name__ != "BatchNormalization"
    return backbone


def _unfreeze_until_break(backbone, first_layer):
    """Right, written differently: freeze until first_layer is met, then BatchNorm everywhere."""
    backbone.trainable = True
    for layer in backbone.layers:
        if layer.name == first_layer:
            break
        layer.trainable = False
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


@pytest.mark.parametrize(
    "answer", [_unfreeze(), _unfreeze_by_slices, _unfreeze_with_a_flag, _unfreeze_until_break]
)
def test_6_5_accepts_the_top_layers_unfrozen_with_batchnorm_kept_frozen(answer):
    assert checks.exercise_6_5(answer).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_unfreeze(set_backbone=False), "backbone.trainable is still False"),
        (_unfreeze(keep_bn_frozen=False), "BatchNormalization layers are trainable"),
        (_unfreeze(freeze_below=False), "every layer is trainable"),
        (_unfreeze(unfreeze_above=False), "no layer from block15_expand_conv on is trainable"),
        (lambda b, first: None, "backbone.trainable is still False"),
    ],
)
def test_6_5_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_6_5(answer), phrase)


def _unfreeze_a_clone(backbone, first_layer):  # a student's: the copy unfrozen, not the backbone
    m = keras.models.clone_model(backbone)
    m.trainable = True
    frozen = True
    for layer in m.layers:
        if layer.name == first_layer:
            frozen = False
        layer.trainable = not frozen and not isinstance(layer, keras.layers.BatchNormalization)
    return m


@pytest.mark.parametrize(
    ("answer", "returned"), [(_unfreeze_a_clone, True), (lambda b, first: None, False)]
)
def test_6_5_a_backbone_left_as_it_was_is_told_to_be_changed_in_place(answer, returned):
    result = checks.exercise_6_5(answer)
    assert _fails_with(result, "backbone.trainable is still False and no layer's flag changed")
    assert "must change the backbone it is given, in place, as the task says" in result.message
    assert ("returned another model" in result.message) is returned
    assert "not on a copy (keras.models.clone_model)" in result.message


def test_6_5_the_model_flag_set_after_the_layers_flags_is_told_it_undoes_them():
    def flags_then_model(backbone, first_layer):  # a student's: the model's flag set last
        _unfreeze(set_backbone=False)(backbone, first_layer)
        backbone.trainable = True

    result = checks.exercise_6_5(flags_then_model)
    assert _fails_with(result, "every layer is trainable")
    assert "set after the layers' own flags, it undoes them" in result.message


@pytest.mark.parametrize(
    ("number", "recipe"),
    [
        ("6.2", ["antialias", "image.resize", "astype", "(x - 127) / 128"]),
        ("6.5", ["trainable = True", "non-trainable"]),
        ("6.6", ["only_b_right >", "both hold", "clearly behind, too"]),
    ],
)
def test_6_2_6_5_and_6_6_task_texts_state_the_contract_not_the_steps(number, recipe):
    text = task_text(number)
    assert [step for step in recipe if step in text] == []


def test_6_5_a_few_lower_layers_left_trainable_are_named():
    def leaky(backbone, first_layer):
        _unfreeze()(backbone, first_layer)
        backbone.get_layer("block3_dw_conv").trainable = True

    assert _fails_with(checks.exercise_6_5(leaky), "block3_dw_conv")


def _unfreeze_from(offset, keep_bn_frozen=True):
    """A student's: unfreezing from ``offset`` layers after first_layer (before, if < 0)."""

    def unfreeze_top(backbone, first_layer):
        backbone.trainable = True
        start = [layer.name for layer in backbone.layers].index(first_layer) + offset
        for i, layer in enumerate(backbone.layers):
            is_bn = isinstance(layer, keras.layers.BatchNormalization)
            layer.trainable = i >= start and not (keep_bn_frozen and is_bn)

    return unfreeze_top


def test_6_5_a_layer_without_weights_before_first_layer_must_be_frozen_too():
    result = checks.exercise_6_5(_unfreeze_from(-1))
    assert _fails_with(result, "you unfreeze from 1 layer before block15_expand_conv")
    assert "block14_add (no weights) should stay frozen" in result.message
    assert "without - 1" in result.message


def test_6_5_a_cut_two_layers_early_names_both_layers():
    result = checks.exercise_6_5(_unfreeze_from(-2, keep_bn_frozen=False))
    assert _fails_with(result, "you unfreeze from 2 layers before block15_expand_conv")
    assert "block14_project_bn (with weights), block14_add (no weights)" in result.message


def test_6_5_the_input_layer_is_left_out_as_its_flag_does_not_survive_a_rebuilt_model():
    def input_layer_left_trainable(backbone, first_layer):
        _unfreeze()(backbone, first_layer)
        backbone.layers[0].trainable = True  # the InputLayer, "image"

    assert isinstance(checks.lesson06._small_lite0().layers[0], keras.layers.InputLayer)
    assert checks.exercise_6_5(input_layer_left_trainable).passed


def test_6_5_first_layer_itself_left_frozen_is_named():
    result = checks.exercise_6_5(_unfreeze_from(1))
    assert _fails_with(result, "block15_expand_conv itself is still frozen")
    assert "(>=, not >)" in result.message


def test_6_5_layers_without_weights_far_below_the_cut_are_named():
    def leaky(backbone, first_layer):
        _unfreeze()(backbone, first_layer)
        backbone.get_layer("block4_add").trainable = True

    result = checks.exercise_6_5(leaky)
    assert _fails_with(result, "1 layer before block15_expand_conv is trainable too")
    assert "block4_add" in result.message and "those without weights too" in result.message


# --- 6.6 keep the fine-tuned model? ----------------------------------------------------


def _keep_with_binomtest(y_val, pred_features, pred_fine_tuned, alpha=0.05):
    from scipy.stats import binomtest

    only_features = int(np.sum((pred_features == y_val) & (pred_fine_tuned != y_val)))
    only_fine_tuned = int(np.sum((pred_fine_tuned == y_val) & (pred_features != y_val)))
    if only_fine_tuned <= only_features:
        return False
    return binomtest(only_fine_tuned, only_features + only_fine_tuned).pvalue < alpha


def _keep_on_accuracy_and_p(y_val, pred_features, pred_fine_tuned, alpha=0.05):
    comparison = metrics.compare_classifiers(y_val, pred_features, pred_fine_tuned)
    return comparison.accuracy_b > comparison.accuracy_a and comparison.p_value < alpha


def _keep_with_math_comb(y_val, pred_features, pred_fine_tuned, alpha=0.05):
    from math import comb

    right_f, right_t = pred_features == y_val, pred_fine_tuned == y_val
    b, c = int((right_t & ~right_f).sum()), int((right_f & ~right_t).sum())
    n = b + c
    tail = sum(comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return bool(b > c and min(1.0, 2 * tail) < alpha)


def test_6_6_accepts_mcnemar_written_three_ways():
    assert checks.exercise_6_6(_keep_with_binomtest).passed
    assert checks.exercise_6_6(_keep_on_accuracy_and_p).passed
    assert checks.exercise_6_6(_keep_with_math_comb).passed


def _accuracy(y, pred):
    return np.mean(pred == y)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda y, f, t, alpha=0.05: _accuracy(y, t) > _accuracy(y, f), "often luck"),
        (
            lambda y, f, t, alpha=0.05: metrics.compare_classifiers(y, f, t).p_value < alpha,
            "check the direction",
        ),
        (lambda y, f, t, alpha=0.05: False, "that is evidence, keep it"),
        (
            lambda y, f, t, alpha=0.05: bool(metrics.compare_classifiers(y, f, t).p_value > alpha),
            "a small p is the evidence",
        ),
        (lambda y, f, t, alpha=0.05: _keep_on_accuracy_and_p(y, f, t), "not a fixed 0.05"),
        (
            lambda y, f, t, alpha=0.05: metrics.compare_classifiers(y, f, t).p_value,
            "return the decision",
        ),
        (lambda y, f, t, alpha=0.05: "fine-tuned", "return the decision"),
        (lambda y, f, t, alpha=0.05: None, "forget to `return`"),
        (lambda y, f, t: True, "TypeError"),
    ],
)
def test_6_6_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_6_6(answer), phrase)


def _keep_below(threshold):
    """keep_fine_tuned with p compared against threshold(alpha) instead of alpha."""

    def keep(y_val, pred_features, pred_fine_tuned, alpha=0.05):
        comparison = metrics.compare_classifiers(y_val, pred_features, pred_fine_tuned)
        return bool(comparison.only_b_right > comparison.only_a_right) and bool(
            comparison.p_value < threshold(alpha)
        )

    return keep


@pytest.mark.parametrize(
    ("threshold", "phrase", "not_said"),
    [
        (lambda alpha: alpha / 2, "you compare p with alpha / 2", "fixed 0.05"),
        (lambda alpha: 2 * alpha, "your threshold is larger than the alpha argument", "fixed"),
        (lambda alpha: 0.01, "your threshold is stricter than alpha", "alpha / 2"),
        (lambda alpha: 0.05, "not a fixed 0.05", "alpha / 2"),
        (lambda alpha: min(alpha, 0.05), "the alpha argument, whatever its value", "fixed 0.05"),
    ],
)
def test_6_6_names_a_threshold_other_than_alpha(threshold, phrase, not_said):
    result = checks.exercise_6_6(_keep_below(threshold))
    assert _fails_with(result, phrase)
    assert not_said not in result.message


def _keep_one_sided(y_val, pred_features, pred_fine_tuned, alpha=0.05):
    """A student's: a one-sided binomial test, "is fine-tuning better?", instead of McNemar's."""
    from scipy.stats import binomtest

    only_features = int(np.sum((pred_features == y_val) & (pred_fine_tuned != y_val)))
    only_fine_tuned = int(np.sum((pred_fine_tuned == y_val) & (pred_features != y_val)))
    if only_features + only_fine_tuned == 0:
        return False
    test = binomtest(only_fine_tuned, only_features + only_fine_tuned, alternative="greater")
    return bool(test.pvalue < alpha)


def test_6_6_a_one_sided_test_is_named():
    result = checks.exercise_6_6(_keep_one_sided)
    assert _fails_with(result, "a one-sided test (binomtest(..., alternative='greater'))")
    assert "McNemar's p-value, two-sided" in result.message
    # p < 2 alpha makes the same decisions: the message names it too
    result = checks.exercise_6_6(_keep_below(lambda alpha: 2 * alpha))
    assert _fails_with(result, "those of p < 2 × alpha")


def _keep_on_accuracy_gap(gap, counts=False):
    """A student's: fine-tuning kept when it is ahead by more than ``gap``, p never looked at."""

    def keep(y_val, pred_features, pred_fine_tuned, alpha=0.05):
        comparison = metrics.compare_classifiers(y_val, pred_features, pred_fine_tuned)
        if counts:
            return comparison.only_b_right - comparison.only_a_right > gap
        return comparison.accuracy_b - comparison.accuracy_a > gap

    return keep


@pytest.mark.parametrize(
    ("answer", "verb"),
    [
        (_keep_on_accuracy_gap(0.05), "keep"),
        (_keep_on_accuracy_gap(0.07), "drop"),
        (_keep_on_accuracy_gap(10, counts=True), "keep"),
        (
            lambda y, f, t, alpha=0.05: bool(_accuracy(y, t) - _accuracy(y, f) > alpha),
            "keep",
        ),
    ],
)
def test_6_6_a_rule_that_ignores_p_is_told_so_not_to_compare_p_with_alpha(answer, verb):
    result = checks.exercise_6_6(answer)
    assert _fails_with(result, "fine-tuning is 12 images ahead (accuracy +0.06)")
    assert f"You {verb} it in both: your decision does not follow p." in result.message
    assert "disagree on 14 images (McNemar p = 0.00" in result.message
    assert "fixed 0.05" not in result.message and "alpha argument" not in result.message


def test_6_6_accepts_p_compared_with_alpha_however_written():
    assert checks.exercise_6_6(_keep_below(lambda alpha: alpha)).passed
    assert checks.exercise_6_6(_keep_below(lambda alpha: alpha - 1e-12)).passed


def test_6_6_p_equal_to_alpha_is_not_below_it():
    def keep(y_val, pred_features, pred_fine_tuned, alpha=0.05):
        comparison = metrics.compare_classifiers(y_val, pred_features, pred_fine_tuned)
        ahead = comparison.only_b_right > comparison.only_a_right
        return bool(ahead and comparison.p_value <= alpha)

    result = checks.exercise_6_6(keep)
    assert _fails_with(result, "with alpha=0.0625 and p = 0.0625 exactly, you keep fine-tuning")
    assert "not p <= alpha" in result.message


@pytest.mark.parametrize(
    ("value", "phrase_6_3", "phrase_6_6"),
    [
        (tf.constant([1, 2, 3]), "array of shape (3,)", "type EagerTensor"),
        ({"ant": 0.9}, "returned a dict", "type dict"),
        ([], "0 predictions for k=3", "type list"),
        (np.array([True]), "array of shape (1,)", "type ndarray"),
        ([(99, "ant", 0.5)] * 3, "the index 99, out of range", "type list"),
        ([(1, "ant", 0.5)] * 3, "an index and its name do not match", "type list"),
    ],
)
def test_6_3_and_6_6_say_what_came_back_whatever_it_is(value, phrase_6_3, phrase_6_6):
    assert _fails_with(checks.exercise_6_3(lambda *args: value), phrase_6_3)
    assert _fails_with(checks.exercise_6_6(lambda *args: value), phrase_6_6)


def test_6_5_gets_the_backbone_as_built_whatever_the_last_answer_did_to_it():
    seen = []

    def records(backbone, first_layer):
        weights = [np.array(w) for w in backbone.get_weights()]
        seen.append(([layer.trainable for layer in backbone.layers], weights))
        _unfreeze()(backbone, first_layer)

    def ruins_the_backbone(backbone, first_layer):
        backbone.trainable = True
        backbone.set_weights([np.zeros_like(w) for w in backbone.get_weights()])

    assert checks.exercise_6_5(records).passed
    assert _fails_with(checks.exercise_6_5(ruins_the_backbone), "every layer is trainable")
    assert checks.exercise_6_5(records).passed
    (flags_before, weights_before), (flags_after, weights_after) = seen
    assert flags_before == flags_after and not any(flags_before)
    assert all(np.array_equal(a, b) for a, b in zip(weights_before, weights_after, strict=True))


# --- rt12-b: answers of a teacher's red-team round -----------------------------------------


def test_6_2_images_cropped_to_a_square_are_named_cropped():
    def prepare(images):  # a student's: Keras' crop_to_aspect_ratio
        x = keras.ops.image.resize(
            keras.ops.cast(images, "float32"), (224, 224), antialias=True, crop_to_aspect_ratio=True
        )
        return np.asarray((x - 127.0) / 128.0, dtype="float32")

    result = checks.exercise_6_2(prepare)
    assert _fails_with(result, "your images were cropped to a square (40x40 of 40x56)")
    assert "squashed to a square, not cropped" in task_text("6.2")


def test_6_2_colour_lost_to_grayscale_is_named():
    def prepare(images):  # a student's: grayscale, then the channel repeated
        x = tf.image.resize(
            tf.image.rgb_to_grayscale(tf.cast(images, tf.float32)), (224, 224), antialias=True
        )
        return np.repeat(((x - 127) / 128).numpy(), 3, axis=-1)

    assert _fails_with(checks.exercise_6_2(prepare), "the colour was lost")


def test_6_2_an_integer_batch_is_named_by_its_dtype_first():
    result = checks.exercise_6_2(lambda images: np.zeros((len(images), 224, 224, 3), np.int8))
    assert _fails_with(result, "your prepared batch holds int8 values")
    assert "values differ" not in result.message


def test_6_3_an_exception_quoted_in_the_message_is_cut_between_words():
    result = checks.exercise_6_3(_classify(read=lambda path: np.asarray(Image.open(path))))
    assert _fails_with(result, "your code raised ValueError")
    assert "layer: ex." not in result.message
    assert " …. Convert every file to RGB" in result.message


@pytest.mark.parametrize(
    ("number", "copies"),
    [
        ("6.2", "`classifier.prepare` and `pretrained.resize` (used above) are the course's"),
        ("6.3", "`pretrained.read_image` and `pretrained.classify_file` are the course's copies"),
        ("6.5", "`pretrained.unfreeze_from` is the course's copy"),
    ],
)
def test_6_2_6_3_and_6_5_task_texts_say_the_course_s_copies_are_refused(number, copies):
    text = " ".join(task_text(number).split())
    assert copies in text
    assert "the check refuses" in text


def test_6_6_an_object_returned_is_described_not_cut_mid_word():
    result = checks.exercise_6_6(lambda y, a, b, alpha=0.05: metrics.compare_classifiers(y, a, b))
    assert _fails_with(
        result, "you returned PairedComparison(n=200, accuracy_a=0.855, accuracy_b=0.88, … (type"
    )
    assert "PairedComparison); return the decision" in result.message


def test_a_long_student_error_is_cut_between_words():
    from course_lib.checks import _core

    shown = _core.student_error(ValueError("incompatible with the layer: expected " * 10))
    assert shown.endswith(" …") and len(shown) <= 220
    assert shown[: -len(" …")].endswith(("the", "layer:", "expected", "incompatible", "with"))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_6_1_counts_in_a_type_too_small_for_1000_classes_are_told_they_wrapped(dtype):
    from course_lib.checks import lesson06

    (float32_batch, mass), _ = lesson06._fresh_cover_cases()
    assert lesson06._cover(float32_batch, mass).max() > np.iinfo(dtype).max  # the case exists
    result = checks.exercise_6_1(lambda p, m: _cover_by_cumsum(p, m).astype(dtype))
    assert _fails_with(result, f"your counts are {np.dtype(dtype)}, which holds numbers up to")
