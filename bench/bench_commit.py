"""``gitrun commit`` of 1,000 new runs into a store of N committed runs (issue 16's commit target).

    python bench/bench_commit.py [--sizes 10000] [--reps 3] [--baseline REF] [--repo N=PATH ...]
                                 [--workdir DIR] [--out bench/RESULTS.md] [--json OUT]

Two variants, interleaved within each repetition, each commit in a fresh process: **baseline**,
``gitrun/`` of ``--baseline`` (default: the commit before the tree-graft commit) extracted with
``git archive``; **checkout**, this tree. For each size N, one repository of N committed runs
(bench/bench_diff.py's store: 5 params, 10 metrics of 100 steps; built here unless ``--repo
N=PATH`` names one already built, as ``bench_100k.py --workdir`` leaves them), and per
repetition and variant 1,000 new finished runs (bench/bench_site.py's, 9 files each) written and
committed in place: the store grows by 1,000 runs per commit (2% over 3 repetitions at 100,000).
Measured: wall and CPU seconds and peak RSS (``wait4``), and Git's own time per command
(``GIT_TRACE_PERFORMANCE``) of the checkout's commits.

Writes its own section of RESULTS.md, between its markers; prints JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bench_diff  # noqa: E402
import bench_site  # noqa: E402
import stores  # noqa: E402
from stores import extract_gitrun, write_section  # noqa: E402

BEGIN = "<!-- commit: begin (written by bench/bench_commit.py) -->"
END = "<!-- commit: end -->"
VARIANTS = ("baseline", "checkout")
NEW_RUNS = 1_000
DEFAULT_BASELINE = "fa89157^"  # before "gitrun commit without an index of the whole repository"
TRACE = re.compile(r"performance: ([0-9.]+) s: +git command: (?:'?[^ ]*git'? )?(\S+)")


def _commit(repo: Path, code: Path, env: dict[str, str], trace: Path | None) -> tuple[float, float, float]:
    """One ``gitrun commit`` in a fresh process: (wall s, CPU s, peak RSS MiB)."""
    run_env = {**env, "PYTHONPATH": str(code)}
    if trace is not None:
        run_env["GIT_TRACE_PERFORMANCE"] = str(trace)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitrun", "commit", "-m", f"{NEW_RUNS} new runs"],
        cwd=repo,
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    out, err = proc.communicate()
    if status != 0:
        raise RuntimeError(f"gitrun commit failed in {repo}: {err.decode(errors='replace')}")
    if b"1000 run(s)" not in out:
        raise RuntimeError(f"gitrun commit did not commit {NEW_RUNS} runs: {out.decode(errors='replace')}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _git_seconds(trace: Path) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for line in trace.read_text(encoding="utf-8", errors="replace").splitlines():
        match = TRACE.search(line)
        if match:
            totals[match.group(2)] += float(match.group(1))
    trace.unlink()
    return dict(totals)


def measure(n: int, repo: Path, trees: dict[str, Path], reps: int, work: Path) -> dict[str, Any]:
    env = {k: v for k, v in {**os.environ, **stores.ENV}.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    runs_dir = repo / ".gitrun" / "experiments" / stores.GITRUN_EXPERIMENT_ID / "runs"
    rng = random.Random(n)
    samples: dict[str, list[tuple[float, float, float]]] = {v: [] for v in VARIANTS}
    git_time: list[dict[str, float]] = []
    number = 50 * n
    for rep in range(reps):
        for variant in VARIANTS if rep % 2 == 0 else reversed(VARIANTS):
            for _ in range(NEW_RUNS):
                bench_site.write_run(runs_dir, number, 5, 100, rng)
                number += 1
            subprocess.run(["sync"], check=False)
            trace = work / "trace.log" if variant == "checkout" else None
            samples[variant].append(_commit(repo, trees[variant], env, trace))
            if trace is not None:
                git_time.append(_git_seconds(trace))
            print(f"[{n}] rep {rep} {variant}: {samples[variant][-1][0]:.2f} s", flush=True)
    commands = sorted({c for t in git_time for c in t}, key=lambda c: -statistics.median(t.get(c, 0) for t in git_time))
    return {
        "samples": samples,
        "git": {c: statistics.median(t.get(c, 0.0) for t in git_time) for c in commands},
    }


def _cell(samples: list[tuple[float, float, float]]) -> str:
    walls = [s[0] for s in samples]
    return (
        f"{statistics.median(walls):.2f} [{min(walls):.2f}–{max(walls):.2f}] "
        f"(CPU {statistics.median(s[1] for s in samples):.2f}; {max(s[2] for s in samples):.0f} MiB)"
    )


def section(results: dict[int, dict[str, Any]], command: str, baseline: str, load: tuple[str, str]) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        BEGIN,
        f"## `gitrun commit` of {NEW_RUNS:,} new runs (issue 16, bench/bench_commit.py)",
        "",
        f"Command: `{command}` ({now}, {os.uname().sysname} {os.uname().release}, Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} cores; load average {load[0]} before, {load[1]} after). "
        f"Baseline: `gitrun/` of `{baseline}` (a temporary index of HEAD's whole tree and `git commit`); checkout: "
        "the commit's paths staged in an index of their own and grafted into HEAD's tree (`git mktree`, "
        "`commit-tree`, `update-ref`). Interleaved, each commit a fresh process, in place (the store grows by "
        f"{NEW_RUNS:,} runs per commit): median wall seconds [min–max] (CPU seconds; peak RSS of the process tree).",
        "",
        "| store | baseline | checkout | checkout / baseline |",
        "|---|---|---|---|",
    ]
    for n, result in sorted(results.items()):
        base, new = result["samples"]["baseline"], result["samples"]["checkout"]
        ratio = statistics.median(s[0] for s in new) / statistics.median(s[0] for s in base)
        lines.append(f"| {n:,} runs | {_cell(base)} | {_cell(new)} | {ratio:.2f}x |")
    lines += ["", "Git's time per command in the checkout's commits (median seconds, `GIT_TRACE_PERFORMANCE`):", ""]
    for n, result in sorted(results.items()):
        top = list(result["git"].items())[:8]
        lines.append(f"- {n:,} runs: " + ", ".join(f"`{c}` {s:.2f}" for c, s in top))
    lines += ["", END]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE)
    parser.add_argument("--repo", action="append", default=[], help="N=PATH: a repository of N runs built already")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    built = {int(k): Path(v) for k, v in (item.split("=", 1) for item in args.repo)}
    load_before = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-commit-"))
    work.mkdir(parents=True, exist_ok=True)
    trees = {"checkout": ROOT, "baseline": extract_gitrun(args.baseline, work / "baseline")}
    results = {}
    for n in (int(s) for s in args.sizes.split(",")):
        repo = built.get(n)
        if repo is None:
            repo, _ = bench_diff.build_gitrun(work / f"n{n}", n, n // 100)
        results[n] = measure(n, repo, trees, args.reps, work)
    load_after = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    command = f"python bench/bench_commit.py --sizes {args.sizes} --reps {args.reps} --baseline {args.baseline}"
    command += "".join(f" --repo {n}=DIR" for n in sorted(built))
    write_section(args.out, BEGIN, END, section(results, command, args.baseline, (load_before, load_after)))
    payload = {str(n): r for n, r in results.items()}
    if args.json:
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    print(json.dumps(payload, indent=1))


if __name__ == "__main__":
    main()
