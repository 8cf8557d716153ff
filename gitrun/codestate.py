"""The code state of a run: the diff of a dirty working tree, and recovering that exact code.

At ``start_run`` in a dirty work tree, the run keeps ``code.diff`` (tracked changes against its
commit, plus untracked text files), computed once per process and shared by its runs. Secrets-
bearing files (``.env``, keys, credentials) are never included; a diff over the size cap is
skipped and the run says so in its ``gitrun.git.diff`` tag. ``gitrun runs checkout`` rebuilds the
code in a separate ``git worktree``.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from gitrun.errors import GitrunError
from gitrun.git import GitRepo, git_context

if TYPE_CHECKING:
    from gitrun.store import Store

DIFF_FILE = "code.diff"
DIFF_TAG = "gitrun.git.diff"
DEFAULT_MAX_BYTES = 1024 * 1024
ENV_MAX_BYTES = "GITRUN_CODE_DIFF_MAX_BYTES"
# Never captured, whatever their size: files that commonly hold secrets.
SECRET_PATTERNS = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "id_rsa*",
    "id_ed25519*",
    "id_ecdsa*",
    ".netrc",
    ".npmrc",
    ".pypirc",
    "credentials",
    "credentials.*",
    "*secret*",
    "*.keystore",
    ".git-credentials",
)


@dataclass(frozen=True)
class CodeState:
    commit: str
    diff: bytes | None  # None: clean tree, or skipped (see note)
    note: str  # value of the gitrun.git.diff tag


def _is_secret(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(name, pattern) for pattern in SECRET_PATTERNS)


def max_bytes() -> int:
    raw = os.environ.get(ENV_MAX_BYTES)
    if raw:
        from gitrun.commits import parse_size

        return parse_size(raw)
    return DEFAULT_MAX_BYTES


@lru_cache(maxsize=8)
def code_state(directory: str) -> CodeState | None:
    """The diff of the repository around ``directory`` against its commit, untracked files included
    (once per process); None when there is nothing beyond the commit."""
    ctx = git_context(directory)
    if ctx is None or not (ctx.dirty or ctx.untracked) or ctx.commit is None:
        return None
    repo = GitRepo(Path(ctx.root))
    tracked = repo.run("diff", "--name-only", "-z", "HEAD", "--", ".", ":(exclude).gitrun").split("\0")
    untracked = repo.run("ls-files", "-z", "--others", "--exclude-standard", "--", ".", ":(exclude).gitrun").split("\0")
    excluded = [p for p in tracked + untracked if p and _is_secret(p)]
    specs = [f":(exclude,literal){p}" for p in excluded]
    patch = repo.run(
        "diff", "--binary", "--no-color", "--no-ext-diff", "HEAD", "--", ".", ":(exclude).gitrun", *specs, text=False
    )
    limit = max_bytes()
    for path in untracked:
        if not path or _is_secret(path) or len(patch) > limit:
            continue
        # `git diff --no-index` exits 1 when files differ: that is the normal case here.
        proc = subprocess.run(
            ["git", "diff", "--binary", "--no-color", "--no-index", "--", "/dev/null", path],
            cwd=repo.root,
            capture_output=True,
        )
        patch += proc.stdout
    if len(patch) > limit:
        return CodeState(
            ctx.commit, None, f"skipped: diff is {len(patch)} bytes, over the {limit}-byte cap ({ENV_MAX_BYTES})"
        )
    note = DIFF_FILE + (f" (excluded secrets: {', '.join(excluded)})" if excluded else "")
    return CodeState(ctx.commit, patch, note)


def checkout(repo: GitRepo, commit: str, diff: bytes | None, dest: Path) -> Path:
    """A new ``git worktree`` at ``commit`` in ``dest`` with ``diff`` applied; the user's tree is untouched."""
    if dest.exists() and any(dest.iterdir()):
        raise GitrunError(f"{dest} exists and is not empty; choose a new directory")
    if repo.run("cat-file", "-e", f"{commit}^{{commit}}", check=False).returncode != 0:
        raise GitrunError(
            f"commit {commit[:12]} is not in {repo.root}; run this from the run's code repository (after git fetch)"
        )
    repo.run("worktree", "add", "--detach", str(dest), commit)
    if diff:
        proc = subprocess.run(["git", "apply", "--whitespace=nowarn", "-"], cwd=dest, input=diff, capture_output=True)
        if proc.returncode != 0:
            raise GitrunError(
                f"the run's code.diff does not apply on {commit[:12]}: {proc.stderr.decode(errors='replace').strip()}"
            )
    return dest


def checkout_run(store: Store, run_id: str, dest: Path, repo_dir: Path | None = None) -> Path:
    """Materialise the exact code of a run (its commit + its ``code.diff``) in a new worktree ``dest``."""
    record = store.read_run(store.resolve_run_id(run_id))
    commit = record.tags.get("mlflow.source.git.commit")
    if not commit:
        raise GitrunError(f"run {record.run_id} recorded no Git commit (it was not started inside a Git work tree)")
    diff_path = record.run_dir / DIFF_FILE
    diff = diff_path.read_bytes() if diff_path.exists() else None
    note = record.tags.get(DIFF_TAG, "")
    if diff is None and note.startswith("skipped"):
        raise GitrunError(
            f"run {record.run_id} was dirty but its diff was not kept ({note}); only its commit can be restored"
        )
    repo = GitRepo.find(repo_dir or Path.cwd())
    return checkout(repo, commit, diff, dest.resolve())
