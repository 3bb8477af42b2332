"""The Keras 2 → 3 upgrade: release files written by TF 2.15.1 / Keras 2.15 (tests/data/keras2),
checked by a branch that moved to TF 2.16+ / Keras 3 without changing its model.

Each expectation is computed the way a user finds out: build the branch model, restore the
file with plain Keras/TensorFlow (`load_weights`, `tf.train.Checkpoint(...).restore`), and
compare its outputs with the ones the Keras 2 model gave (recorded beside the files). The
gate must pass what restores exactly and fail what does not, naming the upgrade.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import Project

DATA = Path(__file__).resolve().parent / "data" / "keras2"
CASES = [
    ("functional", "model.weights.h5"),
    ("functional", "model.keras"),
    ("functional", "weights.h5"),
    ("functional", "model.h5"),
    ("functional", "ckpt"),
    ("functional", "ckpt_opt"),
    ("subclassed", "model.weights.h5"),
    ("subclassed", "model.keras"),
    ("subclassed", "weights.h5"),
    ("subclassed", "ckpt"),
    ("subclassed", "ckpt_opt"),
]
IDS = [f"{style}-{name}" for style, name in CASES]


@pytest.fixture(scope="module")
def branch(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = Project(tmp_path_factory.mktemp("keras2") / "repo")
    shutil.copy(DATA / "model_source.py", project.root / "model_source.py")
    return project


def plain_restore(project: Project, style: str, name: str) -> bool:
    """What a user sees: does the release restore into the branch model, outputs unchanged?"""
    import tensorflow as tf

    model = project.build(f"model_source:build_{style}")
    path = DATA / style / name
    if name.startswith("ckpt"):
        tf.train.Checkpoint(model=model).restore(str(path / "ckpt")).expect_partial()
    else:
        model.load_weights(str(path))
    recorded = np.load(DATA / style / "eval.npz")
    outputs = np.asarray(model(recorded["x"], training=False))
    return bool(np.allclose(outputs, recorded["outputs"], atol=1e-6, rtol=0))


def gate(project: Project, style: str, name: str):
    config = project.config(builder=f"model_source:build_{style}")
    path = DATA / style / name
    return project.check(path / "ckpt" if name.startswith("ckpt") else path, config)


@pytest.mark.parametrize(("style", "name"), CASES, ids=IDS)
def test_the_gate_agrees_with_plain_keras(branch, style, name):
    restores = plain_restore(branch, style, name)
    report = gate(branch, style, name)
    assert report.errors == [], report.errors
    assert report.verdict == ("pass" if restores else "fail"), report.mismatches
    if restores:
        assert report.model["restored"] == report.model["variables"]
    assert report.checkpoint["written_by"].get("keras_generation") == "2"
    assert report.notices[0].startswith("Keras 2 → 3 upgrade: the release was written by Keras 2")


@pytest.mark.parametrize("style", ["functional", "subclassed"])
def test_keras2_weights_file_pairs_as_keras3_reads_it(branch, style):
    report = gate(branch, style, "model.weights.h5")
    assert report.verdict == "pass"
    assert not [m for m in report.mismatches if m.kind == "unexpected"]
    assert any("compile-metric values" in n for n in report.notices)
    # Keras 3's optimizer skips a state whose variable count differs: so must the gate
    assert report.optimizer.status == "changed" and report.optimizer.restored_values == 0
    assert "learning rate" in report.optimizer.hint


def test_keras2_keras_file_pairs_weights_without_rebuilding_its_config(branch):
    report = gate(branch, "functional", "model.keras")
    assert report.verdict == "pass"
    assert report.checkpoint["written_by"]["keras"] == "2.15.0"
    notice = next(n for n in report.notices if "model config was not rebuilt" in n)
    assert "load_weights" in notice and "model.save('model.keras')" in notice
    assert not any(n.startswith("Version skew: ") and "keras" in n for n in report.notices)


def test_keras3_cannot_load_model_the_keras2_file():
    """Why the config rebuild is skipped: plain Keras 3 cannot rebuild it either."""
    import keras

    with pytest.raises(Exception, match=r"keras\.src\.engine"):
        keras.saving.load_model(DATA / "functional" / "model.keras", compile=False)


@pytest.mark.parametrize("name", ["ckpt", "ckpt_opt"])
def test_tf_keras_checkpoint_fails_naming_the_upgrade(branch, name):
    report = gate(branch, "functional", name)
    assert report.verdict == "fail"
    blocking = [m for m in report.mismatches if m.blocking]
    assert blocking
    for mismatch in blocking:
        assert "layer_with_weights-N" in mismatch.hint
        assert "save_weights('model.weights.h5')" in mismatch.hint
        assert "saved at `model/layer_with_weights-" in mismatch.hint
        assert "inserted or removed" not in mismatch.hint
    kernel = next(m for m in blocking if m.name == "hidden/kernel")
    assert "Keras 3 tracks it at `model/_operations/" in kernel.hint


def test_tf_keras_subclassed_checkpoint_names_the_attribute(branch):
    report = gate(branch, "subclassed", "ckpt")
    assert report.verdict == "fail"
    kernels = [m for m in report.mismatches if m.blocking]
    assert kernels and all("`model/hidden/kernel`" in m.hint or "`model/head/kernel`" in m.hint
                           for m in kernels)
    assert all("_kernel" in m.hint and "by position" not in m.hint for m in kernels)


def test_the_documented_migration_works(branch, tmp_path):
    """The hint's migration: the Keras 2 weights file (what re-saving with save_weights in the
    old environment writes, as make_keras2_files.py did) restores in plain Keras 3."""
    assert plain_restore(branch, "functional", "model.weights.h5")
    assert not plain_restore(branch, "functional", "ckpt")


def test_keras3_file_whose_builtin_config_no_longer_rebuilds_pairs_its_weights(branch, tmp_path):
    """A config Keras's own classes reject (here an argument Dense does not take) breaks
    load_model but not load_weights: the gate pairs the weights, with a notice."""
    import json
    import zipfile

    model = branch.build("model_source:build_functional")
    saved = tmp_path / "saved.keras"
    model.save(saved)
    edited = tmp_path / "model.keras"
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(edited, "w") as target:
        for item in source.namelist():
            data = source.read(item)
            if item == "config.json":
                config = json.loads(data)
                config["config"]["layers"][1]["config"]["retired_argument"] = 1
                data = json.dumps(config).encode()
            target.writestr(item, data)
    import keras

    with pytest.raises(Exception, match="retired_argument"):
        keras.saving.load_model(edited)
    branch.build("model_source:build_functional").load_weights(edited)  # plain: fine
    report = branch.check(edited, branch.config(builder="model_source:build_functional"))
    assert report.verdict == "pass", report.errors
    assert any("does not rebuild" in n and "no custom class" in n for n in report.notices)


@pytest.mark.parametrize("name", ["weights.h5", "model.h5", "model.weights.h5", "model.keras"])
def test_renamed_layer_agrees_with_plain_keras(tmp_path, name):
    """Keras 3 reads these Keras 2 files by layer order or class-derived path, not by name."""
    project = Project(tmp_path / "repo")
    (project.root / "model_source.py").write_text(
        (DATA / "model_source.py").read_text().replace('name="hidden"', 'name="encoder"'))
    restores = plain_restore(project, "functional", name)
    report = gate(project, "functional", name)
    assert report.verdict == ("pass" if restores else "fail"), report.mismatches
    assert restores  # measured: every one of them restores
