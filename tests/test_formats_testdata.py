"""Real artifacts written by other people's code (tests/data/external, see its README):
SavedModels from TensorFlow 1.0 to 2.14, a V1 checkpoint, a `.keras` from Keras 3.15.0."""

from __future__ import annotations

import json

import pytest
from formats_helpers import SERVING, TESTDATA, needs_testdata, restored, write_branch

from restore_gate.cli import main
from restore_gate.commands.inspect import inspect_checkpoint

pytestmark = needs_testdata

HALF_PLUS_TWO = ["a", "b", "c"]
# path under SERVING -> (format, written_by that must be read, variable names, devices)
ARTIFACTS = {
    "saved_model_half_plus_two_cpu/00000123": ("1.14.0", [*HALF_PLUS_TWO, "a2", "c2"]),
    "saved_model_half_plus_two_gpu/00000123": ("1.9.0", HALF_PLUS_TWO),
    "saved_model_half_plus_two_gpu_trt/00000123": ("2.2.0", [*HALF_PLUS_TWO, "a2", "c2"]),
    "saved_model_half_plus_two_mkl/00000123": ("1.12.0-rc0", [
        *HALF_PLUS_TWO, "conv2d/bias", "conv2d/kernel", "conv2d_1/bias", "conv2d_1/kernel",
        "conv2d_2/bias", "conv2d_2/kernel"]),
    "saved_model_half_plus_two_tf2_cpu/00000123": ("2.14.0", HALF_PLUS_TWO),
    "saved_model_half_plus_three/00000123": ("1.0.0-rc2", HALF_PLUS_TWO),
    "saved_model_counter/00000123": ("1.5.0-rc1", ["counter"]),
    "../../../batching/testdata/matrix_half_plus_two/1": ("1.2.0-rc2", []),
}


@pytest.mark.parametrize("artifact", sorted(ARTIFACTS))
def test_inspect_reads_every_saved_model(artifact):
    version, names = ARTIFACTS[artifact]
    data = inspect_checkpoint(SERVING / artifact)
    assert data["format"] == "saved-model"
    assert data["written_by"]["tensorflow"] == version
    assert sorted(v["name"] for v in data["variables"]) == sorted(names)
    assert "serving_default" in data["signatures"] or "get_counter" in data["signatures"]


def test_inspect_reports_the_gpu_pin_and_the_keras2_writer():
    gpu = inspect_checkpoint(SERVING / "saved_model_half_plus_two_gpu/00000123")
    assert "/device:GPU:0" in gpu["written_by"]["devices"]
    keras2 = inspect_checkpoint(SERVING / "tf_text_regression/01")
    assert keras2["written_by"] == {"keras": "2.12.0", "backend": "tensorflow"}
    assert "empty (0 bytes)" in keras2["problems"][0]


def test_inspect_reads_the_v1_checkpoint_and_the_keras_file():
    v1 = inspect_checkpoint(SERVING / "bad_half_plus_two/00000123")
    assert v1["format"] == "tf1-checkpoint"
    assert [(v["name"], v["shape"]) for v in v1["variables"]] == [
        ("Variable", []), ("Variable_1", [])]
    assert v1["written_by"] == {"graph_producer": "11"}  # a 2016 graph: no version string
    keras = inspect_checkpoint(TESTDATA / "keras" / "pre_pr22362_nested_container.keras")
    assert keras["written_by"]["keras"] == "3.15.0"
    assert keras["layer_classes"][0]["registered_name"] == (
        "legacy_nested_container>NestedDenseModel")


MODULE = """\
import tensorflow as tf

VARIABLES = {variables!r}


class Served(tf.Module):
    def __init__(self):
        super().__init__()
        for name, shape in VARIABLES:
            setattr(self, name.replace("/", "_"), tf.Variable(tf.zeros(shape), name=name))

    @tf.function(input_signature=[tf.TensorSpec({shape}, tf.float32, name="x")])
    def __call__(self, x):
        return {{"y": self.a * x + self.b}}


def build():
    return Served()
"""
SCALARS = [(n, []) for n in HALF_PLUS_TWO]
CONV = [(f"conv2d{s}/{w}", [1, 1, 1, 1] if w == "kernel" else [1])
        for s in ("", "_1", "_2") for w in ("bias", "kernel")]
LOADABLE = {
    "saved_model_half_plus_two_cpu/00000123": ([*SCALARS, ("a2", []), ("c2", [])], [None, 1]),
    "saved_model_half_plus_two_gpu/00000123": (SCALARS, [None, 1]),
    "saved_model_half_plus_two_gpu_trt/00000123": ([*SCALARS, ("a2", []), ("c2", [])],
                                                   [None, 1]),
    "saved_model_half_plus_two_mkl/00000123": ([*SCALARS, *CONV], [None, 1]),
    "saved_model_half_plus_two_tf2_cpu/00000123": (SCALARS, [1]),
}


@pytest.mark.parametrize("artifact", sorted(LOADABLE))
def test_check_restores_every_loadable_saved_model_into_a_matching_module(project, artifact):
    import numpy as np

    variables, shape = LOADABLE[artifact]
    write_branch(project, MODULE.format(variables=variables, shape=shape))
    report = project.check(SERVING / artifact)
    assert report.errors == [] and report.verdict == "pass"
    assert any("not a Keras model" in n for n in report.notices)
    assert report.mismatches == []
    assert restored(report) == len(variables)
    from restore_gate import formats
    from restore_gate.branch.build import build_model
    from restore_gate.settings.config import load_config

    built = build_model(load_config(project.root / ".restore-gate.yml"))
    info = formats.read(SERVING / artifact)
    formats.restore(info, built, {}, *formats.pair(info, built, {}))
    assert np.allclose([built.model.a.numpy(), built.model.b.numpy()], [0.5, 2.0])  # y = x/2 + 2


def test_a_changed_variable_or_signature_breaks_the_real_artifact(project):
    write_branch(project, MODULE.format(variables=SCALARS[:2], shape=[None, 2]))
    report = project.check(SERVING / "saved_model_half_plus_two_gpu/00000123")
    found = {m.name: m.kind for m in report.mismatches}
    assert found == {"c": "unexpected", "signature:serving_default/inputs/x": "shape",
                     "signature:serving_default/outputs/y": "shape"}
    assert report.verdict == "fail"


def test_v1_checkpoint_restores_by_name(project):
    write_branch(project, MODULE.format(variables=[("Variable", []), ("Variable_1", [])],
                                        shape=[None, 1]).replace("self.a * x + self.b", "x"))
    report = project.check(SERVING / "bad_half_plus_two/00000123")
    assert report.errors == [] and report.verdict == "pass"
    assert any("not a Keras model" in n for n in report.notices)
    assert report.mismatches == [] and restored(report) == 2


NESTED = """\
import keras


@keras.saving.register_keras_serializable(package="legacy_nested_container")
class NestedDenseModel(keras.Model):
    def __init__(self, num=3, **kwargs):
        super().__init__(**kwargs)
        self.num = num
        self.blocks = [[keras.layers.Dense(4, use_bias=False, name=f"d_{i}")]
                       for i in range(num)]
        self.head = keras.layers.Dense(2)

    def call(self, x):
        for group in self.blocks:
            for layer in group:
                x = layer(x)
        return self.head(x)

    def get_config(self):
        return {**super().get_config(), "num": self.num}


def build():
    model = NestedDenseModel(3)
    model(keras.ops.zeros((2, 4)))
    return model
"""


def test_keras_3_15_0_file_restores_where_keras_loads_it(project):
    """Keras 3.15.1 saves nested containers under `blocks/container/...`; this 3.15.0 file
    has them under `layers/...`, where Keras's loader still finds them."""
    write_branch(project, NESTED)
    report = project.check(TESTDATA / "keras" / "pre_pr22362_nested_container.keras")
    assert report.errors == [] and report.verdict == "pass"
    assert report.mismatches == []
    assert restored(report) == 5


@pytest.mark.parametrize("artifact, reason", [
    ("saved_model_half_plus_three/00000123", "rank"),  # TF's wording varies by graph state
    ("saved_model_counter/00000123", "reference type float_ref"),
    ("tf_text_regression/01", "saved_model.pb is empty (0 bytes)"),
])
def test_artifacts_tensorflow_cannot_load_end_in_exit_2_with_the_reason(
    project, capsys, tmp_path, artifact, reason
):
    write_branch(project, MODULE.format(variables=SCALARS, shape=[None, 1]))
    code = main(["check", "--config", str(project.root / ".restore-gate.yml"),
                 "--checkpoint", str(SERVING / artifact), "--report", str(tmp_path / "r.json")])
    out, err = capsys.readouterr()
    assert code == 2
    errors = json.loads((tmp_path / "r.json").read_text())["errors"]
    assert [e["stage"] for e in errors] == ["restore"]
    assert reason in errors[0]["message"]
    assert "Traceback" not in out + err
