"""Parsed run records keyed by content: ``.gitrun/.cache/records.bin`` (committed runs) and
``work-records.bin`` (the work tree's), local, never committed.

A committed run's directory has a Git tree ID, and that ID changes whenever any file of the run
does. So the record parsed from a run once (``meta.json``, ``params.json``, ``tags.json``, the
metric summaries) is valid at every commit that holds the same tree: a diff, a search at a
revision, a site built at ``--rev`` and the history page read a run's files from Git only the first
time they meet that tree (:class:`gitrun.vcs.revision.RevisionStore`); after that, not even the
run's tree is listed.

Both files use the search index's container (:mod:`gitrun.search.index`: ``marshal``, a header
naming the Python and the cache folder, a CRC-32), under its own magic line. It is derived data:
safe to delete, rebuilt when missing, from another Python or format, or damaged (warned). The
effective status is not stored but recomputed from ``meta.json`` on every read (a RUNNING run of
this host whose process died reads as KILLED, as without the cache). A run whose files produced a
warning is not cached, so the warning shows on every read.

Several processes: entries never change (a tree ID names one content), so :meth:`RecordCache.save`
merges this process's new entries into what the file holds at that moment and renames a whole
new file over it; two writers racing can at worst drop each other's newest entries, read again
next time. The work tree's file holds the view of the last process that read it (each checked
every run it read). A read-only or full cache folder only costs speed (:func:`gitrun.search.index.save`).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from sys import intern
from typing import Any

from gitrun.entities import MetricSummary, RunStatus, ViewType
from gitrun.search import index
from gitrun.store import ReadStore, RunRecord, _list_dirs, _visible
from gitrun.store.reader import effective_status, name_of, read_run, run_time, stage_of

NAME = "records.bin"  # committed runs, by tree ID
MAGIC = b"gitrun-record-cache\n"
WORK_NAME = "work-records.bin"  # work-tree runs, by folder
WORK_MAGIC = b"gitrun-work-record-cache\n"
MAX_ENTRIES = 1_000_000  # beyond this the oldest entries are dropped (about 500 MB of records)
INTERN_UP_TO = 64  # string values up to this length are shared between entries (statuses, users, params)
WORK = "work"  # where records.bin kept the work tree's part before it had a file of its own (ignored)

# tree ID -> (meta, params, tags, summaries as (key, latest, min, max, step, timestamp, count) tuples)
Entry = tuple[dict[str, Any], dict[str, str], dict[str, str], tuple[tuple[Any, ...], ...]]
Fingerprint = tuple[int, int]  # (inode, mtime_ns) of a run's folder


@dataclass(frozen=True, slots=True)
class RunBrief:
    """The little of a run that ranking reads (:mod:`gitrun.ranking`) and a diff counts, taken from
    a cache entry without building a :class:`~gitrun.store.RunRecord`: a diff ranks the runs that
    are the same on both sides (100,000 of them, say) with these."""

    run_id: str
    run_name: str
    end_time: int | None
    lifecycle_stage: str
    metrics: dict[str, float]

    @classmethod
    def of(cls, record: RunRecord) -> RunBrief:
        return cls(record.run_id, record.run_name, record.end_time, record.lifecycle_stage, record.metrics)


def _valid(data: dict[str, Any]) -> bool:
    return all((type(v) is tuple and len(v) == 4) or (k == WORK and type(v) is dict) for k, v in data.items())


def _valid_work(data: dict[str, Any]) -> bool:
    return all(type(v) is tuple and len(v) == 2 and type(v[1]) is tuple and len(v[1]) == 4 for v in data.values())


class RecordCache:
    """The record cache of one store (``cache_dir`` is its ``.gitrun/.cache``).

    Two files, each loaded on first use: ``records.bin`` (committed runs, by tree ID) and
    ``work-records.bin`` (the work tree's runs), so a reader of one never pays for the other: a
    site built from the work tree at 100,000 runs does not load the committed entries its diffs
    left behind, and a diff between two commits does not load the work tree's.
    """

    def __init__(self, cache_dir: Path):
        self.path = cache_dir / NAME
        self.work_path = cache_dir / WORK_NAME
        self._new: dict[str, Entry] = {}
        self._work_changed = False

    @cached_property
    def _entries(self) -> dict[str, Any]:
        return index.load_file(self.path, MAGIC, _valid)

    @cached_property
    def _work(self) -> dict[str, tuple[Fingerprint, Entry]]:
        return dict(index.load_file(self.work_path, WORK_MAGIC, _valid_work))

    def __len__(self) -> int:
        """How many committed runs are cached."""
        return len(self._entries) - (WORK in self._entries) + len(self._new)

    def _entry(self, tree: str) -> Entry | None:
        return None if tree == WORK else self._entries.get(tree) or self._new.get(tree)

    def get(self, tree: str, run_dir: Path, experiment_id: str) -> RunRecord | None:
        """The record of the run whose directory has Git tree ``tree``, or None when not cached."""
        entry = self._entry(tree)
        return None if entry is None else _unpack(entry, run_dir, experiment_id)

    def brief(self, tree: str, run_id: str) -> RunBrief | None:
        """:meth:`get` reduced to a :class:`RunBrief`, without copying the entry."""
        entry = self._entry(tree)
        if entry is None:
            return None
        meta, _, tags, summaries = entry
        return RunBrief(
            run_id, name_of(meta, tags), run_time(meta.get("end_time")), stage_of(meta), {s[0]: s[1] for s in summaries}
        )

    def put(self, tree: str, record: RunRecord) -> None:
        self._new[tree] = _pack(record)

    def get_work(self, run_dir: Path, fingerprint: Fingerprint, experiment_id: str) -> RunRecord | None:
        """The record of a work-tree run folder, when cached with the same fingerprint."""
        cached = self._work.get(str(run_dir))
        if cached is None or cached[0] != fingerprint:
            return None
        return _unpack(cached[1], run_dir, experiment_id)

    def put_work(self, run_dir: Path, fingerprint: Fingerprint, record: RunRecord) -> None:
        self._work[str(run_dir)] = (fingerprint, _pack(record))
        self._work_changed = True

    def save(self) -> None:
        """Write what changed: the new committed entries merged with what ``records.bin`` holds now
        (another process may have added some), and this process's view of the work tree (it just
        checked every run it read)."""
        if self._new:
            merged = {**index.load_file(self.path, MAGIC, _valid), **self._entries, **self._new}
            merged.pop(WORK, None)
            if len(merged) > MAX_ENTRIES:
                merged = dict(list(merged.items())[-MAX_ENTRIES:])
            index.save(self.path, merged, MAGIC)
            self.__dict__["_entries"], self._new = merged, {}
        if self._work_changed:
            index.save(self.work_path, self._work, WORK_MAGIC)
            self._work_changed = False


def _pack(record: RunRecord) -> Entry:
    """A record as a cache entry. Keys and short string values are interned: ``marshal`` then
    writes each once per file and loads one object for all runs ("status", "FINISHED", "lr"...),
    which halves the memory of a loaded cache of 100,000 runs."""
    summaries = tuple(
        (intern(s.key), s.latest, s.min, s.max, s.step, s.timestamp, s.count) for s in record.summaries.values()
    )
    return (_interned(record.meta), _interned(record.params), _interned(record.tags), summaries)


def _interned(values: dict[str, Any]) -> dict[str, Any]:
    return {intern(k): intern(v) if type(v) is str and len(v) <= INTERN_UP_TO else v for k, v in values.items()}


def _unpack(entry: Entry, run_dir: Path, experiment_id: str) -> RunRecord:
    meta, params, tags, summaries = entry
    meta = dict(meta)  # copies: a caller may change its record, never the cache's
    return RunRecord(
        run_id=run_dir.name,
        experiment_id=experiment_id,
        run_dir=run_dir,
        meta=meta,
        status=effective_status(run_dir, meta),
        params=dict(params),
        tags=dict(tags),
        summaries={s[0]: MetricSummary(*s) for s in summaries},
    )


def iter_runs(
    store: ReadStore, experiment_ids: Iterable[str] | None = None, view_type: int = ViewType.ACTIVE_ONLY
) -> Iterator[RunRecord]:
    """``store.iter_runs`` through the record cache; the same records, in the same order.

    A work-tree run is taken from the cache when its folder's inode and mtime are those it was
    cached with: one ``stat`` per run. Every file of a record (``meta.json``, ``params.json``,
    ``tags.json``, ``metrics.json``) is replaced by a rename, which changes the folder's mtime;
    series appends do not, so runs whose ``meta.json`` says RUNNING are never cached (read from
    their files every time), and a write to a run that has ended touches its folder
    (:meth:`gitrun.store.Store.writable`). Folders changed in the last two seconds are not cached
    (two renames in one file-time tick leave the mtime as it was). A view of a commit has its own
    cache by Git tree ID (:class:`gitrun.vcs.revision.RevisionStore`).
    """
    if store.revision is not None:
        yield from store.iter_runs(experiment_ids, view_type)
        return
    store.check_readable()
    cache = RecordCache(store.layout.cache_dir)
    settled = time.time_ns() - index.SETTLE_NS
    ids = store.experiment_ids() if experiment_ids is None else [str(e) for e in experiment_ids]
    try:
        for experiment_id in ids:
            yield from _experiment_runs(store, cache, experiment_id, settled, view_type)
    finally:
        cache.save()  # once, after every experiment (or when the caller stops early)


def _experiment_runs(
    store: ReadStore, cache: RecordCache, experiment_id: str, settled: int, view_type: int
) -> Iterator[RunRecord]:
    """One experiment's runs for :func:`iter_runs`, its warnings re-emitted once all are read."""
    out = []
    runs_dir = store.layout.runs_dir(experiment_id)
    folders = _list_dirs(runs_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for run_id in folders:
            run_dir = runs_dir / run_id
            try:
                st = os.stat(run_dir)
            except FileNotFoundError:
                continue
            fingerprint = (st.st_ino, st.st_mtime_ns)
            record = cache.get_work(run_dir, fingerprint, experiment_id)
            if record is None:
                before = len(caught)
                record = read_run(run_dir, experiment_id, store.strict)
                cacheable = record is not None and len(caught) == before and st.st_mtime_ns < settled
                if record is not None and cacheable and record.meta.get("status") != RunStatus.RUNNING:
                    cache.put_work(run_dir, fingerprint, record)
            if record is not None:
                out.append(record)
    for warning in caught:  # shown as without the cache (a run that warned is not cached)
        warnings.warn(warning.message, warning.category, stacklevel=3)
    yield from (r for r in out if _visible(r.lifecycle_stage, view_type))
