"""Download of a release from an S3-compatible server: the store's own client vs the gate's fetch.

Starts moto's standalone S3 server on loopback (tests/stores_support.py), uploads a file of
`--mib` MiB (default 1024, as issue 18 asks) with boto3's multipart upload, then downloads it in
fresh child processes and reports wall time, CPU time and peak RSS (wait4) of each:

- baseline: boto3 `download_file` (s3transfer: ranged GETs, streamed to disk);
- interpreter: the same child importing boto3 and doing nothing (the memory baseline);
- gate: restore-gate's own fetch of `s3://bucket/key` (GATE_FETCH below).

    python benchmarks/store_download.py [--mib 1024] [--runs 2]

Goal (issue 18): the gate's time ≤ 1.2× boto3's, its peak ≤ 64 MiB over the interpreter's.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

from check_speed import measure  # benchmarks/ is the script's folder

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from stores_support import DUMMY_AWS, start_s3  # noqa: E402

IDLE = "import boto3; boto3.client('s3')"
BOTO3 = """
import boto3, sys
boto3.client("s3").download_file(sys.argv[1], sys.argv[2], sys.argv[3])
"""

# ---- HOOK: the gate's own fetch, measured the same way once restore_gate can fetch s3://.
# The gate's own fetch of `s3://{bucket}/{key}` (restore_gate/release/stores/s3.py), into a fresh
# cache each run (a warm cache transfers 0 bytes), moved to `{target}` for the digest check.
GATE = """
import os, sys, tempfile
os.environ["RESTORE_GATE_CACHE"] = tempfile.mkdtemp(dir=os.path.dirname(sys.argv[3]))
from restore_gate.release.stores import fetch_store
os.replace(fetch_store("s3://" + sys.argv[1] + "/" + sys.argv[2], dict()).path, sys.argv[3])
"""
GATE_FETCH: list[str] | None = [sys.executable, "-c", GATE, "{bucket}", "{key}", "{target}"]


def make_file(path: Path, mib: int) -> str:
    """`mib` MiB of incompressible bytes, written 1 MiB at a time; returns its sha256."""
    digest = hashlib.sha256()
    block = os.urandom(1024 * 1024)
    with path.open("wb") as out:
        for index in range(mib):
            chunk = index.to_bytes(8, "little") + block[8:]
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while chunk := data.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def best(command: list[str], cwd: Path, runs: int) -> tuple[float, float, float]:
    results = [measure(command, cwd) for _ in range(runs)]
    return (min(r[0] for r in results), min(r[1] for r in results), min(r[2] for r in results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
        root = Path(tmp)
        store = start_s3(root)
        try:
            os.environ.update(store.env())
            os.environ.update(DUMMY_AWS)
            source = root / "release.bin"
            expected = make_file(source, args.mib)
            bucket = store.bucket("releases")
            store.upload_file(bucket, "model/release.keras", source)
            source.unlink()
            run(root, bucket, "model/release.keras", expected, args)
        finally:
            store.server.stop()


def run(root: Path, bucket: str, key: str, expected: str, args) -> None:
    target = root / "downloaded.bin"
    idle = best([sys.executable, "-c", IDLE], root, args.runs)
    rows = {"interpreter (import boto3)": idle}
    boto = [sys.executable, "-c", BOTO3, bucket, key, str(target)]
    rows["boto3 download_file"] = best(boto, root, args.runs)
    assert sha256(target) == expected, "boto3 download differs from the upload"
    target.unlink()
    if GATE_FETCH is not None:
        gate = [part.format(bucket=bucket, key=key, target=target) for part in GATE_FETCH]
        rows["restore-gate fetch"] = best(gate, root, args.runs)
        assert sha256(target) == expected, "the gate's download differs from the upload"
    print(f"{args.mib} MiB from moto S3 on loopback, best of {args.runs}:")
    print(f"{'':28} {'wall s':>8} {'cpu s':>8} {'peak MiB':>9} {'over interp.':>12}")
    for name, (wall, peak, cpu) in rows.items():
        print(f"{name:28} {wall:8.2f} {cpu:8.2f} {peak:9.1f} {peak - idle[1]:12.1f}")
    base = rows["boto3 download_file"]
    print(f"boto3: {args.mib / base[0]:.0f} MiB/s wall")
    if "restore-gate fetch" in rows:
        gate = rows["restore-gate fetch"]
        print(f"gate / boto3: time {gate[0] / base[0]:.2f}x (goal <= 1.2x), "
              f"peak over interpreter {gate[1] - idle[1]:.1f} MiB (goal <= 64)")
    else:
        print("gate: not measured yet (set GATE_FETCH once restore_gate fetches s3://)")


if __name__ == "__main__":
    main()
