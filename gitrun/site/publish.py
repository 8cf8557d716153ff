"""``gitrun site publish``: commit a built site to the ``gh-pages`` branch, ghp-import style.

The commit is made with plumbing only: a temporary index (``GIT_INDEX_FILE``) filled from the site
folder, ``git write-tree``, ``git commit-tree`` on top of the branch's current tip, and
``git update-ref`` guarded by that old tip. The user's working tree, index and current branch are
never touched, history is only appended to, and pushing is a plain (never forced) push.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gitrun.errors import GitrunError, last_lines
from gitrun.redact import redact_credentials
from gitrun.site.output import MANIFEST_NAME
from gitrun.vcs.git import GitRepo


@dataclass(frozen=True)
class PublishResult:
    branch: str
    commit: str | None  # the new commit; None when the site did not change
    parent: str | None
    files: int
    pushed: str | None  # the remote pushed to


def publish(
    site_dir: Path,
    repo: GitRepo,
    *,
    branch: str = "gh-pages",
    message: str | None = None,
    push: bool = False,
    remote: str = "origin",
) -> PublishResult:
    """Commit the files of ``site_dir`` as the next commit of ``branch`` (and push it when asked)."""
    site_dir = site_dir.resolve()
    if not (site_dir / "index.html").is_file():
        raise GitrunError(f"{site_dir} has no index.html: build the site first with `gitrun site build -o {site_dir}`")
    if repo.run("check-ref-format", "--branch", branch, check=False).returncode != 0:
        raise GitrunError(f"{branch!r} is not a valid branch name")
    ref = f"refs/heads/{branch}"
    current = repo.run("symbolic-ref", "-q", "HEAD", check=False)
    if current.returncode == 0 and current.stdout.strip() == ref:
        raise GitrunError(
            f"{branch} is the checked-out branch; publish from another branch (it would desync your work tree)"
        )
    parent_out = repo.run("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False)
    parent = parent_out.stdout.strip() if parent_out.returncode == 0 else None
    git_dir = repo.git_dir
    fd, index = tempfile.mkstemp(prefix="gitrun-pages-index-", dir=git_dir)
    os.close(fd)
    os.unlink(index)  # git creates it; an empty file is not a valid index
    env = {"GIT_INDEX_FILE": index, "GIT_DIR": str(git_dir), "GIT_WORK_TREE": str(site_dir)}
    try:
        repo.run("add", "--all", "--force", "--", ".", env=env, cwd=site_dir)
        repo.run("rm", "--cached", "--quiet", "--ignore-unmatch", "--", MANIFEST_NAME, env=env, cwd=site_dir)
        if not (site_dir / ".nojekyll").exists():  # serve files as they are (no Jekyll on Pages)
            blob = repo.run("hash-object", "-w", "--stdin", input="", env=env, cwd=site_dir).strip()
            repo.run("update-index", "--add", "--cacheinfo", f"100644,{blob},.nojekyll", env=env, cwd=site_dir)
        tree = repo.run("write-tree", env=env, cwd=site_dir).strip()
        files = len(repo.run("ls-files", env=env, cwd=site_dir).splitlines())
    finally:
        if os.path.exists(index):
            os.unlink(index)
    if parent is not None and repo.run("rev-parse", f"{parent}^{{tree}}").strip() == tree:
        pushed = _push(repo, remote, branch) if push else None
        return PublishResult(branch, None, parent, files, pushed)
    text = message or "gitrun site publish"
    args = ["commit-tree", tree, "-m", text]
    if parent is not None:
        args += ["-p", parent]
    commit = repo.run(*args).strip()
    # The old value guards against a concurrent update of the branch: no history is ever lost.
    repo.run("update-ref", "-m", "gitrun site publish", ref, commit, parent or repo.zero_oid)
    pushed = _push(repo, remote, branch) if push else None
    return PublishResult(branch, commit, parent, files, pushed)


def _push(repo: GitRepo, remote: str, branch: str) -> str:
    out = repo.run("push", remote, f"refs/heads/{branch}:refs/heads/{branch}", check=False)
    shown = redact_credentials(remote)  # a URL given as --remote, and Git's stderr, may carry credentials
    if out.returncode != 0:
        raise GitrunError(
            f"git push {shown} {branch} failed (gitrun never force-pushes): {redact_credentials(last_lines(out.stderr))}; "
            f"if the remote {branch} moved, fetch it (`git fetch {shown} {branch}:{branch}`) and publish again"
        )
    return shown
