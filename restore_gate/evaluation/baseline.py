"""The release's behaviour to compare against: from the bundle, a git ref, or the config.

In order: the bundle's recorded golden outputs and metrics; the release's code rebuilt
from a git ref (`--baseline-ref` / `baseline.ref`) with the same checkpoint restored;
baseline metric values written in the config; else nothing ("not measured").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from restore_gate.errors import GateError
from restore_gate.evaluation import golden_text
from restore_gate.limits import MAX_GOLDEN_BYTES, check_npz_headers, check_zip

GOLDEN_FILE = "golden.npz"


@dataclass
class Baseline:
    source: str
    golden_inputs: Any = None
    output_names: list[str] = field(default_factory=list)
    golden_outputs: list[np.ndarray] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    fingerprints: list[dict] | None = None  # per-layer outputs on the golden inputs (trace.py)


def save_golden(path: Path, inputs: Any, names: list[str], outputs: list[np.ndarray]) -> None:
    """Golden inputs and outputs as a plain .npz (no pickled objects; strings encoded by
    golden_text)."""
    arrays: dict[str, np.ndarray] = {}
    if isinstance(inputs, dict):
        arrays.update({f"input:{k}": np.asarray(v) for k, v in inputs.items()})
    elif isinstance(inputs, (list, tuple)):
        arrays.update({f"input:#{i}": np.asarray(v) for i, v in enumerate(inputs)})
    else:
        arrays["input"] = np.asarray(inputs)
    arrays.update({f"output:{n}": np.asarray(o) for n, o in zip(names, outputs, strict=True)})
    for key in [k for k, v in arrays.items() if v.dtype.kind in "OSU"]:  # strings: no pickle
        arrays.update(golden_text.encode(key, arrays.pop(key)))
    np.savez_compressed(path, **arrays)


def load_golden(path: Path) -> tuple[Any, list[str], list[np.ndarray]]:
    """The golden arrays of an untrusted bundle: sizes are checked before anything inflates."""
    hint = "re-create the bundle with `restore-gate snapshot` (fewer evaluation.golden_samples " \
           "make a smaller golden.npz)"
    check_zip(path, {}, MAX_GOLDEN_BYTES, "fetch", hint, total_cap=MAX_GOLDEN_BYTES)
    check_npz_headers(path, "fetch", hint)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        arrays = golden_text.decode(arrays, path)
    except (OSError, ValueError) as exc:
        raise GateError("fetch", f"cannot read golden outputs {path}: {exc}",
                        "re-create the bundle with `restore-gate snapshot`") from exc
    names = [k.split(":", 1)[1] for k in arrays if k.startswith("output:")]
    outputs = [arrays[f"output:{n}"] for n in names]
    if "input" in arrays:
        inputs: Any = arrays["input"]
    elif any(k.startswith("input:#") for k in arrays):
        inputs = [arrays[k] for k in sorted(
            (k for k in arrays if k.startswith("input:#")), key=lambda k: int(k[7:]))]
    else:
        inputs = {k.split(":", 1)[1]: v for k, v in arrays.items() if k.startswith("input:")}
    return inputs, names, outputs


def from_manifest(manifest: dict[str, Any] | None, bundle_dir: Path | None) -> Baseline | None:
    """Golden outputs and metrics recorded by `snapshot`."""
    if not manifest or not (manifest.get("golden") or manifest.get("metrics")):
        return None
    baseline = Baseline(source="release bundle", metrics=dict(manifest.get("metrics") or {}))
    if isinstance(manifest.get("fingerprints"), list):
        baseline.fingerprints = manifest["fingerprints"]
    golden = manifest.get("golden")
    if golden and bundle_dir is not None:
        path = (bundle_dir / golden["file"]).resolve()
        if not path.is_relative_to(bundle_dir.resolve()) or not path.is_file():
            raise GateError("fetch", f"the bundle's golden file {golden['file']!r} is missing",
                            "re-create the bundle with `restore-gate snapshot`")
        inputs, names, outputs = load_golden(path)
        baseline.golden_inputs = inputs
        baseline.output_names, baseline.golden_outputs = names, outputs
    return baseline


def from_config(values: dict[str, float] | None) -> Baseline | None:
    if not values:
        return None
    return Baseline(source="baseline.metrics in the config", metrics=dict(values))
