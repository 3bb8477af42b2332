"""A bundle is unpacked in one pass over its compressed stream (1 GiB: 7 s of inflate, not 14)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from restore_gate.release.bundle import extract_bundle, write_bundle


def _bytes_read() -> int:
    with open("/proc/self/io", encoding="ascii") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("rchar:"))


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux's /proc/self/io")
def test_the_bundle_is_read_once(tmp_path):
    weights = tmp_path / "w.bin"
    weights.write_bytes(os.urandom(4 << 20))  # incompressible, like weights
    bundle = tmp_path / "release.tar.gz"
    write_bundle(bundle, [weights], tmp_path, {"checkpoint": "checkpoint/w.bin"})
    before = _bytes_read()
    manifest = extract_bundle(bundle, tmp_path / "out")
    read = _bytes_read() - before
    assert manifest["checkpoint"] == "checkpoint/w.bin"
    assert (tmp_path / "out" / "checkpoint" / "w.bin").read_bytes() == weights.read_bytes()
    assert bundle.stat().st_size <= read < 1.5 * bundle.stat().st_size  # was twice: list, extract
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".unpack-")] == []
