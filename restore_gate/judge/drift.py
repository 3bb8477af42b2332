"""Judge behaviour against the release: outputs on golden inputs, metrics, device parity.

Pure functions on numbers and thresholds (NumPy, no TensorFlow), so the CPU-vs-GPU
parity of two reports is tested on CPU reports.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from restore_gate.core.metrics import direction_keys, higher_is_better
from restore_gate.core.report import DriftEntry

# allclose tolerances per numeric regime; `thresholds.outputs` / `thresholds.devices` override.
DEFAULT_TOLERANCES = {
    "float32": {"atol": 1e-5, "rtol": 1e-4},
    "tf32": {"atol": 1e-4, "rtol": 2e-3},
    "float16": {"atol": 1e-3, "rtol": 1e-2},
    "bfloat16": {"atol": 1e-2, "rtol": 5e-2},
}
DEFAULT_DEVICE_TOLERANCE = {"atol": 1e-4, "rtol": 1e-3}
DEFAULT_MAX_TOP1_CHANGED = 0.0


def regime(policy: str | None, tf32: bool | None) -> str:
    """Which default tolerance applies: the mixed-precision policy, else TF32, else fp32."""
    if policy and "bfloat16" in policy:
        return "bfloat16"
    if policy and "float16" in policy:
        return "float16"
    return "tf32" if tf32 else "float32"


def tolerance(configured: dict[str, Any] | None, default: dict[str, float]) -> dict[str, float]:
    merged = dict(default)
    merged.update({k: v for k, v in (configured or {}).items() if k in ("atol", "rtol")})
    return merged


def compare_outputs(
    names: list[str],
    baseline: list[np.ndarray],
    current: list[np.ndarray],
    tol: dict[str, float],
    max_top1_changed: float | None = DEFAULT_MAX_TOP1_CHANGED,
    kind: str = "output",
) -> list[DriftEntry]:
    """Max abs/rel error per output under allclose semantics, and top-1 changes."""
    entries: list[DriftEntry] = []
    label = f"atol={tol['atol']:g}, rtol={tol['rtol']:g}"
    for name, ref, out in zip(names, baseline, current, strict=True):
        ref = np.asarray(ref, dtype=np.float64)
        out = np.asarray(out, dtype=np.float64)
        if ref.shape != out.shape:
            entries.append(DriftEntry(kind, name, None, None, None, label, False,
                                      note=f"output shape {out.shape} != release {ref.shape}"))
            continue
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(out - ref)
            rel = diff / np.maximum(np.abs(ref), 1e-12)
        # NaN/Inf on either side is outside any tolerance (NaN > tol is False: test it apart)
        bad = ~(np.isfinite(out) & np.isfinite(ref))
        outside = bad | (diff > tol["atol"] + tol["rtol"] * np.abs(ref))
        nonfinite = int(bad.sum())
        max_abs = float("nan") if nonfinite else float(diff.max()) if diff.size else 0.0
        max_rel = float("nan") if nonfinite else float(rel.max()) if rel.size else 0.0
        note = (f"max rel error {max_rel:.3g}; "
                f"{int(outside.sum())} of {outside.size} values outside tolerance")
        if nonfinite:
            counts = {"the branch's outputs": int((~np.isfinite(out)).sum()),
                      "the release's": int((~np.isfinite(ref)).sum())}
            note += "; NaN or Inf: " + ", ".join(f"{n} in {side}" for side, n in counts.items()
                                                  if n)
        entries.append(DriftEntry(
            kind, f"{name} max abs error", 0.0, max_abs, max_abs, label, not outside.any(),
            note=note,
        ))
        if max_top1_changed is not None and ref.ndim >= 2 and ref.shape[-1] > 1:
            rows = bad.reshape(-1, ref.shape[-1]).any(-1).reshape(ref.shape[:-1])
            changed = float(np.mean((ref.argmax(-1) != out.argmax(-1)) | rows))
            entries.append(DriftEntry(
                kind, f"{name} top-1 changed", 0.0, changed, changed,
                f"share ≤ {max_top1_changed:g}", changed <= max_top1_changed,
            ))
    return entries


def unjudged_outputs(outputs: list[np.ndarray]) -> DriftEntry:
    """The branch's golden outputs when the release recorded none: shown, not compared; but
    NaN or Inf in them fails (NaN never passes, baseline or not)."""
    bad = total = 0
    for out in outputs:
        try:
            values = np.asarray(out, dtype=np.float64)
        except (TypeError, ValueError):  # not numbers (strings): nothing to judge
            continue
        bad, total = bad + int((~np.isfinite(values)).sum()), total + values.size
    if bad:
        return DriftEntry("output", "golden outputs", None, None, None, "finite values", False,
                          note=f"not compared (the release has no recorded outputs), but {bad} "
                               f"of {total} values the branch gives are NaN or Inf")
    return DriftEntry("output", "golden outputs", None, None, None, "", True, "info",
                      note="not measured: the release has no recorded outputs")


def unjudged_metric(name: str, value: float | None) -> DriftEntry:
    """A metric with no baseline: shown, not compared; but a NaN or Inf value fails."""
    if value is not None and not math.isfinite(value):
        return DriftEntry("metric", name, None, value, None, "finite value", False,
                          note=f"not compared (no baseline), but the value is {value!r} (NaN "
                               "or Inf): a metric that is not a finite number never passes")
    return DriftEntry("metric", name, None, value, None, "", True, "info",
                      note="not measured: no baseline")


def parse_amount(amount: Any, baseline: float) -> float:
    """`0.01` is absolute; `"5%"` is relative to the baseline."""
    if isinstance(amount, str) and amount.endswith("%"):
        return abs(baseline) * float(amount[:-1]) / 100.0
    return float(amount)


def compare_metric(
    name: str, baseline: float | None, value: float | None, rule: dict[str, Any] | None,
    reason: str = "",
) -> DriftEntry:
    """One metric against its baseline: direction aware, warn level beside fail level."""
    rule = rule or {}
    label = ", ".join(f"{k} {v}" for k, v in rule.items()) or "no threshold"
    if value is None or baseline is None:
        missing = "value" if value is None else "baseline"
        note = reason or f"{missing} not measured"
        # a threshold whose metric cannot be computed fails; without one it is only shown
        return DriftEntry("metric", name, baseline, value, None, label, not rule,
                          level="fail" if rule else "info", note=note)
    fail_key, warn_key = direction_keys(name)
    wrong = sorted(set(rule) - {fail_key, warn_key})
    if wrong:  # config validation rejects these; never let one check nothing
        return DriftEntry("metric", name, baseline, value, None, label, False, "fail",
                          note=f"{', '.join(wrong)} does not apply to {name}: use {fail_key}")
    for which, number in (("baseline", baseline), ("value", value)):
        if not math.isfinite(number):
            return DriftEntry("metric", name, baseline, value, value - baseline, label, False,
                              "fail",
                              note=f"the {which} is {number!r} (NaN or Inf): a metric that is "
                                   "not a finite number never passes")
    delta = value - baseline
    worse = -delta if higher_is_better(name) else delta
    if fail_key in rule and worse > parse_amount(rule[fail_key], baseline) + 1e-12:
        return DriftEntry("metric", name, baseline, value, delta, label, False, "fail")
    if warn_key in rule and worse > parse_amount(rule[warn_key], baseline) + 1e-12:
        return DriftEntry("metric", name, baseline, value, delta, label, False, "warn")
    return DriftEntry("metric", name, baseline, value, delta, label, True,
                      "fail" if rule else "info")


def device_parity(reports: list[dict[str, Any]], configured: dict | None) -> list[DriftEntry]:
    """CPU-vs-GPU parity from the golden outputs two runners recorded in their reports."""
    cpu = [r for r in reports if r.get("runner", {}).get("device") == "CPU" and _outputs(r)]
    gpu = [r for r in reports if r.get("runner", {}).get("device") == "GPU" and _outputs(r)]
    if not cpu or not gpu:
        return []
    reference = cpu[0]
    entries: list[DriftEntry] = []
    for other in gpu:
        tol = tolerance(configured, _device_default(other))
        names = sorted(set(_outputs(reference)) & set(_outputs(other)))
        for entry in compare_outputs(
            names,
            [np.asarray(_outputs(reference)[n]) for n in names],
            [np.asarray(_outputs(other)[n]) for n in names],
            tol, max_top1_changed=None, kind="device",
        ):
            entry.name = f"CPU vs {other['runner'].get('device_name') or 'GPU'}: {entry.name}"
            entries.append(entry)
    return entries


def _outputs(report: dict[str, Any]) -> dict[str, list]:
    return (report.get("extra") or {}).get("golden_outputs") or {}


def _device_default(report: dict[str, Any]) -> dict[str, float]:
    if report.get("runner", {}).get("tf32"):
        return DEFAULT_TOLERANCES["tf32"]
    return DEFAULT_DEVICE_TOLERANCE
