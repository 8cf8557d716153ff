"""Writing runs: append-only metric series, atomic whole-file updates, per-run locks.

The hot path is :meth:`RunWriter.log_metric`: validate the key once, format one line, one
``os.write`` on a cached ``O_APPEND`` descriptor. The line is in the kernel when the call returns,
so a SIGKILL loses nothing, and ``O_APPEND`` keeps lines from several processes whole. No YAML,
Git or pandas here.

An append is checked: a write that stops short (a full disk) is finished or taken back (the file
truncated to where this write started), so no torn line is left and the caller gets a
:class:`~gitrun.errors.DiskFullError`. A torn last line left by a process killed mid-write is
repaired when this process first opens the series. ``GITRUN_FSYNC=1`` adds an ``fsync`` per call.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from gitrun.errors import InvalidInputError, RunStateError, StoreWarning, StoreWriteError
from gitrun.store import textio
from gitrun.store.series import SERIES_HEADER, format_points, series_path, summarize_run_series
from gitrun.store.validation import (
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    validate_key,
    validate_metric_value,
    validate_step,
    validate_timestamp,
)
from gitrun.tags import RUN_NAME

FULL_VALUES_DIR = "full_values"  # <run>/full_values/{params,tags}/<key>.txt keeps truncated values whole
MAX_OPEN_SERIES = 128  # descriptors kept open per run; beyond that, least recently used are closed

# Read and write: the first open of a series reads its last bytes (see repair_torn_tail).
_O_APPEND_FLAGS = os.O_RDWR | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
_FSYNC = textio.FSYNC  # GITRUN_FSYNC=1, read once
TORN_SETTLE_NS = 2_000_000_000  # a torn last line younger than this may still be being written
# A new series is written whole into an unnamed file (O_TMPFILE) linked into place through /proc
# (Linux); elsewhere, or when the file system refuses (NFS), its header goes through a named temp
# file and a hard link, then the points are appended. Not with GITRUN_FSYNC=1, whose slow path syncs.
_O_TMPFILE = getattr(os, "O_TMPFILE", 0)
_O_NEW_SERIES = _O_TMPFILE | os.O_RDWR | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
_LINK_NEW_SERIES = bool(_O_TMPFILE) and not _FSYNC and os.path.isdir("/proc/self/fd")
_NO_TMPFILE = (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOSYS)
_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def now_ms() -> int:
    return time.time_ns() // 1_000_000


_held = threading.local()  # .dirs: the run directories whose lock this thread holds


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Exclusive lock of one run across processes, for read-modify-write of its JSON files.

    Reentrant within a thread (a second ``flock`` on a new descriptor would wait for the first):
    ending a run updates several files under one hold of the lock."""
    held: set[Path] = _held.__dict__.setdefault("dirs", set())
    if run_dir in held:
        yield
        return
    held.add(run_dir)
    try:
        with _run_lock(run_dir):
            yield
    finally:
        held.discard(run_dir)


@contextlib.contextmanager
def _run_lock(run_dir: Path) -> Iterator[None]:
    path = run_dir / ".lock"
    try:
        import fcntl
    except ImportError:  # Windows: filelock does the same with msvcrt (slower import, fine there)
        from filelock import FileLock

        with FileLock(str(path)):
            yield
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    except FileNotFoundError:
        raise RunStateError(f"the run directory {run_dir} is gone; was it deleted from disk?") from None
    except OSError as exc:
        raise textio.write_error(path, exc, "nothing was changed") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class RunWriter:
    """Writes one run's files. One instance per (process, run), shared by fluent API and Client."""

    def __init__(self, run_dir: Path, run_id: str):
        self.run_dir = run_dir
        self.run_id = run_id
        self._series: OrderedDict[str, int] = OrderedDict()  # metric key -> open fd
        self._params: dict[str, str] | None = None  # what this process knows is on disk
        self._folders: set[Path] = set()  # series folders this process made sure of

    # -- metrics ---------------------------------------------------------------------------
    def log_metric(self, key: str, value: Any, step: Any = None, timestamp: Any = None) -> None:
        # Validate before opening: a refused value must not leave a new, empty series file behind.
        value = validate_metric_value(key, value, self.run_id)
        step = validate_step(key, step) if step is not None else 0
        ts = validate_timestamp(key, timestamp) if timestamp is not None else time.time_ns() // 1_000_000
        data = f"{step}\t{ts}\t{value!r}\n".encode()
        fd = self._series.get(key)
        if fd is None:
            validate_key("metric", key, self.run_id)
            fd = self._open_series(key, data)
            if fd < 0:
                return  # the new series holds the point
        else:
            self._series.move_to_end(key)
        self._append(key, fd, data)

    def log_metric_points(self, points: Iterable[tuple[str, Any, Any, Any]]) -> None:
        """Append many ``(key, value, step, timestamp)`` points: validated first, then one write per key."""
        by_key: dict[str, list[tuple[int, int, float]]] = {}
        default_ts = now_ms()
        for key, value, step, timestamp in points:
            validate_key("metric", key, self.run_id)
            number = validate_metric_value(key, value, self.run_id)
            ts = validate_timestamp(key, timestamp)
            by_key.setdefault(key, []).append((validate_step(key, step), default_ts if ts is None else ts, number))
        for key, rows in by_key.items():
            data = format_points(rows).encode()
            fd = self._series.get(key)
            if fd is None:
                fd = self._open_series(key, data)
                if fd < 0:
                    continue  # the new series holds the points
            self._append(key, fd, data)

    def _append(self, key: str, fd: int, data: bytes) -> None:
        try:
            written = os.write(fd, data)
        except OSError as exc:
            self._append_failed(key, fd, data, 0, exc)
        else:
            if written != len(data):  # large batches may need several writes
                self._append_failed(key, fd, data, written, None)
        if _FSYNC:
            self._sync(key, fd)

    def _append_failed(self, key: str, fd: int, data: bytes, written: int, error: OSError | None) -> None:
        """Slow path of an append that did not complete in one ``write``: finish it, or take it back.

        ``written`` bytes of ``data`` are in the file (``error``: the write raised). The rest is
        written in a loop; if that fails too (a full disk), the file is truncated back to where
        this append started, so no torn line is left, and a StoreWriteError says so.
        """
        path = series_path(self.run_dir, key)
        start = -1
        try:
            if error is not None:
                raise error
            start = os.lseek(fd, 0, os.SEEK_CUR) - written  # O_APPEND: our bytes end at the offset
            textio.write_all(fd, data, written)
        except OSError as exc:
            if start >= 0:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
            points = "this point was" if data.count(b"\n") == 1 else "these points were"
            raise textio.write_error(path, exc, f"{points} not logged; the points before are intact") from None

    def _sync(self, key: str, fd: int) -> None:
        try:
            os.fsync(fd)
        except OSError as exc:
            raise textio.write_error(
                series_path(self.run_dir, key), exc, "the point is written but not synced"
            ) from None

    def _open_series(self, key: str, first: bytes) -> int:
        """The descriptor to append ``key``'s points to, the first time this process writes it; -1 when
        it created the series holding ``first`` already (see :meth:`_create_series`)."""
        path = series_path(self.run_dir, key)
        header = SERIES_HEADER.format(name=key.rsplit("/", 1)[-1])
        fd = self._create_series(key, path, (header.encode() + first)) if _LINK_NEW_SERIES else None
        if fd is not None:
            self._keep_open(key, fd)
            return -1
        try:
            textio.make_dirs(path.parent)
            if not path.exists():
                textio.create_with_content(path, header)
            fd = os.open(path, _O_APPEND_FLAGS)
        except (FileExistsError, IsADirectoryError, NotADirectoryError) as exc:
            raise self._clash(key, exc.filename) from None
        except OSError as exc:
            self._check_dir()
            raise textio.write_error(path, exc, "nothing was logged") from None
        try:
            repair_torn_tail(fd, path, header)
        except OSError as exc:
            os.close(fd)
            raise textio.write_error(path, exc, "nothing was logged") from None
        except BaseException:
            os.close(fd)
            raise
        self._keep_open(key, fd)
        return fd

    def _create_series(self, key: str, path: Path, content: bytes) -> int | None:
        """Create the series file of ``key`` holding ``content`` (its header and first points), atomically:
        written to an unnamed file of its folder (``O_TMPFILE``) that is then linked into place, so the file
        appears whole or not at all, in three system calls (open, write, link). Returns its descriptor,
        open for appending; None when the file exists (another process's, or an earlier one of this run)
        or this file system cannot, which :meth:`_open_series` handles as before."""
        global _LINK_NEW_SERIES
        folder = path.parent
        try:
            if folder not in self._folders:
                self._make_folder(key, folder)
            fd = os.open(folder, _O_NEW_SERIES, 0o644)
        except NotADirectoryError as exc:  # "a.tsv/b" after "a": a file stands where the folder should be
            raise self._clash(key, exc.filename) from None
        except FileNotFoundError:
            self._check_dir()
            self._folders.discard(folder)
            return None
        except OSError as exc:
            if exc.errno in _NO_TMPFILE:
                _LINK_NEW_SERIES = False  # e.g. NFS: header through a temp file and a hard link
                return None
            raise textio.write_error(path, exc, "nothing was logged") from None
        try:
            textio.write_all(fd, content)
            os.link(f"/proc/self/fd/{fd}", path, src_dir_fd=fd, follow_symlinks=True)
        except FileExistsError:
            os.close(fd)
            return None
        except OSError as exc:
            os.close(fd)
            if exc.errno in _DISK_FULL:
                points = "this point was" if content.count(b"\n") == 2 else "these points were"
                raise textio.write_error(path, exc, f"{points} not logged") from None
            _LINK_NEW_SERIES = False  # no /proc, or links refused: as before
            return None
        return fd

    def _make_folder(self, key: str, folder: Path) -> None:
        """A series folder, once per process (one ``mkdir`` for all the keys in it)."""
        try:
            os.mkdir(folder)
        except FileExistsError:
            pass  # a folder (or a file, which the open that follows reports)
        except FileNotFoundError:
            self._check_dir()  # never made again by a metric: the run was deleted
            try:
                textio.make_dirs(folder)
            except (FileExistsError, NotADirectoryError) as exc:
                raise self._clash(key, exc.filename) from None
        self._folders.add(folder)

    def _check_dir(self) -> None:
        if not self.run_dir.is_dir():
            raise RunStateError(f"run {self.run_id} has no directory {self.run_dir}; was it deleted from disk?")

    def _clash(self, key: str, where: object) -> InvalidInputError:
        # e.g. key "a.tsv/b" after key "a": one needs a folder where the other has its file.
        return InvalidInputError(
            f"metric key {key!r} of run {self.run_id} clashes with another metric's file or folder "
            f"{where}; log it under another name"
        )

    def _keep_open(self, key: str, fd: int) -> None:
        self._series[key] = fd
        if len(self._series) > MAX_OPEN_SERIES:
            _, old = self._series.popitem(last=False)
            os.close(old)

    # -- params and tags -------------------------------------------------------------------
    def log_params(self, params: Mapping[str, Any]) -> None:
        new = {validate_key("param", k, self.run_id): str(v) for k, v in params.items()}
        if self._params is not None and all(self._params.get(k) == v for k, v in new.items()):  # untruncated only
            return  # everything already on disk with the same values
        with run_lock(self.run_dir):
            current = self._read_json("params.json")
            changed: dict[str, str] = {}
            for key, value in new.items():
                stored = _truncate(value, MAX_PARAM_VALUE_LENGTH)
                if key in current:
                    if current[key] != stored or (stored != value and self._full_value("params", key) != value):
                        raise InvalidInputError(
                            f"param {key!r} of run {self.run_id} is already {_short(current[key])}; "
                            f"cannot change it to {_short(value)} (params are immutable, as in MLflow). "
                            "Log the new value under another key, or start a new run"
                        )
                    continue
                if stored != value:
                    self._keep_full_value("params", key, value, MAX_PARAM_VALUE_LENGTH)
                changed[key] = stored
            if changed:
                current.update(changed)
                textio.atomic_write(self.run_dir / "params.json", textio.dumps(current))
            self._params = current

    def set_tags(self, tags: Mapping[str, Any], *, rename: bool = True) -> None:
        """Set tags (read-modify-write under the run lock). A non-empty ``mlflow.runName`` also
        renames the run (``run_name`` in meta.json), as MLflow does; an empty one sets only the tag.
        ``rename=False``: the caller has just written that name into meta.json (a new run)."""
        new = self._stored_tags(tags)
        if not new:
            return
        with run_lock(self.run_dir):
            current = self._read_json("tags.json")
            if not all(current.get(k) == v for k, v in new.items()):
                current.update(new)
                textio.atomic_write(self.run_dir / "tags.json", textio.dumps(current))
            name = new.get(RUN_NAME) if rename else None  # setting it renames the run, as in MLflow
            if name:
                meta = self._read_json("meta.json")
                if meta.get("run_name") != name:
                    meta["run_name"] = name
                    textio.atomic_write(self.run_dir / "meta.json", textio.dumps(meta))

    def write_new_tags(self, tags: Mapping[str, Any]) -> None:
        """The first ``tags.json`` of a run just created: nothing to read, and no lock (nobody else
        knows the run yet)."""
        textio.atomic_write(self.run_dir / "tags.json", textio.dumps(self._stored_tags(tags)))

    def _stored_tags(self, tags: Mapping[str, Any]) -> dict[str, str]:
        """Tags as stored: validated, values over the limit truncated (their full value kept aside)."""
        new: dict[str, str] = {}
        for key, value in tags.items():
            validate_key("tag", key, self.run_id)
            text = str(value)
            stored = _truncate(text, MAX_TAG_VALUE_LENGTH)
            if stored != text:
                self._keep_full_value("tags", key, text, MAX_TAG_VALUE_LENGTH)
            new[key] = stored
        return new

    def delete_tag(self, key: str) -> None:
        with run_lock(self.run_dir):
            current = self._read_json("tags.json")
            if key not in current:
                raise InvalidInputError(f"run {self.run_id} has no tag {key!r} to delete")
            del current[key]
            textio.atomic_write(self.run_dir / "tags.json", textio.dumps(current))

    # Beside artifacts/, not in it: no artifact path can reach these files (gitrun 0.1 kept them in
    # artifacts/full_values/, still read for its stores).
    def _keep_full_value(self, kind: str, key: str, value: str, limit: int) -> None:
        rel = f"{FULL_VALUES_DIR}/{kind}/{key}.txt"
        path = self.run_dir / rel
        try:
            textio.make_dirs(path.parent)
        except (FileExistsError, NotADirectoryError):
            raise InvalidInputError(
                f"cannot keep the full value of {kind[:-1]} {key!r} of run {self.run_id}: a file stands where "
                f"the folder of {rel} should be (another key's full value)"
            ) from None
        textio.atomic_write(path, value)
        warnings.warn(
            f"{kind[:-1]} {key!r} of run {self.run_id} is {len(value)} characters long; stored truncated to "
            f"{limit} (MLflow's limit). The full value is kept in {rel} of the run's folder",
            stacklevel=4,
        )

    def _full_value(self, kind: str, key: str) -> str | None:
        rel = f"{FULL_VALUES_DIR}/{kind}/{key}.txt"
        for path in (self.run_dir / rel, self.run_dir / "artifacts" / rel):
            try:
                return path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue
        return None

    # -- meta and summary ------------------------------------------------------------------
    def update_meta(self, drop: Iterable[str] = (), **fields: Any) -> dict[str, Any]:
        with run_lock(self.run_dir):
            meta = self._read_json("meta.json")
            meta.update(fields)
            for key in drop:
                meta.pop(key, None)
            textio.atomic_write(self.run_dir / "meta.json", textio.dumps(meta))
            return meta

    def write_summary(self, entries: Collection[str] | None = None) -> None:
        """Write ``metrics.json``: latest/min/max of every series, as of now. A run without series and
        without a ``metrics.json`` gets none (readers take a missing one as empty). ``entries``: the
        run folder's names, when the caller has listed it."""
        summaries = {} if entries is not None and "metrics" not in entries else summarize_run_series(self.run_dir)
        if not summaries:
            present = "metrics.json" in entries if entries is not None else (self.run_dir / "metrics.json").exists()
            if not present:
                return
        body = {
            key: {
                "bytes": size,
                "count": s.count,
                "latest": textio.json_number(s.latest),
                "max": textio.json_number(s.max),
                "min": textio.json_number(s.min),
                "step": s.step,
                "timestamp": s.timestamp,
            }
            for key, (s, size) in summaries.items()
        }
        with run_lock(self.run_dir):
            textio.atomic_write(self.run_dir / "metrics.json", textio.dumps(body))

    def _read_json(self, name: str) -> dict[str, Any]:
        import json

        try:
            data = json.loads(textio.read_bytes(self.run_dir / name))
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise RunStateError(
                f"{self.run_dir / name} is not valid JSON ({exc}); fix or remove the file before logging more"
            ) from None
        if not isinstance(data, dict):
            raise RunStateError(f"{self.run_dir / name} should hold a JSON object")
        return data

    def take_over(self, other: RunWriter) -> None:
        """Carry on from ``other`` (the same run's writer until now): its open series and known params."""
        self._series, other._series = other._series, OrderedDict()
        self._params = other._params

    def close(self) -> None:
        for fd in self._series.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._series.clear()


def _truncate(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit]


def _short(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def repair_torn_tail(fd: int, path: Path, header: str) -> None:
    """Before this process's first append to a series: end a torn last line (no newline: a writer was
    killed mid-line, or an old gitrun hit a full disk) so the next point starts a line of its own.

    A torn line older than :data:`TORN_SETTLE_NS` is cut off (the file truncated to its last
    newline). One that changed moments ago may be another live process's write in progress, so it
    is ended with a newline instead of cut: at worst that leaves an empty line, which readers skip.
    Costs one ``fstat`` and one 1-byte ``pread`` per series opened; nothing per point.
    """
    st = os.fstat(fd)
    size = st.st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    keep, end = 0, size
    while end > 0:
        begin = max(0, end - 4096)
        newline = os.pread(fd, end - begin, begin).rfind(b"\n")
        if newline >= 0:
            keep = begin + newline + 1
            break
        end = begin
    torn = os.pread(fd, min(size - keep, 80), keep)
    if time.time_ns() - st.st_mtime_ns < TORN_SETTLE_NS:
        textio.write_all(fd, b"\n")
        done = "ended it with a newline (it changed moments ago: another process may be writing it)"
    else:
        os.ftruncate(fd, keep)
        if keep == 0:
            textio.write_all(fd, header.encode())
        done = "removed it"
    warnings.warn(
        f"{path}: incomplete last line {torn.decode('utf-8', 'replace')!r} (a writer was killed mid-line, or ran out "
        f"of disk space); {done} before appending",
        StoreWarning,
        stacklevel=5,
    )


def new_run_files(run_dir: Path, meta: Mapping[str, Any]) -> None:
    """Create a run directory holding its ``meta.json``; fails if it exists (IDs never repeat), and
    with FileNotFoundError when its ``runs/`` folder does not (the caller checks the experiment)."""
    try:
        run_dir.mkdir()
    except (FileExistsError, FileNotFoundError):
        raise
    except OSError as exc:
        raise textio.write_error(run_dir, exc, "no run was created") from None
    try:
        textio.atomic_write(run_dir / "meta.json", textio.dumps(dict(meta)))
    except StoreWriteError:
        with contextlib.suppress(OSError):
            run_dir.rmdir()  # no run directory without its meta.json (readers would warn about it forever)
        raise
    if _FSYNC:
        textio.fsync_dir(run_dir.parent)
