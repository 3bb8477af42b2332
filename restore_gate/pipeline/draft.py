"""The pipeline's one mutable value: the report while `check` runs, frozen at the end (or on
a hard abort, pipeline/check.py `_overrun`) into a `core.report.Report`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restore_gate.core.report import (
    CheckpointSummary,
    DriftEntry,
    Mismatch,
    ModelSummary,
    OptimizerState,
    Report,
    ReportExtra,
    RunnerInfo,
    StageError,
)
from restore_gate.errors import GateError


@dataclass
class ReportDraft:
    """What the stages have found so far, in the report's JSON shapes; `freeze()` it."""

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
        self.verdict = self.freeze().decided().verdict
        return self.verdict

    def freeze(self) -> Report:
        return Report(
            verdict=self.verdict,
            runner=RunnerInfo.from_dict(self.runner),
            checkpoint=CheckpointSummary.from_dict(self.checkpoint),
            model=ModelSummary.from_dict(self.model),
            optimizer=self.optimizer,
            mismatches=list(self.mismatches),
            drift=list(self.drift),
            errors=[StageError.from_dict(e) for e in self.errors],
            notices=list(self.notices),
            timings=dict(self.timings),
            extra=ReportExtra.from_dict(self.extra),
        )

    def to_dict(self) -> dict[str, Any]:
        return self.freeze().to_dict()

    def write(self, path: Path) -> None:
        self.freeze().write(path)
