"""Nothing a graded notebook leaves in its home or build folder reaches the notebooks after it.

One run grades a notebook that plants an IPython start-up file, a keras.json and a file among
the course's saved models, then an untouched notebook: the second kernel runs none of it,
has a home and a build folder of its own, and the course's build folder is as it was.
"""

import json
import textwrap

import nbformat
import pytest
from grading_support import student_notebook

from course_lib import config
from course_lib.tools.grading import GradeOptions, grade_folder

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
    plant = PLANT.replace("GRADER_HOME", repr(str(shared)))
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
        GradeOptions(timeout=600, cell_timeout=120, fast=True, executed_dir=executed),
        progress=lambda _: None,
    )
    assert [g.submission.student for g in grades] == ["a_planter", "b_victim"]
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
