"""Benchmarks of projects (issue 18): the cost of running a command as a run, and of sweeps.

    python bench/bench_projects.py [--quick] [--json OUT] [--mlflow PYTHON]

Measures, each command in a fresh process, interleaved repetitions, medians:
- ``true`` bare, ``gitrun run -- true``, ``gitrun run .`` of a one-entry MLproject whose command
  is ``true``, and ``mlflow run . --env-manager local`` of the same MLproject (MLflow's file
  store)                                                   target: gitrun run -- true <= 150 ms above true
- a sweep of 100 trivial trials (``-P x=1:100``, command ``true``): local ``--parallel 2`` and
  dask with 2 worker processes (a LocalCluster started here, ``--address``): wall time, and the
  cost per trial (wall time x 2 workers / trials)
Prints one JSON object; bench/RESULTS.md records the figures with the command.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {
    **os.environ,
    "PYTHONPATH": str(ROOT),
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "MLFLOW_ALLOW_FILE_STORE": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "GITRUN_NO_PROGRESS": "1",
}
ENV.pop("PYTHONDONTWRITEBYTECODE", None)  # cached bytecode, as an installed gitrun has
MLPROJECT = """name: trivial
entry_points:
  main:
    command: "true"
  trial:
    parameters:
      x: int
    command: "true"
"""


def _gitrun() -> list[str]:
    exe = Path(sys.executable).with_name("gitrun")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "gitrun"]


def _repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir(parents=True)
    (repo / "MLproject").write_text(MLPROJECT)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "trivial project"]):
        subprocess.run(["git", *args], cwd=repo, env=ENV, check=True, capture_output=True)
    return repo


def _time(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed


def run_overhead(reps: int, mlflow_python: str | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-projects-") as tmp:
        repo = _repo(Path(tmp))
        mlruns = (Path(tmp) / "mlruns").as_uri()
        cases = {
            "true": ["true"],
            # references measured alongside, so a loaded machine can be told from a slow gitrun
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import gitrun'": [sys.executable, "-c", "import gitrun"],
            "gitrun --version": [*_gitrun(), "--version"],
            "gitrun run -- true": [*_gitrun(), "run", "-q", "--", "true"],
            "gitrun run . (MLproject)": [*_gitrun(), "run", "-q", "."],
        }
        if mlflow_python:
            cases["mlflow run . --env-manager local"] = [
                mlflow_python,
                "-m",
                "mlflow",
                "run",
                ".",
                "--env-manager",
                "local",
            ]
        env = {**ENV, "MLFLOW_TRACKING_URI": mlruns}
        for cmd in cases.values():  # warm-up: bytecode caches, the page cache
            _time(cmd, repo, env)
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(reps):
            for name, cmd in cases.items():
                samples[name].append(_time(cmd, repo, env))
        medians = {name: statistics.median(v) for name, v in samples.items()}
        return {
            "reps": reps,
            "median_s": medians,
            "min_s": {name: min(v) for name, v in samples.items()},
            "above_true_ms": {name: round((m - medians["true"]) * 1000, 1) for name, m in medians.items()},
        }


def run_sweeps(trials: int) -> dict[str, object]:
    # The scheduler unpickles the tasks (gitrun.projects.worker.run_trial): it needs this gitrun too.
    os.environ["PYTHONPATH"] = str(ROOT)
    sys.path.insert(0, str(ROOT))
    from distributed import LocalCluster

    out: dict[str, object] = {"trials": trials}
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        repo = _repo(Path(tmp))
        sweep = [*_gitrun(), "sweep", "--json", "-e", "trial", "-P", f"x=1:{trials}"]
        wall = _time([*sweep, "--parallel", "2"], repo, ENV)
        out["local --parallel 2"] = {"wall_s": round(wall, 2), "per_trial_ms": round(wall * 2 / trials * 1000, 1)}
        shutil.rmtree(repo / ".gitrun")
        with LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            scheduler_port=0,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster:
            wall = _time([*sweep, "--backend", "dask", "--address", cluster.scheduler_address], repo, ENV)
        out["dask, 2 workers"] = {"wall_s": round(wall, 2), "per_trial_ms": round(wall * 2 / trials * 1000, 1)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 repetitions, 20 trials")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument(
        "--mlflow", help="Python with MLflow for `mlflow run` (default: .venv-bench's, else this one's)"
    )
    args = parser.parse_args()
    mlflow_python = args.mlflow
    if mlflow_python is None:
        bench_python = ROOT / ".venv-bench" / "bin" / "python"
        mlflow_python = str(bench_python) if bench_python.exists() else sys.executable
    if subprocess.run([mlflow_python, "-c", "import mlflow"], capture_output=True).returncode != 0:
        mlflow_python = None
    load_before = os.getloadavg()[0]
    result = {
        "run": run_overhead(5 if args.quick else 15, mlflow_python),
        "sweep": run_sweeps(20 if args.quick else 100),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "python": sys.version.split()[0],
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
