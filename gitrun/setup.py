"""``gitrun init``: the store skeleton, and optionally DVC with a default remote."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitrun.store import Store


@dataclass(frozen=True)
class InitResult:
    store: Path
    existed: bool
    dvc_files: tuple[str, ...] = ()
    commit_sha: str | None = None


def init_store(store: Store, *, with_dvc: bool = False, remote_url: str | None = None) -> InitResult:
    """Create the store; with DVC, run ``dvc init``, set the remote and commit DVC's config files only."""
    existed = store.layout.exists()
    store.ensure()
    store.ensure_default_experiment()
    if not with_dvc:
        return InitResult(store.root, existed)
    from gitrun import dvc
    from gitrun.commit import check_git_state, commit_paths
    from gitrun.git import GitRepo

    repo = GitRepo.find(store.root)
    check_git_state(repo)
    files = dvc.init(repo.root, remote_url)
    sha = None
    if repo.branch() is not None or repo.head() is None:
        sha, _ = commit_paths(repo, files, "gitrun: set up DVC for large artifacts\n", no_verify=False)
    return InitResult(store.root, existed, tuple(files), sha)
