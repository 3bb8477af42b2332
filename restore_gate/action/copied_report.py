"""The report a `check` child process copied back, as the action's token-holding process takes it.

The child runs the branch's code, so neither its exit status nor its files are evidence on their
own: the verdict is the one this module finds by loading the report (bounded, strict JSON, any
nesting depth an error: publish's loader), validating it against the report schema and judging
it (`report.judge`); the child's exit status must agree. The job summary is rendered here from
the verified report, or is a fixed line: never the child's markdown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from restore_gate.core.report import EXIT_CODES, exit_code
from restore_gate.errors import GateError
from restore_gate.github.context import source_links
from restore_gate.present.merge import summary_body
from restore_gate.publish import load_reports

ERROR = EXIT_CODES["error"]
UNVERIFIED = ("**restore-gate: error.** The check's report could not be verified, so nothing "
              "of it is shown here: see the step's log for the reason.\n")


def verify(path: Path, code: int | None) -> tuple[int, dict[str, Any] | None, str | None]:
    """(exit code, verified report, problem): the report at `path` agreeing with the child's
    exit status `code` (None: it ended without one), else (2, None, what went wrong)."""
    if code is None or not path.is_file():
        return ERROR, None, (
            "`restore-gate check` ended without writing its report: the branch's code stopped "
            "it (sys.exit, os._exit, a signal or a crash); this is an error, never a pass")
    try:
        report = load_reports([path])[0]
    except (GateError, RecursionError, OSError) as exc:
        reason = exc.message if isinstance(exc, GateError) else type(exc).__name__
        return ERROR, None, (
            f"the check's report cannot be trusted: {reason[:500]}; the verdict is error, never "
            "a pass (the branch's code may have replaced it)")
    judged = exit_code(report["verdict"])
    if judged != code:
        return ERROR, None, (
            f"`restore-gate check` exited {code}, but its report {path.name} judges "
            f"{report['verdict']} (exit {judged}): something in the branch's code changed the "
            "exit status (atexit, os._exit) or the report; the verdict is error")
    return code, report, None


def summary_text(report: dict[str, Any] | None) -> str:
    """The job summary of `check` mode: every layer of the verified report, else UNVERIFIED."""
    if report is None:
        return UNVERIFIED
    return summary_body([report], links=source_links()).rstrip("\n") + "\n"
