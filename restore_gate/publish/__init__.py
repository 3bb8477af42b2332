"""`restore-gate publish REPORT...`: merge runners' reports, post the sticky comment, write the
job summary, annotations and step outputs.

Reports are untrusted artifacts: each is validated before anything is rendered or sent,
and an invalid one is an error (exit 2) with nothing posted. The exit code follows the
worst verdict (a maintainer's override label turns a fail into a pass); a publishing
problem is a warning and never changes it. No TensorFlow is imported here.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restore_gate.core.report import exit_code, failing_drift, judge, validate_report
from restore_gate.errors import GateError
from restore_gate.github.actions import Actions
from restore_gate.github.context import Context
from restore_gate.judge.drift import device_parity as parity
from restore_gate.present.links import SourceLinks
from restore_gate.present.markdown import code
from restore_gate.present.merge import (
    COMMENT_LIMIT,
    comment_body,
    fit,
    mismatch_rows,
    parity_verdict,
    summary_body,
    utf16_units,
    worst,
)
from restore_gate.publish.annotations import annotations, mismatches_output
from restore_gate.publish.options import PublishOptions
from restore_gate.publish.remote import Remote
from restore_gate.settings.config import load_config
from restore_gate.settings.sections import PublishSettings

if TYPE_CHECKING:
    from restore_gate.github import GitHub

__all__ = ["PublishOptions", "publish", "publish_command"]

MAX_REPORT_BYTES = 64 * 1024 * 1024


@dataclass
class Outcome:
    verdict: str
    overridden: str = ""  # the notice shown when an override label turned a fail into a pass
    comment_url: str = ""
    warnings: list[str] = field(default_factory=list)


def load_reports(paths: list[Path]) -> list[dict[str, Any]]:
    """Read and validate every report; the first problem is a `GateError` (exit 2)."""
    reports = []
    for path in paths:
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_REPORT_BYTES + 1)
        except OSError as exc:
            raise GateError("publish", f"cannot read report {path}: {exc.strerror}",
                            "pass the JSON files written by `restore-gate check --report`"
                            ) from None
        if len(raw) > MAX_REPORT_BYTES:
            raise GateError("publish", f"report {path} is over {MAX_REPORT_BYTES} bytes",
                            "pass the JSON file written by `restore-gate check --report`")
        try:
            data = json.loads(raw, parse_constant=_not_json)
        except (ValueError, RecursionError) as exc:
            raise GateError("publish", f"report {path} is not JSON: {str(exc)[:200]}",
                            "pass the JSON file written by `restore-gate check --report`",
                            code="report-not-json") from None
        reports.append(rejudged(validate_report(data, str(path)), path))
    return reports


def _not_json(token: str) -> None:
    raise ValueError(f"a bare {token} is not a JSON value (restore-gate writes NaN/Inf as null)")


def rejudged(report: dict[str, Any], path: Path) -> dict[str, Any]:
    """The report, if its claimed verdict is the one its contents give (`report.judge`, the
    rule `check` decided with); a disagreement is a GateError naming the report."""
    actual, claimed = judge(report), report["verdict"]
    if actual != claimed:
        raise GateError(
            "publish",
            f"report {path} claims {claimed}, but its contents give {actual} "
            f"({_why(report, actual)}): it was altered or not written by `restore-gate check`",
            "publish the report `restore-gate check --report` wrote, unmodified",
            code="report-verdict-mismatch",
        )
    return report


def _why(report: dict[str, Any], verdict: str) -> str:
    if verdict == "error":
        return f"{len(report['errors'])} error(s)"
    if verdict == "pass":
        return "no error, no blocking mismatch, no failing drift, the optimizer is fine"
    blocking = sum(not m.get("allowed", False) for m in report["mismatches"])
    failing = sum(map(failing_drift, report["drift"]))
    optimizer = report.get("optimizer") or {}
    parts = [f"{blocking} blocking mismatch(es)" if blocking else "",
             f"{failing} failing drift entr{'y' if failing == 1 else 'ies'}" if failing else "",
             "the optimizer state is not ok" if optimizer and not optimizer.get("ok") else ""]
    return ", ".join(p for p in parts if p)


def publish_settings(config_path: Path | None) -> tuple[PublishSettings, Any]:
    """The config's `publish:` settings and its `thresholds.devices`; no config: defaults."""
    if config_path is None or not config_path.is_file():
        return PublishSettings(), None
    config = load_config(config_path)
    return config.publish, config.thresholds.get("devices")


def device_parity(reports: list[dict], devices: Any) -> tuple[list[dict], str]:
    """CPU-vs-GPU entries from the runners' golden outputs (`devices`: the tolerance in
    `thresholds.devices`); an error message if undecidable."""
    try:
        return [asdict(e) for e in parity(reports, devices)], ""
    except Exception as exc:  # malformed outputs in an (already validated) report: undecidable
        return [], f"CPU vs GPU parity could not be computed: {type(exc).__name__}: {exc}"


def publish_command(options: PublishOptions, github: GitHub) -> int:
    """`restore-gate publish`; `github` is the REST client built at the edge (cli.py)."""
    ctx = Context.from_env(options.pr, options.repo, options.event)
    actions = Actions.from_env()
    try:
        reports = load_reports(list(options.reports))
        settings, devices = publish_settings(options.config)
    except GateError:
        _outputs(actions, "error", list(options.reports), "", [])
        raise
    outcome = publish(reports, options, ctx, actions, github, settings, devices)
    print(f"restore-gate: verdict {outcome.verdict}"
          + (" (overridden by label)" if outcome.overridden else "")
          + (f"; comment {outcome.comment_url}" if outcome.comment_url else ""), file=sys.stderr)
    return exit_code(outcome.verdict)


def publish(reports: list[dict], options: PublishOptions, ctx: Context, actions: Actions,
            github: GitHub, settings: PublishSettings, devices: Any = None) -> Outcome:
    """Decide, render, post, annotate and write the files; returns the final verdict."""
    remote = Remote(ctx, actions, github, options.comment_author)
    parity, problem = device_parity(reports, devices)
    if problem:
        reports = [*reports[:-1], {**reports[-1], "verdict": "error", "errors": [
            *reports[-1]["errors"], {"stage": "evaluate", "message": problem, "hint": ""}]}]
    verdicts = [r["verdict"] for r in reports] + [parity_verdict(parity)]
    outcome = Outcome(worst(verdicts), warnings=remote.warnings)
    label = settings.override_label
    if outcome.verdict == "fail" and label in remote.labels():
        outcome.verdict = "pass"
        outcome.overridden = (f"The label {code(label)} is on this pull request, so this failure "
                              "does not block the merge. The next release must carry the break.")
    total = mismatch_rows(reports)
    links = SourceLinks.from_env(ctx.head_sha, ctx.repository,
                                 str(ctx.workspace) if ctx.workspace else None)

    def make(rows: int) -> str:
        return comment_body(reports, rows, outcome.overridden, parity, links, label=label)

    body, _ = fit(make, total, COMMENT_LIMIT - 512, utf16_units)
    if options.markdown:
        try:
            options.markdown.parent.mkdir(parents=True, exist_ok=True)
            options.markdown.write_text(body, encoding="utf-8")
        except OSError as exc:
            actions.warning(f"cannot write {options.markdown}: {exc.strerror}")
    if options.comment:
        outcome.comment_url = remote.comment(body)
    if actions.enabled:
        level = "warning" if outcome.overridden else "error"
        for line in annotations(reports, ctx.workspace, level):
            actions.emit(line)
    if options.check_run or settings.check_run:
        remote.check_run(body, reports, outcome.verdict, bool(outcome.overridden))
    if actions.summary:
        try:
            actions.add_summary(summary_body(reports, outcome.overridden, parity, links))
        except OSError as exc:
            actions.warning(f"cannot write the job summary: {exc}")
    _outputs(actions, outcome.verdict, list(options.reports), outcome.comment_url, reports)
    return outcome


def _outputs(actions: Actions, verdict: str, paths: list[Path], url: str,
             reports: list[dict]) -> None:
    if not actions.output:
        return
    values = {"verdict": verdict, "report": "\n".join(str(p) for p in paths),
              "comment-url": url, "mismatches": mismatches_output(reports)}
    try:
        actions.set_outputs(values)
    except OSError as exc:
        actions.warning(f"cannot write the step outputs: {exc}")
