"""A loopback GitHub stand-in, as strict as GitHub for the operations restore-gate uses.

    with GitHubStub() as gh:                       # two threaded servers on 127.0.0.1
        gh.add_release("v1", {"model.tar.gz": data})
        gh.add_pull(7, labels=["restore-gate: allow-break"])
        gh.fail("POST", r"/issues/\\d+/comments$", status=502, times=2)
        env = gh.env(pr=7)                         # GITHUB_API_URL, GITHUB_TOKEN, ...
        ...                                        # run restore-gate against gh.base_url
        gh.comments_on(7), gh.requests, gh.store_requests

Strictness: a token is required (401 without one or with a wrong one), a User-Agent too
(403), token permissions are enforced (403 naming `x-accepted-github-permissions`),
lists paginate with `Link` headers (30 per page by default, `per_page` capped at 100),
comment bodies over 65,536 characters get GitHub's 422, bots may not edit other people's
comments, and release assets fetched as `application/octet-stream` answer 302 to a second
server (another port: another host) that refuses any request carrying `Authorization`.
Every request is validated against `tests/data/external/github/openapi-subset.json` (copied)
with openapi-core,
and so is every response the stand-in gives with a status the description declares;
problems land in `validation_errors` and fail the `with` block. `GET /user` is not in the
subset: it is added to the description here with GitHub's documented shape.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

SPEC_PATH = Path(__file__).resolve().parent / "data" / "external" / "github" / "openapi-subset.json"
BODY_LIMIT = 65536
MAX_PER_PAGE = 100
TOKEN = "ghs_" + "T0kenForTests" * 3
ACTIONS_BOT = "github-actions[bot]"
READ, WRITE = 1, 2
DEFAULT_PERMISSIONS = {"contents": READ, "pull_requests": WRITE, "issues": WRITE, "checks": WRITE}


@cache
def spec() -> dict[str, Any]:
    data = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    user = {"$ref": "#/components/schemas/simple-user"}
    data["paths"]["/user"] = {"get": {"operationId": "users/get-authenticated", "responses": {
        "200": {"description": "OK", "content": {"application/json": {"schema": user}}},
        "403": {"$ref": "#/components/responses/forbidden"}}}}
    return data


@cache
def openapi():
    from openapi_core import OpenAPI

    return OpenAPI.from_dict(spec())


def instance(schema: dict[str, Any], depth: int = 0) -> Any:
    """A minimal value valid for `schema` (required properties only, nullable → None)."""
    if "$ref" in schema:
        schema = _resolve(schema["$ref"])
    if schema.get("nullable") or depth > 12:
        return None
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(instance(part, depth + 1) or {})
        return merged
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return instance(schema[key][0], depth + 1)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: instance(props.get(k, {"type": "string"}), depth + 1)
                for k in schema.get("required", [])}
    fmt = schema.get("format")
    return {"array": [], "integer": schema.get("minimum", 1), "number": 1.0, "boolean": False,
            "string": {"date-time": "2024-01-01T00:00:00Z", "uri": "https://example.invalid/x",
                       "email": "x@example.invalid"}.get(fmt, "x")}[kind]


def _resolve(ref: str) -> dict[str, Any]:
    node: Any = spec()
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def make(schema: str, **fields: Any) -> dict[str, Any]:
    return {**copy.deepcopy(_template(schema)), **fields}


@cache
def _template(name: str) -> dict[str, Any]:
    return instance({"$ref": f"#/components/schemas/{name}"})


@dataclass
class Token:
    login: str
    installation: bool = True  # installation tokens (GITHUB_TOKEN, Apps) cannot call /user
    permissions: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    times: int
    applied: bool = False  # apply the write, then answer with the fault anyway
    headers: dict[str, str] = field(default_factory=dict)


class GitHubStub:
    """The API server plus an object store for release asset bytes."""

    def __init__(self, repo: str = "octo/models", prefix: str = "", token: str = TOKEN,
                 login: str = ACTIONS_BOT, installation: bool = True) -> None:
        self.repo, self.prefix, self.token = repo, prefix, token
        self.tokens = {token: Token(login, installation)}
        self.requests: list[Recorded] = []
        self.store_requests: list[Recorded] = []
        self.validation_errors: list[str] = []
        self.releases: list[dict[str, Any]] = []
        self.asset_bytes: dict[int, bytes] = {}
        self.pulls: dict[int, dict[str, Any]] = {}
        self.comments: list[dict[str, Any]] = []
        self.check_runs: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.store_signatures: dict[str, int] = {}
        self._ids = iter(range(1000, 10**9))
        self._lock = threading.RLock()
        self._servers: list[ThreadingHTTPServer] = []

    # lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> GitHubStub:
        openapi()  # load once, before the first request
        self.api = self._serve(_ApiHandler)
        self.store = self._serve(_StoreHandler)
        self.base_url = f"http://127.0.0.1:{self.api.server_port}{self.prefix}"
        self.store_url = f"http://127.0.0.1:{self.store.server_port}"
        return self

    def __exit__(self, kind, value, tb) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        if kind is None:
            assert not self.validation_errors, "\n".join(self.validation_errors)

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.stub = self  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        self._servers.append(server)
        return server

    def env(self, pr: int | None = None, event_path: Path | None = None) -> dict[str, str]:
        """The environment a workflow step gets (plus fast retries for tests)."""
        env = {"GITHUB_API_URL": self.base_url, "GITHUB_TOKEN": self.token,
               "GITHUB_REPOSITORY": self.repo, "RESTORE_GATE_HTTP_BACKOFF": "0.01"}
        if event_path is not None:
            env["GITHUB_EVENT_PATH"] = str(event_path)
            if pr is not None:
                event_path.write_text(json.dumps({"pull_request": {
                    "number": pr, "head": {"sha": self.pull_head(pr)}}}), encoding="utf-8")
        return env

    # test data ---------------------------------------------------------------------------
    def add_token(self, token: str, login: str, installation: bool = False,
                  **permissions: int) -> None:
        self.tokens[token] = Token(login, installation, {**DEFAULT_PERMISSIONS, **permissions})

    def set_permissions(self, **permissions: int) -> None:
        """Change the main token's permissions, e.g. `pull_requests=READ`, `checks=0`."""
        self.tokens[self.token].permissions.update(permissions)

    def add_release(self, tag: str, assets: dict[str, bytes], draft: bool = False,
                    prerelease: bool = False, digests: dict[str, str | None] | None = None
                    ) -> dict[str, Any]:
        rid = next(self._ids)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1.7e9 + rid))
        release = make("release", id=rid, tag_name=tag, name=tag, draft=draft,
                       prerelease=prerelease, created_at=stamp, published_at=stamp, assets=[])
        for name, data in assets.items():
            aid = next(self._ids)
            digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
            release["assets"].append(make(
                "release-asset", id=aid, name=name, size=len(data), state="uploaded",
                content_type="application/gzip",
                digest=(digests or {}).get(name, digest),
                url=f"https://api.github.com/repos/{self.repo}/releases/assets/{aid}"))
            self.asset_bytes[aid] = data
        self.releases.append(release)
        return release

    def add_pull(self, number: int, labels: list[str] = (), head_sha: str | None = None) -> None:
        pull = make("pull-request", number=number, state="open")
        pull["labels"] = [{"id": i, "node_id": "x", "url": "https://example.invalid/l",
                           "name": n, "description": None, "color": "ffffff", "default": False}
                          for i, n in enumerate(labels)]
        pull["head"]["sha"] = head_sha or hashlib.sha1(str(number).encode()).hexdigest()
        self.pulls[number] = pull

    def pull_head(self, number: int) -> str:
        return self.pulls[number]["head"]["sha"] if number in self.pulls else "0" * 40

    def add_comment(self, issue: int, body: str, login: str = "alice") -> dict[str, Any]:
        with self._lock:
            cid = next(self._ids)
            comment = make(
                "issue-comment", id=cid, body=body, user=self.user(login),
                html_url=f"https://github.invalid/{self.repo}/pull/{issue}#issuecomment-{cid}",
                url=f"https://api.github.com/repos/{self.repo}/issues/comments/{cid}",
                issue_url=f"https://api.github.com/repos/{self.repo}/issues/{issue}",
                author_association="NONE")
            comment["_issue"] = issue
            self.comments.append(comment)
            return comment

    def comments_on(self, issue: int) -> list[dict[str, Any]]:
        return [c for c in self.comments if c["_issue"] == issue]

    def user(self, login: str) -> dict[str, Any]:
        return make("simple-user", login=login, type="Bot" if login.endswith("[bot]") else "User")

    def fail(self, method: str, pattern: str, status: int = 502, times: int = 1,
             applied: bool = False, headers: dict[str, str] | None = None) -> None:
        """Answer the next `times` matching requests with `status` (after applying, if asked)."""
        self.faults.append(Fault(method, re.compile(pattern), status, times, applied,
                                 headers or {}))

    def rate_limit(self, method: str, pattern: str, times: int = 1, reset_in: float = 1.0,
                   status: int = 403) -> None:
        """GitHub's primary rate limit: 403 with `x-ratelimit-remaining: 0` and a reset time."""
        reset = str(int(time.time() + reset_in))
        self.fail(method, pattern, status, times,
                  headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})

    def calls(self, method: str, pattern: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and fault.pattern.search(path):
                    fault.times -= 1
                    return fault
        return None


def _error(message: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "documentation_url": "https://docs.github.com/rest", **extra}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    stub: GitHubStub

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        self.stub = self.server.stub  # type: ignore[attr-defined]

    def _read(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "application/json; charset=utf-8") -> None:
        self.send_response(status)
        if body or status not in (204, 302):
            self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _StoreHandler(_Handler):
    """The object store behind release asset redirects: signed URLs, never a token."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        self.stub.store_requests.append(Recorded("GET", url.path, query, dict(self.headers), None))
        if "Authorization" in self.headers:
            self._send(400, b"<Error><Code>InvalidArgument</Code><Message>Only one auth "
                       b"mechanism allowed</Message></Error>", content_type="application/xml")
            return
        aid = self.stub.store_signatures.get(query.get("X-Amz-Signature", ""))
        if aid is None or url.path != f"/objects/{aid}":
            self._send(403, b"<Error><Code>AccessDenied</Code></Error>",
                       content_type="application/xml")
            return
        self._send(200, self.stub.asset_bytes[aid], content_type="application/octet-stream")


class _ApiHandler(_Handler):
    """GitHub's REST API for one repository (see the module docstring for the rules)."""

    do_GET = lambda self: self.handle_api("GET")  # noqa: E731
    do_POST = lambda self: self.handle_api("POST")  # noqa: E731
    do_PATCH = lambda self: self.handle_api("PATCH")  # noqa: E731
    do_DELETE = lambda self: self.handle_api("DELETE")  # noqa: E731

    def handle_api(self, method: str) -> None:
        stub = self.stub
        url = urlsplit(self.path)
        path = url.path[len(stub.prefix):] if url.path.startswith(stub.prefix) else "/-"
        query = dict(parse_qsl(url.query))
        raw = self._read()
        body = _parse(raw)
        record = Recorded(method, path, query, dict(self.headers), body)
        with stub._lock:
            stub.requests.append(record)
        request = _mock_request(method, path, query, dict(self.headers), raw)
        problems = openapi().unmarshal_request(request).errors
        if problems:
            stub.validation_errors.append(f"request {method} {path}: {_explain(problems)}")
        status, payload, headers = self._answer(method, path, query, body, bool(problems))
        record.status = status
        data = b"" if payload is None else json.dumps(payload).encode()
        sample = payload[:2] if isinstance(payload, list) else payload  # items are alike
        sample_data = data if sample is payload else json.dumps(sample).encode()
        self._check_response(request, status, sample_data, headers, method, path)
        self._send(status, data, {**_rate_headers(), **headers})

    def _answer(self, method: str, path: str, query: dict[str, str], body: Any,
                invalid: bool) -> tuple[int, Any, dict[str, str]]:
        stub = self.stub
        if not self.headers.get("User-Agent"):
            return 403, _error("Request forbidden by administrative rules. Please make sure "
                               "your request has a User-Agent header"), {}
        auth = self.headers.get("Authorization", "")
        scheme, _, secret = auth.partition(" ")
        if not auth:
            return 401, _error("Requires authentication"), {}
        token = stub.tokens.get(secret) if scheme.lower() in ("bearer", "token") else None
        if token is None:
            return 401, _error("Bad credentials"), {}
        if body is _INVALID or (invalid and method in ("POST", "PATCH")):
            return 422, _error("Invalid request.", status="422"), {}
        fault = stub.take_fault(method, path)
        if fault and not fault.applied:
            return fault.status, _error(f"injected {fault.status}"), fault.headers
        answer = self._route(method, path, query, body, token)
        if fault:
            return fault.status, _error(f"injected {fault.status} (applied)"), fault.headers
        return answer

    def _route(self, method: str, path: str, query: dict[str, str], body: Any,
               token: Token) -> tuple[int, Any, dict[str, str]]:
        for verb, pattern, name, need in ROUTES:
            match = re.match(pattern, path)
            if verb != method or not match:
                continue
            args = match.groupdict()
            if args.pop("repo", self.stub.repo) != self.stub.repo:
                return 404, _error("Not Found"), {}
            if need and token.permissions.get(need[0], 0) < need[1]:
                level = "write" if need[1] == WRITE else "read"
                return 403, _error("Resource not accessible by integration"), {
                    "x-accepted-github-permissions": f"{need[0]}={level}"}
            with self.stub._lock:
                return getattr(self, f"op_{name}")(query, body, token, **args)
        return 404, _error("Not Found"), {}

    # operations ------------------------------------------------------------------------
    def op_user(self, query, body, token):
        if token.installation:
            return 403, _error("Resource not accessible by integration"), {}
        return 200, self.stub.user(token.login), {}

    def op_latest(self, query, body, token):
        published = [r for r in self.stub.releases if not r["draft"] and not r["prerelease"]]
        if not published:
            return 404, _error("Not Found"), {}
        return 200, max(published, key=lambda r: r["created_at"]), {}

    def op_releases(self, query, body, token):
        visible = [r for r in self.stub.releases if not r["draft"]]
        return self._page(sorted(visible, key=lambda r: r["created_at"], reverse=True), query)

    def op_release_assets(self, query, body, token, rid):
        for release in self.stub.releases:
            if release["id"] == int(rid) and not release["draft"]:
                return self._page(release["assets"], query)
        return 404, _error("Not Found"), {}

    def op_asset(self, query, body, token, aid):
        asset = next((a for r in self.stub.releases for a in r["assets"] if a["id"] == int(aid)),
                     None)
        if asset is None:
            return 404, _error("Not Found"), {}
        if "application/octet-stream" not in self.headers.get("Accept", ""):
            return 200, asset, {}
        signature = secrets.token_hex(8)
        self.stub.store_signatures[signature] = asset["id"]
        location = f"{self.stub.store_url}/objects/{asset['id']}?X-Amz-Signature={signature}"
        return 302, None, {"Location": location}

    def op_pull(self, query, body, token, number):
        pull = self.stub.pulls.get(int(number))
        return (200, pull, {}) if pull else (404, _error("Not Found"), {})

    def op_comments(self, query, body, token, number):
        if int(number) not in self.stub.pulls:
            return 404, _error("Not Found"), {}
        return self._page([_public(c) for c in self.stub.comments_on(int(number))], query)

    def op_create_comment(self, query, body, token, number):
        if int(number) not in self.stub.pulls:
            return 404, _error("Not Found"), {}
        if len(body["body"]) > BODY_LIMIT:
            return _too_long()
        return 201, _public(self.stub.add_comment(int(number), body["body"], token.login)), {}

    def op_get_comment(self, query, body, token, cid):
        comment = self._comment(cid)
        return (200, _public(comment), {}) if comment else (404, _error("Not Found"), {})

    def op_update_comment(self, query, body, token, cid):
        comment = self._comment(cid)
        if comment is None:
            return 404, _error("Not Found"), {}
        if comment["user"]["login"] != token.login:
            return 403, _error("Resource not accessible by integration"), {}
        if len(body["body"]) > BODY_LIMIT:
            return _too_long()
        comment["body"] = body["body"]
        comment["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return 200, _public(comment), {}

    def op_delete_comment(self, query, body, token, cid):
        comment = self._comment(cid)
        if comment is None:
            return 404, _error("Not Found"), {}
        if comment["user"]["login"] != token.login:
            return 403, _error("Resource not accessible by integration"), {}
        self.stub.comments.remove(comment)
        return 204, None, {}

    def op_check_run(self, query, body, token):
        output = body.get("output") or {}
        if len(output.get("annotations") or []) > 50 or any(
                len(output.get(k) or "") > 65535 for k in ("summary", "text")):
            return 422, _error("Validation Failed", errors=["output too long"]), {}
        run = make("check-run", id=next(self.stub._ids), name=body["name"],
                   head_sha=body["head_sha"], status=body.get("status", "queued"),
                   conclusion=body.get("conclusion"))
        self.stub.check_runs.append({**run, "request": body})
        return 201, run, {}

    # helpers ---------------------------------------------------------------------------
    def _comment(self, cid: str) -> dict[str, Any] | None:
        return next((c for c in self.stub.comments if c["id"] == int(cid)), None)

    def _page(self, items: list[Any], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        try:
            per_page = min(max(int(query.get("per_page", 30)), 1), MAX_PER_PAGE)
            page = max(int(query.get("page", 1)), 1)
        except ValueError:
            return 400, _error("Invalid pagination"), {}
        last = max(1, -(-len(items) // per_page))
        base = f"{self.stub.base_url}{urlsplit(self.path).path[len(self.stub.prefix):]}"
        links = {"first": 1, "prev": page - 1, "next": page + 1, "last": last}
        header = ", ".join(f'<{base}?per_page={per_page}&page={n}>; rel="{rel}"'
                           for rel, n in links.items()
                           if 1 <= n <= last and (rel in ("next", "last")) == (page < last)
                           and not (rel in ("first", "prev") and page == 1))
        start = (page - 1) * per_page
        return 200, items[start:start + per_page], ({"Link": header} if header else {})

    def _check_response(self, request, status: int, data: bytes, headers: dict[str, str],
                        method: str, path: str) -> None:
        from openapi_core.testing import MockResponse

        declared = _declared_statuses(request)
        if str(status) not in declared:
            return
        content_type = "application/json" if data else None
        result = openapi().unmarshal_response(
            request, MockResponse(data, status, headers, content_type=content_type))
        if result.errors:
            self.stub.validation_errors.append(f"response {status} to {method} {path}: "
                                               f"{_explain(result.errors)}")


_INVALID = object()
ROUTES: list[tuple[str, str, str, tuple[str, int] | None]] = [
    ("GET", r"^/user$", "user", None),
    ("GET", r"^/repos/(?P<repo>[^/]+/[^/]+)/releases/latest$", "latest", ("contents", READ)),
    ("GET", r"^/repos/(?P<repo>[^/]+/[^/]+)/releases/assets/(?P<aid>\d+)$", "asset",
     ("contents", READ)),
    ("GET", r"^/repos/(?P<repo>[^/]+/[^/]+)/releases/(?P<rid>\d+)/assets$", "release_assets",
     ("contents", READ)),
    ("GET", r"^/repos/(?P<repo>[^/]+/[^/]+)/releases$", "releases", ("contents", READ)),
    ("GET", r"^/repos/(?P<repo>[^/]+/[^/]+)/pulls/(?P<number>\d+)$", "pull",
     ("pull_requests", READ)),
    ("GET", r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)/comments$", "comments",
     ("pull_requests", READ)),
    ("POST", r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)/comments$",
     "create_comment", ("pull_requests", WRITE)),
    ("GET", r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<cid>\d+)$", "get_comment",
     ("pull_requests", READ)),
    ("PATCH", r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<cid>\d+)$", "update_comment",
     ("pull_requests", WRITE)),
    ("DELETE", r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<cid>\d+)$", "delete_comment",
     ("pull_requests", WRITE)),
    ("POST", r"^/repos/(?P<repo>[^/]+/[^/]+)/check-runs$", "check_run", ("checks", WRITE)),
]


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return _INVALID


def _explain(errors: list[Exception]) -> str:
    return "; ".join(f"{e!r} ({e.__cause__})" if e.__cause__ else repr(e) for e in errors)


def _public(comment: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in comment.items() if not k.startswith("_")}


def _too_long() -> tuple[int, Any, dict[str, str]]:
    return 422, _error("Validation Failed", errors=[{
        "resource": "IssueComment", "code": "custom", "field": "body",
        "message": f"body is too long (maximum is {BODY_LIMIT} characters)"}]), {}


def _rate_headers() -> dict[str, str]:
    return {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999",
            "x-ratelimit-reset": str(int(time.time()) + 3600), "x-ratelimit-used": "1",
            "x-ratelimit-resource": "core", "X-GitHub-Api-Version-Selected": "2022-11-28"}


def _mock_request(method: str, path: str, query: dict[str, str], headers: dict[str, str],
                  raw: bytes):
    from openapi_core.testing import MockRequest

    content_type = headers.get("Content-Type", "application/json").split(";")[0]
    return MockRequest("https://api.github.com", method.lower(), path, args=query,
                       headers=headers, data=raw or None, content_type=content_type)


def _declared_statuses(request) -> set[str]:
    for template, item in spec()["paths"].items():
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, request.path) and request.method in item:
            return set(item[request.method]["responses"])
    return set()


GITHUB_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_API_URL", "GITHUB_REPOSITORY",
                    "GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_OUTPUT",
                    "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "GITHUB_WORKSPACE", "GITHUB_SHA",
                    "RESTORE_GATE_CACHE")


def clean_environ(monkeypatch) -> None:
    """Tests may run inside GitHub Actions: drop the runner's own variables."""
    for name in GITHUB_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(name="github")
def github_fixture(monkeypatch, tmp_path):
    """A running stand-in with its environment set (and a private download cache)."""
    clean_environ(monkeypatch)
    with GitHubStub() as stub:
        for key, value in stub.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("RESTORE_GATE_CACHE", str(tmp_path / "cache"))
        yield stub
