"""Where presentation takes a report in: a `Report`, or a validated report file's JSON values
(read once, by `Report.from_dict`: the one place "NaN"/"Infinity" become floats)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from restore_gate.core.report import Report


def as_report(report: Report | Mapping[str, Any]) -> Report:
    return report if isinstance(report, Report) else Report.from_dict(report)


def report_data(report: Report | Mapping[str, Any]) -> dict[str, Any]:
    """The report's JSON values with its measurements as numbers (the typed drift entries'),
    for the presentation code that still reads keys rather than `Report` attributes."""
    typed = as_report(report)
    data = typed.to_dict()
    data["drift"] = [asdict(d) for d in typed.drift]
    return data
