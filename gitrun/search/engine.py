"""Run search over a store: scan, filter, sort (MLflow's order), cut to ``max_results``, load.

Only the runs that make the final page are read completely; every other run costs its
``meta.json`` plus the files its filter and sort keys live in (and, with the index, only their
signatures). The result is a list of :class:`~gitrun.search.rows.RunRow`, turned into records,
``Run`` objects or a DataFrame by ``gitrun.search.api``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from gitrun.entities import LifecycleStage, ViewType
from gitrun.errors import InvalidInputError
from gitrun.search import index as _index
from gitrun.search.evaluate import compile_filter, sort_rows
from gitrun.search.grammar import OrderBy, parse_filter, parse_order_by
from gitrun.search.rows import RunRow, Scan
from gitrun.store import datasets, experiment_not_found, record_to_run
from gitrun.store.layout import DEFAULT_EXPERIMENT_ID, canonical_experiment_id

if TYPE_CHECKING:
    from gitrun.entities import Run
    from gitrun.store import ReadStore, RunRecord


def parse_order_list(order_by: Sequence[str] | str | None) -> list[OrderBy]:
    if order_by is None:
        return []
    if isinstance(order_by, str):
        order_by = [order_by]
    for clause in order_by:
        if not isinstance(clause, str):
            raise InvalidInputError(
                f"order_by takes clauses as strings, e.g. ['metrics.acc DESC', 'start_time'], not {clause!r}"
            )
    return [parse_order_by(clause) for clause in order_by]


def resolve_experiment_ids(store: ReadStore, experiment_ids: Sequence[str] | str | None) -> list[str]:
    """Every experiment for None; otherwise the given IDs, which must exist (as MLflow checks)."""
    if experiment_ids is None:
        return store.experiment_ids()
    given = [experiment_ids] if isinstance(experiment_ids, str) else experiment_ids
    ids = [canonical_experiment_id(e) for e in given]
    for experiment_id in ids:
        if experiment_id != DEFAULT_EXPERIMENT_ID and not store.layout.experiment_dir(experiment_id).is_dir():
            raise experiment_not_found(experiment_id, store.where, store.list_experiments(ViewType.ALL), "ID")
    return list(dict.fromkeys(ids))


@contextmanager
def open_scan(store: ReadStore, use_index: bool | None = None) -> Iterator[Scan]:
    """A scan of ``store``'s runs; with the index, it is loaded first and saved after if it changed."""
    store.check_readable()
    indexed = _index.enabled(use_index) and store.layout.exists()
    if not indexed:
        scan = Scan(store.strict, None, 0)
        try:
            yield scan
        finally:
            scan.close()
        return
    path = _index.index_path(store.layout.cache_dir)
    with _index.lock:
        scan = Scan(store.strict, _index.load(path), time.time_ns() - _index.SETTLE_NS)
        try:
            yield scan
            scan.seal()
        finally:
            scan.close()
        if scan.dirty:
            assert scan.index is not None
            for experiment_id in [e for e in scan.index if not store.layout.experiment_dir(e).is_dir()]:
                del scan.index[experiment_id]  # experiments removed from disk
            _index.save(path, scan.index)


def iter_rows(store: ReadStore, scan: Scan, experiment_ids: list[str], view_type: int) -> Iterator[RunRow]:
    """Rows of the visible runs of the given experiments, with ``meta.json`` read."""
    index = scan.index
    for experiment_id in experiment_ids:
        runs_dir = str(store.layout.runs_dir(experiment_id))
        names = _list_dirs(runs_dir)
        fd = scan.open_dir(runs_dir) if names else None
        old = index.get(experiment_id, {}) if index is not None else None
        current: dict[str, dict] = {}
        for run_id in names:
            entry = None
            if old is not None:
                entry = old.get(run_id)
                if not isinstance(entry, dict):
                    entry = {}
                current[run_id] = entry
            row = RunRow(scan, experiment_id, run_id, runs_dir, fd, entry)
            row.check_folder()
            scan.counts["runs"] += 1
            if not row.load_meta():
                current.pop(run_id, None)
                continue
            if row.entry is None and index is not None:
                current.pop(run_id, None)
            stage = row.lifecycle_stage
            if view_type != ViewType.ALL and (stage == LifecycleStage.DELETED) != (view_type == ViewType.DELETED_ONLY):
                continue
            yield row
        if index is not None and old is not None:
            current = {k: v for k, v in current.items() if v}
            if current.keys() != old.keys():
                scan.dirty = True
            if current or experiment_id in index:
                index[experiment_id] = current


def _list_dirs(folder: str) -> list[str]:
    import os

    try:
        with os.scandir(folder) as entries:
            return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []


def search_rows(
    store: ReadStore,
    experiment_ids: Sequence[str] | str | None,
    filter_string: str | None = "",
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    order_by: Sequence[str] | str | None = None,
    use_index: bool | None = None,
) -> list[RunRow]:
    """The runs matching ``filter_string``, in ``order_by`` order, at most ``max_results``, fully loaded."""
    predicate = compile_filter(parse_filter(filter_string))
    orders = parse_order_list(order_by)
    view_type = ViewType.from_any(run_view_type)
    if max_results is not None and int(max_results) < 0:
        raise InvalidInputError(f"max_results must be a positive number, not {max_results}")
    ids = resolve_experiment_ids(store, experiment_ids)
    if store.revision is not None:  # a past commit: records come from Git objects, not files
        found = [RecordRow(r, store) for r in store.iter_runs(ids, view_type)]
        found = sort_rows([r for r in found if predicate is None or predicate(r)], orders)
        return found[: int(max_results)] if max_results is not None else found  # type: ignore[return-value]
    with _gc_paused(), open_scan(store, use_index) as scan:
        rows = [row for row in iter_rows(store, scan, ids, view_type) if predicate is None or predicate(row)]
        rows = sort_rows(rows, orders)
        if max_results is not None:
            rows = rows[: int(max_results)]
        for row in rows:
            row.load_all()
    return rows


class RecordRow:
    """A :class:`RunRecord` (already read, e.g. from a past commit) seen through the interface of
    :class:`~gitrun.search.rows.RunRow`, so filtering, ordering and result shapes are shared."""

    __slots__ = ("experiment_id", "meta", "record", "run_id", "store")

    def __init__(self, record: RunRecord, store: ReadStore):
        self.record = record
        self.store = store
        self.run_id = record.run_id
        self.experiment_id = record.experiment_id
        self.meta = record.meta

    def metric(self, key: str) -> float | None:
        summary = self.record.summaries.get(key)
        return None if summary is None else summary.latest

    def param(self, key: str) -> str | None:
        return self.record.params.get(key)

    def tag(self, key: str) -> str | None:
        return self.record.tags.get(key)

    def datasets(self, key: str) -> list[str]:
        return datasets.field_values(self.store.read_inputs(self.record), key)

    def attribute(self, key: str) -> Any:
        r = self.record
        values = {
            "start_time": r.start_time,
            "end_time": r.end_time,
            "status": r.status,
            "run_name": r.run_name,
            "run_id": r.run_id,
            "user_id": str(r.meta.get("user") or ""),
            "artifact_uri": self.artifact_uri(),
        }
        return values[key]

    def status(self) -> str:
        return self.record.status

    def artifact_uri(self) -> str:
        return (self.record.run_dir / "artifacts").as_uri()

    @property
    def lifecycle_stage(self) -> str:
        return self.record.lifecycle_stage

    def load_all(self) -> None:
        pass

    def params(self) -> dict[str, str]:
        return self.record.params

    def tags(self) -> dict[str, str]:
        return self.record.tags

    def metrics(self) -> dict[str, float]:
        return self.record.metrics

    def to_record(self) -> RunRecord:
        return self.record

    def to_run(self) -> Run:
        return record_to_run(self.record)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a search allocates many small acyclic objects (parsed
    JSON, the loaded index), and collections triggered by them would only re-scan live data."""
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
