"""Reading the store as it was at any commit, without a checkout, and the store's history."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from gitrun.entities import ViewType
from gitrun.errors import GitrunError
from gitrun.store import Store
from gitrun.vcs.revision import history, read_artifact, store_at
from tests.helpers import git_state, gitrun_cli, log_runs, python_ok, run_git, work_files

MiB = 1024 * 1024


def cli_ok(*args: str, cwd: Path) -> str:
    proc = gitrun_cli(*args, cwd=cwd)
    assert proc.returncode == 0, f"gitrun {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def set_tag(repo: Path, run_id: str, key: str, value: str) -> None:
    python_ok(f"import gitrun; gitrun.MlflowClient().set_tag({run_id!r}, {key!r}, {value!r})", repo)


def ids(store: Store, view_type: int = ViewType.ACTIVE_ONLY) -> set[str]:
    return {r.run_id for r in store.iter_runs(view_type=view_type)}


def index_bytes(repo: Path) -> str:
    return hashlib.sha256((repo / ".git" / "index").read_bytes()).hexdigest()


@pytest.fixture
def three_states(repo: Path) -> dict[str, str]:
    """C1: runs a, b. C2: run c added, a deleted, b's tag changed. Working tree: b's tag changed again,
    run d logged (not committed)."""
    a, b = log_runs(
        repo,
        [
            {"name": "a", "params": {"lr": 0.1}, "metrics": {"val_acc": [0.5, 0.6]}, "tags": {"stage": "dev"}},
            {"name": "b", "params": {"lr": 0.2}, "metrics": {"val_acc": 0.7}, "tags": {"stage": "dev"}},
        ],
    )
    cli_ok("commit", "-m", "C1", cwd=repo)
    (c,) = log_runs(repo, [{"name": "c", "metrics": {"val_acc": 0.9}}])
    cli_ok("runs", "delete", a, cwd=repo)
    set_tag(repo, b, "stage", "candidate")
    cli_ok("commit", "-m", "C2", cwd=repo)
    set_tag(repo, b, "stage", "production")
    (d,) = log_runs(repo, [{"name": "d", "metrics": {"val_acc": 0.95}}])
    return {"a": a, "b": b, "c": c, "d": d}


def test_old_revisions_show_the_old_state(repo: Path, three_states: dict[str, str]) -> None:
    a, b, c, d = (three_states[k] for k in "abcd")
    store = Store(repo / ".gitrun")

    first = store_at(store, "HEAD~1")
    assert ids(first) == {a, b}
    assert ids(first, ViewType.DELETED_ONLY) == set()
    run_a = first.get_run(a)
    assert run_a.data.params == {"lr": "0.1"}
    assert run_a.data.metrics == {"val_acc": 0.6}
    assert [m.value for m in first.metric_history(a, "val_acc")] == [0.5, 0.6]
    assert first.get_run(b).data.tags["stage"] == "dev"
    assert first.revision == run_git(repo, "rev-parse", "HEAD~1").stdout.strip()

    second = store_at(store, "HEAD")
    assert ids(second) == {b, c}
    assert ids(second, ViewType.DELETED_ONLY) == {a}
    assert second.get_run(b).data.tags["stage"] == "candidate"
    assert second.get_experiment_by_name("iris-sgd").primary_metric == "val_acc"

    # A branch name and a SHA work too, and are the same view.
    assert ids(store_at(store, "main")) == {b, c}
    sha = run_git(repo, "rev-parse", "HEAD~1").stdout.strip()
    assert ids(store_at(store, sha[:10])) == {a, b}

    # The working tree is a third state.
    assert ids(store) == {b, c, d}
    assert store.get_run(b).data.tags["stage"] == "production"

    # Before the store existed in Git: an empty store, not an error.
    assert ids(store_at(store, "HEAD~2")) == set()
    with pytest.raises(GitrunError, match="unknown revision"):
        store_at(store, "no-such-branch")


def test_revision_views_are_read_only_copies(repo: Path, three_states: dict[str, str]) -> None:
    store = Store(repo / ".gitrun")
    view = store_at(store, "HEAD~1")
    assert view.root != store.root and not view.root.is_relative_to(repo / ".gitrun" / "experiments")
    # The work-tree store is unaffected by anything done to the view's files.
    assert store.get_run(three_states["b"]).data.tags["stage"] == "production"
    # Materialising the same revision again reuses the cached tree.
    assert store_at(store, "HEAD~1").root == view.root
    # Views cannot write: they are read-only stores, without the writable store's methods.
    assert not isinstance(view, Store) and not hasattr(view, "delete_run") and not hasattr(view, "writer")
    assert store_at(store, "HEAD~1").get_run(three_states["a"]).info.lifecycle_stage == "active"


def test_revision_reads_touch_neither_the_index_nor_the_working_tree(repo: Path, three_states: dict[str, str]) -> None:
    (repo / "train.py").write_text("print('staged edit')\n")
    run_git(repo, "add", "train.py")
    (repo / "README.md").write_text("unstaged edit\n")
    (repo / "notes.txt").write_text("untracked\n")
    store = Store(repo / ".gitrun")
    before = git_state(repo, exclude_store=False)
    files = work_files(repo, skip=(".git",))
    files = {k: v for k, v in files.items() if not k.startswith(".gitrun/.cache/")}
    index = index_bytes(repo)
    head = (repo / ".git" / "HEAD").read_bytes()

    for rev in ("HEAD~1", "HEAD", "main", "HEAD~2"):
        view = store_at(store, rev)
        for record in view.iter_runs(view_type=ViewType.ALL):
            view.get_run(record.run_id)
    history(store)
    cli_ok("log", "--json", cwd=repo)

    assert index_bytes(repo) == index
    assert (repo / ".git" / "HEAD").read_bytes() == head
    assert git_state(repo, exclude_store=False) == before
    after = {k: v for k, v in work_files(repo, skip=(".git",)).items() if not k.startswith(".gitrun/.cache/")}
    assert after == files


def test_history_lists_store_commits_oldest_first(repo: Path, three_states: dict[str, str]) -> None:
    a, b, c = (three_states[k] for k in "abc")
    store = Store(repo / ".gitrun")
    cli_ok("runs", "delete", c, cwd=repo)
    cli_ok("gc", cwd=repo)  # C3 removes run c

    commits = history(store)
    assert [x.subject for x in commits] == ["C1", "C2", commits[2].subject]
    assert commits[2].subject.startswith("gitrun gc")
    c1, c2, c3 = commits
    assert {r.run_id for r in c1.added} == {a, b} and not c1.changed and not c1.removed
    assert {r.run_id for r in c2.added} == {c}
    assert {r.run_id for r in c2.changed} == {a, b} and not c2.removed
    assert {r.run_id for r in c3.removed} == {a, c} and not c3.added  # gc removes every deleted run
    assert all(r.experiment_id == "iris-sgd" for x in commits for r in (*x.added, *x.changed, *x.removed))
    assert c2.parents == (c1.sha,) and c1.author == "Test User" and c1.email == "test@example.com"
    assert c1.timestamp <= c2.timestamp <= c3.timestamp
    # The initial commit did not touch the store; a revision limits the walk.
    assert len(run_git(repo, "rev-list", "HEAD").stdout.split()) == 4
    assert [x.subject for x in history(store, "HEAD~1")] == ["C1", "C2"]

    listed = json.loads(cli_ok("log", "--json", cwd=repo))
    assert [x["sha"] for x in listed] == [x.sha for x in commits]
    assert [r["run_id"] for r in listed[0]["added"]] == [r.run_id for r in c1.added]
    assert sorted(r["run_id"] for r in listed[2]["removed"]) == sorted([a, c])
    table = cli_ok("log", cwd=repo)
    assert c1.sha[:10] in table and "C2" in table


def test_history_of_an_unborn_or_storeless_repository_is_empty(repo: Path, tmp_path: Path) -> None:
    assert history(Store(repo / ".gitrun")) == []
    empty = tmp_path / "unborn"
    run_git(tmp_path, "init", "-q", "-b", "main", str(empty))
    assert history(Store(empty / ".gitrun")) == []


def test_dvc_tracked_artifact_read_at_a_revision(dvc_repo: Path, tmp_path: Path) -> None:
    repo = dvc_repo
    v1 = os.urandom(MiB)
    (tmp_path / "model.bin").write_bytes(v1)
    (run_id,) = log_runs(repo, [{"artifacts": [str(tmp_path / "model.bin")]}])
    (tmp_path / "small.txt").write_text("small and in Git\n")
    python_ok(f"import gitrun; gitrun.MlflowClient().log_artifact({run_id!r}, {str(tmp_path / 'small.txt')!r})", repo)
    cli_ok("commit", "-m", "model v1", cwd=repo)
    # Overwrite the artifact with new content of the same size: the file is git-ignored (DVC
    # tracks it), so only its pointer can tell `gitrun commit` that it changed.
    v2 = os.urandom(MiB)
    (tmp_path / "model.bin").write_bytes(v2)
    python_ok(f"import gitrun; gitrun.MlflowClient().log_artifact({run_id!r}, {str(tmp_path / 'model.bin')!r})", repo)
    result = json.loads(cli_ok("commit", "--json", "-m", "model v2", cwd=repo))
    assert [p.rsplit("/", 1)[-1] for p in result["dvc_tracked"]] == ["model.bin.dvc"]
    before = git_state(repo, exclude_store=False)
    index = index_bytes(repo)

    store = Store(repo / ".gitrun")
    old, new = store_at(store, "HEAD~1"), store_at(store, "HEAD")
    assert not (old.artifact_dir(run_id) / "model.bin").exists()  # only the pointer is in Git
    assert read_artifact(old, run_id, "model.bin") == v1
    assert read_artifact(new, run_id, "model.bin") == v2
    assert read_artifact(store, run_id, "model.bin") == v2
    assert read_artifact(old, run_id, "small.txt") == b"small and in Git\n"
    # Listing at a revision shows the artifact (size from its pointer), not DVC's bookkeeping.
    listed = {f.path: f.file_size for f in old.list_artifacts(run_id)}
    assert listed == {"model.bin": MiB, "small.txt": len(b"small and in Git\n")}
    with pytest.raises(GitrunError, match="no artifact"):
        read_artifact(old, run_id, "missing.bin")

    assert git_state(repo, exclude_store=False) == before and index_bytes(repo) == index
    assert (store.artifact_dir(run_id) / "model.bin").read_bytes() == v2


def test_cli_search_api_and_client_read_a_revision(repo: Path, three_states: dict[str, str]) -> None:
    s = three_states
    # CLI: runs list / show / experiments list --rev
    listed = json.loads(cli_ok("runs", "list", "--rev", "HEAD~1", "--json", cwd=repo))
    assert {r["run_id"] for r in listed} == {s["a"], s["b"]}
    filtered = json.loads(
        cli_ok(
            "runs",
            "list",
            "--rev",
            "HEAD",
            "--filter",
            "metrics.val_acc > 0.8 OR tags.stage = 'candidate'",
            "--json",
            cwd=repo,
        )
    )
    assert {r["run_id"] for r in filtered} == {s["b"], s["c"]}
    shown = json.loads(cli_ok("runs", "show", s["b"][:12], "--rev", "HEAD~1", "--json", cwd=repo))
    assert shown["tags"]["stage"] == "dev"
    assert json.loads(cli_ok("runs", "show", s["b"], "--json", cwd=repo))["tags"]["stage"] == "production"
    experiments = json.loads(cli_ok("experiments", "list", "--rev", "HEAD~1", "--json", cwd=repo))
    assert sum(e["runs"] for e in experiments) == 2
    # Python: search_runs(rev=) and Client(rev=) see the committed state, the working tree its own.
    code = f"""
import json, gitrun
old = gitrun.search_runs(search_all_experiments=True, rev="HEAD~1", order_by=["metrics.val_acc DESC"])
now = gitrun.search_runs(search_all_experiments=True, output_format="list")
client = gitrun.Client(rev="HEAD")
print(json.dumps({{
    "old": list(old["run_id"]),
    "now": sorted(r.info.run_id for r in now),
    "client_tag": client.get_run({s["b"]!r}).data.tags["stage"],
}}))
"""
    out = json.loads(python_ok(code, repo).strip().splitlines()[-1])
    assert out["old"] == [s["b"], s["a"]]  # val_acc 0.7 then 0.6
    assert out["now"] == sorted([s["b"], s["c"], s["d"]])
    assert out["client_tag"] == "candidate"


def test_client_at_a_revision_reads_metric_history_and_refuses_writes(repo: Path, three_states: dict[str, str]) -> None:
    code = f"""
import json, gitrun
client = gitrun.Client(rev="HEAD~1")
points = [m.value for m in client.get_metric_history({three_states["a"]!r}, "val_acc")]
try:
    client.set_tag({three_states["b"]!r}, "k", "v")
    refused = False
except gitrun.GitrunError as exc:
    refused = "read-only" in str(exc)
print(json.dumps({{"points": points, "refused": refused}}))
"""
    out = json.loads(python_ok(code, repo).strip().splitlines()[-1])
    assert out == {"points": [0.5, 0.6], "refused": True}


def test_gitrun_commit_function_is_the_python_api(repo: Path) -> None:
    log_runs(repo, [{"name": "api", "metrics": {"val_acc": 0.5}}])
    code = """
import json, gitrun
result = gitrun.commit(message="from python")
again = gitrun.commit()
print(json.dumps({"sha": result.sha, "runs": [r.run_name for r in result.runs], "again": again.sha}))
"""
    out = json.loads(python_ok(code, repo).strip().splitlines()[-1])
    assert out["runs"] == ["api"] and out["again"] is None
    assert run_git(repo, "rev-parse", "HEAD").stdout.strip() == out["sha"]
    assert run_git(repo, "log", "-1", "--format=%s").stdout.strip() == "from python"
