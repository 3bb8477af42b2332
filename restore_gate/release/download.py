"""Download the release checkpoint: a GitHub release asset or a plain http(s) URL.

Downloads land in a cache (`RESTORE_GATE_CACHE`, default `~/.cache/restore-gate`)
keyed by the sha256 digest, so a re-run downloads nothing. GitHub's asset `digest`
is verified when the API gives one; a URL may pin one with `#sha256=<hex>`.
Release assets go through the assets API: its redirect to the object store drops
the token (requests strips `Authorization` when the host changes).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import tarfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import requests

from restore_gate.errors import GateError
from restore_gate.github import GitHub, GitHubError, Repo, make_session
from restore_gate.github.client import TIMEOUT
from restore_gate.release.bundle import check_archive_members
from restore_gate.settings.sections import ReleaseSettings

CACHE_ENV = "RESTORE_GATE_CACHE"
SUFFIXES = (".tar.gz", ".tgz", ".keras", ".weights.h5", ".h5")
MAX_DOWNLOAD = 64 * 1024**3
MiB = 1024 * 1024
_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Fetched:
    """A downloaded checkpoint file, or `path=None` when there is nothing to check against."""

    path: Path | None
    description: str
    notices: list[str] = field(default_factory=list)


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "restore-gate"


def fetch(spec: str, release: ReleaseSettings, github: Callable[[], GitHub] | None) -> Fetched:
    """`spec` is `release` (with the config's `checkpoint.release` settings, read with the
    client `github` gives: the caller builds it, e.g. `GitHub.from_env`) or a URL."""
    if spec == "release":
        return fetch_release(release, github() if github else None)
    return fetch_url(spec)


# GitHub releases ----------------------------------------------------------------------------
def fetch_release(settings: ReleaseSettings, github: GitHub | None) -> Fetched:
    pattern = settings.asset
    if not pattern:
        raise GateError("fetch", "--checkpoint release needs the asset to download",
                        "set checkpoint.release.asset (a glob, e.g. 'model-*.tar.gz') in the "
                        "config")
    name = settings.repository or os.environ.get("GITHUB_REPOSITORY")
    if not name:
        raise GateError("fetch", "no repository to take the release from",
                        "set checkpoint.release.repository (owner/name) or GITHUB_REPOSITORY")
    if github is None:
        raise GateError("fetch", "no GitHub client was given to read the release of "
                        f"{name} with", "build one with GitHub.from_env() (the CLI does) and "
                        "pass it to the check", code="no-github-client")
    try:
        repo = Repo(github, name)
        return _from_release(repo, pattern, settings.tag)
    except GitHubError as exc:
        raise GateError("fetch", github.mask(exc.message), github.mask(exc.hint)) from None


def _from_release(repo: Repo, pattern: str, tag: str | None) -> Fetched:
    release = _find_release(repo, tag)
    wanted = f"an asset matching {pattern!r}"
    if release is None:
        which = f"whose tag matches {tag!r}" if tag else "yet"
        return Fetched(None, f"{repo.name} (no release)", [
            f"{repo.name} has no published release {which}: there is no checkpoint to restore, "
            f"so this check passes. It starts checking once a release carries {wanted}."])
    assets = release.get("assets") or repo.assets(release["id"])
    matches = [a for a in assets
               if fnmatchcase(a["name"], pattern) and a.get("state", "uploaded") == "uploaded"]
    if not matches:
        names = ", ".join(a["name"] for a in assets[:20]) or "none"
        raise GateError(
            "fetch",
            f"release {release['tag_name']} of {repo.name} has no asset matching {pattern!r} "
            f"(its assets: {names})",
            "fix checkpoint.release.asset in the config, or upload the bundle to the release "
            "(a release without the asset cannot be checked, so this is not a pass)",
            code="release-asset-missing",
        )
    if len(matches) > 1:
        raise GateError("fetch", f"release {release['tag_name']} has {len(matches)} assets "
                        f"matching {pattern!r}: {', '.join(a['name'] for a in matches)}",
                        "make checkpoint.release.asset match exactly one asset")
    path, notices = _download_asset(repo, matches[0])
    return Fetched(path, f"{repo.name} {release['tag_name']}: {matches[0]['name']}", notices)


def _find_release(repo: Repo, tag: str | None) -> dict[str, Any] | None:
    """The latest published release, or the newest whose tag matches the glob `tag`."""
    if not tag:
        release = repo.latest_release()
        if release is None:
            next(iter(repo.releases()), None)  # 404 here: no access to the repository at all
        return release
    published = [r for r in repo.releases()
                 if not r["draft"] and not r["prerelease"] and fnmatchcase(r["tag_name"], tag)]
    return max(published, key=lambda r: r.get("published_at") or r["created_at"], default=None)


def _download_asset(repo: Repo, asset: dict[str, Any]) -> tuple[Path, list[str]]:
    name = safe_name(asset["name"])
    expected, notices = _expected_digest(asset.get("digest"), name)
    if expected:
        target = cache_dir() / "sha256" / expected / name
    else:  # no digest from the API: key by the asset's identity (a replaced asset gets a new id)
        host = re.sub(r"[^A-Za-z0-9.-]", "_", urlsplit(repo.github.api_url).netloc)
        target = (cache_dir() / "assets" / host / repo.name /
                  f"{int(asset['id'])}-{int(asset['size'])}" / name)
    if _cached(target, expected, asset.get("size")):
        return target, notices
    response = repo.open_asset(asset["id"])
    save(response, target, expected, asset.get("size"), name)
    return target, notices


def _expected_digest(digest: Any, name: str) -> tuple[str | None, list[str]]:
    if isinstance(digest, str) and digest.startswith("sha256:") and _HEX.match(digest[7:]):
        return digest[7:], []
    what = f"its digest {digest!r} is not sha256" if digest else "GitHub gives no digest for it"
    return None, [f"Release asset {name} was not verified: {what}."]


# plain URLs -----------------------------------------------------------------------------
def fetch_url(url: str) -> Fetched:
    parts = urlsplit(url)
    shown = f"{parts.scheme}://{parts.hostname or ''}{parts.path}"  # no credentials, no query
    name = safe_name(PurePosixPath(parts.path).name)
    pinned = re.fullmatch(r"sha256=([0-9a-f]{64})", parts.fragment or "")
    expected = pinned.group(1) if pinned else None
    if expected:
        target = cache_dir() / "sha256" / expected / name
        if _cached(target, expected, None):
            return Fetched(target, shown)
    else:
        key = hashlib.sha256(url.encode()).hexdigest()[:24]
        target = cache_dir() / "url" / key / name
    session = make_session()
    try:
        response = session.get(url.split("#", 1)[0], stream=True, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise GateError("fetch", f"cannot download {shown}: {type(exc).__name__}",
                        "check the URL and the network") from None
    if response.status_code != 200:
        response.close()
        raise GateError("fetch", f"downloading {shown} answered HTTP {response.status_code}",
                        "check the URL (is it public?), or use a release source",
                        code="download-http-error")
    save(response, target, expected, _length(response), name)
    notices = [] if expected else [f"{shown} was not verified: add #sha256=<hex> to pin it."]
    return Fetched(target, shown, notices)


# shared -----------------------------------------------------------------------------------
def safe_name(name: str) -> str:
    """A file name from untrusted input, keeping the suffix that decides the format."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", PurePosixPath(str(name)).name).lstrip(".")
    if not clean.endswith(SUFFIXES):
        raise GateError("fetch", f"cannot tell the checkpoint format of {name!r}",
                        f"publish the checkpoint as one of: {', '.join(SUFFIXES)} (a bundle "
                        "from `restore-gate snapshot` is a .tar.gz)")
    return clean


def _cached(target: Path, expected: str | None, size: int | None) -> bool:
    if not target.is_file() or (size is not None and target.stat().st_size != size):
        return False
    if expected and sha256_of(target) != expected:
        target.unlink()  # corrupted cache entry: download again
        return False
    say(f"using the cached {target.name} ({target.stat().st_size / MiB:.1f} MiB, {target})")
    return True


def sha256_of(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(MiB), b""):
            sha.update(block)
    return sha.hexdigest()


def save(response: requests.Response, target: Path, expected: str | None, size: int | None,
         label: str) -> None:
    """Stream `response` into `target` (atomically), checking size and sha256."""
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    meter = Meter(label, size)
    sha = hashlib.sha256()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with part.open("wb") as out:
            for block in response.iter_content(MiB):
                out.write(block)
                sha.update(block)
                meter.add(len(block))
                if meter.done > MAX_DOWNLOAD:
                    raise GateError("fetch", f"{label} is larger than {MAX_DOWNLOAD} bytes",
                                    "release a smaller checkpoint", code="download-too-large")
        meter.finish()
        if size is not None and meter.done != size:
            raise GateError("fetch", f"{label}: got {meter.done} of {size} bytes",
                            "the download was cut short: re-run the job")
        if expected and sha.hexdigest() != expected:
            raise GateError(
                "fetch", f"{label}: sha256 {sha.hexdigest()} does not match the published digest "
                f"sha256:{expected}", "the asset changed or was tampered with in transit: re-run, "
                "and if it persists re-upload the asset", code="download-digest-mismatch")
        check_archive(part, label)
        os.replace(part, target)
    except requests.RequestException as exc:
        raise GateError("fetch", f"{label}: download failed after {meter.done} bytes: "
                        f"{type(exc).__name__}", "re-run the job") from None
    except OSError as exc:
        raise GateError("fetch", f"cannot write {part}: {exc.strerror}",
                        f"make the cache folder writable, or point {CACHE_ENV} elsewhere") from None
    finally:
        response.close()
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)


def check_archive(path: Path, label: str) -> None:
    """Refuse an archive holding absolute paths, `..`, links, too many members or declared
    sizes over the caps before it enters the cache (unpacking checks again, by actual bytes)."""
    if not label.endswith((".tar.gz", ".tgz")):
        return
    try:
        check_archive_members(path, label)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise GateError("fetch", f"cannot unpack {label}: {type(exc).__name__}: {exc}",
                        "the archive is truncated or corrupted: re-create it") from None


def _length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length", "")
    return int(value) if value.isdigit() and not response.headers.get("Content-Encoding") else None


def say(message: str) -> None:
    print(f"restore-gate: {message}", file=sys.stderr, flush=True)


class Meter:
    """Progress lines on stderr: bytes so far and speed, at most one a second."""

    def __init__(self, label: str, size: int | None) -> None:
        self.label, self.size, self.done = label, size, 0
        self.start = self.last = time.monotonic()

    def add(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last >= 1.0:
            self.last = now
            total = f" of {self.size / MiB:.1f}" if self.size else ""
            say(f"downloading {self.label}: {self.done / MiB:.1f}{total} MiB "
                f"({self.rate():.1f} MiB/s)")

    def rate(self) -> float:
        return self.done / MiB / max(time.monotonic() - self.start, 1e-6)

    def finish(self) -> None:
        say(f"downloaded {self.label}: {self.done / MiB:.1f} MiB in "
            f"{time.monotonic() - self.start:.1f} s ({self.rate():.1f} MiB/s)")
