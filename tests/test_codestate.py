"""The code state of a run: the dirty diff kept at ``start_run``, and ``gitrun runs checkout``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.conftest import git_state, gitrun_cli, python_ok, run_git, work_files

SECRET = "sk-live-51HnotARealKeyButSecretEnough"
START = """
import json, gitrun
with gitrun.start_run() as run:
    gitrun.log_metric("val_acc", 0.5)
print(json.dumps({"run_id": run.info.run_id, "tags": gitrun.get_run(run.info.run_id).data.tags}))
"""


def start_run(repo: Path, env: dict[str, str] | None = None) -> tuple[str, dict[str, str], Path]:
    out = json.loads(python_ok(START, repo, env).strip().splitlines()[-1])
    run_dir = next((repo / ".gitrun" / "experiments").glob(f"*/runs/{out['run_id']}"))
    return out["run_id"], out["tags"], run_dir


def make_dirty(repo: Path) -> None:
    (repo / "train.py").write_bytes(b"import helper\nprint('training', helper.LR)\n")  # unstaged edit
    (repo / "helper.py").write_bytes(b"LR = 0.05\n")  # untracked new module
    (repo / "data").mkdir()
    (repo / "data" / "weights.bin").write_bytes(bytes(range(256)) * 4)  # untracked binary file
    (repo / "README.md").unlink()  # tracked file deleted
    (repo / "config.yaml").write_bytes(b"epochs: 3\n")
    run_git(repo, "add", "config.yaml")  # staged new file
    (repo / "pkg").mkdir()
    (repo / "pkg" / "__init__.py").write_bytes(b"")  # empty untracked file
    (repo / "pkg" / "données é.py").write_bytes("NOM = 'é'\n".encode())  # non-ASCII name with a space
    (repo / "run.sh").write_bytes(b"#!/bin/sh\npython train.py\n")
    (repo / "run.sh").chmod(0o755)  # executable bit
    (repo / ".env").write_text(f"API_KEY={SECRET}\n")  # secrets: never captured
    (repo / "deploy.pem").write_text(f"-----BEGIN PRIVATE KEY-----\n{SECRET}\n")


def test_dirty_tree_keeps_a_diff_without_secrets(repo: Path) -> None:
    (repo / "credentials.json").write_text('{"token": "placeholder"}\n')
    run_git(repo, "add", "credentials.json")
    run_git(repo, "commit", "-q", "-m", "credentials template")
    (repo / "credentials.json").write_text(f'{{"token": "{SECRET}"}}\n')  # tracked secrets file, edited
    make_dirty(repo)
    _, tags, run_dir = start_run(repo)

    diff = (run_dir / "code.diff").read_bytes()
    assert tags["gitrun.git.diff"].startswith("code.diff")
    assert ".env" in tags["gitrun.git.diff"] and "deploy.pem" in tags["gitrun.git.diff"]
    assert "credentials.json" in tags["gitrun.git.diff"]
    assert tags["mlflow.source.git.commit"] == run_git(repo, "rev-parse", "HEAD").stdout.strip()
    assert SECRET.encode() not in diff
    assert b"API_KEY" not in diff and b".env" not in diff and b"deploy.pem" not in diff
    assert b"credentials.json" not in diff
    assert b"import helper" in diff and b"LR = 0.05" in diff  # tracked edit and untracked module
    assert b"epochs: 3" in diff and b"README.md" in diff and b"weights.bin" in diff
    assert b".gitrun" not in diff  # the store itself is never part of the code


def test_runs_checkout_reproduces_the_dirty_code_byte_for_byte(repo: Path, tmp_path: Path) -> None:
    make_dirty(repo)
    run_id, _, _ = start_run(repo)
    expected = {k: v for k, v in work_files(repo).items() if k not in (".env", "deploy.pem")}
    before, files, head = git_state(repo), work_files(repo), run_git(repo, "rev-parse", "HEAD").stdout
    dest = tmp_path / "repro"

    proc = gitrun_cli("runs", "checkout", run_id[:10], str(dest), cwd=repo)

    assert proc.returncode == 0, proc.stderr
    assert str(dest) in proc.stdout
    assert work_files(dest) == expected
    assert not (dest / "README.md").exists() and not (dest / ".env").exists()
    assert (dest / "data" / "weights.bin").read_bytes() == bytes(range(256)) * 4
    assert os.access(dest / "run.sh", os.X_OK)
    # The user's tree, index and branch are untouched; the checkout is a separate worktree.
    assert git_state(repo) == before and work_files(repo) == files
    assert run_git(repo, "rev-parse", "HEAD").stdout == head
    assert str(dest) in run_git(repo, "worktree", "list").stdout
    assert run_git(dest, "rev-parse", "HEAD").stdout == head

    # A second checkout into a non-empty directory is refused.
    proc = gitrun_cli("runs", "checkout", run_id, str(dest), cwd=repo)
    assert proc.returncode != 0 and "not empty" in proc.stderr


def test_checkout_of_a_run_from_an_older_commit(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text("print('experiment A')\n")
    run_id, _, _ = start_run(repo)
    old_head = run_git(repo, "rev-parse", "HEAD").stdout
    # The user moves on: commits other code; the run's code is still recoverable.
    (repo / "train.py").write_text("print('experiment B')\n")
    run_git(repo, "commit", "-q", "-am", "B")
    dest = tmp_path / "repro"

    proc = gitrun_cli("runs", "checkout", run_id, str(dest), cwd=repo)

    assert proc.returncode == 0, proc.stderr
    assert (dest / "train.py").read_text() == "print('experiment A')\n"
    assert run_git(dest, "rev-parse", "HEAD").stdout == old_head
    assert (repo / "train.py").read_text() == "print('experiment B')\n"


def test_diff_over_the_size_cap_is_skipped_and_says_so(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text("print('edited')\n" * 50)
    run_id, tags, run_dir = start_run(repo, env={"GITRUN_CODE_DIFF_MAX_BYTES": "200"})

    assert not (run_dir / "code.diff").exists()
    assert tags["gitrun.git.diff"].startswith("skipped")
    assert "200" in tags["gitrun.git.diff"] and "GITRUN_CODE_DIFF_MAX_BYTES" in tags["gitrun.git.diff"]
    proc = gitrun_cli("runs", "checkout", run_id, str(tmp_path / "repro"), cwd=repo)
    assert proc.returncode != 0 and "not kept" in proc.stderr
    assert not (tmp_path / "repro").exists() or not any((tmp_path / "repro").iterdir())

    # A size with a unit works as well.
    _, tags, run_dir = start_run(repo, env={"GITRUN_CODE_DIFF_MAX_BYTES": "1KB"})
    assert (run_dir / "code.diff").exists() and tags["gitrun.git.diff"] == "code.diff"


def test_clean_tree_has_no_diff_and_checkout_gives_the_commit(repo: Path, tmp_path: Path) -> None:
    run_id, tags, run_dir = start_run(repo)

    assert not (run_dir / "code.diff").exists()
    assert "gitrun.git.diff" not in tags
    proc = gitrun_cli("runs", "checkout", run_id, str(tmp_path / "repro"), cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert work_files(tmp_path / "repro") == work_files(repo)


def test_one_diff_per_process_shared_by_its_runs(repo: Path) -> None:
    (repo / "train.py").write_text("print('dirty')\n")
    code = """
import json, gitrun
ids = []
for _ in range(3):
    with gitrun.start_run() as run:
        pass
    ids.append(run.info.run_id)
print(json.dumps(ids))
"""
    ids = json.loads(python_ok(code, repo).strip().splitlines()[-1])
    diffs = {(next((repo / ".gitrun").glob(f"experiments/*/runs/{i}")) / "code.diff").read_bytes() for i in ids}
    assert len(diffs) == 1 and b"print('dirty')" in diffs.pop()


def test_code_diff_is_committed_with_the_run(repo: Path) -> None:
    (repo / "train.py").write_text("print('dirty')\n")
    run_id, _, _ = start_run(repo)
    before = git_state(repo)
    proc = gitrun_cli("commit", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert f".gitrun/experiments/default/runs/{run_id}/code.diff" in run_git(
        repo, "ls-tree", "-r", "--name-only", "HEAD"
    ).stdout.split(os.linesep)
    assert git_state(repo) == before  # the dirty train.py is still dirty, not committed
