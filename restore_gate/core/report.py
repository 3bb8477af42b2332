"""The report: one runner's findings, and the JSON file a runner writes.

`check` writes it from the stages' values (pipeline/draft.py freezes it); `render` and
`publish` read it back (a file validated against `schemas/report.schema.json` first, since a
report is an untrusted artifact, then `Report.from_dict`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

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


class _Block(Mapping[str, Any]):
    """A report block: typed fields, and which of them the report holds, in order (`held`),
    so a block read from a file writes back the same keys (a null and an absent value differ).
    A block also reads as the mapping of its held fields (`block["layer"]`, `block.get(...)`),
    and equals a dict of the same items. Frozen at its fields (a list inside is not copied)."""

    held: tuple[str, ...]
    _nested: ClassVar[dict[str, type[_Block]]] = {}
    _attribute: ClassVar[dict[str, str]] = {}  # a JSON key that is no Python name ("class")

    def __post_init__(self) -> None:
        if not self.held:  # built in code: the fields that hold a value
            keys = {a: k for k, a in self._attribute.items()}
            names = [f.name for f in fields(self) if f.name != "held"]  # type: ignore[arg-type]
            held = tuple(keys.get(n, n) for n in names if getattr(self, n) is not None)
            object.__setattr__(self, "held", held)

    def __getitem__(self, key: str) -> Any:
        if key not in self.held:
            raise KeyError(key)
        return getattr(self, self._attribute.get(key, key))

    def __iter__(self) -> Iterator[str]:
        return iter(self.held)

    def __len__(self) -> int:
        return len(self.held)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Any:
        data = data or {}
        nested = cls._nested
        values = {cls._attribute.get(k, k): nested[k].from_dict(v)
                  if k in nested and v is not None else v for k, v in data.items()}
        return cls(held=tuple(data), **values)

    def to_dict(self) -> dict[str, Any]:
        return {k: _plain(getattr(self, self._attribute.get(k, k))) for k in self.held}


@dataclass(frozen=True, eq=False)
class RunnerInfo(_Block):
    """Where the check ran (runtime.describe_device)."""

    held: tuple[str, ...] = ()
    name: str | None = None
    device: str | None = None
    device_name: str | None = None
    tf32: bool | None = None
    tensorflow: str | None = None
    keras: str | None = None
    python: str | None = None


@dataclass(frozen=True, eq=False)
class CheckpointSummary(_Block):
    """The release checkpoint: where it came from, its format, size and writer."""

    held: tuple[str, ...] = ()
    source: str | None = None
    format: str | None = None
    digest: str | None = None
    variables: int | None = None
    optimizer_values: int | None = None
    bytes: int | None = None
    written_by: Mapping[str, str | None] | None = None
    manifest: bool | None = None


@dataclass(frozen=True, eq=False)
class StrategyInfo(_Block):
    held: tuple[str, ...] = ()
    type: str | None = None
    replicas: int | None = None


@dataclass(frozen=True, eq=False)
class ModelSummary(_Block):
    """The branch's model: its builder, variables, optimizer, and how many restored."""

    held: tuple[str, ...] = ()
    builder: str | None = None
    variables: int | None = None
    optimizer: str | None = None
    strategy: StrategyInfo | None = None
    restored: int | None = None
    _nested: ClassVar[dict[str, type[_Block]]] = {"strategy": StrategyInfo}


@dataclass(frozen=True, eq=False)
class Divergence(_Block):
    """The first layer whose output differs from the release's (evaluation/trace.py)."""

    held: tuple[str, ...] = ()
    layer: str | None = None
    source: str | None = None
    error: float | None = None
    limit: float | None = None
    projected: bool | None = None
    compared: int | None = None
    unmatched_before: list[str] | None = None
    threshold: str | None = None
    class_: str | None = None  # the layer's class ("class" in the report)
    _attribute: ClassVar[dict[str, str]] = {"class": "class_"}


@dataclass(frozen=True, eq=False)
class BaseInfo(_Block):
    """check --base: whose verdict-deciding settings applied, and the PR's changes to them."""

    held: tuple[str, ...] = ()
    ref: str | None = None
    applied: str | None = None
    changes: list[str] | None = None


@dataclass(frozen=True, eq=False)
class DeviceThresholds(_Block):
    held: tuple[str, ...] = ()
    devices: Mapping[str, float] | None = None


@dataclass(frozen=True, eq=False)
class ReportExtra(_Block):
    """Sections beyond the spec's fields: parity data, baseline source, divergence, base."""

    held: tuple[str, ...] = ()
    base: BaseInfo | None = None
    golden_outputs: Mapping[str, list[Any]] | None = None
    thresholds: DeviceThresholds | None = None
    divergence: Divergence | None = None
    baseline: str | None = None
    lookup_state: list[Any] | None = None  # lookup layers whose vocabulary changed
    compute_dtype: Mapping[str, Any] | None = None  # layers whose compute dtype changed
    _nested: ClassVar[dict[str, type[_Block]]] = {
        "base": BaseInfo, "thresholds": DeviceThresholds, "divergence": Divergence}


@dataclass(frozen=True, eq=False)
class StageError(_Block):
    """A stage's error, as the report holds it (a GateError's stage, message and hint)."""

    held: tuple[str, ...] = ()
    stage: str | None = None
    message: str | None = None
    hint: str | None = None


@dataclass(frozen=True, eq=False)
class ToolInfo(_Block):
    held: tuple[str, ...] = ()
    name: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class Report:
    """One runner's report, frozen: the pipeline writes it (pipeline/draft.py), presentation
    and publish read it. `from_dict` reads a validated report file (the one place its "NaN"
    and "Infinity" strings become floats), `to_dict` writes strict JSON values."""

    verdict: str = "error"
    runner: RunnerInfo = field(default_factory=RunnerInfo)
    checkpoint: CheckpointSummary = field(default_factory=CheckpointSummary)
    model: ModelSummary = field(default_factory=ModelSummary)
    optimizer: OptimizerState | None = None
    # lists (so a report's items compare equal to list literals); never mutated
    mismatches: list[Mismatch] = field(default_factory=list)
    drift: list[DriftEntry] = field(default_factory=list)
    errors: list[StageError] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    timings: Mapping[str, float] = field(default_factory=dict)
    extra: ReportExtra = field(default_factory=ReportExtra)
    tool: ToolInfo | None = None  # a file's; None: this restore-gate
    file_summary: Mapping[str, int] | None = None  # a file's ({} if none); None: counted

    def summary(self) -> dict[str, int]:
        if self.file_summary is not None:
            return dict(self.file_summary)
        counts = {kind: 0 for kind in MISMATCH_KINDS}
        for m in self.mismatches:
            counts[m.kind] += 1
        counts["blocking"] = sum(m.blocking for m in self.mismatches)
        return counts

    def decided(self) -> Report:
        """This report with the verdict its contents give (`judge`)."""
        return replace(self, verdict=judge(self.to_dict()))

    def to_dict(self) -> dict[str, Any]:
        """The report as strict JSON values: a NaN/Inf measurement becomes the string "NaN",
        "Infinity" or "-Infinity" (JSON has no such numbers; the schema allows these three)."""
        data = {
            "verdict": self.verdict,
            "runner": self.runner.to_dict(),
            "checkpoint": self.checkpoint.to_dict(),
            "model": self.model.to_dict(),
            "optimizer": None if self.optimizer is None else asdict(self.optimizer),
            "mismatches": [asdict(m) for m in self.mismatches],
            "drift": [asdict(d) for d in self.drift],
            "errors": [e.to_dict() for e in self.errors],
            "notices": list(self.notices),
            "timings": dict(self.timings),
            "extra": self.extra.to_dict(),
            "schema_version": SCHEMA_VERSION,
            "tool": (self.tool.to_dict() if self.tool is not None
                     else {"name": "restore-gate", "version": __version__}),
            "summary": self.summary(),
        }
        return _strict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """A report from its JSON values, validated first (`validate_report`)."""
        optimizer = data.get("optimizer")
        return cls(
            verdict=data.get("verdict", "error"),
            runner=RunnerInfo.from_dict(data.get("runner")),
            checkpoint=CheckpointSummary.from_dict(data.get("checkpoint")),
            model=ModelSummary.from_dict(data.get("model")),
            optimizer=None if optimizer is None else OptimizerState(**optimizer),
            mismatches=[_mismatch(m) for m in data.get("mismatches") or ()],
            drift=[_drift(d) for d in data.get("drift") or ()],
            errors=[StageError.from_dict(e) for e in data.get("errors") or ()],
            notices=list(data.get("notices") or ()),
            timings=dict(data.get("timings") or {}),
            extra=ReportExtra.from_dict(data.get("extra")),
            tool=ToolInfo.from_dict(data["tool"]) if "tool" in data else None,
            file_summary=dict(data.get("summary") or {}),  # what the file says, if anything
        )

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        path.write_text(text + "\n", encoding="utf-8")


def _mismatch(data: Mapping[str, Any]) -> Mismatch:
    specs = {k: None if data.get(k) is None else TensorSpec(**data[k])
             for k in ("checkpoint", "model")}
    return Mismatch(**{**data, **specs})


def _drift(data: Mapping[str, Any]) -> DriftEntry:
    """A drift entry whose measurements are numbers (its "NaN"/"Infinity" strings floats)."""
    numbers = {k: _number(data.get(k)) for k in ("baseline", "value", "delta")}
    return DriftEntry(**{"threshold": "", "ok": False, **data, **numbers})


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, str) and value in NON_FINITE.values() else value


def _plain(value: Any) -> Any:
    if isinstance(value, _Block):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _strict(value: Any) -> Any:
    """`value` with every non-finite float spelt as a string ("NaN", "Infinity", "-Infinity")."""
    if isinstance(value, float):
        return value if math.isfinite(value) else NON_FINITE[str(value)]
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


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
