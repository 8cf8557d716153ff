"""A stand-in for GitHub's REST API on 127.0.0.1: the issue-comment endpoints a PR report uses.

A real HTTP server in a thread (GitHub itself is not reachable here). It records every request,
paginates comment lists with ``Link`` headers the way GitHub does (opaque ``/repositories/<id>/``
URLs, ``per_page`` capped at 100), checks the bearer token, and refuses bodies over GitHub's
65,536-character limit with GitHub's 422 answer.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

COMMENT_LIMIT = 65_536
REPO_ID = 4242


@dataclass
class Recorded:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names
    body: Any


@dataclass
class FakeGitHub:
    repository: str = "octo/demo"
    token: str = "ghs_test_token_123"
    read_only: bool = False  # a fork's token: comments refused with 403
    link_base: str | None = None  # where Link headers point (default: this server)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    _next_id: int = 1000

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    # -- state --------------------------------------------------------------------------------
    def add_comment(self, number: int, body: str, user: str = "someone") -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            comment = {
                "id": self._next_id,
                "body": body,
                "user": {"login": user},
                "html_url": f"https://github.example/{self.repository}/pull/{number}#issuecomment-{self._next_id}",
            }
            self.comments.setdefault(number, []).append(comment)
            return comment

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method in ("POST", "PATCH")]

    # -- server -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep the test output clean
                pass

            def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                fake.requests.append(Recorded(method, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._send(401, {"message": "Bad credentials"})
                status, payload, headers = fake.route(method, self.path, body)
                self._send(status, payload, headers)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    # -- endpoints ----------------------------------------------------------------------------
    def route(self, method: str, raw_path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        split = urlsplit(raw_path)
        parts = split.path.strip("/").split("/")
        query = parse_qs(split.query)
        prefix = ["repos", *self.repository.split("/")]
        opaque = ["repositories", str(REPO_ID)]
        if parts[:3] == prefix:
            rest = parts[3:]
        elif parts[:2] == opaque:
            rest = parts[2:]
        else:
            return 404, {"message": "Not Found"}, {}
        if method == "GET" and len(rest) == 3 and rest[0] == "issues" and rest[2] == "comments":
            return self._list(int(rest[1]), query)
        if method == "POST" and len(rest) == 3 and rest[0] == "issues" and rest[2] == "comments":
            return self._write(int(rest[1]), None, body)
        if method == "PATCH" and len(rest) == 3 and rest[:2] == ["issues", "comments"]:
            return self._write(None, int(rest[2]), body)
        if method == "GET" and len(rest) == 2 and rest[0] == "pulls":
            pr = self.pulls.get(int(rest[1]))
            return (200, pr, {}) if pr else (404, {"message": "Not Found"}, {})
        return 404, {"message": "Not Found"}, {}

    def _list(self, number: int, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        items = self.comments.get(number, [])
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(items) // per_page))
        base = self.link_base or self.url
        link = f"{base}/repositories/{REPO_ID}/issues/{number}/comments?per_page={per_page}&page="
        links = []
        if page < last:
            links.append(f'<{link}{page + 1}>; rel="next"')
            links.append(f'<{link}{last}>; rel="last"')
        if page > 1:
            links.append(f'<{link}1>; rel="first"')
            links.append(f'<{link}{page - 1}>; rel="prev"')
        return 200, chunk, ({"Link": ", ".join(links)} if links else {})

    def _write(self, number: int | None, comment_id: int | None, body: Any) -> tuple[int, Any, dict[str, str]]:
        if self.read_only:
            return 403, {"message": "Resource not accessible by integration"}, {}
        text = (body or {}).get("body")
        if not isinstance(text, str) or not text:
            return 422, {"message": "Validation Failed", "errors": [{"field": "body", "code": "missing_field"}]}, {}
        if len(text) > COMMENT_LIMIT:
            return (
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"message": "Body is too long (maximum is 65536 characters)"}],
                },
                {},
            )
        if number is not None:
            return 201, self.add_comment(number, text, "github-actions[bot]"), {}
        for comments in self.comments.values():
            for comment in comments:
                if comment["id"] == comment_id:
                    comment["body"] = text
                    return 200, comment, {}
        return 404, {"message": "Not Found"}, {}
