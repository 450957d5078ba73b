"""Lesson 02's pipeline exercises 2.2, 2.3 and 2.5 judged in two phases.

Their answers are tf.data pipelines, and 2.3's are datasets the notebook made from a folder
of files: none travels as data. Drivers (:mod:`course_lib.checks._drivers`) read them where
they are, in the student's kernel, and return plain data (steps, element spec, cardinality,
the batches of a few capped passes, the folder's file names), which the check judges in the
judge as in a notebook. Each answer gets the message the check gives in a notebook, on the
same fresh draw of test data.
"""

import re
import tempfile
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_checks_lesson02 import _augmented, _pipelines_per_image, _pipelines_written_out

from course_lib import checks, data
from course_lib.checks import _drivers, lesson02
from course_lib.checks._core import fresh_inputs
from course_lib.tools.grading import judge, judge_decode, judge_replay, kernel_encode, two_phase

SALT = 2252
AUTOTUNE = tf.data.AUTOTUNE
PIPELINE = "checks.exercise_2_2(make_train_pipeline)"
FOLDER = "checks.exercise_2_3(ds_folder_train, ds_folder_val, folder)"
AUGMENTED = "checks.exercise_2_5(make_pipelines)"


@pytest.fixture(autouse=True)
def _kernel_apart(monkeypatch):
    """The judge resets TensorFlow's random seeds every round (for the models checks build).
    In grading that reaches only the judge's process; here the "kernel" shares it, and the
    reset would give every unseeded shuffle of the student's the same order. Not here, then."""
    monkeypatch.setattr(keras.utils, "set_random_seed", lambda seed: None)


def _graded_and_direct(tmp_path, expression, answers):
    """The judge's reply, and the check's own result in this process on the same test data."""
    reply = judge.judge_locally(expression, dict(answers), SALT, str(tmp_path))
    with fresh_inputs(SALT):
        direct = eval(expression, {"checks": checks, **answers})
    return reply, direct


def _assert_fails_alike(reply, direct, words):
    assert reply["status"] == "failed", reply
    assert words.lower() in reply["message"].lower(), reply
    # TensorFlow numbers the datasets a process makes and names one in its errors
    # ("MapDataset:5"): the kernel's count is its own.
    assert _uncounted(reply["message"]) == _uncounted(direct.message)


def _uncounted(message):
    return re.sub(r"Dataset:\d+", "Dataset:N", message)


# ---------------------------------------------------------------- 2.2


def _pipeline_in_steps(ds, batch_size, seed):
    cached = ds.cache()
    size = int(cached.cardinality())
    shuffled = cached.shuffle(buffer_size=size, seed=seed, reshuffle_each_iteration=True)
    return shuffled.batch(batch_size, drop_remainder=False).prefetch(buffer_size=AUTOTUNE)


@pytest.fixture
def notebook_seed():
    """The lesson's tf.random.set_seed(SEED), in the kernel: the seeded orders depend on it."""
    tf.random.set_seed(42)
    yield
    tf.random.set_seed(None)


def test_the_order_the_seed_gives_under_the_notebook_s_global_seed_passes(tmp_path, notebook_seed):
    reply, direct = _graded_and_direct(
        tmp_path, PIPELINE, {"make_train_pipeline": _pipeline_in_steps}
    )
    assert reply["status"] == "passed", reply
    assert direct.passed, direct.message


def _pipeline_counted(ds, b, s):
    size = ds.reduce(np.int64(0), lambda count, _: count + 1)  # the size counted, a tensor
    return ds.cache().shuffle(size, s).batch(b).prefetch(1)


@pytest.mark.parametrize("answer", [_pipeline_in_steps, _pipeline_counted])
def test_a_right_training_pipeline_passes_when_the_kernel_builds_and_reads_it(tmp_path, answer):
    reply, direct = _graded_and_direct(tmp_path, PIPELINE, {"make_train_pipeline": answer})
    assert reply["status"] == "passed", reply
    assert direct.passed, direct.message


def test_a_buffer_written_in_is_named_by_the_judge_too(tmp_path):
    def large_buffer(ds, b, s):
        return ds.cache().shuffle(10_000, s).batch(b).prefetch(1)

    reply, direct = _graded_and_direct(tmp_path, PIPELINE, {"make_train_pipeline": large_buffer})
    _assert_fails_alike(reply, direct, "holds 10000 elements where")


def test_a_buffer_that_grows_with_the_dataset_is_named_by_the_judge_too(tmp_path):
    def ten_times(ds, b, s):  # a student's
        return ds.cache().shuffle(10 * int(ds.cardinality()), seed=s).batch(b).prefetch(1)

    reply, direct = _graded_and_direct(tmp_path, PIPELINE, {"make_train_pipeline": ten_times})
    _assert_fails_alike(reply, direct, "holds 1370 elements where the dataset has 137, 10 times")


def _numpy_in_map(ds, b, s):
    ds = ds.map(lambda x, y: (np.asarray(x) * 1.0, y))
    return ds.cache().shuffle(1000, seed=s).batch(b).prefetch(AUTOTUNE)


def _fails_while_read(ds, b, s):
    # Batches hold 12 images, not 5: tf.data finds out only when it runs.
    return ds.batch(b).map(lambda x, y: (tf.ensure_shape(x, (5, 2, 2, 1)), y))


def _untouched(ds, b, s):
    raise NotImplementedError("Exercise 2.2")


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (
            lambda ds, b, s: ds.cache().batch(b).shuffle(1000, seed=s).prefetch(AUTOTUNE),
            "shuffled after batching",
        ),
        (  # the batches mix at their edges once batched again: the steps tell the judge too
            lambda ds, b, s: ds.cache().batch(5).shuffle(1000, s).unbatch().batch(b).prefetch(1),
            "come out in runs of neighbours",
        ),
        (
            lambda ds, b, s: ds.shuffle(1000, seed=s).cache().batch(b).prefetch(AUTOTUNE),
            "Cache first",
        ),
        (
            lambda ds, b, s: ds.cache().shuffle(1000, seed=s).batch(32).prefetch(AUTOTUNE),
            "use the argument",
        ),
        (
            lambda ds, b, s: ds.cache().shuffle(60, seed=s).batch(b).prefetch(AUTOTUNE),
            "holds 60 elements, fewer than the 137",
        ),
        (
            lambda ds, b, s: (
                ds.map(lambda x, y: (x / 255, y))
                .cache()
                .shuffle(1000, seed=s)
                .batch(b)
                .prefetch(AUTOTUNE)
            ),
            "divided by 255 again",
        ),  # fmt: skip
        # The seed rules: an unseeded shuffle, and a fixed seed, made twice in the kernel.
        (
            lambda ds, b, s: ds.cache().shuffle(1000).batch(b).prefetch(AUTOTUNE),
            "same seed gave different orders",
        ),
        (
            lambda ds, b, s: ds.cache().shuffle(1000, seed=42).batch(b).prefetch(AUTOTUNE),
            "seeds 0 and 1 gave the same order",
        ),
        (  # the order the kernel's own shuffle with the seed gives is the one expected
            lambda ds, b, s: ds.cache().shuffle(1000, seed=s + 1).batch(b).prefetch(AUTOTUNE),
            "the seed that reaches shuffle is another one",
        ),
        (
            lambda ds, b, s: ds.cache().shuffle(1000, seed=s).batch(b).repeat().prefetch(AUTOTUNE),
            "never ends",
        ),
        (lambda ds, b, s: list(ds), "return the tf.data.Dataset; got list"),
        (_numpy_in_map, "NumPy cannot run on the symbolic tensors"),
        (_fails_while_read, "reading your dataset raised"),
        (_untouched, "not attempted yet"),
    ],
)
def test_a_wrong_training_pipeline_gets_the_notebook_message_from_the_judge(
    tmp_path, answer, words
):
    reply, direct = _graded_and_direct(tmp_path, PIPELINE, {"make_train_pipeline": answer})
    _assert_fails_alike(reply, direct, words)


def test_a_pipeline_far_longer_than_its_source_is_read_only_in_part(tmp_path):
    """A thousand repeats are cut at twice the source's elements: no hang, the same message."""
    answer = lambda ds, b, s: ds.repeat(1000).cache().shuffle(100, seed=s).batch(b).prefetch(1)  # noqa: E731
    reply, direct = _graded_and_direct(tmp_path, PIPELINE, {"make_train_pipeline": answer})
    _assert_fails_alike(reply, direct, "gave more than 3312 images for 137: some came more")
    images = np.zeros((100, 2, 2, 1), np.float32)
    view = _drivers.DRIVERS["pipeline_epochs"](answer, images, np.arange(100), 12, 0, 1)
    assert view["passes"][0]["cut"] and len(view["passes"][0]["elements"]) == 202


# ---------------------------------------------------------------- 2.3


@pytest.fixture(scope="module")
def fashion_folder(tmp_path_factory):
    fashion = data.load_fashion_mnist(subset=5)
    root = data.make_image_folder(fashion, tmp_path_factory.mktemp("fashion-png"), per_class=5)
    return root, fashion


DEFAULT = object()  # leave the argument out: the loader's own default


def _loaded(root, fashion, **overrides):
    kwargs = dict(
        class_names=[data.folder_name(c) for c in fashion.class_names], color_mode="grayscale",
        image_size=(28, 28), batch_size=64, validation_split=0.2, subset="both", seed=42,
        verbose=False,
    )  # fmt: skip
    kwargs.update(overrides)
    kwargs = {k: v for k, v in kwargs.items() if v is not DEFAULT}
    return keras.utils.image_dataset_from_directory(root, **kwargs)


def _folder_answers(root, fashion, **overrides):
    train, val = _loaded(root, fashion, **overrides)
    return {"ds_folder_train": train, "ds_folder_val": val, "folder": root}


def test_a_right_folder_split_passes_with_the_datasets_read_in_the_kernel(tmp_path, fashion_folder):
    root, fashion = fashion_folder
    # Written otherwise: the folder as a string, every default spelled out.
    answers = _folder_answers(
        str(root), fashion, labels="inferred", label_mode="int", shuffle=True,
        interpolation="nearest", image_size=[28, 28],
    )  # fmt: skip
    answers["folder"] = root
    reply, direct = _graded_and_direct(tmp_path, FOLDER, answers)
    assert reply["status"] == "passed", reply
    assert direct.passed, direct.message


def test_two_loader_calls_with_the_same_seed_pass_and_a_folder_as_text_is_listed_by_the_kernel(
    tmp_path, fashion_folder
):
    root, fashion = fashion_folder
    train = _loaded(root, fashion, subset="training")
    val = _loaded(root, fashion, subset="validation")
    answers = {"ds_folder_train": train, "ds_folder_val": val, "folder": str(root)}
    reply, direct = _graded_and_direct(tmp_path, FOLDER, answers)
    assert reply["status"] == "passed", reply
    assert direct.passed, direct.message


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"class_names": DEFAULT}, "alphabetical order"),
        ({"shuffle": False}, "shuffle=False"),
        ({"seed": 3}, "not the one seed=SEED (42) makes"),
        ({"batch_size": DEFAULT}, "(32 is the loader's default)"),
        ({"color_mode": DEFAULT}, "color_mode='grayscale'"),
        ({"image_size": DEFAULT}, "image_size=(28, 28)"),
        ({"validation_split": 0.4}, "validation_split=0.2"),
        ({"label_mode": "categorical"}, "label_mode='int'"),
    ],
)
def test_a_wrong_folder_split_gets_the_notebook_message_from_the_judge(
    tmp_path, fashion_folder, overrides, words
):
    root, fashion = fashion_folder
    reply, direct = _graded_and_direct(
        tmp_path, FOLDER, _folder_answers(root, fashion, **overrides)
    )
    _assert_fails_alike(reply, direct, words)


def test_wrong_folder_answers_of_other_kinds_get_the_notebook_message(tmp_path, fashion_folder):
    root, fashion = fashion_folder
    unseeded = {
        "ds_folder_train": _loaded(root, fashion, subset="training", seed=1),
        "ds_folder_val": _loaded(root, fashion, subset="validation", seed=2),
        "folder": root,
    }
    train, val = _loaded(root, fashion)
    cases = [
        (unseeded, "both training and"),
        (  # a student's: unpacked the wrong way round
            {"ds_folder_train": val, "ds_folder_val": train, "folder": root},
            "ds_folder_train and ds_folder_val are swapped",
        ),
        ({"ds_folder_train": train, "ds_folder_val": None, "folder": root}, "subset='both'"),
        ({"ds_folder_train": lambda: train, "ds_folder_val": val, "folder": root}, "a function"),
        ({"ds_folder_train": train.take(0), "ds_folder_val": val, "folder": root}, "hold 10"),
        (
            {"ds_folder_train": train.repeat(), "ds_folder_val": val, "folder": root},
            "hold more than 2050 images",
        ),
        ({"ds_folder_train": train, "ds_folder_val": val, "folder": None}, "folder's path"),
        ({"ds_folder_train": train, "ds_folder_val": val, "folder": root / "x"}, "a PosixPath"),
    ]
    for number, (answers, words) in enumerate(cases):
        reply, direct = _graded_and_direct(tmp_path / str(number), FOLDER, answers)
        _assert_fails_alike(reply, direct, words)


def test_the_judge_reads_no_dataset_and_no_folder_of_the_kernels_itself(
    tmp_path, fashion_folder, monkeypatch
):
    """Every read goes through the kernel (the drivers' text, run by call_answer): the judge's
    own copies of the drivers are never called on what the kernel holds."""
    root, fashion = fashion_folder

    def refused(*args):
        raise AssertionError("the judge ran a driver itself")

    for name in ("dataset_passes", "folder_files"):
        monkeypatch.setitem(_drivers.DRIVERS, name, refused)
    answers = _folder_answers(root, fashion)
    reply = judge.judge_locally(FOLDER, answers, SALT, str(tmp_path))
    assert reply["status"] == "passed", reply


def test_datasets_and_paths_stay_in_the_kernel_and_are_never_sent_to_it(tmp_path):
    ds = tf.data.Dataset.range(3)
    assert kernel_encode.encode(ds, str(tmp_path))["t"] == "dataset"
    assert kernel_encode.encode(Path("/etc"), str(tmp_path))["t"] == "path"
    assert {"dataset", "path"} <= set(judge.HELD)  # the judge makes them stand-ins, never values
    replay = judge_replay.Replay("f", {})
    for argument in (ds, Path("/etc")):  # nor does it send them to the kernel
        with pytest.raises(judge_decode.Unsupported):
            replay.course_drive("dataset_passes", argument)


def test_a_folder_listing_from_the_kernel_cannot_write_outside_the_checks_scratch_folder():
    escape = f"escaped-{SALT}.png"
    files = [f"../{escape}", f"Trouser/../../{escape}", "Trouser/1.png", "Bag/2.png"]
    chosen = lesson02._validation_files(files, ["Trouser", "Bag"], (28, 28), 64, 0.5, 42, True)
    assert len(chosen) == 1 and chosen <= {"Trouser/1.png", "Bag/2.png"}
    assert not (Path(tempfile.gettempdir()) / escape).exists()


# ---------------------------------------------------------------- 2.5


@pytest.mark.parametrize("answer", [_pipelines_per_image, _pipelines_written_out])
def test_right_augmented_pipelines_pass_when_the_kernel_builds_and_reads_them(tmp_path, answer):
    reply, direct = _graded_and_direct(tmp_path, AUGMENTED, {"make_pipelines": answer})
    assert reply["status"] == "passed", reply
    assert direct.passed, direct.message


def _train(t, a, b, s, seed=True):
    shuffled = t.cache().shuffle(1000, seed=s) if seed else t.cache().shuffle(1000)
    return shuffled.batch(b).map(lambda x, y: (a(x, training=True), y)).prefetch(AUTOTUNE)


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (
            lambda t, v, a, b, s: (
                _augmented(t, a).cache().shuffle(1000, seed=s).batch(b).prefetch(AUTOTUNE),
                v.batch(b).prefetch(AUTOTUNE),
            ),
            "Cache first, then augment",
        ),
        (
            lambda t, v, a, b, s: (_train(t, a, b, s), _augmented(v, a).batch(b).prefetch(1)),
            "validation images are augmented",
        ),
        (
            lambda t, v, a, b, s: (_train(t, a, b, s), v.shuffle(100, seed=s).batch(b)),
            "line up with the labels",
        ),
        (
            lambda t, v, a, b, s: (_train(t, a, b, s, seed=False), v.batch(b).prefetch(1)),
            "same seed gave the training images in different orders",
        ),  # fmt: skip
        (
            lambda t, v, a, b, s: (_train(t, a, b, s + 1), v.batch(b).prefetch(1)),
            "the seed that reaches shuffle is another one",
        ),
        (
            lambda t, v, a, b, s: (_train(t.take(10), a, b, s), v.batch(b).prefetch(1)),
            "exactly once per epoch",
        ),
        (lambda t, v, a, b, s: (_train(t, a, b, s).repeat(), v.batch(b)), "never ends"),
        (
            lambda t, v, a, b, s: (
                t.cache().batch(b).shuffle(50, seed=s).map(lambda x, y: (a(x), y)).prefetch(1),
                v.batch(b).prefetch(1),
            ),
            "you shuffled after batching",
        ),
        (
            lambda t, v, a, b, s: (v.batch(b).prefetch(1), _train(t, a, b, s)),
            "the two datasets come back the wrong way round",
        ),
        (
            lambda t, v, a, b, s: (
                _train(t, keras.layers.RandomFlip("horizontal", seed=1), b, s),
                v.batch(b).prefetch(1),
            ),
            "the training images change, but not as the augment passed in changes them",
        ),
        (lambda t, v, a, b, s: _train(t, a, b, s), "return two datasets"),
        (
            lambda t, v, a, b, s: (
                _train(t, a, b, s).map(lambda x, y: (tf.ensure_shape(x, (3, 4, 4, 1)), y)),
                v.batch(b).prefetch(AUTOTUNE),
            ),
            "reading train raised",
        ),
    ],
)
def test_wrong_augmented_pipelines_get_the_notebook_message_from_the_judge(tmp_path, answer, words):
    reply, direct = _graded_and_direct(tmp_path, AUGMENTED, {"make_pipelines": answer})
    _assert_fails_alike(reply, direct, words)


def test_a_second_call_that_returns_something_else_is_named_in_both_places(tmp_path):
    calls = []

    def changes_its_mind(t, v, a, b, s):
        calls.append(s)
        return (_train(t, a, b, s), v.batch(b).prefetch(1)) if len(calls) == 1 else None

    reply = judge.judge_locally(
        AUGMENTED, {"make_pipelines": changes_its_mind}, SALT, str(tmp_path)
    )
    calls.clear()
    direct = checks.exercise_2_5(changes_its_mind)
    _assert_fails_alike(reply, direct, "called a second time, your function returned None")


def test_the_pipeline_exercises_are_judged_in_two_phases():
    assert {"2.2", "2.3", "2.5"} <= two_phase.TWO_PHASE
    assert {"pipeline_epochs", "augmented_pipelines", "dataset_passes", "folder_files"} <= set(
        _drivers.DRIVERS
    )


def test_a_dataset_or_path_a_function_returns_reaches_the_check_as_its_kind(tmp_path):
    folder = str(tmp_path / "out")
    Path(folder).mkdir()
    for value, name in (
        (tf.data.Dataset.range(2).batch(1), "_BatchDataset"),
        (tmp_path, type(tmp_path).__name__),
    ):
        back = judge_decode.decode(kernel_encode.encode(value, folder), folder)
        assert type(back).__name__ == name and checks._core.describe(back) == f"a {name}"


JUNK = [None, 3, "text", [1, 2], (None, None), np.zeros(3)]


@pytest.mark.parametrize("junk", JUNK, ids=[type(j).__name__ for j in JUNK])
@pytest.mark.parametrize(("expression", "name"), [(PIPELINE, "make_train_pipeline"),
                                                  (AUGMENTED, "make_pipelines")])  # fmt: skip
def test_a_function_returning_anything_gets_the_notebook_message(tmp_path, expression, name, junk):
    reply, direct = _graded_and_direct(tmp_path, expression, {name: lambda *args: junk})
    _assert_fails_alike(reply, direct, "")
    reply, direct = _graded_and_direct(tmp_path / "value", expression, {name: junk})
    _assert_fails_alike(reply, direct, "")


def test_no_two_drivers_or_helpers_share_a_name_in_the_drivers_module():
    """The module grows by appending: a helper defined twice would silently replace the other."""
    import ast
    import collections

    tree = ast.parse(Path(_drivers.__file__).read_text(encoding="utf-8"))
    names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    names += [t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
              if isinstance(t, ast.Name)]  # fmt: skip
    twice = [name for name, count in collections.Counter(names).items() if count > 1]
    assert not twice, twice
