"""Where a project's files come from: a local directory, or a Git repository at a version.

A Git project (``https://...``, ``git@host:org/repo``, ``ssh://``, ``file://``, or a local
repository given with ``-v``) is cloned once into gitrun's cache (``<cache>/projects/<url
hash>``) and fetched again on each use; the version (branch, tag or commit; default: the remote's
default branch) is resolved to a commit once, and every run of it gets its own temporary
``git worktree`` at that commit, removed when the run ends. As in MLflow, ``URI#sub/dir`` names
a project in a subdirectory.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gitrun import gitcmd
from gitrun.envs import cache_root
from gitrun.errors import ExecutionException, GitCommandError
from gitrun.redact import redact_credentials, strip_credentials

_URL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://|[^/@\s]+@[^/:\s]+:)")


@dataclass(frozen=True)
class ProjectSource:
    """A project, resolved: a local directory (``directory``), or a Git ``url`` at ``commit``."""

    uri: str  # as the user gave it
    directory: str | None = None
    url: str | None = None
    commit: str | None = None
    version: str | None = None
    branch: str | None = None  # the version, when it names a branch (MLflow's mlflow.source.git.branch)
    subdirectory: str = ""

    @property
    def is_git(self) -> bool:
        return self.url is not None

    @property
    def source_name(self) -> str:
        """``mlflow.source.name``: the Git URL (credentials removed), else ``file://`` + the directory."""
        if self.url is not None:
            name = strip_credentials(self.url)
            return f"{name}#{self.subdirectory}" if self.subdirectory else name
        assert self.directory is not None
        return Path(self.directory).as_uri()


def is_git_url(uri: str) -> bool:
    return bool(_URL.match(uri))


def split_subdirectory(uri: str) -> tuple[str, str]:
    """``(uri, subdirectory)`` of MLflow's ``URI#sub/dir`` form (no ``.`` allowed in it, as MLflow)."""
    uri = uri.strip("'\"")
    base, _, sub = uri.partition("#")
    if sub and "." in sub:
        raise ExecutionException(f"'.' is not allowed in project subdirectory paths ({uri!r})")
    return base, sub


def resolve(uri: str = ".", version: str | None = None) -> ProjectSource:
    """Find the project ``uri`` names: a directory as it is, or a Git repository fetched and ``version`` resolved."""
    base, sub = split_subdirectory(uri)
    local = Path(base[len("file://") :] if base.startswith("file://") else base).expanduser()
    if not is_git_url(base) or (base.startswith("file://") and version is None and not _is_repo(local)):
        if version is not None and not _is_repo(local):
            raise ExecutionException(f"-v/--version needs a Git repository; {uri!r} is not one")
        if version is None:
            directory = (local / sub).resolve()
            if not directory.is_dir():
                raise ExecutionException(f"no project directory {directory}; give a directory or a Git URL")
            return ProjectSource(uri=uri, directory=str(directory))
        base = str(local.resolve())
    cache = _fetch(base)
    commit, branch = _resolve_version(cache, base, version)
    return ProjectSource(uri=uri, url=base, commit=commit, version=version, branch=branch, subdirectory=sub)


def _is_repo(path: Path) -> bool:
    return path.is_dir() and gitcmd.output(path, "rev-parse", "--git-dir") is not None


def _cache_dir(url: str) -> Path:
    return cache_root() / "projects" / hashlib.sha256(url.encode()).hexdigest()[:16]


def _git(cwd: Path, *args: str) -> str:
    try:
        return str(gitcmd.run(cwd, *args).stdout)
    except GitCommandError as exc:
        raise ExecutionException(redact_credentials(str(exc))) from None


def _fetch(url: str) -> Path:
    """The cache clone of ``url``, with every branch and tag fetched now (never forced onto local refs)."""
    from filelock import FileLock

    cache = _cache_dir(url)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache) + ".lock"):
        if not (cache / "HEAD").exists():
            shutil.rmtree(cache, ignore_errors=True)
            _git(cache.parent, "init", "-q", "--bare", str(cache))
            _git(cache, "remote", "add", "origin", url)
        _git(cache, "fetch", "-q", "--prune", "--tags", "origin", "+refs/heads/*:refs/remotes/origin/*")
        with contextlib.suppress(ExecutionException):  # which branch the remote's HEAD names
            _git(cache, "remote", "set-head", "origin", "--auto")
    return cache


def _resolve_version(cache: Path, url: str, version: str | None) -> tuple[str, str | None]:
    candidates: list[tuple[str, str | None]] = [("refs/remotes/origin/HEAD", None)]
    if version is not None:
        candidates = [
            (f"refs/remotes/origin/{version}", version),
            (f"refs/tags/{version}", None),
            (version, None),
        ]
    for ref, branch in candidates:
        out = gitcmd.output(cache, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
        if out:
            return out.strip(), branch
    what = f"version {version!r}" if version else "a default branch"
    raise ExecutionException(
        f"Unable to checkout {what} of git repo {redact_credentials(url)}: no such branch, tag or commit there"
    )


@contextlib.contextmanager
def checkout(source: ProjectSource) -> Iterator[Path]:
    """The project's directory for one run: the local directory, or a temporary worktree at the
    source's commit (removed afterwards: log what the run should keep as artifacts)."""
    if not source.is_git:
        assert source.directory is not None
        yield Path(source.directory)
        return
    from filelock import FileLock

    assert source.url is not None and source.commit is not None
    cache = _cache_dir(source.url)
    if not (cache / "HEAD").exists() or gitcmd.output(cache, "cat-file", "-e", f"{source.commit}^{{commit}}") is None:
        _fetch(source.url)  # another machine, or a cache cleaned since the driver resolved it
    work = Path(tempfile.mkdtemp(prefix="gitrun-project-"))
    tree = work / "checkout"
    with FileLock(str(cache) + ".lock"):
        _git(cache, "worktree", "add", "-q", "--detach", str(tree), source.commit)
    try:
        if (tree / ".gitmodules").exists():
            _git(tree, "submodule", "update", "-q", "--init", "--recursive")
        directory = tree / source.subdirectory if source.subdirectory else tree
        if not directory.is_dir():
            raise ExecutionException(f"Could not find subdirectory {source.subdirectory} of {source.uri}")
        yield directory
    finally:
        with FileLock(str(cache) + ".lock"):
            gitcmd.run(cache, "worktree", "remove", "--force", str(tree), check=False)
            gitcmd.run(cache, "worktree", "prune", check=False)
        shutil.rmtree(work, ignore_errors=True)
