"""Links from a mismatch's `file:line` to that line in the pull request's head commit.

`{server}/{repo}/blob/{sha}/{path}#L{line}` when the server, repository and commit are
known (GITHUB_SERVER_URL, GITHUB_REPOSITORY, the PR head sha or GITHUB_SHA); otherwise
the source stays plain text. A report's `source` is untrusted: only a relative path
inside the repository (absolute paths are made relative to the workspace) with a plain
line number becomes a link, and its characters are percent-encoded. No TensorFlow here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote

_SHA = re.compile(r"^[0-9a-f]{40}$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SERVER = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]+)?$")


@dataclass(frozen=True)
class SourceLinks:
    """Where the branch's code lives on GitHub; `url()` is None when anything is unknown."""

    server: str | None = None
    repository: str | None = None
    sha: str | None = None
    workspace: str | None = None

    @classmethod
    def from_env(cls, sha: str | None = None, repository: str | None = None,
                 workspace: str | None = None) -> SourceLinks:
        env = os.environ
        return cls(server=(env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/"),
                   repository=repository or env.get("GITHUB_REPOSITORY"),
                   sha=sha or env.get("GITHUB_SHA"),
                   workspace=workspace or env.get("GITHUB_WORKSPACE"))

    @property
    def usable(self) -> bool:
        return bool(self.server and _SERVER.match(self.server) and self.repository
                    and _REPO.match(self.repository) and self.sha and _SHA.match(self.sha))

    def url(self, source: object) -> str | None:
        """The blob URL of `path:line`, or None (unknown context, or not a safe location)."""
        where = location(source, self.workspace)
        if where is None or not self.usable:
            return None
        path, line = where
        return (f"{self.server}/{self.repository}/blob/{self.sha}/"
                f"{quote(path, safe='/')}#L{line}")


NO_LINKS = SourceLinks()


def location(source: object, workspace: str | None = None) -> tuple[str, int] | None:
    """(relative path, line) of a `file:line`, or None if it is not a plain repository path."""
    if not isinstance(source, str) or ":" not in source:
        return None
    file, _, line = source.rpartition(":")
    if not line.isdigit() or not file or len(file) > 512 or not file.isprintable():
        return None
    path = PurePosixPath(file)
    if path.is_absolute():
        if not workspace:
            return None
        try:
            path = path.relative_to(PurePosixPath(workspace))
        except ValueError:
            return None
    if ".." in path.parts or not path.parts or "\\" in file:
        return None
    return path.as_posix(), int(line)
