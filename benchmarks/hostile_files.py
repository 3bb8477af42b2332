"""Benchmark: `restore-gate inspect` on the hostile release files of issue 15 (items 5-7).

Builds each hostile file (tests/hostile_files.py) in a temporary folder, runs
`python -m restore_gate inspect FILE` on it in a fresh process, and prints the exit code, the
wall time and the child's peak RSS (os.wait4's rusage), beside a bare baseline: inspecting a
normal small checkpoint and a normal small `.keras`. Each child runs under an address-space
limit and a time limit (--limit-gb, --timeout) so that measuring old code cannot hurt a shared
machine. Bound (issue 15): exit 2 (or, for a valid file laid out to be slow, its listing with
exit 0) within 10 s and 1 GiB, never "a restore-gate bug".

    python benchmarks/hostile_files.py [--code DIR] [--limit-gb 3] [--timeout 60]

--code runs another checkout (e.g. the code before the fix) with DIR first on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import hostile_files as hostile  # noqa: E402

BOUND_SECONDS, BOUND_BYTES = 10.0, 1 << 30


def build(folder: Path) -> dict[str, tuple[Path, Path]]:
    """{case: (path given to inspect, file whose size is shown)}."""
    index = lambda prefix: Path(f"{prefix}.index")  # noqa: E731
    normal = hostile.write_checkpoint(folder / "normal", hostile.table([(hostile.block(
        [(0, b"", hostile.HEADER), (0, b"dense/bias", b"\x08\x01"),
         (6, b"kernel", b"\x08\x01")]), 0, b"\xff")]))
    keys = hostile.write_checkpoint(folder / "keys", hostile.growing_keys_index())
    snappy = hostile.write_checkpoint(folder / "snappy", hostile.snappy_index(210 << 20))
    small = hostile.backwards_weights_h5(folder / "small.weights.h5", layers=3, filler=64)
    back = hostile.backwards_weights_h5(folder / "back.weights.h5", layers=1500, filler=512)
    cases = {
        "baseline: a normal small .index": normal,
        "baseline: a normal small .keras (stored)":
            hostile.stored_keras(folder / "small.keras", small),
        "item 5: .index, 1000 keys each the last 1 MiB one + 1 byte": keys,
        "item 6: .index, a snappy block of overlapping copies (210 MiB)": snappy,
        "item 7 baseline: the same weights laid out backwards, as a bare .weights.h5": back,
        "item 7: .keras, deflated weights laid out backwards":
            hostile.deflated_keras(folder / "back.keras", back),
        "item 7: .keras, stored weights laid out backwards":
            hostile.stored_keras(folder / "back-stored.keras", back),
    }
    return {name: (path, index(path) if path.suffix == "" else path)
            for name, path in cases.items()}


def run(path: Path, code: Path, limit_bytes: int, timeout: float) -> tuple[int, float, int, str]:
    """(exit code, wall seconds, peak RSS bytes, stderr's last line) of one inspect child."""
    env = {**os.environ, "PYTHONPATH": str(code), "TF_CPP_MIN_LOG_LEVEL": "2"}

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "restore_gate", "inspect", str(path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                             preexec_fn=limit, cwd=tempfile.gettempdir())
    timer = threading.Timer(timeout, lambda: child.send_signal(signal.SIGKILL))
    timer.start()
    stderr = child.stderr.read().decode(errors="replace")  # before wait: no pipe deadlock
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    timer.cancel()
    child.returncode = os.waitstatus_to_exitcode(status)
    lines = stderr.strip().splitlines()
    last = next((line for line in lines if "error" in line), lines[-1] if lines else "")
    if "restore-gate bug" in stderr:
        last = "a restore-gate bug: " + last[:120]
    return child.returncode, wall, usage.ru_maxrss * 1024, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout to run (PYTHONPATH)")
    parser.add_argument("--limit-gb", type=float, default=3.0, help="address-space cap")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per child")
    args = parser.parse_args()
    limit = int(args.limit_gb * (1 << 30))
    print(f"code: {args.code}; each child capped at {args.limit_gb} GB address space, "
          f"{args.timeout:.0f} s; bound: {BOUND_SECONDS:.0f} s, {BOUND_BYTES >> 20} MiB")
    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as folder:
        cases = build(Path(folder))
        base_wall = base_rss = None
        for name, (path, shown) in cases.items():
            code, wall, rss, last = run(path, args.code, limit, args.timeout)
            if base_wall is None:
                base_wall, base_rss = wall, rss
            killed = " (killed at the time limit)" if code == -signal.SIGKILL else ""
            within = (code in (0, 2) and wall <= BOUND_SECONDS and rss <= BOUND_BYTES
                      and "restore-gate bug" not in last)
            print(f"\n{name}\n  {shown.stat().st_size / 1e6:.2f} MB on disk; exit {code}"
                  f"{killed}; {wall:.2f} s ({wall / base_wall:.1f}x the baseline); peak RSS "
                  f"{rss / 1e6:.0f} MB ({rss / base_rss:.1f}x); "
                  f"{'within' if within else 'OUTSIDE'} the bound\n  {last[:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
