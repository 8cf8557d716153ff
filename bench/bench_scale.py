"""The ``scale`` case of bench/run_all.py: this checkout against ``--baseline`` (issue 16).

What the record cache (gitrun/search/record_cache.py) and the revision reader that lists no tree
recursively (gitrun/vcs/revision.py) change, each figure in fresh processes, the two trees
interleaved within every repetition (the order flips from one repetition to the next), each
tree run with its own ``PYTHONPATH`` (the baseline's ``gitrun/`` extracted with ``git archive``):

- ``gitrun diff main feature --json``, N runs of which some changed: cold (``.gitrun/.cache``
  removed first) and warm (the same command again);
- ``gitrun runs list --rev main --filter ... --json`` (a filtered search at a revision), warm;
- ``gitrun site build --no-history`` of N committed runs x 5 metrics x 100 steps, then after one new
  (uncommitted) run (each tree has its own output folder and made its own full build first, timed
  once).

Each cell also has the command's peak RSS (``wait4``). ``python bench/run_all.py --only scale
--systems gitrun --python .venv/bin/python`` writes only this case's section of RESULTS.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import stores

if TYPE_CHECKING:
    from run_all import Harness

ROOT = Path(__file__).resolve().parent.parent
TREES = ("baseline", "checkout")
BEGIN = "<!-- scale: begin (written by bench/run_all.py, case scale) -->"
END = "<!-- scale: end -->"

# key -> (title, unit, target); the order of the table
MEASURES = {
    "diff_cold": ("`gitrun diff main feature --json`, cold (`.gitrun/.cache` removed)", "s", "<= 2.5 s"),
    "diff_warm": ("`gitrun diff main feature --json`, warm", "s", "<= 1 s"),
    "search_rev": ("`gitrun runs list --rev main --filter 'metrics.m1 > 0.5' --json`, warm", "s", ""),
    "site_full": ("`gitrun site build --no-history`, full build (once per tree)", "s", "<= 15 s"),
    "site_rebuild": ("`gitrun site build --no-history` after one new run", "s", "<= 1 s"),
}


def sizes(h: Harness) -> dict[str, int]:
    tiny, quick = h.args.tiny, h.args.quick
    return {
        "diff": 50 if tiny else 1_000 if quick else 10_000,
        "diff_changed": 5 if tiny else 20 if quick else 100,
        "site": 30 if tiny else 1_000 if quick else 10_000,
        "reps": h.sizes.reps,
    }


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float, str]:
    """Wall and CPU seconds, peak RSS (MiB) of one command (a fresh process, reaped with ``wait4``), its stdout."""
    import threading

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunks: dict[str, bytes] = {}

    def drain(name: str, stream: Any) -> None:
        chunks[name] = stream.read()

    readers = [threading.Thread(target=drain, args=(n, s)) for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for t in readers:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    for t in readers:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} exited {proc.returncode}: {chunks['err'].decode(errors='replace')[-1500:]}"
        )
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, chunks["out"].decode()


def bench_scale(h: Harness) -> None:
    """Every measurement of :data:`MEASURES` for both trees; results in ``h.extra["scale"]``."""
    assert h.python is not None
    baseline = h.baseline_tree()
    if isinstance(baseline, str):
        h.errors.append(f"scale: baseline unavailable: {baseline}")
        return
    trees = {"baseline": baseline[0], "checkout": ROOT}
    if not (baseline[0] / "templates").is_dir():  # the site needs the baseline's templates and theme too
        archive = subprocess.run(
            ["git", "archive", "--format=tar", baseline[1], "templates", "site"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(baseline[0])], input=archive.stdout, check=True)
    n = sizes(h)
    pycache = {"PYTHONPYCACHEPREFIX": str(h.fresh_store("scale-pycache"))}
    base_env = {k: v for k, v in {**h.env, **stores.ENV}.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env = {tree: {**base_env, **pycache, "PYTHONPATH": str(path)} for tree, path in trees.items()}
    gitrun_cmd = [str(h.python), "-m", "gitrun"]
    cells: dict[str, dict[str, list[tuple[float, float, float]]]] = {k: {t: [] for t in TREES} for k in MEASURES}

    def order(rep: int) -> tuple[str, ...]:
        return TREES if rep % 2 == 0 else TREES[::-1]

    # -- diff and search at a revision -----------------------------------------------------------
    import bench_diff

    diff_repo, _ = bench_diff.build_gitrun(h.fresh_store("scale-diff"), n["diff"], n["diff_changed"])
    diff = [*gitrun_cmd, "diff", "main", "feature", "--json"]
    search = [*gitrun_cmd, "runs", "list", "--rev", "main", "--filter", "metrics.m1 > 0.5", "--json"]
    for tree in TREES:  # compile every module once, unmeasured
        _run([*gitrun_cmd, "runs", "list", "-n", "1"], diff_repo, env[tree])
    for rep in range(n["reps"]):
        for tree in order(rep):
            shutil.rmtree(diff_repo / ".gitrun" / ".cache", ignore_errors=True)
            for key in ("diff_cold", "diff_warm"):
                wall, cpu, rss, out = _run(diff, diff_repo, env[tree])
                (experiment,) = json.loads(out)["experiments"]
                if len(experiment["changed"]) != n["diff_changed"]:
                    raise RuntimeError(f"scale: {tree}'s diff found {len(experiment['changed'])} changed runs")
                cells[key][tree].append((wall, cpu, rss))
            _run(search, diff_repo, env[tree])  # warm it (the revision view, the caches)
            wall, cpu, rss, out = _run(search, diff_repo, env[tree])
            cells["search_rev"][tree].append((wall, cpu, rss))

    # -- site: full build once per tree, then rebuilds after one new run -------------------------
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_site

    site_root = h.fresh_store("scale-site")
    store_root = bench_site.make_store(site_root / "repo", n["site"], 5, 100)
    repo = site_root / "repo"
    stores.git(repo, "add", "-A", ".gitrun")  # the runs came in through Git, as a team's do
    stores.git(repo, "commit", "-q", "-m", f"{n['site']} runs")
    time.sleep(2.1)  # settled folders, as a store's runs are between two builds
    for tree in TREES:
        build = [*gitrun_cmd, "site", "build", "--no-history", "--output", str(site_root / f"site-{tree}")]
        cells["site_full"][tree].append(_run(build, repo, env[tree])[:3])
    rng = random.Random(16)
    for rep in range(n["reps"]):
        bench_site.write_run(store_root / "experiments" / "bench" / "runs", n["site"] + rep, 5, 100, rng)
        for tree in order(rep):
            build = [*gitrun_cmd, "site", "build", "--no-history", "--output", str(site_root / f"site-{tree}")]
            cells["site_rebuild"][tree].append(_run(build, repo, env[tree])[:3])
    h.extra["scale"] = {"cells": cells, "sizes": n, "baseline": baseline[1], "file_us": h.file_costs.get("scale")}


def write_scale_section(
    h: Harness, info: dict[str, Any], command: str, out: Path, load: tuple[list[float], list[float]]
) -> None:
    """Replace (or add, below the keep marker) this case's section of RESULTS.md; nothing else changes."""
    from run_all import _fmt

    d = h.extra["scale"]
    n = d["sizes"]
    now = dt.datetime.now(dt.timezone.utc)

    def cell(key: str, tree: str) -> str:
        values = d["cells"][key][tree]
        if not values:
            return "n/a"
        walls = [v[0] for v in values]
        text = _fmt(statistics.median(walls))
        if len(walls) > 1:
            text += f" [{_fmt(min(walls))}–{_fmt(max(walls))}]"
        cpu = statistics.median(v[1] for v in values)
        rss = max(v[2] for v in values)
        return text + f" (CPU {_fmt(cpu)}; {rss:,.0f} MiB)"

    def ratio(key: str) -> str:
        a, b = d["cells"][key]["checkout"], d["cells"][key]["baseline"]
        if not a or not b:
            return "—"
        return f"{statistics.median(v[0] for v in a) / statistics.median(v[0] for v in b):.2f}x"

    count = {
        "diff_cold": f"{n['diff']:,} runs, {n['diff_changed']} changed",
        "diff_warm": f"{n['diff']:,} runs, {n['diff_changed']} changed",
        "search_rev": f"{n['diff']:,} runs",
        "site_full": f"{n['site']:,} runs x 5 x 100",
        "site_rebuild": f"{n['site']:,} runs x 5 x 100",
    }
    lines = [
        BEGIN,
        "## Scale: the record cache (issue 16)",
        "",
        f"Command: `{command}` ({now:%Y-%m-%d %H:%M} UTC). **Baseline**: `gitrun/` of commit {d['baseline']} "
        f"(`git archive`, its own `PYTHONPATH`). **Checkout**: this checkout ({info.get('gitrun_commit')}). Both "
        "trees run in fresh processes with the same interpreter, interleaved within each repetition (the order "
        f"flips every repetition). Load average {load[0][0]:.2f} before, {load[1][0]:.2f} after (other sessions' "
        f"jobs were running on this 2-core machine); a new small file cost "
        f"{_fmt(d['file_us']) if d['file_us'] else '?'} µs when the case started.",
        "",
        "| measurement | N | target | baseline | checkout | checkout / baseline |",
        "|---|---|---|---|---|---|",
    ]
    for key, (title, unit, target) in MEASURES.items():
        lines.append(
            f"| {title}, {unit} | {count[key]} | {target} | {cell(key, 'baseline')} | {cell(key, 'checkout')} | "
            f"{ratio(key)} |"
        )
    lines += [
        "",
        "Cells: median wall time [min–max] (median CPU time, user + system; peak RSS of the process). Commands "
        "are whole `python -m gitrun ...` processes, start-up included. The full site build is timed once per "
        "tree (each into its own output folder); each rebuild follows one new run written into the store.",
        END,
    ]
    section = "\n".join(lines) + "\n"
    stores.write_section(out, BEGIN, END, section)
