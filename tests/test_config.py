"""Where the course keeps its outputs, in a checkout and in a plain install."""

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


def test_a_path_in_the_course_folder_is_shown_relative_to_it_and_one_outside_as_given(tmp_path):
    from course_lib import config

    inside = config.project_root() / "build" / "models" / "fashion_cnn.keras"
    assert config.shown_path(inside) == "build/models/fashion_cnn.keras"
    assert config.shown_path(tmp_path / "x.keras") == str(tmp_path / "x.keras")
