"""The ``gitlayer`` case of bench/run_all.py: this checkout against ``--baseline`` (issue 10).

The version path moved onto GitPython (gitrun/vcs/git.py). This case shows what that cost, each
figure in fresh processes, the two trees interleaved within every repetition (the order flips
from one repetition to the next), each tree run with its own ``PYTHONPATH`` (the baseline's
``gitrun/`` extracted with ``git archive``, as the durability case does):

- ``import gitrun`` (wall time of ``python -c 'import gitrun'`` above a bare interpreter);
- ``log_metric`` per call and ``start_run`` + ``end_run`` per run (workloads.py's own workloads);
- ``gitrun commit`` of N new runs (the CLI; a fresh copy of one repository per measurement);
- ``gitrun diff main feature --json`` over N runs of which some changed, cold (no cached revision);
- two version commands whose time is mostly start-up, in a small repository: ``gitrun commit``
  with nothing to commit, and ``gitrun log``;
- ``import git`` (GitPython) alone, in a process that has already imported what ``gitrun
  commit`` imports before it needs Git: what the import adds to one version command.

``python bench/run_all.py --only gitlayer --systems gitrun --python .venv/bin/python`` writes only
this case's section of RESULTS.md (between its markers, below the keep marker).
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import stores

if TYPE_CHECKING:
    from run_all import Harness

ROOT = Path(__file__).resolve().parent.parent
TREES = ("baseline", "checkout")
BEGIN = "<!-- gitlayer: begin (written by bench/run_all.py, case gitlayer) -->"
END = "<!-- gitlayer: end -->"

# key -> (title, unit); the order of the table
MEASURES = {
    "import": ("`import gitrun` (process wall time above a bare interpreter)", "ms"),
    "log_metric": ("`log_metric` per call", "µs/call"),
    "start_end": ("`start_run` + `end_run` of an empty run", "ms/run"),
    "commit": ("`gitrun commit` of new finished runs (no big artifacts)", "s"),
    "diff": ("`gitrun diff main feature --json`, cold (no revision cached)", "s"),
    "noop_commit": ("`gitrun commit` with nothing to commit (small repository)", "ms"),
    "log": ("`gitrun log` (small repository, 3 runs in one commit)", "ms"),
}
IMPORT_GIT = """
import time
import gitrun.cli, gitrun.cli.vcs, gitrun.vcs.commit, gitrun.vcs.revision  # what `gitrun commit` loads first
t = time.perf_counter()
import git
print(time.perf_counter() - t)
"""


def sizes(h: Harness) -> dict[str, int]:
    tiny, quick = h.args.tiny, h.args.quick
    return {
        "log_metric": h.sizes.log_metric,
        "start_end": h.sizes.start_end,
        "commit": 20 if tiny else 200 if quick else 1_000,
        "diff": 50 if tiny else 1_000 if quick else 10_000,
        "diff_changed": 5 if tiny else 20 if quick else 100,
        "reps": h.sizes.reps,
        "startup_reps": 2 if tiny else 3 * h.sizes.reps,
    }


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of one command (a fresh process), and its stdout; fails loudly."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def _git_processes(cmd: list[str], cwd: Path, env: dict[str, str], trace: Path) -> list[str]:
    """The ``git`` processes one run of ``cmd`` starts (Git's own trace2 events: GitPython's and direct calls)."""
    trace.unlink(missing_ok=True)
    _timed(cmd, cwd, {**env, "GIT_TRACE2_EVENT": str(trace)})
    events = [json.loads(line) for line in trace.read_text().splitlines()] if trace.exists() else []
    return [" ".join(e["argv"][:3]) for e in events if e.get("event") == "start"]


def bench_gitlayer(h: Harness) -> None:
    """Every measurement of :data:`MEASURES` for both trees; results in ``h.extra["gitlayer"]``."""
    assert h.python is not None
    baseline = h.baseline_tree()
    if isinstance(baseline, str):
        h.errors.append(f"gitlayer: baseline unavailable: {baseline}")
        return
    trees = {"baseline": baseline[0], "checkout": ROOT}
    n = sizes(h)
    # Both trees with cached bytecode (outside them): PYTHONDONTWRITEBYTECODE would make the
    # baseline, extracted fresh, compile every module in every process.
    pycache = {"PYTHONPYCACHEPREFIX": str(h.fresh_store("gitlayer-pycache"))}
    base_env = {k: v for k, v in {**h.env, **stores.ENV}.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env = {tree: {**base_env, **pycache, "PYTHONPATH": str(path)} for tree, path in trees.items()}
    for tree, path in trees.items():  # each tree runs its own code, not the venv's install
        where = subprocess.run(
            [str(h.python), "-c", "import gitrun; print(gitrun.__file__)"],
            cwd=h.workdir,  # not this checkout: `-c` puts the current directory first on sys.path
            env=env[tree],
            capture_output=True,
            text=True,
        ).stdout.strip()
        if Path(where).resolve() != (path / "gitrun" / "__init__.py").resolve():
            h.errors.append(f"gitlayer: the {tree} tree imports {where!r}")
            return
    gitrun_cmd = [str(h.python), "-m", "gitrun"]
    wall: dict[str, dict[str, list[float]]] = {key: {t: [] for t in TREES} for key in MEASURES}
    cpu: dict[str, dict[str, list[float]]] = {key: {t: [] for t in TREES} for key in MEASURES}

    def record(key: str, tree: str, seconds: float, cpu_seconds: float, scale: float) -> None:
        wall[key][tree].append(seconds * scale)
        cpu[key][tree].append(cpu_seconds * scale)

    def order(rep: int) -> tuple[str, ...]:
        return TREES if rep % 2 == 0 else TREES[::-1]

    # -- import, log_metric, start+end -----------------------------------------------------
    bare = [_timed([str(h.python), "-c", "pass"], h.workdir, env["checkout"])[:2] for _ in range(n["startup_reps"])]
    bare_wall = statistics.median(b[0] for b in bare)
    bare_cpu = statistics.median(b[1] for b in bare)
    small = stores.new_repo(h.fresh_store("gitlayer-small") / "repo")
    stores.build_gitrun_store(small / ".gitrun", 3)
    _timed([*gitrun_cmd, "commit", "-m", "three runs"], small, env["checkout"])
    for tree in TREES:  # every module each command loads, compiled and cached once, unmeasured
        for args in (["log"], ["commit"], ["diff", "HEAD", "--json"], ["runs", "list"]):
            _timed([*gitrun_cmd, *args], small, env[tree])
    for rep in range(n["startup_reps"]):
        for tree in order(rep):
            seconds, cpu_seconds, _ = _timed([str(h.python), "-c", "import gitrun"], h.workdir, env[tree])
            record("import", tree, seconds - bare_wall, cpu_seconds - bare_cpu, 1000)
    for rep in range(n["reps"]):
        for tree in order(rep):
            for key, unit_key, scale in (("log_metric", "us_per_call", 1e-6), ("start_end", "ms_per_run", 1e-3)):
                store = h.fresh_store(f"gitlayer-{key}-{tree}-{rep}")
                out = h.workload({"workload": key, "system": "gitrun", "store": str(store), "n": n[key]}, env=env[tree])
                record(key, tree, out[unit_key] * scale, out["cpu_" + unit_key] * scale, 1 / scale)

    # -- gitrun commit of N runs ---------------------------------------------------------------
    template = stores.new_repo(h.fresh_store("gitlayer-commit-template") / "repo")
    stores.build_gitrun_store(template / ".gitrun", n["commit"])
    for rep in range(n["reps"]):
        for tree in order(rep):
            repo = h.fresh_store(f"gitlayer-commit-{tree}-{rep}") / "repo"
            shutil.rmtree(repo.parent)
            shutil.copytree(template, repo, symlinks=True)
            seconds, cpu_seconds, out = _timed([*gitrun_cmd, "commit", "-m", "bench", "--json"], repo, env[tree])
            if len(json.loads(out)["runs"]) != n["commit"]:
                raise RuntimeError(f"gitlayer: {tree} committed {len(json.loads(out)['runs'])} runs")
            record("commit", tree, seconds, cpu_seconds, 1)

    # -- gitrun diff over N runs ---------------------------------------------------------------
    import bench_diff

    diff_repo, _ = bench_diff.build_gitrun(h.fresh_store("gitlayer-diff"), n["diff"], n["diff_changed"])
    for rep in range(n["reps"]):
        for tree in order(rep):
            shutil.rmtree(diff_repo / ".gitrun" / ".cache", ignore_errors=True)
            seconds, cpu_seconds, out = _timed([*gitrun_cmd, "diff", "main", "feature", "--json"], diff_repo, env[tree])
            (experiment,) = json.loads(out)["experiments"]
            if len(experiment["changed"]) != n["diff_changed"]:
                raise RuntimeError(f"gitlayer: {tree}'s diff found {len(experiment['changed'])} changed runs")
            record("diff", tree, seconds, cpu_seconds, 1)

    # -- version commands that are mostly start-up, and GitPython's import ----------------------
    for rep in range(n["startup_reps"]):
        for tree in order(rep):
            for key, args in (("noop_commit", ["commit"]), ("log", ["log"])):
                seconds, cpu_seconds, out = _timed([*gitrun_cmd, *args], small, env[tree])
                if key == "noop_commit" and "Nothing to commit" not in out:
                    raise RuntimeError(f"gitlayer: {tree}: `gitrun commit` found something to commit: {out}")
                record(key, tree, seconds, cpu_seconds, 1000)
    import_git = [
        float(_timed([str(h.python), "-c", IMPORT_GIT], h.workdir, env["checkout"])[2].strip())
        for _ in range(n["startup_reps"])
    ]
    trace = small.parent / "trace2.json"
    processes = {
        key: {tree: _git_processes([*gitrun_cmd, *args], small, env[tree], trace) for tree in TREES}
        for key, args in (("noop_commit", ["commit"]), ("log", ["log"]))
    }
    h.extra["gitlayer"] = {
        "wall": wall,
        "cpu": cpu,
        "sizes": n,
        "import_git_ms": [s * 1000 for s in import_git],
        "git_processes": processes,
        "bare_ms": bare_wall * 1000,
        "baseline": baseline[1],
        "file_us": h.file_costs.get("gitlayer"),
    }


def write_gitlayer_section(
    h: Harness, info: dict[str, Any], command: str, out: Path, load: tuple[list[float], list[float]]
) -> None:
    """Replace (or add, below the keep marker) this case's section of RESULTS.md; nothing else changes."""
    from run_all import _fmt

    d = h.extra["gitlayer"]
    n = d["sizes"]
    now = dt.datetime.now(dt.timezone.utc)

    def cell(key: str, tree: str) -> str:
        values = d["wall"][key][tree]
        if not values:
            return "n/a"
        text = _fmt(statistics.median(values))
        if len(values) > 1:
            text += f" [{_fmt(min(values))}–{_fmt(max(values))}]"
        return text + f" (CPU {_fmt(statistics.median(d['cpu'][key][tree]))})"

    def ratio(key: str) -> str:
        a, b = d["wall"][key]["checkout"], d["wall"][key]["baseline"]
        return f"{statistics.median(a) / statistics.median(b):.2f}x" if a and b else "—"

    def delta(key: str) -> str:
        a, b = d["wall"][key]["checkout"], d["wall"][key]["baseline"]
        return f"{statistics.median(a) - statistics.median(b):+.0f}" if a and b else "—"

    count = {
        "import": "—",
        "log_metric": f"{n['log_metric']:,}",
        "start_end": f"{n['start_end']:,}",
        "commit": f"{n['commit']:,} runs",
        "diff": f"{n['diff']:,} runs, {n['diff_changed']} changed",
        "noop_commit": "—",
        "log": "—",
    }
    reps = {
        "import": n["startup_reps"],
        "log_metric": n["reps"],
        "start_end": n["reps"],
        "commit": n["reps"],
        "diff": n["reps"],
    }
    import_git = statistics.median(d["import_git_ms"])
    lines = [
        BEGIN,
        "## The version path on GitPython against the previous layer (issue 10, items 3-4)",
        "",
        f"Command: `{command}` ({now:%Y-%m-%d %H:%M} UTC). **Baseline**: `gitrun/` of commit {d['baseline']} "
        f"(`git archive`, its own `PYTHONPATH`: Git through the `git` executable only). **Checkout**: this "
        f"checkout ({info.get('gitrun_commit')}): the version path on GitPython ({_gitpython_version(h)}). Both "
        "trees run in fresh processes with the same interpreter, interleaved within each repetition (the order "
        f"flips every repetition). Load average {load[0][0]:.2f} before, {load[1][0]:.2f} after; a new small file "
        f"cost {_fmt(d['file_us']) if d['file_us'] else '?'} µs when the case started.",
        "",
        "| measurement | N | repetitions | baseline | checkout | checkout / baseline |",
        "|---|---|---|---|---|---|",
    ]
    for key, (title, unit) in MEASURES.items():
        lines.append(
            f"| {title}, {unit} | {count[key]} | {reps.get(key, n['startup_reps'])} | {cell(key, 'baseline')} | "
            f"{cell(key, 'checkout')} | {ratio(key)} |"
        )
    lines += [
        "",
        "Cells: median wall time [min–max] (median CPU time, the process's user + system). Commands are whole "
        "`python -m gitrun ...` processes, start-up included; `log_metric` and start+end are timed inside the "
        "process (workloads.py), so they carry no import.",
        "",
        f"**What GitPython's import adds to one version command**: `import git` takes {_fmt(import_git)} ms "
        f"(median of {len(d['import_git_ms'])}, in a process that already imported `gitrun.cli`, "
        "`gitrun.vcs.commit` and `gitrun.vcs.revision`, so modules both use are not counted), two `git version` "
        "processes included (GitPython checks the executable on import). The whole-command difference is "
        f"{delta('noop_commit')} ms for `gitrun commit` with nothing to commit and {delta('log')} ms for "
        "`gitrun log`. What part of that the in-process reads win back (discovery, the Git directory, HEAD and "
        "the branch need no `git` process any more), Git's own trace (`GIT_TRACE2_EVENT`) of one run of each:",
        "",
        "| command | `git` processes, baseline | checkout |",
        "|---|---|---|",
        *[
            f"| `gitrun {'commit' if key == 'noop_commit' else 'log'}` | {_processes(d, key, 'baseline')} | "
            f"{_processes(d, key, 'checkout')} |"
            for key in ("noop_commit", "log")
        ],
        "",
        "`import gitrun` and the logging path do not load GitPython (tests/test_layers.py), so the first three "
        "rows measure the same code on both sides.",
        END,
    ]
    section = "\n".join(lines) + "\n"
    stores.write_section(out, BEGIN, END, section)


def _processes(d: dict[str, Any], key: str, tree: str) -> str:
    from collections import Counter

    counts = Counter(d["git_processes"][key][tree])
    return f"{sum(counts.values())}: " + ", ".join(
        f"`{cmd}`" + (f" x{k}" if k > 1 else "") for cmd, k in sorted(counts.items())
    )


def _gitpython_version(h: Harness) -> str:
    assert h.python is not None
    proc = subprocess.run(
        [str(h.python), "-c", "import git; print(git.__version__)"], capture_output=True, text=True, env=h.env
    )
    return f"GitPython {proc.stdout.strip()}" if proc.returncode == 0 else "GitPython not importable"
