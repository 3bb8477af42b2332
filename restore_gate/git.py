"""git, run as a subprocess with a time limit: files at a ref, worktrees, the repository root.

Used by the settings (the base commit's config and checkpoint) and the evaluation (the
release's code at the baseline ref).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from restore_gate.errors import GateError


def run(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          timeout=300)


def worktree(repo: Path, ref: str, parent: Path) -> Path:
    """Check out `ref` in a temporary git worktree (the release's own code)."""
    target = Path(tempfile.mkdtemp(prefix="baseline-", dir=parent))
    result = subprocess.run(
        ["git", "-C", str(repo), "worktree", "add", "--detach", str(target), ref],
        capture_output=True, text=True, timeout=120,
    )
    if result.returncode != 0:
        raise GateError("evaluate", f"cannot check out baseline ref {ref!r}: "
                        f"{result.stderr.strip().splitlines()[-1] if result.stderr else ''}",
                        "fetch the release tag (actions/checkout with fetch-depth: 0) or fix "
                        "--baseline-ref / baseline.ref")
    return target


def remove_worktree(repo: Path, path: Path) -> None:
    subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(path)],
                   capture_output=True, timeout=120)


FETCH_BASE = ("check the ref's spelling; in GitHub Actions, fetch the base commit: "
              "actions/checkout with `fetch-depth: 2`, or `git fetch origin <sha>` before the gate")


def resolve_commit(repo: Path, ref: str, option: str = "--base") -> str:
    """The full sha of the commit `ref` names; a GateError (exit 2) when git cannot resolve
    it (a typo, or a commit a shallow checkout did not fetch): never "no such config"."""
    if not ref or ref.startswith("-"):
        raise GateError("config", f"{option} {ref!r} is not a git ref", FETCH_BASE)
    result = _git_bytes(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if result.returncode != 0:
        raise GateError("config", f"{option} {ref!r} does not name a commit in the checkout at "
                        f"{repo}, so the gate cannot read the base commit's settings and will not "
                        "let the pull request's own decide", FETCH_BASE)
    return result.stdout.decode().strip()


def git_file(repo: Path, commit: str, path: str, label: str) -> str | None:
    """A regular file's text at `commit`, looked up by `path` as given (no symlink followed);
    None only when git says the commit has no entry there. A symlink, a folder, a submodule
    or any other git failure is a GateError: it must not read as "no such file"."""
    entry = _entry(repo, commit, path, label)
    if entry is None:
        return None
    path, (mode, kind, oid) = entry
    if mode == "120000" or kind != "blob":
        what = "a symlink" if mode == "120000" else f"a {kind} (not a file)"
        raise GateError("config", f"{path} at {label} is {what}",
                        "the gate reads the config and its threshold file by their own paths, "
                        "never through a link: commit the file itself there, or name the real "
                        "file (--config / the action's `config:` input, or `thresholds:`)")
    blob = _git_bytes(repo, "cat-file", "blob", oid)
    if blob.returncode != 0:
        raise GateError("config", f"git cannot read {path} at {label}", FETCH_BASE)
    try:
        return blob.stdout.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GateError("config", f"{path} at {label} is not UTF-8 text",
                        "save the file as UTF-8") from exc


def _entry(repo: Path, commit: str, path: str, label: str) -> tuple[str, tuple] | None:
    """(path, entry) of the file at `path`, or of the first folder on the way that git lists
    as something else (a symlink to a folder: not "no such file"); None: git lists neither."""
    found = _tree_entry(repo, commit, path, label)
    if found is not None:
        return path, found
    parts = path.split("/")
    for folder in ("/".join(parts[:depth]) for depth in range(1, len(parts))):
        entry = _tree_entry(repo, commit, folder, label)
        if entry is None:
            return None
        if entry[1] != "tree":
            return folder, entry
    return None


def _tree_entry(repo: Path, commit: str, path: str, label: str) -> tuple[str, ...] | None:
    """(mode, type, object) of the entry git lists at `path` in `commit`; None: no entry."""
    listing = _git_bytes(repo, "ls-tree", "-z", "--full-tree", commit, "--", path)
    if listing.returncode != 0:
        raise GateError("config", f"git cannot list {path} at {label}: "
                        f"{listing.stderr.decode(errors='replace').strip()[-300:]}", FETCH_BASE)
    entries = [e.split(b"\t", 1) for e in listing.stdout.split(b"\0") if b"\t" in e]
    found = next((meta.split() for meta, name in entries if name == path.encode()), None)
    return None if found is None else tuple(part.decode() for part in found)


def _git_bytes(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "--literal-pathspecs", "-C", str(repo), *args],
                          capture_output=True, timeout=120, check=False)


def repo_root(path: Path) -> Path | None:
    result = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"],
                            capture_output=True, text=True, timeout=30)
    return Path(result.stdout.strip()) if result.returncode == 0 else None
