"""Everything `publish` asks of GitHub: labels, the sticky comment, the check run.

Each call is wrapped: a failure (network, 401/403, 5xx after retries) becomes a
warning and never changes the verdict or the exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

from restore_gate.github import GitHub, GitHubError, Repo, identities
from restore_gate.github.actions import Actions
from restore_gate.github.context import Context
from restore_gate.github.repo import PULLS_WRITE
from restore_gate.publish.annotations import describe, located
from restore_gate.publish.sticky import check_run, upsert

T = TypeVar("T")


class Remote:
    """GitHub for one publish run: repository and pull request from the `Context`."""

    def __init__(self, ctx: Context, actions: Actions, github: GitHub,
                 comment_author: str | None = None) -> None:
        self.ctx = ctx
        self.actions = actions
        self.github = github
        self.comment_author = comment_author
        self.warnings: list[str] = []
        self._pull: dict[str, Any] | None = None
        self.refused: int | None = None  # a pull request whose head moved past the reports

    @property
    def missing(self) -> str:
        if not self.ctx.repository:
            return "no repository (set GITHUB_REPOSITORY or pass --repo)"
        if not self.github.token:
            return "no token (set GITHUB_TOKEN, or the action's github-token input)"
        return ""

    def warn(self, message: str) -> None:
        message = self.github.mask(message)
        self.warnings.append(message)
        self.actions.warning(message)

    def call(self, what: str, action: Callable[[], T]) -> T | None:
        try:
            return action()
        except GitHubError as exc:
            self.warn(f"{what} failed: {exc}")
        except Exception as exc:  # publishing never changes the verdict
            self.warn(f"{what} failed: {type(exc).__name__}: {exc}")
        return None

    def repo(self) -> Repo:
        return Repo(self.github, self.ctx.repository or "")

    def pull(self) -> dict[str, Any] | None:
        """The pull request (read once); None if unknown, unreadable or not the reports' commit."""
        if self._pull is None:
            self._pull = {}
            if self.ctx.pr and not self.missing:
                number = self.ctx.pr
                self._pull = self.call(f"reading pull request #{number}",  # to comment: write
                                       lambda: self.repo().pull(number, PULLS_WRITE)) or {}
                head = (self._pull.get("head") or {}).get("sha")
                trusted = self.ctx.trusted_head_sha
                if self._pull and trusted and head != trusted:
                    self.warn(f"pull request #{number} is at commit {head}, but the reports are "
                              f"about {trusted}: not publishing to it")
                    self._pull, self.refused = {}, number
        return self._pull or None

    def labels(self) -> set[str]:
        labels = (self.pull() or {}).get("labels") or []
        return {label.get("name") for label in labels if isinstance(label, dict)}

    def comment(self, body: str) -> str:
        """Post or update the sticky comment; its URL, or '' when nothing was posted."""
        if not self.ctx.pr:
            print("restore-gate: not a pull request: no comment posted", file=sys.stderr)
            return ""
        if self.missing:
            self.warn(f"no comment posted: {self.missing}")
            return ""
        if self.pull() is None:
            if self.refused:  # the warning above said why
                print(f"restore-gate: no comment posted on #{self.refused}: its head moved on",
                      file=sys.stderr)
            return ""
        number = self.ctx.pr

        def post() -> str:
            authors = identities(self.github, self.comment_author)
            return upsert(self.repo(), number, body, authors).get("html_url", "")

        return self.call(f"posting the comment on #{number}", post) or ""

    def check_run(self, body: str, reports: list[dict], verdict: str, overridden: bool) -> None:
        head = self.ctx.head_sha  # the split's publishing job: workflow_run.head_sha only
        if head is None and not self.ctx.workflow_run:
            head = ((self.pull() or {}).get("head") or {}).get("sha") or self.ctx.github_sha
        if self.missing or not head:
            self.warn(f"no check run: {self.missing or 'the commit is unknown'}")
            return
        notes = [{"path": file, "start_line": line, "end_line": line,
                  "annotation_level": "warning" if overridden else "failure",
                  "message": describe(m)[:4000], "title": f"restore-gate: {m['kind']} mismatch"}
                 for (file, line), m in located(reports, self.ctx.workspace)]
        lines = body.splitlines()
        title = lines[1].lstrip("# ") if len(lines) > 1 else "restore-gate"
        self.call("creating the check run", lambda: check_run(
            self.repo(), head, verdict, overridden, title, body, notes))
