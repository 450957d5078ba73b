"""What a student's kernel starts with: its kernel spec, environment, home and view.

Each kernel gets a home and a build folder of its own (:func:`kernel_env`), the folders it
may not read fenced off (:mod:`fence`), and where the system allows it a view of the file
systems of its own (:func:`kernel_view`, :mod:`own_view`); its kernel spec is found once,
before any notebook ran (:func:`_pinned_kernel_manager`).
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from course_lib import config
from course_lib.tools.grading import checks_stand_in, fence, own_view
from course_lib.tools.grading.kernel_files import read_file
from course_lib.tools.grading.notebook_grade import GradeOptions

_KERNEL_DIRS: dict[str, str] = {}


def _pinned_kernel_manager(kernel_name: str) -> type:
    """A KernelManager class that finds ``kernel_name`` only where it was when first asked.

    Jupyter looks for kernel specs in per-user folders too, which a notebook can write: a
    kernel.json planted there would start the next student's kernel with a command of its
    own. The spec's folder is found once, before the first notebook of the process runs.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager as KernelManager

    # The asynchronous manager, nbclient's own: with a synchronous one the kernel starts but
    # nbclient's interrupt, when a cell runs out of time, never reaches it.

    if kernel_name not in _KERNEL_DIRS:
        found = KernelSpecManager().find_kernel_specs().get(kernel_name)
        _KERNEL_DIRS[kernel_name] = os.path.dirname(found) if found else ""
    folder = _KERNEL_DIRS[kernel_name]
    if not folder:  # no such kernel: nbclient reports it as usual
        return KernelManager

    class PinnedKernelManager(KernelManager):
        kernel_owner: tuple[int, int] | None = None  # the user the kernel runs as, if another

        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            return KernelSpecManager(parent=self, kernel_dirs=[folder])

        def write_connection_file(self, **kwargs: Any) -> None:
            super().write_connection_file(**kwargs)
            if self.kernel_owner is not None:
                os.chown(self.connection_file, *self.kernel_owner)

    return PinnedKernelManager


# Where a process looks for per-user configuration and start-up code, relative to a home:
# IPython runs every file in its profile's startup/ folder, Keras reads keras.json (floatx),
# Matplotlib its matplotlibrc, Python the user site-packages (a .pth file there runs code).
_PER_USER = {
    "HOME": "",
    "IPYTHONDIR": ".ipython",
    "KERAS_HOME": ".keras",
    "MPLCONFIGDIR": ".config/matplotlib",
    "XDG_CONFIG_HOME": ".config",
    "XDG_CACHE_HOME": ".cache",
    "XDG_DATA_HOME": ".local/share",
    "XDG_STATE_HOME": ".local/state",
    "JUPYTER_CONFIG_DIR": ".jupyter",
    "JUPYTER_DATA_DIR": ".local/share/jupyter",
    "PYTHONUSERBASE": ".local",
}


def private_home(folder: str) -> dict[str, str]:
    """Environment variables that give a process ``folder`` as its home, empty, for all of these.

    Each student's kernel gets its own: a notebook that writes start-up code or settings into
    its home (an IPython startup file, a keras.json) changes nothing for the notebooks graded
    after it. The user site-packages are switched off as well (``PYTHONNOUSERSITE``).
    """
    env = {
        name: os.path.join(folder, relative) if relative else folder
        for name, relative in _PER_USER.items()
    }
    for path in env.values():
        os.makedirs(path, exist_ok=True)
    # Matplotlib's list of the system's fonts, as the grader found it: without it, every
    # process that imports Matplotlib would scan the fonts again (seconds of CPU each).
    for name, data in _font_caches():
        with open(os.path.join(env["MPLCONFIGDIR"], name), "xb") as handle:
            handle.write(data)
    return env | {"PYTHONNOUSERSITE": "1"}


@functools.cache
def _font_caches() -> tuple[tuple[str, bytes], ...]:
    """Matplotlib's font list files of the grader's user, read once, before any notebook ran.

    Kept in memory: a notebook may delete them, or put a link in their place, before the
    next kernel's home is made; only regular files are read.
    """
    folder = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib"
    )
    found = []
    for path in sorted(glob.glob(os.path.join(folder, "fontlist-*.json"))):
        try:
            found.append((os.path.basename(path), read_file(path)))
        except (OSError, ValueError):
            continue
    return tuple(found)


def private_build_dir(folder: str, fast: bool) -> str:
    """A build folder of the kernel's own, holding a copy of the course's saved models.

    Lessons save and load models (lesson 04's, which 05, 07 and 08 use) in the build folder:
    a shared one would hand the next student's kernel a model another student's notebook
    trained, or planted. The copy is of the course's own models as grading started; a lesson
    that finds none trains its quick fallback in its own folder.
    """
    build = os.path.join(folder, "build")
    models = config.build_dir() / "models" / ("fast" if fast else "")
    target = os.path.join(build, "models", "fast" if fast else "")
    if models.is_dir():
        shutil.copytree(models, target, ignore=shutil.ignore_patterns("fast"), dirs_exist_ok=True)
    os.makedirs(target, exist_ok=True)
    return build


def kernel_env(options: GradeOptions, folder: str | None = None) -> dict[str, str]:
    """The student's kernel environment: the course's own course_lib first, fast mode set.

    ``folder``: the notebook's own temporary folder, for its private home and build folder.
    """
    env = dict(os.environ)
    root = str(config.project_root())
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if options.fast:
        env["COURSE_FAST"] = "1"
    else:
        env.pop("COURSE_FAST", None)
    if folder is not None:
        # The datasets stay the course's (resolved before the home changes); the rest is private.
        env["COURSE_DATA_DIR"] = str(config.data_dir())
        env.pop("PYTHONSTARTUP", None)
        env |= private_home(os.path.join(folder, "home"))
        env["COURSE_BUILD_DIR"] = private_build_dir(folder, options.fast)
        # The answer keys, the course's tests and history, other students' notebooks and
        # what the grader wrote: out of the kernel's reach (its own folder and the data stay in)
        fence.install(
            env["IPYTHONDIR"], fenced_folders(options), allowed=[folder, env["COURSE_DATA_DIR"]]
        )
        stand_in_for_checks(env["IPYTHONDIR"])
    return env


# Runs in the kernel's namespace before the notebook's first cell: leaves no name behind
_STAND_IN = """
def _course_checks_stand_in(text):
    import sys, types
    module = types.ModuleType("course_lib.checks")
    exec(compile(text, "<course_lib.checks, graded>", "exec", dont_inherit=True), vars(module))
    sys.modules["course_lib.checks"] = module
_course_checks_stand_in({text!r})
del _course_checks_stand_in
"""


def stand_in_for_checks(ipython_dir: str) -> Path:
    """Write the start-up file that gives the kernel :mod:`checks_stand_in` as course_lib.checks.

    The checks' folder is fenced (:func:`fenced_folders`): the notebook's check cells run on
    the stand-in, which shows that the grader checks the exercise.
    """
    startup = Path(ipython_dir) / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    path = startup / "01-course-checks.py"
    path.write_text(_STAND_IN.format(text=_stand_in_text()), encoding="utf-8")
    return path


@functools.cache
def _stand_in_text() -> str:
    """The stand-in's source, read once, when the first kernel of the run is set up: a
    notebook that rewrites the file changes nothing for the kernels after it."""
    return Path(checks_stand_in.__file__).read_text(encoding="utf-8")


def fenced_folders(options: GradeOptions) -> tuple[str, ...]:
    """The folders a kernel may not read: the course's answer keys (the checks' code too: the
    kernel has :mod:`checks_stand_in` instead) and everything graded."""
    outputs = [options.output.path] if options.output is not None else []
    if options.executed_dir is not None:
        outputs.append(options.executed_dir)
    return fence.fenced_folders([*outputs, *options.fenced])


def kernel_views(options: GradeOptions) -> bool:
    """Whether every kernel of a run with ``options`` gets a view of its own."""
    return options.own_view and own_view.possible()


def kernel_view(options: GradeOptions, root: str, *own: str) -> own_view.View | None:
    """The kernel's own view of the file systems, built in the empty folder ``root``, whose
    own folders are ``own`` (its working folder first); None where there is none."""
    if not kernel_views(options):
        return None
    python = _kernel_python(options.kernel_name)
    return own_view.view_for(fenced_folders(options), own, root, python)


@functools.cache
def _kernel_python(kernel_name: str) -> str:
    """The Python the kernel spec starts (its folders are in the kernel's view)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        return KernelSpecManager().get_kernel_spec(kernel_name).argv[0]
    except (NoSuchKernel, IndexError):
        return sys.executable
