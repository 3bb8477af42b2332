"""A loopback reverse proxy in front of a real store server that injects the failures stores
really give: throttling (S3's 503 SlowDown, GCS's 429 / 503) and a body cut short.

    with FaultProxy(s3_server.endpoint) as proxy:     # point the client at proxy.url
        proxy.fail("GET", r"/bucket/key", 503, S3_SLOW_DOWN, times=2)
        proxy.truncate("GET", r"/bucket/key", after=1024, times=1)
        proxy.hits                                       # (method, path, status) seen

Everything else is forwarded unchanged, bodies streamed in 1 MiB chunks both ways.
"""

from __future__ import annotations

import http.client
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

S3_SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
                b"<Message>Please reduce your request rate.</Message></Error>")
GCS_RATE_LIMIT = (b'{"error": {"code": 429, "message": "The rate of change requests to the '
                  b'object is too high.", "errors": [{"reason": "rateLimitExceeded"}]}}')
CHUNK = 1 << 20
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


@dataclass
class Rule:
    method: str
    path: re.Pattern
    times: int
    status: int = 0
    body: bytes = b""
    truncate_after: int | None = None


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rules: list[Rule] = []
        self.hits: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, method: str, path: str, status: int, body: bytes = b"", times: int = 1):
        self.rules.append(Rule(method, re.compile(path), times, status=status, body=body))

    def truncate(self, method: str, path: str, after: int, times: int = 1):
        self.rules.append(Rule(method, re.compile(path), times, truncate_after=after))

    def take(self, method: str, path: str) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.times > 0 and rule.method == method and rule.path.search(path):
                    rule.times -= 1
                    return rule
        return None


def _handler(proxy: FaultProxy):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            rule = proxy.take(self.command, self.path)
            if rule is not None and rule.status:
                self._record(rule.status)
                self.send_response(rule.status)
                self.send_header("Content-Length", str(len(rule.body)))
                self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(rule.body)
                return
            self._forward(body, rule.truncate_after if rule else None)

        def _forward(self, body: bytes, cut: int | None) -> None:
            conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            answer = conn.getresponse()
            self._record(answer.status)
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in HOP:
                    self.send_header(key, value)
            if answer.getheader("Content-Length") is None:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            sent = 0
            while self.command != "HEAD" and (chunk := answer.read(CHUNK)):
                if cut is not None and sent + len(chunk) > cut:
                    self.wfile.write(chunk[: cut - sent])
                    self.close_connection = True  # the peer sees a short body
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
            conn.close()

        def _record(self, status: int) -> None:
            with proxy.lock:
                proxy.hits.append((self.command, self.path, status))

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _any

    return Handler
