"""Managed and sharded checkpoints: CheckpointManager folders, multi-shard data, bundles."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest
from formats_helpers import keras_model, restored, write_branch

from restore_gate.commands.inspect import inspect_checkpoint
from restore_gate.errors import GateError
from restore_gate.formats import detect


def _model():
    import keras

    keras.backend.clear_session()
    x = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    return keras.Model(x, keras.layers.Dense(3, name="out")(hidden))


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """A manager folder whose saves hold hidden/bias = 1, 2, 3, and a 4-shard checkpoint."""
    import tensorflow as tf

    root = tmp_path_factory.mktemp("managed")
    model = _model()
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(root / "manager"),
                                         max_to_keep=3)
    for value in (1.0, 2.0, 3.0):
        model.get_layer("hidden").bias.assign(tf.fill([8], value))
        manager.save()
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=64)
    options = tf.train.CheckpointOptions(experimental_sharding_callback=policy)
    sharded = tf.train.Checkpoint(model=model).write(str(root / "sharded" / "ckpt"),
                                                     options=options)
    return {"manager": root / "manager", "sharded": Path(sharded)}


def _bias_after_check(project, checkpoint) -> float:
    from restore_gate import formats
    from restore_gate.branch.build import build_model
    from restore_gate.settings.config import load_config

    config = load_config(project.root / ".restore-gate.yml")
    info = formats.read(Path(checkpoint))
    built = build_model(config)
    model, optimizer = formats.pair(info, built, {})
    assert formats.restore(info, built, {}, model, optimizer) == 4
    return float(built.model.get_layer("hidden").bias.numpy()[0])


def test_state_file_picks_the_latest_save(releases, project):
    folder = releases["manager"]
    assert detect(folder) == ("tf-checkpoint", folder / "ckpt-3")
    write_branch(project, keras_model())
    assert _bias_after_check(project, folder) == 3.0
    report = project.check(folder)
    assert report.verdict == "pass", (report.mismatches, report.errors)


def test_a_state_file_written_elsewhere_still_finds_the_copied_checkpoint(releases, tmp_path):
    copy = shutil.copytree(releases["manager"], tmp_path / "downloaded")
    (copy / "checkpoint").write_text(
        'model_checkpoint_path: "/runner/work/ckpt/ckpt-2"\n'
        'all_model_checkpoint_paths: "/runner/work/ckpt/ckpt-2"\n')
    assert detect(copy) == ("tf-checkpoint", copy / "ckpt-2")
    (copy / "checkpoint").write_text('model_checkpoint_path: "ckpt-9"\n')
    with pytest.raises(GateError) as caught:
        detect(copy)
    assert "ckpt-9" in caught.value.message


def test_every_shard_is_read(releases, project):
    prefix = releases["sharded"]
    shards = sorted(prefix.parent.glob("ckpt.data-*"))
    assert len(shards) > 1
    data = inspect_checkpoint(prefix)
    assert {v["name"] for v in data["variables"]} == {
        "hidden/kernel", "hidden/bias", "out/kernel", "out/bias"}
    write_branch(project, keras_model())
    report = project.check(prefix.parent)
    assert report.verdict == "pass", (report.mismatches, report.errors)
    assert restored(report) == 4


def test_a_missing_shard_is_an_error_naming_it(releases, tmp_path, project):
    copy = Path(shutil.copytree(releases["sharded"].parent, tmp_path / "sharded"))
    shards = sorted(copy.glob("ckpt.data-*"))
    shards[1].unlink()
    with pytest.raises(GateError) as caught:
        inspect_checkpoint(copy / "ckpt")
    assert shards[1].name in caught.value.message
    write_branch(project, keras_model())
    report = project.check(copy)
    assert report.verdict == "error"
    assert shards[1].name in report.errors[0]["message"]


def test_a_bare_archive_of_a_manager_folder_is_checked(releases, project, tmp_path):
    archive = tmp_path / "release.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(releases["manager"], arcname="checkpoint")
    write_branch(project, keras_model())
    report = project.check(archive)
    assert report.verdict == "pass", (report.mismatches, report.errors)
    assert report.checkpoint["format"] == "tf-checkpoint"
