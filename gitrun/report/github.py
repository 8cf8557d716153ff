"""One sticky pull-request comment through GitHub's REST API (standard library only).

:func:`upsert_comment` lists the pull request's comments (every page), finds the one carrying
the report's hidden marker (``<!-- gitrun-report -->``), and PATCHes it, or POSTs a new one when
there is none, so a pull request holds one gitrun report however often the workflow runs.

Settings come from the environment GitHub Actions sets: ``GITHUB_API_URL``, ``GITHUB_TOKEN``
(passed by the workflow), ``GITHUB_REPOSITORY``, and the pull request's number from the event
payload at ``GITHUB_EVENT_PATH`` (``pull_request``, ``issue_comment`` or ``workflow_run``
events), or given explicitly. The token is sent only to the API's own host.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitrun.errors import GitHubError

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100
MAX_PAGES = 100  # 10,000 comments: far beyond any real pull request
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class PullRequestTarget:
    """Where the comment goes: API root, ``owner/repo``, pull-request number, and the token."""

    api_url: str
    repository: str
    number: int
    token: str

    def __repr__(self) -> str:  # never print the token
        return f"PullRequestTarget({self.api_url!r}, {self.repository!r}, #{self.number})"


@dataclass(frozen=True)
class PostResult:
    action: str  # "created" or "updated"
    comment_id: int
    url: str | None


def event_payload(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The workflow's event payload (``GITHUB_EVENT_PATH``), or {} outside GitHub Actions."""
    env = os.environ if env is None else env
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GitHubError(f"cannot read the event payload {path}: {exc}")
    return data if isinstance(data, dict) else {}


def pull_request_info(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """Number, head and base of the pull request an event is about (None when it is not about one)."""
    pr = payload.get("pull_request")
    if isinstance(pr, dict) and isinstance(pr.get("number"), int):
        return {
            "number": pr["number"],
            "head_sha": (pr.get("head") or {}).get("sha"),
            "base_sha": (pr.get("base") or {}).get("sha"),
            "base_ref": (pr.get("base") or {}).get("ref"),
            "head_repository": ((pr.get("head") or {}).get("repo") or {}).get("full_name"),
        }
    issue = payload.get("issue")
    if isinstance(issue, dict) and "pull_request" in issue and isinstance(issue.get("number"), int):
        return {"number": issue["number"]}
    run = payload.get("workflow_run")
    if isinstance(run, dict):
        prs = run.get("pull_requests") or []  # empty for pull requests from forks
        if prs and isinstance(prs[0].get("number"), int):
            return {"number": prs[0]["number"], "head_sha": run.get("head_sha")}
    return None


def run_url(env: Mapping[str, str] | None = None) -> str | None:
    """The URL of the current workflow run (its page lists the uploaded artifacts)."""
    env = os.environ if env is None else env
    server, repo, run_id = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    if not (server and repo and run_id):
        return None
    return f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}"


def target_from_env(number: int | None = None, env: Mapping[str, str] | None = None) -> PullRequestTarget:
    """The comment's target from GitHub Actions' environment; ``number`` overrides the event's."""
    env = os.environ if env is None else env
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
    if not token:
        raise GitHubError(
            "no GITHUB_TOKEN in the environment; in a workflow pass it with `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`"
        )
    repository = env.get("GITHUB_REPOSITORY", "")
    if not _REPOSITORY.match(repository):
        raise GitHubError(f"GITHUB_REPOSITORY must be 'owner/name', got {repository!r}")
    if number is None:
        info = pull_request_info(event_payload(env))
        if info is None:
            raise GitHubError(
                "cannot tell which pull request to comment on: the event is not a pull request; give --pr NUMBER"
            )
        number = int(info["number"])
    if number <= 0:
        raise GitHubError(f"bad pull-request number {number}")
    api_url = (env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
    if urllib.parse.urlsplit(api_url).scheme not in ("http", "https"):
        raise GitHubError(f"GITHUB_API_URL must be an http(s) URL, got {api_url!r}")
    return PullRequestTarget(api_url, repository, number, token)


class Client:
    """A minimal GitHub REST client: JSON in and out, retries on 5xx, the token for one host only."""

    def __init__(self, target: PullRequestTarget, timeout: float = 30.0, retries: int = 2):
        self.target = target
        self.timeout = timeout
        self.retries = retries
        self._origin = urllib.parse.urlsplit(target.api_url)[:2]

    def request(self, method: str, url: str, body: Any = None) -> tuple[Any, Mapping[str, str]]:
        if not url.startswith(("http://", "https://")):
            url = self.target.api_url + url
        if urllib.parse.urlsplit(url)[:2] != self._origin:
            raise GitHubError(f"refusing to send the token to {url} (not {self.target.api_url})")
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.target.token}",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "gitrun",
        }
        if data is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as response:
                    raw = response.read()
                    return (json.loads(raw) if raw else None), dict(response.headers)
            except urllib.error.HTTPError as exc:
                if exc.code >= 500 and attempt < self.retries:
                    time.sleep(0.5 * (attempt + 1))
                    continue
                raise GitHubError(self._explain(method, url, exc))
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt < self.retries:
                    time.sleep(0.5 * (attempt + 1))
                    continue
                raise GitHubError(f"GitHub API {method} {url} failed: {getattr(exc, 'reason', exc)}")
        raise AssertionError("unreachable")

    def _explain(self, method: str, url: str, exc: urllib.error.HTTPError) -> str:
        try:
            message = json.loads(exc.read() or b"{}").get("message", "")
        except (ValueError, AttributeError):
            message = ""
        text = f"GitHub API {method} {urllib.parse.urlsplit(url).path} answered {exc.code}" + (
            f": {message}" if message else ""
        )
        if exc.code in (401, 403, 404):
            text += (
                " (the token may lack `pull-requests: write` / `issues: write`; a pull request from a fork "
                "gets a read-only token: post from the `workflow_run` workflow that `gitrun init --github` writes)"
            )
        return text

    def pages(self, path: str) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, following the ``Link: rel="next"`` headers."""
        url: str | None = f"{self.target.api_url}{path}?per_page={PER_PAGE}"
        for _ in range(MAX_PAGES):
            if url is None:
                return
            items, headers = self.request("GET", url)
            if not isinstance(items, list):
                raise GitHubError(f"GitHub API GET {path}: expected a list, got {type(items).__name__}")
            yield from (i for i in items if isinstance(i, dict))
            link = next((v for k, v in headers.items() if k.lower() == "link"), "")
            match = _LINK_NEXT.search(link)
            url = match.group(1) if match else None


def find_comment(client: Client, marker: str) -> dict[str, Any] | None:
    """The first comment of the pull request whose body holds ``marker``."""
    t = client.target
    for comment in client.pages(f"/repos/{t.repository}/issues/{t.number}/comments"):
        if marker in str(comment.get("body") or ""):
            return comment
    return None


def upsert_comment(target: PullRequestTarget, body: str, marker: str, *, client: Client | None = None) -> PostResult:
    """Update the pull request's comment holding ``marker``, or create it; ``body`` must contain ``marker``."""
    if marker not in body:
        raise GitHubError("the comment body does not contain its marker; it could never be found again")
    client = client or Client(target)
    existing = find_comment(client, marker)
    if existing is not None:
        comment, _ = client.request(
            "PATCH", f"/repos/{target.repository}/issues/comments/{int(existing['id'])}", {"body": body}
        )
        action = "updated"
    else:
        comment, _ = client.request(
            "POST", f"/repos/{target.repository}/issues/{target.number}/comments", {"body": body}
        )
        action = "created"
    comment = comment if isinstance(comment, dict) else {}
    return PostResult(action, int(comment.get("id", existing["id"] if existing else 0)), comment.get("html_url"))


def pull_request_head(target: PullRequestTarget, client: Client | None = None) -> str:
    """The head commit of the pull request (to check a fork's artifact names the right PR)."""
    client = client or Client(target)
    pr, _ = client.request("GET", f"/repos/{target.repository}/pulls/{target.number}")
    sha = (pr or {}).get("head", {}).get("sha")
    if not isinstance(sha, str):
        raise GitHubError(f"GitHub API: pull request #{target.number} has no head commit")
    return sha
