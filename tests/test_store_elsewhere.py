"""A store in another repository: ``GITRUN_TRACKING_URI=/path/to/experiments-repo``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import git_state, gitrun_cli, log_runs, run_git, work_files


@pytest.fixture
def experiments_repo(tmp_path: Path) -> Path:
    """A separate Git work tree with its own history, beside the training repository."""
    exp = tmp_path / "experiments-repo"
    run_git(tmp_path, "init", "-q", "-b", "main", str(exp))
    (exp / "README.md").write_text("# experiments of the team\n")
    run_git(exp, "add", "README.md")
    run_git(exp, "commit", "-q", "-m", "experiments repository")
    return exp


def head(repo: Path) -> str:
    return run_git(repo, "rev-parse", "HEAD").stdout.strip()


def test_runs_land_in_the_other_repository_and_are_committed_there(
    repo: Path, experiments_repo: Path, tmp_path: Path
) -> None:
    env = {"GITRUN_TRACKING_URI": str(experiments_repo)}
    (repo / "train.py").write_text("print('tuned')\n")  # the training code is dirty
    (repo / "staged.txt").write_text("staged in the training repo\n")
    run_git(repo, "add", "staged.txt")
    training_head, exp_head = head(repo), head(experiments_repo)
    training_before, training_files = git_state(repo, exclude_store=False), work_files(repo, skip=(".git",))

    (run_id,) = log_runs(repo, [{"name": "remote-store", "metrics": {"val_acc": 0.88}}], env=env)

    run_dir = experiments_repo / ".gitrun" / "experiments" / "iris-sgd" / "runs" / run_id
    assert (run_dir / "meta.json").is_file()
    assert not (repo / ".gitrun").exists()
    tags = json.loads((run_dir / "tags.json").read_text())
    assert tags["mlflow.source.git.commit"] == training_head != exp_head  # the code's commit
    kept = experiments_repo / ".gitrun" / "code" / f"{tags['gitrun.git.diff.sha256']}.diff"  # the store's copy
    assert b"print('tuned')" in kept.read_bytes()

    proc = gitrun_cli("commit", "--json", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)

    # The commit is in the experiments repository, on top of its own history.
    assert result["sha"] == head(experiments_repo)
    assert run_git(experiments_repo, "rev-parse", "HEAD~1").stdout.strip() == exp_head
    committed = run_git(experiments_repo, "diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD").stdout.split()
    assert committed and all(p.startswith(".gitrun/") for p in committed)
    assert any(p.endswith(f"{run_id}/meta.json") for p in committed)
    assert "gitrun: 1 run in iris-sgd" in run_git(experiments_repo, "log", "-1", "--format=%s").stdout
    assert run_git(experiments_repo, "status", "--porcelain").stdout == ""
    # The training repository is untouched.
    assert head(repo) == training_head
    assert run_git(repo, "rev-list", "--count", "HEAD").stdout.strip() == "1"
    assert git_state(repo, exclude_store=False) == training_before
    assert work_files(repo, skip=(".git",)) == training_files

    # The CLI reads the same store; `runs checkout` from the training repo rebuilds its code.
    listed = gitrun_cli("runs", "list", "--json", cwd=repo, env=env)
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [run_id]
    proc = gitrun_cli("runs", "checkout", run_id, str(tmp_path / "repro"), cwd=repo, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "repro" / "train.py").read_text() == "print('tuned')\n"
    assert (tmp_path / "repro" / "staged.txt").read_text() == "staged in the training repo\n"
    # From the experiments repository the run's commit does not exist: a clear error, no worktree.
    proc = gitrun_cli("runs", "checkout", run_id, str(tmp_path / "elsewhere"), cwd=experiments_repo, env=env)
    assert proc.returncode != 0 and "is not in" in proc.stderr and "code repository" in proc.stderr
    assert not (tmp_path / "elsewhere").exists()
    log = json.loads(gitrun_cli("log", "--json", cwd=repo, env=env).stdout)
    assert [c["sha"] for c in log] == [result["sha"]]


def test_the_python_api_commits_in_the_store_s_repository(repo: Path, experiments_repo: Path) -> None:
    from gitrun.store import Store
    from gitrun.vcs.commit import commit

    env = {"GITRUN_TRACKING_URI": str(experiments_repo)}
    (run_id,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}}], env=env)
    training_head = head(repo)

    result = commit(Store(experiments_repo))

    assert result.sha == head(experiments_repo) and [r.run_id for r in result.runs] == [run_id]
    assert head(repo) == training_head
