"""The multi-runner comment on real numeric differences (issue 17): two real `check` runs
on this CPU, one running the model eagerly and one through XLA (`jit_compile=True`, as
accelerator runners often do), whose golden outputs differ in the last bits. The second is
labelled the GPU runner (parity compares GPU runners with the CPU one); its numbers are its
own, not a copy shifted by hand."""

from __future__ import annotations

import numpy as np
import pytest

MODEL = """
import keras
import tensorflow as tf


def build():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((64,))
    x = keras.layers.Dense(256, activation="tanh", name="hidden")(inputs)
    x = keras.layers.Dense(256, activation="gelu", name="mid")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="probs")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def build_xla():
    model = build()
    model.call = tf.function(model.call, jit_compile=True)  # XLA-compiled forward pass
    return model
"""
DATA = """
import numpy as np


def eval_data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 64)).astype("float32"), np.arange(64) % 10
"""
CONFIG = "evaluation:\n  data: data:eval_data\n"


@pytest.fixture(scope="module")
def runners(tmp_path_factory):
    """(the eager CPU report, the XLA report labelled GPU), both from real checks."""
    from conftest import Project

    project = Project(tmp_path_factory.mktemp("parity") / "repo")
    project.write("model.py", MODEL)
    project.write("data.py", DATA)
    release = project.root / "release.weights.h5"
    project.build().save_weights(str(release))
    eager = project.check(release, project.config(CONFIG)).to_dict()
    xla = project.check(release, project.config(CONFIG, builder="model:build_xla")).to_dict()
    xla["runner"].update(device="GPU", device_name="XLA-compiled CPU run")
    return eager, xla


def test_xla_outputs_really_differ_and_pass_the_default_device_tolerance(runners):
    from restore_gate.publish import device_parity

    eager, xla = runners
    a = np.asarray(eager["extra"]["golden_outputs"]["probs"])
    b = np.asarray(xla["extra"]["golden_outputs"]["probs"])
    assert a.shape == b.shape and 0 < np.max(np.abs(a - b)) < 1e-5  # real, tiny differences
    parity, problem = device_parity([eager, xla], {})
    assert not problem and parity and all(e["ok"] for e in parity), parity
    error = next(e for e in parity if "max abs error" in e["name"])
    assert error["value"] > 0  # measured, not identical


def test_a_tight_device_tolerance_fails_and_the_comment_names_the_runner(runners):
    from restore_gate.present.merge import comment_body
    from restore_gate.publish import device_parity

    eager, xla = runners
    parity, _ = device_parity([eager, xla], {"atol": 1e-12, "rtol": 0.0})
    failed = [e for e in parity if not e["ok"]]
    assert failed and "CPU vs XLA-compiled CPU run" in failed[0]["name"], parity
    body = comment_body([eager, xla], parity=parity)
    assert "XLA-compiled CPU run" in body and "❌" in body
