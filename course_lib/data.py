"""Datasets for the course: loading, caching, class-balanced subsets and image folders.

Every loader returns an :class:`ImageDataset` with uint8 images and int64 labels::

    ds = data.load_fashion_mnist()
    ds.x_train.shape, ds.class_names[0]      # ((60000, 28, 28), 'T-shirt/top')

With ``COURSE_FAST=1`` the loaders return a small, seeded, class-balanced subset
(:data:`FAST_TRAIN_PER_CLASS` / :data:`FAST_TEST_PER_CLASS` images per class), so that
notebooks run in seconds on CI. Download sources and checksums live in
:mod:`course_lib.downloads`.
"""

from __future__ import annotations

import hashlib
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_lib import config, downloads
from course_lib.downloads import (
    DatasetUnavailableError,
    fetch,
    parse_cifar10_tar,
    parse_idx,
    parse_mnist_npz,
)

__all__ = [
    "DatasetUnavailableError",
    "ImageDataset",
    "balanced_subset",
    "folder_name",
    "load_cifar10",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "make_image_folder",
    "sample_photos",
]

FAST_TRAIN_PER_CLASS = 100
FAST_TEST_PER_CLASS = 20
# With an explicit subset the test split shrinks in proportion, but never below this,
# so that per-class accuracy still means something.
MIN_TEST_PER_CLASS = 5
SUBSET_SEED = 0
DIGITS_TEST_FRACTION = 0.25

# Where the Debian/Ubuntu package `dataset-fashion-mnist` puts its files.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
DIGIT_CLASSES = [str(d) for d in range(10)]

# Only photos shipped inside the scikit-image wheel: others (eagle, lily, ...) need pooch
# and a network connection.
_SKIMAGE_PHOTOS = {
    "cat": "chelsea",
    "coffee": "coffee",
    "astronaut": "astronaut",
    "rocket": "rocket",
    "hubble": "hubble_deep_field",
    "immunohistochemistry": "immunohistochemistry",
}


@dataclass(repr=False)
class ImageDataset:
    """Images and integer labels, already split into train and test.

    Images are uint8: ``(n, height, width)`` for grayscale sets, ``(n, height, width, 3)``
    for colour. ``y_*`` are int64 indices into ``class_names``.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]

    @property
    def num_classes(self) -> int:
        """How many classes there are (``len(class_names)``)."""
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape of one image, e.g. ``(28, 28)`` or ``(32, 32, 3)``."""
        return tuple(self.x_train.shape[1:])

    def __repr__(self) -> str:
        return (
            f"ImageDataset({self.name!r}, train={len(self.x_train)}, test={len(self.x_test)}, "
            f"image_shape={self.image_shape}, classes={self.num_classes})"
        )


def _balanced_indices(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picked = []
    for cls in np.unique(y):
        members = np.flatnonzero(y == cls)
        if per_class > len(members):
            raise ValueError(
                f"class {cls} has only {len(members)} examples; cannot take {per_class} per class"
            )
        # Permuting the whole class (not drawing per_class) makes the subset for a smaller
        # per_class part of the one for a larger, so growing SUBSET only adds examples.
        picked.append(rng.permutation(members)[:per_class])
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def balanced_subset(
    x: np.ndarray, y: np.ndarray, per_class: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Take ``per_class`` examples of every class in ``y``, chosen at random with ``seed``.

    The same arguments always give the same examples, in their original order.
    Raises ``ValueError`` if a class has fewer than ``per_class`` examples.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    idx = _balanced_indices(np.asarray(y), per_class, seed)
    return x[idx], y[idx]


def _smallest_class(y: np.ndarray) -> int:
    return int(np.unique(y, return_counts=True)[1].min())


def _shrink(ds: ImageDataset, subset: int | None) -> ImageDataset:
    """Apply ``subset`` (examples per class) or, when it is None, fast mode."""
    if subset is None:
        if not config.is_fast():
            return ds
        # Fast mode only ever shrinks: a set already smaller than the constants stays whole.
        n_train = min(FAST_TRAIN_PER_CLASS, _smallest_class(ds.y_train))
        n_test = min(FAST_TEST_PER_CLASS, _smallest_class(ds.y_test))
    else:
        if subset < 1:
            raise ValueError(f"subset must be at least 1 example per class, got {subset}")
        if subset > _smallest_class(ds.y_train):
            raise ValueError(
                f"subset={subset} per class, but {ds.name} has only "
                f"{_smallest_class(ds.y_train)} training examples in its smallest class"
            )
        n_train = subset
        wanted = max(MIN_TEST_PER_CLASS, math.ceil(subset * len(ds.y_test) / len(ds.y_train)))
        n_test = min(wanted, _smallest_class(ds.y_test))
    x_train, y_train = balanced_subset(ds.x_train, ds.y_train, n_train, SUBSET_SEED)
    x_test, y_test = balanced_subset(ds.x_test, ds.y_test, n_test, SUBSET_SEED)
    return ImageDataset(ds.name, x_train, y_train, x_test, y_test, list(ds.class_names))


# Subsets of Fashion-MNIST (fast mode, or subset=N) already loaded by this process, keyed by
# the bytes of the files they came from: loading one again reads and hashes the .gz files
# (0.03 s) instead of decompressing, verifying and parsing 55 MB (0.4 s). Only small subsets
# are kept (fast mode's is 1 MB): a second copy of a large one, or of the whole set, would
# weigh on the memory of the lesson that loads it.
_FASHION_SUBSETS: dict[tuple, ImageDataset] = {}
_KEEP_AT_MOST = 4_000_000  # bytes of images and labels


def _fashion_files_key(subset: int | None) -> tuple | None:
    """What a load of Fashion-MNIST depends on: the folder that :func:`fetch` reads (the first
    that holds every file), the SHA-256 of each file's bytes there, the checksums they must
    pass and what the subset is; None when no folder holds them all."""
    src = downloads.SOURCES["fashion-mnist"]
    for folder in (config.data_dir() / "fashion-mnist", DEBIAN_FASHION_MNIST_DIR):
        paths = [folder / f for f in src.files]
        if all(p.is_file() for p in paths):
            try:
                hashes = tuple(hashlib.sha256(p.read_bytes()).hexdigest() for p in paths)
            except OSError:
                return None
            return (
                str(folder), hashes, tuple(src.files.items()), src.hash_of, subset,
                config.is_fast(), FAST_TRAIN_PER_CLASS, FAST_TEST_PER_CLASS,
                MIN_TEST_PER_CLASS, SUBSET_SEED,
            )  # fmt: skip
    return None


def _copy(ds: ImageDataset) -> ImageDataset:
    return ImageDataset(
        ds.name,
        ds.x_train.copy(),
        ds.y_train.copy(),
        ds.x_test.copy(),
        ds.y_test.copy(),
        list(ds.class_names),
    )


def load_fashion_mnist(subset: int | None = None) -> ImageDataset:
    """Fashion-MNIST: 60,000 + 10,000 grayscale 28x28 images of clothing in 10 classes.

    Works offline when the files are in the course cache (``config.data_dir()/fashion-mnist``)
    or installed by ``sudo apt-get install dataset-fashion-mnist``; otherwise downloads them
    once. ``subset=N`` keeps N training images per class (and a proportional test set).
    """
    keep = subset is not None or config.is_fast()  # a subset: perhaps small enough to keep
    key = _fashion_files_key(subset) if keep else None
    if key is not None and key in _FASHION_SUBSETS:
        return _copy(_FASHION_SUBSETS[key])
    ds = _load_fashion_mnist(subset)
    # kept only when fetch read the very files hashed before it (it may have replaced them)
    size = sum(a.nbytes for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test))
    if key is not None and size <= _KEEP_AT_MOST and _fashion_files_key(subset) == key:
        _FASHION_SUBSETS[key] = _copy(ds)
    return ds


def _load_fashion_mnist(subset: int | None) -> ImageDataset:
    files = fetch("fashion-mnist", config.data_dir() / "fashion-mnist", [DEBIAN_FASHION_MNIST_DIR])
    arrays = {name.split("-idx")[0]: parse_idx(payload) for name, payload in files.items()}
    ds = ImageDataset(
        "fashion-mnist",
        arrays["train-images"],
        arrays["train-labels"].astype(np.int64),
        arrays["t10k-images"],
        arrays["t10k-labels"].astype(np.int64),
        list(FASHION_MNIST_CLASSES),
    )
    return _shrink(ds, subset)


def load_mnist(subset: int | None = None) -> ImageDataset:
    """MNIST handwritten digits: 60,000 + 10,000 grayscale 28x28 images, classes "0".."9".

    Downloaded once (11 MB) into ``config.data_dir()/mnist`` and verified on every load.
    """
    (payload,) = fetch("mnist", config.data_dir() / "mnist").values()
    x_train, y_train, x_test, y_test = parse_mnist_npz(payload)
    ds = ImageDataset(
        "mnist",
        x_train.astype(np.uint8),
        y_train.astype(np.int64),
        x_test.astype(np.uint8),
        y_test.astype(np.int64),
        list(DIGIT_CLASSES),
    )
    return _shrink(ds, subset)


def load_cifar10(subset: int | None = None) -> ImageDataset:
    """CIFAR-10: 50,000 + 10,000 colour 32x32 photos in 10 classes ("airplane" .. "truck").

    Downloaded once (163 MB) into ``config.data_dir()/cifar10`` and verified on every load.
    """
    (payload,) = fetch("cifar10", config.data_dir() / "cifar10").values()
    x_train, y_train, x_test, y_test, names = parse_cifar10_tar(payload)
    return _shrink(ImageDataset("cifar10", x_train, y_train, x_test, y_test, names), subset)


def load_digits(subset: int | None = None) -> ImageDataset:
    """scikit-learn's bundled 8x8 digits (1,797 images, no download), as uint8 0..255.

    The original 0..16 intensities are scaled to 0..255 so that they look like every other
    dataset in the course; the train/test split is stratified and seeded.
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    bunch = sklearn_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(
        images,
        bunch.target.astype(np.int64),
        test_size=DIGITS_TEST_FRACTION,
        stratify=bunch.target,
        random_state=SUBSET_SEED,
    )
    return _shrink(
        ImageDataset("digits", x_train, y_train, x_test, y_test, list(DIGIT_CLASSES)), subset
    )


def sample_photos() -> dict[str, np.ndarray]:
    """A few real colour photos bundled with scikit-image, as RGB uint8 ``(h, w, 3)`` arrays.

    Keys: ``cat``, ``coffee``, ``astronaut``, ``rocket``, ``hubble``, ``immunohistochemistry``.
    """
    import skimage.data

    return {
        key: getattr(skimage.data, loader)()[..., :3] for key, loader in _SKIMAGE_PHOTOS.items()
    }


def folder_name(class_name: str) -> str:
    """The folder name :func:`make_image_folder` uses for a class, e.g. ``"T-shirt_top"``."""
    return re.sub(r"[^\w .-]+", "_", class_name).strip(" .") or "_"


def make_image_folder(
    dataset: ImageDataset,
    root: str | Path,
    split: str = "train",
    per_class: int | None = None,
    seed: int = 0,
) -> Path:
    """Write one split as PNG files, ``root/<class folder>/<index>.png``, and return ``root``.

    ``<index>`` is the image's position in ``x_train``/``x_test``. Running it again replaces
    the class folders it writes (other files in ``root`` are left alone). Tools that infer
    labels from folder names sort them alphabetically, so pass the order explicitly, e.g.
    ``image_dataset_from_directory(root, class_names=[folder_name(c) for c in ds.class_names])``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    from PIL import Image

    x, y = (
        (dataset.x_train, dataset.y_train) if split == "train" else (dataset.x_test, dataset.y_test)
    )
    indices = np.arange(len(y)) if per_class is None else _balanced_indices(y, per_class, seed)
    folders = [folder_name(c) for c in dataset.class_names]
    if len(set(folders)) != len(folders):
        raise ValueError(f"class names {dataset.class_names} collide as folder names {folders}")
    root = Path(root)
    for folder in folders:
        # Only our own class folders are cleared, never root itself.
        shutil.rmtree(root / folder, ignore_errors=True)
        (root / folder).mkdir(parents=True)
    width = len(str(max(len(y) - 1, 0)))
    for i in indices:
        Image.fromarray(x[i]).save(root / folders[y[i]] / f"{i:0{width}d}.png")
    return root


def offline_location(name: str) -> Path | None:
    """Where dataset ``name`` (``"fashion-mnist"``, ``"mnist"``, ``"cifar10"``) can be loaded
    from without a download: the course cache or, for Fashion-MNIST, the Debian package.
    None when the loader would have to download it."""
    from course_lib.downloads import find_offline

    offline = [DEBIAN_FASHION_MNIST_DIR] if name == "fashion-mnist" else []
    return find_offline(name, config.data_dir() / name, offline)
