"""`gitrun commit` builds its tree from HEAD's with only the committed paths replaced
(gitrun/vcs/trees.py): the tree equals what `git add -A -- <paths>` on top of HEAD gives, and the
user's index lists it, whatever the repository's shape (SHA-256, a store at the root or in a new
folder, a gitlink, file/folder swaps, core.fileMode, core.autocrlf, commit.cleanup, hooks)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import gitrun_cli, log_runs, run_git


def head(repo: Path) -> str:
    return run_git(repo, "rev-parse", "HEAD").stdout.strip()


def run_dir_of(repo: Path, run_id: str, store: str = ".gitrun") -> Path:
    (found,) = (repo / store / "experiments").glob(f"*/runs/{run_id}")
    return found


def commit(repo: Path, *args: str) -> dict:
    proc = gitrun_cli("commit", "--json", *args, cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def status(repo: Path, spec: str = ".gitrun") -> str:
    return run_git(repo, "status", "--porcelain", "--untracked-files=all", "--", spec).stdout


def new_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, sha256: bool = False, readme: bool = True) -> Path:
    """A repository of its own (not the shared template), with one commit of README.md unless ``readme`` is False."""
    repo = tmp_path / "own"
    run_git(tmp_path, "init", "-q", "-b", "main", *(["--object-format=sha256"] if sha256 else []), str(repo))
    monkeypatch.chdir(repo)
    if readme:
        (repo / "README.md").write_text("x\n")
        run_git(repo, "add", "README.md")
        run_git(repo, "commit", "-q", "-m", "init")
    return repo


def expected_tree(repo: Path, paths: list[str], parent: str = "HEAD~1") -> str:
    """The tree `git add -A -- paths && git commit` gives on top of ``parent`` (fresh index, -f for the store)."""
    env_index = repo / ".git" / "expected-index"
    env = {**os.environ, "GIT_INDEX_FILE": str(env_index)}
    import subprocess

    subprocess.run(["git", "read-tree", parent], cwd=repo, env=env, check=True)
    subprocess.run(["git", "add", "-A", "-f", "--", *paths], cwd=repo, env=env, check=True)
    subprocess.run(
        [
            "git",
            "rm",
            "-q",
            "--cached",
            "--ignore-unmatch",
            "--",
            ":(glob)**/.lock",
            ":(glob)**/.heartbeat-*",
            ":(glob)**/.cache/**",
        ],
        cwd=repo,
        env=env,
        check=True,
    )
    tree = subprocess.run(["git", "write-tree"], cwd=repo, env=env, check=True, capture_output=True, text=True)
    env_index.unlink()
    got = run_git(repo, "rev-parse", "HEAD^{tree}").stdout.strip()
    if got != tree.stdout.strip():  # shown when the test fails
        print(run_git(repo, "diff-tree", "-r", tree.stdout.strip(), got).stdout)
    return tree.stdout.strip()


# 1. sha256 repositories: removal records with a 40-zero null OID are malformed there.
def test_sha256_commit_of_a_removed_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = new_repo(tmp_path, monkeypatch, sha256=True)
    a, _b = log_runs(repo, [{"metrics": {"val_acc": 0.5}}, {"metrics": {"val_acc": 0.6}}])
    commit(repo)
    shutil.rmtree(run_dir_of(repo, a))
    proc = gitrun_cli("commit", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not any(a in p for p in run_git(repo, "ls-tree", "-r", "--name-only", "HEAD").stdout.split())
    assert status(repo) == ""


def test_sha256_commit_of_a_file_removed_from_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = new_repo(tmp_path, monkeypatch, sha256=True)
    art = tmp_path / "notes.txt"
    art.write_text("n\n")
    (a,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}, "artifacts": [str(art)]}])
    commit(repo)
    (run_dir_of(repo, a) / "artifacts" / "notes.txt").unlink()
    proc = gitrun_cli("commit", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert status(repo) == ""


# 2. core.fileMode=false: git add stores new files as 100644; the user's index must agree with HEAD.
def test_filemode_false_executable_artifact(repo: Path, tmp_path: Path) -> None:
    run_git(repo, "config", "core.fileMode", "false")
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    (a,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}, "artifacts": [str(script)]}])
    assert os.access(run_dir_of(repo, a) / "artifacts" / "run.sh", os.X_OK)
    commit(repo)
    rel = run_dir_of(repo, a).relative_to(repo).as_posix() + "/artifacts/run.sh"
    mode_head = run_git(repo, "ls-tree", "HEAD", "--", rel).stdout.split()[0]
    mode_index = run_git(repo, "ls-files", "-s", "--", rel).stdout.split()[0]
    assert status(repo) == "", "index disagrees with HEAD: " + status(repo)
    assert mode_index == mode_head
    assert mode_head == "100644", "git add -A with core.fileMode=false would store 100644"


# 3. HEAD moved meanwhile (here by a prepare-commit-msg hook committing in the real index): refused,
#    and "your files and index are unchanged" must hold.
def test_head_moved_meanwhile_is_refused_and_the_index_is_unchanged(repo: Path) -> None:
    log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    before_status = status(repo)
    hook = repo / ".git" / "hooks" / "prepare-commit-msg"
    hook.write_text(
        "#!/bin/sh\n"
        'if [ ! -e "$GIT_DIR/moved" ] && [ ! -e .git/moved ]; then touch .git/moved;\n'
        "  env -u GIT_INDEX_FILE git commit -q --allow-empty -m 'someone else'; fi\n"
    )
    hook.chmod(0o755)
    sha = head(repo)
    proc = gitrun_cli("commit", cwd=repo)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    moved = head(repo)
    assert moved != sha and run_git(repo, "log", "-1", "--format=%s").stdout.strip() == "someone else"
    assert "unchanged" in proc.stderr
    assert status(repo) == before_status, f"before:\n{before_status}\nafter:\n{status(repo)}"


# 4. An artifact that was a file in HEAD and is now a directory.
def test_artifact_file_becomes_directory(repo: Path, tmp_path: Path) -> None:
    art = tmp_path / "model"
    art.write_text("v1\n")
    (a,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}, "artifacts": [str(art)]}])
    commit(repo)
    target = run_dir_of(repo, a) / "artifacts" / "model"
    target.unlink()
    target.mkdir()
    (target / "weights.bin").write_bytes(b"w\n")
    proc = gitrun_cli("commit", "--json", a, cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rel = run_dir_of(repo, a).relative_to(repo).as_posix()
    assert run_git(repo, "rev-parse", "HEAD^{tree}").stdout.strip() == expected_tree(repo, [rel])
    assert status(repo) == ""


def test_artifact_directory_becomes_file(repo: Path, tmp_path: Path) -> None:
    d = tmp_path / "model"
    d.mkdir()
    (d / "weights.bin").write_bytes(b"w\n")
    code = (
        "import gitrun\n"
        "gitrun.set_experiment('iris-sgd')\n"
        "with gitrun.start_run() as r:\n"
        f"    gitrun.log_artifacts({str(d)!r}, artifact_path='model')\n"
        "print(r.info.run_id)\n"
    )
    from tests.helpers import python_ok

    a = python_ok(code, repo).strip().splitlines()[-1]
    commit(repo)
    target = run_dir_of(repo, a) / "artifacts" / "model"
    shutil.rmtree(target)
    target.write_text("now a file\n")
    proc = gitrun_cli("commit", "--json", a, cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rel = run_dir_of(repo, a).relative_to(repo).as_posix()
    assert run_git(repo, "rev-parse", "HEAD^{tree}").stdout.strip() == expected_tree(repo, [rel])
    assert status(repo) == ""


# 5. A gitlink (submodule) at the root next to .gitrun, its commit not in this repository.
def test_gitlink_at_root_survives(repo: Path) -> None:
    fake = "1234567890abcdef1234567890abcdef12345678"
    run_git(repo, "update-index", "--add", "--cacheinfo", f"160000,{fake},vendor")
    run_git(repo, "commit", "-q", "-m", "submodule")
    log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    commit(repo)
    assert run_git(repo, "ls-tree", "HEAD", "vendor").stdout.split()[:3] == ["160000", "commit", fake]
    assert status(repo) == ""


# 6. Store in a subdirectory whose parents are not in HEAD; hostile names; symlink in a run.
def test_store_in_new_subdirectory_hostile_names_and_symlink(repo: Path, tmp_path: Path) -> None:
    store = "deep/er/ml store"
    env = {"GITRUN_TRACKING_URI": str(repo / store)}
    odd = tmp_path / "a b\u00e9\nc.txt"
    odd.write_text("odd\n")
    (a,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}, "artifacts": [str(odd)]}], env=env)
    rd = run_dir_of(repo, a, store)
    os.symlink("a b\u00e9\nc.txt", rd / "artifacts" / "link")
    proc = gitrun_cli("commit", "--json", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    files = run_git(repo, "ls-tree", "-r", "-z", "HEAD").stdout.split("\0")
    assert any(f.startswith("120000") and f.endswith("/artifacts/link") for f in files)
    assert run_git(repo, "rev-parse", "HEAD^{tree}").stdout.strip() == expected_tree(repo, [store])
    assert status(repo, store) == ""
    assert run_git(repo, "diff-files", "--name-only", "--", store).stdout == ""


# 7. Store at the repository root.
def test_store_at_repo_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = new_repo(tmp_path, monkeypatch)
    env = {"GITRUN_TRACKING_URI": str(repo)}
    (_a,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}}], env=env)
    (repo / "README.md").write_text("user edit\n")
    proc = gitrun_cli("commit", "--json", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert run_git(repo, "show", "HEAD:README.md").stdout == "x\n"
    assert run_git(repo, "status", "--porcelain").stdout == " M README.md\n"


# 8. Unborn branch + sha256 + first commit.
def test_unborn_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = new_repo(tmp_path, monkeypatch, sha256=True, readme=False)
    log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    commit(repo)
    assert len(head(repo)) == 64
    assert status(repo) == ""
    assert "commit (initial)" in run_git(repo, "reflog", "-1").stdout


# 9. commit.cleanup and messages.
@pytest.mark.parametrize("mode", ["strip", "whitespace", "verbatim", "scissors"])
def test_cleanup_modes_match_git(repo: Path, mode: str) -> None:
    run_git(repo, "config", "commit.cleanup", mode)
    log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    msg = "subject  \n\n\n# a comment\nbody\t\n\n"
    commit(repo, "-m", msg)
    got = run_git(repo, "cat-file", "commit", "HEAD").stdout.split("\n\n", 1)[1]
    (repo / "f").write_text("x")
    run_git(repo, "add", "f")
    import subprocess

    subprocess.run(["git", "commit", "-q", "-F", "-"], cwd=repo, input=msg, text=True, check=True)
    want = run_git(repo, "cat-file", "commit", "HEAD").stdout.split("\n\n", 1)[1]
    assert got == want


def test_an_unknown_cleanup_mode_is_refused_as_git_refuses_it(repo: Path) -> None:
    run_git(repo, "config", "commit.cleanup", "tidy")
    log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    sha = head(repo)
    proc = gitrun_cli("commit", cwd=repo)
    assert proc.returncode != 0 and "commit.cleanup is 'tidy'" in proc.stderr and "Traceback" not in proc.stderr
    assert head(repo) == sha and run_git(repo, "diff", "--cached", "--name-only").stdout == ""


# 10. core.hooksPath relative, hook run from a subdirectory.
def test_relative_hooks_path_from_subdirectory(repo: Path) -> None:
    run_git(repo, "config", "core.hooksPath", "githooks")
    (repo / "githooks").mkdir()
    hook = repo / "githooks" / "commit-msg"
    hook.write_text("#!/bin/sh\necho 'Ticket: X-1' >> \"$1\"\n")
    hook.chmod(0o755)
    sub = repo / "src"
    sub.mkdir()
    log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    proc = gitrun_cli("commit", "--json", cwd=sub)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Ticket: X-1" in run_git(repo, "log", "-1", "--format=%B").stdout


# 11. A small artifact directory committed as blobs, then grown over the threshold: DVC tracks it as one unit.
def test_artifact_directory_grown_over_threshold_leaves_git(dvc_repo: Path, tmp_path: Path) -> None:
    from tests.helpers import python_ok

    model = tmp_path / "model"
    model.mkdir()
    for i in range(3):
        (model / f"shard-{i}.bin").write_bytes(os.urandom(10 * 1024))
    code = f"""
import gitrun
with gitrun.start_run() as run:
    gitrun.log_artifacts({str(model)!r}, artifact_path="model")
print(run.info.run_id)
"""
    run_id = python_ok(code, dvc_repo).strip().splitlines()[-1]
    commit(dvc_repo)
    artifacts = f".gitrun/experiments/default/runs/{run_id}/artifacts"
    assert f"{artifacts}/model/shard-0.bin" in run_git(dvc_repo, "ls-tree", "-r", "--name-only", "HEAD").stdout
    for i in range(12):
        (model / f"shard-{i}.bin").write_bytes(os.urandom(60 * 1024))
    python_ok(
        f"""
import gitrun
with gitrun.start_run(run_id={run_id!r}):
    gitrun.log_artifacts({str(model)!r}, artifact_path="model")
""",
        dvc_repo,
    )
    result = commit(dvc_repo)
    assert f"{artifacts}/model.dvc" in result["dvc_tracked"]
    paths = run_git(dvc_repo, "ls-tree", "-r", "--name-only", "HEAD").stdout.splitlines()
    assert f"{artifacts}/model.dvc" in paths
    assert not any(p.startswith(f"{artifacts}/model/") for p in paths), [p for p in paths if "/model/" in p]
    assert status(dvc_repo) == ""


@pytest.mark.parametrize("autocrlf", ["true", "input"])
def test_autocrlf_matches_git_add_and_index_is_clean(repo: Path, tmp_path: Path, autocrlf: str) -> None:
    run_git(repo, "config", "core.autocrlf", autocrlf)
    art = tmp_path / "notes.txt"
    art.write_bytes(b"a\r\nb\r\n")
    (a,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}, "artifacts": [str(art)]}])
    commit(repo)
    rel = run_dir_of(repo, a).relative_to(repo).as_posix()
    assert run_git(repo, "rev-parse", "HEAD^{tree}").stdout.strip() == expected_tree(repo, [rel, ".gitrun"])
    assert status(repo) == ""
    assert run_git(repo, "diff-files", "--name-only", "--", ".gitrun").stdout == ""


def test_pre_commit_hook_present_index_clean(repo: Path) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    (repo / "README.md").write_text("unstaged\n")
    log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    commit(repo)
    assert status(repo) == ""
    assert run_git(repo, "diff-files", "--name-only", "--", ".gitrun").stdout == ""
    assert run_git(repo, "show", "HEAD:README.md").stdout == "# demo project\n"


def test_removed_run_and_removed_experiment_sha1(repo: Path) -> None:
    a, b = log_runs(repo, [{"metrics": {"val_acc": 0.5}}, {"metrics": {"val_acc": 0.6}}])
    (c,) = log_runs(repo, [{"metrics": {"val_acc": 0.7}}], experiment="other")
    commit(repo)
    shutil.rmtree(run_dir_of(repo, a))
    shutil.rmtree(run_dir_of(repo, c).parent)  # other/runs gone, other/experiment.yaml stays
    commit(repo)
    names = run_git(repo, "ls-tree", "-r", "--name-only", "HEAD").stdout
    assert a not in names and c not in names and b in names
    assert run_git(repo, "rev-parse", "HEAD^{tree}").stdout.strip() == expected_tree(repo, [".gitrun"])
    assert status(repo) == ""


def test_store_directory_where_head_has_a_file(repo: Path) -> None:
    (repo / "ml").write_text("a file in HEAD\n")
    run_git(repo, "add", "ml")
    run_git(repo, "commit", "-q", "-m", "ml file")
    (repo / "ml").unlink()
    (repo / "ml").mkdir()
    store = "ml/.gitrun"
    env = {"GITRUN_TRACKING_URI": str(repo / store)}
    log_runs(repo, [{"metrics": {"val_acc": 0.5}}], env=env)
    proc = gitrun_cli("commit", "--json", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert run_git(repo, "rev-parse", "HEAD^{tree}").stdout.strip() == expected_tree(repo, [store])
    assert status(repo, store) == ""
