"""``gitrun gc``: soft-deleted runs removed for good through an ordinary commit; history keeps them."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from gitrun.entities import ViewType
from gitrun.store import Store
from gitrun.vcs.revision import history, read_artifact, store_at
from tests.helpers import git_state, gitrun_cli, log_runs, run_git, work_files

DAY_MS = 86_400_000


def cli_ok(*args: str, cwd: Path) -> str:
    proc = gitrun_cli(*args, cwd=cwd)
    assert proc.returncode == 0, f"gitrun {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def head(repo: Path) -> str:
    return run_git(repo, "rev-parse", "HEAD").stdout.strip()


def run_dir(repo: Path, run_id: str) -> Path:
    return repo / ".gitrun" / "experiments" / "iris-sgd" / "runs" / run_id


def age_deletion(repo: Path, run_id: str, days: int) -> None:
    """Pretend the run was deleted ``days`` ago (as if gc ran later)."""
    meta_path = run_dir(repo, run_id) / "meta.json"
    meta = json.loads(meta_path.read_text())
    assert meta["lifecycle_stage"] == "deleted"
    meta["deleted_time"] = int(time.time() * 1000) - days * DAY_MS
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def ids(store: Store, view_type: int = ViewType.ALL) -> set[str]:
    return {r.run_id for r in store.iter_runs(view_type=view_type)}


def test_gc_removes_deleted_runs_through_a_new_commit_and_keeps_history(repo: Path) -> None:
    a, b, c = log_runs(repo, [{"name": n, "metrics": {"val_acc": 0.5}} for n in "abc"])
    cli_ok("commit", "-m", "three runs", cwd=repo)
    cli_ok("runs", "delete", a, b, cwd=repo)
    age_deletion(repo, a, days=10)
    (repo / "README.md").write_text("the user's unstaged edit\n")
    (repo / "notes.txt").write_text("untracked\n")
    run_git(repo, "add", "notes.txt")
    before, files = git_state(repo), work_files(repo)
    old_head = head(repo)
    store = Store(repo / ".gitrun")
    everything = git_state(repo, exclude_store=False)

    # --dry-run: lists, changes nothing.
    out = cli_ok("gc", "--dry-run", cwd=repo)
    assert "Would remove 2 deleted run(s)" in out and a in out and b in out
    assert head(repo) == old_head and run_dir(repo, a).is_dir() and run_dir(repo, b).is_dir()
    assert git_state(repo, exclude_store=False) == everything

    # --older-than keeps the recent deletion (b), removes the old one (a).
    out = cli_ok("gc", "--older-than", "7d", cwd=repo)
    assert "Removed 1 deleted run(s)" in out and a in out and b not in out
    new_head = head(repo)
    assert new_head != old_head
    assert run_git(repo, "merge-base", "--is-ancestor", old_head, new_head, check=False).returncode == 0
    assert run_git(repo, "rev-parse", "HEAD~1").stdout.strip() == old_head  # one ordinary commit on top
    assert run_git(repo, "log", "-1", "--format=%s").stdout.startswith("gitrun gc: remove 1 deleted run")
    changed = run_git(repo, "diff-tree", "--no-commit-id", "--name-status", "-r", "HEAD").stdout.splitlines()
    assert changed and all(line.startswith("D\t") and f"/runs/{a}/" in line for line in changed)
    assert not run_dir(repo, a).exists()
    assert run_dir(repo, b).is_dir() and ids(store, ViewType.DELETED_ONLY) == {b}
    # History still has run a: the previous commit shows it (it was active there).
    assert a in ids(store_at(store, "HEAD~1"))
    assert store_at(store, "HEAD~1").get_run(a).data.metrics == {"val_acc": 0.5}
    assert a not in ids(store_at(store, "HEAD"))
    assert [r.run_id for r in history(store)[-1].removed] == [a]
    # b's soft deletion is still an uncommitted change; the user's work is untouched.
    assert f"/runs/{b}/meta.json" in run_git(repo, "status", "--porcelain", "--", ".gitrun").stdout
    assert git_state(repo) == before and work_files(repo) == files

    # Without --older-than, every deleted run goes.
    out = cli_ok("gc", cwd=repo)
    assert "Removed 1 deleted run(s)" in out and b in out
    assert not run_dir(repo, b).exists() and ids(store) == {c}
    assert run_git(repo, "merge-base", "--is-ancestor", new_head, head(repo), check=False).returncode == 0
    assert run_git(repo, "rev-list", "--count", "HEAD").stdout.strip() == "4"
    assert b in ids(store_at(store, "HEAD~1")) and b not in ids(store_at(store, "HEAD"))
    assert run_git(repo, "status", "--porcelain", "--", ".gitrun").stdout == ""
    assert git_state(repo) == before and work_files(repo) == files

    # Nothing left to collect: no commit.
    sha = head(repo)
    assert "Removed 0 deleted run(s)" in cli_ok("gc", cwd=repo)
    assert head(repo) == sha


def test_gc_of_never_committed_runs_just_removes_them(repo: Path) -> None:
    (kept,) = log_runs(repo, [{"metrics": {"val_acc": 0.9}}])
    cli_ok("commit", cwd=repo)
    (scratch,) = log_runs(repo, [{"metrics": {"val_acc": 0.1}}])
    cli_ok("runs", "delete", scratch, cwd=repo)
    sha = head(repo)

    out = cli_ok("gc", cwd=repo)

    assert "Removed 1 deleted run(s)" in out and scratch in out
    assert not run_dir(repo, scratch).exists() and run_dir(repo, kept).is_dir()
    assert head(repo) == sha  # nothing in Git to remove
    assert run_git(repo, "status", "--porcelain", "--", ".gitrun").stdout == ""


def test_gc_of_a_run_with_a_dvc_artifact(dvc_repo: Path, tmp_path: Path) -> None:
    repo = dvc_repo
    data = os.urandom(1024 * 1024)
    (tmp_path / "model.bin").write_bytes(data)
    (run_id,) = log_runs(repo, [{"artifacts": [str(tmp_path / "model.bin")]}])
    cli_ok("commit", cwd=repo)
    pointer = f".gitrun/experiments/iris-sgd/runs/{run_id}/artifacts/model.bin.dvc"
    assert pointer in run_git(repo, "ls-tree", "-r", "--name-only", "HEAD").stdout.split()
    cli_ok("runs", "delete", run_id, cwd=repo)

    cli_ok("gc", cwd=repo)

    tree = run_git(repo, "ls-tree", "-r", "--name-only", "HEAD").stdout.split()
    assert not any(run_id in p for p in tree)
    assert not run_dir(repo, run_id).exists()
    assert run_git(repo, "status", "--porcelain").stdout == ""
    # The previous commit still reads the artifact (DVC's cache keeps the content).
    assert read_artifact(store_at(Store(repo / ".gitrun"), "HEAD~1"), run_id, "model.bin") == data


def test_gc_removes_code_diffs_no_run_names_that_git_never_had(repo: Path) -> None:
    """Shared ``code/<sha256>.diff`` files: one per distinct dirty diff, kept while a run names it."""

    def dirty_run(text: str) -> tuple[str, Path]:
        (repo / "train.py").write_text(text)
        (run_id,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
        tags = json.loads((run_dir(repo, run_id) / "tags.json").read_text())
        return run_id, repo / ".gitrun" / "code" / f"{tags['gitrun.git.diff.sha256']}.diff"

    committed_run, committed_diff = dirty_run("print('v2')\n")
    cli_ok("commit", cwd=repo)
    cli_ok("runs", "delete", committed_run, cwd=repo)
    scratch, scratch_diff = dirty_run("print('v3')\n")
    _kept, kept_diff = dirty_run("print('v4')\n")
    cli_ok("runs", "delete", scratch, cwd=repo)
    hour_ago = time.time() - 2 * 3600
    for path in (committed_diff, scratch_diff, kept_diff):
        os.utime(path, (hour_ago, hour_ago))
    fresh = repo / ".gitrun" / "code" / ("0" * 64 + ".diff")  # as a run starting elsewhere just wrote it
    fresh.write_text("diff --git a/x b/x\n")

    out = cli_ok("gc", "--dry-run", cwd=repo)
    assert "Would remove 1 code diff(s)" in out and scratch_diff.exists()

    out = cli_ok("gc", cwd=repo)

    assert "Removed 2 deleted run(s)" in out and "Removed 1 code diff(s)" in out
    assert not scratch_diff.exists()  # named by no run left, and never committed
    assert kept_diff.exists()  # its run is alive
    assert committed_diff.exists()  # in Git: runs on another branch may name it
    assert fresh.exists()  # too new to tell
    assert run_git(repo, "show", f"HEAD:.gitrun/code/{committed_diff.name}").returncode == 0
