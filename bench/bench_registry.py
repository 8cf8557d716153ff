"""The model registry (issue 14): gitrun and gto 1.10 on one repository with 1,000 registry tags.

    python bench/bench_registry.py [--reps N] [--json OUT]

The repository: 20 models x 25 versions, each version registered on a commit of its own and
assigned a stage (``m07@v0.0.12``, ``m07#prod#12``...): 500 registrations + 500 assignments,
all annotated tags. Measured, each in a fresh process, the median of ``--reps``:

- ``gitrun models list --json`` / ``gitrun models history --json`` against ``gto show --json`` /
  ``gto history --json`` (targets: <= 0.15 s, >= 20x faster than gto);
- the API calls in a process that already imported gitrun: ``get_latest_versions``,
  ``get_model_version``, ``search_model_versions`` (target: <= 0.05 s each);
- ``gitrun models register`` and ``promote`` as whole processes, the git commit and tag included
  (target: <= 0.3 s each).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from stores import ENV, git, new_repo  # noqa: E402

RUN_ENV = {k: v for k, v in ENV.items() if k != "PYTHONDONTWRITEBYTECODE"}
RUN_ENV.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(Path(tempfile.gettempdir()) / "gitrun-bench-pyc"))
BIN = Path(sys.executable).parent
MODELS, VERSIONS = 20, 25

TRAIN = """
import json, pathlib, tempfile, uuid, gitrun
ids = []
for i in range(2):
    with gitrun.start_run() as run:
        gitrun.log_metric("auc", 0.8 + i / 100)
        folder = pathlib.Path(tempfile.mkdtemp()) / "model"
        folder.mkdir()
        (folder / "MLmodel").write_text("flavors: {}\\nrun_id: " + run.info.run_id + "\\n")
        (folder / "model.pkl").write_bytes(b"weights")
        gitrun.log_artifacts(str(folder), "model")
    ids.append(run.info.run_id)
print(json.dumps(ids))
"""

API = """
import json, time
t0 = time.perf_counter()
import gitrun
client = gitrun.MlflowClient()
imported = time.perf_counter() - t0
out = {"import": imported}
for name, call in [
    ("get_latest_versions", lambda: client.get_latest_versions("m07")),
    ("get_model_version", lambda: client.get_model_version("m07", 12)),
    ("search_model_versions", lambda: client.search_model_versions("name = 'm07'")),
]:
    t = time.perf_counter()
    call()
    out[name] = time.perf_counter() - t
print(json.dumps(out))
"""


def build(repo: Path) -> None:
    """The 1,000 tags, one ``git tag -a`` each (a few seconds)."""
    commits = []
    for j in range(VERSIONS):
        git(repo, "commit", "-q", "--allow-empty", "-m", f"version {j + 1}")
        commits.append(git(repo, "rev-parse", "HEAD").strip())
    for i in range(MODELS):
        name = f"m{i:02d}"
        for j, commit in enumerate(commits, start=1):
            git(repo, "tag", "-a", "-m", f"Registering artifact {name} version v0.0.{j}", f"{name}@v0.0.{j}", commit)
        for j, commit in enumerate(commits, start=1):
            stage = ("dev", "staging", "prod")[j % 3]
            git(repo, "tag", "-a", "-m", f"Assigning stage {stage}", f"{name}#{stage}#{j}", commit)


def timed(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=RUN_ENV, capture_output=True, text=True)
    took = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return took


def median(cmd: list[str], cwd: Path, reps: int) -> float:
    timed(cmd, cwd)  # warm the page cache and the byte-code cache
    return statistics.median(timed(cmd, cwd) for _ in range(reps))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="gitrun-bench-registry-"))
    try:
        repo = new_repo(work / "repo")
        build(repo)
        assert len(git(repo, "tag").split()) == MODELS * VERSIONS * 2
        gitrun = [str(BIN / "gitrun")]
        gto = [str(BIN / "gto")]
        out: dict[str, float] = {}
        for state in ("loose", "packed"):  # tags made here are loose objects; fetched ones come packed
            if state == "packed":
                git(repo, "gc", "-q")
            out[f"gitrun models list --json ({state})"] = median([*gitrun, "models", "list", "--json"], repo, args.reps)
            out[f"gitrun models history --json ({state})"] = median(
                [*gitrun, "models", "history", "--json"], repo, args.reps
            )
            out[f"gto show --json ({state})"] = median([*gto, "show", "--json"], repo, max(1, args.reps // 2))
            out[f"gto history --json ({state})"] = median([*gto, "history", "--json"], repo, max(1, args.reps // 2))
            out[f"git for-each-ref (raw, {state})"] = median(["git", "for-each-ref", "refs/tags"], repo, args.reps)
        out["gitrun --version (process baseline)"] = median([*gitrun, "--version"], repo, args.reps)
        api = [
            json.loads(
                subprocess.run(
                    [sys.executable, "-c", API], cwd=repo, env=RUN_ENV, capture_output=True, text=True, check=True
                ).stdout
            )
            for _ in range(args.reps)
        ]
        for key in api[0]:
            out[f"api: {key}"] = statistics.median(a[key] for a in api)
        ids = json.loads(
            subprocess.run(
                [sys.executable, "-c", TRAIN], cwd=repo, env=RUN_ENV, capture_output=True, text=True, check=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        subprocess.run([*gitrun, "commit", "-m", "runs"], cwd=repo, env=RUN_ENV, check=True, capture_output=True)
        timed([*gitrun, "models", "register", "churn", "--run", ids[0]], repo)  # first: creates artifacts.yaml
        out["gitrun models register (process)"] = timed([*gitrun, "models", "register", "churn", "--run", ids[1]], repo)
        promotes = [timed([*gitrun, "models", "promote", "churn", "v0.0.2", f"s{i}"], repo) for i in range(args.reps)]
        out["gitrun models promote (process)"] = statistics.median(promotes)
        for key, value in out.items():
            print(f"{key:40s} {value * 1000:8.1f} ms")
        for state in ("loose", "packed"):
            for ours, theirs in (("list", "show"), ("history", "history")):
                ratio = out[f"gto {theirs} --json ({state})"] / out[f"gitrun models {ours} --json ({state})"]
                print(f"{f'{ours}: gto / gitrun ({state})':40s} {ratio:8.1f} x")
        if args.json:
            args.json.write_text(json.dumps(out, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
