"""Course-wide settings read from the environment.

``COURSE_FAST=1`` switches every lesson to a quick run (tiny seeded subsets,
one or two epochs) so that CI can execute all notebooks in minutes; without it
lessons run in full, as students should see them. ``COURSE_DATA_DIR`` moves the
dataset cache and ``COURSE_BUILD_DIR`` the folder of saved models and run outputs.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import TypeVar

T = TypeVar("T")

KERNEL_NAME = "image-course"
KERNEL_DISPLAY_NAME = "Python 3 (image classification course)"

_TRUE = {"1", "true", "yes", "on"}


def is_fast() -> bool:
    """True when ``COURSE_FAST`` is set to 1/true/yes/on (read on every call)."""
    return os.environ.get("COURSE_FAST", "").strip().lower() in _TRUE


def pick(full: T, fast: T) -> T:
    """Return ``fast`` in fast mode and ``full`` otherwise.

    Used in a lesson's set-up cell, e.g. ``EPOCHS = config.pick(full=EPOCHS, fast=1)``.
    """
    return fast if is_fast() else full


def data_dir() -> Path:
    """The dataset cache: ``$COURSE_DATA_DIR`` or ``~/.cache/course_lib``."""
    env = os.environ.get("COURSE_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "course_lib"


def project_root() -> Path:
    """The course checkout (the folder that holds ``course_lib/``)."""
    return Path(__file__).resolve().parent.parent


def shown_path(path: str | Path) -> str:
    """``path`` as a lesson prints it, never naming the folders of the machine it ran on
    (a reader's machine has others, and an output should not tell where the course sat):

    - in the course folder (for an installed package, the working folder): relative to it,
      ``build/models/fashion_cnn.keras``;
    - in a build folder that ``COURSE_BUILD_DIR`` puts elsewhere (the grader's, a teacher's):
      ``$COURSE_BUILD_DIR/models/fashion_cnn.keras``, which a shell expands where it runs;
    - in the installed package itself (site-packages on Colab): ``course_lib/<path in it>``;
    - in the home folder: ``~/<path in it>``, which a shell also expands;
    - elsewhere: a relative path as given, an absolute one by its file name only.

    The first of these folders that holds ``path`` decides: a build folder inside the home
    folder shows as ``$COURSE_BUILD_DIR/...``. A folder that is the file system's root (a
    container's home at ``/``) holds nothing here.
    """
    given = Path(path)
    full = given.expanduser().resolve()
    places = [("", project_root() if is_checkout() else Path.cwd())]
    if os.environ.get("COURSE_BUILD_DIR"):
        places.append(("$COURSE_BUILD_DIR", build_dir()))
    places += [("course_lib", Path(__file__).parent), ("~", Path.home())]
    for prefix, folder in places:
        folder = folder.resolve()
        if folder.parent == folder:  # a home or working folder at "/" would show every path
            continue
        if full.is_relative_to(folder):
            return PurePosixPath(prefix, full.relative_to(folder).as_posix()).as_posix()
    return given.name if given.is_absolute() else given.as_posix()


def is_checkout() -> bool:
    """True when the package runs from a copy of the course (``pip install -e .``)."""
    root = project_root()
    return (root / "pyproject.toml").is_file() and (root / "solutions").is_dir()


def build_dir() -> Path:
    """Where executed notebooks, saved models and reports go.

    ``$COURSE_BUILD_DIR`` if set; else ``build/`` in the course folder; else, when the
    package is installed without the course folder (as on Colab), ``build/`` in the current
    directory, never beside the installed package.
    """
    env = os.environ.get("COURSE_BUILD_DIR")
    if env:
        return Path(env).expanduser()
    return (project_root() if is_checkout() else Path.cwd()) / "build"
