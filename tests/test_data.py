"""course_lib.data: offline-first loading, checksums, subsets and image folders.

Every test runs offline: tiny archives in the official formats are written to tmp_path and
served through file:// URLs; COURSE_DATA_DIR points at an empty temporary cache.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_lib import data, downloads

FASHION_FILES = {
    "train-images": ("train-images-idx3-ubyte.gz", "x_train"),
    "train-labels": ("train-labels-idx1-ubyte.gz", "y_train"),
    "t10k-images": ("t10k-images-idx3-ubyte.gz", "x_test"),
    "t10k-labels": ("t10k-labels-idx1-ubyte.gz", "y_test"),
}
REAL_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Full mode, an empty cache, and no Debian files unless a test puts some there."""
    monkeypatch.delenv("COURSE_FAST", raising=False)
    monkeypatch.delenv(downloads.MIRROR_ENV, raising=False)  # the tests choose their mirrors
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "debian")


def sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def serve(monkeypatch, name: str, mirror: Path, files: dict[str, str]) -> None:
    """Point dataset ``name`` at ``mirror`` (a folder, possibly missing) with these checksums."""
    src = dataclasses.replace(
        downloads.SOURCES[name], mirrors=(mirror.as_uri() + "/",), files=files
    )
    monkeypatch.setitem(downloads.SOURCES, name, src)


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def fashion(tmp_path, monkeypatch):
    """Tiny Fashion-MNIST (20 train, 10 test) as official IDX .gz files in tmp_path/mirror."""
    rng = np.random.default_rng(1)
    arrays = {
        "x_train": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "y_train": np.arange(20) % 10,
        "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "y_test": np.arange(10)[::-1],
    }
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    checksums = {}
    for fname, key in FASHION_FILES.values():
        payload = idx_bytes(arrays[key])
        (mirror / fname).write_bytes(gzip.compress(payload, mtime=0))
        checksums[fname] = sha256(payload)
    serve(monkeypatch, "fashion-mnist", mirror, checksums)
    return mirror, arrays


def assert_same(ds: data.ImageDataset, arrays: dict[str, np.ndarray]) -> None:
    for key, expected in arrays.items():
        got = getattr(ds, key)
        assert got.dtype == (np.uint8 if key.startswith("x") else np.int64), key
        np.testing.assert_array_equal(got, expected, err_msg=key)


def test_fashion_mnist_download_is_verified_parsed_exactly_and_cached(fashion, tmp_path):
    mirror, arrays = fashion
    ds = data.load_fashion_mnist()
    assert_same(ds, arrays)
    assert (
        ds.class_names[0] == "T-shirt/top" and ds.num_classes == 10 and ds.image_shape == (28, 28)
    )
    assert sorted(p.name for p in (tmp_path / "cache" / "fashion-mnist").iterdir()) == sorted(
        os.listdir(mirror)
    )


def test_fashion_mnist_cache_is_read_before_debian_dir(fashion, tmp_path, monkeypatch):
    mirror, arrays = fashion
    data.load_fashion_mnist()  # fills the cache
    debian = tmp_path / "debian"
    debian.mkdir()
    for f in mirror.iterdir():
        (debian / f.name).write_bytes(f.read_bytes())
    read = []
    original = downloads.read_verified
    monkeypatch.setattr(downloads, "read_verified", lambda p, *a: read.append(p) or original(p, *a))
    assert_same(data.load_fashion_mnist(), arrays)
    assert read and all(p.parent == tmp_path / "cache" / "fashion-mnist" for p in read)


def test_fashion_mnist_uses_recompressed_debian_files_when_cache_is_empty(fashion, tmp_path):
    mirror, arrays = fashion
    debian = tmp_path / "debian"
    debian.mkdir()
    for f in mirror.iterdir():
        # Different .gz bytes, same payload: the checksum covers the payload.
        (debian / f.name).write_bytes(gzip.compress(gzip.decompress(f.read_bytes()), 1, mtime=7))
        f.unlink()
    assert_same(data.load_fashion_mnist(), arrays)
    assert not (tmp_path / "cache" / "fashion-mnist").exists()


def test_fashion_mnist_subsets_are_kept_per_process_as_fresh_copies_of_the_files_read(
    fashion, tmp_path, monkeypatch
):
    mirror, arrays = fashion
    monkeypatch.setenv("COURSE_FAST", "1")  # a subset: kept for the next load
    data.load_fashion_mnist()  # downloads into the cache
    first = data.load_fashion_mnist()  # reads the cache
    assert_same(first, arrays)  # 2 training and 1 test image per class: fast mode keeps all
    first.x_train[:] = 0  # a caller's changes stay its own
    first.class_names.clear()
    parsed = []
    original = downloads.parse_idx
    monkeypatch.setattr(downloads, "parse_idx", lambda b: parsed.append(1) or original(b))
    monkeypatch.setattr(data, "parse_idx", downloads.parse_idx)
    second = data.load_fashion_mnist()
    assert_same(second, arrays)
    assert second.class_names[0] == "T-shirt/top" and not parsed  # nothing parsed again
    # Other bytes in the cache: read, checked and parsed again, as on a first load.
    cached = tmp_path / "cache" / "fashion-mnist" / "train-labels-idx1-ubyte.gz"
    cached.write_bytes(b"truncated")
    with pytest.warns(UserWarning, match="fetching it again"):
        assert_same(data.load_fashion_mnist(), arrays)
    assert parsed


def test_fashion_mnist_unavailable_everywhere_names_the_fixes(fashion, tmp_path, monkeypatch):
    serve(
        monkeypatch, "fashion-mnist", tmp_path / "nowhere", downloads.SOURCES["fashion-mnist"].files
    )
    with pytest.raises(data.DatasetUnavailableError) as info:
        data.load_fashion_mnist()
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert str(tmp_path / "cache" / "fashion-mnist") in message and "COURSE_DATA_DIR" in message
    assert isinstance(info.value, RuntimeError)


@pytest.fixture
def mnist(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    arrays = {
        "x_train": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "y_train": np.arange(20) % 10,
        "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "y_test": np.arange(10),
    }
    mirror = tmp_path / "mirror"
    mirror.mkdir(exist_ok=True)
    # Keras's file stores labels as uint8.
    np.savez(mirror / "mnist.npz", **{k: v.astype(np.uint8) for k, v in arrays.items()})
    serve(monkeypatch, "mnist", mirror, {"mnist.npz": sha256((mirror / "mnist.npz").read_bytes())})
    return mirror, arrays


def test_mnist_parses_exactly_and_second_load_uses_cache(mnist):
    mirror, arrays = mnist
    assert_same(data.load_mnist(), arrays)
    (mirror / "mnist.npz").unlink()
    ds = data.load_mnist()
    assert_same(ds, arrays)
    assert ds.class_names == [str(d) for d in range(10)]


def test_checksum_mismatch_raises_expected_vs_got_and_leaves_no_file(mnist, tmp_path, monkeypatch):
    mirror, _ = mnist
    actual = sha256((mirror / "mnist.npz").read_bytes())
    serve(monkeypatch, "mnist", mirror, {"mnist.npz": "0" * 64})
    with pytest.raises(data.DatasetUnavailableError, match=f"expected {'0' * 64}, got {actual}"):
        data.load_mnist()
    cache = tmp_path / "cache" / "mnist"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_gzip_download_with_wrong_payload_checksum_is_deleted(fashion, tmp_path, monkeypatch):
    mirror, _ = fashion
    files = dict(downloads.SOURCES["fashion-mnist"].files)
    real = files["t10k-labels-idx1-ubyte.gz"]
    files["t10k-labels-idx1-ubyte.gz"] = "f" * 64
    serve(monkeypatch, "fashion-mnist", mirror, files)
    with pytest.raises(data.DatasetUnavailableError, match=f"expected {'f' * 64}, got {real}"):
        data.load_fashion_mnist()
    cached = {p.name for p in (tmp_path / "cache" / "fashion-mnist").iterdir()}
    assert "t10k-labels-idx1-ubyte.gz" not in cached and not any(".part" in n for n in cached)


def test_corrupted_cache_file_is_replaced_by_a_fresh_download(mnist, tmp_path):
    _, arrays = mnist
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(b"truncated")
    with pytest.warns(UserWarning, match="fetching it again"):
        assert_same(data.load_mnist(), arrays)


def cifar_tar(batches: dict[str, dict]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, batch in batches.items():
            # Protocol 2 and numpy.core, as in the official files written by Python 2.
            blob = pickle.dumps(batch, protocol=2).replace(b"numpy._core.", b"numpy.core.")
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buf.getvalue()


def test_cifar10_batches_are_parsed_channel_last_with_class_names(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    labels = list(range(10)) + [0, 1]
    # The official layout: rows of 3072 bytes, all red, then green, then blue values.
    rows = images.transpose(0, 3, 1, 2).reshape(12, 3072)
    names = "airplane automobile bird cat deer dog frog horse ship truck".split()
    batches = {
        f"data_batch_{i + 1}": {
            b"data": rows[2 * i : 2 * i + 2],
            b"labels": labels[2 * i : 2 * i + 2],
        }
        for i in range(5)
    }
    batches["test_batch"] = {b"data": rows[10:], b"labels": labels[10:]}
    batches["batches.meta"] = {b"label_names": [n.encode() for n in names], b"num_vis": 3072}
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    payload = cifar_tar(batches)
    (mirror / "cifar-10-python.tar.gz").write_bytes(payload)
    serve(monkeypatch, "cifar10", mirror, {"cifar-10-python.tar.gz": sha256(payload)})
    ds = data.load_cifar10()
    expected = {"x_train": images[:10], "y_train": labels[:10]}
    assert_same(ds, expected | {"x_test": images[10:], "y_test": labels[10:]})
    assert ds.class_names == names and ds.image_shape == (32, 32, 3)


def test_cifar10_parser_refuses_pickles_that_name_other_globals():
    class Sneaky:
        def __reduce__(self):
            return (os.getcwd, ())

    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        downloads.parse_cifar10_tar(cifar_tar({"data_batch_1": {b"data": Sneaky()}}))


@pytest.mark.skipif(not REAL_DEBIAN_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_real_debian_fashion_mnist_is_complete_and_balanced(monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST_DIR", REAL_DEBIAN_DIR)
    ds = data.load_fashion_mnist()
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_test.shape == (10000, 28, 28)
    assert ds.x_train.dtype == np.uint8 and ds.class_names[0] == "T-shirt/top"
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10


def test_fast_mode_gives_the_same_class_balanced_subset_every_time(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    first, second = data.load_digits(), data.load_digits()
    assert np.bincount(first.y_train).tolist() == [data.FAST_TRAIN_PER_CLASS] * 10
    assert np.bincount(first.y_test).tolist() == [data.FAST_TEST_PER_CLASS] * 10
    np.testing.assert_array_equal(first.x_train, second.x_train)
    np.testing.assert_array_equal(first.y_test, second.y_test)


def test_explicit_subset_wins_over_fast_mode_and_keeps_a_few_test_images(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    ds = data.load_digits(subset=3)
    assert np.bincount(ds.y_train).tolist() == [3] * 10
    assert np.bincount(ds.y_test).tolist() == [data.MIN_TEST_PER_CLASS] * 10
    with pytest.raises(ValueError, match="subset=1000"):
        data.load_digits(subset=1000)


def test_balanced_subset_is_seeded_balanced_and_refuses_too_many():
    y = np.repeat(np.arange(3), [10, 20, 30])
    x = np.arange(60) * 10
    xs, ys = data.balanced_subset(x, y, per_class=4, seed=5)
    assert np.bincount(ys).tolist() == [4, 4, 4]
    np.testing.assert_array_equal(xs, x[np.isin(x, xs)])  # original order, x still matches y
    np.testing.assert_array_equal(ys, y[xs // 10])
    np.testing.assert_array_equal(xs, data.balanced_subset(x, y, 4, seed=5)[0])
    assert not np.array_equal(xs, data.balanced_subset(x, y, 4, seed=6)[0])
    with pytest.raises(ValueError, match="only 10"):
        data.balanced_subset(x, y, per_class=11)


def test_make_image_folder_writes_safe_class_folders_and_exact_pngs(tmp_path):
    rng = np.random.default_rng(4)
    gray = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    ds = data.ImageDataset(
        "t", gray, np.arange(30) % 10, gray[:10], np.arange(10), data.FASHION_MNIST_CLASSES
    )
    root = data.make_image_folder(ds, tmp_path / "imgs")
    expected = {"T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt"}
    assert {p.name for p in root.iterdir()} == expected | {"Sneaker", "Bag", "Ankle boot"}
    assert all(len(list(d.iterdir())) == 3 for d in root.iterdir())
    np.testing.assert_array_equal(np.asarray(Image.open(root / "Trouser" / "11.png")), gray[11])
    # Running again with fewer images replaces the old files instead of adding to them.
    data.make_image_folder(ds, root, per_class=1)
    assert sum(1 for _ in root.rglob("*.png")) == 10


def test_make_image_folder_round_trips_colour_test_split(tmp_path):
    rgb = np.random.default_rng(5).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    ds = data.ImageDataset(
        "c", rgb, np.array([0, 1, 0, 1]), rgb, np.array([1, 1, 0, 0]), ["cat", "dog"]
    )
    root = data.make_image_folder(ds, str(tmp_path / "c"), split="test")
    assert sorted(p.name for p in (root / "dog").iterdir()) == ["0.png", "1.png"]
    np.testing.assert_array_equal(np.asarray(Image.open(root / "cat" / "3.png")), rgb[3])


def test_sample_photos_are_offline_rgb_uint8():
    photos = data.sample_photos()
    assert {"cat", "coffee", "astronaut", "rocket"} <= set(photos) and 4 <= len(photos) <= 6
    for name, img in photos.items():
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, name


def test_load_digits_uses_full_uint8_range_with_stratified_split():
    ds = data.load_digits()
    assert ds.x_train.shape[1:] == (8, 8) and len(ds.x_train) + len(ds.x_test) == 1797
    assert ds.x_train.dtype == np.uint8 and ds.x_train.min() == 0 and ds.x_train.max() == 255
    assert ds.num_classes == 10 and set(ds.y_test.tolist()) == set(range(10))
    assert np.bincount(ds.y_test).min() >= 40


# ---- COURSE_MIRROR: a classroom or CI mirror of the dataset files ------------------------


def test_course_mirror_replaces_the_official_mirrors_with_a_folder_per_dataset(monkeypatch):
    monkeypatch.delenv(downloads.MIRROR_ENV, raising=False)
    assert downloads.mirrors("mnist") == downloads.SOURCES["mnist"].mirrors
    monkeypatch.setenv(downloads.MIRROR_ENV, "http://127.0.0.1:8123/datasets/")
    assert downloads.mirrors("fashion-mnist") == ("http://127.0.0.1:8123/datasets/fashion-mnist/",)


def test_fashion_mnist_downloads_from_course_mirror_with_the_official_checksums(
    fashion, tmp_path, monkeypatch
):
    served, arrays = fashion
    # The official entry (mirrors on the internet) with this test's checksums; only the
    # variable points at the files.
    official = downloads.SOURCES["fashion-mnist"]
    monkeypatch.setitem(
        downloads.SOURCES,
        "fashion-mnist",
        dataclasses.replace(official, mirrors=("https://unreachable.invalid/",)),
    )
    mirror = tmp_path / "classroom"
    (mirror / "fashion-mnist").mkdir(parents=True)
    for f in served.iterdir():
        (mirror / "fashion-mnist" / f.name).write_bytes(f.read_bytes())
    monkeypatch.setenv(downloads.MIRROR_ENV, mirror.as_uri())
    assert_same(data.load_fashion_mnist(), arrays)
    assert len(list((tmp_path / "cache" / "fashion-mnist").iterdir())) == 4


def test_course_mirror_with_a_tampered_file_is_refused_and_the_message_names_it(
    fashion, tmp_path, monkeypatch
):
    served, _ = fashion
    mirror = tmp_path / "classroom"
    (mirror / "fashion-mnist").mkdir(parents=True)
    for f in served.iterdir():
        payload = gzip.decompress(f.read_bytes())
        if f.name.startswith("t10k-labels"):
            payload = payload[:-1] + bytes([(payload[-1] + 1) % 10])  # one label changed
        (mirror / "fashion-mnist" / f.name).write_bytes(gzip.compress(payload))
    monkeypatch.setenv(downloads.MIRROR_ENV, mirror.as_uri())
    with pytest.raises(data.DatasetUnavailableError) as err:
        data.load_fashion_mnist()
    assert "SHA-256 mismatch" in str(err.value) and downloads.MIRROR_ENV in str(err.value)
    assert not (tmp_path / "cache" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").exists()
