"""Answers that call the course's own copy of an exercise, or a check's code, instead of
doing the work.

The library keeps functions that compute an exercise's answer, or its core: tested copies
of what a lesson has students write, for the lessons after it (``models.build_better_cnn``,
``explain.grad_cam_heatmaps``, ...), and the library's own ways to the same result
(``pretrained.classify_file`` reads and classifies a photo file as exercise 6.3 does, the
service's upload decoder answers 7.3). The checks compute what they expect with code of
their own (Keras' EarlyStopping replayed, say). An answer that calls one of them passes
without being the student's work. :func:`watched_call` runs the student's code with a
profiler that notes such a call: in the notebook (``_core.call_student``,
``_core.call_watched``) and in a graded kernel (``kernel_call.call_answer``). An exercise may
call the copy of an earlier one where its lesson does so itself (:data:`ALLOWED`): the watch
leaves that copy out while the exercise's check runs (:func:`forbidden`).

A copy called by the library's own code is the library at work, not the student: a copy
whose caller is a copy, or a function of the library found in its sources to call one
(:func:`library_callers`), counts only when the student's code called that. Which code is
the library's is decided by the code itself, compiled from the library's sources at their
lines (:func:`copy_sources`, :func:`compiled_copies`: code objects compare equal, ``==``,
whatever their file name), never by the file name the calling code claims: a notebook can
compile its own code under any name. So is a check's code calling its own (the checks'
code as the process imported it; no check runs in a graded kernel).

In a graded kernel this module is not imported: a notebook can replace anything there. The
judge sends its text and the sources of the copies the exercise forbids and of the
library's functions that call them with each call; the kernel runs them in a namespace of
their own, hands :func:`watched_call` the references to ``sys.setprofile`` and the like that
the grader took before the notebook's first cell (``tools/grading/guard.py``), and
recognises a copy, and the library's code, by its code compiled from those sources. The
notebook's watch compiles the same sources, read once. So the module imports nothing when
it is run, and the watch keeps what it decides with in its own locals and defaults while
the student's code runs.
"""

from __future__ import annotations

TYPE_CHECKING = False  # no import at all when the kernel runs this text
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# The exercises' answers the library keeps: ``(exercise, module, function)``, a method as
# ``Class.method``. A copy is a function of the library that computes an exercise's answer,
# or its core (what the exercise is about), whether the lesson shows it as the library's
# copy or uses it later on; with the library's functions that hand on what a copy computes
# (classify_file reads its file as read_image does, the service's route answers as the
# minimal app's does), since the library calling its own copy is let through.
_ANSWERED = (
    # 01: a grayscale photo; a centred crop (the service's crop to the model's aspect ratio)
    ("1.1", "course_lib.images", "to_grayscale"),
    ("1.2", "course_lib.serving.uploads", "_crop_to_aspect"),
    # 02: images to float32 in [0, 1] with a channel axis, as the pipelines and models do
    ("2.1", "course_lib.pipeline", "_scale_batch"),
    ("2.1", "course_lib.models", "scale_pixels"),
    ("2.1", "course_lib.models", "as_model_input"),
    ("2.1", "course_lib.serving.classifier", "Classifier.to_inputs"),
    ("2.1", "course_lib.serving.litert", "LiteRTClassifier.to_inputs"),
    # 03: the convolution; "same" padding
    ("3.1", "course_lib.images", "convolve2d"),
    ("3.4", "course_lib.images", "same_padding"),
    # 04: the regularised CNN
    ("4.3", "course_lib.models", "build_better_cnn"),
    # 05: the most confused pair; the k most probable classes, at the core of top-k accuracy
    # (the service ranks its answers the same way); Grad-CAM
    ("5.4", "course_lib.metrics", "most_confused_pairs"),
    ("5.5", "course_lib.pretrained", "decode_top_k"),
    ("5.5", "course_lib.serving.classifier", "top_k"),
    ("5.5", "course_lib.serving.predicting", "classify_inputs"),
    ("5.5", "course_lib.serving.predicting", "_record"),
    ("5.6", "course_lib.explain", "grad_cam_heatmaps"),
    # 06: EfficientNet-Lite0's preparation; a photo file read in RGB and classified; the top
    # blocks unfrozen
    ("6.2", "course_lib.pretrained", "resize"),
    ("6.2", "course_lib.efficientnet_lite", "scale"),
    ("6.2", "course_lib.pretrained", "Backbone.prepare"),
    ("6.2", "course_lib.serving.classifier", "ImageNetClassifier.prepare"),
    ("6.3", "course_lib.pretrained", "read_image"),
    ("6.3", "course_lib.pretrained", "classify_file"),
    ("6.3", "course_lib.photos", "read_photo"),
    ("6.3", "course_lib.photos", "read_photo_bytes"),
    ("6.3", "course_lib.photos", "predict_file"),
    ("6.3", "course_lib.retrain_data", "Examples.pixels"),
    ("6.3", "course_lib.retrain_data", "Examples.images"),
    ("6.5", "course_lib.pretrained", "unfreeze_from"),
    # 07: an upload prepared for a model; the /predict route (the minimal app's, and the
    # service's); an upload's size checked before it is decoded, and a reason for a bad one
    ("7.1", "course_lib.serving.uploads", "to_model_pixels"),
    ("7.1", "course_lib.serving.classifier", "Classifier.prepare"),
    ("7.1", "course_lib.serving.classifier", "KerasClassifier.prepare"),
    ("7.1", "course_lib.serving.litert", "LiteRTClassifier.prepare"),
    ("7.2", "course_lib.serving.minimal", "create_minimal_app"),
    ("7.2", "course_lib.serving.app", "create_app"),
    ("7.2", "course_lib.serving.predicting", "classify_files"),
    ("7.3", "course_lib.serving.uploads", "decode_image"),
    ("7.3", "course_lib.serving.uploads", "decode_upload"),
    ("7.3", "course_lib.serving.uploads", "_check_size"),
    ("7.3", "course_lib.retrain_data", "Examples.add"),
    ("7.3", "course_lib.retrain_data", "read_folder"),
    ("7.3", "course_lib.retrain_data", "feedback_examples"),
    # 08: the distributed train step; TF_CONFIG; the representative dataset
    ("8.1", "course_lib.distributed", "make_train_step"),
    ("8.2", "course_lib.distributed_cluster", "tf_config"),
    ("8.4", "course_lib.edge", "representative_dataset"),
    # 09: a photo upright in RGB, transparency on white; the split by class; the images-in
    # model
    ("9.1", "course_lib.photos", "upright_rgb"),
    ("9.1", "course_lib.serving.uploads", "normalise_mode"),
    ("9.1", "course_lib.serving.uploads", "_on_white"),
    ("9.2", "course_lib.photos", "split_files"),
    ("9.2", "course_lib.photos", "split_counts"),
    ("9.2", "course_lib.photos", "prepare_folder"),
    ("9.3", "course_lib.photos", "build_images_in_model"),
)
COPIES = tuple((module, name) for _, module, name in _ANSWERED)
# The exercise each copy answers
ANSWERS = {f"{module}.{name}": exercise for exercise, module, name in _ANSWERED}
# The copies an exercise's answer may call, because the lesson itself calls them for that
# exercise (the cell after exercise 3.3 sums exercise 3.1's convolve2d over the channels) or
# its task asks for them (6.3 prepares the file with backbone.prepare and may give its answer
# in decode_top_k's format). Each of them is still no answer to its own exercise.
_AS_IN_TRAINING = (("course_lib.models", "scale_pixels"), ("course_lib.models", "as_model_input"))
ALLOWED: dict[str, tuple[tuple[str, str], ...]] = {
    "3.3": (("course_lib.images", "convolve2d"),),
    "6.3": (
        ("course_lib.pretrained", "Backbone.prepare"),
        ("course_lib.pretrained", "decode_top_k"),
    ),
    # pixels scaled "as in training": lesson 07 does it with models.as_model_input before
    # asking for an upload prepared (7.1) and a route that prepares one (7.2); lesson 08 just
    # before asking for calibration images "scaled exactly as the model sees them" (8.4)
    "7.1": _AS_IN_TRAINING,
    "7.2": _AS_IN_TRAINING,
    "8.4": _AS_IN_TRAINING,
}
# The exercises whose checks are running, the innermost last (``_core.run_check`` sets it)
CHECKING: list[str] = []
# Whether a call of a check's own code counts too (tests turn both off to build answers)
WATCH_CHECKS = True
# The exception's name: it travels from a graded kernel to the judge as a name and a message
COPY_USED = "CourseCopyUsed"
# What the student is told when their code switched the watch off
SWITCHED_OFF = "sys.setprofile, which switched off the check's watch on these calls"
# What the student is told when their code called code built by hand with objects of its own
# among its names or constants (code.replace), which the watch cannot look at safely: hashing
# or comparing them would run the student's code inside the watch, where nothing is watched
HAND_BUILT = "code built by hand (code.replace) holding objects of its own"
# The audit events the watch raises for each copy it sees and each thread the student's code
# starts: the grader's guard counts them (tools/grading/guard.py)
COPY_EVENT = "course-grader.copy"
THREAD_EVENT = "course-grader.thread"
# Grading machinery in checks/, which calls the student's code rather than answering for it
_MACHINERY = frozenset(
    {"__init__.py", "_core.py", "_drivers.py", "_batch_service.py", "_copies.py"}
)
# Grading machinery in checks/ that serves the student's code (the web service 7.4's client
# talks to, run by the judge): its own calls of a copy (the service's upload decoder) are the
# checks', not the student's
_SERVICES = frozenset({"_batch_service.py"})


class CourseCopyUsed(Exception):
    """The student's code called the course's own copy of the exercise, or a check's code."""


def message(name: str, exercise: str = "", _answers: dict[str, str] = ANSWERS) -> str:
    """What the student is told when their code, checked for ``exercise``, called ``name``."""
    if name.startswith("sys.setprofile"):
        return f"your code calls {name}; leave it alone, and write the answer yourself."
    if name == HAND_BUILT:
        return f"your code calls {name}; write the answer as ordinary Python code."
    if name.startswith("course_lib.checks."):
        return (
            f"your code calls {name}, part of the check that judges it; write the answer yourself."
        )
    answered = _answers.get(name, "")
    if exercise and answered and answered != exercise:
        return (
            f"your code calls {name}, the course's own copy of exercise {answered}, kept for "
            "the lessons after it; this exercise is to write the code yourself."
        )
    return (
        f"your code calls {name}, the course's own copy of this exercise, kept for the "
        "lessons after it; the exercise is to write it yourself."
    )


def forbidden(exercise: str | None = None) -> tuple[tuple[str, str], ...]:
    """The copies the student's code may not call in ``exercise``: :data:`COPIES` but those
    the exercise allows (:data:`ALLOWED`). By default, the exercise whose check is running."""
    if exercise is None:
        exercise = CHECKING[-1] if CHECKING else ""
    allowed = ALLOWED.get(exercise, ())
    return tuple(copy for copy in COPIES if copy not in allowed)


def copy_sources(functions: tuple[tuple[str, str], ...]) -> dict[str, list[Any]]:
    """``{module: [file, text, [names]]}``: what a kernel compiles functions of the library from.

    ``functions``: ``((module, name), ...)``, a name being a function's or a method's
    (``"Backbone.prepare"``). Each module's text keeps those functions (a method: with its
    class's header) and the module's statements that import at their lines, and leaves out
    the rest: the functions compile to code equal (``==``) to the code of the module as
    imported (the ``__future__`` import changes how a module compiles, and a method called on
    a name the module imports, even under ``if TYPE_CHECKING:``, compiles otherwise). Read
    through the loader of course_lib (:func:`_source`), which in the judge serves the
    grader's snapshot of the course.
    """
    found: dict[str, list[Any]] = {}
    for module, name in functions:
        if module not in found:
            source = _source(module)
            if source is None:
                continue
            found[module] = [source[0], source[1], []]
        if name not in found[module][2]:
            found[module][2].append(name)
    for module, entry in found.items():
        lines, names = entry[1].splitlines(), set(entry[2])
        names.update(name.partition(".")[0] for name in entry[2])  # a method's class header
        kept = [""] * len(lines)
        for name, start, end in _references(module)[2]:
            if name is None or name in names:
                kept[start - 1 : end] = lines[start - 1 : end]
        entry[1] = "\n".join(kept) + "\n"
    return found


def compiled_copies(
    sources: dict[str, list[Any]], compile_: Callable[..., Any] = compile
) -> tuple[tuple[Any, str], ...]:
    """``((code, "module.function"), ...)`` compiled from :func:`copy_sources`' texts.

    The code of each function named there, and the code nested in it (its inner functions,
    lambdas and comprehensions: a closure a copy returns is the copy too), each named after
    the function.
    """
    found = []
    for module, (filename, text, names) in sources.items():
        code = compile_(text, filename, "exec", dont_inherit=True)
        pending = [(code, "")]
        while pending:
            current, owner = pending.pop()
            if not owner and current.co_qualname in names:
                owner = f"{module}.{current.co_qualname}"
            if owner:
                found.append((current, owner))
            pending.extend((c, owner) for c in current.co_consts if type(c) is type(code))
    return tuple(found)


def library_callers(copies: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """``((module, name), ...)``: the library's other functions and methods that call ``copies``.

    Found in the sources (:func:`_source`) of course_lib outside checks/ and tools/: a
    top-level function, or a method of a top-level class, whose code (nested code included)
    names a copy, as a name the module defines or imports for it, or as any attribute of that
    name (``images.convolve2d``, ``self.scale``, ``backbone.prepare``). Naming more functions
    than truly call a copy lets through only calls made by the library's own code, of the
    copies each names (:func:`named_copies`).
    """
    wanted = set(copies)
    found = []
    for module in _library_modules():
        for name, _, _ in _references(module)[1]:
            if (module, name) not in wanted and _named_in(module, name, copies):
                found.append((module, name))
    return tuple(found)


def named_copies(
    functions: tuple[tuple[str, str], ...], copies: tuple[tuple[str, str], ...]
) -> dict[str, tuple[str, ...]]:
    """``{"module.function": ("module.copy", ...)}``: the ``copies`` each of ``functions``
    names in its source (as :func:`library_callers` finds them), the only ones its code, and
    the code nested in it, may call for the student."""
    named = {}
    for module, name in functions:
        found = _named_in(module, name, copies)
        if found:
            named[f"{module}.{name}"] = found
    return named


def _named_in(module: str, unit: str, copies: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """The ``copies`` (as ``"module.name"``) that ``module``'s function ``unit`` names."""
    imported, units, _ = _references(module)
    for name, attributes_named, names_named in units:
        if name != unit:
            continue
        aliases = {alias: copy for alias, copy in imported}
        return tuple(
            f"{where}.{copy}"
            for where, copy in copies
            if copy.rpartition(".")[2] in attributes_named
            or (where == module and "." not in copy and copy in names_named)
            or any(aliases.get(alias) == (where, copy) for alias in names_named)
        )
    return ()


# What each module's functions name: {module: (imported names, units)} (:func:`_references`)
_REFERENCES: dict[str, Any] = {}


def _references(module: str) -> Any:
    """What a module's source holds, read once: ``(imported, units, spans)``.

    ``imported``: ``((alias, (module, name)), ...)``, the names its ``from ... import``
    statements bind; ``units``: ``((function, attributes, names), ...)``, for each top-level
    function or method of a top-level class, the attribute names and the plain names its
    code (nested code included) uses; ``spans``: ``((name, first line, last line), ...)``,
    the lines of each top-level statement that imports (named None), top-level function
    (its decorators included), method of a top-level class (``"Class.method"``) and class
    header (the class's name: its lines before its body).
    """
    if module not in _REFERENCES:
        import ast

        source = _source(module)
        tree = ast.parse(source[1]) if source is not None else ast.Module([], [])
        imported = tuple(
            (alias.asname or alias.name, (node.module, alias.name))
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and not node.level
            for alias in node.names
        )
        functions = (ast.FunctionDef, ast.AsyncFunctionDef)
        units, spans = [], []
        for node in tree.body:
            if not isinstance(node, (*functions, ast.ClassDef)) and any(
                isinstance(part, (ast.Import, ast.ImportFrom)) for part in ast.walk(node)
            ):  # an import, or a statement holding one (``if TYPE_CHECKING:``)
                spans.append((None, node.lineno, node.end_lineno))
            if isinstance(node, functions):
                named = [(node.name, node)]
            elif isinstance(node, ast.ClassDef):
                named = [
                    (f"{node.name}.{i.name}", i) for i in node.body if isinstance(i, functions)
                ]
                opened = _first_line(node.body[0])  # the class's header ends before it
                spans.append((node.name, _first_line(node), max(node.lineno, opened - 1)))
            else:
                continue
            for name, unit in named:
                spans.append((name, _first_line(unit), unit.end_lineno))
                parts = list(ast.walk(unit))
                units.append(
                    (
                        name,
                        frozenset(p.attr for p in parts if isinstance(p, ast.Attribute)),
                        frozenset(p.id for p in parts if isinstance(p, ast.Name)),
                    )
                )
        _REFERENCES[module] = (imported, tuple(units), tuple(spans))
    return _REFERENCES[module]


def _first_line(node: Any) -> int:
    """A definition's first line: its first decorator's, if it has one."""
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


# The course's modules as course_lib's loader has them: {name: [file, text or None]}
_SOURCES: dict[str, list[Any]] = {}


def _course_modules() -> dict[str, list[Any]]:
    """Every module of course_lib: ``{name: [file, text]}``, the text read when first asked for.

    From the grader's snapshot where course_lib was imported from it (the judge), else from
    the folder course_lib was imported from. Importing none of them.
    """
    if _SOURCES:
        return _SOURCES
    import importlib.util
    import os

    spec = importlib.util.find_spec("course_lib")
    served = getattr(spec.loader, "modules", None) if spec is not None else None
    if isinstance(served, dict):  # the grader's snapshot (tools/grading/snapshot_finder.py)
        root = str(spec.loader.root)
        for name, (relative, text, _) in served.items():
            _SOURCES[name] = [os.path.join(root, relative), text]
    elif spec is not None and spec.origin is not None:
        folder = os.path.dirname(spec.origin)
        for where, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
            package = os.path.relpath(where, os.path.dirname(folder)).replace(os.sep, ".")
            for file in sorted(files):
                if file.endswith(".py"):
                    stem = file[:-3]
                    name = package if stem == "__init__" else f"{package}.{stem}"
                    _SOURCES[name] = [os.path.join(where, file), None]
    return _SOURCES


def _source(module: str) -> tuple[str, str] | None:
    """``(file, text)`` of a course_lib module, as course_lib's loader has it; None if none."""
    entry = _course_modules().get(module)
    if entry is None:
        return None
    if entry[1] is None:
        with open(entry[0], encoding="utf-8") as handle:
            entry[1] = handle.read()
    return entry[0], entry[1]


def _library_modules() -> list[str]:
    """The library's modules: course_lib but its checks and the tools."""
    return [
        name
        for name in _course_modules()
        if not name.startswith(("course_lib.checks.", "course_lib.tools."))
        and name not in ("course_lib.checks", "course_lib.tools")
    ]


# What the notebook's watch compiled, by the copies it watches: (copies, the library's code)
_PREPARED: dict[tuple[tuple[str, str], ...], tuple[Any, Any]] = {}


def _loaded_copies() -> tuple[tuple[tuple[Any, str], ...], tuple[tuple[Any, str], ...]]:
    """The code of the copies the running exercise forbids (:func:`forbidden`), and of the
    library's functions that call them (:func:`library_callers`), compiled from the sources
    of the modules as this process imports them (the notebook's watch), once."""
    copies = forbidden()
    if copies not in _PREPARED:
        _PREPARED[copies] = (
            compiled_copies(copy_sources(copies)),
            compiled_copies(copy_sources(library_callers(copies))),
        )
    return _PREPARED[copies]


# What each watched function of the library names, by the copies watched (:func:`named_copies`)
_NAMED: dict[tuple[tuple[str, str], ...], dict[str, tuple[str, ...]]] = {}


def _loaded_named() -> dict[str, tuple[str, ...]]:
    """The copies the running exercise forbids that each copy and library caller names."""
    copies = forbidden()
    if copies not in _NAMED:
        _NAMED[copies] = named_copies(copies + library_callers(copies), copies)
    return _NAMED[copies]


def opcodes() -> tuple[int, int, int, int]:
    """This Python's ``CACHE``, ``CALL``, ``CALL_FUNCTION_EX`` and ``LOAD_ATTR`` opcodes: the
    watch tells a function called by the code of its calling frame from one called through
    a function of C's that frame called (``map``, ``list``, ``sorted``...). The judge sends
    its own with each call (the same Python as the kernel's); the notebook's watch takes them
    from :mod:`dis`."""
    import dis

    return tuple(dis.opmap[name] for name in ("CACHE", "CALL", "CALL_FUNCTION_EX", "LOAD_ATTR"))


# A copy's own code (not the code nested in it) at least this long (bytes of bytecode) is
# known by what it does (:func:`code_key`), whatever its name, file name and first line;
# shorter code, and a comprehension or closure, which a student's own could match by chance,
# only as compiled from the library's source
KEYED_LENGTH = 40
# The flags of code run as a generator or coroutine, resumed rather than called
_RESUMED = 0x20 | 0x80 | 0x200


# The types of the constants a compiler puts in code (besides tuples, frozensets and code)
_COMPILED_CONSTANTS = (type(None), type(...), bool, int, float, complex, str, bytes)


def plain_code(
    code: Any,
    _type: Any = type,
    _str: Any = str,
    _tuple: Any = tuple,
    _frozenset: Any = frozenset,
    _constants: tuple[type, ...] = _COMPILED_CONSTANTS,
) -> bool:
    """Whether ``code``, and the code nested in it, holds only what a compiler puts there.

    Its names are ``str`` and its constants of the built-in types a compiler makes, exactly:
    not subclasses, not objects of the student's. Only such code may be hashed or compared:
    ``code in ...`` hashes its constants, ``==`` compares them, and code built by hand
    (``code.replace``) could run the student's code that way inside the watch, where nothing
    is watched. Looks at types only, by identity, and looks up no name.
    """
    code_type = _type(code)
    pending = [code]
    while pending:
        current = pending.pop()
        if (
            _type(current.co_name) is not _str
            or _type(current.co_qualname) is not _str
            or _type(current.co_filename) is not _str
        ):
            return False
        for names in (
            current.co_names,
            current.co_varnames,
            current.co_freevars,
            current.co_cellvars,
        ):
            if _type(names) is not _tuple:
                return False
            for name in names:
                if _type(name) is not _str:
                    return False
        values = [current.co_consts]
        while values:
            value = values.pop()
            kind = _type(value)
            if kind is _tuple or kind is _frozenset:
                values.extend(value)
            elif kind is code_type:
                pending.append(value)
            else:
                for constant in _constants:
                    if kind is constant:
                        break
                else:
                    return False
    return True


def code_key(code: Any, _type: Any = type, _tuple: Any = tuple, _str: Any = str) -> tuple[Any, ...]:
    """What ``code`` does, without its name, file name, first line or local variables' names.

    Its bytecode, the names and constants it uses (a docstring left out), its arguments'
    names and count, its flags, and the same of the code nested in it, in order. Looks up no
    name: the watch calls it while the student's code runs.
    """
    code_type = _type(code)
    parts, pending = [], [code]
    while pending:
        current = pending.pop()
        consts, first = [], True
        for const in current.co_consts:
            if _type(const) is code_type:
                consts.append(code_type)
                pending.append(const)
            elif first and _type(const) is _str:
                consts.append(None)  # a docstring, which changes nothing the code does
            else:
                consts.append((_type(const), const))
            first = False
        arguments = current.co_argcount + current.co_kwonlyargcount
        parts.append(
            (
                current.co_code,
                current.co_names,
                current.co_varnames[:arguments],
                current.co_freevars,
                current.co_cellvars,
                current.co_argcount,
                current.co_posonlyargcount,
                current.co_kwonlyargcount,
                current.co_flags,
                _tuple(consts),
            )
        )
    return _tuple(parts)


def _check_code() -> tuple[Any, ...]:
    """The code of the checks as this process imported them: their functions and methods,
    and the code nested in them (the notebook's watch; a graded kernel runs no check)."""
    import sys

    function, code_type = type(_check_code), type(_check_code.__code__)
    found: list[Any] = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("course_lib.checks.") or module is None:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, type) and value.__module__ == name:
                held = [getattr(item, "__func__", item) for item in vars(value).values()]
                held += [getattr(item, "fget", None) for item in vars(value).values()]
            elif type(value) is function:
                held = [value]
            else:
                continue
            found.extend(
                item.__code__ for item in held if type(item) is function and item.__module__ == name
            )
    functions = tuple(found)
    for known, code in _CHECK_CODE:
        if len(known) == len(functions) and known == functions:  # identity first, each
            return code
    pending = list(found)
    while pending:
        nested = [c for c in pending.pop().co_consts if type(c) is code_type]
        found.extend(nested)
        pending.extend(nested)
    _CHECK_CODE[:] = [(functions, tuple(found))]
    return tuple(found)


# The checks' functions' code as last found, with the code nested in it
_CHECK_CODE: list[tuple[tuple[Any, ...], tuple[Any, ...]]] = []


def _own_tools() -> dict[str, Any]:
    """This process's own profiler switches (the notebook's watch: no guard counts calls)."""
    import sys
    import threading

    return {
        "setprofile": sys.setprofile,
        "getprofile": sys.getprofile,
        "thread_setprofile": threading.setprofile,
        "thread_getprofile": threading.getprofile,
    }


def _course() -> tuple[str, str]:
    """The folder of course_lib, and the path separator."""
    import os

    return os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.sep


# The sets the watch makes of the checks' code, for the last code it was given: the next
# call of the student's code is most often watched with the same
_CHECK_SETS: list[tuple[tuple[Any, ...], str, frozenset[Any], frozenset[Any]]] = []


def _check_sets(check_code: tuple[Any, ...], sep: str) -> tuple[frozenset[Any], frozenset[Any]]:
    """The checks' code as a set, and the code of the checks' services (:data:`_SERVICES`)."""
    for known, known_sep, codes, services in _CHECK_SETS:
        # the same code objects, in the same order (compared by identity first, each)
        if known_sep == sep and len(known) == len(check_code) and known == check_code:
            return codes, services
    codes = frozenset(check_code)
    services = frozenset(
        code for code in check_code if code.co_filename.rpartition(sep)[2] in _SERVICES
    )
    _CHECK_SETS[:] = [(tuple(check_code), sep, codes, services)]
    return codes, services


def _profile(
    copies: tuple[tuple[Any, str], ...],
    course: tuple[str, str],
    used: list[str],
    tools: dict[str, Any],
    watch_checks: bool,
    own: Any,
    callers: tuple[tuple[Any, str], ...] = (),
    check_code: tuple[Any, ...] = (),
    named: dict[str, tuple[str, ...]] | None = None,
    ops: tuple[int, ...] | None = None,
) -> Callable[..., None]:
    """The profiler: notes in ``used`` each copy, or check's code, the student's code calls.

    A copy is known by its code: equal (``==``) to the code compiled from the library's
    source, or, for a copy's own code long enough (:data:`KEYED_LENGTH`), doing the same
    (:func:`code_key`: a copy renamed, moved to other lines or given another file name).
    It counts unless the library's own code calls it: the copies' and ``callers``' code
    (:func:`library_callers`), compiled from the library's sources, whatever the file name
    the calling code claims, and only a copy that code names (``named``:
    :func:`named_copies`; any copy without it), called by that code itself (``ops``,
    :func:`opcodes`: not through a function of C's it called, such as ``map`` handed the
    copy by the student's code; a generator may be resumed by anything); or a service of
    the checks' (:data:`_SERVICES`), in ``check_code``. A check's code counts unless a
    check's own code calls it (``check_code``: the checks' code as this process imported it).
    So does a call of ``sys.setprofile`` (not the watch's own, in ``own``) or of
    ``threading.setprofile``.
    With a guard (``tools["audit"]``) it reports each copy it notes, and each thread the
    student's code starts, for the guard to count. Nothing ``used`` holds changes what it
    does: the student's code can reach that list (see :func:`watched_call`).
    Everything it decides with is in its defaults, set before the student's code runs, and
    it looks up no name at all: the student's code may change any module meanwhile.
    """
    folder, sep = course
    audit, thread_code = tools.get("audit"), getattr(tools["thread_setprofile"], "__code__", None)
    start, joinable = tools.get("thread_starts", (None, None))
    library = copies + callers
    if named is None:
        allowed = frozenset((code, name) for code, _ in library for _, name in copies)
    else:
        allowed = frozenset(
            (code, name) for code, owner in library for name in named.get(owner, ())
        ) | frozenset(copies)  # a copy's code calling the code nested in it (a comprehension)
    keyed = tuple(
        (code, name)
        for code, name in copies
        if len(code.co_code) >= KEYED_LENGTH and "<" not in code.co_qualname  # not nested code
    )
    cache, call, call_ex, load_attr = ops if ops is not None else (None, None, None, None)

    # What the watch needs on a rare event only (a copy's name, the checks' code): one
    # default, so that the common events, a call of code of no concern, start a small frame
    rare = (
        frozenset(code for code, _ in copies),
        tuple((code_key(c), name) for c, name in keyed),
        code_key,
        plain_code,
        HAND_BUILT,
        allowed,
        ops is not None,
        cache,
        call,
        call_ex,
        load_attr,
        _RESUMED,
        *_check_sets(check_code, sep),
        copies,
        COPY_EVENT,
        THREAD_EVENT,
        SWITCHED_OFF,
        _MACHINERY,
        sep,
        1000,
    )

    def profile(
        frame: Any,
        event: str,
        arg: Any,
        _names: frozenset[str] = frozenset(code.co_qualname for code, _ in copies),
        # What a copy keeps however it is renamed, moved or rebuilt (a larger stack, more
        # local variables): its arguments' count and its bytecode, both in its key
        # (:func:`code_key`), a cheap look before it: the bytecode is bytes Python made,
        # whatever the code was built from, and other code rarely has a copy's
        _shapes: frozenset[tuple[int, bytes]] = frozenset(
            (code.co_argcount, code.co_code) for code, _ in keyed
        ),
        _type: Any = type,
        _str: Any = str,
        _used: list[str] = used,
        _audit: Any = audit,
        _start: Any = start,
        _joinable: Any = joinable,
        _setprofile: Any = tools["setprofile"],
        _thread_code: Any = thread_code,
        _own: Any = own,
        _checks: str = folder + sep + "checks" + sep,
        _watch_checks: bool = watch_checks,
        _len: Any = len,
        _rare: tuple[Any, ...] = rare,
    ) -> None:
        if event == "c_call":
            if arg is _setprofile:
                if frame.f_code is not _own:
                    _off = _rare[17]
                    _used.append(_off)
                    if _audit is not None:
                        _audit(_rare[15], _off)
            elif _audit is not None and (arg is _start or arg is _joinable):
                _audit(_rare[16], "")  # a new thread, which must take this profile
            return
        if event != "call":
            return
        code = frame.f_code
        if code is _thread_code:
            _off = _rare[17]
            _used.append(_off)
            if _audit is not None:
                _audit(_rare[15], _off)
            return
        # Code built by hand with objects of the student's among its names or constants:
        # hashing or comparing them would run them here, inside the watch, unwatched
        qualname = code.co_qualname
        hand = _type(qualname) is not _str
        if hand or qualname in _names:
            pass
        elif (code.co_argcount, code.co_code) not in _shapes:
            # the common case: code of no copy's name or shape, a check's code at most
            if not _watch_checks:
                return
            filename = code.co_filename
            if _type(filename) is not _str or not filename.startswith(_checks):
                return  # (a file name of the student's type: its code is no check's either)
        (
            _codes,
            _keyed,
            _key,
            _plain,
            _hand,
            _allowed,
            _direct,
            _cache,
            _call,
            _call_ex,
            _load_attr,
            _resumed,
            _check_code,
            _services,
            _copies,
            _event,
            _thread_event,
            _off,
            _machinery,
            _sep,
            _kept,
        ) = _rare
        name = ""
        if not hand and qualname in _names:
            hand = not _plain(code)
            if not hand and code in _codes:
                for known, copy in _copies:
                    if known == code:
                        name = copy
                        break
        # named as a copy or not: a copy moved to other lines keeps its name
        if not hand and not name and (code.co_argcount, code.co_code) in _shapes:
            hand = not _plain(code)
            if not hand:
                key = _key(code)  # a copy's code renamed, moved or given another file name
                for known, copy in _keyed:
                    if known == key:
                        name = copy
                        break
        if hand:
            if _len(_used) < _kept:
                _used.append(_hand)
            if _audit is not None:
                _audit(_event, _hand)
            return
        if name:
            # the library's own code calling its function is fine; the student's code calling
            # it, or the checks' machinery calling it because it was handed in as the answer,
            # is not, nor code compiled under a file name of the library's, nor the library's
            # code handed the copy to call (a C function it calls, such as list(), running
            # the student's map(copy, ...))
            back = frame.f_back
            if back is not None and not _plain(back.f_code):
                back = None  # code built by hand calling a copy: the student's code
            if back is not None:
                if back.f_code in _services:
                    return
                if (back.f_code, name) in _allowed:
                    if not _direct or code.co_flags & _resumed:
                        return
                    bytecode, at = back.f_code.co_code, back.f_lasti
                    op = bytecode[at]
                    if op == _cache:  # an inlined call leaves its frame past the call's cache
                        while at > 0 and bytecode[at] == _cache:
                            at -= 2
                        if bytecode[at] == _call:
                            return
                    elif op == _call_ex or (op == _load_attr and code.co_argcount == 1):
                        return  # f(*args), or a property's getter
            if _len(_used) < _kept:  # a copy called in a loop: its first calls are enough
                _used.append(name)
            if _audit is not None:
                _audit(_event, name)
            return
        if not _watch_checks:
            return
        filename = code.co_filename
        if _type(filename) is not _str or not filename.startswith(_checks):
            return  # (a file name of the student's type: its code is no check's either)
        module = filename.rpartition(_sep)[2]
        if module in _machinery:
            return
        back = frame.f_back
        if back is not None and _plain(back.f_code) and back.f_code in _check_code:
            return  # a check calling its own code
        name = "course_lib.checks." + module.removesuffix(".py") + "." + code.co_name
        if _len(_used) < _kept:
            _used.append(name)
        if _audit is not None:
            _audit(_event, name)

    return profile


def watched_call(
    func: Callable[..., Any],
    args: tuple[Any, ...] | list[Any],
    copies: tuple[tuple[Any, str], ...] | None = None,
    course: tuple[str, str] | None = None,
    tools: dict[str, Any] | None = None,
    watch_checks: bool | None = None,
    callers: tuple[tuple[Any, str], ...] | None = None,
    check_code: tuple[Any, ...] | None = None,
    named: dict[str, tuple[str, ...]] | None = None,
    ops: tuple[int, ...] | None = None,
) -> tuple[Any, BaseException | None, str, str]:
    """``func(*args)`` with the watch on: ``(result, what it raised, used, off)``.

    ``used`` names the copy or check's code the student's code called (``SWITCHED_OFF`` if
    it switched the watch off), "" if none; ``off`` says how the watch was switched off, ""
    if it stayed on. The watch covers the threads that code starts through ``threading``.
    In a graded kernel ``copies``, ``callers``, ``named``, ``ops``, ``course`` and ``tools``
    are the grader's (see the module's docstring), ``check_code`` is empty (no check runs
    there), and ``tools["counts"]`` gives the guard's counts, which the notebook cannot lower:
    a call of ``sys.setprofile`` or ``sys.settrace`` but the watch's own two, a copy seen
    while the watch's record (which the student's code can reach) names none it knows, or a
    thread started that did not take the watch's profile, is switching it off.
    After the student's code ran, this function looks up no name: only its locals.
    """
    tools = _own_tools() if tools is None else tools
    if copies is None:
        copies, callers = _loaded_copies()
        named = _loaded_named() if copies else named
        ops = opcodes() if ops is None else ops
    callers = () if callers is None else callers
    course = _course() if course is None else course
    watch_checks = WATCH_CHECKS if watch_checks is None else watch_checks
    if check_code is None:
        check_code = _check_code() if watch_checks else ()
    setprofile, getprofile = tools["setprofile"], tools["getprofile"]
    thread_setprofile, thread_getprofile = tools["thread_setprofile"], tools["thread_getprofile"]
    counts, sleep = tools.get("counts"), tools.get("sleep")
    waits = range(40) if counts is not None else range(0)
    # Bound before the student's code runs, which may rebind any global or built-in name
    switched_off, caught, as_tuple, type_of, text = SWITCHED_OFF, BaseException, tuple, type, str
    hand_built = HAND_BUILT
    known, of_checks = (
        frozenset([switched_off, hand_built, *(name for _, name in copies)]),
        "course_lib.checks.",
    )
    used: list[str] = []
    profile = _profile(
        copies,
        course,
        used,
        tools,
        watch_checks,
        watched_call.__code__,
        callers,
        check_code,
        named,
        ops,
    )
    before = counts() if counts is not None else None
    previous, previous_threads = getprofile(), thread_getprofile()
    result, raised, off = None, None, ""
    try:
        try:
            thread_setprofile(profile)  # threads the student's code starts meanwhile
            setprofile(profile)
        except caught as exc:  # refused by an audit hook of the notebook's
            off = f"the watch could not start ({type(exc).__name__})"
        if not off and getprofile() is not profile:
            off = "the watch did not start"
        if not off:
            try:
                result = func(*args)
            except caught as exc:  # the student's code may raise anything
                raised = exc
            if getprofile() is not profile:
                off = "the profile was no longer in place after the call"
            elif thread_getprofile() is not profile:
                off = "threading's profile was no longer in place after the call"
            # A thread the answer started and left running takes the profile as it starts:
            # a moment to do so, before it is compared with the threads started
            for _ in waits:
                now = counts()
                if now is None or before is None or now[2] - before[2] <= now[3] - before[3]:
                    break
                sleep(0.05)
    finally:  # an interrupt too (a time limit) leaves the kernel's profile as it was
        setprofile(previous)
        thread_setprofile(previous_threads)
    # The first name in the record that the watch writes: the student's code can reach the
    # list, and put anything in it or take anything out
    found = ""
    for item in as_tuple(used):
        if type_of(item) is text and (item in known or item.startswith(of_checks)):
            found = item
            break
    if counts is not None:
        after = counts()
        if before is None or after is None:
            off = off or "the grader's guard did not answer"
        elif after[0] - before[0] != 2:  # the watch's own: switched on, then off
            off = off or "sys.setprofile or sys.settrace was called"
        elif after[1] != before[1] and not found:
            off = off or "the watch's record of the copies called was emptied or changed"
        elif after[2] - before[2] > after[3] - before[3]:
            off = off or "a thread the student's code started was not watched"
    if found == switched_off:
        off = off or "sys.setprofile or threading.setprofile was called"
    elif found == hand_built:
        off = off or (
            "code built by hand (code.replace), with objects of its own among its names or "
            "constants, was called"
        )
    if off and not found:
        found = switched_off
    return result, raised, found, off
