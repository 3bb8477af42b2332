"""Markdown primitives for everything rendered from a report: escaping, code spans, clipping,
sizes and budgets. Everything that came from a report is untrusted: `escape()` makes it inert."""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from restore_gate.core.report import DriftEntry
from restore_gate.present.links import NO_LINKS, SourceLinks

MARKER = "<!-- restore-gate:comment -->"
ICONS = {"pass": "✅", "fail": "❌", "error": "⚠️"}
# the label that lets a failing pull request merge (`publish.override_label` in the config)
DEFAULT_OVERRIDE_LABEL = "restore-gate: allow-break"


def unmeasured(d: DriftEntry) -> bool:
    """A drift entry shown but not compared (no release value to compare with)."""
    return bool(d.ok) and d.level == "info" and d.baseline is None


def drift_mark(d: DriftEntry) -> str:
    """✅ within threshold, ⚠️ warn, ❌ fail, ➖ not measured (never a ✅ for a check not made)."""
    if unmeasured(d):
        return "➖"
    return "✅" if d.ok else ("⚠️" if d.level == "warn" else "❌")


_SPECIAL = re.compile(r"([\\*_\[\]|~])")
_BLOCK_START = re.compile(r"^(?:[#+=-]|`+|\d{1,9}(?=[.)]))")  # headings, lists, rules, fences
_ZWSP = "\u200b"
# What GitHub links in plain text: extended autolinks (www., scheme://, emails), @mentions and
# team mentions, and references (#123, owner/repo#123, GH-123). A zero-width space inside
# each keeps the text as it reads and unlinked.
_LIVE = [
    (re.compile(r"(?i)www\."), lambda m: m.group(0)[:3] + _ZWSP + "."),
    (re.compile(r"://"), lambda m: ":" + _ZWSP + "//"),
    (re.compile(r"@"), lambda m: "@" + _ZWSP),
    (re.compile(r"#(?=\w)"), lambda m: "#" + _ZWSP),
    (re.compile(r"(?i)gh-(?=\d)"), lambda m: m.group(0)[:2] + _ZWSP + "-"),
]


def visible(value: Any) -> str:
    """The text with every invisible format or control character (Unicode categories Cf and
    Cc: bidi overrides and isolates such as U+202E and U+2066, zero-width characters, U+FEFF)
    shown as `<U+202E>`, so a name cannot reorder or hide what a reviewer reads. Line breaks
    and tabs stay (callers collapse or encode them)."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(f"<U+{ord(c):04X}>" if c not in "\n\r\t"
                   and unicodedata.category(c) in ("Cf", "Cc") else c for c in text)


def escape(value: Any) -> str:
    """Make a report string inert in GitHub Markdown wherever it lands (a line's start
    included): no HTML or entities, links, autolinks, images, mentions, references,
    headings, lists, rules, quotes or code fences; no invisible characters (`visible`)."""
    text = visible(" ".join(str(value).split()))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _SPECIAL.sub(r"\\\1", text)
    if text.count("`") % 2:
        text = text.replace("`", "\\`")
    text = _BLOCK_START.sub(_escape_block_start, text)
    for pattern, replace in _LIVE:
        text = pattern.sub(replace, text)
    return text


def _escape_block_start(match: re.Match) -> str:
    """A backslash before a line-starting `#`, `-`, `+`, `=` or backtick, or before the `.`
    / `)` of `1.`, makes it plain text."""
    found = match.group(0)
    if found[0].isdigit():
        return found + "\\"  # the `.` or `)` after the number follows the backslash
    return "".join(f"\\{c}" for c in found)


def code(value: Any) -> str:
    """Inline code for a name; backticks inside are replaced so the span cannot break, and
    invisible characters are shown (`visible`)."""
    text = visible(" ".join(str(value).split())).replace("`", "'")
    text = text.replace("|", "\\|")
    return f"`{text}`" if text else ""


def fmt_spec(spec: dict | None) -> str:
    if not spec:
        return "—"
    shape = spec.get("shape")
    shape_text = "scalar" if shape == [] else "?" if shape is None else "×".join(map(str, shape))
    return f"{escape(shape_text)} {escape(spec.get('dtype', ''))}"


# sizes and clipped text ---------------------------------------------------------------------
COMMENT_BUDGET = 20_000  # characters (UTF-16 units) a comment stays under, whatever the report
SHOWN_LAYERS = 10  # layer rows before the rest fold into a collapsed <details>
NOTICES_SHOWN, ERRORS_SHOWN, DRIFT_SHOWN, CELL_VALUES = 5, 5, 20, 6


def size(text: str) -> int:
    """Length as GitHub may count it (UTF-16 code units): never less than `len()`."""
    return len(text.encode("utf-16-le")) // 2


def clip_text(value: Any, width: int) -> str:
    """`escape()` of at most `width` characters of the value (an ellipsis says it was cut)."""
    text = " ".join(str(value).split())
    limit = width + width // 4 + 8  # escaping may lengthen it: keep the result near `width`
    while True:
        shown = escape(text if len(text) <= width else text[: max(width - 1, 0)] + "…")
        if len(shown) <= limit or width <= 8:
            return shown
        width = width * 2 // 3


def clip_code(value: Any, width: int) -> str:
    text = visible(" ".join(str(value).split()))  # shown characters count toward `width`
    return code(text if len(text) <= width else text[: width - 1] + "…")


def source_cell(source: Any, links: SourceLinks = NO_LINKS) -> str:
    """`file:line` as a link to that line of the head commit when known, else plain code."""
    if not source:
        return "—"
    text = clip_code(source, 120)
    url = links.url(source)
    return f"[{text}]({url})" if url else text


def percent(baseline: float | None, value: float | None) -> str:
    """Relative change, "+189 %"; empty when the baseline is 0 or unknown."""
    if baseline is None or value is None or baseline == 0:
        return ""
    rel = (value - baseline) / abs(baseline) * 100
    if not math.isfinite(rel):  # a NaN/Inf measurement: the values themselves say it
        return ""
    return f"{rel:+.3g} %" if abs(rel) < 1000 else f"{rel:+.0f} %"


def cut(body: str, budget: int) -> str:
    """Last resort: whole lines up to `budget`, open <details> closed, with a note."""
    note = ("\n\n> [!NOTE]\n> Cut short to stay readable. The complete report is in the job "
            "summary and the JSON report.\n")
    lines, used = [], size(note) + 20
    for line in body.splitlines():
        if used + size(line) + 1 > budget:
            break
        lines.append(line)
        used += size(line) + 1
    text = "\n".join(lines)
    if text.count("<details>") > text.count("</details>"):
        text += "\n\n</details>"
    return text + note


_RULE = re.compile(r"\b(max|warn)_(drop|increase) (-?[0-9.]+(?:e-?[0-9]+)?)(%?)")


def threshold_text(d: DriftEntry) -> str:
    """The rule as configured, with a relative form beside an absolute one ("max +5 %")."""
    text = clip_text(d.threshold, 120)
    match = _RULE.search(str(d.threshold))
    baseline = d.baseline
    if not match or d.kind != "metric":
        return text
    level, way, amount, pct = match.groups()
    sign = "-" if way == "drop" else "+"
    if pct:
        return f"{level} {sign}{float(amount):g} %"
    if baseline:
        rel = float(amount) / abs(baseline) * 100
        return f"{level} {sign}{float(amount):g} ({sign}{rel:.3g} %)"
    return text
