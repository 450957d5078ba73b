"""Lesson 09's checks: each names the mistakes students make, and passes answers written other
ways."""

import math
import random

import keras
import numpy as np
import pytest
from PIL import Image, ImageOps
from solution_support import task_text

from course_lib import checks, photos
from course_lib.checks._core import fresh_inputs


def verdict(result, passed, phrase=""):
    assert result.passed is passed, result.message
    assert phrase in result.message, result.message


# ------------------------------------------------------------------ 9.1


def upright_by_hand(image):
    image = ImageOps.exif_transpose(image)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        white = Image.new("RGBA", image.size, "white")
        return Image.alpha_composite(white, image.convert("RGBA")).convert("RGB")
    return image.convert("RGB")


def turned_the_wrong_way(image):
    """Reads the tag by hand and turns the photo a quarter the wrong way (rotate() turns
    anticlockwise)."""
    image.load()  # a PNG's eXIf chunk is read with the pixels
    if image.getexif().get(0x0112) == 6:
        return image.rotate(90, expand=True).convert("RGB")
    return upright_by_hand(image)


def upright_as_array(image):
    rgba = np.asarray(ImageOps.exif_transpose(image).convert("RGBA"), np.float64)
    alpha = rgba[..., 3:] / 255
    return (rgba[..., :3] * alpha + 255 * (1 - alpha)).round().astype(np.uint8)


def upright_blended_in_numpy(image):
    """Right, written differently: the blend on white in NumPy, then back to a Pillow image."""
    return Image.fromarray(upright_as_array(image))


@pytest.mark.usefixtures("library_copies_allowed")
@pytest.mark.parametrize("answer", [photos.upright_rgb, upright_by_hand, upright_blended_in_numpy])
def test_9_1_accepts_upright_rgb_written_in_several_ways(answer):
    verdict(checks.exercise_9_1(answer), True)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda im: im.convert("RGB"), "comes out sideways"),
        (
            lambda im: ImageOps.exif_transpose(im).convert("RGB"),
            "convert('RGB') drops the alpha channel",
        ),
        (
            lambda im: (
                upright_by_hand(im)
                if im.mode != "P"
                else ImageOps.exif_transpose(im).convert("RGB")
            ),
            "a palette image keeps its transparency",
        ),
        (lambda im: ImageOps.exif_transpose(im), "in mode 'RGBA'"),
        (lambda im: np.asarray(upright_by_hand(im), np.float32) / 255, "float32 array"),
        (lambda im: None, "returned None"),
        (turned_the_wrong_way, "upside down or mirrored"),
        (
            lambda im: Image.fromarray(np.asarray(upright_by_hand(im))[..., ::-1]),
            "pixel (0, 0) is (240, 20, 20), expected (20, 20, 240)",
        ),
    ],
)
def test_9_1_names_each_mistake(answer, phrase):
    verdict(checks.exercise_9_1(answer), False, phrase)


def composited_then_turned(image):  # a student's: exif_transpose last, after alpha_composite
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    return ImageOps.exif_transpose(image.convert("RGB"))


def test_9_1_a_transparent_photo_stored_sideways_must_come_out_upright_too():
    result = checks.exercise_9_1(composited_then_turned)
    verdict(
        result,
        False,
        "the transparent RGBA PNG stored sideways with an EXIF orientation tag comes out "
        "sideways (30×48 instead of 48×30), though the sideways photo without transparency "
        "came out upright",
    )
    assert "exif_transpose applied after them finds no orientation tag" in result.message
    assert "to the image as it was opened, first" in result.message
    assert "a sideways RGBA PNG" in task_text("9.1")


def one_quarter_turn_for_every_tag(image):  # a student's: the same turn, whatever the tag
    if image.getexif().get(0x0112, 1) != 1:
        return image.rotate(-90, expand=True).convert("RGB")
    return upright_by_hand(image)


def test_9_1_a_fixed_turn_for_every_tagged_photo_is_caught_on_the_other_orientations():
    result = checks.exercise_9_1(one_quarter_turn_for_every_tag)
    verdict(result, False, "EXIF orientation")
    assert "exif_transpose" in result.message


def only_rgba_on_white(image):  # a student's answer: LA left out of the alpha modes
    image = ImageOps.exif_transpose(image)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA",):
        white = Image.new("RGBA", image.size, "white")
        return Image.alpha_composite(white, image).convert("RGB")
    return image.convert("RGB")


def la_composited_as_it_is(image):  # a student's: alpha_composite on an LA image
    image = ImageOps.exif_transpose(image)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)
    return image.convert("RGB")


def test_9_1_alpha_composite_on_an_image_that_is_not_rgba_is_explained():
    result = checks.exercise_9_1(la_composited_as_it_is)
    verdict(result, False, "on the LA PNG (gray and alpha) with a transparent band (mode LA)")
    assert "alpha_composite's complaint: it takes two RGBA images" in result.message


def test_9_1_a_transparent_la_image_is_put_on_white_too():
    result = checks.exercise_9_1(only_rgba_on_white)
    verdict(result, False, "on the LA PNG (gray and alpha) with a transparent band, the ")
    assert "transparent pixels came out as (" in result.message
    assert "not white" in result.message


def upright_on(background, white_on_top=False):
    """upright_by_hand with another background colour (RGBA), or with the layers swapped."""

    def upright(image):
        image = ImageOps.exif_transpose(image)
        if image.mode == "P":
            image = image.convert("RGBA")
        if image.mode in ("RGBA", "LA"):
            rgba = image.convert("RGBA")
            back = Image.new("RGBA", rgba.size, background)
            layers = (rgba, back) if white_on_top else (back, rgba)
            return Image.alpha_composite(*layers).convert("RGB")
        return image.convert("RGB")

    return upright


def whitened_where(condition):
    """A student's: pixels whose alpha meets condition set to white, the others kept."""

    def upright(image):
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "P"):
            pixels = np.asarray(image.convert("RGBA")).copy()
            pixels[condition(pixels[..., 3]), :3] = 255
            return Image.fromarray(pixels[..., :3])
        return image.convert("RGB")

    return upright


def pasted_on_white(image):
    """Right, written differently: pasted on a white RGB image with the alpha as the mask."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return image.convert("RGB")


@pytest.mark.parametrize(
    ("answer", "phrase", "not_said"),
    [
        (
            upright_on((255, 255, 255, 255), white_on_top=True),
            "the whole image came out white, its opaque pixels too: the white layer went on top",
            "convert('RGB')",
        ),
        (
            upright_on((0, 0, 0, 255)),
            "the transparent pixels came out black (0, 0, 0), not white (255, 255, 255): the "
            "background you put the image on is black",
            "convert('RGB')",
        ),
        (
            whitened_where(lambda alpha: alpha < 255),
            "the half-transparent pixels came out pure white: only fully transparent pixels",
            "convert('RGB')",
        ),
        (
            whitened_where(lambda alpha: alpha == 0),
            "the half-transparent pixels kept their own colour, as if they were opaque",
            "convert('RGB')",
        ),
        (
            upright_on((255, 255, 255, 0)),  # a transparent white shows nothing
            "the half-transparent pixels kept their own colour",
            "black",
        ),
    ],
)
def test_9_1_names_how_transparency_was_put_on_the_background(answer, phrase, not_said):
    for salt in (None, 3, 41):
        if salt is None:
            result = checks.exercise_9_1(answer)
        else:
            with fresh_inputs(salt):
                result = checks.exercise_9_1(answer)
        verdict(result, False, phrase)
        assert not_said not in result.message


def test_9_1_half_transparent_pixels_are_blended_on_white_however_written():
    for salt in (None, 3, 41):
        for answer in (pasted_on_white, upright_blended_in_numpy, upright_on("white")):
            if salt is None:
                verdict(checks.exercise_9_1(answer), True)
            else:
                with fresh_inputs(salt):
                    verdict(checks.exercise_9_1(answer), True)


def test_9_1_the_test_images_hold_half_transparent_pixels():
    from course_lib.checks import lesson09

    for salt in (None, 5):
        if salt is None:
            images = lesson09._test_images()
        else:
            with fresh_inputs(salt):
                images = lesson09._test_images()
        for what in ("RGBA PNG", "LA PNG"):
            image = next(image for name, (image, _) in images.items() if name.startswith(what))
            alpha = np.asarray(image.getchannel("A"))
            assert ((alpha > 100) & (alpha < 150)).sum() >= 100, what


@pytest.mark.parametrize(
    "answer",
    [
        lambda im: np.asarray(upright_by_hand(im)),  # a student's: right pixels, as an array
        upright_as_array,
        lambda im: __import__("tensorflow").constant(np.asarray(upright_by_hand(im))),
    ],
)
def test_9_1_pixels_returned_instead_of_a_pillow_image_are_named(answer):
    result = checks.exercise_9_1(answer)
    verdict(result, False, "not a Pillow image: the task asks for a Pillow image in mode 'RGB'")
    assert "Image.fromarray(pixels)" in result.message


# ------------------------------------------------------------------ 9.2


def split_with_random(files, labels, fractions, seed):
    """Python's random module, one class at a time."""
    rng = random.Random(seed)
    out = ([], [], [])
    for label in sorted(set(labels)):
        members = [f for f, lab in zip(files, labels, strict=True) if lab == label]
        rng.shuffle(members)
        n_val = max(1, round(len(members) * fractions[1]))
        n_test = max(1, round(len(members) * fractions[2]))
        out[1].extend(members[:n_val])
        out[2].extend(members[n_val : n_val + n_test])
        out[0].extend(members[n_val + n_test :])
    return out


def split_by_random_keys(files, labels, fractions, seed):
    """One random key per file, then each class in key order."""
    keys = np.random.default_rng(seed).random(len(files))
    out = ([], [], [])
    for label in set(labels):
        members = sorted(
            (k, f) for k, f, lab in zip(keys, files, labels, strict=True) if lab == label
        )
        n = len(members)
        n_val, n_test = max(1, round(n * fractions[1])), max(1, round(n * fractions[2]))
        out[0].extend(f for _, f in members[: n - n_val - n_test])
        out[1].extend(f for _, f in members[n - n_val - n_test : n - n_test])
        out[2].extend(f for _, f in members[n - n_test :])
    return out


@pytest.mark.usefixtures("library_copies_allowed")
@pytest.mark.parametrize("answer", [photos.split_files, split_with_random, split_by_random_keys])
def test_9_2_accepts_stratified_seeded_splits(answer):
    verdict(checks.exercise_9_2(answer), True)


def unstratified(files, labels, fractions, seed):
    order = np.random.default_rng(seed).permutation(len(files))
    n_train, n_val = int(len(files) * fractions[0]), int(len(files) * fractions[1])
    cut = [files[i] for i in order]
    return cut[:n_train], cut[n_train : n_train + n_val], cut[n_train + n_val :]


def unshuffled(files, labels, fractions, seed):
    out = ([], [], [])
    for label in sorted(set(labels)):
        members = [f for f, lab in zip(files, labels, strict=True) if lab == label]
        n_val, n_test = (
            max(1, round(len(members) * fractions[1])),
            max(1, round(len(members) * fractions[2])),
        )
        out[0].extend(members[: len(members) - n_val - n_test])
        out[1].extend(members[len(members) - n_val - n_test : len(members) - n_test])
        out[2].extend(members[len(members) - n_test :])
    return out


def unseeded(files, labels, fractions, seed):
    return photos.split_files(
        files, labels, fractions, seed=np.random.SeedSequence().entropy % 1000
    )


def floor_rounding(files, labels, fractions, seed):
    """int() truncates: the small classes lose their validation and test files."""
    rng = np.random.default_rng(seed)
    out = ([], [], [])
    for label in sorted(set(labels)):
        members = [
            files[i] for i in rng.permutation([i for i, lab in enumerate(labels) if lab == label])
        ]
        n_train, n_val = int(len(members) * fractions[0]), int(len(members) * fractions[1])
        out[0].extend(members[:n_train])
        out[1].extend(members[n_train : n_train + n_val])
        out[2].extend(members[n_train + n_val : n_train + n_val + int(len(members) * fractions[2])])
    return out


def rounding_with(to_int):
    """Each class shuffled with the seed, validation and test cut with max(1, to_int(n * f))."""

    def split(files, labels, fractions, seed):
        rng = np.random.default_rng(seed)
        out = ([], [], [])
        for label in sorted(set(labels)):
            members = [files[i] for i, lab in enumerate(labels) if lab == label]
            members = [members[i] for i in rng.permutation(len(members))]
            n_val, n_test = (max(1, int(to_int(len(members) * f))) for f in fractions[1:])
            out[1].extend(members[:n_val])
            out[2].extend(members[n_val : n_val + n_test])
            out[0].extend(members[n_val + n_test :])
        return out

    return split


def cut_per_class_with(to_int):
    """Each class shuffled with the seed, validation and test cut with to_int(n * f), no max."""

    def split(files, labels, fractions, seed):
        rng = np.random.default_rng(seed)
        out = ([], [], [])
        for label in sorted(set(labels)):
            mine = [files[i] for i, lab in enumerate(labels) if lab == label]
            mine = [mine[i] for i in rng.permutation(len(mine))]
            n_val = to_int(len(mine) * fractions[1])
            n_test = to_int(len(mine) * fractions[2])
            out[1].extend(mine[:n_val])
            out[2].extend(mine[n_val : n_val + n_test])
            out[0].extend(mine[n_val + n_test :])
        return out

    return split


@pytest.mark.parametrize(
    ("to_int", "phrase"),
    [(int, "0.6, which int() and // cut down to 0"), (round, "round(3 × 0.15) is 0")],
)
def test_9_2_names_a_per_class_count_that_reaches_0_not_the_stratification(to_int, phrase):
    result = checks.exercise_9_2(cut_per_class_with(to_int))
    verdict(result, False, phrase)
    assert "split each class on its own" not in result.message
    assert "max(1" not in result.message  # the mistake is named, the fixing line is not given


def training_share_first(to_int):
    """A student's: each class shuffled, training cut first with to_int, test gets the rest."""

    def split(files, labels, fractions=(0.7, 0.15, 0.15), seed=0):
        rng = np.random.default_rng(seed)
        train, val, test = [], [], []
        for c in sorted(set(labels)):
            group = [f for f, label in zip(files, labels, strict=True) if label == c]
            group = [group[i] for i in rng.permutation(len(group))]
            n_train = to_int(len(group) * fractions[0])
            n_val = max(1, round(len(group) * fractions[1]))
            train += group[:n_train]
            val += group[n_train : n_train + n_val]
            test += group[n_train + n_val :]
        return train, val, test

    return split


@pytest.mark.parametrize("to_int", [round, math.ceil])
def test_9_2_names_the_training_share_taken_first_not_the_stratification(to_int):
    for salt in (None, 4, 19):
        if salt is None:
            result = checks.exercise_9_2(training_share_first(to_int))
        else:
            with fresh_inputs(salt):
                result = checks.exercise_9_2(training_share_first(to_int))
        verdict(result, False, "has no file in test" if to_int is round else "in validation")
        assert ": you gave training its share first (" in result.message
        assert "give validation and test max(1, round(n × fraction)) files each first" in (
            result.message
        )
        assert "split each class on its own" not in result.message


def overlapping(files, labels, fractions, seed):
    train, val, test = photos.split_files(files, labels, fractions, seed)
    return train + test[:1], val, test


@pytest.mark.usefixtures("library_copies_allowed")
@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (unstratified, "has no file in"),
        (unshuffled, "the files are not shuffled"),
        (unseeded, "two calls with seed=0 gave different splits"),
        (floor_rounding, "are in no split"),
        (rounding_with(math.floor), "iris' has 13 files and 1 of them in validation"),
        (rounding_with(math.floor), "int() and // drop the fraction"),
        (rounding_with(math.ceil), "math.ceil rounds up"),
        (overlapping, "is in two splits"),
        (lambda files, labels, fractions, seed: {"train": files}, "return three lists"),
        (
            lambda files, labels, fractions, seed: (files[:20], files[20:24], files[24:]),
            "has no file in",
        ),
    ],
)
def test_9_2_names_each_mistake(answer, phrase):
    verdict(checks.exercise_9_2(answer), False, phrase)


def share_of(index_for_validation):
    """Per class, as the task says, but validation's count from fractions[index]."""

    def split(files, labels, fractions, seed):
        rng = np.random.default_rng(seed)
        train, val, test = [], [], []
        for label in sorted(set(labels)):
            own = [f for f, lab in zip(files, labels, strict=True) if lab == label]
            own = [own[i] for i in rng.permutation(len(own))]
            n = len(own)
            n_val = max(1, round(n * fractions[index_for_validation]))
            n_test = max(1, round(n * fractions[2]))
            val += own[:n_val]
            test += own[n_val : n_val + n_test]
            train += own[n_val + n_test :]
        return train, val, test

    return split


def test_9_2_a_split_per_class_with_validation_given_training_s_share_is_told_so():
    result = checks.exercise_9_2(share_of(0))  # a student's
    verdict(result, False, "validation holds 14 of the 20 files of class 'roses'")
    assert "the share of train, fractions[0]" in result.message
    assert "split each class on its own" not in result.message.lower()


def test_9_2_only_a_split_of_the_whole_list_is_told_to_split_each_class_on_its_own():
    verdict(checks.exercise_9_2(unstratified), False, "Split each class on its own")
    assert "the shares of the whole list" in checks.exercise_9_2(unstratified).message
    result = checks.exercise_9_2(
        lambda files, labels, fractions, seed: (files[:20], files[20:24], files[24:])
    )
    verdict(result, False, "'tulips' (4 files) has no file in train: it has 0 in train, 4 in")
    assert "on its own" not in result.message


def split_with_fixed_shares(files, labels, fractions, seed):
    """A student's answer: right with the default shares, `fractions` ignored."""
    return split_with_random(files, labels, (0.7, 0.15, 0.15), seed)


def split_with_shares_swapped(files, labels, fractions, seed):
    return split_with_random(files, labels, (fractions[0], fractions[2], fractions[1]), seed)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (split_with_fixed_shares, "take the shares from the `fractions` argument"),
        (split_with_shares_swapped, "Validation and test are swapped"),
    ],
)
def test_9_2_is_called_with_other_fractions_too(answer, phrase):
    result = checks.exercise_9_2(answer)
    verdict(result, False, "with fractions=(0.6, 0.25, 0.15), class 'roses' (20 files) gets ")
    assert phrase in result.message


# ------------------------------------------------------------------ 9.3


def build_with_ops(backbone, head, image_size):
    inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
    x = keras.layers.Lambda(
        lambda t: keras.ops.image.resize(
            keras.ops.cast(t, "float32"), (image_size, image_size), crop_to_aspect_ratio=True
        )
    )(inputs)
    x = keras.layers.Lambda(lambda t: (t - 127.0) / 128.0)(x)
    return keras.Model(inputs, head(backbone(x, training=False)))


def build_with_a_scaling_function(backbone, head, image_size):
    inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
    x = keras.layers.Resizing(image_size, image_size, crop_to_aspect_ratio=True, name="resize")(
        inputs
    )
    x = keras.layers.Lambda(lambda t: keras.ops.cast(t, "float32") / 128.0 - 127.0 / 128.0)(x)
    return keras.Model(inputs, head(backbone(x, training=False)))


def _images_in_model_as_the_task_says(backbone, head, image_size):
    inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
    x = keras.layers.Resizing(image_size, image_size, crop_to_aspect_ratio=True, name="resize")(
        inputs
    )
    x = keras.layers.Rescaling(1 / 128, offset=-127 / 128, name="scale")(x)
    return keras.Model(inputs, head(backbone(x, training=False)))


def build_with_a_cast_first(backbone, head, image_size):
    """Right, written differently: the photo cast to float32 in a Lambda before the Resizing."""
    inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
    x = keras.layers.Lambda(lambda t: keras.ops.cast(t, "float32"))(inputs)
    x = keras.layers.Resizing(image_size, image_size, crop_to_aspect_ratio=True, name="resize")(x)
    x = keras.layers.Rescaling(1 / 128, offset=-127 / 128, name="scale")(x)
    return keras.Model(inputs, head(backbone(x, training=False)))


@pytest.mark.usefixtures("library_copies_allowed")
@pytest.mark.parametrize("answer", [photos.build_images_in_model, build_with_a_cast_first])
def test_9_3_accepts_images_in_models_built_differently(answer):
    verdict(checks.exercise_9_3(answer), True)


@pytest.mark.parametrize("salt", [1, 2, 3, 4])
@pytest.mark.parametrize("answer", [_images_in_model_as_the_task_says, build_with_a_cast_first])
def test_9_3_accepts_both_ways_of_resizing_on_every_grading_run_s_photos(salt, answer):
    # A Resizing layer on the uint8 photo rounds its result to uint8; resized as floats, the
    # probabilities differ by up to 1.1e-4 on the photos of salt 2, more than the tolerance
    with fresh_inputs(salt):
        verdict(checks.exercise_9_3(answer), True)


def rescaled_before_resized(backbone, head, image_size):  # a student's: the order swapped
    inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
    resize = keras.layers.Resizing(image_size, image_size, crop_to_aspect_ratio=True, name="resize")
    rescale = keras.layers.Rescaling(scale=0.0078125, offset=-0.9921875)
    x = resize(rescale(inputs))  # order swapped
    return keras.Model(inputs, head(backbone(x, training=False)))


def scaled_in_a_lambda_after_the_resize(backbone, head, image_size):  # a student's
    inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
    x = keras.layers.Resizing(image_size, image_size, crop_to_aspect_ratio=True, name="resize")(
        inputs
    )
    x = keras.layers.Lambda(lambda t: (keras.ops.cast(t, "float32") - 127.0) / 128.0)(x)
    return keras.Model(inputs, head(backbone(x, training=False)))


@pytest.mark.parametrize(
    ("answer", "phrases"),
    [
        (
            rescaled_before_resized,
            [
                "your model scales the photo (Rescaling) before it resizes it (Resizing): the "
                "lesson compares what the 'resize' layer gives with the training images on the "
                "0-255 scale, so the resize comes first",
                "model.get_layer('resize') no longer gives pixels",
            ],
        ),
        (
            scaled_in_a_lambda_after_the_resize,
            [
                "your model scales the pixels without a keras.layers.Rescaling layer (your "
                "Lambda layer 'lambda",
                "the task asks for each step as a Keras layer, and for this scaling that is "
                "Rescaling(1 / 128, offset=-127 / 128)",
                "A Lambda layer is saved as Python code",
            ],
        ),
        (build_with_a_scaling_function, ["without a keras.layers.Rescaling layer"]),
    ],
)
def test_9_3_names_the_order_and_the_layer_the_task_prescribes_for_the_scaling(answer, phrases):
    result = checks.exercise_9_3(answer)
    verdict(result, False, phrases[0])
    assert all(phrase in result.message for phrase in phrases), result.message


def scaled_with_ops_after_the_resize(backbone, head, image_size):  # a student's: no layer
    inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
    x = keras.layers.Resizing(image_size, image_size, crop_to_aspect_ratio=True, name="resize")(
        inputs
    )
    x = keras.ops.cast(x, "float32") / 128.0 - 127.0 / 128.0
    return keras.Model(inputs, head(backbone(x, training=False)))


def test_9_3_a_scaling_written_as_arithmetic_is_asked_for_as_a_layer_not_told_of_lambdas():
    result = checks.exercise_9_3(scaled_with_ops_after_the_resize)
    verdict(result, False, "without a keras.layers.Rescaling layer: the task asks for each step")
    assert "Lambda" not in result.message


def with_a_dict_output(backbone, head, image_size):  # a student's: the output named in a dict
    inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
    x = keras.layers.Resizing(image_size, image_size, crop_to_aspect_ratio=True, name="resize")(
        inputs
    )
    x = keras.layers.Rescaling(1 / 128, offset=-127 / 128)(x)
    return keras.Model(inputs, {"probs": head(backbone(x, training=False))})


def test_9_3_a_model_with_a_dict_output_is_told_so_not_an_index_error():
    result = checks.exercise_9_3(with_a_dict_output)
    verdict(
        result,
        False,
        "on a wide photo (40×90), your model returns a dict (keys 'probs') where one array of "
        "probabilities is expected",
    )
    assert "IndexError" not in result.message and "raised" not in result.message


def variant(
    crop=True, scale=1 / 128, offset=-127 / 128, dtype="uint8", size=None, training=False, head=True
):
    def build(backbone, head_model, image_size):
        inputs = keras.Input((size, size, 3), dtype=dtype)
        x = keras.layers.Resizing(image_size, image_size, crop_to_aspect_ratio=crop)(inputs)
        x = keras.layers.Rescaling(scale, offset=offset)(x)
        features = backbone(x) if training is None else backbone(x, training=training)
        return keras.Model(inputs, head_model(features) if head else features)

    return build


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (variant(crop=False), "squashed to a square, not cropped"),
        (variant(scale=1 / 255, offset=0.0), "scaled to [0, 1]"),
        (variant(scale=1.0, offset=0.0), "unscaled, 0 to 255"),
        (variant(scale=1 / 127.5, offset=-1.0), "scaled to [-1, 1] with 127.5"),
        (variant(scale=1 / 128, offset=-1.0), "x × 0.0078125 - 1, which takes the pixels 0"),
        (variant(dtype="float32"), "input is float32"),
        (variant(size=224), "only takes photos of one size"),
        (variant(training=None), "not called with training=False (it was left out, or True)"),
        (variant(training=True), "not called with training=False (it was left out, or True)"),
        (variant(head=False), "returned the backbone's features, shape (4,), not the head's"),
        (lambda backbone, head, image_size: keras.Sequential([backbone, head]), "input is float32"),
        (lambda backbone, head, image_size: head, "input is float32"),
        (lambda backbone, head, image_size: None, "returned None"),
    ],
)
def test_9_3_names_each_mistake(answer, phrase):
    verdict(checks.exercise_9_3(answer), False, phrase)


def with_input(shape):
    def build(backbone, head, image_size):
        inputs = keras.Input(shape, dtype="uint8", name="image")
        x = keras.layers.Resizing(image_size, image_size, crop_to_aspect_ratio=True, name="resize")(
            inputs
        )
        x = keras.layers.Rescaling(1 / 128, offset=-127 / 128)(x)
        return keras.Model(inputs, head(backbone(x, training=False)))

    return build


@pytest.mark.parametrize(
    ("shape", "phrase"),
    [
        # a student's: Keras lets a 3-channel photo through, but the signature says otherwise
        ((None, None, 1), "input has shape (None, None, None, 1): it declares 1 channel, and"),
        ((None, None, None), "(None, None, None, None): it leaves the channels free, and"),
    ],
)
def test_9_3_an_input_declared_with_other_channels_than_3_is_refused(shape, phrase):
    result = checks.exercise_9_3(with_input(shape))
    verdict(result, False, phrase)
    assert "photos arrive in RGB, 3 channels" in result.message
    assert "keras.Input((None, None, 3), dtype='uint8', name='image')" in result.message


@pytest.mark.parametrize("channels", [2, 4])
def test_9_3_an_input_whose_channels_the_backbone_refuses_is_told_the_channels_not_the_size(
    channels,
):
    result = checks.exercise_9_3(with_input((None, None, channels)))
    verdict(
        result,
        False,
        f"gives it images of shape (None, 16, 16, {channels}), {channels} channels",
    )
    assert "the backbone takes RGB images, 3 channels" in result.message
    assert "size" not in result.message


def rescaled_with(*rescalings):
    def build(backbone, head, image_size):
        inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
        x = keras.layers.Resizing(image_size, image_size, crop_to_aspect_ratio=True, name="resize")(
            inputs
        )
        for scale, offset in rescalings:
            x = keras.layers.Rescaling(scale, offset=offset)(x)
        return keras.Model(inputs, head(backbone(x, training=False)))

    return build


def without_a_resize(backbone, head, image_size):  # a student's
    inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1 / 128, offset=-127 / 128)(inputs)
    return keras.Model(inputs, head(backbone(x, training=False)))


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        # a student's: the offset in pixel units, not in scaled ones
        (rescaled_with((1 / 128, -127)), "your Rescaling layer computes x × 0.0078125 - 127,"),
        (rescaled_with((1 / 128, -127)), "offset=-127 counts in pixels, -127 / 128 in scaled"),
        (rescaled_with((1 / 127, -1)), "x × 0.00787402 - 1, which takes the pixels 0 and 255 to"),
        (rescaled_with((1 / 127, -1)), "-1.000 and 1.008; EfficientNet-Lite was trained on"),
        (
            rescaled_with((1 / 128, 0.0), (1.0, -1.0)),
            "your 2 Rescaling layers compute, one after the other, x × 0.0078125 - 1",
        ),
        (without_a_resize, "your model has no Resizing layer, and the photo reaches the backbone"),
        (without_a_resize, "at its own size, 40×90"),
    ],
)
def test_9_3_names_a_scaling_or_a_missing_resize_from_the_model_s_layers(answer, phrase):
    result = checks.exercise_9_3(answer)
    verdict(result, False, phrase)
    assert "check each step" not in result.message


@pytest.mark.parametrize(
    "rescalings",
    [
        ((1 / 128, -127 / 128),),
        ((1.0, -127.0), (1 / 128, 0.0)),
        ((0.0078125, -0.9921875),),
        ((1 / 128, -0.992),),  # the offset rounded: a fortieth of a grey level off
    ],
)
def test_9_3_accepts_the_scaling_in_one_or_two_rescaling_layers(rescalings):
    verdict(checks.exercise_9_3(rescaled_with(*rescalings)), True)


@pytest.mark.parametrize("salt", [None, 21, 4, 9])
@pytest.mark.parametrize(("scale", "offset"), [(1 / 127, -1.0), (1 / 129, -127 / 129)])
def test_9_3_a_scale_a_little_off_is_named_whatever_weights_the_tiny_model_draws(
    salt, scale, offset
):
    # On some draws of the tiny backbone's weights, (x - 127) / 127 moves the probabilities by
    # less than the check's tolerance: the Rescaling layer tells it all the same.
    import contextlib

    with fresh_inputs(salt) if salt is not None else contextlib.nullcontext():
        result = checks.exercise_9_3(rescaled_with((scale, offset)))
    verdict(result, False, f"your Rescaling layer computes x × {scale:.6g} - {-offset:.6g},")


def resized_with(**options):
    def build(backbone, head, image_size):
        inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
        x = keras.layers.Resizing(image_size, image_size, name="resize", **options)(inputs)
        x = keras.layers.Rescaling(1 / 128, offset=-127 / 128)(x)
        return keras.Model(inputs, head(backbone(x, training=False)))

    return build


def scaled_in_a_lambda(backbone, head, image_size):  # arithmetic on the uint8 photo
    inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
    x = keras.layers.Lambda(lambda t: (t - 127.0) / 128.0)(inputs)
    x = keras.layers.Resizing(image_size, image_size, crop_to_aspect_ratio=True, name="resize")(x)
    return keras.Model(inputs, head(backbone(x, training=False)))


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (
            resized_with(crop_to_aspect_ratio=True, interpolation="nearest"),
            "resized with nearest-neighbour interpolation",
        ),
        (
            resized_with(crop_to_aspect_ratio=True, antialias=True),
            "the resize is antialiased (antialias=True)",
        ),
        (
            resized_with(crop_to_aspect_ratio=True, interpolation="bicubic"),
            "resized with 'bicubic' interpolation",
        ),
        (
            resized_with(crop_to_aspect_ratio=True, interpolation="area"),
            "resized with 'area' interpolation",
        ),
        (resized_with(pad_to_aspect_ratio=True), "padded to a square (pad_to_aspect_ratio=True)"),
        (scaled_in_a_lambda, "keras.layers.Rescaling, after the Resizing, computes in float32"),
    ],
)
def test_9_3_names_a_resize_other_than_bilinear_and_cropped(answer, phrase):
    result = checks.exercise_9_3(answer)
    verdict(result, False, phrase)
    assert "check each step" not in result.message


def test_9_3_a_keras_error_is_shown_without_terminal_codes():
    result = checks.exercise_9_3(scaled_in_a_lambda)
    verdict(result, False, "Cannot convert 127.0 to EagerTensor of dtype uint8")
    assert "\x1b" not in result.message and "[1m" not in result.message


def test_every_check_message_is_shown_without_terminal_codes():
    # Built in one place for every check: a Keras error quoted anywhere loses its bold codes.
    from course_lib.checks._core import correct, not_yet

    assert not_yet("9.3", "raised \x1b[1mCannot convert\x1b[0m here").message == (
        "raised Cannot convert here"
    )
    assert correct("9.3", "\x1b[31mred\x1b[0m and \x1b plain").message == "red and  plain"


def split_shuffling_in_place(files, labels, fractions, seed):
    """Right splits, but the caller's lists come back shuffled (random.shuffle on them)."""
    import random

    pairs = list(zip(files, labels, strict=True))
    random.Random(seed).shuffle(pairs)
    files[:], labels[:] = [f for f, _ in pairs], [k for _, k in pairs]
    return split_with_random(list(files), list(labels), fractions, seed)


def split_mutating_the_inputs(files, labels, fractions=(0.7, 0.15, 0.15), seed=0):  # a student's
    rng = np.random.default_rng(seed)
    pairs = list(zip(files, labels, strict=True))
    rng.shuffle(pairs)
    files[:] = [p[0] for p in pairs]  # mutates the inputs
    labels[:] = [p[1] for p in pairs]
    tr, va, te = [], [], []
    for c in sorted(set(labels)):
        m = [f for f, label in zip(files, labels, strict=True) if label == c]
        nv, nt = max(1, round(len(m) * fractions[1])), max(1, round(len(m) * fractions[2]))
        va += m[:nv]
        te += m[nv : nv + nt]
        tr += m[nv + nt :]
    return tr, va, te


def test_9_2_lists_changed_in_place_are_refused_as_the_task_says():
    verdict(
        checks.exercise_9_2(split_mutating_the_inputs),
        False,
        "your function changed the caller's `files` list in place: the caller",
    )
    assert "Leave `files` and `labels` as they are: the caller still needs them" in task_text("9.2")


def test_9_2_names_a_split_that_shuffles_the_caller_s_lists_in_place():
    verdict(
        checks.exercise_9_2(split_shuffling_in_place),
        False,
        "changed the caller's `files` list in place",
    )


def test_9_2_a_list_shuffled_in_place_is_seen_when_graded_in_two_phases(tmp_path):
    from course_lib.checks._core import fresh_inputs
    from course_lib.tools.grading import judge

    expression = "checks.exercise_9_2(split_files)"
    reply = judge.judge_locally(
        expression, {"split_files": split_shuffling_in_place}, 31, str(tmp_path)
    )
    with fresh_inputs(31):
        direct = checks.exercise_9_2(split_shuffling_in_place)
    assert reply["status"] == "failed" and reply["message"] == direct.message, reply
    assert "in place" in reply["message"]


def _images_in_model(input_name="image", resize_name="resize", size=None):
    def build(backbone, head, image_size):
        inputs = keras.Input((None, None, 3), dtype="uint8", name=input_name)
        side = size or image_size
        x = keras.layers.Resizing(side, side, crop_to_aspect_ratio=True, name=resize_name)(inputs)
        x = keras.layers.Rescaling(1 / 128, offset=-127 / 128)(x)
        return keras.Model(inputs, head(backbone(x, training=False)))

    return build


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_images_in_model(input_name="photo"), "name it 'image'"),
        (_images_in_model(resize_name="resizing_7"), "model.get_layer('resize')"),
        (build_with_ops, "finds no Resizing layer"),  # right numbers, but no layer to find
        (_images_in_model(size=224), "not a size written in"),
    ],
)
def test_9_3_names_what_the_task_prescribes_by_name_and_size(answer, phrase):
    verdict(checks.exercise_9_3(answer), False, phrase)


def test_9_3_the_names_and_size_the_task_gives_pass():
    verdict(checks.exercise_9_3(_images_in_model()), True)


def _in_a_thread(image):  # a student's: the library's copy called from a thread
    import threading

    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("v", photos.upright_rgb(image)))
    thread.start()
    thread.join()
    return out["v"]


def _watch_switched_off(image):  # a student's: the profiler switched off first
    import sys

    sys.setprofile(None)
    return photos.upright_rgb(image)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_in_a_thread, "calls course_lib.photos.upright_rgb"),
        (_watch_switched_off, "sys.setprofile"),
    ],
)
def test_9_1_the_library_s_copy_is_refused_from_a_thread_or_with_the_watch_switched_off(
    answer, phrase
):
    verdict(checks.exercise_9_1(answer), False, phrase)


# --- rt12-b: answers of a teacher's red-team round -----------------------------------------


def split_by_runs_of_a_label(files, labels, fractions=(0.7, 0.15, 0.15), seed=0):
    """A student's: a class taken to be the files that come one after another."""
    import itertools

    rng = np.random.default_rng(seed)
    tr, va, te = [], [], []
    for _, group in itertools.groupby(zip(files, labels, strict=True), key=lambda p: p[1]):
        own = [f for f, _ in group]
        own = [own[i] for i in rng.permutation(len(own))]
        n = len(own)
        nv, nt = max(1, round(n * fractions[1])), max(1, round(n * fractions[2]))
        va += own[:nv]
        te += own[nv : nv + nt]
        tr += own[nv + nt :]
    return tr, va, te


def test_9_2_a_split_that_needs_the_classes_grouped_is_told_the_labels_come_mixed():
    result = checks.exercise_9_2(split_by_runs_of_a_label)
    verdict(result, False, "with the same files listed with the classes mixed (labels [0, 1, 2")
    assert "it is right only when each class's files come one after another" in result.message


def test_9_2_labels_sorted_in_place_are_seen_on_the_mixed_list():
    def split_sorting_labels(files, labels, fractions=(0.7, 0.15, 0.15), seed=0):
        labels.sort()  # a student's: a no-op on labels that come grouped
        return split_by_runs_of_a_label(files, labels, fractions, seed)

    verdict(
        checks.exercise_9_2(split_sorting_labels),
        False,
        "your function changed the caller's `labels` list in place",
    )


def test_9_2_a_mixed_list_is_judged_alike_in_two_phases(tmp_path):
    from course_lib.checks._core import fresh_inputs
    from course_lib.tools.grading import judge

    reply = judge.judge_locally(
        "checks.exercise_9_2(split_files)",
        {"split_files": split_by_runs_of_a_label},
        31,
        str(tmp_path),
    )
    with fresh_inputs(31):
        direct = checks.exercise_9_2(split_by_runs_of_a_label)
    assert reply["status"] == "failed" and reply["message"] == direct.message, reply
    assert "with the classes mixed" in reply["message"]


@pytest.mark.usefixtures("library_copies_allowed")
def test_9_2_the_three_lists_in_another_order_are_named_so():
    def split(files, labels, fractions, seed):
        train, val, test = photos.split_files(files, labels, fractions, seed)
        return val, test, train

    verdict(
        checks.exercise_9_2(split),
        False,
        "the three lists come back in another order: yours hold the validation, test and train "
        "shares of each class, in that order. Return them as (train, validation, test).",
    )


@pytest.mark.usefixtures("library_copies_allowed")
def test_9_2_the_splits_as_numpy_arrays_are_accepted():
    def split(files, labels, fractions, seed):
        return tuple(np.array(p) for p in photos.split_files(files, labels, fractions, seed))

    verdict(checks.exercise_9_2(split), True)


def every_image_composited_then_turned(image):  # a student's: the tag looked for too late
    rgba = image.convert("RGBA")
    on_white = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return ImageOps.exif_transpose(on_white).convert("RGB")


def test_9_1_a_tag_looked_for_after_compositing_is_told_where_it_went():
    result = checks.exercise_9_1(every_image_composited_then_turned)
    verdict(result, False, "the phone photo stored sideways with an EXIF orientation tag comes")
    assert "to the image as it was opened, first" in result.message
    assert "Image.alpha_composite, like Image.new, makes a new image without" in result.message


def split_with_a_seed_written_in(files, labels, fractions=(0.7, 0.15, 0.15), seed=0):
    """A student's: shuffled, but with the lesson's seed, whatever `seed` says."""
    rng = np.random.default_rng(42)
    train, validation, test = [], [], []
    for label in sorted(set(labels)):
        members = [f for f, c in zip(files, labels, strict=True) if c == label]
        members = [members[i] for i in rng.permutation(len(members))]
        n_val = max(1, round(len(members) * fractions[1]))
        n_test = max(1, round(len(members) * fractions[2]))
        validation += members[:n_val]
        test += members[n_val : n_val + n_test]
        train += members[n_val + n_test :]
    return train, validation, test


def test_9_2_a_seed_written_in_is_not_called_no_shuffle():
    result = checks.exercise_9_2(split_with_a_seed_written_in)
    verdict(result, False, "seeds 0, 1, 2 and 3 all give the same split, not cut from the files")
    assert "np.random.default_rng(seed)" in result.message
    assert "not shuffled" not in result.message


def build_with_a_second_softmax(backbone, head, image_size):
    """A student's: a softmax after the head, which already ends in one."""
    inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
    x = keras.layers.Resizing(image_size, image_size, crop_to_aspect_ratio=True, name="resize")(
        inputs
    )
    x = keras.layers.Rescaling(1 / 128, offset=-127 / 128)(x)
    return keras.Model(inputs, keras.layers.Softmax()(head(backbone(x, training=False))))


def build_with_a_centre_crop(backbone, head, image_size):
    """A student's: the centre cut out at image_size, not the photo cropped and resized."""
    inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
    x = keras.layers.CenterCrop(image_size, image_size, name="resize")(inputs)
    x = keras.layers.Rescaling(1 / 128, offset=-127 / 128)(x)
    return keras.Model(inputs, head(backbone(x, training=False)))


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (build_with_a_second_softmax, "your model's output is a softmax of the head's"),
        (build_with_a_centre_crop, "cuts the photo's centre to image_size × image_size with"),
    ],
)
def test_9_3_a_second_softmax_or_a_centre_crop_is_named(answer, phrase):
    verdict(checks.exercise_9_3(answer), False, phrase)


def scaled_by(layer):
    def build(backbone, head, image_size):
        inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
        x = keras.layers.Resizing(image_size, image_size, crop_to_aspect_ratio=True, name="resize")(
            inputs
        )
        return keras.Model(inputs, head(backbone(layer()(x), training=False)))

    return build


@pytest.mark.parametrize(
    "layer",
    [
        lambda: keras.layers.Normalization(mean=127.0, variance=128.0**2),
        lambda: keras.layers.Normalization(mean=[127.0] * 3, variance=[128.0**2] * 3),
    ],
)
def test_9_3_accepts_the_scaling_as_a_normalization_layer(layer):
    # A Keras layer too, saved as its configuration: (x - 127) / sqrt(128²)
    verdict(checks.exercise_9_3(scaled_by(layer)), True)


@pytest.mark.parametrize("salt", [None, 1, 2])
def test_9_3_a_normalization_a_little_off_is_named(salt):
    answer = scaled_by(lambda: keras.layers.Normalization(mean=127.0, variance=127.0**2))
    if salt is None:
        result = checks.exercise_9_3(answer)
    else:
        with fresh_inputs(salt):
            result = checks.exercise_9_3(answer)
    verdict(result, False, "your Normalization layer computes x × 0.00787402 - 1")


def test_9_3_a_scaling_off_is_not_called_a_squashed_photo_on_any_draw():
    # With some draws of the tiny model's weights a squashed photo gives probabilities within
    # the tolerance of this one's: the model's Resizing says it crops, its Rescaling says how
    # it scales
    answer = scaled_by(lambda: keras.layers.Rescaling(1 / 128, offset=-126 / 128))
    with fresh_inputs(1):
        result = checks.exercise_9_3(answer)
    verdict(result, False, "your Rescaling layer computes x × 0.0078125 - 0.984375")
    assert "squashed" not in result.message
