"""`restore-gate snapshot`: the release bundle (checkpoint + `restore-gate.json`)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from restore_gate import formats
from restore_gate.core.checkpoint import CheckpointInfo
from restore_gate.core.manifest import LAYOUT_SPACE, MANIFEST_VERSION
from restore_gate.evaluation import evaluate
from restore_gate.evaluation.baseline import GOLDEN_FILE, save_golden
from restore_gate.evaluation.trace import fingerprints
from restore_gate.release.bundle import write_bundle
from restore_gate.restore.restore import restored_model
from restore_gate.settings.config import Config


def git_commit(cwd: Path) -> str | None:
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def versions() -> dict[str, str | None]:
    """Versions of this environment; TensorFlow/Keras only if already imported."""
    tf = sys.modules.get("tensorflow")
    keras = sys.modules.get("keras")
    return {
        "tensorflow": getattr(tf, "__version__", None),
        "keras": getattr(keras, "__version__", None),
        "python": platform.python_version(),
    }


def manifest_for(info: CheckpointInfo, inner: str, runner: dict[str, Any], cwd: Path) -> dict:
    """The manifest: room is left for golden outputs and metrics (`golden`, `metrics`)."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "format": info.format,
        "checkpoint": inner,
        "optimizer": info.optimizer_type,
        "variables": [v.as_dict() for v in info.variables],
        "versions": {**versions(), **dict(info.written_by)},
        "device": runner.get("device"),
        "device_name": runner.get("device_name"),
        "tf32": runner.get("tf32"),
        "commit": git_commit(cwd),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "golden": None,
        "metrics": None,
    }


def record_behaviour(config: Config, info: CheckpointInfo, folder: Path) -> dict[str, Any]:
    """Restore the release into its own model; record golden outputs, metrics, layout."""
    built, pairing = restored_model(config, info)
    data = evaluate.load_eval_data(config)
    samples = config.section("evaluation").get("golden_samples", evaluate.DEFAULT_GOLDEN_SAMPLES)
    golden = evaluate.golden_inputs(built.model, data, samples,
                                    config.section("model").get("input_shape"))
    result = evaluate.run(built.model, config, golden, data)
    save_golden(folder / GOLDEN_FILE, golden, result.output_names, result.golden_outputs)
    keras_format = info.format in ("keras-weights", "keras")
    # file key -> the object path (identity.py) of the variable it was saved from
    layout = {c.key: m.identity for c, m in pairing.matched if m.identity} if keras_format \
        else {}
    return {
        "golden": {"file": GOLDEN_FILE, "outputs": result.output_names,
                   "samples": len(result.golden_outputs[0])},
        "metrics": result.metrics,
        "metric_errors": result.metric_errors,
        "variable_order": [v.name for v in built.variables],
        "layout": layout,
        "fingerprints": _fingerprints(built.model, golden),
        "layout_space": LAYOUT_SPACE,
    }


def _fingerprints(model: Any, golden: Any) -> list[dict] | None:
    """Per-layer output fingerprints (trace.py), so `check` can name where drift starts;
    a model that cannot be traced is recorded without them."""

    try:
        return fingerprints(model, golden)
    except Exception:  # an optional record: the release is still written
        return None


def snapshot(
    checkpoint: Path, out: Path, runner: dict[str, Any], cwd: Path, config: Config | None = None
) -> dict:
    """Write the bundle; return its manifest. With a config, behaviour is recorded too."""
    info = formats.read(checkpoint)
    if info.path.is_dir():  # a SavedModel or a managed folder: take it whole
        base, inner = info.path, "checkpoint"
        files = [f for f in sorted(info.path.rglob("*")) if f.is_file()]
    else:  # a file or a prefix: its files sit beside it
        base, inner = info.path.parent, f"checkpoint/{info.path.name}"
        files = info.files
    manifest = manifest_for(info, inner, runner, cwd)
    with tempfile.TemporaryDirectory(prefix="restore-gate-") as folder:
        extra_files: list[Path] = []
        if config is not None:
            manifest.update(record_behaviour(config, info, Path(folder)))
            extra_files = [Path(folder) / manifest["golden"]["file"]]
        write_bundle(out, files, base, manifest, extra_files)
    return manifest
