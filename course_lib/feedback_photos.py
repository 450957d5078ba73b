"""The photos of a feedback round: the uploads users send to the service, and a holdout folder.

Lesson 09 sends new photos to its service and scores each new version on a holdout that the
uploads never touch. Both come from one of two places:

- :func:`split_validation`: a folder of your own has nothing new to draw, so each class's
  validation photos are shuffled and cut in two: the 1st, 3rd, 5th... are the uploads, the
  others are copied into ``<folder>/holdout/<class>/``;
- :func:`render_new`: the course's sample folder can draw new ones, rendered as
  :func:`course_lib.photos.make_sample_folder` renders its photos, but from Fashion-MNIST's
  *training* split (the sample folder used the test split), a different item in every photo:
  the uploads are phone JPEGs in ``<folder>/uploads/``, the holdout PNGs in
  ``<folder>/holdout/<class>/``.

Either way each photo is an upload or a holdout photo, never both, and the same seed gives the
same photos.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from course_lib import photos


class RoundPhotos(NamedTuple):
    """A round's uploads, as ``(photo file, true class)`` in the order they are sent, and the
    holdout folder of class subfolders."""

    uploads: list[tuple[Path, str]]
    holdout_dir: Path

    def holdout_count(self) -> int:
        """How many photos the holdout folder holds."""
        return sum(1 for p in self.holdout_dir.rglob("*") if p.is_file())


def split_validation(
    folder: str | os.PathLike[str],
    file_paths: Sequence[str | os.PathLike[str]],
    labels: Sequence[int] | np.ndarray,
    class_names: Sequence[str],
    seed: int,
) -> RoundPhotos:
    """Half of each class's validation photos as uploads, the other half copied to a holdout.

    ``file_paths`` and ``labels`` are the validation split's files and class numbers (for
    example ``ds_val.file_paths`` and ``y_val``); the uploads stay where they are, the holdout
    photos are copied to ``folder/holdout/<class>/`` (emptied first). Each class's photos are
    shuffled with a generator seeded by ``seed``, classes in the order of ``class_names``.
    """
    holdout_dir = Path(folder) / "holdout"
    shutil.rmtree(holdout_dir, ignore_errors=True)
    holdout_dir.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    uploads = []
    for k, name in enumerate(class_names):
        files = [Path(p) for p, y in zip(file_paths, labels, strict=True) if y == k]
        for n, i in enumerate(rng.permutation(len(files))):
            if n % 2 == 0:  # the 1st, 3rd, 5th... shuffled photo: an upload
                uploads.append((files[i], name))
            else:  # the others: the holdout, never uploaded
                (holdout_dir / name).mkdir(exist_ok=True)
                shutil.copy2(files[i], holdout_dir / name / files[i].name)
    return RoundPhotos(uploads, holdout_dir)


def render_new(
    folder: str | os.PathLike[str],
    uploads_per_class: int,
    holdout_per_class: int,
    seed: int,
    exclude: Iterable[int] = (),
) -> RoundPhotos:
    """New photos of the sample folder's classes: uploads in ``folder/uploads/``, a holdout in
    ``folder/holdout/<class>/`` (both emptied first).

    For each class of :data:`photos.SAMPLE_CLASSES`, ``uploads_per_class + holdout_per_class``
    different items of Fashion-MNIST's training split, minus the indices in ``exclude`` (a photo
    the lesson already showed), are drawn with a generator seeded by ``seed`` and rendered by
    :func:`photos.render_item` over the sample folder's backgrounds. The first
    ``uploads_per_class`` become uploads, saved as a phone sends them (JPEG, quality 90); the
    others become the holdout, saved as PNG.
    """
    from PIL import Image

    from course_lib import data

    folder = Path(folder)
    for part in ("uploads", "holdout"):
        shutil.rmtree(folder / part, ignore_errors=True)
    fashion = data.load_fashion_mnist()
    backgrounds = list(data.sample_photos().values())
    rng = np.random.default_rng(seed)
    excluded = np.fromiter(exclude, dtype=np.int64)
    uploads = []
    for label, class_name in photos.SAMPLE_CLASSES.items():
        pool = np.setdiff1d(
            np.flatnonzero(fashion.y_train == fashion.class_names.index(label)), excluded
        )
        items = rng.choice(pool, size=uploads_per_class + holdout_per_class, replace=False)
        for n, i in enumerate(items):
            photo = Image.fromarray(
                photos.render_item(
                    fashion.x_train[i], backgrounds[int(rng.integers(len(backgrounds)))], rng
                )
            )
            if n < uploads_per_class:  # an upload, as a phone sends it
                path = folder / "uploads" / f"{class_name}_{n:03d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                photo.save(path, quality=90)
                uploads.append((path, class_name))
            else:
                path = folder / "holdout" / class_name / f"{n:03d}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                photo.save(path)
    return RoundPhotos(uploads, folder / "holdout")
