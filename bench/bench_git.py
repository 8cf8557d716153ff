"""Benchmarks of the Git/DVC path (issue 4): commit, reading at a revision, big artifacts.

    python bench/bench_git.py [--quick] [--json OUT]

Measures, each in fresh processes where imports or caches would otherwise help:
- ``gitrun commit`` of 1,000 new finished runs (no big artifacts)          target <= 3 s
- listing 10,000 runs at a revision (``gitrun runs list --rev``-equivalent:
  ``store_at(store, "HEAD")`` + reading every run), cold (nothing
  materialised) and warm (materialised tree cached)                        target <= 2 s
- ``gitrun commit`` of 100 runs holding a 600 KB artifact each (one DVC operation) against
  100 separate ``dvc add`` commands on the same files.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from stores import ENV, build_gitrun_store, git, new_repo  # noqa: E402


def python(code: str, cwd: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=ENV, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


COMMIT_CODE = """
import json, time
from gitrun.vcs.commit import commit
from gitrun.store import Store
t = time.perf_counter()
result = commit(Store(), message="bench")
print(json.dumps({"seconds": time.perf_counter() - t, "runs": len(result.runs), "dvc": len(result.dvc_tracked)}))
"""

READ_AT_REV_CODE = """
import json, time
t = time.perf_counter()
from gitrun.vcs.revision import store_at
from gitrun.store import Store
view = store_at(Store(), "HEAD")
n = sum(1 for _ in view.iter_runs())
print(json.dumps({"seconds": time.perf_counter() - t, "runs": n}))
"""


def bench_commit(work: Path, n: int, reps: int) -> dict:
    times = []
    for rep in range(reps):
        repo = new_repo(work / f"commit-{rep}")
        build_gitrun_store(repo / ".gitrun", n, seed=rep + 1)
        result = python(COMMIT_CODE, repo)
        assert result["runs"] == n, result
        times.append(result["seconds"])
    return {"n_runs": n, "median_s": statistics.median(times), "all_s": times, "target_s": 3.0}


def bench_read_at_rev(work: Path, n: int, reps: int) -> dict:
    repo = new_repo(work / "rev")
    build_gitrun_store(repo / ".gitrun", n)
    git(repo, "add", ".gitrun")
    git(repo, "commit", "-q", "-m", "runs")
    shutil.rmtree(repo / ".gitrun" / "experiments")  # the working tree no longer has them
    cold, warm = [], []
    for _ in range(reps):
        shutil.rmtree(repo / ".gitrun" / ".cache", ignore_errors=True)
        first = python(READ_AT_REV_CODE, repo)
        second = python(READ_AT_REV_CODE, repo)
        assert first["runs"] == n and second["runs"] == n, (first, second)
        cold.append(first["seconds"])
        warm.append(second["seconds"])
    return {
        "n_runs": n,
        "cold_median_s": statistics.median(cold),
        "warm_median_s": statistics.median(warm),
        "target_s": 2.0,
    }


def bench_big_artifacts(work: Path, n: int) -> dict:
    repo = new_repo(work / "big")
    subprocess.run(
        [sys.executable, "-m", "gitrun", "init", "--dvc", "--remote", str(work / "remote")],
        cwd=repo,
        env=ENV,
        check=True,
        capture_output=True,
    )
    build_gitrun_store(repo / ".gitrun", n)
    runs = sorted((repo / ".gitrun" / "experiments").glob("*/runs/*"))
    for i, run_dir in enumerate(runs):
        (run_dir / "artifacts").mkdir()
        (run_dir / "artifacts" / "model.bin").write_bytes(os.urandom(600 * 1024) + bytes([i % 256]))
    copy = work / "big-dvc-add"
    shutil.copytree(repo, copy, symlinks=True)
    gitrun_result = python(COMMIT_CODE, repo)
    assert gitrun_result["dvc"] == n, gitrun_result
    files = sorted(str(p.relative_to(copy)) for p in copy.glob(".gitrun/experiments/*/runs/*/artifacts/model.bin"))
    started = time.perf_counter()
    for path in files:
        subprocess.run(
            [sys.executable, "-m", "dvc", "add", "-q", path], cwd=copy, env=ENV, check=True, capture_output=True
        )
    separate = time.perf_counter() - started
    return {
        "n_artifacts": n,
        "gitrun_commit_s": gitrun_result["seconds"],
        "separate_dvc_add_s": separate,
        "ratio": separate / gitrun_result["seconds"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition (smoke check)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    commit_n, rev_n, big_n, reps = (50, 200, 5, 1) if args.quick else (1000, 10_000, 100, 3)
    with tempfile.TemporaryDirectory(prefix="gitrun-bench-git-") as tmp:
        work = Path(tmp)
        results = {
            "commit": bench_commit(work, commit_n, reps),
            "read_at_revision": bench_read_at_rev(work, rev_n, reps),
            "big_artifacts": bench_big_artifacts(work, big_n),
        }
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
