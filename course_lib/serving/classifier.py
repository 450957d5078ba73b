"""The model behind the service: a small interface, adapters, and micro-batching.

The web app only needs a :class:`Classifier`: its name, version, class names
and preprocessing, and ``predict_batch(uint8 pixels) -> probabilities``, safe to
call from many threads. :class:`KerasClassifier` provides it for any Keras model
through one compiled call (``tf.function``), never ``model.predict``, whose
per-call set-up costs tens of milliseconds on a batch of one.
"""

from __future__ import annotations

import hashlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras


class Classifier(ABC):
    """An image classifier as the service sees it.

    ``preprocessing`` is the record saved with a course model: ``height``, ``width``,
    ``color_mode``, ``scale``, ``offset``, ``resize``. Model input is
    ``pixels * scale + offset`` in float32.
    """

    name: str
    version: str
    class_names: list[str]
    preprocessing: dict[str, Any]
    runtime: str = "keras"  # what runs the model: "keras" or "litert"
    runtime_note: str | None = None  # why it is not the runtime asked for, if it is not
    # True: predict_inputs takes calls from many threads at once and shares out the work
    # itself (LiteRT's lanes), so the service does not join concurrent requests into batches
    concurrent_calls: bool = False

    @property
    def input_shape(self) -> tuple[int, int, int]:
        p = self.preprocessing
        return int(p["height"]), int(p["width"]), 1 if p.get("color_mode") == "grayscale" else 3

    def prepare(self, image: Any) -> np.ndarray:
        """A decoded upload (a Pillow image) → one float32 model input ``(h, w, c)``.

        The whole way from photo to model input in one place. By default the recorded
        preprocessing (Pillow's resize to uint8, then the scaling); classifiers whose lessons
        resize with TensorFlow in float override it with that same resize, so that a photo gets
        the same input here as in the lesson: ``predict_inputs(prepare(image)[None])``.
        """
        from course_lib.serving import uploads

        return self.to_inputs(uploads.to_model_pixels(image, self.preprocessing)[None])[0]

    @property
    def decode_at_least(self) -> int | None:
        """How many pixels a side of a photo needs before :meth:`prepare`; None: all of them.

        The service decodes a JPEG upload larger than that at a reduced scale
        (:func:`~course_lib.serving.uploads.decode_upload`). With the default :meth:`prepare`
        (Pillow's resize) the model's larger side; a classifier whose :meth:`prepare` repeats a
        lesson's own resize on the photo as decoded returns None, so that the service's input
        stays the lesson's.
        """
        return max(self.input_shape[:2])

    def to_inputs(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels ``(n, h, w, c)`` → the float32 model input."""
        from course_lib import models

        return models.as_model_input(pixels, self.preprocessing)

    def predict_batch(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels ``(n, h, w, c)`` → class probabilities ``(n, classes)``, float32."""
        pixels = np.asarray(pixels)
        if pixels.dtype != np.uint8 or pixels.shape[1:] != self.input_shape:
            raise ValueError(
                f"expected uint8 pixels of shape (n, {', '.join(map(str, self.input_shape))}), "
                f"got {pixels.dtype} {pixels.shape}"
            )
        return self.predict_inputs(self.to_inputs(pixels))

    @abstractmethod
    def predict_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """Preprocessed float32 model input ``(n, h, w, c)`` → probabilities ``(n, classes)``."""

    def warm_up(self, batch_sizes: Sequence[int] = (1,)) -> float:
        """Run blank batches once, so the first request pays no tracing cost; returns seconds."""
        started = time.perf_counter()
        for n in batch_sizes:
            self.predict_batch(np.zeros((n, *self.input_shape), np.uint8))
        return time.perf_counter() - started

    def describe(self) -> dict[str, Any]:
        """Name, version, runtime, classes and preprocessing, as ``/model`` shows them."""
        return {
            "name": self.name,
            "version": self.version,
            "runtime": self.runtime,
            "runtime_note": self.runtime_note,
            "class_names": list(self.class_names),
            "input_shape": list(self.input_shape),
            "preprocessing": dict(self.preprocessing),
        }


class KerasClassifier(Classifier):
    """A Keras model called through one ``tf.function`` with a fixed input signature.

    The signature leaves the batch size open, so one trace serves every batch
    size. A lock makes each call exclusive: TensorFlow already uses every core
    inside one call, and the lock keeps threads from interleaving.
    """

    def __init__(
        self,
        model: keras.Model,
        class_names: Sequence[str],
        preprocessing: dict[str, Any],
        name: str,
        version: str,
        outputs: str = "probabilities",
        source_file: str | Path | None = None,
    ) -> None:
        import keras
        import tensorflow as tf

        if outputs not in ("probabilities", "logits"):
            raise ValueError(f"outputs must be 'probabilities' or 'logits', got {outputs!r}")
        self.model, self.outputs = model, outputs
        # The file the weights came from: its digest names the LiteRT conversion of the model.
        self.source_file = None if source_file is None else Path(source_file)
        self.class_names = list(class_names)
        self.preprocessing = dict(preprocessing)
        self.name, self.version = name, version
        if model.output_shape[-1] != len(self.class_names):
            raise ValueError(
                f"{len(self.class_names)} class names for a model with "
                f"{model.output_shape[-1]} outputs"
            )
        spec = tf.TensorSpec((None, *self.input_shape), tf.float32)
        self._resize = None
        body = model
        if self.preprocessing.get("in_model"):
            # An images-in model (photos.build_images_in_model) resizes and scales inside. The
            # service calls the part after the model's own resize layer, and prepare() calls that
            # layer itself on the photo at its own size, exactly as a Keras call on the photo does.
            resize = model.get_layer("resize")
            self._resize = keras.Model(model.input, resize.output, name=f"{model.name}_resize")
            body = keras.Model(resize.output, model.output, name=f"{model.name}_after_resize")
        self.body = body  # what predict_inputs runs, from the model input on

        @tf.function(input_signature=[spec])
        def call(x: tf.Tensor) -> tf.Tensor:
            y = body(x, training=False)
            return tf.nn.softmax(y) if outputs == "logits" else y

        self._call = call
        self._lock = threading.Lock()

    @property
    def decode_at_least(self) -> int | None:
        # An images-in model resizes the photo as decoded with its own layer.
        return super().decode_at_least if self._resize is None else None

    def prepare(self, image: Any) -> np.ndarray:
        if self._resize is None:
            return super().prepare(image)
        pixels = np.asarray(image.convert("RGB"), np.uint8)
        with self._lock:
            resized = np.asarray(self._resize(pixels[None], training=False))[0]
        return self.to_inputs(resized[None])[0]

    def predict_inputs(self, inputs: np.ndarray) -> np.ndarray:
        inputs = model_inputs(inputs, self.input_shape)
        with self._lock:
            return self._call(inputs).numpy()

    @classmethod
    def from_saved(
        cls, path: str | Path, name: str | None = None, version: str | None = None
    ) -> KerasClassifier:
        """A course model saved with ``models.save_model`` (``.keras`` + JSON metadata).

        ``name`` defaults to the file's stem, ``version`` to the metadata's or the file's digest.
        """
        from course_lib import models

        path = Path(path)
        model, meta = models.load_model(path)
        version = version or str(meta.get("version") or file_digest(path))
        return cls(
            model,
            meta["class_names"],
            meta["preprocessing"],
            name=name or path.stem,
            version=version,
            outputs=meta.get("outputs", "probabilities"),
            source_file=path,
        )

    @classmethod
    def from_folder(cls, folder: str | Path) -> KerasClassifier:
        """A model folder written by ``photos.save_photo_model`` (``model.keras`` + ``model.json``).

        In a TF Serving-style layout, ``models/<name>/<version>/``, a numbered folder is the
        version and its parent the name; otherwise the folder's name is the model's name.
        """
        from course_lib import photos

        folder = Path(folder)
        if folder.name.isdigit():
            return cls.from_saved(
                folder / photos.MODEL_FILE, name=folder.parent.name, version=folder.name
            )
        return cls.from_saved(folder / photos.MODEL_FILE, name=folder.name)


def file_digest(path: str | Path, length: int = 12) -> str:
    """The first ``length`` hex digits of a file's SHA-256: a version that changes with the file."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


def imagenet_preprocessing() -> dict[str, Any]:
    """What EfficientNet-Lite0 expects (lesson 06): 224×224 RGB, bilinear, ``(x - 127) / 128``."""
    from course_lib import efficientnet_lite

    return {
        "height": 224,
        "width": 224,
        "color_mode": "rgb",
        "scale": 1 / efficientnet_lite.STD,
        "offset": -efficientnet_lite.MEAN / efficientnet_lite.STD,
        "resize": "bilinear",
    }


def load_imagenet_classifier() -> KerasClassifier:
    """The ImageNet EfficientNet-Lite0 of lesson 06: real photos in, 1000 ImageNet labels out.

    Its weights ship with a Python package, so it works offline with no training
    step; the version names the weights file's digest.
    """
    from course_lib import efficientnet_lite, pretrained

    model = efficientnet_lite.efficientnet_lite0(include_top=True, weights="imagenet")
    version = "imagenet-" + file_digest(efficientnet_lite.weights_path(), 8)
    return ImageNetClassifier(
        model,
        pretrained.imagenet_class_names(),
        imagenet_preprocessing(),
        name=pretrained.OFFLINE_BACKBONE,
        version=version,
        outputs="logits",
        source_file=efficientnet_lite.weights_path(),
    )


class ImageNetClassifier(KerasClassifier):
    """Lesson 06's ImageNet classifier; :meth:`prepare` resizes as lesson 06 does."""

    decode_at_least = None  # lesson 06 resizes the photo as decoded

    def prepare(self, image: Any) -> np.ndarray:
        # pretrained.resize: TensorFlow, bilinear with antialiasing, in float, as Backbone.prepare
        from course_lib import pretrained

        pixels = np.asarray(image.convert("RGB"), np.uint8)
        return self.to_inputs(pretrained.resize(pixels[None], int(self.preprocessing["height"])))[0]


def load_classifier(spec: str) -> Classifier:
    """The classifier named by ``COURSE_SERVE_MODEL``.

    ``"imagenet"`` (the default): EfficientNet-Lite0 with ImageNet weights;
    ``"fashion"``: the Fashion-MNIST model lesson 04 saved; the path of any
    ``.keras`` file saved with ``models.save_model``; a model folder saved with
    ``photos.save_photo_model`` (lesson 09), e.g. ``models/flowers/1``; or a folder of
    such numbered versions, e.g. ``models/flowers``, whose served version
    (:func:`course_lib.versions.served_version`) is loaded.
    """
    from course_lib import models, photos, versions

    if spec not in ("imagenet", "fashion") and versions.is_model_root(spec):
        served = versions.served_version(spec)
        if served is None:  # every version was removed since is_model_root looked
            raise FileNotFoundError(f"COURSE_SERVE_MODEL={spec!r} holds no saved version any more")
        return KerasClassifier.from_folder(versions.version_folder(spec, served))
    if spec == "imagenet":
        return load_imagenet_classifier()
    if spec == "fashion":
        if not models.fashion_model_path().is_file():
            raise FileNotFoundError(
                f"no saved Fashion-MNIST model at {models.fashion_model_path()}: run lesson 04 "
                "(or models.load_or_train_fashion_cnn()), or set COURSE_SERVE_MODEL to a "
                ".keras file"
            )
        return KerasClassifier.from_saved(models.fashion_model_path())
    if spec.endswith(".keras"):
        return KerasClassifier.from_saved(spec)
    if Path(spec).is_dir():
        if not (Path(spec) / photos.MODEL_FILE).is_file():
            raise FileNotFoundError(
                f"COURSE_SERVE_MODEL={spec!r} is a folder without {photos.MODEL_FILE}: "
                "give the folder photos.save_photo_model wrote"
            )
        return KerasClassifier.from_folder(spec)
    raise ValueError(
        f"COURSE_SERVE_MODEL={spec!r}: use 'imagenet', 'fashion' or the path of a saved "
        ".keras model or of a model folder"
    )


class VersionWatch:
    """The served version of a folder of versions (``models/<name>/``), for :class:`ModelHost`.

    ``stamp`` is one ``stat`` of ``serving.json``, cheap enough for every request;
    ``wanted`` reads which version that record (or, without one, the highest folder) serves.
    """

    def __init__(self, model_root: str | Path) -> None:
        self.model_root = Path(model_root)

    def stamp(self) -> tuple[int, int] | None:
        from course_lib import versions

        return versions.serving_stamp(self.model_root)

    def wanted(self) -> str | None:
        from course_lib import versions

        served = versions.served_version(self.model_root)
        return None if served is None else str(served)

    def describe(self) -> dict[str, Any]:
        """The versions on disk and the one served, for ``/model``."""
        from course_lib import versions

        return {
            "available": versions.list_versions(self.model_root),
            "served": versions.served_version(self.model_root),
        }


def version_watch(spec: str) -> VersionWatch | None:
    """A :class:`VersionWatch` when ``COURSE_SERVE_MODEL`` names a folder of versions, else None."""
    from course_lib import versions

    return (
        VersionWatch(spec)
        if spec not in ("imagenet", "fashion") and versions.is_model_root(spec)
        else None
    )


def top_k(probabilities: np.ndarray, class_names: Sequence[str], k: int) -> list[dict[str, Any]]:
    """The ``k`` most probable classes of one image, most probable first."""
    probabilities = np.asarray(probabilities, np.float64)
    k = max(1, min(int(k), len(class_names)))
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [
        {
            "label": class_names[i],
            "class_index": int(i),
            "confidence": round(float(probabilities[i]), 6),
        }
        for i in order
    ]


def model_inputs(inputs: Any, input_shape: tuple[int, ...]) -> np.ndarray:
    """``inputs`` as float32, or a ValueError naming the shape a model of ``input_shape`` takes."""
    inputs = np.asarray(inputs, np.float32)
    if inputs.shape[1:] != tuple(input_shape):
        raise ValueError(
            f"expected model input of shape (n, {', '.join(map(str, input_shape))}), "
            f"got {inputs.shape}"
        )
    return inputs
