"""Where to publish: repository, pull request and commit, from options and the Actions environment.

Event files can come from an artifact written by a fork's job (the fork-safe split),
so every value read from them is type-checked and nothing else is trusted.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restore_gate.present.links import SourceLinks

_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass
class Context:
    repository: str | None
    pr: int | None
    head_sha: str | None  # the commit the reports are about, from this run's own event only
    trusted_head_sha: str | None  # workflow_run.head_sha of the run that produced the reports
    github_sha: str | None  # GITHUB_SHA (outside the workflow_run split)
    workflow_run: bool  # this run is the split's publishing job (`workflow_run` event)
    workspace: Path | None  # GITHUB_WORKSPACE: annotation paths are relative to it

    @classmethod
    def from_env(cls, pr: int | None = None, repository: str | None = None,
                 event: Path | None = None) -> Context:
        env = os.environ
        runtime = _read_event(env.get("GITHUB_EVENT_PATH"))
        given = _read_event(str(event)) if event else {}
        run = runtime.get("workflow_run") if isinstance(runtime.get("workflow_run"), dict) else {}
        number = pr or _pr_number(given) or _pr_number(runtime)
        split = "workflow_run" in runtime
        # Never the artifact's event: a fork writes it, and a check run on a commit it names
        # would mark that commit as passing.
        head = _sha(run.get("head_sha")) if split else _head_sha(runtime)
        return cls(
            repository=repository or env.get("GITHUB_REPOSITORY") or None,
            pr=number,
            head_sha=head,
            trusted_head_sha=_sha(run.get("head_sha")),
            github_sha=None if split else _sha(env.get("GITHUB_SHA")),
            workflow_run=split,
            workspace=_path(env.get("GITHUB_WORKSPACE")),
        )


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _read_event(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.loads(handle.read(16 * 1024 * 1024))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _sha(value: Any) -> str | None:
    return value if isinstance(value, str) and _SHA.match(value) else None


def _pr_number(event: dict[str, Any]) -> int | None:
    """pull_request(_target) events, issue_comment on a pull request, same-repo workflow_run."""
    pull = event.get("pull_request")
    if isinstance(pull, dict) and _number(pull.get("number")):
        return pull["number"]
    issue = event.get("issue")
    if isinstance(issue, dict) and isinstance(issue.get("pull_request"), dict):
        return _number(issue.get("number"))
    run = event.get("workflow_run")
    if isinstance(run, dict) and isinstance(run.get("pull_requests"), list):
        for item in run["pull_requests"]:
            if isinstance(item, dict) and _number(item.get("number")):
                return item["number"]
    return None


def _head_sha(event: dict[str, Any]) -> str | None:
    pull = event.get("pull_request")
    if isinstance(pull, dict) and isinstance(pull.get("head"), dict):
        return _sha(pull["head"].get("sha"))
    run = event.get("workflow_run")
    return _sha(run.get("head_sha")) if isinstance(run, dict) else None


def source_links() -> SourceLinks:
    """In a workflow: links to the pull request's head commit from the event, else GITHUB_SHA."""
    ctx = Context.from_env()
    return SourceLinks.from_env(ctx.head_sha, ctx.repository,
                                str(ctx.workspace) if ctx.workspace else None)
