"""Which file path Keras's own *loading* walk reads each branch variable from.

Keras 3 saves a layer at one path (`blocks/container/dense/vars/0` since Keras 3.15.1
recurses into nested containers), but loads a layer from the first path in its
walk where loading succeeds: files written before that change keep the same layer
under `layers/dense/vars/0`, and `load_weights` still finds it there. Pairing by
the saving walk alone would call such a file a rename; this replays the loading
walk instead, without reading or assigning any value:

1. Keras's `_load_state` runs over the branch model with a probe store: each layer's
   `load_own_variables` fails at once, so Keras records it as failed and offers it
   again at every later path; each (layer, path) offer is recorded in walk order.
   `has_path` answers from the file's metadata, so Keras's legacy fallbacks for
   nested containers take the same branches as on the real file.
2. Each layer's own keys come from its `save_own_variables` (recorded, not written).
3. A layer takes the first offered path whose `vars` group holds exactly its keys with
   the right shapes (what `load_weights` accepts), else the first with the same keys.
"""

from __future__ import annotations

from typing import Any

from restore_gate._compat.keras import loading_offers


def load_layout(model: Any, saved: dict[str, list[int] | None]) -> dict[str, Any] | None:
    """{file key: variable} as Keras's loader would read them; None if it cannot be replayed.

    `saved` maps each key in the file (`layers/dense/vars/0`) to its shape.
    """
    try:
        offers = loading_offers(model, saved)
    except Exception:  # a Keras without these internals: the caller keeps the saving walk
        return None
    layout: dict[str, Any] = {}
    for saveable, paths in offers:
        own = _own_variables(saveable)
        if not own:
            continue
        path = _choose(paths, own, saved)
        if path is None:
            continue
        prefix = f"{path}/vars" if path else "vars"
        for key, variable in own.items():
            layout[f"{prefix}/{key}"] = variable
    return layout






def _own_variables(saveable: Any) -> dict[str, Any]:
    """The keys `save_own_variables` writes for one layer, and what it writes there."""
    if not hasattr(saveable, "save_own_variables"):
        return {}
    recorded: dict[str, Any] = {}

    class Entry(dict):
        def __setitem__(self, key: str, value: Any) -> None:
            recorded[str(key)] = value

    try:
        saveable.save_own_variables(Entry())
    except Exception:
        return {}
    return recorded


def _choose(paths: list[str], own: dict[str, Any], saved: dict[str, Any]) -> str | None:
    def keys_at(path: str) -> set[str]:
        prefix = f"{path}/vars/" if path else "vars/"
        return {k[len(prefix):] for k in saved if k.startswith(prefix)
                and "/" not in k[len(prefix):]}

    same_keys = [p for p in paths if keys_at(p) == set(own)]
    for path in same_keys:
        prefix = f"{path}/vars" if path else "vars"
        if all(saved[f"{prefix}/{k}"] == _shape(v) for k, v in own.items()):
            return path
    return same_keys[0] if same_keys else None


def _shape(value: Any) -> list[int] | None:
    shape = getattr(value, "shape", None)
    return [int(d) for d in shape] if shape is not None else None
