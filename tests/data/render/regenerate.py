"""Expected comments for representative reports: `<name>.json` (reports) → `<name>.md`.

    python tests/data/render/regenerate.py            # re-render every .md from its .json
    python tests/data/render/regenerate.py --reports  # first re-run the real checks (TF, ~1 min)

Review the .md diffs like code: tests/test_render_snapshots.py fails until they match.
A case is one report (`toy.json`) or several runners (`multi-runner.*.json`, merged).
The reports are written by real `restore-gate check` runs (`--reports`): the demo's
example classifier (a layer widened and one inserted; a silent activation change), a
truncated release (error), keras.applications.MobileNetV3Small with alpha 1.0 → 0.75
(.weights.h5), and the example released as a `.keras` file with the silent change
(keras-drift), a text classifier whose vocabulary changed (text-drift) and a classifier
switched to mixed precision (mixed-precision), both from `--families`. The multi-runner
case merges the drift report with a copy relabelled as a GPU runner whose golden outputs
differ by 1e-3 (no GPU is needed to review its layout).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # this checkout's restore_gate, not an installed one
LINKS = {"server": "https://github.com", "repository": "octo/models",
         "sha": "0123456789abcdef0123456789abcdef01234567"}


def cases() -> dict[str, list[Path]]:
    """Case name → its report files (one, or several merged as runners)."""
    found: dict[str, list[Path]] = {}
    for path in sorted(HERE.glob("*.json")):
        found.setdefault(path.name.split(".")[0], []).append(path)
    return found


def render_case(paths: list[Path]) -> str:
    from restore_gate.core.report import validate_report
    from restore_gate.present.links import SourceLinks
    from restore_gate.present.merge import comment_body
    from restore_gate.publish import device_parity

    reports = [validate_report(json.loads(p.read_text("utf-8")), p.name) for p in paths]
    parity, _ = device_parity(reports, None)
    return comment_body(reports, parity=parity, links=SourceLinks(**LINKS))


def render_all() -> list[Path]:
    written = []
    for name, paths in cases().items():
        target = HERE / f"{name}.md"
        target.write_text(render_case(paths), encoding="utf-8")
        written.append(target)
    return written


# the real checks behind the reports ---------------------------------------------------------
MOBILENET = """\
import keras


def build(alpha: float = 1.0):
    model = keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3), alpha=alpha, weights=None, include_preprocessing=False,
        classes=10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
"""


def _check(project: Path, base: Path, name: str, checkpoint: str | None = None) -> None:
    from restore_gate.pipeline.check import CheckOptions, run_check

    report = run_check(CheckOptions(config=project / ".restore-gate.yml", quiet=True,
                                    checkpoint=checkpoint))
    text = json.dumps(report.to_dict(), indent=2) + "\n"
    text = text.replace(str(project) + "/", "").replace(str(base) + "/", "")
    (HERE / f"{name}.json").write_text(text, encoding="utf-8")


def make_reports() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
    from restore_gate.commands.demo import (
        BREAKING_CHANGE,
        SILENT_CHANGE,
        copy_example,
        train_release,
    )

    base = Path(tempfile.mkdtemp(prefix="restore-gate-snapshots-"))
    try:
        project = base / "project"
        copy_example(project)
        bundle = train_release(project)
        model_file = project / "classifier.py"
        original = model_file.read_text()
        model_file.write_text(original.replace(*BREAKING_CHANGE), encoding="utf-8")
        _check(project, base, "toy")
        model_file.write_text(original.replace(*SILENT_CHANGE), encoding="utf-8")
        _check(project, base, "drift")
        model_file.write_text(original, encoding="utf-8")
        broken = base / "truncated.tar.gz"
        broken.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
        _check(project, base, "error", str(broken))
        _multi_runner()
        _keras_release(base / "keras")
        _mobilenet(base / "mobilenet")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _multi_runner() -> None:
    cpu = json.loads((HERE / "drift.json").read_text("utf-8"))
    gpu = copy.deepcopy(cpu)
    gpu["runner"].update(device="GPU", device_name="Tesla T4 (relabelled CPU report)")
    for values in (gpu.get("extra") or {}).get("golden_outputs", {}).values():
        values[:] = [v + 1e-3 for v in values]
    for index, report in enumerate((cpu, gpu), 1):
        (HERE / f"multi-runner.{index}.json").write_text(json.dumps(report, indent=2) + "\n",
                                                         encoding="utf-8")


def _keras_release(base: Path) -> None:
    """The example released as a `.keras` file saved by this Keras (its bundle written by
    `snapshot`), then the silent activation change: a drift fail with no version note."""
    from restore_gate.branch.build import resolve_callable
    from restore_gate.commands.demo import SILENT_CHANGE, copy_example
    from restore_gate.commands.snapshot import snapshot
    from restore_gate.runtime import describe_device, import_tensorflow
    from restore_gate.settings.config import load_config

    project = base / "project"
    copy_example(project)
    tf = import_tensorflow()
    tf.keras.utils.set_random_seed(0)
    x, y = resolve_callable("data:train_data", project, [])()
    model = resolve_callable("classifier:build_model", project, [])(num_classes=3)
    model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    model.save(str(project / "model.keras"))
    bundle = project / "release" / "model.tar.gz"
    snapshot(project / "model.keras", bundle, describe_device("cpu"), project,
             load_config(project / ".restore-gate.yml"))
    model_file = project / "classifier.py"
    model_file.write_text(model_file.read_text().replace(*SILENT_CHANGE), encoding="utf-8")
    _check(project, base, "keras-drift")


def _mobilenet(project: Path) -> None:
    project.mkdir(parents=True)
    (project / "model.py").write_text(MOBILENET, encoding="utf-8")
    (project / ".restore-gate.yml").write_text(
        "version: 1\nmodel:\n  builder: model:build\n  args: {alpha: 0.75}\n", encoding="utf-8")
    sys.path.insert(0, str(project))
    import keras
    import model  # the release: alpha 1.0

    keras.backend.clear_session()

    model.build(1.0).save_weights(str(project / "release.weights.h5"))
    sys.path.remove(str(project))
    sys.modules.pop("model", None)
    _check(project, project.parent, "mobilenet", str(project / "release.weights.h5"))


TEXT_MODEL = """\
import keras

VOCAB = {vocab!r}


def build():
    inputs = keras.Input((1,), dtype="string", name="text")
    x = keras.layers.TextVectorization(vocabulary=VOCAB, output_sequence_length=6,
                                       name="vectorize")(inputs)
    x = keras.layers.Embedding(len(VOCAB) + 2, 8, name="embed")(x)
    x = keras.layers.LSTM(8, name="lstm")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(x))
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model
"""
TEXT_DATA = """\
import numpy as np
import tensorflow as tf

WORDS = {words!r}


def eval_data():
    rng = np.random.default_rng(3)
    text = [[" ".join(rng.choice(WORDS, size=5))] for _ in range(48)]
    return tf.data.Dataset.from_tensor_slices((tf.constant(text), np.arange(48) % 3)).batch(16)
"""
WORDS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "far", "big", "red"]
MIXED_MODEL = """\
import keras


def build():
    keras.mixed_precision.set_global_policy("{policy}")
    inputs = keras.Input((4,))
    x = keras.layers.Dense(16, activation="tanh", name="hidden")(inputs)
    x = keras.layers.Dense(16, activation="tanh", name="hidden2")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="out", dtype="float32")(x))
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model
"""
MIXED_DATA = """\
import numpy as np


def eval_data():
    rng = np.random.default_rng(2)
    return rng.normal(scale=3.0, size=(64, 4)).astype("float32"), np.arange(64) % 3
"""
FAMILY_CONFIG = """\
version: 1
model: {builder: model:build}
checkpoint: {path: release/model.tar.gz}
evaluation: {data: data:eval_data, metrics: [accuracy, loss]}
thresholds:
  metrics: {accuracy: {max_drop: 0.01}, loss: {max_increase: "5%"}}
  outputs: {atol: 1.0e-5, rtol: 1.0e-4}
"""


def _family(base: Path, name: str, model: str, data: str, changed: str) -> None:
    """Release `model` (trained one epoch, saved as `.keras`, bundled by `snapshot`), then
    check the branch whose model.py is `changed`."""
    import keras

    from restore_gate.branch.build import resolve_callable
    from restore_gate.commands.snapshot import snapshot
    from restore_gate.runtime import describe_device
    from restore_gate.settings.config import load_config

    project = base / name
    project.mkdir(parents=True)
    for file, text in (("model.py", model), ("data.py", data),
                       (".restore-gate.yml", FAMILY_CONFIG)):
        (project / file).write_text(text, encoding="utf-8")
    keras.utils.set_random_seed(0)
    release = resolve_callable("model:build", project, [])()
    release.fit(resolve_callable("data:eval_data", project, [])(), epochs=1, verbose=0) \
        if "Dataset" in data else release.fit(*resolve_callable("data:eval_data", project, [])(),
                                              epochs=1, verbose=0)
    release.save(str(project / "model.keras"))
    snapshot(project / "model.keras", project / "release" / "model.tar.gz",
             describe_device("cpu"), project, load_config(project / ".restore-gate.yml"))
    keras.mixed_precision.set_global_policy("float32")
    sys.modules.pop("model", None)
    (project / "model.py").write_text(changed, encoding="utf-8")
    _check(project, base, name)
    keras.mixed_precision.set_global_policy("float32")


def make_family_reports() -> None:
    """Issue 17's families: a vocabulary change and a switch to mixed precision."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    base = Path(tempfile.mkdtemp(prefix="restore-gate-families-"))
    try:
        swapped = [WORDS[1], WORDS[0], *WORDS[2:]]
        _family(base, "text-drift", TEXT_MODEL.format(vocab=WORDS),
                TEXT_DATA.format(words=WORDS), TEXT_MODEL.format(vocab=swapped))
        _family(base, "mixed-precision", MIXED_MODEL.format(policy="float32"), MIXED_DATA,
                MIXED_MODEL.format(policy="mixed_float16"))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", action="store_true",
                        help="re-run the real checks that write the report JSON files first")
    parser.add_argument("--families", action="store_true",
                        help="re-run only the text-drift and mixed-precision checks first")
    args = parser.parse_args(argv)
    if args.reports:
        make_reports()
    if args.reports or args.families:
        make_family_reports()
    for path in render_all():
        print(f"wrote {path.relative_to(HERE.parent.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
