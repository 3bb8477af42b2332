"""Where the release checkpoint comes from: a path, a bundle, a URL or a GitHub release.

Returns a local path to inspect plus the bundle's manifest when there is one.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restore_gate.bundle import checkpoint_in, extract_bundle, is_bundle
from restore_gate.config import Config
from restore_gate.errors import GateError


@dataclass
class CheckpointSource:
    """A local checkpoint ready to inspect, and what is known of where it came from."""

    description: str
    path: Path | None  # None: nothing to check against (no release yet); see `notices`
    manifest: dict[str, Any] | None = None
    origin: Path | None = None  # the file that was fetched or named (bundle, .keras, ...)
    bundle_dir: Path | None = None  # where a bundle was unpacked (golden outputs live there)
    notices: list[str] = field(default_factory=list)


def resolve(spec: str | None, config: Config | None, workdir: Path) -> CheckpointSource:
    """Turn `--checkpoint` (or the config's `checkpoint:` section) into a local checkpoint."""
    section = config.section("checkpoint") if config else {}
    spec = spec or section.get("path") or section.get("url") or (
        "release" if section.get("release") else None
    )
    if not spec:
        raise GateError(
            "fetch", "no checkpoint to check",
            "pass --checkpoint PATH|URL|release or set checkpoint.path in the config",
        )
    if spec == "release" or spec.startswith(("http://", "https://")):
        return fetched(spec, section.get("release") or {}, workdir)
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
    from restore_gate.fetch import fetch

    result = fetch(spec, release)
    if result.path is None:
        return CheckpointSource(result.description, None, notices=result.notices)
    source = local(result.path, workdir)
    source.description = result.description
    source.notices.extend(result.notices)
    return source


def local(path: Path, workdir: Path) -> CheckpointSource:
    """A local path; bundles are unpacked (safely) into `workdir`."""
    if is_bundle(path):
        target = Path(tempfile.mkdtemp(prefix="bundle-", dir=workdir))
        manifest = extract_bundle(path, target)
        return CheckpointSource(
            str(path), checkpoint_in(target, manifest), manifest, origin=path, bundle_dir=target
        )
    return CheckpointSource(str(path), path, None, origin=path)
