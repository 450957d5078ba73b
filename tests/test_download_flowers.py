"""`course download flowers`: the archive is fetched from a mirror, checked, cached and unpacked.

The tests write a small archive of the same layout (flower_photos/<class>/<photo>.jpg and a
LICENSE.txt) and serve it from a file:// mirror: nothing reaches the network.
"""

import dataclasses
import hashlib
import io
import tarfile

import numpy as np
import pytest
from PIL import Image

from course_lib import downloads, photos
from course_lib.tools import cli

CLASSES = ["daisy", "dandelion", "roses", "sunflowers", "tulips"]


def small_flowers_archive(path, per_class=3, extra=None):
    with tarfile.open(path, "w:gz") as tar:

        def add(name, payload):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))

        add("flower_photos/LICENSE.txt", b"each photo's author\n")
        rng = np.random.default_rng(0)
        for name in CLASSES:
            for i in range(per_class):
                out = io.BytesIO()
                Image.fromarray(rng.integers(0, 256, (24 + i, 32, 3), dtype=np.uint8)).save(
                    out, "JPEG"
                )
                add(f"flower_photos/{name}/{i}.jpg", out.getvalue())
        for name, payload in (extra or {}).items():
            add(name, payload)
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A file:// mirror holding flowers/flower_photos.tgz, and the course cache in tmp_path."""
    (tmp_path / "mirror" / "flowers").mkdir(parents=True)
    sha = small_flowers_archive(tmp_path / "mirror" / "flowers" / "flower_photos.tgz")
    monkeypatch.setenv(downloads.MIRROR_ENV, (tmp_path / "mirror").as_uri())
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    source = dataclasses.replace(downloads.SOURCES["flowers"], files={"flower_photos.tgz": sha})
    monkeypatch.setitem(downloads.SOURCES, "flowers", source)
    return tmp_path


def test_flowers_source_records_the_published_archive():
    source = downloads.SOURCES["flowers"]
    assert source.mirrors == (
        "https://storage.googleapis.com/download.tensorflow.org/example_images/",
    )
    assert source.files == {
        "flower_photos.tgz": "4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c"
    }


def test_course_download_flowers_fetches_checks_and_unpacks_a_class_folder(mirror, capsys):
    assert cli.main(["download", "flowers"]) == 0
    folder = mirror / "cache" / "flowers" / "flower_photos"
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == CLASSES
    assert "15 photos" in capsys.readouterr().out
    assert not [
        p for p in (mirror / "cache" / "flowers").iterdir() if p.name.startswith(".")
    ]  # no temp left
    report = photos.prepare_folder(folder, mirror / "prepared")
    assert report.class_names == CLASSES and sum(report.counts["test"].values()) == 5


def test_second_download_uses_the_cache_without_the_mirror(mirror, monkeypatch):
    first = photos.flowers_folder()
    monkeypatch.setenv(downloads.MIRROR_ENV, (mirror / "nowhere").as_uri())
    assert photos.flowers_folder() == first


def test_a_wrong_checksum_leaves_nothing_behind_and_names_the_fix(mirror, monkeypatch, capsys):
    bad = dataclasses.replace(downloads.SOURCES["flowers"], files={"flower_photos.tgz": "0" * 64})
    monkeypatch.setitem(downloads.SOURCES, "flowers", bad)
    assert cli.main(["download", "flowers"]) == 1
    err = capsys.readouterr().err
    assert "SHA-256 mismatch" in err and "could not be downloaded" in err
    assert (
        not list((mirror / "cache").rglob("*.tgz"))
        and not (mirror / "cache" / "flowers" / "flower_photos").exists()
    )


def test_a_corrupted_cached_archive_is_fetched_again(mirror):
    photos.flowers_folder()
    archive = mirror / "cache" / "flowers" / "flower_photos.tgz"
    archive.write_bytes(b"not the archive")
    with pytest.warns(UserWarning, match="SHA-256 mismatch"):
        assert downloads.fetch_file("flowers", archive.parent) == archive
    assert downloads.file_sha256(archive) == downloads.SOURCES["flowers"].files["flower_photos.tgz"]


def test_an_archive_that_climbs_out_of_its_folder_is_refused(tmp_path):
    archive = tmp_path / "evil.tgz"
    small_flowers_archive(archive, per_class=1, extra={"flower_photos/../../outside.txt": b"x"})
    with pytest.raises(tarfile.TarError):
        downloads.extract_image_folder(archive, tmp_path / "out")
    assert not (tmp_path / "outside.txt").exists()


def test_unknown_dataset_names_flowers_among_the_choices(capsys):
    assert cli.main(["download", "tulips"]) == 2
    assert "flowers" in capsys.readouterr().err
