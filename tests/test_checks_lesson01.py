"""Lesson 01 checks accept right answers written in different ways and name each common mistake."""

import numpy as np
import pytest
from PIL import Image

from course_lib import checks

WEIGHTS = np.array([0.299, 0.587, 0.114])


def _fails_with(result, phrase):
    assert not result.passed, result.message
    assert phrase in result.message, result.message
    return True


def _untouched(*args):
    raise NotImplementedError("Exercise")


JUNK = [
    lambda *a: None,
    lambda *a: {"image": 1},
    lambda *a: "text",
    lambda *a: [1, 2, 3],
    lambda *a: 3.5,
    lambda *a: [np.zeros(2), np.zeros(3)],
    lambda *a: (None, None),
    lambda *a: np.zeros((2, 2), object),
]


@pytest.mark.parametrize("exercise", ["1_1", "1_2", "1_3", "1_4"])
@pytest.mark.parametrize("junk", JUNK)
def test_any_return_value_gives_not_yet_and_never_crashes(exercise, junk):
    result = getattr(checks, f"exercise_{exercise}")(junk)
    assert not result.passed and result.message


@pytest.mark.parametrize("exercise", ["1_1", "1_2", "1_3", "1_4"])
def test_unattempted_exercise_says_so_and_a_non_function_is_named(exercise):
    check = getattr(checks, f"exercise_{exercise}")
    assert _fails_with(check(_untouched), "not attempted yet")
    assert _fails_with(check(np.zeros(3)), "expected a function")


# ---------------------------------------------------------------- 1.1 grayscale


def _pillow(photo):
    return np.asarray(Image.fromarray(photo).convert("L"))


def _channels_by_hand(photo):
    red, green, blue = (photo[..., c].astype(np.float32) for c in range(3))
    return np.rint(0.299 * red + 0.587 * green + 0.114 * blue).astype(np.uint8)


@pytest.mark.parametrize(
    "answer",
    [
        lambda p: np.round(p.astype(np.float64) @ WEIGHTS).astype(np.uint8),
        _pillow,
        _channels_by_hand,
        lambda p: np.clip(np.einsum("hwc,c->hw", p, WEIGHTS) + 0.5, 0, 255).astype(np.uint8),
        lambda p: np.asarray([[round(float(px @ WEIGHTS)) for px in row] for row in p], "uint8"),
    ],
)
def test_1_1_accepts_rounded_luminance_however_computed(answer):
    assert checks.exercise_1_1(answer).passed


def _with_nan(photo):
    gray = np.round(photo @ WEIGHTS)
    gray[0, 0] = np.nan  # one pixel lost on the way
    return gray


def _paired_indices(image, height, width):  # rows[:, None] forgotten
    rows = ((np.arange(height) + 0.5) * image.shape[0] / height).astype(int)
    cols = ((np.arange(width) + 0.5) * image.shape[1] / width).astype(int)
    return image[rows, cols]


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda p: p.mean(axis=-1), "averaged the channels equally"),
        (lambda p: (p[..., 0] + p[..., 1] + p[..., 2]) / 3, "wraps around to 44"),
        (lambda p: (p @ WEIGHTS).astype(np.uint8), "pixels are one too low"),
        (lambda p: p @ WEIGHTS, "still has fractions"),
        (lambda p: np.round(p @ WEIGHTS), "type is float64"),
        (
            lambda p: np.round(p @ WEIGHTS).astype(np.uint8).tolist(),
            "you returned a list (of lists), not an image array",
        ),
        (lambda p: p, "still has 3 channels"),
        (lambda p: np.round(p @ WEIGHTS).astype(np.uint8)[..., None], "drop the last axis"),
        (lambda p: (p @ WEIGHTS) / 255, "keep the 0-255 scale"),
        (lambda p: np.round(p[..., ::-1] @ WEIGHTS).astype(np.uint8), "reverse (BGR)"),
        (
            lambda p: np.round(p @ np.array([0.2, 0.7, 0.1])).astype(np.uint8),
            "but with weights of about 0.20, 0.70 and 0.10 for R, G and B, not 0.299",
        ),
        (
            lambda p: (p * np.array([77, 150, 29], np.uint8)).sum(axis=-1, dtype=np.uint8),
            "in uint8, sums above 255 wrap around",
        ),
        (lambda p: None, "forget to `return`"),
        (lambda p: np.round(p @ WEIGHTS).astype(np.uint8).T, "swapped"),
        (lambda p: p @ np.ones(4), "ValueError"),
        (_with_nan, "1 of 96 values of your grayscale image are not numbers"),
    ],
)
def test_1_1_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_1_1(answer), phrase)


# ---------------------------------------------------------------- 1.2 centre crop


def _crop(image, height, width):
    rows, cols = image.shape[:2]
    if height > rows or width > cols:
        raise ValueError("too large")
    top, left = (rows - height) // 2, (cols - width) // 2
    return image[top : top + height, left : left + width]


def _crop_with_divmod(image, height, width):
    if height > image.shape[0] or width > image.shape[1]:
        raise ValueError(f"{height}x{width} does not fit in {image.shape}")
    cut_rows, cut_cols = image.shape[0] - height, image.shape[1] - width
    top, bottom = divmod(cut_rows, 2)[0], image.shape[0] - (cut_rows - cut_rows // 2)
    left, right = cut_cols // 2, image.shape[1] - (cut_cols - cut_cols // 2)
    return image[np.s_[top:bottom], np.s_[left:right]].copy()


def _crop_with_keras(image, height, width):
    import keras

    if height > image.shape[0] or width > image.shape[1]:
        raise ValueError("the crop is larger than the image")
    batch = image.reshape(1, *image.shape[:2], -1).astype(np.float32)
    out = keras.ops.convert_to_numpy(keras.layers.CenterCrop(height, width)(batch))[0]
    return out.reshape(height, width, *image.shape[2:]).astype(image.dtype)


def _crop_top_extra(image, height, width):
    if height > image.shape[0] or width > image.shape[1]:
        raise ValueError
    top, left = -(-(image.shape[0] - height) // 2), -(-(image.shape[1] - width) // 2)
    return image[top : top + height, left : left + width]


def _crop_halves(image, height, width):
    if height > image.shape[0] or width > image.shape[1]:
        raise ValueError
    top, left = image.shape[0] // 2 - height // 2, image.shape[1] // 2 - width // 2
    return image[top : top + height, left : left + width]


def _crop_minus_margin(image, height, width):
    m, n = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
    return image[m:-m, n:-n]


def _crop_negative_end(image, height, width):
    # Right for every odd and even margin, except a margin of 0: image[0:-0] is empty.
    cut_rows, cut_cols = image.shape[0] - height, image.shape[1] - width
    top, left = cut_rows // 2, cut_cols // 2
    return image[top : -(cut_rows - top), left : -(cut_cols - left)]


@pytest.mark.parametrize("answer", [_crop, _crop_with_divmod, _crop_with_keras])
def test_1_2_accepts_the_centred_crop_however_sliced(answer):
    assert checks.exercise_1_2(answer).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_crop_top_extra, "one row too far down and one column too far right"),
        (_crop_halves, "rounds twice"),
        (_crop_minus_margin, "one too many rows or columns"),
        (_crop_negative_end, "is empty"),
        (lambda im, h, w: im[:h, :w], "top-left corner"),
        (
            lambda im, h, w: im[(im.shape[0] - h) // 2 :][:h, (im.shape[1] - w) // 2 :][:, :w],
            "without complaint",
        ),
        (lambda im, h, w: _crop(im, w, h), "swapped"),
        (lambda im, h, w: _crop(im, h, w).astype(np.float64), "changed the dtype"),
        (lambda im, h, w: _crop(im, h, w) if h <= im.shape[0] else im[h], "raised IndexError"),
        (lambda im, h, w: im[-h:, -w:] if h <= im.shape[0] else _crop(im, h, w), "starts at row"),
    ],
)
def test_1_2_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_1_2(answer), phrase)


def _crop_halving_each_size(image, height, width):  # a student's, as the task warns
    h, w = image.shape[:2]
    if height > h or width > w:
        raise ValueError("too big")
    top = h // 2 - height // 2
    left = w // 2 - width // 2
    return image[top : top + height, left : left + width]


def test_1_2_a_crop_one_off_on_one_axis_names_that_axis_only():
    result = checks.exercise_1_2(_crop_halving_each_size)
    assert _fails_with(
        result,
        "your crop of a 7 x 10 image starts at column 4, one column too far right (its row, 1, "
        "is right): with an odd margin the extra column goes at the right, so top = "
        "(h - height) // 2 = 1 and left = (w - width) // 2 = 3.",
    )
    assert "row 1, column 4" not in result.message


def test_1_2_a_crop_one_row_too_low_names_the_row_only():
    def answer(image, height, width):
        top = -(-(image.shape[0] - height) // 2)
        left = (image.shape[1] - width) // 2
        return image[top : top + height, left : left + width]

    assert _fails_with(checks.exercise_1_2(answer), "one row too far down (its column, ")


def _crop_refusing_the_whole_image(image, height, width):  # a student's: >= for >
    h, w = image.shape[:2]
    if height >= h or width >= w:
        raise ValueError("too big")
    return _crop(image, height, width)


def test_1_2_a_crop_as_large_as_the_image_that_raises_says_which_call_raised():
    result = checks.exercise_1_2(_crop_refusing_the_whole_image)
    assert _fails_with(result, "asked for a 9 x 5 crop of a 9 x 8 image (the crop's height equal")
    assert "your code raised ValueError: too big" in result.message
    assert "Raise only when the crop is larger" in result.message


def _crop_reading_the_last_two_axes(image, height, width):  # a student's
    h, w = image.shape[-2:]
    if height > h or width > w:
        raise ValueError
    top, left = (h - height) // 2, (w - width) // 2
    return image[top : top + height, left : left + width]


def _crop_height_for_both_sides(image, height, width):  # a student's
    h, w = image.shape[:2]
    if height > h or height > w:
        raise ValueError
    top, left = (h - height) // 2, (w - height) // 2
    return image[top : top + height, left : left + height]


def test_1_2_an_image_with_channels_read_as_h_w_from_its_last_axes_is_named():
    result = checks.exercise_1_2(_crop_reading_the_last_two_axes)
    assert _fails_with(result, "crop of an image of shape (9, 8, 3) (9 x 8, 3 channels), your")
    assert "though your function crops the same image without its channels" in result.message
    assert "image.shape[:2]" in result.message
    assert "Raise only when the crop is larger" not in result.message


def test_1_2_a_crop_as_wide_as_high_is_named_not_taken_for_an_odd_margin():
    result = checks.exercise_1_2(_crop_height_for_both_sides)
    assert _fails_with(result, "has shape (4, 4), 4 x 4, where a 4 x 3 crop was asked: its width")
    assert "image[m:-m]" not in result.message


def test_1_2_any_error_says_which_call_raised():
    def indexing_past_the_end(image, height, width):
        return _crop(image, height, width) if image.ndim == 2 else image[99]

    result = checks.exercise_1_2(indexing_past_the_end)
    assert _fails_with(
        result,
        "asked for a 9 x 5 crop of an image of shape (9, 8, 3) (9 x 8, 3 channels), your code "
        "raised IndexError",
    )

    def indexing_past_the_end_always(image, height, width):
        return image[99]

    result = checks.exercise_1_2(indexing_past_the_end_always)
    assert _fails_with(
        result, "asked for a 4 x 3 crop of a 7 x 10 image, your code raised IndexError"
    )


def _channels_only(image, height, width):  # a student's: (h, w, c) images only
    h, w, c = image.shape
    if height > h or width > w:
        raise ValueError("too big")
    top, left = (h - height) // 2, (w - width) // 2
    return image[top : top + height, left : left + width, :]


def test_1_2_a_function_that_fails_on_a_2_d_image_only_is_told_the_image_was_2_d():
    result = checks.exercise_1_2(_channels_only)
    assert not result.passed
    assert str(result) == (
        "❌ Not yet (exercise 1.2): asked for a 4 x 3 crop of a 2-D image of shape (7, 10) "
        "(h, w: a grayscale image, without a channel axis), your code raised ValueError: not "
        "enough values to unpack (expected 3, got 2), though your function crops the same "
        "image with a channel axis, shape (7, 10, 1), right. The task asks for (h, w) and "
        "(h, w, channels) images alike: read the height and width as image.shape[:2], which "
        "both have, rather than unpacking three sizes from image.shape."
    )


# ---------------------------------------------------------------- 1.3 nearest-neighbour resize


def _resize(image, height, width):
    rows = ((np.arange(height) + 0.5) * image.shape[0] / height).astype(int)
    cols = ((np.arange(width) + 0.5) * image.shape[1] / width).astype(int)
    return image[rows[:, None], cols]


def _resize_with_loops(image, height, width):
    out = np.empty((height, width, *image.shape[2:]), dtype=image.dtype)
    for i in range(height):
        for j in range(width):
            out[i, j] = image[
                int((2 * i + 1) * image.shape[0] // (2 * height)),
                int((2 * j + 1) * image.shape[1] // (2 * width)),
            ]
    return out


def _resize_with_pillow(image, height, width):
    channels = [
        np.asarray(
            Image.fromarray(image[..., c] if image.ndim == 3 else image).resize(
                (width, height), Image.Resampling.NEAREST
            )
        )
        for c in range(image.shape[2] if image.ndim == 3 else 1)
    ]
    return np.stack(channels, axis=-1) if image.ndim == 3 else channels[0]


def _resize_with_take(image, height, width):
    rows = np.floor((np.arange(height) + 0.5) * (image.shape[0] / height)).astype(np.intp)
    cols = np.floor((np.arange(width) + 0.5) * (image.shape[1] / width)).astype(np.intp)
    return np.take(np.take(image, rows, axis=0), cols, axis=1)


@pytest.mark.parametrize(
    "answer", [_resize, _resize_with_loops, _resize_with_pillow, _resize_with_take]
)
def test_1_3_accepts_centre_sampling_however_computed(answer):
    assert checks.exercise_1_3(answer).passed


def _resize_gray_only(image, height, width):
    out = np.zeros((height, width), dtype=image.dtype)
    for i in range(height):
        for j in range(width):
            out[i, j] = image[
                (2 * i + 1) * image.shape[0] // (2 * height),
                (2 * j + 1) * image.shape[1] // (2 * width),
            ]
    return out


def _by_rule(rule):
    def resize(image, height, width):
        return image[rule(image.shape[0], height)[:, None], rule(image.shape[1], width)]

    return resize


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_by_rule(lambda n, m: np.arange(m) * n // m), "top-left edge"),
        (_by_rule(lambda n, m: np.round((np.arange(m) + 0.5) * n / m).astype(int)), "not round"),
        (_by_rule(lambda n, m: ((np.arange(m) + 1) * n / m).astype(int)), "never round up"),
        (_by_rule(lambda n, m: np.round(np.linspace(0, n - 1, m)).astype(int)), "align corners"),
        (lambda im, h, w: im[:: im.shape[0] // h, :: im.shape[1] // w], "divide exactly"),
        (lambda im, h, w: _resize(im, w, h), "swapped"),
        (lambda im, h, w: _resize(im, h, w).astype(np.float64), "keep the dtype"),
        (
            lambda im, h, w: _by_rule(
                lambda n, m: ((np.arange(m) + 0.5) * im.shape[0] / h).astype(int)
            )(im, h, w),
            "rows' scale",
        ),
        (lambda im, h, w: _resize(im, h, w)[::-1], "not the source pixel under their centre"),
        (_resize_gray_only, "ValueError"),
        (_paired_indices, "image[rows[:, None], cols]"),
    ],
)
def test_1_3_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_1_3(answer), phrase)


def test_1_3_an_answer_that_resizes_with_pillow_is_told_the_error_is_pillow_s():
    def answer(image, height, width):  # a student's: the task says without Pillow
        resized = Image.fromarray(image).resize((width, height), Image.Resampling.NEAREST)
        return np.asarray(resized)

    result = checks.exercise_1_3(answer)
    assert _fails_with(
        result,
        "resizing 15 x 5 to 6 x 8: your code raised TypeError: Cannot handle this data type: "
        "(1, 1, 3), <f4. That error is Pillow's: Image.fromarray has no mode for a float32 "
        "colour image, one of those the check resizes. The task asks for NumPy indexing, "
        "without Pillow",
    )


def test_1_3_indices_paired_instead_of_crossed_are_not_told_they_ran_past_the_edge():
    result = checks.exercise_1_3(_paired_indices)
    assert not result.passed and "one past the last pixel" not in result.message


@pytest.mark.parametrize(
    "rule",
    [
        lambda n, m: np.round((np.arange(m) + 0.5) * n / m - 0.5).astype(int),
        lambda n, m: (np.ceil((np.arange(m) + 0.5) * n / m) - 1).astype(int),
    ],
)
def test_1_3_a_centre_on_a_border_must_go_to_the_pixel_that_starts_there(rule):
    result = checks.exercise_1_3(_by_rule(rule))
    assert _fails_with(result, "exact halving")
    assert "resizing 8 x 6 to 4 x 3" in result.message
    assert "np.floor or int()" in result.message


def test_1_3_rounding_kept_in_bounds_is_still_named():
    rounded = _by_rule(
        lambda n, m: np.minimum(np.round((np.arange(m) + 0.5) * n / m), n - 1).astype(int)
    )
    assert _fails_with(checks.exercise_1_3(rounded), "use np.floor or int(), not round")


# ---------------------------------------------------------------- 1.4 standardise


def _standardise(x_train, x_test):
    train = x_train.astype(np.float64)
    mean, std = train.mean(), train.std()
    return ((train - mean) / std).astype(np.float32), ((x_test - mean) / std).astype(np.float32)


def _standardise_with_keras(x_train, x_test):
    import keras

    layer = keras.layers.Normalization(axis=None)
    layer.adapt(x_train.astype(np.float32))
    return (
        keras.ops.convert_to_numpy(layer(x_train.astype(np.float32))),
        keras.ops.convert_to_numpy(layer(x_test.astype(np.float32))),
    )


def _standardise_scaled_first(x_train, x_test):
    scale = 255.0 if x_train.dtype == np.uint8 else 1.0
    train, test = x_train / np.float32(scale), x_test / np.float32(scale)
    mean, std = np.mean(train, dtype=np.float64), np.std(train, dtype=np.float64)
    return [np.float32((train - mean) / std), np.float32((test - mean) / std)]


@pytest.mark.parametrize(
    "answer", [_standardise, _standardise_with_keras, _standardise_scaled_first]
)
def test_1_4_accepts_training_statistics_however_computed(answer):
    assert checks.exercise_1_4(answer).passed


def _with(mean_std):
    def standardise(x_train, x_test):
        train, test = x_train.astype(np.float64), x_test.astype(np.float64)
        m_train, s_train, m_test, s_test = mean_std(train, test)
        with np.errstate(divide="ignore", invalid="ignore"):
            return ((train - m_train) / s_train).astype(np.float32), (
                (test - m_test) / s_test
            ).astype(np.float32)

    return standardise


def _pooled(train, test):
    both = np.concatenate([train.ravel(), test.ravel()])
    return both.mean(), both.std(), both.mean(), both.std()


def _per_image(train, test):
    axes = (1, 2)
    return (
        train.mean(axes, keepdims=True),
        train.std(axes, keepdims=True),
        test.mean(axes, keepdims=True),
        test.std(axes, keepdims=True),
    )


def _per_last_axis(train, test):
    """Statistics for each index of the last axis, as Normalization(axis=-1) computes them."""
    axes = tuple(range(train.ndim - 1))
    mean, std = train.mean(axis=axes), train.std(axis=axes)
    return mean, std, mean, std


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (
            _with(lambda a, b: (a.mean(), a.std(), b.mean(), b.std())),
            "test images were standardised with their own",
        ),
        (_with(_pooled), "training and test images together"),
        (_with(_per_image), "each image was standardised on its own"),
        (_with(lambda a, b: (a.mean(0), a.std(0), a.mean(0), a.std(0))), "per pixel position"),
        (_with(_per_last_axis), "for each index along axis 2 (statistics over axis (0, 1)"),
        (_with(lambda a, b: (0, 255, 0, 255)), "only scaled"),
        (_with(lambda a, b: (a.mean(), 1, a.mean(), 1)), "divide by the training std"),
        (_with(lambda a, b: (0, a.std(), 0, a.std())), "subtract the training mean"),
        (
            lambda a, b: tuple(
                ((x - x.mean().astype(a.dtype)) / x.std()).astype(np.float32) for x in (a, b)
            ),
            "wrap around",
        ),
        (lambda a, b: tuple(x.astype(np.float64) for x in _standardise(a, b)), "float64"),
        (lambda a, b: _standardise(a, b)[0], "return two arrays"),
        (lambda a, b: _standardise(a, b)[::-1], "you returned the test images first"),
        (lambda a, b: _standardise(a, b) + (None,), "length 3"),
        (lambda a, b: (_standardise(a, b)[0], _standardise(a, b)[1][:2]), "expected (10, 6, 6)"),
        (_with(lambda a, b: (a.mean(), 0.0, a.mean(), 0.0)), "inf or NaN"),
        (_with(lambda a, b: (a.mean(), a.std(ddof=1), a.mean(), a.std(ddof=1))), "(ddof=1)"),
        (
            _with(lambda a, b: (a.mean(), a.std(ddof=1), a.mean(), a.std(ddof=1))),
            "as np.std computes it",
        ),
    ],
)
def test_1_4_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_1_4(answer), phrase)


def test_check_result_shows_a_friendly_line():
    text = checks.exercise_1_2(lambda im, h, w: im[:h, :w]).text
    assert text.startswith("❌ Not yet (exercise 1.2)")
    assert checks.exercise_1_2(_crop).text.startswith("✅ Correct (exercise 1.2)")


def _standardise_in_place(x_train, x_test):
    # Works on float images, and overwrites the caller's x_train while doing so.
    x_train = x_train if x_train.dtype.kind == "f" else x_train.astype(np.float32)
    mean, std = x_train.mean(), x_train.std()
    x_train -= mean
    x_train /= std
    return x_train.astype(np.float32), ((x_test - mean) / std).astype(np.float32)


def _sample_std_for_floats(x_train, x_test):  # a student's: ddof=1 for float images only
    a, b = x_train.astype(np.float64), x_test.astype(np.float64)
    std = a.std(ddof=1 if x_train.dtype.kind == "f" else 0)
    return ((a - a.mean()) / std).astype(np.float32), ((b - a.mean()) / std).astype(np.float32)


def test_1_4_the_sample_std_is_named_for_float_images_too():
    assert _fails_with(
        checks.exercise_1_4(_sample_std_for_floats),
        "on 12 training pixels (float32 images) your standard deviation is the sample one, "
        "with n - 1 in the denominator (ddof=1)",
    )


def test_1_4_names_a_training_set_changed_in_place():
    assert _fails_with(
        checks.exercise_1_4(_standardise_in_place), "changed its input `x_train` in place"
    )


def _grayscale_into_the_photo(photo):
    photo[..., 0] = np.round(
        photo.astype(np.float64) @ [0.299, 0.587, 0.114]
    )  # reuses the red channel
    return photo[..., 0]


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (  # a student's: rounded, but to one decimal
            lambda p: np.round(p @ WEIGHTS, 1),
            "your values are the weighted sum rounded, but not to whole numbers: your grayscale "
            "image[0, 0] is 76.2, where the sum 76.24 rounds to 76",
        ),
        (
            lambda p: np.ceil(p @ WEIGHTS).astype(np.uint8),
            "pixels are one too high: the fraction was rounded up",
        ),
    ],
)
def test_1_1_rounding_other_than_to_the_nearest_whole_number_is_named(answer, phrase):
    result = checks.exercise_1_1(answer)
    assert _fails_with(result, phrase)
    assert "check the weights" not in result.message and "by up to" not in result.message


def _rounded_with_tensorflow(photo):  # tf.image.rgb_to_grayscale's weights, then np.round
    import tensorflow as tf

    gray = tf.image.rgb_to_grayscale(tf.cast(photo, tf.float64))
    return np.round(gray.numpy()[..., 0]).astype(np.uint8)


@pytest.mark.parametrize(
    "answer",
    [
        # a student's: TensorFlow's weights, rounded
        lambda p: np.round(p.astype(np.float64) @ [0.2989, 0.5870, 0.1140]).astype(np.uint8),
        _rounded_with_tensorflow,
    ],
)
def test_1_1_tensorflow_s_weights_rounded_are_named_not_taken_for_truncation(answer):
    result = checks.exercise_1_1(answer)
    assert _fails_with(
        result,
        "pixels whose weighted sum lies close to a half: your values are rounded, but from "
        "TensorFlow's weights 0.2989, 0.5870 and 0.1140 (those of tf.image.rgb_to_grayscale), "
        "not 0.299, 0.587 and 0.114. Your grayscale image[0, 4] is 163; that pixel is (R, G, B) "
        "= (240, 140, 84), and 0.299 × 240 + 0.587 × 140 + 0.114 × 84 = 163.516, which rounds "
        "to 164.",
    )
    assert "cut off" not in result.message


def test_1_1_a_sum_slightly_off_in_float16_is_named_as_such():
    result = checks.exercise_1_1(
        lambda p: np.round(p.astype(np.float16) @ WEIGHTS.astype(np.float16)).astype(np.uint8)
    )
    assert _fails_with(result, "your values are rounded, but from a sum slightly off 0.299 × R")
    assert "cut off" not in result.message and "rounded up" not in result.message


def test_1_1_a_result_clipped_below_white_is_caught_on_a_white_pixel():
    result = checks.exercise_1_1(lambda p: np.clip(np.round(p @ WEIGHTS), 0, 254).astype(np.uint8))
    assert _fails_with(result, "Your grayscale image[0, 3] is 254; that pixel is (R, G, B) = (255")


def test_1_1_a_difference_below_one_is_not_rounded_away():
    # Right everywhere but one pixel, 0.4 too high: "by up to 0" would be false.
    def nearly(photo):
        gray = np.round(photo @ WEIGHTS)
        gray[2, 5] += 0.4
        return gray

    result = checks.exercise_1_1(nearly)
    assert _fails_with(result, "values differ from the rounded weighted sum by up to 0.4.")
    assert "Your grayscale image[2, 5] is 143.4" in result.message


def test_1_1_names_a_photo_overwritten_in_place():
    assert _fails_with(
        checks.exercise_1_1(_grayscale_into_the_photo), "changed its input `photo` in place"
    )


def _crop_checks_height_only(image, height, width):
    if height > image.shape[0]:
        raise ValueError("the crop is taller than the image")
    return _crop(image, height, min(width, image.shape[1]))


def test_1_2_names_a_crop_too_wide_that_raises_nothing():
    assert _fails_with(checks.exercise_1_2(_crop_checks_height_only), "in height or in width")


def _tensorflow_s_grayscale(photo):  # a student's: weights 0.2989, 0.587, 0.114, then its
    import tensorflow as tf  # own conversion back to uint8, not the task's sum cut off

    return tf.image.rgb_to_grayscale(photo)[..., 0].numpy()


def test_1_1_tensorflow_s_grayscale_is_not_blamed_on_astype():
    result = checks.exercise_1_1(_tensorflow_s_grayscale)
    assert not result.passed
    assert str(result) == (
        "❌ Not yet (exercise 1.1): 18 of 96 pixels are one too low: your values are close to "
        "the rounded weighted sum, but they are neither that sum rounded, nor cut off, nor "
        "rounded up. Your grayscale image[0, 1] is 149; that pixel is (R, G, B) = (0, 255, 0), "
        "and 0.299 × 0 + 0.587 × 255 + 0.114 × 0 = 149.685, which rounds to 150. The task "
        "fixes the weights, 0.299, 0.587 and 0.114 (Pillow's, not those of another library's "
        "grayscale function): compute that sum in float32 or float64, and round it with "
        "np.round."
    )


def test_1_1_the_task_s_sum_cut_off_in_float32_is_still_named_truncation():
    def truncated_in_float32(photo):
        return (photo.astype(np.float32) @ WEIGHTS.astype(np.float32)).astype(np.uint8)

    result = checks.exercise_1_1(truncated_in_float32)
    assert _fails_with(result, "52 of 96 pixels are one too low: the fraction was cut off")


@pytest.mark.parametrize(
    ("exercise", "answer", "where"),
    [
        ("1_1", lambda p: np.round(p @ np.array([0.2, 0.7, 0.1])).astype(np.uint8), "image["),
        ("1_3", lambda im, h, w: _resize(im, h, w)[::-1], "your result["),
        ("1_2", lambda im, h, w: _crop(im, h, w)[::-1], "your crop["),
        (
            "1_4",
            lambda a, b: tuple(x.astype(np.float32) * 2 for x in _standardise(a, b)),
            "training images[",
        ),
    ],
)
def test_unrecognised_answers_say_where_they_first_differ(exercise, answer, where):
    result = getattr(checks, f"exercise_{exercise}")(answer)
    assert _fails_with(result, where) and "expected" in result.message


def _crop_as_list(image, height, width):
    rows, cols = image.shape[:2]
    if height > rows or width > cols:
        raise ValueError
    top, left = (rows - height) // 2, (cols - width) // 2
    return image[top : top + height, left : left + width].tolist()


def _standardise_as_lists(x_train, x_test):
    m, s = x_train.mean(), x_train.std()
    return [((x - m) / s).astype(np.float32).tolist() for x in (x_train, x_test)]


@pytest.mark.parametrize(
    ("exercise", "answer", "phrase"),
    [
        ("1_2", _crop_as_list, "your crop of a 7 x 10 image is a Python list"),
        ("1_3", lambda im, h, w: tuple(map(tuple, _resize(im, h, w))), "is a Python tuple"),
        ("1_4", _standardise_as_lists, "training images is a Python list"),
    ],
)
def test_a_python_list_is_named_as_such_not_as_a_dtype_change(exercise, answer, phrase):
    result = getattr(checks, f"exercise_{exercise}")(answer)
    assert _fails_with(result, phrase)
    assert "return the NumPy array itself" in result.message
    assert "dtype from" not in result.message and "float64" not in result.message


def _index_far_past_the_end(image, height, width):  # a student's junk
    return image[height * 1000]


def _far_edge(image, height, width):  # a student's: the pixel under each far edge
    rows = (np.arange(1, height + 1) * image.shape[0]) // height
    cols = (np.arange(1, width + 1) * image.shape[1]) // width
    return image[rows[:, None], cols]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            _index_far_past_the_end,
            "resizing 9 x 13 to 4 x 5: your code raised IndexError: index 4000 is out of "
            "bounds for axis 0 with size 9. The indices into an axis of n pixels run from 0 "
            "to n - 1: each source index is the pixel under an output pixel's centre.",
        ),
        (
            _far_edge,
            "resizing 9 x 13 to 4 x 5: your code raised IndexError: index 9 is out of bounds "
            "for axis 0 with size 9. An index reached the image's size, one past the last "
            "pixel: the last output pixel's centre lies inside the last source pixel, so take "
            "the whole-number part (floor) of (i + 0.5) * h / height, never round up.",
        ),
        (
            _paired_indices,
            "resizing 9 x 13 to 4 x 5: your code raised IndexError: shape mismatch: indexing "
            "arrays could not be broadcast together with shapes (4,) (5,). Indexing with two "
            "1-D arrays pairs them element by element;",
        ),
    ],
)
def test_1_3_the_rounding_hint_comes_only_for_an_index_one_past_the_end(answer, message):
    result = checks.exercise_1_3(answer)
    assert not result.passed
    assert str(result).startswith(f"❌ Not yet (exercise 1.3): {message}")


def test_1_1_values_right_but_wrapped_by_int8_are_named_as_int8():
    result = checks.exercise_1_1(lambda p: np.round(p @ WEIGHTS).astype(np.int8))
    assert _fails_with(result, "their type is int8, which holds -128 to 127")
    assert "in uint8, sums above 255 wrap" not in result.message


def _crop_or_none(image, height, width):  # a student's: warns and returns nothing
    if height > image.shape[0] or width > image.shape[1]:
        print("the crop is larger than the image")
        return None
    return _crop(image, height, width)


def _crop_or_whole_image(image, height, width):  # a student's: gives the image back uncropped
    if height > image.shape[0] or width > image.shape[1]:
        return image
    return _crop(image, height, width)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_crop_or_none, "your function returned None"),
        (_crop_or_whole_image, "returned the whole image, shape (5, 6), uncropped"),
    ],
)
def test_1_2_a_crop_too_large_answered_otherwise_than_by_slicing_is_named_as_such(answer, phrase):
    result = checks.exercise_1_2(answer)
    assert _fails_with(result, phrase)
    assert "Raise a ValueError" in result.message
    assert "slicing stops silently" not in result.message


def _standardise_by_variance(x_train, x_test):  # a student's: np.var for np.std
    mean, var = x_train.mean(), x_train.var()
    return ((x_train - mean) / var).astype(np.float32), ((x_test - mean) / var).astype(np.float32)


def _standardise_without_parentheses(x_train, x_test):  # a student's: x - mean / std
    mean, std = x_train.mean(), x_train.std()
    return (x_train - mean / std).astype(np.float32), (x_test - mean / std).astype(np.float32)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_standardise_by_variance, "you divided by the variance"),
        (_standardise_without_parentheses, "you computed x - mean / std"),
        (lambda x_train, x_test: None, "did you forget to `return train, test`?"),
    ],
)
def test_1_4_names_the_variance_the_missing_parentheses_and_a_missing_return(answer, phrase):
    result = checks.exercise_1_4(answer)
    assert _fails_with(result, phrase)
    assert "wrap around" not in result.message


def _standardise_in_place_on_uint8(x_train, x_test):  # a student's: x -= mean on the uint8 images
    mean, std = x_train.mean(), x_train.std()
    x_train -= mean
    x_test -= mean
    return (x_train / std).astype(np.float32), (x_test / std).astype(np.float32)


def test_1_4_an_in_place_subtraction_numpy_refuses_on_uint8_is_explained():
    result = checks.exercise_1_4(_standardise_in_place_on_uint8)
    assert _fails_with(result, "with uint8 images, your code raised UFuncTypeError")
    assert "An in-place operation such as x -= mean" in result.message
