"""`restore-gate snapshot`: the release bundle (checkpoint + `restore-gate.json`)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from restore_gate import formats
from restore_gate.core.checkpoint import CheckpointInfo
from restore_gate.core.manifest import LAYOUT_SPACE, MANIFEST_VERSION
from restore_gate.evaluation import evaluate, model_state
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


Say = Callable[[str], None]


def _quiet(message: str) -> None:
    return None


@contextmanager
def step(say: Say, what: str) -> Iterator[None]:
    """A progress line before a long step and one with its duration after it."""
    say(f"{what} ...")
    start = time.perf_counter()
    yield
    say(f"{what}: done in {time.perf_counter() - start:.1f} s")


def record_behaviour(config: Config, info: CheckpointInfo, folder: Path,
                     say: Say = _quiet) -> dict[str, Any]:
    """Restore the release into its own model; record golden outputs, metrics, layout."""
    with step(say, f"building {config.model.builder} and restoring the checkpoint into it"):
        built, pairing = restored_model(config, info)
    data = evaluate.load_eval_data(config)
    golden = evaluate.golden_inputs(built.model, data, config.evaluation.golden_samples,
                                    config.model.input_shape)
    with step(say, "golden outputs and metrics"):
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
        "fingerprints": _traced(say, built.model, golden),
        "layout_space": LAYOUT_SPACE,
        **model_state.record(built.model),
    }


def _traced(say: Say, model: Any, golden: Any) -> list[dict] | None:
    with step(say, "per-layer fingerprints"):
        return _fingerprints(model, golden)


def _fingerprints(model: Any, golden: Any) -> list[dict] | None:
    """Per-layer output fingerprints (trace.py), so `check` can name where drift starts;
    a model that cannot be traced is recorded without them."""

    try:
        return fingerprints(model, golden)
    except Exception:  # an optional record: the release is still written
        return None


def snapshot(
    checkpoint: Path, out: Path, runner: dict[str, Any], cwd: Path, config: Config | None = None,
    say: Say = _quiet,
) -> dict:
    """Write the bundle; return its manifest. With a config, behaviour is recorded too;
    `say` gets a progress line before and after each long step."""
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
            manifest.update(record_behaviour(config, info, Path(folder), say))
            extra_files = [Path(folder) / manifest["golden"]["file"]]
        with step(say, f"writing {out}"):
            write_bundle(out, files, base, manifest, extra_files)
    return manifest


def summary(manifest: dict, out: Path) -> list[str]:
    """What the bundle records, for the closing lines of `snapshot`."""
    values = manifest.get("variables") or []
    groups = [v.get("group") for v in values]
    model, optimizer = groups.count("model"), groups.count("optimizer")
    size = out.stat().st_size if out.exists() else 0
    lines = [f"wrote {out} ({_size(size)}): {manifest['format']}, {len(values)} values "
             f"({model} model, {optimizer} optimizer)"]
    golden = manifest.get("golden")
    if golden:
        lines.append(f"  golden outputs: {golden['samples']} inputs × "
                     f"{len(golden['outputs'])} output(s) ({', '.join(golden['outputs'])})")
    else:
        lines.append("  golden outputs: none (no config: drift will not be measured)")
    metrics = manifest.get("metrics")
    if metrics:
        lines.append("  metrics: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    for name, problem in (manifest.get("metric_errors") or {}).items():
        lines.append(f"  metric {name} not recorded: {problem}")
    if golden:
        traced = manifest.get("fingerprints")
        lines.append(f"  fingerprints: {len(traced)} layer calls" if traced else
                     "  fingerprints: none (the model could not be traced; drift is still "
                     "measured, without the first diverging layer)")
    return lines


def _size(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"
