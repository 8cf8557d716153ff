"""Clone mode: workers without the driver's file system bring their runs back through Git.

On the worker (:func:`run_in_clone`): a ``git worktree`` of a per-machine cache clone of the
remote, on a new branch ``gitrun/sweep/<sweep>/<trial>`` at the sweep's commit; the trial runs
there, ``gitrun commit`` commits its runs (big files into DVC, pushed too), and the branch is
pushed (never forced). On the driver (:func:`bring_in`): one fetch of every trial branch, each
run's folder written into the store from the fetched commit, one ``gitrun commit`` of them all
(through its temporary index: the user's index and other changes stay as they were), and one
push deleting the branches. Runs are folders with unique names, so they never conflict.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from gitrun import gitcmd
from gitrun.envs import cache_root
from gitrun.errors import ExecutionException, GitCommandError
from gitrun.projects.backends import process_outcome, spawn_trial
from gitrun.projects.runner import RunOutcome, RunSpec
from gitrun.projects.worker import read_record, wait_cancellable
from gitrun.redact import redact_credentials
from gitrun.store import Store
from gitrun.store.reader import holds_only_local_files
from gitrun.vcs import dvc
from gitrun.vcs.commit import commit
from gitrun.vcs.git import GitRepo
from gitrun.vcs.sync import committed_dvc_pointers

INCOMING = "refs/gitrun/incoming/"


@dataclass(frozen=True)
class CloneSpec:
    url: str  # the remote's URL, as the driver's repository has it
    remote: str  # its name there
    commit: str  # the sweep's commit
    store_rel: str  # the store's folder inside the repository
    driver_root: str  # the driver's work tree (paths under it move into the clone)
    branch: str = ""


def sweep_origin(store: Store, remote: str) -> CloneSpec:
    """Where clone-mode workers get the code: ``remote`` at HEAD, which must be there already."""
    repo = GitRepo.find(store.root)
    url = gitcmd.output(repo.root, "remote", "get-url", remote)
    if not url:
        raise ExecutionException(
            f"clone mode needs a Git remote the workers can clone: {repo.root} has no remote {remote!r} "
            '(add one with `git remote add`, or name another with --backend-config \'{"remote": "NAME"}\')'
        )
    head = repo.head()
    if head is None:
        raise ExecutionException(f"{repo.root} has no commit yet; commit and push the project first")
    try:
        repo.run("fetch", "-q", remote)
    except GitCommandError as exc:
        raise ExecutionException(f"cannot fetch {redact_credentials(url.strip())}: {exc.stderr.strip()}") from None
    on_remote = repo.run("branch", "-r", "--contains", head, "--list", f"{remote}/*").strip()
    if not on_remote:
        raise ExecutionException(
            f"the sweep's commit {head[:12]} is not on {remote!r}: push it first (`git push`); "
            "clone-mode workers clone the repository from there"
        )
    dirty = repo.run("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)" + _rel(repo, store.root))
    if dirty.strip():
        warnings.warn(
            f"uncommitted changes in {repo.root} do not reach clone-mode workers: they run commit {head[:12]}",
            stacklevel=3,
        )
    return CloneSpec(url.strip(), remote, head, _rel(repo, store.root), str(repo.root.resolve()))


def _rel(repo: GitRepo, path: Path) -> str:
    return os.path.relpath(path.resolve(), repo.root.resolve()).replace(os.sep, "/")


def _cache(url: str) -> Path:
    """This machine's bare clone of ``url``, fetched now (under a lock: workers share it).

    The fetch goes to ``refs/remotes/origin/*``, never ``refs/heads/*``: the trials' own branches
    live in ``refs/heads`` and are checked out in worktrees, which Git refuses to fetch into."""
    from filelock import FileLock

    cache = cache_root() / "clones" / hashlib.sha256(url.encode()).hexdigest()[:16]
    cache.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache) + ".lock"):
        if not (cache / "HEAD").exists():
            shutil.rmtree(cache, ignore_errors=True)
            gitcmd.run(cache.parent, "clone", "-q", "--bare", url, str(cache))
        gitcmd.run(cache, "fetch", "-q", "--prune", "origin", "+refs/heads/*:refs/remotes/origin/*")
    return cache


def run_in_clone(spec: RunSpec, clone: CloneSpec) -> RunOutcome:
    """The worker's side: the trial in a fresh worktree at the sweep's commit, its runs pushed on ``clone.branch``."""
    from filelock import FileLock

    cache = _cache(clone.url)
    work = Path(tempfile.mkdtemp(prefix="gitrun-trial-")) / "repo"
    with FileLock(str(cache) + ".lock"):
        gitcmd.run(cache, "worktree", "add", "-q", "-b", clone.branch, str(work), clone.commit)
    try:
        moved = spec.moved(Path(clone.driver_root), work)
        moved = replace(moved, tracking_uri=str(work / clone.store_rel))
        proc, errors = spawn_trial(moved, cwd=str(work))
        returncode = wait_cancellable(proc, spec.run_id)
        outcome = process_outcome(moved, returncode, read_record(moved), errors)
        store = Store(work / clone.store_rel)
        if not store.layout.exists():
            return outcome
        result = commit(store, message=f"gitrun sweep: {clone.branch} ({spec.run_id})")
        runs = tuple((r.experiment_id, r.run_id) for r in result.runs)
        if result.sha is None:
            return outcome
        repo = GitRepo(work)
        pointers = committed_dvc_pointers(repo, store, {run_id for _, run_id in runs})
        if pointers:
            dvc.push(work, pointers)
        repo.run("push", "-q", clone.url, f"{clone.branch}:refs/heads/{clone.branch}")
        return replace(outcome, branch=clone.branch, runs=runs)
    finally:
        with FileLock(str(cache) + ".lock"):
            gitcmd.run(cache, "worktree", "remove", "--force", str(work), check=False)
            gitcmd.run(cache, "branch", "-D", clone.branch, check=False)
        shutil.rmtree(work.parent, ignore_errors=True)


def bring_in(
    store: Store, clone: CloneSpec, outcomes: Sequence[RunOutcome], commit_with: Sequence[str] = ()
) -> str | None:
    """The driver's side: the runs of every pushed trial branch into this store, one commit with
    them (and ``commit_with``), the branches deleted on the remote. Returns the commit's SHA."""
    repo = GitRepo.find(store.root)
    branches = [o.branch for o in outcomes if o.branch]
    if branches:
        repo.run("fetch", "-q", clone.remote, *(f"refs/heads/{b}:{INCOMING}{b}" for b in branches))
    brought: list[str] = []
    for outcome in outcomes:
        if not outcome.branch:
            continue
        for experiment_id, run_id in outcome.runs:
            folder = f"experiments/{experiment_id}/runs/{run_id}"
            tree = repo.tree_id(f"{INCOMING}{outcome.branch}", f"{clone.store_rel}/{folder}")
            dest = store.root / folder
            if tree is None:
                warnings.warn(f"branch {outcome.branch} has no {folder}; run {run_id} is not brought in", stacklevel=2)
                continue
            if dest.exists() and not holds_only_local_files(dest):
                warnings.warn(f"{dest} exists already; run {run_id} from {outcome.branch} is left out", stacklevel=2)
                continue
            repo.materialize_tree(tree, dest)
            brought.append(run_id)
    sha = None
    if brought or commit_with:
        message = f"gitrun sweep: {len(brought)} run(s) from clone-mode workers"
        sha = commit(store, message=message, run_ids=[*brought, *commit_with]).sha
    if branches:
        repo.run("push", "-q", clone.remote, *(f":refs/heads/{b}" for b in branches))
        for b in branches:
            repo.run("update-ref", "-d", f"{INCOMING}{b}")
    return sha
