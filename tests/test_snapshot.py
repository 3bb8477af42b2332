"""`restore-gate snapshot`: release bundles of every core format, and checking against them."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from conftest import functional_model, release_model, save_release

from restore_gate.cli import main
from restore_gate.commands.snapshot import snapshot
from restore_gate.core.manifest import MANIFEST

RUNNER = {"device": "CPU", "device_name": "test cpu", "tf32": False}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("snapshot")
    model = release_model(base)
    return {kind: save_release(model, base / kind, kind)
            for kind in ("tf-opt", "manager", "h5", "keras")}


def manifest_of(bundle: Path) -> tuple[dict, list[str]]:
    with tarfile.open(bundle) as archive:
        names = archive.getnames()
        return json.loads(archive.extractfile(MANIFEST).read()), names


@pytest.mark.parametrize("kind", ["tf-opt", "manager", "h5", "keras"])
def test_bundle_holds_checkpoint_and_manifest_and_the_unchanged_branch_passes(
    saved, project, tmp_path, kind
):
    import tensorflow as tf

    bundle = tmp_path / "release" / "model.tar.gz"
    snapshot(saved[kind], bundle, RUNNER, tmp_path)
    manifest, names = manifest_of(bundle)
    assert manifest["format"] == {"h5": "keras-weights", "keras": "keras"}.get(
        kind, "tf-checkpoint")
    assert manifest["checkpoint"] in names or any(
        n.startswith(manifest["checkpoint"] + ".") for n in names)
    assert all(n == MANIFEST or n.startswith("checkpoint/") for n in names)
    assert manifest["versions"]["tensorflow"] == tf.__version__
    assert manifest["versions"]["python"]
    assert manifest["device"] == "CPU"
    assert {"name", "layer", "key", "shape", "dtype"} <= set(manifest["variables"][0])

    project.write("model.py", functional_model())
    project.config()
    report = project.check(bundle)
    assert report.errors == [], report.errors
    assert report.verdict == "pass", report.mismatches
    assert report.checkpoint["manifest"] is True
    assert report.checkpoint["written_by"]["tensorflow"] == tf.__version__
    assert report.checkpoint["digest"].startswith("sha256:")


def test_breaking_change_against_a_bundle_fails(saved, project, tmp_path):
    bundle = tmp_path / "model.tar.gz"
    snapshot(saved["tf-opt"], bundle, RUNNER, tmp_path)
    project.write("model.py", functional_model(units=16))
    project.config()
    report = project.check(bundle)
    assert report.verdict == "fail"
    assert {m.name for m in report.mismatches} >= {"hidden/kernel", "hidden/bias"}


def test_manifest_records_the_git_commit(saved, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "README").write_text("x")
    subprocess.run([*git, "add", "README"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "release"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    manifest = snapshot(saved["h5"], tmp_path / "b.tar.gz", RUNNER, repo)
    assert manifest["commit"] == head
    assert manifest_of(tmp_path / "b.tar.gz")[0]["commit"] == head


def test_cli_snapshot_and_inspect_of_the_bundle(saved, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no .restore-gate.yml here: a bare bundle
    bundle = tmp_path / "out" / "model.tar.gz"
    assert main(["snapshot", "--checkpoint", str(saved["h5"]), "--out", str(bundle)]) == 0
    assert bundle.is_file()
    capsys.readouterr()
    assert main(["inspect", "--json", str(bundle)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == "keras-weights"
    assert data["path"] == str(bundle)
    assert "python" in data["written_by"]
    assert any(v["key"] == "layers/dense/vars/0" for v in data["variables"])


def hostile_bundle(path: Path, member: str, manifest: dict | None = None) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in ((member, b"evil"),
                           (MANIFEST, json.dumps(manifest).encode() if manifest else None)):
            if data is None:
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_bundle_with_a_path_out_of_the_folder_is_refused(project, tmp_path):
    project.write("model.py", functional_model())
    project.config()
    bundle = hostile_bundle(tmp_path / "evil.tar.gz", "../../escaped.txt")
    report = project.check(bundle)
    assert report.verdict == "error"
    assert report.errors[0]["stage"] == "fetch"
    assert "refusing" in report.errors[0]["message"]
    assert not (tmp_path / "escaped.txt").exists()


def test_manifest_pointing_out_of_the_bundle_is_refused(project, tmp_path):
    project.write("model.py", functional_model())
    project.config()
    bundle = hostile_bundle(tmp_path / "evil.tar.gz", "checkpoint/x",
                            {"checkpoint": "../../../etc/passwd"})
    report = project.check(bundle)
    assert report.verdict == "error"
    assert "leaves the bundle" in report.errors[0]["message"]


def test_truncated_bundle_is_an_error_naming_it(saved, project, tmp_path):
    bundle = tmp_path / "model.tar.gz"
    snapshot(saved["tf-opt"], bundle, RUNNER, tmp_path)
    bundle.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
    project.write("model.py", functional_model())
    project.config()
    report = project.check(bundle)
    assert report.verdict == "error"
    assert str(bundle) in report.errors[0]["message"]
