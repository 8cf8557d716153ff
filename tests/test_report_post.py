"""Posting the PR report: one sticky comment, created then updated, found again by its hidden
marker across pages of comments; the 65,536-character limit; tokens and forks. Against a real
HTTP server on 127.0.0.1 that emulates GitHub's comment endpoints (tests/fake_github.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitrun.report.github import Client, GitHubError, PullRequestTarget, pull_request_info, upsert_comment
from gitrun.report.pr import COMMENT_LIMIT
from tests.helpers.diffkit import cli, client, commit, git, log, tables
from tests.helpers.fake_github import FakeGitHub

PR = 7


def github_env(fake: FakeGitHub, tmp_path: Path, number: int | None = PR, **extra: str) -> dict[str, str]:
    env = {
        "GITHUB_API_URL": fake.url,
        "GITHUB_TOKEN": fake.token,
        "GITHUB_REPOSITORY": fake.repository,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "4711",
    }
    if number is not None:
        event = tmp_path / "event.json"
        event.write_text(json.dumps({"pull_request": {"number": number, "head": {"sha": "f" * 40}}}))
        env["GITHUB_EVENT_PATH"] = str(event)
    env.update(extra)
    return env


@pytest.fixture
def feature(repo: Path) -> Path:
    log(repo, [{"name": "base", "metrics": {"val_acc": [0.5, 0.6]}}])
    commit(repo)
    git(repo, "checkout", "-qb", "feature")
    log(repo, [{"name": "first-try", "metrics": {"val_acc": [0.55, 0.7]}}])
    commit(repo)
    return repo


def test_first_post_creates_then_updates_the_same_comment(feature: Path, tmp_path: Path) -> None:
    with FakeGitHub() as fake:
        for i in range(130):  # two pages at 100 per page: the marker must be found on page 2
            fake.add_comment(PR, f"unrelated comment {i}" + (" mentions gitrun-report" if i == 3 else ""))
        env = github_env(fake, tmp_path)
        out = tmp_path / "out"

        proc = cli(feature, "report", "pr", "main", "feature", "--out", str(out), "--post", "--no-images", env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Created comment https://github.example/octo/demo/pull/7#issuecomment-" in proc.stdout
        (created,) = fake.writes()
        assert created.method == "POST" and created.path == f"/repos/octo/demo/issues/{PR}/comments"
        assert created.headers["authorization"] == f"Bearer {fake.token}"
        assert created.headers["accept"] == "application/vnd.github+json"
        assert created.headers["x-github-api-version"] == "2022-11-28"
        assert created.body["body"] == (out / "comment.md").read_text(encoding="utf-8")
        assert created.body["body"].startswith("<!-- gitrun-report -->\n")
        assert (
            "first-try" in created.body["body"]
            and "[workflow run](https://github.example/octo/demo/actions/runs/4711)" in created.body["body"]
        )
        ours = fake.comments[PR][-1]
        assert len(fake.comments[PR]) == 131

        # the branch moves on; the next run of the workflow updates the same comment
        log(feature, [{"name": "second-try", "metrics": {"val_acc": [0.6, 0.9]}}])
        commit(feature)
        fake.requests.clear()
        proc = cli(feature, "report", "pr", "main", "feature", "--out", str(out), "--post", "--no-images", env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Updated comment" in proc.stdout
        gets = [r.path for r in fake.requests if r.method == "GET"]
        assert gets == [
            f"/repos/octo/demo/issues/{PR}/comments?per_page=100",
            f"/repositories/4242/issues/{PR}/comments?per_page=100&page=2",  # followed the Link header
        ]
        (updated,) = fake.writes()
        assert updated.method == "PATCH" and updated.path == f"/repos/octo/demo/issues/comments/{ours['id']}"
        assert len(fake.comments[PR]) == 131
        assert "second-try" in fake.comments[PR][-1]["body"]
        assert sum("<!-- gitrun-report -->" in c["body"] for c in fake.comments[PR]) == 1
        # pull-request.json records the PR for `gitrun report post`
        assert json.loads((out / "pull-request.json").read_text())["number"] == PR


def test_report_post_reads_the_written_report(feature: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert (
        cli(feature, "report", "pr", "main", "feature", "--out", str(out), "--no-images", "--pr", "12").returncode == 0
    )
    with FakeGitHub() as fake:
        env = github_env(fake, tmp_path, number=None)  # no event: the number comes from pull-request.json
        proc = cli(feature, "report", "post", str(out), env=env)
        assert proc.returncode == 0, proc.stderr
        assert [r.path for r in fake.writes()] == ["/repos/octo/demo/issues/12/comments"]
        proc = cli(feature, "report", "post", str(out), "--pr", "13", env=env)
        assert [r.path for r in fake.writes()][-1] == "/repos/octo/demo/issues/13/comments"
        # a second marker name is a second sticky comment
        marked = tmp_path / "marked"
        assert (
            cli(
                feature,
                "report",
                "pr",
                "main",
                "feature",
                "--out",
                str(marked),
                "--no-images",
                "--marker",
                "gitrun-gpu",
            ).returncode
            == 0
        )
        assert cli(feature, "report", "post", str(marked), "--pr", "12", env=env).returncode == 0
        assert len(fake.comments[12]) == 2 and fake.comments[12][1]["body"].startswith("<!-- gitrun-gpu -->")


def test_expect_head_sha_guards_the_fork_workflow(feature: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert (
        cli(feature, "report", "pr", "main", "feature", "--out", str(out), "--no-images", "--pr", str(PR)).returncode
        == 0
    )
    with FakeGitHub() as fake:
        fake.pulls[PR] = {"number": PR, "head": {"sha": "a" * 40}}
        env = github_env(fake, tmp_path, number=None)
        proc = cli(feature, "report", "post", str(out), "--expect-head-sha", "b" * 40, env=env)
        assert (
            proc.returncode == 1
            and "is at aaaaaaaaaaaa, not bbbbbbbbbbbb" in proc.stderr
            and "not posting" in proc.stderr
        )
        assert fake.writes() == []
        proc = cli(feature, "report", "post", str(out), "--expect-head-sha", "a" * 40, env=env)
        assert proc.returncode == 0, proc.stderr
        assert len(fake.writes()) == 1


def test_the_comment_stays_under_the_limit_with_a_huge_diff(repo: Path, tmp_path: Path) -> None:
    ids = log(
        repo,
        [
            {"name": f"run-{i:03d}", "params": {"seed": i}, "metrics": {"val_acc": [0.1, 0.2 + i / 1000]}}
            for i in range(40)
        ],
    )
    log(repo, [{"name": "other", "metrics": {"val_acc": 0.3}}], "second")
    commit(repo)
    git(repo, "checkout", "-qb", "feature")
    cl = client(repo)
    for run_id in ids:  # every run gains six long params: the changed-runs table alone is ~1 MB
        for k in range(6):
            cl.log_param(run_id, f"long_{k}", "x|<b>" * 800)
    log(repo, [{"name": "n" * 200 + f"-{i}", "metrics": {"val_acc": [0.3, 0.5 + i / 1000]}} for i in range(120)])
    commit(repo)
    out = tmp_path / "out"
    with FakeGitHub() as fake:
        env = github_env(fake, tmp_path)
        proc = cli(repo, "report", "pr", "main", "feature", "--out", str(out), "--post", "--no-images", env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "cut to fit" in proc.stdout
        (posted,) = fake.writes()  # the fake refuses bodies over 65,536 characters, as GitHub does
    body = posted.body["body"]
    assert len(body) < COMMENT_LIMIT and len(body.encode("utf-16-le")) // 2 < COMMENT_LIMIT
    assert body == (out / "comment.md").read_text(encoding="utf-8")
    full = (out / "report.md").read_text(encoding="utf-8")
    assert len(full) > 10 * COMMENT_LIMIT
    assert (
        "This comment is shortened to fit GitHub's limit; the full report is in the `gitrun-report` artifact "
        "of the [workflow run](https://github.example/octo/demo/actions/runs/4711)" in body
    )
    assert body.count("```") % 2 == 0 and body.count("<details>") == body.count("</details>")
    for table in tables(body):
        assert all(len(row) == len(table["header"]) for row in table["rows"])
    assert "### digits" in body and "### second" in body  # every experiment still has its section


def test_errors_name_the_cause_and_never_the_token(feature: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert (
        cli(feature, "report", "pr", "main", "feature", "--out", str(out), "--no-images", "--pr", str(PR)).returncode
        == 0
    )
    with FakeGitHub(read_only=True) as fake:
        proc = cli(feature, "report", "post", str(out), env=github_env(fake, tmp_path, number=None))
        assert proc.returncode == 1
        assert "answered 403: Resource not accessible by integration" in proc.stderr
        assert "pull request from a fork" in proc.stderr and fake.token not in proc.stderr + proc.stdout
    with FakeGitHub() as fake:
        env = github_env(fake, tmp_path, number=None, GITHUB_TOKEN="wrong-token")
        proc = cli(feature, "report", "post", str(out), env=env)
        assert (
            proc.returncode == 1 and "answered 401: Bad credentials" in proc.stderr and "wrong-token" not in proc.stderr
        )
        env = github_env(fake, tmp_path, number=None)
        del env["GITHUB_TOKEN"]
        proc = cli(feature, "report", "post", str(out), env=env)
        assert proc.returncode == 1 and "no GITHUB_TOKEN" in proc.stderr
        proc = cli(
            feature,
            "report",
            "pr",
            "main",
            "feature",
            "--out",
            str(tmp_path / "o2"),
            "--post",
            env=github_env(fake, tmp_path, number=None),
        )
        assert proc.returncode == 1 and "give --pr NUMBER" in proc.stderr


def test_the_token_never_follows_a_link_to_another_host() -> None:
    with FakeGitHub(link_base="http://127.0.0.2:9") as fake:
        for i in range(101):
            fake.add_comment(1, f"c{i}")
        target = PullRequestTarget(fake.url, fake.repository, 1, fake.token)
        with pytest.raises(GitHubError, match=r"refusing to send the token to http://127\.0\.0\.2:9"):
            upsert_comment(
                target, "<!-- gitrun-report -->\nhello", "<!-- gitrun-report -->", client=Client(target, retries=0)
            )
        assert fake.writes() == []


def test_pull_request_number_from_event_payloads() -> None:
    assert pull_request_info({"pull_request": {"number": 5, "head": {"sha": "s"}}})["number"] == 5  # type: ignore[index]
    assert pull_request_info({"issue": {"number": 6, "pull_request": {}}}) == {"number": 6}
    assert pull_request_info({"issue": {"number": 6}}) is None  # an issue, not a pull request
    run = {"workflow_run": {"head_sha": "abc", "pull_requests": [{"number": 9}]}}
    assert pull_request_info(run) == {"number": 9, "head_sha": "abc"}
    assert pull_request_info({"workflow_run": {"pull_requests": []}}) is None  # forks: none listed
    assert pull_request_info({}) is None
