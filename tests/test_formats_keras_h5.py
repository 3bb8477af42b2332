"""Legacy Keras HDF5 (`model.save("x.h5")`, `save_weights("x.h5")`): files written by
tf.keras 2.21 (tests/data/formats, see make_tf_keras_h5.py) and by Keras 3's own writer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from formats_helpers import FIXTURES, mismatches, restored, write_branch

from restore_gate.formats import detect

BRANCH = """\
import keras


def build():
    inputs = keras.Input((4,), name="x")
    x = keras.layers.Dense({units}, activation="relu", name="hidden")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    outputs = keras.layers.Dense(3, name="{out}", use_bias={bias})(x)
    model = keras.Model(inputs, outputs)
    {compile}
    return model
"""
COMPILE = 'model.compile(optimizer="adam", loss="mse")'


def branch(units: int = 8, out: str = "out", bias: bool = True, compiled: bool = False) -> str:
    return BRANCH.format(units=units, out=out, bias=bias, compile=COMPILE if compiled else "")


def test_inspect_reads_versions_and_layers_without_tensorflow():
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from restore_gate.commands.inspect import inspect_checkpoint\n"
        f"data = inspect_checkpoint(Path({str(FIXTURES / 'tfk_model.h5')!r}))\n"
        "print(json.dumps([data, 'tensorflow' in sys.modules, 'keras' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    data, tf_loaded, keras_loaded = json.loads(out.stdout)
    assert (tf_loaded, keras_loaded) == (False, False)
    assert data["format"] == "keras-h5"
    assert data["written_by"] == {  # tf_keras is Keras 2, whatever its version number
        "keras": "2.21.0", "backend": "tensorflow", "keras_generation": "2",
        "keras_generation_evidence": "keras_version 2.21.0 in the file's metadata"}
    assert data["optimizer"] == "Adam"
    model = [(v["name"], v["layer"], v["shape"]) for v in data["variables"]
             if v["group"] == "model"]
    assert model[:2] == [("hidden/kernel", "hidden", [4, 8]), ("hidden/bias", "hidden", [8])]
    assert [n for n, _, _ in model[2:6]] == [
        "bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"]
    assert data["variables"][0]["key"] == "model_weights/hidden/hidden/kernel:0"
    assert [c["class_name"] for c in data["layer_classes"]][:3] == [
        "Functional", "InputLayer", "Dense"]


def test_legacy_files_are_detected_by_layout_not_only_by_name(tmp_path):
    renamed = tmp_path / "release.weights.h5"  # a legacy file under a Keras 3 name
    renamed.write_bytes((FIXTURES / "tfk_weights.h5").read_bytes())
    assert detect(renamed)[0] == "keras-h5"


@pytest.mark.parametrize("release", ["tfk_weights.h5", "tfk_model.h5"])
def test_unchanged_keras3_model_restores_a_tf_keras_file_by_layer_name(project, release):
    write_branch(project, branch(compiled=release == "tfk_model.h5"))
    report = project.check(FIXTURES / release)
    assert report.verdict == "pass", (report.mismatches, report.errors)
    assert restored(report) == 8
    assert report.checkpoint["written_by"]["keras"] == "2.21.0"
    if release == "tfk_model.h5":  # tf.keras slot names are not Keras 3's: not restored
        assert report.optimizer.status == "changed"


def test_changed_units_are_shape_mismatches_per_layer(project):
    write_branch(project, branch(units=16))
    found = mismatches(project.check(FIXTURES / "tfk_weights.h5"))
    assert found["hidden/kernel"] == found["bn/moving_mean"] == found["out/kernel"] == "shape"
    assert "out/bias" not in found


def plain_load_weights(project, release) -> bool:
    """What a user sees: Keras 3's load_weights of the legacy file into the branch model."""
    try:
        project.build("model:build").load_weights(str(release))
    except ValueError:
        return False
    return True


def test_renamed_layer_restores_by_order_and_a_dropped_bias_is_named(project):
    """Keras 3 loads a legacy .h5 by layer order, not by name (load_weights_from_hdf5_group)."""
    write_branch(project, branch(out="head"))
    assert plain_load_weights(project, FIXTURES / "tfk_weights.h5")
    report = project.check(FIXTURES / "tfk_weights.h5")
    assert report.verdict == "pass", report.mismatches
    assert restored(report) == 8
    write_branch(project, branch(bias=False))
    assert not plain_load_weights(project, FIXTURES / "tfk_weights.h5")
    assert mismatches(project.check(FIXTURES / "tfk_weights.h5")) == {"out/bias": "unexpected"}


def test_a_layer_more_is_refused_by_keras_and_named(project):
    write_branch(project, branch().replace(
        '    outputs = keras.layers.Dense(3', '    x = keras.layers.Dense(8, name="extra")(x)\n'
        '    outputs = keras.layers.Dense(3'))
    assert not plain_load_weights(project, FIXTURES / "tfk_weights.h5")
    report = project.check(FIXTURES / "tfk_weights.h5")
    assert report.verdict == "fail"
    assert mismatches(report) == {"extra/kernel": "missing", "extra/bias": "missing"}
    assert any("refuses this file" in n for n in report.notices)


def test_keras3_legacy_writer_round_trips_with_its_optimizer(project, tmp_path):
    import keras

    write_branch(project, branch(compiled=True))
    model = project.build("model:build")
    model.optimizer.build(model.trainable_variables)
    release = tmp_path / "keras3.h5"
    model.save(str(release))  # Keras 3 writes `.h5` in the legacy layout
    report = project.check(release)
    assert report.verdict == "pass", (report.mismatches, report.errors)
    assert restored(report) == 8
    assert report.checkpoint["written_by"]["keras"] == keras.__version__


# --- issue 15, item 10: a weight entry that is not a dataset ------------------------------

def _saved(tmp_path, kind: str):
    """A real tiny Keras model saved as `kind`; the HDF5 file to edit, and the release."""
    import zipfile

    import keras

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(inputs))
    release = tmp_path / {"weights": "r.weights.h5", "keras": "r.keras", "legacy": "r.h5"}[kind]
    model.save_weights(release) if kind == "weights" else model.save(release)
    if kind != "keras":
        return release, release
    with zipfile.ZipFile(release) as archive:
        archive.extractall(tmp_path / "members")
    return tmp_path / "members" / "model.weights.h5", release


def _rezip(folder, release) -> None:
    import zipfile

    with zipfile.ZipFile(release, "w") as archive:
        for member in sorted(folder.iterdir()):
            archive.write(member, member.name)


@pytest.mark.parametrize("kind", ["weights", "keras", "legacy"])
@pytest.mark.parametrize("entry", ["a group", "a named datatype"])
def test_a_weight_entry_that_is_a_group_or_named_datatype_is_a_named_error(
        tmp_path, capsys, kind, entry):
    """Attack: a release whose first weight (`vars/0`, or a legacy `weight_names` entry) is an
    HDF5 group or named datatype in place of a dataset: it ended in "unexpected AttributeError
    ... a restore-gate bug"; now the object, what it is and the file are named (exit 2)."""
    import h5py
    import numpy as np

    from restore_gate.cli import main

    h5, release = _saved(tmp_path, kind)
    with h5py.File(h5, "r+") as handle:
        names: list[str] = []
        handle.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        name = sorted(n for n in names if "out" in n or "vars" in n)[0]
        del handle[name]
        if entry == "a group":
            handle.create_group(name)
        else:
            handle[name] = np.dtype("float32")
    if kind == "keras":
        _rezip(h5.parent, release)
    assert main(["inspect", str(release)]) == 2
    err = capsys.readouterr().err
    assert "bug" not in err and "Traceback" not in err
    assert f"HDF5 object /{name} in" in err and f"is {entry}, where Keras writes a dataset" in err
    assert str(release) in err
