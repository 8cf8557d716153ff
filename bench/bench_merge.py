"""Many machines, one repository (issue 16, item 6): 8 clones x 1,000 runs merged into main.

    python bench/bench_merge.py [--clones 8] [--runs 1000] [--workdir DIR]

Each clone of one repository writes N finished runs (the files bench/stores.py writes for every
benchmark: 10 params, 10 metrics), commits them with ``gitrun commit`` on a branch of its own;
``main`` then fetches every branch and merges them in a shuffled order. Timed: the merges
(``git merge --no-edit``, each a fresh process) and the first search afterwards (``gitrun runs
list``: the index refresh over every new run). Checked: no merge conflicts, every run present
once. Target: 0 conflicts; merge + index refresh <= 10 s. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from stores import ENV, build_gitrun_store, git, new_repo  # noqa: E402

GITRUN = [sys.executable, "-m", "gitrun"]


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return time.perf_counter() - start, proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clones", type=int, default=8)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="gitrun-bench-merge-"))
    main_repo = new_repo(work / "main")
    commit_s = []
    for node in range(args.clones):
        clone = work / f"node-{node}"
        git(work, "clone", "-q", str(main_repo), str(clone))
        git(clone, "checkout", "-q", "-b", f"node-{node}")
        build_gitrun_store(clone / ".gitrun", args.runs, seed=100 + node)
        commit_s.append(timed([*GITRUN, "commit", "-m", f"runs of node {node}"], clone)[0])
        git(main_repo, "fetch", "-q", str(clone), f"node-{node}:node-{node}")
    order = [f"node-{n}" for n in range(args.clones)]
    random.Random(16).shuffle(order)
    merges = []
    for branch in order:
        merges.append(timed(["git", "merge", "--no-edit", "-q", branch], main_repo)[0])
    conflicts = git(main_repo, "diff", "--name-only", "--diff-filter=U").split()
    refresh_s, out = timed([*GITRUN, "runs", "list", "--json", "--max", str(args.clones * args.runs + 1)], main_repo)
    ids = [run["run_id"] for run in json.loads(out)]
    warm_s, _ = timed([*GITRUN, "runs", "list", "--json", "--max", "1"], main_repo)
    result = {
        "clones": args.clones,
        "runs_per_clone": args.runs,
        "commit_per_clone_s": [round(s, 2) for s in commit_s],
        "merge_s": [round(s, 2) for s in merges],
        "merges_total_s": round(sum(merges), 2),
        "conflicts": len(conflicts),
        "runs_found": len(ids),
        "runs_unique": len(set(ids)),
        "first_search_after_merge_s": round(refresh_s, 2),
        "merge_plus_refresh_s": round(sum(merges) + refresh_s, 2),
        "second_search_s": round(warm_s, 2),
    }
    print(json.dumps(result, indent=1))
    return 0 if not conflicts and len(set(ids)) == args.clones * args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
