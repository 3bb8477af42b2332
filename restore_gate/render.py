"""Render a report (the validated JSON value) as the pull request comment, in Markdown.

Everything that came from a report is untrusted: `escape()` neutralises HTML,
links, images, @mentions, table pipes and code fences before it lands in Markdown.
No TensorFlow here.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from restore_gate.links import NO_LINKS, SourceLinks
from restore_gate.report import with_numbers

MARKER = "<!-- restore-gate:comment -->"
ICONS = {"pass": "✅", "fail": "❌", "error": "⚠️"}
# the label that lets a failing pull request merge (`publish.override_label` in the config)
DEFAULT_OVERRIDE_LABEL = "restore-gate: allow-break"


def unmeasured(d: dict) -> bool:
    """A drift entry shown but not compared (no release value to compare with)."""
    return bool(d["ok"]) and d.get("level") == "info" and d.get("baseline") is None


def drift_mark(d: dict) -> str:
    """✅ within threshold, ⚠️ warn, ❌ fail, ➖ not measured (never a ✅ for a check not made)."""
    if unmeasured(d):
        return "➖"
    return "✅" if d["ok"] else ("⚠️" if d.get("level") == "warn" else "❌")
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


def headline(report: dict) -> str:
    verdict = report["verdict"]
    summary = report.get("summary", {})
    blocking = summary.get("blocking", 0)
    failed_drift = sum(
        1 for d in report.get("drift", []) if not d["ok"] and d.get("level") != "warn"
    )
    if verdict == "error":
        detail = "the gate could not decide"
    elif verdict == "fail":
        parts = []
        if blocking:
            parts.append(f"{blocking} blocking mismatch{'es' if blocking != 1 else ''}")
        if failed_drift:
            plural = "s" if failed_drift != 1 else ""
            parts.append(f"{failed_drift} drift check{plural} over threshold")
        optimizer = report.get("optimizer") or {}
        if optimizer and not optimizer.get("ok", True):
            parts.append("optimizer state does not restore")
        detail = ", ".join(parts) or "compatibility broken"
    else:
        detail = "the release checkpoint restores into this branch"
        drift = report.get("drift") or []
        if not any(d.get("kind") != "device" and not unmeasured(d) for d in drift):
            detail += " (structure only: drift not measured)"
    return f"## {ICONS[verdict]} restore-gate: **{verdict}** — {detail}"



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


# the comment --------------------------------------------------------------------------------
def render(report: dict, details_limit: int | None = None, *, links: SourceLinks = NO_LINKS,
           budget: int | None = COMMENT_BUDGET, label: str = DEFAULT_OVERRIDE_LABEL) -> str:
    """The whole comment for one runner's report; under `budget` characters unless None
    (the job summary: every layer)."""
    report = with_numbers(report)
    head = [MARKER, headline(report), "", *_diagnosis(report, links)]
    for level in (1, 2, 4, 8) if budget is not None else (0,):  # 0: nothing left out
        before = [*_intro(report), *_notices(report, level), *_errors(report, level)]
        after = [*_optimizer(report), *_drift_table(report, level, links),
                 *next_steps([report], label, links), *_environment(report)]
        fixed = size("\n".join(head + before + after))
        if budget is None or fixed <= budget * 0.6:
            break
    room = None if budget is None else budget - fixed - 300
    from restore_gate.layer_table import mismatch_section

    table = mismatch_section(report.get("mismatches") or [], links, details_limit, room)
    body = "\n".join(head + before + table + after).rstrip() + "\n"
    return body if budget is None or size(body) <= budget else cut(body, budget)


def next_steps(reports: list[dict], label: str, links: SourceLinks = NO_LINKS) -> list[str]:
    """What a reviewer does next: on a fail, intended or not; on an error, fix and re-run;
    with the command that reproduces the check locally."""
    verdicts = {r["verdict"] for r in reports}
    if verdicts <= {"pass"}:
        return []
    lines = ["### What to do", ""]
    if "fail" in verdicts:
        lines.append(f"- **Not intended?** {_fix_hint(reports, links)}")
        out = _release_path(reports)
        lines.append(
            f"- **Intended?** A maintainer adds the label {code(label)} to this pull request, "
            "so the break does not block the merge; after merging, release the new model so "
            "later pull requests are checked against it: "
            f"`restore-gate snapshot --checkpoint NEW_CHECKPOINT --out {_plain(out)}`.")
    if "error" in verdicts:
        lines.append("- **Could not decide:** fix the error under **Errors** (each says how), "
                     "then re-run the job; an error never passes.")
    lines.append(f"- **Reproduce locally:** `{_reproduce(reports)}`")
    return [*lines, ""]


def _fix_hint(reports: list[dict], links: SourceLinks) -> str:
    blocking = any((r.get("summary") or {}).get("blocking") for r in reports)
    found = next((d for r in reports if (d := (r.get("extra") or {}).get("divergence"))), None)
    drifted = any(not d["ok"] and d.get("level") != "warn" for r in reports
                  for d in r.get("drift") or [])
    parts = []
    if blocking:
        parts.append("undo the change named under **What happened**; **How to fix** lists "
                     "each value")
    if drifted and found:
        where = f" ({source_cell(found['source'], links)})" if found.get("source") else ""
        parts.append(f"the outputs first diverge after {clip_code(found.get('layer', '?'), 80)}"
                     f"{where}: look at what this pull request changed "
                     "there (activation, custom layer code, preprocessing, vocabulary)")
    elif drifted:
        parts.append("behaviour changed while the weights restore: look for a changed "
                     "activation, custom layer code, preprocessing or vocabulary")
    if not parts:
        parts.append("undo the change named under **What happened**")
    return "; ".join(parts)[:1].upper() + "; ".join(parts)[1:] + "."


def _release_path(reports: list[dict]) -> str:
    source = next((str((r.get("checkpoint") or {}).get("source") or "") for r in reports), "")
    if source.endswith(".tar.gz") and "://" not in source:
        return source
    return "release/model.tar.gz"


def _plain(text: str) -> str:
    """A path or ref safe inside a one-backtick code span (anything else is replaced)."""
    return re.sub(r"[^A-Za-z0-9._/@:+=-]", "_", text)[:200]


def _reproduce(reports: list[dict]) -> str:
    base = next((((r.get("extra") or {}).get("base") or {}).get("ref") for r in reports), None)
    return "restore-gate check" + (f" --base {_plain(str(base))}" if base else "")


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


def _diagnosis(report: dict, links: SourceLinks) -> list[str]:
    from restore_gate.diagnose import headline_sentences

    text = headline_sentences(report, links)
    return [f"**What happened:** {text}", ""] if text else []


def _intro(report: dict) -> list[str]:
    ckpt = report.get("checkpoint") or {}
    model = report.get("model") or {}
    if not ckpt:
        return []
    text = (
        f"Release checkpoint {clip_code(ckpt.get('source', '?'), 300)} "
        f"({clip_text(ckpt.get('format', '?'), 60)}, {ckpt.get('variables', 0)} model values) "
        f"restored into {clip_code(model.get('builder', 'the branch model'), 200)}"
    )
    if "restored" in model:
        text += f": {model['restored']} of {model.get('variables', 0)} variables verified."
    return [text, ""]


def _shown(items: list, most: int, level: int) -> list:
    """The first `most` items at level 1, fewer at higher levels, all at level 0."""
    return items if not level else items[: max(most // level, 1)]


def _notices(report: dict, level: int = 1) -> list[str]:
    notices = list(dict.fromkeys(report.get("notices") or []))
    shown = _shown(notices, NOTICES_SHOWN, level)
    lines = [f"> [!NOTE]\n> {clip_text(n, 600 // level) if level else escape(n)}\n"
             for n in shown]
    if len(notices) > len(shown):
        lines.append(f"> [!NOTE]\n> … and {len(notices) - len(shown)} more notices: see the "
                     "JSON report.\n")
    return lines


def _errors(report: dict, level: int = 1) -> list[str]:
    errors = report.get("errors") or []
    if not errors:
        return []
    lines = ["### Errors", ""]
    shown = _shown(errors, ERRORS_SHOWN, level)
    text = (lambda v, n: clip_text(v, n // level)) if level else (lambda v, n: escape(v))
    for error in shown:
        lines.append(f"- **{escape(error['stage'])}**: {text(error['message'], 1000)}")
        if error.get("hint"):
            lines.append(f"  - how to fix: {text(error['hint'], 500)}")
    if len(errors) > len(shown):
        lines.append(f"- … and {len(errors) - len(shown)} more errors: see the JSON report")
    return [*lines, ""]


# optimizer, behaviour, environment ----------------------------------------------------------
def _optimizer(report: dict) -> list[str]:
    state = report.get("optimizer")
    if not state or state["status"] in ("absent",):
        return []
    # ✅ restored, ❌ blocks the merge, ➖ changed but the policy lets it pass
    mark = "❌" if not state["ok"] else "✅" if state["status"] == "restored" else "➖"
    text = (
        f"**Optimizer** {mark} {escape(state['status'])} (policy: {escape(state['policy'])}"
        f"{'' if mark != '➖' else ', does not block'}): "
        f"checkpoint {clip_text(state.get('checkpoint_type') or 'none', 100)} "
        f"({state.get('checkpoint_values', 0)} values) → branch "
        f"{clip_text(state.get('model_type') or 'none', 100)} "
        f"({state.get('model_values', 0)} values)"
    )
    if state.get("hint"):
        text += f". {clip_text(state['hint'], 500)}"
    return [text, ""]


def _drift_table(report: dict, level: int = 1, links: SourceLinks = NO_LINKS) -> list[str]:
    drift = report.get("drift") or []
    if not drift:
        return []
    ordered = sorted(drift, key=lambda d: d["ok"])  # stable: failures first, else report order
    shown = _shown(ordered, DRIFT_SHOWN, level)
    lines = ["### Behaviour against the release", "",
             "| | check | release → branch | change | threshold |",
             "|---|---|---|---|---|"]
    for d in shown:
        mark = drift_mark(d)
        note = f" ({clip_text(d['note'], 200)})" if d.get("note") else ""
        lines.append(
            f"| {mark} | {clip_text(d['kind'], 10)}: {clip_code(d['name'], 120)}{note} | "
            f"{_num(d.get('baseline'))} → {_num(d.get('value'))} | {_change(d)} | "
            f"{threshold_text(d)} |")
    if len(drift) > len(shown):
        lines.append(f"\n… and {len(drift) - len(shown)} more checks: see the JSON report.")
    return [*lines, "", *_divergence(report, links)]


def _divergence(report: dict, links: SourceLinks) -> list[str]:
    """The first diverging layer (trace.py), under the drift table."""
    from restore_gate.diagnose import divergence_text

    found = (report.get("extra") or {}).get("divergence")
    if not found:
        return []
    limit = found.get("limit")
    tolerance = (f" (tolerance {limit:.3g}: {clip_text(found.get('threshold', ''), 80)} of the "
                 "release's largest value)" if isinstance(limit, (int, float)) else "")
    before = found.get("compared", 1) - 1
    match = (f"the {before} layer{'s' if before != 1 else ''} before it match the release"
             if before > 0 else "it is the first layer traced")
    return [f"**{divergence_text(found, links)}**{tolerance}; {match}.", ""]


def _change(d: dict) -> str:
    if d.get("delta") is None:
        return "—"
    rel = percent(d.get("baseline"), d.get("value")) if d["kind"] == "metric" else ""
    return f"{d['delta']:+.4g}" + (f", {rel}" if rel else "")


_RULE = re.compile(r"\b(max|warn)_(drop|increase) (-?[0-9.]+(?:e-?[0-9]+)?)(%?)")


def threshold_text(d: dict) -> str:
    """The rule as configured, with a relative form beside an absolute one ("max +5 %")."""
    text = clip_text(d.get("threshold", ""), 120)
    match = _RULE.search(str(d.get("threshold", "")))
    baseline = d.get("baseline")
    if not match or d["kind"] != "metric":
        return text
    level, way, amount, pct = match.groups()
    sign = "-" if way == "drop" else "+"
    if pct:
        return f"{level} {sign}{float(amount):g} %"
    if baseline:
        rel = float(amount) / abs(baseline) * 100
        return f"{level} {sign}{float(amount):g} ({sign}{rel:.3g} %)"
    return text


def _num(value: Any) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        return f"{value:.6g}"
    return escape(value)


def _environment(report: dict) -> list[str]:
    runner = report.get("runner") or {}
    written = (report.get("checkpoint") or {}).get("written_by") or {}
    if not runner:
        return []
    rows = ["| | release | this run |", "|---|---|---|"]
    for key in ("tensorflow", "keras", "python"):
        release, here = written.get(key) or "—", runner.get(key) or "—"
        rows.append(f"| {key} | {escape(release)} | {escape(here)} |")
    rows.append(f"| device | {escape(written.get('device', '—'))} "
                f"{escape(written.get('device_name', ''))} | "
                f"{escape(runner.get('device', ''))} {escape(runner.get('device_name', ''))} |")
    items = list((report.get("timings") or {}).items())
    timings = ", ".join(f"{clip_text(k, 40)} {v:.1f}s" for k, v in items[:16])
    return ["<details><summary>Environment and timings</summary>", "", *rows, "",
            *([f"Timings: {timings}", ""] if timings else []), "</details>", ""]
