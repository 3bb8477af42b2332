"""The values the restore and evaluate stages return to the pipeline (pipeline/check.py),
which writes the report from them: no stage writes into the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from restore_gate.core.pairing import Pairing
from restore_gate.core.report import DriftEntry, Mismatch, OptimizerState


@dataclass(frozen=True)
class RestoreResult:
    """What the restore stage found: the pairings, their judgement, what was restored.

    `verified` is None until the values are restored (restore/restore.py: `pair_release`
    judges, `restore_release` restores), so a failed restore still reports its findings."""

    model: Pairing
    optimizer: Pairing
    optimizer_state: OptimizerState
    mismatches: tuple[Mismatch, ...]
    notices: tuple[str, ...]
    restore_optimizer: bool
    verified: int | None = None


@dataclass(frozen=True)
class Measurement:
    """What the evaluate stage measured: drift entries against the baseline, a slice of the
    golden outputs (for cross-runner parity), the thresholds the runner applied, where the
    baseline came from, the first diverging layer, and notices."""

    golden_outputs: dict[str, list[float]]
    thresholds: dict[str, Any]
    drift: tuple[DriftEntry, ...] = ()
    baseline_source: str | None = None
    divergence: dict[str, Any] | None = None
    notices: tuple[str, ...] = field(default_factory=tuple)
    # state the weights do not hold that changed: `lookup_state`, `compute_dtype` (report.extra)
    state: dict[str, Any] = field(default_factory=dict)


class MeasurementFailed(Exception):
    """Judging the outputs failed after they were measured: `partial` holds what was
    measured (the report keeps it), `error` the reason (a GateError)."""

    def __init__(self, partial: Measurement, error: BaseException) -> None:
        super().__init__(str(error))
        self.partial, self.error = partial, error
