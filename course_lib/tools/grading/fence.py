"""Files a student's kernel may not read while it is graded: the answer keys and other students'.

The grader and the kernel run as the same user, so the kernel could open the solutions, the
course's tests, its git history, the submissions folder or the grader's output (executed
notebooks of the students graded before). :func:`install` writes an IPython start-up file
into the kernel's private home; it runs before the first cell and adds a Python audit hook
(PEP 578) that refuses, with a :class:`PermissionError`, to open, list, link or copy anything
under those folders, and to start a program whose arguments name them.

An audit hook cannot be removed, and this one refuses changes to its own code and defaults.
It is a fence, not a wall: code that calls the C library directly (``ctypes``), or a program
started without naming the folders, is not stopped. For official grading run the kernel as a
user who cannot read them (docs/INSTRUCTORS.md, "What is defended").
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from course_lib import config

# Events whose first argument is a path that must stay outside the fence
_PATH_EVENTS = (
    "open",
    "os.listdir",
    "os.scandir",
    "os.link",
    "os.symlink",
    "os.rename",
    "shutil.copyfile",
    "shutil.copytree",
    "os.chdir",
)
# Events that start a program: refused if any argument names a fenced folder
_PROGRAM_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn")

_HOOK = """
def _course_fence(event, args, _denied={denied!r}, _allowed={allowed!r},
                  _paths={paths!r}, _programs={programs!r}, _me=None,
                  _realpath=__import__("os").path.realpath, _fspath=__import__("os").fspath,
                  _str=str, _bytes=bytes, _isinstance=isinstance, _any=any,
                  _PermissionError=PermissionError):
    def fenced(value):
        try:
            path = _fspath(value)
            if _isinstance(path, _bytes):
                path = path.decode("utf-8", "replace")
            path = _realpath(path)
        except Exception:
            return None
        if _any(path == a or path.startswith(a + "/") for a in _allowed):
            return None
        for root in _denied:
            if path == root or path.startswith(root + "/"):
                return root
        return None

    if event in _paths and args:
        root = fenced(args[0])
        if root is None and event in ("os.link", "os.symlink", "os.rename") and len(args) > 1:
            root = fenced(args[1])
        if root is not None:
            raise _PermissionError(
                f"{{root}} is out of reach while the notebook is graded"
            )
    elif event in _programs:
        text = _str(args)  # the program and its arguments, as text
        for root in _denied:
            if root in text:
                raise _PermissionError(
                    f"{{root}} is out of reach while the notebook is graded"
                )
    elif event == "object.__setattr__" and args and args[0] is _me:
        raise _PermissionError("the grader's file fence cannot be changed")


_course_fence.__defaults__ = _course_fence.__defaults__[:4] + (_course_fence,) + (
    _course_fence.__defaults__[5:]
)
__import__("sys").addaudithook(_course_fence)
del _course_fence
"""


def fenced_folders(extra: Iterable[Path | str] = ()) -> tuple[str, ...]:
    """The course's answer keys and everything graded: real paths, for the hook to compare."""
    root = config.project_root()
    folders = [root / name for name in ("solutions", "tests", ".git", "build")]
    folders.append(root / "course_lib" / "checks")
    folders += [Path(p) for p in extra]
    return tuple(sorted({os.path.realpath(p) for p in folders}))


def install(ipython_dir: str, denied: tuple[str, ...], allowed: Iterable[str]) -> Path:
    """Write the start-up file that fences ``denied`` (except ``allowed``) in a kernel."""
    source = _HOOK.format(
        denied=denied,
        allowed=tuple(sorted({os.path.realpath(p) for p in allowed})),
        paths=_PATH_EVENTS,
        programs=_PROGRAM_EVENTS,
    )
    startup = Path(ipython_dir) / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    path = startup / "00-course-fence.py"
    path.write_text(source, encoding="utf-8")
    return path
