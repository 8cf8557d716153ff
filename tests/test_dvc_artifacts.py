"""Big artifacts and metric series through DVC: pointers in Git, content in the cache and remotes.

Real DVC (local-directory remote and an S3 remote on a moto server), real Git, the real CLI.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import yaml

from gitrun.store import Store
from gitrun.vcs.revision import read_artifact, store_at
from tests.helpers import ROOT, gitrun_cli, log_runs, python_ok, run_git

MiB = 1024 * 1024


def tree_paths(repo: Path, rev: str = "HEAD") -> list[str]:
    return run_git(repo, "ls-tree", "-r", "--name-only", rev).stdout.split()


def run_dir(repo: Path, run_id: str, experiment: str = "iris-sgd") -> Path:
    return repo / ".gitrun" / "experiments" / experiment / "runs" / run_id


def rel_run_dir(run_id: str, experiment: str = "iris-sgd") -> str:
    return f".gitrun/experiments/{experiment}/runs/{run_id}"


def pointer(repo: Path, path: str, rev: str = "HEAD") -> dict:
    out = yaml.safe_load(run_git(repo, "show", f"{rev}:{path}").stdout)["outs"][0]
    assert isinstance(out, dict)
    return out


def cli_ok(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = gitrun_cli(*args, cwd=cwd, env=env)
    assert proc.returncode == 0, f"gitrun {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def random_file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def test_big_artifact_is_a_dvc_pointer_pushed_and_pulled_into_a_fresh_clone(
    dvc_repo: Path, origin: Path, tmp_path: Path
) -> None:
    repo = dvc_repo
    data = random_file(tmp_path / "model.bin", 2 * MiB)
    (run_id,) = log_runs(repo, [{"metrics": {"val_acc": 0.9}, "artifacts": [str(tmp_path / "model.bin")]}])

    result = json.loads(cli_ok("commit", "--json", cwd=repo))

    art = f"{rel_run_dir(run_id)}/artifacts"
    assert result["dvc_tracked"] == [f"{art}/model.bin.dvc"]
    paths = tree_paths(repo)
    assert f"{art}/model.bin.dvc" in paths and f"{art}/.gitignore" in paths
    assert f"{art}/model.bin" not in paths  # the blob is not in Git
    assert "/model.bin" in run_git(repo, "show", f"HEAD:{art}/.gitignore").stdout.splitlines()
    sizes = run_git(repo, "ls-tree", "-r", "-l", "HEAD").stdout.splitlines()
    assert max(int(line.split()[3]) for line in sizes) < 10_000  # nothing big went into Git
    out = pointer(repo, f"{art}/model.bin.dvc")
    md5 = hashlib.md5(data).hexdigest()
    assert out["md5"] == md5 and out["size"] == 2 * MiB and out["path"] == "model.bin"
    cached = repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    assert cached.read_bytes() == data
    assert (run_dir(repo, run_id) / "artifacts" / "model.bin").read_bytes() == data  # still usable locally
    assert run_git(repo, "status", "--porcelain").stdout == ""  # pointer and ignore entry committed

    # push: the branch to origin, the content to the local DVC remote beside the repository.
    out_text = cli_ok("push", cwd=repo)
    assert "Pushed main to origin" in out_text and "1 file(s) uploaded" in out_text
    assert run_git(origin, "rev-parse", "main").stdout == run_git(repo, "rev-parse", "HEAD").stdout
    remote_copy = tmp_path / "dvc-remote" / "files" / "md5" / md5[:2] / md5[2:]
    assert remote_copy.read_bytes() == data
    assert "1 file(s) uploaded" not in cli_ok("push", cwd=repo)  # nothing new the second time

    # pull in a fresh clone: the pointer comes with Git, the bytes with DVC.
    clone = tmp_path / "clone"
    run_git(tmp_path, "clone", "-q", str(origin), str(clone))
    target = run_dir(clone, run_id) / "artifacts" / "model.bin"
    assert not target.exists() and target.with_name("model.bin.dvc").exists()
    out_text = cli_ok("pull", cwd=clone)
    assert "Pulled main from origin" in out_text
    assert target.read_bytes() == data
    assert run_git(clone, "status", "--porcelain").stdout == ""
    # The pulled file is newer than its pointer but the same content: nothing to commit.
    again = json.loads(cli_ok("commit", "--json", cwd=clone))
    assert again["sha"] is None and again["runs"] == []


def test_pull_of_named_runs_fetches_only_their_artifacts(dvc_repo: Path, origin: Path, tmp_path: Path) -> None:
    repo = dvc_repo
    a = random_file(tmp_path / "a.bin", MiB)
    random_file(tmp_path / "b.bin", MiB)
    run_a, run_b = log_runs(
        repo, [{"artifacts": [str(tmp_path / "a.bin")]}, {"artifacts": [str(tmp_path / "b.bin")]}], primary_metric=None
    )
    cli_ok("commit", cwd=repo)
    cli_ok("push", cwd=repo)
    clone = tmp_path / "clone"
    run_git(tmp_path, "clone", "-q", str(origin), str(clone))

    cli_ok("pull", run_a[:10], cwd=clone)

    assert (run_dir(clone, run_a) / "artifacts" / "a.bin").read_bytes() == a
    assert not (run_dir(clone, run_b) / "artifacts" / "b.bin").exists()


def test_metric_series_over_the_threshold_goes_to_dvc_summary_stays_in_git(dvc_repo: Path) -> None:
    repo = dvc_repo
    losses = [1.0 / (i + 1) for i in range(3000)]
    (run_id,) = log_runs(repo, [{"metrics": {"loss": losses, "val_acc": 0.8}}], primary_metric="loss")
    series = run_dir(repo, run_id) / "metrics" / "loss.tsv"
    assert series.stat().st_size > 20 * 1024

    result = json.loads(cli_ok("commit", "--json", "--dvc-threshold", "20KB", cwd=repo))

    rel = rel_run_dir(run_id)
    assert result["dvc_tracked"] == [f"{rel}/metrics/loss.tsv.dvc"]
    paths = tree_paths(repo)
    assert f"{rel}/metrics/loss.tsv" not in paths and f"{rel}/metrics/loss.tsv.dvc" in paths
    assert f"{rel}/metrics/val_acc.tsv" in paths  # small series stay in Git
    assert f"{rel}/metrics.json" in paths
    summary = json.loads(run_git(repo, "show", f"HEAD:{rel}/metrics.json").stdout)
    assert json.dumps(summary).count(repr(losses[-1])) >= 1

    # Readers of that revision see the latest value without any DVC content.
    from gitrun.store import Store
    from gitrun.vcs.revision import store_at

    store = Store(repo / ".gitrun")
    view = store_at(store, "HEAD")
    assert not (view.root / "experiments" / "iris-sgd" / "runs" / run_id / "metrics" / "loss.tsv").exists()
    run = view.get_run(run_id)
    assert run.data.metrics["loss"] == pytest.approx(losses[-1])
    assert run.data.metrics["val_acc"] == pytest.approx(0.8)
    # The whole series at that revision comes through DVC (from the cache).
    history = view.metric_history(run_id, "loss")
    assert [m.value for m in history] == pytest.approx(losses) and history[-1].step == len(losses) - 1
    # And the working tree still reads the whole series.
    assert len(store.metric_history(run_id, "loss")) == len(losses)
    assert store.get_run(run_id).data.metrics["loss"] == pytest.approx(losses[-1])


def test_big_artifact_without_dvc_setup_is_a_clear_error(repo: Path, tmp_path: Path) -> None:
    random_file(tmp_path / "model.bin", 2 * MiB)
    log_runs(repo, [{"artifacts": [str(tmp_path / "model.bin")]}])
    sha = run_git(repo, "rev-parse", "HEAD").stdout

    proc = gitrun_cli("commit", cwd=repo)

    assert proc.returncode != 0
    assert "gitrun init --dvc" in proc.stderr and "Traceback" not in proc.stderr
    assert run_git(repo, "rev-parse", "HEAD").stdout == sha
    assert not (repo / ".dvc").exists()


def test_big_artifact_without_dvc_installed_names_the_install_command(repo: Path, tmp_path: Path) -> None:
    random_file(tmp_path / "model.bin", 2 * MiB)
    log_runs(repo, [{"artifacts": [str(tmp_path / "model.bin")]}])
    sha = run_git(repo, "rev-parse", "HEAD").stdout
    # A Python where `import dvc` fails, as when the package is not installed.
    blocker = tmp_path / "no-dvc"
    blocker.mkdir()
    (blocker / "dvc.py").write_text("raise ImportError('No module named dvc')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(blocker), str(ROOT)])}
    code = "import sys; from gitrun.cli import main; sys.argv = ['gitrun', 'commit']; main()"
    from tests.helpers import run_python

    proc = run_python(code, repo, env)

    assert proc.returncode != 0
    assert "pip install" in proc.stderr and "gitrun init --dvc" in proc.stderr
    assert "model.bin" in proc.stderr and "Traceback" not in proc.stderr
    assert run_git(repo, "rev-parse", "HEAD").stdout == sha


def test_dvc_threshold_precedence(dvc_repo: Path, tmp_path: Path) -> None:
    """CLI option > [tool.gitrun] in pyproject.toml > store.yaml > 500 KB."""
    from gitrun.store import Store
    from gitrun.vcs.commit import DEFAULT_DVC_THRESHOLD, dvc_threshold

    repo = dvc_repo
    store = Store(repo / ".gitrun")
    assert DEFAULT_DVC_THRESHOLD == 500 * 1024
    assert dvc_threshold(store) == 500 * 1024
    with open(repo / ".gitrun" / "store.yaml", "a") as f:
        f.write("dvc_threshold: 100KB\n")
    assert dvc_threshold(store) == 100 * 1024
    (repo / "pyproject.toml").write_text('[project]\nname = "demo"\n\n[tool.gitrun]\ndvc_threshold = "1MB"\n')
    assert dvc_threshold(store) == 1024 * 1024
    assert dvc_threshold(store, "200KB") == 200 * 1024

    def one_run() -> tuple[str, str]:
        random_file(tmp_path / "mid.bin", 300 * 1024)
        (run_id,) = log_runs(repo, [{"artifacts": [str(tmp_path / "mid.bin")]}], primary_metric=None)
        return run_id, f"{rel_run_dir(run_id)}/artifacts/mid.bin"

    # The command line beats pyproject.toml: 300 KB > 200 KB goes to DVC.
    run_id, art = one_run()
    result = json.loads(cli_ok("commit", "--json", "--dvc-threshold", "200KB", run_id, cwd=repo))
    assert result["dvc_tracked"] == [art + ".dvc"]
    # pyproject.toml (1 MB) beats store.yaml (100 KB): 300 KB stays in Git.
    run_id, art = one_run()
    result = json.loads(cli_ok("commit", "--json", run_id, cwd=repo))
    assert result["dvc_tracked"] == [] and art in tree_paths(repo)
    # Without [tool.gitrun], store.yaml (100 KB) beats the 500 KB default.
    (repo / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    run_id, art = one_run()
    result = json.loads(cli_ok("commit", "--json", run_id, cwd=repo))
    assert result["dvc_tracked"] == [art + ".dvc"] and art not in tree_paths(repo)
    # The user's pyproject.toml was read, never committed.
    assert "pyproject.toml" not in tree_paths(repo)


def test_logging_never_imports_dvc(dvc_repo: Path, tmp_path: Path) -> None:
    random_file(tmp_path / "model.bin", 2 * MiB)
    code = f"""
import sys, gitrun
gitrun.set_experiment("iris-sgd", primary_metric="val_acc")
with gitrun.start_run():
    gitrun.log_params({{"lr": 0.1}})
    for step in range(20):
        gitrun.log_metric("val_acc", step / 20, step=step)
    gitrun.log_artifact({str(tmp_path / "model.bin")!r})
    gitrun.log_text("hello", "notes/hello.txt")
run = gitrun.last_active_run()
print(run.info.status)
print(sorted(m for m in sys.modules if m == "dvc" or m.startswith(("dvc.", "dvc_"))))
"""
    status, modules = python_ok(code, dvc_repo).strip().splitlines()[-2:]
    assert status == "FINISHED"
    assert modules == "[]"


def test_init_dvc_with_a_remote_directory(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "shared-dvc-store"
    out = cli_ok("init", "--dvc", "--remote", str(remote), cwd=repo)
    assert "Set up DVC" in out and "committed DVC's configuration" in out
    assert run_git(repo, "log", "-1", "--format=%s").stdout.strip() == "gitrun: set up DVC for large artifacts"
    committed = run_git(repo, "diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD").stdout.split()
    assert set(committed) <= {".dvc/config", ".dvc/.gitignore", ".dvcignore"} and ".dvc/config" in committed
    config = run_git(repo, "show", "HEAD:.dvc/config").stdout
    assert str(remote) in config and "remote = storage" in config
    assert run_git(repo, "status", "--porcelain", "--", ".dvc", ".dvcignore").stdout == ""


# -- S3 through moto ------------------------------------------------------------------------
def test_s3_remote_on_moto_push_then_pull_into_a_fresh_clone(
    repo: Path, origin: Path, tmp_path: Path, moto_s3: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    for key, value in creds.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(key, raising=False)
    bucket = f"gitrun-{os.getpid()}-{tmp_path.name[-12:].lower().replace('_', '-')}".strip("-")
    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)

    cli_ok("init", "--remote", f"s3://{bucket}/dvcstore", cwd=repo)
    python_ok(
        f"from dvc.cli import main; raise SystemExit(main(['remote', 'modify', 'storage', 'endpointurl', {moto_s3!r}]))",
        repo,
    )
    run_git(repo, "commit", "-q", "-am", "S3 endpoint")
    data = random_file(tmp_path / "model.bin", 2 * MiB)
    (run_id,) = log_runs(repo, [{"metrics": {"val_acc": 0.7}, "artifacts": [str(tmp_path / "model.bin")]}])
    cli_ok("commit", cwd=repo)

    out = cli_ok("push", cwd=repo)
    assert "1 file(s) uploaded" in out
    md5 = hashlib.md5(data).hexdigest()
    obj = s3.get_object(Bucket=bucket, Key=f"dvcstore/files/md5/{md5[:2]}/{md5[2:]}")
    assert obj["Body"].read() == data

    clone = tmp_path / "clone"
    run_git(tmp_path, "clone", "-q", str(origin), str(clone))
    assert not (clone / ".dvc" / "config.local").exists()  # credentials come from the environment
    cli_ok("pull", cwd=clone)
    assert (run_dir(clone, run_id) / "artifacts" / "model.bin").read_bytes() == data


def test_commit_push_pull_from_a_subdirectory_with_unusual_artifact_names(
    dvc_repo: Path, origin: Path, tmp_path: Path
) -> None:
    repo = dvc_repo
    src = repo / "src"
    src.mkdir()
    data = random_file(tmp_path / "my model ü.bin", 700 * 1024)
    code = f"""
import gitrun
with gitrun.start_run() as run:
    gitrun.log_artifact({str(tmp_path / "my model ü.bin")!r}, artifact_path="models/best one")
print(run.info.run_id)
"""
    run_id = python_ok(code, src).strip().splitlines()[-1]
    artifacts = f".gitrun/experiments/default/runs/{run_id}/artifacts"
    art = f"{artifacts}/models/best one/my model ü.bin"

    # The top-level artifact directory is over the threshold: DVC tracks it as one unit.
    result = json.loads(cli_ok("commit", "--json", cwd=src))
    assert result["dvc_tracked"] == [f"{artifacts}/models.dvc"]
    paths = run_git(repo, "-c", "core.quotePath=false", "ls-tree", "-r", "--name-only", "HEAD").stdout.splitlines()
    assert f"{artifacts}/models.dvc" in paths and art not in paths
    cli_ok("push", cwd=src)
    md5 = hashlib.md5(data).hexdigest()
    assert (tmp_path / "dvc-remote" / "files" / "md5" / md5[:2] / md5[2:]).read_bytes() == data

    clone = tmp_path / "clone"  # pulled from a subdirectory of a fresh clone
    run_git(tmp_path, "clone", "-q", str(origin), str(clone))
    cli_ok("pull", cwd=clone / ".gitrun" / "experiments")
    assert (clone / art).read_bytes() == data


def test_push_and_pull_never_force_or_merge(repo: Path, origin: Path, tmp_path: Path) -> None:
    (mine,) = log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    cli_ok("commit", cwd=repo)
    out = cli_ok("push", cwd=repo)  # first push sets the upstream
    assert "Pushed main to origin" in out and "DVC" not in out
    assert run_git(repo, "rev-parse", "--abbrev-ref", "main@{upstream}").stdout.strip() == "origin/main"

    # A teammate pushes a run (and a tag) first.
    mate = tmp_path / "mate"
    run_git(tmp_path, "clone", "-q", str(origin), str(mate))
    (theirs,) = log_runs(mate, [{"metrics": {"val_acc": 0.6}}])
    cli_ok("commit", cwd=mate)
    cli_ok("push", cwd=mate)
    run_git(mate, "tag", "best-model")
    run_git(mate, "push", "-q", "origin", "best-model")
    remote_head = run_git(origin, "rev-parse", "main").stdout

    # Our new commit cannot be pushed over theirs: refused with a hint, nothing forced.
    log_runs(repo, [{"metrics": {"val_acc": 0.7}}])
    cli_ok("commit", cwd=repo)
    local_head = run_git(repo, "rev-parse", "HEAD").stdout
    proc = gitrun_cli("push", cwd=repo)
    assert proc.returncode != 0 and "gitrun pull" in proc.stderr
    assert run_git(origin, "rev-parse", "main").stdout == remote_head
    # And pull only fast-forwards: diverged branches are left for the user to merge.
    proc = gitrun_cli("pull", cwd=repo)
    assert proc.returncode != 0 and "diverged" in proc.stderr
    assert run_git(repo, "rev-parse", "HEAD").stdout == local_head
    assert run_git(repo, "status", "--porcelain").stdout == ""

    # Once the user has merged, push and pull work, and pull brings the tags.
    run_git(repo, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main")
    cli_ok("push", cwd=repo)
    cli_ok("pull", cwd=mate)
    assert run_git(mate, "rev-parse", "HEAD").stdout == run_git(repo, "rev-parse", "HEAD").stdout
    # A tag on a commit outside main (not auto-followed by `git pull`) still arrives.
    run_git(mate, "switch", "-q", "--detach")
    run_git(mate, "commit", "-q", "--allow-empty", "-m", "side experiment")
    run_git(mate, "tag", "side-experiment")
    run_git(mate, "push", "-q", "origin", "side-experiment")
    cli_ok("pull", cwd=repo)
    assert run_git(repo, "tag", "--list").stdout.split() == ["best-model", "side-experiment"]
    runs_dir = repo / ".gitrun" / "experiments" / "iris-sgd" / "runs"
    assert {mine, theirs} <= {p.name for p in runs_dir.iterdir()}


@pytest.mark.parametrize("hook_refuses_first", [False, True])
def test_files_committed_small_that_grow_over_the_threshold_move_to_dvc(
    dvc_repo: Path, tmp_path: Path, hook_refuses_first: bool
) -> None:
    """A run committed while running (--include-running) or resumed later: its checkpoint and its
    metric series were small blobs in Git, now they are big. The next commit moves them to DVC."""
    repo = dvc_repo
    random_file(tmp_path / "ckpt.bin", 100 * 1024)
    code = f"""
import gitrun
with gitrun.start_run() as run:
    gitrun.log_artifact({str(tmp_path / "ckpt.bin")!r})
    for step in range(100):
        gitrun.log_metric("loss", 1 / (step + 1), step=step)
print(run.info.run_id)
"""
    run_id = python_ok(code, repo).strip().splitlines()[-1]
    cli_ok("commit", cwd=repo)
    rel = f".gitrun/experiments/default/runs/{run_id}"
    assert {f"{rel}/artifacts/ckpt.bin", f"{rel}/metrics/loss.tsv"} <= set(tree_paths(repo))
    (repo / "notes.txt").write_text("the user's staged work\n")
    run_git(repo, "add", "notes.txt")

    big = random_file(tmp_path / "ckpt.bin", 2 * MiB)
    code = f"""
import gitrun
with gitrun.start_run(run_id={run_id!r}):
    gitrun.log_artifact({str(tmp_path / "ckpt.bin")!r})
    for step in range(100, 30000):
        gitrun.log_metric("loss", 1 / (step + 1), step=step)
"""
    python_ok(code, repo)
    assert (repo / rel / "metrics" / "loss.tsv").stat().st_size > 500 * 1024

    if hook_refuses_first:  # the files become DVC's, the commit fails: the index is as it was
        hook = repo / ".git" / "hooks" / "pre-commit"
        hook.write_text("#!/bin/sh\necho 'not today' >&2\nexit 1\n")
        hook.chmod(0o755)
        index_before = run_git(repo, "ls-files", "-s").stdout
        proc = gitrun_cli("commit", cwd=repo)
        assert proc.returncode != 0 and "not today" in proc.stderr
        assert run_git(repo, "ls-files", "-s").stdout == index_before
        assert run_git(repo, "diff", "--cached", "--name-only").stdout.split() == ["notes.txt"]
        hook.unlink()

    result = json.loads(cli_ok("commit", "--json", cwd=repo))

    assert result["sha"] and result["runs"][0]["change"] == "changed"
    if not hook_refuses_first:
        assert sorted(result["dvc_tracked"]) == [f"{rel}/artifacts/ckpt.bin.dvc", f"{rel}/metrics/loss.tsv.dvc"]
    paths = set(tree_paths(repo))
    assert f"{rel}/artifacts/ckpt.bin" not in paths and f"{rel}/artifacts/ckpt.bin.dvc" in paths
    assert f"{rel}/metrics/loss.tsv" not in paths and f"{rel}/metrics/loss.tsv.dvc" in paths
    sizes = run_git(repo, "ls-tree", "-r", "-l", "HEAD").stdout.splitlines()
    assert max(int(line.split()[3]) for line in sizes) < 10_000
    assert run_git(repo, "status", "--porcelain", "--", ".gitrun").stdout == ""
    assert run_git(repo, "diff", "--cached", "--name-only").stdout.split() == ["notes.txt"]
    assert (repo / rel / "artifacts" / "ckpt.bin").read_bytes() == big


def test_artifact_directory_of_small_files_goes_to_dvc_as_one_unit(
    dvc_repo: Path, origin: Path, tmp_path: Path
) -> None:
    """A saved model of many small files: each under the threshold, the directory over it."""
    model = tmp_path / "model"
    model.mkdir()
    parts = {f"shard-{i}.bin": os.urandom(60 * 1024) for i in range(12)}  # 12 x 60 KB = 720 KB
    for name, data in parts.items():
        (model / name).write_bytes(data)
    code = f"""
import gitrun
with gitrun.start_run() as run:
    gitrun.log_artifacts({str(model)!r}, artifact_path="model")
    gitrun.log_text("small", "notes.txt")
print(run.info.run_id)
"""
    run_id = python_ok(code, dvc_repo).strip().splitlines()[-1]
    artifacts = f".gitrun/experiments/default/runs/{run_id}/artifacts"
    result = json.loads(cli_ok("commit", "--json", cwd=dvc_repo))
    assert result["dvc_tracked"] == [f"{artifacts}/model.dvc"]
    paths = run_git(dvc_repo, "ls-tree", "-r", "--name-only", "HEAD").stdout.splitlines()
    assert f"{artifacts}/model.dvc" in paths and f"{artifacts}/notes.txt" in paths
    assert not any(p.startswith(f"{artifacts}/model/") for p in paths)
    # Listing at that revision shows the directory from its pointer; nothing to re-add next time.
    view = store_at(Store(dvc_repo / ".gitrun"), "HEAD")
    listed = {f.path: f for f in view.list_artifacts(run_id)}
    assert listed["model"].is_dir and listed["model"].file_size == sum(len(d) for d in parts.values())
    assert json.loads(cli_ok("commit", "--json", cwd=dvc_repo))["sha"] is None
    # A file inside the tracked directory reads through DVC at that revision, and comes back with pull.
    assert read_artifact(view, run_id, "model/shard-3.bin") == parts["shard-3.bin"]
    cli_ok("push", cwd=dvc_repo)
    clone = tmp_path / "clone"
    run_git(tmp_path, "clone", "-q", str(origin), str(clone))
    cli_ok("pull", cwd=clone)
    assert all((clone / artifacts / "model" / n).read_bytes() == d for n, d in parts.items())
