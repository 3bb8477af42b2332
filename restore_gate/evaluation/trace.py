"""Drift traced to the first layer whose output differs from the release's.

`snapshot` records a bounded fingerprint of every layer's output on the golden inputs
(`fingerprints()`): each layer's `call` is wrapped for one eager forward pass, so
functional and subclassed models alike give their sub-layers' outputs in the order they
finished. A per-sample output of at most `DIMS` values is kept as it is; a larger one as a
fixed random projection to `DIMS` values (a count sketch: each element adds, with a fixed
random sign, into one of `DIMS` buckets; the same for release and branch). `check` computes
the same on the branch and `first_divergence()` names the first layer, in execution order,
whose fingerprint differs beyond the output tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from restore_gate._compat.keras import flatten_layers
from restore_gate.evaluation.evaluate import model_input, take

SAMPLES = 4  # golden samples fingerprinted
DIMS = 32  # values kept per sample and layer
MAX_LAYERS = 400  # layer calls recorded (the first ones, in execution order)


@dataclass(frozen=True)
class Divergence:
    """The first layer whose output differs, by how much, and what was compared."""

    layer: str
    error: float
    limit: float
    projected: bool
    compared: int
    unmatched_before: tuple[str, ...] = ()


def fingerprints(model: Any, inputs: Any) -> list[dict[str, Any]] | None:
    """[{name, shape, projected, values}] per layer call on the first SAMPLES inputs, in the
    order the calls finished; None when the model cannot be traced (no sub-layers)."""
    layers = _sublayers(model)
    if not layers:
        return None
    records: list[dict[str, Any]] = []
    seen: dict[str, int] = {}

    def record(name: str, output: Any, kind: str) -> None:
        array = _first_number(output)
        if array is None or len(records) >= MAX_LAYERS:
            return
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name}#{seen[name]}"  # a shared layer's calls
        values, projected = sketch(array[:SAMPLES])
        records.append({"name": label, "class": kind, "shape": list(array.shape[1:]),
                        "projected": projected,
                        "values": [float(f"{v:.7g}") for v in values.reshape(-1)]})

    with _hooked(layers, record):
        model(model_input(take(inputs, SAMPLES)), training=False)
    return records or None


def sketch(batch: np.ndarray) -> tuple[np.ndarray, bool]:
    """(samples, DIMS) count sketch of each sample's flattened output, or the values
    themselves when a sample has at most DIMS of them."""
    flat = np.asarray(batch, dtype=np.float64).reshape(len(batch), -1)
    size = flat.shape[1]
    if size <= DIMS:
        return flat, False
    rng = np.random.default_rng(size)  # the same buckets and signs for the same size
    buckets = rng.integers(0, DIMS, size)
    signs = rng.choice(np.array([-1.0, 1.0]), size)
    scale = 1.0 / math.sqrt(size / DIMS)
    out = np.stack([np.bincount(buckets, weights=row * signs, minlength=DIMS) for row in flat])
    return out * scale, True


def first_divergence(release: list[dict], branch: list[dict], atol: float,
                     rtol: float) -> Divergence | None:
    """The first branch layer (execution order) whose fingerprint differs from the release
    layer of the same name beyond `atol + rtol * max|release|`; None if none does."""
    before = {r["name"]: r for r in release if _valid(r)}
    compared = 0
    unmatched: list[str] = []
    for mine in branch:
        theirs = before.get(mine.get("name"))
        if theirs is None or not _valid(mine) or theirs["shape"] != mine["shape"] or len(
                theirs["values"]) != len(mine["values"]):
            unmatched.append(str(mine.get("name")))
            continue
        compared += 1
        ref, out = np.asarray(theirs["values"]), np.asarray(mine["values"])
        error = float(np.max(np.abs(out - ref))) if ref.size else 0.0
        limit = atol + rtol * (float(np.max(np.abs(ref))) if ref.size else 0.0)
        if not error <= limit:  # NaN diverges too
            return Divergence(str(mine["name"]), error, limit, bool(mine["projected"]), compared,
                              tuple(unmatched[-3:]))
        unmatched = []
    return None


def _valid(record: Any) -> bool:
    return (isinstance(record, dict) and isinstance(record.get("name"), str)
            and isinstance(record.get("shape"), list) and isinstance(record.get("values"), list)
            and all(isinstance(v, (int, float)) for v in record["values"]))


def _sublayers(model: Any) -> list[Any]:
    layers = flatten_layers(model, include_self=False)
    return [layer for layer in layers or [] if hasattr(layer, "call")]


class _hooked:
    """Wrap each layer's `call` (an instance attribute, removed again on exit)."""

    def __init__(self, layers: list[Any], record: Any) -> None:
        self.layers, self.record = layers, record
        self.done: list[tuple[Any, Any]] = []  # (layer, its own `call` attribute, if it had one)

    def __enter__(self) -> None:
        for layer in self.layers:
            original = layer.call
            own = vars(layer).get("call") if hasattr(layer, "__dict__") else None

            def call(*args: Any, __original: Any = original, __name: str = layer.name,
                     __kind: str = type(layer).__name__, **kwargs: Any) -> Any:
                output = __original(*args, **kwargs)
                self.record(__name, output, __kind)
                return output

            object.__setattr__(layer, "call", call)
            self.done.append((layer, own))

    def __exit__(self, *exc: object) -> None:
        for layer, own in self.done:
            if own is not None:
                object.__setattr__(layer, "call", own)
            else:
                object.__delattr__(layer, "call")


def _first_number(output: Any) -> np.ndarray | None:
    """The first numeric output: floats, and integer ids too (a lookup layer's output)."""
    import keras

    for item in keras.tree.flatten(output):
        try:
            array = np.asarray(keras.ops.convert_to_numpy(item))
            if array.ndim >= 1 and array.dtype.kind in "fViub":  # V: bfloat16 and kin
                return array.astype(np.float64)
        except Exception:  # not a tensor (a mask, a state): nothing to fingerprint
            continue
    return None


def divergence_block(release: Any, model: Any, inputs: Any, tol: dict[str, float],
                     source_of: Any) -> dict[str, Any] | None:
    """`report.extra["divergence"]`: the first layer whose output differs from the release's
    fingerprints, with its source line; None when nothing can be traced or nothing differs."""
    if not isinstance(release, list) or inputs is None:
        return None
    mine = fingerprints(model, inputs)
    found = first_divergence(release, mine or [], tol["atol"], tol["rtol"])
    if found is None:
        return None
    name = found.layer.split("#", 1)[0]
    error = found.error if math.isfinite(found.error) else None  # JSON has no NaN
    kind = next((r.get("class") for r in mine or [] if r.get("name") == found.layer), None)
    return {"layer": found.layer, "class": kind, "source": source_of(name), "error": error,
            "limit": found.limit, "projected": found.projected, "compared": found.compared,
            "unmatched_before": list(found.unmatched_before),
            "threshold": f"atol={tol['atol']:g}, rtol={tol['rtol']:g}"}
