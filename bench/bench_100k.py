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
bench/RESULTS.md; ``--sizes 1000,10000`` for a quick look.
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
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


def measure(n: int, work: Path, python: str, reps: int) -> dict[str, list[tuple[float, float, float]]]:
    env = {k: v for k, v in {**os.environ, **stores.ENV}.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(HERE.parent)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    gitrun = [python, "-m", "gitrun"]
    cells: dict[str, list[tuple[float, float, float]]] = {k: [] for k in MEASURES}
    started = time.perf_counter()
    repo, _ = bench_diff.build_gitrun(work / f"n{n}", n, n // 100)
    print(f"[{n}] store and branches ready in {time.perf_counter() - started:.0f} s", flush=True)
    _run([*gitrun, "runs", "list", "-n", "1"], repo, env)  # compile every module once, unmeasured
    search = [*gitrun, "runs", "list", "--filter", "metrics.m1 > 0.5", "--json"]
    diff = [*gitrun, "diff", "main", "feature", "--json"]
    for _ in range(reps):
        shutil.rmtree(repo / ".gitrun" / ".cache", ignore_errors=True)
        cells["search_cold"].append(_run(search, repo, env)[:3])
        cells["search_warm"].append(_run(search, repo, env)[:3])
        shutil.rmtree(repo / ".gitrun" / ".cache", ignore_errors=True)
        wall, cpu, rss, out = _run(diff, repo, env)
        (experiment,) = json.loads(out)["experiments"]
        if len(experiment["changed"]) != n // 100:
            raise RuntimeError(f"the diff found {len(experiment['changed'])} changed runs, not {n // 100}")
        cells["diff_cold"].append((wall, cpu, rss))
        cells["diff_warm"].append(_run(diff, repo, env)[:3])
    print(f"[{n}] search and diff measured", flush=True)
    runs_dir = repo / ".gitrun" / "experiments" / stores.GITRUN_EXPERIMENT_ID / "runs"
    site = work / f"site-{n}"
    build = [*gitrun, "site", "build", "--no-history", "--output", str(site)]
    cells["site_full"].append(_run(build, repo, env)[:3])
    print(f"[{n}] site built", flush=True)
    rng = random.Random(n)
    for rep in range(reps):
        bench_site.write_run(runs_dir, 10 * n + rep, 5, 100, rng)
        time.sleep(2.1)  # settled, as a store is between two builds
        cells["site_rebuild"].append(_run(build, repo, env)[:3])
    for rep in range(reps):
        for i in range(1000):
            bench_site.write_run(runs_dir, 20 * n + 1000 * rep + i, 5, 100, rng)
        cells["commit"].append(_run([*gitrun, "commit", "-m", "1,000 new runs"], repo, env)[:3])
    print(f"[{n}] done in {time.perf_counter() - started:.0f} s", flush=True)
    return cells


def _cell(samples: list[tuple[float, float, float]]) -> str:
    walls = [s[0] for s in samples]
    text = f"{statistics.median(walls):.3g}"
    if len(walls) > 1:
        text += f" [{min(walls):.3g}–{max(walls):.3g}]"
    return f"{text} (CPU {statistics.median(s[1] for s in samples):.3g}; {max(s[2] for s in samples):.0f} MiB)"


def section(results: dict[int, dict[str, Any]], command: str, load: tuple[str, str]) -> str:
    sizes = sorted(results)
    small, big = sizes[0], sizes[-1]
    head = "| measurement | " + " | ".join(f"{n:,} runs" for n in sizes) + f" | {big:,} / {small:,} |"
    lines = [
        BEGIN,
        f"## {big:,} runs against {small:,} (issue 16, bench/bench_100k.py)",
        "",
        f"Command: `{command}` ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.platform()}, "
        f"Python {platform.python_version()}, {os.cpu_count()} cores; load average {load[0]} before, {load[1]} after). "
        "One repository per size: the runs committed on `main`, 1% of them changed on `feature` (checked out); "
        "every cell a fresh process: median wall seconds [min–max] (CPU seconds; peak RSS).",
        "",
        head,
        "|---|" + "---|" * (len(sizes) + 1),
    ]
    for key, title in MEASURES.items():
        row = [_cell(results[n][key]) for n in sizes]
        ratio = statistics.median(s[0] for s in results[big][key]) / statistics.median(
            s[0] for s in results[small][key]
        )
        lines.append(f"| {title} | " + " | ".join(row) + f" | {ratio:.1f}x |")
    lines += ["", END]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated run counts (default: %(default)s)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of the quick measures (default: 3)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the repositories go (default: a temp dir)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs gitrun")
    parser.add_argument("--write-results", action="store_true", help="write the section of bench/RESULTS.md")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gitrun-100k-"))
    work.mkdir(parents=True, exist_ok=True)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results = {}
    for n in (int(x) for x in args.sizes.split(",")):
        results[n] = measure(n, work / str(n), args.python, args.reps)
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    command = "python bench/bench_100k.py " + " ".join(a for a in sys.argv[1:] if not a.startswith("/"))
    text = section(results, command.strip(), (load_before, load_after))
    print(text)
    if args.json:
        args.json.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=1), encoding="utf-8")
    if args.write_results:
        stores.write_section(HERE / "RESULTS.md", BEGIN, END, text)


if __name__ == "__main__":
    main()
