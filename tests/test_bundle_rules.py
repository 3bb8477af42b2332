"""Each rule of bundle extraction on hand-made archives (no TensorFlow): which member is
refused and why, the caps on members and bytes, the manifest, and the state file's paths."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from restore_gate.errors import GateError
from restore_gate.release import bundle as bundles
from restore_gate.release.bundle import (
    check_archive_members,
    check_state_file,
    checkpoint_in,
    extract_bundle,
    relative_state,
    unpack_budget,
    unsafe,
)

REMAKE = "re-create the bundle with `restore-gate snapshot`"


def member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    if kind == tarfile.GNUTYPE_SPARSE:
        info.sparse = [(0, 1)]
    return info


def archive(path: Path, files: dict[str, bytes], folders=(), gz: bool = True) -> Path:
    with tarfile.open(path, "w:gz" if gz else "w") as tar:
        for name in folders:
            tar.addfile(member(name, tarfile.DIRTYPE))
        for name, data in files.items():
            tar.addfile(member(name, size=len(data)), io.BytesIO(data))
    return path


@pytest.mark.parametrize("info, reason", [
    (member("/abs"), "an absolute path"),
    (member("\\abs"), "an absolute path"),
    (member("a/../../b"), "a '..' path"),
    (member("..", tarfile.DIRTYPE), "a '..' path"),
    (member("a/link", tarfile.SYMTYPE), "a link"),
    (member("a/hard", tarfile.LNKTYPE), "a link"),
    (member("a/sparse", tarfile.GNUTYPE_SPARSE), "a sparse file"),
    (member(""), "a file without a name"),
    (member("a/fifo", tarfile.FIFOTYPE), "a device or fifo"),
    (member("a/dev", tarfile.CHRTYPE), "a device or fifo"),
    (member("a/blk", tarfile.BLKTYPE), "a device or fifo"),
])
def test_why_a_member_is_refused(info, reason):
    assert unsafe(info) == reason


@pytest.mark.parametrize("info", [member("a/b.h5"), member("a", tarfile.DIRTYPE),
                                  member(".", tarfile.DIRTYPE), member("a..b/c")])
def test_plain_files_and_folders_inside_are_safe(info):
    assert unsafe(info) == ""


def test_a_refused_member_is_named_and_nothing_stays(tmp_path):
    path = tmp_path / "b.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.addfile(member("checkpoint/ok", size=2), io.BytesIO(b"ok"))
        tar.addfile(member("checkpoint/fifo", tarfile.FIFOTYPE))
    (tmp_path / "out").mkdir()
    with pytest.raises(GateError) as caught:
        extract_bundle(path, tmp_path / "out")
    assert caught.value.message == (
        f"refusing to unpack {path}: 'checkpoint/fifo' is a device or fifo")
    assert caught.value.hint == REMAKE and caught.value.stage == "fetch"
    assert list((tmp_path / "out").iterdir()) == []


def test_members_are_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(bundles, "MAX_MEMBERS", 3)
    three = archive(tmp_path / "three.tar.gz", {"a": b"1", "b": b"2"}, ["d"])
    (tmp_path / "out").mkdir()
    assert extract_bundle(three, tmp_path / "out") is None  # no manifest: a bare archive
    assert (tmp_path / "out" / "d").is_dir() and (tmp_path / "out" / "b").read_bytes() == b"2"
    four = archive(tmp_path / "four.tar.gz", {"a": b"1", "b": b"2", "c": b"3"}, ["d"])
    with pytest.raises(GateError) as caught:
        check_archive_members(four, "release v1")
    assert caught.value.message == "refusing to unpack release v1: more than 3 members"


def test_the_unpack_budget_is_a_ratio_of_the_archive_plus_slack_up_to_a_cap(monkeypatch):
    assert unpack_budget(1000) == 200 * 1000 + 64 * 1024**2
    assert unpack_budget(10**12) == 16 * 1024**3
    monkeypatch.setattr(bundles, "UNPACK_SLACK_BYTES", 0)
    assert unpack_budget(1000) == 200_000


def budgeted(monkeypatch, budget: int) -> None:
    monkeypatch.setattr(bundles, "unpack_budget", lambda size: budget)


@pytest.mark.parametrize("budget, ok", [(10, True), (9, False)])
def test_bytes_written_are_counted_against_the_budget(tmp_path, monkeypatch, budget, ok):
    path = archive(tmp_path / "b.tar", {"a": b"12345", "b": b"67890"}, gz=False)
    budgeted(monkeypatch, budget)
    (tmp_path / "out").mkdir()
    if ok:
        extract_bundle(path, tmp_path / "out")
        assert (tmp_path / "out" / "b").read_bytes() == b"67890"
        check_archive_members(path, "b.tar")
        return
    with pytest.raises(GateError) as caught:
        extract_bundle(path, tmp_path / "out")
    assert caught.value.message.startswith(
        f"refusing to unpack {path}: it unpacks to more than 9 bytes (reached 10; the limit "
        "is 200x the archive's size + 67108864 bytes, at most 17179869184)")
    assert list((tmp_path / "out").iterdir()) == []
    with pytest.raises(GateError, match="more than 9 bytes"):
        check_archive_members(path, "b.tar")


@pytest.mark.parametrize("text, problem", [
    (b"{not json", "restore-gate.json is not valid JSON"),
    (b"[1]", "restore-gate.json has no 'checkpoint' entry"),
    (b'{"checkpoint": 3}', "restore-gate.json has no 'checkpoint' entry"),
])
def test_a_broken_manifest_is_named(tmp_path, text, problem):
    path = archive(tmp_path / "b.tar.gz", {"restore-gate.json": text})
    (tmp_path / "out").mkdir()
    with pytest.raises(GateError) as caught:
        extract_bundle(path, tmp_path / "out")
    assert caught.value.message.startswith(f"{path}: {problem}")
    assert caught.value.hint == REMAKE


def test_state_file_paths_become_file_names():
    text = ('model_checkpoint_path: "/ci/run/ckpt-3"\n'
            'all_model_checkpoint_paths: "/ci/run/ckpt-2"\n'
            'all_model_checkpoint_paths: "ckpt-3"\nother: "/x/y"\n')
    assert relative_state(text) == ('model_checkpoint_path: "ckpt-3"\n'
                                    'all_model_checkpoint_paths: "ckpt-2"\n'
                                    'all_model_checkpoint_paths: "ckpt-3"\nother: "/x/y"\n')


@pytest.mark.parametrize("named, what", [
    ("/etc/ckpt-1", "an absolute path"),
    ("../ckpt-1", "a path out of its folder"),
    ("..\\\\ckpt-1", "a path out of its folder"),
    ("link/ckpt-1", "a path out of its folder"),
])
def test_a_state_file_may_only_name_files_of_the_bundle(tmp_path, named, what):
    target = tmp_path / "bundle"
    folder = target / "checkpoint"
    folder.mkdir(parents=True)
    (folder / "link").symlink_to(tmp_path)
    (folder / "checkpoint").write_text(
        f'model_checkpoint_path: "ckpt-1"\nall_model_checkpoint_paths: "{named}"\n')
    with pytest.raises(GateError) as caught:
        checkpoint_in(target, {"checkpoint": "checkpoint"})
    assert caught.value.message == (
        f"the bundle's checkpoint state file checkpoint/checkpoint names {what} (entry 2): a "
        "bundle may only point at its own files")
    with pytest.raises(GateError, match="entry 2"):
        checkpoint_in(target, None)  # a bare archive's checkpoint/ folder


def test_checkpoint_paths_inside_the_bundle(tmp_path):
    target = tmp_path / "bundle"
    (target / "checkpoint").mkdir(parents=True)
    (target / "checkpoint" / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    assert checkpoint_in(target, None) == target / "checkpoint"
    assert checkpoint_in(target, {"checkpoint": "checkpoint/ckpt-1"}) == (
        target / "checkpoint" / "ckpt-1").resolve()
    check_state_file(target / "nothing", target)  # no folder, no state file: nothing to check
    with pytest.raises(GateError) as caught:
        checkpoint_in(target, {"checkpoint": "../elsewhere"})
    assert caught.value.message == (
        "the manifest's checkpoint path '../elsewhere' leaves the bundle")
    bare = tmp_path / "bare"
    bare.mkdir()
    assert checkpoint_in(bare, None) == bare


def test_a_member_without_data_is_a_corrupt_archive(tmp_path):
    path = tmp_path / "b.tar"
    path.write_bytes(json.dumps({}).encode())
    (tmp_path / "out").mkdir()
    with pytest.raises(GateError, match=f"cannot unpack {path}"):
        extract_bundle(path, tmp_path / "out")


def test_folders_repeat_and_parents_are_made(tmp_path):
    path = tmp_path / "b.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name in ("a", "a", "b/c"):
            tar.addfile(member(name, tarfile.DIRTYPE))
        tar.addfile(member("d/e/f", size=1), io.BytesIO(b"1"))
    (tmp_path / "out").mkdir()
    extract_bundle(path, tmp_path / "out")
    assert (tmp_path / "out" / "b" / "c").is_dir()
    assert (tmp_path / "out" / "d" / "e" / "f").read_bytes() == b"1"


def test_the_budget_counts_every_member_and_no_folder(tmp_path, monkeypatch):
    path = archive(tmp_path / "b.tar", {"a": b"1234", "b": b"1234", "c": b"1234"}, ["d", "e"],
                   gz=False)
    budgeted(monkeypatch, 12)
    check_archive_members(path, "release")
    (tmp_path / "out").mkdir()
    extract_bundle(path, tmp_path / "out")
    budgeted(monkeypatch, 11)
    with pytest.raises(GateError) as caught:
        extract_bundle(path, tmp_path / "out")
    assert "more than 11 bytes (reached 12;" in caught.value.message
    with pytest.raises(GateError) as caught:
        check_archive_members(path, "release v1")
    assert caught.value.message.startswith(
        "refusing to unpack release v1: it unpacks to more than 11 bytes (reached 12;")
