"""``gitrun commit`` against hostile artifacts, hooks, kills, filters and branch switches.

Each test reproduces a way the commit used to lose data or take the user's files (issue 9,
items 3, 7, 8, 16, 17; item 4 is in test_validation.py), with real Git (hooks, git-lfs, SIGKILL), real DVC and the real CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import git_state, gitrun_cli, log_runs, python_ok, run_git, work_files

STORE_OLD_GITIGNORE = (  # what gitrun 0.1 wrote (gitrun.store.layout.OLD_GITIGNORES)
    "# Written by gitrun: local-only files, never committed (see docs/format.md).\n"
    "# Everything else in the store is committed, whatever the project's ignore rules say:\n"
    "!*\n.cache/\n*.lock\n.heartbeat-*\n.*.tmp\n.DS_Store\n"
)


def head(repo: Path) -> str:
    return run_git(repo, "rev-parse", "HEAD").stdout.strip()


def tree_paths(repo: Path, rev: str = "HEAD") -> set[str]:
    return set(run_git(repo, "ls-tree", "-r", "-z", "--name-only", rev).stdout.split("\0")) - {""}


def run_dir_of(repo: Path, run_id: str) -> Path:
    (found,) = (repo / ".gitrun" / "experiments").glob(f"*/runs/{run_id}")
    return found


def commit_ok(repo: Path, *args: str) -> dict:
    proc = gitrun_cli("commit", "--json", *args, cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def store_status(repo: Path) -> str:
    return run_git(repo, "status", "--porcelain", "--untracked-files=all", "--", ".gitrun").stdout


def temp_files(repo: Path) -> list[str]:
    """What a gitrun commit keeps in .git while it runs (temp index, message, journal); not its lock."""
    return sorted(p.name for p in (repo / ".git").glob("gitrun-*") if p.name != "gitrun-commit.lock")


def write_hook(repo: Path, name: str, body: str, hooks_dir: Path | None = None) -> Path:
    folder = hooks_dir or repo / ".git" / "hooks"
    folder.mkdir(parents=True, exist_ok=True)
    hook = folder / name
    hook.write_text("#!/bin/sh\n" + body)
    hook.chmod(0o755)
    return hook


def edit_user_files(repo: Path) -> None:
    """Work in progress the user has not committed: one change staged, one not."""
    (repo / "train.py").write_text("print('training v2')\n")
    run_git(repo, "add", "train.py")
    (repo / "README.md").write_text("# demo project\nunstaged notes\n")


# -- item 3: every artifact reaches Git or DVC -------------------------------------------------------
def test_artifacts_named_like_bookkeeping_files_reach_git_and_a_clone(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "ckpt").mkdir(parents=True)
    (out / "ckpt" / ".gitignore").write_text("*\n")  # written by a training tool: must not hide its siblings
    (out / "ckpt" / "model.pt").write_bytes(b"weights")
    (out / "ckpt" / "meta.json").write_text("{}\n")
    (out / ".cache").mkdir()
    (out / ".cache" / "tokenizer.json").write_text("{}\n")
    names = ["poetry.lock", ".DS_Store", "x.tmp", ".x.tmp", ".heartbeat-notes", ".lock"]
    for name in names:
        (out / name).write_text(name)
    code = f"""
import gitrun
with gitrun.start_run() as run:
    gitrun.log_artifacts({str(out)!r}, artifact_path="out")
    gitrun.log_text("deps", "poetry.lock")
print(run.info.run_id)
"""
    run_id = python_ok(code, repo).strip()
    result = commit_ok(repo)
    assert [r["run_id"] for r in result["runs"]] == [run_id]

    rel = run_dir_of(repo, run_id).relative_to(repo).as_posix()
    expected = {f"{rel}/artifacts/out/{n}" for n in names} | {
        f"{rel}/artifacts/poetry.lock",
        f"{rel}/artifacts/out/.cache/tokenizer.json",
        f"{rel}/artifacts/out/ckpt/.gitignore",
        f"{rel}/artifacts/out/ckpt/model.pt",
        f"{rel}/artifacts/out/ckpt/meta.json",
    }
    assert expected <= tree_paths(repo)
    assert f"{rel}/.lock" not in tree_paths(repo)  # gitrun's own lock stays local
    assert store_status(repo) == ""
    clone = tmp_path / "clone"
    run_git(tmp_path, "clone", "-q", str(repo), str(clone))
    for path in expected:
        assert (clone / path).read_bytes() == (repo / path).read_bytes(), path
    listed = gitrun_cli("runs", "show", run_id, "--json", cwd=clone)
    assert listed.returncode == 0, listed.stderr
    assert "out/ckpt/model.pt" in listed.stdout and "out/.cache/tokenizer.json" in listed.stdout


def test_a_file_git_cannot_store_fails_the_commit_naming_it(repo: Path) -> None:
    """A nested repository copied into a run by hand: Git would skip it silently."""
    (run_id,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    nested = run_dir_of(repo, run_id) / "artifacts" / "src"
    nested.mkdir(parents=True)
    run_git(nested, "init", "-q")
    (nested / "main.py").write_text("print(1)\n")
    edit_user_files(repo)
    sha, before, files = head(repo), git_state(repo), work_files(repo)

    proc = gitrun_cli("commit", cwd=repo)

    assert proc.returncode != 0
    assert "would reach neither Git nor DVC" in proc.stderr and "artifacts/src/.git/" in proc.stderr
    assert "Nothing was committed" in proc.stderr and "Traceback" not in proc.stderr
    assert head(repo) == sha and git_state(repo) == before and work_files(repo) == files
    assert temp_files(repo) == []


def test_a_store_written_by_gitrun_0_1_is_migrated_when_gitrun_next_writes(repo: Path) -> None:
    """Its .gitignore hid poetry.lock and .cache/ artifacts: they were never committed."""
    (old_run,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    old_dir = run_dir_of(repo, old_run)
    (old_dir / "artifacts").mkdir()
    (old_dir / "artifacts" / "poetry.lock").write_text("old deps\n")
    gitignore = repo / ".gitrun" / ".gitignore"
    gitignore.write_text(STORE_OLD_GITIGNORE)
    run_git(repo, "add", ".gitrun")  # what gitrun 0.1 committed: poetry.lock ignored
    run_git(repo, "commit", "-q", "-m", "runs of gitrun 0.1")
    assert f"{old_dir.relative_to(repo).as_posix()}/artifacts/poetry.lock" not in tree_paths(repo)

    # Logging migrates the file at once...
    code = "import gitrun\nwith gitrun.start_run() as r:\n    gitrun.log_text('w', '.cache/weights.txt')\nprint(r.info.run_id)\n"
    new_run = python_ok(code, repo).strip()
    from gitrun.store.layout import GITIGNORE

    assert gitignore.read_text() == GITIGNORE
    # ... and the next commit holds it, the new run's .cache/ artifact and the old run's poetry.lock.
    result = commit_ok(repo)
    assert {r["run_id"] for r in result["runs"]} == {old_run, new_run}
    paths = tree_paths(repo)
    assert ".gitrun/.gitignore" in result["files"]
    assert f"{old_dir.relative_to(repo).as_posix()}/artifacts/poetry.lock" in paths
    assert f"{run_dir_of(repo, new_run).relative_to(repo).as_posix()}/artifacts/.cache/weights.txt" in paths
    assert store_status(repo) == ""


def test_gitrun_commit_alone_migrates_the_old_gitignore_but_keeps_a_hand_edited_one(repo: Path) -> None:
    (run_id,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    (run_dir_of(repo, run_id) / "artifacts").mkdir()
    (run_dir_of(repo, run_id) / "artifacts" / "uv.lock").write_text("deps\n")
    gitignore = repo / ".gitrun" / ".gitignore"
    gitignore.write_text(STORE_OLD_GITIGNORE)
    commit_ok(repo)
    assert f"{run_dir_of(repo, run_id).relative_to(repo).as_posix()}/artifacts/uv.lock" in tree_paths(repo)
    assert "/experiments/*/runs/*/.lock" in run_git(repo, "show", "HEAD:.gitrun/.gitignore").stdout

    edited = STORE_OLD_GITIGNORE + "my-notes.txt\n"
    gitignore.write_text(edited)
    log_runs(repo, [{"metrics": {"val_acc": 0.6}}])
    commit_ok(repo)
    assert gitignore.read_text() == edited  # the user's own file: left as they wrote it


# -- item 7: a kill at any instant leaves a right index, or one the next command repairs ----------
KILL_POINTS = ["pre-commit", "commit-msg", "prepare-commit-msg", "post-commit"]


@pytest.mark.parametrize("hook", KILL_POINTS)
def test_sigkill_of_gitrun_commit_at_each_step(repo: Path, tmp_path: Path, hook: str) -> None:
    ids = log_runs(repo, [{"metrics": {"val_acc": 0.5}}, {"metrics": {"val_acc": 0.7}}])
    edit_user_files(repo)
    sha, before, files = head(repo), git_state(repo), work_files(repo)
    marker = tmp_path / "in-hook"
    write_hook(repo, hook, f'touch "{marker}"\nsleep 60\n')

    exe = Path(sys.executable).with_name("gitrun")
    proc = subprocess.Popen([str(exe), "commit"], cwd=repo, start_new_session=True, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # gitrun, git and the hook, as a terminal or a CI cancel does
    proc.wait(timeout=30)

    # At the instant of the kill: the user's work is as it was, and the index never stages the
    # deletion of committed runs.
    assert git_state(repo) == before and work_files(repo) == files
    deleted = run_git(repo, "diff", "--cached", "--name-only", "--diff-filter=D").stdout
    assert deleted == ""
    committed = head(repo) != sha
    assert committed == (hook == "post-commit")
    if committed:  # the commit landed: the index already lists its files
        assert store_status(repo) == ""

    (repo / ".git" / "hooks" / hook).unlink()
    after = gitrun_cli("commit", cwd=repo)
    assert after.returncode == 0, after.stderr
    assert "interrupted" not in after.stderr  # every hook runs before the index changes, or after HEAD moved
    if committed:
        assert "Nothing to commit" in after.stdout
    assert {p.split("/")[4] for p in tree_paths(repo) if "/runs/" in p} == set(ids)
    assert run_git(repo, "rev-list", "--count", f"{sha}..HEAD").stdout.strip() == "1"
    assert git_state(repo) == before and work_files(repo) == files
    assert store_status(repo) == ""
    assert temp_files(repo) == []


def test_sigkill_after_the_index_update_before_head_moves_is_repaired(repo: Path) -> None:
    """No hook runs in that window, so the kill comes from inside: the process dies where HEAD would move."""
    ids = log_runs(repo, [{"metrics": {"val_acc": 0.5}}, {"metrics": {"val_acc": 0.7}}])
    edit_user_files(repo)
    sha, before, files = head(repo), git_state(repo), work_files(repo)
    code = (
        "import os, signal, sys\n"
        "from gitrun.vcs import commit\n"
        "commit._commit_tree = lambda *args: os.kill(os.getpid(), signal.SIGKILL)\n"
        "from gitrun.cli import main\n"
        "sys.argv = ['gitrun', 'commit']\n"
        "main()\n"
    )
    from tests.helpers import run_python

    killed = run_python(code, repo)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert head(repo) == sha
    assert run_git(repo, "diff", "--cached", "--name-only", "--", ".gitrun").stdout != ""  # staged, journaled

    after = gitrun_cli("commit", cwd=repo)

    assert after.returncode == 0, after.stderr
    assert "interrupted" in after.stderr and "unstaged again" in after.stderr
    assert {p.split("/")[4] for p in tree_paths(repo) if "/runs/" in p} == set(ids)
    assert run_git(repo, "rev-list", "--count", f"{sha}..HEAD").stdout.strip() == "1"
    assert git_state(repo) == before and work_files(repo) == files
    assert store_status(repo) == "" and temp_files(repo) == []


def test_an_index_left_staging_the_removal_of_runs_is_repaired(repo: Path) -> None:
    """What a kill of gitrun 0.1's commit left (no journal): the next commit puts the entries back."""
    ids = log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    commit_ok(repo)
    edit_user_files(repo)
    before = git_state(repo)
    run_git(repo, "rm", "-r", "-q", "--cached", ".gitrun")  # the index gitrun 0.1 left: every run deleted
    sha = head(repo)

    proc = gitrun_cli("commit", cwd=repo)

    assert proc.returncode == 0 and "Nothing to commit" in proc.stdout, proc.stderr
    assert "reset them to HEAD" in proc.stderr
    assert head(repo) == sha and store_status(repo) == "" and git_state(repo) == before
    assert {p.split("/")[4] for p in tree_paths(repo) if "/runs/" in p} == set(ids)


# -- item 8: hooks cannot put the user's files into gitrun's commit --------------------------------
@pytest.mark.parametrize("hooks_path", [False, True], ids=["hooks-dir", "core.hooksPath"])
def test_a_pre_commit_hook_that_restages_is_refused(repo: Path, hooks_path: bool) -> None:
    hooks_dir = None
    if hooks_path:
        hooks_dir = repo / "ci-hooks"
        run_git(repo, "config", "core.hooksPath", "ci-hooks")
    write_hook(repo, "pre-commit", "git add -u\n", hooks_dir)  # a fixer that re-stages what it touched
    log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    edit_user_files(repo)
    sha, before, files = head(repo), git_state(repo), work_files(repo)

    proc = gitrun_cli("commit", cwd=repo)

    assert proc.returncode != 0
    assert "staged files outside gitrun's store" in proc.stderr and "README.md" in proc.stderr
    assert "nothing was committed" in proc.stderr and "--no-verify" in proc.stderr
    assert head(repo) == sha and git_state(repo) == before and work_files(repo) == files

    # --no-verify skips that hook, as `git commit --no-verify` would: gitrun's files only.
    result = commit_ok(repo, "--no-verify")
    assert result["sha"] == head(repo)
    assert all(p.startswith(".gitrun/") for p in result["files"])
    assert run_git(repo, "show", "HEAD:README.md").stdout == "# demo project\n"
    assert git_state(repo) == before and work_files(repo) == files


def test_a_pre_commit_hook_that_rewrites_a_run_file_is_refused(repo: Path) -> None:
    write_hook(
        repo,
        "pre-commit",
        'for f in $(git diff --cached --name-only -- \'*.tsv\'); do echo x >> "$f"; git add "$f"; done\n',
    )
    (run_id,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    series = run_dir_of(repo, run_id) / "metrics" / "val_acc.tsv"
    sha, before = head(repo), git_state(repo)

    proc = gitrun_cli("commit", cwd=repo)

    assert proc.returncode != 0
    assert "changed gitrun's files" in proc.stderr and "val_acc.tsv" in proc.stderr
    assert head(repo) == sha and git_state(repo) == before
    assert run_git(repo, "diff", "--cached", "--name-only").stdout == ""
    assert series.read_text().endswith("x\n")  # the hook's own edit of the file; gitrun committed nothing


def test_failing_hooks_refuse_and_commit_msg_hooks_may_edit_the_message(repo: Path, tmp_path: Path) -> None:
    log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    edit_user_files(repo)
    sha, before = head(repo), git_state(repo)
    write_hook(repo, "pre-commit", "echo 'lint: no' >&2\nexit 1\n")
    proc = gitrun_cli("commit", cwd=repo)
    assert proc.returncode != 0 and "pre-commit hook failed" in proc.stderr and "lint: no" in proc.stderr
    assert head(repo) == sha and git_state(repo) == before

    (repo / ".git" / "hooks" / "pre-commit").unlink()
    write_hook(repo, "commit-msg", "grep -q 'JIRA-' \"$1\" || { echo 'missing ticket' >&2; exit 1; }\n")
    proc = gitrun_cli("commit", cwd=repo)
    assert proc.returncode != 0 and "commit-msg hook failed" in proc.stderr and "missing ticket" in proc.stderr
    assert head(repo) == sha and git_state(repo) == before

    # prepare-commit-msg runs as in `git commit`, --no-verify or not.
    write_hook(repo, "commit-msg", "exit 0\n")
    write_hook(repo, "prepare-commit-msg", "echo 'no message today' >&2\nexit 1\n")
    proc = gitrun_cli("commit", cwd=repo)
    assert proc.returncode != 0 and "git refused the commit" in proc.stderr and "no message today" in proc.stderr
    assert head(repo) == sha and git_state(repo) == before
    assert run_git(repo, "diff", "--cached", "--name-only", "--", ".gitrun").stdout == ""  # no runs left staged
    assert temp_files(repo) == []

    # A commit-msg hook that adds a trailer; prepare-commit-msg and post-commit run as Git runs them.
    write_hook(repo, "commit-msg", 'printf "\\nChange-Id: I123\\n" >> "$1"\n')
    write_hook(repo, "prepare-commit-msg", f'echo "$2" > "{tmp_path / "source"}"\n')
    write_hook(repo, "post-commit", f'git rev-parse HEAD > "{tmp_path / "post"}"\n')
    commit_ok(repo, "-m", "JIRA-7 sweep")
    assert run_git(repo, "log", "-1", "--format=%B").stdout.strip() == "JIRA-7 sweep\n\nChange-Id: I123"
    assert (tmp_path / "source").read_text().strip() == "message"
    assert (tmp_path / "post").read_text().strip() == head(repo)
    assert git_state(repo) == before


# -- item 16: a branch without the store ------------------------------------------------------------
def test_runs_committed_on_a_branch_leave_nothing_that_blocks_main(repo: Path) -> None:
    run_git(repo, "switch", "-q", "-c", "exp")
    elsewhere, _ = log_runs(repo, [{"metrics": {"val_acc": 0.5}}, {"metrics": {"val_acc": 0.6}}])
    commit_ok(repo)
    run_git(repo, "switch", "-q", "main")
    assert list((repo / ".gitrun").glob("experiments/*/runs/*/.lock"))  # Git leaves ignored files behind
    assert run_git(repo, "status", "--porcelain", "--untracked-files=all").stdout == ""

    listed = gitrun_cli("runs", "list", "--json", cwd=repo)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    assert "Warning" not in listed.stderr and "meta.json" not in listed.stderr, listed.stderr
    experiments = gitrun_cli("experiments", "list", "--json", cwd=repo)
    assert experiments.returncode == 0 and "iris-sgd" not in experiments.stdout, experiments.stdout
    shown = gitrun_cli("runs", "show", elsewhere, cwd=repo)
    assert shown.returncode != 0 and "holds only gitrun's local files" in shown.stderr, shown.stderr
    nothing = gitrun_cli("commit", cwd=repo)
    assert nothing.returncode == 0 and "Nothing to commit" in nothing.stdout, nothing.stderr
    assert nothing.stderr == ""

    (run_id,) = log_runs(repo, [{"metrics": {"val_acc": 0.9}}], experiment="main-exp")
    result = commit_ok(repo)
    assert [r["run_id"] for r in result["runs"]] == [run_id]
    assert {".gitrun/.gitignore", ".gitrun/store.yaml"} <= set(result["files"])
    assert not any(p.endswith("/.lock") for p in tree_paths(repo))
    assert run_git(repo, "status", "--porcelain", "--untracked-files=all").stdout == ""
    merged = run_git(repo, "merge", "-q", "--no-edit", "exp", check=False)  # same store.yaml and .gitignore
    assert merged.returncode == 0, merged.stdout + merged.stderr


# -- item 17: the repository's filters and conversions apply -----------------------------------------
@pytest.fixture
def lfs_repo(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``repo`` with Git LFS installed into a copy of the isolated global config (no other test sees it)."""
    if shutil.which("git-lfs") is None:
        pytest.skip("git-lfs is not installed (scripts/install-system-deps.sh installs it)")
    config = tmp_path / "gitconfig"
    shutil.copy(os.environ["GIT_CONFIG_GLOBAL"], config)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    run_git(repo, "lfs", "install")
    run_git(repo, "lfs", "track", "*.pkl")
    run_git(repo, "add", ".gitattributes")
    run_git(repo, "commit", "-q", "-m", "track pickles with LFS")
    return repo


def test_git_lfs_tracked_artifacts_go_through_lfs(lfs_repo: Path, tmp_path: Path) -> None:
    repo = lfs_repo
    model = tmp_path / "model.pkl"
    model.write_bytes(os.urandom(2048))
    (run_id,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}, "artifacts": [str(model)]}])

    commit_ok(repo)

    rel = f"{run_dir_of(repo, run_id).relative_to(repo).as_posix()}/artifacts/model.pkl"
    blob = run_git(repo, "cat-file", "-p", f"HEAD:{rel}").stdout
    assert blob.startswith("version https://git-lfs.github.com/spec/v1\n") and "size 2048" in blob
    assert rel in run_git(repo, "lfs", "ls-files", "--name-only").stdout.split("\n")
    assert run_git(repo, "status", "--porcelain").stdout == ""
    oid = next(line.split(":", 1)[1] for line in blob.splitlines() if line.startswith("oid sha256:"))
    assert (repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid).read_bytes() == model.read_bytes()


def test_line_ending_attributes_apply_as_git_add_applies_them(repo: Path, tmp_path: Path) -> None:
    (repo / ".gitattributes").write_text("*.csv text eol=lf\n")
    run_git(repo, "add", ".gitattributes")
    run_git(repo, "commit", "-q", "-m", "normalise csv")
    table = tmp_path / "table.csv"
    table.write_bytes(b"a,b\r\n1,2\r\n")
    (run_id,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}, "artifacts": [str(table)]}])

    commit_ok(repo)

    rel = f"{run_dir_of(repo, run_id).relative_to(repo).as_posix()}/artifacts/table.csv"
    assert run_git(repo, "cat-file", "-p", f"HEAD:{rel}").stdout == "a,b\n1,2\n"  # as `git add` stores it
    assert run_git(repo, "status", "--porcelain").stdout == ""
    assert (repo / rel).read_bytes() == b"a,b\r\n1,2\r\n"  # the logged file itself is untouched


def test_dvc_big_artifacts_and_small_ones_with_hostile_names_in_one_commit(dvc_repo: Path, tmp_path: Path) -> None:
    """A folder over the DVC threshold holding a .gitignore and a .cache/: one DVC unit, nothing missing."""
    repo = dvc_repo
    model = tmp_path / "model"
    (model / ".cache").mkdir(parents=True)
    (model / ".gitignore").write_text("*\n")
    (model / "weights.bin").write_bytes(os.urandom(600 * 1024))
    (model / ".cache" / "x").write_text("x")
    small = tmp_path / "poetry.lock"
    small.write_text("deps\n")
    code = f"""
import gitrun
with gitrun.start_run() as run:
    gitrun.log_artifacts({str(model)!r}, artifact_path="model")
    gitrun.log_artifact({str(small)!r})
print(run.info.run_id)
"""
    run_id = python_ok(code, repo).strip()
    result = commit_ok(repo)
    rel = run_dir_of(repo, run_id).relative_to(repo).as_posix()
    assert result["dvc_tracked"] == [f"{rel}/artifacts/model.dvc"]
    paths = tree_paths(repo)
    assert {f"{rel}/artifacts/model.dvc", f"{rel}/artifacts/poetry.lock"} <= paths
    assert not any(p.startswith(f"{rel}/artifacts/model/") for p in paths)
    assert store_status(repo) == ""


def test_other_files_committed_by_gitrun_keep_gits_ignore_rules(repo: Path) -> None:
    """Only the store's run folders bypass the ignore rules: `gitrun init --dvc` commits DVC's
    config, and a git-ignored .dvc/config.local (credentials) next to it must stay out."""
    from gitrun.vcs.commit import commit_paths
    from gitrun.vcs.git import GitRepo

    conf = repo / "conf"
    conf.mkdir()
    (conf / ".gitignore").write_text("/config.local\n")
    (conf / "config").write_text("[core]\n")
    (conf / "config.local").write_text("password = hunter2\n")
    sha, files = commit_paths(GitRepo(repo), ["conf"], "conf\n", no_verify=True)
    assert sha == head(repo) and sorted(files) == ["conf/.gitignore", "conf/config"]
