"""System metrics: CPU, memory, disk and network (and NVIDIA GPUs) sampled while a run is active.

Asked for per run by ``start_run(log_system_metrics=True)``, or for every run by
:func:`enable_system_metrics_logging` or ``GITRUN_ENABLE_SYSTEM_METRICS_LOGGING=true`` (then
MLflow's ``MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING``: ``gitrun.env``). The names, units and
rhythm are MLflow's ``SystemMetricsMonitor``'s: a thread samples every ``interval`` seconds
(default 10) and, each ``samples`` samples (default 1), appends their average as one point of
every ``system/<name>`` series, at steps 0, 1, 2... (after the last one when a run is resumed).
psutil gives CPU, memory, disk and network; nvidia-ml-py (``pynvml``) gives each GPU's
utilisation, memory and power when it is installed and finds a GPU, else GPUs are skipped with a
debug log.

The thread writes through a writer of its own (its own descriptors, no lock shared with the
user's log calls): sampling never blocks logging. Each point is one whole ``O_APPEND`` line, so a
process killed while sampling leaves every point written so far intact, and the run reads KILLED.
Ending the run stops the thread before the run's summary is written; samples not yet averaged
into a point are dropped, as MLflow drops them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitrun import env, extras
from gitrun.entities import SYSTEM_METRIC_PREFIX
from gitrun.errors import InvalidInputError
from gitrun.store.writer import RunWriter, now_ms

log = logging.getLogger(__name__)

__all__ = [
    "disable_system_metrics_logging",
    "enable_system_metrics_logging",
    "set_system_metrics_node_id",
    "set_system_metrics_samples_before_logging",
    "set_system_metrics_sampling_interval",
]

PREFIX = SYSTEM_METRIC_PREFIX
ENABLE = "ENABLE_SYSTEM_METRICS_LOGGING"
INTERVAL = "SYSTEM_METRICS_SAMPLING_INTERVAL"
SAMPLES = "SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING"
NODE_ID = "SYSTEM_METRICS_NODE_ID"
DEFAULT_INTERVAL = 10.0  # seconds
DEFAULT_SAMPLES = 1
STOP_TIMEOUT = 10.0  # seconds the run's end waits for a sample in progress


# -- settings (MLflow's functions; each sets a GITRUN_ variable, as MLflow's set MLFLOW_ ones) --------
def enable_system_metrics_logging() -> None:
    """Sample system metrics in every run from now on (``start_run(log_system_metrics=False)`` opts a run out)."""
    env.put(ENABLE, "true")


def disable_system_metrics_logging() -> None:
    """Stop sampling by default (``start_run(log_system_metrics=True)`` still opts a run in)."""
    env.put(ENABLE, "false")


def set_system_metrics_sampling_interval(interval: float | None) -> None:
    """Sample every ``interval`` seconds (None: back to the default, 10)."""
    env.put(INTERVAL, None if interval is None else str(_positive("interval", interval, float)))


def set_system_metrics_samples_before_logging(samples: int | None) -> None:
    """Log the average of every ``samples`` samples as one point (None: back to the default, 1)."""
    env.put(SAMPLES, None if samples is None else str(_positive("samples", samples, int)))


def set_system_metrics_node_id(node_id: str | None) -> None:
    """Name this machine in the metric keys, ``system/<node_id>/...`` (several nodes logging one run)."""
    env.put(NODE_ID, node_id)


def _positive(name: str, value: Any, kind: Callable[[Any], Any]) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or not number > 0:
        raise InvalidInputError(f"{name} must be a positive number, got {value!r}")
    return number


def wanted(log_system_metrics: bool | None) -> bool:
    """Whether a run being started samples system metrics: its own choice, else the setting.
    Raises :class:`~gitrun.errors.MissingExtraError` (before any run exists) when psutil is missing."""
    on = env.flag(ENABLE) if log_system_metrics is None else bool(log_system_metrics)
    if on:
        extras.require(
            "system-metrics",
            feature="system metrics",
            hint=(
                ", or start the run with log_system_metrics=False "
                "(gitrun.disable_system_metrics_logging() for every run)"
            ),
        )
    return on


# -- what is sampled (MLflow's names and units) -----------------------------------------------
class Monitor:
    """One source of metrics: ``collect`` adds a sample, ``aggregate`` turns the samples into values."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}

    def add(self, name: str, value: float) -> None:
        self.samples.setdefault(name, []).append(float(value))

    def collect(self) -> None:
        raise NotImplementedError

    def aggregate(self) -> dict[str, float]:
        return {k: round(sum(v) / len(v), 1) for k, v in self.samples.items() if v}

    def clear(self) -> None:
        self.samples.clear()


class CPUMonitor(Monitor):
    def __init__(self) -> None:
        super().__init__()
        import psutil

        self.psutil = psutil
        psutil.cpu_percent()  # starts the measurement: the first sample covers the first interval

    def collect(self) -> None:
        memory = self.psutil.virtual_memory()
        self.add("cpu_utilization_percentage", self.psutil.cpu_percent())
        self.add("system_memory_usage_megabytes", memory.used / 1e6)
        self.add("system_memory_usage_percentage", memory.used / memory.total * 100)


class DiskMonitor(Monitor):
    def __init__(self) -> None:
        super().__init__()
        import psutil

        self.psutil = psutil

    def collect(self) -> None:
        usage = self.psutil.disk_usage(os.sep)
        self.add("disk_usage_percentage", usage.percent)
        self.add("disk_usage_megabytes", usage.used / 1e6)
        self.add("disk_available_megabytes", usage.free / 1e6)


class NetworkMonitor(Monitor):
    """Megabytes received and sent since sampling started (the last sample, not an average)."""

    def __init__(self) -> None:
        super().__init__()
        import psutil

        self.psutil = psutil
        counters = psutil.net_io_counters()
        self.start = (counters.bytes_recv, counters.bytes_sent)

    def collect(self) -> None:
        counters = self.psutil.net_io_counters()
        self.samples["network_receive_megabytes"] = [(counters.bytes_recv - self.start[0]) / 1e6]
        self.samples["network_transmit_megabytes"] = [(counters.bytes_sent - self.start[1]) / 1e6]

    def aggregate(self) -> dict[str, float]:
        return {k: v[-1] for k, v in self.samples.items() if v}


class GPUMonitor(Monitor):
    """Each NVIDIA GPU's utilisation, memory and power through NVML (nvidia-ml-py)."""

    def __init__(self) -> None:
        super().__init__()
        import pynvml

        self.nvml = pynvml
        pynvml.nvmlInit()  # fails when there is no GPU (or no driver)
        self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]

    def collect(self) -> None:
        nvml = self.nvml
        for i, handle in enumerate(self.handles):
            # Three readings, each on its own (MLflow's): a GPU without power readings still has the others.
            try:
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                self.add(f"gpu_{i}_memory_usage_percentage", round(memory.used / memory.total * 100, 1))
                self.add(f"gpu_{i}_memory_usage_megabytes", memory.used / 1e6)
            except nvml.NVMLError as exc:
                log.warning("GPU %d: %s; its memory metrics are missing from this sample", i, exc)
            try:
                self.add(f"gpu_{i}_utilization_percentage", nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            except nvml.NVMLError as exc:
                log.warning("GPU %d: %s; its utilization is missing from this sample", i, exc)
            try:
                power = nvml.nvmlDeviceGetPowerUsage(handle)
                limit = nvml.nvmlDeviceGetEnforcedPowerLimit(handle)
                self.add(f"gpu_{i}_power_usage_watts", power / 1000)
                self.add(f"gpu_{i}_power_usage_percentage", power / limit * 100)
            except nvml.NVMLError as exc:
                log.warning("GPU %d: %s; its power metrics are missing from this sample", i, exc)


def default_monitors() -> list[Monitor]:
    """CPU, disk and network; GPUs too when nvidia-ml-py is installed and finds one."""
    monitors: list[Monitor] = [CPUMonitor(), DiskMonitor(), NetworkMonitor()]
    try:
        monitors.append(GPUMonitor())
    except Exception as exc:  # ImportError without nvidia-ml-py, NVMLError without a GPU
        log.debug(
            "no GPU metrics (%s: %s); pip install nvidia-ml-py on a machine with an NVIDIA GPU", type(exc).__name__, exc
        )
    return monitors


# -- the sampler ------------------------------------------------------------------------------
class Sampler:
    """The thread that samples system metrics into one run."""

    def __init__(self, run_dir: Path, run_id: str, *, first_step: int = 0) -> None:
        self.writer = RunWriter(run_dir, run_id)  # its own descriptors: never in the way of the user's writer
        self.interval = env.number(INTERVAL, float, DEFAULT_INTERVAL)
        self.samples = env.number(SAMPLES, int, DEFAULT_SAMPLES)
        node = env.text(NODE_ID)
        self.prefix = PREFIX + (f"{node}/" if node else "")
        self.step = first_step
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"gitrun-system-metrics-{run_id}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(STOP_TIMEOUT)
        self.writer.close()

    def _run(self) -> None:
        try:
            monitors = default_monitors()
        except Exception as exc:
            log.warning("system metrics are not sampled (%s: %s)", type(exc).__name__, exc)
            return
        log.debug("sampling system metrics every %ss, logging every %d samples", self.interval, self.samples)
        while not self.stop_event.is_set():
            for _ in range(self.samples):
                for monitor in monitors:
                    try:
                        monitor.collect()
                    except Exception as exc:
                        log.warning("system metrics: %s failed (%s); sampling stops", type(monitor).__name__, exc)
                        return
                if self.stop_event.wait(self.interval):
                    return
            values: dict[str, float] = {}
            for monitor in monitors:
                values.update(monitor.aggregate())
                monitor.clear()
            try:
                self.publish(values)
            except Exception as exc:  # the run's folder gone, a full disk: the run itself goes on
                log.warning("system metrics could not be logged (%s); sampling stops", exc)
                return

    def publish(self, values: dict[str, float]) -> None:
        """Append ``values`` as one point of each ``system/...`` series, at the next step."""
        stamp = now_ms()
        self.writer.log_metric_points((self.prefix + k, v, self.step, stamp) for k, v in values.items())
        self.step += 1


_samplers: dict[str, Sampler] = {}
_lock = threading.Lock()


def start(run_id: str, run_dir: Path, *, resumed: bool) -> None:
    """Start sampling into the run (after its last ``system/`` step when it is resumed)."""
    sampler = Sampler(run_dir, run_id, first_step=next_step(run_dir) if resumed else 0)
    with _lock:
        old = _samplers.pop(run_id, None)
        _samplers[run_id] = sampler
    if old is not None:
        old.stop()
    sampler.start()


def stop(run_id: str) -> None:
    """Stop sampling into the run, if this process samples it; returns once the thread has stopped."""
    with _lock:
        sampler = _samplers.pop(run_id, None)
    if sampler is not None:
        sampler.stop()


def next_step(run_dir: Path) -> int:
    """The step after the last ``system/`` point of a run (0 when it has none)."""
    from gitrun.store.series import read_series, series_keys

    last = -1
    for key, path in series_keys(run_dir).items():
        if key.startswith(PREFIX):
            last = max([last, *(step for step, _, _ in read_series(path))])
    return last + 1


def _after_fork_in_child() -> None:
    # The child has no sampler threads; the parent's runs are the parent's.
    global _lock
    _samplers.clear()
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
