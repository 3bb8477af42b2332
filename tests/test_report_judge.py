"""`report.judge`: the one rule `check` decides with and `publish` re-judges by (no TensorFlow).

A report given to `publish` is untrusted: its verdict is recomputed from its contents, so each
rule here is what stands between an edited report and a green check.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from restore_gate.core.report import (
    DriftEntry,
    Mismatch,
    OptimizerState,
    Report,
    exit_code,
    failing_drift,
    judge,
    validate_report,
)
from restore_gate.errors import GateError
from restore_gate.pipeline.draft import ReportDraft
from restore_gate.publish import rejudged


def drift(ok=True, level="fail", **values) -> dict:
    return {"kind": "metric", "name": "loss", "baseline": 0.2, "value": 0.2, "delta": 0.0,
            "threshold": "", "ok": ok, "level": level, "note": "", **values}


@pytest.mark.parametrize("report, verdict", [
    ({}, "pass"),
    ({"errors": [], "mismatches": [], "drift": [], "optimizer": None}, "pass"),
    ({"errors": [{"stage": "build"}], "mismatches": [{"allowed": True}]}, "error"),
    ({"errors": [{"stage": "build"}], "mismatches": [{"allowed": False}]}, "error"),
    ({"mismatches": [{"allowed": True}, {"allowed": True}]}, "pass"),
    ({"mismatches": [{"allowed": True}, {"allowed": False}]}, "fail"),
    ({"mismatches": [{"kind": "shape"}]}, "fail"),  # no `allowed`: blocking
    ({"drift": [drift(), drift(ok=False, level="warn"), drift(ok=False, level="info")]}, "pass"),
    ({"drift": [drift(), drift(ok=False)]}, "fail"),
    ({"drift": [{"ok": False}]}, "fail"),  # no level: a failure
    ({"drift": [drift(value="NaN")]}, "fail"),
    ({"optimizer": {"ok": True}}, "pass"),
    ({"optimizer": {"ok": False}}, "fail"),
    ({"optimizer": {"status": "lost"}}, "fail"),  # no `ok`: not ok
])
def test_judge(report, verdict):
    assert judge(report) == verdict


@pytest.mark.parametrize("key", ["baseline", "value", "delta"])
@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", float("nan"), float("inf"),
                                 float("-inf")])
def test_a_non_finite_measurement_fails_even_when_marked_ok(key, bad):
    assert failing_drift(drift(ok=True, level="info", **{key: bad}))


@pytest.mark.parametrize("fine", [1.5, 0, "nan", "inf", None, "Infinite"])
def test_finite_measurements_and_other_strings_do_not_fail(fine):
    assert not failing_drift(drift(ok=True, value=fine))


def test_exit_codes():
    assert [exit_code(v) for v in ("pass", "fail", "error", "PASS", "")] == [0, 1, 2, 2, 2]


def test_decide_sets_the_verdict_from_the_contents():
    report = ReportDraft(mismatches=[Mismatch("shape", "a/kernel", "a", allowed=True)])
    assert report.decide() == "pass" and report.verdict == "pass"
    report.drift.append(DriftEntry("metric", "loss", 0.1, float("nan"), None, "", True))
    assert report.decide() == "fail"
    report.drift.clear()
    report.optimizer = OptimizerState("lost", "required", ok=False)
    assert report.decide() == "fail"
    report.errors.append({"stage": "build", "message": "m", "hint": "h"})
    assert report.decide() == "error"


def test_summary_and_strict_json():
    report = ReportDraft(mismatches=[Mismatch("shape", "a", "a"), Mismatch("missing", "b", "b",
                                                                     allowed=True)],
                    drift=[DriftEntry("metric", "loss", float("-inf"), float("nan"),
                                      float("inf"), "", False)])
    data = report.to_dict()
    assert data["summary"] == {"missing": 1, "unexpected": 0, "shape": 1, "dtype": 0,
                               "rename": 0, "blocking": 1}
    assert [data["drift"][0][k] for k in ("baseline", "value", "delta")] == [
        "-Infinity", "NaN", "Infinity"]
    numbers = Report.from_dict(data).drift[0]
    assert numbers.baseline == float("-inf") and numbers.delta == float("inf")
    assert numbers.value != numbers.value  # NaN


def valid(verdict: str, **contents) -> dict:
    report = ReportDraft(runner={"name": "r", "device": "CPU", "device_name": "", "python": "3.11",
                            "tensorflow": "2.21.0", "keras": "3"}, **contents)
    report.decide()
    data = json.loads(json.dumps(report.to_dict()))
    data["verdict"] = verdict
    return data


def test_publish_accepts_only_the_verdict_the_contents_give(tmp_path: Path):
    honest = valid("fail", mismatches=[Mismatch("shape", "a/kernel", "a")])
    assert rejudged(validate_report(honest, "r.json"), tmp_path / "r.json") is honest
    with pytest.raises(GateError) as raised:
        rejudged(valid("pass", mismatches=[Mismatch("shape", "a/kernel", "a")]),
                 tmp_path / "r.json")
    assert "claims pass, but its contents give fail" in raised.value.message
    assert str(tmp_path / "r.json") in raised.value.message
    with pytest.raises(GateError, match="claims fail, but its contents give pass"):
        rejudged(valid("fail"), tmp_path / "r.json")


def test_an_invalid_report_names_where_and_how_many_problems():
    data = valid("pass")
    data["verdict"] = "green"
    del data["runner"]
    with pytest.raises(GateError) as raised:
        validate_report(data, "cpu/report.json")
    message = raised.value.message
    assert message.startswith("cpu/report.json is not a valid restore-gate report: at ")
    assert "(and 1 more problems)" in message
    data = valid("pass")
    data["verdict"] = "green"
    with pytest.raises(GateError) as raised:
        validate_report(data, "r.json")
    assert "at verdict: 'green'" in raised.value.message and "more problems" not in (
        raised.value.message)
    with pytest.raises(GateError, match=r"at \(top level\)"):
        validate_report([], "r.json")


def test_an_invalid_nested_value_is_named_by_its_path():
    data = valid("pass")
    data["runner"]["device"] = 5
    with pytest.raises(GateError) as raised:
        validate_report(data, "r.json")
    assert raised.value.message.startswith(
        "r.json is not a valid restore-gate report: at runner/device: 5 is not one of")
    assert raised.value.hint == (
        "pass the JSON file written by `restore-gate check --report`, unmodified")
