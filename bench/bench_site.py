"""Benchmark of ``gitrun site build``: full build, rebuild after one new run, page weight, site size.

    python bench/bench_site.py                 # 1,000 runs x 5 metrics x 1,000 steps, then 10,000 runs
    python bench/bench_site.py --runs 200      # a quick look
    python bench/bench_site.py --dvc           # also `dvc plots diff` over 40 runs, as time per run

Stores are written file by file in gitrun's format (docs/format.md), with ``metrics.json``
summaries, in a temporary Git repository; the site is built through the library
(:func:`gitrun.site.build.build_site`) in this process, as ``gitrun site build`` does. Targets
(issue 6): full build <= 15 s and rebuild <= 2 s at 1,000 runs on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BASE_MS = 1_780_000_000_000
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(ms: int, rng: random.Random) -> str:
    value = (ms << 80) | rng.getrandbits(80)
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def dumps(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_run(runs_dir: Path, i: int, metrics: int, steps: int, rng: random.Random) -> str:
    start = BASE_MS + i * 60_000
    run_id = ulid(start, rng)
    run_dir = runs_dir / run_id
    (run_dir / "metrics").mkdir(parents=True)
    lr = 10 ** rng.uniform(-4, -1)
    params = {
        "lr": repr(lr),
        "batch": str(rng.choice([16, 32, 64, 128])),
        "opt": rng.choice(["sgd", "adam"]),
        "layers": str(rng.randint(1, 8)),
    }
    summary = {}
    for m in range(metrics):
        key = "val_acc" if m == 0 else f"metric_{m}"
        scale = rng.uniform(0.5, 1.0)
        lines = []
        values = []
        for s in range(steps):
            v = scale * (1 - math.exp(-s / (steps / 5))) + rng.gauss(0, 0.01)
            values.append(v)
            lines.append(f"{s}\t{start + s * 100}\t{v!r}\n")
        text = "".join(lines)
        (run_dir / "metrics" / f"{key}.tsv").write_text(text, encoding="utf-8")
        summary[key] = {
            "bytes": len(text.encode()),
            "count": steps,
            "latest": values[-1],
            "max": max(values),
            "min": min(values),
            "step": steps - 1,
            "timestamp": start + (steps - 1) * 100,
        }
    meta = {
        "end_time": start + steps * 100,
        "host": "bench",
        "lifecycle_stage": "active",
        "parent_run_id": None,
        "pid": 1,
        "run_id": run_id,
        "run_name": f"run-{i}",
        "source": "train.py",
        "start_time": start,
        "status": "FINISHED",
        "user": "bench",
    }
    tags = {
        "mlflow.runName": f"run-{i}",
        "mlflow.user": "bench",
        "mlflow.source.git.commit": "0123456789abcdef0123456789abcdef01234567",
    }
    (run_dir / "meta.json").write_text(dumps(meta), encoding="utf-8")
    (run_dir / "params.json").write_text(dumps(params), encoding="utf-8")
    (run_dir / "tags.json").write_text(dumps(tags), encoding="utf-8")
    (run_dir / "metrics.json").write_text(dumps(summary), encoding="utf-8")
    return run_id


def make_store(repo: Path, runs: int, metrics: int, steps: int, seed: int = 1) -> Path:
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    store = repo / ".gitrun"
    runs_dir = store / "experiments" / "bench" / "runs"
    runs_dir.mkdir(parents=True)
    (store / "store.yaml").write_text("format_version: '1.0'\n", encoding="utf-8")
    (store / ".gitignore").write_text(".cache/\n*.lock\n.heartbeat-*\n.*.tmp\n", encoding="utf-8")
    (store / "experiments" / "bench" / "experiment.yaml").write_text(
        "name: bench\nprimary_metric: val_acc\n", encoding="utf-8"
    )
    for i in range(runs):
        write_run(runs_dir, i, metrics, steps, rng)
    return store


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def bench_site(runs: int, metrics: int, steps: int, work: Path) -> dict[str, object]:
    from gitrun.site.build import BuildOptions, build_site
    from gitrun.store import Store

    repo = work / f"repo-{runs}"
    t0 = time.perf_counter()
    store_root = make_store(repo, runs, metrics, steps)
    made = time.perf_counter() - t0
    out = work / f"site-{runs}"
    options = BuildOptions(output=out, history=False)
    t0 = time.perf_counter()
    full = build_site(Store(store_root), options)
    full_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    noop = build_site(Store(store_root), options)
    noop_s = time.perf_counter() - t0
    write_run(store_root / "experiments" / "bench" / "runs", runs, metrics, steps, random.Random(99))
    t0 = time.perf_counter()
    again = build_site(Store(store_root), options)
    rebuild_s = time.perf_counter() - t0
    run_pages = sorted((out / "runs").glob("*.html"))
    sample = run_pages[0]
    run_id = sample.stem
    run_weight = sample.stat().st_size + (out / "data" / "runs" / f"{run_id}.js").stat().st_size
    csv_weight = size_of(out / "data" / "runs" / run_id)
    exp_weight = (out / "experiments" / "bench.html").stat().st_size + (
        out / "data" / "experiments" / "bench.js"
    ).stat().st_size
    result = {
        "runs": runs,
        "metrics": metrics,
        "steps": steps,
        "store_write_s": round(made, 1),
        "full_build_s": round(full_s, 2),
        "noop_rebuild_s": round(noop_s, 2),
        "rebuild_after_one_run_s": round(rebuild_s, 2),
        "rebuilt_runs": again.rebuilt_runs,
        "files_written_on_rebuild": len(again.written),
        "noop_files_written": len(noop.written),
        "run_page_bytes": run_weight,
        "run_csv_bytes": csv_weight,
        "experiment_page_bytes": exp_weight,
        "vega_bundle_bytes": (out / "assets" / "vendor" / "vega-bundle.js").stat().st_size,
        "site_bytes": size_of(out),
        "store_bytes": size_of(store_root),
        "full_files": len(full.written),
    }
    shutil.rmtree(repo, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    return result


def bench_dvc(runs: int, steps: int, work: Path) -> dict[str, object] | None:
    """``dvc plots diff`` over ``runs`` TSV series (one per run, as revisions' data), for time per run."""
    dvc = shutil.which("dvc") or str(Path(sys.executable).with_name("dvc"))
    if not Path(dvc).exists():
        return None
    repo = work / "dvc-repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    env = {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    subprocess.run([dvc, "init", "-q"], cwd=repo, check=True, env=env)
    rng = random.Random(3)
    revs = []
    for i in range(runs):
        lines = ["step\tval_acc"] + [f"{s}\t{(1 - math.exp(-s / 200)) * rng.uniform(0.5, 1):.6f}" for s in range(steps)]
        (repo / "acc.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
        subprocess.run(["git", "commit", "-q", "-m", f"run {i}"], cwd=repo, check=True, env=env)
        revs.append(
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
            ).stdout.strip()
        )
    t0 = time.perf_counter()
    subprocess.run(
        [dvc, "plots", "diff", *revs, "--targets", "acc.tsv", "-o", str(work / "dvc_plots")],
        cwd=repo,
        check=True,
        env=env,
        capture_output=True,
    )
    seconds = time.perf_counter() - t0
    html = work / "dvc_plots" / "index.html"
    return {
        "runs": runs,
        "steps": steps,
        "seconds": round(seconds, 2),
        "ms_per_run": round(1000 * seconds / runs, 1),
        "html_bytes": html.stat().st_size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--big", type=int, default=10000, help="runs of the scale check (0 skips it)")
    parser.add_argument("--big-steps", type=int, default=100)
    parser.add_argument("--dvc", action="store_true", help="also time `dvc plots diff` over 40 runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results: dict[str, object] = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="gitrun-bench-site-") as tmp:
        work = Path(tmp)
        results["main"] = bench_site(args.runs, args.metrics, args.steps, work)
        if not args.json:
            print(json.dumps(results["main"], indent=1), flush=True)
        if args.big:
            results["big"] = bench_site(args.big, args.metrics, args.big_steps, work)
            if not args.json:
                print(json.dumps(results["big"], indent=1), flush=True)
        if args.dvc:
            results["dvc"] = bench_dvc(40, 1000, work)
            if not args.json:
                print(json.dumps(results["dvc"], indent=1), flush=True)
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
