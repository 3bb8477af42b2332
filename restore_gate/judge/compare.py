"""Turn a pairing of checkpoint values and model variables into named mismatches.

Pure functions on metadata: no TensorFlow. The format adapters decide which
checkpoint value each model variable would receive (`Pairing`); this module
names what is wrong with that, offers probable renames, applies `allow:` and
judges the optimizer state against `checkpoint.optimizer`.
"""

from __future__ import annotations

import difflib
import re

from restore_gate.core.checkpoint import CkptVariable
from restore_gate.core.keys import is_positional_key, optimizer_kind
from restore_gate.core.pairing import Pairing, same_spec
from restore_gate.core.report import Mismatch, OptimizerState, TensorSpec
from restore_gate.core.variables import BuiltModel, ModelVariable


def find_mismatches(
    pairing: Pairing, built: BuiltModel, allow: dict[str, list[str]]
) -> list[Mismatch]:
    """Every mismatch at once: shape, dtype, probable renames, missing, unexpected."""
    found: list[Mismatch] = []
    for ckpt, model in pairing.matched:
        if ckpt.shape != model.shape:
            found.append(_mismatch("shape", ckpt, model, _shape_hint(ckpt, model)))
        elif ckpt.dtype != model.dtype:
            found.append(_mismatch("dtype", ckpt, model, _dtype_hint(ckpt, model)))
    renames, missing, unexpected = pair_renames(pairing.missing, pairing.unexpected)
    for ckpt, model in renames:
        note = pairing.notes.get(id(model.obj)) or pairing.cause
        if note and _object_path(ckpt.key) not in note:
            note = f"saved at `{_object_path(ckpt.key)}`; {note}"
        entry = _mismatch("rename", ckpt, model, note
                          or _rename_hint(ckpt, model, pairing.paths.get(id(model.obj))))
        entry.allowed = _matches(allow["missing"], model.name) and _matches(
            allow["unexpected"], ckpt.name
        )
        found.append(entry)
    for model in missing:
        entry = _mismatch("missing", None, model,
                          pairing.notes.get(id(model.obj)) or pairing.cause
                          or _missing_hint(model))
        entry.allowed = _matches(allow["missing"], model.name)
        found.append(entry)
    for ckpt in unexpected:
        entry = _mismatch("unexpected", ckpt, None, pairing.cause or _unexpected_hint(ckpt))
        entry.allowed = _matches(allow["unexpected"], ckpt.name)
        found.append(entry)
    for entry in found:
        entry.source = built.source_of(entry.layer)
    for entry in pairing.extra:  # allow: patterns apply to these names too
        needs = _ALLOW_KEYS.get(entry.kind, ())
        entry.allowed = bool(needs) and all(_matches(allow[k], entry.name) for k in needs)
    return [*found, *pairing.extra]


_ALLOW_KEYS = {"missing": ("missing",), "unexpected": ("unexpected",),
               "rename": ("missing", "unexpected")}


def pair_renames(
    missing: list[ModelVariable], unexpected: list[CkptVariable]
) -> tuple[list[tuple[CkptVariable, ModelVariable]], list[ModelVariable], list[CkptVariable]]:
    """Offer unmatched pairs of identical shape and dtype as probable renames.

    Among several candidates the one with the most similar name wins, so
    `dense_1/kernel` pairs with `encoder/kernel`, not with `encoder/bias`.
    """
    left = list(unexpected)
    renames: list[tuple[CkptVariable, ModelVariable]] = []
    still_missing: list[ModelVariable] = []
    for model in missing:
        candidates = [c for c in left if c.shape == model.shape and c.dtype == model.dtype]
        if not candidates:
            still_missing.append(model)
            continue
        best = max(candidates, key=lambda c: _similarity(c.name, model.name))
        left.remove(best)
        renames.append((best, model))
    return renames, still_missing, left


def _similarity(a: str, b: str) -> tuple[bool, float]:
    same_leaf = a.rsplit("/", 1)[-1] == b.rsplit("/", 1)[-1]
    return same_leaf, difflib.SequenceMatcher(None, a, b).ratio()


def _matches(patterns: list[str], name: str) -> bool:
    return any(re.search(p, name) for p in patterns)


def _spec(shape: list[int] | None, dtype: str) -> TensorSpec:
    return TensorSpec(shape=shape, dtype=dtype)


def _mismatch(
    kind: str, ckpt: CkptVariable | None, model: ModelVariable | None, hint: str
) -> Mismatch:
    name = model.name if model is not None else ckpt.name  # type: ignore[union-attr]
    layer = model.layer if model is not None else ckpt.layer  # type: ignore[union-attr]
    renamed = ckpt is not None and model is not None and ckpt.name != model.name
    # a value moved only when the file establishes the variable it was saved from
    # (`identity`) and the one it now loads into has another: a file key such as
    # `conv_1/0` beside the variable `conv_1/kernel` is no move
    moved = renamed and None not in (ckpt.identity, model.identity) and \
        ckpt.identity != model.identity
    if moved and kind in ("shape", "dtype"):
        hint = (
            f"the checkpoint value at this position was saved from `{ckpt.name}`: a layer "
            f"was inserted, removed or reordered before it. {hint}"
        )
    return Mismatch(
        kind=kind,
        checkpoint_name=ckpt.name if moved or (renamed and kind == "rename") else None,
        name=name,
        layer=layer,
        key=ckpt.key if ckpt else "",
        checkpoint=_spec(ckpt.shape, ckpt.dtype) if ckpt else None,
        model=_spec(model.shape, model.dtype) if model else None,
        hint=hint,
    )


def _fmt(shape: list[int] | None) -> str:
    return "scalar" if shape == [] else str(tuple(shape)) if shape is not None else "unknown"


def _shape_hint(ckpt: CkptVariable, model: ModelVariable) -> str:
    return (
        f"saved as {_fmt(ckpt.shape)}, the branch builds {_fmt(model.shape)}: restore the "
        f"layer's units/filters/kernel size/input size, or release a new checkpoint"
    )


def _dtype_hint(ckpt: CkptVariable, model: ModelVariable) -> str:
    return (
        f"saved as {ckpt.dtype}, the branch creates {model.dtype}: set the layer's dtype "
        f"(or the mixed-precision policy) back to {ckpt.dtype}"
    )


def _rename_hint(ckpt: CkptVariable, model: ModelVariable, path: str | None = None) -> str:

    saved = _object_path(ckpt.key)
    if path and not is_positional_key(ckpt.key) and _object_path(path) != saved:
        old, new = _holder(saved), _holder(_object_path(path))
        return (
            f"saved at `{saved}`, the branch reads this variable from `{_object_path(path)}`: "
            f"probably `{old}` renamed to `{new}` (an attribute or layer); it will not load "
            "under the new path: keep the old attribute/layer name, or release anew"
        )
    if ckpt.name == model.name:
        return (
            f"saved under another object path ({ckpt.key.split('/.ATTRIBUTES')[0]}): a layer was "
            "inserted or removed before it, and tf.train.Checkpoint matches layers of a "
            "functional model by position; keep the layer order or release a new checkpoint"
        )
    return (
        f"probably `{ckpt.name}` renamed to `{model.name}`: it will not load under the new "
        "name; keep the old layer/attribute name or map the old name when restoring"
    )


def _object_path(key: str) -> str:
    return key.split("/.ATTRIBUTES")[0]


def _holder(path: str) -> str:
    """`hidden/vars/0` -> `hidden`; `model/hidden/_kernel` -> `model/hidden`."""
    if "/vars/" in f"/{path}":
        return path.rsplit("/vars/", 1)[0] if "/vars/" in path else "(the model itself)"
    return path.rsplit("/", 1)[0] if "/" in path else path


def _missing_hint(model: ModelVariable) -> str:
    return (
        "no value in the checkpoint, so it keeps its initial value: a new or renamed layer; "
        "add it to `allow.missing` if it is meant to start fresh"
    )


def _unexpected_hint(ckpt: CkptVariable) -> str:
    return (
        "saved in the checkpoint but used by no variable of the branch model: a removed or "
        "renamed layer; add it to `allow.unexpected` if it is meant to be dropped"
    )


def judge_optimizer(
    policy: str,
    ckpt_type: str | None,
    ckpt_values: list[CkptVariable],
    built: BuiltModel,
    pairing: Pairing | None,
) -> OptimizerState:
    """What became of the optimizer state, and whether `policy` accepts it."""
    state = OptimizerState(
        status="ignored",
        policy=policy,
        checkpoint_type=ckpt_type,
        checkpoint_values=len(ckpt_values),
        model_type=built.optimizer_type,
        model_values=len(built.optimizer_variables),
    )
    if policy == "ignore":
        state.hint = "optimizer state not checked (checkpoint.optimizer: ignore)"
        return state
    if not ckpt_values and built.optimizer is None:
        state.status = "absent"
        state.ok = policy != "required"
        state.hint = "" if state.ok else "neither the checkpoint nor the model has an optimizer"
        return state
    if not ckpt_values:
        state.status = "new"
        state.hint = "the checkpoint holds no optimizer state; training restarts its moments"
    elif built.optimizer is None:
        state.status = "lost"
        state.hint = (
            "the checkpoint holds optimizer state but the branch model is not compiled: "
            "compile it in the builder to check the optimizer"
        )
    elif ckpt_type is not None and not same_optimizer(ckpt_type, built):
        state.status = "changed"
        state.hint = (
            f"optimizer changed from {ckpt_type} to {built.optimizer_type}: its state "
            "(moments, iterations) cannot be restored; resumed training restarts it"
        )
    elif pairing is not None and pairing.clean:
        state.status = "restored"
        state.restored_values = len(pairing.matched)
    elif pairing is not None and not pairing.cause and (refused := _refused(pairing)):
        state.status = "changed"  # nothing restores: the restore raises
        state.hint = refused
    else:
        state.status = "changed"
        state.restored_values = len(pairing.compatible) if pairing else 0
        state.hint = (pairing.cause if pairing and pairing.cause else None) or (
            f"{state.restored_values} of {state.checkpoint_values} optimizer values restore: "
            "its slots follow the model's variables, so a model change or a changed "
            "optimizer setting (e.g. momentum, amsgrad) leaves the rest at their initial values"
        )
    state.ok = policy != "required" or state.status == "restored"
    return state


def _refused(pairing: Pairing) -> str | None:
    """A slot matched to a variable of another shape: TensorFlow's and Keras's restore raise
    (ValueError) and restore none of the optimizer state, rather than part of it."""
    clash = next(((c, m) for c, m in pairing.matched if not same_spec(c, m)), None)
    if clash is None:
        return None
    ckpt, model = clash
    return (f"TensorFlow refuses to restore the optimizer state: `{ckpt.name}` was saved "
            f"{_fmt(ckpt.shape)}, the branch's `{model.name}` is {_fmt(model.shape)} — "
            "the optimizer keeps its slots by position in the model's trainable variables, "
            "whose order or shapes changed; plain `tf.train.Checkpoint(model=…, "
            "optimizer=…).restore()` raises ValueError, so none of its state (moments, "
            "iterations) is restored")


def same_optimizer(ckpt_type: str | None, built: BuiltModel) -> bool:
    """The same optimizer, whatever Keras's auto-naming: a release whose optimizer is named
    `adam_1` (a second optimizer created in its session) holds Adam's state all the same."""
    if ckpt_type is None or built.optimizer is None:
        return False
    names = {built.optimizer_type, str(getattr(built.optimizer, "name", ""))}
    return optimizer_kind(ckpt_type) in {optimizer_kind(n) for n in names}
