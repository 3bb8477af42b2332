"""The pull request's base commit decides the gate (`check --base REF`).

Everything in the config that decides the verdict — where the checkpoint comes from and how
it is read (`checkpoint:`: path, url, release tag/asset/repository, format, root, optimizer
policy), the thresholds (inline, or the file they name, read from the base commit with git,
not from the working tree), `allow:` and `baseline:` — is taken from the base commit's
config. The pull request's changes to them are listed ("allow.missing [] → ['^head/']") and
recorded in the report for `publish`; they apply only with the override label. What builds
and evaluates the model (`model:`, `evaluation:`) stays the branch's: that is what is tested.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from restore_gate.errors import GateError
from restore_gate.git import git_file, repo_root, resolve_commit
from restore_gate.settings.config import Config, parse_config
from restore_gate.settings.sections import GATE_KEYS, BaseDecision, setting_changes

__all__ = ["GATE_KEYS", "BaseDecision", "apply_base", "changes_notice", "load_base_config",
           "setting_changes"]

MAX_CHANGES = 50  # changed settings listed in the report
MAX_NOTICE_CHARS = 3500  # the report's texts are at most 4096 characters


def load_base_config(config: Config, base: str) -> tuple[Config | None, str]:
    """The config at `base` (its threshold file read at `base` too), and its repository path;
    None only when git says the base commit has no file at that path. `base` must name a
    commit of the checkout, and the config is looked up by its path as given: a symlink is
    refused, never followed to a path the base commit does not have."""
    repo = repo_root(config.root)
    if repo is None:
        raise GateError("config", f"--base {base} given, but {config.root} is not a git checkout",
                        "run inside the repository, or drop --base")
    repo = repo.resolve()
    commit = resolve_commit(repo, base)
    relative = repository_path(repo, config.path)
    text = git_file(repo, commit, relative, f"the base commit {base}")
    if text is None:
        return None, relative
    root = config.root.relative_to(repo).as_posix()

    def read(path: str) -> str | None:
        return git_file(repo, commit, posixpath.normpath(posixpath.join(root, path)),
                        f"the base commit {base}")

    label = f"{base}:{root}/" if root != "." else f"{base}:"
    return parse_config(text, Path(f"{base}:{relative}"), config.root, read, label), relative


def repository_path(repo: Path, path: Path) -> str:
    """`path`'s place in the repository as written (lexically, no symlink resolved); a
    GateError when it or a folder on the way is a symlink."""
    absolute = Path(os.path.abspath(path))
    top = next((p for p in absolute.parents if p.exists() and p.samefile(repo)), None)
    if top is None:
        raise GateError("config", f"the config {path} is not inside the repository {repo}",
                        "keep the config in the repository checked against --base")
    relative = absolute.relative_to(top)
    for depth in range(1, len(relative.parts) + 1):
        step = top.joinpath(*relative.parts[:depth])
        if step.is_symlink():
            raise GateError("config", f"the config {path}: {step} is a symlink, so the base "
                            "commit's settings cannot be looked up by its path",
                            "commit the config itself (not a link), or name the real file "
                            "(--config / the action's `config:` input)")
    return relative.as_posix()


def apply_base(config: Config, base: Config, ref: str) -> tuple[Config, BaseDecision]:
    """A new config with the verdict-deciding sections of the base commit's (`base`, at
    `ref`), and the decision listing the pull request's changes to them; `config` is kept."""
    return config.with_base(base, ref)


def changes_notice(base: str, changes: list[str]) -> str:
    """The comment's notice: as many changes as fit the report's text limit."""
    head = (f"This pull request changes settings that decide the verdict; the base commit's "
            f"({base}) apply, the pull request's only with the override label: ")
    shown: list[str] = []
    for change in changes:
        if len(head) + sum(len(c) + 2 for c in [*shown, change]) > MAX_NOTICE_CHARS:
            break
        shown.append(change)
    rest = len(changes) - len(shown)
    return head + "; ".join(shown) + (f"; and {rest} more (in the report)" if rest else "")
