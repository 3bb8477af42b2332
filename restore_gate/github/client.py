"""A small GitHub REST client: token auth, retries with backoff, Link pagination.

Retries go through urllib3's `Retry`: GET/PATCH/PUT/DELETE are retried on 5xx;
any method is retried when GitHub answers with a rate limit (403/429 with
`Retry-After` or `x-ratelimit-remaining: 0`: the request was not processed) or
when the connection could not be opened. A POST that reached the server is never
retried here: callers that create things search before they create again.
The token is never printed: every message goes through `mask()`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from restore_gate import __version__

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100
TIMEOUT = (10, 60)  # connect, read (seconds)
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
RETRY_STATUSES = frozenset({403, 429, 500, 502, 503, 504})
RATE_LIMIT_STATUSES = frozenset({403, 429})


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def rate_limit_wait(headers: Any, now: float | None = None) -> float | None:
    """Seconds GitHub asks us to wait, or None when the answer is not a rate limit."""
    retry_after = headers.get("Retry-After")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return None
    if headers.get("x-ratelimit-remaining") == "0":
        try:
            reset = float(headers.get("x-ratelimit-reset", ""))
        except ValueError:
            return 60.0
        return max(0.0, reset - (time.time() if now is None else now)) + 0.5
    return None


class GitHubRetry(Retry):
    """`Retry` that understands GitHub's rate-limit answers (403/429 + headers)."""

    max_wait: float = 60.0

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code in RATE_LIMIT_STATUSES:  # any method: a rate-limited call was not applied
            return bool(self.total)
        return super().is_retry(method, status_code, has_retry_after)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None,
                  _stacktrace=None):  # type: ignore[override]
        if error is None and response is not None and response.status in RATE_LIMIT_STATUSES:
            wait = rate_limit_wait(response.headers)
            if wait is None or wait > self.max_wait:  # a permission error, or too long a wait
                raise MaxRetryError(_pool, url, ResponseError(f"{response.status} not retried"))
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def get_retry_after(self, response) -> float | None:  # type: ignore[override]
        if response.status in RATE_LIMIT_STATUSES:
            return rate_limit_wait(response.headers)
        return super().get_retry_after(response)

    def sleep_for_retry(self, response) -> bool:  # type: ignore[override]
        wait = self.get_retry_after(response)
        if wait is None:
            return False
        time.sleep(min(wait, self.max_wait))
        return True

    def new(self, **kw: Any) -> GitHubRetry:
        retry = super().new(**kw)
        retry.max_wait = self.max_wait
        return retry


def make_retry() -> GitHubRetry:
    """The retry policy; `RESTORE_GATE_HTTP_BACKOFF` (seconds) and
    `RESTORE_GATE_RATE_LIMIT_WAIT` (longest wait for a rate limit) tune it."""
    retry = GitHubRetry(
        total=5, connect=3, read=2, status=4, redirect=5, other=0,
        allowed_methods=IDEMPOTENT, status_forcelist=RETRY_STATUSES,
        backoff_factor=_env_float("RESTORE_GATE_HTTP_BACKOFF", 1.0), backoff_max=30,
        raise_on_status=False, raise_on_redirect=False, respect_retry_after_header=True,
    )
    retry.max_wait = _env_float("RESTORE_GATE_RATE_LIMIT_WAIT", 60.0)
    return retry


def make_session(headers: dict[str, str] | None = None) -> requests.Session:
    """A `requests` session with the retry policy on http and https."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=make_retry())
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = f"restore-gate/{__version__}"
    session.headers.update(headers or {})
    return session


class GitHubError(Exception):
    """A GitHub API call that did not succeed; the message never holds the token."""

    def __init__(self, message: str, status: int | None = None, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


def _warn_plain_http(api_url: str) -> None:
    """The token would travel in clear text: say so (loopback included: the tests' stub)."""
    host = urlsplit(api_url).hostname or api_url
    loopback = host in ("127.0.0.1", "::1", "localhost")
    print(f"restore-gate: warning: GITHUB_API_URL {urlsplit(api_url).scheme}://{host} is plain "
          f"http: the GitHub token is sent unencrypted"
          + (" (to this machine's loopback)" if loopback else
             ", readable by anyone on the network path: use an https:// API URL"),
          file=sys.stderr, flush=True)


class GitHub:
    """GitHub REST calls for one token and one API base URL."""

    def __init__(self, token: str | None, api_url: str | None = None) -> None:
        self.token = token or None
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        if self.token and urlsplit(self.api_url).scheme.lower() != "https":
            _warn_plain_http(self.api_url)
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self.session = make_session(headers)

    @classmethod
    def from_env(cls) -> GitHub:
        """Token from `GITHUB_TOKEN` (or `GH_TOKEN`), base URL from `GITHUB_API_URL`."""
        token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
        return cls(token, os.environ.get("GITHUB_API_URL") or None)

    def mask(self, text: object) -> str:
        text = str(text)
        return text.replace(self.token, "***") if self.token else text

    def url(self, path: str) -> str:
        return path if path.startswith(self.api_url + "/") else f"{self.api_url}{path}"

    def request(self, method: str, path: str, *, permission: str = "", what: str = "",
                ok: tuple[int, ...] = (), **kwargs: Any) -> requests.Response:
        """Send one call; raise `GitHubError` unless it succeeded (< 400, or a status in `ok`)."""
        url = self.url(path)
        if not url.startswith(self.api_url + "/"):
            raise GitHubError(f"refusing to send the token to {urlsplit(url).netloc}")
        what = what or f"{method} {urlsplit(url).path}"
        kwargs.setdefault("timeout", TIMEOUT)
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            raise GitHubError(self.mask(f"{what}: GitHub API at {self.api_url} unreachable: "
                                        f"{type(exc).__name__}: {exc}"),
                              hint="check the network and GITHUB_API_URL") from None
        if response.status_code < 400 or response.status_code in ok:
            return response
        raise self._error(response, what, permission)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    def paginate(self, path: str, params: dict[str, Any] | None = None, **kwargs: Any
                 ) -> Iterator[Any]:
        """Every item of a list endpoint, following `Link: rel="next"` (100 per page)."""
        url: str | None = self.url(path)
        query: dict[str, Any] | None = {**(params or {}), "per_page": PER_PAGE}
        while url:
            response = self.request("GET", url, params=query, **kwargs)
            items = response.json()
            if not isinstance(items, list):
                raise GitHubError(f"GET {urlsplit(url).path}: expected a list from GitHub")
            yield from items
            url, query = response.links.get("next", {}).get("url"), None

    def _error(self, response: requests.Response, what: str, permission: str) -> GitHubError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        detail = body.get("message", "") if isinstance(body, dict) else ""
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            detail += "".join(f"; {e.get('message', e)}" if isinstance(e, dict) else f"; {e}"
                              for e in body["errors"][:3])
        status = response.status_code
        message = self.mask(f"{what}: GitHub answered {status} {detail or response.reason}")
        accepted = response.headers.get("x-accepted-github-permissions")
        need = permission or (accepted or "").replace("=", ": ")
        if status == 401:
            hint = ("the token is missing, expired or revoked: pass a valid token (the action's "
                    "`github-token` input, GITHUB_TOKEN)" + (f" with `{need}`" if need else ""))
        elif status in RATE_LIMIT_STATUSES and rate_limit_wait(response.headers) is not None:
            reset = response.headers.get("x-ratelimit-reset", "")
            hint = "rate limit exhausted" + (
                f" until {time.strftime('%H:%M:%S UTC', time.gmtime(int(reset)))}"
                if reset.isdigit() else "") + ": retry later or use a token with a higher limit"
        elif status == 403 and need:
            hint = (f"the token needs the `{need}` permission: add `permissions: {need}` to the "
                    "workflow job (or use a token that has it)")
        elif status == 404 and need:
            hint = (f"it does not exist, or the token cannot see it: check the name, and that "
                    f"the token has `{need}` on this repository")
        else:
            hint = ""
        return GitHubError(message, status, self.mask(hint))
