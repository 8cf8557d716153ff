"""`gitrun sweep` on the local backend: grids, ranges, random draws, a parent with a child per trial,
failures recorded while the sweep goes on, re-runs skipping what finished, the ranked table."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from gitrun.errors import InvalidInputError
from gitrun.projects.sweeps import SweepSpace, parse_space
from gitrun.store import Store
from tests.helpers import gitrun_cli

SWEEP_PROJECT = """
name: sweepy
entry_points:
  train:
    parameters:
      lr: float
      depth: int
    command: "python train.py --lr {lr} --depth {depth}"
"""

TRAIN = """
import argparse, sys, gitrun
p = argparse.ArgumentParser(); p.add_argument("--lr", type=float); p.add_argument("--depth", type=int)
a = p.parse_args()
if a.depth == 5:
    print("depth 5 is cursed", file=sys.stderr)
    sys.exit(1)
with gitrun.start_run():
    gitrun.log_metric("score", round(a.lr * a.depth, 6))
"""


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "MLproject").write_text(textwrap.dedent(SWEEP_PROJECT))
    (repo / "train.py").write_text(textwrap.dedent(TRAIN))
    (repo / "pyproject.toml").write_text('[tool.gitrun]\nprimary_metric = "score"\n')
    return repo


def _sweep(repo: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    proc = gitrun_cli("sweep", "--json", *args, cwd=repo)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_values_ranges_and_escapes_parse() -> None:
    space = parse_space(["lr=0.1,0.01", "depth=3:6", "name=a\\,b,c\\:d", "mix=1,5:6"])
    assert space.params == (
        ("lr", ("0.1", "0.01")),
        ("depth", ("3", "4", "5", "6")),
        ("name", ("a,b", "c:d")),
        ("mix", ("1", "5", "6")),
    )
    assert space.size == 2 * 4 * 2 * 3
    grid = space.grid()
    assert grid[0] == {"lr": "0.1", "depth": "3", "name": "a,b", "mix": "1"}
    assert grid[1]["mix"] == "5" and grid[-1] == {"lr": "0.01", "depth": "6", "name": "c:d", "mix": "6"}
    assert len({json.dumps(p) for p in grid}) == space.size
    for bad in (["lr"], ["lr=1", "lr=2"], ["depth=6:3"]):
        with pytest.raises(InvalidInputError):
            parse_space(bad)


def test_random_draws_distinct_points_reproducibly() -> None:
    space = parse_space(["a=1:10", "b=1:10", "c=x,y"])
    draw = space.sample(15, seed=7)
    assert draw == space.sample(15, seed=7) != space.sample(15, seed=8)
    assert len({json.dumps(p) for p in draw}) == 15
    assert all(p in space.grid() for p in draw)
    assert len(SweepSpace(space.params[:1]).sample(50, seed=1)) == 10  # never more than the grid


def test_a_grid_sweep_with_a_failing_trial_then_a_rerun(project: Path) -> None:
    code, result = _sweep(project, "-e", "train", "-P", "lr=0.1,0.2", "-P", "depth=4:6", "--parallel", "2")
    assert code == 1  # some trials failed (the sweep still ran them all)
    store = Store(project / ".gitrun")
    runs = {r.run_id: r for r in store.iter_runs()}
    parent = runs[result["parent_run_id"]]
    assert parent.status == "FINISHED" and parent.tags["gitrun.sweep.trials"] == "6"
    assert parent.tags["gitrun.sweep.failed"] == "2" and parent.tags["gitrun.sweep.mode"] == "grid"
    trials = result["trials"]
    assert [t["value"] for t in trials] == [1.2, 0.8, 0.6, 0.4, None, None]  # best first, failures last
    assert [t["status"] for t in trials][-2:] == ["FAILED", "FAILED"]
    assert parent.tags["gitrun.sweep.best_run"] == trials[0]["run_id"]
    children = [r for r in runs.values() if r.run_id != parent.run_id]
    assert len(children) == 6
    for child in children:
        assert child.tags["mlflow.parentRunId"] == parent.run_id
        assert child.tags["mlflow.project.entryPoint"] == "train"
        assert set(child.params) == {"lr", "depth"}
    failed = [c for c in children if c.status == "FAILED"]
    assert {c.params["depth"] for c in failed} == {"5"}
    assert "depth 5 is cursed" in (failed[0].run_dir / "artifacts/gitrun/stderr.txt").read_text()

    code, again = _sweep(project, "-e", "train", "-P", "lr=0.1,0.2", "-P", "depth=4:6")
    assert again["skipped"] == 4 and again["parent_run_id"] != result["parent_run_id"]
    skipped = {t["run_id"] for t in again["trials"] if t["skipped"]}
    assert skipped == {t["run_id"] for t in trials if t["status"] == "FINISHED"}  # the same runs stand in
    assert len(list(store.iter_runs())) == 7 + 1 + 2  # a new parent, and only the failed ones ran again


def test_a_random_sweep_records_its_seed(project: Path) -> None:
    _, result = _sweep(project, "-e", "train", "-P", "lr=0.1,0.3", "-P", "depth=1:4", "--random", "3", "--seed", "11")
    expected = parse_space(["lr=0.1,0.3", "depth=1:4"]).sample(3, seed=11)
    assert sorted(json.dumps(t["params"], sort_keys=True) for t in result["trials"]) == sorted(
        json.dumps(p, sort_keys=True) for p in expected
    )
    parent = Store(project / ".gitrun").read_run(result["parent_run_id"])
    assert parent.tags["gitrun.sweep.seed"] == "11" and parent.tags["gitrun.sweep.mode"] == "random"


def test_a_command_sweep_appends_the_parameters(project: Path) -> None:
    script = project / "echo_args.py"
    script.write_text(
        "import sys, gitrun\nwith gitrun.start_run():\n    gitrun.log_text(' '.join(sys.argv[1:]), 'args.txt')\n"
    )
    code, result = _sweep(project, "-P", "x=1,2", "--", sys.executable, "echo_args.py", "--fixed", "y")
    assert code == 0
    store = Store(project / ".gitrun")
    seen = sorted((store.read_run(t["run_id"]).run_dir / "artifacts/args.txt").read_text() for t in result["trials"])
    assert seen == ["--fixed y --x 1", "--fixed y --x 2"]


def test_the_table_and_a_bad_trial_refused_up_front(project: Path) -> None:
    proc = gitrun_cli("sweep", "-e", "train", "-P", "lr=0.1", "-P", "depth=4,6", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "best first by score (max)" in proc.stdout and "0.6" in proc.stdout
    runs_before = len(list(Store(project / ".gitrun").iter_runs()))
    proc = gitrun_cli("sweep", "-e", "train", "-P", "lr=0.1,fast", "-P", "depth=4", cwd=project)
    assert proc.returncode == 1 and "of type float: got 'fast'" in proc.stderr
    assert len(list(Store(project / ".gitrun").iter_runs())) == runs_before  # nothing ran


def test_ctrl_c_cancels_the_running_trials(project: Path) -> None:
    import os
    import signal
    import subprocess
    import time

    from gitrun.store.reader import pid_alive

    (project / "MLproject").write_text(
        "name: slow\nentry_points:\n  main:\n    parameters:\n      x: int\n"
        '    command: "python -c \'import os, pathlib, time; pathlib.Path(\\"pid-{x}\\").write_text(str(os.getpid())); time.sleep(60)\'"\n'
    )
    exe = Path(sys.executable).with_name("gitrun")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gitrun"]
    proc = subprocess.Popen(
        [*cmd, "sweep", "-P", "x=1:4", "--parallel", "2"],
        cwd=project, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "GITRUN_NO_PROGRESS": "1"},
        # as from a terminal: a suite started in the background (`make test &`) inherits SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while len(list(project.glob("pid-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = [int(p.read_text()) for p in project.glob("pid-*") if p.read_text()]
    assert len(pids) == 2
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode == 130
    assert not any(pid_alive(pid) for pid in pids)
    statuses = sorted(r.status for r in Store(project / ".gitrun").iter_runs())
    assert statuses == ["KILLED", "KILLED", "KILLED"]  # the parent and the two running trials; none queued ran
