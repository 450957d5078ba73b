"""The ``check`` action of the grader's code in a student's kernel (:mod:`kernel_code`).

For an exercise whose check still runs in the kernel: course_lib imported afresh from the
grader's snapshot (:mod:`snapshot_finder`), the course_lib functions the notebook had
replaced in memory named, and the exercise's check expression evaluated against the
student's variables, on test data salted for the grading run, with a fingerprint
(:mod:`kernel_fingerprint`) just before and just after. Sent into the kernel as text.
"""

from __future__ import annotations

from typing import Any

if __name__.startswith("course_lib."):  # imported; sent as text, the parts share a namespace
    from course_lib.tools.grading.kernel_fingerprint import fingerprint
    from course_lib.tools.grading.snapshot_finder import (
        SnapshotFinder,
        fresh_course_lib,
        unpack_modules,
    )


def _same_code(stale: Any, fresh: Any) -> bool:
    import inspect

    if inspect.isfunction(fresh):
        return inspect.isfunction(stale) and stale.__code__ == fresh.__code__
    return True


def _replaced(stale_modules: list[Any], fresh_modules: dict[str, Any]) -> list[str]:
    """Names of course_lib functions and methods that differ from the files on disk."""
    import inspect

    changed = []
    for stale in stale_modules:
        module_name = getattr(stale, "__name__", "")
        fresh = fresh_modules.get(module_name)
        if fresh is None or fresh is stale:
            continue
        short = module_name.removeprefix("course_lib.")
        for name, value in vars(fresh).items():
            if not getattr(value, "__module__", "").startswith("course_lib"):
                continue
            old = vars(stale).get(name)
            if inspect.isfunction(value) and not _same_code(old, value):
                changed.append(f"{short}.{name}")
            elif inspect.isclass(value) and value.__module__ == module_name:
                if not inspect.isclass(old):
                    changed.append(f"{short}.{name}")
                    continue
                for attr, method in vars(value).items():
                    if inspect.isfunction(method) and not _same_code(vars(old).get(attr), method):
                        changed.append(f"{short}.{name}.{attr}")
    return sorted(set(changed))


def run_check(args: dict[str, Any]) -> dict[str, Any]:
    """Evaluate one check expression on the student's variables with a fresh course_lib."""
    import sys

    result: dict[str, Any] = {"exercise": args["exercise"], "before": fingerprint(args["baseline"])}
    finder = SnapshotFinder(args["root"], unpack_modules(args["modules"]))
    sys.meta_path.insert(0, finder)
    try:
        outcome = _checked(args, finder)
    finally:  # the kernel's import system as it was, before the fingerprint after the check
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
    return result | outcome | {"after": fingerprint(args["baseline"])}


def _checked(args: dict[str, Any], finder: SnapshotFinder) -> dict[str, Any]:
    import sys
    import types

    from IPython import get_ipython

    result: dict[str, Any] = {}
    try:
        checks, stale = fresh_course_lib(finder)
    except Exception as exc:
        return result | {"status": "error", "message": f"course_lib failed to load: {exc}"}
    fresh = {
        n: m for n, m in sys.modules.items() if n == "course_lib" or n.startswith("course_lib.")
    }
    namespace = dict(get_ipython().user_ns)
    # The notebook's own names may still point at modules from an earlier import.
    held = [
        v
        for v in namespace.values()
        if isinstance(v, types.ModuleType) and v.__name__.partition(".")[0] == "course_lib"
    ]
    candidates = {id(m): m for m in [*stale.values(), *held]}
    result["replaced"] = _replaced(list(candidates.values()), fresh)
    namespace["checks"] = checks
    # Test data drawn afresh for this grading run (check_rng), so that answers written for
    # the test data in the checks' source do not match.
    salted = sys.modules["course_lib.checks._core"].fresh_inputs(int(args.get("salt", 0)))
    try:
        with salted:
            outcome, error = (
                eval(compile(args["expression"], "<exercise check>", "eval"), namespace),
                "",
            )
    except BaseException as exc:  # the student's code may raise anything, even SystemExit
        outcome, error = None, f"{type(exc).__name__}: {exc}"
    if error:
        return result | {"status": "error", "message": error}
    check_result = sys.modules["course_lib.record"].CheckResult
    if type(outcome) is not check_result:
        return result | {
            "status": "error",
            "message": f"the check returned a {type(outcome).__name__}",
        }
    passed = outcome.passed is True and outcome.exercise == args["exercise"]
    return result | {"status": "passed" if passed else "failed", "message": str(outcome.message)}
