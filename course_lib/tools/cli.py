"""The ``course`` command: run lessons, grade submissions, build student notebooks, check set-up."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from course_lib import config

# From this many runs kept in OUTPUT/earlier/, `course grade` says how much they hold.
_EARLIER_RUNS_NOTED = 5
_LOADERS = {
    "fashion-mnist": "load_fashion_mnist",
    "mnist": "load_mnist",
    "cifar10": "load_cifar10",
    "flowers": "photos.flowers_folder",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute lessons headless into build/ and print a table")
    run.add_argument("lessons", nargs="*", type=Path, help="notebooks (default: solutions/*)")
    run.add_argument("--output", type=Path, default=config.build_dir() / "executed")
    run.add_argument("--timeout", type=int, default=None, help="seconds per cell")
    run.add_argument(
        "--report",
        type=Path,
        default=config.build_dir() / "report.md",
        help="run report (also .html and .json next to it; default: build/report.md)",
    )
    run.add_argument(
        "--logs",
        type=Path,
        default=config.build_dir() / "logs",
        help="where each lesson's kernel log goes, as LESSON.log (default: build/logs)",
    )

    nbs = sub.add_parser("notebooks", help="write notebooks/ from solutions/")
    nbs.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")

    strip = sub.add_parser("strip", help="strip outputs from notebooks in place")
    strip.add_argument("paths", nargs="+", type=Path)

    sub.add_parser("kernel", help="register this environment's Jupyter kernel for the course")
    doctor = sub.add_parser(
        "doctor", help="check Python, TensorFlow, the kernel, data, weights, disk, memory"
    )
    doctor.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="CHECK",
        help="leave out a check (python, tensorflow, kernel, dataset, weights, "
        "disk, memory); repeatable",
    )

    grade = sub.add_parser("grade", help="grade a folder of student notebooks into grades.csv")
    grade.add_argument(
        "submissions",
        type=Path,
        help="folder of notebooks: STUDENT/NN_topic.ipynb or STUDENT_NN_topic.ipynb",
    )
    grade.add_argument(
        "--output",
        type=Path,
        default=config.build_dir() / "grades",
        help="where grades.csv, summary.csv and executed/ go (default: build/grades)",
    )
    grade.add_argument(
        "--timeout",
        type=int,
        default=600,
        help="seconds for all of one notebook's cells (default: 600)",
    )
    grade.add_argument(
        "--cell-timeout",
        type=int,
        default=120,
        help="seconds for any one cell, and for each check (default: 120)",
    )
    grade.add_argument(
        "--full",
        action="store_true",
        help="run lessons in full mode (default: fast mode, COURSE_FAST=1)",
    )
    grade.add_argument(
        "--solutions",
        type=Path,
        default=config.project_root() / "solutions",
        help="the lessons whose checks are used (default: solutions/)",
    )

    download = sub.add_parser("download", help="fetch datasets into the cache (for offline use)")
    download.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"default: fashion-mnist; any of {', '.join(sorted(_LOADERS))}",
    )

    lock = sub.add_parser(
        "lock",
        help="refresh requirements/lock.txt and environment.yml "
        "with pip-compile (Linux x86-64, Python 3.11)",
    )
    lock.add_argument(
        "--upgrade",
        action="store_true",
        help="move every package to its newest release that pyproject.toml allows",
    )
    lock_diff = sub.add_parser(
        "lock-diff", help="list the packages installed here at other versions than the lock"
    )
    lock_diff.add_argument(
        "lock",
        nargs="?",
        type=Path,
        default=None,
        help="default: the course's requirements/lock.txt",
    )
    badges = sub.add_parser("badges", help="write README's badges from [tool.course] repository")
    badges.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")

    retrain = sub.add_parser(
        "retrain",
        help="train the next version of a model from the service's feedback, "
        "compare it on a holdout folder, promote it if not worse",
    )
    retrain.add_argument(
        "model_root", type=Path, help="models/<name>: a folder of numbered versions"
    )
    retrain.add_argument(
        "--train",
        type=Path,
        required=True,
        metavar="FOLDER",
        help="the original training photos, one subfolder per class",
    )
    retrain.add_argument(
        "--holdout",
        type=Path,
        required=True,
        metavar="FOLDER",
        help="fixed photos to compare versions on, one subfolder per class; never feedback",
    )
    retrain.add_argument(
        "--db",
        type=Path,
        default=None,
        help="the service's prediction database "
        "(default: COURSE_SERVE_DB or the service's default)",
    )
    retrain.add_argument(
        "--epochs", type=int, default=5, help="epochs of training for the head (default: 5)"
    )
    retrain.add_argument("--seed", type=int, default=0)
    retrain.add_argument(
        "--no-promote", action="store_true", help="write the new version, never promote it"
    )
    rollback = sub.add_parser(
        "rollback", help="serve the previously served version of a model again"
    )
    rollback.add_argument(
        "model_root", type=Path, help="models/<name>: a folder of numbered versions"
    )

    args = parser.parse_args(argv)
    if args.command in ("lock", "lock-diff", "badges"):
        return _environment_command(args)
    if args.command == "run":
        return _run(args)
    if args.command == "notebooks":
        return _notebooks(args.check)
    if args.command == "kernel":
        return _kernel()
    if args.command == "doctor":
        from course_lib.tools import doctor

        unknown = sorted(set(args.skip) - set(doctor.check_names()))
        if unknown:
            print(
                f"course doctor: unknown check {', '.join(unknown)}; choose from "
                f"{', '.join(doctor.check_names())}",
                file=sys.stderr,
            )
            return 2
        return doctor.main(args.skip)
    if args.command == "grade":
        try:
            return _grade(args)
        except KeyboardInterrupt:  # before grading started, or pressed twice
            print("\ncourse grade: interrupted", file=sys.stderr)
            return 130
    if args.command == "download":
        return _download(args.names or ["fashion-mnist"])
    if args.command == "retrain":
        return _retrain(args)
    if args.command == "rollback":
        return _rollback(args.model_root)
    return _strip(args.paths)


def _run(args: argparse.Namespace) -> int:
    from course_lib.tools import runner

    lessons = args.lessons or sorted(
        (config.project_root() / "solutions").glob("[0-9][0-9]_*.ipynb")
    )
    missing = [str(p) for p in lessons if not p.is_file()]
    if missing:
        print(f"course run: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    print(
        f"Executing {len(lessons)} lesson(s) in {runner.mode()} mode into {args.output} "
        f"(kernel logs in {args.logs})",
        flush=True,
    )
    runs = runner.run_lessons(lessons, args.output, args.timeout, log_dir=args.logs)
    print()
    print(runner.format_table(runs))
    verdict = runner.memory_verdict(runs)
    # over budget is flagged, not failed: the lesson's figures are still right
    print(("\nWARNING: " if any(r.over_budget for r in runs) else "\n") + verdict)
    from course_lib.tools import report

    env = report.Environment.current(runner.mode(), config.project_root())
    written = report.write(runs, args.report, env, config.project_root())
    print(f"\nreport: {', '.join(str(p) for p in written)}")
    return 0 if runs and all(r.ok for r in runs) else 1


def _grade(args: argparse.Namespace) -> int:
    from course_lib.tools import grading

    if args.submissions.is_file():
        print(
            f"course grade: {args.submissions} is a file: give the folder that holds the "
            "students' notebooks (one folder per student, or files named after the lesson)",
            file=sys.stderr,
        )
        return 2
    if not args.submissions.is_dir():
        print(f"course grade: no such folder: {args.submissions}", file=sys.stderr)
        return 2
    if args.submissions.resolve().is_relative_to(args.output.resolve()):
        # The output's earlier files are moved aside when a run starts: the submissions too
        print(
            f"course grade: the submissions {args.submissions} are in the output folder "
            f"{args.output}: give another --output",
            file=sys.stderr,
        )
        return 2
    try:
        os.scandir(args.submissions).close()
    except OSError as exc:
        print(f"course grade: cannot read {args.submissions}: {exc.strerror}", file=sys.stderr)
        return 2
    keys = grading.answer_keys(args.solutions)
    found = grading.find_submissions(args.submissions, list(keys), args.output)
    if all(submission.not_graded for submission in found):
        from course_lib.tools.grading.tables import shown_path

        others = [
            f"{shown_path(s.path.relative_to(args.submissions))}: {s.not_graded}" for s in found
        ]
        print(
            f"course grade: no .ipynb files under {args.submissions}"
            + "".join(f"\n  {other}" for other in others[:5])
            + ("\n  …" if others[5:] else ""),
            file=sys.stderr,
        )
        return 2
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(config.KERNEL_NAME)
    except NoSuchKernel:
        print(
            f"course grade: the Jupyter kernel {config.KERNEL_NAME!r} is not registered; "
            "run `course kernel` (or `make setup`) first",
            file=sys.stderr,
        )
        return 2
    from course_lib.tools.grading import tables
    from course_lib.tools.grading.output import INTERRUPTED, OutputFolder

    try:
        output = OutputFolder(args.output)
        earlier = output.set_aside_earlier_run()
    except OSError as exc:
        print(f"course grade: cannot write to {args.output}: {exc}", file=sys.stderr)
        return 2
    if earlier:
        print(f"the grades of an earlier run in {args.output} are kept in {earlier}")
        runs, size = output.earlier_runs()
        if runs >= _EARLIER_RUNS_NOTED:
            print(
                f"{earlier.parent} keeps {runs} earlier runs ({size / 1e6:.1f} MB); "
                "nothing there is deleted by the grader: remove the runs you no longer need"
            )
    options = grading.GradeOptions(
        timeout=args.timeout, cell_timeout=args.cell_timeout, fast=not args.full, output=output
    )
    print(
        f"Grading {args.submissions} in {'full' if args.full else 'fast'} mode "
        f"(at most {args.timeout} s per notebook, {args.cell_timeout} s per cell)"
    )
    exercises = {lesson: len(key.exercises) for lesson, key in keys.items()}
    failed: list[str] = []
    written: list[int] = [0]  # how many submissions the files hold

    def write(grades: list[grading.NotebookGrade]) -> None:
        # After every notebook, so that a run that stops loses nothing already graded.
        rows = grading.rows_of(grades)
        written[0] = len(grades)
        failed.clear()
        for name, text in (
            ("grades.csv", tables.grades_csv(rows)),
            ("summary.csv", tables.summary_csv(rows, exercises)),
        ):
            try:
                output.write(name, text.encode("utf-8"))
            except OSError as exc:
                failed.append(f"{name} ({exc})")

    try:
        grades = grading.grade_folder(args.submissions, args.solutions, options, after_each=write)
    except KeyboardInterrupt:
        held = (
            f"could not write {', '.join(failed)}"
            if failed
            else f"{args.output / 'grades.csv'} and summary.csv hold the first {written[0]} "
            f"of {len(found)} submissions"
        )
        print(f"\ninterrupted: {held}; the rest were not graded", file=sys.stderr)
        # Beside the files, for whoever opens them later: they are not the whole class.
        with contextlib.suppress(OSError):
            output.write(
                INTERRUPTED,
                f"This grading run was interrupted: grades.csv and summary.csv hold the first "
                f"{written[0]} of {len(found)} submissions of {args.submissions}.\n"
                "Run `course grade` again to grade them all (this run's files are then kept "
                "in earlier/).\n".encode(),
            )
        return 130
    rows = grading.rows_of(grades)
    write(grades)
    print()
    print(grading.format_summary(rows, exercises))
    if output.moved_aside:
        print(f"\nmoved aside what a notebook put in the grader's way: {output.moved_aside}")
    if failed:
        import tempfile

        rescue = Path(tempfile.mkdtemp(prefix="course-grades-"))
        grading.write_grades_csv(rows, rescue / "grades.csv")
        grading.write_summary_csv(rows, exercises, rescue / "summary.csv")
        print(f"\ncould not write {', '.join(failed)}; wrote them to {rescue} instead")
        return 1
    print(
        f"\nwrote {args.output / 'grades.csv'} and {args.output / 'summary.csv'}; "
        f"executed notebooks in {args.output / 'executed'}"
    )
    return 0


def _notebooks(check: bool) -> int:
    from course_lib.tools import notebooks

    root = config.project_root()
    result = notebooks.build_student_notebooks(root / "solutions", root / "notebooks", check=check)
    for path in result.written:
        print(("out of date: " if check else "wrote ") + str(path.relative_to(root)))
    for path in result.stale:
        print(f"no solution for {path.relative_to(root)}: delete it or restore its solution")
    if check:
        return 1 if result.written or result.stale else 0
    print(f"{len(result.written)} written, {len(result.unchanged)} unchanged")
    return 1 if result.stale else 0


def _kernel() -> int:
    from course_lib.tools import kernel

    path = kernel.install()
    print(f"registered Jupyter kernel {config.KERNEL_NAME!r} in {path}")
    return 0


def _download(names: list[str]) -> int:
    from course_lib import data, photos

    unknown = [n for n in names if n not in _LOADERS]
    if unknown:
        print(
            f"course download: unknown dataset {', '.join(unknown)}; "
            f"choose from {', '.join(sorted(_LOADERS))}",
            file=sys.stderr,
        )
        return 2
    for name in names:
        try:
            if name == "flowers":  # a folder of photos, not arrays
                folder = photos.flowers_folder()
                count = sum(1 for p in folder.rglob("*.jpg"))
                print(
                    f'{name}: ready, {count} photos in {folder} (lesson 09: DATA_DIR = "{folder}")'
                )
                continue
            dataset = getattr(data, _LOADERS[name])(subset=None)
        except data.DatasetUnavailableError as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return 1
        print(f"{name}: ready ({len(dataset.x_train)} training, {len(dataset.x_test)} test images)")
    return 0


def _retrain(args: argparse.Namespace) -> int:
    import os
    import warnings

    from course_lib import versions

    if not versions.is_model_root(args.model_root):
        print(
            f"course retrain: {args.model_root} is not a model folder: it needs numbered version "
            f"subfolders (1/, 2/, ...) holding model.keras",
            file=sys.stderr,
        )
        return 2
    for name, folder in (("--train", args.train), ("--holdout", args.holdout)):
        if not folder.is_dir():
            print(
                f"course retrain: {name} {folder} is not a folder of class subfolders",
                file=sys.stderr,
            )
            return 2
    if args.epochs < 1:
        print(f"course retrain: --epochs must be at least 1, got {args.epochs}", file=sys.stderr)
        return 2
    from course_lib import retrain
    from course_lib.serving.config import default_db_path

    db = args.db or Path(os.environ.get("COURSE_SERVE_DB") or default_db_path())
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rows = retrain.feedback_from_store(db)
            print(f"{len(rows)} feedback rows in {db}", flush=True)
            result = retrain.retrain(
                args.model_root,
                rows,
                args.train,
                args.holdout,
                epochs=args.epochs,
                seed=args.seed,
                promote=not args.no_promote,
            )
    except ValueError as error:  # bad data or folders: the message says what to fix
        print(f"course retrain: {error}", file=sys.stderr)
        return 1
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            print(f"warning: {warning.message}")
    print(result.summary())
    return 0


def _rollback(model_root: Path) -> int:
    from course_lib import versions

    if not versions.is_model_root(model_root):
        print(
            f"course rollback: {model_root} is not a model folder "
            "(numbered version subfolders holding model.keras)",
            file=sys.stderr,
        )
        return 2
    try:
        version = versions.rollback(model_root, reason="rolled back with course rollback")
    except ValueError as error:
        print(f"course rollback: {error}", file=sys.stderr)
        return 1
    print(f"{model_root}: version {version} is served again")
    return 0


def _environment_command(args: argparse.Namespace) -> int:
    """``course lock``, ``course lock-diff`` and ``course badges``."""
    from course_lib.tools import links, lockfile

    root = config.project_root()
    if args.command == "lock":
        for path in lockfile.compile_lock(root, upgrade=args.upgrade):
            print(f"wrote {path.relative_to(root)}")
        return 0
    if args.command == "lock-diff":
        lock = args.lock or root / lockfile.LOCK
        found = lockfile.moves(lockfile.read_lock(lock), lockfile.installed_versions())
        print(lockfile.format_moves(found, lock))
        return 0
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    updated = links.update_readme(text, links.repository(root / "pyproject.toml"))
    if updated == text:
        return 0
    if args.check:
        print("out of date: README.md badges (run `make notebooks`)")
        return 1
    readme.write_text(updated, encoding="utf-8")
    print("wrote README.md badges")
    return 0


def _strip(paths: list[Path]) -> int:
    from course_lib.tools import notebooks

    for path in paths:
        if notebooks.strip_in_place(path):
            print(f"stripped {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
