"""Which exported model configs the judge rebuilds: Keras's own modelling objects, of a size
the course's models need.

The judge rebuilds a kernel's model from its JSON config with Keras's safe mode
(:func:`kernel_files.load_model`), whose refusals are a deny list: a config may name any
other function of Keras's public API, ``keras.config.set_epsilon`` as an ``Activation``
say, and calling the rebuilt model would then change the judge's process-wide settings for
every notebook judged after it. So every config is walked first (:func:`check`), and
refused unless every object it names is a Keras layer, model, initializer, regularizer,
constraint, dtype policy, optimizer, schedule, loss or metric, and every function it names
is one of Keras's own activation, loss or metric functions; and unless its sizes stay
within a budget, so that a config of a few hundred bytes cannot make the judge allocate
gigabytes or work for minutes. :func:`weight_budget` caps the weights the rebuild makes.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator
from typing import Any

# The course's largest legitimate models, measured by building them (Keras 3.15): the
# lesson-06/09 backbones at 224 pixels (course_lib.pretrained, weights=None).
# MobileNetV2 with its ImageNet head has 156 layers (nested ones counted), a 157 kB config
# and the largest unit count but one (1,000); VGG16 has the widest tensor
# (224 x 224 x 64 = 3.2 M values), 512 filters, 14.7 M weights without its head and a
# 59 MB .weights.h5; EfficientNet-Lite0 and MobileNetV2 have 1,280 filters. VGG16's head has
# 4,096 units (138 M weights, never an exercise's answer). Every limit is 2-4 times these.
MAX_LAYERS = 500  # 3.2 x 156
MAX_DIMENSION = 8192  # units, filters, sizes, every entry of a shape: 2 x 4,096
MAX_ELEMENTS = 12_000_000  # values in one shape (a batch's element): 3.7 x 3.2 M
MAX_WEIGHTS = 60_000_000  # weights the rebuild makes: 4 x VGG16's 14.7 M
MAX_CONFIG_BYTES = 1_000_000  # a model's .json: 6 x 157 kB
MAX_WEIGHTS_BYTES = 256_000_000  # a model's .weights.h5: 4.3 x 59 MB
_MAX_DEPTH = 100  # nesting of the JSON itself; the largest legitimate config has about 20

# Integers of a layer's config that are no sizes
_NOT_SIZES = frozenset({"seed", "keras_history", "node_index", "tensor_index"})
_SHAPES = frozenset(
    {"shape", "batch_shape", "input_shape", "batch_input_shape", "build_input_shape"}
    | {"target_shape", "output_shape"}
)
# Values, not objects: what Keras writes for tensors, arrays, bytes and slices in a config
_VALUES = frozenset({"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__"})
_VALUES |= {"__ellipsis__", "__slice__"}
# Layers that run code given to them, or read files: never rebuilt in the judge
_CODE_LAYERS = frozenset({"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer"})
_NOT_FUNCTIONS = frozenset({"get", "serialize", "deserialize"})
# Where Keras looks up a function it exported as "builtins" (serialization_lib.BUILTIN_MODULES)
_BUILTIN_MODULES = ("activations", "constraints", "initializers", "losses", "metrics")
_BUILTIN_MODULES += ("optimizers", "regularizers")


class Refused(ValueError):
    """A config the judge does not rebuild; the message is for the student.

    ``tampering``: set when the config names a Keras function that no model is made of
    (one of ``keras.config``'s setters, say) under a module Keras's own export never writes
    for it: only a forged export does that.
    """

    def __init__(self, message: str, tampering: str = "") -> None:
        super().__init__(message)
        self.tampering = tampering


def _keras_bases() -> tuple[type, ...]:
    import keras

    return (
        keras.layers.Layer,
        keras.initializers.Initializer,
        keras.regularizers.Regularizer,
        keras.constraints.Constraint,
        keras.DTypePolicy,
        keras.optimizers.Optimizer,
        keras.optimizers.schedules.LearningRateSchedule,
        keras.losses.Loss,
        keras.metrics.Metric,
    )


def _functions() -> set[Any]:
    """Keras's own activation, loss and metric functions (not their get/serialize helpers)."""
    import inspect

    import keras

    found = set()
    for module in (keras.activations, keras.losses, keras.metrics):
        for name in dir(module):
            value = getattr(module, name)
            if not name.startswith("_") and name not in _NOT_FUNCTIONS:
                if inspect.isfunction(value):
                    found.add(value)
    return found


def _resolve(module: str, name: str) -> Any:
    """What Keras's deserializer finds for ``module.name``, without importing anything."""
    from keras.src.api_export import get_symbol_from_name

    found = get_symbol_from_name(f"{module}.{name}")
    if found is None and module.startswith("keras.src."):
        found = vars(sys.modules[module]).get(name) if module in sys.modules else None
    return found


class _Walk:
    def __init__(self) -> None:
        self.layers = 0
        self.bases = _keras_bases()
        self.functions = _functions()

    def node(self, node: Any, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise Refused(f"your model's config is nested more than {_MAX_DEPTH} levels deep")
        if isinstance(node, list):
            for value in node:
                self.node(value, depth + 1)
        elif isinstance(node, dict):
            if "class_name" in node:
                self.keras_object(node)
            for value in node.values():
                self.node(value, depth + 1)

    def keras_object(self, node: dict[str, Any]) -> None:
        name, module = node.get("class_name"), node.get("module")
        if name in _VALUES and module is None:
            self.sizes(node.get("config"), "")
            return
        if not isinstance(name, str) or not isinstance(module, str):
            raise Refused(f"your model names {str(name)[:80]!r}, which is not a Keras object")
        if name == "function":
            self.function(module, node.get("config"))
            return
        found = _resolve(module, name) if module.partition(".")[0] == "keras" else None
        where = f"{module[:80]}.{name[:80]}"
        if not isinstance(found, type) or not issubclass(found, self.bases):
            raise Refused(
                f"your model names {where}, which is not one of Keras's own layers: the "
                "grader rebuilds only Keras's own layers, initializers and the like",
                _forged(found, where),
            )
        if found.__name__ in _CODE_LAYERS or found.__module__.startswith("keras.src.utils"):
            raise Refused(f"your model uses {name}, which runs code of its own or reads files")
        if issubclass(found, self.bases[0]):
            self.layers += 1
            if self.layers > MAX_LAYERS:
                raise Refused(f"your model has more than {MAX_LAYERS} layers, the grader's limit")
            config = node.get("config")
            if isinstance(config, dict) and isinstance(config.get("vocabulary"), str):
                raise Refused(f"your {name} reads its vocabulary from a file")
            self.sizes(config, "")
            self.sizes(node.get("build_config"), "")

    def function(self, module: str, name: Any) -> None:
        if not isinstance(name, str):
            raise Refused("your model names a function without a name")
        if module == "builtins":  # Keras's own export: looked up in its modules of built-ins
            candidates = [_resolve(f"keras.{m}", name) for m in _BUILTIN_MODULES]
            found = [c for c in candidates if c is not None]
            if found and all(c in self.functions for c in found):
                return
            where, forged = name[:80], ""
        else:
            where = f"{module[:80]}.{name[:80]}"
            resolved = _resolve(module, name) if module.partition(".")[0] == "keras" else None
            if resolved in self.functions:
                return
            forged = _forged(resolved, where)
        raise Refused(
            f"your model names {where}, which is not a layer or an activation: the grader "
            "rebuilds only Keras's own layers and activation functions",
            forged,
        )

    def sizes(self, node: Any, key: str) -> None:
        """Every size in a layer's config within the budget; nested Keras objects apart."""
        if isinstance(node, dict):
            if "class_name" in node and "module" in node:
                return  # walked as an object of its own
            for k, value in node.items():
                if k not in _NOT_SIZES:
                    self.sizes(value, str(k))
        elif isinstance(node, list):
            if key in _SHAPES and all(isinstance(v, int) for v in node if v is not None):
                # A shape: its entries can be wider than a layer (a Flatten's output), the
                # values it holds are capped
                elements = math.prod(abs(v) for v in node if v is not None)
                if elements > MAX_ELEMENTS:
                    raise Refused(
                        f"your model's {key} {node[:8]} holds {elements:,} values, more than "
                        f"the grader's limit of {MAX_ELEMENTS:,}"
                    )
                return
            for value in node:
                self.sizes(value, key)
        elif isinstance(node, int) and not isinstance(node, bool) and node > MAX_DIMENSION:
            raise Refused(
                f"your model's {key or 'config'} is {node}, more than the grader's limit of "
                f"{MAX_DIMENSION} for a size"
            )


def _forged(found: Any, where: str) -> str:
    """A tampering finding if ``found``, a Keras object no model is made of, was named."""
    if found is None or not where.startswith("keras"):
        return ""
    return f"the notebook exported a model whose config names {where}, which is no part of a model"


def check(config: Any) -> None:
    """Refuse (:class:`Refused`) a model config that names anything but Keras's modelling
    objects and functions, or exceeds the size budget; build nothing, import nothing."""
    _Walk().node(config, 0)


@contextlib.contextmanager
def weight_budget(limit: int = MAX_WEIGHTS) -> Iterator[None]:
    """Refuse, before it is made, any weight past ``limit`` values in all (the config's sizes
    can be within their limits and their product not: a Flatten before a wide Dense)."""
    from keras.src.layers.layer import Layer

    original = Layer.add_weight
    made = [0]

    def add_weight(self: Any, shape: Any = None, *args: Any, **kwargs: Any) -> Any:
        try:
            made[0] += math.prod(int(v) for v in shape or ())
        except (TypeError, ValueError):
            pass
        if made[0] > limit:
            raise Refused(f"your model has more than {limit:,} weights, the grader's limit")
        return original(self, shape, *args, **kwargs)

    Layer.add_weight = add_weight  # type: ignore[method-assign]
    try:
        yield
    finally:
        Layer.add_weight = original  # type: ignore[method-assign]
