"""`restore-gate inspect` on files written by plain TensorFlow/Keras code (not by this project)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, Project, functional_model, save_release

from restore_gate.cli import main


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("inspect")
    release = Project(base / "repo")
    release.write("model.py", functional_model(compiled=False))
    plain = release.build()
    saved = {"tf": save_release(plain, base / "tf", "tf")}
    release.write("model.py", functional_model())
    compiled = release.build()
    saved["tf-opt"] = save_release(compiled, base / "tf-opt", "tf-opt")
    saved["manager"] = save_release(compiled, base / "manager", "manager")
    saved["h5"] = save_release(compiled, base / "h5", "h5")
    saved["keras"] = save_release(compiled, base / "keras", "keras")
    return saved


def inspect_json(path: Path, capsys: pytest.CaptureFixture) -> dict:
    assert main(["inspect", "--json", str(path)]) == 0
    return json.loads(capsys.readouterr().out)


def by_name(data: dict) -> dict[str, dict]:
    return {v["name"]: v for v in data["variables"]}


def test_tf_checkpoint_without_optimizer_lists_human_names_and_raw_keys(saved, capsys):
    data = inspect_json(saved["tf"], capsys)
    assert data["format"] == "tf-checkpoint"
    variables = by_name(data)
    assert set(variables) == {"hidden/kernel", "hidden/bias", "out/kernel", "out/bias"}
    kernel = variables["hidden/kernel"]
    assert kernel == {
        "name": "hidden/kernel",
        "layer": "hidden",
        "key": "model/_operations/1/_kernel/.ATTRIBUTES/VARIABLE_VALUE",
        "shape": [4, 8],
        "dtype": "float32",
        "group": "model",
    }
    assert variables["out/bias"]["shape"] == [3]
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" not in {v["key"] for v in data["variables"]}


def test_tf_checkpoint_with_optimizer_keeps_model_names_and_groups_the_slots(saved, capsys):
    data = inspect_json(saved["tf-opt"], capsys)
    model = [v for v in data["variables"] if v["group"] == "model"]
    optimizer = [v for v in data["variables"] if v["group"] == "optimizer"]
    assert {v["name"] for v in model} == {"hidden/kernel", "hidden/bias", "out/kernel",
                                          "out/bias"}
    kernel = next(v for v in model if v["name"] == "hidden/kernel")
    # the weights are saved once, under the shortest path: through the optimizer
    assert kernel["key"] == "optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"
    assert len(optimizer) == 10  # iterations, learning rate, 2 moments x 4 weights
    assert data["optimizer"].lower() == "adam"


def test_checkpoint_manager_folder_reads_the_latest_checkpoint(saved, capsys):
    data = inspect_json(saved["manager"], capsys)
    assert data["format"] == "tf-checkpoint"
    assert "hidden/kernel" in by_name(data)
    assert data["bytes"] > 0


def test_weights_h5_lists_keras_paths(saved, capsys):
    data = inspect_json(saved["h5"], capsys)
    assert data["format"] == "keras-weights"
    keys = {v["key"]: v for v in data["variables"]}
    assert keys["layers/dense/vars/0"]["shape"] == [4, 8]
    assert keys["layers/dense/vars/0"]["group"] == "model"
    assert keys["layers/dense_1/vars/1"]["shape"] == [3]
    assert sum(v["group"] == "optimizer" for v in data["variables"]) == 10


def test_keras_file_records_the_writer_version(saved, capsys):
    import keras

    data = inspect_json(saved["keras"], capsys)
    assert data["format"] == "keras"
    assert data["written_by"]["keras"] == keras.__version__
    assert {v["key"] for v in data["variables"]} >= {"layers/dense/vars/0",
                                                     "layers/dense_1/vars/0"}


def test_text_listing_has_one_line_per_value(saved, capsys):
    assert main(["inspect", str(saved["tf"])]) == 0
    out = capsys.readouterr().out
    assert "tf-checkpoint, 4 values" in out
    line = next(line for line in out.splitlines() if "hidden/kernel" in line)
    assert "4x8" in line and "float32" in line and "model/_operations/1/_kernel" in line


def test_inspect_of_a_missing_file_exits_2_naming_it(tmp_path, capsys):
    missing = tmp_path / "nothing.weights.h5"
    assert main(["inspect", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_inspect_of_weights_h5_does_not_import_tensorflow(saved):
    code = (
        "import json, sys\n"
        "from restore_gate.cli import main\n"
        "code = main(['inspect', '--json', sys.argv[1]])\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "print('HEAVY', json.dumps(heavy), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(saved["h5"])],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["format"] == "keras-weights"
    heavy = next(line for line in result.stderr.splitlines() if line.startswith("HEAVY"))
    assert json.loads(heavy.split(" ", 1)[1]) == []
