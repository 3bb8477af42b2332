"""The repository-level GitHub operations restore-gate uses, each naming the permission it needs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import requests

from restore_gate.github.client import GitHub, GitHubError

CONTENTS_READ = "contents: read"
PULLS_READ = "pull-requests: read"
PULLS_WRITE = "pull-requests: write"
CHECKS_WRITE = "checks: write"
ACTIONS_BOT = "github-actions[bot]"
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class Repo:
    """One repository (`owner/name`) seen through a `GitHub` client."""

    def __init__(self, github: GitHub, full_name: str) -> None:
        if not _REPO.match(full_name or ""):
            raise GitHubError(f"{full_name!r} is not a repository name",
                              hint="use owner/name, e.g. GITHUB_REPOSITORY=octo/models")
        self.github = github
        self.name = full_name
        self.path = f"/repos/{full_name}"

    # releases -----------------------------------------------------------------------------
    def latest_release(self) -> dict[str, Any] | None:
        """The latest published release, or None when the repository has none."""
        response = self.github.request("GET", f"{self.path}/releases/latest", ok=(404,),
                                       permission=CONTENTS_READ, what="latest release")
        return None if response.status_code == 404 else response.json()

    def releases(self) -> Iterator[dict[str, Any]]:
        return self.github.paginate(f"{self.path}/releases", permission=CONTENTS_READ,
                                    what=f"releases of {self.name}")

    def assets(self, release_id: int) -> list[dict[str, Any]]:
        return list(self.github.paginate(f"{self.path}/releases/{int(release_id)}/assets",
                                         permission=CONTENTS_READ, what="release assets"))

    def open_asset(self, asset_id: int) -> requests.Response:
        """Stream an asset's bytes (GitHub redirects to its object store: no token goes there)."""
        return self.github.request(
            "GET", f"{self.path}/releases/assets/{int(asset_id)}", stream=True,
            headers={"Accept": "application/octet-stream"}, permission=CONTENTS_READ,
            what=f"download of release asset {asset_id}",
        )

    # pull requests and comments --------------------------------------------------------
    def pull(self, number: int, permission: str = PULLS_READ) -> dict[str, Any]:
        return self.github.json("GET", f"{self.path}/pulls/{int(number)}", permission=permission,
                                what=f"pull request #{number}")

    def comments(self, issue: int) -> Iterator[dict[str, Any]]:
        return self.github.paginate(f"{self.path}/issues/{int(issue)}/comments",
                                    permission=PULLS_READ, what=f"comments of #{issue}")

    def create_comment(self, issue: int, body: str) -> dict[str, Any]:
        return self.github.json("POST", f"{self.path}/issues/{int(issue)}/comments",
                                json={"body": body}, permission=PULLS_WRITE,
                                what=f"new comment on #{issue}")

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        return self.github.json("PATCH", f"{self.path}/issues/comments/{int(comment_id)}",
                                json={"body": body}, permission=PULLS_WRITE,
                                what=f"update of comment {comment_id}")

    def delete_comment(self, comment_id: int) -> None:
        self.github.request("DELETE", f"{self.path}/issues/comments/{int(comment_id)}",
                            permission=PULLS_WRITE, what=f"removal of duplicate {comment_id}")

    def create_check_run(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.github.json("POST", f"{self.path}/check-runs", json=payload,
                                permission=CHECKS_WRITE, what="check run")


def identities(github: GitHub, explicit: str | None = None) -> set[str]:
    """Logins whose comments count as ours: `explicit`, else `GET /user`, else the Actions bot.

    Installation tokens (the workflow's GITHUB_TOKEN, GitHub Apps) cannot call `/user`;
    they write as `github-actions[bot]` (an App writes as `<slug>[bot]`: pass it explicitly).
    """
    if explicit:
        return {explicit}
    response = github.request("GET", "/user", ok=(403, 404), what="token identity")
    if response.status_code == 200:
        login = (response.json() or {}).get("login")
        if isinstance(login, str) and login:
            return {login}
    return {ACTIONS_BOT}
