"""Blocking mismatches as workflow annotations on the lines that define their layers, and as
the `mismatches` step output. Report text is untrusted: `command()` encodes it."""

from __future__ import annotations

import contextlib
from pathlib import Path, PurePosixPath

from restore_gate.github.actions import bounded_lines, command
from restore_gate.present.markdown import fmt_spec, visible

MAX_ANNOTATIONS = 10  # GitHub shows at most 10 error annotations per step


def describe(m: dict) -> str:
    """One line for a mismatch: kind, name, checkpoint vs branch (plain text)."""
    text = f"{m['kind']} {_short(m['name'], 300)}"
    if m.get("checkpoint") or m.get("model"):
        plain = lambda spec: fmt_spec(spec).replace("\\", "")  # noqa: E731
        text += f": checkpoint {plain(m.get('checkpoint'))}, branch {plain(m.get('model'))}"
    return text


def blocking(reports: list[dict]) -> list[dict]:
    """Blocking mismatches across reports, each once."""
    seen: dict[tuple, dict] = {}
    for report in reports:
        for m in report.get("mismatches") or []:
            if not m.get("allowed"):
                seen.setdefault((m["kind"], m["name"]), m)
    return list(seen.values())


def mismatches_output(reports: list[dict]) -> str:
    """The `mismatches` step output: one line per blocking mismatch, bounded."""
    return bounded_lines([describe(m) for m in blocking(reports)])


def located(reports: list[dict], workspace: Path | None) -> list[tuple[tuple[str, int], dict]]:
    """((file, line), mismatch) for blocking mismatches whose layer's source line is known."""
    found = []
    for m in blocking(reports):
        where = _location(m.get("source"), workspace)
        if where:
            found.append((where, m))
    return found


def annotations(reports: list[dict], workspace: Path | None, level: str = "error",
                limit: int = MAX_ANNOTATIONS) -> list[str]:
    """Annotations on the lines that define the offending layers; past `limit`, one summary."""
    spots = located(reports, workspace)
    drift = divergence_annotations(reports, workspace, level)[: limit - 1]  # where drift starts
    limit -= len(drift)
    shown = spots if len(spots) <= limit else spots[: limit - 1]
    lines = [*drift, *(command(level, f"restore-gate: {describe(m)}. {m.get('hint', '')}".strip(),
                               file=file, line=line, title=f"restore-gate: {m['kind']} mismatch")
                       for (file, line), m in shown)]
    if len(spots) > len(shown):
        rest = spots[len(shown):]
        names = ", ".join(_short(m["name"]) for _, m in rest[:20])
        (file, line), _ = rest[0]
        lines.append(command(level, f"restore-gate: {len(rest)} more mismatches ({names}"
                             f"{', …' if len(rest) > 20 else ''}): see the job summary",
                             file=file, line=line, title="restore-gate: more mismatches"))
    return lines


def divergence_annotations(reports: list[dict], workspace: Path | None,
                           level: str = "error") -> list[str]:
    """One annotation on the line of the first layer whose output drifts (each once)."""
    lines: dict[tuple[str, int], str] = {}
    for report in reports:
        found = (report.get("extra") or {}).get("divergence") or {}
        where = _location(found.get("source"), workspace)
        if where and where not in lines:
            error = found.get("error")
            amount = f"max abs error {error:.3g}" if isinstance(error, (int, float)) else "NaN"
            lines[where] = command(
                level, f"restore-gate: outputs first diverge after "
                       f"{_short(found.get('layer', '?'))}: {amount}",
                file=where[0], line=where[1], title="restore-gate: drift starts here")
    return list(lines.values())


def _short(name: object, width: int = 60) -> str:
    text = visible(" ".join(str(name).split()))
    return text if len(text) <= width else text[: width - 1] + "…"


def _location(source: object, workspace: Path | None) -> tuple[str, int] | None:
    if not isinstance(source, str) or ":" not in source:
        return None
    file, _, line = source.rpartition(":")
    if not line.isdigit() or not file:
        return None
    path = PurePosixPath(file)
    if path.is_absolute() and workspace is not None:
        with contextlib.suppress(ValueError):
            path = path.relative_to(PurePosixPath(workspace.as_posix()))
    return path.as_posix(), int(line)
