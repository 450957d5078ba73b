"""A feedback round's photos: every photo is an upload or a holdout photo, never both; the counts
per class are the ones asked for; the same seed gives the same photos."""

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from course_lib import data, feedback_photos, photos


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_rendered_uploads_and_holdout_never_share_a_photo_and_have_their_counts(tmp_path):
    found = feedback_photos.render_new(tmp_path / "round", 3, 2, seed=5)
    classes = list(photos.SAMPLE_CLASSES.values())
    assert [c for _, c in found.uploads] == [c for c in classes for _ in range(3)]
    assert all(p.parent == tmp_path / "round" / "uploads" for p, _ in found.uploads)
    for path, _ in found.uploads:
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.mode == "RGB"
    assert found.holdout_dir == tmp_path / "round" / "holdout"
    assert {p.name: len(list(p.iterdir())) for p in found.holdout_dir.iterdir()} == dict.fromkeys(
        classes, 2
    )
    assert found.holdout_count() == 2 * len(classes)
    held = {digest(p) for p in found.holdout_dir.rglob("*.png")}
    sent = {digest(p) for p, _ in found.uploads}
    assert len(held) == 2 * len(classes) and len(sent) == 3 * len(classes)
    assert not held & sent


def test_rendered_photos_are_the_same_for_a_seed_and_differ_for_another(tmp_path):
    def photo_bytes(folder: Path) -> dict[str, str]:
        return {str(p.relative_to(folder)): digest(p) for p in folder.rglob("*") if p.is_file()}

    first = feedback_photos.render_new(tmp_path / "a", 2, 1, seed=7)
    again = feedback_photos.render_new(tmp_path / "b", 2, 1, seed=7)
    other = feedback_photos.render_new(tmp_path / "c", 2, 1, seed=8)
    a, b, c = (photo_bytes(tmp_path / name) for name in "abc")
    assert a == b and [k for _, k in first.uploads] == [k for _, k in again.uploads]
    assert set(a.values()).isdisjoint(c.values())
    assert other.holdout_count() == first.holdout_count()


def test_rendered_photos_never_draw_an_excluded_item(tmp_path, monkeypatch):
    # three items per class, one of them excluded: the two others are the only ones to draw
    labels = np.repeat([data.FASHION_MNIST_CLASSES.index(k) for k in photos.SAMPLE_CLASSES], 3)
    items = np.arange(len(labels), dtype=np.uint8)[:, None, None] * np.ones((28, 28), np.uint8)
    fake = data.ImageDataset(
        "fake", items, labels, items[:0], labels[:0], list(data.FASHION_MNIST_CLASSES)
    )
    monkeypatch.setattr(data, "load_fashion_mnist", lambda: fake)
    drawn = []
    render = photos.render_item

    def recording_render(item, background, rng):
        drawn.append(int(item[0, 0]))
        return render(item, background, rng)

    monkeypatch.setattr(photos, "render_item", recording_render)
    excluded = [0, 4, 8, 9]  # one of each class
    feedback_photos.render_new(tmp_path / "round", 1, 1, seed=0, exclude=excluded)
    assert sorted(drawn) == [1, 2, 3, 5, 6, 7, 10, 11]


def test_validation_split_gives_each_photo_to_one_side_half_each(tmp_path):
    source = tmp_path / "validation"
    files, labels = [], []
    for k, (name, count) in enumerate([("cats", 5), ("dogs", 4), ("owls", 0)]):
        (source / name).mkdir(parents=True)
        for n in range(count):
            path = source / name / f"{n}.png"
            Image.new("RGB", (8, 8), (k * 80, n * 40, 0)).save(path)
            files.append(str(path))
            labels.append(k)
    stale = tmp_path / "round" / "holdout" / "cats" / "from_an_earlier_run.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")

    found = feedback_photos.split_validation(
        tmp_path / "round", files, np.array(labels), ["cats", "dogs", "owls"], seed=3
    )
    assert [c for _, c in found.uploads] == ["cats"] * 3 + ["dogs"] * 2
    assert all(str(p) in files and p.parent.name == c for p, c in found.uploads)
    held = sorted(found.holdout_dir.rglob("*.png"))
    assert not stale.exists() and len(held) == 4 == found.holdout_count()
    assert {p.parent.name for p in held} == {"cats", "dogs"}
    # each validation photo went to one side: the uploads where they are, the rest copied
    sides = [p for p, _ in found.uploads] + [source / p.parent.name / p.name for p in held]
    assert sorted(map(str, sides)) == sorted(files)
    assert all(p.read_bytes() == (source / p.parent.name / p.name).read_bytes() for p in held)
    again = feedback_photos.split_validation(
        tmp_path / "again", files, labels, ["cats", "dogs", "owls"], seed=3
    )
    assert again.uploads == found.uploads
