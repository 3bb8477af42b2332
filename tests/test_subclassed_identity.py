"""Subclassed models under Keras 3 `.weights.h5` releases: identities are object paths.

Each expectation is computed as a user would: build the branch model, `load_weights` the
release file, compare its outputs with the release model's. The gate (given the release
bundle, which records the layout) must pass exactly when that restores the release's
behaviour, and name a move only when a value loads into a variable with another object path.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Project

DATA = '''
import numpy as np


def eval_data():
    rng = np.random.default_rng(2)
    return rng.normal(size=(32, 6)).astype("float32"), rng.integers(0, 3, size=32)
'''

CONFIG = """
evaluation:
  data: data:eval_data
  metrics: [loss]
thresholds:
  outputs: {atol: 1.0e-5, rtol: 1.0e-4}
"""

NET = '''
import keras
from keras import layers


class Net(keras.Model):
    def __init__(self):
        super().__init__(name="digits")
{assignments}

    def call(self, x):
{call}


def build():
    model = Net()
{build}
    return model
'''

CALL_PUBLIC = "        return self.head(self.hidden(x))"
PUBLIC = ["        self.hidden = layers.Dense(8, activation='relu')\n",
          "        self.head = layers.Dense(3, activation='softmax')\n"]
CALL_PRIVATE = "        return self.head(self._second(self._first(x)))"
PRIVATE = ["        self._first = layers.Dense(6, activation='relu')\n",
           "        self._second = layers.Dense(6, activation='tanh')\n",
           "        self.head = layers.Dense(3, activation='softmax')\n"]
CALL_LIST = ("        for block in self.blocks:\n            x = block(x)\n"
             "        return self.head(x)")
BLOCKS = "        self.blocks = [layers.Dense(6, activation='relu') for _ in range({n})]\n"
CALLED = "    model(keras.ops.zeros((1, 6)))"
BUILT = "    model.build((None, 6))"


def source(assignments: list[str], call: str, build: str = CALLED) -> str:
    return NET.format(assignments="".join(assignments).rstrip("\n"), call=call, build=build)


CASES = {
    # reordered public attributes: Keras keys them by attribute (`hidden/vars/0`); only the
    # auto-generated names (`dense`, `dense_1`) swap
    "reordered-attributes": (source(PUBLIC, CALL_PUBLIC), source(PUBLIC[::-1], CALL_PUBLIC)),
    # reordered private attributes: Keras reaches them by position (`layers/dense_1`)
    "reordered-private-attributes": (
        source(PRIVATE, CALL_PRIVATE), source([PRIVATE[1], PRIVATE[0], PRIVATE[2]],
                                              CALL_PRIVATE)),
    "renamed-attribute": (
        source(PUBLIC, CALL_PUBLIC),
        source([PUBLIC[0].replace("self.hidden", "self.encoder"), PUBLIC[1]],
               CALL_PUBLIC.replace("self.hidden", "self.encoder"))),
    "layers-in-a-list": (
        source([BLOCKS.format(n=2), PUBLIC[1]], CALL_LIST),
        source([BLOCKS.format(n=2), PUBLIC[1]], CALL_LIST)),
    "layer-added-to-a-list": (
        source([BLOCKS.format(n=2), PUBLIC[1]], CALL_LIST),
        source([BLOCKS.format(n=3), PUBLIC[1]], CALL_LIST)),
    # model.build(shape) on a model without its own build(): marked built, no weights
    "built-by-shape": (source(PUBLIC, CALL_PUBLIC), source(PUBLIC, CALL_PUBLIC, BUILT)),
}


def release(project: Project, code: str):
    """The release: a seeded model, its `.weights.h5`, and a `restore-gate snapshot` bundle."""
    import keras

    from restore_gate.commands.snapshot import snapshot
    from restore_gate.runtime import describe_device
    from restore_gate.settings.config import load_config

    project.write("data.py", DATA)
    project.write("model.py", code)
    project.config(CONFIG)
    keras.utils.set_random_seed(0)
    model = project.build()
    weights = project.root / "release" / "model.weights.h5"
    weights.parent.mkdir()
    model.save_weights(weights)
    x = np.random.default_rng(2).normal(size=(32, 6)).astype("float32")
    outputs = np.asarray(model(x))
    bundle = project.root / "release" / "bundle.tar.gz"
    snapshot(weights, bundle, describe_device("cpu"), project.root,
             load_config(project.root / ".restore-gate.yml"))
    return weights, bundle, x, outputs


def plain_restore(project: Project, weights, x, outputs) -> bool:
    """A user's check: build the branch model (as Keras loading does), load_weights, compare."""
    model = project.build()
    if not model.weights:  # marked built without weights: what load_model does
        model.build_from_config(model.get_build_config())
    try:
        model.load_weights(weights)
    except Exception:
        return False
    return bool(np.allclose(np.asarray(model(x)), outputs, atol=1e-6, rtol=0))


@pytest.fixture(scope="module", params=list(CASES))
def case(request, tmp_path_factory):
    before, after = CASES[request.param]
    project = Project(tmp_path_factory.mktemp(request.param) / "repo")
    weights, bundle, x, outputs = release(project, before)
    project.write("model.py", after)
    return request.param, project, bundle, plain_restore(project, weights, x, outputs)


def test_the_gate_agrees_with_plain_keras(case):
    name, project, bundle, restores = case
    report = project.check(bundle)
    assert report.errors == [], report.errors
    assert report.verdict == ("pass" if restores else "fail"), (report.mismatches, report.drift)
    moves = [m for m in report.mismatches if "now loads into" in m.hint]
    if name == "reordered-private-attributes":
        assert not restores
        assert {(m.checkpoint_name, m.name) for m in moves} == {  # _second is now `dense`
            ("_first/kernel", "digits/dense/kernel"), ("_first/bias", "digits/dense/bias"),
            ("_second/kernel", "digits/dense_1/kernel"), ("_second/bias", "digits/dense_1/bias")}
        assert any("saved from _first/kernel, now loads into _second/kernel" in m.hint
                   for m in moves)
    else:
        assert moves == [], [m.hint for m in moves]
    if name == "renamed-attribute":  # the paths Keras reads, not auto-generated names
        assert {m.hint.split(":")[0] for m in report.mismatches} == {
            "saved at `hidden/vars/0`, the branch reads this variable from `encoder/vars/0`",
            "saved at `hidden/vars/1`, the branch reads this variable from `encoder/vars/1`"}
        assert all("probably `hidden` renamed to `encoder`" in m.hint
                   for m in report.mismatches)
    if name == "built-by-shape":
        assert any("build_from_config(get_build_config())" in n for n in report.notices)


def test_expectations_are_the_known_outcomes(case):
    """Guards the computed expectations against a broken harness (not the gate)."""
    name, _, _, restores = case
    assert restores == (name in ("reordered-attributes", "layers-in-a-list", "built-by-shape"))


def test_no_shape_known_is_an_error_naming_the_config_key(tmp_path):
    project = Project(tmp_path / "repo")
    weights, _, _, _ = release(project, source(PUBLIC, CALL_PUBLIC))
    project.write("model.py", source(PUBLIC, CALL_PUBLIC, "    pass"))
    report = project.check(weights)
    assert report.verdict == "error"
    assert report.errors[0]["stage"] == "build" and "model.input_shape" in report.errors[0]["hint"]
