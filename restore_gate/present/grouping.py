"""Mismatches folded into one group per layer, with their hints deduplicated.

Pure functions on the validated report's `mismatches` (dicts), shared by the single
report's comment (`render`) and the merged one (`publish.merge`). No TensorFlow here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

KIND_ORDER = ("shape", "dtype", "rename", "missing", "unexpected")
_VOLATILE = re.compile(r"`[^`]*`|\([^()]*\)|\b[\w.]*\d[\w.]*\b")


@dataclass(frozen=True)
class LayerGroup:
    """Every mismatch of one layer (blocking and allowed ones apart), in report order."""

    layer: str
    allowed: bool
    items: tuple[dict, ...]

    @property
    def kinds(self) -> dict[str, int]:
        counts = {k: 0 for k in KIND_ORDER}
        for m in self.items:
            counts[m["kind"]] = counts.get(m["kind"], 0) + 1
        return {k: n for k, n in counts.items() if n}

    @property
    def source(self) -> str | None:
        return next((m["source"] for m in self.items if m.get("source")), None)

    @property
    def hints(self) -> tuple[str, ...]:
        """Each distinct hint once: hints differing only in names, shapes or numbers are one."""
        seen: dict[str, str] = {}
        for m in self.items:
            if m.get("hint"):
                seen.setdefault(hint_key(m["hint"]), m["hint"])
        return tuple(seen.values())


def hint_key(hint: str) -> str:
    """A hint with its names, shapes and numbers blanked: the advice it gives."""
    return _VOLATILE.sub("#", " ".join(str(hint).split()))


def group_by_layer(mismatches: Iterable[dict]) -> list[LayerGroup]:
    """One group per (layer, allowed), blocking groups first, each in first-seen order."""
    order: dict[tuple[str, bool], list[dict]] = {}
    for m in mismatches:
        key = (str(m.get("layer") or m["name"]), bool(m.get("allowed")))
        order.setdefault(key, []).append(m)
    groups = [LayerGroup(layer, allowed, tuple(items)) for (layer, allowed), items in order.items()]
    return sorted(groups, key=lambda g: g.allowed)  # stable: report order within each


def moved_from(m: dict) -> str | None:
    """The checkpoint name a value was saved under, when that was another layer's."""
    before = m.get("checkpoint_name")
    if not before or before == m["name"]:
        return None
    old_layer = before.rsplit("/", 1)[0] if "/" in before else before
    return before if old_layer != m.get("layer") or m["kind"] == "rename" else None
