"""Shared test set-up: figures draw off-screen and never pile up between tests; each pytest
process has a build folder of its own; under pytest-xdist, what must run in order runs on
one worker and the longest work starts first."""

import os
import shutil
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere: no display in tests or CI

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    # Lessons and the grader save models and run outputs under config.build_dir(). Two
    # xdist workers running lessons at the same time must not write the same files, and a
    # test run must not overwrite the build/ of a course run; so each pytest process (each
    # worker) gets a folder of its own. Set before any test module imports course_lib
    # (course_lib.models reads it at import), and inherited by kernels and subprocesses.
    build = Path(tempfile.mkdtemp(prefix=f"course-build-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-"))
    config.stash[_BUILD_DIR] = build
    os.environ["COURSE_BUILD_DIR"] = str(build)


def pytest_unconfigure(config: pytest.Config) -> None:
    build = config.stash.get(_BUILD_DIR, None)
    if build is not None:
        shutil.rmtree(build, ignore_errors=True)


_BUILD_DIR = pytest.StashKey[Path]()


# --- Scheduling under pytest-xdist -----------------------------------------------------
# `make test` runs `pytest -n 2 --dist loadgroup --no-loadscope-reorder`: xdist hands each
# worker whole groups, in the order collected here. By default a test file is one group (as
# with --dist loadfile), so module fixtures are built once and a file's tests keep their
# order; a student notebook (nbval: one test per cell, all in one kernel) is one group.
# Tests that take minutes each and share nothing run as groups of their own, and lessons
# that hand a saved model on (lesson 04 saves it, later lessons load it from the build
# folder) run in lesson order in one group, as they do in a course run.

# Scheduled first, in this order (each the start of a node id): the longest groups, so
# that the two workers finish close together instead of one waiting on a late long test.
LONG_FIRST = (
    "tests/test_grading.py::test_the_grader_gives_every_solution_full_marks_and_no_finding",
    "tests/test_notebooks.py::test_solution_notebook_executes_and_passes_its_own_checks",
    "notebooks/",
    "tests/test_grading.py",
    "tests/test_colab.py",
    "tests/test_binder.py",
)
# Files whose tests are groups of their own: long, and independent of each other.
ONE_GROUP_PER_TEST = ("tests/test_grading.py", "tests/test_notebooks.py")
# A lesson whose notebook saves or loads lesson 04's model joins its kind's model chain.
_MODEL_CHAIN_MARKERS = ("fashion_model_path", "load_or_train_fashion_cnn")


def _uses_the_saved_model(lesson: str) -> bool:
    solution = ROOT / "solutions" / f"{lesson}.ipynb"
    text = solution.read_text(encoding="utf-8") if solution.is_file() else ""
    return any(marker in text for marker in _MODEL_CHAIN_MARKERS)


def _group(item: pytest.Item) -> str:
    path = item.nodeid.split("::", 1)[0]
    if path.startswith("notebooks/") and path.endswith(".ipynb"):  # nbval cells
        lesson = Path(path).stem
        return "notebooks-model-chain" if _uses_the_saved_model(lesson) else path
    callspec = getattr(item, "callspec", None)
    lesson_path = callspec.params.get("path") if callspec is not None else None
    if (item.nodeid.startswith(LONG_FIRST[1]) and isinstance(lesson_path, Path)
            and _uses_the_saved_model(lesson_path.stem)):
        return "solutions-model-chain"
    if path in ONE_GROUP_PER_TEST:
        return item.nodeid
    return path


def _rank(item: pytest.Item) -> int:
    return next((i for i, start in enumerate(LONG_FIRST) if item.nodeid.startswith(start)),
                len(LONG_FIRST))


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(_group(item)))
    items.sort(key=_rank)  # stable: within a rank, collection order (and so lesson order)


@pytest.fixture(autouse=True)
def _close_figures():
    plt.close("all")
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def trained_fashion():
    """A small CNN trained for one epoch on 10,000 Fashion-MNIST images (a few seconds)."""
    from lesson08_support import train_small_fashion_cnn

    return train_small_fashion_cnn()


@pytest.fixture(scope="session")
def fashion_export(trained_fashion, tmp_path_factory):
    """``trained_fashion`` exported as version 1 under a model base path."""
    from course_lib import export

    base = tmp_path_factory.mktemp("export") / "fashion_cnn"
    return export.export_for_serving(trained_fashion.model, base,
                                     metadata={"class_names": trained_fashion.class_names})
