"""`restore-gate snapshot`: the release bundle (checkpoint + `restore-gate.json`)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from restore_gate import formats
from restore_gate.bundle import MANIFEST_VERSION, write_bundle
from restore_gate.checkpoint import CheckpointInfo


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
    import sys

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


def snapshot(checkpoint: Path, out: Path, runner: dict[str, Any], cwd: Path) -> dict:
    """Write the bundle; return its manifest."""
    info = formats.read(checkpoint)
    base = info.path.parent if info.path.is_file() or not info.path.is_dir() else info.path
    if info.path.is_dir():
        files = [f for f in sorted(info.path.rglob("*")) if f.is_file()]
    else:
        files = info.files
    inner_rel = info.path.relative_to(base).as_posix() if info.path != base else ""
    inner = f"checkpoint/{inner_rel}".rstrip("/")
    manifest = manifest_for(info, inner, runner, cwd)
    write_bundle(out, files, base, manifest)
    return manifest
