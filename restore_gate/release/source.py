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
from typing import TYPE_CHECKING, Any

from restore_gate.errors import GateError
from restore_gate.release.bundle import checkpoint_in, extract_bundle, is_bundle
from restore_gate.release.stores import fetch_store, is_store, store_settings
from restore_gate.settings.config import Config
from restore_gate.settings.sections import CheckpointSettings, ReleaseSettings, release_record

if TYPE_CHECKING:
    from collections.abc import Callable

    from restore_gate.github import GitHub

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


def _spec(spec: str | None, section: CheckpointSettings) -> str | None:
    return spec or section.uri or section.path or section.url or (
        "release" if section.release else None)


def _remote(spec: str) -> bool:
    return spec == "release" or spec.startswith(("http://", "https://")) or is_store(spec)


def _record(spec: str, section: CheckpointSettings) -> dict[str, Any]:
    """What the fetch of `spec` reads from the `checkpoint:` section, as recorded."""
    return store_settings(section) if is_store(spec) else release_record(section.release)


def _fetch(spec: str, section: CheckpointSettings,
           github: Callable[[], GitHub] | None = None) -> Any:
    if is_store(spec):
        return fetch_store(spec, store_settings(section))
    from restore_gate.release.download import fetch

    return fetch(spec, section.release or ReleaseSettings(), github)


def resolve(spec: str | None, config: Config | None, workdir: Path,
            github: Callable[[], GitHub] | None = None) -> CheckpointSource:
    """Turn `--checkpoint` (or the config's `checkpoint:` section) into a local checkpoint;
    `github` gives the caller's GitHub client, asked for only when a release is read."""
    section = config.checkpoint if config else CheckpointSettings()
    spec = _spec(spec, section)
    if not spec:
        raise GateError(
            "fetch", "no checkpoint to check",
            "pass --checkpoint PATH|URL|release|STORE-URI or set checkpoint.path (or .uri) "
            "in the config",
            code="no-checkpoint",
        )
    if _remote(spec):
        return fetched(spec, section, workdir, github)
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


def fetched(spec: str, section: CheckpointSettings, workdir: Path,
            github: Callable[[], GitHub] | None = None) -> CheckpointSource:
    """A release asset or URL, downloaded (cached) by `fetch` and unpacked like a local path."""
    result = _prefetched(spec, section) or _fetch(spec, section, github)
    if result.path is None:
        return CheckpointSource(result.description, None, notices=result.notices)
    source = local(result.path, workdir)
    source.description = result.description
    source.notices.extend(result.notices)
    return source


def prefetch(spec: str | None, config: Config, record: Path,
             github: Callable[[], GitHub] | None = None) -> None:
    """The token-holding half of the container action's check (`check --fetch-only`): download
    a release or URL checkpoint and record it, readable, beside `record`, for the `check` that
    runs the branch's code as an unprivileged user without the token. Local paths are left
    to that `check`; nothing here runs branch code."""
    section = config.checkpoint
    spec = _spec(spec, section)
    if not spec or not _remote(spec):
        return
    result = _fetch(spec, section, github)
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
        "spec": spec, "release": _record(spec, section), "path": str(path) if path else None,
        "description": result.description, "notices": result.notices}, default=str),
        encoding="utf-8")
    record.chmod(0o644)


def _prefetched(spec: str, section: CheckpointSettings) -> Any:
    """The download `prefetch` recorded for this same checkpoint source, if any."""
    from restore_gate.release.download import Fetched

    record = os.environ.get(PREFETCHED_ENV)
    if not record or not Path(record).is_file():
        return None
    data = json.loads(Path(record).read_text(encoding="utf-8"))
    if data.get("spec") != spec or data.get("release") != _record(spec, section):
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
