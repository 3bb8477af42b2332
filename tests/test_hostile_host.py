"""Hostile input that tries to act on the host (issue 9, items 6, 7, 10, 11).

Each test is one attack, made with the real tool an attacker would use (a TF1
`SavedModelBuilder`, h5py, a builder reading /proc, a forged event), and asserts that
the gate neither lets it act nor turns it into a pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from formats_helpers import write_branch

from restore_gate.cli import main

# --- item 6: a SavedModel's init ops never run -------------------------------------------------

TF1_BRANCH = """\
import tensorflow as tf


class Served(tf.Module):
    def __init__(self):
        super().__init__()
        self.a = tf.Variable(0.0, name="a")
        self.b = tf.Variable(0.0, name="b")

    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
    def __call__(self, x):
        return {"y": self.a * x + self.b}


def build():
    return Served()
"""


def _tf1_saved_model_with_main_op(folder: Path, host_file: Path, dropped: Path) -> Path:
    """y = a*x + b written by `tf.compat.v1.saved_model.Builder`, whose `main_op` copies
    `host_file` to `dropped` (what `tf.saved_model.load` runs on load)."""
    import tensorflow as tf

    v1 = tf.compat.v1
    export = folder / "release"
    with tf.Graph().as_default(), v1.Session() as session:
        x = v1.placeholder(tf.float32, [None, 1], name="x")
        a = v1.get_variable("a", initializer=0.5)
        b = v1.get_variable("b", initializer=2.0)
        y = tf.identity(a * x + b, name="y")
        session.run(v1.global_variables_initializer())
        main_op = tf.io.write_file(str(dropped), tf.io.read_file(str(host_file)))
        signature = v1.saved_model.predict_signature_def({"x": x}, {"y": y})
        builder = v1.saved_model.Builder(str(export))
        builder.add_meta_graph_and_variables(
            session, ["serve"], signature_def_map={"serving_default": signature},
            main_op=main_op)
        builder.save()
    return export


def test_a_tf1_saved_model_main_op_never_runs_on_check_or_inspect(project, tmp_path, capsys):
    """Attack: a release SavedModel whose TF1 `main_op` reads a host file and writes another
    (TensorFlow's own loader runs it). The gate reads the variables with the checkpoint
    reader and builds the graph without executing it: no file is written, and the honest
    values still give the right verdict (pass, both values restored)."""
    host_file, dropped = tmp_path / "host-secret.txt", tmp_path / "dropped.txt"
    host_file.write_text("host secret")
    release = _tf1_saved_model_with_main_op(tmp_path, host_file, dropped)
    write_branch(project, TF1_BRANCH)

    assert main(["inspect", "--json", str(release)]) == 0
    report_path = tmp_path / "report.json"
    code = main(["check", "--config", str(project.root / ".restore-gate.yml"),
                 "--checkpoint", str(release), "--report", str(report_path)])
    capsys.readouterr()
    assert not dropped.exists(), "the release's main_op ran on the host"
    report = json.loads(report_path.read_text())
    assert (code, report["verdict"], report["errors"]) == (0, "pass", [])
    assert report["model"]["restored"] == 2

    import tensorflow as tf  # ground truth: the attack is real for a plain load

    tf.saved_model.load(str(release))
    assert dropped.read_text() == "host secret"
