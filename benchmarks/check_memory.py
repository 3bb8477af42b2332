"""`restore-gate check` and `snapshot` on a 1 GiB model against a bare restore + predict script.

The model is functional, four Dense(8192) layers on an 8192-wide input: 268M float32 values,
1 GiB. It is generated in a temporary folder (never committed) and saved with plain Keras/TF
as a `.weights.h5` and as a `tf.train.Checkpoint`. For each format, fresh processes run

- the bare script: build the model, load the weights, predict on the evaluation data,
  compute accuracy (what a careful engineer does by hand);
- `restore-gate check` on the bare checkpoint, and on a bundle written by `restore-gate
  snapshot` (golden outputs compared);
- `restore-gate snapshot` itself (restore, golden outputs, the .tar.gz).

Peak RSS (from wait4) is reliable on a shared machine; wall time is inflated by other jobs,
so time ratios use CPU time (user + system, the child's rusage). Best of N runs.

    python benchmarks/check_memory.py [--runs 2] [--formats h5,tf] [--units 8192] [--no-bundles]

Goal (issue 12): check ≤ 1.2× the bare script's peak memory and ≤ 1.3× its time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from check_speed import measure  # benchmarks/ is the script's folder

MODEL = """
import keras


def build(units={units}, layers=4):
    inputs = keras.Input((units,))
    x = inputs
    for index in range(layers):
        x = keras.layers.Dense(units, activation="relu", name=f"dense{{index}}")(x)
    model = keras.Model(inputs, x)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
"""

DATA = """
import numpy as np


def eval_data(n={samples}, units={units}):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, units)).astype("float32"), rng.integers(0, units, size=n)
"""

SAVE = """
import sys
sys.path.insert(0, {root!r})
import tensorflow as tf
from model import build

model = build()
model.save_weights({h5!r})
tf.train.Checkpoint(model=model).write({ckpt!r})
"""

BARE = """
import sys
sys.path.insert(0, {root!r})
import numpy as np
import tensorflow as tf
from model import build
from data import eval_data

model = build()
if {fmt!r} == "h5":
    model.load_weights({path!r})
else:
    tf.train.Checkpoint(model=model).read({path!r}).assert_existing_objects_matched()
x, y = eval_data()
predictions = model.predict(x, batch_size=256, verbose=0)
print("accuracy", float(np.mean(predictions.argmax(-1) == y)))
"""

CONFIG = """
version: 1
model:
  builder: model:build
evaluation:
  data: data:eval_data
  metrics: [accuracy]
thresholds:
  metrics:
    accuracy: {max_drop: 0.01}
"""


def run(command: list[str], cwd: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one fresh process."""
    wall, peak, cpu = measure(command, cwd, accept=(0,))
    return wall, cpu, peak


def best(command: list[str], cwd: Path, runs: int) -> tuple[float, float, float]:
    results = [run(command, cwd) for _ in range(runs)]
    return tuple(min(r[i] for r in results) for i in range(3))  # type: ignore[return-value]


def prepare(root: Path, units: int, samples: int) -> dict[str, Path]:
    (root / "model.py").write_text(textwrap.dedent(MODEL.format(units=units)))
    (root / "data.py").write_text(textwrap.dedent(DATA.format(samples=samples, units=units)))
    (root / ".restore-gate.yml").write_text(CONFIG)
    paths = {"h5": root / "release.weights.h5", "tf": root / "ckpt"}
    script = SAVE.format(root=str(root), h5=str(paths["h5"]), ckpt=str(paths["tf"]))
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    return paths


def line(name: str, figures: tuple[float, float, float]) -> str:
    wall, cpu, rss = figures
    return f"  {name:<34} {wall:7.2f} s wall {cpu:7.2f} s CPU   peak RSS {rss:8.1f} MiB"


def ratios(gate: tuple[float, float, float], bare: tuple[float, float, float]) -> str:
    return (f"  {'ratio':<34} time {gate[1] / bare[1]:.2f}x CPU ({gate[0] / bare[0]:.2f}x wall, "
            f"goal <= 1.30x), peak memory {gate[2] / bare[2]:.2f}x (goal <= 1.20x)")


def bench_format(root: Path, fmt: str, path: Path, runs: int, bundles: bool = True) -> None:
    python = sys.executable
    bare = root / f"bare_{fmt}.py"
    bare.write_text(BARE.format(root=str(root), fmt=fmt, path=str(path)))
    bundle = root / f"release-{fmt}.tar.gz"
    gate = [python, "-m", "restore_gate"]
    figures = {
        "bare restore + predict": best([python, str(bare)], root, runs),
        "restore-gate check (checkpoint)": best(
            [*gate, "check", "--quiet", "--checkpoint", str(path), "--report", "r.json"],
            root, runs),
    }
    if bundles:
        figures["restore-gate snapshot"] = best(
            [*gate, "snapshot", "--checkpoint", str(path), "--out", str(bundle)], root, runs)
        figures["restore-gate check (bundle)"] = best(
            [*gate, "check", "--quiet", "--checkpoint", str(bundle), "--report", "r.json"],
            root, runs)
        bundle.unlink()
    print(f"{'.weights.h5' if fmt == 'h5' else 'tf.train.Checkpoint'}:")
    for name, value in figures.items():
        print(line(name, value))
        if name.startswith("restore-gate check"):
            print(ratios(value, figures["bare restore + predict"]))
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--units", type=int, default=8192)
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--formats", default="h5,tf")
    parser.add_argument("--no-bundles", action="store_true",
                        help="skip snapshot and the check of its bundle (minutes of gzip)")
    args = parser.parse_args()
    params = 4 * (args.units * args.units + args.units)
    print(f"model: four Dense({args.units}) layers, {params / 1e6:.0f}M float32 "
          f"({params * 4 / 2**30:.2f} GiB), {args.samples} evaluation samples, "
          f"best of {args.runs} fresh processes; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="check-memory-") as folder:
        root = Path(folder)
        paths = prepare(root, args.units, args.samples)
        for fmt in args.formats.split(","):
            bench_format(root, fmt, paths[fmt], args.runs, not args.no_bundles)


if __name__ == "__main__":
    main()
