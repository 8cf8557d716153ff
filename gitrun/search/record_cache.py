"""Parsed run records keyed by content: ``.gitrun/.cache/records.bin``, local, never committed.

A committed run's directory has a Git tree ID, and that ID changes whenever any file of the run
does. So the record parsed from a run once (``meta.json``, ``params.json``, ``tags.json``, the
metric summaries) is valid at every commit that holds the same tree: a diff, a search at a
revision, a site built at ``--rev`` and the history page read a run's files from Git only the first
time they meet that tree (:class:`gitrun.vcs.revision.RevisionStore`); after that, not even the
run's tree is listed.

The file uses the search index's container (:mod:`gitrun.search.index`: ``marshal``, a header
naming the Python and the cache folder, a CRC-32), under its own magic line. It is derived data:
safe to delete, rebuilt when missing, from another Python or format, or damaged (warned). The
effective status is not stored but recomputed from ``meta.json`` on every read (a RUNNING run of
this host whose process died reads as KILLED, as without the cache). A run whose files produced a
warning is not cached, so the warning shows on every read.

Several processes: entries never change (a tree ID names one content), so :meth:`RecordCache.save`
merges this process's new entries into what the file holds at that moment and renames a whole
new file over it; two writers racing can at worst drop each other's newest entries, read again
next time. A read-only or full cache folder only costs speed (:func:`gitrun.search.index.save`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitrun.entities import MetricSummary
from gitrun.search import index
from gitrun.store import RunRecord
from gitrun.store.reader import effective_status

NAME = "records.bin"
MAGIC = b"gitrun-record-cache\n"
MAX_ENTRIES = 1_000_000  # beyond this the oldest entries are dropped (about 500 MB of records)

# tree ID -> (meta, params, tags, summaries as (key, latest, min, max, step, timestamp, count) tuples)
Entry = tuple[dict[str, Any], dict[str, str], dict[str, str], tuple[tuple[Any, ...], ...]]


def _valid(data: dict[str, Any]) -> bool:
    return all(type(v) is tuple and len(v) == 4 for v in data.values())


class RecordCache:
    """The record cache of one store (``cache_dir`` is its ``.gitrun/.cache``)."""

    def __init__(self, cache_dir: Path):
        self.path = cache_dir / NAME
        self._entries: dict[str, Entry] = index.load_file(self.path, MAGIC, _valid)
        self._new: dict[str, Entry] = {}

    def __len__(self) -> int:
        return len(self._entries) + len(self._new)

    def get(self, tree: str, run_dir: Path, experiment_id: str) -> RunRecord | None:
        """The record of the run whose directory has Git tree ``tree``, or None when not cached."""
        entry = self._entries.get(tree) or self._new.get(tree)
        if entry is None:
            return None
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

    def put(self, tree: str, record: RunRecord) -> None:
        summaries = tuple(
            (s.key, s.latest, s.min, s.max, s.step, s.timestamp, s.count) for s in record.summaries.values()
        )
        self._new[tree] = (record.meta, record.params, record.tags, summaries)

    def save(self) -> None:
        """Write the new entries, merged with what the file holds now (another process may have added some)."""
        if not self._new:
            return
        merged = {**index.load_file(self.path, MAGIC, _valid), **self._entries, **self._new}
        if len(merged) > MAX_ENTRIES:
            merged = dict(list(merged.items())[-MAX_ENTRIES:])
        index.save(self.path, merged, MAGIC)
        self._entries, self._new = merged, {}
