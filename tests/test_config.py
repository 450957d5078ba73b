"""Where the course keeps its outputs, in a checkout and in a plain install."""

from pathlib import Path

from course_lib import config


def test_build_dir_is_inside_the_course_folder_in_a_checkout(monkeypatch):
    monkeypatch.delenv("COURSE_BUILD_DIR", raising=False)
    assert config.is_checkout()
    assert config.build_dir() == config.project_root() / "build"


def test_build_dir_follows_the_working_directory_when_installed_without_the_course(
    monkeypatch, tmp_path
):
    # As on Colab: the package sits in site-packages, with no course folder around it.
    site_packages = tmp_path / "site-packages"
    (site_packages / "course_lib").mkdir(parents=True)
    monkeypatch.setattr(config, "project_root", lambda: site_packages)
    monkeypatch.delenv("COURSE_BUILD_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert not config.is_checkout()
    assert config.build_dir() == tmp_path / "build"


def test_course_build_dir_overrides_both(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "elsewhere"))
    assert config.build_dir() == tmp_path / "elsewhere"


def test_fast_mode_is_read_on_every_call(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "yes")
    assert config.is_fast() and config.pick(full=10, fast=1) == 1
    monkeypatch.setenv("COURSE_FAST", "0")
    assert not config.is_fast() and config.pick(full=10, fast=1) == 10


# Printed paths: what a lesson shows never names the folders of the machine it ran on.


def test_a_path_in_the_course_folder_is_shown_relative_to_it(monkeypatch):
    # Also when COURSE_BUILD_DIR points inside the course folder, as in test runs.
    monkeypatch.setenv("COURSE_BUILD_DIR", str(config.project_root() / "build" / "pytest-x"))
    inside = config.project_root() / "build" / "pytest-x" / "models" / "fashion_cnn.keras"
    assert config.shown_path(inside) == "build/pytest-x/models/fashion_cnn.keras"
    assert config.shown_path(config.project_root()) == "."


def test_a_path_in_a_build_folder_elsewhere_is_shown_from_course_build_dir(monkeypatch, tmp_path):
    # As the grader runs lessons: a private build folder under /tmp, here inside HOME too.
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "grading-xyz"))
    model = tmp_path / "grading-xyz" / "models" / "fashion_cnn.keras"
    assert config.shown_path(model) == "$COURSE_BUILD_DIR/models/fashion_cnn.keras"


def test_a_path_in_the_installed_package_is_shown_from_course_lib(monkeypatch, tmp_path):
    # As on Colab: the package in site-packages, the lesson run from another folder.
    monkeypatch.setattr(config, "project_root", lambda: tmp_path / "site-packages")
    monkeypatch.delenv("COURSE_BUILD_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert not config.is_checkout()
    package_file = Path(config.__file__).parent / "data.py"
    assert config.shown_path(package_file) == "course_lib/data.py"


def test_a_path_in_the_home_folder_is_shown_from_tilde(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("COURSE_BUILD_DIR", raising=False)
    cache = tmp_path / ".cache" / "course_lib" / "fashion-mnist.npz"
    assert config.shown_path(cache) == "~/.cache/course_lib/fashion-mnist.npz"
    assert config.shown_path(tmp_path) == "~"


def test_a_relative_path_elsewhere_is_shown_as_given(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COURSE_BUILD_DIR", raising=False)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert config.shown_path("../photos/cat.jpg") == "../photos/cat.jpg"


def test_an_absolute_path_elsewhere_is_shown_by_its_file_name(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "build"))
    assert config.shown_path(tmp_path / "photos" / "x.keras") == "x.keras"


def test_a_home_folder_at_the_root_does_not_turn_every_path_into_a_home_path(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", "/")
    monkeypatch.delenv("COURSE_BUILD_DIR", raising=False)
    assert config.shown_path(tmp_path / "photos" / "x.keras") == "x.keras"
