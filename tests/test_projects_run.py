"""`gitrun run [URI]`: MLproject entry points run as runs, local and from a Git URL at a version; the
Python API (`gitrun.projects.run`, `SubmittedRun`) and MLflow's multistep workflow."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from gitrun.store import Store
from tests.helpers import gitrun_cli, python_ok, run_git

TRAIN = """
import argparse, gitrun as mlflow
p = argparse.ArgumentParser()
p.add_argument("--alpha", type=float)
p.add_argument("--note")
p.add_argument("--extra")
args = p.parse_args()
with mlflow.start_run():
    mlflow.log_metric("score", args.alpha * 2)
    mlflow.log_text(args.note, "note.txt")
"""

MLPROJECT = """
name: demo
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      note: {type: string, default: "two words"}
    command: "python train.py --alpha {alpha} --note {note}"
"""


def _project(root: Path, mlproject: str = MLPROJECT, **files: str) -> Path:
    (root / "MLproject").write_text(textwrap.dedent(mlproject))
    (root / "train.py").write_text(textwrap.dedent(TRAIN))
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    return root


def _runs(repo: Path) -> list:  # type: ignore[type-arg]
    return sorted(Store(repo / ".gitrun").iter_runs(), key=lambda r: r.run_id)


def test_an_entry_point_runs_as_mlflow_run_records_it(repo: Path) -> None:
    _project(repo)
    hostile = "'; touch pwned; echo '"
    proc = gitrun_cli("run", ".", "-P", "alpha=0.25", "-P", f"note={hostile}", "-P", "extra=7", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    (run,) = _runs(repo)
    assert run.status == "FINISHED"
    assert run.params == {"alpha": "0.25", "note": hostile, "extra": "7"}  # every param, as given
    assert run.metrics == {"score": 0.5}  # the script's start_run() logged into the same run
    assert (run.run_dir / "artifacts" / "note.txt").read_text() == hostile and not (repo / "pwned").exists()
    tags = run.tags
    assert tags["mlflow.source.type"] == "PROJECT"
    assert tags["mlflow.source.name"] == repo.resolve().as_uri()
    assert tags["mlflow.project.entryPoint"] == "main"
    assert tags["mlflow.project.backend"] == "local" and tags["mlflow.project.env"] == "local"
    assert tags["mlflow.source.git.commit"] == run_git(repo, "rev-parse", "HEAD").stdout.strip()
    assert tags["gitrun.command"].startswith("python train.py --alpha 0.25 --note ")


def test_a_bad_parameter_is_refused_before_any_run(repo: Path) -> None:
    _project(repo)
    proc = gitrun_cli("run", ".", "-P", "alpha=fast", cwd=repo)
    assert proc.returncode == 1
    assert "parameter 'alpha' is of type float: got 'fast'" in proc.stderr and "Traceback" not in proc.stderr
    assert _runs(repo) == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ("docker_env:\n  image: python:3.11\n", "gitrun runs no containers"),
        ("conda_env: conda.yaml\n", "does not build conda environments"),
    ],
)
def test_docker_and_conda_projects_are_refused_clearly(repo: Path, env: str, message: str) -> None:
    _project(repo, MLPROJECT + env, **{"conda.yaml": "name: x\n"})
    proc = gitrun_cli("run", ".", cwd=repo)
    assert proc.returncode == 1 and message in proc.stderr
    assert _runs(repo) == []


def test_a_git_url_at_a_version(repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "proj"
    source.mkdir()
    run_git(source, "init", "-q", "-b", "main")
    _project(source)
    run_git(source, "add", "-A")
    run_git(source, "commit", "-q", "-m", "v1")
    run_git(source, "tag", "v1")
    first = run_git(source, "rev-parse", "HEAD").stdout.strip()
    (source / "train.py").write_text(textwrap.dedent(TRAIN).replace("args.alpha * 2", "args.alpha * 3"))
    run_git(source, "commit", "-q", "-am", "v2")
    bare = tmp_path / "proj.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(source), str(bare))
    url = bare.as_uri()

    for version, score, branch in (("v1", 1.0, None), ("main", 1.5, "main")):
        proc = gitrun_cli("run", url, "-v", version, cwd=repo)
        assert proc.returncode == 0, proc.stderr
        run = _runs(repo)[-1]  # in the store of the current repository, not in the clone
        assert run.metrics == {"score": score}
        assert run.tags["mlflow.source.name"] == url
        assert run.tags["mlflow.source.git.repoURL"] == url
        assert run.tags.get("mlflow.source.git.branch") == branch
        if version == "v1":
            assert run.tags["mlflow.source.git.commit"] == first
    proc = gitrun_cli("run", url, "-v", "v9", cwd=repo)
    assert proc.returncode == 1 and "no such branch, tag or commit" in proc.stderr


MULTISTEP = """
name: multistep
entry_points:
  load:
    command: "python load.py"
  train:
    parameters:
      rows: uri
      factor: {type: int, default: 2}
    command: "python steps.py --rows {rows} --factor {factor}"
  main:
    command: "python main.py"
"""


def test_mlflows_multistep_workflow(repo: Path) -> None:
    # MLflow's examples/multistep_workflow pattern: one entry point runs the others as child runs,
    # and passes one step's artifact URI to the next.
    _project(
        repo,
        MULTISTEP,
        **{
            "load.py": """
                import pathlib, gitrun as mlflow
                with mlflow.start_run():
                    pathlib.Path("rows.txt").write_text("a\\nb\\nc\\n")
                    mlflow.log_artifact("rows.txt", "data")
            """,
            "steps.py": """
                import argparse, urllib.parse, gitrun as mlflow
                p = argparse.ArgumentParser(); p.add_argument("--rows"); p.add_argument("--factor", type=int)
                a = p.parse_args()
                rows = open(urllib.parse.urlparse(a.rows).path).read().splitlines()
                with mlflow.start_run():
                    mlflow.log_metric("rows", len(rows) * a.factor)
            """,
            "main.py": """
                import gitrun as mlflow
                with mlflow.start_run() as active:
                    load = mlflow.projects.run(".", "load", env_manager="local")
                    uri = mlflow.get_run(load.run_id).info.artifact_uri + "/data/rows.txt"
                    train = mlflow.run(".", "train", parameters={"rows": uri, "factor": 3})
                    mlflow.set_tag("steps", f"{load.run_id},{train.run_id}")
            """,
        },
    )
    proc = gitrun_cli("run", ".", "-e", "main", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    runs = {r.run_id: r for r in _runs(repo)}
    main = next(r for r in runs.values() if r.tags.get("mlflow.project.entryPoint") == "main")
    load_id, train_id = main.tags["steps"].split(",")
    assert {load_id, train_id, main.run_id} == set(runs)
    for child in (runs[load_id], runs[train_id]):
        assert child.tags["mlflow.parentRunId"] == main.run_id and child.status == "FINISHED"
    assert runs[train_id].metrics == {"rows": 9.0}
    assert runs[train_id].params["factor"] == "3"
    assert main.status == "FINISHED"


def test_the_python_api_submits_waits_and_cancels(repo: Path) -> None:
    _project(
        repo,
        MLPROJECT + "  slow:\n    command: \"python -c 'import time; time.sleep(60)'\"\n",
    )
    out = python_ok(
        textwrap.dedent(
            """
            import json, time, gitrun
            from gitrun.projects import SubmittedRun
            done = gitrun.projects.run(".", parameters={"alpha": 1})
            assert isinstance(done, SubmittedRun)
            first = (done.run_id, done.get_status(), done.wait())
            slow = gitrun.projects.run(".", "slow", synchronous=False)
            seen = slow.get_status()
            deadline = time.time() + 30
            while seen != "RUNNING" and time.time() < deadline:
                time.sleep(0.05)
                seen = slow.get_status()
            slow.cancel()
            try:
                gitrun.projects.run(".", parameters={"alpha": "x"})
            except gitrun.GitrunError as exc:
                error = str(exc)
            print(json.dumps([first, seen, slow.run_id, slow.get_status(), error]))
            """
        ),
        repo,
    )
    first, seen, slow_id, slow_status, error = json.loads(out.strip().splitlines()[-1])
    assert first[1:] == ["FINISHED", True]
    assert seen == "RUNNING" and slow_status == "KILLED"
    assert Store(repo / ".gitrun").read_run(slow_id).status == "KILLED"
    assert "of type float" in error
    assert {r.run_id for r in _runs(repo)} == {first[0], slow_id}
    _ = time
