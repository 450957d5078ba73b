"""Feedback back into training: the service's corrected answers become the next model version.

:func:`retrain` does one round, for a model root ``models/<name>/`` of versions written by
:func:`course_lib.photos.save_photo_model` (``course retrain`` and lesson 09 both call it):

1. the training set is the feedback (each image decoded as :func:`photos.read_photo` decodes a
   file, labelled ``label`` when the user said the answer was right, ``correct_label`` when
   they corrected it) plus the original training folder;
2. the served version is loaded and its **head** (the model's last layer) trained further
   from its served weights for a few seeded epochs; everything before the head, resize and
   backbone included, stays frozen, so each photo's features are computed once;
3. the served version and the new one are scored on a **fixed holdout folder** that feedback
   never touches (a feedback image byte-identical to a holdout file stops the round): both
   accuracies, the paired difference with a 95% paired-bootstrap interval, and McNemar's p;
4. the new version is written to ``models/<name>/<next version>/``;
5. it is promoted by :data:`PROMOTION_RULE`, else left written but not served, with the numbers.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from course_lib import photos, versions

PROMOTION_RULE = (
    "promote the new version only if it is right on at least as many holdout photos "
    "as the served version (new correct >= old correct)"
)


@dataclass
class Examples:
    """Decoded photos with their class numbers; ``names`` say where each came from."""

    images: list[np.ndarray] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)  # SHA-256 of the encoded bytes
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def add(self, data: bytes, label: int, name: str) -> None:
        from course_lib.serving.uploads import UploadError

        try:
            pixels = photos.read_photo_bytes(data, name)
        except UploadError as error:
            self.skip(name, error.message)
            return
        self.images.append(pixels)
        self.labels.append(label)
        self.names.append(name)
        self.digests.append(hashlib.sha256(data).hexdigest())

    def skip(self, name: str, reason: str) -> None:
        # the decoder's messages already name the file
        warnings.warn(
            f"skipped: {reason}" if name in reason else f"skipped {name}: {reason}", stacklevel=3
        )
        self.skipped.append((name, reason))


def read_folder(folder: str | os.PathLike[str], class_names: Sequence[str]) -> Examples:
    """Every photo of ``folder/<class>/``; unknown class folders and unreadable files skipped, with a warning."""
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
    """The images of ``PredictionStore.feedback_rows()`` with the label to train on, skipping what cannot be used."""
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


@dataclass(frozen=True)
class HoldoutComparison:
    """Two versions scored on the same holdout photos."""

    n: int
    old_correct: int
    new_correct: int
    only_old_right: int
    only_new_right: int
    interval: tuple[float, float]  # 95% paired-bootstrap interval of new accuracy - old accuracy
    p_value: float  # McNemar's exact test

    @property
    def old_accuracy(self) -> float:
        return self.old_correct / self.n

    @property
    def new_accuracy(self) -> float:
        return self.new_correct / self.n

    @property
    def difference(self) -> float:
        return (self.new_correct - self.old_correct) / self.n

    def summary(self) -> str:
        low, high = self.interval
        return (
            f"holdout of {self.n}: served {self.old_correct} right ({self.old_accuracy:.3f}), new "
            f"{self.new_correct} right ({self.new_accuracy:.3f}); difference {self.difference:+.3f}, "
            f"95% interval [{low:+.3f}, {high:+.3f}]; only served right {self.only_old_right}, only new "
            f"right {self.only_new_right}, McNemar p = {self.p_value:.3g}"
        )


def compare_on_holdout(
    y_true: np.ndarray,
    old_pred: np.ndarray,
    new_pred: np.ndarray,
    seed: int = 0,
    resamples: int = 2000,
) -> HoldoutComparison:
    """Both versions' holdout scores, the paired difference's 95% bootstrap interval and McNemar's p."""
    from scipy.stats import bootstrap

    from course_lib import metrics

    paired = metrics.compare_classifiers(y_true, old_pred, new_pred)
    y_true, old_pred, new_pred = (np.asarray(v).ravel() for v in (y_true, old_pred, new_pred))
    # resampling photos, not predictions: each photo keeps both versions' answers (a paired bootstrap)
    gain = (new_pred == y_true).astype(float) - (old_pred == y_true)
    if np.all(gain == gain[0]):  # every photo the same: no spread to resample
        interval = (float(gain[0]), float(gain[0]))
    else:
        result = bootstrap(
            (gain,),
            np.mean,
            n_resamples=resamples,
            confidence_level=0.95,
            method="percentile",
            random_state=np.random.default_rng(seed),
        )
        interval = (float(result.confidence_interval.low), float(result.confidence_interval.high))
    return HoldoutComparison(
        len(y_true),
        int(np.sum(old_pred == y_true)),
        int(np.sum(new_pred == y_true)),
        paired.only_a_right,
        paired.only_b_right,
        interval,
        paired.p_value,
    )


def should_promote(comparison: HoldoutComparison) -> bool:
    """:data:`PROMOTION_RULE`: not worse on the holdout, counted in photos."""
    return comparison.new_correct >= comparison.old_correct


@dataclass(frozen=True)
class RetrainResult:
    """What one round did: versions, data used, the holdout comparison and the decision."""

    model_root: Path
    old_version: int
    new_version: int
    promoted: bool
    reason: str
    comparison: HoldoutComparison
    n_original: int
    n_feedback: int
    skipped: tuple[tuple[str, str], ...]
    holdout_labels: np.ndarray  # the holdout photos' classes, and each version's answers on them
    old_predictions: np.ndarray
    new_predictions: np.ndarray

    def summary(self) -> str:
        verdict = self.reason if self.promoted else f"written, not promoted: {self.reason}"
        return (
            f"version {self.new_version} trained from version {self.old_version} on {self.n_original} original "
            f"photos + {self.n_feedback} feedback photos ({len(self.skipped)} skipped)\n"
            f"{self.comparison.summary()}\nrule: {PROMOTION_RULE}\n{verdict}"
        )


class _Features:
    """The frozen part of a model (every layer before the head), with features kept per image."""

    def __init__(self, model: Any, cache: dict[Any, np.ndarray] | None, key: str) -> None:
        import keras

        layers = model.layers
        if len(layers) < 3 or type(layers[0]).__name__ != "InputLayer":
            raise ValueError(
                f"{model.name} is not a chain of layers ending in a head: build it with "
                "photos.build_images_in_model"
            )
        self.model, self.head = model, layers[-1]
        # photos come in any size: the resize layer runs on each alone, the rest on batches of resized photos
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

    def __call__(self, examples: Examples, chunk: int = 4) -> np.ndarray:
        # a few photos per call: a backbone's first layers take megabytes per photo at 224 pixels,
        # and TensorFlow keeps the memory of the largest call for later ones
        todo = [
            i for i, digest in enumerate(examples.digests) if (self.key, digest) not in self.cache
        ]
        for start in range(0, len(todo), chunk):
            part = todo[start : start + chunk]
            if self.resize is not None:
                batch = np.concatenate(
                    [np.asarray(self.resize(examples.images[i][None])) for i in part]
                )
                out = np.asarray(self.rest(batch, training=False))
            else:
                out = np.concatenate(
                    [np.asarray(self.rest(examples.images[i][None], training=False)) for i in part]
                )
            for i, row in zip(part, out, strict=True):
                self.cache[self.key, examples.digests[i]] = row
        features = np.stack([self.cache[self.key, digest] for digest in examples.digests])
        if not self.checked and len(features):  # the head on these features must be the whole model
            whole = np.asarray(self.model(examples.images[0][None], training=False))[0]
            split = np.asarray(self.head(features[:1], training=False))[0]
            if not np.allclose(whole, split, atol=1e-4):
                raise ValueError(
                    f"{self.model.name} does not split into frozen layers and a head: "
                    "build it with photos.build_images_in_model"
                )
            self.checked = True
        return features

    def predict(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(self.head(features, training=False)).argmax(axis=1)


def retrain(
    model_root: str | os.PathLike[str],
    feedback_rows: Sequence[dict[str, Any]],
    train_dir: str | os.PathLike[str],
    holdout_dir: str | os.PathLike[str],
    epochs: int = 5,
    learning_rate: float = 1e-3,
    batch_size: int = 16,
    seed: int = 0,
    promote: bool = True,
    cache: dict[Any, np.ndarray] | None = None,
) -> RetrainResult:
    """One round: feedback + original photos → a new version, compared on the holdout, promoted by the rule.

    ``cache`` (a dict kept between calls) saves recomputing the features of photos already seen
    by the same saved model (the same ``model.keras`` bytes, wherever they lie). With
    ``promote=False`` the new version is written and never promoted. The same rows and ``seed``
    give the same version.
    """
    import keras
    import tensorflow as tf

    from course_lib import training

    root = Path(model_root)
    # before loading: the loaded head's dropout takes its random state from the global seed when it is built
    training.set_seed(seed)
    old_version = versions.served_version(root)
    if old_version is None:
        raise ValueError(
            f"{root} holds no model version (no <version>/{photos.MODEL_FILE}): save one first"
        )
    model, meta = photos.load_photo_model(versions.version_folder(root, old_version))
    class_names = meta["class_names"]
    feedback = feedback_examples(feedback_rows, class_names)
    if not feedback.images:
        raise ValueError(
            f"none of the {len(feedback_rows)} feedback rows can be trained on: nothing to learn from"
        )
    original, holdout = read_folder(train_dir, class_names), read_folder(holdout_dir, class_names)
    if not holdout.images:
        raise ValueError(f"{holdout_dir} holds no photo of the model's classes {class_names}")
    check_holdout_untouched(feedback, holdout)
    # features depend only on the frozen layers: keyed by the saved model's bytes, a copy of a version shares them
    model_file = versions.version_folder(root, old_version) / photos.MODEL_FILE
    features = _Features(model, cache, hashlib.sha256(model_file.read_bytes()).hexdigest())
    x_holdout, y_holdout = features(holdout), np.asarray(holdout.labels)
    old_pred = features.predict(x_holdout)
    x_train = np.concatenate([features(part) for part in (original, feedback) if part.images])
    y_train = np.asarray(original.labels + feedback.labels)
    training.set_seed(seed)
    features.head.trainable = True
    features.head.compile(
        optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy"
    )
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(
        "ERROR"
    )  # each round's head traces a training function of its own: the retracing warning is expected
    try:
        features.head.fit(
            x_train, y_train, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0
        )
    finally:
        logger.setLevel(level)
    new_pred = features.predict(x_holdout)
    comparison = compare_on_holdout(y_holdout, old_pred, new_pred, seed=seed)
    if versions.SERVING_FILE not in {p.name for p in root.iterdir()}:
        # without a record the highest version is served: pin the served one before writing a higher one
        versions.promote(root, old_version, reason="served before retraining")
    new_version = versions.next_version(root)
    staging = (
        root / f".incoming-{new_version}"
    )  # written aside, then renamed: never a half-saved version
    shutil.rmtree(staging, ignore_errors=True)
    photos.save_photo_model(
        model,
        staging,
        class_names,
        retrained_from=old_version,
        holdout_accuracy=comparison.new_accuracy,
        feedback_photos=len(feedback.images),
        epochs=epochs,
        seed=seed,
    )
    os.replace(staging, versions.version_folder(root, new_version))
    numbers = (
        f"holdout {comparison.new_correct}/{comparison.n} right vs {comparison.old_correct}/{comparison.n} "
        f"for version {old_version}"
    )
    promoted = promote and should_promote(comparison)
    if promoted:
        reason = f"promoted: {numbers}"
        versions.promote(root, new_version, reason=reason)
    elif not promote:
        reason = f"promotion not asked for; {numbers}"
    else:
        reason = f"worse on the holdout: {numbers}; version {old_version} stays served"
    return RetrainResult(
        root,
        old_version,
        new_version,
        promoted,
        reason,
        comparison,
        len(original.images),
        len(feedback.images),
        tuple(original.skipped + feedback.skipped + holdout.skipped),
        y_holdout,
        old_pred,
        new_pred,
    )


def feedback_from_store(db_path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The feedback rows of the service's prediction database at ``db_path``."""
    from course_lib.serving.store import PredictionStore

    if not Path(db_path).is_file():
        raise ValueError(
            f"no prediction database at {db_path}: give the service's COURSE_SERVE_DB file"
        )
    store = PredictionStore(db_path)
    try:
        return store.feedback_rows()
    finally:
        store.close()
