"""Everything the gate cannot decide is an `error` verdict naming the culprit, never a pass.

Bad artifacts (truncated, corrupted, missing files and shards), a broken builder
(missing module, missing callable, an exception in the user's code, an unbuilt
model) and a device that is not there.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import Project, functional_model, release_model, save_release


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("bad-release")
    model = release_model(base)
    return {
        "tf": save_release(model, base / "tf", "tf-opt"),
        "h5": save_release(model, base / "h5", "h5"),
        "keras": save_release(model, base / "keras", "keras"),
    }


@pytest.fixture
def branch(project: Project) -> Project:
    project.write("model.py", functional_model())
    project.config()
    return project


def copy_tf(prefix: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for file in prefix.parent.glob(f"{prefix.name}.*"):
        shutil.copy(file, target / file.name)
    return target / prefix.name


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def only_error(report) -> dict:
    assert report.verdict == "error"
    assert len(report.errors) == 1, report.errors
    return report.errors[0]


def test_truncated_index_is_an_error_naming_the_file(releases, branch, tmp_path):
    prefix = copy_tf(releases["tf"], tmp_path / "ckpt")
    truncate(Path(f"{prefix}.index"))
    error = only_error(branch.check(prefix))
    assert error["stage"] == "inspect"
    assert str(prefix) in error["message"]
    assert "truncated" in error["hint"]


@pytest.mark.parametrize("keep", [0.3, 0.97])
def test_truncated_data_file_is_an_error_naming_the_file(releases, branch, tmp_path, keep):
    prefix = copy_tf(releases["tf"], tmp_path / "ckpt")
    data = next(prefix.parent.glob("*.data-*"))
    truncate(data, keep)
    error = only_error(branch.check(prefix))
    assert error["stage"] in ("inspect", "restore")
    assert str(prefix.name) in error["message"]
    assert "truncated" in error["hint"] or "corrupted" in error["hint"]


def test_missing_data_shard_is_an_error_naming_the_shard(releases, branch, tmp_path):
    prefix = copy_tf(releases["tf"], tmp_path / "ckpt")
    next(prefix.parent.glob("*.data-*")).unlink()
    error = only_error(branch.check(prefix))
    assert error["stage"] == "inspect"
    assert "1 data shards" in error["message"]
    assert f"{prefix.name}.data-00000-of-00001" in error["message"]


def test_missing_checkpoint_is_an_error_naming_the_path(branch, tmp_path):
    missing = tmp_path / "nowhere" / "ckpt"
    error = only_error(branch.check(missing))
    assert str(missing) in error["message"] and "not found" in error["message"]


def test_truncated_weights_h5_is_an_error_naming_the_file(releases, branch, tmp_path):
    path = tmp_path / "model.weights.h5"
    shutil.copy(releases["h5"], path)
    truncate(path)
    error = only_error(branch.check(path))
    assert error["stage"] in ("inspect", "restore")
    assert str(path) in error["message"]


def test_corrupted_keras_file_is_an_error_naming_the_file(releases, branch, tmp_path):
    path = tmp_path / "model.keras"
    shutil.copy(releases["keras"], path)
    truncate(path, 0.6)
    error = only_error(branch.check(path))
    assert str(path) in error["message"]
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"PK\x03\x04 definitely not a zip")
    assert str(garbage) in only_error(branch.check(garbage))["message"]


def test_keras_zip_without_weights_is_an_error(releases, branch, tmp_path):
    path = tmp_path / "empty.keras"
    with zipfile.ZipFile(releases["keras"]) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            if item.filename != "model.weights.h5":
                target.writestr(item, source.read(item))
    error = only_error(branch.check(path))
    assert str(path) in error["message"]


def test_missing_module_is_named(releases, project):
    project.config(builder="models.nothing:build")
    error = only_error(project.check(releases["tf"]))
    assert error["stage"] == "build"
    assert "models.nothing" in error["message"]
    assert "model.paths" in error["hint"]


def test_missing_callable_offers_a_did_you_mean(releases, project):
    project.write("model.py", functional_model())
    project.config(builder="model:buld")
    error = only_error(project.check(releases["tf"]))
    assert "buld" in error["message"] and "did you mean 'build'" in error["message"]


def test_builder_exception_points_at_the_users_line(releases, project):
    project.write("model.py", functional_model().replace(
        "    model = keras.Model(inputs, outputs)\n",
        "    model = keras.Model(inputs, outputs)\n    raise RuntimeError('boom in the builder')\n",
    ))
    project.config()
    error = only_error(project.check(releases["tf"]))
    assert error["stage"] == "build"
    assert "RuntimeError" in error["message"] and "boom in the builder" in error["message"]
    assert "model.py:9" in error["hint"]


def test_import_time_error_points_at_the_users_line(releases, project):
    project.write("model.py", "import keras\n\nVALUE = 1 / 0\n")
    project.config()
    error = only_error(project.check(releases["tf"]))
    assert "ZeroDivisionError" in error["message"]
    assert "model.py:3" in error["hint"]


UNBUILT = """\
import keras


def build():
    return keras.Sequential(
        [keras.layers.Dense(8, name="hidden"), keras.layers.Dense(3, name="out")]
    )
"""


def test_unbuilt_model_without_input_shape_is_an_error(releases, project):
    project.write("model.py", UNBUILT)
    project.config()
    error = only_error(project.check(releases["h5"]))
    assert error["stage"] == "build"
    assert "unbuilt" in error["message"]
    assert "model.input_shape" in error["hint"]


def test_unbuilt_model_with_input_shape_is_built_and_restored(releases, project):
    project.write("model.py", UNBUILT)
    project.write(".restore-gate.yml",
                  "version: 1\nmodel:\n  builder: model:build\n  input_shape: [null, 4]\n")
    report = project.check(releases["h5"])
    assert report.errors == []
    assert report.model["restored"] == 4
    assert not any(m.blocking for m in report.mismatches)


def test_gpu_asked_for_without_a_gpu_is_an_error(releases, branch, monkeypatch):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    from restore_gate.pipeline.check import CheckOptions, run_check

    report = run_check(CheckOptions(config=branch.root / ".restore-gate.yml",
                                    checkpoint=str(releases["tf"]), device="gpu", quiet=True))
    error = only_error(report)
    assert "no GPU" in error["message"] and "--device cpu" in error["hint"]


def test_corrupted_bytes_in_data_file_are_an_error_naming_the_file(releases, branch, tmp_path):
    prefix = copy_tf(releases["tf"], tmp_path / "ckpt")
    data = next(prefix.parent.glob("*.data-*"))
    raw = bytearray(data.read_bytes())
    for offset in range(0, 64):  # the first values' bytes: sizes still match, checksums do not
        raw[offset] ^= 0xFF
    data.write_bytes(bytes(raw))
    error = only_error(branch.check(prefix))
    assert error["stage"] in ("inspect", "restore")
    assert str(prefix) in error["message"]
    assert "corrupted" in error["hint"] and "report this" not in error["hint"]


def test_an_error_comment_has_no_base_commit_note(releases, branch, tmp_path):
    """The "no base commit: this pull request's settings decided" note is about a verdict the
    settings decided; an error decided nothing, so it does not distract from the cause."""
    prefix = copy_tf(releases["tf"], tmp_path / "ckpt")
    truncate(Path(f"{prefix}.index"))
    report = branch.check(prefix)
    assert report.verdict == "error"
    assert not [n for n in report.notices if n.startswith("No base commit was given")]
    passed = branch.check(releases["tf"])
    assert passed.verdict == "pass"
    assert [n for n in passed.notices if n.startswith("No base commit was given")]
