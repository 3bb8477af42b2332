"""The release checkpoint from the pull request's base commit (`check --base REF`).

When the config names a checkpoint file the repository tracks, and the pull request changed
it, the base commit's version is the release: the branch cannot replace what it is tested
against.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from restore_gate import git
from restore_gate.errors import GateError
from restore_gate.git import repo_root
from restore_gate.release.bundle import extract_bundle
from restore_gate.settings.config import Config


def base_checkpoint_file(config: Config, base: str, workdir: Path) -> str | None:
    """When `checkpoint.path` is a file (or a checkpoint's folder) the base commit tracks and
    the pull request changed it, unpack the base commit's version into `workdir` and return
    its path: the release checkpoint comes from the base commit too, not from the branch."""
    named = config.checkpoint.path
    repo = repo_root(config.root)
    if not named or Path(named).is_absolute() or repo is None:
        return None
    repo = repo.resolve()
    root = config.root.relative_to(repo).as_posix()
    relative = posixpath.normpath(posixpath.join(root, named))
    if relative.startswith("../"):
        return None
    tracked = next((p for p in (relative, posixpath.dirname(relative))
                    if p not in ("", ".") and git.run(repo, "ls-tree", base, "--", p).stdout), None)
    if tracked is None or git.run(repo, "diff", "--quiet", base, "--", tracked).returncode == 0:
        return None
    archive, target = workdir / "base-checkpoint.tar", workdir / "base-checkpoint"
    if git.run(repo, "archive", "--format=tar", "-o", str(archive), base, "--", tracked).returncode:
        raise GateError("config", f"cannot read {tracked} at the base commit {base}",
                        "fetch the base commit (actions/checkout with fetch-depth: 2)")
    target.mkdir()
    extract_bundle(archive, target)
    return str(target / relative)
