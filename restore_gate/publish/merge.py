"""One comment for several runners' reports (CPU, GPU, other TF versions): a column per runner.

A single report renders with `render.render()`; several merge here. Everything that
came from a report goes through `render.escape` / `render.code`. `fit()` keeps a
body under a size limit by dropping detail rows, and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from restore_gate.render import ICONS, MARKER, code, escape, fmt_spec, render
from restore_gate.report import exit_code

COMMENT_LIMIT = 65_536  # GitHub's limit for an issue comment body (characters)
SUMMARY_LIMIT = 1024 * 1024  # a job summary is at most 1 MiB per step
ROW_LIMITS = (200, 100, 50, 20, 5, 0)


def worst(verdicts: list[str]) -> str:
    """error > fail > pass; no verdict at all is an error."""
    return max(verdicts, key=exit_code, default="error")


def runner_names(reports: list[dict]) -> list[str]:
    """A short, unique column title per report: device and TensorFlow version, or its name."""
    names: list[str] = []
    for index, report in enumerate(reports, 1):
        runner = report.get("runner") or {}
        parts = [runner.get("device") or runner.get("name") or f"runner {index}"]
        if runner.get("tensorflow"):
            parts.append(f"TF {runner['tensorflow']}")
        name = " · ".join(str(p) for p in parts)
        names.append(f"{name} ({index})" if name in names else name)
    return names


def comment_body(reports: list[dict], rows: int = 200, override: str = "",
                 parity: list[dict] | None = None) -> str:
    """The Markdown for one report or a merged table for several, with the override notice."""
    if len(reports) == 1:
        body = render(reports[0], details_limit=rows)
    else:
        body = merged(reports, rows, parity or [])
    if override:
        head, _, rest = body.partition("\n\n")
        body = f"{head}\n\n> [!IMPORTANT]\n> {override}\n\n{rest}"
    return body


def mismatch_rows(reports: list[dict]) -> int:
    return len(_merged_mismatches(reports))


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


def merged(reports: list[dict], rows: int, parity: list[dict] = ()) -> str:
    names = runner_names(reports)
    verdict = worst([r["verdict"] for r in reports] + [parity_verdict(list(parity))])
    each = ", ".join(f"{escape(n)}: {r['verdict']}" for n, r in zip(names, reports, strict=True))
    lines = [MARKER, f"## {ICONS[verdict]} restore-gate: **{verdict}** across "
             f"{len(reports)} runners ({each})", ""]
    lines += _runner_table(reports, names)
    lines += _notices(reports, names)
    lines += _errors(reports, names)
    lines += _mismatch_table(reports, names, rows)
    lines += _drift_table(reports, names)
    lines += _parity_table(list(parity))
    return "\n".join(lines).rstrip() + "\n"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _runner_table(reports: list[dict], names: list[str]) -> list[str]:
    def cells(get: Callable[[dict], Any]) -> list[str]:
        return [escape(get(r)) if get(r) not in (None, "") else "—" for r in reports]

    runner = lambda r: r.get("runner") or {}  # noqa: E731
    ckpt = lambda r: r.get("checkpoint") or {}  # noqa: E731
    rows = [
        ("verdict", [f"{ICONS[r['verdict']]} {r['verdict']}" for r in reports]),
        ("device", cells(lambda r: " ".join(filter(None, (runner(r).get("device"),
                                                            runner(r).get("device_name")))))),
        ("TensorFlow", cells(lambda r: runner(r).get("tensorflow"))),
        ("Keras", cells(lambda r: runner(r).get("keras"))),
        ("Python", cells(lambda r: runner(r).get("python"))),
        ("checkpoint", [code(ckpt(r)["source"]) if ckpt(r).get("source") else "—"
                        for r in reports]),
        ("written by", cells(lambda r: ", ".join(f"{k} {v}" for k, v in sorted(
            (ckpt(r).get("written_by") or {}).items()) if v))),
        ("blocking mismatches", [str(sum(not m.get("allowed") for m in r["mismatches"]))
                                 for r in reports]),
        ("drift over threshold", [str(sum(not d["ok"] and d.get("level", "fail") == "fail"
                                          for d in r["drift"])) for r in reports]),
        ("optimizer", cells(lambda r: (r.get("optimizer") or {}).get("status"))),
        ("time", [f"{sum((r.get('timings') or {}).values()):.1f}s" for r in reports]),
    ]
    lines = [_row(["", *(escape(n) for n in names)]), _row(["---"] * (len(names) + 1))]
    lines += [_row([label, *values]) for label, values in rows]
    return [*lines, ""]


def _notices(reports: list[dict], names: list[str]) -> list[str]:
    seen: dict[str, list[str]] = {}
    for name, report in zip(names, reports, strict=True):
        for notice in report.get("notices") or []:
            seen.setdefault(notice, []).append(name)
    lines = []
    for notice, who in seen.items():
        scope = "" if len(who) == len(reports) else f"({escape(', '.join(who))}) "
        lines.append(f"> [!NOTE]\n> {scope}{escape(notice)}\n")
    return lines


def _errors(reports: list[dict], names: list[str]) -> list[str]:
    lines = []
    for name, report in zip(names, reports, strict=True):
        for error in report.get("errors") or []:
            lines.append(f"- **{escape(name)}**, {escape(error['stage'])}: "
                         f"{escape(error['message'])}")
            if error.get("hint"):
                lines.append(f"  - how to fix: {escape(error['hint'])}")
    return ["### Errors", "", *lines, ""] if lines else []


def _merged_mismatches(reports: list[dict]) -> dict[tuple, dict[str, Any]]:
    rows: dict[tuple, dict[str, Any]] = {}
    for index, report in enumerate(reports):
        for m in report.get("mismatches") or []:
            key = (m["kind"], m["name"], m.get("checkpoint_name"),
                   fmt_spec(m.get("checkpoint")), fmt_spec(m.get("model")))
            rows.setdefault(key, {"m": m, "runners": {}})["runners"][index] = m.get("allowed")
    return rows


def _mismatch_table(reports: list[dict], names: list[str], limit: int) -> list[str]:
    rows = _merged_mismatches(reports)
    if not rows:
        return []
    ordered = sorted(rows.values(), key=lambda r: (all(r["runners"].values()), r["m"]["kind"],
                                                   r["m"]["name"]))
    lines = [f"### Mismatches ({len(rows)})", "",
             _row(["kind", "variable", "layer", "checkpoint", "branch", "defined at",
                   "how to fix", *(escape(n) for n in names)]),
             _row(["---"] * (7 + len(names)))]
    for row in ordered[:limit]:
        m = row["m"]
        name = code(m["name"])
        if m.get("checkpoint_name") and m["checkpoint_name"] != m["name"]:
            name = f"{name} ← {code(m['checkpoint_name'])}"
        marks = ["—" if i not in row["runners"] else "➖ allowed" if row["runners"][i] else "❌"
                 for i in range(len(reports))]
        lines.append(_row([escape(m["kind"]), name, code(m.get("layer", "")) or "—",
                           fmt_spec(m.get("checkpoint")), fmt_spec(m.get("model")),
                           code(m["source"]) if m.get("source") else "—",
                           escape(m.get("hint", "")), *marks]))
    if len(ordered) > limit:
        lines.append(f"\n… and {len(ordered) - limit} more: see the full report artifact.")
    return [*lines, ""]


def _drift_table(reports: list[dict], names: list[str]) -> list[str]:
    rows: dict[tuple, dict[str, Any]] = {}
    for index, report in enumerate(reports):
        for d in report.get("drift") or []:
            rows.setdefault((d["kind"], d["name"]), {"d": d, "runners": {}})["runners"][index] = d
    if not rows:
        return []
    lines = ["### Behaviour against the release", "",
             _row(["check", "threshold", *(escape(n) for n in names)]),
             _row(["---"] * (2 + len(names)))]
    for (kind, name), row in rows.items():
        cells = [_drift_cell(row["runners"].get(i)) for i in range(len(reports))]
        lines.append(_row([f"{escape(kind)}: {code(name)}",
                           escape(row["d"].get("threshold", "")), *cells]))
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


def _drift_cell(d: dict | None) -> str:
    if d is None:
        return "—"
    mark = "✅" if d["ok"] else ("⚠️" if d.get("level") == "warn" else "❌")
    if d.get("value") is None:
        return f"{mark} not measured"
    text = f"{mark} {_num(d['value'])}"
    return text + (f" (Δ {_num(d['delta'])})" if d.get("delta") is not None else "")


def _num(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else escape(value)
