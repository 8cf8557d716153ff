"""What a run costs (issue 16, item 5): start and end of an empty run, and a new metric series.

    python bench/bench_runs.py [--quick] [--baseline main] [--out bench/RESULTS.md] [--json OUT]

Two variants, interleaved within each repetition, each measurement in a fresh interpreter (as in
bench/bench_hooks.py): **baseline**, ``gitrun/`` of ``--baseline`` (default ``main``) extracted with
``git archive``; **checkout**, this tree. Measured, in a Git repository with a clean work tree:

- ``start_run`` + ``end_run`` of an empty run, M times after a first run of the process (ms/run,
  wall and CPU), with the store on tmpfs (/dev/shm: the software's own cost) and on disk (the
  bench's temp folder);
- with ``strace`` (when installed): the files an empty run creates (paths of its folder opened with
  ``O_CREAT``: each temp file counts, renamed into place) and its ``flock`` calls, and the system calls of one ``log_metrics`` call with
  2,000 new keys, per new series.

Writes its own section of RESULTS.md, between its markers; prints JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from run_all import _clean_env, _fmt, _tmpfs_dir, filesystem_of  # noqa: E402
from stores import extract_gitrun, write_section  # noqa: E402

BEGIN = "<!-- runs: begin (written by bench/bench_runs.py) -->"
END = "<!-- runs: end -->"
VARIANTS = ("baseline", "checkout")
NEW_KEYS = 2_000

START_END = r"""
import json, sys, time
import gitrun
gitrun.set_tracking_uri(sys.argv[1])
gitrun.set_experiment("bench")
gitrun.start_run(run_name="first")
gitrun.end_run()
n = int(sys.argv[2])
t, c = time.perf_counter(), time.process_time()
for i in range(n):
    gitrun.start_run(run_name=f"r{i}")
    gitrun.end_run()
wall, cpu = time.perf_counter() - t, time.process_time() - c
print(json.dumps({"ms": wall / n * 1e3, "cpu_ms": cpu / n * 1e3, "gitrun_file": gitrun.__file__}))
"""

# Between the markers: the second empty run of the process, then one log_metrics with new keys.
TRACED = r"""
import os, sys
import gitrun
gitrun.set_tracking_uri(sys.argv[1])
gitrun.start_run(); gitrun.end_run()
os.write(2, b"MARK-RUN-BEGIN\n")
with gitrun.start_run() as run:
    pass
os.write(2, b"MARK-RUN-END\n")
n = int(sys.argv[2])
with gitrun.start_run():
    gitrun.log_metric("layer/first", 1.0)  # makes metrics/layer/: once per run, not per series
    metrics = {f"layer/m{i}": float(i) for i in range(n)}
    os.write(2, b"MARK-SERIES-BEGIN\n")
    gitrun.log_metrics(metrics, step=1)
    os.write(2, b"MARK-SERIES-END\n")
print(run.info.run_id)
"""


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path):
        self.args = args
        self.work = work
        self.tmpfs = _tmpfs_dir()
        self.disk = work / "stores"
        self.disk.mkdir()
        self.project = work / "project"
        self.env = _clean_env()
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled once in the warm-up, as for a user
        self.env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")  # never into the checkout
        self.trees: dict[str, Path] = {"checkout": ROOT}
        self.counter = 0

    def setup(self) -> None:
        self.project.mkdir()
        git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "commit.gpgsign=false"]
        (self.project / "README").write_text("bench\n")
        for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
            subprocess.run([*git, *cmd], cwd=self.project, env=self.env, check=True, capture_output=True)
        self.trees["baseline"] = extract_gitrun(self.args.baseline, self.work / "baseline")

    def store(self, parent: Path) -> Path:
        self.counter += 1
        return parent / f"store-{self.counter}"

    def python(self, variant: str, code: str, *args: str, prefix: tuple[str, ...] = ()) -> str:
        env = {**self.env, "PYTHONPATH": str(self.trees[variant])}
        proc = subprocess.run(
            [*prefix, sys.executable, "-c", code, *args], cwd=self.project, env=env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise SystemExit(f"{variant} failed:\n{proc.stderr}")
        return proc.stdout.strip().splitlines()[-1]

    def start_end(self, variant: str, parent: Path, n: int) -> dict[str, Any]:
        store = self.store(parent)
        out: dict[str, Any] = json.loads(self.python(variant, START_END, str(store), str(n)))
        expected = self.trees[variant] / "gitrun" / "__init__.py"
        if Path(out["gitrun_file"]).resolve() != expected.resolve():
            raise SystemExit(f"{variant} ran {out['gitrun_file']}, not {expected}")
        return out

    def traced(self, variant: str) -> dict[str, Any] | None:
        """Files created and locks taken by an empty run; system calls per new series."""
        if shutil.which("strace") is None:
            return None
        trace = self.work / f"strace-{variant}.txt"
        store = self.store(self.tmpfs or self.disk)
        cmd = ("strace", "-f", "-qq", "-e", "signal=none", "-o", str(trace))
        run_id = self.python(variant, TRACED, str(store), str(NEW_KEYS), prefix=cmd)
        lines = trace.read_text().splitlines()

        def between(name: str) -> list[str]:
            begin = next(i for i, line in enumerate(lines) if f"MARK-{name}-BEGIN" in line)
            end = next(i for i, line in enumerate(lines) if f"MARK-{name}-END" in line)
            return [line for line in lines[begin + 1 : end] if "resumed>" not in line]

        run = [line for line in between("RUN") if f"/{run_id}" in line or "flock(" in line]
        series = between("SERIES")
        return {
            # Every path opened with O_CREAT may be a new file (each temp file is one, renamed into place).
            "files_created": len({line.split('"')[1] for line in run if "O_CREAT" in line}),
            "flock": sum("flock(" in line for line in run),
            "run_syscalls": len(between("RUN")),
            "series_syscalls": len(series),
            "per_series": len(series) / NEW_KEYS,
        }

    def run(self) -> dict[str, Any]:
        reps, n = (2, 50) if self.args.quick else (7, 300)
        places = {"tmpfs": self.tmpfs, "disk": self.disk} if self.tmpfs else {"disk": self.disk}
        samples: dict[str, dict[str, list[float]]] = {p: {v: [] for v in VARIANTS} for p in places}
        cpu: dict[str, dict[str, list[float]]] = {p: {v: [] for v in VARIANTS} for p in places}
        for variant in VARIANTS:  # warm-up: compile every tree's .pyc files, fill the page cache
            self.start_end(variant, self.disk, 2)
        for rep in range(reps):
            for place, parent in places.items():
                for variant in VARIANTS:
                    assert parent is not None
                    out = self.start_end(variant, parent, n)
                    samples[place][variant].append(out["ms"])
                    cpu[place][variant].append(out["cpu_ms"])
            print(f"[bench_runs] repetition {rep + 1}/{reps} done", file=sys.stderr, flush=True)
        git_sha = ["git", "rev-parse", "--short"]
        return {
            "sizes": {"start_end": n, "reps": reps, "new_keys": NEW_KEYS},
            "samples": samples,
            "cpu": cpu,
            "traced": {v: self.traced(v) for v in VARIANTS},
            "filesystems": {p: filesystem_of(d) for p, d in places.items() if d is not None},
            "baseline": self.args.baseline,
            "baseline_sha": subprocess.run(
                [*git_sha, self.args.baseline], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip(),
            "checkout_sha": subprocess.run([*git_sha, "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip(),
        }


def _cell(values: list[float], cpu: list[float]) -> str:
    text = _fmt(statistics.median(values))
    if len(values) > 1:
        text += f" [{_fmt(min(values))}–{_fmt(max(values))}]"
    return text + f" (CPU {_fmt(statistics.median(cpu))})"


def section(results: dict[str, Any], command: str, load: tuple[float, float]) -> str:
    s, samples, cpu, traced = results["sizes"], results["samples"], results["cpu"], results["traced"]
    now = dt.datetime.now(dt.timezone.utc)
    lines = [
        BEGIN,
        "## What a run costs: an empty run, a new series (issue 16, item 5; bench/bench_runs.py)",
        "",
        f"Command: `{command}` ({now:%Y-%m-%d %H:%M} UTC, {s['reps']} repetitions, each measurement a fresh "
        f"process, the variants interleaved; load average {load[0]:.2f} before, {load[1]:.2f} after). "
        f"**baseline**: `gitrun/` of {results['baseline']} ({results['baseline_sha']}); **checkout**: this tree "
        f"({results['checkout_sha']}). Stores: "
        + ", ".join(f"{place} on {fs}" for place, fs in results["filesystems"].items())
        + ". Target: start + end of an empty run at most 0.3 ms on tmpfs, 0.5 ms on disk.",
        "",
        "| measurement | baseline | checkout | checkout / baseline (CPU) |",
        "|---|---|---|---|",
    ]
    for place in samples:
        used = cpu[place]
        ratio = statistics.median(used["checkout"]) / statistics.median(used["baseline"])
        lines.append(
            f"| `start_run` + `end_run` of an empty run, store on {place}, ms/run ({s['start_end']:,} runs) | "
            f"{_cell(samples[place]['baseline'], used['baseline'])} | "
            f"{_cell(samples[place]['checkout'], used['checkout'])} | {ratio:.2f}x |"
        )
    if all(traced.values()):
        b, c = traced["baseline"], traced["checkout"]
        lines += [
            f"| files an empty run creates (paths of its folder opened with `O_CREAT`, `strace`) | {b['files_created']} "
            f"| {c['files_created']} | |",
            f"| `flock` calls of an empty run | {b['flock']} | {c['flock']} | |",
            f"| system calls of an empty run (start + end, the second run of a process) | {b['run_syscalls']} | "
            f"{c['run_syscalls']} | |",
            f"| system calls per new series, one `log_metrics` of {s['new_keys']:,} new keys | "
            f"{b['per_series']:.2f} | {c['per_series']:.2f} | |",
        ]
    lines += [
        "",
        "Cells: median wall time [min–max over the repetitions] (median CPU time). An empty run used to create "
        "`meta.json`, `.lock`, `tags.json`, `.heartbeat-<host>-<pid>` and `metrics.json` (`{}`), take its lock "
        "twice and read `meta.json` and `tags.json` back; it now writes `meta.json`, `tags.json` and the `.lock` "
        "(which names the process that started the run: its heartbeat) at the start, takes the lock once at the "
        'end and writes `meta.json` again (docs/architecture.md, "An empty run: four files, one lock"). A new '
        "series is one `O_TMPFILE` open, one write of its header and points, one `linkat`, and a `close` once more "
        'than 128 series are open ("A new series: open, write, link"). The disk figures swing with what the '
        "VM's disk has been doing (see the start_end notes of the main table); the tmpfs row is the software's "
        "own cost.",
        END,
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, two repetitions (smoke check)")
    parser.add_argument("--baseline", default="main", help="revision whose gitrun/ is the baseline")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md", help="RESULTS.md to update")
    parser.add_argument("--no-write", action="store_true", help="print the results only")
    parser.add_argument("--json", type=Path, help="also write the raw samples here")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="gitrun-bench-runs-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            bench.setup()
            results = bench.run()
        finally:
            if bench.tmpfs is not None:
                shutil.rmtree(bench.tmpfs, ignore_errors=True)
    command = " ".join(["python bench/bench_runs.py", *(sys.argv[1:] if argv is None else argv)])
    text = json.dumps(results, indent=1, sort_keys=True)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if not args.no_write:
        write_section(args.out, BEGIN, END, section(results, command, (load_before, os.getloadavg()[0])))
        print(f"[bench_runs] wrote its section of {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
