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

import posixpath
from pathlib import Path
from typing import Any

from restore_gate.errors import GateError
from restore_gate.git import git_show, repo_root
from restore_gate.settings.config import Config, parse_config

GATE_KEYS = ("checkpoint", "thresholds", "allow", "baseline")
MAX_VALUE_CHARS = 120  # of one value shown in a change line
MAX_NOTICE_CHARS = 3500  # the report's texts are at most 4096 characters


def load_base_config(config: Config, base: str) -> tuple[Config | None, str]:
    """The config at `base` (its threshold file read at `base` too), and its repository path;
    None when the base commit has no config there."""
    repo = repo_root(config.root)
    if repo is None:
        raise GateError("config", f"--base {base} given, but {config.root} is not a git checkout",
                        "run inside the repository, or drop --base")
    repo = repo.resolve()
    relative = config.path.resolve().relative_to(repo).as_posix()
    text = git_show(repo, base, relative)
    if text is None:
        return None, relative
    root = config.root.relative_to(repo).as_posix()

    def read(path: str) -> str | None:
        return git_show(repo, base, posixpath.normpath(posixpath.join(root, path)))

    label = f"{base}:{root}/" if root != "." else f"{base}:"
    return parse_config(text, Path(f"{base}:{relative}"), config.root, read, label), relative


def apply_base(config: Config, base: Config) -> list[str]:
    """Replace the verdict-deciding sections by the base commit's; return the pull request's
    changes to them, one line each."""
    changes = setting_changes(base.data, config.data)
    for key in GATE_KEYS:
        if key in base.data:
            config.data[key] = base.data[key]
        else:
            config.data.pop(key, None)
    return changes


def setting_changes(base: dict[str, Any], head: dict[str, Any]) -> list[str]:
    """Every verdict-deciding value the pull request changes ("allow.missing [] → ['^x']")."""
    changes = []
    for key in GATE_KEYS:
        before, after = _flatten(base.get(key), key), _flatten(head.get(key), key)
        for name in sorted(set(before) | set(after)):
            old, new = before.get(name, "(none)"), after.get(name, "(none)")
            if old != new and not (_empty(old) and _empty(new)):
                changes.append(f"{name} {_show(old)} → {_show(new)}")
    return changes


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not value:
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        flat.update(_flatten(item, f"{prefix}.{key}"))
    return flat


def _empty(value: Any) -> bool:
    return value in ("(none)", [], {})


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else f"{text[:MAX_VALUE_CHARS]}…"


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
