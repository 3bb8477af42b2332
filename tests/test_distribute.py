"""Models built under a `tf.distribute` strategy (`model.strategy`, or the builder's own).

Two logical CPU devices stand in for a multi-GPU runner. They must be configured before
TensorFlow initialises its devices, so every scenario runs in one fresh subprocess (the
rest of the suite keeps its single CPU). There, each release is written with plain TF/Keras
(with or without `MirroredStrategy`) and bundled by `snapshot`; each branch is checked by
the gate and, for the expectation, restored by hand the way a user would (inside the
strategy's scope when it has one) and run on the same inputs as the release.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

MODEL = """
import keras
import tensorflow as tf

DEVICES = ["/cpu:0", "/cpu:1"]


def build(units=8):
    inputs = keras.Input((4,))
    x = keras.layers.Dense(units, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(3, name="out")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def build_own(units=8):
    with tf.distribute.MirroredStrategy(DEVICES).scope():
        return build(units)
"""

SCENARIOS = """
import json
import sys
from pathlib import Path

import tensorflow as tf

cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

import keras
import numpy as np

from restore_gate.pipeline.check import CheckOptions, run_check
from restore_gate.settings.config import load_config
from restore_gate.core.report import validate_report
from restore_gate.runtime import describe_device
from restore_gate.commands.snapshot import snapshot

root = Path(sys.argv[1])
sys.path.insert(0, str(root))
import model as code

MIRRORED = "  strategy: {type: mirrored, devices: ['/cpu:0', '/cpu:1']}\\n"
INPUTS = np.random.default_rng(1).normal(size=(16, 4)).astype("float32")


def config(name, units, strategy, builder="build"):
    path = root / f"{name}.yml"
    path.write_text(f"version: 1\\nmodel:\\n  builder: model:{builder}\\n"
                    f"  args: {{units: {units}}}\\n" + (MIRRORED if strategy else ""))
    return path


def built(strategy, units, builder="build"):
    keras.backend.clear_session()
    if not strategy:
        return getattr(code, builder)(units)
    with tf.distribute.MirroredStrategy(code.DEVICES).scope():
        return code.build(units)


def save(model, fmt, folder):
    folder.mkdir(parents=True)
    with model.distribute_strategy.scope():
        model.optimizer.build(model.trainable_variables)
    if fmt == "h5":
        path = folder / "release.weights.h5"
        model.save_weights(str(path))
        return path
    return Path(tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(
        str(folder / "ckpt")))


def plain_restore(model, fmt, path):
    # what a user does: restore the release into the branch model, inside its scope
    if fmt == "h5":
        model.load_weights(str(path))
    else:
        tf.train.Checkpoint(model=model, optimizer=model.optimizer).read(
            str(path)).assert_existing_objects_matched()


def expected(release_outputs, fmt, path, strategy, units, builder):
    model = built(strategy, units, builder)
    scope = model.distribute_strategy.scope()
    try:
        with scope:
            plain_restore(model, fmt, path)
    except Exception as exc:
        return "fail", type(exc).__name__
    same = np.allclose(np.asarray(model(INPUTS)), release_outputs, atol=1e-5, rtol=1e-4)
    return ("pass" if same else "fail"), ""


results = {}
for fmt in ("tf", "h5"):
    for writer in ("plain", "mirrored"):
        release = built(writer == "mirrored", 8)
        release_outputs = np.asarray(release(INPUTS))
        path = save(release, fmt, root / f"{fmt}-{writer}")
        bundle = root / f"{fmt}-{writer}.tar.gz"
        snapshot(path, bundle, describe_device("cpu"), root,
                 load_config(config(f"snap-{fmt}-{writer}", 8, writer == "mirrored")))
        readers = [("mirrored", 8), ("mirrored", 16)] if writer == "plain" else [
            ("plain", 8), ("plain", 16)]
        if writer == "plain":
            readers.append(("own", 8))
        for reader, units in readers:
            builder = "build_own" if reader == "own" else "build"
            name = f"{fmt}:{writer}->{reader}:{units}"
            report = run_check(CheckOptions(
                config=config(name.replace(":", "_").replace(">", ""), units,
                              reader == "mirrored", builder),
                checkpoint=str(bundle), quiet=True))
            verdict, why = expected(release_outputs, fmt, path, reader == "mirrored", units,
                                    builder)
            validate_report(json.loads(json.dumps(report.to_dict())), name)  # publish accepts it
            results[name] = {
                "gate": report.verdict, "plain": verdict, "plain_error": why,
                "errors": [e.message for e in report.errors],
                "strategy": report.to_dict()["model"].get("strategy"),
                "mismatches": sorted({m.kind for m in report.mismatches}),
                "outputs": [d.ok for d in report.drift if d.kind == "output"],
            }
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("distribute")
    (root / "model.py").write_text(textwrap.dedent(MODEL))
    script = root / "scenarios.py"
    script.write_text(SCENARIOS)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "-1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, str(script), str(root)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


CASES = [f"{fmt}:{case}" for fmt in ("tf", "h5") for case in (
    "plain->mirrored:8", "plain->mirrored:16", "mirrored->plain:8", "mirrored->plain:16",
    "plain->own:8")]


@pytest.mark.parametrize("case", CASES)
def test_verdict_equals_plain_tensorflow(results, case):
    result = results[case]
    assert result["gate"] == result["plain"], result
    wider = case.endswith(":16")
    assert result["plain"] == ("fail" if wider else "pass"), result  # the scenario means it
    if wider:
        assert "shape" in result["mismatches"], result
    else:
        assert result["errors"] == [] and result["mismatches"] == [], result
        assert result["outputs"] and all(result["outputs"]), result  # golden outputs compared


@pytest.mark.parametrize("case", CASES)
def test_model_is_built_under_the_strategy(results, case):
    reader = case.split("->")[1].split(":")[0]
    strategy = results[case]["strategy"]
    if reader == "plain":
        assert strategy is None
    else:  # the config's strategy, or the one the builder returned its model under
        assert strategy == {"type": "MirroredStrategy", "replicas": 2}


def test_unknown_strategy_is_a_config_error(tmp_path: Path):
    from restore_gate.errors import GateError
    from restore_gate.settings.config import load_config

    path = tmp_path / ".restore-gate.yml"
    path.write_text("version: 1\nmodel:\n  builder: model:build\n  strategy: tpu_pod\n")
    with pytest.raises(GateError) as caught:
        load_config(path)
    assert caught.value.stage == "config" and "strategy" in str(caught.value)
