"""Student names and messages as the grader writes them: a name reads as it is spelled and two
names never merge, in grades.csv, summary.csv, the printed table and the progress lines; a
message never hides characters that make it read otherwise than it is written.

No kernel: the grading of each notebook is replaced by a fixed result (tests/test_grading_output.py
runs the command itself on two such names).
"""

import csv
import io
import os
import random
import re
import sys
import unicodedata
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_lib.messages import escaped_hidden, plain_text
from course_lib.tools.grading import tables
from course_lib.tools.grading.notebook_grade import ExerciseResult, GradeOptions, NotebookGrade
from course_lib.tools.grading.submissions import Submission

LESSON = "02_pipelines"
EXERCISES = {LESSON: 1}
# Characters a name may hold that do not show as themselves: controls, format characters
# (bidi controls and marks, zero-width ones, the soft hyphen, tags), separators, spaces other
# than the plain one, private use, unassigned, and letters that show as blank.
HIDDEN = {
    "RLO U+202E": "\u202e",
    "LRI U+2066": "\u2066",
    "ZWSP U+200B": "\u200b",
    "ZWNJ U+200C": "\u200c",
    "ZWJ U+200D": "\u200d",
    "LRM U+200E": "\u200e",
    "RLM U+200F": "\u200f",
    "ALM U+061C": "\u061c",
    "WJ U+2060": "\u2060",
    "BOM U+FEFF": "\ufeff",
    "MVS U+180E": "\u180e",
    "soft hyphen U+00AD": "\u00ad",
    "tag U+E0041": "\U000e0041",
    "line separator U+2028": "\u2028",
    "paragraph separator U+2029": "\u2029",
    "NEL U+0085": "\x85",
    "newline": "\n",
    "tab": "\t",
    "carriage return": "\r",
    "bell": "\x07",
    "escape": "\x1b",
    "no-break space": "\u00a0",
    "ideographic space U+3000": "\u3000",
    "thin space U+2009": "\u2009",
    "private use U+E000": "\ue000",
    "unassigned U+0378": "\u0378",
    "Hangul filler U+3164": "\u3164",
    "Braille blank U+2800": "\u2800",
    "grapheme joiner U+034F": "\u034f",
    "byte not UTF-8": os.fsdecode(b"\xff"),
    "backslash": "\\",
}
# Pairs of names that differ (a folder name on Linux may hold anything but / and NUL).
PAIRS = {
    **{f"alice+{key}": ("alice", "alice" + c) for key, c in HIDDEN.items()},
    **{f"{key}+alice": ("alice", c + "alice") for key, c in HIDDEN.items()},
    **{f"bob+{key}+carol": ("bob carol", f"bob{c}carol") for key, c in HIDDEN.items()},
    # A name spelled as another one is written, and that other one
    **{
        f"spelled {key}": (escaped_hidden("alice" + c), "alice" + c)
        for key, c in HIDDEN.items()
        if c != "\\"
    },
    "spelled twice": ("alice\\\\u202e", "alice\\u202e"),
    "byte or spelled byte": (os.fsdecode(b"b\xffn"), "b\\xffn"),
    "byte or U+0085": (os.fsdecode(b"b\x85n"), "b\x85n"),
    "byte or U+DCFF spelled": (os.fsdecode(b"b\xffn"), "b\\udcffn"),
    "trailing space": ("alice", "alice "),
    "leading space": ("alice", " alice"),
    "spaces": ("alice", " alice "),
    "quoted formula": ("=1+1", "'=1+1"),
    "quoted quote": ("'alice", "''alice"),
    "quote": ("alice", "'alice"),
}
# Letters and marks that show as nothing, though printable to Python: written out too.
BLANK = "\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0"
ORDINARY = ["alice", "Zoë", "José María", "李明", "Łukasz", "Ørjan", "محمد", "😀 bob", "o'neil"]


def _printable(text):
    """Every character shows as itself: no control, format, separator or blank character."""
    return all(c.isprintable() and c not in BLANK for c in text)


def _graded(tmp_path, monkeypatch, names, files=(f"{LESSON}.ipynb",)):
    """Grade one folder per student without a kernel: each notebook passes its one exercise.

    Returns the progress lines and the grades."""
    monkeypatch.setattr(tables, "Judge", lambda snapshot=None, lazy_imports=False: None)

    def grade_notebook(submission, *args, **kwargs):
        grade = NotebookGrade(submission)
        grade.exercises = [ExerciseResult("2.1", True, "well done.")]
        return grade

    monkeypatch.setattr(tables, "grade_notebook", grade_notebook)
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    key = new_notebook(
        cells=[new_markdown_cell("### Exercise 2.1 — Do"), new_code_cell("checks.exercise_2_1(x)")]
    )
    nbformat.write(key, solutions / f"{LESSON}.ipynb")
    folder = tmp_path / "in"
    for name in names:
        for file in files:
            path = folder / name / file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(nbformat.writes(new_notebook()), encoding="utf-8")
    progress = []
    grades = tables.grade_folder(folder, solutions, GradeOptions(), progress=progress.append)
    return progress, grades


def _csv(text):
    return list(csv.reader(io.StringIO(text, newline="")))


def _written(tmp_path, rows):
    """grades.csv and summary.csv as the command writes them (UTF-8, any name)."""
    tables.write_grades_csv(rows, tmp_path / "out" / "grades.csv")
    tables.write_summary_csv(rows, EXERCISES, tmp_path / "out" / "summary.csv")
    return [
        _csv((tmp_path / "out" / name).read_text(encoding="utf-8"))
        for name in ("grades.csv", "summary.csv")
    ]


@pytest.mark.parametrize("pair", PAIRS.values(), ids=PAIRS.keys())
def test_two_names_that_differ_stay_two_and_visible_in_every_output(tmp_path, monkeypatch, pair):
    progress, grades = _graded(tmp_path, monkeypatch, pair)
    assert len(grades) == 2
    rows = tables.rows_of(grades)
    shown = [escaped_hidden(name) for name in pair]
    assert shown[0] != shown[1]
    assert {row.student for row in rows} == set(shown)
    for name, written in zip(pair, shown, strict=True):
        assert _printable(written), written
        assert not written.startswith(" ") and not written.endswith(" ")
        if _printable(name) and "\\" not in name and name.strip(" ") == name:
            assert written == name  # a name that shows as itself is written as it is

    grades_csv, summary_csv = _written(tmp_path, rows)
    unquoted = [tables._from_spreadsheet_safe(row[0]) for row in grades_csv[1:]]
    assert sorted(unquoted) == sorted(shown)  # one row per student, each name as rows_of wrote it
    assert len({row[0] for row in grades_csv[1:]}) == 2
    assert [tables._from_spreadsheet_safe(row[0]) for row in summary_csv[1:]] == sorted(shown)
    assert [row[1:] for row in summary_csv[1:]] == [["1/1", "1/1", ""]] * 2
    for table in (grades_csv, summary_csv):
        assert all(_printable(cell) for row in table for cell in row), table

    printed = tables.format_summary(rows, EXERCISES).splitlines()
    assert len(printed) == 4  # header, rule, one line per student
    for written in shown:
        assert sum(line.startswith(written + "  ") for line in printed[2:]) == 1, printed
    assert all(_printable(line) for line in printed), printed

    assert len(progress) == 4  # "[n/2] student/02_pipelines.ipynb ..." and its result
    started = sorted(line.split(" ", 1)[1] for line in progress if line.startswith("["))
    assert started == sorted(f"{written}/{LESSON}.ipynb ..." for written in shown)
    assert all(_printable(line) for line in progress), progress


@pytest.mark.parametrize("hidden", HIDDEN.values(), ids=HIDDEN.keys())
def test_two_notebooks_of_one_lesson_whose_names_differ_are_told_apart(
    tmp_path, monkeypatch, hidden
):
    files = (f"{LESSON}.ipynb", f"{LESSON}{hidden}.ipynb")
    _, grades = _graded(tmp_path, monkeypatch, ["ann"], files)
    rows = tables.rows_of(grades)
    messages = [row.message for row in rows if row.exercise != tables.NOTEBOOK]
    assert len(set(messages)) == 2, messages
    assert {m.split(": ")[0] for m in messages} == {escaped_hidden(f) for f in files}
    (note,) = [row.message for row in rows if row.exercise == tables.NOTEBOOK]
    listed = note.rsplit(": ", 1)[1].split(", ")
    assert sorted(listed) == sorted(escaped_hidden(f) for f in files)
    assert all(_printable(m) for m in [*messages, note])


def test_a_file_that_is_no_lesson_is_named_as_spelled(tmp_path, monkeypatch):
    _, grades = _graded(tmp_path, monkeypatch, ["ann"], ("notes\u200b.ipynb",))
    (row,) = tables.rows_of(grades)
    assert row.message.startswith("not a lesson of this course: notes\\u200b.ipynb ")


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_names_are_written_as_they_are(tmp_path, monkeypatch, name):
    progress, grades = _graded(tmp_path, monkeypatch, [name])
    rows = tables.rows_of(grades)
    assert {row.student for row in rows} == {name}
    grades_csv, summary_csv = _written(tmp_path, rows)
    assert grades_csv[1][0] == summary_csv[1][0] == name
    assert tables.format_summary(rows, EXERCISES).splitlines()[2].startswith(name + "  ")
    assert progress[0] == f"[1/1] {name}/{LESSON}.ipynb ..."


# The escape is undone by this, so two different names are never written alike.
_TOKEN = re.compile(r"\\(?:([\\tnr])|x([0-9a-f]{2})|u([0-9a-f]{4})|U([0-9a-f]{8}))")


def _unescaped(shown):
    assert "\\" not in _TOKEN.sub("", shown), shown  # every backslash starts an escape

    def one(match):
        letter, byte, short, long = match.groups()
        if letter:
            return {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}[letter]
        if byte:  # below 0x80 a character, above it a byte of a file name that is not UTF-8
            code = int(byte, 16)
            return chr(code) if code < 0x80 else chr(0xDC00 + code)
        return chr(int(short or long, 16))

    return _TOKEN.sub(one, shown)


def _alphabet():
    """Characters of every category that is written out, and some that are not."""
    by_category = {}
    for code in range(sys.maxunicode + 1):
        by_category.setdefault(unicodedata.category(chr(code)), []).append(chr(code))
    rng = random.Random(11)
    picked = [
        c
        for category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs")
        for c in rng.sample(by_category[category], min(40, len(by_category[category])))
    ]
    picked += [chr(code) for code in (0xDC80, 0xDC85, 0xDCFF, 0x85, 0xFF, 0xA0)]
    picked += list("\u034f\u3164\u2800\u115f\uffa0")
    # What escapes are made of, so that a string can spell another one's escape
    picked += list("\\\\\\xuU0123456789abcdefABCDEF tnr '=")
    picked += list("éü李😀ـً") + rng.sample(by_category["Lo"], 20)
    return picked


def test_the_escape_of_names_is_never_the_same_for_two_strings():
    alphabet = _alphabet()
    rng = random.Random(20240611)
    seen = {}
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        for name in (text, escaped_hidden(text)):  # a name may spell another one's escape
            shown = escaped_hidden(name)
            assert _unescaped(shown) == name, (name, shown)
            assert seen.setdefault(shown, name) == name, (name, seen[shown], shown)
            assert _printable(shown) and shown.strip(" ") == shown, shown
            quoted = tables.spreadsheet_safe(shown)
            assert tables._from_spreadsheet_safe(quoted) == shown
            assert not quoted.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert len(seen) > 5000, len(seen)


# Messages: format characters, whatever they are, and line and paragraph separators
_FORMAT = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]


def test_no_format_character_reaches_a_message():
    text = "a".join(_FORMAT) + "b\u2028c\u2029d"
    shown = plain_text(text)
    assert shown == "a" * (len(_FORMAT) - 1) + "b\nc\nd"


def test_a_student_s_error_quoted_in_a_message_loses_its_bidi_marks_and_zero_width_characters():
    raised = ValueError(
        "\u200f\u061c\u2705 Correct \u2014 well done\u200b, 3.5 True \u2028second line\nthird line"
    )
    grade = NotebookGrade(Submission(Path("victim/02.ipynb"), "victim", LESSON))
    grade.exercises = [ExerciseResult("2.1", False, f"your code raised ValueError: {raised}")]
    (row,) = tables.rows_of([grade])
    assert row.message == (
        "your code raised ValueError: \u2705 Correct \u2014 well done, 3.5 True \n"
        "second line\nthird line"
    )
    assert "\u2028" not in tables.grades_csv([row])


def test_messages_keep_what_shows():
    text = "Zoë’s «café» — 李明 😀 3 × 4 ≥ 1\tok\n"
    assert plain_text(text) == text
