"""Hostile input, resources: every decompression and every stage is bounded.

One test per attack; each builds the real hostile file (zip, tar, YAML) or runs the real CLI,
and asserts the error, never a time or a memory figure (those are in the closing note of
issue 9, measured with `resource.getrusage` in a subprocess, and for the hostile tables and
.keras layouts of issue 15 in benchmarks/hostile_files.py).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import hostile_files as hostile
import numpy as np
import pytest
from conftest import functional_model, save_release

from restore_gate import limits
from restore_gate.core.manifest import MANIFEST
from restore_gate.errors import GateError
from restore_gate.formats.keras.zip_member import seekable_member
from restore_gate.formats.tensorflow.index import list_checkpoint
from restore_gate.limits import (
    MAX_GOLDEN_BYTES,
    MAX_KERAS_JSON_BYTES,
    MAX_TABLE_BLOCK_BYTES,
    MAX_TABLE_KEY_BYTES,
    MAX_TABLE_KEYS_BYTES,
    RATIO_FLOOR_BYTES,
)
from restore_gate.release.bundle import MAX_MEMBERS, extract_bundle, write_bundle

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Zeros(io.RawIOBase):
    """`size` zero bytes, streamed (a bomb's payload is never held in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def deflated_zip(path: Path, members: dict[str, int | bytes]) -> Path:
    """A zip whose members are `bytes`, or that many zero bytes (deflated: ~1000x smaller)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            if isinstance(content, bytes):
                archive.writestr(name, content)
                continue
            with archive.open(name, "w", force_zip64=True) as out:
                source = Zeros(content)
                while block := source.read(1 << 20):
                    out.write(block)
    return path


def bundle_with(path: Path, members: dict[str, bytes | int], manifest: dict | None = None,
                count: int = 0) -> Path:
    """A .tar.gz bundle: a manifest, `members` (bytes, or that many zeros), `count` empties."""
    with tarfile.open(path, "w:gz", compresslevel=9) as archive:
        data = json.dumps(manifest or {"checkpoint": "checkpoint/model.weights.h5"}).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = content if isinstance(content, int) else len(content)
            archive.addfile(info, Zeros(content) if isinstance(content, int)
                            else io.BytesIO(content))
        empty = tarfile.TarInfo("x")
        for index in range(count):
            empty.name = f"f/{index}"
            archive.addfile(empty, io.BytesIO(b""))
    return path


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A tiny release: the branch project, its .weights.h5 and a bare bundle of it."""
    from conftest import Project

    from restore_gate.commands.snapshot import snapshot
    from restore_gate.runtime import describe_device

    root = tmp_path_factory.mktemp("limits")
    project = Project(root / "repo")
    project.write("model.py", functional_model())
    project.config()
    weights = save_release(project.build(), root / "release", "h5")
    bundle = root / "model.tar.gz"
    snapshot(weights, bundle, describe_device("cpu"), project.root)
    return {"project": project, "weights": weights, "bundle": bundle, "root": root}


PRELOADED = ("import sys, keras, tensorflow\nfrom restore_gate.cli import main\n"
             "sys.exit(main(sys.argv[1:]))")


def check(project, checkpoint: Path, *args: str, config: str = "",
          preload: bool = False) -> subprocess.CompletedProcess:
    """`restore-gate check` in a subprocess; `preload`: TensorFlow imported before the CLI
    runs, so that a short stage limit falls on the branch's code, not on TF's import."""
    project.config(config)
    command = ["-c", PRELOADED] if preload else ["-m", "restore_gate"]
    return subprocess.run(
        [sys.executable, *command, "check", f"--config={project.root}/.restore-gate.yml",
         f"--checkpoint={checkpoint}", "--quiet", *args],
        capture_output=True, text=True, timeout=300,
    )


# --- Python without tarfile.data_filter (issue 10, item 1) ---------------------------------

def test_a_bundle_unpacks_on_a_python_without_tarfile_data_filter(release, monkeypatch):
    """Attack (by accident): the official TF image's Python 3.11.2 has no `tarfile.data_filter`
    and no `filter=` argument; every bundle check used to end in error there."""
    monkeypatch.delattr(tarfile, "data_filter")
    monkeypatch.delattr(tarfile, "tar_filter")
    monkeypatch.delattr(tarfile, "fully_trusted_filter")

    def no_filter_argument(original):
        def call(self, *args, **kwargs):
            if "filter" in kwargs:
                raise TypeError("unexpected keyword argument 'filter'")  # as on 3.11.2
            return original(self, *args, **kwargs)
        return call

    monkeypatch.setattr(tarfile.TarFile, "extractall", no_filter_argument(
        tarfile.TarFile.extractall))
    monkeypatch.setattr(tarfile.TarFile, "extract", no_filter_argument(tarfile.TarFile.extract))
    report = release["project"].check(release["bundle"])
    assert report.verdict == "pass", report.errors


def test_unpacking_writes_regular_files_only_with_plain_permissions(tmp_path):
    """Attack: a setuid, world-writable file in a bundle keeps no special mode bits."""
    bundle = tmp_path / "b.tar.gz"
    with tarfile.open(bundle, "w:gz") as archive:
        info = tarfile.TarInfo("checkpoint/model.weights.h5")
        info.size, info.mode = 3, 0o4777
        archive.addfile(info, io.BytesIO(b"abc"))
    (tmp_path / "out").mkdir()
    extract_bundle(bundle, tmp_path / "out")
    mode = (tmp_path / "out" / "checkpoint" / "model.weights.h5").stat().st_mode
    assert mode & 0o7000 == 0 and mode & 0o002 == 0


# --- tar bombs -----------------------------------------------------------------------------

def test_a_tar_bomb_is_refused_and_nothing_stays_behind(tmp_path):
    """Attack: a ~300 KB bundle whose member unpacks to 300 MB of zeros (used to unpack, up to
    64 GiB, onto the runner's disk)."""
    bundle = bundle_with(tmp_path / "bomb.tar.gz", {"checkpoint/model.weights.h5": 300 << 20})
    assert bundle.stat().st_size < 2 << 20
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(GateError, match="unpacks to more than") as caught:
        extract_bundle(bundle, target)
    assert caught.value.stage == "fetch" and "decompression bomb" in caught.value.hint
    assert list(target.iterdir()) == []


def test_a_tar_with_too_many_members_is_refused(tmp_path, monkeypatch):
    """Attack: a small bundle with more members than the cap (each header held in memory);
    the cap is lowered from MAX_MEMBERS to 500 to keep the test fast."""
    from restore_gate.release import bundle as bundles

    assert MAX_MEMBERS >= 500
    monkeypatch.setattr(bundles, "MAX_MEMBERS", 500)
    bundle = bundle_with(tmp_path / "many.tar.gz", {}, count=501)
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(GateError, match="more than 500 members"):
        extract_bundle(bundle, target)
    assert list(target.iterdir()) == []


def test_a_huge_pax_header_is_refused_before_tarfile_reads_it(tmp_path):
    """Attack: a 200 KB bundle whose one pax header holds 200 MB (tarfile reads a header
    whole: 627 MB of memory to list the archive)."""
    bundle = tmp_path / "pax.tar.gz"
    info = tarfile.TarInfo("checkpoint/model.weights.h5")
    info.pax_headers = {"comment": "x" * (200 << 20)}
    with tarfile.open(bundle, "w:gz", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(info, io.BytesIO(b""))
    assert bundle.stat().st_size < 1 << 20
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(GateError, match="a header of"):
        extract_bundle(bundle, target)


def test_a_downloaded_tar_bomb_never_enters_the_cache(tmp_path):
    """Attack: the bomb as a release asset: refused by its headers before it is cached."""
    from restore_gate.release.download import check_archive

    bundle = bundle_with(tmp_path / "bomb.tar.gz", {"checkpoint/w.weights.h5": 300 << 20})
    with pytest.raises(GateError, match="unpacks to more than"):
        check_archive(bundle, "model-1.tar.gz")


def test_a_tar_bomb_through_the_cli_is_an_error(release):
    """Attack: the tar bomb given to `restore-gate check`: exit 2, never a pass."""
    bundle = bundle_with(release["root"] / "cli-bomb.tar.gz",
                         {"checkpoint/model.weights.h5": 300 << 20})
    result = check(release["project"], bundle)
    assert result.returncode == 2, result.stderr
    assert "unpacks to more than" in result.stdout


# --- zip bombs: golden.npz and .keras ------------------------------------------------------

def golden_bomb(path: Path, size: int) -> Path:
    """A golden.npz whose one array member declares and holds `size` zero bytes."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f4", "fortran_order": False, "shape": (size // 4,)})
    header = buffer.getvalue()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive, \
            archive.open("output:out.npy", "w", force_zip64=True) as out:
        out.write(header)
        source = Zeros(size)
        while block := source.read(1 << 20):
            out.write(block)
    return path


def test_a_golden_npz_bomb_is_refused_before_numpy_inflates_it(release, tmp_path):
    """Attack: a bundle of a few KB whose golden.npz inflates to 1 GiB (took 8 GB of memory);
    here just over the cap, MAX_GOLDEN_BYTES + 1 MiB, to keep the test fast."""
    golden = golden_bomb(tmp_path / "golden.npz", MAX_GOLDEN_BYTES + (1 << 20))
    assert golden.stat().st_size < 8 << 20
    manifest = {"checkpoint": "checkpoint/model.weights.h5",
                "golden": {"file": "golden.npz", "outputs": ["out"], "samples": 1}}
    bundle = tmp_path / "golden-bomb.tar.gz"
    write_bundle(bundle, [release["weights"]], release["weights"].parent, manifest, [golden])
    assert bundle.stat().st_size < 1 << 20  # the tar.gz packs the deflated zeros again
    result = check(release["project"], bundle)
    assert result.returncode == 2, result.stderr
    assert "golden.npz" in result.stdout and "over the limit" in result.stdout


def test_a_golden_npz_whose_header_lies_about_its_shape_is_refused(tmp_path):
    """Attack: an .npy header declaring 1e12 floats in a 1 KB member (NumPy allocates first)."""
    from restore_gate.evaluation.baseline import load_golden

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f4", "fortran_order": False, "shape": (10**12,)})
    member = buffer.getvalue() + bytes(1024)
    path = deflated_zip(tmp_path / "golden.npz", {"output:out.npy": member})
    with pytest.raises(GateError, match="declares 4000000000000 bytes"):
        load_golden(path)


def keras_file_with(tmp_path: Path, weights: Path, **members: int | bytes) -> Path:
    """A real .keras file (model.save) with some members replaced."""
    with zipfile.ZipFile(weights) as source:
        original = {info.filename: source.read(info) for info in source.infolist()}
    original.update(members)
    return deflated_zip(tmp_path / "bomb.keras", original)


@pytest.fixture(scope="module")
def keras_release(release):
    return save_release(release["project"].build(), release["root"] / "keras", "keras")


def test_a_keras_config_bomb_is_refused(keras_release, tmp_path):
    """Attack: a .keras whose config.json inflates to 4 GiB (took 4 GB of memory); a 256 MiB
    stand-in here: over the cap by declared size, refused before a byte is inflated."""
    from restore_gate.commands.inspect import inspect_checkpoint

    bomb = keras_file_with(tmp_path, keras_release, **{"config.json": 256 << 20})
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(GateError, match=r"'config.json' declares \d+ bytes unpacked, over"):
        inspect_checkpoint(bomb, "auto")


def test_a_keras_weights_member_that_inflates_too_much_is_refused(keras_release, tmp_path):
    """Attack: model.weights.h5 inside a .keras inflating ~1000x (under the size cap, over the
    ratio cap)."""
    from restore_gate.formats.keras.zip import check_keras_zip

    bomb = keras_file_with(tmp_path, keras_release,
                           **{"model.weights.h5": RATIO_FLOOR_BYTES + (64 << 20)})
    with pytest.raises(GateError, match=r"inflates \d+ times"):
        check_keras_zip(bomb)


def test_a_keras_metadata_member_over_the_json_cap_is_refused(keras_release, tmp_path):
    """Attack: metadata.json just over its cap (64 MiB of zeros, a few KB packed)."""
    from restore_gate.formats.keras.zip import check_keras_zip

    bomb = keras_file_with(tmp_path, keras_release,
                           **{"metadata.json": MAX_KERAS_JSON_BYTES + 1})
    with pytest.raises(GateError, match=r"metadata\.json"):
        check_keras_zip(bomb)


# --- YAML ----------------------------------------------------------------------------------

BILLION_LAUGHS = "\n".join(
    ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
) + "\n"


def test_a_yaml_alias_bomb_in_the_config_is_refused(project):
    """Attack: nine lines of anchors and aliases expanding to 9**10 strings (took 9.3 GB)."""
    from restore_gate.settings.config import load_config

    path = project.write(".restore-gate.yml",
                         "version: 1\nmodel:\n  builder: model:build\n" + BILLION_LAUGHS)
    with pytest.raises(GateError, match=r"\.restore-gate\.yml:4: YAML anchors and aliases"):
        load_config(path)


def test_a_yaml_alias_bomb_in_the_threshold_file_is_refused(project):
    """Attack: the same bomb in the separate threshold file the config names."""
    from restore_gate.settings.config import load_config

    project.write("thresholds.yml", BILLION_LAUGHS)
    path = project.config("thresholds: thresholds.yml\n")
    with pytest.raises(GateError, match=r"thresholds\.yml:1: YAML anchors and aliases"):
        load_config(path)


def test_even_a_harmless_merge_key_alias_is_refused_with_a_clear_error(project):
    """Attack (or habit): `<<: *defaults` — refused, naming what to do instead."""
    from restore_gate.settings.config import load_config

    path = project.config("allow: &x {missing: []}\n")
    with pytest.raises(GateError) as caught:
        load_config(path)
    assert "write the values out in full" in caught.value.hint


def test_a_huge_config_file_is_refused_unread(project):
    """Attack: a 2 MB config (a generated file, or padding to slow the parser down)."""
    from restore_gate.settings.config import load_config

    path = project.write(".restore-gate.yml", "version: 1\n" + "#" * (2 << 20) + "\n")
    with pytest.raises(GateError, match="over the limit"):
        load_config(path)


# --- time limits ---------------------------------------------------------------------------

HANGS = {
    "a pure-Python loop": "    while True:\n        pass\n",
    "a sleep": "    import time\n    time.sleep(10**6)\n",
    "a loop that swallows the alarm": "    while True:\n        try:\n            while True:\n"
                                      "                pass\n        except BaseException:\n"
                                      "            pass\n",
    "a builder that ignores SIGALRM": "    import signal\n"
                                      "    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                                      "    while True:\n        pass\n",
}


def hanging_builder(project, how: str, marker: Path) -> None:
    """A builder that records that it started, then never returns in the way `how` says."""
    project.write("model.py", f"def build():\n    open({str(marker)!r}, 'w').close()\n"
                  + HANGS[how])


@pytest.mark.parametrize("how", list(HANGS))
def test_a_builder_that_never_returns_ends_in_error_naming_the_stage(release, tmp_path, how):
    """Attack: a builder that never returns (hung the job until GitHub's 6 h limit): a loop,
    a sleep, a loop catching the interruption, a builder disabling the alarm (the watchdog
    ends the process after the grace period, having written the report)."""
    project, marker = release["project"], tmp_path / "started"
    hanging_builder(project, how, marker)
    report_path = tmp_path / "report.json"
    try:
        result = check(project, release["weights"], "--stage-timeout=2",
                       f"--report={report_path}", preload=True)
    finally:
        project.write("model.py", functional_model())
    assert marker.exists(), "the limit fell before the builder ran: " + result.stdout[-1000:]
    assert result.returncode == 2, (how, result.stderr[-2000:])
    report = json.loads(report_path.read_text())
    assert report["verdict"] == "error"
    assert [e["stage"] for e in report["errors"]] == ["build"]
    assert "build stage did not finish within its time limit of 2 s" in \
        report["errors"][0]["message"]
    if how == "a builder that ignores SIGALRM":
        assert "the process was ended" in report["errors"][0]["message"]


def test_the_config_sets_the_stage_limit(release, tmp_path):
    """Attack: as above, with the limit from `limits.stage_seconds` instead of the flag."""
    project, marker = release["project"], tmp_path / "started"
    hanging_builder(project, "a pure-Python loop", marker)
    try:
        result = check(project, release["weights"], config="limits: {stage_seconds: 2}\n",
                       preload=True)
    finally:
        project.write("model.py", functional_model())
    assert marker.exists() and result.returncode == 2
    assert "within its time limit of 2 s" in result.stdout


def test_a_stage_within_its_limit_passes(release):
    """Control: the same release and builder, with a limit it fits in, passes."""
    result = check(release["project"], release["weights"], "--stage-timeout=120")
    assert result.returncode == 0, result.stdout[-2000:]


# --- hostile tables and .keras layouts (issue 15, items 5-7) -------------------------------
# The files are written byte by byte (tests/hostile_files.py); their time and memory before
# and after the limits: benchmarks/hostile_files.py.


def inspect_cli(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "restore_gate", "inspect", str(path)],
                          capture_output=True, text=True, timeout=300)


def refused(result: subprocess.CompletedProcess, message: str) -> None:
    """Exit 2 with the named error and the limits' hint, never "a restore-gate bug"."""
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr, result.stderr[-2000:]
    assert "TensorFlow writes no table this large" in result.stderr
    assert "restore-gate bug" not in result.stderr and "Traceback" not in result.stderr


def test_an_index_whose_keys_each_repeat_the_whole_last_one_is_refused(tmp_path):
    """Attack (item 5): a 1 MB .index whose 1000 keys each share the whole previous 1 MiB key
    and add a byte (reached 7.2 GB in 55 s, then "a restore-gate bug")."""
    prefix = hostile.write_checkpoint(tmp_path / "keys", hostile.growing_keys_index())
    assert Path(f"{prefix}.index").stat().st_size < 2 << 20
    refused(inspect_cli(prefix),
            f"ckpt.index: a key of {1 << 20} bytes, over the limit of {MAX_TABLE_KEY_BYTES}")


def test_an_index_whose_keys_stay_under_the_key_limit_is_bounded_in_total(tmp_path):
    """Attack (item 5, under the per-key limit): keys of 60 KiB, each the last one plus a
    byte, 72 MiB of keys from a 70 KB file: refused at the total."""
    prefix = hostile.write_checkpoint(tmp_path / "keys",
                                      hostile.growing_keys_index(1200, 60 << 10))
    with pytest.raises(GateError, match=f"more than {MAX_TABLE_KEYS_BYTES} bytes of keys together"):
        list_checkpoint(prefix)


def test_an_index_with_a_snappy_block_of_overlapping_copies_is_refused(tmp_path):
    """Attack (item 6): an .index whose snappy block of overlapping copies (21x, inside the
    old 22x bound) inflates past what TensorFlow writes (took 16 s and 490 MB at 9.8 MB;
    here 17 MiB from 800 KB, over the block limit)."""
    size = MAX_TABLE_BLOCK_BYTES + (1 << 20)
    prefix = hostile.write_checkpoint(tmp_path / "snappy", hostile.snappy_index(size))
    assert Path(f"{prefix}.index").stat().st_size < 1 << 20
    refused(inspect_cli(prefix), f"the block at byte 0 holds {size} bytes, over the limit of "
            f"{MAX_TABLE_BLOCK_BYTES}")


def big_value_blocks(count: int, value: int) -> bytes:
    """An .index of `count` snappy blocks, each one entry with a `value`-byte value."""
    import cramjam

    blocks = [(hostile.block([(0, b"", hostile.HEADER)]), 0, b"\x00")]
    for index in range(count):
        key = b"k%04d" % index
        data = hostile.block([(0, key, bytes(value))])
        blocks.append((bytes(cramjam.snappy.compress_raw(data)), 1, key))
    return hostile.table(blocks)


def test_an_index_of_many_snappy_blocks_is_bounded_in_total(tmp_path, monkeypatch):
    """Attack (item 6, each block under its limit): many snappy blocks that each inflate
    under the block limit; refused at the table's total (lowered 64x, blocks of TF's 256 KiB
    size, to keep the test fast)."""
    monkeypatch.setattr(limits, "MAX_TABLE_BYTES", limits.MAX_TABLE_BYTES // 64)
    prefix = hostile.write_checkpoint(tmp_path / "many", big_value_blocks(17, 256 << 10))
    with pytest.raises(GateError, match=f"more than {limits.MAX_TABLE_BYTES} bytes in its "
                       "blocks together"):
        list_checkpoint(prefix)


def test_an_index_with_more_entries_than_the_limit_is_refused(tmp_path, monkeypatch):
    """Attack: a table of tiny entries (Python objects of ~300 bytes each); the limit is
    lowered from 200,000 to 100 to keep the test fast."""
    monkeypatch.setattr(limits, "MAX_TABLE_ENTRIES", 100)
    entries = [(0, b"", hostile.HEADER)] + [(0, b"k%04d" % i, b"") for i in range(100)]
    prefix = hostile.write_checkpoint(tmp_path / "many",
                                      hostile.table([(hostile.block(entries), 0, b"\xff")]))
    with pytest.raises(GateError, match="more than 100 entries, over the limit"):
        list_checkpoint(prefix)


def test_a_deflated_keras_laid_out_backwards_is_inflated_once(tmp_path):
    """Attack (item 7): a .keras whose model.weights.h5 is deflated and laid out backwards
    (h5py read through zipfile's stream, which re-inflates from the start on every backward
    seek: 47 s for 0.9 MB). It is inflated once into a temporary file: the listing is the
    one of the bare weights file, and the temporary copy is gone."""
    weights = hostile.backwards_weights_h5(tmp_path / "back.weights.h5", layers=40)
    keras_file = hostile.deflated_keras(tmp_path / "back.keras", weights)
    assert zipfile.ZipFile(keras_file).getinfo("model.weights.h5").compress_type != 0
    result, bare = inspect_cli(keras_file), inspect_cli(weights)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("layer classes:")[0].count("40 values")
    assert variable_lines(result.stdout) == variable_lines(bare.stdout)
    assert len(variable_lines(bare.stdout)) == 40
    with seekable_member(keras_file, "model.weights.h5") as member:
        assert isinstance(member, Path) and member.read_bytes() == weights.read_bytes()
    assert not member.exists()


def variable_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if "/vars/" in line]


def test_a_stored_keras_member_is_read_through_a_window_onto_the_zip(tmp_path):
    """Attack (item 7, stored as Keras writes it): zipfile's stream on Python 3.11 re-reads
    a stored member from its start on every backward seek; the window seeks in place and
    reads the member's exact bytes, wherever h5py seeks."""
    weights = hostile.backwards_weights_h5(tmp_path / "back.weights.h5", layers=40)
    keras_file = hostile.stored_keras(tmp_path / "back.keras", weights)
    expected = weights.read_bytes()
    with seekable_member(keras_file, "model.weights.h5") as member:
        assert isinstance(member, io.RawIOBase)
        for start in (len(expected) - 100, 5000, 0, len(expected) - 3):
            member.seek(start)
            assert member.read(200) == expected[start:start + 200]
        assert member.seek(0, io.SEEK_END) == len(expected)
    result = inspect_cli(keras_file)
    assert result.returncode == 0 and variable_lines(result.stdout) == variable_lines(
        inspect_cli(weights).stdout)


def test_a_deflated_keras_release_is_checked_through_its_inflated_copy(release, keras_release,
                                                                        tmp_path):
    """Attack (item 7, in `check`): the real .keras release re-zipped deflated passes as the
    stored one does, and Keras's load_weights is handed the inflated copy (the same weights
    file), not the zip it would read through zipfile's re-inflating stream."""
    from restore_gate.formats.keras.v3 import keras_loads, open_weights

    with zipfile.ZipFile(keras_release) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    deflated = deflated_zip(tmp_path / "deflated.keras", members)
    assert zipfile.ZipFile(deflated).getinfo("model.weights.h5").compress_type != 0
    report = release["project"].check(deflated)
    assert report.verdict == "pass", report.errors
    with open_weights(deflated) as handle:
        copy = Path(keras_loads(handle, deflated))
        assert copy.name == "model.weights.h5" and copy.read_bytes() == members[copy.name]
    with open_weights(keras_release) as handle:
        assert keras_loads(handle, keras_release) == str(keras_release)
