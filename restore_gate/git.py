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


def git_show(repo: Path, ref: str, path: str) -> str | None:
    """A file's text at a ref (None if it does not exist there)."""
    result = subprocess.run(["git", "-C", str(repo), "show", f"{ref}:{path}"],
                            capture_output=True, text=True, timeout=60)
    return result.stdout if result.returncode == 0 else None


def repo_root(path: Path) -> Path | None:
    result = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"],
                            capture_output=True, text=True, timeout=30)
    return Path(result.stdout.strip()) if result.returncode == 0 else None
