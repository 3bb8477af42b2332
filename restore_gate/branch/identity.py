"""One stable identity per model variable: the object path it is reached by.

Keras names a layer created without `name=` from a global counter (`dense`, `dense_1`) in
construction order, so reordering two attribute assignments in `__init__` swaps those
names while every attribute still holds the same layer. The identity used to decide
whether a checkpoint value *moved* is therefore the object path:

- a functional or Sequential model: layer name + variable name (`hidden/kernel`): the
  layer names are the model's own graph (and what `model.get_layer` looks up);
- a subclassed model or layer: attribute path + variable name (`encoder/kernel`,
  `blocks/0/kernel`, `_first/kernel`), attributes visited public first, then private
  (the order of Keras's saving walk), the first path reaching an object wins.

A variable reached by no such path (held only inside Keras internals) has no identity:
no move is ever claimed for it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from restore_gate._compat.keras import is_functional, own_variables

_MAX_DEPTH = 64


def object_paths(model: Any) -> dict[int, str]:
    """id(variable) -> its object path, for every variable reachable from `model`."""
    import keras

    paths: dict[int, str] = {}
    seen: set[int] = set()

    def visit(obj: Any, prefix: str, depth: int) -> None:
        if depth > _MAX_DEPTH or id(obj) in seen:
            return
        seen.add(id(obj))
        for variable in own_variables(obj):
            paths.setdefault(id(variable), _join(prefix, str(variable.name)))
        for name, child in _children(obj, keras):
            visit(child, _join(prefix, name), depth + 1)

    visit(model, "", 0)
    return paths


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def _children(obj: Any, keras: Any) -> list[tuple[str, Any]]:
    if _is_graph_model(obj):
        return [(str(layer.name), layer) for layer in obj.layers]
    found: list[tuple[str, Any]] = []
    for attribute in sorted(vars(obj), key=lambda a: (a.startswith("_"), a)):
        if attribute in _internal_attributes():
            continue
        found += _layers_in(attribute, vars(obj)[attribute], keras, 0)
    return found


def _layers_in(path: str, value: Any, keras: Any, depth: int) -> list[tuple[str, Any]]:
    if isinstance(value, keras.layers.Layer):
        return [(path, value)]
    if depth > 8:
        return []
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [(str(i), v) for i, v in enumerate(value)]
    else:
        return []
    return [found for key, item in items
            for found in _layers_in(f"{path}/{key}", item, keras, depth + 1)]


def _is_graph_model(obj: Any) -> bool:
    """A functional or Sequential model (layers named by the model's own graph)."""
    import keras

    if isinstance(obj, keras.Sequential):
        return True

    return is_functional(obj)


@cache
def _internal_attributes() -> frozenset[str]:
    """Attributes every Keras layer has (its own bookkeeping, e.g. `_layers`)."""
    import keras

    return frozenset(vars(keras.layers.Layer()))
