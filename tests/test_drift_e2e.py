"""Silent behaviour changes against a real trained release: they fail on drift; harmless
changes pass with drift ≈ 0. Real Keras training on deterministic data, real bundles."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import Project

DATA = '''
import numpy as np


def blobs(n, seed):
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0.0, 0.0, 1.0], [-2.0, 1.0, 0.0, -1.0], [0.0, -2.0, 1.5, 0.0]])
    y = rng.integers(0, 3, size=n)
    return (centers[y] + rng.normal(scale=0.9, size=(n, 4))).astype("float32"), y


def train_data():
    return blobs(400, 1)


def eval_data():
    return blobs(200, 2)
'''

MODEL = '''
import keras
from keras import layers


class Scale(layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return {scale_call}


def build():
    inputs = keras.Input((4,))
    x = layers.Rescaling({rescale})(inputs)
    x = Scale(name="scale")(x)
    x = layers.Dense(16, activation="{activation}", name="{hidden}")(x)
{extra}    outputs = layers.Dense(3, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    return model
'''

BASE = {"scale_call": "x * self.w", "rescale": "0.5", "activation": "relu", "hidden": "hidden",
        "extra": ""}

SUBCLASSED = '''
import keras
from keras import layers


class Net(keras.Model):
    def __init__(self):
        super().__init__(name="net")
{assignments}
        self._out = layers.Dense(3, activation="softmax", name="out")

    def call(self, x):
        return self._out(self._second(self._first(x)))


def build():
    model = Net()
    model(keras.ops.zeros((1, 4)))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
'''
FIRST = '        self._first = layers.Dense(4, activation="relu", name="first")\n'
SECOND = '        self._second = layers.Dense(4, activation="tanh", name="second")\n'

CONFIG = """
evaluation:
  data: data:eval_data
  metrics: [accuracy, loss]
thresholds:
  metrics:
    accuracy: {max_drop: 0.01}
    loss: {max_increase: "5%"}
  outputs: {atol: 1.0e-5, rtol: 1.0e-4}
"""


def model_source(**changes: str) -> str:
    return MODEL.format(**{**BASE, **changes})


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def train_and_save(project: Project, tf_checkpoint: bool) -> Path:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = project.build()
    from restore_gate.branch.build import resolve_callable

    x, y = resolve_callable("data:train_data", project.root, [])()
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    if tf_checkpoint:
        prefix = tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(
            str(project.root / "release" / "ckpt"))
        return Path(prefix)
    path = project.root / "release" / "model.weights.h5"
    path.parent.mkdir(exist_ok=True)
    model.save_weights(path)
    return path


def make_bundle(project: Project, checkpoint: Path, name: str) -> Path:
    from restore_gate.commands.snapshot import snapshot
    from restore_gate.runtime import describe_device
    from restore_gate.settings.config import load_config

    bundle = project.root / "release" / name
    snapshot(checkpoint, bundle, describe_device("cpu"), project.root,
             load_config(project.root / ".restore-gate.yml"))
    return bundle


def tagged_release(root) -> Project:
    """The release's project, committed and tagged `v1` (for --baseline-ref v1)."""
    project = Project(root)
    project.write("data.py", DATA)
    project.write("model.py", model_source())
    project.config(CONFIG)
    git(project.root, "init", "-q")
    git(project.root, "-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    git(project.root, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "v1")
    git(project.root, "tag", "v1")
    return project


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A trained release: a bare .weights.h5, a bundle of it, and a TF-checkpoint bundle."""
    project = tagged_release(tmp_path_factory.mktemp("drift") / "repo")
    weights = train_and_save(project, tf_checkpoint=False)
    prefix = train_and_save(project, tf_checkpoint=True)
    return {
        "project": project,
        "weights": weights,
        "weights_bundle": make_bundle(project, weights, "weights.tar.gz"),
        "tf_bundle": make_bundle(project, prefix, "tf.tar.gz"),
    }


def branch(release, **changes: str) -> Project:
    project = release["project"]
    project.write("model.py", model_source(**changes))
    return project


def failed(report, kind="output"):
    return [d for d in report.drift if d.kind == kind and not d.ok]


def max_abs_error(report) -> float:
    return next(d.value for d in report.drift if d.name.endswith("max abs error"))


@pytest.mark.parametrize("bundle", ["weights_bundle", "tf_bundle"])
def test_unchanged_branch_passes_with_zero_drift(release, bundle):
    report = branch(release).check(release[bundle])
    assert report.verdict == "pass", report.to_dict()
    assert max_abs_error(report) == 0.0
    accuracy = next(d for d in report.drift if d.name == "accuracy")
    assert accuracy.ok and accuracy.delta == 0.0 and accuracy.baseline > 0.8


@pytest.mark.parametrize(
    "change",
    [
        {"activation": "sigmoid"},                      # activation changed
        {"scale_call": "x * self.w + 1.0"},            # custom layer's call changed
        {"rescale": "0.25"},                           # preprocessing inside the model
    ],
    ids=["activation", "custom-call", "rescaling"],
)
def test_silent_behaviour_changes_fail_on_drift(release, change):
    report = branch(release, **change).check(release["weights_bundle"])
    assert report.verdict == "fail"
    assert not report.mismatches  # the weights restore cleanly: only drift can tell
    assert failed(report), report.drift
    assert max_abs_error(report) > 1e-3


@pytest.mark.parametrize(
    "change",
    [
        {"hidden": "encoder"},                                                  # renamed
        {"extra": '    x = layers.Dropout(0.5, name="dropout")(x)\n'},         # Dropout added
        {"activation": "linear", "extra": '    x = layers.Activation("relu")(x)\n'},  # split
    ],
    ids=["renamed-layer", "dropout-added", "activation-split"],
)
@pytest.mark.parametrize("bundle", ["weights_bundle", "tf_bundle"])
def test_harmless_changes_pass_with_no_drift(release, change, bundle):
    report = branch(release, **change).check(release[bundle])
    assert report.verdict == "pass", (report.mismatches, report.drift, report.errors)
    assert max_abs_error(report) < 1e-6


def test_a_threshold_on_a_metric_not_measured_is_an_error(release):
    """evaluation.metrics lists accuracy and loss; a recall threshold could never be met (a
    metric not computed fails), so since issue 19 the config is refused: error, naming it."""
    project = branch(release)
    config = project.config(CONFIG.replace(
        '    loss: {max_increase: "5%"}\n',
        '    loss: {max_increase: "5%"}\n    recall: {max_drop: 0.01}\n'))
    report = project.check(release["weights_bundle"], config)
    assert report.verdict == "error" and not report.drift
    assert [e["stage"] for e in report.errors] == ["config"]
    assert "recall is not measured" in report.errors[0]["message"]
    project.config(CONFIG)


def test_a_loosened_threshold_is_shown_and_the_base_applies(release):
    from restore_gate.pipeline.check import CheckOptions, run_check

    project = branch(release, activation="sigmoid")
    config = project.config(CONFIG.replace("max_drop: 0.01", "max_drop: 0.2")
                            .replace("max_increase: \"5%\"", "max_increase: \"500%\"")
                            .replace("atol: 1.0e-5", "atol: 1.0"))
    report = run_check(CheckOptions(config=config, checkpoint=str(release["weights_bundle"]),
                                    quiet=True, base="v1"))
    assert any("accuracy.max_drop 0.01 → 0.2" in n for n in report.notices)
    assert report.verdict == "fail"  # the base commit's thresholds still apply
    project.config(CONFIG)


def test_bare_checkpoint_baseline_from_the_release_tag(release):
    from restore_gate.pipeline.check import CheckOptions, run_check

    project = branch(release, activation="sigmoid")
    options = CheckOptions(config=project.root / ".restore-gate.yml",
                           checkpoint=str(release["weights"]), quiet=True, baseline_ref="v1")
    report = run_check(options)
    assert report.extra["baseline"] == "release code at v1"
    assert report.verdict == "fail" and failed(report)
    branch(release)
    report = run_check(options)
    assert report.verdict == "pass" and max_abs_error(report) == 0.0


def test_bare_checkpoint_without_baseline_is_visibly_not_measured(release):
    report = branch(release).check(release["weights"])
    assert report.verdict == "pass"
    assert any("Drift not measured" in n for n in report.notices)
    assert all(d.level == "info" for d in report.drift)


def test_reordered_subclassed_model_is_named_and_fails_on_drift(tmp_path):
    import keras

    project = Project(tmp_path / "sub")
    project.write("data.py", DATA)
    project.write("model.py", SUBCLASSED.format(assignments=FIRST + SECOND))
    project.config(CONFIG)
    weights = train_and_save(project, tf_checkpoint=False)
    bundle = make_bundle(project, weights, "sub.tar.gz")
    project.write("model.py", SUBCLASSED.format(assignments=SECOND + FIRST))
    keras.backend.clear_session()
    report = project.check(bundle)
    assert report.verdict == "fail"
    moves = [m for m in report.mismatches if m.checkpoint_name]
    assert {(m.checkpoint_name, m.name) for m in moves} >= {  # object path -> variable
        ("_first/kernel", "net/second/kernel"), ("_second/kernel", "net/first/kernel")}
    assert "saved from _first/kernel, now loads into _second/kernel (net/second/kernel)" in \
        " ".join(m.hint for m in moves)
    assert failed(report) or failed(report, "metric")
