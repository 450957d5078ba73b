"""Your own photos: a folder of class subfolders becomes clean train/validation/test folders,
and a trained classifier becomes an *images-in* model that takes photo pixels as they are.

A folder of photos collected by hand is messy: any size, JPEG or PNG, colour or gray, palette
or transparent PNGs, phone photos stored sideways with an EXIF orientation tag, the odd broken
file, a class folder not filled yet. ``keras.utils.image_dataset_from_directory`` decodes files
with TensorFlow, which ignores EXIF orientation, drops transparency without compositing it and
stops the whole training run at the first file it cannot decode. :func:`prepare_folder` reads
every file once with the course's upload decoder (the one the web service uses,
:func:`course_lib.serving.uploads.decode_image`), skips what cannot be read with a warning that
names it, rewrites what TensorFlow would read differently as plain RGB PNG, and splits each class
into ``train/``, ``validation/`` and ``test/`` folders that ``image_dataset_from_directory``
then loads safely.

:func:`build_images_in_model` puts the resize and the scaling inside the model, so that a
Keras call, an exported SavedModel, a TFLite file and the web service all prepare a photo the
same way; :func:`save_photo_model` writes it to a folder with its class names, a layout that
fits ``models/<name>/<version>/``. :func:`make_sample_folder` writes the offline default: a
folder of colour photos the course can build without a download (lesson 09 says what it can and
cannot show).
"""

from __future__ import annotations

import io
import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # keras is imported lazily: importing course_lib stays fast
    import keras
    from PIL import Image

SPLITS = ("train", "validation", "test")
# What a camera, phone or browser saves; anything else in a class folder is reported and skipped.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")
MODEL_FILE = "model.keras"
# EfficientNet-Lite's scaling, (x - 127) / 128, as a Rescaling layer: x * SCALE + OFFSET
SCALE, OFFSET = 1 / 128, -127 / 128


class PhotoFolderError(ValueError):
    """A folder that cannot be turned into training data; the message says what to fix."""


@dataclass
class FolderReport:
    """What :func:`prepare_folder` found and wrote.

    ``counts[split][class]`` is the number of images written; ``skipped`` and ``left_out``
    hold ``(path relative to the source, reason)``; ``rewritten`` the files converted to PNG
    and why.
    """

    source: Path
    destination: Path
    class_names: list[str]
    counts: dict[str, dict[str, int]]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    rewritten: list[tuple[str, str]] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)

    def split_dir(self, split: str) -> Path:
        """The folder of one split, ready for ``image_dataset_from_directory``."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return self.destination / split

    def table(self) -> str:
        """Images per class and split, as aligned text."""
        width = max(len(c) for c in [*self.class_names, "class"])
        lines = [f"{'class':{width}s} " + " ".join(f"{s:>10s}" for s in SPLITS)]
        for name in self.class_names:
            lines.append(
                f"{name:{width}s} " + " ".join(f"{self.counts[s][name]:10d}" for s in SPLITS)
            )
        lines.append(
            f"{'total':{width}s} " + " ".join(f"{sum(self.counts[s].values()):10d}" for s in SPLITS)
        )
        return "\n".join(lines)


def upright_rgb(image: Image.Image) -> Image.Image:
    """A decoded Pillow image → upright RGB: EXIF orientation applied, transparency on white.

    The same rules as the web service's upload decoder. Taught in lesson 09.
    """
    from PIL import ImageOps

    from course_lib.serving.uploads import normalise_mode

    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block should not lose the picture itself
        upright = None
    return normalise_mode(upright if upright is not None else image).convert("RGB")


def read_photo(path: str | os.PathLike[str]) -> np.ndarray:
    """A photo file → uint8 RGB ``(h, w, 3)`` at its own size, decoded as the web service decodes
    an upload."""
    from course_lib import pretrained

    return pretrained.read_image(path)


def read_photo_bytes(data: bytes, name: str = "the photo") -> np.ndarray:
    """An encoded photo (a file's bytes, an upload) → uint8 RGB ``(h, w, 3)``, as
    :func:`read_photo` reads a file.

    Raises ``serving.uploads.UploadError`` naming ``name`` when the bytes cannot be decoded.
    """
    from course_lib.serving.uploads import decode_image

    return np.asarray(decode_image(data, name=name).convert("RGB"))


def _needs_rewrite(data: bytes) -> str | None:
    """Why TensorFlow's decoder would read this file differently from the service, or None."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        if image.format not in ("JPEG", "PNG"):
            return f"{image.format} file"
        if image.mode not in ("RGB", "L"):
            return {
                "P": "palette colours",
                "RGBA": "transparency",
                "LA": "transparency",
                "CMYK": "CMYK colours",
            }.get(image.mode, f"mode {image.mode}")
        if image.format == "PNG" and getattr(image, "n_frames", 1) > 1:
            return "animated PNG"
        orientation = image.getexif().get(0x0112, 1)  # EXIF Orientation
        if orientation not in (0, 1):
            return f"EXIF orientation {orientation} (stored sideways or flipped)"
    return None


def split_counts(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """How many of ``n`` files go to train, validation and test: at least one each, the rest by
    ``fractions``."""
    if n < len(SPLITS):
        raise ValueError(f"{n} files cannot fill {len(SPLITS)} splits")
    n_val = max(1, round(n * fractions[1]))
    n_test = max(1, round(n * fractions[2]))
    return n - n_val - n_test, n_val, n_test


def split_files(
    files: Sequence[str],
    labels: Sequence[int],
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
) -> tuple[list[str], list[str], list[str]]:
    """Stratified train/validation/test lists of ``files``: every class in every split, seeded.

    Each class's files are shuffled with ``seed`` and cut by :func:`split_counts`, so a class
    with three files still puts one in each split. Taught in lesson 09.
    """
    rng = np.random.default_rng(seed)
    files, labels = list(files), np.asarray(labels)
    out: tuple[list[str], list[str], list[str]] = ([], [], [])
    for label in sorted(set(labels.tolist())):
        members = [files[i] for i in np.flatnonzero(labels == label)]
        shuffled = [members[i] for i in rng.permutation(len(members))]
        _, n_val, n_test = split_counts(len(members), fractions)
        out[1].extend(shuffled[:n_val])
        out[2].extend(shuffled[n_val : n_val + n_test])
        out[0].extend(shuffled[n_val + n_test :])
    return out


def prepare_folder(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    max_pixels: int = 40_000_000,
    keep_jpeg: bool = False,
) -> FolderReport:
    """Check every file of ``source/<class>/...`` and write ``destination/<split>/<class>/`` copies.

    - a file that cannot be decoded (truncated, not an image, too many pixels) is skipped
      with a warning naming it: never a crash;
    - a PNG in RGB or gray is copied byte for byte;
    - anything else (palette, transparency, EXIF rotation, GIF, WebP, 16-bit...) is decoded
      as the web service decodes it and written as RGB PNG, so TensorFlow reads the pixels
      the service would see, and listed in ``report.rewritten`` with the reason;
    - so is every JPEG: TensorFlow's JPEG decoder uses a faster, less exact inverse DCT than
      Pillow's, and the same file decodes a few levels apart per pixel. Lossless PNG copies
      take 3 to 5 times the disk space of the JPEGs; ``keep_jpeg=True`` copies upright RGB
      or gray JPEGs as they are instead, and accepts that difference between training and
      serving;
    - a class folder with fewer than three usable images (one per split) is left out with a
      warning; ``fractions`` of each class go to train, validation and test.

    ``destination``'s split folders are replaced; nothing else in it is touched.
    """
    from course_lib.serving.uploads import UploadError, decode_image

    source, destination = Path(source), Path(destination)
    if not source.is_dir():
        raise PhotoFolderError(
            f"{source} is not a folder: give a folder with one subfolder per class"
        )
    if (
        destination.resolve() == source.resolve()
        or source.resolve() in destination.resolve().parents
    ):
        raise PhotoFolderError("write the prepared copy outside the source folder")
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise ValueError(
            f"fractions are train, validation, test shares adding up to 1, got {fractions}"
        )
    class_dirs = sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise PhotoFolderError(
            f"{source} has no subfolders: put each class's photos in a folder named after it"
        )
    report = FolderReport(source, destination, [], {s: {} for s in SPLITS})
    usable: dict[str, list[tuple[Path, bytes | None, str | None]]] = {}
    for class_dir in class_dirs:
        found = []
        for path in sorted(
            p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith(".")
        ):
            relative = path.relative_to(source).as_posix()
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                _skip(report, relative, f"not an image file ({path.suffix or 'no extension'})")
                continue
            data = path.read_bytes()
            try:
                # "it": the warning names the file before the reason
                decoded = decode_image(data, max_pixels, name="it")
            except UploadError as error:
                _skip(report, relative, error.message)
                continue
            reason = _needs_rewrite(data)
            convert = reason is not None or (not keep_jpeg and data[:3] == b"\xff\xd8\xff")  # JPEG
            found.append((path, _png_bytes(upright_rgb(decoded)) if convert else None, reason))
            if reason:
                report.rewritten.append((relative, reason))
        if len(found) < len(SPLITS):
            why = "is empty" if not found else f"has only {len(found)} usable image(s)"
            message = (
                f"class folder '{class_dir.name}' {why}: left out "
                "(each class needs at least 3, one per split)"
            )
            warnings.warn(message, stacklevel=2)
            report.left_out.append((class_dir.name, message))
            continue
        usable[class_dir.name] = found
    if len(usable) < 2:
        raise PhotoFolderError(
            f"{source} has {len(usable)} class(es) with at least 3 usable images; "
            "a classifier needs at least 2"
        )
    report.class_names = sorted(usable)
    for split in SPLITS:
        shutil.rmtree(destination / split, ignore_errors=True)
    keys = [f"{name}/{i}" for name in report.class_names for i in range(len(usable[name]))]
    labels = [k for k, name in enumerate(report.class_names) for _ in usable[name]]
    parts = split_files(keys, labels, fractions, seed)
    for split, part in zip(SPLITS, parts, strict=True):
        chosen = set(part)
        for name in report.class_names:
            folder = destination / split / name
            folder.mkdir(parents=True, exist_ok=True)
            picked = [item for i, item in enumerate(usable[name]) if f"{name}/{i}" in chosen]
            for path, png, _ in picked:
                _write(folder, path, png)
            report.counts[split][name] = len(picked)
    return report


def _skip(report: FolderReport, relative: str, reason: str) -> None:
    warnings.warn(f"skipped {relative}: {reason}", stacklevel=3)
    report.skipped.append((relative, reason))


def _png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _write(folder: Path, path: Path, png: bytes | None) -> None:
    name = path.name if png is None else f"{path.name}.png"
    target = folder / name
    if target.exists():  # same file name in two nested subfolders of one class
        target = folder / f"{path.parent.name}_{name}"
    if png is None:
        shutil.copyfile(path, target)
    else:
        target.write_bytes(png)


def build_images_in_model(
    backbone: keras.Model,
    head: keras.Model,
    image_size: int,
    scale: float = SCALE,
    offset: float = OFFSET,
    name: str = "photo_classifier",
) -> keras.Model:
    """uint8 photos of any size in, class probabilities out: resize and scaling inside the model.

    ``keras.Input((None, None, 3), dtype="uint8")``, then ``Resizing(image_size, image_size,
    crop_to_aspect_ratio=True)`` (a centred crop to a square, then bilinear: the crop and resize
    ``image_dataset_from_directory(..., crop_to_aspect_ratio=True)`` applies to training images,
    except that for uint8 input the layer rounds its result to uint8, at most half a level
    away), then ``Rescaling(scale, offset)``, the backbone (called with ``training=False``)
    and the head. Taught in lesson 09.
    """
    import keras

    inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
    x = keras.layers.Resizing(
        image_size, image_size, interpolation="bilinear", crop_to_aspect_ratio=True, name="resize"
    )(inputs)
    x = keras.layers.Rescaling(scale, offset=offset, name="scale")(x)
    x = backbone(x, training=False)
    return keras.Model(inputs, head(x), name=name)


def images_in_preprocessing(image_size: int) -> dict[str, Any]:
    """The preprocessing record of an images-in model, for the web service.

    ``in_model`` says the model resizes and scales by itself. A service that hands it the
    decoded photo at its own size gets exactly the Keras answer; one that resizes first
    (``height``, ``width``, ``center_crop``, ``resize``) should resize to the model's own size,
    where the model's resize changes nothing.
    """
    return {
        "height": int(image_size),
        "width": int(image_size),
        "color_mode": "rgb",
        "scale": 1.0,
        "offset": 0.0,
        "resize": "bilinear",
        "center_crop": True,
        "in_model": True,
    }


def save_photo_model(
    model: keras.Model, directory: str | os.PathLike[str], class_names: Sequence[str], **extra: Any
) -> Path:
    """Save an images-in model into ``directory`` (``model.keras`` + ``model.json``); returns the
    folder.

    One folder per saved model, so that versions can sit side by side as
    ``models/<name>/<version>/``; ``COURSE_SERVE_MODEL=<folder>`` serves it.
    """
    from course_lib import models

    directory = Path(directory)
    size = _image_size(model)
    models.save_model(
        model,
        directory / MODEL_FILE,
        class_names,
        images_in_preprocessing(size),
        images_in=True,
        **extra,
    )
    return directory


def load_photo_model(directory: str | os.PathLike[str]) -> tuple[keras.Model, dict[str, Any]]:
    """``(model, metadata)`` of a folder written by :func:`save_photo_model`."""
    from course_lib import models

    directory = Path(directory)
    if not (directory / MODEL_FILE).is_file():
        raise FileNotFoundError(
            f"no {MODEL_FILE} in {directory}: save the model with photos.save_photo_model"
        )
    return models.load_model(directory / MODEL_FILE)


def _image_size(model: keras.Model) -> int:
    try:
        layer = model.get_layer("resize")
    except ValueError:
        raise ValueError(
            f"{model.name} has no layer named 'resize': build it with build_images_in_model"
        ) from None
    return int(layer.get_config()["height"])


def predict_file(
    model: keras.Model, class_names: Sequence[str], path: str | os.PathLike[str], k: int = 3
) -> list[tuple[int, str, float]]:
    """The ``k`` most probable classes of the photo file at ``path``: ``(index, name,
    probability)``."""
    pixels = read_photo(path)
    probabilities = np.asarray(model(pixels[None], training=False))[0]
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [(int(i), class_names[i], float(probabilities[i])) for i in order]


def flowers_folder(cache: str | os.PathLike[str] | None = None) -> Path:
    """TensorFlow's flower photos (5 classes, 3,670 JPEGs) as a class folder, downloaded once.

    ``course download flowers`` calls it. The 218 MB archive is fetched into
    ``config.data_dir()/flowers`` (or ``cache``), checked against its SHA-256 and unpacked
    next to it; the folder it returns, ``.../flowers/flower_photos``, is a ``DATA_DIR`` for
    lesson 09. ``$COURSE_MIRROR/flowers/flower_photos.tgz`` is used instead when set.
    """
    from course_lib import config, downloads

    cache = Path(cache) if cache is not None else config.data_dir() / "flowers"
    return downloads.extract_image_folder(downloads.fetch_file("flowers", cache), cache)


# ------------------------------------------------------------------ the offline sample folder

SAMPLE_CLASSES = {
    "T-shirt/top": "tshirt",
    "Trouser": "trousers",
    "Sneaker": "sneaker",
    "Bag": "bag",
}
MESSY_KINDS = ("gray", "palette", "rgba", "exif")


def render_item(item: np.ndarray, background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One 28×28 Fashion-MNIST item, enlarged and tinted, laid over a crop of a colour photo.

    The canvas gets a random size and aspect ratio (96 to 320 pixels a side); the item fills
    45-80% of its shorter side, near the centre; its gray levels become its opacity.
    """
    from PIL import Image

    height, width = (int(v) for v in rng.integers(96, 321, size=2))
    bh, bw = background.shape[:2]
    crop = int(rng.integers(min(bh, bw) // 3, min(bh, bw) + 1))
    top, left = int(rng.integers(0, bh - crop + 1)), int(rng.integers(0, bw - crop + 1))
    canvas = Image.fromarray(background[top : top + crop, left : left + crop]).resize(
        (width, height), Image.Resampling.BILINEAR
    )
    side = int(min(height, width) * rng.uniform(0.45, 0.8))
    alpha = (
        np.asarray(Image.fromarray(item).resize((side, side), Image.Resampling.BICUBIC), np.float32)
        / 255
    )
    colour = rng.integers(0, 256, size=3).astype(np.float32)
    y = (height - side) // 2 + int(rng.integers(-(height - side) // 5, (height - side) // 5 + 1))
    x = (width - side) // 2 + int(rng.integers(-(width - side) // 5, (width - side) // 5 + 1))
    out = np.asarray(canvas, np.float32).copy()
    patch = out[y : y + side, x : x + side]
    a = alpha[..., None]
    # the item's own shading survives: darker folds stay darker in the tint
    out[y : y + side, x : x + side] = patch * (1 - a) + colour * (0.35 + 0.65 * a) * a
    return np.clip(out, 0, 255).round().astype(np.uint8)


def make_sample_folder(
    root: str | os.PathLike[str], per_class: int = 100, seed: int = 0, messy: bool = True
) -> Path:
    """Write the course's offline folder of colour photos, ``root/<class>/<n>.<ext>``; returns
    ``root``.

    Four classes of Fashion-MNIST's test split (t-shirts, trousers, sneakers, bags), each file
    a different item rendered by :func:`render_item` over a crop of one of scikit-image's colour
    photos. Files are JPEG (quality 70-95) or PNG; with ``messy``, the first four of each class
    are a gray PNG, a palette PNG, a PNG with a transparent band and a JPEG stored sideways with
    an EXIF orientation tag (``MESSY_KINDS``), ``bag/broken.jpg`` is truncated and an empty class
    folder ``hats`` waits to be filled: what a folder collected by hand looks like.
    """
    from PIL import Image

    from course_lib import data

    root = Path(root)
    fashion = data.load_fashion_mnist()
    backgrounds = list(data.sample_photos().values())
    rng = np.random.default_rng(seed)
    for folder in [*SAMPLE_CLASSES.values(), "hats"]:
        shutil.rmtree(root / folder, ignore_errors=True)
        (root / folder).mkdir(parents=True)
    for label, folder in SAMPLE_CLASSES.items():
        index = fashion.class_names.index(label)
        items = rng.choice(np.flatnonzero(fashion.y_test == index), size=per_class, replace=False)
        for n, i in enumerate(items):
            photo = render_item(
                fashion.x_test[i], backgrounds[int(rng.integers(len(backgrounds)))], rng
            )
            # with messy, each class's first four files are one of each odd kind; the rest are
            # what cameras and screenshots give, JPEG mostly and some PNG
            kind = (
                MESSY_KINDS[n]
                if messy and n < len(MESSY_KINDS)
                else str(rng.choice(["jpeg", "png"], p=[0.75, 0.25]))
            )
            _save_sample(Image.fromarray(photo), root / folder / f"{n:03d}", kind, rng)
    if messy:
        good = next((root / "bag").glob("*.jpg"))
        (root / "bag" / "broken.jpg").write_bytes(good.read_bytes()[:300])  # a download cut short
    return root


def _save_sample(image: Image.Image, stem: Path, kind: str, rng: np.random.Generator) -> None:
    from PIL import Image

    if kind == "jpeg":
        image.save(stem.with_suffix(".jpg"), quality=int(rng.integers(70, 96)))
    elif kind == "png":
        image.save(stem.with_suffix(".png"))
    elif kind == "gray":
        image.convert("L").save(stem.with_suffix(".png"))
    elif kind == "palette":
        image.quantize(64).save(stem.with_suffix(".png"))
    elif kind == "rgba":
        rgba = image.convert("RGBA")
        alpha = np.full((image.height, image.width), 255, np.uint8)
        alpha[: image.height // 8] = 0  # a transparent band at the top, shown on white
        rgba.putalpha(Image.fromarray(alpha))
        rgba.save(stem.with_suffix(".png"))
    else:  # a phone's photo: pixels stored turned, with the tag that turns them back
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90° clockwise to display"
        image.transpose(Image.Transpose.ROTATE_90).save(
            stem.with_suffix(".jpg"), quality=90, exif=exif
        )
