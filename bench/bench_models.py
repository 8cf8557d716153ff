"""Models (issue 12), gitrun and MLflow side by side in one run: log_model, load_model + predict,
and loading a 10 MB model at an older revision from the DVC cache.

    python bench/bench_models.py [--quick] [--json OUT] [--write-results]

Every measurement runs in a fresh interpreter; the two tools alternate within each repetition.
Imports (the tool, scikit-learn, numpy) happen before the timed part, as in a training script
that already imported them; what the call itself imports (skops...) is part of its time.

- ``sklearn.log_model`` of an iris LogisticRegression with an input example, the second call in a
  process (the first is reported too). MLflow infers requirements by loading the model in a
  subprocess; gitrun pins the flavor's and the model's distributions. Target: >= 20x faster.
- ``pyfunc.load_model(models:/m-<id>)`` + the first ``predict`` in a fresh process. Target: >= 3x.
- ``pyfunc.load_model(runs:/ID/model, rev=HEAD~1)`` + first predict of a 10 MB model (a GaussianNB of 328,000 features) whose
  ``model.skops`` is tracked by DVC (content in the local DVC cache), in a fresh process with the
  model cache of ``.gitrun/.cache/models`` emptied first, and again with it filled. Target: < 0.5 s.

``--write-results`` replaces this benchmark's section of bench/RESULTS.md (below the keep marker).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
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

from stores import RUN_ENV, git, new_repo, write_section  # noqa: E402

BEGIN = "<!-- models: begin (written by bench/bench_models.py --write-results) -->"
END = "<!-- models: end -->"


LOG = """
import json, sys, time
SYSTEM = {system!r}
if SYSTEM == "mlflow":
    import mlflow, mlflow.sklearn as flavor
    mlflow.set_tracking_uri("file://" + {store!r})
    mlflow.set_experiment("bench")
else:
    import gitrun as mlflow, gitrun.sklearn as flavor
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True)
model = LogisticRegression(max_iter=500).fit(X, y)
times = []
with mlflow.start_run():
    for i in range(2):
        t = time.perf_counter()
        info = flavor.log_model(model, name=f"model{{i}}", input_example=X[:5])
        times.append(time.perf_counter() - t)
print(json.dumps({{"first": times[0], "second": times[1], "uri": info.model_uri}}))
"""

LOAD = """
import json, sys, time
SYSTEM = {system!r}
if SYSTEM == "mlflow":
    import mlflow, mlflow.pyfunc as pyfunc
    mlflow.set_tracking_uri("file://" + {store!r})
else:
    import gitrun, gitrun.pyfunc as pyfunc
from sklearn.datasets import load_iris
X, y = load_iris(return_X_y=True)
if {preimport!r}:
    import skops.io  # the format's library, imported like scikit-learn: it costs both tools the same
t = time.perf_counter()
model = pyfunc.load_model({uri!r})
model.predict(X[:5])
first = time.perf_counter() - t
t = time.perf_counter()
pyfunc.load_model({uri!r}).predict(X[:5])
print(json.dumps({{"first": first, "again": time.perf_counter() - t}}))
"""

BIG = """
import json, numpy as np, gitrun
from sklearn.naive_bayes import GaussianNB
X = np.random.default_rng(0).random((6, {features}))  # its means and variances: 2 x 2 x features float64
model = GaussianNB().fit(X, [0, 1, 0, 1, 0, 1])
gitrun.set_experiment("big")
with gitrun.start_run() as run:
    info = gitrun.sklearn.log_model(model, name="model")
print(json.dumps({{"run_id": run.info.run_id, "size": (info.local_path / "model.skops").stat().st_size}}))
"""

AT_REV = """
import json, sys, time
import gitrun, numpy as np
import sklearn.naive_bayes, skops.io  # the model's libraries, imported before (as in a serving process)
X = np.random.default_rng(1).random((5, {features}))
t = time.perf_counter()
model = gitrun.pyfunc.load_model("runs:/{run_id}/model", rev="HEAD~1")
model.predict(X)
print(json.dumps({{"seconds": time.perf_counter() - t, "dvc_imported": "dvc" in sys.modules}}))
"""


def run(code: str, cwd: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=RUN_ENV, capture_output=True, text=True, timeout=900
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def bench_log_and_load(work: Path, reps: int) -> dict[str, Any]:
    keys = ("log_first", "log_second", "load_first", "load_again", "load_cold")
    out: dict[str, Any] = {s: {k: [] for k in keys} for s in ("gitrun", "mlflow")}
    for rep in range(reps):
        for system in ("gitrun", "mlflow"):
            repo = new_repo(work / f"{system}-{rep}")
            store = str(repo / "mlruns")
            logged = run(LOG.format(system=system, store=store), repo)
            out[system]["log_first"].append(logged["first"])
            out[system]["log_second"].append(logged["second"])
            loaded = run(LOAD.format(system=system, store=store, uri=logged["uri"], preimport=True), repo)
            out[system]["load_first"].append(loaded["first"])
            out[system]["load_again"].append(loaded["again"])
            cold = run(LOAD.format(system=system, store=store, uri=logged["uri"], preimport=False), repo)
            out[system]["load_cold"].append(cold["first"])
    return out


def bench_at_revision(work: Path, reps: int, features: int) -> dict[str, Any]:
    repo = new_repo(work / "big")
    subprocess.run(
        [sys.executable, "-m", "gitrun", "init", "--dvc"], cwd=repo, env=RUN_ENV, check=True, capture_output=True
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "dvc")
    logged = run(BIG.format(features=features), repo)
    subprocess.run(
        [sys.executable, "-m", "gitrun", "commit", "-m", "big model"],
        cwd=repo,
        env=RUN_ENV,
        check=True,
        capture_output=True,
    )
    (repo / "notes.txt").write_text("the work tree moves on\n")
    git(repo, "add", "notes.txt")
    git(repo, "commit", "-q", "-m", "later work")
    cold, warm, dvc_imported = [], [], []
    for _ in range(reps):
        shutil.rmtree(repo / ".gitrun" / ".cache" / "models", ignore_errors=True)
        first = run(AT_REV.format(run_id=logged["run_id"], features=features), repo)
        cold.append(first["seconds"])
        dvc_imported.append(first["dvc_imported"])
        warm.append(run(AT_REV.format(run_id=logged["run_id"], features=features), repo)["seconds"])
    tracked = git(repo, "ls-tree", "-r", "--name-only", "HEAD~1")
    return {
        "size": logged["size"],
        "cold": cold,
        "warm": warm,
        "dvc_imported": any(dvc_imported),
        "in_dvc": "model.skops.dvc" in tracked,
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def section(results: dict[str, Any], command: str) -> str:
    g, m = results["log_load"]["gitrun"], results["log_load"]["mlflow"]
    rev = results["at_revision"]
    ratio_log = median(m["log_second"]) / median(g["log_second"])
    ratio_load = median(m["load_first"]) / median(g["load_first"])
    cold = median(rev["cold"])

    def ms(values: list[float]) -> str:
        return f"{median(values) * 1000:,.1f} ms [{min(values) * 1000:,.1f}–{max(values) * 1000:,.1f}]"

    lines = [
        BEGIN,
        "## Models (issue 12, bench/bench_models.py)",
        "",
        f"Measured {results['when']} on {results['machine']}, Python {results['python']}, MLflow {results['mlflow']}, "
        f"scikit-learn {results['sklearn']}; {results['reps']} repetitions, each in fresh interpreters, the two tools "
        "alternating. Medians, [min–max]. Imports of the tool, scikit-learn and numpy are done before the timed part "
        "(as in a training script); what the call imports itself (skops...) is timed.",
        "",
        f"**Command:** `{command}`",
        "",
        "| measurement | gitrun | MLflow 3 (file store) | MLflow / gitrun | target | met? |",
        "|---|---|---|---|---|---|",
        f"| `sklearn.log_model` (iris LogisticRegression, input example), 2nd call in the process | {ms(g['log_second'])} | "
        f"{ms(m['log_second'])} | {ratio_log:,.0f}x | >= 20x faster | **{'yes' if ratio_log >= 20 else 'NO'}** |",
        f"| ... the 1st call (imports skops, pins requirements) | {ms(g['log_first'])} | {ms(m['log_first'])} | "
        f"{median(m['log_first']) / median(g['log_first']):,.0f}x | | |",
        f"| `pyfunc.load_model(models:/m-<id>)` + first `predict`, fresh process (skops imported before, as scikit-learn) | {ms(g['load_first'])} | "
        f"{ms(m['load_first'])} | {ratio_load:,.1f}x | >= 3x faster | **{'yes' if ratio_load >= 3 else 'NO'}** |",
        f"| ... with the `import skops.io` inside the load (skops imports every scikit-learn module: both pay it) | {ms(g['load_cold'])} | "
        f"{ms(m['load_cold'])} | {median(m['load_cold']) / median(g['load_cold']):,.1f}x | | |",
        f"| ... again in the same process | {ms(g['load_again'])} | {ms(m['load_again'])} | "
        f"{median(m['load_again']) / median(g['load_again']):,.1f}x | | |",
        f"| `pyfunc.load_model(runs:/ID/model, rev=HEAD~1)` + first `predict`, {rev['size'] / 2**20:.1f} MB model.skops in DVC "
        f"(local cache), model cache empty, fresh process (scikit-learn and skops imported before) | {ms(rev['cold'])} | — | | < 0.5 s | **{'yes' if cold < 0.5 else 'NO'}** |",
        f"| ... the same with the model folder already in `.gitrun/.cache/models/` | {ms(rev['warm'])} | — | | | |",
        "",
        "Why: MLflow's `log_model` infers requirements by loading the saved model in a subprocess (a new "
        "interpreter importing MLflow and the model's libraries); gitrun pins the distributions the flavor names "
        "and those of the modules the model object is made of, from `importlib.metadata`, in the process. Loading at "
        "a revision reads the model folder's Git tree (two `git` processes), takes `model.skops` from DVC's cache by "
        f"its hash without importing DVC (DVC imported: {'yes' if rev['dvc_imported'] else 'no'}), checks its MD5, "
        "and keeps the folder under its tree ID for the next load.",
        END,
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 repetition, a 2 MB model")
    p.add_argument("--reps", type=int, default=None)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--write-results", action="store_true", help="update this benchmark's section of bench/RESULTS.md")
    args = p.parse_args(argv)
    reps = args.reps or (1 if args.quick else 5)
    features = 65_000 if args.quick else 328_000  # x 4 float64: about 2 MB / 10 MB
    work = Path(tempfile.mkdtemp(prefix="gitrun-bench-models-"))
    try:
        import mlflow
        import sklearn

        results = {
            "when": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} cores, {platform.platform()}",
            "python": platform.python_version(),
            "mlflow": mlflow.__version__,
            "sklearn": sklearn.__version__,
            "reps": reps,
            "log_load": bench_log_and_load(work, reps),
            "at_revision": bench_at_revision(work, reps, features),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = (
        "python bench/bench_models.py"
        + (" --quick" if args.quick else "")
        + (f" --reps {args.reps}" if args.reps else "")
    )
    text = section(results, command)
    print(text)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.write_results:
        write_section(HERE / "RESULTS.md", BEGIN, END, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
