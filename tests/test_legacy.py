"""course_lib.legacy: ImageDataGenerator found, used like the tf.data twin, fully mapped."""

import warnings

import numpy as np
import pytest

from course_lib import data, legacy


@pytest.fixture(scope="module")
def generator_class():
    cls, report = legacy.import_image_data_generator()
    assert set(report) == set(legacy.IMPORT_PATHS)
    if cls is None:
        pytest.skip(f"ImageDataGenerator does not import here: {report}")
    return cls


def test_import_report_says_ok_or_names_the_error():
    _, report = legacy.import_image_data_generator()
    for outcome in report.values():
        assert outcome == "ok" or "Error" in outcome


def test_import_errors_are_reported_without_the_file_path_python_appends():
    try:
        from keras.preprocessing.image import ImageDataGenerator  # noqa: F401
    except ImportError as exc:
        assert exc.path and exc.path in str(exc)  # what Python prints: a path of this machine
        text = legacy.describe_error(exc)
        assert text.startswith("ImportError: cannot import name 'ImageDataGenerator'")
        assert exc.path not in text and "site-packages" not in text
    else:
        pytest.skip("keras.preprocessing.image still exports ImageDataGenerator")
    _, report = legacy.import_image_data_generator()
    assert report["keras.preprocessing.image"] == text


def test_an_error_without_a_path_is_described_as_it_is():
    assert (
        legacy.describe_error(AttributeError("no attribute 'x'"))
        == "AttributeError: no attribute 'x'"
    )


def test_every_argument_of_the_installed_generator_has_a_modern_equivalent(generator_class):
    missing = set(legacy.arguments(generator_class)) - set(legacy.EQUIVALENTS)
    assert not missing, f"add to legacy.EQUIVALENTS: {sorted(missing)}"
    table = legacy.equivalents_markdown(generator_class).splitlines()
    assert table[0].startswith("| legacy argument") and len(table) == 2 + len(
        legacy.arguments(generator_class)
    )
    assert any(row.startswith("| `rotation_range` | `0` | `RandomRotation") for row in table)


def test_folder_iterator_reads_the_folder_with_labels_in_the_given_order(tmp_path, generator_class):
    digits = data.load_digits()
    root = data.make_image_folder(digits, tmp_path, per_class=3)
    truth = {x.tobytes(): int(y) for x, y in zip(digits.x_train, digits.y_train, strict=True)}
    names = [data.folder_name(c) for c in digits.class_names]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        images, labels = legacy.folder_iterator(
            generator_class, root, names, (8, 8), batch_size=30, seed=0
        )[0]
    assert images.shape == (30, 8, 8, 1) and images.dtype == np.float32 and images.max() <= 1.0
    pixels = np.round(images[..., 0] * 255).astype(np.uint8)
    assert all(truth[p.tobytes()] == int(y) for p, y in zip(pixels, labels, strict=True))


def test_channel_shift_range_adds_one_amount_to_every_channel_as_random_brightness_does(
    generator_class,
):
    import keras

    rng = np.random.default_rng(0)
    image = rng.uniform(30, 200, size=(6, 7, 3)).astype(np.float32)
    shifted = generator_class().apply_transform(image, {"channel_shift_intensity": 20.0})
    # The same 20 in every channel, stopped at the image's own brightest value.
    np.testing.assert_allclose(shifted, np.clip(image + 20, image.min(), image.max()), atol=1e-4)
    brightness = keras.layers.RandomBrightness((20 / 255, 20 / 255), value_range=(0, 255))
    brighter = keras.ops.convert_to_numpy(brightness(image, training=True))
    unclipped = image + 20 <= image.max()
    np.testing.assert_allclose(brighter[unclipped], shifted[unclipped], atol=1e-3)
    assert legacy.EQUIVALENTS["channel_shift_range"].startswith("`RandomBrightness(")


def test_augmentation_kwargs_convert_turns_to_degrees():
    kwargs = legacy.augmentation_kwargs(rotation=0.05, zoom=0.2, translation=0.1)
    assert kwargs["rotation_range"] == pytest.approx(18) and kwargs["zoom_range"] == 0.2


def test_equivalents_table_still_lists_every_argument_without_the_class():
    table = legacy.equivalents_markdown(None).splitlines()
    assert len(table) == 2 + len(legacy.EQUIVALENTS)
    assert "| `rescale` | ? | `Rescaling(1 / 255)`" in "\n".join(table)


def test_augmentation_kwargs_default_to_what_augmentation_layers_does_by_default():
    import inspect

    from course_lib import pipeline

    defaults = {
        k: p.default for k, p in inspect.signature(pipeline.augmentation_layers).parameters.items()
    }
    kwargs = legacy.augmentation_kwargs()
    assert kwargs["rotation_range"] == pytest.approx(defaults["rotation"] * 360)
    assert kwargs["zoom_range"] == defaults["zoom"]
    assert kwargs["width_shift_range"] == kwargs["height_shift_range"] == defaults["translation"]
    assert kwargs["fill_mode"] == defaults["fill_mode"] and defaults["flip"] == "horizontal"
