"""Where the release checkpoint comes from: a path, a bundle, a URL, a GitHub release or a
model store (`models:/`, `s3://`, `gs://`, `hf://`: release/stores).

Returns a local path to inspect plus the bundle's manifest when there is one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restore_gate.errors import GateError
from restore_gate.release.bundle import checkpoint_in, extract_bundle, is_bundle
from restore_gate.release.stores import fetch_store, is_store, store_settings
from restore_gate.settings.config import Config

PREFETCHED_ENV = "RESTORE_GATE_PREFETCHED"  # set by the container action for its `check` child


@dataclass
class CheckpointSource:
    """A local checkpoint ready to inspect, and what is known of where it came from."""

    description: str
    path: Path | None  # None: nothing to check against (no release yet); see `notices`
    manifest: dict[str, Any] | None = None
    origin: Path | None = None  # the file that was fetched or named (bundle, .keras, ...)
    bundle_dir: Path | None = None  # where a bundle was unpacked (golden outputs live there)
    notices: list[str] = field(default_factory=list)


def _spec(spec: str | None, section: dict[str, Any]) -> str | None:
    return spec or section.get("uri") or section.get("path") or section.get("url") or (
        "release" if section.get("release") else None
    )


def _remote(spec: str) -> bool:
    return spec == "release" or spec.startswith(("http://", "https://")) or is_store(spec)


def _settings(spec: str, section: dict[str, Any]) -> dict[str, Any]:
    """What the fetch of `spec` reads from the `checkpoint:` section."""
    return store_settings(section) if is_store(spec) else (section.get("release") or {})


def _fetch(spec: str, settings: dict[str, Any]) -> Any:
    if is_store(spec):
        return fetch_store(spec, settings)
    from restore_gate.release.download import fetch

    return fetch(spec, settings)


def resolve(spec: str | None, config: Config | None, workdir: Path) -> CheckpointSource:
    """Turn `--checkpoint` (or the config's `checkpoint:` section) into a local checkpoint."""
    section = config.section("checkpoint") if config else {}
    spec = _spec(spec, section)
    if not spec:
        raise GateError(
            "fetch", "no checkpoint to check",
            "pass --checkpoint PATH|URL|release|STORE-URI or set checkpoint.path (or .uri) "
            "in the config",
            code="no-checkpoint",
        )
    if _remote(spec):
        return fetched(spec, _settings(spec, section), workdir)
    base = config.root if config else Path.cwd()
    path = Path(spec) if Path(spec).is_absolute() else (base / spec)
    if not path.exists() and not Path(f"{path}.index").exists():
        path = Path(spec)  # relative to the working directory as a fallback
    found = local(path, workdir)
    if path.is_absolute() and path.is_relative_to(base.resolve()):
        found.description = path.relative_to(base.resolve()).as_posix()
    else:
        found.description = spec
    return found


def fetched(spec: str, release: dict[str, Any], workdir: Path) -> CheckpointSource:
    """A release asset or URL, downloaded (cached) by `fetch` and unpacked like a local path."""
    result = _prefetched(spec, release) or _fetch(spec, release)
    if result.path is None:
        return CheckpointSource(result.description, None, notices=result.notices)
    source = local(result.path, workdir)
    source.description = result.description
    source.notices.extend(result.notices)
    return source


def prefetch(spec: str | None, config: Config, record: Path) -> None:
    """The token-holding half of the container action's check (`check --fetch-only`): download
    a release or URL checkpoint and record it, readable, beside `record`, for the `check` that
    runs the branch's code as an unprivileged user without the token. Local paths are left
    to that `check`; nothing here runs branch code."""
    section = config.section("checkpoint")
    spec = _spec(spec, section)
    if not spec or not _remote(spec):
        return
    release = _settings(spec, section)
    result = _fetch(spec, release)
    path = None
    if result.path is not None:
        folder = record.parent / "shared"
        folder.mkdir(mode=0o755, exist_ok=True)
        path = folder / result.path.name
        try:
            os.link(result.path, path)  # a checkpoint may be large: no copy where possible
        except OSError:
            shutil.copyfile(result.path, path)
        path.chmod(0o644)
    record.write_text(json.dumps({
        "spec": spec, "release": release, "path": str(path) if path else None,
        "description": result.description, "notices": result.notices}, default=str),
        encoding="utf-8")
    record.chmod(0o644)


def _prefetched(spec: str, release: dict[str, Any]) -> Any:
    """The download `prefetch` recorded for this same checkpoint source, if any."""
    from restore_gate.release.download import Fetched

    record = os.environ.get(PREFETCHED_ENV)
    if not record or not Path(record).is_file():
        return None
    data = json.loads(Path(record).read_text(encoding="utf-8"))
    if data.get("spec") != spec or data.get("release") != json.loads(
            json.dumps(release, default=str)):
        return None
    path = Path(data["path"]) if data.get("path") else None
    return Fetched(path, data["description"], list(data["notices"]))


def local(path: Path, workdir: Path) -> CheckpointSource:
    """A local path; bundles are unpacked (safely) into `workdir`."""
    if is_bundle(path):
        target = Path(tempfile.mkdtemp(prefix="bundle-", dir=workdir))
        manifest = extract_bundle(path, target)
        return CheckpointSource(
            str(path), checkpoint_in(target, manifest), manifest, origin=path, bundle_dir=target
        )
    return CheckpointSource(str(path), path, None, origin=path)
