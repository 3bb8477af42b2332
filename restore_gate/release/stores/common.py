"""What every store adapter shares: the client import, the cache by the store's identity of
the release, and landing a verified download in it (a partial file is never a cache entry)."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

from restore_gate.errors import GateError
from restore_gate.release.download import CACHE_ENV, SUFFIXES, Meter, cache_dir, check_archive, say

_VERSION = re.compile(r"(\d+(?:\.\d+)*)")


def message(exc: BaseException) -> str:
    """The first line of an exception's message, at most 300 characters."""
    return (str(exc).strip().splitlines() or [""])[0][:300]


@contextlib.contextmanager
def translated(translate: Callable[[Exception], GateError | None]) -> Iterator[None]:
    """Run the block; a store client's exception leaves it as the GateError `translate`
    gives (exit 2 naming the source and the credential tried); one `translate` does not know
    (None) is raised as it is, and a GateError passes through."""
    try:
        yield
    except GateError:
        raise
    except Exception as exc:
        error = translate(exc)
        if error is None:
            raise
        raise error from None


def client_module(name: str, extra: str, uri: str) -> ModuleType:
    """Import a store's client library, or exit 2 saying which extra installs it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise GateError("fetch", f"reading {uri} needs the Python package {name.split('.')[0]!r}"
                        ", which is not installed",
                        f"pip install 'restore-gate[{extra}]' (the Docker image has it)",
                        code="store-client-missing") from None


def cache_target(store: str, identity: dict[str, Any], name: str) -> Path:
    """Where the release with this identity (ETag, version id, generation, commit, ...) is
    cached: a new identity (an overwritten object, a moved alias) is a new entry."""
    key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    return cache_dir() / store / key[:32] / name


def cached(target: Path, size: int | None) -> bool:
    if not target.is_file() or (size is not None and target.stat().st_size != size):
        return False
    say(f"using the cached {target.name} ({target.stat().st_size / 2**20:.1f} MiB, {target}): "
        "0 bytes transferred")
    return True


@contextlib.contextmanager
def partial_file(label: str) -> Iterator[Path]:
    """A fresh path under `<cache>/partial` (same filesystem as the cache), removed on exit."""
    folder = cache_dir() / "partial"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GateError("fetch", f"cannot write {folder}: {exc.strerror}",
                        f"make the cache folder writable, or point {CACHE_ENV} elsewhere") from None
    part = folder / f"{uuid.uuid4().hex}-{PurePosixPath(label).name}"
    try:
        yield part
    finally:
        if part.is_dir():
            shutil.rmtree(part, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                part.unlink(missing_ok=True)


def land(part: Path, target: Path, size: int | None, label: str) -> Path:
    """Check the finished download (size, archive safety) and move it into the cache."""
    got = part.stat().st_size
    if size is not None and got != size:
        raise GateError("fetch", f"{label}: got {got} of {size} bytes",
                        "the download was cut short: re-run the job", code="download-truncated")
    check_archive(part, target.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, target)
    return target


def md5_of(path: Path) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            md5.update(block)
    return md5.hexdigest()


def newest(matches: list[Any], name: Any, modified: Any, uri: str) -> Any:
    """The release among glob matches: the highest version in the name when every match has
    one (`model-1.10.keras` > `model-1.9.keras`), else the latest modification; a tie is an
    error, never a guess."""
    if not matches:
        raise GateError("fetch", f"no object matches {uri}",
                        "fix the glob, or upload the release there (an empty match cannot be "
                        "checked, so this is not a pass)", code="store-no-match")
    versions = [_version(name(m)) for m in matches]
    if all(v is not None for v in versions) and len(set(versions)) == len(versions):
        return matches[max(range(len(matches)), key=lambda i: versions[i])]
    stamps = [modified(m) for m in matches]
    best = max(stamps)
    top = [m for m, s in zip(matches, stamps, strict=True) if s == best]
    if len(top) > 1:
        raise GateError("fetch", f"{len(top)} objects match {uri} with the same modification time "
                        f"and no version in their names: {', '.join(name(m) for m in top[:5])}",
                        "put a version in the names (model-1.2.keras) or narrow the glob")
    return top[0]


def _version(name: str) -> tuple[int, ...] | None:
    for suffix in SUFFIXES:
        name = name.removesuffix(suffix)
    found = _VERSION.findall(PurePosixPath(name).name) or _VERSION.findall(name)
    return tuple(int(p) for p in found[-1].split(".")) if found else None


def split_glob(path: str) -> tuple[str, bool]:
    """The literal prefix before the first glob character, and whether there is a glob."""
    for index, char in enumerate(path):
        if char in "*?[":
            return path[:index], True
    return path, False


def progress(label: str, size: int | None) -> Meter:
    return Meter(label, size)


def credential_names(names: tuple[str, ...]) -> str:
    """Which of these credential variables are set (never their values)."""
    present = [n for n in names if os.environ.get(n)]
    return ", ".join(present) if present else f"none of {', '.join(names)} set"
