"""One comment for several runners' reports (CPU, GPU, other TF versions): a column per runner.

A single report renders with `render.render()`; several merge here. Everything that
came from a report goes through `render.escape` / `render.code`. `fit()` keeps a
body under a size limit by dropping detail rows, and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from restore_gate.core.report import DriftEntry, Report, exit_code
from restore_gate.present.comment import next_steps, render
from restore_gate.present.diagnose import headline_sentences
from restore_gate.present.grouping import LayerGroup, group_by_layer
from restore_gate.present.layer_table import mismatch_section
from restore_gate.present.links import NO_LINKS, SourceLinks
from restore_gate.present.markdown import (
    COMMENT_BUDGET,
    DEFAULT_OVERRIDE_LABEL,
    ICONS,
    MARKER,
    clip_code,
    clip_text,
    code,
    cut,
    drift_mark,
    escape,
    fmt_spec,
    percent,
    size,
    threshold_text,
)
from restore_gate.present.view import as_report, report_data

COMMENT_LIMIT = 65_536  # GitHub's limit for an issue comment body (characters)
SUMMARY_LIMIT = 1024 * 1024  # a job summary is at most 1 MiB per step
ROW_LIMITS = (200, 100, 50, 20, 5, 0)


def worst(verdicts: list[str]) -> str:
    """error > fail > pass; no verdict at all is an error."""
    return max(verdicts, key=exit_code, default="error")


def runner_names(reports: Sequence[Report | Mapping[str, Any]]) -> list[str]:
    """A short, unique column title per report: device and TensorFlow version, or its name."""
    names: list[str] = []
    for index, report in enumerate(reports, 1):
        runner = as_report(report).runner
        parts = [runner.device or runner.name or f"runner {index}"]
        if runner.tensorflow:
            parts.append(f"TF {runner.tensorflow}")
        name = " · ".join(str(p) for p in parts)
        names.append(f"{name} ({index})" if name in names else name)
    return names


def comment_body(reports: Sequence[Report | Mapping[str, Any]], rows: int = 200, override: str = "",
                 parity: list[dict] | None = None, links: SourceLinks = NO_LINKS,
                 budget: int | None = COMMENT_BUDGET,
                 label: str = DEFAULT_OVERRIDE_LABEL) -> str:
    """The Markdown for one report or a merged table for several, with the override notice;
    under `budget` characters (None: the job summary, every layer)."""
    reports = [as_report(r) for r in reports]
    room = None if budget is None else budget - (size(override) + 40 if override else 0)
    if len(reports) == 1:
        body = render(reports[0], details_limit=rows, links=links, budget=room, label=label)
    else:
        body = merged(reports, rows, parity or [], links, room, label)
    if override:
        head, _, rest = body.partition("\n\n")
        body = f"{head}\n\n> [!IMPORTANT]\n> {override}\n\n{rest}"
    return body


def summary_body(reports: Sequence[Report | Mapping[str, Any]], override: str = "",
                 parity: list[dict] | None = None, links: SourceLinks = NO_LINKS) -> str:
    """The job summary: every layer and value, trimmed only to GitHub's 1 MiB, no marker."""
    body, _ = fit(lambda rows: comment_body(reports, rows, override, parity, links, None),
                  mismatch_rows(reports), SUMMARY_LIMIT - 1024, utf8_bytes,
                  "the report artifact", most=10_000)
    return body.replace(MARKER + "\n", "", 1)


def mismatch_rows(reports: Sequence[Report | Mapping[str, Any]]) -> int:
    """How many layer rows the mismatch table has (what `fit` trims)."""
    return len(group_by_layer(_merged_mismatches([report_data(r) for r in reports])))


def fit(make: Callable[[int], str], total_rows: int, limit: int, measure: Callable[[str], int],
        where: str = "the job summary and the report artifact", most: int = ROW_LIMITS[0]
        ) -> tuple[str, bool]:
    """The body with as many detail rows (at most `most`) as fit under `limit`; True when
    something was cut."""
    for rows in sorted({min(most, total_rows), *(r for r in ROW_LIMITS if r < most)},
                       reverse=True):
        body = make(rows)
        note = ""
        if rows < total_rows:
            note = (f"\n> [!NOTE]\n> Trimmed to fit GitHub's size limit: {min(rows, total_rows)} "
                    f"of {total_rows} mismatch rows shown. The full report is in {where}.\n")
        if measure(body + note) <= limit:
            return body + note, bool(note)
    note = (f"\n\n> [!NOTE]\n> Cut short to fit GitHub's size limit. The full report is in "
            f"{where}.\n")
    room = limit - measure(note) - 20
    body = make(0)[:room]
    while measure(body) > room:
        body = body[: len(body) * 9 // 10]
    body = body[: max(body.rfind("\n"), 0)]
    if body.count("<details>") > body.count("</details>"):
        body += "\n\n</details>"
    return body + note, True


def utf16_units(text: str) -> int:
    """Length as GitHub may count it (UTF-16 code units): never less than `len()`."""
    return len(text.encode("utf-16-le")) // 2


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


# the merged comment -----------------------------------------------------------------------
def parity_verdict(parity: list[dict]) -> str:
    failed = any(not d["ok"] and d.get("level", "fail") == "fail" for d in parity)
    return "fail" if failed else "pass"


def merged(reports: Sequence[Report | Mapping[str, Any]], rows: int, parity: list[dict] = (),
           links: SourceLinks = NO_LINKS, budget: int | None = COMMENT_BUDGET,
           label: str = DEFAULT_OVERRIDE_LABEL) -> str:
    typed = [as_report(r) for r in reports]
    names = runner_names(typed)
    verdict = worst([r.verdict for r in typed] + [parity_verdict(list(parity))])
    each = ", ".join(f"{escape(n)}: {r.verdict}" for n, r in zip(names, typed, strict=True))
    head = [MARKER, f"## {ICONS[verdict]} restore-gate: **{verdict}** across "
            f"{len(typed)} runners ({each})", ""]
    head += _diagnosis(typed, links)
    head += _runner_table(typed, names)
    most = None if budget is None else 5
    head += _notices(typed, names, most)
    head += _errors(typed, names, most)
    after = _drift_table(typed, names, most and 4 * most) + _parity_table(list(parity))
    if verdict != "pass":  # a parity failure alone is a fail too
        after += next_steps([*typed, Report(verdict=verdict)], label, links)
    room = None if budget is None else budget - size("\n".join(head + after)) - 300
    data = [report_data(r) for r in typed]  # the mismatch table still reads the JSON values
    table = _mismatch_table(data, names, rows, links, room)
    body = "\n".join(head + table + after).rstrip() + "\n"
    return body if budget is None or size(body) <= budget else cut(body, budget)


def _diagnosis(reports: list[Report], links: SourceLinks) -> list[str]:
    """The headline diagnosis of the first runner that is not a pass (once, if all agree)."""
    sentences = list(dict.fromkeys(headline_sentences(r, links) for r in reports
                                   if r.verdict != "pass"))
    sentences = [s for s in sentences if s]
    if not sentences:
        return []
    scope = "" if len(sentences) == 1 else " (first runner; the others differ)"
    return [f"**What happened{scope}:** {sentences[0]}", ""]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _runner_table(reports: list[Report], names: list[str]) -> list[str]:
    def cells(get: Callable[[Report], Any]) -> list[str]:
        return [escape(get(r)) if get(r) not in (None, "") else "—" for r in reports]

    rows = [
        ("verdict", [f"{ICONS[r.verdict]} {r.verdict}" for r in reports]),
        ("device", cells(lambda r: " ".join(filter(None, (r.runner.device,
                                                            r.runner.device_name))))),
        ("TensorFlow", cells(lambda r: r.runner.tensorflow)),
        ("Keras", cells(lambda r: r.runner.keras)),
        ("Python", cells(lambda r: r.runner.python)),
        ("checkpoint", [code(r.checkpoint.source) if r.checkpoint.source else "—"
                        for r in reports]),
        ("written by", cells(lambda r: ", ".join(f"{k} {v}" for k, v in sorted(
            (r.checkpoint.written_by or {}).items()) if v))),
        ("blocking mismatches", [str(sum(not m.allowed for m in r.mismatches))
                                 for r in reports]),
        ("drift over threshold", [str(sum(not d.ok and d.level == "fail" for d in r.drift))
                                  for r in reports]),
        ("optimizer", cells(lambda r: r.optimizer.status if r.optimizer else None)),
        ("time", [f"{sum(r.timings.values()):.1f}s" for r in reports]),
    ]
    lines = [_row(["", *(escape(n) for n in names)]), _row(["---"] * (len(names) + 1))]
    lines += [_row([label, *values]) for label, values in rows]
    return [*lines, ""]


def _notices(reports: list[Report], names: list[str], most: int | None = None) -> list[str]:
    seen: dict[str, list[str]] = {}
    for name, report in zip(names, reports, strict=True):
        for notice in report.notices:
            seen.setdefault(notice, []).append(name)
    lines = []
    items = list(seen.items())
    for notice, who in items if most is None else items[:most]:
        scope = "" if len(who) == len(reports) else f"({escape(', '.join(who))}) "
        text = escape(notice) if most is None else clip_text(notice, 600)
        lines.append(f"> [!NOTE]\n> {scope}{text}\n")
    if most is not None and len(items) > most:
        lines.append(f"> [!NOTE]\n> … and {len(items) - most} more notices: see the reports.\n")
    return lines


def _errors(reports: list[Report], names: list[str], most: int | None = None) -> list[str]:
    found = [(name, error) for name, report in zip(names, reports, strict=True)
             for error in report.errors]
    text = escape if most is None else (lambda v: clip_text(v, 600))
    lines = []
    for name, error in found if most is None else found[:most]:
        lines.append(f"- **{escape(name)}**, {escape(error.stage)}: {text(error.message)}")
        if error.hint:
            lines.append(f"  - how to fix: {text(error.hint)}")
    if most is not None and len(found) > most:
        lines.append(f"- … and {len(found) - most} more errors: see the reports")
    return ["### Errors", "", *lines, ""] if lines else []


def _merged_mismatches(reports: list[dict]) -> list[dict]:
    """Each mismatch once across runners, with `_runners`: report index -> allowed."""
    rows: dict[tuple, dict[str, Any]] = {}
    for index, report in enumerate(reports):
        for m in report.get("mismatches") or []:
            key = (m["kind"], m["name"], m.get("checkpoint_name"),
                   fmt_spec(m.get("checkpoint")), fmt_spec(m.get("model")))
            rows.setdefault(key, {**m, "_runners": {}})["_runners"][index] = m.get("allowed")
    for row in rows.values():
        row["allowed"] = all(row["_runners"].values())
    return list(rows.values())


def _mismatch_table(reports: list[dict], names: list[str], limit: int,
                    links: SourceLinks = NO_LINKS, room: int | None = None) -> list[str]:
    def marks(group: LayerGroup) -> list[str]:
        cells = []
        for i in range(len(reports)):
            seen = [m["_runners"][i] for m in group.items if i in m["_runners"]]
            cells.append("—" if not seen else "➖ allowed" if all(seen) else "❌")
        return cells

    return mismatch_section(_merged_mismatches(reports), links, limit, room,
                            names, marks)


def _drift_table(reports: list[Report], names: list[str], most: int | None = None) -> list[str]:
    rows: dict[tuple, dict[str, Any]] = {}
    for index, report in enumerate(reports):
        for d in report.drift:
            rows.setdefault((d.kind, d.name), {"d": d, "runners": {}})["runners"][index] = d
    if not rows:
        return []
    lines = ["### Behaviour against the release", "",
             _row(["check", "threshold", *(escape(n) for n in names)]),
             _row(["---"] * (2 + len(names)))]
    ordered = sorted(rows.items(), key=lambda item: all(d.ok for d in
                                                         item[1]["runners"].values()))
    for (kind, name), row in ordered if most is None else ordered[:most]:
        cells = [_drift_cell(row["runners"].get(i)) for i in range(len(reports))]
        shown = code(name) if most is None else clip_code(name, 120)
        lines.append(_row([f"{escape(kind)}: {shown}", threshold_text(row["d"]), *cells]))
    if most is not None and len(ordered) > most:
        lines.append(f"\n… and {len(ordered) - most} more checks: see the reports.")
    return [*lines, ""]


def _parity_table(parity: list[dict]) -> list[str]:
    if not parity:
        return []
    lines = ["### CPU vs GPU", "", _row(["", "check", "CPU", "GPU", "difference", "threshold"]),
             _row(["---"] * 6)]
    for d in parity:
        mark = "✅" if d["ok"] else ("⚠️" if d.get("level") == "warn" else "❌")
        values = [_num(d.get(k)) if d.get(k) is not None else "—"
                  for k in ("baseline", "value", "delta")]
        lines.append(_row([mark, code(d["name"]), *values, escape(d.get("threshold", ""))]))
    return [*lines, ""]


def _drift_cell(d: DriftEntry | None) -> str:
    if d is None:
        return "—"
    mark = drift_mark(d)
    if d.value is None:
        return f"{mark} not measured"
    text = f"{mark} {_num(d.value)}"
    rel = percent(d.baseline, d.value) if d.kind == "metric" else ""
    if d.delta is None:
        return text
    return text + f" (Δ {d.delta:+.4g}{', ' + rel if rel else ''})"


def _num(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else escape(value)
