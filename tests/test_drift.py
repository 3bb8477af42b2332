"""Drift judgement on plain numbers: allclose, top-1, direction-aware metrics, parity."""

from __future__ import annotations

import numpy as np
import pytest

from restore_gate.config import threshold_changes
from restore_gate.drift import (
    compare_metric,
    compare_outputs,
    device_parity,
    parse_amount,
    regime,
)

TOL = {"atol": 1e-5, "rtol": 1e-4}


def test_identical_outputs_pass_and_a_perturbation_fails():
    ref = np.array([[0.1, 0.9], [0.8, 0.2]])
    same = compare_outputs(["probs"], [ref], [ref.copy()], TOL)
    assert all(e.ok for e in same)
    moved = compare_outputs(["probs"], [ref], [ref + 1e-3], TOL)
    error = next(e for e in moved if "max abs" in e.name)
    assert not error.ok
    assert error.value == pytest.approx(1e-3)
    assert "4 of 4 values outside" in error.note


def test_allclose_semantics_use_relative_tolerance_of_the_baseline():
    ref = np.array([[1000.0, 1.0]])
    out = ref + np.array([[0.05, 0.0]])  # 5e-5 relative: inside rtol=1e-4
    assert all(e.ok for e in compare_outputs(["o"], [ref], [out], TOL))


def test_top1_changes_are_counted_for_classifiers():
    ref = np.array([[0.6, 0.4], [0.3, 0.7], [0.9, 0.1], [0.2, 0.8]])
    out = ref.copy()
    out[0] = [0.4, 0.6]
    entries = compare_outputs(["p"], [ref], [out], {"atol": 1.0, "rtol": 0.0}, 0.1)
    top1 = next(e for e in entries if "top-1" in e.name)
    assert top1.value == pytest.approx(0.25)
    assert not top1.ok


def test_output_shape_change_is_a_failure():
    entries = compare_outputs(["o"], [np.zeros((2, 3))], [np.zeros((2, 4))], TOL)
    assert len(entries) == 1 and not entries[0].ok and "shape" in entries[0].note


def test_metric_direction_drop_for_accuracy_rise_for_loss():
    assert not compare_metric("accuracy", 0.90, 0.85, {"max_drop": 0.01}).ok
    assert compare_metric("accuracy", 0.90, 0.95, {"max_drop": 0.01}).ok  # improvement
    assert not compare_metric("loss", 0.20, 0.30, {"max_increase": "5%"}).ok
    assert compare_metric("loss", 0.20, 0.205, {"max_increase": "5%"}).ok
    assert compare_metric("loss", 0.20, 0.10, {"max_increase": "5%"}).ok


def test_warn_level_sits_beside_the_fail_level():
    entry = compare_metric("accuracy", 0.90, 0.885, {"max_drop": 0.02, "warn_drop": 0.01})
    assert not entry.ok and entry.level == "warn"
    entry = compare_metric("accuracy", 0.90, 0.87, {"max_drop": 0.02, "warn_drop": 0.01})
    assert not entry.ok and entry.level == "fail"


def test_a_threshold_whose_metric_cannot_be_computed_fails():
    entry = compare_metric("auc", 0.9, None, {"max_drop": 0.01}, "the model has no auc")
    assert not entry.ok and entry.level == "fail" and "auc" in entry.note
    shown_only = compare_metric("auc", 0.9, None, None)
    assert shown_only.ok and shown_only.level == "info"


@pytest.mark.parametrize("metric, rule, fits", [
    ("loss", {"max_drop": 0.01}, "max_increase"),
    ("loss", {"max_increase": 0.01, "warn_drop": 0.01}, "max_increase"),
    ("accuracy", {"max_increase": 0.01}, "max_drop"),
    ("val_auc", {"warn_increase": "1%"}, "max_drop"),
])
def test_the_judge_refuses_a_wrong_direction_key_without_config_validation(metric, rule, fits):
    """Config validation rejects these keys; the judge's own guard must too, so a path that
    skips validation never checks nothing (an unchanged or a much worse metric alike)."""
    for value in (0.5, 0.5 - 0.4, 0.5 + 0.4):
        entry = compare_metric(metric, 0.5, value, rule)
        assert not entry.ok and entry.level == "fail", (value, entry)
        assert "does not apply" in entry.note and fits in entry.note


def test_percentages_of_a_negative_baseline_allow_a_share_of_its_size():
    """A log-likelihood style metric of -2.0: `5%` allows 0.1 either way of the sign."""
    rule = {"max_increase": "5%", "warn_increase": "2%"}
    unchanged = compare_metric("log_likelihood", -2.0, -2.0, rule)
    assert unchanged.ok and unchanged.level == "fail"  # a threshold that holds
    assert compare_metric("log_likelihood", -2.0, -2.2, rule).ok  # better
    warned = compare_metric("log_likelihood", -2.0, -1.95, rule)  # +0.05: over 2%, under 5%
    assert not warned.ok and warned.level == "warn"
    failed = compare_metric("log_likelihood", -2.0, -1.85, rule)  # +0.15: over 5% (0.1)
    assert not failed.ok and failed.level == "fail"
    assert parse_amount("5%", -2.0) == pytest.approx(0.1)


def test_relative_amounts():
    assert parse_amount("5%", 0.2) == pytest.approx(0.01)
    assert parse_amount(0.03, 0.2) == 0.03


def test_default_regimes():
    assert regime("mixed_float16", False) == "float16"
    assert regime("mixed_bfloat16", True) == "bfloat16"
    assert regime("float32", True) == "tf32"
    assert regime("float32", False) == "float32"


def _runner_report(device, values, tf32=False):
    return {"runner": {"device": device, "device_name": f"{device} 0", "tf32": tf32},
            "extra": {"golden_outputs": {"probs": values}}}


def test_cpu_gpu_parity_is_a_pure_function_of_two_reports():
    cpu = _runner_report("CPU", [0.1, 0.9, 0.5])
    close = _runner_report("GPU", [0.1 + 1e-6, 0.9, 0.5])
    far = _runner_report("GPU", [0.2, 0.9, 0.5])
    assert all(e.ok for e in device_parity([cpu, close], None))
    entries = device_parity([cpu, far], None)
    assert entries and not entries[0].ok and entries[0].kind == "device"
    assert "CPU vs GPU 0" in entries[0].name
    # TF32 on the GPU relaxes the default: 2e-3 relative
    tf32 = _runner_report("GPU", [0.1001, 0.9009, 0.5], tf32=True)
    assert all(e.ok for e in device_parity([cpu, tf32], None))
    assert device_parity([cpu], None) == []


def test_threshold_changes_are_listed():
    base = {"metrics": {"accuracy": {"max_drop": 0.01}}, "outputs": {"atol": 1e-5}}
    head = {"metrics": {"accuracy": {"max_drop": 0.2}}, "outputs": {"atol": 1e-5, "rtol": 1e-3}}
    changes = threshold_changes(base, head)
    assert "thresholds.metrics.accuracy.max_drop 0.01 → 0.2" in changes
    assert "thresholds.outputs.rtol (none) → 0.001" in changes
    assert threshold_changes(base, base) == []
