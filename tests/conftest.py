"""Shared test set-up: figures draw off-screen and never pile up between tests; each pytest
process has a build folder of its own; each test file starts without TensorFlow's global
seed; under pytest-xdist, what must run in order runs on one worker and the longest work
starts first."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere: no display in tests or CI

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
_BUILD_DIR = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    # Lessons and the grader save models and run outputs under config.build_dir(). Two
    # xdist workers running lessons at the same time must not write the same files, and a
    # test run must not overwrite what a course run left in build/; so each pytest process
    # (each worker) gets a folder of its own, inside build/ since lessons show their paths
    # relative to the course folder. Set before any test module imports course_lib
    # (course_lib.models reads it at import), and inherited by kernels and subprocesses.
    (ROOT / "build").mkdir(exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    build = Path(tempfile.mkdtemp(prefix=f"pytest-{worker}-", dir=ROOT / "build"))
    config.stash[_BUILD_DIR] = build
    os.environ["COURSE_BUILD_DIR"] = str(build)


def pytest_unconfigure(config: pytest.Config) -> None:
    build = config.stash.get(_BUILD_DIR, None)
    if build is not None:
        shutil.rmtree(build, ignore_errors=True)


# --- Scheduling under pytest-xdist -----------------------------------------------------
# `make test` runs `pytest -n 2`. xdist hands each worker whole groups of tests, in the
# order collected. By default a test file is one group (as with --dist loadfile), so module
# fixtures are built once and a file's tests keep their order; a student notebook (nbval:
# one test per cell, all in one kernel) is one group. Tests that take minutes each and share
# nothing are groups of their own, and the lessons that hand a saved model on (lesson 04
# saves it in the build folder, later lessons load it) run in lesson order in one group, as
# in a course run. The groups are made from node ids, by the scheduler below, because
# `xdist_group` marks are not applied under pytest 9 (xdist 3.8 renames `item._nodeid`,
# which pytest 9 no longer reads).

SOLUTION_RUNS = (
    "tests/test_notebooks.py::"
    "test_solution_notebook_executes_passes_its_own_checks_and_gets_full_marks"
)
# Files whose tests are groups of their own: long, and independent of each other.
ONE_GROUP_PER_TEST = ("tests/test_grading.py", "tests/test_notebooks.py")
# A lesson whose notebook saves or loads lesson 04's model joins its kind's model chain.
_MODEL_CHAIN_MARKERS = ("fashion_model_path", "load_or_train_fashion_cnn")
# The longest groups, with the seconds each took in the last measured run (a fresh clone
# at 30eaa29 on 2026-12-05, bench/bench_tests.py). They are handed out longest first, so
# that the two workers finish close together instead of one waiting on a late long group.
# Only the order matters; a group not listed (a short one) comes after, in collection
# order, and a new test file needs nothing here.
LONGEST_GROUPS = {
    "solutions-model-chain": 166,
    "notebooks-model-chain": 134,
    "tests/test_grading_two_phase.py": 110,
    "tests/test_grading_judge.py": 86,
    "tests/test_grading.py::test_course_grade_writes_exactly_the_expected_csv": 78,
    "tests/test_checks_fresh_cases.py": 70,
    "tests/test_checks_lesson02.py": 53,
    "tests/test_grading_driven_files.py": 48,
    "tests/test_checks_lesson08.py": 48,
    "tests/test_checks_junk.py": 48,
    f"{SOLUTION_RUNS}[09_your_own_photos]": 47,
    "notebooks/09_your_own_photos.ipynb": 45,
    f"{SOLUTION_RUNS}[06_transfer_learning]": 44,
    "tests/test_grading_driven_lesson08_step.py": 42,
    "tests/test_distributed.py": 39,
    "tests/test_colab.py": 37,
    "tests/test_same_answer_everywhere.py": 36,
    "tests/test_grading_watch.py": 32,
    "tests/test_grading_time_limit.py": 31,
    "tests/test_binder.py": 28,
    "tests/test_grading_driven_lesson02b.py": 28,
    "tests/test_grading_isolation.py": 27,
}


def _uses_the_saved_model(lesson: str) -> bool:
    solution = ROOT / "solutions" / f"{lesson}.ipynb"
    text = solution.read_text(encoding="utf-8") if solution.is_file() else ""
    return any(marker in text for marker in _MODEL_CHAIN_MARKERS)


def xdist_group_of(nodeid: str) -> str:
    """The xdist group of a test: tests of one group run on one worker, in collection order."""
    path = nodeid.split("::", 1)[0]
    if path.startswith("notebooks/") and path.endswith(".ipynb"):  # nbval: a notebook's cells
        return "notebooks-model-chain" if _uses_the_saved_model(Path(path).stem) else path
    if nodeid.startswith(SOLUTION_RUNS + "[") and _uses_the_saved_model(
        nodeid[len(SOLUTION_RUNS) + 1 : -1]
    ):
        return "solutions-model-chain"
    return nodeid if path in ONE_GROUP_PER_TEST else path


def _rank(item: pytest.Item) -> float:
    """Longest listed group first; groups not listed keep their collection order, after."""
    return -LONGEST_GROUPS.get(xdist_group_of(item.nodeid), 0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):  # a plain run keeps pytest's order
        items.sort(key=_rank)  # stable: within a rank, collection order (and so lesson order)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, absent with -p no:xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    from xdist.scheduler import LoadScopeScheduling

    if config.getvalue("dist") == "each":
        return None  # every test on every worker: nothing to group

    class LessonGroupScheduling(LoadScopeScheduling):
        """xdist's scope scheduling, with :func:`xdist_group_of` as the scope."""

        def _split_scope(self, nodeid: str) -> str:
            return xdist_group_of(nodeid)

        def _reschedule(self, node) -> None:
            # xdist gives a worker its next group once it has two tests or fewer left. A
            # worker starts a test as soon as it holds the one after it, so one left is
            # enough: a group handed out earlier waits behind two tests (two lessons, at
            # the end of a model chain) while the other worker may have nothing to do.
            if node.shutting_down:
                return
            if not self.workqueue:
                node.shutdown()
                return
            if self._pending_of(self.assigned_work[node]) <= 1:
                self._assign_work_unit(node)

    # Keep the order collected above (longest first) rather than the largest groups first.
    config.option.loadscopereorder = False
    return LessonGroupScheduling(config, log)


@pytest.fixture(scope="module", autouse=True)
def _tensorflow_s_global_seed_unset():
    """Each test file starts with TensorFlow's global seed unset, as when it runs alone.

    A seed set by a file run before it on the same worker (a test, a check, a lesson helper)
    would change every seeded shuffle and draw of this one, and which files run before it
    changes with the xdist groups. Within a file the seeds stay as its tests set them.
    """
    tensorflow = sys.modules.get("tensorflow")  # a file that never imported it needs nothing
    if tensorflow is not None:
        tensorflow.random.set_seed(None)


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
    return export.export_for_serving(
        trained_fashion.model, base, metadata={"class_names": trained_fashion.class_names}
    )


@pytest.fixture
def library_copies_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks accept the library's own copy of an exercise and their own code, which they
    refuse otherwise.

    For the tests that show the copy and the exercise's check agree, and for wrong answers
    built from the copy or from the check's own reckoning (the right maps, shifted by a pixel).
    """
    from course_lib.checks import _copies

    monkeypatch.setattr(_copies, "COPIES", ())
    monkeypatch.setattr(_copies, "WATCH_CHECKS", False)


@pytest.fixture(scope="module")
def check_8_4_reads_fashion_once():
    """Check 8.4 reads the course's Fashion-MNIST itself, verifying and parsing its files on
    every call (tests/test_data.py tests that loading): the checks of a test file that uses this
    share one copy per mode (fast or full) and data folder, each check getting the same arrays."""
    from course_lib import config
    from course_lib.checks import lesson08

    read = lesson08._course_fashion
    copies = {}

    def course_fashion():
        key = (config.is_fast(), str(config.data_dir()))
        if key not in copies:
            copies[key] = read()
        return copies[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lesson08, "_course_fashion", course_fashion)
        yield
