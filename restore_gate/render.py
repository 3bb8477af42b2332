"""Render a report (the validated JSON value) as the pull request comment, in Markdown.

Everything that came from a report is untrusted: `escape()` neutralises HTML,
links, images, @mentions, table pipes and code fences before it lands in Markdown.
No TensorFlow here.
"""

from __future__ import annotations

import re
from typing import Any

MARKER = "<!-- restore-gate:comment -->"
ICONS = {"pass": "✅", "fail": "❌", "error": "⚠️"}
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


def escape(value: Any) -> str:
    """Make a report string inert in GitHub Markdown wherever it lands (a line's start
    included): no HTML or entities, links, autolinks, images, mentions, references,
    headings, lists, rules, quotes or code fences."""
    text = " ".join(str(value).split())
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
    """Inline code for a name; backticks inside are replaced so the span cannot break."""
    text = " ".join(str(value).split()).replace("`", "'")
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
    return f"## {ICONS[verdict]} restore-gate: **{verdict}** — {detail}"


def render(report: dict, details_limit: int = 200) -> str:
    """The whole comment for one runner's report."""
    lines = [MARKER, headline(report), ""]
    lines += _intro(report)
    lines += _notices(report)
    lines += _errors(report)
    lines += _mismatch_table(report, details_limit)
    lines += _optimizer(report)
    lines += _drift_table(report)
    lines += _environment(report)
    return "\n".join(lines).rstrip() + "\n"


def _intro(report: dict) -> list[str]:
    ckpt = report.get("checkpoint") or {}
    model = report.get("model") or {}
    if not ckpt:
        return []
    text = (
        f"Release checkpoint {code(ckpt.get('source', '?'))} ({escape(ckpt.get('format', '?'))}, "
        f"{ckpt.get('variables', 0)} model values) restored into "
        f"{code(model.get('builder', 'the branch model'))}"
    )
    if "restored" in model:
        text += f": {model['restored']} of {model.get('variables', 0)} variables verified."
    return [text, ""]


def _notices(report: dict) -> list[str]:
    return [f"> [!NOTE]\n> {escape(n)}\n" for n in report.get("notices", [])]


def _errors(report: dict) -> list[str]:
    if not report.get("errors"):
        return []
    lines = ["### Errors", ""]
    for error in report["errors"]:
        lines.append(f"- **{escape(error['stage'])}**: {escape(error['message'])}")
        if error.get("hint"):
            lines.append(f"  - how to fix: {escape(error['hint'])}")
    return [*lines, ""]


def _mismatch_table(report: dict, limit: int) -> list[str]:
    mismatches = report.get("mismatches") or []
    if not mismatches:
        return []
    summary = report.get("summary", {})
    counts = ", ".join(
        f"{summary.get(k, 0)} {k}" for k in ("missing", "unexpected", "shape", "dtype", "rename")
        if summary.get(k)
    )
    lines = [f"### Mismatches ({counts})", ""]
    lines += ["| | kind | variable | layer | checkpoint | branch | defined at | how to fix |",
              "|---|---|---|---|---|---|---|---|"]
    ordered = sorted(mismatches, key=lambda m: (m.get("allowed", False), m["kind"], m["name"]))
    for m in ordered[:limit]:
        name = code(m["name"])
        if m.get("checkpoint_name") and m["checkpoint_name"] != m["name"]:
            name = f"{name} ← {code(m['checkpoint_name'])}"
        lines.append(
            f"| {'➖ allowed' if m.get('allowed') else '❌'} | {m['kind']} | {name} | "
            f"{code(m.get('layer', ''))} | {fmt_spec(m.get('checkpoint'))} | "
            f"{fmt_spec(m.get('model'))} | {code(m['source']) if m.get('source') else '—'} | "
            f"{escape(m.get('hint', ''))} |"
        )
    if len(ordered) > limit:
        lines.append(f"\n… and {len(ordered) - limit} more: see the full report artifact.")
    return [*lines, ""]


def _optimizer(report: dict) -> list[str]:
    state = report.get("optimizer")
    if not state or state["status"] in ("absent",):
        return []
    mark = "✅" if state["ok"] else "❌"
    text = (
        f"**Optimizer** {mark} {escape(state['status'])} (policy: {escape(state['policy'])}): "
        f"checkpoint {escape(state.get('checkpoint_type') or 'none')} "
        f"({state.get('checkpoint_values', 0)} values) → branch "
        f"{escape(state.get('model_type') or 'none')} ({state.get('model_values', 0)} values)"
    )
    if state.get("hint"):
        text += f". {escape(state['hint'])}"
    return [text, ""]


def _drift_table(report: dict) -> list[str]:
    drift = report.get("drift") or []
    if not drift:
        return []
    lines = ["### Behaviour against the release", "",
             "| | check | baseline | this branch | change | threshold |",
             "|---|---|---|---|---|---|"]
    for d in drift:
        mark = "✅" if d["ok"] else ("⚠️" if d.get("level") == "warn" else "❌")
        lines.append(
            f"| {mark} | {escape(d['kind'])}: {code(d['name'])} | {_num(d.get('baseline'))} | "
            f"{_num(d.get('value'))} | {_num(d.get('delta'))} | {escape(d.get('threshold', ''))} |"
        )
    return [*lines, ""]


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
    timings = ", ".join(f"{escape(k)} {v:.1f}s" for k, v in (report.get("timings") or {}).items())
    return ["<details><summary>Environment and timings</summary>", "", *rows, "",
            f"Timings: {timings}", "", "</details>", ""]
