"""``gitrun commit``: only gitrun's files go into the commit, the user's work stays exactly as it was.

Real Git (hooks, merges, detached HEAD), real DVC, the real CLI in subprocesses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, git_state, gitrun_cli, log_runs, run_git, work_files

ULID_LEN = 26


def head(repo: Path) -> str:
    return run_git(repo, "rev-parse", "HEAD").stdout.strip()


def commit_paths(repo: Path, rev: str = "HEAD") -> list[str]:
    return run_git(repo, "diff-tree", "--no-commit-id", "--name-only", "-r", "--root", rev).stdout.split()


def tree_paths(repo: Path, rev: str = "HEAD") -> list[str]:
    return run_git(repo, "ls-tree", "-r", "--name-only", rev).stdout.split()


def committed_run_ids(repo: Path, rev: str = "HEAD") -> set[str]:
    return {p.split("/")[4] for p in tree_paths(repo, rev) if p.startswith(".gitrun/experiments/") and "/runs/" in p}


def commit_json(repo: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    proc = gitrun_cli("commit", "--json", *args, cwd=repo, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def make_user_changes(repo: Path) -> None:
    """Every kind of user work in progress at once."""
    with open(repo / "README.md", "ab") as f:  # modified tracked file, not staged
        f.write(b"work in progress\n")
    (repo / "new_module.py").write_bytes(b"def f():\n    return 42\n")  # new file, staged
    run_git(repo, "add", "new_module.py")
    (repo / "train.py").write_bytes(b"print('training v2')\n")  # staged modification ...
    run_git(repo, "add", "train.py")
    (repo / "train.py").write_bytes(b"print('training v3, not staged yet')\n")  # ... modified again
    (repo / "scratch.txt").write_bytes(b"untracked notes \x00\xff\n")  # untracked


def write_hook(repo: Path, limit: int = 100 * 1024) -> None:
    """A pre-commit hook like pre-commit's check-added-large-files: staged files over ``limit`` fail."""
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(
        "#!/bin/sh\n"
        "status=0\n"
        "for f in $(git diff --cached --name-only --diff-filter=AM); do\n"
        '  size=$(git cat-file -s ":$f")\n'
        f'  if [ "$size" -gt {limit} ]; then echo "check-added-large-files: $f ($size bytes) exceeds {limit} bytes" >&2; status=1; fi\n'
        "done\n"
        "exit $status\n"
    )
    hook.chmod(0o755)


# -- the user's work survives ---------------------------------------------------------------
def test_staged_and_unstaged_user_changes_survive_byte_for_byte(repo: Path) -> None:
    make_user_changes(repo)
    ids = log_runs(repo, [{"metrics": {"val_acc": 0.5}}, {"metrics": {"val_acc": 0.7}}])
    before_head = head(repo)
    before = git_state(repo)
    before_files = work_files(repo)

    result = commit_json(repo)

    assert result["sha"] == head(repo) != before_head
    assert run_git(repo, "rev-parse", "HEAD~1").stdout.strip() == before_head
    assert git_state(repo) == before
    assert work_files(repo) == before_files
    # Exactly what the user had staged is still staged, the rest still unstaged.
    assert run_git(repo, "diff", "--cached", "--name-only").stdout.split() == ["new_module.py", "train.py"]
    assert run_git(repo, "show", ":train.py").stdout == "print('training v2')\n"
    # The commit holds the store and nothing else; the user's files are as in the old HEAD.
    paths = commit_paths(repo)
    assert paths and all(p.startswith(".gitrun/") for p in paths)
    assert set(result["files"]) == set(paths)
    assert run_git(repo, "show", "HEAD:train.py").stdout == "print('training')\n"
    assert run_git(repo, "show", "HEAD:README.md").stdout == "# demo project\n"
    assert "new_module.py" not in tree_paths(repo) and "scratch.txt" not in tree_paths(repo)
    assert committed_run_ids(repo) == set(ids)
    # The store is clean afterwards: the real index knows the store files are committed, with their
    # stat data (plumbing does not refresh: an entry without it would show here, and every later
    # `git status` would hash the file again).
    assert run_git(repo, "diff-files", "--name-only", "--", ".gitrun").stdout == ""
    assert run_git(repo, "status", "--porcelain", "--", ".gitrun").stdout == ""


def test_generated_message_and_explicit_message(repo: Path) -> None:
    ids = log_runs(
        repo,
        [
            {"name": "low", "metrics": {"val_acc": 0.71}},
            {"name": "best", "metrics": {"val_acc": 0.93}},
            {"name": "mid", "metrics": {"val_acc": 0.82}},
        ],
    )
    result = commit_json(repo)
    subject, _, body = result["message"].partition("\n")
    assert "iris-sgd" in subject and "3 runs" in subject
    assert "val_acc=0.93" in subject and "best" in subject
    assert all(run_id in body for run_id in ids)
    assert run_git(repo, "log", "-1", "--format=%B").stdout.strip() == result["message"].strip()
    assert {r["run_id"] for r in result["runs"]} == set(ids)
    assert all(r["status"] == "FINISHED" and r["change"] == "added" for r in result["runs"])

    more = log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    proc = gitrun_cli("commit", "-m", "sweep lr: one more", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert run_git(repo, "log", "-1", "--format=%B").stdout.strip() == "sweep lr: one more"
    assert committed_run_ids(repo) == {*ids, *more}

    # Nothing left: a clear note, no empty commit.
    sha = head(repo)
    again = commit_json(repo)
    assert again["sha"] is None and "nothing to commit" in again["message"]
    assert head(repo) == sha

    # A loss is minimised: the best run is the lowest.
    log_runs(
        repo,
        [{"name": "meh", "metrics": {"val_loss": 0.4}}, {"name": "good", "metrics": {"val_loss": 0.1}}],
        experiment="regression",
        primary_metric="val_loss",
    )
    subject = commit_json(repo)["message"].splitlines()[0]
    assert "2 runs in regression" in subject and "val_loss=0.1" in subject and "good" in subject


def test_run_ids_and_experiment_select_what_is_committed(repo: Path) -> None:
    a1, a2, a3 = log_runs(repo, [{"metrics": {"val_acc": v}} for v in (0.1, 0.2, 0.3)], experiment="alpha")
    (b1,) = log_runs(repo, [{"metrics": {"val_acc": 0.4}}], experiment="beta")

    # A unique prefix is enough (runs started in one millisecond share 11 or more characters).
    prefix = next(a2[:n] for n in range(8, 27) if not any(other.startswith(a2[:n]) for other in (a1, a3, b1)))
    result = commit_json(repo, a1, prefix)
    assert {r["run_id"] for r in result["runs"]} == {a1, a2}
    assert committed_run_ids(repo) == {a1, a2}
    assert all(a3 not in p and b1 not in p for p in commit_paths(repo))

    result = commit_json(repo, "--experiment", "beta")
    assert {r["run_id"] for r in result["runs"]} == {b1}
    assert committed_run_ids(repo) == {a1, a2, b1}
    assert ".gitrun/experiments/beta/experiment.yaml" in tree_paths(repo)

    # An unknown run ID or experiment is an error, not a silent no-op.
    proc = gitrun_cli("commit", "01ZZZZZZZZZZZZZZZZZZZZZZZZ", cwd=repo)
    assert proc.returncode != 0 and "Error" in proc.stderr
    proc = gitrun_cli("commit", "--experiment", "no-such-experiment", cwd=repo)
    assert proc.returncode != 0 and "no-such-experiment" in proc.stderr
    assert committed_run_ids(repo) == {a1, a2, b1}


# -- running and killed runs ----------------------------------------------------------------
RUNNING = """
import sys, gitrun
gitrun.set_experiment("iris-sgd", primary_metric="val_acc")
run = gitrun.start_run(run_name="live")
gitrun.log_metric("val_acc", 0.5)
print(run.info.run_id, flush=True)
sys.stdin.readline()  # wait until the test says so
gitrun.end_run()
"""


def start_live_run(repo: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNING],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert len(run_id) == ULID_LEN, proc.stderr.read() if proc.stderr else ""
    return proc, run_id


def test_running_runs_are_skipped_unless_included(repo: Path) -> None:
    (done,) = log_runs(repo, [{"metrics": {"val_acc": 0.9}}])
    live, live_id = start_live_run(repo)
    try:
        proc = gitrun_cli("commit", cwd=repo)
        assert proc.returncode == 0, proc.stderr
        assert f"skipped running run {live_id}" in proc.stdout and "--include-running" in proc.stdout
        assert committed_run_ids(repo) == {done}

        result = commit_json(repo)
        assert result["sha"] is None and result["skipped_running"] == [live_id]
        assert "--include-running" in result["message"]

        result = commit_json(repo, "--include-running")
        assert [r["run_id"] for r in result["runs"]] == [live_id]
        assert result["runs"][0]["status"] == "RUNNING"
        assert committed_run_ids(repo) == {done, live_id}
    finally:
        assert live.stdin is not None
        live.stdin.write("\n")
        live.stdin.flush()
        live.communicate(timeout=60)
    assert live.returncode == 0
    # Its end is a change of the committed run, committed next time.
    result = commit_json(repo)
    assert [(r["run_id"], r["status"], r["change"]) for r in result["runs"]] == [(live_id, "FINISHED", "changed")]


def test_a_run_whose_process_was_killed_is_committed_as_killed(repo: Path) -> None:
    live, live_id = start_live_run(repo)
    live.send_signal(signal.SIGKILL)
    live.communicate(timeout=60)
    assert live.returncode == -signal.SIGKILL

    result = commit_json(repo)
    assert [(r["run_id"], r["status"]) for r in result["runs"]] == [(live_id, "KILLED")]
    meta_path = next(p for p in tree_paths(repo) if p.endswith(f"{live_id}/meta.json"))
    meta = json.loads(run_git(repo, "show", f"HEAD:{meta_path}").stdout)
    assert meta["status"] == "KILLED" and isinstance(meta.get("end_time"), int)
    assert not any(".heartbeat-" in p for p in tree_paths(repo))
    assert run_git(repo, "status", "--porcelain", "--", ".gitrun").stdout == ""


# -- unsafe Git states ----------------------------------------------------------------------
def test_refuses_during_a_merge_in_progress(repo: Path) -> None:
    run_git(repo, "switch", "-q", "-c", "feature")
    (repo / "README.md").write_text("# feature side\n")
    run_git(repo, "commit", "-q", "-am", "feature edit")
    run_git(repo, "switch", "-q", "main")
    (repo / "README.md").write_text("# main side\n")
    run_git(repo, "commit", "-q", "-am", "main edit")
    assert run_git(repo, "merge", "feature", check=False).returncode != 0  # a real conflict
    assert (repo / ".git" / "MERGE_HEAD").exists()
    log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    sha, before, files = head(repo), git_state(repo), work_files(repo)

    proc = gitrun_cli("commit", cwd=repo)

    assert proc.returncode != 0
    assert "merge is in progress" in proc.stderr and "gitrun commit" in proc.stderr
    assert head(repo) == sha and git_state(repo) == before and work_files(repo) == files
    assert (repo / ".git" / "MERGE_HEAD").exists()  # the user's merge is still there to finish


def test_refuses_on_a_detached_head_unless_allowed(repo: Path) -> None:
    run_git(repo, "checkout", "-q", "--detach", "HEAD")
    (run_id,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    sha = head(repo)

    proc = gitrun_cli("commit", cwd=repo)
    assert proc.returncode != 0
    assert "detached" in proc.stderr and "--allow-detached" in proc.stderr
    assert head(repo) == sha

    result = commit_json(repo, "--allow-detached")
    assert result["sha"] == head(repo)
    assert run_git(repo, "rev-parse", "HEAD~1").stdout.strip() == sha
    assert run_git(repo, "symbolic-ref", "-q", "HEAD", check=False).returncode != 0  # still detached
    assert committed_run_ids(repo) == {run_id}
    assert run_git(repo, "rev-parse", "main").stdout.strip() == sha  # no branch moved


# -- hooks and DVC --------------------------------------------------------------------------
def test_pre_commit_hook_rejecting_large_files(dvc_repo: Path, tmp_path: Path) -> None:
    repo = dvc_repo
    write_hook(repo)
    make_user_changes(repo)
    big = tmp_path / "model.bin"
    big.write_bytes(os.urandom(2 * 1024 * 1024))
    (big_run,) = log_runs(repo, [{"metrics": {"val_acc": 0.9}, "artifacts": [str(big)]}])
    sha, before, files = head(repo), git_state(repo), work_files(repo)

    # Threshold above the file's size: Git would get the 2 MiB blob; the hook says no.
    proc = gitrun_cli("commit", "--dvc-threshold", "10MB", cwd=repo)
    assert proc.returncode != 0
    assert "git refused the commit" in proc.stderr and "check-added-large-files" in proc.stderr
    assert "Nothing was committed" in proc.stderr
    assert head(repo) == sha and git_state(repo) == before and work_files(repo) == files
    assert not list(repo.glob(".git/gitrun-index-*"))  # no temporary index left behind
    assert "A" not in run_git(repo, "status", "--porcelain", "--", ".gitrun").stdout[:2]

    # Default threshold (500 KB): the artifact goes through DVC, the hook sees a small pointer.
    result = commit_json(repo)
    assert result["sha"] == head(repo) and [r["run_id"] for r in result["runs"]] == [big_run]
    assert [p.rsplit("/", 1)[-1] for p in result["dvc_tracked"]] == ["model.bin.dvc"]
    assert not any(p.endswith("/model.bin") for p in tree_paths(repo))
    assert git_state(repo) == before and work_files(repo) == files

    # A 200 KB artifact: under DVC's threshold, over the hook's limit.
    mid = tmp_path / "mid.bin"
    mid.write_bytes(os.urandom(200 * 1024))
    (mid_run,) = log_runs(repo, [{"metrics": {"val_acc": 0.8}, "artifacts": [str(mid)]}])
    sha = head(repo)
    proc = gitrun_cli("commit", cwd=repo)
    assert proc.returncode != 0 and "mid.bin" in proc.stderr
    assert head(repo) == sha and git_state(repo) == before

    result = commit_json(repo, "--no-verify")
    assert [r["run_id"] for r in result["runs"]] == [mid_run]
    assert any(p.endswith(f"{mid_run}/artifacts/mid.bin") for p in tree_paths(repo))
    assert result["dvc_tracked"] == []
    assert git_state(repo) == before and work_files(repo) == files


# -- concurrency ----------------------------------------------------------------------------
def test_concurrent_commits_lose_nothing_and_keep_history_linear(repo: Path) -> None:
    alpha = log_runs(repo, [{"metrics": {"val_acc": i / 10}} for i in range(4)], experiment="alpha")
    beta = log_runs(repo, [{"metrics": {"val_acc": i / 10}} for i in range(4)], experiment="beta")
    make_user_changes(repo)
    before, base = git_state(repo), head(repo)
    exe = Path(sys.executable).with_name("gitrun")
    variants = [[], [], ["--experiment", "alpha"], ["--experiment", "beta"]]
    procs = [
        subprocess.Popen(
            [str(exe), "commit", "--json", *args], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for args in variants
    ]
    outputs = [p.communicate(timeout=120) for p in procs]

    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "index.lock" not in err
    results = [json.loads(out) for out, _ in outputs]
    made = [r for r in results if r["sha"]]
    assert made, results
    committed = [r["run_id"] for res in made for r in res["runs"]]
    assert sorted(committed) == sorted(alpha + beta)  # every run exactly once
    assert all(r["message"].startswith("nothing to commit") for r in results if not r["sha"])
    # Linear history: one new commit per successful call, each on top of the previous one.
    new = run_git(repo, "rev-list", "--parents", f"{base}..HEAD").stdout.splitlines()
    assert len(new) == len(made)
    assert all(len(line.split()) == 2 for line in new)
    assert {r["sha"] for r in made} == {line.split()[0] for line in new}
    assert committed_run_ids(repo) == set(alpha + beta)
    assert git_state(repo) == before
    assert run_git(repo, "status", "--porcelain", "--", ".gitrun").stdout == ""


# -- the CLI's JSON -------------------------------------------------------------------------
def test_commit_json_output(repo: Path) -> None:
    (run_id,) = log_runs(repo, [{"name": "solo", "params": {"lr": 0.1}, "metrics": {"val_acc": 0.75}}])
    result = commit_json(repo)
    assert set(result) == {"sha", "message", "runs", "dvc_tracked", "skipped_running", "files"}
    assert result["sha"] == head(repo)
    assert result["runs"] == [
        {"run_id": run_id, "run_name": "solo", "experiment_id": "iris-sgd", "status": "FINISHED", "change": "added"}
    ]
    assert result["dvc_tracked"] == [] and result["skipped_running"] == []
    run_dir = f".gitrun/experiments/iris-sgd/runs/{run_id}"
    for name in ("meta.json", "params.json", "tags.json", "metrics.json", "metrics/val_acc.tsv"):
        assert f"{run_dir}/{name}" in result["files"]
    assert ".gitrun/store.yaml" in result["files"] and ".gitrun/.gitignore" in result["files"]

    # Plain output: the short SHA and subject, the counts.
    log_runs(repo, [{"metrics": {"val_acc": 0.8}}])
    proc = gitrun_cli("commit", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"[{head(repo)[:10]}] gitrun: 1 run in iris-sgd")
    assert "1 run(s)" in proc.stdout


def test_python_api_returns_the_commit_and_its_runs(repo: Path) -> None:
    from gitrun.store import Store
    from gitrun.vcs.commit import CommitResult, commit

    ids = log_runs(repo, [{"metrics": {"val_acc": 0.6}}, {"metrics": {"val_acc": 0.65}}])
    result = commit(Store(repo / ".gitrun"), "from Python")
    assert isinstance(result, CommitResult)
    assert result.sha == head(repo) and result.message == "from Python"
    assert {r.run_id for r in result.runs} == set(ids)
    assert committed_run_ids(repo) == set(ids)


@pytest.mark.parametrize("size", ["500000", "500KB", "2 MiB", "1.5M", "10mb"])
def test_size_parsing(size: str) -> None:
    from gitrun.formatting import parse_size

    expected = {
        "500000": 500000,
        "500KB": 500 * 1024,
        "2 MiB": 2 * 1024**2,
        "1.5M": int(1.5 * 1024**2),
        "10mb": 10 * 1024**2,
    }
    assert parse_size(size) == expected[size]


def test_first_commit_of_an_unborn_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = tmp_path / "fresh"
    run_git(tmp_path, "init", "-q", "-b", "main", str(fresh))
    monkeypatch.chdir(fresh)
    (fresh / "train.py").write_text("print('not committed yet')\n")
    run_git(fresh, "add", "train.py")
    (fresh / "README.md").write_text("untracked\n")
    (run_id,) = log_runs(fresh, [{"metrics": {"val_acc": 0.5}}])
    before = git_state(fresh)

    result = commit_json(fresh)

    assert result["sha"] == head(fresh)
    assert run_git(fresh, "rev-list", "--count", "HEAD").stdout.strip() == "1"
    assert all(p.startswith(".gitrun/") for p in tree_paths(fresh))
    assert committed_run_ids(fresh) == {run_id}
    assert git_state(fresh) == before  # train.py still staged (as a new file), README.md untracked


def test_commit_from_a_subdirectory(repo: Path) -> None:
    sub = repo / "src" / "pkg"
    sub.mkdir(parents=True)
    (run_id,) = log_runs(sub, [{"metrics": {"val_acc": 0.5}}])
    assert (repo / ".gitrun").is_dir() and not (sub / ".gitrun").exists()
    result = commit_json(sub)
    assert [r["run_id"] for r in result["runs"]] == [run_id]
    assert committed_run_ids(repo) == {run_id}


def test_commit_waits_for_another_git_process_holding_the_index(repo: Path) -> None:
    """An IDE's background `git status` briefly holds .git/index.lock: the commit must not leave the
    user's index without the store's entries (a later `git commit` would delete the runs)."""
    (run_id,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    make_user_changes(repo)
    before = git_state(repo)
    lock = repo / ".git" / "index.lock"
    lock.touch()
    exe = Path(sys.executable).with_name("gitrun")
    proc = subprocess.Popen([str(exe), "commit", "--json"], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.wait(timeout=1.0)  # the commit is still waiting for the lock: nothing to see yet
    except subprocess.TimeoutExpired:
        pass
    lock.unlink()
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 0, err
    assert json.loads(out)["sha"] == head(repo)
    assert committed_run_ids(repo) == {run_id}
    assert run_git(repo, "status", "--porcelain", "--", ".gitrun").stdout == ""
    assert git_state(repo) == before


def test_the_projects_ignore_rules_do_not_hide_run_files(dvc_repo: Path, tmp_path: Path) -> None:
    """ML projects often ignore *.json, *.pkl, metrics/ or artifacts/: the runs are committed whole anyway."""
    repo = dvc_repo
    (repo / ".gitignore").write_text("*.json\n*.tsv\n*.pkl\n*.bin\nartifacts/\nmetrics/\n")
    run_git(repo, "add", ".gitignore")
    run_git(repo, "commit", "-q", "-m", "ignore build outputs")
    (tmp_path / "small.pkl").write_bytes(b"pickled")
    (tmp_path / "big.bin").write_bytes(os.urandom(1024 * 1024))
    (run_id,) = log_runs(
        repo,
        [
            {
                "params": {"lr": 0.1},
                "metrics": {"val_acc": 0.5},
                "artifacts": [str(tmp_path / "small.pkl"), str(tmp_path / "big.bin")],
            }
        ],
    )

    result = commit_json(repo)

    run_dir = f".gitrun/experiments/iris-sgd/runs/{run_id}"
    paths = set(tree_paths(repo))
    for name in ("meta.json", "params.json", "tags.json", "metrics.json", "metrics/val_acc.tsv"):
        assert f"{run_dir}/{name}" in paths
    assert f"{run_dir}/artifacts/small.pkl" in paths and f"{run_dir}/artifacts/big.bin.dvc" in paths
    assert f"{run_dir}/artifacts/big.bin" not in paths and not any(p.endswith("/.lock") for p in paths)
    assert ".gitrun/experiments/iris-sgd/experiment.yaml" in paths
    assert [r["run_id"] for r in result["runs"]] == [run_id]
    assert run_git(repo, "status", "--porcelain", "--", ".gitrun").stdout == ""
