"""Keras 3 + tf.train.Checkpoint: layers in plain list/dict attributes are silently not saved."""

from __future__ import annotations

import pytest
from formats_helpers import restored, write_branch

BLOCKS = """\
import keras


class Blocks(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.blocks = {container}

    def call(self, x):
        for layer in {iterate}:
            x = layer(x)
        return x


def build():
    inputs = keras.Input((4,), name="x")
    x = Blocks(name="blocks")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(x))
"""
CONTAINERS = {
    "list": ("[keras.layers.Dense(4, name='b0'), keras.layers.Dense(4, name='b1')]",
             "self.blocks"),
    "dict": ("{'first': keras.layers.Dense(4, name='b0'), 'second': "
             "keras.layers.Dense(4, name='b1')}", "self.blocks.values()"),
    "tuple": ("(keras.layers.Dense(4, name='b0'), keras.layers.Dense(4, name='b1'))",
              "self.blocks"),
}


def blocks_branch(kind: str) -> str:
    container, iterate = CONTAINERS[kind]
    return BLOCKS.format(container=container, iterate=iterate)


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_layers_in_a_list_or_dict_are_reported_with_their_cause(project, tmp_path, kind):
    import numpy as np
    import tensorflow as tf

    write_branch(project, blocks_branch(kind))
    model = project.build("model:build")
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    # the silent part: TensorFlow's own restore says all is well
    fresh = project.build("model:build")
    tf.train.Checkpoint(model=fresh).read(path).assert_consumed()
    kernel = fresh.get_layer("blocks").weights[0]
    assert not np.array_equal(kernel.numpy(), model.get_layer("blocks").weights[0].numpy())

    report = project.check(path)
    assert report.verdict == "fail"
    missing = {m.name: m for m in report.mismatches if m.kind == "missing"}
    assert sorted(missing) == ["blocks/b0/bias", "blocks/b0/kernel",
                               "blocks/b1/bias", "blocks/b1/kernel"]
    hint = missing["blocks/b0/kernel"].hint
    assert f"plain Python {kind} `Blocks.blocks`" in hint
    assert "assert_consumed() still passes" in hint and "initial value" in hint
    assert restored(report) == 2  # out/kernel, out/bias
    assert report.model["variables"] == 6


def test_a_tuple_is_tracked_and_restores_every_weight(project, tmp_path):
    import tensorflow as tf

    write_branch(project, blocks_branch("tuple"))
    path = tf.train.Checkpoint(model=project.build("model:build")).write(str(tmp_path / "ckpt"))
    report = project.check(path)
    assert report.verdict == "pass", (report.mismatches, report.errors)
    assert restored(report) == 6


def test_weights_h5_saves_list_held_layers(project, tmp_path):
    write_branch(project, blocks_branch("list"))
    path = tmp_path / "model.weights.h5"
    project.build("model:build").save_weights(str(path))
    report = project.check(path)
    assert report.verdict == "pass", (report.mismatches, report.errors)
    assert restored(report) == 6
