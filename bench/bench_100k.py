"""The next order of magnitude (issue 16): 100,000 runs against 10,000, the same shape and commands.

For each size N, one Git repository with N committed runs (bench/stores.py's runs: 5 params,
5 metrics logged once, 5 tags) on ``main`` and a ``feature`` branch where 1% of them changed
(bench/bench_diff.py's ``build_gitrun``), then, each a fresh ``python -m gitrun`` process with its
wall time, CPU time and peak RSS (``wait4``):

- ``gitrun runs list --filter 'metrics.m1 > 0.5' --json`` in the working tree, cold
  (``.gitrun/.cache`` removed: the search index and the record cache rebuilt) and warm;
- ``gitrun diff main feature --json`` (1% of the runs changed), cold and warm;
- ``gitrun site build --no-history``: the full build, then a rebuild after one new run;
- ``gitrun commit`` of 1,000 new finished runs.

The issue's target: each 100,000-run figure at most 10x its 10,000-run one, the commit <= 3 s,
no peak RSS above 2 GiB. ``python bench/bench_100k.py --write-results`` writes its section of
bench/RESULTS.md; ``--sizes 1000,10000`` for a quick look; ``--only diff,site`` for some of the
measures; ``--baseline REV`` measures ``gitrun/`` of REV too, interleaved with this tree;
``--repo 100000=DIR/100000/n100000/gitrun-repo`` reuses a repository built before (building
100,000 runs, packed, takes about six minutes here).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
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

import bench_diff  # noqa: E402
import bench_site  # noqa: E402
import stores  # noqa: E402
from bench_scale import _run  # noqa: E402

BEGIN = "<!-- 100k: begin (written by bench/bench_100k.py --write-results) -->"
END = "<!-- 100k: end -->"
MEASURES = {
    "search_cold": "`gitrun runs list --filter 'metrics.m1 > 0.5' --json`, cold",
    "search_warm": "... warm",
    "diff_cold": "`gitrun diff main feature --json` (1% changed), cold",
    "diff_warm": "... warm",
    "site_full": "`gitrun site build --no-history`, full build",
    "site_rebuild": "... after one new run",
    "commit": "`gitrun commit` of 1,000 new runs",
}


GROUPS = {
    "search": ("search_cold", "search_warm"),
    "diff": ("diff_cold", "diff_warm"),
    "site": ("site_full", "site_rebuild"),
    "commit": ("commit",),
}
Cells = dict[str, dict[str, list[tuple[float, float, float]]]]  # variant -> measure -> samples


def build(n: int, work: Path) -> Path:
    """The repository of ``n`` runs, 1% changed on ``feature``, packed: the runs committed by
    ``git fast-import`` (a ``git add`` of 1.4 million files leaves them loose, 4 KiB of disk each,
    and ``git gc`` took an hour to pack them), then ``git gc`` to delta them as a user's repository is."""
    started = time.perf_counter()
    repo, _ = bench_diff.build_gitrun(work / f"n{n}", n, n // 100, packed=True)
    subprocess.run(["git", "gc", "-q"], cwd=repo, check=True)
    print(f"[{n}] store and branches ready (packed) in {time.perf_counter() - started:.0f} s", flush=True)
    return repo


def measure(n: int, repo: Path, trees: dict[str, Path], python: str, reps: int, only: list[str]) -> Cells:
    """Every measure of ``only`` for each variant (``trees``: name -> the folder holding its
    ``gitrun/``), the variants interleaved within each repetition (their order flips each time)."""
    started = time.perf_counter()
    envs = {}
    for name, tree in trees.items():
        env = {k: v for k, v in {**os.environ, **stores.ENV}.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPATH"] = str(tree)
        env["PYTHONPYCACHEPREFIX"] = str(repo.parent / f"pycache-{name}")
        envs[name] = env
    gitrun = [python, "-m", "gitrun"]
    cells: Cells = {name: {k: [] for k in MEASURES} for name in trees}
    for env in envs.values():
        _run([*gitrun, "runs", "list", "-n", "1"], repo, env)  # compile every module once, unmeasured
    search = [*gitrun, "runs", "list", "--filter", "metrics.m1 > 0.5", "--json"]
    diff = [*gitrun, "diff", "main", "feature", "--json"]
    cache = repo / ".gitrun" / ".cache"

    def order(rep: int) -> list[str]:
        names = list(trees)
        return names if rep % 2 == 0 else names[::-1]

    for rep in range(reps):
        for name in order(rep):
            if "search" in only:
                shutil.rmtree(cache, ignore_errors=True)
                cells[name]["search_cold"].append(_run(search, repo, envs[name])[:3])
                cells[name]["search_warm"].append(_run(search, repo, envs[name])[:3])
            if "diff" in only:
                shutil.rmtree(cache, ignore_errors=True)
                wall, cpu, rss, out = _run(diff, repo, envs[name])
                (experiment,) = json.loads(out)["experiments"]
                if len(experiment["changed"]) != n // 100:
                    raise RuntimeError(f"the diff found {len(experiment['changed'])} changed runs, not {n // 100}")
                cells[name]["diff_cold"].append((wall, cpu, rss))
                cells[name]["diff_warm"].append(_run(diff, repo, envs[name])[:3])
    print(f"[{n}] search and diff measured", flush=True)
    runs_dir = repo / ".gitrun" / "experiments" / stores.GITRUN_EXPERIMENT_ID / "runs"
    rng = random.Random(n)
    if "site" in only:
        builds = {}
        for name in order(0):
            site = repo.parent / f"site-{name}"
            shutil.rmtree(site, ignore_errors=True)
            builds[name] = [*gitrun, "site", "build", "--no-history", "--output", str(site)]
            cells[name]["site_full"].append(_run(builds[name], repo, envs[name])[:3])
        print(f"[{n}] site built", flush=True)
        for rep in range(reps):
            bench_site.write_run(runs_dir, 10 * n + rep, 5, 100, rng)
            time.sleep(2.1)  # settled, as a store is between two builds
            for name in order(rep):
                cells[name]["site_rebuild"].append(_run(builds[name], repo, envs[name])[:3])
    if "commit" in only:
        for rep in range(reps):
            for k, name in enumerate(order(rep)):
                for i in range(1000):
                    bench_site.write_run(runs_dir, 20 * n + 1000 * (2 * rep + k) + i, 5, 100, rng)
                cells[name]["commit"].append(_run([*gitrun, "commit", "-m", "1,000 new runs"], repo, envs[name])[:3])
    print(f"[{n}] done in {time.perf_counter() - started:.0f} s", flush=True)
    return cells


def _cell(samples: list[tuple[float, float, float]]) -> str:
    walls = [s[0] for s in samples]
    text = f"{statistics.median(walls):.3g}"
    if len(walls) > 1:
        text += f" [{min(walls):.3g}–{max(walls):.3g}]"
    return f"{text} (CPU {statistics.median(s[1] for s in samples):.3g}; {max(s[2] for s in samples):.0f} MiB)"


def _median(samples: list[tuple[float, float, float]]) -> float:
    return statistics.median(s[0] for s in samples)


def section(results: dict[int, Cells], command: str, load: tuple[str, str], baseline: str | None) -> str:
    sizes = sorted(results)
    small, big = sizes[0], sizes[-1]
    variants = list(results[small])
    lines = [
        BEGIN,
        f"## {big:,} runs against {small:,} (issue 16, bench/bench_100k.py)",
        "",
        f"Command: `{command}` ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.platform()}, "
        f"Python {platform.python_version()}, {os.cpu_count()} cores; load average {load[0]} before, {load[1]} after). "
        "One repository per size: the runs committed on `main`, 1% of them changed on `feature` (checked out), "
        "packed by `git gc` once built, unless given with `--repo` (then as they were); Git's automatic gc is off; "
        "every cell a fresh process: median wall seconds [min–max] (CPU seconds; peak RSS)."
        + (
            f" **baseline**: `gitrun/` of `{baseline}` (`git archive`); **checkout**: this tree; interleaved, "
            "the order flipping every repetition."
            if baseline
            else ""
        ),
        "",
    ]
    head = "| measurement | " + " | ".join(f"{v}, {n:,} runs" for n in sizes for v in variants)
    head += " | " + " | ".join(f"{v}: {big:,} / {small:,}" for v in variants)
    if baseline:
        head += f" | checkout / baseline at {big:,} |"
    else:
        head += " |"
    cols = len(sizes) * len(variants) + len(variants) + (1 if baseline else 0)
    lines += [head, "|---|" + "---|" * cols]
    for key, title in MEASURES.items():
        if not all(results[n][v][key] for n in sizes for v in variants):
            continue
        row = [_cell(results[n][v][key]) for n in sizes for v in variants]
        row += [f"{_median(results[big][v][key]) / _median(results[small][v][key]):.1f}x" for v in variants]
        if baseline:
            row.append(f"{_median(results[big]['checkout'][key]) / _median(results[big]['baseline'][key]):.2f}x")
        lines.append(f"| {title} | " + " | ".join(row) + " |")
    lines += ["", END]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated run counts (default: %(default)s)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of the quick measures (default: 3)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the repositories go (default: a temp dir)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs gitrun")
    parser.add_argument("--only", default=",".join(GROUPS), help="measures to take (default: %(default)s)")
    parser.add_argument("--baseline", default=None, help="also measure gitrun/ of this revision, side by side")
    parser.add_argument(
        "--repo", action="append", default=[], metavar="N=PATH", help="a repository of N runs built before (reused)"
    )
    parser.add_argument("--write-results", action="store_true", help="write the section of bench/RESULTS.md")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gitrun-100k-"))
    work.mkdir(parents=True, exist_ok=True)
    only = [g for g in args.only.split(",") if g]
    unknown = set(only) - set(GROUPS)
    if unknown:
        parser.error(f"unknown measures {sorted(unknown)}; choose from {', '.join(GROUPS)}")
    trees = {"checkout": HERE.parent}
    if args.baseline:
        trees = {"baseline": stores.extract_gitrun(args.baseline, work / "baseline"), **trees}
    given = {int(n): Path(p) for n, p in (r.split("=", 1) for r in args.repo)}
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results = {}
    for n in (int(x) for x in args.sizes.split(",")):
        repo = given.get(n) or build(n, work / str(n))
        results[n] = measure(n, repo, trees, args.python, args.reps, only)
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    command = "python bench/bench_100k.py " + " ".join(
        a for a in sys.argv[1:] if not a.startswith("/") and "=/" not in a
    )
    text = section(results, command.strip(), (load_before, load_after), args.baseline)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=1), encoding="utf-8")
    if args.write_results:
        stores.write_section(HERE / "RESULTS.md", BEGIN, END, text)


if __name__ == "__main__":
    main()
