"""``gitrun init``: the store skeleton, and optionally DVC with a default remote."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitrun.errors import GitrunError
from gitrun.store import Store
from gitrun.vcs import dvc
from gitrun.vcs.commit import check_git_state, commit_paths
from gitrun.vcs.git import GitRepo


@dataclass(frozen=True)
class InitResult:
    store: Path
    existed: bool
    dvc_files: tuple[str, ...] = ()
    commit_sha: str | None = None
    remote_url: str | None = None  # the DVC remote as written to .dvc/config (credentials removed)
    remote_credentials: tuple[str, ...] = ()  # its options written to .dvc/config.local instead


def init_store(store: Store, *, with_dvc: bool = False, remote_url: str | None = None) -> InitResult:
    """Create the store; with DVC, run ``dvc init``, set the remote and commit DVC's config files only.

    Credentials in ``remote_url`` (``https://user:password@...``, ``s3://KEY:SECRET@...``) go to
    the git-ignored ``.dvc/config.local``, never to a committed file.
    """
    existed = store.layout.exists()
    if with_dvc:  # what could refuse comes before anything is written
        repo = GitRepo.find(store.root)
        check_git_state(repo)
        dvc.require_dvc("gitrun init --dvc")
    store.ensure()
    store.ensure_default_experiment()
    if not with_dvc:
        return InitResult(store.root, existed)
    setup = dvc.init(repo.root, remote_url)
    files = list(setup.files)
    if setup.credentials and _ignore_local_config(repo) and ".dvc/.gitignore" not in files:
        files.append(".dvc/.gitignore")
    sha = None
    if repo.branch() is not None or repo.head() is None:
        sha, _ = commit_paths(repo, files, "gitrun: set up DVC for large artifacts\n", no_verify=False)
    return InitResult(store.root, existed, tuple(files), sha, setup.remote_url, setup.credentials)


def _ignore_local_config(repo: GitRepo) -> bool:
    """``.dvc/config.local`` holds credentials: make sure Git ignores it (DVC's ``.dvc/.gitignore``
    normally does). True when the rule had to be added to ``.dvc/.gitignore``."""
    if repo.run("check-ignore", "-q", "--no-index", ".dvc/config.local", check=False).returncode == 0:
        return False
    gitignore = repo.root / ".dvc" / ".gitignore"
    text = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
    gitignore.write_text(text + ("" if not text or text.endswith("\n") else "\n") + "/config.local\n", encoding="utf-8")
    if repo.run("check-ignore", "-q", "--no-index", ".dvc/config.local", check=False).returncode != 0:
        raise GitrunError(
            f"{repo.root / '.dvc' / 'config.local'} holds the remote's credentials but Git does not ignore it "
            "(a rule in your .gitignore files re-includes it); fix that rule before committing anything"
        )
    return True
