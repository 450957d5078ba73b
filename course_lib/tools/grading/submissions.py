"""Find the submissions in a folder and the answer key of each lesson.

Accepted layouts (both may be mixed in one folder)::

    SUBMISSIONS/alice/01_pixels.ipynb        one folder per student (any depth below it)
    SUBMISSIONS/bob_01_pixels.ipynb          one file per student per lesson, the
    SUBMISSIONS/carol-01_pixels (1).ipynb    student's name before the lesson's file name

The lesson comes from the file name (``01_pixels`` or just ``01_``), or failing
that from the notebook's title ``# Lesson 01 — …``. The answer key (which
exercises a lesson has and the exact check expression of each) is read from
``solutions/``, never from the student's file.
"""

from __future__ import annotations

import ast
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_lib.tools import notebooks

_CHECK_CALL = re.compile(r"\bchecks\.exercise_(\d+)_(\d+)\(")
_LESSON_NUMBER = re.compile(r"(?<!\d)(\d\d)_")
_TITLE = re.compile(r"^#\s*Lesson\s+(\d+)\b")
_SKIPPED_FOLDERS = {".ipynb_checkpoints", "__MACOSX", "__pycache__"}
# What operating systems leave in folders (hidden files, starting with ".", are left out too,
# and the NAME:Zone.Identifier files that Windows' downloads leave in WSL)
_SKIPPED_FILES = {"Thumbs.db", "desktop.ini"}
_ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz", ".7z", ".rar")


@dataclass(frozen=True)
class ExerciseKey:
    number: str  # "1.2"
    title: str
    check: str  # the check cell's expression, e.g. "checks.exercise_1_2(centre_crop)"


@dataclass(frozen=True)
class LessonKey:
    lesson: str  # "01_pixels"
    exercises: tuple[ExerciseKey, ...]


@dataclass(frozen=True)
class Submission:
    path: Path
    student: str
    lesson: str  # a LessonKey.lesson, or "" when it could not be told
    from_title: bool = False  # the file name names no lesson: the notebook's title did
    # Why it is not graded, for what is not a notebook the grader can open (a .py file, an
    # archive, a link to a folder, a folder it may not read): a row of its own, not silence
    not_graded: str = ""
    # The path below the student's folder when deeper than the file (``week 2/01_pixels.ipynb``):
    # two notebooks of a student with one file name stay two in the tables and executed/
    within: str = ""

    @property
    def name(self) -> str:
        """The file's name, or its path below the student's folder if deeper."""
        return self.within or self.path.name


class AnswerKeyError(ValueError):
    """A solution notebook whose exercises cannot be graded (a course bug, not a student's)."""


def lesson_key(solution: Path) -> LessonKey:
    """The exercises of one solution notebook with the check expression of each."""
    nb = nbformat.read(solution, as_version=4)
    checks: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for major, minor in _CHECK_CALL.findall(cell.source):
            number = f"{major}.{minor}"
            expression = cell.source.strip()
            try:
                ast.parse(expression, mode="eval")
            except SyntaxError:
                raise AnswerKeyError(
                    f"{solution.name}: the check cell of exercise {number} must be a single "
                    f"expression, found:\n{expression}"
                ) from None
            checks.setdefault(number, expression)
    exercises = []
    for exercise in notebooks.exercises(nb):
        if exercise.number not in checks:
            raise AnswerKeyError(f"{solution.name}: exercise {exercise.number} has no check cell")
        exercises.append(ExerciseKey(exercise.number, exercise.title, checks[exercise.number]))
    return LessonKey(solution.stem, tuple(exercises))


def answer_keys(solutions: Path) -> dict[str, LessonKey]:
    """Every lesson's key, by lesson name (``"01_pixels"``)."""
    return {p.stem: lesson_key(p) for p in sorted(solutions.glob("[0-9][0-9]_*.ipynb"))}


def find_submissions(
    folder: Path, lessons: list[str], output: Path | None = None
) -> list[Submission]:
    """Every notebook under ``folder``, with the student and lesson it belongs to.

    Also, as submissions that are ``not_graded``, every other file a student may have meant
    to hand in (``01_pixels.py``, an archive), links to folders (not followed) and folders
    the grader may not read, so that none of them goes unnoticed. The grader's ``output``
    folder, if it is below ``folder``, is not searched: its executed copies are no submissions.
    """
    found = []
    skipped = os.path.realpath(output) if output is not None else None

    def other(path: Path, reason: str) -> None:
        # named as a notebook's student would be: bob_01_pixels.py is bob's
        stem = path.name.split(".", 1)[0] or path.name
        student, within = _owner(folder, path, stem, _lesson_from_name(stem, lessons)[1])
        found.append(Submission(path, student, "", not_graded=reason, within=within))

    def unreadable(error: OSError) -> None:
        other(Path(error.filename), f"a folder the grader may not read ({error.strerror})")

    for top, folders, files in os.walk(folder, onerror=unreadable):
        here = Path(top)
        folders[:] = [
            f
            for f in folders
            if f not in _SKIPPED_FOLDERS
            and not f.startswith(".")
            and os.path.realpath(here / f) != skipped
        ]
        for name in [f for f in folders if (here / f).is_symlink()]:
            other(here / name, "a link to a folder, not followed; hand in the notebooks themselves")
        for name in files:
            if name.startswith(".") or name in _SKIPPED_FILES or name.endswith(":Zone.Identifier"):
                continue
            path = here / name
            if not path.is_symlink() and not path.is_file():  # reading it could wait forever
                other(path, "not a regular file (a pipe or a device)")
                continue
            if not name.lower().endswith(".ipynb"):
                archive = name.lower().endswith(_ARCHIVES)
                other(
                    path,
                    "not a notebook, only .ipynb files are graded"
                    + ("; unpack the archive first" if archive else ""),
                )
                continue
            lesson, matched = _lesson_from_name(path.stem, lessons)
            from_title = not lesson
            if from_title:
                lesson, matched = _lesson_from_title(path, lessons), ""
            student, within = _owner(folder, path, path.stem, matched)
            found.append(
                Submission(
                    path, student, lesson, from_title=from_title and bool(lesson), within=within
                )
            )
    return sorted(found, key=lambda s: (s.student, not s.lesson, s.lesson, str(s.path)))


def _owner(folder: Path, path: Path, stem: str, matched: str) -> tuple[str, str]:
    """(student, path below the student's folder if deeper than the file) of a file in
    ``folder``: the first folder below it, or for a file at the top the name's rest once the
    lesson's part (``matched``) is taken out (bob_01_pixels.ipynb is bob's)."""
    parts = path.relative_to(folder).parts
    student = parts[0] if len(parts) > 1 else _student_from_name(stem, matched) or stem
    return _one_spelling(student), "/".join(parts[1:]) if len(parts) > 2 else ""


def _one_spelling(student: str) -> str:
    """The student's name in Unicode's composed form (NFC): ``Zoë`` typed on one system and
    unpacked from another's archive (``Zoe`` and a combining diaeresis) is one student."""
    return unicodedata.normalize("NFC", student)


def _lesson_from_name(stem: str, lessons: list[str]) -> tuple[str, str]:
    """(lesson, the part of the name that named it), or ("", "")."""
    lowered = stem.lower()
    named = [lesson for lesson in lessons if lesson.lower() in lowered]
    if named:
        lesson = max(named, key=len)
        return lesson, stem[lowered.rindex(lesson.lower()) :][: len(lesson)]
    numbers = _LESSON_NUMBER.findall(stem)
    for number in reversed(numbers):
        candidates = [lesson for lesson in lessons if lesson.startswith(number + "_")]
        if len(candidates) == 1:
            start = stem.rindex(number + "_")
            return candidates[0], stem[start:]
    return "", ""


def _lesson_from_title(path: Path, lessons: list[str]) -> str:
    if path.is_symlink():  # to a pipe, a device: never read (grading refuses links anyway)
        return ""
    try:
        cells = json.loads(path.read_text(encoding="utf-8-sig")).get("cells", [])
        source = cells[0].get("source", "") if cells else ""
        title = "".join(source) if isinstance(source, list) else str(source)
    except (OSError, ValueError, AttributeError, TypeError, LookupError, RecursionError):
        return ""  # not a notebook: graded as one of no lesson, which says why
    match = _TITLE.match(title.strip())
    if not match:
        return ""
    number = f"{int(match.group(1)):02d}_"
    candidates = [lesson for lesson in lessons if lesson.startswith(number)]
    return candidates[0] if len(candidates) == 1 else ""


def _student_from_name(stem: str, matched: str) -> str:
    if matched:
        stem = stem[: stem.rfind(matched)] if matched in stem else stem
    return stem.strip(" _-.")
