"""Runs as a search sees them: read lazily from the files, or from the index after a cheap check.

A :class:`RunRow` reads only what the filter and the sort ask for (``meta.json`` always, then
``params.json`` for a ``params.*`` condition, ``metrics.json`` plus one series file's size for a
``metrics.*`` one); the runs that make the final page are then read completely. With the index
(``gitrun.search.index``) each of those parts comes from the cache when the signatures of the
files it was computed from still match, and is read and re-cached when they do not.

What a row reports is exactly what :func:`gitrun.store.reader.read_run` reports for the same
files: well-formed files take a fast path here; anything unusual (a JSON syntax error, a bad
summary entry, a torn series line...) is handed to the reader's own functions, which warn (or
raise in strict mode) as they always do, and that part is not cached.
"""

from __future__ import annotations

import json
import os
import re
import stat as statmod
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from gitrun.entities import DatasetInput, MetricSummary, Run, RunData, RunInfo, RunStatus
from gitrun.store import datasets, reader, series
from gitrun.store.textio import from_json_number
from gitrun.store.validation import RUN_TIME_MAX_MS, RUN_TIME_MIN_MS
from gitrun.tags import RUN_NAME

Sig = int  # hash of (st_ino, st_size, st_mtime_ns); None for a missing file
Summary = tuple  # (latest, min, max, step, timestamp, count)

_DIR_FD = os.open in os.supports_dir_fd and os.stat in os.supports_dir_fd
_O_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


class Scan:
    """Shared state of one search: store options, open directory handles, the index, counters."""

    def __init__(self, strict: bool, index: dict[str, dict[str, dict[str, Any]]] | None, settled_before_ns: int):
        self.strict = strict
        self.index = index  # experiment_id -> run_id -> entry, or None without an index
        self.settled_before_ns = settled_before_ns
        self.dirty = False
        self.fds: list[int] = []
        self.counts = {"runs": 0, "reads": 0, "fallbacks": 0, "trusted": 0}
        self.unsealed: list[tuple[RunRow, int]] = []  # rows read file by file, and their folder's signature

    def seal(self) -> None:
        """Mark the index entries of the rows read file by file with their folder's signature, so
        the next scan takes them without a ``stat`` per file (:meth:`RunRow.check_folder`)."""
        for row, folder in self.unsealed:
            entry = row.entry
            if (
                entry is not None
                and not row.uncacheable
                and row.meta.get("status", RunStatus.RUNNING) != RunStatus.RUNNING
            ):
                entry["dir"] = folder
                self.dirty = True
        self.unsealed.clear()

    def open_dir(self, path: str) -> int | None:
        if not _DIR_FD:
            return None
        try:
            fd = os.open(path, _O_FLAGS | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return None
        self.fds.append(fd)
        return fd

    def close(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds.clear()

    def settled(self, st: os.stat_result | None) -> bool:
        """True when a file's signature can be trusted later: not modified in the last moments.

        File times tick coarsely (a few ms), so a same-size rewrite within one tick keeps its
        signature; like Git's "racily clean" rule, recent files are read but not cached.
        """
        return st is None or st.st_mtime_ns < self.settled_before_ns


def _sig(st: os.stat_result | None) -> Sig | None:
    """A file's signature: one int (compact in the index), None when the file is missing."""
    return None if st is None else hash((st.st_ino, st.st_size, st.st_mtime_ns))


def _intern(d: dict[str, Any]) -> dict[str, Any]:
    """The same dict with shared key strings (and short values), so the index file stores each once."""
    intern = sys.intern
    return {intern(k): intern(v) if type(v) is str and len(v) <= 24 else v for k, v in d.items()}


def _loads(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError:
        return _BAD


_BAD = object()


def _str_dict(data: Any) -> dict[str, str] | None:
    """read_str_dict's conversion for a well-formed file; None when the reader would complain."""
    if not isinstance(data, dict):
        return None
    for value in data.values():
        if not isinstance(value, str):
            return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    return data


def _summary_tuple(s: MetricSummary) -> Summary:
    return (s.latest, s.min, s.max, s.step, s.timestamp, s.count)


_URI_SAFE = re.compile(r"[A-Za-z0-9_.~-]+")


@lru_cache(maxsize=64)
def _dir_uri(folder: str) -> str:
    return Path(folder).as_uri()


@lru_cache(maxsize=4096)
def valid_metric_key(key: str) -> bool:
    """Whether ``metrics/<key>.tsv`` is a place the reader's walk could find (no '', '.' or '..' part)."""
    return all(p and p not in (".", "..") and "\x00" not in p for p in key.split("/"))


class RunRow:
    """One run during a search; implements the lookups of :class:`gitrun.search.evaluate.Lookup`.

    Index entry layout (a dict, so the file stays readable by a debugger): ``"meta"``,
    ``"params"``, ``"tags"``: ``(signature, value)``; ``"mj"``: signature of ``metrics.json`` the
    metric summaries were computed against; ``"mk"``: metric key -> ``(series signature,
    summary or None)``; ``"md"``: metric directory -> signature, present when ``"mk"`` lists
    every series of the run.
    """

    __slots__ = (
        "_complete",
        "_inputs",
        "_mj",
        "_mj_st",
        "_params",
        "_status",
        "_summaries",
        "_tags",
        "entry",
        "experiment_id",
        "fd",
        "meta",
        "run_dir",
        "run_id",
        "scan",
        "trusted",
        "uncacheable",
    )

    def __init__(
        self, scan: Scan, experiment_id: str, run_id: str, runs_dir: str, fd: int | None, entry: dict[str, Any] | None
    ):
        self.scan = scan
        self.experiment_id = experiment_id
        self.run_id = run_id
        self.run_dir = f"{runs_dir}{os.sep}{run_id}"
        self.fd = fd
        self.entry = entry
        self.meta: dict[str, Any] = {}
        self._params: dict[str, str] | None = None
        self._tags: dict[str, str] | None = None
        self._summaries: dict[str, Summary | None] = {}  # key -> summary (None: no such metric)
        self._complete = False  # _summaries holds every metric of the run
        self._mj: Any = None  # parsed metrics.json, once read
        self._mj_st: Any = _BAD  # stat of metrics.json, once taken
        self._status: str | None = None
        self._inputs: list[DatasetInput] | None = None  # inputs.json, read when a filter asks
        self.uncacheable = False
        self.trusted = False  # the folder is as when its entry was sealed: cached parts need no stat

    # -- file access -----------------------------------------------------------------------
    def _path(self, name: str) -> str:
        return f"{self.run_dir}/{name}"

    def _stat(self, name: str) -> os.stat_result | None:
        try:
            if self.fd is not None:
                return os.stat(f"{self.run_id}/{name}", dir_fd=self.fd)
            return os.stat(f"{self.run_dir}/{name}")
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _read(self, name: str) -> bytes | None:
        self.scan.counts["reads"] += 1
        try:
            if self.fd is not None:
                fd = os.open(f"{self.run_id}/{name}", _O_FLAGS, dir_fd=self.fd)
            else:
                fd = os.open(f"{self.run_dir}/{name}", _O_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            data = os.read(fd, 1 << 16)
            if len(data) == 1 << 16:
                chunks = [data]
                while chunk := os.read(fd, 1 << 20):
                    chunks.append(chunk)
                data = b"".join(chunks)
            return data
        finally:
            os.close(fd)

    def _fallback(self) -> None:
        """Read the whole run with the store's reader (which warns about what it finds)."""
        self.scan.counts["fallbacks"] += 1
        record = reader.read_run(Path(self.run_dir), self.experiment_id, self.scan.strict)
        self.uncacheable = True
        if self.entry is not None:
            self.entry.clear()
            self.entry = None
            self.scan.dirty = True
        if record is None:
            self.meta = {}
            raise _Unreadable
        self.meta = record.meta
        self._params = record.params
        self._tags = record.tags
        self._summaries = {k: _summary_tuple(s) for k, s in record.summaries.items()}
        self._complete = True
        self._status = record.status

    def _store(self, part: str, value: Any, *stats: os.stat_result | None) -> None:
        """Cache a part computed from files with these stats, unless one changed just now."""
        entry = self.entry
        if entry is None or self.uncacheable:
            return
        if all(s is None or s.st_mtime_ns < self.scan.settled_before_ns for s in stats):
            entry[part] = value
            self.scan.dirty = True
        elif entry.pop(part, None) is not None:
            self.scan.dirty = True

    # -- the folder ------------------------------------------------------------------------
    def check_folder(self) -> None:
        """One ``stat`` of the run's folder decides whether the entry's parts are taken as they are.

        Every file of a run but its series is replaced by a rename, which changes the folder's
        mtime; series appends do not, but a run that has ended is written to only through
        :meth:`gitrun.store.Store.writable`, which touches the folder first. So an entry sealed
        (:meth:`Scan.seal`) for a run that had ended, while its folder had this inode and mtime, is
        still right: its parts are used without a ``stat`` of their files. Any other entry is
        emptied and its parts read and checked file by file (a RUNNING run, one whose folder
        changed, or changed in the last seconds: two renames within one clock tick can leave the
        mtime as it was), then sealed at the end of the scan when the folder has settled."""
        entry = self.entry
        if entry is None:
            return
        try:
            st = os.stat(self.run_id, dir_fd=self.fd) if self.fd is not None else os.stat(self.run_dir)
        except (FileNotFoundError, NotADirectoryError):
            return
        folder = hash((st.st_ino, st.st_mtime_ns))
        if entry.get("dir") == folder:
            self.trusted = True
            self.scan.counts["trusted"] += 1
            return
        if entry:
            entry.clear()  # parts cached before a change the folder's mtime shows: none is trusted
            self.scan.dirty = True
        if st.st_mtime_ns < self.scan.settled_before_ns:
            self.scan.unsealed.append((self, folder))

    # -- meta --------------------------------------------------------------------------------
    def load_meta(self) -> bool:
        """Read ``meta.json``; False when the run is unreadable (the reader has warned)."""
        entry = self.entry
        st = None
        if entry is not None:
            cached = entry.get("meta")
            if cached is not None and self.trusted:
                self.meta = cached[1]
                return True
            st = self._stat("meta.json")
            if st is not None and cached is not None and cached[0] == _sig(st):
                self.meta = cached[1]
                return True
        data = self._read("meta.json") if entry is None or st is not None else None
        meta = _loads(data) if data is not None else _BAD
        if (
            type(meta) is not dict
            or meta.get("run_id", self.run_id) != self.run_id
            or not _plain_time(meta.get("start_time"))
            or not _plain_time(meta.get("end_time"))
        ):
            try:
                self._fallback()
            except _Unreadable:
                return False
            return True
        if entry is not None:
            meta = _intern(meta)
            self._store("meta", (_sig(st), meta), st)
        self.meta = meta
        return True

    # -- params and tags ---------------------------------------------------------------------
    def _str_part(self, part: str, name: str) -> dict[str, str]:
        entry = self.entry
        st = None
        if entry is not None:
            cached = entry.get(part)
            if cached is not None and self.trusted:
                return cached[1]  # type: ignore[no-any-return]
            st = self._stat(name)
            if cached is not None and cached[0] == _sig(st):
                return cached[1]  # type: ignore[no-any-return]
        data = self._read(name) if entry is None or st is not None else None
        value = {} if data is None else _str_dict(_loads(data))
        if value is None:
            self.uncacheable = True
            return reader.read_str_dict(Path(self._path(name)), self.scan.strict)
        if entry is not None:
            value = _intern(value)
            self._store(part, (_sig(st), value), st)
        return value

    def params(self) -> dict[str, str]:
        if self._params is None:
            self._params = self._str_part("params", "params.json")
        return self._params

    def tags(self) -> dict[str, str]:
        if self._tags is None:
            self._tags = self._str_part("tags", "tags.json")
        return self._tags

    # -- metrics -----------------------------------------------------------------------------
    def _metrics_json(self) -> dict[str, Any] | None:
        """Parsed ``metrics.json`` ({} when absent); None when malformed (use the reader)."""
        if self._mj is None:
            data = self._read("metrics.json")
            parsed = {} if data is None else _loads(data)
            self._mj = parsed if isinstance(parsed, dict) else _BAD
        return None if self._mj is _BAD else self._mj  # type: ignore[no-any-return]

    def _check_mj(self) -> os.stat_result | None:
        """Stat ``metrics.json`` (once); cached summaries computed against another version go."""
        if self._mj_st is _BAD:
            self._mj_st = st = self._stat("metrics.json")
            entry = self.entry
            if entry is not None and entry.get("mj", _BAD) != _sig(st):
                had = "mk" in entry
                entry.pop("mk", None)
                entry.pop("md", None)
                entry.pop("mj", None)
                if self.scan.settled(st) and not self.uncacheable:
                    entry["mj"] = _sig(st)
                    entry["mk"] = {}
                    self.scan.dirty = True
                elif had:
                    self.scan.dirty = True
        return self._mj_st  # type: ignore[no-any-return]

    def _series_stat(self, key: str) -> os.stat_result | None:
        """Stat of a series file; None when the run has no such series. A series whose content
        lives in DVC (only ``<key>.tsv.dvc`` here) is left to the reader (raises _NeedReader)."""
        st = self._stat(f"metrics/{key}.tsv")
        if st is None:
            if self._stat(f"metrics/{key}.tsv.dvc") is not None:
                raise _NeedReader
            return None
        return None if statmod.S_ISDIR(st.st_mode) else st

    def _compute(self, key: str, st: os.stat_result | None) -> Summary | None:
        """The reader's summary of one series (raises _NeedReader where the reader would warn)."""
        if st is None:
            return None
        stored = self._metrics_json()
        if stored is None:
            raise _NeedReader
        entry = stored.get(key)
        if isinstance(entry, dict):
            try:
                if entry.get("bytes") == st.st_size:
                    return (
                        from_json_number(entry["latest"]),
                        from_json_number(entry["min"]),
                        from_json_number(entry["max"]),
                        reader.int64(entry["step"]),
                        reader.int64(entry["timestamp"]),
                        int(entry["count"]),
                    )
            except (KeyError, TypeError, ValueError):
                raise _NeedReader from None
        data = self._read(f"metrics/{key}.tsv")
        try:
            points = series.parse_clean_series(data.decode("utf-8")) if data is not None else None
        except ValueError:
            points = None
        if points is None:
            raise _NeedReader
        summary = series.summarize(key, points)
        return None if summary is None else _summary_tuple(summary)

    def _reader_summaries(self) -> None:
        self.uncacheable = True
        self.scan.counts["fallbacks"] += 1
        found = reader.read_summaries(Path(self.run_dir), self.scan.strict)
        self._summaries = {k: _summary_tuple(s) for k, s in found.items()}
        self._complete = True

    def summary(self, key: str) -> Summary | None:
        summaries = self._summaries
        if key in summaries or self._complete:
            return summaries.get(key)
        if not valid_metric_key(key):
            summaries[key] = None
            return None
        entry = self.entry
        if self.trusted and "mk" in entry:  # type: ignore[operator]
            cached = entry["mk"].get(key)  # type: ignore[index]
            if cached is not None:
                summaries[key] = cached[1]
                return cached[1]  # type: ignore[no-any-return]
            if "md" in entry:  # type: ignore[operator]  # the cached listing is complete: no such series
                summaries[key] = None
                return None
        mj_st = self._check_mj() if entry is not None else None
        try:
            st = self._series_stat(key)
            known = entry.get("mk") if entry is not None else None
            if known is not None:
                cached = known.get(key)
                if cached is not None and cached[0] == _sig(st):
                    summaries[key] = cached[1]
                    return cached[1]  # type: ignore[no-any-return]
            value = self._compute(key, st)
        except _NeedReader:
            self._reader_summaries()
            return self._summaries.get(key)
        summaries[key] = value
        if known is not None and not self.uncacheable and self.scan.settled(st) and self.scan.settled(mj_st):
            known[sys.intern(key)] = (_sig(st), value)
            if st is not None:
                entry.pop("md", None)  # type: ignore[union-attr]  # a series the complete listing lacked
            self.scan.dirty = True
        return value

    def _walk(self) -> tuple[dict[str, os.stat_result], dict[str, os.stat_result]]:
        """Series files (key -> stat) and metric directories (relative path -> stat), found as
        :func:`gitrun.store.series.series_keys` finds them."""
        series: dict[str, os.stat_result] = {}
        dirs: dict[str, os.stat_result] = {}
        root = f"{self.run_dir}/metrics"
        try:
            st = os.stat(root)
        except (FileNotFoundError, NotADirectoryError):
            return series, dirs
        if not statmod.S_ISDIR(st.st_mode):
            return series, dirs
        dirs[""] = st
        stack = [(root, "")]
        while stack:
            folder, prefix = stack.pop()
            pointers = []
            with os.scandir(folder) as entries:
                for item in entries:
                    if item.is_dir(follow_symlinks=False):
                        stack.append((item.path, f"{prefix}{item.name}/"))
                        dirs[f"{prefix}{item.name}/"] = item.stat(follow_symlinks=False)
                    elif item.name.endswith(".tsv"):
                        series[prefix + item.name[:-4]] = item.stat()
                    elif item.name.endswith(".tsv.dvc"):
                        pointers.append(prefix + item.name[:-8])
            if any(key not in series for key in pointers):
                raise _NeedReader  # a series whose content is in DVC, not here: the reader knows
        return series, dirs

    def _dirs_unchanged(self, dirs: dict[str, Sig]) -> bool:
        return all(_sig(self._stat(f"metrics/{rel}")) == sig for rel, sig in dirs.items())

    def all_summaries(self) -> dict[str, Summary]:
        """Every metric's summary, as ``read_summaries`` computes them."""
        if not self._complete:
            self._load_all_metrics()
        return {k: s for k, s in self._summaries.items() if s is not None}

    def _load_all_metrics(self) -> None:
        entry = self.entry
        if self.trusted and "md" in entry and "mk" in entry:  # type: ignore[operator]
            self._summaries = {k: s for k, (sig, s) in entry["mk"].items() if sig is not None}  # type: ignore[index]
            self._complete = True
            return
        mj_st = self._check_mj() if entry is not None else None
        known = entry.get("mk") if entry is not None else None
        try:
            if (
                known is not None
                and "md" in entry  # type: ignore[operator]
                and self._dirs_unchanged(entry["md"])  # type: ignore[index]
                and all(_sig(self._series_stat(k)) == sig for k, (sig, _) in known.items() if sig is not None)
            ):
                self._summaries = {k: s for k, (sig, s) in known.items() if sig is not None}
                self._complete = True
                return
            series, dirs = self._walk()
            earlier = self._summaries
            result: dict[str, Summary | None] = {}
            for key, st in series.items():
                cached = known.get(key) if known is not None else None
                if cached is not None and cached[0] == _sig(st):
                    result[key] = cached[1]
                elif key in earlier and entry is None:
                    result[key] = earlier[key]  # read moments ago by the filter
                else:
                    result[key] = self._compute(key, st)
        except _NeedReader:
            self._reader_summaries()
            return
        self._summaries = result
        self._complete = True
        if known is not None and not self.uncacheable:
            stats = [mj_st, *series.values(), *dirs.values()]
            if all(self.scan.settled(s) for s in stats):
                entry["mk"] = {sys.intern(k): (_sig(series[k]), v) for k, v in result.items()}  # type: ignore[index]
                entry["md"] = {rel: _sig(st) for rel, st in dirs.items()}  # type: ignore[index]
                self.scan.dirty = True

    # -- lookups for filters and sorting -----------------------------------------------------
    def metric(self, key: str) -> float | None:
        s = self.summary(key)
        return None if s is None else s[0]

    def param(self, key: str) -> str | None:
        return self.params().get(key)

    def tag(self, key: str) -> str | None:
        return self.tags().get(key)

    def datasets(self, key: str) -> list[str]:
        """``datasets.name`` / ``.digest`` / ``.context`` of the run's dataset inputs (not indexed: rare)."""
        if self._inputs is None:
            self._inputs = datasets.read_inputs(Path(self.run_dir), self.scan.strict)
        return datasets.field_values(self._inputs, key)

    def attribute(self, key: str) -> Any:
        meta = self.meta
        if key == "start_time":
            return reader.run_time(meta.get("start_time")) or 0
        if key == "end_time":
            return reader.run_time(meta.get("end_time"))
        if key == "status":
            return self.status()
        if key == "run_name":
            return str(meta.get("run_name") or self.tags().get(RUN_NAME) or "")
        if key == "run_id":
            return self.run_id
        if key == "user_id":
            return str(meta.get("user") or "")
        if key == "artifact_uri":
            return self.artifact_uri()
        raise KeyError(key)

    def status(self) -> str:
        if self._status is None:
            status = self.meta.get("status", RunStatus.RUNNING)
            self._status = (
                reader.effective_status(Path(self.run_dir), self.meta) if status == RunStatus.RUNNING else str(status)
            )
        return self._status

    def artifact_uri(self) -> str:
        if _URI_SAFE.fullmatch(self.run_id):  # Path.as_uri() would leave the name as it is
            return f"{_dir_uri(self.run_dir[: -len(self.run_id) - 1])}/{self.run_id}/artifacts"
        return (Path(self.run_dir) / "artifacts").as_uri()

    @property
    def lifecycle_stage(self) -> str:
        return reader.stage_of(self.meta)

    # -- results -----------------------------------------------------------------------------
    def load_all(self) -> None:
        """Read everything a result needs, while the scan's directory handles are open."""
        self.params()
        self.tags()
        self.all_summaries()
        self.status()

    def metrics(self) -> dict[str, float]:
        return {k: s[0] for k, s in self.all_summaries().items()}

    def to_record(self) -> reader.RunRecord:
        return reader.RunRecord(
            run_id=self.run_id,
            experiment_id=self.experiment_id,
            run_dir=Path(self.run_dir),
            meta=dict(self.meta),
            status=self.status(),
            params=dict(self.params()),
            tags=dict(self.tags()),
            summaries={k: MetricSummary(k, *s) for k, s in self.all_summaries().items()},
        )

    def to_run(self) -> Run:
        """The same :class:`Run` as ``Store.to_run(read_run(...))``, built without the record."""
        meta = self.meta
        return Run(
            info=RunInfo(
                run_id=self.run_id,
                experiment_id=self.experiment_id,
                run_name=self.attribute("run_name"),
                user_id=str(meta.get("user") or ""),
                status=self.status(),
                start_time=self.attribute("start_time"),
                end_time=self.attribute("end_time"),
                artifact_uri=self.artifact_uri(),
                lifecycle_stage=self.lifecycle_stage,
            ),
            data=RunData(metrics=self.metrics(), params=dict(self.params()), tags=dict(self.tags())),
        )


def _plain_time(value: Any) -> bool:
    """A start/end time the fast path takes as it is; anything else goes to the reader (which warns)."""
    return value is None or (type(value) is int and RUN_TIME_MIN_MS <= value <= RUN_TIME_MAX_MS)


class _Unreadable(Exception):
    """The run's meta.json cannot be read; the reader has warned and the run is skipped."""


class _NeedReader(Exception):
    """Something the fast path does not handle; the reader's functions take over."""
