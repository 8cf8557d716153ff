"""System metrics: the sampler thread of ``start_run(log_system_metrics=True)``, its settings and
their environment variables, MLflow's ``system/...`` names, and a process killed while sampling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import gitrun
from gitrun.entities import RunStatus
from gitrun.errors import InvalidInputError, MissingExtraError
from gitrun.store import Store
from tests.helpers import ROOT, run_python
from tests.helpers.models import MLFLOW_ENV, blocker

# MLflow's names (mlflow/system_metrics/metrics/{cpu,disk,network}_monitor.py) on a machine without GPU
NAMES = {
    "system/cpu_utilization_percentage",
    "system/system_memory_usage_megabytes",
    "system/system_memory_usage_percentage",
    "system/disk_usage_percentage",
    "system/disk_usage_megabytes",
    "system/disk_available_megabytes",
    "system/network_receive_megabytes",
    "system/network_transmit_megabytes",
}
VARIABLES = [
    f"{side}_{name}"
    for side in ("GITRUN", "MLFLOW")
    for name in (
        "ENABLE_SYSTEM_METRICS_LOGGING",
        "SYSTEM_METRICS_SAMPLING_INTERVAL",
        "SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING",
        "SYSTEM_METRICS_NODE_ID",
    )
]


@pytest.fixture(autouse=True)
def _clean_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No system metrics variable set by the environment, and none left behind by a setter."""
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    yield
    for variable in VARIABLES:
        os.environ.pop(variable, None)


def _sample_fast(points: int = 3) -> None:
    """Sample every 50 ms, and wait (bounded) until the active run has ``points`` points per series."""
    run = gitrun.active_run()
    assert run is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        history = gitrun.Client().get_metric_history(run.info.run_id, "system/cpu_utilization_percentage")
        if len(history) >= points:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {points} system metric points in 30 s")


def _sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("gitrun-system-metrics-")]


def test_names_steps_and_value_ranges(repo: Path) -> None:
    gitrun.set_system_metrics_sampling_interval(0.05)
    with gitrun.start_run(log_system_metrics=True) as run:
        gitrun.log_metric("loss", 1.0)  # the user's logging goes on beside the sampler
        _sample_fast(3)
    client = gitrun.Client()
    metrics = client.get_run(run.info.run_id).data.metrics
    assert set(metrics) == NAMES | {"loss"}
    for name in NAMES:
        history = client.get_metric_history(run.info.run_id, name)
        steps = [m.step for m in history]
        assert steps == list(range(len(steps))) and len(steps) >= 3, name
        for m in history:
            assert m.value >= 0, (name, m.value)
            if name.endswith("_percentage"):
                assert m.value <= 100, (name, m.value)
    assert metrics["system/system_memory_usage_megabytes"] > 1  # some memory is in use
    assert metrics["system/disk_available_megabytes"] > 0
    # The thread stopped with the run: no more points after its end.
    assert _sampler_threads() == []
    count = len(client.get_metric_history(run.info.run_id, "system/cpu_utilization_percentage"))
    time.sleep(0.3)
    assert len(client.get_metric_history(run.info.run_id, "system/cpu_utilization_percentage")) == count


def test_same_names_as_mlflow(tmp_path: Path) -> None:
    script = """
import time
mlflow.set_system_metrics_sampling_interval(0.1)
with mlflow.start_run(log_system_metrics=True) as run:
    time.sleep(1.5)
print("KEYS " + " ".join(sorted(mlflow.MlflowClient().get_run(run.info.run_id).data.metrics)))
"""
    keys = {}
    for side, header, env in (
        (
            "mlflow",
            "import mlflow\n",
            {**MLFLOW_ENV, "PYTHONPATH": "", "MLFLOW_TRACKING_URI": (tmp_path / "m").as_uri()},
        ),
        ("gitrun", "import gitrun as mlflow\n", {"GITRUN_TRACKING_URI": str(tmp_path / "g")}),
    ):
        proc = run_python(header + script, tmp_path, env, timeout=300)
        assert proc.returncode == 0, f"{side}: {proc.stderr[-3000:]}"
        line = next(x for x in proc.stdout.splitlines() if x.startswith("KEYS "))
        keys[side] = set(line.split()[1:])
    assert keys["gitrun"] == keys["mlflow"]
    assert keys["gitrun"] >= NAMES


def test_samples_before_logging_averages_into_fewer_points(repo: Path) -> None:
    gitrun.set_system_metrics_sampling_interval(0.05)
    gitrun.set_system_metrics_samples_before_logging(4)
    with gitrun.start_run(log_system_metrics=True) as run:
        started = time.monotonic()
        _sample_fast(2)
        elapsed = time.monotonic() - started
    points = len(gitrun.Client().get_metric_history(run.info.run_id, "system/disk_usage_percentage"))
    # One point per 4 samples of 50 ms: at most one point per 200 ms.
    assert 2 <= points <= elapsed / 0.2 + 1


def test_enable_disable_and_the_per_run_choice(repo: Path) -> None:
    gitrun.set_system_metrics_sampling_interval(0.05)
    gitrun.enable_system_metrics_logging()
    assert os.environ["GITRUN_ENABLE_SYSTEM_METRICS_LOGGING"] == "true"  # as MLflow's sets MLFLOW_...
    with gitrun.start_run():
        _sample_fast(1)
    with gitrun.start_run(log_system_metrics=False) as opted_out:
        time.sleep(0.3)
    gitrun.disable_system_metrics_logging()
    with gitrun.start_run() as plain:
        time.sleep(0.3)
    client = gitrun.Client()
    assert client.get_run(opted_out.info.run_id).data.metrics == {}
    assert client.get_run(plain.info.run_id).data.metrics == {}


@pytest.mark.parametrize(
    ("env", "sampled"),
    [
        ({"GITRUN_ENABLE_SYSTEM_METRICS_LOGGING": "true"}, True),
        ({"MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING": "True"}, True),  # MLflow's name, for a job set up for MLflow
        ({"GITRUN_ENABLE_SYSTEM_METRICS_LOGGING": "false", "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING": "true"}, False),
        ({}, False),
    ],
)
def test_environment_variables_gitrun_then_mlflow(repo: Path, env: dict[str, str], sampled: bool) -> None:
    code = """
import json, time, gitrun
with gitrun.start_run() as run:
    time.sleep(0.4)
print(json.dumps(sorted(gitrun.Client().get_run(run.info.run_id).data.metrics)))
"""
    env = {**env, "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL": "0.05"}  # MLflow's interval name too
    proc = run_python(code, repo, env)
    assert proc.returncode == 0, proc.stderr
    keys = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert keys == (NAMES if sampled else set())


def test_node_id_in_the_names(repo: Path) -> None:
    gitrun.set_system_metrics_sampling_interval(0.05)
    gitrun.set_system_metrics_node_id("worker-1")
    with gitrun.start_run(log_system_metrics=True) as run:
        deadline = time.monotonic() + 30
        while not gitrun.Client().get_run(run.info.run_id).data.metrics and time.monotonic() < deadline:
            time.sleep(0.05)
    keys = set(gitrun.Client().get_run(run.info.run_id).data.metrics)
    assert keys == {name.replace("system/", "system/worker-1/") for name in NAMES}


def test_a_resumed_run_samples_after_its_last_step(repo: Path) -> None:
    gitrun.set_system_metrics_sampling_interval(0.05)
    with gitrun.start_run(log_system_metrics=True) as run:
        _sample_fast(2)
    first = len(gitrun.Client().get_metric_history(run.info.run_id, "system/cpu_utilization_percentage"))
    with gitrun.start_run(run_id=run.info.run_id, log_system_metrics=True):
        _sample_fast(first + 2)
    steps = [m.step for m in gitrun.Client().get_metric_history(run.info.run_id, "system/cpu_utilization_percentage")]
    assert steps == list(range(len(steps)))  # no step written twice


@pytest.mark.parametrize("bad", [0, -1, "fast", True])
def test_bad_settings_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="interval must be a positive number"):
        gitrun.set_system_metrics_sampling_interval(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="samples must be a positive number"):
        gitrun.set_system_metrics_samples_before_logging(bad)  # type: ignore[arg-type]


def test_without_psutil_the_run_is_refused_naming_the_extra(repo: Path) -> None:
    code = (
        blocker("psutil")
        + """
import gitrun
from gitrun.errors import MissingExtraError
try:
    gitrun.start_run(log_system_metrics=True)
except MissingExtraError as exc:
    print("REFUSED", exc)
print("RUNS", len(gitrun.search_runs(output_format="list")))
with gitrun.start_run():  # a run without system metrics needs no psutil
    gitrun.log_metric("x", 1)
print("OK")
"""
    )
    proc = run_python(code, repo)
    assert proc.returncode == 0, proc.stderr
    assert "REFUSED system metrics needs psutil" in proc.stdout
    assert "pip install 'gitrun-ml[system-metrics]'" in proc.stdout
    assert "RUNS 0" in proc.stdout and "OK" in proc.stdout
    assert issubclass(MissingExtraError, ImportError)


KILLED_SCRIPT = """
import time, gitrun
gitrun.set_system_metrics_sampling_interval(0.02)
run = gitrun.start_run(log_system_metrics=True)
client = gitrun.Client()
while len(client.get_metric_history(run.info.run_id, "system/cpu_utilization_percentage")) < 10:
    time.sleep(0.01)
print("SAMPLING", run.info.run_id, flush=True)
time.sleep(120)
"""


def test_a_run_killed_while_sampling_reads_killed_with_every_point_intact(repo: Path, store_dir: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_SCRIPT],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("SAMPLING "), line + proc.stderr.read()  # type: ignore[union-attr]
        run_id = line.split()[1]
        time.sleep(0.13)  # kill it somewhere in the middle of sampling, not just after a point
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    client = gitrun.Client(repo)
    run = client.get_run(run_id)
    assert run.info.status == RunStatus.KILLED
    assert set(run.data.metrics) == NAMES
    run_dir = Store(store_dir).layout.run_dir(run.info.experiment_id, run_id)
    counts = []
    for path in run_dir.rglob("*.tsv"):
        text = path.read_text()
        assert text.endswith("\n"), path  # whole lines only
        rows = [row.split("\t") for row in text.split("\n")[1:-1]]
        assert all(len(row) == 3 for row in rows), path
        steps = [int(step) for step, _, _ in rows]
        assert steps == list(range(len(steps))), path  # every point from 0, none torn or missing
        counts.append(len(steps))
    # The kill may land between two series of one point: they differ by one point at most.
    assert len(counts) == len(NAMES) and min(counts) >= 10 and max(counts) - min(counts) <= 1
    history = {m.step for m in client.get_metric_history(run_id, "system/cpu_utilization_percentage")}
    assert history == set(range(len(history)))
    assert json.loads((run_dir / "meta.json").read_text())["status"] == "RUNNING"  # KILLED is inferred


def test_the_site_draws_system_metrics_in_their_own_section(repo: Path, store_dir: Path, tmp_path: Path) -> None:
    from bs4 import BeautifulSoup

    from gitrun.site.build import BuildOptions, build_site

    gitrun.set_system_metrics_sampling_interval(0.05)
    with gitrun.start_run(log_system_metrics=True) as run:
        gitrun.log_metric("loss", 0.5)
        _sample_fast(2)
    with gitrun.start_run() as plain:
        gitrun.log_metric("loss", 0.4)
    out = tmp_path / "site"
    build_site(Store(store_dir), BuildOptions(output=out, strict=True))

    def rows(soup: BeautifulSoup, table: str) -> set[str]:
        return {str(tr["data-metric"]) for tr in soup.select(f"#{table} tbody tr")}

    soup = BeautifulSoup((out / "runs" / f"{run.info.run_id}.html").read_text(), "html.parser")
    assert rows(soup, "metrics-table") == {"loss"}
    assert rows(soup, "system-metrics-table") == NAMES
    charts = {str(div["data-metric"]) for div in soup.select("#system-metrics .chart[data-kind=metric]")}
    assert charts == NAMES  # drawn by the same script as the other charts
    soup = BeautifulSoup((out / "runs" / f"{plain.info.run_id}.html").read_text(), "html.parser")
    assert soup.select_one("#system-metrics") is None and rows(soup, "metrics-table") == {"loss"}


def test_the_system_metrics_charts_draw_in_chromium(repo: Path, store_dir: Path, tmp_path: Path) -> None:
    from test_site_browser import CHROMIUM, _open, _wait_charts

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/install-system-deps.sh)")
    playwright = pytest.importorskip("playwright.sync_api")
    from gitrun.site.build import BuildOptions, build_site

    gitrun.set_system_metrics_sampling_interval(0.05)
    with gitrun.start_run(log_system_metrics=True) as run:
        gitrun.log_metric("loss", 0.5, step=0)
        gitrun.log_metric("loss", 0.4, step=1)  # two points: a value logged once is not a chart
        _sample_fast(3)
    out = tmp_path / "site"
    build_site(Store(store_dir), BuildOptions(output=out, strict=True))
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
        try:
            page, watch = _open(browser.new_context(), (out / "runs" / f"{run.info.run_id}.html").resolve().as_uri())
            assert _wait_charts(page) == len(NAMES) + 1
            drawn = page.locator("#system-metrics .chart canvas, #system-metrics .chart svg").count()
            assert drawn >= len(NAMES)
            watch.check(out.resolve().as_uri())
        finally:
            browser.close()


# -- GPUs ---------------------------------------------------------------------------------------
# No GPU here: a stand-in for NVML's Python binding (nvidia-ml-py's ``pynvml``), answering for two
# GPUs with fixed readings. It stands for the library, not for gitrun: gitrun's and MLflow's
# samplers read it the same way, so their keys and values can be compared.
FAKE_PYNVML = """
import os
from types import SimpleNamespace
FAIL = os.environ.get("FAKE_NVML", "")
class NVMLError(Exception):
    pass
def nvmlInit():
    if FAIL == "init":
        raise NVMLError("Driver Not Loaded")
def nvmlDeviceGetCount():
    return 2
def nvmlDeviceGetHandleByIndex(i):
    return i
def nvmlDeviceGetMemoryInfo(handle):
    return SimpleNamespace(total=16_000_000_000, used=4_000_000_000 * (handle + 1))
def nvmlDeviceGetUtilizationRates(handle):
    return SimpleNamespace(gpu=30 * (handle + 1), memory=10)
def nvmlDeviceGetPowerUsage(handle):
    if FAIL == "power":
        raise NVMLError("Not Supported")
    return 150_000 + 50_000 * handle
def nvmlDeviceGetEnforcedPowerLimit(handle):
    return 300_000
"""

GPU_SCRIPT = """
import json, logging, time
logging.basicConfig(level=logging.DEBUG, format="LOG %(name)s %(message)s")
for noisy in ("urllib3", "git", "alembic", "sqlalchemy", "matplotlib"):
    logging.getLogger(noisy).setLevel(logging.WARNING)
mlflow.set_system_metrics_sampling_interval(0.1)
with mlflow.start_run(log_system_metrics=True) as run:
    time.sleep(1.0)
metrics = mlflow.MlflowClient().get_run(run.info.run_id).data.metrics
print("RESULT " + json.dumps({k: v for k, v in metrics.items() if "gpu" in k}))
"""


def _gpu_metrics(tmp_path: Path, fail: str) -> tuple[dict[str, float], dict[str, float], str]:
    fake = tmp_path / "fake-nvml"
    fake.mkdir(exist_ok=True)
    (fake / "pynvml.py").write_text(FAKE_PYNVML)
    results = []
    logs = ""
    for side, header, env in (
        (
            "mlflow",
            "import mlflow\n",
            {**MLFLOW_ENV, "PYTHONPATH": str(fake), "MLFLOW_TRACKING_URI": (tmp_path / f"m-{fail}").as_uri()},
        ),
        (
            "gitrun",
            "import gitrun as mlflow\n",
            {"PYTHONPATH": os.pathsep.join([str(fake), str(ROOT)]), "GITRUN_TRACKING_URI": str(tmp_path / f"g-{fail}")},
        ),
    ):
        proc = run_python(header + GPU_SCRIPT, tmp_path, {**env, "FAKE_NVML": fail}, timeout=300)
        assert proc.returncode == 0, f"{side}: {proc.stderr[-3000:]}"
        line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
        results.append(json.loads(line[len("RESULT ") :]))
        logs = proc.stderr
    return results[0], results[1], logs


def test_gpu_metrics_with_nvml_as_mlflow_reads_them(tmp_path: Path) -> None:
    theirs, ours, _ = _gpu_metrics(tmp_path, "")
    assert ours == theirs
    assert ours == {
        "system/gpu_0_memory_usage_percentage": 25.0,
        "system/gpu_0_memory_usage_megabytes": 4000.0,
        "system/gpu_0_utilization_percentage": 30.0,
        "system/gpu_0_power_usage_watts": 150.0,
        "system/gpu_0_power_usage_percentage": 50.0,
        "system/gpu_1_memory_usage_percentage": 50.0,
        "system/gpu_1_memory_usage_megabytes": 8000.0,
        "system/gpu_1_utilization_percentage": 60.0,
        "system/gpu_1_power_usage_watts": 200.0,
        "system/gpu_1_power_usage_percentage": 66.7,
    }


def test_a_gpu_without_power_readings_keeps_its_other_metrics(tmp_path: Path) -> None:
    theirs, ours, logs = _gpu_metrics(tmp_path, "power")
    assert ours == theirs
    assert {k.split("_", 2)[-1] for k in ours} == {
        "memory_usage_percentage",
        "memory_usage_megabytes",
        "utilization_percentage",
    }
    assert "GPU 0: Not Supported; its power metrics are missing from this sample" in logs


def test_no_gpu_is_skipped_with_a_debug_log(tmp_path: Path) -> None:
    theirs, ours, logs = _gpu_metrics(tmp_path, "init")
    assert ours == theirs == {}
    assert "LOG gitrun.tracking.system_metrics no GPU metrics (NVMLError: Driver Not Loaded)" in logs


def test_without_nvidia_ml_py_gpus_are_skipped_and_never_imported(repo: Path) -> None:
    code = """
import logging, sys, time, gitrun
logging.basicConfig(level=logging.DEBUG, format="LOG %(name)s %(message)s")
gitrun.set_system_metrics_sampling_interval(0.05)
with gitrun.start_run(log_system_metrics=True) as run:
    time.sleep(0.4)
print("KEYS", sorted(gitrun.Client().get_run(run.info.run_id).data.metrics) == sorted(NAMES))
"""
    proc = run_python(f"NAMES = {sorted(NAMES)!r}\n" + blocker("pynvml") + code, repo)
    assert proc.returncode == 0, proc.stderr
    assert "KEYS True" in proc.stdout
    assert "LOG gitrun.tracking.system_metrics no GPU metrics (ModuleNotFoundError" in proc.stderr
    assert "WARNING" not in proc.stderr
    lazy = run_python("import sys, gitrun, gitrun.tracking.system_metrics; print('pynvml' in sys.modules)", repo)
    assert lazy.stdout.strip() == "False"
