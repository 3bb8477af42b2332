"""GitHub REST access for restore-gate (requests + urllib3 Retry); no TensorFlow here."""

from restore_gate.github.client import GitHub, GitHubError, make_session
from restore_gate.github.repo import Repo, identities

__all__ = ["GitHub", "GitHubError", "Repo", "identities", "make_session"]
