"""``gitrun runs checkout``: rebuild the exact code of a run (its commit plus its ``code.diff``) in a
new ``git worktree``, leaving the user's work tree untouched."""

from __future__ import annotations

from pathlib import Path

from gitrun import tags
from gitrun.errors import GitrunError, last_lines
from gitrun.store import ReadStore
from gitrun.vcs.git import GitRepo


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
        proc = repo.run("apply", "--whitespace=nowarn", "-", cwd=dest, input=diff, text=False, check=False)
        if proc.returncode != 0:
            raise GitrunError(f"the run's code.diff does not apply on {commit[:12]}: {last_lines(proc.stderr)}")
    return dest


def checkout_run(store: ReadStore, run_id: str, dest: Path, repo_dir: Path | None = None) -> Path:
    """Materialise the exact code of a run (its commit + its ``code.diff``) in a new worktree ``dest``."""
    record = store.read_run(store.resolve_run_id(run_id))
    commit = record.tags.get(tags.GIT_COMMIT)
    if not commit:
        raise GitrunError(f"run {record.run_id} recorded no Git commit (it was not started inside a Git work tree)")
    diff = store.code_diff(record)
    note = record.tags.get(tags.CODE_DIFF, "")
    if diff is None and note.startswith("skipped"):
        raise GitrunError(
            f"run {record.run_id} was dirty but its diff was not kept ({note}); only its commit can be restored"
        )
    repo = GitRepo.find(repo_dir or Path.cwd())
    return checkout(repo, commit, diff, dest.resolve())
