"""Credentials never reach Git, gitrun's output or a published page (gitrun/redact.py and its callers).

Real Git, real DVC, the real CLI. Every check greps everything a secret could reach: the work
tree, ``git log -p --all``, every object in ``.git`` (``git cat-file --batch-all-objects``), Git's
other files, and what the command printed.
"""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import gitrun_cli, log_runs, python_ok, run_git
from tests.helpers.secrets import secret_found

PASSWORD = "Pa55-w0rd-s3kr1t"
TOKEN = "glpat-TOKENv4lue8x9y"


def local_config(repo: Path) -> dict:
    """``.dvc/config.local`` as DVC's own config API reads it."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        return dict(dvc_repo.config.read("local"))


# -- the rule ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://gitlab.com/a/b.git?private_token=T0K", "https://gitlab.com/a/b.git"),
        ("https://h.example/a.git?access_token=T0K&x=1#frag", "https://h.example/a.git"),
        ("https://h.example/a.git#T0K", "https://h.example/a.git"),
        ("https://user:p@ss@h.example/a.git", "https://h.example/a.git"),  # an unescaped '@' in a password
        ("s3://KEY:abc/def+g@bucket/path", "s3://bucket/path"),  # an unescaped '/' in a password
        ("https://h.example:8443/@scope/pkg", "https://h.example:8443/@scope/pkg"),  # '@' in a path, a port
        ("https://[::1]:8080/x", "https://[::1]:8080/x"),
        ("ssh://git@github.com/acme/proj.git", "ssh://git@github.com/acme/proj.git"),
        ("file:///srv/store?x=1", "file:///srv/store"),
        ("git@github.com:acme/proj.git", "git@github.com:acme/proj.git"),
        ("not a url", "not a url"),
        ("://x", "://x"),
    ],
)
def test_strip_credentials_drops_user_info_query_and_fragment(url: str, clean: str) -> None:
    from gitrun.redact import strip_credentials

    assert strip_credentials(url) == clean


def test_redact_credentials_cleans_every_url_in_a_message() -> None:
    from gitrun.redact import redact_credentials

    message = (
        "fatal: unable to access 'https://127.0.0.1:9/r.git?private_token=T0K/': refused; "
        "see (http://bob:PW@h.example/x) and s3://K:S@b/p."
    )
    assert redact_credentials(message) == (
        "fatal: unable to access 'https://127.0.0.1:9/r.git': refused; see (http://h.example/x) and s3://b/p."
    )


# -- gitrun init --dvc --remote URL-with-credentials -------------------------------------------
@pytest.mark.parametrize(
    ("url", "clean", "stored"),
    [
        (
            f"https://bob:{PASSWORD}@dvc.example.com/store",
            "https://dvc.example.com/store",
            {"user": "bob", "password": PASSWORD},
        ),
        (f"https://{TOKEN}@dvc.example.com:8443/store", "https://dvc.example.com:8443/store", {"user": TOKEN}),
        (
            f"s3://AKIAIOSFODNN7EXAMPLE:{PASSWORD}/x+Y@my-bucket/dvcstore",  # AWS secret keys hold '/' and '+'
            "s3://my-bucket/dvcstore",
            {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": f"{PASSWORD}/x+Y"},
        ),
        (
            f"webdavs://ana:{PASSWORD.replace('-', '%40')}@dav.example.com/dvc",  # percent-encoded '@'
            "webdavs://dav.example.com/dvc",
            {"user": "ana", "password": PASSWORD.replace("-", "@")},
        ),
        (
            f"ssh://deploy:{PASSWORD}@ssh.example.com:2222/srv/dvc",
            "ssh://ssh.example.com:2222/srv/dvc",
            {"user": "deploy", "password": PASSWORD},
        ),
    ],
)
def test_init_puts_remote_credentials_in_config_local_only(
    repo: Path, url: str, clean: str, stored: dict[str, str]
) -> None:
    proc = gitrun_cli("init", "--dvc", "--remote", url, cwd=repo)

    assert proc.returncode == 0, proc.stderr
    assert f"with default remote {clean}" in proc.stdout
    assert ".dvc/config.local" in proc.stdout  # says where the credentials went, not what they are
    assert run_git(repo, "show", "HEAD:.dvc/config").stdout.count(f"url = {clean}\n") == 1
    assert local_config(repo)["remote"]["storage"] == stored
    assert run_git(repo, "check-ignore", ".dvc/config.local").stdout.strip() == ".dvc/config.local"
    # The user's next `git add -A` cannot pick the credentials up either.
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "everything")
    for secret in {*stored.values()} - {"bob", "ana", "deploy", "AKIAIOSFODNN7EXAMPLE"}:
        assert secret_found(repo, secret, proc.stdout, proc.stderr, allowed=(".dvc/config.local",)) == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"gs://svc:{PASSWORD}@bucket/dvc", "no user/password options for gs://"),
        (f"hdfs://ana:{PASSWORD}@namenode/dvc", "no user/password options for hdfs://"),
        (f"https://dvc.example.com/store?sig={PASSWORD}", "query or fragment"),
        (f"https://dvc.example.com/store#{PASSWORD}", "query or fragment"),
        (f"https://dvc.example.com/@{PASSWORD}/x", "'@'"),
    ],
)
def test_init_refuses_credentials_it_cannot_keep_out_of_git(repo: Path, url: str, message: str) -> None:
    head = run_git(repo, "rev-parse", "HEAD").stdout

    proc = gitrun_cli("init", "--dvc", "--remote", url, cwd=repo)

    assert proc.returncode == 1
    assert message in proc.stderr and "dvc remote modify --local" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert run_git(repo, "rev-parse", "HEAD").stdout == head  # nothing committed
    assert secret_found(repo, PASSWORD, proc.stdout, proc.stderr) == []


def test_init_remote_credentials_through_the_library(repo: Path) -> None:
    from gitrun.store import Store
    from gitrun.vcs.init import init_store

    result = init_store(Store(repo / ".gitrun"), with_dvc=True, remote_url=f"https://bob:{PASSWORD}@h.example/s")

    assert result.remote_url == "https://h.example/s"
    assert result.remote_credentials == ("user", "password")
    assert PASSWORD not in repr(result)
    assert secret_found(repo, PASSWORD, allowed=(".dvc/config.local",)) == []


# -- the tracking URI ----------------------------------------------------------------------------
def test_bad_tracking_uri_does_not_echo_its_password(repo: Path) -> None:
    uri = f"https://bob:{PASSWORD}@mlflow.example.com/api?private_token={TOKEN}"

    warned = gitrun_cli("runs", "list", cwd=repo, env={"GITRUN_TRACKING_URI": uri})
    refused = gitrun_cli(
        "runs", "list", cwd=repo, env={"GITRUN_TRACKING_URI": uri, "GITRUN_REMOTE_TRACKING_URI": "error"}
    )

    assert warned.returncode == 0 and refused.returncode == 1
    for proc in (warned, refused):
        assert "GITRUN_TRACKING_URI" in proc.stderr and "https://mlflow.example.com/api" in proc.stderr
        assert PASSWORD not in proc.stderr + proc.stdout and TOKEN not in proc.stderr + proc.stdout
    import gitrun

    with pytest.warns(UserWarning, match="not a local path") as info:
        gitrun.set_tracking_uri(uri)
    assert PASSWORD not in str(info[0].message) and TOKEN not in str(info[0].message)


# -- the repository URL tag ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "remote",
    [
        f"https://gitlab.example.com/acme/proj.git?private_token={TOKEN}",
        f"https://oauth2:{TOKEN}@gitlab.example.com/acme/proj.git?access_token={TOKEN}#{TOKEN}",
    ],
)
def test_repo_url_tag_drops_query_tokens(repo: Path, remote: str) -> None:
    run_git(repo, "remote", "add", "origin", remote)
    (run_id,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}}])

    tags = python_ok(f"import gitrun, json; print(json.dumps(gitrun.get_run({run_id!r}).data.tags))", repo)
    assert '"mlflow.source.git.repoURL": "https://gitlab.example.com/acme/proj.git"' in tags
    proc = gitrun_cli("commit", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert secret_found(repo, TOKEN, tags, proc.stdout, allowed=(".git/config",)) == []


def test_site_never_shows_credentials_of_a_stored_repo_url(repo: Path, tmp_path: Path) -> None:
    # A run logged by an older gitrun (or any tool) that stored the URL with its credentials.
    stored = f"https://bob:{PASSWORD}@gitlab.example.com/acme/proj.git?private_token={TOKEN}"
    log_runs(repo, [{"metrics": {"val_acc": 0.5}, "tags": {"mlflow.source.git.repoURL": stored}}])
    site = tmp_path / "site"

    proc = gitrun_cli("site", "build", "-o", str(site), cwd=repo)

    assert proc.returncode == 0, proc.stderr
    pages = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    assert any(b"gitlab.example.com/acme/proj.git" in data for data in pages.values())
    assert [p for p, data in pages.items() if PASSWORD.encode() in data or TOKEN.encode() in data] == []


# -- Git's and DVC's error messages --------------------------------------------------------------
CLOSED = "127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once


def test_git_errors_never_quote_credentials(repo: Path) -> None:
    from gitrun.errors import GitCommandError
    from gitrun.vcs.git import GitRepo

    url = f"http://bob:{PASSWORD}@{CLOSED}/repo.git?private_token={TOKEN}"
    with pytest.raises(GitCommandError) as info:
        GitRepo(repo).run("push", url, "main", env={"GIT_TERMINAL_PROMPT": "0"})
    assert "git push http://127.0.0.1:9/repo.git main failed" in str(info.value)
    assert PASSWORD not in str(info.value) + info.value.stderr and TOKEN not in str(info.value) + info.value.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("push",),  # origin's URL is quoted by Git's own error (query token included)
        ("push", "--remote", f"http://bob:{PASSWORD}@{CLOSED}/other.git?token={TOKEN}"),
        ("pull",),
        ("pull", "--remote", f"http://bob:{PASSWORD}@{CLOSED}/other.git?token={TOKEN}"),
        ("site", "publish", "--push", "--remote", f"http://bob:{PASSWORD}@{CLOSED}/site.git?token={TOKEN}"),
    ],
)
def test_push_and_pull_errors_never_print_credentials(repo: Path, args: tuple[str, ...]) -> None:
    run_git(repo, "remote", "add", "origin", f"http://bob:{PASSWORD}@{CLOSED}/repo.git?private_token={TOKEN}")
    if args[0] == "site":
        (repo / "_site").mkdir()
        (repo / "_site" / "index.html").write_text("<p>site</p>\n")
    else:
        run_git(repo, "push", "-q", ".", "HEAD:refs/remotes/origin/main", check=False)
        run_git(repo, "config", "branch.main.remote", "origin")
        run_git(repo, "config", "branch.main.merge", "refs/heads/main")

    proc = gitrun_cli(*args, cwd=repo, env={"GIT_TERMINAL_PROMPT": "0"})

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "failed" in proc.stderr and "127.0.0.1:9" in proc.stderr and "Traceback" not in proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr and TOKEN not in proc.stdout + proc.stderr


class _RefusingHandler(http.server.BaseHTTPRequestHandler):
    """A DVC HTTP remote that answers every upload with an error (DVC then logs the URL it used)."""

    def do_POST(self) -> None:
        self.send_error(403, "no uploads here")

    do_PUT = do_POST

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def refusing_http_remote() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RefusingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_dvc_push_errors_never_print_credentials(
    dvc_repo: Path, origin: Path, tmp_path: Path, refusing_http_remote: str
) -> None:
    repo = dvc_repo
    (tmp_path / "model.bin").write_bytes(os.urandom(700 * 1024))  # over the DVC threshold
    log_runs(repo, [{"metrics": {"val_acc": 0.9}, "artifacts": [str(tmp_path / "model.bin")]}])
    assert gitrun_cli("commit", cwd=repo).returncode == 0
    (repo / ".dvc" / "config.local").write_text(
        f"['remote \"storage\"']\n    url = {refusing_http_remote}/store?token={TOKEN}\n"
        f"    user = bob\n    password = {PASSWORD}\n"
    )

    proc = gitrun_cli("push", cwd=repo)

    assert proc.returncode == 1
    assert "dvc push failed" in proc.stderr and "Traceback" not in proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr and PASSWORD not in proc.stdout + proc.stderr
