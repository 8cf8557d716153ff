"""What the plugin hooks cost (issue 10, item 7): run events, CLI commands and site pages.

    python bench/bench_hooks.py [--quick] [--baseline main] [--out bench/RESULTS.md] [--json OUT]

Four variants, interleaved within each repetition, each measurement in a fresh interpreter:

- **baseline**: ``gitrun/`` of ``--baseline`` (default ``main``: before the hooks), extracted with
  ``git archive`` and run with its own ``PYTHONPATH``;
- **no plugin**: this checkout, nothing installed in the ``gitrun`` entry-point group;
- **plugin**: this checkout with ``examples/gitrun-status`` pip-installed (``--target``): it
  implements all three run events, but without ``GITRUN_STATUS_EVENTS`` its hooks return at once,
  so the figure is gitrun's own cost of reporting (batches of Metric points, hook calls);
- **plugin, events file**: the same, writing every event to a JSON-lines file.

Measured: ``log_metric`` N times in one run (µs/call), ``start_run`` + ``end_run`` of an empty run
M times (ms/run, after a first run), that first run of the process (ms: plugin manager, plugins'
imports, Git context), and ``gitrun --help`` (ms, the whole process, which now loads the plugin
manager to list plugins' commands). Stores are on tmpfs when the machine has one (the software's
cost, not the disk's). Writes its own section of RESULTS.md, between its markers; prints JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from run_all import _clean_env, _fmt, _tmpfs_dir, filesystem_of  # noqa: E402
from stores import write_section  # noqa: E402

BEGIN = "<!-- hooks: begin (written by bench/bench_hooks.py) -->"
END = "<!-- hooks: end -->"
VARIANTS = ("baseline", "no plugin", "plugin", "plugin, events file")

WORKLOAD = r"""
import json, sys, time
spec = json.loads(sys.argv[1])
import gitrun
gitrun.set_tracking_uri(spec["store"])
gitrun.set_experiment("bench")
t, c = time.perf_counter(), time.process_time()
gitrun.start_run(run_name="first")
gitrun.end_run()
first_ms, first_cpu = (time.perf_counter() - t) * 1e3, (time.process_time() - c) * 1e3
n = spec["n"]
if spec["op"] == "log_metric":
    with gitrun.start_run(run_name="metrics") as run:
        writer = type(run._writer).__name__  # RunWriter unless a plugin takes logged batches
        t, c = time.perf_counter(), time.process_time()
        for i in range(n):
            gitrun.log_metric("loss", 1.0 / (i + 1), step=i)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    assert len(gitrun.get_metric_history(run.info.run_id, "loss")) == n
    scale = 1e6  # µs per call
else:
    t, c = time.perf_counter(), time.process_time()
    for i in range(n):
        gitrun.start_run(run_name=f"r{i}")
        gitrun.end_run()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    scale = 1e3  # ms per run
    writer = None
print(json.dumps({"value": wall / n * scale, "cpu": cpu / n * scale, "first_ms": first_ms, "first_cpu": first_cpu,
                  "gitrun_file": gitrun.__file__, "writer": writer}))
"""


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path):
        self.args = args
        self.work = work
        self.stores = _tmpfs_dir() or work / "stores"
        self.stores.mkdir(parents=True, exist_ok=True)
        self.project = work / "project"
        self.env = _clean_env()
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled once in the warm-up, as for a user
        self.env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")  # never into the checkout
        self.trees: dict[str, Path] = {}
        self.plugin_dir = work / "plugin"
        self.counter = 0

    def setup(self) -> None:
        self.project.mkdir()
        git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "commit.gpgsign=false"]
        (self.project / "README").write_text("bench\n")
        for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
            subprocess.run([*git, *cmd], cwd=self.project, env=self.env, check=True, capture_output=True)
        self.trees["checkout"] = ROOT
        self.trees["baseline"] = self.baseline_tree()
        source = self.work / "plugin-src"
        shutil.copytree(ROOT / "examples" / "gitrun-status", source)
        pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet"]
        subprocess.run([*pip, "--target", str(self.plugin_dir), str(source)], check=True, capture_output=True)

    def baseline_tree(self) -> Path:
        rev = self.args.baseline
        archive = subprocess.run(["git", "archive", "--format=tar", rev, "gitrun"], cwd=ROOT, capture_output=True)
        if archive.returncode != 0:
            raise SystemExit(f"git archive {rev} failed: {archive.stderr.decode(errors='replace').strip()}")
        dest = self.work / "baseline"
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(dest, filter="data")
        return dest

    def variant_env(self, variant: str) -> dict[str, str]:
        tree = self.trees["baseline" if variant == "baseline" else "checkout"]
        paths = [str(tree)]
        extra: dict[str, str] = {}
        if variant.startswith("plugin"):
            paths.insert(0, str(self.plugin_dir))
        if variant == "plugin, events file":
            self.counter += 1
            extra["GITRUN_STATUS_EVENTS"] = str(self.stores / f"events-{self.counter}.jsonl")
        return {**self.env, "PYTHONPATH": os.pathsep.join(paths), **extra}

    def workload(self, variant: str, op: str, n: int) -> dict[str, Any]:
        self.counter += 1
        store = self.stores / f"store-{self.counter}"
        spec = json.dumps({"store": str(store), "op": op, "n": n})
        env = self.variant_env(variant)
        proc = subprocess.run(
            [sys.executable, "-c", WORKLOAD, spec], cwd=self.project, env=env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise SystemExit(f"{op} / {variant} failed:\n{proc.stderr}")
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        expected = self.trees["baseline" if variant == "baseline" else "checkout"] / "gitrun" / "__init__.py"
        if Path(result["gitrun_file"]).resolve() != expected.resolve():
            raise SystemExit(f"{variant} ran {result['gitrun_file']}, not {expected}")
        shutil.rmtree(store, ignore_errors=True)
        return result

    def help_ms(self, variant: str) -> tuple[float, float]:
        """Wall and CPU time (user + system, of the child) of one ``gitrun --help`` process, in ms."""
        env = self.variant_env(variant)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "gitrun", "--help"], cwd=self.project, env=env, check=True, capture_output=True
        )
        wall = (time.perf_counter() - started) * 1e3
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1e3
        return wall, cpu

    def run(self) -> dict[str, Any]:
        quick = self.args.quick
        reps, n_metric, n_runs = (2, 2_000, 50) if quick else (7, 10_000, 300)
        rows: dict[str, dict[str, list[float]]] = {
            k: {v: [] for v in VARIANTS} for k in ("log_metric", "start_end", "first_run", "help")
        }
        cpu: dict[str, dict[str, list[float]]] = {k: {v: [] for v in VARIANTS} for k in rows}
        writers: dict[str, str] = {}
        for variant in VARIANTS:  # warm-up: compile every tree's .pyc files, fill the page cache
            self.workload(variant, "start_end", 2)
            self.help_ms(variant)
        for rep in range(reps):
            for variant in VARIANTS:
                out = self.workload(variant, "log_metric", n_metric)
                writers[variant] = out["writer"]
                rows["log_metric"][variant].append(out["value"])
                cpu["log_metric"][variant].append(out["cpu"])
                out = self.workload(variant, "start_end", n_runs)
                rows["start_end"][variant].append(out["value"])
                cpu["start_end"][variant].append(out["cpu"])
                rows["first_run"][variant].append(out["first_ms"])
                cpu["first_run"][variant].append(out["first_cpu"])
            for variant in VARIANTS:
                for _ in range(2):
                    wall, used = self.help_ms(variant)
                    rows["help"][variant].append(wall)
                    cpu["help"][variant].append(used)
            print(f"[bench_hooks] repetition {rep + 1}/{reps} done", file=sys.stderr, flush=True)
        return {
            "sizes": {"log_metric": n_metric, "start_end": n_runs, "reps": reps},
            "samples": rows,
            "cpu": cpu,
            "writers": writers,
            "filesystem": filesystem_of(self.stores),
            "baseline": self.args.baseline,
            "baseline_sha": subprocess.run(
                ["git", "rev-parse", "--short", self.args.baseline], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip(),
            "checkout_sha": subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip(),
        }


def _cell(values: list[float], cpu: list[float] | None = None) -> str:
    if not values:
        return "n/a"
    text = _fmt(statistics.median(values))
    if len(values) > 1:
        text += f" [{_fmt(min(values))}–{_fmt(max(values))}]"
    return text + (f" (CPU {_fmt(statistics.median(cpu))})" if cpu else "")


def _ratio(over: list[float], under: list[float]) -> str:
    """Of the median CPU times: on a machine shared with other work, wall time swings far more."""
    return f"{statistics.median(over) / statistics.median(under):.2f}x" if over and under else "—"


def section(results: dict[str, Any], command: str, load: tuple[float, float]) -> str:
    s, samples, cpu = results["sizes"], results["samples"], results["cpu"]
    titles = {
        "log_metric": f"`log_metric`, µs/call (one run, {s['log_metric']:,} steps)",
        "start_end": f"`start_run` + `end_run` of an empty run, ms/run ({s['start_end']:,} runs)",
        "first_run": "the first `start_run` + `end_run` of a process, ms",
        "help": "`gitrun --help`, ms (the whole process)",
    }
    now = dt.datetime.now(dt.timezone.utc)
    lines = [
        BEGIN,
        "## Plugin hooks: run events, commands and pages (issue 10, item 7; bench/bench_hooks.py)",
        "",
        f"Command: `{command}` ({now:%Y-%m-%d %H:%M} UTC, {s['reps']} repetitions, each measurement a fresh "
        f"process, the variants interleaved; load average {load[0]:.2f} before, {load[1]:.2f} after). Stores on "
        f"{results['filesystem']}. **baseline**: `gitrun/` of {results['baseline']} ({results['baseline_sha']}), "
        f"before the hooks. **no plugin**: this checkout ({results['checkout_sha']}). **plugin**: the same with "
        "`examples/gitrun-status` installed (its run-event hooks return at once: gitrun's own cost of reporting). "
        "**events file**: the same plugin writing each event to a JSON-lines file.",
        "",
        "| measurement | baseline | no plugin | plugin | plugin, events file | no plugin / baseline | plugin / no plugin |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, title in titles.items():
        used = cpu[key]
        cells = [_cell(samples[key][v], used[v]) for v in VARIANTS]
        lines.append(
            f"| {title} | {' | '.join(cells)} | {_ratio(used['no plugin'], used['baseline'])} | "
            f"{_ratio(used['plugin'], used['no plugin'])} |"
        )
    lines += [
        "",
        "Cells: median wall time [min–max over the repetitions] (median CPU time); the ratios are of the median "
        "CPU times, which the other work on a shared machine disturbs far less than wall time. Without a plugin that "
        "implements `gitrun_run_logged`, a run keeps the store's plain `RunWriter` (decided once, in `start_run`), "
        "so `log_metric` runs the same code as the baseline; start+end adds three `get_hookimpls()` look-ups. With "
        "the plugin, each point is validated once more, becomes a `Metric` in the batch, and every 1,000 items (or "
        "5 s) the batch is handed to the plugin; start+end adds the started and ended calls. The first run of a "
        "process also imports the two new built-in plugin modules (the command table and the page declarations: "
        "about 1 ms, most of it creating the `SitePage` dataclass). `gitrun --help` now creates the plugin manager "
        "to list plugins' commands: the import of `importlib.metadata` and the entry-point scan over every installed "
        "distribution (this venv has over 200: MLflow, DVC, Playwright and their dependencies) make the difference; "
        "running a built-in command (`gitrun runs list`) skips both.",
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
    with tempfile.TemporaryDirectory(prefix="gitrun-bench-hooks-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            bench.setup()
            results = bench.run()
        finally:
            if bench.stores.parent == Path("/dev/shm"):
                shutil.rmtree(bench.stores, ignore_errors=True)
    command = " ".join(["python bench/bench_hooks.py", *(sys.argv[1:] if argv is None else argv)])
    text = json.dumps(results, indent=1, sort_keys=True)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if not args.no_write:
        write_section(args.out, BEGIN, END, section(results, command, (load_before, os.getloadavg()[0])))
        print(f"[bench_hooks] wrote its section of {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
