"""A real architecture: keras.applications.MobileNetV3Small (tiny input, weights=None).

Expectations are computed with plain Keras/TensorFlow on the installed versions: restore
the release into the branch model; the gate must agree, and its hints state only what it
established (a width change is a shape change in place, not a layer that moved).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import Project

MODEL = '''
import keras


def build(alpha=1.0, classes=10, preprocessing=True):
    return keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3), alpha=alpha, classes=classes, weights=None,
        include_preprocessing=preprocessing, classifier_activation=None)
'''

DATA = '''
import numpy as np


def eval_data():
    rng = np.random.default_rng(3)
    return rng.uniform(0, 255, size=(8, 32, 32, 3)).astype("float32"), rng.integers(0, 10, 8)
'''

CONFIG = """
  args: {args}
evaluation:
  data: data:eval_data
  metrics: [loss]
thresholds:
  outputs: {{atol: 0.0, rtol: 1.0e-3}}  # an untrained net's logits are ~1e-11: relative only
"""


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> dict[str, Path]:
    import keras
    import tensorflow as tf

    from restore_gate.commands.snapshot import snapshot
    from restore_gate.runtime import describe_device
    from restore_gate.settings.config import load_config

    project = Project(tmp_path_factory.mktemp("mobilenet") / "repo")
    project.write("model.py", MODEL)
    project.write("data.py", DATA)
    project.config(CONFIG.format(args="{}"))
    keras.utils.set_random_seed(0)
    model = project.build()
    out = project.root / "release"
    out.mkdir()
    model.save_weights(out / "model.weights.h5")
    prefix = tf.train.Checkpoint(model=model).write(str(out / "ckpt" / "ckpt"))
    snapshot(out / "model.weights.h5", out / "bundle.tar.gz", describe_device("cpu"),
             project.root, load_config(project.root / ".restore-gate.yml"))
    x = np.random.default_rng(3).uniform(0, 255, size=(8, 32, 32, 3)).astype("float32")
    return {"root": project.root, "weights": out / "model.weights.h5", "tf": Path(prefix),
            "bundle": out / "bundle.tar.gz", "x": x, "outputs": np.asarray(model(x))}


def plain_restore(project: Project, release: dict, kind: str, **args) -> bool:
    """Restore as a user would; True when the branch model then computes the release's outputs."""
    import tensorflow as tf

    model = project.build(**args)
    try:
        if kind == "tf":
            tf.train.Checkpoint(model=model).read(str(release["tf"])).assert_consumed()
        else:
            model.load_weights(release["weights"])
    except Exception:
        return False
    outputs = np.asarray(model(release["x"]))
    return outputs.shape == release["outputs"].shape and bool(
        np.allclose(outputs, release["outputs"], atol=0, rtol=1e-3))


def branch(release: dict, args: str) -> Project:
    project = Project(release["root"])
    project.config(CONFIG.format(args=args))
    return project


@pytest.mark.parametrize("kind", ["weights", "tf"])
def test_width_and_classes_change_is_a_shape_failure_in_place(release, kind):
    project = branch(release, "{alpha: 0.75, classes: 12}")
    assert not plain_restore(project, release, kind, alpha=0.75, classes=12)
    report = project.check(release[kind])
    assert report.verdict == "fail"
    shapes = [m for m in report.mismatches if m.kind == "shape"]
    assert shapes and all(m.blocking for m in shapes)
    for mismatch in report.mismatches:  # nothing moved: same layers, other widths
        assert mismatch.checkpoint_name is None, mismatch
        assert "saved from" not in mismatch.hint and "reordered" not in mismatch.hint
    logits = next(m for m in shapes if m.name.startswith("logits") and m.model.shape[-1] == 12)
    assert logits.checkpoint.shape[-1] == 10
    assert "saved as" in logits.hint and "the branch builds" in logits.hint


def test_preprocessing_removed_restores_but_drifts(release):
    project = branch(release, "{preprocessing: false}")
    assert not plain_restore(project, release, "weights", preprocessing=False)
    report = project.check(release["bundle"])
    assert report.mismatches == []  # Rescaling holds no weights: every value loads
    assert report.model["restored"] == report.model["variables"]
    assert report.verdict == "fail"
    assert any(d.kind == "output" and not d.ok for d in report.drift)
