"""Checkpoint keys and names: which reach their value by position in a container (layer-N,
layers/N), and which optimizer a recorded name stands for."""

from __future__ import annotations

import re

_KERAS2_POSITIONAL = re.compile(r"(^|/)(layer_with_weights|layer)-\d+(/|$)")
# TF object paths that reach a value by position: layers in tf.keras and Keras 3 functional
# models, and the optimizer's list of the variables it trains (`_trainable_variables/N`,
# through which a compiled model's weights are also restored)
_POSITIONAL = re.compile(
    r"(^|/)((layer_with_weights|layer)-\d+|_operations/\d+|layers/\d+|_trainable_variables/\d+)"
    r"(/|$)")


def is_positional_key(key: str) -> bool:
    """A TF checkpoint key that reaches its layer by position in a container."""
    return bool(_POSITIONAL.search(key))


def is_keras2_positional_key(key: str) -> bool:
    return bool(_KERAS2_POSITIONAL.search(key))


def optimizer_kind(name: object) -> str:
    """`adam_1` (a Keras object name, auto-numbered when a session makes a second one) and
    `Adam` (the class) are one kind of optimizer: `adam`."""
    return re.sub(r"_\d+$", "", str(name)).lower()
