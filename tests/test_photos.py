"""A messy folder of photos becomes clean split folders; an images-in model saves, loads and
predicts a file."""

import warnings

import keras
import numpy as np
import pytest
from PIL import Image

from course_lib import photos
from course_lib.serving.classifier import load_classifier


def picture(width, height, colour):
    """A photo-like RGB picture: a colour, a gradient, and a dark square at the top-left."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[...] = colour
    pixels[..., 2] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    pixels[: height // 4, : width // 4] = 0  # marks which way is up
    return Image.fromarray(pixels)


@pytest.fixture
def messy_folder(tmp_path):
    """Two classes in every format a hand-collected folder has, a broken file and an empty class."""
    root = tmp_path / "photos"
    for name, colour in [("cats", (200, 40, 40)), ("dogs", (40, 200, 40))]:
        (root / name).mkdir(parents=True)
        picture(120, 80, colour).save(root / name / "wide.jpg", quality=90)
        picture(64, 200, colour).save(root / name / "tall.png")
        picture(90, 90, colour).convert("L").save(root / name / "gray.png")
        picture(90, 90, colour).quantize(16).save(root / name / "palette.png")
        rgba = picture(90, 90, colour).convert("RGBA")
        rgba.putalpha(
            Image.fromarray(
                np.where(np.arange(90)[:, None] < 30, 0, 255).astype(np.uint8)
                * np.ones((1, 90), np.uint8)
            )
        )
        rgba.save(root / name / "transparent.png")
        exif = Image.Exif()
        exif[0x0112] = 6  # stored turned; displayed after rotating 90° clockwise
        picture(160, 100, colour).transpose(Image.Transpose.ROTATE_90).save(
            root / name / "phone.jpg", exif=exif
        )
    (root / "cats" / "broken.jpg").write_bytes((root / "cats" / "wide.jpg").read_bytes()[:200])
    (root / "dogs" / "notes.txt").write_text("not a photo")
    (root / "birds").mkdir()
    return root


def test_a_messy_folder_is_checked_cleaned_and_split(messy_folder, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = photos.prepare_folder(messy_folder, tmp_path / "prepared", seed=0)
    messages = [str(w.message) for w in caught]
    assert any("skipped cats/broken.jpg" in m and "truncated or corrupt" in m for m in messages), (
        messages
    )
    assert any("skipped dogs/notes.txt: not an image file (.txt)" in m for m in messages), messages
    assert any("class folder 'birds' is empty: left out" in m for m in messages), messages
    assert report.class_names == ["cats", "dogs"]
    assert {split: sum(c.values()) for split, c in report.counts.items()} == {
        "train": 8,
        "validation": 2,
        "test": 2,
    }
    reasons = dict(report.rewritten)
    assert (
        reasons["cats/palette.png"] == "palette colours"
        and reasons["cats/transparent.png"] == "transparency"
    )
    assert reasons["cats/phone.jpg"].startswith("EXIF orientation 6")
    assert (
        "cats/tall.png" not in reasons and "cats/gray.png" not in reasons
    )  # plain PNGs are copied as they are
    written = {p.name: p for p in (tmp_path / "prepared").rglob("*") if p.is_file()}
    assert (
        written["tall.png"].read_bytes() == (messy_folder / "cats" / "tall.png").read_bytes()
        or written["tall.png"].read_bytes() == (messy_folder / "dogs" / "tall.png").read_bytes()
    )
    with Image.open(next(p for p in (tmp_path / "prepared").rglob("phone.jpg.png"))) as phone:
        assert phone.size == (160, 100) and phone.mode == "RGB"  # upright: wider than tall again
        assert np.asarray(phone)[:10, :10].max() < 30  # the dark corner is back at the top-left
    with Image.open(next(p for p in (tmp_path / "prepared").rglob("transparent.png.png"))) as flat:
        assert flat.mode == "RGB" and np.asarray(flat)[5, 60].tolist() == [
            255,
            255,
            255,
        ]  # on white


def test_prepared_folders_load_with_keras_without_errors(messy_folder, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = photos.prepare_folder(messy_folder, tmp_path / "prepared", seed=0)
    total = 0
    for split in photos.SPLITS:
        ds = keras.utils.image_dataset_from_directory(
            report.split_dir(split),
            image_size=(32, 32),
            crop_to_aspect_ratio=True,
            class_names=report.class_names,
            shuffle=False,
            batch_size=4,
            verbose=False,
        )
        for x, _ in ds:
            assert x.shape[1:] == (32, 32, 3)
            total += len(x)
    assert total == 12


def test_jpegs_are_stored_lossless_unless_asked_to_keep_them(messy_folder, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lossless = photos.prepare_folder(messy_folder, tmp_path / "a", seed=0)
        kept = photos.prepare_folder(messy_folder, tmp_path / "b", seed=0, keep_jpeg=True)
    assert (
        not list(lossless.destination.rglob("wide.jpg"))
        and len(list(lossless.destination.rglob("wide.jpg.png"))) == 2
    )
    assert len(list(kept.destination.rglob("wide.jpg"))) == 2
    assert (
        len(list(kept.destination.rglob("phone.jpg.png"))) == 2
    )  # a rotated JPEG is rewritten either way


def test_odd_files_in_a_class_folder_are_skipped_with_a_reason_or_read_right(tmp_path):
    from course_lib.serving.uploads import header_only_png

    root = tmp_path / "photos"
    pages = [picture(40, 30, (200, 40, 40)), picture(40, 30, (40, 40, 200))]
    for name in ("cats", "dogs"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            picture(50, 40, (40, 200, 40)).save(root / name / f"{i}.jpg")
        (root / name / "empty.jpg").write_bytes(b"")
        (root / name / "drawing.png").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
        (root / name / "bomb.png").write_bytes(header_only_png(50_000, 50_000))
        dark = np.full((30, 40), 200, np.uint16)  # 200 of 65535: nearly black
        Image.fromarray(dark).save(root / name / "dark16.png")
        pages[0].save(root / name / "scan.tif", save_all=True, append_images=pages[1:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = photos.prepare_folder(root, tmp_path / "prepared", seed=0)
    skipped = dict(report.skipped)
    assert "empty (0 bytes)" in skipped["cats/empty.jpg"]
    assert "not an image in a format" in skipped["cats/drawing.png"]
    assert "more pixels than can be decoded safely" in skipped["cats/bomb.png"]
    assert sum(report.counts[s]["cats"] for s in photos.SPLITS) == 5
    with Image.open(next((tmp_path / "prepared").rglob("dark16.png.png"))) as dark:
        assert np.asarray(dark).max() <= 1  # as dark as the file, not 200 of 255
    with Image.open(next((tmp_path / "prepared").rglob("scan.tif.png"))) as scan:
        assert scan.size == (40, 30) and np.asarray(scan)[20, 0].tolist() == [200, 40, 0]


def test_folders_that_cannot_train_a_classifier_say_why(tmp_path):
    (tmp_path / "flat").mkdir()
    picture(10, 10, (1, 2, 3)).save(tmp_path / "flat" / "a.png")
    with pytest.raises(photos.PhotoFolderError, match="no subfolders"):
        photos.prepare_folder(tmp_path / "flat", tmp_path / "out")
    (tmp_path / "one" / "cats").mkdir(parents=True)
    for i in range(3):
        picture(10, 10, (1, 2, 3)).save(tmp_path / "one" / "cats" / f"{i}.png")
    with pytest.raises(photos.PhotoFolderError, match="a classifier needs at least 2"):
        photos.prepare_folder(tmp_path / "one", tmp_path / "out")
    with pytest.raises(photos.PhotoFolderError, match="outside the source"):
        photos.prepare_folder(tmp_path / "one", tmp_path / "one" / "prepared")
    with pytest.raises(photos.PhotoFolderError, match="is not a folder"):
        photos.prepare_folder(tmp_path / "missing", tmp_path / "out")


def test_split_files_puts_every_class_in_every_split_and_every_file_once():
    files = [f"f{i}" for i in range(23)]
    labels = [0] * 17 + [1] * 3 + [2] * 3
    train, val, test = photos.split_files(files, labels, (0.7, 0.15, 0.15), seed=1)
    assert sorted(train + val + test) == sorted(files)
    by_label = dict(zip(files, labels, strict=True))
    for part in (train, val, test):
        assert {by_label[f] for f in part} == {0, 1, 2}
    assert photos.split_files(files, labels, seed=1) == (train, val, test)
    assert photos.split_files(files, labels, seed=2) != (train, val, test)
    assert photos.split_counts(17, (0.7, 0.15, 0.15)) == (11, 3, 3)


def tiny_images_in_model(size=16, classes=3):
    backbone = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(4, 3),
            keras.layers.GlobalAveragePooling2D(),
        ],
        name="tiny_backbone",
    )
    head = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(classes, activation="softmax")], name="head"
    )
    return photos.build_images_in_model(backbone, head, size)


def test_images_in_model_takes_uint8_photos_of_any_size_and_crops_the_centre():
    keras.utils.set_random_seed(0)
    model = tiny_images_in_model()
    assert model.inputs[0].dtype == "uint8" and tuple(model.inputs[0].shape) == (
        None,
        None,
        None,
        3,
    )
    wide = np.random.default_rng(0).integers(0, 256, (40, 80, 3), dtype=np.uint8)
    centre = wide[:, 20:60]  # the square a centred crop keeps
    np.testing.assert_allclose(model(wide[None]), model(centre[None]), atol=1e-6)
    by_hand = (
        keras.ops.image.resize(centre[None].astype("float32"), (16, 16)) * photos.SCALE
        + photos.OFFSET
    )
    expected = model.layers[-1](model.get_layer("tiny_backbone")(by_hand))
    np.testing.assert_allclose(model(wide[None]), expected, atol=1e-5)


def test_a_saved_photo_model_loads_predicts_a_file_and_is_served(tmp_path):
    keras.utils.set_random_seed(0)
    model = tiny_images_in_model()
    folder = photos.save_photo_model(model, tmp_path / "models" / "shapes" / "3", ["a", "b", "c"])
    loaded, metadata = photos.load_photo_model(folder)
    assert (
        metadata["class_names"] == ["a", "b", "c"] and metadata["preprocessing"]["in_model"] is True
    )
    path = tmp_path / "photo.png"
    picture(50, 30, (10, 20, 30)).convert("P").save(path)  # a palette file: read as RGB
    top = photos.predict_file(loaded, metadata["class_names"], path, k=3)
    assert sorted(name for _, name, _ in top) == ["a", "b", "c"]
    assert [p for _, _, p in top] == sorted((p for _, _, p in top), reverse=True)
    assert abs(sum(p for _, _, p in top) - 1) < 1e-5
    direct = np.asarray(model(photos.read_photo(path)[None]))[0]
    assert top[0][0] == int(direct.argmax()) and abs(top[0][2] - direct.max()) < 1e-6
    classifier = load_classifier(str(folder))
    assert (classifier.name, classifier.version, classifier.class_names) == (
        "shapes",
        "3",
        ["a", "b", "c"],
    )
    with pytest.raises(FileNotFoundError, match="without model.keras"):
        load_classifier(str(tmp_path))


def test_sample_folder_has_four_classes_of_colour_photos_and_the_messy_cases(tmp_path):
    root = photos.make_sample_folder(tmp_path / "sample", per_class=12, seed=3)
    counts = {p.name: len(list(p.iterdir())) for p in root.iterdir()}
    assert counts == {"bag": 13, "sneaker": 12, "trousers": 12, "tshirt": 12, "hats": 0}
    sizes = set()
    for path in root.rglob("0*"):
        with Image.open(path) as image:
            sizes.add(image.size)
    assert len(sizes) > 30  # varied sizes and aspect ratios
    again = photos.make_sample_folder(tmp_path / "again", per_class=12, seed=3)
    assert (again / "bag" / "000.jpg").exists() == (root / "bag" / "000.jpg").exists()
    first = sorted(p.name for p in (root / "bag").iterdir())
    assert first == sorted(p.name for p in (again / "bag").iterdir())


def test_read_photo_bytes_reads_an_upload_as_read_photo_reads_the_file(messy_folder):
    from course_lib.serving.uploads import UploadError

    for path in sorted((messy_folder / "cats").iterdir()):
        if path.name == "broken.jpg":
            with pytest.raises(UploadError, match="broken.jpg"):
                photos.read_photo_bytes(path.read_bytes(), name="broken.jpg")
            continue
        from_bytes = photos.read_photo_bytes(path.read_bytes(), name=path.name)
        assert from_bytes.dtype == np.uint8 and from_bytes.shape[2] == 3
        np.testing.assert_array_equal(from_bytes, photos.read_photo(path))
