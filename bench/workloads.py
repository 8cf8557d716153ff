"""One measurement, in a fresh interpreter: ``python bench/workloads.py '<json spec>'``.

``bench/run_all.py`` starts this script once per repetition and system, so imports, caches and
open descriptors never leak from one measurement into the next. The spec names the workload, the
system (``gitrun``, ``mlflow-file`` or ``mlflow-sqlite``), the store directory and the sizes. The
last line of output is ``RESULT {json}``; only the calls being measured are inside the timers
(``time.perf_counter``), never the imports or the setup.

With ``"profile": PATH`` in the spec, the timed section runs under cProfile and the stats are
dumped to PATH (run_all.py does that for a missed target, to say why).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stores  # bench/stores.py, beside this file

Spec = dict[str, Any]
EXPERIMENT = "bench-log"  # experiment of the logging workloads (not the search stores')


class Unavailable(Exception):
    """The system lacks the API this workload measures (reported, not an error)."""


# -- the systems -----------------------------------------------------------------------------
def tracking(spec: Spec) -> Any:
    """The system's fluent module, pointed at the spec's store."""
    system, store = spec["system"], Path(spec["store"])
    if system == "gitrun":
        import gitrun

        gitrun.set_tracking_uri(str(store))
        return gitrun
    import mlflow

    mlflow.set_tracking_uri(mlflow_uri(system, store))
    return mlflow


def mlflow_uri(system: str, store: Path) -> str:
    if system == "mlflow-file":
        return (store / "mlruns").absolute().as_uri()
    if system == "mlflow-sqlite":
        return f"sqlite:///{(store / 'mlflow.db').absolute()}"
    raise ValueError(f"unknown system {system!r}")


def client(spec: Spec) -> Any:
    system, store = spec["system"], Path(spec["store"])
    if system == "gitrun":
        import gitrun

        return gitrun.Client(str(store))
    from mlflow import MlflowClient

    return MlflowClient(mlflow_uri(system, store))


def metric_class(spec: Spec) -> Any:
    if spec["system"] == "gitrun":
        from gitrun import Metric
    else:
        from mlflow.entities import Metric
    return Metric


def set_log_experiment(mod: Any, spec: Spec) -> str:
    """Create the logging experiment (artifacts inside the store dir for MLflow's sqlite store)."""
    if spec["system"] == "mlflow-sqlite":
        art = (Path(spec["store"]) / "artifacts").absolute().as_uri()
        exp_id = mod.create_experiment(EXPERIMENT, artifact_location=art)
        mod.set_experiment(experiment_id=exp_id)
        return str(exp_id)
    return str(mod.set_experiment(EXPERIMENT).experiment_id)


class Timer:
    """``perf_counter`` around a block, optionally under cProfile."""

    def __init__(self, spec: Spec):
        self.profile_path = spec.get("profile")
        self.seconds = 0.0
        self.cpu = 0.0  # process CPU time (user + system): far less sensitive to other processes' load

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        profiler = None
        if self.profile_path:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - start
            self.cpu += time.process_time() - cpu_start
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(self.profile_path)


# -- logging ---------------------------------------------------------------------------------
def w_log_metric(spec: Spec) -> dict[str, Any]:
    """``n`` calls of ``log_metric("loss", v, step=i)`` in one run; per-call times kept."""
    n = spec["n"]
    mod = tracking(spec)
    set_log_experiment(mod, spec)
    per_call = [0] * n
    clock = time.perf_counter_ns
    log_metric = mod.log_metric
    timer = Timer(spec)
    run = mod.start_run(run_name="log_metric")
    with timer():
        for i in range(n):
            t0 = clock()
            log_metric("loss", 1.0 / (i + 1), step=i)
            per_call[i] = clock() - t0
    mod.end_run()
    history = client(spec).get_metric_history(run.info.run_id, "loss")
    if len(history) != n:
        raise AssertionError(f"{len(history)} points read back, {n} logged")
    per_call.sort()
    return {
        "seconds": timer.seconds,
        "us_per_call": timer.seconds / n * 1e6,
        "cpu_us_per_call": timer.cpu / n * 1e6,
        "p50_us": per_call[n // 2] / 1000,
        "p99_us": per_call[min(n - 1, n * 99 // 100)] / 1000,
        "n": n,
    }


def w_log_metrics(spec: Spec) -> dict[str, Any]:
    """One ``log_metrics`` call of ``n`` keys at step 0."""
    n = spec["n"]
    mod = tracking(spec)
    set_log_experiment(mod, spec)
    values = {f"m{i}": float(i) for i in range(n)}
    timer = Timer(spec)
    with mod.start_run(run_name="log_metrics") as run, timer():
        mod.log_metrics(values, step=0)
    data = client(spec).get_run(run.info.run_id).data.metrics
    if len(data) != n:
        raise AssertionError(f"{len(data)} metrics read back, {n} logged")
    return {"seconds": timer.seconds, "cpu_seconds": timer.cpu, "n": n}


def w_log_batch(spec: Spec) -> dict[str, Any]:
    """One ``Client.log_batch`` of ``n`` points of one metric (MLflow chunks it by 1,000 itself)."""
    n = spec["n"]
    mod = tracking(spec)
    set_log_experiment(mod, spec)
    c = client(spec)
    metric = metric_class(spec)
    now = int(time.time() * 1000)
    points = [metric("loss", 1.0 / (i + 1), now, i) for i in range(n)]
    timer = Timer(spec)
    with mod.start_run(run_name="log_batch") as run, timer():
        c.log_batch(run.info.run_id, metrics=points)
    if len(c.get_metric_history(run.info.run_id, "loss")) != n:
        raise AssertionError("log_batch lost points")
    return {"seconds": timer.seconds, "cpu_seconds": timer.cpu, "n": n}


def w_start_end(spec: Spec) -> dict[str, Any]:
    """``n`` × ``start_run(run_name=...)`` + ``end_run()``, empty runs; the first one kept apart."""
    n = spec["n"]
    mod = tracking(spec)
    set_log_experiment(mod, spec)
    start_run, end_run = mod.start_run, mod.end_run
    timer = Timer(spec)
    clock = time.perf_counter
    with timer():
        t0 = clock()
        start_run(run_name="r0")
        end_run()
        first = clock() - t0
        for i in range(1, n):
            start_run(run_name=f"r{i}")
            end_run()
    return {
        "seconds": timer.seconds,
        "ms_per_run": timer.seconds / n * 1000,
        "cpu_ms_per_run": timer.cpu / n * 1000,
        "first_run_ms": first * 1000,
        "rest_ms_per_run": (timer.seconds - first) / max(1, n - 1) * 1000,
        "n": n,
    }


def w_sigkill(spec: Spec) -> dict[str, Any]:
    """Log ``n`` points, then SIGKILL this process with no cleanup (checked by ``w_count_points``)."""
    mod = tracking(spec)
    set_log_experiment(mod, spec)
    run = mod.start_run(run_name="sigkill")
    print("RUN_ID " + run.info.run_id, flush=True)
    for i in range(spec["n"]):
        mod.log_metric("loss", float(i), step=i)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("not killed")


def w_count_points(spec: Spec) -> dict[str, Any]:
    """Points and status of a run, read back after ``w_sigkill``."""
    c = client(spec)
    run = c.get_run(spec["run_id"])
    return {"points": len(c.get_metric_history(spec["run_id"], "loss")), "status": run.info.status}


# -- reading ---------------------------------------------------------------------------------
def w_build_history(spec: Spec) -> dict[str, Any]:
    """Setup: one run holding ``n`` points of "loss" (through ``log_batch``)."""
    mod = tracking(spec)
    set_log_experiment(mod, spec)
    metric = metric_class(spec)
    now = int(time.time() * 1000)
    with mod.start_run(run_name="history") as run:
        client(spec).log_batch(
            run.info.run_id, metrics=[metric("loss", 1.0 / (i + 1), now, i) for i in range(spec["n"])]
        )
    return {"run_id": run.info.run_id}


def w_history(spec: Spec) -> dict[str, Any]:
    """``Client.get_metric_history`` of a run with ``n`` points, first call in a fresh process."""
    c = client(spec)
    timer = Timer(spec)
    with timer():
        history = c.get_metric_history(spec["run_id"], "loss")
    if len(history) != spec["n"]:
        raise AssertionError(f"{len(history)} points read, expected {spec['n']}")
    return {"seconds": timer.seconds, "cpu_seconds": timer.cpu, "n": spec["n"]}


def w_build_search(spec: Spec) -> dict[str, Any]:
    """Setup: a store of ``n`` runs (10 params, 10 metrics) written directly, then read back."""
    store, n, system = Path(spec["store"]), spec["n"], spec["system"]
    t0 = time.perf_counter()
    if system == "gitrun":
        stores.build_gitrun_store(store, n)
        built = time.perf_counter() - t0
        verified = stores.verify_gitrun_store(store, n)
    elif system == "mlflow-file":
        ids = stores.build_mlflow_store(store / "mlruns", n)
        built = time.perf_counter() - t0
        verified = stores.verify_mlflow_store(mlflow_uri(system, store), stores.MLFLOW_EXPERIMENT_ID, ids)
    elif system == "mlflow-sqlite":
        # MLflow's own migration tool turns a file store (spec["source"]) into its sqlite store.
        import subprocess

        exe = Path(sys.executable).with_name("mlflow")
        store.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [str(exe), "migrate-filestore", "--source", str(Path(spec["source"]) / "mlruns"),
             "--target", mlflow_uri(system, store), "--no-progress"],
            capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"mlflow migrate-filestore failed: {proc.stderr[-1500:]}")
        built = time.perf_counter() - t0
        ids = stores.mlflow_run_ids(n)
        verified = stores.verify_mlflow_store(mlflow_uri(system, store), stores.MLFLOW_EXPERIMENT_ID, ids)
    else:
        raise ValueError(system)
    files, size = stores.count_files(store)
    return {
        "build_s": built,
        "verify_s": time.perf_counter() - t0 - built,
        "verified_runs": verified,
        "files": files,
        "bytes": size,
    }


def w_search(spec: Spec) -> dict[str, Any]:
    """Filtered, ordered ``search_runs`` over a built store; first call in this process.

    ``mode``: for gitrun, "cold" removes the index (``<store>/.cache``) first, "warm" expects
    the index a previous process left, "noindex" sets ``GITRUN_NO_INDEX=1``; "list" is "warm"
    with ``output_format="list"`` (no pandas). Output is a pandas DataFrame otherwise. A second
    call in the same process ("hot") is timed too unless ``"hot": false``.
    """
    system, store, mode = spec["system"], Path(spec["store"]), spec.get("mode", "cold")
    if system == "gitrun":
        if mode == "cold":
            import shutil

            shutil.rmtree(store / ".cache", ignore_errors=True)
        if mode == "noindex":
            os.environ["GITRUN_NO_INDEX"] = "1"
        mod = tracking(spec)
        try:
            search: Callable[..., Any] = mod.search_runs
        except (AttributeError, ImportError) as exc:
            raise Unavailable(f"gitrun.search_runs is not available yet ({exc})") from None
        experiment_ids = [stores.GITRUN_EXPERIMENT_ID]
    else:
        mod = tracking(spec)
        search = mod.search_runs
        experiment_ids = [stores.MLFLOW_EXPERIMENT_ID]
    args: dict[str, Any] = {
        "experiment_ids": experiment_ids,
        "filter_string": stores.SEARCH_FILTER,
        "order_by": stores.SEARCH_ORDER,
        "max_results": stores.SEARCH_MAX,
    }
    if mode == "list":
        args["output_format"] = "list"

    def run_names(result: Any) -> list[str]:
        if mode == "list":
            return [str(run.data.tags.get("mlflow.runName")) for run in result]
        return [str(x) for x in result["tags.mlflow.runName"]]

    pandas_loaded = "pandas" in sys.modules
    timer = Timer(spec)
    with timer():
        result = search(**args)
    first = timer.seconds
    names = run_names(result)
    hot = None
    if spec.get("hot", True):
        start = time.perf_counter()
        again = search(**args)
        hot = time.perf_counter() - start
        if run_names(again) != names:
            raise AssertionError("two identical searches in one process returned different runs")
    return {
        "seconds": first,
        "cpu_seconds": timer.cpu,
        "hot_s": hot,
        "rows": len(result),
        "pandas_loaded_after": "pandas" in sys.modules,
        "names": names,
        "pandas_preloaded": pandas_loaded,
        "index_dir_exists": (store / ".cache").exists() if system == "gitrun" else None,
    }


def w_durability(spec: Spec) -> dict[str, Any]:
    """``n`` calls of one write operation (``op``: ``set_tag``, ``log_param`` or ``start_end``), gitrun only.

    run_all.py starts it with ``PYTHONPATH`` naming the gitrun tree to measure (this checkout, or
    the baseline extracted from ``main``) and with or without ``GITRUN_FSYNC=1``; ``gitrun_file``
    in the result says which code actually ran.
    """
    import gitrun

    n, op = spec["n"], spec["op"]
    gitrun.set_tracking_uri(spec["store"])
    gitrun.set_experiment(EXPERIMENT)
    timer = Timer(spec)
    if op == "start_end":
        gitrun.start_run(run_name="warm-up")  # one-off costs (Git context, plugins) outside the timer
        gitrun.end_run()
        with timer():
            for i in range(n):
                gitrun.start_run(run_name=f"r{i}")
                gitrun.end_run()
    else:
        with gitrun.start_run(run_name=op) as run:
            if op == "set_tag":  # the same tag rewritten: tags.json keeps its size
                with timer():
                    for i in range(n):
                        gitrun.set_tag("phase", f"epoch-{i:06d}")
            elif op == "log_param":  # params are immutable: a new key per call, params.json grows
                with timer():
                    for i in range(n):
                        gitrun.log_param(f"p{i:04d}", i)
            else:
                raise ValueError(f"unknown op {op!r}")
        data = gitrun.get_run(run.info.run_id).data
        if (op == "set_tag" and data.tags.get("phase") != f"epoch-{n - 1:06d}") or (
            op == "log_param" and len(data.params) != n
        ):
            raise AssertionError(f"{op}: not everything was written")
    return {
        "us_per_call": timer.seconds / n * 1e6,
        "cpu_us_per_call": timer.cpu / n * 1e6,
        "n": n,
        "gitrun_file": gitrun.__file__,
        "fsync": os.environ.get("GITRUN_FSYNC", ""),
    }


WORKLOADS: dict[str, Callable[[Spec], dict[str, Any]]] = {
    "durability": w_durability,
    "log_metric": w_log_metric,
    "log_metrics": w_log_metrics,
    "log_batch": w_log_batch,
    "start_end": w_start_end,
    "sigkill": w_sigkill,
    "count_points": w_count_points,
    "build_history": w_build_history,
    "history": w_history,
    "build_search": w_build_search,
    "search": w_search,
}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    if spec["system"] != "gitrun":
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        result = WORKLOADS[spec["workload"]](spec)
    except Unavailable as exc:
        result = {"unavailable": str(exc)}
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
