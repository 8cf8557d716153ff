"""``make demo`` end to end: a real Git repository, real scikit-learn training, the real CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, run_git

DEMO = ROOT / "demo" / "run_demo.py"
N_RUNS = 8  # 2 losses x 4 alphas in demo/train.py
EPOCHS = 25
ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")


def run_demo(target: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("TERM", None)
    return subprocess.run(
        [sys.executable, str(DEMO), str(target)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,  # no terminal anywhere
        capture_output=True,
        text=True,
        timeout=300,
    )


def section(output: str, start: str, end: str) -> str:
    return output.split(start, 1)[1].split(end, 1)[0]


@pytest.mark.slow
def test_demo_builds_a_repository_with_tracked_runs(tmp_path: Path) -> None:
    # A leftover demo repository (as a previous `make demo` leaves it) is wiped and recreated.
    target = tmp_path / "demo-repo"
    stale_run = target / ".gitrun" / "experiments" / "digits-sgd" / "runs" / "01J00000000000000000000000"
    stale_run.mkdir(parents=True)
    (target / "train.py").write_text("print('old script')\n")
    (target / "stale.txt").write_text("from an earlier demo\n")
    result = run_demo(target)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout

    # The repository: the training script committed first, with the demo's local identity.
    assert not (target / "stale.txt").exists() and not stale_run.exists()
    assert (target / "train.py").read_text() == (ROOT / "demo" / "train.py").read_text()
    root_commit = run_git(target, "log", "--max-parents=0", "--format=%s", "HEAD").stdout.strip()
    assert root_commit == "Add digits training script"
    assert {"README.md", "train.py"} <= set(run_git(target, "ls-files").stdout.split())
    assert run_git(target, "config", "--local", "user.email").stdout.strip() == "demo@example.invalid"
    commits = set(run_git(target, "rev-list", "--all").stdout.split())
    branches = set(run_git(target, "for-each-ref", "--format=%(refname:short)", "refs/heads").stdout.split())
    assert "main" in branches

    # The store: N finished runs with params, per-epoch metrics, tags and artifacts.
    store = target / ".gitrun"
    assert (store / "store.yaml").read_text().count("format_version: '1.0'") == 1
    experiment_yaml = (store / "experiments" / "digits-sgd" / "experiment.yaml").read_text()
    assert "primary_metric: val_acc" in experiment_yaml
    run_dirs = sorted((store / "experiments" / "digits-sgd" / "runs").iterdir())
    assert len(run_dirs) == N_RUNS

    import gitrun

    client = gitrun.Client(store)
    val_acc: dict[str, float] = {}
    for run_dir in run_dirs:
        run = client.get_run(run_dir.name)
        assert run.info.status == "FINISHED"
        assert run.data.params["model"] == "SGDClassifier"
        assert run.data.params["loss"] in ("log_loss", "modified_huber")
        assert set(run.data.metrics) == {"train_loss", "val_loss", "train_acc", "val_acc", "fit_time_s"}
        # Real Git context: a commit and a branch of the demo repository.
        assert run.data.tags["mlflow.source.git.commit"] in commits
        assert run.data.tags["mlflow.source.git.branch"] in branches
        assert run.data.tags["gitrun.git.dirty"] == "false"
        assert run.data.tags["dataset"] == "sklearn.datasets.load_digits"
        assert run.data.tags["mlflow.note.content"].startswith("Linear model trained with SGD")
        history = client.get_metric_history(run.info.run_id, "val_acc")
        assert [m.step for m in history] == list(range(1, EPOCHS + 1))
        assert history[-1].value == run.data.metrics["val_acc"]
        assert 0.8 < run.data.metrics["val_acc"] <= 1.0
        val_acc[run.info.run_id] = run.data.metrics["val_acc"]

        artifacts = run_dir / "artifacts"
        matrix = (artifacts / "confusion_matrix.csv").read_text().splitlines()
        assert len(matrix) == 11 and matrix[0].startswith("true\\pred,0,1")
        assert json.loads((artifacts / "report.json").read_text())["val_acc"] == pytest.approx(
            run.data.metrics["val_acc"]
        )
        # Each run logged its model in MLflow's format: the MLmodel in Git, model.skops through DVC.
        model = gitrun.sklearn.load_model(artifacts / "model")
        assert type(model).__name__ == "SGDClassifier"
        assert (artifacts / "model" / "MLmodel").is_file() and (artifacts / "model" / "model.skops.dvc").is_file()

    # The output: the runs table ordered by val_acc (best first), the experiments, the best run.
    table = section(out, "=== Runs of digits-sgd", "=== Experiments")
    listed = ULID.findall(table)
    assert sorted(listed) == sorted(val_acc)
    values = [val_acc[run_id] for run_id in listed]
    assert values == sorted(values, reverse=True)
    best = listed[0]
    assert "val_acc" in table
    experiments = section(out, "=== Experiments", "=== Best run")
    assert "digits-sgd" in experiments and f"{val_acc[best]:.4g}" in experiments
    shown = section(out, "=== Best run", "=== The best run's model")
    assert f"Run {best}" in shown and "confusion_matrix.csv" in shown and "Model model" in shown
    model_part = section(out, "=== The best run's model", "=== Predict with it")
    assert "python_function, sklearn" in model_part and "mlflow.sklearn" in model_part and "DVC" in model_part
    predicted = section(out, "=== Predict with it", "===")
    assert json.loads(predicted.split("\n", 2)[2].strip().splitlines()[0])["predictions"]
    served = section(out, "=== Serve it", "===")
    answer = next(line for line in served.splitlines() if line.startswith('{"predictions"'))
    assert json.loads(answer) == json.loads(predicted.split("\n", 2)[2].strip().splitlines()[0])
    assert "$ curl -s http://127.0.0.1:" in served and "exit code 0" in served
    assert str(store) in out and "gitrun runs list --experiment digits-sgd" in out
    registry = section(out, "=== Register the best model", "===")
    assert "Created tag 'digits@v0.0.1'" in registry and "Created tag 'digits#prod#1'" in registry
    assert run_git(target, "tag", "--points-at", "digits@v0.0.1^{commit}").stdout.split() == [
        "digits#prod#1",
        "digits@v0.0.1",
    ]
    message = run_git(target, "cat-file", "-p", "digits@v0.0.1").stdout
    assert f"best val_acc {val_acc[best]:.4f}" in message and f'"run_id":"{best}"' in message


def test_demo_refuses_to_wipe_a_directory_it_did_not_create(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.mkdir()
    (target / "thesis.tex").write_text("years of work\n")
    result = run_demo(target)
    assert result.returncode != 0
    assert "does not look like a demo repository" in result.stderr
    assert (target / "thesis.tex").read_text() == "years of work\n"
