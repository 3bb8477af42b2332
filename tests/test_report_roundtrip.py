"""`Report.from_dict` / `to_dict`: a report file reads into the typed `Report` and writes back
the same JSON values (a null and an absent key stay apart, NaN stays "NaN")."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from restore_gate.core.report import (
    DriftEntry,
    Mismatch,
    OptimizerState,
    Report,
    TensorSpec,
    validate_report,
)
from restore_gate.errors import GateError
from restore_gate.pipeline.draft import ReportDraft

FIXTURES = sorted((Path(__file__).parent / "data" / "render").glob("*.json"))


def _suite_report() -> dict:
    """A report as `check` writes one, every block filled (the draft the pipeline keeps)."""
    draft = ReportDraft(
        runner={"name": "r", "device": "CPU", "device_name": "", "tf32": None,
                "tensorflow": "2.21.0", "keras": "3.13", "python": "3.11"},
        checkpoint={"source": "release v1", "format": "keras", "digest": "", "variables": 4,
                    "optimizer_values": 0, "bytes": 10, "written_by": {"keras": None},
                    "manifest": False},
        model={"builder": "m:build", "variables": 4, "optimizer": None,
               "strategy": {"type": "MirroredStrategy", "replicas": 2}, "restored": 4},
        optimizer=OptimizerState("lost", "required", ok=False, hint="h"),
        mismatches=[Mismatch("shape", "a/kernel", "a", "k", TensorSpec([4, None], "float32"),
                             TensorSpec([8, 2], "float32"), source="m.py:3")],
        drift=[DriftEntry("metric", "loss", float("-inf"), float("nan"), float("inf"), "x",
                          False)],
        notices=["n"],
        timings={"config": 0.5},
        extra={"base": {"ref": "main", "applied": "base", "changes": ["c"]},
               "golden_outputs": {"probs": [0.5, float("nan")]},
               "thresholds": {"devices": None},
               "divergence": {"layer": "hidden", "source": None, "error": 1.5, "limit": None,
                              "unmatched_before": ["x"]},
               "baseline": "bundle"},
    )
    draft.add_error(GateError("evaluate", "m", "h"))
    draft.decide()
    return json.loads(json.dumps(draft.to_dict(), allow_nan=False))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_a_report_file_reads_and_writes_back_the_same_values(path: Path):
    data = validate_report(json.loads(path.read_text(encoding="utf-8")), path.name)
    report = Report.from_dict(data)
    assert Report.from_dict(report.to_dict()).to_dict() == report.to_dict()
    assert report.to_dict() == data  # every key, null and order-independent value kept


def test_a_report_check_writes_reads_back_typed():
    data = validate_report(_suite_report(), "suite.json")
    report = Report.from_dict(data)
    assert Report.from_dict(report.to_dict()).to_dict() == report.to_dict() == data
    assert list(report.to_dict()) == list(data)  # the same key order: the same bytes
    assert json.dumps(report.to_dict()) == json.dumps(data)
    drift = report.drift[0]  # from_dict: the one place "NaN"/"Infinity" become floats
    assert drift.baseline == -math.inf and drift.delta == math.inf and math.isnan(drift.value)
    assert report.model.strategy.replicas == 2 and report.model.optimizer is None
    assert "optimizer" in report.model and "tf32" in report.runner  # a null is held
    assert report.extra.divergence.layer == "hidden" and report.extra.base.changes == ["c"]
    assert report.errors[0].stage == "evaluate" and report.verdict == "error"


def test_an_absent_key_stays_absent():
    data = _suite_report()
    del data["runner"]["tf32"], data["model"]["restored"], data["extra"]["divergence"]["limit"]
    report = Report.from_dict(validate_report(data, "r.json"))
    assert "tf32" not in report.runner and report.runner.tf32 is None
    assert report.to_dict() == data
