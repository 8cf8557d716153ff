"""Many machines, one repository (issue 16, item 6): Git is the sync engine, no gitrun server.

Eight clones (a cluster's nodes, CI jobs) each log 50 runs, commit them with ``gitrun commit`` on
a branch of their own and push it; then every branch is merged into ``main``, in an order that
differs from the order they were pushed. No merge may conflict, every run is present exactly once,
and the merged store answers searches and builds a site. (bench/bench_scale.py: 8 x 1,000.)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from tests.helpers import gitrun_cli, log_runs, run_git

CLONES = 8
RUNS_PER_CLONE = 50


def cli_ok(*args: str, cwd: Path) -> str:
    proc = gitrun_cli(*args, cwd=cwd)
    assert proc.returncode == 0, f"gitrun {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_eight_clones_push_branches_that_merge_without_conflicts(repo: Path, origin: Path, tmp_path: Path) -> None:
    run_git(repo, "push", "-q", "origin", "main")
    pushed: dict[str, list[str]] = {}
    for node in range(CLONES):
        clone = tmp_path / f"node-{node}"
        run_git(tmp_path, "clone", "-q", str(origin), str(clone))
        run_git(clone, "checkout", "-q", "-b", f"node-{node}")
        specs = [
            {"name": f"n{node}-r{i}", "params": {"lr": i / 100, "node": node}, "metrics": {"val_acc": [0.1, i / 50]}}
            for i in range(RUNS_PER_CLONE)
        ]
        pushed[f"node-{node}"] = log_runs(clone, specs, experiment="sweep")
        cli_ok("commit", "-m", f"runs of node {node}", cwd=clone)
        run_git(clone, "push", "-q", "origin", f"node-{node}")

    run_git(repo, "fetch", "-q", "origin")
    order = list(pushed)
    random.Random(16).shuffle(order)
    assert order != sorted(order)
    for branch in order:
        merged = run_git(repo, "merge", "--no-edit", "-q", f"origin/{branch}", check=False)
        assert merged.returncode == 0, f"merging {branch}: {merged.stdout}{merged.stderr}"
    assert not run_git(repo, "diff", "--name-only", "--diff-filter=U").stdout.strip()  # no conflicts

    found = json.loads(cli_ok("runs", "list", "--experiment", "sweep", "--json", "--max", "1000", cwd=repo))
    ids = [run["run_id"] for run in found]
    assert len(ids) == len(set(ids)) == CLONES * RUNS_PER_CLONE
    assert set(ids) == {run_id for runs in pushed.values() for run_id in runs}
    best = json.loads(
        cli_ok("runs", "list", "--experiment", "sweep", "--filter", "params.node = '3'", "--json", cwd=repo)
    )
    assert {run["run_id"] for run in best} == set(pushed["node-3"])
    cli_ok("site", "build", "--output", str(tmp_path / "site"), cwd=repo)
    pages = {p.stem for p in (tmp_path / "site" / "runs").glob("*.html")}
    assert pages == set(ids)
