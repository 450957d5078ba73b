"""Checks for lesson 02, preprocessing and data pipelines.

TensorFlow and Keras are imported inside the checks, so that ``from course_lib import
checks`` stays quick for lessons that do not need them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from course_lib.checks._core import (
    NOT_ATTEMPTED,
    NUMPY_IN_GRAPH,
    StudentCodeFailed,
    call_student,
    call_watched,
    check_rng,
    describe,
    drive,
    first_difference,
    numpy_on_symbolic,
    run_check,
    shape_problem,
    student_error,
)
from course_lib.data import folder_name
from course_lib.messages import first_line
from course_lib.record import CheckResult


def _not_attempted(exc: BaseException) -> bool:
    # tf.data re-raises errors from traced code, sometimes under another type.
    if numpy_on_symbolic(exc):
        return False
    return isinstance(exc, NotImplementedError) or "NotImplementedError" in str(exc)


NUMPY_IN_MAP = (
    "NumPy cannot run inside `map`: tf.data traces your function into a TensorFlow graph, "
    "where `image` is a symbolic tensor with no values yet, so np.asarray, np.* functions and "
    '`.astype` fail on it ("Cannot convert a symbolic tf.Tensor"). Use TensorFlow '
    "operations instead, such as tf.cast and tf.expand_dims."
)


# ---------------------------------------------------------------- 2.1 map function

# What AutoGraph puts before the name of a function it converted, in the errors it raises.
_AUTOGRAPH_NAME = re.compile(r"outer_factory\.<locals>\.inner_factory\.<locals>\.tf__")
_CAUSE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt): ")
_WRONG_ARITY = re.compile(
    r"takes \d+ positional arguments? but \d+ (were|was) given|missing \d+ required positional"
)


def _traced_error(exc: BaseException, eager: BaseException | None) -> str:
    """The student's error inside ``map``, as its line: ``TypeError: f() takes 1 ...``.

    tf.data re-raises an error of traced code as "in user code:", the code's lines, then the
    cause. The cause is the student's own error; when it is not there (a message cut short on
    its way from a graded kernel), the same function's error in the eager call is.
    """
    text = str(exc)
    if not text.lstrip().startswith("in user code:"):
        return first_line(exc, with_type=True)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    causes = [line for line in lines if _CAUSE.match(line)]
    if causes:
        line = _AUTOGRAPH_NAME.sub("", causes[-1])
        return line if len(line) <= 200 else line[:199] + "…"
    if eager is not None:
        return student_error(eager)
    return first_line(exc, with_type=True)


def exercise_2_1(preprocess: Callable[[Any, Any], Any]) -> CheckResult:
    """preprocess(image, label) -> (float32 (h, w, 1) in [0, 1], the same label), usable in map."""
    import tensorflow as tf

    rng = check_rng(21)  # salted in a grading run
    # 28 x 28 uint8 images with int64 labels, as the lesson's Fashion-MNIST arrays are.
    images = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[1] = 255, np.clip(images[1], 20, 100)  # one image far from 255
    labels = np.array([3, 7, 1], dtype=np.int64)
    expected = (images.astype(np.float32) / 255.0)[..., None]

    def diagnose() -> str | None:
        if not callable(preprocess):
            raise StudentCodeFailed(f"expected a function, got {describe(preprocess)}.")
        # One eager call first: what the function returns (or raises) reads plainly there,
        # while tf.data wraps both in its own errors.
        try:
            probe = call_watched(preprocess, tf.constant(images[0]), tf.constant(labels[0]))
        except StudentCodeFailed:  # a copy of the library's, or of the check's code, called
            raise
        except Exception as exc:
            if _not_attempted(exc):
                raise StudentCodeFailed(NOT_ATTEMPTED) from None
            probe = exc
        if probe is None:
            raise StudentCodeFailed(
                "your function returned None: did you forget to `return image, label`?"
            )
        if not isinstance(probe, (BaseException, tuple, list)):
            return (
                f"return two things, `(image, label)`: Keras's fit needs the label next to each "
                f"image; your function returned {describe(probe)}."
            )
        if (
            isinstance(probe, BaseException)
            and not isinstance(probe, (TypeError, AttributeError, NotImplementedError))
            and "tensor" not in str(probe).lower()
        ):
            raise StudentCodeFailed(f"your code raised {student_error(probe)}")
        try:
            elements = call_watched(drive, "map_elements", preprocess, images, labels)
        except StudentCodeFailed:
            raise
        except Exception as exc:  # student code, traced by tf.data
            if _not_attempted(exc):
                raise StudentCodeFailed(NOT_ATTEMPTED) from None
            if numpy_on_symbolic(exc):
                return NUMPY_IN_MAP
            cause = _traced_error(exc, probe if isinstance(probe, BaseException) else None)
            if _WRONG_ARITY.search(cause):
                hint = (
                    " ds.map passes each element's two parts, the image and its label, as two "
                    "arguments: define preprocess(image, label)."
                )
            elif "astype" in cause or "numpy" in cause.lower():
                hint = (
                    " Inside `map`, use TensorFlow operations such as tf.cast and "
                    "tf.expand_dims: NumPy methods like `.astype` do not work on the symbolic "
                    "tensors tf.data passes in."
                )
            else:
                hint = ""
            return f"tf.data could not run your function ({cause.rstrip(' .')}).{hint}"
        first = elements[0]
        if not isinstance(first, tuple) or len(first) != 2:
            got = f"a tuple of {len(first)}" if isinstance(first, tuple) else describe(first)
            return (
                f"return two things, `(image, label)`: Keras's fit needs the label next to each "
                f"image; each element of your dataset is {got}."
            )
        for (image, label), source, original, want in zip(
            elements, images, labels, expected, strict=True
        ):
            image, label = np.asarray(image), np.asarray(label)
            if image.ndim == 0 and label.ndim >= 2:
                return (
                    f"the pair is the wrong way round: your first element has shape () and the "
                    f"second {label.shape}, so the label comes first. Return (image, label): fit "
                    "takes the first as the model's input and the second as its target."
                )
            if not (
                np.issubdtype(image.dtype, np.number) and np.issubdtype(label.dtype, np.number)
            ):
                return (
                    f"the image and label should be numbers; got {image.dtype} and {label.dtype}."
                )
            if np.issubdtype(image.dtype, np.integer):
                return (
                    f"image dtype is {image.dtype}; cast to float32 before dividing "
                    "(`tf.cast(image, tf.float32)`)."
                )
            problem = shape_problem(image, want.shape, "the image")
            if problem:
                if image.shape == (1, *source.shape):
                    return (
                        f"the image has shape {image.shape}: the channel axis goes last, (h, w, 1)."
                    )
                return problem
            if image.min() < -1e-6:
                above = " and above 1" if image.max() > 1.0 + 1e-6 else ""
                return (
                    f"values go from {image.min():.3g} to {image.max():.3g}, below 0{above}, "
                    "where image / 255 stays in [0, 1]: scale the pixels only, with nothing "
                    "subtracted (no mean, as for standardising)."
                )
            if image.max() > 2.0:
                return f"values go up to {image.max():.1f}: did you forget to divide by 255?"
            if image.max() > 1.0 + 1e-6:
                return f"values go up to {image.max():.4g}, above 1. First difference: " + (
                    first_difference(image, want, "the image", atol=1e-4)
                )
            if source.max() < 255 and np.allclose(image[..., 0], source / source.max(), atol=1e-4):
                return (
                    "you divided by the image's own maximum; divide by 255 so the same "
                    "brightness means the same number in every image."
                )
            if not np.allclose(image, want, atol=1e-4):
                if np.allclose(image, want / 255.0, atol=1e-6):
                    return (
                        "the image was divided by 255 twice: its values end below 1 / 255. "
                        "Divide once, after the cast to float32."
                    )
                return "image values differ from image / 255. First difference: " + (
                    first_difference(image, want, "the image", atol=1e-4)
                )
            if image.dtype != np.float32:
                return (
                    f"values are right but dtype is {image.dtype}; use float32, what Keras "
                    "models use."
                )
            if label.shape != ():
                return (
                    f"the label has shape {label.shape}; leave it as the single class index "
                    "(the loss `sparse_categorical_crossentropy` expects that)."
                )
            if not np.issubdtype(label.dtype, np.integer):
                return (
                    f"the label became {label.dtype}; leave it unchanged (an integer class index)."
                )
            if int(label) != int(original):
                return f"the label changed from {original} to {label}: return it unchanged."
            if label.dtype != original.dtype:
                return (
                    f"the label came in as {original.dtype} and goes out as {label.dtype}: the "
                    "value is right, but the task asks for the label unchanged, so return it "
                    "as it came, without a cast."
                )
        return None

    return run_check("2.1", diagnose, "float32 (h, w, 1) images in [0, 1], labels untouched.")


# ---------------------------------------------------------------- 2.2 pipeline order

# Not a multiple of the batch size (a dropped remainder shows), nor a round number (a buffer
# written in, such as 100, is smaller).
PIPELINE_SIZE = 137
PIPELINE_BATCH = 12
PIPELINE_OTHER_SIZE = 61  # a smaller dataset, for a buffer larger than the first
INFINITE = -1  # tf.data.INFINITE_CARDINALITY, as the drivers report a dataset's cardinality

# The pipeline checks never read a dataset themselves: a driver (course_lib.checks._drivers)
# builds the test dataset, calls the student's function and describes what came back as
# plain data (type, cardinality, element spec, steps, shuffle buffers, and the elements of a
# few passes). In a notebook the driver runs right here; in two-phase grading the student's
# kernel runs it and the judge gets the description. The checks judge the description, so
# both give the same message.


def _held(value: Any) -> bool:
    """Whether ``value`` is the judge's stand-in for something the student's kernel holds."""
    # By the type: a student's object may raise on any attribute looked up on it.
    return type(value).__module__.startswith("course_lib.tools.grading") and hasattr(
        type(value), "course_drive"
    )


def _drive_student(driver: str, func: Any, *args: Any) -> Any:
    """``func`` run by ``driver`` on ``args``; its exceptions worded as :func:`call_student`'s."""
    import functools

    if not callable(func):
        raise StudentCodeFailed(f"expected a function, got {type(func).__name__}.")
    return call_student(functools.partial(drive, driver, func), *args)


def _rebuilt(raised: dict[str, Any]) -> BaseException:
    """An exception a driver recorded while reading a dataset: the same type name and text
    (a subclass of the built-in type when it was one, so that the checks recognise it)."""
    import builtins

    name, message = str(raised.get("type", "Exception")), str(raised.get("message", ""))
    base = getattr(builtins, name, None) if raised.get("builtin") else None
    if not (isinstance(base, type) and issubclass(base, Exception)):
        base = Exception
    for kind in (base, Exception):
        module = "builtins" if kind is not Exception or name == "Exception" else "student"
        try:  # some built-in exceptions need arguments of their own (UnicodeDecodeError)
            return type(name, (kind,), {"__module__": module, "__str__": lambda _: message})()
        except TypeError:
            continue
    return Exception(message)


def _elements(view: dict[str, Any], index: int, what: str = "your dataset") -> list[Any]:
    """The elements of pass ``index`` of a described dataset; what reading raised as feedback."""
    read = view["passes"][index]
    if read.get("error"):
        raise StudentCodeFailed(
            f"reading {what} raised {first_line(_rebuilt(read['error']), with_type=True)}"
        )
    return list(read["elements"])


def _rank(spec: dict[str, Any]) -> int | None:
    shape = spec.get("shape")
    return None if shape is None else len(shape)


def _counted(count: int, view: dict[str, Any], index: int = 0) -> str:
    """``count``, or "more than ``count``" when the driver stopped reading that pass early."""
    return f"more than {count}" if view["passes"][index].get("cut") else str(count)


def _labels_changed(labels: np.ndarray, expected: range, name: str) -> str | None:
    """When one epoch's labels are not those that went in, though as many as went in."""
    got = labels.tolist()
    if len(got) != len(expected):
        return None
    if not set(got) - set(expected):
        return (
            f"one epoch of {name} gave {len(got)} images, as many as went in, but only "
            f"{len(set(got))} different labels: either some images came more than once and "
            "others never, or your pipeline changed the labels. Each image must come exactly "
            "once per epoch, with its own label; a map over (images, labels) pairs returns the "
            "labels untouched, lambda x, y: (f(x), y)."
        )
    strange = sorted(set(got) - set(expected))[:3]
    return (
        f"one epoch of {name} gave {len(got)} images, as many as went in, but labels such as "
        f"{strange} were never in it: your pipeline changed the labels. Leave them as they "
        "come; a map over (images, labels) pairs returns the labels untouched, "
        "lambda x, y: (f(x), y)."
    )


def _positions(steps: list[str], word: str) -> list[int]:
    return [i for i, step in enumerate(steps) if word in step]


def _last_step(steps: list[str]) -> str:
    """The pipeline's last step that does something to its elements.

    ``.with_options(...)`` only attaches options (an ``options`` step): a pipeline that
    prefetches and then sets options still prefetches last.
    """
    doing = [step for step in steps if step != "options"]
    return doing[-1] if doing else ""


def _shuffles_batches(steps: list[str]) -> bool:
    """Whether a shuffle step of the pipeline gets whole batches: it comes after a .batch, and
    before any .unbatch that undoes it."""
    depth = 0
    for step in steps:
        if step == "unbatch":
            depth = max(depth - 1, 0)
        elif step.endswith("batch") and step != "rebatch":
            depth += 1
        elif "shuffle" in step and depth:
            return True
    return False


def _whole_batches_shuffled(batches: list[np.ndarray], steps: list[str], what: str) -> str | None:
    """When the labels of one epoch (``batches``, in order) come out as shuffled batches.

    Each batch a run of neighbours says so alone. Batches shuffled and then unbatched, or
    batched again, mix at the edges of the runs: then the pipeline's steps must show a shuffle
    of batches too, and most images must still follow their neighbour (shuffling elements
    through a small buffer keeps some neighbours together as well).
    """
    if not batches:
        return None
    consecutive = all(np.array_equal(b, np.arange(b[0], b[0] + len(b))) for b in batches)
    order = np.concatenate(batches)
    share = float(np.mean(np.diff(order) == 1)) if len(order) > 1 else 0.0
    if consecutive:
        lead = f"each batch of {what} holds consecutive images"
    elif _shuffles_batches(steps) and share >= 0.3:
        lead = (
            f"the images of {what} come out in runs of neighbours ({share:.0%} of them follow "
            "the image before them in the original order)"
        )
    else:
        return None
    return (
        f"{lead}: you shuffled after batching, so whole batches were shuffled and neighbours "
        "stay together. Shuffle before batch."
    )


def _buffer_problem(buffers: list[int], n: int, name: str = "the dataset") -> str | None:
    small = [b for b in buffers if 0 < b < n]
    if small:
        return (
            f"the shuffle buffer holds {small[0]} elements, fewer than the {n} of {name}: an "
            "element can then only move a limited distance. Use a buffer as large as the "
            "dataset, ds.cardinality()."
        )
    return None


def _larger_buffer(
    buffers: list[int],
    n: int,
    name: str = "the dataset",
    smaller: tuple[int, list[int]] | None = None,
) -> str | None:
    """A buffer larger than the check's small dataset, where the task asks for its size.

    Asked last, once everything else is right. ``smaller``: the size of another dataset and
    the buffers of the pipeline made for it (None when that failed), which tell a number
    written in (the same buffer) from a multiple of the size (a buffer that grows with it).
    """
    large = [b for b in buffers if b > n]
    if not large:
        return None
    lead = (
        f"everything else is right, but the shuffle buffer holds {large[0]} elements where "
        f"{name} has {n}"
    )
    other = None
    if smaller is not None and len(smaller[1]) == len(buffers):
        m, other = smaller[0], smaller[1][buffers.index(large[0])]
    if other == large[0]:
        return (
            f"{lead}; for a dataset of {m} it holds {large[0]} too: a fixed size (a number "
            f"written in, say) is large enough here by chance, and a dataset larger than "
            f"{large[0]} would be shuffled only locally. Take the size from the dataset, "
            "ds.cardinality()."
        )
    if other is not None and abs(other - large[0] * m / n) <= 1:
        return (
            f"{lead}, {large[0] / n:.3g} times its size ({other} for a dataset of {m}): the "
            "task asks for a buffer as large as the dataset, ds.cardinality() itself. A larger "
            "one shuffles no better, as the buffer never holds more than the whole dataset."
        )
    return f"{lead}: the task asks for a buffer as large as the dataset, ds.cardinality()."


def _seed_problem(order: np.ndarray, view: dict[str, Any], what: str) -> str | None:
    """When the first epoch's ``order`` is not the one ``.shuffle(buffer, seed=seed)`` gives.

    Asked once the order is known to be repeatable and to change with the seed: a seed
    derived from the argument (seed + 1) passes both. The driver built the expected order
    where the student's function ran, right after it, under the same global seed.
    """
    seeded = view.get("seeded_order")
    global_seed = (
        "your function sets TensorFlow's global seed (tf.random.set_seed), which changes the "
        "seeds of every random operation the notebook runs after it"
    )
    if seeded is not None and np.array_equal(order, np.asarray(seeded)):
        if view.get("sets_global_seed"):
            return (
                f"{what} come out in the order .shuffle(buffer, seed=seed) gives, but "
                f"{global_seed}. The shuffle's own seed, seed=seed, is all the task asks for: "
                "take the tf.random.set_seed line out, and leave the global seed to the notebook."
            )
        return None
    lead = f"{what} come out in another order than .shuffle(buffer, seed=seed) gives for seed=0"
    shuffles = len(_positions(view.get("steps", []), "shuffle"))
    if shuffles > 1:
        return f"{lead}: your pipeline shuffles {shuffles} times. Shuffle once, with seed=seed."
    if view.get("sets_global_seed"):
        return (
            f"{lead}: {global_seed} and does not stand in for the shuffle's own seed. Pass "
            "seed=seed to shuffle, and leave the global seed to the notebook."
        )
    return (
        f"{lead}: the order changes with the seed, but the seed that reaches shuffle is another "
        "one. Pass the argument itself, seed=seed."
    )


def _first_epoch(view: dict[str, Any]) -> np.ndarray:
    """The labels of the first pass over a pipeline made again, in order."""
    if not view.get("dataset"):
        raise StudentCodeFailed(
            f"called a second time, your function returned {view.get('described', 'nothing')}, "
            "not a tf.data.Dataset."
        )
    if view["cardinality"] == INFINITE:
        raise StudentCodeFailed(
            "called a second time, your function returned a dataset that never ends: leave out "
            ".repeat(), fit loops over the epochs itself."
        )
    return np.concatenate(
        [np.atleast_1d(np.asarray(labels)) for _, labels in _elements(view, 0)] or [np.zeros(0)]
    )


def _images_problem(elements: list[Any], images: np.ndarray) -> str | None:
    """Whether each image comes out as it went in (``images[label]``): pipelines only reorder."""
    pairs = [(np.asarray(x), np.atleast_1d(np.asarray(y))) for x, y in elements]
    for batch, labels in pairs:
        want = images[labels]
        if batch.shape != want.shape:
            return (
                f"a batch of {len(labels)} images has shape {batch.shape}, not {want.shape}: "
                "the elements arrive prepared; the pipeline only reorders and groups them."
            )
        if not np.allclose(batch, want, atol=1e-6):
            if np.allclose(batch, want / 255, atol=1e-6):
                return (
                    "the images were divided by 255 again: the elements arrive prepared, in "
                    "[0, 1]; the pipeline only reorders and groups them."
                )
            known = {np.asarray(image).tobytes() for image in images}
            if all(np.asarray(image).tobytes() in known for image in batch):
                return (
                    "every image comes out unchanged, but no longer with its own label: "
                    "images and labels were shuffled apart. Shuffle the (image, label) pairs "
                    "together, in one dataset."
                )
            return (
                "the images change on their way through your pipeline, which should only "
                "reorder and group them. First difference: "
                + first_difference(batch, want, "a batch")
            )
    return None


def exercise_2_2(make_train_pipeline: Callable[..., Any]) -> CheckResult:
    """make_train_pipeline(ds, batch_size, seed) -> ds.cache().shuffle(len).batch().prefetch()."""
    n = PIPELINE_SIZE
    # Prepared images in [0, 1], as the lesson's: a pipeline that changes them (a second
    # division by 255, say) shows.
    images = check_rng(22).random((n, 2, 2, 1), dtype=np.float32)
    # Labels 0..n-1 record where each element started, so the order of the output shows
    # what was shuffled. The driver makes them a dataset, from_tensor_slices((images, labels)).
    labels = np.arange(n)

    def made(seed: int, epochs: int) -> dict[str, Any]:
        return _drive_student(
            "pipeline_epochs", make_train_pipeline, images, labels, PIPELINE_BATCH, seed, epochs
        )

    def diagnose() -> str | None:
        view = made(0, 2)
        if not view["dataset"]:
            if view["type"] == "NoneType":
                return "your function returned None: did you forget to `return` the dataset?"
            return f"return the tf.data.Dataset; got {view['type']}."
        if view["cardinality"] == INFINITE:
            return "the dataset never ends: leave out .repeat(), fit loops over the epochs itself."
        spec = view["spec"]
        if spec["kind"] != "tuple" or len(spec["items"]) != 2:
            return "each element should stay an (images, labels) pair: keep the labels."
        if _rank(spec["items"][1]) == 0:
            if not any(
                _positions(view["steps"], word)
                for word in ("cache", "shuffle", "batch", "prefetch")
            ):
                return (
                    "your dataset has none of the four steps, cache, shuffle, batch and "
                    "prefetch. A dataset's method, ds.cache() say, leaves ds as it is and returns "
                    "a new dataset: chain the calls, ds.cache().shuffle(...)..., or keep each "
                    "result, ds = ds.cache()."
                )
            return "elements are single images, not batches: add .batch(batch_size)."
        passes = [_elements(view, epoch) for epoch in range(2)]
        epochs = [[np.atleast_1d(np.asarray(y)) for _, y in elements] for elements in passes]
        if not epochs[0]:
            return "your dataset is empty: it must hold every image once per epoch."
        # The largest batch is the batch size: the one smaller batch, the remainder, may come
        # first when whole batches are shuffled, which is named below as what it is.
        batch_size = max(len(b) for b in epochs[0])
        if batch_size != PIPELINE_BATCH:
            return (
                f"batches hold {batch_size} images, but batch_size was {PIPELINE_BATCH}: "
                "use the argument, not a fixed number."
            )
        order = np.concatenate(epochs[0])
        if len(order) < n:
            return (
                f"one epoch gave only {len(order)} of the {n} images: each image must appear "
                "once per epoch (no .take, no drop_remainder)."
            )
        if sorted(order.tolist()) != list(range(n)):
            changed = _labels_changed(order, range(n), "the dataset")
            if changed:
                return changed
            return (
                f"one epoch gave {_counted(len(order), view)} images for {n}: some came more "
                "than once. Each "
                "image must appear exactly once per epoch."
            )
        problem = _images_problem(passes[0], images)
        if problem:
            return problem
        if np.array_equal(order, np.arange(n)):
            return "the images come out in their original order: add .shuffle(...)."
        problem = _whole_batches_shuffled(epochs[0], view["steps"], "your dataset")
        if problem:
            return problem
        if np.corrcoef(np.arange(n), order)[0, 1] > 0.5:
            # How far a buffer lets images move depends on the seeds: its size, when the
            # pipeline shows it, is named whichever message comes first.
            small = [b for b in view["buffers"] if 0 < b < n]
            held = (
                f": it holds {small[0]} elements, fewer than the {n} of the dataset"
                if small
                else ""
            )
            return (
                "images barely move from their original position: the shuffle buffer is too "
                f"small{held}. Use a buffer at least as large as the dataset, e.g. "
                "ds.cardinality()."
            )
        problem = _buffer_problem(view["buffers"], n)
        if problem:
            return problem
        steps = view["steps"]
        cache, shuffle = _positions(steps, "cache"), _positions(steps, "shuffle")
        if np.array_equal(np.concatenate(epochs[1]), order):
            if cache and shuffle and cache[-1] > shuffle[0]:
                return (
                    "both epochs came out in the same order: .cache() after .shuffle() stores the "
                    "first epoch's order and replays it. Cache first, then shuffle."
                )
            return "both epochs came out in the same order: keep reshuffle_each_iteration=True."
        if not cache:
            return "add .cache() before shuffling, so the preprocessing runs once, not every epoch."
        if not _positions(steps, "prefetch"):
            return (
                "add .prefetch(tf.data.AUTOTUNE) at the end, so batches are prepared while the "
                "model trains."
            )
        if "prefetch" not in _last_step(steps):
            return f"prefetch should be the last step; your pipeline ends with {_last_step(steps)}."
        # Two pipelines made afresh, one epoch each: the seed argument must decide the order.
        # (One epoch, where the first call read two: the judge has the kernel make each
        # distinct call once, so the same call again would be answered by the first.)
        again, other = (_first_epoch(made(seed, 1)) for seed in (0, 1))
        if not np.array_equal(again, order):
            return (
                "two pipelines made with the same seed gave different orders: pass the argument to "
                "shuffle, .shuffle(buffer, seed=seed), so that a run can be repeated."
            )
        if np.array_equal(other, order):
            return (
                "seeds 0 and 1 gave the same order: shuffle with the argument, seed=seed, not "
                "a fixed number."
            )
        problem = _seed_problem(order, view, "the images")
        if problem or not any(b > n for b in view["buffers"]):
            return problem
        # A buffer larger than the dataset: the same pipeline for a smaller dataset says
        # whether it is a number written in or grows with the dataset
        try:
            fewer = _drive_student(
                "pipeline_epochs",
                make_train_pipeline,
                images[:PIPELINE_OTHER_SIZE],
                labels[:PIPELINE_OTHER_SIZE],
                PIPELINE_BATCH,
                0,
                0,
            )
        except StudentCodeFailed:
            fewer = {}
        smaller = (PIPELINE_OTHER_SIZE, fewer["buffers"]) if fewer.get("dataset") else None
        return _larger_buffer(view["buffers"], n, smaller=smaller)

    return run_check("2.2", diagnose, "cache → shuffle → batch → prefetch, reshuffled every epoch.")


# ---------------------------------------------------------------- 2.3 image folder


def _course_labels() -> tuple[dict[bytes, frozenset[int]], list[str]]:
    """Each Fashion-MNIST training image's labels by its pixels, and the course's class order.

    Read from the course's own copy: the notebook's ``fashion`` can be replaced, the course's
    files cannot from a check cell. Read once for the images fast mode and the data folder
    give (a judge runs the check again for each call it needs of the kernel); the labels
    are only ever read.
    """
    from course_lib import config, data

    return _labels_read(config.is_fast(), str(config.data_dir())), list(data.FASHION_MNIST_CLASSES)


@functools.lru_cache(maxsize=1)
def _labels_read(fast: bool, folder: str) -> dict[bytes, frozenset[int]]:
    """:func:`_course_labels`' labels, for fast mode as ``fast`` says, from ``folder``."""
    from course_lib import data

    del fast, folder  # the cache's key: load_fashion_mnist reads both itself
    fashion = data.load_fashion_mnist()
    truth: dict[bytes, set[int]] = {}
    for x, y in zip(fashion.x_train, fashion.y_train, strict=True):
        truth.setdefault(x.tobytes(), set()).add(int(y))
    shared: dict[frozenset[int], frozenset[int]] = {}  # one object per set of labels
    return {key: shared.setdefault(frozenset(ls), frozenset(ls)) for key, ls in truth.items()}


def _validation_files(
    files: list[str],
    class_names: list[str],
    image_size: tuple[int, int],
    batch_size: int,
    validation_split: float,
    seed: int,
    shuffle: bool,
) -> set[str]:
    """The files (relative to the folder) the loader puts in validation with these arguments.

    Known without the folder's pixels: the loader splits a list of file names. The check only
    has the names (the student's kernel listed the folder in grading), so it asks the loader
    itself on a copy of the folder made of empty files with those names.
    """
    import contextlib
    import io
    import os
    import tempfile

    import keras

    with tempfile.TemporaryDirectory(prefix="course-folder-") as scratch:
        root = os.path.realpath(scratch)
        for name in files:
            parts = name.split("/")
            # Only plain names below the copy: the list came from the student's kernel.
            if any(p in ("", ".", "..") or "\\" in p or "\0" in p for p in parts):
                continue
            os.makedirs(os.path.join(root, *parts[:-1]), exist_ok=True)
            open(os.path.join(root, *parts), "wb").close()  # noqa: SIM115 - an empty file
        for name in class_names:  # every class folder, as the course writes them
            os.makedirs(os.path.join(root, name), exist_ok=True)
        with contextlib.redirect_stdout(io.StringIO()):  # its "Using 800 files for ..." lines
            _, reference = keras.utils.image_dataset_from_directory(
                root,
                class_names=class_names,
                color_mode="grayscale",
                image_size=image_size,
                batch_size=batch_size,
                validation_split=validation_split,
                subset="both",
                shuffle=shuffle,
                seed=seed,
                verbose=False,
            )
        return {_relative(str(p), root) for p in reference.file_paths}


def _relative(path: str, root: str) -> str:
    """``path`` relative to ``root``, ``/``-separated; as it is when not below ``root``."""
    from pathlib import PurePath

    try:
        return PurePath(path).relative_to(PurePath(root)).as_posix()
    except ValueError:
        return path


def exercise_2_3(
    ds_folder_train: Any,
    ds_folder_val: Any,
    folder: str | Path,
    dataset: object = None,
    validation_split: float = 0.2,
    image_size: tuple[int, int] = (28, 28),
    batch_size: int = 64,
    seed: int = 42,
) -> CheckResult:
    """(train, val) from image_dataset_from_directory: grayscale, right size, our label order.

    ``batch_size`` and ``seed`` are the lesson's BATCH_SIZE and SEED, which the loader must be
    given: the split is then the one seed=SEED makes. ``dataset`` is ignored, kept so that
    check cells that still pass ``fashion`` work: the labels and their order come from the
    course's own Fashion-MNIST.

    The datasets and the folder are read by drivers (:mod:`course_lib.checks._drivers`) where
    they are: here in a notebook, in the student's kernel in two-phase grading, where the judge
    gets their batches and the folder's file names as data and never opens the folder.
    """
    truth: dict[bytes, frozenset[int]] = {}
    alphabetical: dict[int, int] = {}
    class_names: list[str] = []
    listing: dict[str, Any] = {}

    def context() -> None:
        # `folder` is a notebook variable as well: say so if it was overwritten. Its files are
        # listed by whoever holds the datasets (the kernel, in grading), never by the judge.
        if isinstance(folder, (str, PurePath)):
            found = drive("folder_files", ds_folder_train, str(folder))
        else:
            found = drive("folder_files", folder)
        if not found["is_dir"]:
            what = found["described"] if _held(folder) else describe(folder)
            raise StudentCodeFailed(
                f"the check needs the image folder's path as its third argument; "
                f"it got {what}. Re-run the cell that writes the folder."
            )
        labels, names = _course_labels()
        truth.update(labels)
        class_names.extend(names)
        folders = [folder_name(c) for c in class_names]
        alphabetical.update({k: sorted(folders).index(f) for k, f in enumerate(folders)})
        listing.update(found)

    def read(elements: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        batches = [(np.asarray(x), np.asarray(y)) for x, y in elements]
        if not batches:
            return np.zeros((0, *image_size, 1), np.float32), np.zeros(0, np.int64)
        return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])

    def validation_files(shuffle: bool) -> set[str]:
        # The files the loader puts in validation with seed=SEED, known without reading them.
        return _validation_files(
            listing["files"],
            [folder_name(c) for c in class_names],
            image_size,
            batch_size,
            validation_split,
            seed,
            shuffle,
        )

    def files_of(view: dict[str, Any]) -> set[str] | None:
        """The files a dataset was loaded from; None for one transformed after loading."""
        paths = view.get("file_paths")
        return None if paths is None else {_relative(str(p), listing["root"]) for p in paths}

    def seed_problem(val: dict[str, Any]) -> str | None:
        chosen = files_of(val)
        if chosen is None:  # a dataset transformed after loading: the split cannot be told
            return None
        if chosen == validation_files(shuffle=True):
            return None
        if chosen == validation_files(shuffle=False):
            return (
                "with shuffle=False the loader splits the files in folder order: validation "
                "gets the files of the last classes, which training then barely or never sees. "
                "Leave shuffle at its default, so that the split is drawn from all classes."
            )
        return (
            f"the validation split is not the one seed=SEED ({seed}) makes: pass seed=SEED, so "
            "that the split is the same on every run, and the same as everyone's."
        )

    def diagnose() -> str | None:
        views = {}
        for name, ds in (("ds_folder_train", ds_folder_train), ("ds_folder_val", ds_folder_val)):
            views[name] = view = drive("dataset_passes", ds, [])
            if not view["dataset"]:
                what = view["described"] if _held(ds) else describe(ds)
                return (
                    f"{name} is {what}, not a tf.data.Dataset: with subset='both', "
                    "image_dataset_from_directory returns (train, validation)."
                )
        context()
        spec = views["ds_folder_train"]["spec"]
        if spec["kind"] != "tuple" or len(spec["items"]) != 2:
            return (
                "ds_folder_train should yield (images, labels) pairs: leave "
                "labels='inferred', so the "
                "folder names give the labels."
            )
        image_spec, label_spec = spec["items"]
        if not all(part["kind"] == "TensorSpec" for part in spec["items"]):
            return "images and labels should be plain tensors: use the loader's defaults for them."
        if _rank(image_spec) != 4:
            return "the datasets should yield batches: pass batch_size=BATCH_SIZE, not None."
        if image_spec["shape"][-1] == 3:
            return (
                "images have 3 channels: Fashion-MNIST is grayscale, pass color_mode='grayscale'."
            )
        loaded = tuple(image_spec["shape"][1:3])
        if loaded != image_size:
            if loaded == (256, 256):
                return (
                    f"images are {loaded}, the loader's default size, to which it resizes "
                    f"every image unless told otherwise: pass image_size={image_size}."
                )
            return (
                f"images are {loaded}, where the folder's are {image_size}: the loader "
                f"resizes every image to the image_size it is given. Pass "
                f"image_size={image_size}."
            )
        if _rank(label_spec) != 1:
            return "labels are one-hot vectors: keep label_mode='int' (one class index per image)."
        if views["ds_folder_val"]["spec"] != spec:
            return (
                "ds_folder_val should yield the same kind of batches as ds_folder_train: load "
                "both in one call."
            )
        n_files = sum(1 for name in listing["files"] if name.endswith(".png"))
        # Every batch holds at least one image: more elements than files cannot be right, and
        # are not read (a dataset without end must not hang the check).
        train = drive("dataset_passes", ds_folder_train, [n_files + 1, 1])
        val = drive("dataset_passes", ds_folder_val, [n_files + 1])
        what = "your datasets"
        x_train, y_train = read(_elements(train, 0, what))
        x_val, y_val = read(_elements(val, 0, what))
        again = _elements(train, 1, what)
        if len(x_train) and not again:
            raise StudentCodeFailed(f"reading {what} raised StopIteration")
        first_batch = len(again[0][1]) if len(x_train) else 0
        keys = [
            np.round(x[..., 0]).astype(np.uint8).tobytes() for x in np.concatenate([x_train, x_val])
        ]
        if any(k not in truth for k in keys):
            return (
                "some images differ from the files in the folder: leave the pixels as loaded "
                "(0-255)."
            )
        one_call = (
            f"make one call with validation_split={validation_split}, subset='both' and "
            "seed=SEED, which returns (train, validation)"
        )
        train_keys, val_keys = keys[: len(x_train)], keys[len(x_train) :]
        if val_keys and sorted(train_keys) == sorted(val_keys):
            every = len(train_keys) == n_files
            return (
                "ds_folder_val holds the very images of ds_folder_train"
                + (f", all {n_files} of the folder" if every else f" ({len(train_keys)})")
                + ": the validation dataset is the training one"
                + (", and no validation_split was made" if every else "")
                + ". Validation must be images the model does not train on: "
                + one_call
                + "."
            )
        if len(train_keys) == n_files and val_keys:
            return (
                f"ds_folder_train holds all {n_files} images of the folder: it was loaded "
                "without validation_split, so every validation image is a training image too. "
                + one_call[0].upper()
                + one_call[1:]
                + "."
            )
        if len(set(keys[: len(x_train)]) & set(keys[len(x_train) :])) > 0:
            return (
                "some images are in both training and validation. Two calls of the loader "
                "(subset='training', then 'validation') split alike only with the same seed; "
                "one dataset cut with take() and skip() is no fixed split, since the "
                "loader shuffles it again on every pass (shuffle=True), so its first batches "
                "hold other images each time. " + one_call[0].upper() + one_call[1:] + "."
            )
        if len(keys) != n_files:
            cut = any(view["passes"][0].get("cut") for view in (train, val))
            held = f"more than {len(keys)}" if cut else str(len(keys))
            return f"the two datasets hold {held} images, but the folder has {n_files}."
        share = len(x_val) / len(keys)
        tolerance = 1.5 / len(keys) + 1e-9
        if abs(share - validation_split) > tolerance:
            if abs(1 - share - validation_split) > tolerance:
                return (
                    f"validation holds {share:.0%} of the images; asked for "
                    f"validation_split={validation_split}."
                )
            if files_of(views["ds_folder_train"]) == validation_files(shuffle=True):
                return (
                    f"ds_folder_train and ds_folder_val are swapped: ds_folder_train holds the "
                    f"{1 - share:.0%} of the images the loader set aside for validation, and "
                    "ds_folder_val the training images. With subset='both' the loader returns "
                    "(train, validation), in that order: ds_folder_train, ds_folder_val = "
                    "keras.utils.image_dataset_from_directory(...)."
                )
            return (
                f"validation holds {share:.0%} of the images and training {1 - share:.0%}: "
                "either the two datasets are swapped (with subset='both' the loader returns "
                "(train, validation), in that order) or validation_split was "
                f"{1 - validation_split:g}; the task asks for "
                f"validation_split={validation_split}, and ds_folder_train first."
            )
        if first_batch != min(batch_size, len(x_train)):
            default = " (32 is the loader's default)" if first_batch == 32 else ""
            return (
                f"ds_folder_train's batches hold {first_batch} images{default}; pass "
                f"batch_size=BATCH_SIZE ({batch_size})."
            )
        labels = np.concatenate([y_train, y_val])
        right = np.array([int(y) in truth[k] for k, y in zip(keys, labels, strict=True)])
        if right.all():
            return seed_problem(val)
        as_sorted = np.array(
            [
                int(y) in {alphabetical[t] for t in truth[k]}
                for k, y in zip(keys, labels, strict=True)
            ]
        )
        if as_sorted.all():
            return (
                "labels follow the alphabetical order of the folder names (Ankle boot = 0, …), "
                "not class_names: pass class_names=[data.folder_name(c) for c in class_names]."
            )
        given: dict[int, set[int]] = {}
        for k, y in zip(keys, labels, strict=True):
            if len(truth[k]) == 1:  # an image that is in one class only says which label it got
                given.setdefault(next(iter(truth[k])), set()).add(int(y))
        if given and all(len(ys) == 1 for ys in given.values()):
            moved = [(c, next(iter(ys))) for c, ys in sorted(given.items()) if {c} != ys]
            if len({y for ys in given.values() for y in ys}) == len(given) and moved:
                c, y = moved[0]
                return (
                    f"each class has a label of its own, but in another order than "
                    f"class_names: the images of {class_names[c]!r} got label {y}, where "
                    f"class_names has it at {c} ({len(moved)} of {len(given)} classes moved). "
                    "Pass class_names=[data.folder_name(c) for c in class_names], in that order."
                )
        return f"{(~right).sum()} of {len(right)} labels do not match their images."

    size = f"{image_size[0]} x {image_size[1]}"
    return run_check(
        "2.3", diagnose, f"grayscale {size}, labels in the course's order, a clean split."
    )


# ---------------------------------------------------------------- 2.4 augmentation


def _augmentation_test_images() -> np.ndarray:
    # 28 x 28 x 1 in [0, 1], as the lesson's images. Bright shapes on dark, not symmetric,
    # covering a quarter of each image: flips and contrast changes both show.
    images = np.zeros((8, 28, 28, 1), dtype=np.float32)
    for i, image in enumerate(images):
        image[4 + i % 5 : 18, 2:16] = 1.0
    return images


def _all_layers(model: Any) -> list[Any]:
    """The layers of ``model``, with nested Sequentials opened up."""
    found = []
    for layer in getattr(model, "layers", [model]):
        found += _all_layers(layer) if hasattr(layer, "layers") else [layer]
    return found


# A quarter turn: a garment turned that far lies on its side, and turned further has its top
# below its middle, upside down, which the check already forbids RandomFlip("vertical") for.
# Turns must stay below it.
MAX_TURN = 0.25
# The largest zoom, shift and change of brightness, as a fraction of the image's size or of
# the value range: the lesson's strongest demonstration of each (RandomZoom(0.3),
# RandomBrightness(0.3)), which still shows the same garment; its own answer uses 0.1.
MAX_SHARE = 0.3


def _largest_turn(layer: Any) -> float:
    """The largest turn, as a fraction of a full one, a RandomRotation layer can draw; else 0."""
    import keras

    if not isinstance(layer, keras.layers.RandomRotation):
        return 0.0
    factor = layer.factor
    bounds = factor if isinstance(factor, tuple | list) else (-factor, factor)
    return max(abs(float(b)) for b in bounds)


def _bounds(factor: Any) -> tuple[float, float]:
    """The range a layer's factor draws from: a number f is (-f, f), a pair is itself."""
    if isinstance(factor, tuple | list) and len(factor) == 2:
        return float(factor[0]), float(factor[1])
    return -abs(float(factor)), abs(float(factor))


def _zoom_problem(factors: list[Any], limit: str) -> str | None:
    """Why RandomZoom's (height_factor, width_factor) zoom too far, naming the axis that does."""
    axes = list(zip(("height", "width"), (_bounds(f) for f in factors), strict=True))
    zoom_in = [(axis, -low) for axis, (low, _) in axes if -low > MAX_SHARE]
    zoom_out = [(axis, high) for axis, (_, high) in axes if high > MAX_SHARE]
    if zoom_in:
        largest = max(amount for _, amount in zoom_in)
        kept = _per_axis(
            [(axis, 1 - amount) for axis, amount in zoom_in], "the image's", "height and width"
        )
        return (
            f"RandomZoom zooms in by up to {largest:.0%}{_factor_names(zoom_in)}: the frame then "
            f"keeps only the middle {kept}, a piece of a garment rather than a garment; {limit}."
        )
    if zoom_out:
        largest = max(amount for _, amount in zoom_out)
        kept = _per_axis([(axis, 1 / (1 + amount)) for axis, amount in zoom_out], "its", "size")
        return (
            f"RandomZoom zooms out by up to {largest:.0%}{_factor_names(zoom_out)}: the garment "
            f"then shrinks to {kept}, and what the fill mode adds around it (mirrored copies "
            f"of it, by default) takes up the rest of the frame; {limit}."
        )
    return None


def _factor_names(axes: list[tuple[str, float]]) -> str:
    """The factor's name when one axis only goes too far, " (width_factor)"; else nothing."""
    return f" ({axes[0][0]}_factor)" if len(axes) == 1 else ""


def _per_axis(shares: list[tuple[str, float]], whose: str, both: str) -> str:
    """The share kept on each axis: "50% of the image's width", "80% of its size" (``both``,
    the same share on both axes), "80% of the image's height and 50% of its width"."""
    if len(shares) == 2 and f"{shares[0][1]:.0%}" == f"{shares[1][1]:.0%}":
        return f"{shares[0][1]:.0%} of {whose} {both}"
    return " and ".join(
        f"{share:.0%} of {whose if number == 0 else 'its'} {axis}"
        for number, (axis, share) in enumerate(shares)
    )


def _strength_problem(layer: Any) -> str | None:
    """Why a zoom, shift or change of brightness is too strong for a garment to stay the same
    garment (more than MAX_SHARE), in words; None when it is not, or for other layers."""
    import keras

    names = {
        keras.layers.RandomZoom: ("height_factor", "width_factor"),
        keras.layers.RandomTranslation: ("height_factor", "width_factor"),
        keras.layers.RandomBrightness: ("factor",),
    }
    if type(layer) not in names:
        return None
    try:
        config = layer.get_config()
        factors = [config.get(name) for name in names[type(layer)]]
        if len(factors) == 2 and factors[1] is None:  # RandomZoom: width as height
            factors[1] = factors[0]
        low = min(_bounds(f)[0] for f in factors)
        high = max(_bounds(f)[1] for f in factors)
    except Exception:  # a factor that is no number: Keras itself refuses it
        return None
    limit = (
        f"keep its factor at most {MAX_SHARE} (the task keeps zooms, shifts and changes of "
        f"brightness to at most {MAX_SHARE:.0%})"
    )
    if isinstance(layer, keras.layers.RandomZoom):
        return _zoom_problem(factors, limit)
    largest = max(-low, high)
    if largest <= MAX_SHARE:
        return None
    if isinstance(layer, keras.layers.RandomTranslation):
        return (
            f"RandomTranslation shifts images by up to {largest:.0%} of their height or width: "
            f"that much of a garment leaves the frame; {limit}."
        )
    effects = []
    if high >= 1:
        effects.append(f"a draw of +{high:.2g} turns every pixel white")
    elif high > MAX_SHARE:
        effects.append(
            f"a draw of +{high:.2g} lifts the black background to {high:.2g}, a gray, and "
            f"clips every pixel above {1 - high:.2g} to white"
        )
    if low <= -1:
        effects.append(f"a draw of -{-low:.2g} turns every pixel black")
    elif -low > MAX_SHARE:
        effects.append(f"a draw of -{-low:.2g} turns every pixel below {-low:.2g} black")
    return (
        f"RandomBrightness shifts every pixel by up to {largest:.0%} of the value range: "
        f"{'; '.join(effects)}. That is no longer the same garment in other light; {limit}."
    )


def _no_change(layer: Any) -> str | None:
    """Why a random layer of the task's kinds never changes an image (every factor it draws
    from is 0), in words; None when it may change one."""
    import keras

    kinds: dict[type, tuple[str, tuple[str, ...]]] = {
        keras.layers.RandomRotation: ("turn", ("factor",)),
        keras.layers.RandomZoom: ("zoom", ("height_factor", "width_factor")),
        keras.layers.RandomTranslation: ("shift", ("height_factor", "width_factor")),
        keras.layers.RandomBrightness: ("change of brightness", ("factor",)),
    }
    if type(layer) not in kinds:
        return None
    change, names = kinds[type(layer)]
    try:
        config = layer.get_config()
    except Exception:  # a layer whose config fails: its outputs decide
        return None

    def zero(factor: Any) -> bool:
        bounds = factor if isinstance(factor, tuple | list) else (factor,)
        return all(isinstance(b, int | float) and float(b) == 0.0 for b in bounds)

    factors = [config.get(name) for name in names]
    follows = len(names) == 2 and factors[1] is None  # RandomZoom: width as height
    if not all(zero(f) for f in (factors[:1] if follows else factors)):
        return None
    if follows:
        set_to = f"its {names[0]} is 0 (and {names[1]}=None takes it too)"
    else:
        set_to = f"its {' and '.join(names)} {'are' if len(names) > 1 else 'is'} 0"
    return (
        f"your {type(layer).__name__} never changes an image ({set_to}: the only {change} it "
        "can draw is none)"
    )


def _built_for(model: Any) -> tuple[Any, ...] | None:
    """The input shape (batch axis first) a model says it takes: a keras.Input's, or that of
    the first batch it was built on; None when it does not say."""
    import keras

    try:
        if isinstance(model, keras.Sequential):
            first = model.get_config()["layers"][0]
            if first.get("class_name") != "InputLayer":
                return None
            shape = first["config"].get("batch_shape")
        else:
            shape = model.inputs[0].shape
        return None if shape is None else tuple(shape)
    except Exception:  # a model built otherwise, or not a model: its calls decide
        return None


def _input_problem(model: Any, image_shape: tuple[int, ...]) -> str | None:
    """When the model declares inputs that are not batches of ``image_shape``."""
    shape = _built_for(model)
    if shape is None or (len(shape) != len(image_shape) + 1 and shape[:1] != (None,)):
        return None  # built on one unbatched image, say: nothing declared
    if len(shape) == len(image_shape) + 1 and all(
        d is None or d == want for d, want in zip(shape[1:], image_shape, strict=True)
    ):
        return None
    declared = tuple(shape[1:])
    size = " × ".join(str(d) for d in image_shape)
    return (
        f"your augmentation is built for inputs of shape {declared} (a keras.Input declares "
        f"it), but Fashion-MNIST images are {size}: start it with keras.Input(shape="
        f"{tuple(image_shape)}), or with no Input at all. Put in front of a model for these "
        "images, Keras would refuse it."
    )


def exercise_2_4(augment: Any) -> CheckResult:
    """augment: random layers only, horizontal flip + a geometric one, identity at inference."""
    import keras

    x = _augmentation_test_images()

    def run(layer: Any, training: bool) -> np.ndarray:
        try:
            return np.asarray(layer(x, training=training))
        except Exception as exc:  # student layers
            if _not_attempted(exc):
                raise StudentCodeFailed(NOT_ATTEMPTED) from None
            raise StudentCodeFailed(
                f"calling your augmentation raised {first_line(exc, with_type=True)}"
            ) from None

    def diagnose() -> str | None:
        if not isinstance(augment, keras.layers.Layer):
            return f"augment should be a keras.Sequential of layers; got {type(augment).__name__}."
        problem = _input_problem(augment, x.shape[1:])
        if problem:
            return problem
        layers = _all_layers(augment)
        inference = run(augment, training=False)
        if inference.shape != x.shape or not np.allclose(inference, x):
            for layer in layers:
                out = run(layer, training=False)
                if out.shape == x.shape and np.allclose(out, x):
                    continue
                name = type(layer).__name__
                if isinstance(layer, keras.layers.Rescaling):
                    return (
                        "the Rescaling layer changes images at inference too (the pipeline has "
                        "already scaled them to [0, 1]): leave it out of the augmentation."
                    )
                return (
                    f"the {name} layer is not random: it changes every image, at inference "
                    "too. Augmentation uses the Random* layers, which switch off outside training."
                )
            return "the augmentation changes images when called with training=False."
        for layer in layers:
            if isinstance(layer, keras.layers.RandomFlip) and "vertical" in layer.mode:
                return (
                    f"RandomFlip(mode={layer.mode!r}) turns clothes upside down, which "
                    "Fashion-MNIST "
                    "never shows (and RandomFlip() does that by default): use mode='horizontal'."
                )
            turn = _largest_turn(layer)
            if turn >= MAX_TURN:
                quarter = f"{MAX_TURN * 360:.0f}°"
                seen = (
                    f"past {quarter} a garment's top ends up below its middle, upside down"
                    if turn > MAX_TURN
                    else f"at {quarter} a garment lies on its side"
                )
                return (
                    f"{type(layer).__name__} turns images by up to {turn * 360:.0f}°: {seen}, "
                    "which Fashion-MNIST never shows. Keep turns under a quarter turn, a "
                    f"factor below {MAX_TURN}."
                )
        draws = [run(augment, training=True) for _ in range(3)]
        if any(d.shape != x.shape for d in draws):
            return (
                f"augmented images have shape {draws[0].shape[1:]}, not {x.shape[1:]}: "
                "augmentation must keep the size the model expects."
            )
        if all(np.allclose(d, x) for d in draws):
            return "in training the images never change: give the layers a nonzero factor."
        low, high = min(d.min() for d in draws), max(d.max() for d in draws)
        if low < -1e-4 or high > 1 + 1e-4:
            reached = f"augmented values reach [{low:.2f}, {high:.2f}], outside [0, 1]"
            ranged = [
                (type(layer).__name__, tuple(float(v) for v in layer.value_range))
                for layer in layers
                if getattr(layer, "value_range", None) is not None
                and [float(v) for v in layer.value_range] != [0.0, 1.0]
            ]
            if ranged and all(bounds == (0.0, 255.0) for _, bounds in ranged):
                names = [name for name, _ in ranged]
                return (
                    f"{reached}: {' and '.join(names)} assume{'s' if len(names) == 1 else ''} "
                    "pixel values in 0-255 unless you pass value_range=(0, 1)."
                )
            if ranged:
                told = " and ".join(f"{name} value_range=({a:g}, {b:g})" for name, (a, b) in ranged)
                return (
                    f"{reached}: you gave {told}, the range its pixel values are taken to be "
                    "in; the images here are in [0, 1]: pass value_range=(0, 1)."
                )
            return (
                f"{reached}, where the images must stay: call each layer on its own with "
                "training=True to find the one that moves them."
            )
        if not any(isinstance(layer, keras.layers.RandomFlip) for layer in layers):
            return "add RandomFlip('horizontal'): a mirrored garment is still the same garment."
        geometric = (
            keras.layers.RandomRotation,
            keras.layers.RandomZoom,
            keras.layers.RandomTranslation,
        )
        if not any(isinstance(layer, geometric) for layer in layers):
            return "add at least one of RandomRotation, RandomZoom or RandomTranslation."
        if not any(isinstance(layer, keras.layers.RandomBrightness) for layer in layers):
            return (
                "add RandomBrightness(factor, value_range=(0, 1)): the same garment photographed "
                "in other light is lighter or darker, and still the same garment."
            )
        for layer in layers:
            idle = _no_change(layer)
            if idle:
                return (
                    f"{idle}, so it is not the augmentation asked for. Give it a factor other "
                    "than 0 (0.1, say)."
                )
        for layer in layers:
            strong = _strength_problem(layer)
            if strong:
                return strong
        return None

    return run_check("2.4", diagnose, "random in training, exactly the input at inference.")


# ---------------------------------------------------------------- 2.5 augmenting the training
# pipeline

# Neither size a multiple of the batch size: a dropped remainder shows.
AUGMENT_TRAIN = 50
AUGMENT_VAL = 21
AUGMENT_BATCH = 8
# Per image one random shift of at most 0.2: nothing is clipped, so each image stays flat
# and its shift shows how it was augmented. The driver builds the layer where the student's
# function runs: RandomBrightness(AUGMENT_SHIFT, value_range=(0, 1), seed=AUGMENT_SEED).
AUGMENT_SHIFT = 0.2
AUGMENT_SEED = 25
AUGMENT_OTHER_TRAIN = 29  # a smaller training dataset, for a buffer larger than the first


def _augment_pipeline_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Mid-gray images with their own index as the label: (images, labels) for train and val.

    Each image darker on the left than on the right, by a ramp whose mean is 0: a flip or a
    turn changes its pixels but not its mean, a brightness shift its mean. The images' levels
    are in an order drawn with :func:`check_rng`: the same in the notebook, new in each
    grading run, so that datasets written in for this file's images do not pass.
    """
    rng = check_rng(250)

    def source(n: int, first_id: int) -> tuple[np.ndarray, np.ndarray]:
        images = np.full((n, 4, 4, 1), 0.5, dtype=np.float32)
        levels = rng.permutation(np.linspace(-0.1, 0.1, n, dtype=np.float32))
        images += levels[:, None, None, None]  # tell images apart
        images += np.array([-0.03, -0.01, 0.01, 0.03], dtype=np.float32)[None, None, :, None]
        return images, np.arange(first_id, first_id + n)

    return source(AUGMENT_TRAIN, 0), source(AUGMENT_VAL, 1000)


def _epoch(
    view: dict[str, Any], index: int, what: str
) -> tuple[list[int], np.ndarray, dict[int, float]]:
    """One pass: batch sizes, labels in order, and each image's mean value by label."""
    if not view.get("dataset"):
        raise StudentCodeFailed(f"{what} is a {view.get('type')}, not a tf.data.Dataset.")
    if view["cardinality"] == INFINITE:
        raise StudentCodeFailed(
            f"{what} never ends: leave out .repeat(), fit loops over the epochs itself."
        )
    read = view["passes"][index]
    sizes, labels, values = [], [], {}
    for element in read["elements"]:
        if not isinstance(element, tuple) or len(element) != 2:
            raise StudentCodeFailed(f"{what} should yield (images, labels) pairs: keep the labels.")
        images, ids = (np.asarray(t) for t in element)
        if ids.ndim != 1 or images.ndim != 4:
            raise StudentCodeFailed(
                f"{what} yields single images, not batches: add .batch(batch_size)."
            )
        sizes.append(len(ids))
        labels.extend(int(i) for i in ids)
        values.update({int(i): float(image.mean()) for i, image in zip(ids, images, strict=True)})
    if read.get("error"):  # the student's pipeline failed while it ran
        exc = _rebuilt(read["error"])
        if _not_attempted(exc):
            raise StudentCodeFailed(NOT_ATTEMPTED)
        hint = f" {NUMPY_IN_GRAPH}" if numpy_on_symbolic(exc) else ""
        raise StudentCodeFailed(f"reading {what} raised {first_line(exc, with_type=True)}{hint}")
    if not sizes:
        raise StudentCodeFailed(f"{what} is empty.")
    return sizes, np.array(labels), values


def _changed_otherwise(view: dict[str, Any], images: np.ndarray) -> int | None:
    """A training image (its label) whose pixels changed in the first pass, if any did."""
    for element in view["passes"][0]["elements"]:
        batch, ids = (np.asarray(t) for t in element)
        for i, image in zip(ids, batch, strict=True):
            if not 0 <= int(i) < len(images):
                continue
            want = images[int(i)]
            if image.shape != want.shape or not np.allclose(image, want, atol=1e-4):
                return int(i)
    return None


def _train_of(view: dict[str, Any]) -> dict[str, Any]:
    """The training dataset of what make_pipelines returned (a pair, checked before)."""
    if not view["pair"]:
        raise StudentCodeFailed(
            f"called a second time, your function returned {view['described']}, not (train, val)."
        )
    return view["train"]


def _swapped(val_labels: np.ndarray, train: dict[str, Any]) -> bool:
    """Whether val holds only training images while train holds only validation ones."""
    if not set(val_labels.tolist()) <= set(range(AUGMENT_TRAIN)):
        return False
    try:
        train_labels = _epoch(train, 0, "train")[1]
    except StudentCodeFailed:
        return False
    return set(train_labels.tolist()) <= set(range(1000, 1000 + AUGMENT_VAL))


def exercise_2_5(make_pipelines: Callable[..., Any]) -> CheckResult:
    """make_pipelines(ds_train, ds_val, augment, batch_size, seed) -> (train, val); only train is
    augmented."""
    train_data, val_data = _augment_pipeline_data()
    originals = {  # each image's mean, by its label, as _epoch reads it
        int(i): float(image.mean())
        for images, ids in (train_data, val_data)
        for i, image in zip(ids, images, strict=True)
    }

    def made(
        seed: int, train_epochs: int, val_epochs: int, train: Any = train_data
    ) -> dict[str, Any]:
        # The driver makes the datasets (from_tensor_slices) and the augmentation layer, calls
        # make_pipelines and reads val's epochs, then train's, as this check reads them.
        return _drive_student(
            "augmented_pipelines",
            make_pipelines,
            train,
            val_data,
            AUGMENT_SHIFT,
            AUGMENT_SEED,
            AUGMENT_BATCH,
            seed,
            train_epochs,
            val_epochs,
        )

    def diagnose() -> str | None:
        result = made(0, 2, 1)
        if not result["pair"]:
            if result["type"] == "NoneType":
                return "your function returned None: did you forget to `return train, val`?"
            return f"return two datasets, `return train, val`; got {result['type']}."
        train, val = result["train"], result["val"]
        for name, ds in (("train", train), ("val", val)):
            if not ds["dataset"]:
                return f"{name} is a {ds['type']}, not a tf.data.Dataset."
            if ds["cardinality"] == INFINITE:
                return f"{name} never ends: leave out .repeat(), fit loops over the epochs itself."
        if not any(
            _positions(ds["steps"], word)
            for ds in (train, val)
            for word in ("cache", "shuffle", "batch", "map", "prefetch")
        ):
            return (
                "train and val have none of the steps, not even a batch: they are the datasets "
                "your function received. A dataset's method, ds.batch(...) say, leaves ds as it "
                "is and returns a new dataset: chain the calls, ds_val.batch(...).prefetch(...), "
                "or keep each result, val = ds_val.batch(...)."
            )
        sizes, labels, values = _epoch(val, 0, "val")
        if sorted(labels.tolist()) != list(range(1000, 1000 + AUGMENT_VAL)):
            if set(labels.tolist()) & set(range(AUGMENT_TRAIN)):
                if _swapped(labels, train):
                    return (
                        "the two datasets come back the wrong way round: the first holds the "
                        "validation images and the second the training images. Return "
                        "(train, val), in that order."
                    )
                return "val holds training images: keep the two datasets apart."
            changed = _labels_changed(labels, range(1000, 1000 + AUGMENT_VAL), "val")
            if changed:
                return changed
            return (
                f"one pass over val gave {_counted(len(labels), val)} images for {AUGMENT_VAL}: "
                "each validation "
                "image must come exactly once."
            )
        if all(abs(values[i] - originals[i] / 255) < 1e-5 for i in labels):
            return (
                "the validation images were divided by 255 again: the datasets arrive prepared, "
                "in [0, 1]. Leave val as it is, only batched."
            )
        if any(abs(values[i] - originals[i]) > 1e-5 for i in labels):
            return (
                "the validation images are augmented: validation must measure the model on images "
                "as they are. Apply augment to the training dataset only."
            )
        if not np.array_equal(labels, np.sort(labels)):
            return (
                "val comes out in another order than it went in: model.predict(val) would "
                "no longer "
                "line up with the labels. Do not shuffle validation data."
            )
        if max(sizes) != AUGMENT_BATCH:  # the largest batch: the remainder may be anywhere
            return (
                f"val batches hold {max(sizes)} images; use batch_size ({AUGMENT_BATCH}) for "
                "both datasets."
            )
        epochs = [_epoch(train, epoch, "train") for epoch in range(2)]
        sizes, labels, values = epochs[0]
        if sorted(labels.tolist()) != list(range(AUGMENT_TRAIN)):
            changed = _labels_changed(labels, range(AUGMENT_TRAIN), "train")
            if changed:
                return changed
            return (
                f"one epoch of train gave {_counted(len(labels), train)} images for "
                f"{AUGMENT_TRAIN}: each training "
                "image must come exactly once per epoch."
            )
        if max(sizes) != AUGMENT_BATCH:  # whole batches shuffled may put the remainder first
            return (
                f"train batches hold {max(sizes)} images; use the batch_size argument "
                f"({AUGMENT_BATCH})."
            )
        shifted = [abs(values[i] - originals[i]) > 1e-4 for i in labels]
        if not any(shifted):
            other = _changed_otherwise(train, train_data[0])
            if other is not None:
                return (
                    "the training images change, but not as the augment passed in changes "
                    "them: in this test it shifts each image's brightness, and none got "
                    f"brighter or darker (training image {other} changed otherwise). Apply the "
                    "augment argument, augment(images, training=True), in a .map, and no other "
                    "augmentation."
                )
            return (
                "the training images come out unchanged: apply augment to them, "
                "augment(images, training=True), in a .map."
            )
        moved = max(labels, key=lambda i: abs(values[i] - originals[i]))
        if abs(values[moved] - originals[moved]) > 0.2 + 1e-3:
            again = (
                " Were they divided by 255 again? They arrive prepared, in [0, 1]."
                if max(values.values()) < 0.25
                else ""
            )
            return (
                f"training image {moved} went from {originals[moved]:.3f} to "
                f"{values[moved]:.3f}, further than the test's augmentation (a brightness "
                f"shift of at most 0.2) moves it: apply augment and nothing else.{again}"
            )
        if np.array_equal(labels, np.arange(AUGMENT_TRAIN)):
            return (
                "the training images come out in their original order: shuffle them (before "
                "batching)."
            )
        steps = train["steps"]
        problem = _whole_batches_shuffled(
            np.split(labels, np.cumsum(sizes)[:-1]), steps, "the training dataset"
        )
        if problem:
            return problem
        cache, shuffle = _positions(steps, "cache"), _positions(steps, "shuffle")
        if np.array_equal(epochs[1][1], labels):
            if cache and shuffle and cache[-1] > shuffle[0]:
                return (
                    "both epochs come out in the same order: .cache() after .shuffle() stores the "
                    "first epoch's order and replays it. Cache first, then shuffle."
                )
            return "both epochs come out in the same order: keep reshuffle_each_iteration=True."
        if all(abs(epochs[1][2][i] - values[i]) < 1e-6 for i in labels):
            return (
                "every epoch sees exactly the same augmented images: .cache() after the "
                "augmentation "
                "stores one random draw and replays it. Cache first, then augment, so each epoch "
                "draws anew."
            )
        if not cache:
            return "add .cache() to train, before the augmentation, so the preparation runs once."
        if "prefetch" not in _last_step(steps) or "prefetch" not in _last_step(val["steps"]):
            return (
                "end both pipelines with .prefetch(tf.data.AUTOTUNE), so batches are ready "
                "before they are needed."
            )
        problem = _buffer_problem(train["buffers"], AUGMENT_TRAIN, "the training dataset")
        if problem:
            return problem
        # Two pipelines made afresh, one epoch of train each (and none of val: not the first
        # call again, which the judge would answer from its record): the seed decides the order.
        again, other = (_epoch(_train_of(made(s, 1, 0)), 0, "train") for s in (0, 1))
        if not np.array_equal(again[1], labels):
            return (
                "two pipelines made with the same seed gave the training images in different "
                "orders: pass the argument to shuffle, .shuffle(buffer, seed=seed), so that a run "
                "can be repeated."
            )
        if np.array_equal(other[1], labels):
            return (
                "seeds 0 and 1 gave the training images in the same order: shuffle with the "
                "argument, seed=seed, not a fixed number."
            )
        seeded = {
            "steps": steps,
            **{k: result.get(k) for k in ("seeded_order", "sets_global_seed")},
        }
        problem = _seed_problem(labels, seeded, "the training images")
        if problem or not any(b > AUGMENT_TRAIN for b in train["buffers"]):
            return problem
        # A buffer larger than the dataset: the same pipelines for a smaller training dataset
        # say whether it is a number written in or grows with the dataset
        fewer_data = tuple(part[:AUGMENT_OTHER_TRAIN] for part in train_data)
        try:
            fewer = made(0, 0, 0, fewer_data)
        except StudentCodeFailed:
            fewer = {}
        smaller = None
        if fewer.get("pair") and fewer["train"].get("dataset"):
            smaller = (AUGMENT_OTHER_TRAIN, fewer["train"]["buffers"])
        return _larger_buffer(
            train["buffers"], AUGMENT_TRAIN, "the training dataset", smaller=smaller
        )

    return run_check(
        "2.5",
        diagnose,
        "new random versions every epoch for training, validation untouched and in order.",
    )
