"""course_lib.pipeline: datasets in the shape models expect, augmentation, throughput."""

import itertools

import numpy as np
import pytest

from course_lib import data, pipeline


def _images(n=10, shape=(6, 5), seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


def _labels_in_order(ds):
    return np.concatenate([labels.numpy() for _, labels in ds])


def test_make_dataset_yields_scaled_float32_batches_with_a_channel_axis():
    x, y = _images(10), np.arange(10)
    batches = list(pipeline.make_dataset(x, y, batch_size=4))
    assert [b[0].shape for b in batches] == [(4, 6, 5, 1), (4, 6, 5, 1), (2, 6, 5, 1)]
    images = np.concatenate([b[0].numpy() for b in batches])
    assert images.dtype == np.float32
    np.testing.assert_allclose(images[..., 0], x / 255.0, atol=1e-6)
    np.testing.assert_array_equal(_labels_in_order(batches), y)


def test_make_dataset_scales_exactly_as_models_as_model_input_does():
    # Training (this pipeline) and serving and evaluation (as_model_input) must feed a model
    # the same numbers to the last bit: x / 255 and x * (1/255) differ for 126 pixel values.
    from course_lib import models

    x = np.arange(256, dtype=np.uint8).reshape(4, 8, 8)
    (images,) = list(pipeline.make_dataset(x, batch_size=4))
    expected = models.as_model_input(x, models.preprocessing_for((8, 8, 1)))
    np.testing.assert_array_equal(images.numpy().view(np.uint32), expected.view(np.uint32))


def test_make_dataset_keeps_colour_channels_and_works_without_labels():
    x = _images(3, shape=(4, 4, 3))
    (batch,) = list(pipeline.make_dataset(x, batch_size=8))
    assert batch.shape == (3, 4, 4, 3) and float(batch.numpy().max()) <= 1.0


def test_make_dataset_rejects_images_that_are_not_uint8_or_labels_of_another_length():
    with pytest.raises(ValueError, match="uint8"):
        pipeline.make_dataset(_images().astype(np.float32) / 255)
    with pytest.raises(ValueError, match="10 images but 3 labels"):
        pipeline.make_dataset(_images(), np.arange(3))


def test_make_dataset_shuffle_is_seeded_and_reshuffles_every_epoch():
    x, y = _images(40), np.arange(40)
    ds = pipeline.make_dataset(x, y, batch_size=8, shuffle=True, seed=1)
    first, second = _labels_in_order(ds), _labels_in_order(ds)
    assert sorted(first) == list(range(40)) and not np.array_equal(first, y)
    assert not np.array_equal(first, second), "a new order every epoch"
    again = _labels_in_order(pipeline.make_dataset(x, y, batch_size=8, shuffle=True, seed=1))
    np.testing.assert_array_equal(first, again)
    other = _labels_in_order(pipeline.make_dataset(x, y, batch_size=8, shuffle=True, seed=2))
    assert not np.array_equal(first, other)


def test_make_dataset_batches_images_in_the_order_shuffling_the_images_themselves_gives():
    import tensorflow as tf

    x, y = _images(50), np.arange(50)
    ds = pipeline.make_dataset(x, y, batch_size=8, shuffle=True, seed=3)
    reference = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(50, seed=3).batch(8)
    for _ in range(2):  # two epochs: each reshuffles, both the same way
        for (images, labels), (ref_images, ref_labels) in zip(ds, reference, strict=True):
            np.testing.assert_array_equal(labels.numpy(), ref_labels.numpy())
            np.testing.assert_allclose(
                images.numpy()[..., 0], ref_images.numpy() / 255.0, atol=1e-6
            )


def test_make_dataset_applies_augmentation_in_training_mode_only_to_images():
    x, y = _images(8, shape=(12, 12)), np.arange(8)
    augment = pipeline.augmentation_layers(seed=0)
    ((images, labels),) = list(pipeline.make_dataset(x, y, batch_size=8, augment=augment))
    assert images.shape == (8, 12, 12, 1)
    assert not np.allclose(images.numpy()[..., 0], x / 255.0)
    assert 0.0 <= float(images.numpy().min()) and float(images.numpy().max()) <= 1.0
    np.testing.assert_array_equal(labels.numpy(), y)


def test_augmentation_layers_are_a_no_op_at_inference_and_random_in_training():
    augment = pipeline.augmentation_layers(seed=3)
    x = np.random.default_rng(0).random((4, 10, 10, 1)).astype(np.float32)
    np.testing.assert_array_equal(augment(x, training=False).numpy(), x)
    assert not np.allclose(augment(x, training=True).numpy(), x)
    assert [type(layer).__name__ for layer in augment.layers] == [
        "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
    ]  # fmt: skip


def test_augmentation_layers_leave_out_transforms_of_strength_zero():
    augment = pipeline.augmentation_layers(
        flip=None, rotation=0.1, zoom=0, translation=0, contrast=0
    )
    assert [type(layer).__name__ for layer in augment.layers] == ["RandomRotation"]
    assert augment.layers[0].seed is None


def test_augmentation_with_a_seed_gives_the_same_pipeline_output_twice():
    x = _images(6, shape=(10, 10))

    def first_batch():
        ds = pipeline.make_dataset(x, batch_size=6, augment=pipeline.augmentation_layers(seed=5))
        return next(iter(ds)).numpy()

    np.testing.assert_array_equal(first_batch(), first_batch())


def test_measure_throughput_counts_every_image_including_a_short_last_batch():
    batches = [(np.zeros((4, 2)), np.zeros(4))] * 3 + [(np.zeros((1, 2)), np.zeros(1))]
    result = pipeline.measure_throughput(batches, n_images=100, warmup_batches=1)
    assert result.images == 4 + 4 + 1  # the warm-up batch is not counted
    assert result.images_per_second > 0


def test_measure_throughput_stops_an_endless_pipeline_once_it_has_enough_images():
    endless = itertools.repeat(np.zeros((8, 3, 3)))
    result = pipeline.measure_throughput(endless, n_images=20, warmup_batches=0)
    assert result.images == 24


def test_measure_throughput_rejects_a_pipeline_that_ends_during_warm_up():
    with pytest.raises(ValueError, match="warm-up"):
        pipeline.measure_throughput([np.zeros((2, 1))], n_images=5, warmup_batches=2)
    with pytest.raises(ValueError, match="at least 1"):
        pipeline.measure_throughput([], n_images=0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    ds = data.load_digits()
    root = data.make_image_folder(ds, tmp_path_factory.mktemp("digits"), per_class=3)
    truth = {x.tobytes(): int(y) for x, y in zip(ds.x_train, ds.y_train, strict=True)}
    return root, [data.folder_name(c) for c in ds.class_names], truth


def _labels_match_pixels(images, labels, truth):
    pixels = np.round(np.asarray(images)[..., 0] * 255).astype(np.uint8)
    return all(truth[p.tobytes()] == int(label) for p, label in zip(pixels, labels, strict=True))


def test_folder_dataset_reads_the_images_with_labels_in_the_given_order(folder):
    root, names, truth = folder
    ds = pipeline.folder_dataset(root, names, image_size=(8, 8), batch_size=30, seed=0)
    ((images, labels),) = list(ds)
    assert images.shape == (30, 8, 8, 1) and _labels_match_pixels(images, labels.numpy(), truth)


def test_folder_dataset_with_cache_still_reshuffles_every_epoch(folder):
    root, names, _ = folder
    ds = pipeline.folder_dataset(root, names, image_size=(8, 8), batch_size=30, cache=True, seed=0)
    first, second = _labels_in_order(ds), _labels_in_order(ds)
    assert sorted(first) == sorted(second) and not np.array_equal(first, second)


def _epoch_labels(batches):
    return np.concatenate([batches[i][1] for i in range(len(batches))])


def test_array_batches_cover_every_example_once_per_epoch_with_a_short_last_batch():
    x, y = _images(10).astype(np.float32), np.arange(10)
    batches = pipeline.ArrayBatches(x, y, batch_size=4)
    assert len(batches) == 3
    assert [len(batches[i][0]) for i in range(3)] == [4, 4, 2]
    np.testing.assert_array_equal(_epoch_labels(batches), y)  # unshuffled: the arrays' own order
    np.testing.assert_array_equal(np.concatenate([batches[i][0] for i in range(3)]), x)
    assert np.shares_memory(batches[0][0], x), (
        "an unshuffled batch is a view of the array, not a copy"
    )
    with pytest.raises(IndexError):
        batches[3]


def test_array_batches_shuffle_is_seeded_and_new_every_epoch():
    x, y = _images(40).astype(np.float32), np.arange(40)
    batches = pipeline.ArrayBatches(x, y, batch_size=8, shuffle=True, seed=1)
    first = _epoch_labels(batches)
    images, labels = batches[0]
    np.testing.assert_array_equal(images, x[labels])  # images stay with their labels
    batches.on_epoch_end()
    second = _epoch_labels(batches)
    assert sorted(first) == sorted(second) == list(range(40))
    assert not np.array_equal(first, y) and not np.array_equal(first, second)
    again = _epoch_labels(pipeline.ArrayBatches(x, y, batch_size=8, shuffle=True, seed=1))
    np.testing.assert_array_equal(first, again)


def _batch_order_keras_asks_for(python_seed, **fit_options):
    import random

    import keras

    class Logged(pipeline.ArrayBatches):
        def __getitem__(self, index):
            asked.append(index)
            return super().__getitem__(index)

    asked = []
    x, y = _images(40).astype(np.float32)[..., None], np.arange(40) % 2
    model = keras.Sequential(
        [keras.Input((6, 5, 1)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    model.compile(
        optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    random.seed(python_seed)  # what cells run before training leave behind
    model.fit(Logged(x, y, batch_size=4, shuffle=True, seed=1), epochs=1, verbose=0, **fit_options)
    return asked[-10:]  # the epoch's 10 batches (Keras first looks at one or two to learn shapes)


def test_array_batches_fit_with_shuffle_false_ignores_python_s_global_random_state():
    # Keras shuffles a PyDataset's batch order with Python's `random` unless told not to: the
    # lessons pass shuffle=False, as the batches reshuffle themselves from their own seed.
    assert _batch_order_keras_asks_for(1, shuffle=False) == list(range(10))
    assert _batch_order_keras_asks_for(2, shuffle=False) == list(range(10))
    assert _batch_order_keras_asks_for(1) != _batch_order_keras_asks_for(2)


def test_array_batches_refuse_labels_of_another_length_and_empty_sets():
    with pytest.raises(ValueError, match="10 examples but 3 labels"):
        pipeline.ArrayBatches(_images(10), np.arange(3))
    with pytest.raises(ValueError, match="at least one example"):
        pipeline.ArrayBatches(_images(0), np.arange(0))
