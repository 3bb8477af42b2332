"""Judge behaviour against the release: outputs on golden inputs, metrics, device parity.

Pure functions on numbers and thresholds (NumPy, no TensorFlow), so the CPU-vs-GPU
parity of two reports is tested on CPU reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from restore_gate.report import DriftEntry

# allclose tolerances per numeric regime; `thresholds.outputs` / `thresholds.devices` override.
DEFAULT_TOLERANCES = {
    "float32": {"atol": 1e-5, "rtol": 1e-4},
    "tf32": {"atol": 1e-4, "rtol": 2e-3},
    "float16": {"atol": 1e-3, "rtol": 1e-2},
    "bfloat16": {"atol": 1e-2, "rtol": 5e-2},
}
DEFAULT_DEVICE_TOLERANCE = {"atol": 1e-4, "rtol": 1e-3}
DEFAULT_MAX_TOP1_CHANGED = 0.0
# metrics where a higher value is better; any other metric is treated as a loss/error
HIGHER_IS_BETTER = ("acc", "auc", "precision", "recall", "f1", "iou", "top_k")


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
        diff = np.abs(out - ref)
        outside = diff > tol["atol"] + tol["rtol"] * np.abs(ref)
        rel = diff / np.maximum(np.abs(ref), 1e-12)
        max_abs = float(diff.max()) if diff.size else 0.0
        entries.append(DriftEntry(
            kind, f"{name} max abs error", 0.0, max_abs, max_abs, label, not outside.any(),
            note=f"max rel error {float(rel.max()) if rel.size else 0.0:.3g}; "
                 f"{int(outside.sum())} of {outside.size} values outside tolerance",
        ))
        if max_top1_changed is not None and ref.ndim >= 2 and ref.shape[-1] > 1:
            changed = float(np.mean(ref.argmax(-1) != out.argmax(-1)))
            entries.append(DriftEntry(
                kind, f"{name} top-1 changed", 0.0, changed, changed,
                f"share ≤ {max_top1_changed:g}", changed <= max_top1_changed,
            ))
    return entries


def parse_amount(amount: Any, baseline: float) -> float:
    """`0.01` is absolute; `"5%"` is relative to the baseline."""
    if isinstance(amount, str) and amount.endswith("%"):
        return abs(baseline) * float(amount[:-1]) / 100.0
    return float(amount)


def higher_is_better(metric: str) -> bool:
    return any(token in metric.lower() for token in HIGHER_IS_BETTER)


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
    delta = value - baseline
    worse = -delta if higher_is_better(name) else delta
    fail_key, warn_key = (
        ("max_drop", "warn_drop") if higher_is_better(name) else ("max_increase", "warn_increase")
    )
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
