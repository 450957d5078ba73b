"""Lesson 09's core pieces, as students write them, agree with the library copies later
code uses."""

import keras
import numpy as np
from PIL import Image, ImageOps
from taught_support import taught

from course_lib import photos
from course_lib.checks.lesson09 import _test_images


def test_upright_rgb_agrees_with_the_library():
    upright_rgb = taught("09", "upright_rgb", Image=Image, ImageOps=ImageOps)
    for image, _ in _test_images().values():
        mine, library = (
            np.asarray(upright_rgb(image.copy())),
            np.asarray(photos.upright_rgb(image.copy())),
        )
        assert mine.shape == library.shape and np.array_equal(mine, library)


def test_split_files_agrees_with_the_library():
    split_files = taught("09", "split_files")
    files = [f"{i:03d}.jpg" for i in range(41)]
    labels = [i % 3 for i in range(41)]
    for seed in (0, 7):
        assert split_files(files, labels, (0.6, 0.2, 0.2), seed) == photos.split_files(
            files, labels, (0.6, 0.2, 0.2), seed
        )


def test_build_images_in_model_agrees_with_the_library():
    build_images_in_model = taught("09", "build_images_in_model")
    keras.utils.set_random_seed(0)
    backbone = keras.Sequential(
        [
            keras.Input((24, 24, 3)),
            keras.layers.Conv2D(5, 3),
            keras.layers.GlobalAveragePooling2D(),
        ],
        name="tiny_backbone",
    )
    head = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(3, activation="softmax")], name="head"
    )
    mine, library = (
        build_images_in_model(backbone, head, 24),
        photos.build_images_in_model(backbone, head, 24),
    )
    assert [type(layer).__name__ for layer in mine.layers] == [
        type(layer).__name__ for layer in library.layers
    ]
    assert mine.count_params() == library.count_params()
    assert mine.get_layer("resize").get_config() == library.get_layer("resize").get_config()
    photo = np.random.default_rng(1).integers(0, 256, (37, 61, 3), dtype=np.uint8)
    np.testing.assert_allclose(mine(photo[None]), library(photo[None]), atol=1e-6)
