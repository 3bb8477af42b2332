"""Findings on state the weights do not hold: a lookup layer's vocabulary and the compute
dtype a mixed precision policy sets (evaluation/model_state.py records and compares them).

Pure functions on the report dict, returning (kind, Markdown) pairs for `diagnose`.
"""

from __future__ import annotations

import re

from restore_gate.present.markdown import clip_code, clip_text

NAME = 80
# layers whose output is ids looked up in a vocabulary (their state is not in the weights)
LOOKUP_CLASSES = ("TextVectorization", "StringLookup", "IntegerLookup")
LOSS_SCALE = "losssc"  # LossScaleOptimizer, loss_scale_optimizer: lower-cased prefix


def is_lookup(kind: object) -> bool:
    return isinstance(kind, str) and kind in LOOKUP_CLASSES


def divergence_cause(found: dict) -> str:
    """" — the vocabulary (…) is the likely cause" when a lookup layer diverges first."""
    if not is_lookup(found.get("class")):
        return ""
    return (f" — it is a {clip_text(found['class'], 40)} layer: its vocabulary (the lookup "
            "layer's state, which no weights file restores) is the likely cause")


def lookup_findings(report: dict) -> list[tuple[str, str]]:
    changed = (report.get("extra") or {}).get("lookup_state") or []
    if not isinstance(changed, list) or not changed:
        return []
    first = changed[0]
    size_from, size_to = first.get("size_from"), first.get("size_to")
    sizes = (f"{size_from} → {size_to} tokens" if size_from != size_to else
             f"{size_to} tokens, some at other ids")
    more = f" (and {len(changed) - 1} more lookup layers)" if len(changed) > 1 else ""
    return [("vocabulary", f"The vocabulary of {clip_code(first.get('layer', '?'), NAME)} "
                           f"({clip_text(first.get('class', '?'), 40)}) changed ({sizes}){more}: "
                           "a lookup layer's vocabulary is not in the weights, so the release's "
                           "weights now read ids that mean other tokens.")]


def precision_finding(report: dict, drift: str | None) -> tuple[str, str] | None:
    """"Precision changed — compute dtype float32 → float16 (mixed precision policy) in 2
    layers …", with the drift it causes and the optimizer's LossScaleOptimizer folded in."""
    change = (report.get("extra") or {}).get("compute_dtype")
    if not isinstance(change, dict) or not change.get("layers"):
        return None
    layers = [str(n) for n in change["layers"]]
    count = change.get("count") if isinstance(change.get("count"), int) else len(layers)
    names = ", ".join(clip_code(n, NAME) for n in layers[:3]) + (
        f" and {count - 3} more" if count > 3 else "")
    plural = "layer" if count == 1 else "layers"
    text = (f"Precision changed — compute dtype {clip_text(change.get('from'), 20)} → "
            f"{clip_text(change.get('to'), 20)} (mixed precision policy) in {count} {plural} "
            f"({names}): the variables keep their dtype, so the weights restore")
    text += f", but behaviour drifts: {drift.rstrip('.')}" if drift else ""
    if loss_scale_changed(report):
        text += ("; Keras wraps the optimizer in LossScaleOptimizer under mixed_float16, so "
                 "its state (moments, iterations) restarts")
    return ("precision", text.rstrip(".") + ".")


def loss_scale_changed(report: dict) -> bool:
    """LossScaleOptimizer on exactly one side of an optimizer change."""
    state = report.get("optimizer") or {}
    sides = [re.sub(r"[^a-z]", "", str(state.get(k) or "").lower())
             for k in ("checkpoint_type", "model_type")]
    return sum(s.startswith(LOSS_SCALE) for s in sides) == 1
