"""Error kinds by their stable code (`GateError.code`), and the one "first line of an
exception" helper: real files, real Keras, no message text matched where a code says it."""

from __future__ import annotations

import zipfile

import pytest

from restore_gate.errors import GateError, first_line
from restore_gate.limits import RATIO_FLOOR_BYTES, check_zip


def test_a_code_is_kebab_case_and_defaults_to_the_stage():
    assert GateError("fetch", "gone", "retry").code == "fetch-failed"
    assert GateError("fetch", "gone", "retry", code="zip-bomb").code == "zip-bomb"
    with pytest.raises(ValueError, match="kebab-case"):
        GateError("fetch", "gone", code="Zip_Bomb")
    assert "code" not in GateError("fetch", "gone", code="zip-bomb").as_dict()  # not in reports


def test_first_line_keeps_the_type_and_one_line():
    multi = ValueError("Graph execution error:\n\nDetected at node 'dense/MatMul'\n  File ...")
    assert first_line(multi) == "ValueError: Graph execution error:"
    assert first_line(RuntimeError("  \n")) == "RuntimeError"
    assert first_line(KeyError()) == "KeyError"


def test_a_zip_bomb_is_refused_by_code(tmp_path):
    bomb = tmp_path / "model.keras"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.weights.h5", b"\0" * (RATIO_FLOOR_BYTES + (8 << 20)))
    with pytest.raises(GateError) as caught:
        check_zip(bomb, {}, 1 << 40, "inspect", "re-create it")
    assert caught.value.code == "zip-bomb"


def test_a_missing_checkpoint_and_an_unknown_format_by_code(tmp_path):
    from restore_gate import formats

    with pytest.raises(GateError) as missing:
        formats.detect(tmp_path / "nothing-here")
    (tmp_path / "notes.txt").write_text("not a checkpoint", encoding="utf-8")
    with pytest.raises(GateError) as unknown:
        formats.detect(tmp_path / "notes.txt")
    assert (missing.value.code, unknown.value.code) == ("checkpoint-not-found", "unknown-format")


def test_a_legacy_h5_missing_a_layer_group_names_the_file(tmp_path):
    """keras_h5 used to say only "layer group 'dense' ... is absent": now which file, where."""
    import h5py

    from restore_gate.formats.keras import h5

    path = tmp_path / "model.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["keras_version"] = "2.15.0"
        weights = handle.create_group("model_weights")
        weights.attrs["layer_names"] = [b"dense"]
    with pytest.raises(GateError) as caught:
        h5.read(path)
    assert caught.value.code == "h5-layer-missing"
    assert str(path) in caught.value.message and "'dense'" in caught.value.message


def test_an_invalid_config_by_code(tmp_path):
    from restore_gate.settings.config import load_config

    config = tmp_path / ".restore-gate.yml"
    config.write_text("model:\n  builder: models:make\ncheckpoint:\n  pathh: ckpt\n",
                      encoding="utf-8")
    with pytest.raises(GateError) as caught:
        load_config(config)
    assert caught.value.code == "config-invalid"


def test_an_optimizer_that_cannot_build_shows_one_line_of_its_error():
    """build.py used to put the optimizer's whole (multi-line) error in the message."""
    import keras

    from restore_gate.branch.build import _build_optimizer

    class Broken(keras.optimizers.Adam):
        def build(self, variables):
            raise ValueError("cannot build slots\n  File 'optimizer.py', line 9\n  ...")

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(GateError) as caught:
        _build_optimizer(Broken(), model)
    assert caught.value.code == "optimizer-build-failed"
    assert caught.value.message.endswith("2 trainable variables failed: ValueError: cannot "
                                         "build slots")
