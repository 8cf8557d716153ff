"""Benchmark of ``gitrun diff`` (issue 5) against ``dvc metrics diff`` / ``dvc exp diff``.

    python bench/bench_diff.py [--runs 10000] [--changed 100] [--reps 3] [--no-dvc] [--json OUT]

gitrun: a Git repository whose ``main`` holds N finished runs (10 params, 10 metrics each, the
files bench/stores.py writes for every benchmark), and a branch ``feature`` where 100 of them were
changed through gitrun's API (a tag and one more metric point) and committed with ``gitrun commit``.
Timed: the ``gitrun diff main feature --json`` command in a fresh process, cold (no revision
materialised under .gitrun/.cache) and warm (the second call), and ``--format md``. Target: <= 2 s.

DVC, on comparable data: the same N runs as dvclive-style directories (``runs/<id>/metrics.json``
and ``params.yaml``) declared in dvc.yaml's top-level ``metrics:`` / ``params:``, the same 100
changed on a branch; ``dvc metrics diff main feature --json`` and ``dvc exp diff main feature
--json``. Also the common DVC layout (one metrics.json for the whole project) for scale.
Prints one JSON object; bench/RESULTS.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from stores import ENV, GITRUN_EXPERIMENT_ID, build_gitrun_store, commit_packed, git, new_repo, run_spec  # noqa: E402

TARGET_S = 2.0
GITRUN = [str(Path(sys.executable).with_name("gitrun"))]
if not Path(GITRUN[0]).exists():
    GITRUN = [sys.executable, "-m", "gitrun"]


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def changed_sample(run_ids: list[str], k: int) -> list[str]:
    return sorted(random.Random(5).sample(run_ids, k))


# -- gitrun ----------------------------------------------------------------------------------
def build_gitrun(root: Path, n: int, k: int, packed: bool = False) -> tuple[Path, list[str]]:
    """A repository of ``n`` runs on ``main`` and a ``feature`` branch where ``k`` of them changed;
    ``packed``: the ``n`` runs committed as one pack (:func:`stores.commit_packed`), not loose."""
    repo = new_repo(root / "gitrun-repo")
    ids = list(build_gitrun_store(repo / ".gitrun", n).values())
    sys.path.insert(0, str(HERE.parent))
    from gitrun.store import Store

    Store(repo / ".gitrun").update_experiment(GITRUN_EXPERIMENT_ID, primary_metric="m1")
    if packed:
        commit_packed(repo, ".gitrun", f"{n} runs")
    else:
        git(repo, "add", "-A", ".gitrun")
        git(repo, "commit", "-q", "-m", f"{n} runs")
    git(repo, "checkout", "-q", "-b", "feature")
    changed = changed_sample(ids, k)
    code = (
        "import sys, gitrun\n"
        "c = gitrun.Client(sys.argv[1])\n"
        "for i, run_id in enumerate(sys.argv[2:]):\n"
        "    c.set_tag(run_id, 'reviewed', 'yes')\n"
        "    c.log_metric(run_id, 'm1', 0.5 + i / 1000, step=1)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(repo / ".gitrun"), *changed], env=ENV, check=True)
    subprocess.run([*GITRUN, "commit", "-m", f"{k} changed runs"], cwd=repo, env=ENV, check=True, capture_output=True)
    return repo, changed


def bench_gitrun(repo: Path, n: int, k: int, reps: int) -> dict[str, object]:
    cold, warm, md = [], [], []
    for _ in range(reps):
        shutil.rmtree(repo / ".gitrun" / ".cache", ignore_errors=True)
        seconds, out = timed([*GITRUN, "diff", "main", "feature", "--json"], repo)
        cold.append(seconds)
        seconds, out = timed([*GITRUN, "diff", "main", "feature", "--json"], repo)
        warm.append(seconds)
        seconds, _ = timed([*GITRUN, "diff", "main", "feature", "--format", "md"], repo)
        md.append(seconds)
    doc = json.loads(out)
    (exp,) = doc["experiments"]
    assert len(exp["changed"]) == k and exp["unchanged"] == n - k and not exp["added"], "wrong diff"
    return {
        "cold_s": statistics.median(cold),
        "warm_s": statistics.median(warm),
        "md_warm_s": statistics.median(md),
        "samples": {"cold": cold, "warm": warm, "md": md},
        "changed_found": len(exp["changed"]),
    }


# -- DVC -------------------------------------------------------------------------------------
def build_dvc(root: Path, n: int, k: int, per_run: bool) -> Path:
    name = "dvc-runs-repo" if per_run else "dvc-single-repo"
    repo = new_repo(root / name)
    subprocess.run(["dvc", "init", "-q"], cwd=repo, env=ENV, check=True)
    specs = [run_spec(i) for i in range(n)]
    if per_run:
        for spec in specs:
            d = repo / "runs" / spec.name
            d.mkdir(parents=True)
            (d / "metrics.json").write_text(json.dumps(spec.metrics, sort_keys=True))
            (d / "params.yaml").write_text("".join(f"{key}: {value}\n" for key, value in sorted(spec.params.items())))
        (repo / "dvc.yaml").write_text(
            "metrics:\n" + "".join(f"- runs/{s.name}/metrics.json\n" for s in specs)
            + "params:\n" + "".join(f"- runs/{s.name}/params.yaml\n" for s in specs)
        )  # fmt: skip
    else:
        metrics = {s.name: s.metrics for s in specs}
        (repo / "metrics.json").write_text(json.dumps(metrics, sort_keys=True))
        (repo / "dvc.yaml").write_text("metrics:\n- metrics.json\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"{n} runs")
    git(repo, "checkout", "-q", "-b", "feature")
    changed = changed_sample([s.name for s in specs], k)
    if per_run:
        for i, name in enumerate(changed):
            path = repo / "runs" / name / "metrics.json"
            data = json.loads(path.read_text())
            data["m1"] = 0.5 + i / 1000
            path.write_text(json.dumps(data, sort_keys=True))
    else:
        data = json.loads((repo / "metrics.json").read_text())
        for i, name in enumerate(changed):
            data[name]["m1"] = 0.5 + i / 1000
        (repo / "metrics.json").write_text(json.dumps(data, sort_keys=True))
    git(repo, "commit", "-q", "-am", f"{k} changed")
    return repo


def bench_dvc(repo: Path, reps: int, commands: dict[str, list[str]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for label, cmd in commands.items():
        samples = []
        for _ in range(reps):
            seconds, stdout = timed(cmd, repo)
            samples.append(seconds)
        out[label] = {"median_s": statistics.median(samples), "samples": samples, "output_bytes": len(stdout)}
    return out


def dvc_version() -> str | None:
    try:
        return subprocess.run(["dvc", "--version"], env=ENV, capture_output=True, text=True).stdout.strip() or None
    except FileNotFoundError:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-dvc", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    result: dict[str, object] = {"runs": args.runs, "changed": args.changed, "reps": args.reps, "target_s": TARGET_S}
    with tempfile.TemporaryDirectory(prefix="gitrun-bench-diff-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        repo, _ = build_gitrun(root, args.runs, args.changed)
        result["gitrun_build_s"] = time.perf_counter() - started
        result["gitrun"] = bench_gitrun(repo, args.runs, args.changed, args.reps)
        version = None if args.no_dvc else dvc_version()
        result["dvc_version"] = version
        if version:
            per_run = build_dvc(root, args.runs, args.changed, per_run=True)
            result["dvc_per_run_files"] = bench_dvc(
                per_run,
                args.reps,
                {
                    "dvc metrics diff": ["dvc", "metrics", "diff", "main", "feature", "--json"],
                    "dvc exp diff": ["dvc", "exp", "diff", "main", "feature", "--json"],
                },
            )
            single = build_dvc(root, args.runs, args.changed, per_run=False)
            result["dvc_single_file"] = bench_dvc(
                single, args.reps, {"dvc metrics diff": ["dvc", "metrics", "diff", "main", "feature", "--json"]}
            )
    gitrun_result = result["gitrun"]
    assert isinstance(gitrun_result, dict)
    result["meets_target"] = gitrun_result["cold_s"] <= TARGET_S
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
