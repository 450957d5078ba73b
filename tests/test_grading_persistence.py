"""Nothing a graded notebook leaves in its home or build folder reaches the notebooks after it.

One run grades a notebook that plants an IPython start-up file, a keras.json and a file among
the course's saved models, then an untouched notebook: the second kernel runs none of it,
has a home and a build folder of its own, and the course's build folder is as it was.
"""

import json
import os
import textwrap
from pathlib import Path

import nbformat
import pytest
from grading_support import (
    student_notebook,
    unrendered_plots,  # noqa: F401 - used by name below
)

from course_lib import config
from course_lib.tools.grading import GradeOptions, grade_folder, snapshot

# The graded kernels draw no figures (grading_support.unrendered_plots).
pytestmark = pytest.mark.usefixtures("unrendered_plots")

LESSON = "01_pixels"

PLANT = """
    import json, os, pathlib
    from course_lib import config as _config
    # Its own home, and the grader's (found as a determined notebook finds it)
    _homes = [pathlib.Path(os.path.expanduser("~")), pathlib.Path(GRADER_HOME)]
    for _home in _homes:
        _startup = _home / ".ipython" / "profile_default" / "startup"
        _startup.mkdir(parents=True, exist_ok=True)
        (_startup / "00-planted.py").write_text("PLANTED = True\\n")
        (_home / ".keras").mkdir(exist_ok=True)
        (_home / ".keras" / "keras.json").write_text(json.dumps({"floatx": "float16"}))
    # And code every later Python process of the run would run at start-up.
    (pathlib.Path(SITE_PACKAGES) / "zz_planted.pth").write_text("import os\\n")
    (pathlib.Path(SITE_PACKAGES) / "kept.pth").write_text("import sys\\n")
    _models = _config.build_dir() / "models"
    _models.mkdir(parents=True, exist_ok=True)
    (_models / "planted.keras").write_text("not a model")
    _where = {"home": os.path.expanduser("~"), "build": str(_config.build_dir())}
    print("planter:", json.dumps(_where))
"""

LOOK = """
    import json, os
    from course_lib import config as _config
    _keras_home = os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras"))
    _settings = os.path.join(_keras_home, "keras.json")
    print("victim:", json.dumps({
        "planted": "PLANTED" in globals(),
        "home": os.path.expanduser("~"),
        "build": str(_config.build_dir()),
        "planted_model": (_config.build_dir() / "models" / "planted.keras").exists(),
        "keras_json": os.path.exists(_settings) and "float16" in open(_settings).read(),
    }))
"""


def _printed(path, who):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith(f"{who}: "):
                    return json.loads(line.split(": ", 1)[1])
    raise AssertionError(f"{who} printed nothing")


@pytest.mark.timeout(900)
def test_a_notebook_s_planted_start_up_code_settings_and_models_reach_no_later_notebook(
    tmp_path, monkeypatch
):
    shared = tmp_path / "the grader's home"
    shared.mkdir()
    # The grader's own home is where a notebook would plant for the next kernel to find.
    monkeypatch.setenv("HOME", str(shared))
    monkeypatch.setenv("IPYTHONDIR", str(shared / ".ipython"))
    folder = tmp_path / "submissions"
    site_packages = tmp_path / "site-packages"
    site_packages.mkdir()
    (site_packages / "kept.pth").write_text("# the environment's own\n")
    monkeypatch.setattr(snapshot, "site_folders", lambda: [str(site_packages)])
    plant = PLANT.replace("GRADER_HOME", repr(str(shared))).replace(
        "SITE_PACKAGES", repr(str(site_packages))
    )
    for student, prelude in (("a_planter", plant), ("b_victim", LOOK)):
        (folder / student).mkdir(parents=True)
        nbformat.write(
            student_notebook(LESSON, textwrap.dedent(prelude)),
            folder / student / f"{LESSON}.ipynb",
        )
    executed = tmp_path / "executed"
    course_models = sorted(p.name for p in (config.build_dir() / "models").glob("*"))
    grades = grade_folder(
        folder,
        config.project_root() / "solutions",
        # The system's view of the files: in a view of its own the kernel could reach
        # neither the grader's home nor the site-packages this test plants in
        GradeOptions(
            timeout=600, cell_timeout=120, fast=True, executed_dir=executed, own_view=False
        ),
        progress=lambda _: None,
    )
    assert [g.submission.student for g in grades] == ["a_planter", "b_victim"]
    # The start-up files are put back, and the notebook that changed them is named.
    assert sorted(p.name for p in site_packages.iterdir()) == ["kept.pth"]
    assert (site_packages / "kept.pth").read_text() == "# the environment's own\n"
    assert any("files Python runs at start-up" in p for p in grades[0].problems), grades[0]
    assert not any("start-up" in p for p in grades[1].problems), grades[1]
    planter = _printed(executed / "a_planter" / f"{LESSON}.ipynb", "planter")
    victim = _printed(executed / "b_victim" / f"{LESSON}.ipynb", "victim")
    assert victim == victim | {"planted": False, "planted_model": False, "keras_json": False}
    assert victim["home"] != planter["home"] and victim["build"] != planter["build"]
    assert str(shared) not in victim["home"]
    assert (shared / ".ipython" / "profile_default" / "startup" / "00-planted.py").exists()
    # The course's own saved models are as they were, and each kernel's folders are gone.
    assert sorted(p.name for p in (config.build_dir() / "models").glob("*")) == course_models
    for private in (planter["home"], planter["build"], victim["home"], victim["build"]):
        assert not (tmp_path / private).exists()


def _loaded_tensorflow(pid: int) -> bool:
    with open(f"/proc/{pid}/maps", encoding="utf-8") as maps:
        return "libtensorflow" in maps.read()


@pytest.fixture(scope="module")
def eager_judge():
    """A judge as a run without kernel views starts it (Keras loaded before "ready"), shared by
    the tests that look at it just after it started; the last of them closes it."""
    from course_lib.tools.grading.judge_process import Judge

    judge = Judge()
    yield judge
    judge.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="reads the undumpable judge's memory map as root")
@pytest.mark.timeout(300)
def test_a_judge_loads_keras_before_ready_unless_every_kernel_has_a_view_of_its_own(eager_judge):
    from course_lib.tools.grading.judge_process import Judge

    eager, lazy = eager_judge, Judge(lazy_imports=True)
    try:
        assert lazy.wait_ready(240) and eager.wait_ready(240)
        # A kernel outside a view could rewrite Keras's files on disk while its cells run:
        # the judge has them in memory before the first cell. In views, it waits for a check.
        assert _loaded_tensorflow(eager.process.pid)
        assert not _loaded_tensorflow(lazy.process.pid)
    finally:
        lazy.close()


@pytest.mark.timeout(300)
def test_the_judge_starts_without_the_environment_s_pth_files_and_still_loads_every_check(
    eager_judge,
):
    import psutil

    judge = eager_judge
    try:
        assert judge.wait_ready(240), "the judge never said it was ready"
        command = psutil.Process(judge.process.pid).cmdline()
        # -S: Python's site module never runs, and with it no .pth file a notebook planted in
        # the environment's site-packages; -I: nor the user's site-packages or PYTHON* variables.
        assert {"-I", "-S"} <= set(command[1:3]), command
        home = psutil.Process(judge.process.pid).environ()["HOME"]
        # A home of its own: nothing in it but what Keras writes and the font list it is given.
        files = {p.name for p in Path(home).rglob("*") if p.is_file()}
        assert home == judge.home and files <= {"keras.json"} | {
            p.name for p in Path(home).rglob("fontlist-*.json")
        }, files
    finally:
        judge.close()
    assert not Path(judge.home).exists()


def _answered_once(tmp_path):
    """Exercise 1.2, right, answered up to its first call: the request the judge reads next."""
    from course_lib.tools.grading import judge, kernel_call, kernel_encode

    def centre_crop(image, height, width):  # right: the check goes on to its next call
        rows, cols = image.shape[:2]
        if height > rows or width > cols:
            raise ValueError("crop larger than the image")
        top, left = (rows - height) // 2, (cols - width) // 2
        return image[top : top + height, left : left + width]

    namespace = {"centre_crop": centre_crop}
    values = str(tmp_path / "values")
    kernel_encode.export_values({"names": ["centre_crop"], "dir": values}, namespace)
    request = {
        "root": str(tmp_path),
        "expression": "checks.exercise_1_2(centre_crop)",
        "values": values,
        "calls": [],
        "salt": 3,
        "next": str(tmp_path / "call0"),
    }
    need = judge.handle(request)
    assert need["status"] == "need", need
    out = str(tmp_path / "out0")
    kernel_call.call_answer(
        {"name": need["name"], "request": need["request"], "out": out, "watch": need["watch"]},
        namespace,
    )
    call = {"name": need["name"], "request": need["request"], "out": out}
    return request | {"calls": [call], "next": str(tmp_path / "call1")}, out


def _handled_within(request, seconds=20):
    import concurrent.futures

    from course_lib.tools.grading import judge

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(judge.handle, request).result(timeout=seconds)


@pytest.mark.parametrize("planted", ["fifo", "link"])
def test_a_pipe_or_link_put_where_the_judge_reads_an_export_is_refused_without_waiting(
    tmp_path, planted
):
    import os

    request, out = _answered_once(tmp_path)
    outcome = os.path.join(out, "outcome.json")
    os.replace(outcome, outcome + ".real")
    if planted == "fifo":  # opening a named pipe to read waits for a writer that never comes
        os.mkfifo(outcome)
    else:
        os.symlink(outcome + ".real", outcome)
    reply = _handled_within(request)
    assert (
        reply["status"] == "error"
        and "not a regular file" in reply["message"]
        or ("could not be read" in reply["message"])
    ), reply


def test_the_judge_never_writes_through_a_link_planted_where_its_next_request_goes(tmp_path):
    import os

    request, _ = _answered_once(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, request["next"])
    reply = _handled_within(request)
    assert reply["status"] == "error", reply
    assert list(elsewhere.iterdir()) == []


@pytest.mark.timeout(120)
def test_the_judge_does_not_outlive_a_grader_stopped_by_a_signal(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    grader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\n"
            "from course_lib.tools.grading.judge_process import Judge\n"
            "print(Judge().process.pid, flush=True)\n"
            "time.sleep(100)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        # A grader killed with SIGKILL cannot remove its judge's home: here it is in tmp_path.
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        judge_pid = int(grader.stdout.readline())
        assert psutil.pid_exists(judge_pid)
        grader.send_signal(signal.SIGKILL)  # no clean-up code of the grader's runs
        grader.wait(timeout=30)
        # At once: not when it has loaded every check and then finds its input closed.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                if psutil.Process(judge_pid).status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.NoSuchProcess:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the judge still runs after its grader was killed")
    finally:
        if grader.poll() is None:
            grader.kill()
            grader.wait(timeout=30)


def test_an_answer_the_grader_cannot_export_is_not_called_an_error_of_the_student_s_code(tmp_path):
    from course_lib.tools.grading import judge

    def centre_crop(image, height, width):
        looped = []
        looped.append(looped)  # a list that holds itself: the export cannot finish it
        return looped

    reply = judge.judge_locally(
        "checks.exercise_1_2(centre_crop)", {"centre_crop": centre_crop}, 5, str(tmp_path)
    )
    assert reply["status"] == "failed", reply
    assert "RecursionError" not in reply["message"] and "raised" not in reply["message"], reply
