"""The mismatch table of the comment: one row per layer (layer, what changed, checkpoint →
branch, defined at), each distinct hint once as a numbered *How to fix* item, the first
`SHOWN_LAYERS` rows open and the rest in a collapsed <details>, within a size budget.

Every report string goes through `render.escape` / `render.code`. No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from restore_gate.present.grouping import LayerGroup, group_by_layer, hint_key, moved_from
from restore_gate.present.links import NO_LINKS, SourceLinks
from restore_gate.present.markdown import (
    CELL_VALUES,
    SHOWN_LAYERS,
    clip_code,
    clip_text,
    code,
    escape,
    fmt_spec,
    size,
    source_cell,
)

Marks = Callable[[LayerGroup], list[str]]


def mismatch_section(mismatches: Sequence[dict], links: SourceLinks = NO_LINKS,
                     limit: int | None = None, room: int | None = None,
                     columns: Sequence[str] = (), marks: Marks | None = None) -> list[str]:
    """The per-layer table: the first SHOWN_LAYERS rows open, the rest in a collapsed
    <details>, as many as fit in `room` characters (None: every layer, each value named);
    `columns`/`marks` add a column per runner."""
    groups = group_by_layer(mismatches)
    if not groups:
        return []
    counts = {k: sum(m["kind"] == k for m in mismatches)
              for k in ("missing", "unexpected", "shape", "dtype", "rename")}
    kinds = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    title = (f"### Mismatches: {len(mismatches)} value{'s' if len(mismatches) != 1 else ''} "
             f"in {len(groups)} layer{'s' if len(groups) != 1 else ''} ({kinds})")
    header = [_row(["layer", "what changed", "checkpoint → branch", "defined at",
                    *(escape(c) for c in columns)]), _row(["---"] * (4 + len(columns)))]
    numbers: dict[str, int] = {}
    fixes: list[tuple[str, list[LayerGroup]]] = []
    rows: list[str] = []
    used = size(title) + 2 * size("\n".join(header)) + 400
    for group in groups[: len(groups) if limit is None else limit]:
        new = [h for h in group.hints if hint_key(h) not in numbers]
        cost = sum(min(size(h), 700) + 20 for h in new)
        row = _group_row(group, numbers, len(numbers), links, room is not None, marks)
        if room is not None and used + size(row) + cost > room:
            break
        for hint in new:
            numbers[hint_key(hint)] = len(numbers) + 1
            fixes.append((hint, []))
        for hint in group.hints:
            fixes[numbers[hint_key(hint)] - 1][1].append(group)
        rows.append(_group_row(group, numbers, 0, links, room is not None, marks))
        used += size(rows[-1]) + cost
    lines = [title, "", *header, *rows[:SHOWN_LAYERS], ""]
    if len(rows) > SHOWN_LAYERS:
        lines += [f"<details><summary>{len(rows) - SHOWN_LAYERS} more layers</summary>", "",
                  *header, *rows[SHOWN_LAYERS:], "", "</details>", ""]
    if len(rows) < len(groups):
        left = groups[len(rows):]
        lines += [f"Trimmed to fit: {len(rows)} of {len(groups)} layers shown; "
                  f"{len(left)} more layers ({sum(len(g.items) for g in left)} values) are in "
                  "the job summary and the JSON report.", ""]
    if fixes:
        lines += ["**How to fix**", ""]
        for number, (hint, where) in enumerate(fixes, 1):
            scope = (f" ({len(where)} layers, e.g. {clip_code(where[0].layer, 80)})"
                     if len(where) > 1 else "")
            lines.append(f"{number}. {clip_text(hint, 600) if room is not None else escape(hint)}"
                         f"{scope}")
        lines.append("")
    return lines


def _group_row(group: LayerGroup, numbers: dict[str, int], pending: int, links: SourceLinks,
               bounded: bool, marks: Marks | None) -> str:
    mark = "➖ allowed" if group.allowed else "❌"
    kinds = ", ".join(f"{k} ×{n}" if n > 1 else k for k, n in group.kinds.items())
    refs = sorted({numbers.get(hint_key(h), pending + 1) for h in group.hints})
    fix = f" · fix {', '.join(map(str, refs))}" if refs else ""
    cells = [f"{mark} {clip_code(group.layer, 120) if bounded else code(group.layer)}",
             f"{kinds}{fix}", _changes_cell(group, CELL_VALUES if bounded else None),
             source_cell(group.source, links)]
    return _row([*cells, *(marks(group) if marks else [])])


def _changes_cell(group: LayerGroup, cap: int | None) -> str:
    """Values with the same checkpoint → branch spec share one entry: `a`, `b` 40 → 32."""
    buckets: dict[str, list[str]] = {}
    show = (lambda v: clip_code(v, 120)) if cap else code
    for m in group.items:
        name = show(_leaf(m["name"], group.layer))
        before = moved_from(m)
        if before:
            name += f" ← {show(before)}"
        buckets.setdefault(_specs(m.get("checkpoint"), m.get("model")), []).append(name)
    parts, shown = [], 0
    for specs, names in buckets.items():
        take = names if cap is None else names[: max(cap - shown, 0)]
        if not take:
            break
        shown += len(take)
        parts.append(f"{', '.join(take)} {specs}")
    rest = len(group.items) - shown
    return "; ".join(parts) + (f"; +{rest} more values" if rest > 0 else "")


def _leaf(name: str, layer: str) -> str:
    """`kernel` for `conv_1/kernel` in the row of `conv_1`; other names stay whole."""
    return name[len(layer) + 1:] if name.startswith(f"{layer}/") and len(name) > len(layer) + 1 \
        else name


def _specs(old: dict | None, new: dict | None) -> str:
    """`40 → 32 float32`, or both dtypes when they differ: `4×8 float32 → 4×8 float16`."""
    if old and new and old.get("dtype") == new.get("dtype"):
        return f"{fmt_spec({**old, 'dtype': ''}).strip()} → {fmt_spec(new)}"
    return f"{fmt_spec(old)} → {fmt_spec(new)}"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
