"""TF1 name-based checkpoints written by `tf.compat.v1.train.Saver`: V2, V1, with/without .meta."""

from __future__ import annotations

from pathlib import Path

import pytest
from formats_helpers import mismatches, restored, structural_errors, write_branch

from restore_gate.commands.inspect import inspect_checkpoint
from restore_gate.errors import GateError
from restore_gate.formats import detect
from restore_gate.formats.tensorflow import files as tf_files

# A tf.compat.v1 graph builder, run the TF2 way: tf.compat.v1.wrap_function.
GRAPH_BRANCH = """\
import tensorflow as tf


def layer(x):
    with tf.compat.v1.variable_scope("dense"):
        kernel = tf.compat.v1.get_variable("kernel", [4, {units}])
        y = tf.matmul(x, kernel)
        {bias}
    {extra}
    return y


def build():
    return tf.compat.v1.wrap_function(layer, [tf.TensorSpec([None, 4], tf.float32)])
"""
BIAS = 'y = y + tf.compat.v1.get_variable("bias", [{units}])'.format


def graph_branch(units: int = 8, bias: bool = True, extra: str = "") -> str:
    return GRAPH_BRANCH.format(units=units, bias=BIAS(units=units) if bias else "", extra=extra)


def _saver_release(folder: Path, version: str, meta: bool) -> Path:
    """dense/kernel, dense/bias, Adam slots and global_step, one training step."""
    import numpy as np
    import tensorflow as tf

    folder.mkdir(parents=True)
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session() as session:
        x = tf.compat.v1.placeholder(tf.float32, [None, 4])
        with tf.compat.v1.variable_scope("dense"):
            kernel = tf.compat.v1.get_variable("kernel", [4, 8])
            bias = tf.compat.v1.get_variable("bias", [8])
        step = tf.compat.v1.train.get_or_create_global_step()
        train = tf.compat.v1.train.AdamOptimizer().minimize(
            tf.reduce_sum(tf.matmul(x, kernel) + bias), global_step=step)
        write_version = getattr(tf.compat.v1.train.SaverDef, version)
        saver = tf.compat.v1.train.Saver(write_version=write_version)
        session.run(tf.compat.v1.global_variables_initializer())
        session.run(train, {x: np.ones((2, 4), "float32")})
        return Path(saver.save(session, str(folder / "model"), global_step=step,
                               write_meta_graph=meta))


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp("tf1")
    return {
        "v2": _saver_release(root / "v2", "V2", meta=True),
        "v2-bare": _saver_release(root / "v2-bare", "V2", meta=False),
        "v1": _saver_release(root / "v1", "V1", meta=True),
    }


def test_inspect_v2_with_meta_names_the_writer_and_the_optimizer_slots(releases):
    import tensorflow as tf

    data = inspect_checkpoint(releases["v2"])
    assert data["format"] == "tf1-checkpoint"
    assert data["written_by"]["tensorflow"] == tf.__version__
    assert data["optimizer"] == "Adam"
    groups = {v["name"]: (v["group"], v["shape"], v["dtype"]) for v in data["variables"]}
    assert groups["dense/kernel"] == ("model", [4, 8], "float32")
    assert groups["dense/kernel/Adam_1"][0] == "optimizer"
    assert groups["global_step"] == ("optimizer", [], "int64")
    assert "tensorflow" not in inspect_checkpoint(releases["v2-bare"])["written_by"]


def test_v1_is_one_file_found_by_path_or_folder(releases):
    v1 = releases["v1"]
    assert v1.is_file() and not Path(f"{v1}.index").exists()
    assert tf_files.is_v1_file(v1)
    assert detect(v1) == ("tf1-checkpoint", v1)
    assert detect(v1.parent) == ("tf1-checkpoint", v1)  # via the `checkpoint` state file
    data = inspect_checkpoint(v1)
    assert {v["name"] for v in data["variables"] if v["group"] == "model"} == {
        "dense/kernel", "dense/bias"}


@pytest.mark.parametrize("release", ["v2", "v2-bare", "v1"])
def test_unchanged_graph_builder_restores_every_variable_by_name(releases, project, release):
    write_branch(project, graph_branch())
    report = project.check(releases[release])
    assert structural_errors(report) == []
    assert report.mismatches == []
    assert restored(report) == 2


def test_changed_graph_builder_names_shape_missing_and_unexpected(releases, project):
    extra = 'y = y * tf.compat.v1.get_variable("scale", [16])'
    write_branch(project, graph_branch(units=16, bias=False, extra=extra))
    report = project.check(releases["v2"])
    assert report.verdict == "fail"
    assert mismatches(report) == {"dense/kernel": "shape", "dense/bias": "unexpected",
                                  "scale": "missing"}
    assert restored(report) == 0


def test_a_truncated_v1_file_is_an_error_naming_it(releases, tmp_path):
    broken = tmp_path / "model-1"
    broken.write_bytes(releases["v1"].read_bytes()[:-40] + tf_files.TABLE_MAGIC)
    with pytest.raises(GateError) as caught:
        inspect_checkpoint(broken)
    assert str(broken) in caught.value.message
