"""Release bundles given by path are untrusted too: unsafe members refuse the whole archive."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from restore_gate.core.manifest import MANIFEST
from restore_gate.errors import GateError
from restore_gate.release.bundle import extract_bundle, write_bundle


def hostile(path: Path, member: tarfile.TarInfo, data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as archive:
        manifest = json.dumps({"checkpoint": "checkpoint/model.weights.h5"}).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(manifest)
        archive.addfile(info, io.BytesIO(manifest))
        member.size = len(data) if member.isfile() else 0
        archive.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


def symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize("member, reason", [
    (tarfile.TarInfo("/etc/evil"), "absolute path"),
    (tarfile.TarInfo("checkpoint/../../evil"), "'..' path"),
    (symlink("checkpoint/link", "/etc/passwd"), "a link"),
])
def test_unsafe_members_are_refused_and_nothing_is_written(tmp_path, member, reason):
    bundle = hostile(tmp_path / "evil.tar.gz", member)
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(GateError, match=reason) as caught:
        extract_bundle(bundle, target)
    assert caught.value.stage == "fetch"
    assert list(target.iterdir()) == []
    assert not (tmp_path / "evil").exists()


def test_a_truncated_bundle_is_an_error_naming_it(tmp_path):
    source = tmp_path / "w.bin"
    source.write_bytes(b"0" * 200_000)
    bundle = tmp_path / "good.tar.gz"
    write_bundle(bundle, [source], tmp_path, {"checkpoint": "checkpoint/w.bin"})
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
    (tmp_path / "out").mkdir()
    with pytest.raises(GateError, match=r"cut\.tar\.gz"):
        extract_bundle(cut, tmp_path / "out")


def test_round_trip_keeps_the_manifest_and_files(tmp_path):
    source = tmp_path / "ckpt" / "w.bin"
    source.parent.mkdir()
    source.write_bytes(b"weights")
    bundle = tmp_path / "b.tar.gz"
    write_bundle(bundle, [source], tmp_path / "ckpt", {"checkpoint": "checkpoint/w.bin", "x": 1})
    (tmp_path / "out").mkdir()
    manifest = extract_bundle(bundle, tmp_path / "out")
    assert manifest["x"] == 1
    assert (tmp_path / "out" / "checkpoint" / "w.bin").read_bytes() == b"weights"
