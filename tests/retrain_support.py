"""Shared pieces of the retraining tests: a tiny images-in model and folders of coloured photos."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ["blue", "red"]
COLOURS = {"red": (200, 40, 40), "blue": (40, 60, 200)}


def photo_bytes(name: str, rng: np.random.Generator, fmt: str = "PNG") -> bytes:
    """A small photo of a class: its colour with noise, at a random size (the model resizes)."""
    height, width = (int(v) for v in rng.integers(18, 40, size=2))
    pixels = np.clip(np.array(COLOURS[name], float) + rng.normal(0, 25, (height, width, 3)), 0, 255)
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(out, fmt)
    return out.getvalue()


def photo_folder(root: Path, per_class: int, seed: int) -> Path:
    """``root/<class>/<n>.png``: ``per_class`` photos of each class."""
    rng = np.random.default_rng(seed)
    for name in CLASSES:
        (root / name).mkdir(parents=True, exist_ok=True)
        for n in range(per_class):
            (root / name / f"{n:03d}.png").write_bytes(photo_bytes(name, rng))
    return root


def tiny_model_root(root: Path, seed: int = 0) -> Path:
    """``root/1/``: an untrained images-in model (a small conv backbone and a softmax head)."""
    import keras

    from course_lib import photos, training

    training.set_seed(seed)
    backbone = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(6, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
        ],
        name="tiny_backbone",
    )
    head = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(len(CLASSES), activation="softmax"),
        ],
        name="head",
    )
    photos.save_photo_model(photos.build_images_in_model(backbone, head, 16), root / "1", CLASSES)
    return root


def feedback_row(
    prediction_id: int,
    image: bytes | None,
    predicted: str,
    correct: bool,
    correct_label: str | None = None,
) -> dict:
    """One row as ``PredictionStore.feedback_rows()`` returns it."""
    return {
        "prediction_id": prediction_id,
        "created_at": "2026-12-02T08:00:00.000Z",
        "model_name": "tiny",
        "model_version": "1",
        "label": predicted,
        "correct": correct,
        "correct_label": correct_label,
        "image": image,
        "image_type": "image/png",
    }


def labelled_rows(per_class: int, seed: int, flip: bool = False) -> list[dict]:
    """Feedback rows whose label to train on is each photo's class (or the other class, with
    ``flip``)."""
    rng = np.random.default_rng(seed)
    rows = []
    for name in CLASSES:
        for _ in range(per_class):
            label = CLASSES[1 - CLASSES.index(name)] if flip else name
            # half of them "corrected", half "confirmed": both paths give the label to train on
            if len(rows) % 2:
                rows.append(feedback_row(len(rows) + 1, photo_bytes(name, rng), label, True))
            else:
                rows.append(
                    feedback_row(len(rows) + 1, photo_bytes(name, rng), "other", False, label)
                )
    return rows


def store_feedback(store, rows: list[dict]) -> None:
    """Record each row as the service would: a prediction with its original upload, then the
    user's feedback."""
    from course_lib.serving.store import NewPrediction

    for row in rows:
        (pid,) = store.add(
            [
                NewPrediction(
                    filename=f"{row['prediction_id']}.png",
                    model_name="tiny",
                    model_version="1",
                    label=row["label"],
                    class_index=0,
                    confidence=0.5,
                    top_k=[],
                    latency_ms=1.0,
                    original=row["image"],
                    original_type="image/png",
                )
            ]
        )
        store.set_feedback(pid, row["correct"], row["correct_label"])
