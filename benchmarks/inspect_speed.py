"""Benchmark: `restore-gate inspect --json` against a bare `tf.train.list_variables`.

Builds a 512 MiB tf.train.Checkpoint (512 float32 variables of 256 Ki elements) in a
temporary folder, then times each command in fresh processes (median of several
runs, alternating, after one warm-up run each so both read from the page cache). Goal: inspect
takes at most 1.25x the bare listing.

    python benchmarks/inspect_speed.py [--repeat 5] [--variables 512] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 1.25
ELEMENTS = 256 * 1024  # float32 -> 1 MiB per variable


def build_checkpoint(folder: Path, count: int) -> Path:
    """Write the checkpoint in a child process (keeps this process free of TensorFlow)."""
    code = (
        "import sys, numpy as np, tensorflow as tf\n"
        "folder, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
        "rng = np.random.default_rng(0)\n"
        "values = {f'v{i:03d}': tf.Variable(rng.standard_normal(size, dtype=np.float32))\n"
        "          for i in range(count)}\n"
        "print(tf.train.Checkpoint(**values).write(folder + '/ckpt'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(folder), str(count), str(ELEMENTS)],
        check=True, capture_output=True, text=True, env=_env(),
    )
    return Path(out.stdout.strip().splitlines()[-1])


def _env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "-1"}


def commands(prefix: Path) -> dict[str, list[str]]:
    bare = (
        "import tensorflow as tf, sys; "
        "print(len(tf.train.list_variables(sys.argv[1])))"
    )
    return {
        "tf.train.list_variables": [sys.executable, "-c", bare, str(prefix)],
        "restore-gate inspect --json": [
            sys.executable, "-m", "restore_gate", "inspect", "--json", str(prefix)
        ],
    }


def time_commands(commands: dict[str, list[str]], repeat: int) -> dict[str, list[float]]:
    """Run each command `repeat` times, alternating, so background load hits both alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():
        subprocess.run(argv, check=True, capture_output=True, env=_env())  # warm-up
    for _ in range(repeat):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True, env=_env())
            times[name].append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--variables", type=int, default=512)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the checkpoint here")
    args = parser.parse_args(argv)

    folder = args.keep or Path(tempfile.mkdtemp(prefix="inspect-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        prefix = folder / "ckpt"
        if not Path(f"{prefix}.index").is_file():
            start = time.perf_counter()
            prefix = build_checkpoint(folder, args.variables)
            print(f"built {prefix} in {time.perf_counter() - start:.1f}s")
        size = sum(f.stat().st_size for f in folder.glob("ckpt.*"))
        print(f"checkpoint: {args.variables} variables, {size / 2**20:.0f} MiB")
        medians = {}
        for name, times in time_commands(commands(prefix), args.repeat).items():
            medians[name] = statistics.median(times)
            runs = ", ".join(f"{t:.2f}" for t in times)
            print(f"{name:<30} median {medians[name]:.2f}s  (runs: {runs})")
        ratio = medians["restore-gate inspect --json"] / medians["tf.train.list_variables"]
        verdict = "within" if ratio <= GOAL else "OVER"
        print(f"ratio inspect / list_variables: {ratio:.2f}x ({verdict} the {GOAL}x goal)")
        return 0 if ratio <= GOAL else 1
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
