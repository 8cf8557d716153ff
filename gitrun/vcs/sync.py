"""``gitrun push`` / ``gitrun pull``: Git for the runs, DVC for their big files. Never forces."""

from __future__ import annotations

from dataclasses import dataclass

from gitrun.errors import GitCommandError, GitrunError
from gitrun.redact import redact_credentials
from gitrun.store import Store
from gitrun.tracking.state import current_store
from gitrun.vcs import dvc
from gitrun.vcs.git import GitRepo


@dataclass(frozen=True)
class SyncResult:
    remote: str
    branch: str | None
    git_output: str
    dvc_files: tuple[str, ...]
    dvc_transferred: int
    tags: tuple[str, ...] = ()  # refs plugins pushed after the branch (the registry's tags)


def _default_store() -> Store:
    return current_store()


def _upstream(repo: GitRepo, branch: str) -> tuple[str, str]:
    remote = repo.config(f"branch.{branch}.remote")
    merge = repo.config(f"branch.{branch}.merge") or ""
    return remote or "origin", merge.removeprefix("refs/heads/") or branch


def committed_dvc_pointers(repo: GitRepo, store: Store, run_ids: set[str] | None = None) -> list[str]:
    """Repo-relative ``.dvc`` pointers of committed runs at HEAD (optionally only ``run_ids``)."""
    import os

    rel = os.path.relpath(store.root.resolve(), repo.root.resolve()).replace(os.sep, "/")
    if repo.head() is None:
        return []
    listing = repo.run("ls-tree", "-r", "--name-only", "-z", "HEAD", "--", rel)
    pointers = []
    for path in listing.split("\0"):
        if not path.endswith(".dvc"):
            continue
        parts = path.split("/")
        if run_ids is not None and not any(p in run_ids for p in parts):
            continue
        pointers.append(path)
    return pointers


def push(store: Store | None = None, remote: str | None = None, dvc_remote: str | None = None) -> SyncResult:
    """``git push`` of the current branch (setting its upstream the first time), then ``dvc push``."""
    store = store or _default_store()
    repo = GitRepo.find(store.root)
    branch = repo.branch()
    if branch is None:
        raise GitrunError("HEAD is detached; switch to a branch before `gitrun push`")
    git_remote, remote_branch = _upstream(repo, branch)
    git_remote = remote or git_remote
    has_upstream = bool(repo.config(f"branch.{branch}.remote"))
    args = ["push", "--porcelain"] + ([] if has_upstream else ["-u"]) + [git_remote, f"{branch}:{remote_branch}"]
    try:
        out = repo.run(*args)
    except GitCommandError as exc:
        hint = " (the remote has commits you do not: run `gitrun pull` first)" if "rejected" in exc.stderr else ""
        shown = redact_credentials(git_remote)  # --remote may be a URL with credentials in it
        raise GitrunError(f"git push to {shown} failed{hint}: {exc.summary}") from None
    from gitrun.plugins import get_plugin_manager

    # not call_each: a registry tag that cannot be pushed is an error the user must see
    pushed = [
        ref for refs in get_plugin_manager().hook.gitrun_pushed(root=repo.root, remote=git_remote) for ref in refs or ()
    ]
    pointers = committed_dvc_pointers(repo, store)
    transferred = 0
    if pointers:
        transferred = dvc.push(repo.root, pointers, remote=dvc_remote)
    return SyncResult(
        redact_credentials(git_remote), branch, redact_credentials(out), tuple(pointers), transferred, tuple(pushed)
    )


def pull(
    store: Store, run_ids: list[str] | None = None, remote: str | None = None, dvc_remote: str | None = None
) -> SyncResult:
    """``git pull --ff-only``, fetch tags, then ``dvc pull`` of the named runs' big files (all when none)."""
    repo = GitRepo.find(store.root)
    branch = repo.branch()
    if branch is None:
        raise GitrunError("HEAD is detached; switch to a branch before `gitrun pull`")
    git_remote, remote_branch = _upstream(repo, branch)
    git_remote = remote or git_remote
    try:
        out = repo.run("pull", "--ff-only", git_remote, remote_branch)
        repo.run("fetch", "--tags", git_remote)
    except GitCommandError as exc:
        raise GitrunError(
            f"git pull --ff-only from {redact_credentials(git_remote)} failed: {exc.summary}; the branches have diverged "
            "or the working tree has conflicting changes — merge or rebase yourself (gitrun never does it for you)"
        ) from None
    wanted = {store.resolve_run_id(r) for r in run_ids} if run_ids else None
    pointers = committed_dvc_pointers(repo, store, wanted)
    transferred = dvc.pull(repo.root, pointers, remote=dvc_remote) if pointers else 0
    return SyncResult(redact_credentials(git_remote), branch, redact_credentials(out), tuple(pointers), transferred)
