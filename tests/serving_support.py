"""Shared pieces of the serving tests: a tiny saved model and image files in many formats."""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

FASHION_CLASSES = [
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


@functools.lru_cache(maxsize=1)
def tiny_model_path() -> Path:
    """An untrained baseline CNN saved with its metadata, once per test session.

    Its predictions mean nothing, but they are deterministic, which is all the
    service tests need; it loads in a fraction of a second.
    """
    from course_lib import models, training

    training.set_seed(0, deterministic_ops=False)
    folder = Path(tempfile.mkdtemp(prefix="course-serving-model-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    model = models.build_baseline_cnn((28, 28, 1), len(FASHION_CLASSES))
    return models.save_model(
        model, folder / "tiny_fashion.keras", FASHION_CLASSES, version="test-1"
    )


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def photo(size: tuple[int, int] = (64, 48), seed: int = 0) -> Image.Image:
    """A small RGB picture with structure (a gradient and a bright square)."""
    width, height = size
    rng = np.random.default_rng(seed)
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    pixels[..., 1] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    pixels[..., 2] = rng.integers(0, 256, (height, width), dtype=np.uint8)
    pixels[height // 4 : height // 2, width // 4 : width // 2] = 255
    return Image.fromarray(pixels)


def png(size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    return encode(photo(size, seed))


def jpeg(size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    return encode(photo(size, seed), "JPEG", quality=90)


FRUIT_CLASSES = ["apple", "pear"]


def save_fruit_version(root: Path, version: int, favourite: str) -> Path:
    """A tiny images-in model answering ``favourite`` for any photo, saved as ``root/<version>``."""
    import keras

    from course_lib import photos, versions

    backbone = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.GlobalAveragePooling2D()], name="backbone"
    )
    bias = [0.0, 0.0]
    bias[FRUIT_CLASSES.index(favourite)] = 4.0
    head = keras.layers.Dense(
        2,
        activation="softmax",
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(bias),
        name="probabilities",
    )
    model = photos.build_images_in_model(backbone, head, 8, name="fruit")
    return photos.save_photo_model(model, versions.version_folder(root, version), FRUIT_CLASSES)


@contextlib.contextmanager
def course_service_url(db: Path, classifier) -> Iterator[str]:
    """The course service for ``classifier`` on 127.0.0.1 (a free port), in a thread.

    Stopped, and its model host closed, when the block ends, even if a test failed.
    """
    from werkzeug.serving import make_server

    from course_lib.serving import ServeConfig, create_app, free_port

    app = create_app(ServeConfig(db=db, load_in_background=False), classifier)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(10)
        app.extensions["course_serving"]["host"].close()
