"""The judge rebuilds only Keras's own modelling objects, of a size the course needs, and a
notebook's export can change none of its process-wide settings for the notebooks after it."""

import json

import nbformat
import numpy as np
import pytest
from grading_support import unrendered_plots  # noqa: F401 - used by name below
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from solution_support import exercises_key, solution_cells

from course_lib.messages import plain_text
from course_lib.tools.grading import judge, judge_settings, model_config
from course_lib.tools.grading.execute import grade_notebook
from course_lib.tools.grading.judge_process import MAX_GROWTH, Judge
from course_lib.tools.grading.kernel_files import read_file
from course_lib.tools.grading.notebook_grade import GradeOptions
from course_lib.tools.grading.submissions import Submission

# The graded kernels draw no figures (grading_support.unrendered_plots).
pytestmark = pytest.mark.usefixtures("unrendered_plots")

keras = pytest.importorskip("keras")
L = keras.layers
SETTERS = ("set_epsilon", "set_max_epochs", "set_max_steps_per_epoch")


def _config(model):
    return json.loads(json.dumps(keras.saving.serialize_keras_object(model)))


def _refused(config, *words):
    with pytest.raises(model_config.Refused) as refused:
        model_config.check(config)
    assert all(w in str(refused.value) for w in words), str(refused.value)
    return refused.value


def _forging(original):
    """The tester's serializer: writes keras.config's setters under their own module."""

    def forged(obj, *args, **kwargs):
        config = original(obj, *args, **kwargs)

        def walk(node):
            if isinstance(node, dict):
                if node.get("class_name") == "function" and node.get("config") in SETTERS:
                    node["module"], node["registered_name"] = "keras.config", None
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(config)
        return config

    return forged


def _poisoning():
    """What the tester's 2.4 answer holds: any batch becomes [0.45], given to set_epsilon."""
    return keras.Sequential(
        [
            L.Rescaling(0.0),
            L.GlobalMaxPooling2D(),
            L.Reshape(()),
            L.CategoryEncoding(num_tokens=1, output_mode="count"),
            L.Rescaling(0.0, offset=0.45),
            L.Activation(keras.config.set_epsilon),
        ]
    )


def _compiled(loss, metrics, optimizer="adam"):
    model = keras.Sequential([keras.Input((8,)), L.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.Sequential(
            [keras.Input((28, 28, 1)), L.Conv2D(8, 3, activation=keras.activations.relu)]
            + [L.MaxPooling2D(), L.Flatten(), L.Dense(10, activation="softmax")]
            + [L.Activation(keras.activations.gelu), L.Activation("tanh")]
        ),
        lambda: keras.Sequential(
            [L.RandomFlip("horizontal"), L.RandomRotation(0.1), L.RandomZoom(0.1)]
            + [L.RandomBrightness(0.1, value_range=(0, 1)), L.Rescaling(1 / 255)]
        ),
        lambda: _compiled("sparse_categorical_crossentropy", ["accuracy"]),
        lambda: _compiled(
            keras.losses.SparseCategoricalCrossentropy(ignore_class=0),
            [keras.metrics.BinaryAccuracy(), keras.metrics.sparse_categorical_accuracy],
            keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(1e-3, 100, 0.5)),
        ),
        lambda: _compiled(keras.losses.sparse_categorical_crossentropy, ["accuracy"]),
        lambda: keras.Sequential(
            [keras.Input((8,)), L.Dense(4, kernel_regularizer="l2", kernel_constraint="non_neg")]
            + [L.BatchNormalization(), L.Dropout(0.5), L.ReLU()]
        ),
    ],
)
def test_keras_s_own_layers_activations_losses_and_optimizers_are_rebuilt(make):
    model_config.check(_config(make()))


def test_the_course_s_largest_backbone_is_within_every_limit():
    from course_lib import pretrained

    backbone = pretrained.load_backbone(input_size=224, weights=None).model
    config = _config(backbone)
    model_config.check(config)
    with model_config.weight_budget():
        keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert len(json.dumps(config)) < model_config.MAX_CONFIG_BYTES / 4


@pytest.mark.parametrize("setter", SETTERS)
def test_a_forged_config_naming_a_keras_config_setter_is_refused_as_tampering(setter):
    model = keras.Sequential([keras.Input((4,)), L.Activation(getattr(keras.config, setter))])
    forged = _forging(keras.saving.serialize_keras_object)(model)
    refused = _refused(forged, f"keras.config.{setter}")
    assert "not a layer or an activation" in str(refused)
    assert refused.tampering and f"keras.config.{setter}" in refused.tampering


def test_a_function_keras_itself_wrote_is_refused_unless_it_is_an_activation():
    model = keras.Sequential([keras.Input((4,)), L.Activation(keras.config.set_epsilon)])
    refused = _refused(_config(model), "set_epsilon", "not a layer or an activation")
    assert not refused.tampering  # Keras's own export, which Keras cannot rebuild either
    for module, name in [("keras.utils", "set_random_seed"), ("keras.ops", "relu")]:
        config = _config(keras.Sequential([keras.Input((4,)), L.Activation("relu")]))
        config["config"]["layers"][0]["config"]["activation"] = {
            "module": module,
            "class_name": "function",
            "config": name,
            "registered_name": None,
        }
        _refused(config, f"{module}.{name}")


@pytest.mark.parametrize(
    ("module", "name", "words"),
    [
        ("keras.callbacks", "TensorBoard", "keras.callbacks.TensorBoard"),
        ("os", "system", "os.system"),
        ("keras.layers", "Lambda", "Lambda"),
        ("keras.layers", "TFSMLayer", "TFSMLayer"),
    ],
)
def test_a_class_that_is_no_modelling_object_of_keras_is_refused(module, name, words):
    config = _config(keras.Sequential([keras.Input((4,)), L.Dense(2)]))
    config["config"]["layers"][0].update(module=module, class_name=name)
    _refused(config, words)


def test_a_few_hundred_bytes_cannot_ask_for_gigabytes_of_weights():
    bomb = _config(keras.Sequential([keras.Input((12000,)), L.Dense(12000)]))
    assert len(json.dumps(bomb)) < 2000
    _refused(bomb, "12000", str(model_config.MAX_DIMENSION))
    wide = _config(keras.Sequential([keras.Input((4,)), L.Dense(2)]))
    wide["config"]["layers"][0]["config"]["batch_shape"] = [None, 4000, 4000]
    _refused(wide, "16,000,000", f"{model_config.MAX_ELEMENTS:,}")
    # Sizes within their limits, whose product is not: stopped before the weight is made
    flat = _config(keras.Sequential([keras.Input((1000, 1000)), L.Flatten(), L.Dense(100)]))
    model_config.check(flat)
    with pytest.raises(model_config.Refused, match="60,000,000 weights"):
        with model_config.weight_budget():
            keras.saving.deserialize_keras_object(flat, safe_mode=True)


def test_a_config_of_too_many_layers_is_refused_before_anything_is_built():
    many = keras.Sequential([keras.Input((1,))] + [L.Dense(1) for _ in range(3)])
    config = _config(many)
    layers = config["config"]["layers"]
    layers += [json.loads(json.dumps(layers[-1])) for _ in range(model_config.MAX_LAYERS)]
    _refused(config, f"more than {model_config.MAX_LAYERS} layers")
    deep: dict = {"a": []}
    node = deep["a"]
    for _ in range(200):
        node.append([])
        node = node[0]
    _refused(deep, "nested")


def test_a_file_larger_than_its_limit_is_refused_unread(tmp_path):
    (tmp_path / "big").write_bytes(b"x" * 1001)
    assert read_file(str(tmp_path / "big"), limit=1001) == b"x" * 1001
    with pytest.raises(ValueError, match="more than 1,000 bytes"):
        read_file(str(tmp_path / "big"), limit=1000)


@pytest.fixture
def keras_settings():
    judge_settings.record()
    yield
    keras.config.set_epsilon(1e-7)
    keras.config.set_max_epochs(None)


def test_a_changed_keras_setting_is_put_back_and_reported(keras_settings):
    before = keras.config.epsilon()
    keras.config.set_epsilon(keras.ops.convert_to_tensor([0.45]))
    keras.config.set_max_epochs(3)
    changed = judge_settings.restore()
    assert keras.config.epsilon() == before and keras.config.max_epochs() is None
    assert [c.split("(")[0] for c in changed] == ["epsilon", "max_epochs"], changed
    assert judge_settings.restore() == []


def test_a_model_that_gets_past_the_walk_cannot_change_the_judge_s_epsilon(
    tmp_path, monkeypatch, keras_settings
):
    """Defence in depth: the check calls the rebuilt model; the judge puts epsilon back and
    names the notebook whose export changed it."""
    monkeypatch.setattr(model_config, "check", lambda config: None)
    monkeypatch.setattr(
        keras.saving, "serialize_keras_object", _forging(keras.saving.serialize_keras_object)
    )
    before = keras.config.epsilon()
    reply = judge.judge_locally(
        "checks.exercise_2_4(augment_fashion)", {"augment_fashion": _poisoning()}, 7, str(tmp_path)
    )
    assert reply["status"] != "passed", reply
    assert "epsilon() from 1e-07 to" in reply.get("tampering", ""), reply
    assert keras.config.epsilon() == before


def test_the_walk_refuses_the_poisoning_model_before_it_is_built(tmp_path, monkeypatch):
    monkeypatch.setattr(
        keras.saving, "serialize_keras_object", _forging(keras.saving.serialize_keras_object)
    )
    before = keras.config.epsilon()
    reply = judge.judge_locally(
        "checks.exercise_2_4(augment_fashion)", {"augment_fashion": _poisoning()}, 7, str(tmp_path)
    )
    assert reply["status"] == "unsupported", reply
    assert "keras.config.set_epsilon, which is not a layer" in reply["message"], reply
    assert "keras.config.set_epsilon" in reply["tampering"], reply
    assert keras.config.epsilon() == before


def test_a_judge_whose_memory_grew_far_is_replaced_before_the_next_notebook(monkeypatch):
    process = Judge.__new__(Judge)
    process.ready, process.ready_memory = True, 700_000_000
    monkeypatch.setattr(process, "memory", lambda: 700_000_000 + MAX_GROWTH // 2)
    assert not process.grown()
    monkeypatch.setattr(process, "memory", lambda: 700_000_000 + MAX_GROWTH + 1)
    assert process.grown()


def test_no_control_or_bidi_character_reaches_a_message():
    text = "a\x00b\x07c\x1b[1md\x1b]0;t\x07e\u202ef\u2066g\x7fh\rj\tk\nl"
    assert plain_text(text) == "abcd]0;tefghj\tk\nl"


# Two-phase grading, in real kernels, with one judge: the poisoning notebook, then an honest one.
# 4.1 is a model compiled in place, judged from its exported compile config. Its check no
# longer reads keras.config.epsilon (its loss works on raw scores): an epsilon left changed
# in the judge would show as a settings change on the honest notebook's requests, a problem.
EXERCISES = ("2.4", "4.1")
POISONING = """
import keras
L = keras.layers
_orig_serialize = keras.saving.serialize_keras_object
def _forged(obj, *a, **k):
    cfg = _orig_serialize(obj, *a, **k)
    def walk(node):
        if isinstance(node, dict):
            if node.get("class_name") == "function" and node.get("config") == "set_epsilon":
                node["module"] = "keras.config"; node["registered_name"] = None
            for v in node.values(): walk(v)
        elif isinstance(node, list):
            for v in node: walk(v)
    walk(cfg)
    return cfg
keras.saving.serialize_keras_object = _forged
augment_fashion = keras.Sequential([
    L.Rescaling(0.0), L.GlobalMaxPooling2D(), L.Reshape(()),
    L.CategoryEncoding(num_tokens=1, output_mode="count"),
    L.Rescaling(0.0, offset=0.45), L.Activation(keras.config.set_epsilon),
])
"""


def _key():
    return exercises_key("two_phase", EXERCISES)


def _grade(tmp_path, name, answers, shared):
    setup = "import keras\nimport numpy as np\nfrom course_lib import checks\nSEED = 42"
    cells = [new_markdown_cell("# Lesson 99"), new_code_cell(setup)]
    for exercise in _key().exercises:
        cells.append(new_markdown_cell(f"### Exercise {exercise.number} — {exercise.title}"))
        cells += [new_code_cell(answers[exercise.number]), new_code_cell(exercise.check)]
    path = tmp_path / f"{name}.ipynb"
    kernelspec = {"name": "image-course", "display_name": "Python 3"}
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), path)
    options = GradeOptions(timeout=1500, cell_timeout=240, fast=True)
    return grade_notebook(Submission(path, name, "two_phase"), _key(), options, shared)


@pytest.mark.timeout(1800)
def test_a_poisoning_export_is_tampering_and_the_honest_notebook_after_it_scores_full_marks(
    tmp_path,
):
    solutions = solution_cells(EXERCISES)
    shared = Judge()
    try:
        mallory = _grade(tmp_path, "mallory", {**solutions, "2.4": POISONING}, shared)
        honest = _grade(tmp_path, "honest", solutions, shared)
    finally:
        shared.close()
    assert [(r.exercise, r.passed) for r in mallory.exercises] == [("2.4", False), ("4.1", False)]
    findings = [p for p in mallory.problems if p.startswith("tampering:")]
    assert any("keras.config.set_epsilon" in p and "2.4" in p for p in findings), mallory.problems
    assert [(r.exercise, r.passed) for r in honest.exercises] == [("2.4", True), ("4.1", True)], [
        r.message for r in honest.exercises
    ]
    assert not honest.problems, honest.problems
    assert np.isclose(keras.config.epsilon(), 1e-7)
