"""Drift judgement on plain numbers: allclose, top-1, direction-aware metrics, parity."""

from __future__ import annotations

import math

import numpy as np
import pytest

from restore_gate.core.report import DriftEntry
from restore_gate.judge.drift import (
    compare_metric,
    compare_outputs,
    device_parity,
    direction_keys,
    parse_amount,
    regime,
    tolerance,
    unjudged_metric,
    unjudged_outputs,
)
from restore_gate.settings.config import threshold_changes

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


# --- every field of an entry: the comment, the outputs and re-judging read them all ---

def entry(*fields, **named) -> DriftEntry:
    return DriftEntry(*fields, **named)


@pytest.mark.parametrize("args, expected", [
    (("loss", 0.2, None, {"max_increase": 0.1}, "no loss"),
     entry("metric", "loss", 0.2, None, None, "max_increase 0.1", False, "fail", "no loss")),
    (("loss", None, 0.2, None),
     entry("metric", "loss", None, 0.2, None, "no threshold", True, "info",
           "baseline not measured")),
    (("loss", 0.2, None, None),
     entry("metric", "loss", 0.2, None, None, "no threshold", True, "info",
           "value not measured")),
    (("loss", 0.2, 0.3, {"max_drop": 0.1, "warn_increase": 1}),
     entry("metric", "loss", 0.2, 0.3, None, "max_drop 0.1, warn_increase 1", False, "fail",
           "max_drop does not apply to loss: use max_increase")),
    (("auc", 0.5, math.inf, {"max_drop": 0.1}),
     entry("metric", "auc", 0.5, math.inf, math.inf, "max_drop 0.1", False, "fail",
           "the value is inf (NaN or Inf): a metric that is not a finite number never passes")),
    (("auc", -math.inf, 0.5, {"max_drop": 0.1}),
     entry("metric", "auc", -math.inf, 0.5, math.inf, "max_drop 0.1", False, "fail",
           "the baseline is -inf (NaN or Inf): a metric that is not a finite number never "
           "passes")),
    (("auc", 0.5, 0.25, {"max_drop": 0.1}),
     entry("metric", "auc", 0.5, 0.25, -0.25, "max_drop 0.1", False, "fail")),
    (("auc", 0.5, 0.45, {"max_drop": 0.1, "warn_drop": 0.01}),
     entry("metric", "auc", 0.5, 0.45, pytest.approx(-0.05), "max_drop 0.1, warn_drop 0.01",
           False, "warn")),
    (("auc", 0.5, 0.6, None),
     entry("metric", "auc", 0.5, 0.6, pytest.approx(0.1), "no threshold", True, "info")),
    (("auc", 0.5, 0.6, {"max_drop": 0}),
     entry("metric", "auc", 0.5, 0.6, pytest.approx(0.1), "max_drop 0", True, "fail")),
])
def test_metric_entries_field_by_field(args, expected):
    assert compare_metric(*args) == expected


def test_a_change_of_exactly_the_allowance_passes_and_a_hair_more_fails():
    assert compare_metric("loss", 1.0, 1.5, {"max_increase": 0.5}).ok
    assert not compare_metric("loss", 1.0, 1.5 + 1e-9, {"max_increase": 0.5}).ok
    assert compare_metric("acc", 1.0, 0.5, {"max_drop": 0.5, "warn_drop": 0.5}).ok
    assert compare_metric("acc", 1.0, 0.5 - 1e-9, {"warn_drop": 0.5}).level == "warn"
    assert parse_amount("50%", 3) == 1.5 and parse_amount("2", 3) == 2.0


@pytest.mark.parametrize("metric, keys", [
    ("val_accuracy", ("max_drop", "warn_drop")), ("AUC", ("max_drop", "warn_drop")),
    ("precision", ("max_drop", "warn_drop")), ("recall", ("max_drop", "warn_drop")),
    ("f1_score", ("max_drop", "warn_drop")), ("mean_iou", ("max_drop", "warn_drop")),
    ("top_k_categorical", ("max_drop", "warn_drop")), ("mae", ("max_increase", "warn_increase")),
])
def test_direction_of_each_metric_family(metric, keys):
    assert direction_keys(metric) == keys


def test_a_metric_without_a_baseline_is_shown_but_nan_fails():
    assert unjudged_metric("loss", 0.3) == entry(
        "metric", "loss", None, 0.3, None, "", True, "info", "not measured: no baseline")
    assert unjudged_metric("loss", None).ok
    nan = unjudged_metric("loss", math.nan)
    assert (nan.kind, nan.name, nan.baseline, nan.delta, nan.threshold, nan.ok, nan.level) == (
        "metric", "loss", None, None, "finite value", False, "fail")
    assert math.isnan(nan.value) and "nan" in nan.note and "never passes" in nan.note
    assert not unjudged_metric("loss", -math.inf).ok


def test_outputs_without_a_recorded_release_are_shown_but_nan_fails():
    assert unjudged_outputs([np.ones((2, 3)), np.array(["a"])]) == entry(
        "output", "golden outputs", None, None, None, "", True, "info",
        "not measured: the release has no recorded outputs")
    bad = unjudged_outputs([np.array([1.0, np.nan]), np.array([[np.inf, 1.0, 2.0]])])
    assert bad == entry(
        "output", "golden outputs", None, None, None, "finite values", False, "fail",
        "not compared (the release has no recorded outputs), but 2 of 5 values the branch "
        "gives are NaN or Inf")


def test_output_entries_field_by_field():
    ref = np.array([[0.5, 0.25], [0.75, 0.125]])
    out = ref + np.array([[0.0, 0.001], [0.0, 0.0]])
    error, top1 = compare_outputs(["p"], [ref], [out], TOL, 0.5)
    assert error == entry("output", "p max abs error", 0.0, pytest.approx(0.001),
                          pytest.approx(0.001), "atol=1e-05, rtol=0.0001", False, "fail",
                          "max rel error 0.004; 1 of 4 values outside tolerance")
    assert top1 == entry("output", "p top-1 changed", 0.0, 0.0, 0.0, "share ≤ 0.5", True)
    [shape] = compare_outputs(["p"], [ref], [out[:1]], TOL, kind="device")
    assert shape == entry("device", "p", None, None, None, "atol=1e-05, rtol=0.0001", False,
                          note="output shape (1, 2) != release (2, 2)")
    assert compare_outputs(["p"], [ref], [out], TOL, None) == [error]  # no top-1 asked
    assert len(compare_outputs(["v"], [ref[:, :1]], [ref[:, :1]], TOL, 0.0)) == 1  # one class


def test_nan_or_inf_outputs_are_counted_per_side_and_flip_top1():
    ref = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    out = ref.copy()
    out[0, 0] = np.nan
    ref2 = ref.copy()
    ref2[2, 1] = np.inf
    error, top1 = compare_outputs(["p"], [ref2], [out], {"atol": 1.0, "rtol": 1.0}, 0.5)
    assert not error.ok and math.isnan(error.value) and math.isnan(error.delta)
    assert error.note.endswith(
        "NaN or Inf: 1 in the branch's outputs, 1 in the release's"), error.note
    assert "2 of 6 values outside" in error.note
    assert top1.value == pytest.approx(2 / 3) and not top1.ok  # rows with NaN/Inf changed
    only_branch = compare_outputs(["p"], [ref], [out], TOL, None)[0]
    assert only_branch.note.endswith("NaN or Inf: 1 in the branch's outputs")


def test_relative_error_is_reported_against_the_release_value():
    ref = np.array([2.0, 0.0])
    [error] = compare_outputs(["o"], [ref], [np.array([2.2, 0.0])], {"atol": 0.0, "rtol": 0.2})
    assert error.ok and error.value == pytest.approx(0.2)
    assert error.note.startswith("max rel error 0.1;") and "0 of 2 values outside" in error.note
    [empty] = compare_outputs(["e"], [np.zeros(0)], [np.zeros(0)], TOL)
    assert empty.ok and empty.value == 0.0


def test_tolerances_merge_only_atol_and_rtol_over_the_default():
    assert tolerance({"atol": 0.5, "other": 9}, {"atol": 1.0, "rtol": 2.0}) == {
        "atol": 0.5, "rtol": 2.0}
    assert tolerance(None, {"atol": 1.0, "rtol": 2.0}) == {"atol": 1.0, "rtol": 2.0}
    assert regime("mixed_float16", True) == "float16" and regime(None, True) == "tf32"
    assert regime(None, None) == "float32"


def test_parity_compares_each_gpu_with_the_first_cpu_on_shared_outputs():
    cpu = _runner_report("CPU", [0.1, 0.9, 0.5])
    cpu["extra"]["golden_outputs"]["only_cpu"] = [1.0]
    gpu = _runner_report("GPU", [0.1, 0.9, 0.5])
    gpu["runner"]["device_name"] = ""
    gpu2 = _runner_report("GPU", [0.1, 0.9, 0.6])
    [same] = device_parity([cpu, gpu], None)
    assert same == entry("device", "CPU vs GPU: probs max abs error", 0.0, 0.0, 0.0,
                         "atol=0.0001, rtol=0.001", True, "fail",
                         "max rel error 0; 0 of 3 values outside tolerance")
    entries = device_parity([gpu2, cpu, gpu], {"atol": 0.2})
    assert [(e.name, e.ok) for e in entries] == [
        ("CPU vs GPU 0: probs max abs error", True), ("CPU vs GPU: probs max abs error", True)]
    assert entries[0].threshold == "atol=0.2, rtol=0.001"
    empty = {"runner": {"device": "GPU"}, "extra": {"golden_outputs": {}}}
    assert device_parity([cpu, empty], None) == [] and device_parity([gpu, gpu2], None) == []


def test_tf32_on_the_gpu_runner_relaxes_the_parity_default():
    cpu = _runner_report("CPU", [0.1, 0.9, 0.5])
    near = [0.1, 0.9015, 0.5]  # 1.5e-3 off: over fp32's 1e-3 at 0.9, inside TF32's 1.9e-3
    assert not device_parity([cpu, _runner_report("GPU", near)], None)[0].ok
    assert device_parity([cpu, _runner_report("GPU", near, tf32=True)], None)[0].ok
    assert tolerance({"rtol": 0.5}, {"atol": 1.0, "rtol": 2.0}) == {"atol": 1.0, "rtol": 0.5}


def test_a_metric_change_of_exactly_the_rounding_margin_still_passes():
    assert compare_metric("loss", 0.0, 1e-12, {"max_increase": 0}).ok
    assert compare_metric("loss", 0.0, 1e-12, {"max_increase": 1, "warn_increase": 0}).ok


def test_every_output_is_compared_after_a_shape_change_or_in_float64():
    shape, error = compare_outputs(["a", "b"], [np.zeros(2), np.zeros(3)],
                                   [np.zeros(3), np.ones(3)], TOL, None)
    assert shape.name == "a" and error.name == "b max abs error" and not error.ok
    with pytest.raises(ValueError):
        compare_outputs(["a", "b"], [np.zeros(2)], [np.zeros(2)], TOL)
    big = np.array([65504.0], dtype=np.float16)  # float16's largest: the difference overflows
    [wide] = compare_outputs(["h"], [big], [-big], TOL, None)
    assert wide.value == 131008.0
    [inf] = compare_outputs(["i"], [np.zeros(2)], [np.array([np.inf, 0.0])], TOL, None)
    assert math.isnan(inf.value) and "max rel error nan" in inf.note
    [empty] = compare_outputs(["e"], [np.zeros(0)], [np.zeros(0)], TOL)
    assert empty.note.startswith("max rel error 0;")


def test_top1_of_a_sequence_output_compares_the_last_axis():
    ref = np.zeros((2, 3, 4))
    ref[..., 0] = 1.0  # (batch, time, classes): class 0 everywhere
    out = ref.copy()
    out[1, 2] = [0.0, 0.0, 0.0, 2.0]
    out[0, 1, 3] = np.nan
    _, top1 = compare_outputs(["seq"], [ref], [out], {"atol": 10.0, "rtol": 0.0}, 0.0)
    assert top1.value == pytest.approx(2 / 6) and not top1.ok


def test_unjudged_outputs_count_every_numeric_output_after_a_text_one():
    entry = unjudged_outputs([np.array(["label"]), np.array([np.nan, 1.0])])
    assert not entry.ok and "1 of 2 values" in entry.note


def test_top1_is_judged_whenever_the_last_axis_has_classes():
    ref = np.array([[[0.9, 0.1, 0.0]], [[0.1, 0.8, 0.1]]])  # (batch, 1, classes)
    out = ref[:, :, ::-1].copy()
    _, top1 = compare_outputs(["seq"], [ref], [out], {"atol": 1.0, "rtol": 0.0}, 0.0)
    assert top1.name == "seq top-1 changed" and top1.value == 0.5 and not top1.ok


def test_parity_of_class_scores_judges_values_not_top1():
    cpu = _runner_report("CPU", [[0.5, 0.5], [0.2, 0.8]])
    gpu = _runner_report("GPU", [[0.5, 0.5 + 1e-6], [0.2, 0.8]])  # a tie broken: same values
    [entry] = device_parity([cpu, gpu], None)
    assert entry.ok and entry.name.endswith("max abs error")
