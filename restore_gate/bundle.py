"""Release bundles: a `.tar.gz` of the checkpoint plus the `restore-gate.json` manifest.

Bundles are untrusted when they come back from a release: extraction refuses
absolute paths, `..`, links and devices (tarfile's `data` filter) and caps size.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from restore_gate.errors import GateError

MANIFEST = "restore-gate.json"
CHECKPOINT_DIR = "checkpoint"
MANIFEST_VERSION = 1
MAX_UNPACKED_BYTES = 64 * 1024**3


def is_bundle(path: Path) -> bool:
    return path.is_file() and path.name.endswith((".tar.gz", ".tgz"))


def write_bundle(
    out: Path, files: list[Path], base: Path, manifest: dict[str, Any],
    extra_files: list[Path] = (),
) -> None:
    """Write the checkpoint files (relative to `base`), the manifest and any extra files
    (golden outputs, at the bundle's top level) into `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(manifest, indent=2, sort_keys=True).encode()
    manifest_path = out.parent / f".{out.name}.{MANIFEST}"
    manifest_path.write_bytes(data)
    try:
        with tarfile.open(out, "w:gz") as archive:
            archive.add(manifest_path, arcname=MANIFEST)
            for extra in extra_files:
                archive.add(extra, arcname=extra.name)
            for file in files:
                archive.add(file, arcname=f"{CHECKPOINT_DIR}/{file.relative_to(base).as_posix()}")
    finally:
        manifest_path.unlink(missing_ok=True)


def extract_bundle(bundle: Path, target: Path) -> dict[str, Any] | None:
    """Safely unpack a bundle; return its manifest (None for a bare archive)."""
    if not hasattr(tarfile, "data_filter"):
        raise GateError("fetch", "this Python lacks tarfile's safe extraction filter",
                        "use Python 3.11.4 or newer")
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        _unpack(bundle, staging)
        for entry in staging.iterdir():  # only a fully checked archive reaches the target
            entry.rename(target / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    manifest_path = target / MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GateError("fetch", f"{bundle}: {MANIFEST} is not valid JSON: {exc}",
                        "re-create the bundle with `restore-gate snapshot`") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("checkpoint"), str):
        raise GateError("fetch", f"{bundle}: {MANIFEST} has no 'checkpoint' entry",
                        "re-create the bundle with `restore-gate snapshot`")
    return manifest


def _unpack(bundle: Path, staging: Path) -> None:
    """One pass over the compressed stream: each member is checked, then written. (Listing the
    members first, then extracting, would decompress the whole archive twice.)"""
    try:
        with tarfile.open(bundle, "r|*") as archive:
            total = 0
            for member in archive:
                check_members([member], str(bundle))
                total += member.size
                if total > MAX_UNPACKED_BYTES:
                    raise GateError("fetch", f"{bundle} unpacks to over {MAX_UNPACKED_BYTES} "
                                    "bytes, over the limit", "release a smaller bundle")
                archive.extract(member, staging, filter="data")
    except tarfile.FilterError as exc:
        raise GateError(
            "fetch",
            f"refusing to unpack {bundle}: {exc}",
            "the archive holds an absolute path, a '..' path or a link out of the folder; "
            "re-create it with `restore-gate snapshot`",
        ) from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise GateError(
            "fetch", f"cannot unpack {bundle}: {type(exc).__name__}: {exc}",
            "the archive is truncated or corrupted: re-download or re-create it",
        ) from exc


def unsafe(member: tarfile.TarInfo) -> str:
    """Why a member must not be unpacked ("" if it is a plain file or folder inside)."""
    parts = PurePosixPath(member.name).parts
    if member.name.startswith(("/", "\\")):
        return "an absolute path"
    if ".." in parts:
        return "a '..' path"
    if member.issym() or member.islnk():
        return "a link"
    return "" if member.isfile() or member.isdir() else "a device or fifo"


def check_members(members: list[tarfile.TarInfo], label: str) -> None:
    """Refuse the whole archive on the first unsafe member (tarfile's `data` filter would
    only strip some of them silently; an error is clearer)."""
    for member in members:
        reason = unsafe(member)
        if reason:
            raise GateError("fetch", f"refusing to unpack {label}: {member.name!r} is {reason}",
                            "re-create the bundle with `restore-gate snapshot`")


def checkpoint_in(target: Path, manifest: dict[str, Any] | None) -> Path:
    """The checkpoint path inside an unpacked bundle, refusing paths that leave it."""
    if manifest is None:
        inner = target / CHECKPOINT_DIR
        return inner if inner.exists() else target
    path = (target / manifest["checkpoint"]).resolve()
    if not path.is_relative_to(target.resolve()):
        raise GateError("fetch", f"the manifest's checkpoint path {manifest['checkpoint']!r} "
                        "leaves the bundle", "re-create the bundle with `restore-gate snapshot`")
    return path


def digest(paths: list[Path]) -> str:
    """sha256 over the files, in order: identifies the exact release that was checked."""
    sha = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                sha.update(block)
    return f"sha256:{sha.hexdigest()}"
