"""Course-wide settings read from the environment.

``COURSE_FAST=1`` switches every lesson to a quick run (tiny seeded subsets,
one or two epochs) so that CI can execute all notebooks in minutes; without it
lessons run in full, as students should see them. ``COURSE_DATA_DIR`` moves the
dataset cache and ``COURSE_BUILD_DIR`` the folder of saved models and run outputs.
"""

from __future__ import annotations

import os
from pathlib import Path
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
    """``path`` as a lesson prints it: relative to the course folder (or, for an installed
    package, the working folder) when it lies inside it, so that no output names the folders
    of the machine it ran on."""
    path = Path(path)
    base = project_root() if is_checkout() else Path.cwd()
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)


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
