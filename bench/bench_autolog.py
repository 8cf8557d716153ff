"""Autolog and system metrics (issue 13), gitrun and MLflow side by side in one run.

    python bench/bench_autolog.py [--quick] [--reps N] [--json OUT] [--write-results]

- ``fit`` of a small estimator (an iris ``LogisticRegression``) with ``sklearn.autolog()`` and no
  active run (each fit a run of its own), with ``log_models=True`` and ``False``, against the same
  fit without autolog, in fresh interpreters (the tool and scikit-learn imported before the timed
  part). Reported: the first fit of the process (what enabling costs: patching, the flavor's
  imports) and the median of the fits after it, and autolog's overhead (that median less the
  plain fit's).
- The system metrics sampler at the default interval (10 s, 1 sample per point): the CPU time of
  the sampler thread over a 60 s run (``time.pthread_getcpuclockid`` of the thread), as a
  percentage of one core; MLflow's ``SystemMetricsMonitor`` thread beside it. Target: < 1%.

``--write-results`` replaces this benchmark's section of bench/RESULTS.md (below the keep marker).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from stores import RUN_ENV, write_section  # noqa: E402

BEGIN = "<!-- autolog: begin (written by bench/bench_autolog.py --write-results) -->"
END = "<!-- autolog: end -->"


FIT = """
import json, time, warnings
warnings.filterwarnings("ignore")
SYSTEM, MODE, N = {system!r}, {mode!r}, {n}
if SYSTEM == "mlflow":
    import mlflow, mlflow.sklearn
    mlflow.set_tracking_uri("file://" + {store!r})
else:
    import gitrun as mlflow, gitrun.sklearn
    mlflow.set_tracking_uri({store!r})
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True)
LogisticRegression(max_iter=300).fit(X, y)  # scikit-learn's own first-fit costs, before timing
if MODE != "plain":
    mlflow.sklearn.autolog(log_models=MODE == "models", silent=True)
times = []
for i in range(N):
    t = time.perf_counter()
    LogisticRegression(max_iter=300).fit(X, y)
    times.append(time.perf_counter() - t)
print("RESULT " + json.dumps(times))
"""

SAMPLER = """
import json, threading, time
SYSTEM, SECONDS = {system!r}, {seconds}
if SYSTEM == "mlflow":
    import mlflow
    mlflow.set_tracking_uri("file://" + {store!r})
    name = "SystemMetricsMonitor"
else:
    import gitrun as mlflow
    mlflow.set_tracking_uri({store!r})
    name = "gitrun-system-metrics-"
run = mlflow.start_run(log_system_metrics=True)
started = time.monotonic()
thread = next(t for t in threading.enumerate() if t.name.startswith(name))
clock = time.pthread_getcpuclockid(thread.ident)
time.sleep(SECONDS - (time.monotonic() - started))
cpu = time.clock_gettime(clock)
wall = time.monotonic() - started
mlflow.end_run()
points = len(mlflow.MlflowClient().get_metric_history(run.info.run_id, "system/cpu_utilization_percentage"))
print("RESULT " + json.dumps({{"cpu": cpu, "wall": wall, "points": points}}))
"""


def run(code: str, cwd: Path) -> Any:
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=RUN_ENV, capture_output=True, text=True, timeout=900
    )
    if proc.returncode != 0:
        raise SystemExit(f"workload failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    line = next(x for x in reversed(proc.stdout.splitlines()) if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def median(values: list[float]) -> float:
    return statistics.median(values)


def measure(reps: int, fits: int, seconds: float, work: Path) -> dict[str, Any]:
    fit: dict[str, dict[str, dict[str, list[float]]]] = {}
    for system in ("gitrun", "mlflow"):  # untimed: fills the byte-code cache, so no tool pays compiling for both
        run(FIT.format(system=system, mode="models", n=1, store=str(work / f"{system}-warm")), work)
    for rep in range(reps):
        for mode in ("plain", "nomodels", "models"):
            for system in ("gitrun", "mlflow"):  # alternating within a repetition
                n = fits if not (system == "mlflow" and mode == "models") else max(3, fits // 4)
                store = work / f"{system}-{mode}-{rep}"
                times = run(FIT.format(system=system, mode=mode, n=n, store=str(store)), work)
                cell = fit.setdefault(system, {}).setdefault(mode, {"first": [], "rest": []})
                cell["first"].append(times[0])
                cell["rest"].extend(times[1:])
                print(f"[bench] fit {system} {mode} rep {rep}: first {times[0] * 1000:.1f} ms", flush=True)
    sampler = {}
    for system in ("gitrun", "mlflow"):
        store = work / f"{system}-sampler"
        sampler[system] = run(SAMPLER.format(system=system, seconds=seconds, store=str(store)), work)
        print(f"[bench] sampler {system}: {sampler[system]}", flush=True)
    import mlflow
    import sklearn

    load = os.getloadavg()
    return {
        "when": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {platform.platform()}",
        "python": platform.python_version(),
        "mlflow": mlflow.__version__,
        "sklearn": sklearn.__version__,
        "reps": reps,
        "fits": fits,
        "seconds": seconds,
        "load": load,
        "fit": fit,
        "sampler": sampler,
    }


def section(results: dict[str, Any], command: str) -> str:
    fit, sampler = results["fit"], results["sampler"]

    def ms(values: list[float]) -> str:
        return f"{median(values) * 1000:,.1f} ms [{min(values) * 1000:,.1f}–{max(values) * 1000:,.1f}]"

    def overhead(system: str, mode: str) -> str:
        return f"+{(median(fit[system][mode]['rest']) - median(fit[system]['plain']['rest'])) * 1000:,.1f} ms"

    def share(system: str) -> float:
        s = sampler[system]
        return float(s["cpu"]) / float(s["wall"]) * 100

    rows = []
    for mode, label in (("plain", "no autolog"), ("nomodels", "autolog, `log_models=False`"), ("models", "autolog")):
        g, m = fit["gitrun"][mode], fit["mlflow"][mode]
        extra = f" (overhead {overhead('gitrun', mode)} / {overhead('mlflow', mode)})" if mode != "plain" else ""
        rows.append(
            f"| `fit`, {label}: fits after the first{extra} | {ms(g['rest'])} | {ms(m['rest'])} | "
            f"{median(m['rest']) / median(g['rest']):,.1f}x |"
        )
        rows.append(
            f"| ... the first fit of the process | {ms(g['first'])} | {ms(m['first'])} | "
            f"{median(m['first']) / median(g['first']):,.1f}x |"
        )
    gs, msamp = sampler["gitrun"], sampler["mlflow"]
    load = ", ".join(f"{x:.1f}" for x in results["load"])
    lines = [
        BEGIN,
        "## Autolog and system metrics (issue 13, bench/bench_autolog.py)",
        "",
        f"Measured {results['when']} on {results['machine']}, Python {results['python']}, MLflow {results['mlflow']} "
        f"(file store), scikit-learn {results['sklearn']}; {results['reps']} repetitions of each configuration in fresh "
        f"interpreters, the two tools alternating, {results['fits']} fits per process (MLflow with models: fewer). "
        f"Medians [min–max]. **The machine is shared**: other engineers' jobs ran before and between the "
        f"workloads (load average {load} at the end, 2 cores), so single figures can be high; the ratios are the point.",
        "",
        f"**Command:** `{command}`",
        "",
        "An iris `LogisticRegression(max_iter=300).fit(X, y)` with `sklearn.autolog()` and no active run: each fit "
        "is a run of its own with params, 7 training metrics, 2 tags, `estimator.html`, the confusion matrix plot and "
        "(with models) the model.",
        "",
        "| measurement | gitrun | MLflow 3 | MLflow / gitrun |",
        "|---|---|---|---|",
        *rows,
        "",
        f"System metrics sampler at the default interval (10 s), CPU time of the sampler thread over a "
        f"{results['seconds']:.0f} s run:",
        "",
        "| | gitrun | MLflow 3 | target | met? |",
        "|---|---|---|---|---|",
        f"| CPU time of the thread | {gs['cpu'] * 1000:,.1f} ms ({gs['points']} points) | "
        f"{msamp['cpu'] * 1000:,.1f} ms ({msamp['points']} points) | | |",
        f"| share of one core | {share('gitrun'):.3f}% | {share('mlflow'):.3f}% | < 1% | "
        f"**{'yes' if share('gitrun') < 1 else 'NO'}** |",
        "",
        "Why: MLflow's autolog model logging infers requirements by loading the saved model in a subprocess, and "
        "its autologging client queues writes to a thread; gitrun logs the model through its flavor (requirements "
        "from `importlib.metadata`) and writes each value as it comes. Both compute the same training metrics and "
        "draw the same confusion matrix: under a profiler, drawing and saving that plot (matplotlib) is about 80% "
        "of gitrun's own time in a fit, the training metrics most of the rest. The "
        "sampler's CPU time is psutil's calls (one CPU, memory, disk and network reading per sample) and one "
        "appended line per metric.",
        END,
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 repetition, 4 fits, a 12 s sampler run")
    p.add_argument("--reps", type=int, default=None)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--write-results", action="store_true", help="update this benchmark's section of bench/RESULTS.md")
    args = p.parse_args(argv)
    reps = args.reps or (1 if args.quick else 3)
    fits, seconds = (4, 12.0) if args.quick else (12, 60.0)
    with tempfile.TemporaryDirectory(prefix="gitrun-bench-autolog-") as work:
        results = measure(reps, fits, seconds, Path(work))
    command = (
        "python bench/bench_autolog.py"
        + (" --quick" if args.quick else "")
        + (f" --reps {args.reps}" if args.reps else "")
    )
    text = section(results, command)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    if args.write_results:
        write_section(HERE / "RESULTS.md", BEGIN, END, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
