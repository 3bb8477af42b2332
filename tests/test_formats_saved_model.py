"""SavedModels written by plain TF/Keras: `model.export`, `tf.saved_model.save`, TF1 Builder."""

from __future__ import annotations

from pathlib import Path

import pytest
from formats_helpers import keras_model, mismatches, restored, structural_errors, write_branch

from restore_gate.commands.inspect import inspect_checkpoint

MODULE_BRANCH = """\
import tensorflow as tf


class Affine(tf.Module):
    def __init__(self):
        super().__init__()
        self.{a} = tf.Variable(0.0, name="{a}")
        self.b = tf.Variable(0.0, name="b")

    @tf.function(input_signature=[tf.TensorSpec([None, {width}], tf.float32, name="x")])
    def __call__(self, x):
        return {{"y": self.{a} * x + self.b}}


def build():
    return Affine()
"""


def _keras(units: int = 8, inputs: int = 4):
    import keras

    keras.backend.clear_session()
    x = keras.Input((inputs,), name="x")
    hidden = keras.layers.Dense(units, activation="relu", name="hidden")(x)
    return keras.Model(x, keras.layers.Dense(3, name="out")(hidden))


def _tf1_builder(path: Path) -> None:
    """A TF1 `SavedModelBuilder` export: variables `a`, `b`, signature x -> y."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session() as session:
        x = tf.compat.v1.placeholder(tf.float32, [None, 1], name="x")
        a = tf.compat.v1.get_variable("a", [], initializer=tf.compat.v1.constant_initializer(0.5))
        b = tf.compat.v1.get_variable("b", [], initializer=tf.compat.v1.constant_initializer(2.0))
        y = tf.add(a * x, b, name="y")
        session.run(tf.compat.v1.global_variables_initializer())
        builder = tf.compat.v1.saved_model.Builder(str(path))
        signature = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
        builder.add_meta_graph_and_variables(session, ["serve"],
                                             signature_def_map={"serving_default": signature})
        builder.save()


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    import tensorflow as tf

    root = tmp_path_factory.mktemp("saved-models")
    _keras().export(str(root / "export"), format="tf_saved_model", verbose=False)
    tf.saved_model.save(_keras(), str(root / "save"))
    module = tf.Module()
    module.a, module.b = tf.Variable(0.5, name="a"), tf.Variable(2.0, name="b")
    module.f = tf.function(lambda x: {"y": module.a * x + module.b},
                           input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
    tf.saved_model.save(module, str(root / "module"), signatures={"serving_default": module.f})
    _tf1_builder(root / "tf1")
    return root


def test_inspect_lists_writer_version_signatures_and_variables_by_name(releases):
    import tensorflow as tf

    data = inspect_checkpoint(releases / "export")
    assert data["format"] == "saved-model"
    assert data["written_by"]["tensorflow"] == tf.__version__
    serving = data["signatures"]["serving_default"]
    assert serving["inputs"]["x"] == {"dtype": "float32", "shape": [None, 4],
                                      "tensor": "serving_default_x:0"}
    assert serving["outputs"]["output_0"]["shape"] == [None, 3]
    # model.export saves every variable twice (two lists): listed once, by its Keras path
    assert sorted(v["name"] for v in data["variables"]) == [
        "hidden/bias", "hidden/kernel", "out/bias", "out/kernel"]
    tf1 = inspect_checkpoint(releases / "tf1")
    assert tf1["matching"] == "names" and data["matching"] == "names"
    assert [v["name"] for v in tf1["variables"]] == ["a", "b"]
    assert tf1["signatures"]["serving_default"]["inputs"]["x"]["shape"] == [None, 1]
    assert inspect_checkpoint(releases / "save")["matching"] == "object-graph"


def test_unchanged_keras_model_restores_from_an_export(releases, project):
    write_branch(project, keras_model())
    report = project.check(releases / "export")
    assert report.verdict == "pass", (report.mismatches, report.errors)
    assert restored(report) == 4


def test_changed_input_width_names_the_signature_and_the_kernel(releases, project):
    write_branch(project, keras_model(inputs=5))
    report = project.check(releases / "export")
    assert report.verdict == "fail"
    found = mismatches(report)
    assert found["signature:serving_default/inputs/x"] == "shape"
    assert found["hidden/kernel"] == "shape"
    entry = next(m for m in report.mismatches if m.name.startswith("signature:"))
    assert entry.checkpoint.shape == [None, 4] and entry.model.shape == [None, 5]


def test_renamed_input_is_a_signature_rename_although_every_weight_restores(releases, project):
    write_branch(project, keras_model(input_name="features"))
    report = project.check(releases / "export")
    assert report.verdict == "fail"
    assert mismatches(report) == {"signature:serving_default/inputs/features": "rename"}
    assert restored(report) == 4
    assert "`x`" in report.mismatches[0].hint


def test_signature_mismatches_obey_allow(releases, project):
    write_branch(project, keras_model(input_name="features"),
                 extra="allow:\n  missing: ['^signature:']\n  unexpected: ['^signature:']\n")
    report = project.check(releases / "export")
    assert report.verdict == "pass", report.mismatches
    assert report.mismatches[0].allowed


def test_object_graph_save_restores_and_names_a_changed_layer(releases, project):
    write_branch(project, keras_model())
    report = project.check(releases / "save")
    assert report.verdict == "pass", (report.mismatches, report.errors)
    assert restored(report) == 4
    write_branch(project, keras_model(units=16))
    found = mismatches(project.check(releases / "save"))
    assert found["hidden/kernel"] == "shape" and found["out/kernel"] == "shape"


@pytest.mark.parametrize("release", ["module", "tf1"])
def test_module_branch_restores_by_object_graph_or_by_name(releases, project, release):
    write_branch(project, MODULE_BRANCH.format(a="a", width=1))
    report = project.check(releases / release)
    assert structural_errors(report) == []
    assert report.mismatches == []
    assert restored(report) == 2


def test_tf1_release_names_the_variable_the_branch_renamed(releases, project):
    write_branch(project, MODULE_BRANCH.format(a="scale", width=1))
    report = project.check(releases / "tf1")
    assert structural_errors(report) == []
    assert mismatches(report) == {"scale": "rename"}
    assert report.mismatches[0].checkpoint_name == "a"
    assert restored(report) == 1


def test_module_signature_change_is_named(releases, project):
    write_branch(project, MODULE_BRANCH.format(a="a", width=2))
    report = project.check(releases / "module")
    assert mismatches(report) == {"signature:serving_default/inputs/x": "shape",
                                  "signature:serving_default/outputs/y": "shape"}
