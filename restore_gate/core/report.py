"""The report: the one value every stage adds to, and the JSON file a runner writes.

`check` fills it stage by stage; `render` and `publish` read it back (validated
against `schemas/report.schema.json`, since a report is an untrusted artifact).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from restore_gate import __version__
from restore_gate.errors import GateError
from restore_gate.schemas import load_schema

SCHEMA_VERSION = 1
MISMATCH_KINDS = ("missing", "unexpected", "shape", "dtype", "rename")
VERDICTS = ("pass", "fail", "error")
NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}  # how the report spells them
EXIT_CODES = {"pass": 0, "fail": 1, "error": 2}  # the one verdict -> exit code map


def exit_code(verdict: str) -> int:
    """The exit code of a verdict; anything but pass/fail is an error (2)."""
    return EXIT_CODES.get(verdict, EXIT_CODES["error"])


def judge(report: dict[str, Any]) -> str:
    """The verdict a report's contents give: error beats fail beats pass.

    `Report.decide()` and `publish` (on each validated, untrusted report) both use it.
    """
    if report.get("errors"):
        return "error"
    optimizer = report.get("optimizer")
    if (
        any(not m.get("allowed", False) for m in report.get("mismatches") or [])
        or any(failing_drift(d) for d in report.get("drift") or [])
        or (isinstance(optimizer, dict) and not optimizer.get("ok", False))
    ):
        return "fail"
    return "pass"


def failing_drift(entry: dict[str, Any]) -> bool:
    """A drift entry that fails: not ok at fail level, or holding a NaN/Inf measurement (as a
    float in memory, as its string spelling in a report file), which never passes."""
    if not entry.get("ok") and entry.get("level", "fail") == "fail":
        return True
    return any(_not_finite(entry.get(key)) for key in ("baseline", "value", "delta"))


def _not_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    return isinstance(value, str) and value in NON_FINITE.values()


@dataclass
class TensorSpec:
    shape: list[int] | None
    dtype: str


@dataclass
class Mismatch:
    """One variable that does not restore as it should."""

    kind: str
    name: str
    layer: str
    key: str = ""
    checkpoint: TensorSpec | None = None
    model: TensorSpec | None = None
    allowed: bool = False
    hint: str = ""
    source: str | None = None
    checkpoint_name: str | None = None

    @property
    def blocking(self) -> bool:
        return not self.allowed


@dataclass
class DriftEntry:
    """One behaviour measurement against its baseline and threshold."""

    kind: str  # metric | output | device
    name: str
    baseline: float | None
    value: float | None
    delta: float | None
    threshold: str
    ok: bool
    level: str = "fail"  # fail | warn | info
    note: str = ""


@dataclass
class OptimizerState:
    """What the checkpoint holds of the optimizer and what became of it."""

    status: str  # restored | lost | changed | absent | new | ignored
    policy: str
    checkpoint_type: str | None = None
    checkpoint_values: int = 0
    model_type: str | None = None
    model_values: int = 0
    restored_values: int = 0
    ok: bool = True
    hint: str = ""


@dataclass
class Report:
    verdict: str = "error"
    runner: dict[str, Any] = field(default_factory=dict)
    checkpoint: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    optimizer: OptimizerState | None = None
    mismatches: list[Mismatch] = field(default_factory=list)
    drift: list[DriftEntry] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def add_error(self, error: GateError) -> None:
        self.errors.append(error.as_dict())

    def decide(self) -> str:
        """Set and return the verdict (`judge` of the contents)."""
        self.verdict = judge(asdict(self))
        return self.verdict

    def summary(self) -> dict[str, int]:
        counts = {kind: 0 for kind in MISMATCH_KINDS}
        for m in self.mismatches:
            counts[m.kind] += 1
        counts["blocking"] = sum(m.blocking for m in self.mismatches)
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The report as strict JSON values: a NaN/Inf measurement becomes the string "NaN",
        "Infinity" or "-Infinity" (JSON has no such numbers; the schema allows these three)."""
        data = _strict(asdict(self))
        data["schema_version"] = SCHEMA_VERSION
        data["tool"] = {"name": "restore-gate", "version": __version__}
        data["summary"] = self.summary()
        return data

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        path.write_text(text + "\n", encoding="utf-8")


def _strict(value: Any) -> Any:
    """`value` with every non-finite float spelt as a string ("NaN", "Infinity", "-Infinity")."""
    if isinstance(value, float):
        return value if math.isfinite(value) else NON_FINITE[str(value)]
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def with_numbers(report: dict[str, Any]) -> dict[str, Any]:
    """A report dict whose drift measurements are numbers again (the strings "NaN",
    "Infinity", "-Infinity" as floats), for the code that formats or compares them."""
    def number(value: Any) -> Any:
        return float(value) if value in NON_FINITE.values() else value

    drift = [{**d, **{k: number(d.get(k)) for k in ("baseline", "value", "delta") if k in d}}
             for d in report.get("drift") or []]
    return {**report, "drift": drift}


@cache
def _report_validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(load_schema("report.schema.json"))


def validate_report(data: object, origin: str) -> dict[str, Any]:
    """Check an untrusted report against the shipped schema; raise `GateError` if invalid."""
    found = _report_validator().iter_errors(data)
    errors = sorted(found, key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        where = "/".join(map(str, errors[0].absolute_path)) or "(top level)"
        raise GateError(
            "publish",
            f"{origin} is not a valid restore-gate report: at {where}: {errors[0].message[:300]}"
            + (f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""),
            "pass the JSON file written by `restore-gate check --report`, unmodified",
            code="report-invalid",
        )
    return data  # type: ignore[return-value]
