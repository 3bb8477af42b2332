"""Release bundles: a `.tar.gz` of the checkpoint plus the `restore-gate.json` manifest.

Bundles are untrusted when they come back from a release: extraction refuses
absolute paths, `..`, links and devices, writes regular files and folders only (member by
member, without tarfile's `filter=`), and caps the members and the bytes actually unpacked.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from restore_gate.core.manifest import MANIFEST
from restore_gate.errors import GateError

CHECKPOINT_DIR = "checkpoint"
# Caps for an untrusted bundle (named in README's "Security model"):
MAX_UNPACKED_BYTES = 16 * 1024**3  # a bundle never unpacks to more than this
MAX_UNPACK_RATIO = 200  # nor to more than this many times its own size (plus the slack)
UNPACK_SLACK_BYTES = 64 * 1024**2  # so that tiny bundles are never refused by the ratio
MAX_MEMBERS = 20_000  # files and folders in one bundle
MAX_READ_BYTES = 4 * 1024**2  # one read from the archive: a header, or a block of a member
_BLOCK = 1 << 20


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
                name = f"{CHECKPOINT_DIR}/{file.relative_to(base).as_posix()}"
                if file.name == "checkpoint" and file.parent == base:  # a state file
                    text = relative_state(file.read_text(encoding="utf-8", errors="replace"))
                    info = archive.gettarinfo(file, arcname=name)
                    info.size = len(text.encode())
                    archive.addfile(info, io.BytesIO(text.encode()))
                else:
                    archive.add(file, arcname=name)
    finally:
        manifest_path.unlink(missing_ok=True)


def extract_bundle(bundle: Path, target: Path) -> dict[str, Any] | None:
    """Safely unpack a bundle into the empty folder `target`; return its manifest (None for a
    bare archive). On any problem nothing stays behind in `target`."""
    try:
        _extract(bundle, target)
    except BaseException:
        _empty(target)
        raise
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


def _extract(bundle: Path, target: Path) -> None:
    """Unpack member by member (regular files and folders only), counting the bytes actually
    written against the caps. Needs no `filter=` argument, so it works on every Python 3.10+
    (3.11.2 in the official TF image has no `tarfile.data_filter`)."""
    budget = unpack_budget(bundle.stat().st_size)
    written = 0
    try:
        with open_archive(bundle, str(bundle)) as archive:
            for member in members(archive, str(bundle)):
                path = target.joinpath(*PurePosixPath(member.name).parts)
                if member.isdir():
                    path.mkdir(parents=True, exist_ok=True)
                    continue
                if written + member.size > budget:
                    raise _too_big(bundle, written + member.size, budget)
                path.parent.mkdir(parents=True, exist_ok=True)
                written += _copy(archive, member, path, budget - written, bundle)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise GateError(
            "fetch", f"cannot unpack {bundle}: {type(exc).__name__}: {exc}",
            "the archive is truncated or corrupted: re-download or re-create it",
        ) from exc


def _copy(archive: tarfile.TarFile, member: tarfile.TarInfo, path: Path, budget: int,
          bundle: Path) -> int:
    """Stream one regular file out, stopping once it passes `budget` bytes."""
    source = archive.extractfile(member)
    if source is None:
        raise tarfile.ReadError(f"no data for {member.name!r}")
    count = 0
    with source, path.open("wb") as out:
        for block in iter(lambda: source.read(_BLOCK), b""):
            count += len(block)
            if count > budget:
                raise _too_big(bundle, count, budget)
            out.write(block)
    return count


@contextmanager
def open_archive(path: Path, label: str) -> Iterator[tarfile.TarFile]:
    """The archive, read through `_Guarded`: tarfile reads a pax or GNU long-name header
    whole into memory, so a 200 KB archive could make it hold a 200 MB header."""
    with path.open("rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        with stream, tarfile.open(fileobj=_Guarded(stream, label), mode="r:") as archive:
            yield archive


class _Guarded:
    """A read-only stream that refuses any single read over MAX_READ_BYTES (tarfile reads
    headers whole; members are read in blocks of 1 MiB)."""

    def __init__(self, stream: Any, label: str) -> None:
        self._stream, self._label = stream, label

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > MAX_READ_BYTES:
            raise GateError("fetch", f"refusing to unpack {self._label}: a header of "
                            f"{size} bytes (the limit is {MAX_READ_BYTES})",
                            "a release bundle's headers are a few hundred bytes: this looks "
                            "like a decompression bomb; re-create it with `restore-gate snapshot`")
        return self._stream.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()


def unpack_budget(archive_bytes: int) -> int:
    """How many bytes an archive of this size may unpack to."""
    return min(MAX_UNPACKED_BYTES, MAX_UNPACK_RATIO * archive_bytes + UNPACK_SLACK_BYTES)


def _too_big(bundle: Path, size: int, budget: int) -> GateError:
    return GateError(
        "fetch",
        f"refusing to unpack {bundle}: it unpacks to more than {budget} bytes (reached {size}; "
        f"the limit is {MAX_UNPACK_RATIO}x the archive's size + {UNPACK_SLACK_BYTES} bytes, at "
        f"most {MAX_UNPACKED_BYTES})",
        "a release bundle is a checkpoint, which barely compresses: this looks like a "
        "decompression bomb; re-create the bundle with `restore-gate snapshot`",
        code="bundle-too-large",
    )


def _empty(target: Path) -> None:
    for child in list(target.iterdir()) if target.is_dir() else []:
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def members(archive: tarfile.TarFile, label: str) -> Iterator[tarfile.TarInfo]:
    """The archive's members one at a time (headers are read as the stream goes, so a
    million-member archive is refused at the cap, never held in memory), each checked."""
    for count, member in enumerate(iter(archive.next, None), start=1):
        if count > MAX_MEMBERS:
            raise GateError("fetch", f"refusing to unpack {label}: more than {MAX_MEMBERS} "
                            "members", "re-create the bundle with `restore-gate snapshot`")
        reason = unsafe(member)
        if reason:
            raise GateError("fetch", f"refusing to unpack {label}: {member.name!r} is {reason}",
                            "re-create the bundle with `restore-gate snapshot`",
                            code="bundle-unsafe-member")
        archive.members.clear()  # tarfile keeps every header it read: drop them as we go
        yield member


def unsafe(member: tarfile.TarInfo) -> str:
    """Why a member must not be unpacked ("" if it is a plain file or folder inside)."""
    parts = PurePosixPath(member.name).parts
    if member.name.startswith(("/", "\\")):
        return "an absolute path"
    if ".." in parts:
        return "a '..' path"
    if member.issym() or member.islnk():
        return "a link"
    if member.issparse():
        return "a sparse file"
    if not parts and not member.isdir():
        return "a file without a name"
    return "" if member.isfile() or member.isdir() else "a device or fifo"


def check_archive_members(path: Path, label: str) -> None:
    """Refuse an archive with an unsafe member, too many members or declared sizes over the
    caps, reading only its headers (a stream, one member at a time)."""
    budget, declared = unpack_budget(path.stat().st_size), 0
    with open_archive(path, label) as archive:
        for member in members(archive, label):
            declared += member.size if member.isfile() else 0
            if declared > budget:
                raise _too_big(Path(label), declared, budget)


def checkpoint_in(target: Path, manifest: dict[str, Any] | None) -> Path:
    """The checkpoint path inside an unpacked bundle, refusing paths that leave it."""
    if manifest is None:
        inner = target / CHECKPOINT_DIR
        path = inner if inner.exists() else target
        check_state_file(path, target)
        return path
    path = (target / manifest["checkpoint"]).resolve()
    if not path.is_relative_to(target.resolve()):
        raise GateError("fetch", f"the manifest's checkpoint path {manifest['checkpoint']!r} "
                        "leaves the bundle", "re-create the bundle with `restore-gate snapshot`",
                        code="bundle-unsafe-member")
    check_state_file(path, target)
    return path


# `model_checkpoint_path: "..."` and `all_model_checkpoint_paths: "..."` in a state file
_STATE_PATHS = re.compile(r'^\s*(?:all_)?model_checkpoint_paths?:\s*"(.*)"\s*$', re.M)


def relative_state(text: str) -> str:
    """A state file naming its checkpoints by file name (a `tf.compat.v1` Saver writes
    absolute paths; unpacked elsewhere they would point out of the bundle)."""
    return _STATE_PATHS.sub(
        lambda m: m.group(0).replace(f'"{m.group(1)}"', f'"{PurePosixPath(m.group(1)).name}"'),
        text)


def check_state_file(folder: Path, target: Path) -> None:
    """A CheckpointManager folder's `checkpoint` state file inside a bundle may only name
    checkpoints inside the bundle: no absolute path, no `..` (the name is never shown back)."""
    state = folder / "checkpoint"
    if not folder.is_dir() or not state.is_file():
        return
    text = state.read_text(encoding="utf-8", errors="replace")
    for line, match in enumerate(_STATE_PATHS.finditer(text), start=1):
        named = match.group(1)
        pure = PurePosixPath(named.replace("\\", "/"))
        escapes = not (folder / named).resolve().is_relative_to(target.resolve())
        if pure.is_absolute() or ".." in pure.parts or escapes:
            what = "an absolute path" if pure.is_absolute() else "a path out of its folder"
            raise GateError(
                "fetch",
                f"the bundle's checkpoint state file {state.relative_to(target)} names "
                f"{what} (entry {line}): a bundle may only point at its own files",
                "re-create the bundle with `restore-gate snapshot` from a CheckpointManager "
                "folder (it writes relative names)",
            )


def digest(paths: list[Path]) -> str:
    """sha256 over the files, in order: identifies the exact release that was checked."""
    sha = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                sha.update(block)
    return f"sha256:{sha.hexdigest()}"
