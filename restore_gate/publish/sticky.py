"""The one sticky comment: found by its marker among our own comments, updated in place.

Creating is the one write that must not be repeated blindly: when a POST fails in a
way that may have been applied (5xx, timeout), every page of comments is searched
again before anything is created, so a retry updates instead of duplicating.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from restore_gate.github import GitHubError, Repo
from restore_gate.present.markdown import MARKER

ATTEMPTS = 4


def ours(repo: Repo, issue: int, authors: set[str]) -> list[dict[str, Any]]:
    """Our marker comments on the pull request (every page), oldest first."""
    return [c for c in repo.comments(issue)
            if MARKER in (c.get("body") or "") and (c.get("user") or {}).get("login") in authors]


def upsert(repo: Repo, issue: int, body: str, authors: set[str]) -> dict[str, Any]:
    """Update our comment, or create it; never two. Returns the comment."""
    # the pace of retries only (tests shorten it), no verdict: left out of mutation runs
    pause = float(os.environ.get("RESTORE_GATE_HTTP_BACKOFF", "1") or 1)  # pragma: no mutate
    for attempt in range(ATTEMPTS):
        found = ours(repo, issue, authors)
        try:
            if not found:
                return repo.create_comment(issue, body)
            comment = repo.update_comment(found[0]["id"], body)
            for extra in found[1:]:  # duplicates left by an older run: remove them
                with contextlib.suppress(GitHubError):
                    repo.delete_comment(extra["id"])
            return comment
        except GitHubError as exc:
            ambiguous = exc.status is None or exc.status >= 500
            if not ambiguous or attempt == ATTEMPTS - 1:
                raise
            time.sleep(pause * 2**attempt)
    raise AssertionError("unreachable")


def check_run(repo: Repo, head_sha: str, verdict: str, overridden: bool, title: str,
              body: str, notes: list[dict[str, Any]]) -> dict[str, Any]:
    """A completed check run named `restore-gate` with up to 50 annotations."""
    conclusion = "neutral" if overridden else {"pass": "success"}.get(verdict, "failure")
    summary = body if len(body) <= 65_535 else body[:65_000] + "\n\n(trimmed)"
    return repo.create_check_run({
        "name": "restore-gate", "head_sha": head_sha, "status": "completed",
        "conclusion": conclusion,
        "output": {"title": title[:200], "summary": summary, "annotations": notes[:50]},
    })
