"""Run events for plugins: ``gitrun_run_started``, batched ``gitrun_run_logged``, ``gitrun_run_ended``.

Decided once per run, by :func:`run_events` in ``start_run``: when no plugin implements an event
hook, the run has no :class:`RunEvents` and its writer stays the store's plain
:class:`~gitrun.store.writer.RunWriter`, so ``log_metric`` runs exactly the code it runs without
plugins. When ``gitrun_run_logged`` has an implementation, the run's writer is a
:class:`ReportingWriter`: each write, once on disk, adds what it wrote to a batch, handed over

- when the batch holds ``GITRUN_EVENTS_BATCH`` items (metric points, params and tags; default 1000),
- at the first log call ``GITRUN_EVENTS_INTERVAL`` seconds (default 5) after the last hand-over,
- and when the run ends, before ``gitrun_run_ended``.

There is no thread: a batch waits for the next log call or the end of the run, and every hook runs
in the thread that logged. A plugin that raises is a warning naming it (``plugins.call_each``).
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gitrun.entities import Metric, Run
from gitrun.plugins import call_each, implementations
from gitrun.store import Store
from gitrun.store.validation import validate_key, validate_metric_value, validate_step, validate_timestamp
from gitrun.store.writer import RunWriter, now_ms

ENV_BATCH = "GITRUN_EVENTS_BATCH"
ENV_INTERVAL = "GITRUN_EVENTS_INTERVAL"
DEFAULT_BATCH = 1000
DEFAULT_INTERVAL = 5.0

STARTED, LOGGED, ENDED = "gitrun_run_started", "gitrun_run_logged", "gitrun_run_ended"


class RunEvents:
    """The event hooks of one run, found when it started; only built when some plugin has one."""

    def __init__(self, run_id: str, impls: Mapping[str, list[Any]]):
        self.run_id = run_id
        self.impls = impls
        self.batch_size = _setting(ENV_BATCH, DEFAULT_BATCH, int)
        self.interval = _setting(ENV_INTERVAL, DEFAULT_INTERVAL, float)
        self._lock = threading.RLock()  # a plugin may log from inside its hook
        self._metrics: list[Metric] = []
        self._params: dict[str, str] = {}
        self._tags: dict[str, str] = {}
        self._size = 0
        self._last = time.monotonic()
        self._delivering = False

    @property
    def reports_logging(self) -> bool:
        return bool(self.impls[LOGGED])

    def started(self, run: Run, resumed: bool) -> None:
        self._last = time.monotonic()
        call_each(STARTED, self.impls[STARTED], run=run, resumed=resumed)

    def add_metric(self, metric: Metric) -> None:
        """:meth:`add` for one point (``log_metric``'s path)."""
        with self._lock:
            self._metrics.append(metric)
            self._size += 1
            if (
                self._size >= self.batch_size or time.monotonic() - self._last >= self.interval
            ) and not self._delivering:
                self.flush()

    def add(
        self,
        metrics: Iterable[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Add what was just written to the batch; hand the batch over if it is full or due."""
        with self._lock:
            before = len(self._metrics)
            self._metrics.extend(metrics)
            self._params.update(params or {})
            self._tags.update(tags or {})
            self._size += len(self._metrics) - before + len(params or ()) + len(tags or ())
            due = self._size >= self.batch_size or time.monotonic() - self._last >= self.interval
            if due and not self._delivering:
                self.flush()

    def flush(self) -> None:
        """Hand what is waiting to ``gitrun_run_logged`` (nothing when nothing is waiting)."""
        with self._lock:
            self._last = time.monotonic()
            if not self._size:
                return
            metrics, params, tags = self._metrics, self._params, self._tags
            self._metrics, self._params, self._tags, self._size = [], {}, {}, 0
            self._delivering = True
            try:
                call_each(LOGGED, self.impls[LOGGED], run_id=self.run_id, metrics=metrics, params=params, tags=tags)
            finally:
                self._delivering = False

    def ended(self, status: str) -> None:
        call_each(ENDED, self.impls[ENDED], run_id=self.run_id, status=status)


class ReportingWriter(RunWriter):
    """A run's writer that also adds what it has written to the run's :class:`RunEvents` batch."""

    def __init__(self, run_dir: Path, run_id: str, events: RunEvents):
        super().__init__(run_dir, run_id)
        self.events = events

    def log_metric(self, key: str, value: Any, step: Any = None, timestamp: Any = None) -> None:
        number = validate_metric_value(key, value, self.run_id)
        step = validate_step(key, step)
        stamp = validate_timestamp(key, timestamp)
        stamp = now_ms() if stamp is None else stamp  # the same time in the file and in the event
        super().log_metric(key, number, step, stamp)
        self.events.add_metric(Metric(key, number, stamp, step))

    def log_metric_points(self, points: Iterable[tuple[str, Any, Any, Any]]) -> None:
        default = now_ms()
        metrics = []
        for key, value, step, timestamp in points:  # validated in the order the plain writer validates
            validate_key("metric", key, self.run_id)
            number = validate_metric_value(key, value, self.run_id)
            stamp = validate_timestamp(key, timestamp)
            metrics.append(Metric(key, number, default if stamp is None else stamp, validate_step(key, step)))
        super().log_metric_points((m.key, m.value, m.step, m.timestamp) for m in metrics)
        self.events.add(metrics=metrics)

    def log_params(self, params: Mapping[str, Any]) -> None:
        super().log_params(params)
        self.events.add(params={str(k): str(v) for k, v in params.items()})

    def set_tags(self, tags: Mapping[str, Any], *, rename: bool = True) -> None:
        super().set_tags(tags, rename=rename)
        self.events.add(tags={str(k): str(v) for k, v in tags.items()})


def run_events(store: Store, writer: RunWriter) -> tuple[RunWriter, RunEvents | None]:
    """The writer a run started by ``start_run`` logs through, and its events (None: no plugin
    implements any event hook, and the writer is ``writer`` itself)."""
    impls = {hook: implementations(hook) for hook in (STARTED, LOGGED, ENDED)}
    if not any(impls.values()):
        return writer, None
    events = RunEvents(writer.run_id, impls)
    if events.reports_logging:
        writer = store.install_writer(ReportingWriter(writer.run_dir, writer.run_id, events))
    return writer, events


def _setting(name: str, default: Any, kind: type) -> Any:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
        if value <= 0:
            raise ValueError("not positive")
    except ValueError:
        warnings.warn(f"{name}={raw!r} is not a positive number; using {default}", stacklevel=4)
        return default
    return value
