"""Render a report (the validated JSON value) as the pull request comment, in Markdown.

Everything that came from a report is untrusted: `escape()` neutralises HTML,
links, images, @mentions, table pipes and code fences before it lands in Markdown.
No TensorFlow here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from restore_gate.core.report import DriftEntry, Report
from restore_gate.present.diagnose import divergence_text, headline_sentences
from restore_gate.present.layer_table import mismatch_section
from restore_gate.present.links import NO_LINKS, SourceLinks
from restore_gate.present.markdown import (
    COMMENT_BUDGET,
    DEFAULT_OVERRIDE_LABEL,
    DRIFT_SHOWN,
    ERRORS_SHOWN,
    ICONS,
    MARKER,
    NOTICES_SHOWN,
    clip_code,
    clip_text,
    code,
    cut,
    drift_mark,
    escape,
    percent,
    size,
    source_cell,
    threshold_text,
    unmeasured,
)
from restore_gate.present.view import as_report, report_data


def headline(report: Report | Mapping[str, Any]) -> str:
    report = as_report(report)
    verdict = report.verdict
    blocking = report.summary().get("blocking", 0)
    failed_drift = sum(1 for d in report.drift if not d.ok and d.level != "warn")
    if verdict == "error":
        detail = "the gate could not decide"
    elif verdict == "fail":
        parts = []
        if blocking:
            parts.append(f"{blocking} blocking mismatch{'es' if blocking != 1 else ''}")
        if failed_drift:
            plural = "s" if failed_drift != 1 else ""
            parts.append(f"{failed_drift} drift check{plural} over threshold")
        if report.optimizer is not None and not report.optimizer.ok:
            parts.append("optimizer state does not restore")
        detail = ", ".join(parts) or "compatibility broken"
    else:
        detail = "the release checkpoint restores into this branch"
        if not any(d.kind != "device" and not unmeasured(d) for d in report.drift):
            detail += " (structure only: drift not measured)"
    return f"## {ICONS[verdict]} restore-gate: **{verdict}** — {detail}"


# the comment --------------------------------------------------------------------------------
def render(report: Report | Mapping[str, Any], details_limit: int | None = None, *,
           links: SourceLinks = NO_LINKS, budget: int | None = COMMENT_BUDGET,
           label: str = DEFAULT_OVERRIDE_LABEL) -> str:
    """The whole comment for one runner's report; under `budget` characters unless None
    (the job summary: every layer)."""
    typed = as_report(report)
    head = [MARKER, headline(typed), "", *_diagnosis(typed, links)]
    for level in (1, 2, 4, 8) if budget is not None else (0,):  # 0: nothing left out
        before = [*_intro(typed), *_notices(typed, level), *_errors(typed, level)]
        after = [*_optimizer(typed), *_drift_table(typed, level, links),
                 *next_steps([typed], label, links), *_environment(typed)]
        fixed = size("\n".join(head + before + after))
        if budget is None or fixed <= budget * 0.6:
            break
    room = None if budget is None else budget - fixed - 300
    table = mismatch_section(report_data(typed)["mismatches"], links, details_limit, room)
    body = "\n".join(head + before + table + after).rstrip() + "\n"
    return body if budget is None or size(body) <= budget else cut(body, budget)


def next_steps(reports: list[Report], label: str, links: SourceLinks = NO_LINKS) -> list[str]:
    """What a reviewer does next: on a fail, intended or not; on an error, fix and re-run;
    with the command that reproduces the check locally."""
    verdicts = {r.verdict for r in reports}
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


def _fix_hint(reports: list[Report], links: SourceLinks) -> str:
    blocking = any(r.summary().get("blocking") for r in reports)
    found = next((d for r in reports if (d := r.extra.divergence)), None)
    drifted = any(not d.ok and d.level != "warn" for r in reports for d in r.drift)
    parts = []
    if blocking:
        parts.append("undo the change named under **What happened**; **How to fix** lists "
                     "each value")
    if drifted and found:
        where = f" ({source_cell(found.source, links)})" if found.source else ""
        parts.append(f"the outputs first diverge after {clip_code(_or(found.layer, '?'), 80)}"
                     f"{where}: look at what this pull request changed "
                     "there (activation, custom layer code, preprocessing, vocabulary)")
    elif drifted:
        parts.append("behaviour changed while the weights restore: look for a changed "
                     "activation, custom layer code, preprocessing or vocabulary")
    if not parts:
        parts.append("undo the change named under **What happened**")
    return "; ".join(parts)[:1].upper() + "; ".join(parts)[1:] + "."


def _release_path(reports: list[Report]) -> str:
    source = next((str(r.checkpoint.source or "") for r in reports), "")
    if source.endswith(".tar.gz") and "://" not in source:
        return source
    return "release/model.tar.gz"


def _plain(text: str) -> str:
    """A path or ref safe inside a one-backtick code span (anything else is replaced)."""
    return re.sub(r"[^A-Za-z0-9._/@:+=-]", "_", text)[:200]


def _reproduce(reports: list[Report]) -> str:
    base = next((r.extra.base.ref if r.extra.base is not None else None for r in reports), None)
    return "restore-gate check" + (f" --base {_plain(str(base))}" if base else "")


def _diagnosis(report: Report, links: SourceLinks) -> list[str]:
    text = headline_sentences(report, links)
    return [f"**What happened:** {text}", ""] if text else []


def _intro(report: Report) -> list[str]:
    ckpt, model = report.checkpoint, report.model
    if not ckpt:  # no block held: the check stopped before inspecting the release
        return []
    builder = "the branch model" if model.builder is None else model.builder
    text = (
        f"Release checkpoint {clip_code(_or(ckpt.source, '?'), 300)} "
        f"({clip_text(_or(ckpt.format, '?'), 60)}, {_or(ckpt.variables, 0)} model values) "
        f"restored into {clip_code(builder, 200)}"
    )
    if model.restored is not None:
        text += f": {model.restored} of {_or(model.variables, 0)} variables verified."
    return [text, ""]


def _or(value: Any, default: Any) -> Any:
    """A block's field, or `default` when the report did not hold it (the schema allows no
    null for these fields)."""
    return default if value is None else value


def _shown(items: list, most: int, level: int) -> list:
    """The first `most` items at level 1, fewer at higher levels, all at level 0."""
    return items if not level else items[: max(most // level, 1)]


def _notices(report: Report, level: int = 1) -> list[str]:
    notices = list(dict.fromkeys(report.notices))
    shown = _shown(notices, NOTICES_SHOWN, level)
    lines = [f"> [!NOTE]\n> {clip_text(n, 600 // level) if level else escape(n)}\n"
             for n in shown]
    if len(notices) > len(shown):
        lines.append(f"> [!NOTE]\n> … and {len(notices) - len(shown)} more notices: see the "
                     "JSON report.\n")
    return lines


def _errors(report: Report, level: int = 1) -> list[str]:
    errors = report.errors
    if not errors:
        return []
    lines = ["### Errors", ""]
    shown = _shown(errors, ERRORS_SHOWN, level)
    text = (lambda v, n: clip_text(v, n // level)) if level else (lambda v, n: escape(v))
    for error in shown:
        lines.append(f"- **{escape(error.stage)}**: {text(error.message, 1000)}")
        if error.hint:
            lines.append(f"  - how to fix: {text(error.hint, 500)}")
    if len(errors) > len(shown):
        lines.append(f"- … and {len(errors) - len(shown)} more errors: see the JSON report")
    return [*lines, ""]


# optimizer, behaviour, environment ----------------------------------------------------------
def _optimizer(report: Report) -> list[str]:
    state = report.optimizer
    if state is None or state.status in ("absent",):
        return []
    # ✅ restored, ❌ blocks the merge, ➖ changed but the policy lets it pass
    mark = "❌" if not state.ok else "✅" if state.status == "restored" else "➖"
    text = (
        f"**Optimizer** {mark} {escape(state.status)} (policy: {escape(state.policy)}"
        f"{'' if mark != '➖' else ', does not block'}): "
        f"checkpoint {clip_text(state.checkpoint_type or 'none', 100)} "
        f"({state.checkpoint_values} values) → branch "
        f"{clip_text(state.model_type or 'none', 100)} "
        f"({state.model_values} values)"
    )
    if state.hint:
        text += f". {clip_text(state.hint, 500)}"
    return [text, ""]


def _drift_table(report: Report, level: int = 1, links: SourceLinks = NO_LINKS) -> list[str]:
    drift = report.drift
    if not drift:
        return []
    ordered = sorted(drift, key=lambda d: d.ok)  # stable: failures first, else report order
    shown = _shown(ordered, DRIFT_SHOWN, level)
    lines = ["### Behaviour against the release", "",
             "| | check | release → branch | change | threshold |",
             "|---|---|---|---|---|"]
    for d in shown:
        mark = drift_mark(d)
        note = f" ({clip_text(d.note, 200)})" if d.note else ""
        lines.append(
            f"| {mark} | {clip_text(d.kind, 10)}: {clip_code(d.name, 120)}{note} | "
            f"{_num(d.baseline)} → {_num(d.value)} | {_change(d)} | "
            f"{threshold_text(d)} |")
    if len(drift) > len(shown):
        lines.append(f"\n… and {len(drift) - len(shown)} more checks: see the JSON report.")
    return [*lines, "", *_divergence(report, links)]


def _divergence(report: Report, links: SourceLinks) -> list[str]:
    """The first diverging layer (trace.py), under the drift table."""
    found = report.extra.divergence
    if not found:  # none, or an empty block
        return []
    limit = found.limit
    tolerance = (f" (tolerance {limit:.3g}: {clip_text(_or(found.threshold, ''), 80)} of the "
                 "release's largest value)" if isinstance(limit, (int, float)) else "")
    before = _or(found.compared, 1) - 1
    match = (f"the {before} layer{'s' if before != 1 else ''} before it match the release"
             if before > 0 else "it is the first layer traced")
    return [f"**{divergence_text(found, links)}**{tolerance}; {match}.", ""]


def _change(d: DriftEntry) -> str:
    if d.delta is None:
        return "—"
    rel = percent(d.baseline, d.value) if d.kind == "metric" else ""
    return f"{d.delta:+.4g}" + (f", {rel}" if rel else "")


def _num(value: Any) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        return f"{value:.6g}"
    return escape(value)


def _environment(report: Report) -> list[str]:
    runner = report.runner
    written = report.checkpoint.written_by or {}
    if not runner:  # no block held: the check stopped before building the model
        return []
    rows = ["| | release | this run |", "|---|---|---|"]
    versions = {"tensorflow": runner.tensorflow, "keras": runner.keras, "python": runner.python}
    for key, here in versions.items():
        rows.append(f"| {key} | {escape(written.get(key) or '—')} | {escape(here or '—')} |")
    rows.append(f"| device | {escape(written.get('device', '—'))} "
                f"{escape(written.get('device_name', ''))} | "
                f"{escape(_or(runner.device, ''))} {escape(_or(runner.device_name, ''))} |")
    items = list(report.timings.items())
    timings = ", ".join(f"{clip_text(k, 40)} {v:.1f}s" for k, v in items[:16])
    return ["<details><summary>Environment and timings</summary>", "", *rows, "",
            *([f"Timings: {timings}", ""] if timings else []), "</details>", ""]
