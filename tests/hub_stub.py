"""A loopback Hugging Face Hub stand-in, as strict as the Hub for what `huggingface_hub` reads.

    with HubStub() as hub:
        sha = hub.commit("acme/clf", {"config.json": b"{}", "model.weights.h5": data})
        hub.tag("acme/clf", "v1", sha); hub.private("acme/clf")
        env = hub.env(tmp_path)        # HF_ENDPOINT, HF_HOME (a private cache), no token
        hub.requests                   # (method, path, status) of every request

Endpoints (as huggingface.co answers them; huggingface_hub 2.4 file_download / hf_api):
- `GET /api/models/{repo}` and `/api/models/{repo}/revision/{rev}`: the model info JSON with the
  resolved commit `sha` and `siblings`;
- `GET /api/models/{repo}/tree/{rev}[/{path}]?recursive=`: the file listing (`type`, `path`,
  `size`, `oid`, `lfs` for large files), paginated with a `Link: <...>; rel="next"` header;
- `HEAD|GET /{repo}/resolve/{rev}/{file}`: small files answer directly with `ETag` (the git blob
  sha1), `X-Repo-Commit`, `Content-Length`; LFS files (>= LFS_THRESHOLD bytes) answer 302 to a
  second server (another origin, a CDN) with `X-Linked-Etag` (the sha256), `X-Linked-Size`,
  `X-Repo-Commit` and a relative-free `Location`; the CDN refuses `Authorization` (400).
Errors carry the Hub's `X-Error-Code` / `X-Error-Message`: `RepoNotFound` (401 without a valid
token for a private or missing repo, as the Hub does), `RevisionNotFound` (404),
`EntryNotFound` (404, with `X-Repo-Commit`). A wrong token is 401 "Invalid credentials in
Authorization header".
`fail(path_regex, status, times)` answers the next `times` matching requests with `status`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

HOST = "127.0.0.1"
TOKEN = "hf_" + "StubToken" * 4
LFS_THRESHOLD = 10 * 1024  # the Hub's is 10 MiB; small here so tests exercise the LFS path
PAGE = 2  # tree entries per page (the Hub's is 1000): small so pagination is exercised


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # branch/tag -> commit sha
    private: bool = False

    def resolve(self, rev: str) -> str | None:
        if rev in self.refs:
            return self.refs[rev]
        return rev if rev in self.commits else None


class HubStub:
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str, int]] = []
        self.failures: list[list] = []  # [regex, status, remaining]
        self.lock = threading.Lock()
        self.hub = ThreadingHTTPServer((HOST, 0), _handler(self, cdn=False))
        self.cdn = ThreadingHTTPServer((HOST, 0), _handler(self, cdn=True))
        self.endpoint = f"http://{HOST}:{self.hub.server_address[1]}"
        self.cdn_url = f"http://{HOST}:{self.cdn.server_address[1]}"

    def __enter__(self) -> HubStub:
        for server in (self.hub, self.cdn):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        for server in (self.hub, self.cdn):
            server.shutdown()
            server.server_close()

    # -- content
    def commit(self, repo_id: str, files: dict[str, bytes], branch: str = "main") -> str:
        """A new commit on `branch` whose tree is exactly `files`; returns its 40-hex sha."""
        with self.lock:
            repo = self.repos.setdefault(repo_id, Repo())
            digest = hashlib.sha1(repr((repo_id, len(repo.commits),
                                        sorted((k, git_blob_sha1(v)) for k, v in files.items())))
                                  .encode()).hexdigest()
            repo.commits[digest] = dict(files)
            repo.refs[branch] = digest
            return digest

    def tag(self, repo_id: str, name: str, sha: str) -> None:
        self.repos[repo_id].refs[name] = sha

    def set_private(self, repo_id: str, private: bool = True) -> None:
        self.repos[repo_id].private = private

    def fail(self, path_regex: str, status: int, times: int = 1) -> None:
        self.failures.append([re.compile(path_regex), status, times])

    def env(self, home: Path, token: str | None = None) -> dict[str, str]:
        env = {"HF_ENDPOINT": self.endpoint, "HF_HOME": str(home / "hf-home"),
               "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_XET": "1"}
        if token:
            env["HF_TOKEN"] = token
        return env


def _handler(stub: HubStub, cdn: bool):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            status, headers, payload = (_cdn if cdn else _hub)(stub, self)
            with stub.lock:
                stub.requests.append((self.command, ("cdn:" if cdn else "") + self.path, status))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if body and self.command == "GET":
                self.wfile.write(payload)

    return Handler


Answer = tuple[int, dict[str, str], bytes]


def _error(status: int, code: str | None, message: str, commit: str | None = None) -> Answer:
    headers = {"Content-Type": "application/json", "X-Error-Message": message}
    if code:
        headers["X-Error-Code"] = code
    if commit:
        headers["X-Repo-Commit"] = commit
    return status, headers, json.dumps({"error": message}).encode()


def _json(data) -> Answer:
    return 200, {"Content-Type": "application/json"}, json.dumps(data).encode()


def _cdn(stub: HubStub, request: BaseHTTPRequestHandler) -> Answer:
    if request.headers.get("Authorization"):
        return 400, {}, b"Only one auth mechanism allowed"
    match = re.fullmatch(r"/lfs/([^/]+/[^/]+)/([0-9a-f]{40})/(.+)", urlsplit(request.path).path)
    if not match:
        return 404, {}, b"not found"
    repo = stub.repos.get(match[1])
    files = repo.commits.get(match[2], {}) if repo else {}
    data = files.get(unquote(match[3]))
    if data is None:
        return 404, {}, b"not found"
    return 200, {"Content-Type": "application/octet-stream",
                 "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}, data


def _hub(stub: HubStub, request: BaseHTTPRequestHandler) -> Answer:
    url = urlsplit(request.path)
    path = unquote(url.path)
    for failure in stub.failures:
        if failure[2] > 0 and failure[0].search(path):
            failure[2] -= 1
            return _error(failure[1], None, f"injected {failure[1]}")
    auth = request.headers.get("Authorization")
    if auth is not None and auth != f"Bearer {TOKEN}":
        return _error(401, None, "Invalid credentials in Authorization header")
    match = (re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/(revision|tree)/([^/]+)(/.*)?)?", path)
             or re.fullmatch(r"/([^/]+/[^/]+)/(resolve)/([^/]+)/(.+)", path))
    if not match:
        return _error(404, None, "Sorry, we can't find the page you are looking for.")
    repo_id, kind, rev, rest = match[1], match[2], match[3] or "main", match[4]
    repo = stub.repos.get(repo_id)
    if repo is None or (repo.private and auth is None):
        return _error(401, "RepoNotFound", "Repository not found")
    sha = repo.resolve(rev)
    if sha is None:
        return _error(404, "RevisionNotFound", "Invalid rev id: " + rev)
    files = repo.commits[sha]
    if kind == "resolve":
        return _resolve(stub, repo_id, sha, files, rest)
    if kind == "tree":
        return _tree(stub.endpoint + url.path, url.query, files, (rest or "/").strip("/"))
    return _json({"id": repo_id, "modelId": repo_id, "sha": sha, "private": repo.private,
                  "gated": False, "disabled": False, "lastModified": "2026-01-01T00:00:00.000Z",
                  "tags": ["keras"], "library_name": "keras",
                  "siblings": [{"rfilename": name} for name in sorted(files)]})


def _resolve(stub: HubStub, repo_id: str, sha: str, files: dict[str, bytes], name: str) -> Answer:
    data = files.get(name)
    if data is None:
        return _error(404, "EntryNotFound", f"{name} does not exist on \"{sha}\"", commit=sha)
    if len(data) < LFS_THRESHOLD:
        return 200, {"Content-Type": "application/octet-stream", "X-Repo-Commit": sha,
                     "ETag": f'"{git_blob_sha1(data)}"', "Accept-Ranges": "bytes"}, data
    location = f"{stub.cdn_url}/lfs/{repo_id}/{sha}/{quote(name)}"
    return 302, {"Location": location, "X-Repo-Commit": sha,
                 "ETag": f'"{git_blob_sha1(data)}"',
                 "X-Linked-Etag": f'"{hashlib.sha256(data).hexdigest()}"',
                 "X-Linked-Size": str(len(data))}, b""


def _tree(url: str, query: str, files: dict[str, bytes], under: str) -> Answer:
    params = parse_qs(query)
    recursive = params.get("recursive", ["false"])[0].lower() == "true"
    entries = []
    folders = set()
    for name in sorted(files):
        if under and not name.startswith(under + "/"):
            continue
        rest = name[len(under) + 1:] if under else name
        if "/" in rest and not recursive:
            folders.add((under + "/" if under else "") + rest.split("/")[0])
            continue
        data = files[name]
        entry = {"type": "file", "path": name, "size": len(data), "oid": git_blob_sha1(data)}
        if len(data) >= LFS_THRESHOLD:
            entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data),
                            "pointerSize": 134}
        entries.append(entry)
    entries += [{"type": "directory", "path": f, "oid": "0" * 40, "size": 0} for f in folders]
    start = int(params.get("cursor", ["0"])[0])
    page = entries[start:start + PAGE]
    status, headers, body = _json(page)
    if start + PAGE < len(entries):
        headers["Link"] = (f'<{url}?recursive={str(recursive).lower()}'
                           f'&cursor={start + PAGE}>; rel="next"')
    return status, headers, body
