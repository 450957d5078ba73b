"""Lesson 02 checks accept the right answer and name each common mistake."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_lib import checks, data
from course_lib.checks import _drivers
from course_lib.checks.lesson02 import PIPELINE_SIZE

AUTOTUNE = tf.data.AUTOTUNE


def _fails_with(result, phrase):
    assert not result.passed, result.message
    assert phrase in result.message, result.message
    return True


# ---------------------------------------------------------------- 2.1


def _preprocess(image, label):
    return tf.cast(image, tf.float32)[..., tf.newaxis] / 255.0, label


def _preprocess_with_convert_image_dtype(image, label):
    # convert_image_dtype scales a uint8 image into [0, 1] as it casts.
    return tf.image.convert_image_dtype(image, tf.float32)[..., None], label


def _preprocess_with_rescaling(image, label):
    return keras.layers.Rescaling(1 / 255)(tf.reshape(image, (28, 28, 1))), label


@pytest.mark.parametrize(
    "answer",
    [
        _preprocess,
        lambda im, y: (tf.expand_dims(tf.cast(im, tf.float32) / 255, -1), y),
        _preprocess_with_convert_image_dtype,
        _preprocess_with_rescaling,
        lambda im, y: [tf.reshape(tf.cast(im, "float32") * (1 / 255), [28, 28, 1]), y],
    ],
)
def test_2_1_accepts_cast_scale_and_channel_axis_however_written(answer):
    result = checks.exercise_2_1(answer)
    assert result.passed, result.message


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda im, y: (tf.cast(im, tf.float32) / 255.0, y), "add a channel axis"),
        (lambda im, y: (im[..., tf.newaxis], y), "cast to float32"),
        (lambda im, y: (tf.cast(im, tf.float32)[..., tf.newaxis], y), "divide by 255"),
        (lambda im, y: (tf.cast(im, tf.float64)[..., tf.newaxis] / 255.0, y), "float64"),
        (lambda im, y: (tf.cast(im, tf.float32)[tf.newaxis] / 255.0, y), "channel axis goes last"),
        (
            lambda im, y: (
                tf.cast(im, tf.float32)[..., tf.newaxis] / tf.cast(tf.reduce_max(im), tf.float32),
                y,
            ),
            "own maximum",
        ),
        (lambda im, y: (_preprocess(im, y)[0], tf.one_hot(y, 10)), "single class index"),
        (lambda im, y: (_preprocess(im, y)[0], tf.cast(y, tf.float32)), "leave it unchanged"),
        (lambda im, y: (_preprocess(im, y)[0], y + 1), "label changed"),
        (lambda im, y: _preprocess(im, y)[0], "(image, label)"),
        (lambda im, y: (im.astype("float32") / 255, y), "TensorFlow operations"),
        (
            lambda im, y: (_preprocess_with_convert_image_dtype(im, y)[0] / 255.0, y),
            "divided by 255 twice",
        ),
        (lambda im, y: (_preprocess(im, y)[0] + 0.01, y), "above 1. First difference: the image["),
        (lambda im, y: (_preprocess(im, y)[0] * 0.9, y), "First difference: the image["),
    ],
)
def test_2_1_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_2_1(answer), phrase)


def test_2_1_a_label_cast_to_another_integer_dtype_is_not_unchanged():
    def preprocess(image, label):  # a student's: the value kept, the dtype not
        return tf.cast(image, tf.float32)[..., None] / 255.0, tf.cast(label, tf.int32)

    result = checks.exercise_2_1(preprocess)
    assert _fails_with(
        result,
        "the label came in as int64 and goes out as int32: the value is right, but the task "
        "asks for the label unchanged, so return it as it came, without a cast.",
    )
    assert "untouched" not in result.message


def test_2_1_a_pair_returned_the_wrong_way_round_is_named_not_taken_for_a_missing_cast():
    def swapped(image, label):  # a student's: the image cast and scaled, but second
        return label, tf.expand_dims(tf.cast(image, tf.float32) / 255.0, -1)

    result = checks.exercise_2_1(swapped)
    assert _fails_with(result, "the pair is the wrong way round")
    assert "shape () and the second (28, 28, 1)" in result.message
    assert "cast" not in result.message
    # An image whose size is lost is not a label: its other mistakes are named as before.
    flat = lambda im, y: (tf.reduce_mean(tf.cast(im, tf.float32)), y)  # noqa: E731
    assert "wrong way round" not in checks.exercise_2_1(flat).message


def test_2_1_values_below_0_are_named_with_their_range_not_taken_for_a_missing_division():
    def standardised(image, label):  # a student's: scaled, then standardised
        x = tf.cast(image, tf.float32) / 255.0
        return tf.expand_dims((x - 0.286) / 0.353, -1), label

    result = checks.exercise_2_1(standardised)
    assert _fails_with(result, "values go from -0.81 to 2.02, below 0 and above 1")
    assert "no mean" in result.message and "forget to divide" not in result.message
    centred = checks.exercise_2_1(lambda im, y: (_preprocess(im, y)[0] - 0.5, y))
    assert _fails_with(centred, "values go from -0.5 to 0.5, below 0, where")
    # Not scaled at all still asks about the division.
    unscaled = checks.exercise_2_1(lambda im, y: (tf.cast(im, tf.float32)[..., None], y))
    assert _fails_with(unscaled, "did you forget to divide by 255?")


def _image_only_argument(image):
    return tf.expand_dims(tf.cast(image, tf.float32) / 255.0, -1)


def _pair_argument(pair):
    image, label = pair
    return tf.expand_dims(tf.cast(image, tf.float32) / 255.0, -1), label


@pytest.mark.parametrize("answer", [_image_only_argument, _pair_argument])
def test_2_1_an_error_inside_map_is_quoted_from_the_student_s_code(answer):
    # tf.data's own first line is always "in user code:"; the cause is the last one.
    result = checks.exercise_2_1(answer)
    assert _fails_with(
        result,
        f"could not run your function (TypeError: {answer.__name__}() takes 1 positional "
        "argument but 2 were given)",
    )
    assert "define preprocess(image, label)" in result.message
    assert "in user code" not in result.message and "NumPy" not in result.message


def test_2_1_an_error_inside_map_gets_the_numpy_hint_only_when_numpy_caused_it():
    names = {3: "Dress"}

    def looks_up(image, label):  # works on no tensor, in map or not
        return tf.cast(image, tf.float32)[..., None] / 255.0, names[label]

    result = checks.exercise_2_1(looks_up)
    assert _fails_with(result, "(TypeError: Tensor is unhashable")
    assert "NumPy" not in result.message and "in user code" not in result.message
    result = checks.exercise_2_1(lambda im, y: (im.astype("float32") / 255, y))
    assert _fails_with(result, "(AttributeError: SymbolicTensor object has no attribute 'astype')")
    assert "NumPy methods like `.astype`" in result.message


def test_2_1_unattempted_exercise_says_so():
    def untouched(image, label):
        raise NotImplementedError("Exercise 2.1")

    assert _fails_with(checks.exercise_2_1(untouched), "not attempted yet")


def test_2_1_numpy_inside_map_is_named_not_taken_for_an_unattempted_exercise():
    # Eagerly np.asarray works; traced by map, TensorFlow raises NotImplementedError itself.
    def with_numpy(image, label):
        return (np.asarray(image, np.float32) / 255.0)[..., None], label

    result = checks.exercise_2_1(with_numpy)
    assert _fails_with(result, "NumPy cannot run inside `map`")
    assert "tf.cast" in result.message and "not attempted" not in result.message


def test_numpy_on_a_traced_tensor_in_a_pipeline_is_named_not_taken_for_an_unattempted_one():
    # ds.map traces at once, inside the student's function: TensorFlow's NotImplementedError.
    def pipeline_with_numpy(ds, batch_size, seed):
        ds = ds.map(lambda x, y: (np.asarray(x) * 1.0, y))
        return ds.cache().shuffle(1000, seed=seed).batch(batch_size).prefetch(AUTOTUNE)

    result = checks.exercise_2_2(pipeline_with_numpy)
    assert _fails_with(result, "NumPy cannot run on the symbolic tensors")
    assert "not attempted" not in result.message


# ---------------------------------------------------------------- 2.2


def test_2_2_accepts_cache_shuffle_batch_prefetch():
    def right(ds, batch_size, seed):
        return ds.cache().shuffle(ds.cardinality(), seed=seed).batch(batch_size).prefetch(AUTOTUNE)

    assert checks.exercise_2_2(right).passed
    # Written differently: the size as an int, the seed passed by keyword, a fixed prefetch depth.
    assert checks.exercise_2_2(
        lambda ds, b, s: (
            ds.cache().shuffle(buffer_size=int(ds.cardinality()), seed=s).batch(b).prefetch(2)
        )
    ).passed
    # The size counted by hand, every argument by keyword.
    assert checks.exercise_2_2(
        lambda ds, batch_size, seed: (
            ds.cache()
            .shuffle(buffer_size=len(list(ds)), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size=batch_size, drop_remainder=False)
            .prefetch(buffer_size=AUTOTUNE)
        )
    ).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (
            lambda ds, b, s: ds.cache().batch(b).shuffle(1000, seed=s).prefetch(AUTOTUNE),
            "shuffled after batching",
        ),
        (lambda ds, b, s: ds.cache().shuffle(1000, seed=s).prefetch(AUTOTUNE), "add .batch"),
        (
            lambda ds, b, s: ds.cache().shuffle(1000, seed=s).batch(32).prefetch(AUTOTUNE),
            "use the argument",
        ),
        (lambda ds, b, s: ds.cache().batch(b).prefetch(AUTOTUNE), "add .shuffle"),
        (
            lambda ds, b, s: ds.cache().shuffle(4, seed=s).batch(b).prefetch(AUTOTUNE),
            "buffer is too small",
        ),
        (
            lambda ds, b, s: ds.cache().shuffle(100, seed=s).batch(b).prefetch(AUTOTUNE),
            "holds 100 elements, fewer than the 137",
        ),
        (
            lambda ds, b, s: ds.cache().shuffle(60, seed=s).batch(b).prefetch(AUTOTUNE),
            "holds 60 elements, fewer than the 137",
        ),
        (
            lambda ds, b, s: ds.shuffle(1000, seed=s).cache().batch(b).prefetch(AUTOTUNE),
            "Cache first",
        ),
        (
            lambda ds, b, s: (
                ds.cache()
                .shuffle(1000, seed=s, reshuffle_each_iteration=False)
                .batch(b)
                .prefetch(AUTOTUNE)
            ),
            "reshuffle_each_iteration",
        ),
        (lambda ds, b, s: ds.shuffle(1000, seed=s).batch(b).prefetch(AUTOTUNE), "add .cache()"),
        (lambda ds, b, s: ds.cache().shuffle(1000, seed=s).batch(b), "add .prefetch"),
        (
            lambda ds, b, s: ds.cache().prefetch(AUTOTUNE).shuffle(1000, seed=s).batch(b),
            "last step",
        ),
        (
            lambda ds, b, s: ds.cache().shuffle(1000, seed=s).batch(b).repeat().prefetch(AUTOTUNE),
            "never ends",
        ),
        (
            lambda ds, b, s: ds.cache().shuffle(1000, seed=s).take(50).batch(b).prefetch(AUTOTUNE),
            "only 50 of the 137",
        ),
        (
            lambda ds, b, s: (
                ds.concatenate(ds.take(12))
                .cache()
                .shuffle(1000, seed=s)
                .batch(b)
                .prefetch(AUTOTUNE)
            ),
            "more than once",
        ),
        (
            lambda ds, b, s: (
                ds.map(lambda x, y: x).cache().shuffle(1000, seed=s).batch(b).prefetch(AUTOTUNE)
            ),
            "keep the labels",
        ),
        (lambda ds, b, s: list(ds), "return the tf.data.Dataset"),
        (
            lambda ds, b, s: (
                ds.map(lambda x, y: (x / 255, y))
                .cache()
                .shuffle(1000, seed=s)
                .batch(b)
                .prefetch(AUTOTUNE)
            ),
            "divided by 255 again",
        ),
        (
            lambda ds, b, s: (
                ds.cache().shuffle(1000, seed=s).batch(b, drop_remainder=True).prefetch(AUTOTUNE)
            ),
            "only 132 of the 137",
        ),
        (
            lambda ds, b, s: ds.cache().shuffle(1000).batch(b).prefetch(AUTOTUNE),
            "same seed gave different orders",
        ),
        (
            lambda ds, b, s: ds.cache().shuffle(1000, seed=42).batch(b).prefetch(AUTOTUNE),
            "seeds 0 and 1 gave the same order",
        ),
    ],
)
def test_2_2_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_2_2(answer), phrase)


def _whole_batches_shuffled_short_one_first(ds, batch_size, seed):
    """Whole batches shuffled, as some seeds order them: the remainder first."""
    batches = ds.cache().batch(batch_size).shuffle(1000, seed=seed)
    short = batches.filter(lambda x, y: tf.shape(y)[0] < batch_size)
    full = batches.filter(lambda x, y: tf.shape(y)[0] == batch_size)
    return short.concatenate(full)


def test_2_2_whole_batches_shuffled_with_the_short_one_first_are_named_not_called_a_batch_size():
    def short_batch_first(ds, batch_size, seed):  # 137 = 11 x 12 + 5
        return _whole_batches_shuffled_short_one_first(ds, batch_size, seed).prefetch(AUTOTUNE)

    result = checks.exercise_2_2(short_batch_first)
    assert _fails_with(result, "you shuffled after batching")
    assert "batch_size was" not in result.message


@pytest.fixture(params=[None, 0, 42])
def global_seed(request):
    """TensorFlow's global seed (42: the lesson's), which changes the orders shuffles draw."""
    tf.random.set_seed(request.param)
    yield request.param
    tf.random.set_seed(None)


@pytest.mark.parametrize(
    "answer",
    [
        # A student's: batches shuffled, then unbatched and batched again. Where the short
        # last batch lands in the middle, the new batches straddle two old ones.
        lambda ds, b, s: ds.cache().batch(b).shuffle(1000, seed=s).unbatch().batch(b).prefetch(1),
        lambda ds, b, s: (
            ds.cache().batch(b).shuffle(ds.cardinality(), seed=s).unbatch().batch(b).prefetch(1)
        ),
        lambda ds, b, s: ds.cache().batch(b).shuffle(ds.cardinality(), seed=s).prefetch(1),
        # Batched by another size before the shuffle: no batch is one run of neighbours.
        lambda ds, b, s: ds.cache().batch(5).shuffle(1000, seed=s).unbatch().batch(b).prefetch(1),
    ],
)
def test_2_2_whole_batches_shuffled_are_named_whatever_the_buffer_or_the_rebatching(
    global_seed, answer
):
    result = checks.exercise_2_2(answer)
    assert _fails_with(result, "you shuffled after batching")
    assert "everything else is right" not in result.message
    assert "shuffle buffer" not in result.message


def test_2_2_a_small_buffer_over_single_images_is_not_taken_for_shuffled_batches(global_seed):
    # A buffer of 2 keeps many neighbours together too, but no batch was shuffled.
    result = checks.exercise_2_2(
        lambda ds, b, s: ds.cache().shuffle(2, seed=s).batch(b).prefetch(AUTOTUNE)
    )
    assert _fails_with(result, "buffer is too small")
    assert "after batching" not in result.message
    # Batches of one shuffled are single images shuffled: right.
    result = checks.exercise_2_2(
        lambda ds, b, s: (
            ds.cache()
            .batch(1)
            .shuffle(ds.cardinality(), seed=s)
            .unbatch()
            .batch(b)
            .prefetch(AUTOTUNE)
        )
    )
    assert result.passed, result.message


def test_the_expected_order_is_the_one_a_shuffle_made_in_a_graph_gets_too(global_seed):
    # A dataset a tf.function returns no longer shows its steps, so the check cannot pass it;
    # its order, the one the seed gives, is the expected one all the same.
    labels = np.arange(PIPELINE_SIZE)

    @tf.function
    def shuffled(ds):
        return ds.shuffle(ds.cardinality(), seed=3)

    in_graph = [int(y) for y in shuffled(tf.data.Dataset.from_tensor_slices(labels))]
    assert in_graph == _drivers._seeded_order(labels, 3)


def _seeded_globally_too(ds, batch_size, seed):  # a student's
    tf.random.set_seed(seed)  # the global seed set as well, and the shuffle given its own
    return ds.cache().shuffle(ds.cardinality(), seed=seed).batch(batch_size).prefetch(AUTOTUNE)


@pytest.mark.parametrize(
    "answer",
    [
        lambda ds, b, s: ds.cache().shuffle(ds.cardinality(), seed=s).batch(b).prefetch(1),
        lambda ds, b, s: ds.cache().shuffle(len(ds), np.int64(s)).batch(b).prefetch(1),
    ],
)
def test_2_2_the_order_the_seed_gives_passes_under_any_global_seed(global_seed, answer):
    result = checks.exercise_2_2(answer)
    assert result.passed, result.message


def test_2_2_the_global_seed_set_as_well_as_the_shuffle_s_own_is_refused(global_seed):
    # The order is the one seed=seed gives, but every random operation the notebook runs
    # after the call draws other numbers.
    result = checks.exercise_2_2(_seeded_globally_too)
    assert not result.passed
    assert str(result) == (
        "❌ Not yet (exercise 2.2): the images come out in the order .shuffle(buffer, "
        "seed=seed) gives, but your function sets TensorFlow's global seed "
        "(tf.random.set_seed), which changes the seeds of every random operation the notebook "
        "runs after it. The shuffle's own seed, seed=seed, is all the task asks for: take the "
        "tf.random.set_seed line out, and leave the global seed to the notebook."
    )


def test_2_2_a_seed_derived_from_the_argument_is_named():
    result = checks.exercise_2_2(
        lambda ds, b, s: ds.cache().shuffle(ds.cardinality(), seed=s + 1).batch(b).prefetch(1)
    )
    assert _fails_with(
        result, "another order than .shuffle(buffer, seed=seed) gives for seed=0: the order"
    )
    assert "Pass the argument itself, seed=seed." in result.message
    assert "global seed" not in result.message


def test_2_2_a_global_seed_in_place_of_the_shuffle_s_own_is_named(global_seed):
    def global_only(ds, b, s):
        tf.random.set_seed(s)
        return ds.cache().shuffle(ds.cardinality()).batch(b).prefetch(AUTOTUNE)

    result = checks.exercise_2_2(global_only)
    assert _fails_with(result, "your function sets TensorFlow's global seed (tf.random.set_seed)")
    assert "Pass seed=seed to shuffle" in result.message


def test_2_2_two_shuffles_are_named_as_two():
    result = checks.exercise_2_2(
        lambda ds, b, s: ds.cache().shuffle(1000, seed=s).shuffle(1000, seed=s).batch(b).prefetch(1)
    )
    assert _fails_with(result, "your pipeline shuffles 2 times. Shuffle once, with seed=seed.")


def _deterministic():
    options = tf.data.Options()
    options.deterministic = True
    return options


def test_2_2_options_set_after_the_prefetch_leave_it_the_last_step():
    # with_options only attaches options: the pipeline still ends by prefetching.
    def with_options(ds, batch_size, seed):
        return (
            ds.cache()
            .shuffle(ds.cardinality(), seed=seed)
            .batch(batch_size)
            .prefetch(AUTOTUNE)
            .with_options(_deterministic())
        )

    result = checks.exercise_2_2(with_options)
    assert result.passed, result.message
    # Options set earlier on count for nothing either way.
    result = checks.exercise_2_2(
        lambda ds, b, s: (
            ds.with_options(_deterministic())
            .cache()
            .shuffle(ds.cardinality(), seed=s)
            .batch(b)
            .prefetch(AUTOTUNE)
        )
    )
    assert result.passed, result.message


def test_2_2_options_at_the_end_do_not_hide_a_missing_or_misplaced_prefetch():
    no_prefetch = checks.exercise_2_2(
        lambda ds, b, s: (
            ds.cache().shuffle(ds.cardinality(), seed=s).batch(b).with_options(_deterministic())
        )
    )
    assert _fails_with(no_prefetch, "add .prefetch")
    misplaced = checks.exercise_2_2(
        lambda ds, b, s: (
            ds.cache()
            .prefetch(AUTOTUNE)
            .shuffle(ds.cardinality(), seed=s)
            .batch(b)
            .with_options(_deterministic())
        )
    )
    assert _fails_with(misplaced, "your pipeline ends with batch.")


# ---------------------------------------------------------------- 2.3


DEFAULT = object()  # leave the argument out: the loader's own default


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    # The check reads the true labels from the course's own Fashion-MNIST: a few per class.
    fashion = data.load_fashion_mnist(subset=5)
    root = data.make_image_folder(fashion, tmp_path_factory.mktemp("folder"), per_class=5)
    return root, fashion


def _load(root, fashion, **overrides):
    kwargs = dict(
        validation_split=0.2, subset="both", seed=1, color_mode="grayscale", image_size=(28, 28),
        class_names=[data.folder_name(c) for c in fashion.class_names], batch_size=16,
        verbose=False,
    )  # fmt: skip
    kwargs.update(overrides)
    kwargs = {k: v for k, v in kwargs.items() if v is not DEFAULT}
    return keras.utils.image_dataset_from_directory(root, **kwargs)


def test_2_3_accepts_a_seeded_split_in_the_course_label_order(folder):
    root, fashion = folder
    train, val = _load(root, fashion)
    assert checks.exercise_2_3(train, val, root, fashion, batch_size=16, seed=1).passed


def test_2_3_accepts_two_calls_with_the_same_seed_and_the_defaults_spelled_out(folder):
    root, fashion = folder
    train = _load(root, fashion, subset="training", labels="inferred", label_mode="int")
    val = _load(root, fashion, subset="validation", image_size=[28, 28], shuffle=True)
    result = checks.exercise_2_3(train, val, root, fashion, batch_size=16, seed=1)
    assert result.passed, result.message


def test_2_3_accepts_one_call_with_its_arguments_written_otherwise(folder):
    root, fashion = folder
    folders = [data.folder_name(name) for name in fashion.class_names]
    train, val = keras.utils.image_dataset_from_directory(
        str(root),
        labels="inferred",
        label_mode="int",
        class_names=folders,
        color_mode="grayscale",
        batch_size=16,
        image_size=[28, 28],
        shuffle=True,
        seed=1,
        validation_split=0.2,
        subset="both",
        interpolation="nearest",
        verbose=False,
    )
    result = checks.exercise_2_3(train, val, root, fashion, batch_size=16, seed=1)
    assert result.passed, result.message


def test_2_3_the_check_prints_nothing_of_the_loader_s_own(folder, capsys):
    root, fashion = folder
    train, val = _load(root, fashion)
    capsys.readouterr()  # the student's own call prints its counts; the check's may not
    assert checks.exercise_2_3(train, val, root, fashion, batch_size=16, seed=1).passed
    train, val = _load(root, fashion, seed=0)  # a student's: another seed, both splits asked
    capsys.readouterr()
    assert not checks.exercise_2_3(train, val, root, fashion, batch_size=16, seed=1).passed
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err == "", printed


def test_2_3_judges_labels_by_the_course_data_not_the_notebooks_dataset(folder):
    """Alphabetical labels fail even when the notebook's dataset is relabelled to match them."""
    root, fashion = folder
    train, val = _load(root, fashion, class_names=DEFAULT)
    folders = [data.folder_name(c) for c in fashion.class_names]
    to_sorted = np.array([sorted(folders).index(f) for f in folders])
    forged = dataclasses.replace(
        fashion,
        class_names=sorted(fashion.class_names, key=data.folder_name),
        y_train=to_sorted[fashion.y_train],
        y_test=to_sorted[fashion.y_test],
    )
    assert _fails_with(
        checks.exercise_2_3(train, val, root, forged, batch_size=16, seed=1), "alphabetical order"
    )
    right_train, right_val = _load(root, fashion)
    for dataset in (forged, None):  # the argument is not needed, and not trusted
        result = checks.exercise_2_3(right_train, right_val, root, dataset, batch_size=16, seed=1)
        assert result.passed, result.message


def test_2_3_names_shuffle_false_not_the_seed_when_shuffle_false_made_the_split(folder):
    root, fashion = folder
    train, val = _load(root, fashion, shuffle=False)
    result = checks.exercise_2_3(train, val, root, fashion, batch_size=16, seed=1)
    assert _fails_with(result, "shuffle=False")
    assert "seed=SEED" not in result.message


def test_2_3_one_load_cut_with_take_and_skip_is_told_it_reshuffles(folder):
    """A student's split of one load by batches: the loader reshuffles on every pass."""
    root, fashion = folder
    for seed in (None, 1):
        whole = _load(root, fashion, validation_split=DEFAULT, subset=DEFAULT, seed=seed)
        cut = int(whole.cardinality()) - 1
        result = checks.exercise_2_3(
            whole.take(cut), whole.skip(cut), root, fashion, batch_size=16, seed=1
        )
        assert _fails_with(result, "take() and skip() is no fixed split")
        assert "Make one call with validation_split=0.2, subset='both'" in result.message
    # Two calls with two seeds: the same message names their case first.
    train = _load(root, fashion, subset="training", seed=1)
    val = _load(root, fashion, subset="validation", seed=2)
    result = checks.exercise_2_3(train, val, root, fashion, batch_size=16, seed=1)
    assert _fails_with(result, "split alike only with the same seed")


def test_2_3_recognises_alphabetical_labels_when_folder_names_sort_differently(tmp_path):
    fashion = data.load_fashion_mnist(subset=2)
    root = data.make_image_folder(fashion, tmp_path, per_class=2)
    train, val = _load(
        root, fashion, class_names=DEFAULT, image_size=(28, 28), validation_split=0.25
    )
    result = checks.exercise_2_3(train, val, root, fashion, validation_split=0.25)
    assert _fails_with(result, "alphabetical order")


@pytest.mark.parametrize(
    ("overrides", "phrase"),
    [
        ({"color_mode": DEFAULT}, "color_mode='grayscale'"),
        ({"image_size": DEFAULT}, "image_size=(28, 28)"),
        ({"label_mode": "categorical"}, "label_mode='int'"),
        ({"batch_size": None}, "batch_size"),
        ({"validation_split": 0.4}, "validation_split=0.2"),
        ({"batch_size": DEFAULT}, "hold 32 images (32 is the loader's default)"),
        ({"batch_size": 8}, "pass batch_size=BATCH_SIZE (16)"),
        ({"seed": 3}, "not the one seed=SEED (1) makes"),
    ],
)
def test_2_3_names_the_mistake(folder, overrides, phrase):
    root, fashion = folder
    train, val = _load(root, fashion, **overrides)
    assert _fails_with(
        checks.exercise_2_3(train, val, root, fashion, batch_size=16, seed=1),
        phrase,
    )


def test_2_3_the_two_datasets_unpacked_the_wrong_way_round_are_named_swapped(folder):
    root, fashion = folder
    train, val = _load(root, fashion)
    result = checks.exercise_2_3(val, train, root, fashion, batch_size=16, seed=1)  # a student's
    assert _fails_with(
        result,
        "ds_folder_train and ds_folder_val are swapped: ds_folder_train holds the 20% of the "
        "images the loader set aside for validation, and ds_folder_val the training images. "
        "With subset='both' the loader returns (train, validation), in that order",
    )
    # Swapped, with a split the seed does not make: the check cannot tell it from a split of 0.8
    train, val = _load(root, fashion, seed=3)
    result = checks.exercise_2_3(val, train, root, fashion, batch_size=16, seed=1)
    assert _fails_with(
        result,
        "validation holds 80% of the images and training 20%: either the two datasets are "
        "swapped (with subset='both' the loader returns (train, validation), in that order) or "
        "validation_split was 0.8; the task asks for validation_split=0.2, and ds_folder_train "
        "first.",
    )
    train, val = _load(root, fashion, validation_split=0.8)
    result = checks.exercise_2_3(train, val, root, fashion, batch_size=16, seed=1)
    assert _fails_with(result, "or validation_split was 0.8")
    assert "are swapped:" not in result.message


def test_2_3_an_image_size_given_is_not_told_about_the_loader_s_default(folder):
    root, fashion = folder
    train, val = _load(root, fashion, image_size=(32, 32))
    result = checks.exercise_2_3(train, val, root, fashion, batch_size=16, seed=1)
    assert _fails_with(result, "images are (32, 32), where the folder's are (28, 28)")
    assert "256" not in result.message
    train, val = _load(root, fashion, image_size=DEFAULT)
    result = checks.exercise_2_3(train, val, root, fashion, batch_size=16, seed=1)
    assert _fails_with(result, "images are (256, 256), the loader's default size")


def test_2_3_class_names_in_another_order_are_named_as_an_order(folder):
    root, fashion = folder
    reversed_names = [data.folder_name(c) for c in fashion.class_names][::-1]
    train, val = _load(root, fashion, class_names=reversed_names)
    result = checks.exercise_2_3(train, val, root, fashion, batch_size=16, seed=1)
    assert _fails_with(result, "each class has a label of its own, but in another order")
    assert "the images of 'T-shirt/top' got label 9, where class_names has it at 0" in (
        result.message
    )
    assert "(10 of 10 classes moved)" in result.message


def test_2_3_the_training_dataset_given_as_validation_too_is_named_so(folder):
    root, fashion = folder
    # A student's: one call without validation_split, its dataset given twice
    ds_folder_train = keras.utils.image_dataset_from_directory(
        root,
        class_names=[data.folder_name(c) for c in fashion.class_names],
        color_mode="grayscale",
        image_size=(28, 28),
        batch_size=16,
        seed=1,
    )
    ds_folder_val = ds_folder_train
    result = checks.exercise_2_3(ds_folder_train, ds_folder_val, root, batch_size=16, seed=1)
    assert not result.passed
    assert str(result) == (
        "❌ Not yet (exercise 2.3): ds_folder_val holds the very images of ds_folder_train, "
        "all 50 of the folder: the validation dataset is the training one, and no "
        "validation_split was made. Validation must be images the model does not train on: "
        "make one call with validation_split=0.2, subset='both' and seed=SEED, which returns "
        "(train, validation)."
    )
    # The training part of a split given twice; a split for validation beside no split
    train, val = _load(root, fashion)
    result = checks.exercise_2_3(train, train, root, batch_size=16, seed=1)
    assert _fails_with(
        result,
        "ds_folder_val holds the very images of ds_folder_train (40): the validation dataset "
        "is the training one. Validation must",
    )
    result = checks.exercise_2_3(ds_folder_train, val, root, batch_size=16, seed=1)
    assert _fails_with(
        result,
        "ds_folder_train holds all 50 images of the folder: it was loaded without "
        "validation_split, so every validation image is a training image too. Make one call",
    )


def test_2_3_recognises_overlap_between_two_unseeded_calls_and_wrong_types(folder):
    root, fashion = folder
    train = _load(root, fashion, subset="training", seed=1)
    val = _load(root, fashion, subset="validation", seed=2)
    assert _fails_with(
        checks.exercise_2_3(train, val, root, fashion, batch_size=16, seed=1),
        "both training and validation",
    )
    both = _load(root, fashion)
    assert _fails_with(
        checks.exercise_2_3(both, None, root, fashion, batch_size=16, seed=1),
        "subset='both'",
    )


# ---------------------------------------------------------------- 2.4


def _brightness(**kwargs):
    return keras.layers.RandomBrightness(0.1, **{"value_range": (0, 1), "seed": 4, **kwargs})


def _augment(*extra, flip="horizontal", brightness=True):
    return keras.Sequential(
        [
            keras.layers.RandomFlip(flip, seed=1),
            keras.layers.RandomRotation(0.05, seed=2),
            *([_brightness()] if brightness else []),
            *extra,
        ]
    )


def test_2_4_accepts_random_layers_only():
    assert checks.exercise_2_4(_augment()).passed
    assert checks.exercise_2_4(
        _augment(keras.layers.RandomContrast(0.2, value_range=(0, 1), seed=3))
    ).passed
    assert checks.exercise_2_4(
        keras.Sequential(
            [
                keras.layers.RandomBrightness((-0.05, 0.1), value_range=(0.0, 1.0)),
                keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant"),
                keras.layers.RandomFlip(mode="horizontal"),
            ]
        )
    ).passed


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (
            lambda: _augment(keras.layers.Rescaling(1 / 255)),
            "Rescaling layer changes images at inference",
        ),
        (
            lambda: _augment(keras.layers.Lambda(tf.image.flip_left_right)),
            "Lambda layer is not random",
        ),
        (lambda: _augment(flip="horizontal_and_vertical"), "upside down"),
        (
            lambda: keras.Sequential([keras.layers.RandomRotation(0.05)]),
            "add RandomFlip('horizontal')",
        ),
        (lambda: keras.Sequential([keras.layers.RandomFlip("horizontal")]), "RandomZoom"),
        (lambda: _augment(keras.layers.RandomCrop(10, 10)), "keep the size"),
        (lambda: _augment(keras.layers.RandomContrast(0.5, seed=3)), "value_range=(0, 1)"),
        (
            lambda: _augment(keras.layers.RandomBrightness(0.2, seed=3), brightness=False),
            "value_range=(0, 1)",
        ),
        (lambda: _augment(brightness=False), "add RandomBrightness"),
        (
            lambda: _augment(keras.layers.GaussianNoise(0.3, seed=5)),
            "call each layer on its own with training=True",
        ),
        (
            lambda: _augment(
                keras.layers.RandomContrast(0.2, value_range=(0, 1)), brightness=False
            ),
            "add RandomBrightness",
        ),
        (lambda: [keras.layers.RandomFlip("horizontal")], "keras.Sequential"),
        (lambda: _augment(keras.layers.RandomRotation(0.5)), "up to 180°"),
        (lambda: _augment(keras.layers.RandomRotation((-0.1, 0.3))), "up to 108°"),
        (lambda: _augment(keras.layers.RandomRotation(0.25)), "at 90° a garment lies on its"),
    ],
)
def test_2_4_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_2_4(answer()), phrase)


def test_2_4_rotations_that_turn_garments_upside_down_fail_without_the_fixing_line():
    result = checks.exercise_2_4(_augment(keras.layers.RandomRotation(0.5, seed=1)))
    assert _fails_with(result, "upside down")
    assert "RandomRotation(" not in result.message
    # Under a quarter turn is a tilt, however strong.
    assert checks.exercise_2_4(_augment(keras.layers.RandomRotation(0.24, seed=1))).passed


_AT_MOST = (
    "; keep its factor at most 0.3 (the task keeps zooms, shifts and changes of brightness to "
    "at most 30%)."
)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (  # a student's
            [
                keras.layers.RandomFlip("horizontal", seed=1),
                keras.layers.RandomTranslation(0.1, 0.1, seed=2),
                keras.layers.RandomBrightness(1.0, value_range=(0, 1), seed=3),
            ],
            "RandomBrightness shifts every pixel by up to 100% of the value range: a draw of "
            "+1 turns every pixel white; a draw of -1 turns every pixel black. That is no "
            "longer the same garment in other light" + _AT_MOST,
        ),
        (  # a student's
            [
                keras.layers.RandomFlip("horizontal", seed=1),
                keras.layers.RandomZoom(0.9, seed=2),
                keras.layers.RandomBrightness(0.1, value_range=(0, 1), seed=3),
            ],
            "RandomZoom zooms in by up to 90%: the frame then keeps only the middle 10% of the "
            "image's height and width, a piece of a garment rather than a garment" + _AT_MOST,
        ),
        (  # a student's
            [
                keras.layers.RandomFlip("horizontal", seed=1),
                keras.layers.RandomRotation(0.25, seed=2),
                keras.layers.RandomBrightness(0.1, value_range=(0, 1), seed=3),
            ],
            "RandomRotation turns images by up to 90°: at 90° a garment lies on its side, "
            "which Fashion-MNIST never shows. Keep turns under a quarter turn, a factor below "
            "0.25.",
        ),
        (
            [
                keras.layers.RandomFlip("horizontal"),
                keras.layers.RandomZoom((0.0, 0.5)),
                keras.layers.RandomBrightness((-0.1, 0.5), value_range=(0, 1)),
            ],
            "RandomZoom zooms out by up to 50%: the garment then shrinks to 67% of its size, "
            "and what the fill mode adds around it (mirrored copies of it, by default) takes "
            "up the rest of the frame" + _AT_MOST,
        ),
        (  # a student's: only the width zooms too far
            [
                keras.layers.RandomFlip("horizontal"),
                keras.layers.RandomZoom(0.2, width_factor=0.5),
                keras.layers.RandomBrightness(0.2, value_range=(0, 1)),
            ],
            "RandomZoom zooms in by up to 50% (width_factor): the frame then keeps only the "
            "middle 50% of the image's width, a piece of a garment rather than a garment"
            + _AT_MOST,
        ),
        (
            [
                keras.layers.RandomFlip("horizontal"),
                keras.layers.RandomZoom((-0.5, 0.0), width_factor=(-0.4, 0.0)),
                _brightness(),
            ],
            "RandomZoom zooms in by up to 50%: the frame then keeps only the middle 50% of the "
            "image's height and 60% of its width, a piece of a garment rather than a garment"
            + _AT_MOST,
        ),
        (
            [
                keras.layers.RandomFlip("horizontal"),
                keras.layers.RandomZoom((0.0, 0.1), width_factor=(0.0, 0.6)),
                _brightness(),
            ],
            "RandomZoom zooms out by up to 60% (width_factor): the garment then shrinks to 62% "
            "of its width, and what the fill mode adds around it (mirrored copies of it, by "
            "default) takes up the rest of the frame" + _AT_MOST,
        ),
        (
            [
                keras.layers.RandomFlip("horizontal"),
                keras.layers.RandomTranslation(0.1, (-0.5, 0.2)),
                _brightness(),
            ],
            "RandomTranslation shifts images by up to 50% of their height or width: that much "
            "of a garment leaves the frame" + _AT_MOST,
        ),
        (
            [
                keras.layers.RandomFlip("horizontal"),
                keras.layers.RandomZoom(0.1),
                keras.layers.RandomBrightness((-0.1, 0.5), value_range=(0, 1)),
            ],
            "RandomBrightness shifts every pixel by up to 50% of the value range: a draw of "
            "+0.5 lifts the black background to 0.5, a gray, and clips every pixel above 0.5 "
            "to white. That is no longer the same garment in other light" + _AT_MOST,
        ),
    ],
)
def test_2_4_changes_too_strong_for_a_garment_to_stay_the_same_are_named(layers, message):
    result = checks.exercise_2_4(keras.Sequential(layers))
    assert not result.passed
    assert str(result) == f"❌ Not yet (exercise 2.4): {message}"


def test_2_4_the_strongest_changes_the_lesson_shows_pass():
    # The lesson's demonstration on a photo, with the turn under a quarter turn
    augment = keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=1),
            keras.layers.RandomRotation(0.2, seed=2),
            keras.layers.RandomZoom(0.3, seed=3),
            keras.layers.RandomTranslation(0.2, (-0.3, 0.3), seed=4),
            keras.layers.RandomBrightness(0.3, value_range=(0, 1), seed=5),
            keras.layers.RandomContrast(0.6, value_range=(0, 1), seed=6),
        ]
    )
    result = checks.exercise_2_4(augment)
    assert result.passed, result.message


def test_2_4_accepts_blocks_of_layers_nested_in_sequentials():
    nested = keras.Sequential(
        [
            keras.Sequential([keras.layers.RandomFlip("horizontal"), keras.layers.RandomZoom(0.1)]),
            keras.Sequential([_brightness()]),
        ]
    )
    assert checks.exercise_2_4(nested).passed
    upside_down = keras.Sequential([keras.Sequential([keras.layers.RandomFlip()]), _augment()])
    assert _fails_with(checks.exercise_2_4(upside_down), "upside down")


def _declared(shape):
    return keras.Sequential([keras.Input(shape), *_augment().layers])


@pytest.mark.parametrize("shape", [(32, 32, 3), (28, 28), (28, 28, 3)])
def test_2_4_an_input_declared_for_other_images_is_named(shape):
    result = checks.exercise_2_4(_declared(shape))  # (32, 32, 3): a student's
    assert _fails_with(result, f"built for inputs of shape {shape}")
    assert "Fashion-MNIST images are 28 × 28 × 1" in result.message
    inputs = keras.Input(shape)
    functional = keras.Model(inputs, _augment()(inputs))
    assert _fails_with(checks.exercise_2_4(functional), f"built for inputs of shape {shape}")


def test_2_4_an_input_for_the_lesson_s_images_or_none_at_all_passes():
    images = np.zeros((4, 28, 28, 1), np.float32)
    called_on_a_batch = _augment()
    called_on_a_batch(images)
    inputs = keras.Input((28, 28, 1))
    for answer in (
        _declared((28, 28, 1)),
        _declared((None, None, 1)),
        keras.Model(inputs, _augment()(inputs)),
        called_on_a_batch,
    ):
        result = checks.exercise_2_4(answer)
        assert result.passed, result.message


def test_2_4_recognises_augmentation_that_never_changes_anything():
    idle = keras.Sequential([keras.layers.RandomRotation(0.0)])
    assert _fails_with(checks.exercise_2_4(idle), "never change")


@pytest.mark.parametrize(
    ("idle", "phrase"),
    [
        (  # a student's: the flip alone changes the images
            [keras.layers.RandomRotation(0.0), keras.layers.RandomBrightness(0.0, (0, 1))],
            "your RandomRotation never changes an image (its factor is 0: the only turn it can "
            "draw is none), so it is not the augmentation asked for. Give it a factor other "
            "than 0",
        ),
        (
            [keras.layers.RandomZoom(0.1), keras.layers.RandomBrightness((0.0, 0.0), (0, 1))],
            "your RandomBrightness never changes an image (its factor is 0: the only change of "
            "brightness it can draw is none)",
        ),
        (
            [keras.layers.RandomZoom(0.0), _brightness()],
            "your RandomZoom never changes an image (its height_factor is 0 (and "
            "width_factor=None takes it too)",
        ),
        (
            [keras.layers.RandomTranslation(0, 0), _brightness()],
            "your RandomTranslation never changes an image (its height_factor and width_factor "
            "are 0",
        ),
    ],
)
def test_2_4_a_layer_whose_factor_changes_nothing_is_no_augmentation(idle, phrase):
    augment = keras.Sequential([keras.layers.RandomFlip("horizontal"), *idle])
    assert _fails_with(checks.exercise_2_4(augment), phrase)


def test_2_4_a_factor_of_0_on_one_axis_only_still_changes_images():
    for geometric in (
        keras.layers.RandomZoom((0.0, 0.0), width_factor=0.1),
        keras.layers.RandomTranslation(0.0, 0.1),
        keras.layers.RandomRotation((0.0, 0.05)),
    ):
        augment = keras.Sequential(
            [keras.layers.RandomFlip("horizontal"), geometric, _brightness()]
        )
        result = checks.exercise_2_4(augment)
        assert result.passed, result.message


# ---------------------------------------------------------------- 2.5


def _pipelines(train, val, augment, batch_size, seed):
    train = (
        train.cache()
        .shuffle(train.cardinality(), seed=seed)
        .batch(batch_size)
        .map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=AUTOTUNE)
        .prefetch(AUTOTUNE)
    )
    return train, val.batch(batch_size).prefetch(AUTOTUNE)


def _pipelines_per_image(train, val, augment, batch_size, seed):
    # Augmenting single images before batching is right too, as long as it comes after the cache.
    train = (
        train.cache()
        .shuffle(train.cardinality(), seed=seed)
        .map(lambda x, y: (augment(x), y))
        .batch(batch_size)
    )
    return [train.prefetch(2), val.cache().batch(batch_size).prefetch(2)]


def _pipelines_written_out(ds_train, ds_val, augment, batch_size, seed):
    def augment_batch(images, labels):
        return augment(images, training=True), labels

    size = int(ds_train.cardinality())
    train = ds_train.cache().shuffle(size, seed=seed).batch(batch_size).map(augment_batch)
    val = ds_val.batch(batch_size)
    return train.prefetch(buffer_size=AUTOTUNE), val.prefetch(buffer_size=AUTOTUNE)


def _pipelines_with_options(train, val, augment, batch_size, seed):
    # with_options after the prefetch (a student's answer): both still prefetch last.
    train, val = _pipelines(train, val, augment, batch_size, seed)
    return train.with_options(_deterministic()), val.with_options(_deterministic())


@pytest.mark.parametrize(
    "answer",
    [_pipelines, _pipelines_per_image, _pipelines_written_out, _pipelines_with_options],
)
def test_2_5_accepts_augmentation_after_the_cache_on_training_only(answer):
    result = checks.exercise_2_5(answer)
    assert result.passed, result.message


def test_2_5_options_after_the_batches_do_not_stand_in_for_the_prefetch():
    def options_only(train, val, augment, batch_size, seed):
        train = _pipelines(train, val, augment, batch_size, seed)[0]
        return train, val.batch(batch_size).with_options(_deterministic())

    assert _fails_with(checks.exercise_2_5(options_only), "end both pipelines with .prefetch")


def _augmented(ds, augment):
    return ds.map(lambda x, y: (augment(x, training=True), y))


@pytest.mark.parametrize("buffer", [None, 4, 1000])
def test_2_5_whole_batches_shuffled_are_named_whatever_the_buffer(global_seed, buffer):
    def batched_first(ds_train, ds_val, augment, batch_size, seed):  # a student's
        size = ds_train.cardinality() if buffer is None else buffer
        train = (
            ds_train.cache()
            .batch(batch_size)
            .shuffle(size, seed=seed)
            .map(lambda x, y: (augment(x, training=True), y))
            .prefetch(AUTOTUNE)
        )
        return train, ds_val.batch(batch_size).prefetch(AUTOTUNE)

    result = checks.exercise_2_5(batched_first)
    assert _fails_with(result, "each batch of the training dataset holds consecutive images")
    assert "you shuffled after batching" in result.message
    assert "shuffle buffer" not in result.message


def test_2_5_whole_batches_shuffled_with_the_short_one_first_are_named_not_called_a_batch_size():
    def short_batch_first(ds_train, ds_val, augment, batch_size, seed):  # 50 = 6 x 8 + 2
        train = _augmented(
            _whole_batches_shuffled_short_one_first(ds_train, batch_size, seed), augment
        )
        return train.prefetch(AUTOTUNE), ds_val.batch(batch_size).prefetch(AUTOTUNE)

    result = checks.exercise_2_5(short_batch_first)
    assert _fails_with(result, "you shuffled after batching")
    assert "batches hold" not in result.message


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (
            lambda t, v, a, b, s: (
                _augmented(t, a).cache().shuffle(1000, seed=s).batch(b).prefetch(AUTOTUNE),
                v.batch(b).prefetch(AUTOTUNE),
            ),
            "Cache first, then augment",
        ),
        (
            lambda t, v, a, b, s: (
                _pipelines(t, v, a, b, s)[0],
                _augmented(v, a).batch(b).prefetch(AUTOTUNE),
            ),
            "validation images are augmented",
        ),
        (
            lambda t, v, a, b, s: (
                _pipelines(t, v, a, b, s)[0],
                v.shuffle(100, seed=s).batch(b).prefetch(AUTOTUNE),
            ),
            "line up with the labels",
        ),
        (
            lambda t, v, a, b, s: (
                t.cache().shuffle(1000, seed=s).batch(b).prefetch(AUTOTUNE),
                v.batch(b).prefetch(AUTOTUNE),
            ),
            "come out unchanged",
        ),
        (
            lambda t, v, a, b, s: (
                t.cache()
                .shuffle(1000, seed=s)
                .batch(b)
                .map(lambda x, y: (a(x, training=False), y)),
                v.batch(b),
            ),
            "training=True",
        ),
        (
            lambda t, v, a, b, s: (
                _augmented(t, a).cache().batch(b).prefetch(AUTOTUNE),
                v.batch(b).prefetch(AUTOTUNE),
            ),
            "original order",
        ),
        (
            lambda t, v, a, b, s: (
                _augmented(t.shuffle(1000, seed=s).cache(), a).batch(b).prefetch(AUTOTUNE),
                v.batch(b).prefetch(AUTOTUNE),
            ),
            ".cache() after .shuffle()",
        ),
        (
            lambda t, v, a, b, s: (
                _augmented(t.shuffle(1000, seed=s), a).batch(b).prefetch(AUTOTUNE),
                v.batch(b).prefetch(AUTOTUNE),
            ),
            "add .cache()",
        ),
        (
            lambda t, v, a, b, s: (_pipelines(t, v, a, b, s)[0], v.batch(b)),
            "end both pipelines with .prefetch",
        ),
        (
            lambda t, v, a, b, s: (_pipelines(t, v, a, 32, s)[0], v.batch(b).prefetch(AUTOTUNE)),
            "use the batch_size",
        ),
        (lambda t, v, a, b, s: (_pipelines(t, v, a, b, s)[0], v.prefetch(AUTOTUNE)), "not batches"),
        (lambda t, v, a, b, s: (_pipelines(t, v, a, b, s)[0].repeat(), v.batch(b)), "never ends"),
        (lambda t, v, a, b, s: _pipelines(t, v, a, b, s)[0], "return two datasets"),
        (lambda t, v, a, b, s: (_pipelines(t, v, a, b, s)[0], list(v)), "not a tf.data.Dataset"),
        (
            lambda t, v, a, b, s: (
                _pipelines(t.take(10), v, a, b, s)[0],
                _pipelines(t, v, a, b, s)[1],
            ),
            "exactly once per epoch",
        ),
        (lambda t, v, a, b, s: _pipelines(t, t, a, b, s), "val holds training images"),
        (
            lambda t, v, a, b, s: (
                _pipelines(t, v, a, b, s)[0],
                v.map(lambda x, y: (x / 255.0, y)).batch(b).prefetch(AUTOTUNE),
            ),
            "validation images were divided by 255 again",
        ),
        (
            lambda t, v, a, b, s: _pipelines(t.map(lambda x, y: (x / 255.0, y)), v, a, b, s),
            "Were they divided by 255 again?",
        ),
        (
            lambda t, v, a, b, s: (
                _augmented(t.cache().shuffle(1000), a).batch(b).prefetch(AUTOTUNE),
                v.batch(b).prefetch(AUTOTUNE),
            ),
            "same seed gave the training images in different orders",
        ),
        (
            lambda t, v, a, b, s: (
                _augmented(t.cache().shuffle(1000, seed=42), a).batch(b).prefetch(AUTOTUNE),
                v.batch(b).prefetch(AUTOTUNE),
            ),
            "seeds 0 and 1 gave the training images in the same order",
        ),
        (
            lambda t, v, a, b, s: (
                _augmented(t.cache().shuffle(10, seed=s), a).batch(b).prefetch(AUTOTUNE),
                v.batch(b).prefetch(AUTOTUNE),
            ),
            "holds 10 elements, fewer than the 50",
        ),
        (
            lambda t, v, a, b, s: (
                _augmented(t.cache().shuffle(1000, seed=s), a)
                .batch(b, drop_remainder=True)
                .prefetch(AUTOTUNE),
                v.batch(b).prefetch(AUTOTUNE),
            ),
            "gave 48 images for 50",
        ),
        (
            lambda t, v, a, b, s: (_pipelines(t, v, a, b, s)[0].map(lambda x, y: x), v.batch(b)),
            "keep the labels",
        ),
        (
            lambda t, v, a, b, s: (
                _pipelines(t, v, a, b, s)[0].map(
                    lambda x, y: (tf.debugging.assert_less(x, 0.0) or x, y)
                ),
                v.batch(b).prefetch(AUTOTUNE),
            ),
            "raised",
        ),
    ],
)
def test_2_5_names_the_mistake(answer, phrase):
    assert _fails_with(checks.exercise_2_5(answer), phrase)


def test_2_5_the_order_the_seed_gives_passes_under_any_global_seed(global_seed):
    result = checks.exercise_2_5(_pipelines_written_out)
    assert result.passed, result.message


def test_2_5_the_global_seed_set_as_well_as_the_shuffle_s_own_is_refused_as_in_2_2():
    def make_pipelines(t, v, a, b, s):
        tf.random.set_seed(s)
        return _pipelines_written_out(t, v, a, b, s)

    result = checks.exercise_2_5(make_pipelines)
    assert _fails_with(
        result,
        "the training images come out in the order .shuffle(buffer, seed=seed) gives, but "
        "your function sets TensorFlow's global seed (tf.random.set_seed)",
    )


@pytest.mark.parametrize(
    ("shuffle", "phrase"),
    [
        (
            lambda t, s: t.shuffle(t.cardinality(), seed=s + 1),
            "the order changes with the seed, but the seed that reaches shuffle is another one",
        ),
        (
            lambda t, s: tf.random.set_seed(s) or t.shuffle(t.cardinality()),
            "your function sets TensorFlow's global seed",
        ),
    ],
)
def test_2_5_an_order_other_than_the_seed_s_is_named(global_seed, shuffle, phrase):
    def make_pipelines(t, v, a, b, s):
        return _augmented(shuffle(t.cache(), s), a).batch(b).prefetch(1), v.batch(b).prefetch(1)

    result = checks.exercise_2_5(make_pipelines)
    assert _fails_with(result, "the training images come out in another order than .shuffle(")
    assert phrase in result.message


def _own_augmentation(*layers):
    def make_pipelines(ds_train, ds_val, augment, batch_size, seed):
        own = keras.Sequential(list(layers))
        train = (
            ds_train.cache()
            .shuffle(ds_train.cardinality(), seed=seed)
            .batch(batch_size)
            .map(lambda x, y: (own(x, training=True), y))
            .prefetch(AUTOTUNE)
        )
        return train, ds_val.batch(batch_size).prefetch(AUTOTUNE)

    return make_pipelines


@pytest.mark.parametrize(
    "layers",
    [
        [keras.layers.RandomFlip("horizontal", seed=1)],  # a student's
        [keras.layers.RandomFlip("horizontal", seed=1), keras.layers.RandomRotation(0.1, seed=2)],
    ],
)
def test_2_5_an_augmentation_other_than_the_argument_is_named_not_taken_for_none(layers):
    result = checks.exercise_2_5(_own_augmentation(*layers))
    assert _fails_with(result, "the training images change, but not as the augment passed in")
    assert "Apply the augment argument" in result.message
    assert "come out unchanged" not in result.message


def test_2_5_augment_switched_off_or_left_out_still_leaves_the_images_unchanged():
    def switched_off(t, v, a, b, s):
        train = t.cache().shuffle(t.cardinality(), seed=s).batch(b)
        return train.map(lambda x, y: (a(x, training=False), y)).prefetch(1), v.batch(b)

    def left_out(t, v, a, b, s):
        return t.cache().shuffle(t.cardinality(), seed=s).batch(b).prefetch(1), v.batch(b)

    for answer in (switched_off, left_out):
        result = checks.exercise_2_5(answer)
        assert _fails_with(result, "the training images come out unchanged")
        assert "augment passed in" not in result.message


def test_2_5_datasets_returned_the_wrong_way_round_are_named_as_swapped():
    def swapped(ds_train, ds_val, augment, batch_size, seed):  # a student's
        train, val = _pipelines(ds_train, ds_val, augment, batch_size, seed)
        return val, train

    result = checks.exercise_2_5(swapped)
    assert _fails_with(result, "the two datasets come back the wrong way round")
    assert "Return (train, val), in that order." in result.message
    assert "keep the two datasets apart" not in result.message
    # The training data in both is no swap.
    both = checks.exercise_2_5(lambda t, v, a, b, s: _pipelines(t, t, a, b, s))
    assert _fails_with(both, "val holds training images: keep the two datasets apart")


# ---------------------------------------------------------------- any answer at all


JUNK = [None, 3, "text", {"a": 1}, [1, 2], (None, None), np.zeros(3)]


@pytest.mark.parametrize("junk", JUNK, ids=[type(j).__name__ for j in JUNK])
@pytest.mark.parametrize("exercise", ["2_1", "2_2", "2_5"])
def test_functions_returning_anything_give_not_yet_without_crashing(exercise, junk):
    result = getattr(checks, f"exercise_{exercise}")(lambda *args: junk)
    assert not result.passed and result.message


@pytest.mark.parametrize("exercise", ["2_1", "2_2", "2_4", "2_5"])
@pytest.mark.parametrize("junk", JUNK, ids=[type(j).__name__ for j in JUNK])
def test_values_that_are_not_functions_give_not_yet_without_crashing(exercise, junk):
    assert not getattr(checks, f"exercise_{exercise}")(junk).passed


@pytest.mark.parametrize("exercise", ["2_2", "2_5"])
def test_unattempted_pipeline_exercises_say_so(exercise):
    def untouched(*args):
        raise NotImplementedError("Exercise")

    assert _fails_with(getattr(checks, f"exercise_{exercise}")(untouched), "not attempted yet")


def test_2_2_an_empty_dataset_or_one_that_fails_while_read_is_named():
    assert _fails_with(checks.exercise_2_2(lambda ds, b, s: ds.take(0).batch(b)), "empty")

    def failing(ds, b, s):
        return ds.batch(b).map(lambda x, y: (tf.debugging.assert_less(x, -1.0) or x, y))

    assert _fails_with(checks.exercise_2_2(failing), "raised")


@pytest.mark.parametrize("junk", JUNK, ids=[type(j).__name__ for j in JUNK])
def test_2_3_anything_instead_of_datasets_gives_not_yet(folder, junk):
    root, fashion = folder
    assert _fails_with(
        checks.exercise_2_3(junk, junk, root, fashion, batch_size=16, seed=1),
        "not a tf.data.Dataset",
    )


def test_2_3_datasets_without_labels_are_named(folder):
    root, fashion = folder
    train, val = _load(root, fashion, labels=None, class_names=DEFAULT)
    assert _fails_with(
        checks.exercise_2_3(train, val, root, fashion, batch_size=16, seed=1),
        "(images, labels) pairs",
    )


def test_a_shuffle_buffer_written_in_is_named_once_everything_else_is_right():
    result = checks.exercise_2_2(
        lambda ds, b, s: ds.cache().shuffle(10_000, seed=s).batch(b).prefetch(AUTOTUNE)
    )
    assert _fails_with(result, "holds 10000 elements where")
    assert _fails_with(
        result, "; for a dataset of 61 it holds 10000 too: a fixed size (a number written"
    )
    assert "ds.cardinality()" in result.message

    def fixed_buffer(train, val, augment, batch_size, seed):  # a student's 2.5 answer
        f = lambda x, y: (augment(x, training=True), y)  # noqa: E731
        train = train.cache().shuffle(100, seed=seed).batch(batch_size).map(f).prefetch(AUTOTUNE)
        return train, val.batch(batch_size).prefetch(AUTOTUNE)

    assert _fails_with(
        checks.exercise_2_5(fixed_buffer),
        "everything else is right, but the shuffle buffer holds 100 elements where the training "
        "dataset has 50; for a dataset of 29 it holds 100 too: a fixed size (a number written "
        "in, say) is large enough here by chance, and a dataset larger than 100 would be "
        "shuffled only locally.",
    )


def _pipeline_with_buffer(size):
    def make_train_pipeline(ds, batch_size, seed):
        buffer = size(int(ds.cardinality()))
        return ds.cache().shuffle(buffer, seed=seed).batch(batch_size).prefetch(AUTOTUNE)

    return make_train_pipeline


def _pipelines_with_buffer(size):
    def make_pipelines(train, val, augment, batch_size, seed):
        f = lambda x, y: (augment(x, training=True), y)  # noqa: E731
        buffer = size(int(train.cardinality()))
        train = train.cache().shuffle(buffer, seed=seed).batch(batch_size).map(f)
        return train.prefetch(AUTOTUNE), val.batch(batch_size).prefetch(AUTOTUNE)

    return make_pipelines


@pytest.mark.parametrize(
    ("check", "answer", "phrase"),
    [
        (  # a student's: taken from the dataset, ten times over
            checks.exercise_2_2,
            _pipeline_with_buffer(lambda n: 10 * n),
            "everything else is right, but the shuffle buffer holds 1370 elements where the "
            "dataset has 137, 10 times its size (610 for a dataset of 61): the task asks for a "
            "buffer as large as the dataset, ds.cardinality() itself. A larger one shuffles no "
            "better",
        ),
        (
            checks.exercise_2_5,
            _pipelines_with_buffer(lambda n: 3 * n),
            "the shuffle buffer holds 150 elements where the training dataset has 50, 3 times "
            "its size (87 for a dataset of 29)",
        ),
        (
            checks.exercise_2_2,
            _pipeline_with_buffer(lambda n: n + 100),
            "the shuffle buffer holds 237 elements where the dataset has 137: the task asks for "
            "a buffer as large as the dataset, ds.cardinality().",
        ),
    ],
)
def test_a_shuffle_buffer_that_grows_with_the_dataset_is_not_called_written_in(
    check, answer, phrase
):
    result = check(answer)
    assert _fails_with(result, phrase)
    assert "written in" not in result.message and "only locally" not in result.message


def test_labels_changed_by_a_map_are_named_not_counted():
    def zeroed(train, val, augment, batch_size, seed):  # a student's 2.5 answer
        train = (
            train.cache()
            .shuffle(train.cardinality(), seed=seed)
            .batch(batch_size)
            .map(lambda x, y: (augment(x, training=True), tf.zeros_like(y)))
            .prefetch(AUTOTUNE)
        )
        return train, val.batch(batch_size).prefetch(AUTOTUNE)

    result = checks.exercise_2_5(zeroed)
    assert _fails_with(result, "as many as went in, but only 1 different labels")
    assert "your pipeline changed the labels" in result.message
    result = checks.exercise_2_2(
        lambda ds, b, s: (
            ds.map(lambda x, y: (x, y + 1000))
            .cache()
            .shuffle(ds.cardinality(), seed=s)
            .batch(b)
            .prefetch(AUTOTUNE)
        )
    )
    assert _fails_with(result, "your pipeline changed the labels")


def test_images_and_labels_shuffled_apart_are_named_as_such():
    def zipped(ds, batch_size, seed):  # a student's: pairs broken, images unchanged
        images = ds.map(lambda x, y: x).cache().shuffle(ds.cardinality(), seed=seed)
        labels = ds.map(lambda x, y: y).cache().shuffle(ds.cardinality(), seed=seed + 1)
        return tf.data.Dataset.zip((images, labels)).batch(batch_size).prefetch(AUTOTUNE)

    result = checks.exercise_2_2(zipped)
    assert _fails_with(result, "no longer with its own label")


def _steps_not_kept(ds, batch_size, seed):  # a student's: each method's result thrown away
    ds.cache()
    ds.shuffle(ds.cardinality(), seed=seed)
    ds.batch(batch_size)
    ds.prefetch(AUTOTUNE)
    return ds


def _pipelines_not_kept(ds_train, ds_val, augment, batch_size, seed):  # the same, in 2.5
    ds_train.cache()
    ds_train.shuffle(ds_train.cardinality(), seed=seed)
    ds_train.batch(batch_size)
    ds_train.map(lambda x, y: (augment(x, training=True), y))
    ds_train.prefetch(AUTOTUNE)
    ds_val.batch(batch_size)
    ds_val.prefetch(AUTOTUNE)
    return ds_train, ds_val


def test_2_2_and_2_5_methods_whose_results_are_not_kept_are_named_as_such():
    result = checks.exercise_2_2(_steps_not_kept)
    assert _fails_with(result, "your dataset has none of the four steps")
    assert "ds = ds.cache()" in result.message
    result = checks.exercise_2_5(_pipelines_not_kept)
    assert _fails_with(result, "train and val have none of the steps")
    assert "val = ds_val.batch(...)" in result.message


def _pipeline_not_returned(ds, batch_size, seed):  # a student's
    ds = ds.cache().shuffle(ds.cardinality(), seed=seed).batch(batch_size).prefetch(AUTOTUNE)


def _pipelines_not_returned(ds_train, ds_val, augment, batch_size, seed):  # a student's
    val = ds_val.batch(batch_size).prefetch(AUTOTUNE)  # noqa: F841


def test_2_2_and_2_5_a_missing_return_is_named():
    assert _fails_with(
        checks.exercise_2_2(_pipeline_not_returned), "did you forget to `return` the dataset?"
    )
    assert _fails_with(
        checks.exercise_2_5(_pipelines_not_returned), "did you forget to `return train, val`?"
    )


def test_2_4_a_value_range_other_than_0_255_is_quoted_as_given():
    # a student's: images taken to be in [-1, 1], as some backbones want them
    result = checks.exercise_2_4(_augment(_brightness(value_range=(-1, 1)), brightness=False))
    assert _fails_with(result, "you gave RandomBrightness value_range=(-1, 1)")
    assert "pass value_range=(0, 1)" in result.message
