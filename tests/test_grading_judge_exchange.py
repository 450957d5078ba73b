"""The judge reaches the exchange folder through no link, whatever the kernel does to it.

The kernel owns its working folder and every folder of the exchange in it but those the
judge makes, so it can rename them or put links in their place at any moment. The judge runs
as another user (root, in grading as root), outside the kernel's view of the filesystem: a
link it followed would let a notebook make it create, or read, files anywhere on the host.
"""

import os

import numpy as np
import pytest

from course_lib.tools.grading import exchange, judge, kernel_call, kernel_encode, kernel_files

CHECK_1_2 = "checks.exercise_1_2(centre_crop)"


def _centre_crop(image, height, width):  # right: the check goes on to its next call
    rows, cols = image.shape[:2]
    if height > rows or width > cols:
        raise ValueError("crop larger than the image")
    top, left = (rows - height) // 2, (cols - width) // 2
    return image[top : top + height, left : left + width]


def _answered_once(tmp_path):
    """Exercise 1.2 as grading lays it out in the kernel's working folder, answered up to its
    first call: the request the judge gets next, and the exercise's folder."""
    root = tmp_path / "work"
    folder = root / ".course-grader" / "1.2"
    namespace = {"centre_crop": _centre_crop}
    kernel_encode.export_values(
        {"names": ["centre_crop"], "dir": str(folder / "values")}, namespace
    )
    request = {
        "expression": CHECK_1_2,
        "root": str(root),
        "values": str(folder / "values"),
        "calls": [],
        "salt": 3,
        "next": str(folder / "call0"),
    }
    need = judge.handle(request)
    assert need["status"] == "need", need
    call = {"name": need["name"], "request": need["request"], "out": str(folder / "out0")}
    kernel_call.call_answer(call | {"watch": need["watch"]}, namespace)
    return request | {"calls": [call], "next": str(folder / "call1")}, folder


def _elsewhere(tmp_path):
    """A folder outside the kernel's working folder: the host's, which the kernel cannot see."""
    outside = tmp_path / "host"
    outside.mkdir()
    return outside


def _everything_in(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_the_judge_goes_on_when_nothing_was_changed(tmp_path):
    request, folder = _answered_once(tmp_path)
    reply = judge.handle(request)
    assert reply["status"] == "need" and (folder / "call1" / "call.json").is_file(), reply


LEVELS = [".course-grader", ".course-grader/1.2", "values", "out0", "call0"]


@pytest.mark.parametrize("level", LEVELS)
def test_a_folder_of_the_exchange_swapped_for_a_link_is_never_followed(tmp_path, level):
    request, folder = _answered_once(tmp_path)
    outside = _elsewhere(tmp_path)
    real = tmp_path / "work" / level if level.startswith(".") else folder / level
    # Moved out of the kernel's folder (in grading: a copy there) and linked back: followed,
    # it would give the judge the same files, and the judge would go on to its next call.
    os.replace(real, outside / "moved")
    os.symlink(outside / "moved", real)
    before = _everything_in(outside)
    reply = judge.handle(request)
    assert reply["status"] == "error" and "could not be read" in reply["message"], reply
    assert _everything_in(outside) == before


@pytest.mark.parametrize(("where", "name"), [("values", "values.json"), ("out0", "v1.npy")])
def test_an_export_file_swapped_for_a_link_is_never_read(tmp_path, where, name):
    request, folder = _answered_once(tmp_path)
    outside = _elsewhere(tmp_path)
    os.replace(folder / where / name, outside / name)
    os.symlink(outside / name, folder / where / name)
    reply = judge.handle(request)
    # Read through the link, the same file would let the check go on to its next call.
    assert reply["status"] in ("failed", "error"), reply
    assert not (folder / "call1").exists() or not any((folder / "call1").iterdir())


def test_an_answer_file_that_cannot_be_read_ends_the_round_and_is_not_taken_for_a_raise(
    tmp_path,
):
    request, folder = _answered_once(tmp_path)
    (folder / "out0" / "v1.npy").write_bytes(b"not an array")
    reply = judge.handle(request)
    # Taken for the student's function raising, the check would go on to other calls.
    assert reply["status"] == "error" and "could not be read" in reply["message"], reply
    assert not (folder / "call1").exists()


def test_a_link_planted_where_the_judge_makes_its_request_folder_is_not_written_through(
    tmp_path,
):
    request, folder = _answered_once(tmp_path)
    outside = _elsewhere(tmp_path)
    os.symlink(outside, folder / "call1")
    reply = judge.handle(request)
    assert reply["status"] == "error", reply
    assert _everything_in(outside) == []


def _swapping_after(real_mkdir, outside, moved_to):
    """``os.mkdir`` that, once the judge made a folder, moves it aside and puts a link to
    ``outside`` in its place, as a kernel's process racing the judge would."""

    def mkdir(path, mode=0o777, *, dir_fd=None):
        real_mkdir(path, mode, dir_fd=dir_fd)
        os.rename(path, moved_to, src_dir_fd=dir_fd)
        os.symlink(outside, path, dir_fd=dir_fd)

    return mkdir


def test_a_request_folder_swapped_for_a_link_as_it_is_made_gets_no_file_outside(
    tmp_path, monkeypatch
):
    request, _ = _answered_once(tmp_path)
    outside = _elsewhere(tmp_path)
    monkeypatch.setattr(
        os, "mkdir", _swapping_after(os.mkdir, outside, str(tmp_path / "work" / "aside"))
    )
    reply = judge.handle(request)
    assert reply["status"] == "error" and "could not be read" in reply["message"], reply
    assert _everything_in(outside) == []


def test_a_request_folder_moved_once_made_still_gets_the_request_not_the_link(
    tmp_path, monkeypatch
):
    """The folder is swapped for a link after the judge opened it (an atomic exchange of the
    two, in grading): the judge writes through the descriptor it holds, into its own folder,
    wherever the kernel moved it."""
    request, folder = _answered_once(tmp_path)
    outside = _elsewhere(tmp_path)
    make = exchange.Folders.make

    def made_then_swapped(self, path):
        fd = make(self, path)
        os.replace(path, folder / "aside")
        os.symlink(outside, path)
        return fd

    monkeypatch.setattr(exchange.Folders, "make", made_then_swapped)
    reply = judge.handle(request)
    assert reply["status"] == "need", reply
    assert _everything_in(outside) == []
    assert (folder / "aside" / "call.json").is_file() and (folder / "aside" / "v1.npy").is_file()


def test_folders_are_opened_only_inside_the_working_folder_and_closed_with_the_request(
    tmp_path,
):
    (tmp_path / "a" / "b").mkdir(parents=True)
    with exchange.Folders(str(tmp_path)) as folders:
        fd = folders.open(str(tmp_path / "a" / "b"))
        with pytest.raises(ValueError, match="not inside"):
            folders.open(str(tmp_path.parent))
        made = folders.make(str(tmp_path / "a" / "c"))
        with kernel_files.create_file(*kernel_files.place(made, "x.npy")) as handle:
            np.save(handle, np.arange(3), allow_pickle=False)
    assert np.array_equal(np.load(tmp_path / "a" / "c" / "x.npy"), np.arange(3))
    with pytest.raises(OSError):
        os.fstat(fd)
    with pytest.raises(ValueError, match="not a file name"):
        kernel_files.place(made, "../x.npy")
