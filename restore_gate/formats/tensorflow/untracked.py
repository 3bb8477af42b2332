"""Weights `tf.train.Checkpoint` cannot see: the likely cause of a silently missing value.

With Keras 3 on TensorFlow, a layer held in a plain Python list or dict attribute
(`self.blocks = [Dense(4), Dense(4)]`, `self.heads = {"a": Dense(2)}`) is tracked
by Keras (its weights are in `model.weights`) but gets no dependency in TensorFlow's
object graph: `tf.train.Checkpoint` neither saves nor restores it, and
`assert_consumed()` still passes. Tuples and plain attributes are tracked. Each
such weight is already a `missing` mismatch; this names the attribute that hides it.
"""

from __future__ import annotations

from typing import Any

from restore_gate._compat.keras import flatten_layers, tracked_attributes
from restore_gate.core.pairing import Pairing
from restore_gate.core.variables import BuiltModel
from restore_gate.runtime import import_tensorflow


def explain(pairing: Pairing, built: BuiltModel, root: Any) -> int:
    """Note the cause on every missing variable outside TF's object graph; return how many."""
    if not pairing.missing:
        return 0
    tf = import_tensorflow("restore")
    try:
        reachable = {id(obj) for obj in tf.train.TrackableView(root).descendants()}
    except Exception:  # not a trackable root: nothing to explain
        return 0
    holders = container_attributes(built.model)
    count = 0
    for model_var in pairing.missing:
        if id(model_var.obj) in reachable:
            continue
        count += 1
        pairing.notes[id(model_var.obj)] = hint(holders.get(id(model_var.obj)))
    return count


def hint(holder: tuple[str, str] | None) -> str:
    if holder is None:
        return (
            "not in TensorFlow's object graph of the branch model, so tf.train.Checkpoint "
            "neither saved nor restores it (assert_consumed() still passes) and it keeps its "
            "initial value: assign the layer or variable to an attribute of a tracked layer"
        )
    where, kind = holder
    return (
        f"held in the plain Python {kind} `{where}`: with Keras 3, tf.train.Checkpoint does "
        f"not track layers inside a list or dict attribute, so the release never saved this "
        "weight, it is never restored (assert_consumed() still passes) and it keeps its "
        "initial value. Hold the layers in a tuple or in separate attributes, or save with "
        "model.save_weights('x.weights.h5'), which includes them"
    )


def container_attributes(model: Any) -> dict[int, tuple[str, str]]:
    """id(weight) -> (`Class.attribute`, list|dict) for weights held in list/dict attributes.

    Keras 3 records in `layer._tracked` the attributes it wrapped as TrackedList/
    TrackedDict: exactly the containers TensorFlow's object graph skips. Inner layers
    are visited after outer ones, so the innermost holder wins.
    """
    holders: dict[int, tuple[str, str]] = {}
    layers = flatten_layers(model, include_self=True)
    for layer in [model] if layers is None else layers:
        for attribute in tracked_attributes(layer):
            value = getattr(layer, attribute, None)
            if not isinstance(value, (list, dict)):
                continue
            kind = "dict" if isinstance(value, dict) else "list"
            where = (f"{type(layer).__name__}.{attribute}", kind)
            for item in _flatten(value):
                for weight in _weights_of(item):
                    holders[id(weight)] = where
    return holders


def _flatten(value: Any, depth: int = 0) -> list[Any]:
    if depth > 8:
        return []
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _flatten(item, depth + 1)]
    return [value]


def _weights_of(item: Any) -> list[Any]:
    weights = getattr(item, "weights", None)
    if isinstance(weights, list):
        return weights
    return [item] if hasattr(item, "assign") and hasattr(item, "shape") else []
