"""Benchmark: `restore-gate inspect --json` against a bare `tf.train.list_variables`.

Builds a 512 MiB tf.train.Checkpoint (512 float32 variables of 256 Ki elements) in a
temporary folder, then times each command in fresh processes (median of several
runs, alternating, after one warm-up run each so all read from the page cache), wall clock
and CPU (user + sys of the child, which a loaded machine inflates less), beside an empty
`python -c pass` (the interpreter's own start-up). Goals: inspect, which reads the index
without importing TensorFlow, takes at most 0.25 s and at most 1.25x the bare listing.

    python benchmarks/inspect_speed.py [--repeat 5] [--variables 512] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 1.25
GOAL_SECONDS = 0.25
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
        "python -c pass": [sys.executable, "-c", "pass"],
    }


def time_commands(
    commands: dict[str, list[str]], repeat: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Run each command `repeat` times, alternating, so background load hits all alike;
    return the wall-clock and the CPU seconds of every run."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():
        subprocess.run(argv, check=True, capture_output=True, env=_env())  # warm-up
    for _ in range(repeat):
        for name, argv in commands.items():
            before = _child_cpu()
            start = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True, env=_env())
            times[name].append(time.perf_counter() - start)
            cpu[name].append(_child_cpu() - before)
    return times, cpu


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
        walls, cpus = time_commands(commands(prefix), args.repeat)
        for name, times in walls.items():
            medians[name] = statistics.median(times)
            runs = ", ".join(f"{t:.2f}" for t in times)
            print(f"{name:<30} median {medians[name]:.2f}s, CPU "
                  f"{statistics.median(cpus[name]):.2f}s  (runs: {runs})")
        inspect = medians["restore-gate inspect --json"]
        ratio = inspect / medians["tf.train.list_variables"]
        verdict = "within" if ratio <= GOAL else "OVER"
        print(f"ratio inspect / list_variables: {ratio:.2f}x ({verdict} the {GOAL}x goal)")
        seconds = "within" if inspect <= GOAL_SECONDS else "OVER"
        print(f"inspect: {inspect:.2f}s ({seconds} the {GOAL_SECONDS}s goal; the interpreter "
              f"alone starts in {medians['python -c pass']:.2f}s)")
        return 0 if ratio <= GOAL and inspect <= GOAL_SECONDS else 1
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
