"""Model versions as numbered folders: which one is served, promotion, rollback, and a record
that a reader never sees half-written."""

import json
import os

import pytest

from course_lib import versions


def make_versions(root, *numbers):
    """Numbered version folders holding a stand-in model.keras (versions never open it)."""
    for number in numbers:
        folder = root / str(number)
        folder.mkdir(parents=True)
        (folder / versions.MODEL_FILE).write_bytes(b"stand-in")
    return root


def test_list_versions_counts_only_numbered_folders_holding_a_model(tmp_path):
    root = make_versions(tmp_path / "m", 10, 2, 1)
    (root / "3").mkdir()  # no model.keras yet: half-written
    (root / "01").mkdir()  # another spelling of 1
    (root / "01" / versions.MODEL_FILE).write_bytes(b"x")
    (root / "latest").mkdir()
    (root / "0").mkdir()
    (root / "0" / versions.MODEL_FILE).write_bytes(b"x")
    assert versions.list_versions(root) == [1, 2, 10]  # numeric order, not text order
    assert versions.next_version(root) == 11
    assert versions.is_model_root(root)


def test_an_empty_or_missing_root_has_no_versions_and_next_is_one(tmp_path):
    assert versions.list_versions(tmp_path / "absent") == []
    assert not versions.is_model_root(tmp_path)
    assert versions.next_version(tmp_path) == 1
    assert versions.served_version(tmp_path) is None
    assert versions.serving_stamp(tmp_path) is None


def test_version_folder_rejects_what_is_not_a_positive_whole_number(tmp_path):
    assert versions.version_folder(tmp_path, 4) == tmp_path / "4"
    for bad in (0, -1, 1.0, "1", True):
        with pytest.raises(ValueError, match="positive whole number"):
            versions.version_folder(tmp_path, bad)


def test_without_a_record_the_highest_version_is_served(tmp_path):
    root = make_versions(tmp_path, 1, 2)
    assert versions.served_version(root) == 2


def test_promote_writes_the_record_and_served_version_follows_it(tmp_path):
    root = make_versions(tmp_path, 1)
    versions.promote(root, 1, reason="first")
    assert versions.served_version(root) == 1
    make_versions(root, 2, 3)
    assert versions.served_version(root) == 1  # the record, not the highest number
    versions.promote(root, 3, reason="promoted: holdout 0.81 vs 0.79")
    record = json.loads((root / versions.SERVING_FILE).read_text())
    assert record["version"] == 3
    assert record["history"] == [1, 3]
    assert record["reason"] == "promoted: holdout 0.81 vs 0.79"
    assert record["updated_at"].endswith("Z")
    assert versions.served_version(root) == 3


def test_promoting_a_missing_version_names_it_and_changes_nothing(tmp_path):
    root = make_versions(tmp_path, 1)
    versions.promote(root, 1)
    before = (root / versions.SERVING_FILE).read_text()
    with pytest.raises(ValueError, match=r"cannot promote version 7 .*saved versions: 1"):
        versions.promote(root, 7)
    assert (root / versions.SERVING_FILE).read_text() == before


def test_rollback_steps_back_along_the_history(tmp_path):
    root = tmp_path
    for version in (1, 2, 3):  # each version saved, then promoted, as retraining does
        make_versions(root, version)
        versions.promote(root, version)
    assert versions.rollback(root, reason="users complain") == 2
    assert versions.served_version(root) == 2
    record = json.loads((root / versions.SERVING_FILE).read_text())
    assert record["history"] == [1, 2]
    assert record["reason"] == "users complain"
    assert versions.rollback(root) == 1
    with pytest.raises(ValueError, match="no earlier served version"):
        versions.rollback(root)
    assert versions.served_version(root) == 1


def test_the_first_promotion_records_the_version_served_until_then(tmp_path):
    # without a record the highest version was being served: rolling back returns to it
    root = make_versions(tmp_path, 1, 2, 3)
    versions.promote(root, 1)
    assert json.loads((root / versions.SERVING_FILE).read_text())["history"] == [3, 1]
    assert versions.rollback(root) == 3


def test_rollback_without_any_record_is_a_clear_error(tmp_path):
    root = make_versions(tmp_path, 1, 2)
    with pytest.raises(ValueError, match="no earlier served version"):
        versions.rollback(root)
    assert not (root / versions.SERVING_FILE).exists()


def test_rollback_skips_a_version_whose_folder_was_deleted(tmp_path):
    root = make_versions(tmp_path, 1, 2, 3)
    for version in (1, 2, 3):
        versions.promote(root, version)
    (root / "2" / versions.MODEL_FILE).unlink()
    assert versions.rollback(root) == 1


def test_a_record_naming_a_deleted_version_falls_back_to_the_highest(tmp_path):
    root = make_versions(tmp_path, 1, 2, 3)
    versions.promote(root, 2)
    (root / "2" / versions.MODEL_FILE).unlink()
    assert versions.served_version(root) == 3


def test_a_damaged_record_does_not_stop_serving_but_promotion_says_what_is_wrong(tmp_path):
    root = make_versions(tmp_path, 1, 2)
    (root / versions.SERVING_FILE).write_text("{not json")
    assert versions.served_version(root) == 2
    with pytest.raises(ValueError, match="cannot be read as JSON"):
        versions.promote(root, 1)


def test_the_record_is_replaced_whole_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    root = make_versions(tmp_path, 1, 2)
    versions.promote(root, 1)
    before = (root / versions.SERVING_FILE).read_text()
    replaced = []
    real_replace = os.replace

    def failing_replace(source, destination):
        replaced.append((source, destination))
        # what is about to be moved in is complete, valid JSON
        assert json.loads(open(source).read())["version"] == 2
        raise OSError("disk full")

    monkeypatch.setattr(versions.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        versions.promote(root, 2)
    # a failed write leaves the old record untouched and no temporary file behind
    assert (root / versions.SERVING_FILE).read_text() == before
    assert sorted(p.name for p in root.iterdir()) == ["1", "2", versions.SERVING_FILE]
    assert replaced and os.path.dirname(replaced[0][0]) == str(
        root
    )  # same folder: os.replace is atomic
    monkeypatch.setattr(versions.os, "replace", real_replace)
    versions.promote(root, 2)
    assert versions.served_version(root) == 2


def test_serving_stamp_changes_when_the_served_version_changes(tmp_path):
    root = make_versions(tmp_path, 1, 2)
    versions.promote(root, 1)
    first = versions.serving_stamp(root)
    stat = (root / versions.SERVING_FILE).stat()
    # make the old stamp clearly older, whatever the file system's clock resolution
    os.utime(root / versions.SERVING_FILE, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10**9))
    first = versions.serving_stamp(root)
    versions.promote(root, 2)
    assert versions.serving_stamp(root) != first
