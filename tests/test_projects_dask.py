"""`gitrun sweep --backend dask` with real workers: a `dask.distributed.LocalCluster` of two worker
processes on 127.0.0.1, in shared-file-system mode and in clone mode (workers clone the repository,
push their runs on branches, the driver brings them in with one commit and deletes the branches)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitrun.store import Store
from tests.helpers import git_state, gitrun_cli, run_git

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow

PROJECT = """
name: dasky
entry_points:
  train:
    parameters:
      lr: float
      depth: int
    command: "python train.py --lr {lr} --depth {depth}"
"""

TRAIN = """
import argparse, gitrun
p = argparse.ArgumentParser(); p.add_argument("--lr", type=float); p.add_argument("--depth", type=int)
a = p.parse_args()
with gitrun.start_run():
    gitrun.log_metric("score", round(a.lr * a.depth, 6))
"""


@pytest.fixture
def cluster() -> Iterator[tuple[str, set[str]]]:
    """Two real worker processes; yields the scheduler's address and the workers' addresses."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            scheduler_port=0,
            dashboard_address=None,
            host="127.0.0.1",
        ) as local,
        Client(local) as client,
    ):
        yield local.scheduler_address, set(client.scheduler_info()["workers"])


def _project(repo: Path) -> None:
    (repo / "MLproject").write_text(textwrap.dedent(PROJECT))
    (repo / "train.py").write_text(textwrap.dedent(TRAIN))
    (repo / "pyproject.toml").write_text('[tool.gitrun]\nprimary_metric = "score"\n')


def _sweep(repo: Path, address: str, *extra: str) -> dict:  # type: ignore[type-arg]
    proc = gitrun_cli(
        "sweep", "--json", "-e", "train", "-P", "lr=0.1,0.2", "-P", "depth=2,3", "--backend", "dask",
        "--address", address, *extra, cwd=repo,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_shared_file_system_workers_write_into_the_store(repo: Path, cluster: tuple[str, set[str]]) -> None:
    address, workers = cluster
    _project(repo)
    result = _sweep(repo, address)
    assert [t["value"] for t in result["trials"]] == [0.6, 0.4, 0.3, 0.2]
    store = Store(repo / ".gitrun")
    for trial in result["trials"]:
        run = store.read_run(trial["run_id"])
        assert run.status == "FINISHED" and run.tags["mlflow.parentRunId"] == result["parent_run_id"]
        assert run.tags["gitrun.dask.worker"] in workers  # ran by a worker of the cluster
        assert run.tags["mlflow.project.backend"] == "dask"
    assert store.read_run(result["parent_run_id"]).status == "FINISHED"


def test_clone_mode_brings_the_runs_back_through_git(repo: Path, origin: Path, cluster: tuple[str, set[str]]) -> None:
    address, workers = cluster
    _project(repo)
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "the project")
    run_git(repo, "push", "-q", "origin", "main")
    (repo / "notes.txt").write_text("the user's own staged work\n")
    run_git(repo, "add", "notes.txt")
    before = git_state(repo)
    head = run_git(repo, "rev-parse", "HEAD").stdout.strip()

    result = _sweep(repo, address, "--backend-config", '{"clone": true}')

    assert [t["value"] for t in result["trials"]] == [0.6, 0.4, 0.3, 0.2]
    assert len(result["branches"]) == 4
    assert all(b.startswith(f"gitrun/sweep/{result['parent_run_id']}/") for b in result["branches"])
    # one commit on top of the sweep's commit holds every trial's run and the parent
    assert run_git(repo, "rev-parse", "HEAD~1").stdout.strip() == head
    added = run_git(repo, "show", "--name-only", "--format=", "HEAD").stdout.split()
    run_ids = {t["run_id"] for t in result["trials"]} | {result["parent_run_id"]}
    assert {p.split("/")[4] for p in added if "/runs/" in p} == run_ids
    assert "notes.txt" not in added and git_state(repo) == before  # the user's index is as it was
    assert run_git(repo, "status", "--porcelain", "--", ".gitrun").stdout == ""
    # the workers' branches are gone from the remote, and were never forced
    assert run_git(origin, "for-each-ref", "refs/heads/gitrun/").stdout == ""
    store = Store(repo / ".gitrun")
    for trial in result["trials"]:
        run = store.read_run(trial["run_id"])
        assert run.status == "FINISHED" and run.tags["gitrun.dask.worker"] in workers
        assert run.tags["mlflow.source.git.commit"] == head  # the clone ran the sweep's commit


def test_clone_mode_refuses_a_commit_the_remote_lacks(repo: Path, origin: Path, cluster: tuple[str, set[str]]) -> None:
    address, _ = cluster
    _project(repo)
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "not pushed")
    proc = gitrun_cli(
        "sweep", "-e", "train", "-P", "lr=0.1", "-P", "depth=2", "--backend", "dask", "--address", address,
        "--backend-config", "clone: true", cwd=repo,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "is not on 'origin': push it first" in proc.stderr and "Traceback" not in proc.stderr
    assert not (repo / ".gitrun").exists() or not list(Store(repo / ".gitrun").iter_runs())


def test_the_machine_cache_fetches_while_a_trial_branch_is_checked_out(
    repo: Path, origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two trials on one machine share the cache clone: the second's fetch must not touch the
    first's branch, which a worktree has checked out (the race CI met with two workers)."""
    from gitrun.projects.clone import _cache

    monkeypatch.setenv("GITRUN_CACHE_DIR", str(tmp_path / "cache"))
    run_git(repo, "commit", "-q", "--allow-empty", "-m", "one")
    run_git(repo, "push", "-q", "origin", "main")
    url = str(origin)
    cache = _cache(url)
    branch = "gitrun/sweep/S/1"
    work = tmp_path / "trial"
    run_git(cache, "worktree", "add", "-q", "-b", branch, str(work), "main")
    # the other trial pushed the same branch name's counterpart to the remote meanwhile
    run_git(repo, "commit", "-q", "--allow-empty", "-m", "two")
    run_git(repo, "push", "-q", "origin", f"HEAD:refs/heads/{branch}", "HEAD:refs/heads/main")
    _cache(url)  # refused with "refusing to fetch into branch ... checked out" before the fix
    head = run_git(repo, "rev-parse", "HEAD").stdout.strip()
    assert run_git(cache, "rev-parse", "refs/remotes/origin/main").stdout.strip() == head
