"""Crash safety and concurrency with real processes: SIGKILL, parallel writers, real `git merge`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

import gitrun
from gitrun.entities import RunStatus
from gitrun.errors import StoreWarning
from gitrun.store import Store
from tests.helpers import ROOT, gitrun_cli, run_git, run_python

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and O_APPEND semantics")

PROCESSES = 8
POINTS = 2_000


def _popen(code: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _check_series_files(store_dir: Path) -> int:
    """Every line of every series file is a header or exactly 3 parseable fields; returns the point count."""
    points = 0
    files = list(store_dir.rglob("*.tsv"))
    assert files
    for path in files:
        text = path.read_text()
        assert text.endswith("\n"), path
        lines = text.split("\n")[:-1]
        assert lines[0].startswith("step\ttimestamp\t"), path
        for number, line in enumerate(lines[1:], start=2):
            fields = line.split("\t")
            assert len(fields) == 3, f"{path}:{number}: {line!r}"
            int(fields[0]), int(fields[1]), float(fields[2])
            points += 1
    return points


# -- SIGKILL ----------------------------------------------------------------------------------
KILLED_SCRIPT = """
import sys, time
import gitrun
run = gitrun.start_run(run_name="doomed")
gitrun.log_param("lr", 0.01)
gitrun.set_tag("phase", "training")
for i in range({n}):
    gitrun.log_metric("loss", 1.0 / (i + 1), step=i)
    gitrun.log_metric("train/acc", i / {n}, step=i)
print("LOGGED", run.info.run_id, flush=True)
time.sleep(120)
"""


def test_sigkill_loses_nothing_logged_and_run_reads_as_killed(repo: Path, store_dir: Path) -> None:
    n = 500
    proc = _popen(KILLED_SCRIPT.format(n=n), cwd=repo)
    try:
        line = proc.stdout.readline()
        assert line.startswith("LOGGED "), line + proc.stderr.read()
        run_id = line.split()[1]
        # While the process lives, its run is RUNNING.
        assert gitrun.Client(repo).get_run(run_id).info.status == RunStatus.RUNNING
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    client = gitrun.Client(repo)
    run = client.get_run(run_id)
    assert run.info.status == RunStatus.KILLED
    assert run.info.end_time is None
    assert run.data.params == {"lr": "0.01"}
    assert run.data.tags["phase"] == "training"
    loss = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in loss] == [(i, 1.0 / (i + 1)) for i in range(n)]
    acc = client.get_metric_history(run_id, "train/acc")
    assert [(m.step, m.value) for m in acc] == [(i, i / n) for i in range(n)]
    assert run.data.metrics == {"loss": 1.0 / n, "train/acc": (n - 1) / n}
    # The file still says RUNNING: KILLED is what readers infer from the dead process.
    meta = json.loads((store_dir / "experiments" / "default" / "runs" / run_id / "meta.json").read_text())
    assert meta["status"] == "RUNNING"
    assert _check_series_files(store_dir) == 2 * n


def test_sigkill_while_logging_leaves_no_torn_line(repo: Path, store_dir: Path) -> None:
    code = """
import gitrun
run = gitrun.start_run()
i = 0
while True:
    gitrun.log_metric("busy", i * 0.5, step=i)
    if i == 1000:
        print("GO", run.info.run_id, flush=True)
    i += 1
"""
    proc = _popen(code, cwd=repo)
    try:
        line = proc.stdout.readline()
        assert line.startswith("GO "), line + proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)  # mid-loop: the process is writing points right now
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    run_id = line.split()[1]
    count = _check_series_files(store_dir)
    assert count > 1000
    history = gitrun.Client(repo).get_metric_history(run_id, "busy")
    assert [(m.step, m.value) for m in history] == [(i, i * 0.5) for i in range(count)]
    assert gitrun.Client(repo).get_run(run_id).info.status == RunStatus.KILLED


# -- liveness without a clean end ------------------------------------------------------------
def test_client_created_run_of_an_exited_process_reads_as_killed(repo: Path, store_dir: Path) -> None:
    code = "import os, gitrun\nprint(gitrun.Client().create_run('default').info.run_id, os.getpid())\n"
    proc = run_python(code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    run_id, pid = proc.stdout.split()
    meta = json.loads((store_dir / "experiments" / "default" / "runs" / run_id / "meta.json").read_text())
    assert meta["status"] == "RUNNING" and meta["pid"] == int(pid)
    assert gitrun.Client(repo).get_run(run_id).info.status == RunStatus.KILLED


@pytest.mark.parametrize(("age_s", "expected"), [(3600, RunStatus.KILLED), (0, RunStatus.RUNNING)])
def test_heartbeat_from_another_host(repo: Path, store_dir: Path, age_s: int, expected: str) -> None:
    client = gitrun.Client(repo)
    run_id = client.create_run("default").info.run_id
    run_dir = store_dir / "experiments" / "default" / "runs" / run_id
    meta_path = run_dir / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta.update(host="gpu-node-7.cluster", pid=424242)  # a process on another machine (shared file system)
    meta_path.write_text(json.dumps(meta))
    beat = run_dir / ".heartbeat-gpu-node-7.cluster-424242"
    beat.write_text("")
    stamp = time.time() - age_s
    os.utime(beat, (stamp, stamp))
    assert client.get_run(run_id).info.status == expected


def test_run_from_another_host_without_heartbeat_stays_running(repo: Path, store_dir: Path) -> None:
    """A clone has no heartbeat files (they are git-ignored): nothing proves such a run died."""
    client = gitrun.Client(repo)
    run_id = client.create_run("default").info.run_id
    meta_path = store_dir / "experiments" / "default" / "runs" / run_id / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta.update(host="laptop-of-someone-else", pid=1)
    meta_path.write_text(json.dumps(meta))
    assert client.get_run(run_id).info.status == RunStatus.RUNNING


def test_a_single_process_killed_mid_run_reads_killed(repo: Path, store_dir: Path) -> None:
    """The process that started a run has no heartbeat file: the run's .lock, which names it, is its heartbeat."""
    code = "import time, gitrun\nrun = gitrun.start_run()\nprint('GO', run.info.run_id, flush=True)\ntime.sleep(600)\n"
    proc = _popen(code, cwd=repo)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("GO "), line + proc.stderr.read()  # type: ignore[union-attr]
        run_id = line.split()[1]
        run_dir = store_dir / "experiments" / "default" / "runs" / run_id
        assert sorted(p.name for p in run_dir.iterdir()) == [".lock", "meta.json", "tags.json"]
        assert (run_dir / ".lock").read_text() == f"{socket.gethostname()}-{proc.pid}"
        assert gitrun.Client(repo).get_run(run_id).info.status == RunStatus.RUNNING
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert _stored(store_dir, run_id)["status"] == "RUNNING"
    assert gitrun.Client(repo).get_run(run_id).info.status == RunStatus.KILLED
    _commit(repo)
    committed = run_git(repo, "show", f"HEAD:.gitrun/experiments/default/runs/{run_id}/meta.json").stdout
    assert json.loads(committed)["status"] == "KILLED"


@pytest.mark.parametrize(("age_s", "expected"), [(3600, RunStatus.KILLED), (0, RunStatus.RUNNING)])
def test_a_starter_on_another_host_holds_the_run_while_its_lock_is_fresh(
    repo: Path, store_dir: Path, age_s: int, expected: str
) -> None:
    """Shared file systems: the starter's .lock, refreshed every 30 s, is its heartbeat on every host."""
    run_id = gitrun.Client(repo).create_run("default").info.run_id
    run_dir = store_dir / "experiments" / "default" / "runs" / run_id
    (run_dir / ".lock").write_text("gpu-node-7.cluster-424242")
    stamp = time.time() - age_s
    os.utime(run_dir / ".lock", (stamp, stamp))
    assert gitrun.Client(repo).get_run(run_id).info.status == expected
    (run_dir / ".lock").write_text("")  # a lock that names nobody: the run's own host and pid decide
    os.utime(run_dir / ".lock", (stamp, stamp))
    assert gitrun.Client(repo).get_run(run_id).info.status == RunStatus.RUNNING  # this process made it


# -- many processes ---------------------------------------------------------------------------
SEPARATE_SCRIPT = """
import os, sys, time
import gitrun
rank = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ["RANK"])
while not os.path.exists("go"):
    time.sleep(0.005)
with gitrun.start_run(run_name=f"worker-{{rank}}") as run:
    gitrun.log_param("rank", rank)
    for i in range({points}):
        gitrun.log_metric("loss", rank * 100000 + i, step=i)
print(run.info.run_id)
"""


def _start_all(codes: list[tuple[str, dict[str, str]]], cwd: Path) -> list[str]:
    """Start every process, let them go at once (a 'go' file), return their stdout; all must succeed."""
    procs = [_popen(code, cwd, env) for code, env in codes]
    (cwd / "go").write_text("")
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(out)
    return outputs


def test_parallel_processes_into_separate_runs(repo: Path, store_dir: Path) -> None:
    code = SEPARATE_SCRIPT.format(points=POINTS)
    outputs = _start_all([(code, {"RANK": str(rank)}) for rank in range(PROCESSES)], repo)
    run_ids = [out.strip() for out in outputs]
    assert len(set(run_ids)) == PROCESSES
    assert sorted(run_ids) == sorted(r.run_id for r in Store(store_dir).iter_runs())
    client = gitrun.Client(repo)
    for rank, run_id in enumerate(run_ids):
        run = client.get_run(run_id)
        assert run.info.status == RunStatus.FINISHED
        assert run.data.params == {"rank": str(rank)}
        history = client.get_metric_history(run_id, "loss")
        assert [(m.step, m.value) for m in history] == [(i, float(rank * 100000 + i)) for i in range(POINTS)]
    assert _check_series_files(store_dir) == PROCESSES * POINTS


SHARED_SCRIPT = """
import os, time
import gitrun
from gitrun.entities import Metric
rank = int(os.environ["RANK"])
while not os.path.exists("go"):
    time.sleep(0.005)
with gitrun.start_run() as run:  # attaches to GITRUN_RUN_ID, as distributed-training ranks do
    assert run.info.run_id == os.environ["GITRUN_RUN_ID"]
    if rank % 2:
        client = gitrun.Client()
        for start in range(0, {points}, 100):
            batch = [Metric("loss", rank * 100000 + i, 0, i) for i in range(start, start + 100)]
            client.log_batch(run.info.run_id, metrics=batch)
    else:
        for i in range({points}):
            gitrun.log_metric("loss", rank * 100000 + i, step=i)
    gitrun.set_tag(f"rank.{{rank}}", "done")
"""


def test_parallel_processes_into_one_shared_run(repo: Path, store_dir: Path) -> None:
    client = gitrun.Client(repo)
    run_id = client.create_run("default", run_name="shared").info.run_id
    code = SHARED_SCRIPT.format(points=POINTS)
    _start_all([(code, {"RANK": str(rank), "GITRUN_RUN_ID": run_id}) for rank in range(PROCESSES)], repo)

    assert [r.run_id for r in Store(store_dir).iter_runs()] == [run_id]
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)  # no torn or partial line anywhere
        history = gitrun.Client(repo).get_metric_history(run_id, "loss")
        run = gitrun.Client(repo).get_run(run_id)
    assert len(history) == PROCESSES * POINTS
    seen = {(int(m.value) // 100000, m.step) for m in history}
    assert seen == {(rank, i) for rank in range(PROCESSES) for i in range(POINTS)}
    for m in history:
        assert m.value == (m.value // 100000) * 100000 + m.step
    # Each rank's own points stay in order within the shared file.
    for rank in range(PROCESSES):
        steps = [m.step for m in history if int(m.value) // 100000 == rank]
        assert steps == list(range(POINTS))
    assert run.info.status == RunStatus.FINISHED
    assert {f"rank.{rank}" for rank in range(PROCESSES)} <= set(run.data.tags)
    assert Store(store_dir).read_run(run_id).summaries["loss"].count == PROCESSES * POINTS
    assert _check_series_files(store_dir) == PROCESSES * POINTS


# -- Git branches -----------------------------------------------------------------------------
def _log_runs(names: list[str]) -> list[str]:
    gitrun.set_experiment("shared-exp", primary_metric="acc", directions={"acc": "max"})
    ids = []
    for name in names:
        with gitrun.start_run(run_name=name) as run:
            gitrun.log_param("branch_run", name)
            for step in range(5):
                gitrun.log_metric("acc", step / 10, step=step)
        ids.append(run.info.run_id)
    return ids


def test_branches_adding_runs_merge_without_conflict(repo: Path, store_dir: Path) -> None:
    base = _log_runs(["base"])
    run_git(repo, "add", ".gitrun")
    run_git(repo, "commit", "-q", "-m", "base run")

    run_git(repo, "checkout", "-q", "-b", "feature")
    feature = _log_runs(["feature-1", "feature-2"])
    run_git(repo, "add", ".gitrun")
    run_git(repo, "commit", "-q", "-m", "feature runs")
    # Adding runs only adds files: nothing already committed was rewritten.
    changed = run_git(repo, "diff", "--name-status", "main", "feature").stdout.splitlines()
    assert changed and all(line.startswith("A\t") for line in changed), changed

    run_git(repo, "checkout", "-q", "main")
    gitrun.set_tracking_uri(repo)  # forget anything cached about the other branch's files
    main = _log_runs(["main-1", "main-2"])
    run_git(repo, "add", ".gitrun")
    run_git(repo, "commit", "-q", "-m", "main runs")

    merge = run_git(repo, "merge", "--no-ff", "-m", "merge feature", "feature", check=False)
    assert merge.returncode == 0, merge.stdout + merge.stderr
    assert "CONFLICT" not in merge.stdout
    assert run_git(repo, "status", "--porcelain").stdout == ""
    assert run_git(repo, "ls-files", "--unmerged").stdout == ""

    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)
        records = list(Store(store_dir).iter_runs())
    assert sorted(r.run_id for r in records) == sorted(base + feature + main)
    assert {r.run_name for r in records} == {"base", "feature-1", "feature-2", "main-1", "main-2"}
    assert all(r.status == RunStatus.FINISHED for r in records)
    assert all(r.metrics == {"acc": 0.4} for r in records)
    # Run IDs sort by creation time across branches (ULIDs; the first 10 characters are the millisecond).
    created = [r.run_id[:10] for r in sorted(records, key=lambda r: r.start_time)]
    assert created == sorted(created)
    assert gitrun.Client(repo).get_experiment_by_name("shared-exp").primary_metric == "acc"


SAME_EXPERIMENT_SCRIPT = """
import os, time
import gitrun
while not os.path.exists("go"):
    time.sleep(0.002)
exp = gitrun.set_experiment("Churn Model", primary_metric="auc")
with gitrun.start_run() as run:
    gitrun.log_metric("auc", 0.5)
print(exp.experiment_id, run.info.experiment_id)
"""


def test_processes_creating_one_experiment_at_once_share_its_folder(repo: Path, store_dir: Path) -> None:
    """The experiment ID depends on the name alone: racing creators agree on one folder."""
    outputs = _start_all([(SAME_EXPERIMENT_SCRIPT, {}) for _ in range(6)], repo)
    assert {out.strip() for out in outputs} == {"churn-model-97779c churn-model-97779c"}
    assert [p.name for p in (store_dir / "experiments").iterdir()] == ["churn-model-97779c"]
    assert len(list(Store(store_dir).iter_runs(["churn-model-97779c"]))) == 6


# -- several processes attached to one run end it together (issue 9, item 6) -------------------
ATTACHED_SCRIPT = """
import os, time
import gitrun
name, outcome = os.environ["NAME"], os.environ["OUTCOME"]
run = gitrun.start_run(run_name="shared") if "GITRUN_RUN_ID" not in os.environ else gitrun.start_run()
print("ATTACHED", run.info.run_id, flush=True)
i = 0
try:
    with run:
        while i < 20 or not (os.path.exists("end-" + name) or os.path.exists("end-all")):
            gitrun.log_metric("loss", float(i), step=i)
            gitrun.log_metric("points/" + name, float(i), step=i)
            i += 1
            time.sleep(0.001)
        if outcome == "FAILED":
            raise RuntimeError("boom")
except RuntimeError:
    pass
print("ENDED", i, flush=True)
"""


class Attached:
    """A real process attached to a run: the first one starts it, the others resume it."""

    def __init__(self, repo: Path, name: str, outcome: str = "FINISHED", run_id: str | None = None):
        self.repo, self.name = repo, name
        env = {"NAME": name, "OUTCOME": outcome, **({"GITRUN_RUN_ID": run_id} if run_id else {})}
        self.proc = _popen(ATTACHED_SCRIPT, repo, env)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("ATTACHED "), line + self.proc.stderr.read()  # type: ignore[union-attr]
        self.run_id = line.split()[1]

    def end(self) -> int:
        """Let it end its run and exit; returns the points it logged."""
        (self.repo / f"end-{self.name}").write_text("")
        return self.wait()

    def wait(self) -> int:
        out, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, err
        return int(out.split()[-1])

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.communicate(timeout=60)


def _stored(store_dir: Path, run_id: str) -> dict[str, object]:
    return dict(json.loads(next(store_dir.glob(f"experiments/*/runs/{run_id}/meta.json")).read_text()))


def _bookkeeping(store_dir: Path, run_id: str) -> list[str]:
    run_dir = next(store_dir.glob(f"experiments/*/runs/{run_id}"))
    return sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".heartbeat-"))


def _commit(repo: Path) -> str:
    proc = gitrun_cli("commit", "-m", "runs", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize("first_ends", ["starter", "resumer"])
def test_a_run_attached_by_two_processes_ends_when_the_last_one_ends(
    repo: Path, store_dir: Path, first_ends: str
) -> None:
    starter = Attached(repo, "starter")
    resumer = Attached(repo, "resumer", run_id=starter.run_id)
    first, last = (starter, resumer) if first_ends == "starter" else (resumer, starter)
    first_points = first.end()
    client = gitrun.Client(repo)
    # The other process is still logging: the run is RUNNING, in the file and for readers...
    assert _stored(store_dir, starter.run_id)["status"] == "RUNNING"
    assert client.get_run(starter.run_id).info.status == RunStatus.RUNNING
    assert client.get_run(starter.run_id).info.end_time is None
    # ... and `gitrun commit` leaves it out rather than committing part of it as finished.
    out = _commit(repo)
    assert f"skipped running run {starter.run_id}" in out
    assert run_git(repo, "ls-tree", "-r", "--name-only", "HEAD", ".gitrun").stdout.count(starter.run_id) == 0
    last_points = last.end()
    run = client.get_run(starter.run_id)
    assert run.info.status == RunStatus.FINISHED and run.info.end_time is not None
    assert _stored(store_dir, starter.run_id)["status"] == "FINISHED"
    assert len(client.get_metric_history(starter.run_id, "loss")) == first_points + last_points
    assert run.data.metrics[f"points/{first.name}"] == first_points - 1
    assert run.data.metrics[f"points/{last.name}"] == last_points - 1
    assert _bookkeeping(store_dir, starter.run_id) == []  # no heartbeat or outcome left behind
    summary = json.loads(next(store_dir.glob(f"experiments/*/runs/{starter.run_id}/metrics.json")).read_text())
    assert summary["loss"]["count"] == first_points + last_points  # written by the last one, complete
    _commit(repo)
    committed = run_git(repo, "show", f"HEAD:.gitrun/experiments/default/runs/{starter.run_id}/meta.json").stdout
    assert json.loads(committed)["status"] == "FINISHED"


@pytest.mark.parametrize("failed_first", [True, False])
def test_the_worst_status_wins_failed_over_finished(repo: Path, store_dir: Path, failed_first: bool) -> None:
    starter = Attached(repo, "starter", "FAILED" if failed_first else "FINISHED")
    resumer = Attached(repo, "resumer", "FINISHED" if failed_first else "FAILED", run_id=starter.run_id)
    starter.end()
    assert gitrun.Client(repo).get_run(starter.run_id).info.status == RunStatus.RUNNING
    resumer.end()
    assert gitrun.Client(repo).get_run(starter.run_id).info.status == RunStatus.FAILED
    assert _stored(store_dir, starter.run_id)["status"] == "FAILED"


def test_a_sigkilled_process_counts_as_killed(repo: Path, store_dir: Path) -> None:
    # Killed while the other lives: the survivor's end makes the run KILLED.
    starter = Attached(repo, "starter")
    resumer = Attached(repo, "resumer", run_id=starter.run_id)
    resumer.kill()
    assert gitrun.Client(repo).get_run(starter.run_id).info.status == RunStatus.RUNNING  # the starter lives
    starter.end()
    assert _stored(store_dir, starter.run_id)["status"] == "KILLED"
    assert _bookkeeping(store_dir, starter.run_id) == []

    # Killed last: readers see KILLED at once, and `gitrun commit` records it so.
    starter = Attached(repo, "starter-2")
    resumer = Attached(repo, "resumer-2", run_id=starter.run_id)
    starter.end()
    assert gitrun.Client(repo).get_run(starter.run_id).info.status == RunStatus.RUNNING
    resumer.kill()
    assert gitrun.Client(repo).get_run(starter.run_id).info.status == RunStatus.KILLED
    _commit(repo)
    committed = run_git(repo, "show", f"HEAD:.gitrun/experiments/default/runs/{starter.run_id}/meta.json").stdout
    assert json.loads(committed)["status"] == "KILLED"


def test_a_failed_process_then_a_killed_one_reads_failed_and_commits_failed(repo: Path, store_dir: Path) -> None:
    starter = Attached(repo, "starter", "FAILED")
    resumer = Attached(repo, "resumer", run_id=starter.run_id)
    starter.end()
    resumer.kill()
    assert gitrun.Client(repo).get_run(starter.run_id).info.status == RunStatus.FAILED
    _commit(repo)
    committed = run_git(repo, "show", f"HEAD:.gitrun/experiments/default/runs/{starter.run_id}/meta.json").stdout
    assert json.loads(committed)["status"] == "FAILED"


def test_processes_ending_at_the_same_moment_end_the_run_once(repo: Path, store_dir: Path) -> None:
    for attempt in range(3):
        starter = Attached(repo, "starter")
        others = [Attached(repo, f"resumer{i}", run_id=starter.run_id) for i in range(3)]
        (repo / "end-all").write_text("")  # all four end at once
        points = sum(p.wait() for p in (starter, *others))
        (repo / "end-all").unlink()
        run = gitrun.Client(repo).get_run(starter.run_id)
        assert run.info.status == RunStatus.FINISHED and run.info.end_time is not None, attempt
        assert _bookkeeping(store_dir, starter.run_id) == []
        summary = json.loads(next(store_dir.glob(f"experiments/*/runs/{starter.run_id}/metrics.json")).read_text())
        assert summary["loss"]["count"] == points


def test_set_terminated_from_outside_ends_the_run_at_once(repo: Path, store_dir: Path) -> None:
    starter = Attached(repo, "starter")
    resumer = Attached(repo, "resumer", run_id=starter.run_id)
    gitrun.Client(repo).set_terminated(starter.run_id, "KILLED")
    assert gitrun.Client(repo).get_run(starter.run_id).info.status == RunStatus.KILLED
    starter.end()
    resumer.end()  # their own ends leave the explicit status alone
    assert _stored(store_dir, starter.run_id)["status"] == "KILLED"
    assert _bookkeeping(store_dir, starter.run_id) == []


def test_a_process_on_another_host_holds_the_run_while_its_heartbeat_is_fresh(repo: Path, store_dir: Path) -> None:
    """Shared file systems: the other host's heartbeat keeps the run open; once stale, it counts as KILLED."""
    with gitrun.start_run() as run:
        run_dir = store_dir / "experiments" / "default" / "runs" / run.info.run_id
        (run_dir / ".heartbeat-gpu-node-7.cluster-4242").write_text("")  # a rank on another machine
    assert _stored(store_dir, run.info.run_id)["status"] == "RUNNING"
    assert gitrun.get_run(run.info.run_id).info.status == RunStatus.RUNNING
    outcomes = (run_dir / ".heartbeat-outcomes").read_text().splitlines()
    assert [line.split("\t")[1] for line in outcomes] == ["FINISHED"]
    stale = time.time() - 3600
    os.utime(run_dir / ".heartbeat-gpu-node-7.cluster-4242", (stale, stale))
    assert gitrun.get_run(run.info.run_id).info.status == RunStatus.KILLED  # the other rank died
    # Resuming it with nobody alive starts afresh: the old outcome and the dead heartbeat go.
    with gitrun.start_run(run_id=run.info.run_id):
        assert _bookkeeping(store_dir, run.info.run_id) == [f".heartbeat-{socket.gethostname()}-{os.getpid()}"]
    assert gitrun.get_run(run.info.run_id).info.status == RunStatus.FINISHED
    assert _bookkeeping(store_dir, run.info.run_id) == []
