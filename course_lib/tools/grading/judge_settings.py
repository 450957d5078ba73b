"""Keras's process-wide settings in the judge: recorded when Keras is loaded, and put back
after every request if anything changed them.

A check runs models rebuilt from what a kernel exported; whatever reached one of
``keras.config``'s setters (``set_epsilon``, ``set_max_epochs`` ...) would otherwise change
how the judge judges every notebook after it (:mod:`model_config` refuses the configs that
name them: this is the second line). What changed is reported, so that the notebook whose
export did it is named (a ``tampering:`` finding, :func:`two_phase._two_phase`).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from typing import Any

# keras.config's getters, and how to set each back
_SETTINGS: tuple[tuple[str, str], ...] = (
    ("epsilon", "set_epsilon"),
    ("floatx", "set_floatx"),
    ("image_data_format", "set_image_data_format"),
    ("max_epochs", "set_max_epochs"),
    ("max_steps_per_epoch", "set_max_steps_per_epoch"),
    ("dtype_policy", "set_dtype_policy"),
    ("is_flash_attention_enabled", "flash_attention"),
    ("is_interactive_logging_enabled", "interactive_logging"),
    ("is_traceback_filtering_enabled", "traceback_filtering"),
    ("is_nnx_enabled", ""),  # only read: a change is reported, there is no public setter
    ("backend", ""),
)
_BASELINE: dict[str, Any] = {}


def settings() -> dict[str, Any]:
    """Keras's process-wide settings now; empty if Keras is not loaded."""
    keras = sys.modules.get("keras")
    config = getattr(keras, "config", None)
    if config is None:
        return {}
    found = {}
    for getter, _ in _SETTINGS:
        if hasattr(config, getter):
            try:
                found[getter] = getattr(config, getter)()
            except Exception as exc:  # a value that cannot even be read is a change too
                found[getter] = exc
    return found


def record() -> None:
    """Take the baseline now (Keras loaded), or as soon as Keras is imported."""
    if _BASELINE:
        return
    if "keras" in sys.modules:
        _BASELINE.update(settings())
    elif not any(isinstance(f, _AfterKeras) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterKeras())


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    try:
        return bool((a == b) is True)  # a tensor compares element by element: never True
    except Exception:
        return False


def restore() -> list[str]:
    """Put back every setting that differs from the baseline; what changed, as text."""
    if not _BASELINE:
        record()
        return []
    import keras

    changed = []
    for getter, setter in _SETTINGS:
        if getter not in _BASELINE:
            continue
        before, now = _BASELINE[getter], settings().get(getter)
        if _same(before, now):
            continue
        changed.append(f"{getter}() from {_shown(before)} to {_shown(now)}")
        if setter.startswith("set_"):
            getattr(keras.config, setter)(before)
        elif setter:
            getattr(keras.config, f"{'enable' if before else 'disable'}_{setter}")()
    return changed


def _shown(value: Any) -> str:
    text = getattr(value, "name", None) if type(value).__name__.endswith("Policy") else None
    return (text or repr(value).replace("\n", " "))[:60]


class _AfterKeras(importlib.abc.MetaPathFinder):
    """Records the baseline right after ``import keras`` has run, before any use of it."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def run(module: Any) -> None:
            exec_module(module)
            _BASELINE.update(settings())

        spec.loader.exec_module = run  # type: ignore[method-assign]
        return spec
