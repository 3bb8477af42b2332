"""Model state that is not in the weights: lookup vocabularies and compute dtypes.

A lookup layer's vocabulary (TextVectorization, StringLookup, IntegerLookup) is saved by no
`load_weights` path, and a mixed precision policy changes the layers' compute dtype while
every variable stays float32: both restore "cleanly" and only drift. `snapshot` records
them in the manifest (`lookup_state`, `compute_dtypes`); `check` compares the branch's and
puts what changed in `report.extra` (`lookup_state`, `compute_dtype`) for the diagnosis.
"""

from __future__ import annotations

import hashlib
from typing import Any

from restore_gate._compat.keras import flatten_layers

MAX_RECORDED = 256  # layers recorded per kind (a bound on the manifest's size)


def lookup_state(model: Any) -> list[dict[str, Any]]:
    """[{layer, class, size, sha256}] per outermost layer with a vocabulary."""
    records: list[dict[str, Any]] = []
    inside: set[int] = set()
    for layer in flatten_layers(model, include_self=False) or []:
        if id(layer) in inside or not callable(getattr(layer, "get_vocabulary", None)):
            continue
        inside.update(id(s) for s in flatten_layers(layer, include_self=False) or [])
        try:
            vocab = [str(t) for t in layer.get_vocabulary()]
        except Exception:  # not adapted yet, or a custom layer's own method
            continue
        digest = hashlib.sha256("\n".join(vocab).encode()).hexdigest()
        records.append({"layer": layer.name, "class": type(layer).__name__,
                        "size": len(vocab), "sha256": digest})
    return records[:MAX_RECORDED]


def compute_dtypes(model: Any) -> dict[str, str]:
    """{layer name: compute dtype} for the layers that compute (InputLayer excluded)."""
    out: dict[str, str] = {}
    for layer in flatten_layers(model, include_self=False) or []:
        dtype = getattr(layer, "compute_dtype", None)
        if type(layer).__name__ != "InputLayer" and isinstance(dtype, str):
            out[layer.name] = dtype
    return dict(list(out.items())[:MAX_RECORDED])


def policy_name(model: Any) -> str | None:
    policy = getattr(model, "dtype_policy", None)
    return getattr(policy, "name", None)


def record(model: Any) -> dict[str, Any]:
    """The manifest's part: lookup vocabularies and compute dtypes of the release model."""
    return {"lookup_state": lookup_state(model), "compute_dtypes": compute_dtypes(model),
            "dtype_policy": policy_name(model)}


def compare(manifest: dict[str, Any] | None, model: Any) -> dict[str, Any]:
    """The report's `extra.lookup_state` / `extra.compute_dtype`, when the branch's differ."""
    found: dict[str, Any] = {}
    if not isinstance(manifest, dict):
        return found
    lookups = _changed_lookups(manifest.get("lookup_state"), lookup_state(model))
    if lookups:
        found["lookup_state"] = lookups
    dtypes = _changed_dtypes(manifest.get("compute_dtypes"), compute_dtypes(model))
    if dtypes:
        dtypes["policy"] = policy_name(model)
        found["compute_dtype"] = dtypes
    return found


def _changed_lookups(release: Any, branch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not isinstance(release, list):
        return []
    before = {r.get("layer"): r for r in release if isinstance(r, dict)}
    changed = []
    for mine in branch:
        theirs = before.get(mine["layer"])
        if isinstance(theirs, dict) and theirs.get("sha256") != mine["sha256"]:
            size = theirs.get("size")
            changed.append({"layer": mine["layer"], "class": mine["class"],
                            "size_from": size if isinstance(size, int) else None,
                            "size_to": mine["size"]})
    return changed


def _changed_dtypes(release: Any, branch: dict[str, str]) -> dict[str, Any] | None:
    if not isinstance(release, dict):
        return None
    layers = sorted(n for n, d in branch.items() if isinstance(release.get(n), str)
                    and release[n] != d)
    if not layers:
        return None
    pairs = {(str(release[n]), branch[n]) for n in layers}
    old, new = sorted(pairs)[0]
    return {"from": old, "to": new, "layers": layers[:32], "count": len(layers)}
