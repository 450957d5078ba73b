"""Feedback back into training: the service's corrected answers become the next model version.

:func:`retrain` does one round, for a model root ``models/<name>/`` of versions written by
:func:`course_lib.photos.save_photo_model` (``course retrain`` and lesson 09 both call it):

1. the training set is the feedback (each image decoded as :func:`photos.read_photo` decodes a
   file, labelled ``label`` when the user said the answer was right, ``correct_label`` when
   they corrected it) plus the original training folder (:mod:`course_lib.retrain_data`);
2. the served version is loaded and its **head** (the model's last layer) trained further
   from its served weights for a few seeded epochs; everything before the head, resize and
   backbone included, stays frozen, so each photo's features are computed once
   (:class:`course_lib.retrain_data.FrozenFeatures`);
3. the served version and the new one are scored on a **fixed holdout folder** that feedback
   never touches (a feedback image byte-identical to a holdout file stops the round): both
   accuracies, the paired difference with a 95% paired-bootstrap interval, and McNemar's p
   (:mod:`course_lib.holdout`);
4. the new version is written to ``models/<name>/<next version>/``;
5. it is promoted by :data:`PROMOTION_RULE`, else left written but not served, with the numbers.
"""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from course_lib import photos, versions
from course_lib.allocator import release_freed_memory
from course_lib.holdout import (
    PROMOTION_RULE,
    HoldoutComparison,
    compare_on_holdout,
    should_promote,
)
from course_lib.retrain_data import (
    Examples,
    FrozenFeatures,
    check_holdout_untouched,
    feedback_examples,
    read_folder,
)

__all__ = [
    "PROMOTION_RULE",
    "Examples",
    "FrozenFeatures",
    "HoldoutComparison",
    "RetrainResult",
    "check_holdout_untouched",
    "compare_on_holdout",
    "feedback_examples",
    "feedback_from_store",
    "read_folder",
    "retrain",
    "should_promote",
]


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
    holdout_labels: np.ndarray  # the holdout photos' classes, and each version's answers
    old_predictions: np.ndarray
    new_predictions: np.ndarray

    def summary(self) -> str:
        """The round in four lines: data, holdout comparison, rule, decision."""
        verdict = self.reason if self.promoted else f"written, not promoted: {self.reason}"
        return (
            f"version {self.new_version} trained from version {self.old_version} on "
            f"{self.n_original} original photos + {self.n_feedback} feedback photos "
            f"({len(self.skipped)} skipped)\n"
            f"{self.comparison.summary()}\nrule: {PROMOTION_RULE}\n{verdict}"
        )


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
    """One round: feedback + original photos → a new version, compared on the holdout, promoted
    by :data:`PROMOTION_RULE`.

    ``cache`` (a dict kept between calls) saves recomputing the features of photos already seen
    by the same saved model (the same ``model.keras`` bytes, wherever they lie). With
    ``promote=False`` the new version is written and never promoted. The same rows and ``seed``
    give the same version.
    """
    from course_lib import training

    root = Path(model_root)
    # What the caller has freed goes back to the system first: a kernel that trained and
    # served models before holds freed memory that this round's model would add to.
    gc.collect()
    release_freed_memory()
    # before loading: the loaded head's dropout takes its random state from the global seed
    training.set_seed(seed)
    old_version = versions.served_version(root)
    if old_version is None:
        raise ValueError(
            f"{root} holds no model version (no <version>/{photos.MODEL_FILE}): save one first"
        )
    model_file = versions.version_folder(root, old_version) / photos.MODEL_FILE
    model, metadata = photos.load_photo_model(model_file.parent)
    class_names = metadata["class_names"]
    feedback = feedback_examples(feedback_rows, class_names)
    if not len(feedback):
        raise ValueError(
            f"none of the {len(feedback_rows)} feedback rows can be trained on: "
            "nothing to learn from"
        )
    original, holdout = read_folder(train_dir, class_names), read_folder(holdout_dir, class_names)
    if not len(holdout):
        raise ValueError(f"{holdout_dir} holds no photo of the model's classes {class_names}")
    check_holdout_untouched(feedback, holdout)
    # features depend only on the frozen layers: keyed by the saved model's bytes, so that a
    # copy of a version shares them
    features = FrozenFeatures(model, cache, hashlib.sha256(model_file.read_bytes()).hexdigest())
    x_holdout, y_holdout = features(holdout), np.asarray(holdout.labels)
    old_pred = features.predict(x_holdout)
    x_train = np.concatenate([features(part) for part in (original, feedback) if len(part)])
    y_train = np.asarray(original.labels + feedback.labels)
    training.set_seed(seed)
    _train_head(features.head, x_train, y_train, epochs, learning_rate, batch_size)
    new_pred = features.predict(x_holdout)
    comparison = compare_on_holdout(y_holdout, old_pred, new_pred, seed=seed)
    new_version = _write_version(
        root,
        old_version,
        model,
        class_names,
        retrained_from=old_version,
        holdout_accuracy=comparison.new_accuracy,
        feedback_photos=len(feedback),
        epochs=epochs,
        seed=seed,
    )
    numbers = (
        f"holdout {comparison.new_correct}/{comparison.n} right vs "
        f"{comparison.old_correct}/{comparison.n} for version {old_version}"
    )
    promoted = promote and should_promote(comparison)
    if promoted:
        reason = f"promoted: {numbers}"
        versions.promote(root, new_version, reason=reason)
    elif not promote:
        reason = f"promotion not asked for; {numbers}"
    else:
        reason = f"fewer photos right on the holdout: {numbers}; version {old_version} stays served"
    return RetrainResult(
        root,
        old_version,
        new_version,
        promoted,
        reason,
        comparison,
        len(original),
        len(feedback),
        tuple(original.skipped + feedback.skipped + holdout.skipped),
        y_holdout,
        old_pred,
        new_pred,
    )


def _train_head(
    head: Any,
    x_train: np.ndarray,
    y_train: np.ndarray,
    epochs: int,
    learning_rate: float,
    batch_size: int,
) -> None:
    """Train ``head`` further, from its weights, on the features ``x_train``."""
    import keras
    import tensorflow as tf

    head.trainable = True
    head.compile(
        optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy"
    )
    logger = tf.get_logger()
    level = logger.level
    # each round's head traces a training function of its own: the retracing warning is expected
    logger.setLevel("ERROR")
    try:
        head.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    finally:
        logger.setLevel(level)


def _write_version(
    root: Path, served: int, model: Any, class_names: Sequence[str], **metadata: Any
) -> int:
    """Save ``model`` as the next version of ``root``, never half-written; returns its number."""
    if versions.SERVING_FILE not in {p.name for p in root.iterdir()}:
        # without a record the highest version is served: pin the served one before writing
        # a higher one
        versions.promote(root, served, reason="served before retraining")
    new_version = versions.next_version(root)
    staging = root / f".incoming-{new_version}"  # written aside, then renamed
    shutil.rmtree(staging, ignore_errors=True)
    photos.save_photo_model(model, staging, class_names, **metadata)
    os.replace(staging, versions.version_folder(root, new_version))
    return new_version


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
