"""Reading runs back into typed records, tolerant of hand-corrupted files.

A file that cannot be read completely produces a :class:`~gitrun.errors.StoreWarning` naming the
file and line, and the rest of the store still reads; with ``strict=True`` the same problem is a
:class:`~gitrun.errors.StoreFormatError`. Readers never write.

Files are read as bytes and decoded here (:func:`decode_json_bytes`, :func:`decode_series_bytes`),
so a byte that is not UTF-8 is one of those problems too, not a ``UnicodeDecodeError`` for the
whole store; so is a step or timestamp outside the 64-bit range the writer accepts.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitrun import env
from gitrun.entities import LifecycleStage, Metric, MetricSummary, RunStatus
from gitrun.store import textio
from gitrun.store.layout import HEARTBEAT_PREFIX, LOCK_FILE, local_in_run
from gitrun.store.series import read_series, series_keys, series_path, series_size, summarize
from gitrun.store.textio import decode_json_bytes, problem
from gitrun.store.validation import INT64_MAX, INT64_MIN, RUN_TIME_MAX_MS, RUN_TIME_MIN_MS
from gitrun.tags import RUN_NAME

# How the processes attached to a run that have ended it ended, one line each: "<host>-<pid>\t<status>\t<ms>"
# (local-only, covered by the store's `.heartbeat-*` ignore rule; see docs/format.md).
OUTCOMES_FILE = ".heartbeat-outcomes"
HEARTBEAT_TIMEOUT_S = float(env.HEARTBEAT_TIMEOUT.get() or "300")


def read_json_file(path: Path, strict: bool, default: Any = None) -> Any:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return default
    return parse_json_text(decode_json_bytes(data, str(path), strict), str(path), strict, default)


def parse_json_text(text: str, label: str, strict: bool, default: Any = None) -> Any:
    """JSON from ``text`` (the content of the file ``label``); ``default`` with a warning if bad."""
    try:
        return json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = f"{label}:{line}" if line else label
        problem(f"{where}: cannot parse JSON ({getattr(exc, 'msg', exc)}); ignoring this file", strict)
        return default


def read_str_dict(path: Path, strict: bool) -> dict[str, str]:
    return str_dict(read_json_file(path, strict, {}), str(path), strict)


def str_dict(data: Any, label: str | Callable[[], str], strict: bool) -> dict[str, str]:
    """A JSON object as str -> str (non-strings re-encoded as JSON); ``label`` names the file."""
    if not isinstance(data, dict):
        problem(
            f"{label() if callable(label) else label}: expected a JSON object of strings; ignoring this file", strict
        )
        return {}
    if all(type(v) is str for v in data.values()):
        return data
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


def read_summaries(run_dir: Path, strict: bool = False) -> dict[str, MetricSummary]:
    """Per-metric summaries of a run directory (see :func:`summaries_from`)."""
    keys = series_keys(run_dir)
    return summaries_from(
        read_json_file(run_dir / "metrics.json", strict, {}),
        str(run_dir / "metrics.json"),
        {key: series_size(path) for key, path in keys.items()},
        lambda key: read_series(keys[key], strict),
        strict,
    )


def summaries_from(
    stored: Any,
    label: str,
    sizes: dict[str, int | None],
    load_points: Callable[[str], list[tuple[int, int, float]]],
    strict: bool = False,
) -> dict[str, MetricSummary]:
    """Summaries from ``metrics.json`` content where it matches the series, recomputed where not.

    A summary entry is trusted when its recorded ``bytes`` equals the series' size (``sizes``):
    series are append-only, so a series with more bytes has points the summary has not seen.
    """
    if not isinstance(stored, dict):
        problem(f"{label}: expected a JSON object; recomputing from series", strict)
        stored = {}
    result: dict[str, MetricSummary] = {}
    for key, size in sizes.items():
        entry = stored.get(key)
        if isinstance(entry, dict):
            try:
                if entry.get("bytes") == size:
                    latest, low, high = entry["latest"], entry["min"], entry["max"]
                    result[key] = MetricSummary(
                        key,
                        # JSON numbers arrive as float or int; non-finite ones as strings
                        latest if type(latest) is float else textio.from_json_number(latest),
                        low if type(low) is float else textio.from_json_number(low),
                        high if type(high) is float else textio.from_json_number(high),
                        int64(entry["step"]),
                        int64(entry["timestamp"]),
                        int(entry["count"]),
                    )
                    continue
            except (KeyError, TypeError, ValueError):
                problem(f"{label}: bad entry for {key!r}; recomputing it from its series", strict)
        summary = summarize(key, load_points(key))
        if summary is not None:
            result[key] = summary
    return result


def run_time(value: Any) -> int | None:
    """A run's start or end time from ``meta.json``; None when missing or not a date gitrun can show
    (an old release accepted ``start_time=10**30``, which broke every listing)."""
    if type(value) is int or (isinstance(value, float) and math.isfinite(value)):
        return int(value) if RUN_TIME_MIN_MS <= value <= RUN_TIME_MAX_MS else None
    return None


def bad_run_times(meta: dict[str, Any]) -> list[str]:
    """The fields of ``meta`` holding a start or end time that :func:`run_time` rejects."""
    return [
        name
        for name in ("start_time", "end_time")
        if meta.get(name) is not None and run_time(meta[name]) is None and not isinstance(meta[name], str)
    ]


def int64(value: Any) -> int:
    """``int(value)``; ValueError outside the 64-bit signed range (an old release wrote such steps)."""
    number = int(value)
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError(f"{number} is outside the 64-bit signed range")
    return number


def metric_history(run_dir: Path, key: str, strict: bool = False) -> list[Metric]:
    return [
        Metric(key=key, value=v, timestamp=ts, step=s) for s, ts, v in read_series(series_path(run_dir, key), strict)
    ]


# -- liveness --------------------------------------------------------------------------------
def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:  # a killed child not yet reaped by its parent is a zombie: dead for our purposes
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


HOSTNAME = socket.gethostname()

# A run several processes ended takes the worst of their statuses: a failure over a kill (a
# launcher kills the other ranks when one fails) over a clean end. Other statuses rank lowest.
_SEVERITY = {RunStatus.FINISHED: 1, RunStatus.KILLED: 2, RunStatus.FAILED: 3}


def worst_status(statuses: Iterable[str]) -> str:
    """The worst of ``statuses`` (FAILED over KILLED over FINISHED); the first of equals."""
    return max(statuses, key=lambda s: _SEVERITY.get(s, 0))


def process_id() -> str:
    """This process as heartbeats name it, ``<host>-<pid>`` (the PID is read each time: a forked child has its own)."""
    return f"{HOSTNAME}-{os.getpid()}"


def heartbeat_name() -> str:
    """This process's heartbeat file name, for a run it resumed."""
    return HEARTBEAT_PREFIX + process_id()


def heartbeats(names: Iterable[str]) -> list[str]:
    """The heartbeat files among a run directory's entries."""
    return [n for n in names if n.startswith(HEARTBEAT_PREFIX) and n != OUTCOMES_FILE]


def lock_holder(run_dir: Path) -> str | None:
    """The process whose heartbeat the run's ``.lock`` is (``<host>-<pid>``, written by the process
    that started the run); None when the file is empty (emptied when it left, or a lock only) or absent."""
    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        data = os.read(fd, 512)
    except OSError:
        data = b""
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace").strip() or None


def attached_processes(run_dir: Path, names: Iterable[str], holder: str | None = None) -> dict[str, list[Path]]:
    """The processes attached to a RUNNING run, ``<host>-<pid>`` -> its heartbeats: the ``.heartbeat-*``
    files, and the ``.lock`` for the process that started the run (docs/format.md, "Heartbeats and
    the KILLED rule"). ``holder``: what the ``.lock`` names, when the caller knows (it wrote it)."""
    names = list(names)
    out: dict[str, list[Path]] = {n[len(HEARTBEAT_PREFIX) :]: [run_dir / n] for n in heartbeats(names)}
    if LOCK_FILE in names:
        holder = holder or lock_holder(run_dir)
        if holder:
            out.setdefault(holder, []).append(run_dir / LOCK_FILE)
    return out


def process_alive(process: str, beats: Iterable[Path], now: float) -> bool:
    """On this host, while its PID lives; from another host, while one of its heartbeats' mtime is fresh."""
    host, _, pid = process.rpartition("-")
    if host == HOSTNAME and pid.isdigit():
        return pid_alive(int(pid))
    for path in beats:
        try:
            if now - path.stat().st_mtime < HEARTBEAT_TIMEOUT_S:
                return True
        except FileNotFoundError:
            continue
    return False


def drop_heartbeats(beats: Iterable[Path]) -> None:
    """Remove a process's heartbeats: its file is deleted, the ``.lock`` emptied (it stays the lock)."""
    for path in beats:
        try:
            if path.name == LOCK_FILE:
                os.truncate(path, 0)
            else:
                os.unlink(path)
        except FileNotFoundError:
            pass


def read_outcomes(run_dir: Path) -> dict[str, str]:
    """``<host>-<pid>`` -> the status that process ended the run with (its last line wins)."""
    out: dict[str, str] = {}
    try:
        with open(run_dir / OUTCOMES_FILE, encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                if len(fields) >= 2 and fields[1] in RunStatus.ALL and line.endswith("\n"):
                    out[fields[0]] = fields[1]
    except FileNotFoundError:
        pass
    return out


def effective_status(run_dir: Path, meta: dict[str, Any]) -> str:
    """The status to report: a RUNNING run whose processes are gone has ended.

    Each process attached to a run keeps a heartbeat: the process that started it, the run's
    ``.lock`` (which names it); each that resumed it, a file ``.heartbeat-<host>-<pid>`` (all
    local-only). On this host a heartbeat counts while its pid lives; from another host (shared
    file system) while its mtime is fresh. While any counts, the run is RUNNING, whatever the
    processes that already ended it recorded (``.heartbeat-outcomes``). When none does, the run
    reads as the worst of those outcomes and KILLED for each dead heartbeat. With no heartbeat at
    all (e.g. a clone, or a run of ``Client.create_run``), the run's own host and pid decide, and a
    run from another host stays RUNNING (nothing proves otherwise).
    """
    status = meta.get("status", RunStatus.RUNNING)
    if status != RunStatus.RUNNING:
        return str(status)
    names = _list(run_dir)
    beats = attached_processes(run_dir, names)
    ended = read_outcomes(run_dir) if OUTCOMES_FILE in names else {}
    if beats:
        now = time.time()
        if any(process_alive(process, paths, now) for process, paths in beats.items()):
            return RunStatus.RUNNING
        # A dead heartbeat is a killed process, unless it recorded its end (killed just after).
        killed = [RunStatus.KILLED for process in beats if process not in ended]
        return worst_status([*killed, *ended.values()])
    if ended:  # every attached process ended it, but the last one's final write is missing
        return worst_status(ended.values())
    if meta.get("host") == HOSTNAME and isinstance(meta.get("pid"), int) and not pid_alive(meta["pid"]):
        return RunStatus.KILLED
    return RunStatus.RUNNING


def _list(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return []


# -- whole runs ------------------------------------------------------------------------------
@dataclass
class RunRecord:
    """Everything the store knows about one run, as read from its files."""

    run_id: str
    experiment_id: str
    run_dir: Path
    meta: dict[str, Any]
    status: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    summaries: dict[str, MetricSummary] = field(default_factory=dict)

    @property
    def lifecycle_stage(self) -> str:
        return stage_of(self.meta)

    @property
    def run_name(self) -> str:
        return name_of(self.meta, self.tags)

    @property
    def start_time(self) -> int:
        return run_time(self.meta.get("start_time")) or 0

    @property
    def end_time(self) -> int | None:
        return run_time(self.meta.get("end_time"))

    @property
    def metrics(self) -> dict[str, float]:
        return {k: s.latest for k, s in self.summaries.items()}


def stage_of(meta: dict[str, Any]) -> str:
    """A run's lifecycle stage from its ``meta.json``: ``active`` unless it says otherwise."""
    return str(meta.get("lifecycle_stage", LifecycleStage.ACTIVE))


def name_of(meta: dict[str, Any], tags: dict[str, str]) -> str:
    """A run's name: ``meta.json``'s, else its ``mlflow.runName`` tag, else empty."""
    return str(meta.get("run_name") or tags.get(RUN_NAME) or "")


def read_run(run_dir: Path, experiment_id: str, strict: bool = False) -> RunRecord | None:
    """Read one run directory; None (with a warning) when its ``meta.json`` is unreadable."""
    meta = read_json_file(run_dir / "meta.json", strict, None)
    if meta is None:
        if not (run_dir / "meta.json").exists() and not holds_only_local_files(run_dir):
            problem(f"{run_dir}: no meta.json; skipping this run directory", strict)
        return None
    return build_record(
        run_dir,
        experiment_id,
        meta,
        params=read_json_file(run_dir / "params.json", strict, {}),
        tags=read_json_file(run_dir / "tags.json", strict, {}),
        summaries=read_summaries(run_dir, strict),
        strict=strict,
    )


def holds_only_local_files(run_dir: Path) -> bool:
    """True for a run folder with nothing but gitrun's local files (``.lock``, heartbeats, temp
    files), as a checkout of a branch without the run leaves it: not a run, and no problem."""
    for dirpath, _dirnames, filenames in os.walk(run_dir):
        parts = Path(dirpath).relative_to(run_dir).parts
        if any(not local_in_run([*parts, name]) for name in filenames):
            return False
    return True


def build_record(
    run_dir: Path,
    experiment_id: str,
    meta: Any,
    params: Any,
    tags: Any,
    summaries: dict[str, MetricSummary],
    strict: bool = False,
) -> RunRecord | None:
    """A record from parsed run files (the working tree's, or blobs of a past commit)."""
    if not isinstance(meta, dict):
        problem(f"{run_dir / 'meta.json'}: expected a JSON object; skipping this run", strict)
        return None
    run_id = run_dir.name
    if meta.get("run_id", run_id) != run_id:
        problem(f"{run_dir / 'meta.json'}: run_id {meta.get('run_id')!r} differs from the directory name", strict)
    for name in bad_run_times(meta):
        problem(f"{run_dir / 'meta.json'}: {name} {meta[name]!r} is not a date in milliseconds; ignoring it", strict)
    return RunRecord(
        run_id=run_id,
        experiment_id=experiment_id,
        run_dir=run_dir,
        meta=meta,
        status=effective_status(run_dir, meta),
        params=str_dict(params, lambda: str(run_dir / "params.json"), strict),
        tags=str_dict(tags, lambda: str(run_dir / "tags.json"), strict),
        summaries=summaries,
    )
