"""Run the suite (or some test files) N times in random order: pass/fail and the seed per run.

    python benchmarks/random_order.py                      # the whole suite, 3 runs
    python benchmarks/random_order.py --runs 5 tests/test_drift.py tests/test_publish.py
    python benchmarks/random_order.py --seed 1234 tests/   # replay one order

On demand only, not in CI: CI keeps pytest's file order. Needs pytest-random-order
(`pip install pytest-random-order`), which only shuffles when asked (`--random-order-*`), so
installing it changes no other run; pytest-randomly would shuffle (and reseed) every run on
the machine. Tests are shuffled across the whole selection (bucket `global`), so a test that
leans on another's state, a module fixture's leftovers or the order of files fails here.
A failing run prints its seed and the command that replays it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_once(seed: int, selection: list[str], bucket: str) -> tuple[bool, str, float]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               f"--random-order-bucket={bucket}",
               f"--random-order-seed={seed}", *selection]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    start = time.monotonic()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          check=False)
    lines = done.stdout.strip().splitlines()
    summary = lines[-1] if lines else done.stderr.strip()[-300:]
    failures = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    return done.returncode == 0, "\n".join([summary, *failures]), time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("selection", nargs="*", default=["tests"],
                        help="test files or folders (default: tests)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, help="the first run's seed (then +1 per run)")
    parser.add_argument("--bucket", default="global",
                        choices=["global", "package", "module", "class", "parent",
                                 "grandparent"])
    args = parser.parse_args()
    if importlib.util.find_spec("random_order") is None:
        print("pytest-random-order is not installed: pip install pytest-random-order")
        return 2
    first = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    failed = 0
    for index in range(args.runs):
        seed = first + index
        ok, summary, seconds = run_once(seed, args.selection, args.bucket)
        failed += not ok
        print(f"run {index + 1}/{args.runs}  seed {seed}  {'pass' if ok else 'FAIL'}  "
              f"{seconds:.0f} s  {summary.splitlines()[0]}", flush=True)
        if not ok:
            print(re.sub(r"^", "    ", "\n".join(summary.splitlines()[1:]), flags=re.M))
            print(f"    replay: python benchmarks/random_order.py --runs 1 --seed {seed} "
                  f"--bucket {args.bucket} {' '.join(args.selection)}")
    print(f"{args.runs - failed} of {args.runs} runs passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
