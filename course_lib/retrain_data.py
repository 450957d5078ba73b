"""The photos of a retraining round: feedback rows and class folders, checked as the service reads.

:func:`feedback_examples` turns the rows of ``PredictionStore.feedback_rows()`` into labelled
photos (the predicted class when the user confirmed it, the correction otherwise);
:func:`read_folder` reads a folder of class subfolders (the original training photos, the
holdout). Both decode each photo once with :func:`course_lib.photos.read_photo_bytes`, so that
what cannot be read is skipped with a warning naming it, and keep the **encoded** bytes: a few
hundred decoded photos would hold a hundred megabytes that only the first round needs.
:func:`check_holdout_untouched` stops a round whose feedback holds a holdout photo.

:class:`FrozenFeatures` splits an images-in model (:func:`photos.build_images_in_model`: input,
resize, scaling and backbone, then the head) into its frozen layers and its head. Retraining
changes the head only, so each photo's features (the output of everything before the head) are
computed once, kept in a cache keyed by the saved model's bytes and the photo's digest, and
reused by every later round that starts from the same saved model.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from course_lib import photos


@dataclass
class Examples:
    """Photos that decode, with their class numbers; ``names`` say where each came from."""

    encoded: list[bytes] = field(default_factory=list)  # each photo's bytes, as stored
    labels: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)  # SHA-256 of the encoded bytes
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def add(self, data: bytes, label: int, name: str) -> None:
        """Keep ``data`` if it decodes as a photo; otherwise skip it with a warning."""
        from course_lib.serving.uploads import UploadError

        try:
            photos.read_photo_bytes(data, name)
        except UploadError as error:
            self.skip(name, error.message)
            return
        self.encoded.append(data)
        self.labels.append(label)
        self.names.append(name)
        self.digests.append(hashlib.sha256(data).hexdigest())

    def skip(self, name: str, reason: str) -> None:
        """Record ``name`` as left out, and warn (the decoder's messages already name the file)."""
        warnings.warn(
            f"skipped: {reason}" if name in reason else f"skipped {name}: {reason}", stacklevel=3
        )
        self.skipped.append((name, reason))

    def __len__(self) -> int:
        return len(self.encoded)

    def pixels(self, index: int) -> np.ndarray:
        """Photo ``index`` as uint8 RGB ``(h, w, 3)``, decoded as :func:`photos.read_photo` does."""
        return photos.read_photo_bytes(self.encoded[index], self.names[index])

    @property
    def images(self) -> list[np.ndarray]:
        """Every photo decoded (for a look at a few; a round decodes one photo at a time)."""
        return [self.pixels(i) for i in range(len(self))]


def read_folder(folder: str | os.PathLike[str], class_names: Sequence[str]) -> Examples:
    """Every photo of ``folder/<class>/``; unknown class folders and unreadable files skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder of class subfolders")
    found = Examples()
    for class_dir in sorted(
        p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
    ):
        if class_dir.name not in class_names:
            found.skip(
                f"{class_dir}/",
                f"'{class_dir.name}' is not one of the model's classes {list(class_names)}",
            )
            continue
        for path in sorted(
            p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith(".")
        ):
            found.add(path.read_bytes(), list(class_names).index(class_dir.name), str(path))
    return found


def feedback_examples(rows: Sequence[dict[str, Any]], class_names: Sequence[str]) -> Examples:
    """The photos of ``PredictionStore.feedback_rows()`` with the label to train on.

    A row is skipped, with a warning, when its image was not kept, when it is marked wrong
    without a correction, or when its label is not one of ``class_names``.
    """
    found = Examples()
    for row in rows:
        name = f"feedback on prediction {row['prediction_id']}"
        label = row["label"] if row["correct"] else row.get("correct_label")
        if row.get("image") is None:
            found.skip(name, "its image was not kept (retention or an old service)")
        elif not label:
            found.skip(name, "marked wrong without a correct label")
        elif label not in class_names:
            found.skip(
                name, f"label {label!r} is not one of the model's classes {list(class_names)}"
            )
        else:
            found.add(bytes(row["image"]), list(class_names).index(label), name)
    return found


def check_holdout_untouched(feedback: Examples, holdout: Examples) -> None:
    """ValueError naming them if any feedback image is byte-identical to a holdout photo."""
    holdout_files = dict(zip(holdout.digests, holdout.names, strict=True))
    shared = [
        f"{name} = {holdout_files[digest]}"
        for name, digest in zip(feedback.names, feedback.digests, strict=True)
        if digest in holdout_files
    ]
    if shared:
        raise ValueError(
            f"{len(shared)} feedback image(s) are holdout photos, byte for byte "
            f"({'; '.join(shared[:3])}); the holdout must stay untouched: remove them from one side"
        )


class FrozenFeatures:
    """The frozen part of ``model`` (every layer before the head), with features kept per photo.

    ``cache`` is a dict the caller may keep between rounds; ``key`` names the saved model the
    features come from (rounds from another model must not share them).
    """

    def __init__(self, model: Any, cache: dict[Any, np.ndarray] | None, key: str) -> None:
        import keras

        layers = model.layers
        if len(layers) < 3 or type(layers[0]).__name__ != "InputLayer":
            raise ValueError(
                f"{model.name} is not a chain of layers ending in a head: build it with "
                "photos.build_images_in_model"
            )
        self.model, self.head = model, layers[-1]
        # photos come in any size: the resize layer runs on each alone, the rest on batches
        self.resize = layers[1] if type(layers[1]).__name__ == "Resizing" else None
        rest = layers[2:-1] if self.resize is not None else layers[1:-1]
        shape = (
            self.resize.compute_output_shape((1, None, None, 3))[1:]
            if self.resize
            else model.inputs[0].shape[1:]
        )
        dtype = model.inputs[0].dtype  # Resizing returns uint8 for uint8 photos
        inputs = x = keras.Input(shape, dtype=dtype)
        for layer in rest:
            x = layer(x, training=False)
        self.rest = keras.Model(inputs, x)
        self.cache, self.key, self.checked = ({} if cache is None else cache), key, False

    def _compute(self, examples: Examples, todo: list[int]) -> np.ndarray:
        """The features of photos ``todo``, decoded one at a time and run as one batch."""
        if self.resize is not None:
            batch = np.concatenate(
                [np.asarray(self.resize(examples.pixels(i)[None])) for i in todo]
            )
            return np.asarray(self.rest(batch, training=False))
        return np.concatenate(
            [np.asarray(self.rest(examples.pixels(i)[None], training=False)) for i in todo]
        )

    def __call__(self, examples: Examples, chunk: int = 4) -> np.ndarray:
        """The features of every photo of ``examples``, computing only those not in the cache."""
        # a few photos per call: a backbone's first layers take megabytes per photo at 224
        # pixels, and TensorFlow keeps the memory of the largest call for later ones
        todo = [
            i for i, digest in enumerate(examples.digests) if (self.key, digest) not in self.cache
        ]
        for begin in range(0, len(todo), chunk):
            part = todo[begin : begin + chunk]
            for i, row in zip(part, self._compute(examples, part), strict=True):
                self.cache[self.key, examples.digests[i]] = row
        features = np.stack([self.cache[self.key, digest] for digest in examples.digests])
        if not self.checked and len(features):  # the head on these features is the whole model
            whole = np.asarray(self.model(examples.pixels(0)[None], training=False))[0]
            split = np.asarray(self.head(features[:1], training=False))[0]
            if not np.allclose(whole, split, atol=1e-4):
                raise ValueError(
                    f"{self.model.name} does not split into frozen layers and a head: "
                    "build it with photos.build_images_in_model"
                )
            self.checked = True
        return features

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The head's class for each row of ``features``."""
        return np.asarray(self.head(features, training=False)).argmax(axis=1)
