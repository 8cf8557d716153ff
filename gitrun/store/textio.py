"""Deterministic text encodings and crash-safe writes shared by the store's writer and reader.

Rules (docs/format.md): JSON with sorted keys and two-space indent; floats as Python's shortest
round-trip ``repr``; non-finite numbers as the strings ``"NaN"``, ``"Infinity"``,
``"-Infinity"`` in JSON (strict JSON has no literal for them) and as ``nan``, ``inf``, ``-inf``
in metric series; whole-file writes go to a temp file that is renamed over the target.

Every write here is checked: each ``os.write``'s byte count (short writes loop), the temp file's
size before the rename; a failure (a full disk, a read-only file system) leaves the old file as it
was, removes the temp file and raises a :class:`~gitrun.errors.StoreWriteError` naming the file.
``GITRUN_FSYNC=1`` adds an ``fsync`` of each file written and of its folder after a rename.
"""

from __future__ import annotations

import errno
import itertools
import json
import math
import os
import secrets
import shutil
import warnings
from pathlib import Path
from typing import Any

from gitrun import env
from gitrun.errors import DiskFullError, ReadOnlyStoreError, StoreFormatError, StoreWarning, StoreWriteError

NONFINITE_TO_JSON = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
JSON_TO_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

ENV_FSYNC = env.FSYNC.name
# Read once, at import: the logging hot path tests a module constant, never the environment.
FSYNC = os.environ.get(ENV_FSYNC, "").strip().lower() not in ("", "0", "false", "no", "off")

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC
_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def format_float(value: float) -> str:
    """Shortest text that reads back as exactly ``value`` (``nan``, ``inf``, ``-inf`` included)."""
    return repr(float(value))


def parse_float(text: str) -> float:
    """Inverse of :func:`format_float`; also accepts the JSON spellings of non-finite values."""
    if text in JSON_TO_NONFINITE:
        return JSON_TO_NONFINITE[text]
    return float(text)


def json_number(value: float) -> float | str:
    """A float as strict JSON allows it: non-finite values become strings."""
    if math.isfinite(value):
        return value
    return NONFINITE_TO_JSON[repr(value)]


def from_json_number(value: Any) -> float:
    if isinstance(value, str):
        return parse_float(value)
    return float(value)


def dumps(obj: Any) -> str:
    """Canonical JSON: sorted keys, 2-space indent, UTF-8 kept, trailing newline."""
    if type(obj) is dict and obj and not any(isinstance(v, (dict, list, tuple)) for v in obj.values()):
        # A flat object (meta.json, tags.json, params.json): the same text from the C encoder, which
        # json.dumps skips whenever indent is given (several times faster for these small files).
        return "{\n  " + _FLAT.encode(obj)[1:-1] + "\n}\n"
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


_FLAT = json.JSONEncoder(sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",\n  ", ": "))


# Every temp file gitrun writes in a store starts with this prefix, a name reserved for it: the
# store's .gitignore ignores exactly these names, and no key or artifact path may use it.
TEMP_PREFIX = ".gitrun-tmp."


def temp_path(path: Path, suffix: str = "") -> Path:
    """The temp file beside ``path`` that a whole-file write goes through
    (``.gitrun-tmp.<name>.<pid>.<hex>.tmp``).

    The name is cut short: a 250-character key plus pid and random suffix would exceed NAME_MAX
    (255 bytes). ``suffix`` (cut to 16 characters) is kept for writers that infer the format from
    the file name (matplotlib's ``savefig``).
    """
    return path.with_name(temp_name(path.name, suffix))


def temp_name(name: str, suffix: str = "") -> str:
    """The name of :func:`temp_path` for a file named ``name``."""
    return f"{TEMP_PREFIX}{name[:40]}.{os.getpid()}.{next(_temp_ids) & 0xFFFFFFFF:08x}.tmp{suffix[:16]}"


# Unique within a process (and the PID tells processes apart): a counter from a random start, so a
# name costs no getrandom call. A forked child counts on from its parent's value under its own PID.
_temp_ids = itertools.count(int.from_bytes(secrets.token_bytes(4), "big"))


# -- errors ------------------------------------------------------------------------------------
def store_root_of(path: Path) -> Path | None:
    """The run store holding ``path`` (the nearest folder named ``.gitrun`` or holding a ``store.yaml``)."""
    for folder in (path, *path.parents):
        if folder.name == ".gitrun" or (folder / "store.yaml").is_file():
            return folder
    return None


def write_error(path: Path, exc: OSError, consequence: str = "the previous content is intact") -> StoreWriteError:
    """The :class:`StoreWriteError` to raise for ``exc``, met while writing ``path``; says what to do."""
    code = exc.errno
    detail = exc.strerror or str(exc)
    error: StoreWriteError
    if code in _DISK_FULL:
        error = DiskFullError(f"disk full writing {path}: {detail}; free space and retry; {consequence}")
    elif code == errno.EROFS:
        where = store_root_of(path) or path.parent
        error = ReadOnlyStoreError(
            f"the store {where} is on a read-only file system; cannot write {path}. Reading it works; to log, "
            "remount it read-write or log to a writable store (gitrun.set_tracking_uri(...) or "
            "GITRUN_TRACKING_URI)"
        )
    elif code in (errno.EACCES, errno.EPERM):
        error = ReadOnlyStoreError(
            f"permission denied writing {path} ({detail}); give this user write access to the store, or log to "
            f"another one (gitrun.set_tracking_uri(...) or GITRUN_TRACKING_URI); {consequence}"
        )
    elif code == errno.ENAMETOOLONG:
        error = StoreWriteError(f"cannot write {path}: the name is too long for the file system; use a shorter one")
    else:
        error = StoreWriteError(f"cannot write {path}: {detail}; {consequence}")
    error.errno = code  # type: ignore[attr-defined]
    return error


def _short_write(written: int, wanted: int) -> OSError:
    # A write that stops early on a regular file means the device (or the quota) is full.
    return OSError(errno.ENOSPC, f"No space left on device (wrote {written} of {wanted} bytes)")


# -- writing -----------------------------------------------------------------------------------
def write_all(fd: int, data: bytes | memoryview, done: int = 0) -> None:
    """Write ``data[done:]`` to ``fd``, looping on short writes; OSError (ENOSPC) when it cannot."""
    total = len(data)
    while done < total:
        n = os.write(fd, data[done:] if done else data)
        if n <= 0:
            raise _short_write(done, total)
        done += n


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in ``folder`` durable (GITRUN_FSYNC=1)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _O_CLOEXEC)
    except OSError:
        return  # e.g. a platform that cannot open folders; the files themselves are synced
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise write_error(folder, exc) from None
    finally:
        os.close(fd)


def _write_temp(tmp: str | Path, data: bytes, sync: bool) -> None:
    """Write ``data`` to the new file ``tmp``, checked: every byte written, the size as expected, synced
    when GITRUN_FSYNC=1. Raises OSError (and removes ``tmp``) when it cannot."""
    fd = os.open(tmp, _O_NEW, 0o644)
    try:
        try:
            write_all(fd, data)
            size = os.fstat(fd).st_size
            if size != len(data):
                raise _short_write(size, len(data))
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp: str | Path) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def atomic_write(path: Path, text: str | bytes, *, durable: bool = True) -> None:
    """Write a whole file so readers see the old content or the new one, never a mix.

    On a full disk (or any failure) the old file stays as it was, no temp file is left behind,
    and a :class:`StoreWriteError` names the file. ``durable=False``: never fsync (derived
    files such as caches and the site, which can be rebuilt), even with GITRUN_FSYNC=1.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, temp_name(name))  # a str: no pathlib on every run's start and end
    sync = FSYNC and durable
    try:
        _write_temp(tmp, data, sync)
        try:
            os.replace(tmp, path)
        except BaseException:
            _remove(tmp)
            raise
    except OSError as exc:
        raise write_error(path, exc) from None
    if sync:
        fsync_dir(path.parent)


def create_with_content(path: Path, text: str | bytes) -> bool:
    """Create ``path`` holding ``text`` unless it exists, atomically; True when this call created it.

    A hard link of a complete temp file either appears whole or fails with EEXIST, so two
    processes racing to create a series file never produce a half-written header.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    tmp = temp_path(path)
    try:
        _write_temp(tmp, data, FSYNC)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno in _DISK_FULL or exc.errno in (errno.EROFS, errno.EACCES, errno.ENAMETOOLONG):
                raise
            # File systems without hard links: fall back to an exclusive create.
            return _create_exclusive(path, data)
        finally:
            _remove(tmp)
    except OSError as exc:
        raise write_error(path, exc, "nothing was created") from None
    if FSYNC:
        fsync_dir(path.parent)
    return True


def _create_exclusive(path: Path, data: bytes) -> bool:
    try:
        fd = os.open(path, _O_NEW, 0o644)
    except FileExistsError:
        return False
    try:
        try:
            write_all(fd, data)
            if FSYNC:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        _remove(path)  # a torn file must not stay: the next writer creates it again
        raise
    return True


def copy_file(source: Path, dest: Path) -> None:
    """Copy ``source`` to ``dest`` through a temp file and a rename (content, then mode and times).

    Errors reading ``source`` are raised as they are (the caller names the user's file); errors
    writing become a :class:`StoreWriteError` naming ``dest``, with ``dest`` unchanged.
    """
    with open(source, "rb") as src:
        expected = os.fstat(src.fileno()).st_size
        tmp = temp_path(dest)
        try:
            fd = os.open(tmp, _O_NEW, 0o644)
        except OSError as exc:
            raise write_error(dest, exc) from None
        try:
            try:
                buffer = bytearray(1 << 20)
                view = memoryview(buffer)
                copied = 0
                while n := src.readinto(buffer):
                    try:
                        write_all(fd, view[:n])
                    except OSError as exc:
                        raise write_error(dest, exc) from None
                    copied += n
                size = os.fstat(fd).st_size
                if size != copied or copied < expected:
                    raise write_error(dest, _short_write(size, max(copied, expected)))
                if FSYNC:
                    os.fsync(fd)
            finally:
                os.close(fd)
            shutil.copystat(source, tmp)
            os.replace(tmp, dest)
        except OSError as exc:  # copystat, replace
            _remove(tmp)
            raise write_error(dest, exc) from None
        except BaseException:
            _remove(tmp)
            raise
    if FSYNC:
        fsync_dir(dest.parent)


def commit_temp(tmp: Path, path: Path) -> None:
    """Rename a complete temp file that a library wrote (``savefig``, PIL) over ``path``; the file
    and its folder are synced first with GITRUN_FSYNC=1. Errors become a :class:`StoreWriteError`."""
    try:
        if FSYNC:
            fd = os.open(tmp, os.O_RDONLY | _O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        raise write_error(path, exc) from None
    if FSYNC:
        fsync_dir(path.parent)


def read_bytes(path: Path) -> bytes:
    """A small file's content in three system calls (``open``, ``read``, ``close``): a short read of a
    regular file is its end. FileNotFoundError when it is missing."""
    fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
    try:
        chunks = [os.read(fd, _READ_CHUNK)]
        while len(chunks[-1]) == _READ_CHUNK:
            chunks.append(os.read(fd, _READ_CHUNK))
    finally:
        os.close(fd)
    return b"".join(chunks)


_READ_CHUNK = 1 << 16


def make_dirs(folder: Path) -> None:
    """``mkdir -p`` for the store: failures become a :class:`StoreWriteError`, except a file standing
    where a folder is needed (FileExistsError, NotADirectoryError), which callers explain."""
    missing = []
    if FSYNC:
        probe = folder
        while not probe.exists() and probe != probe.parent:
            missing.append(probe)
            probe = probe.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise
    except OSError as exc:
        raise write_error(folder, exc, "nothing was written") from None
    for created in reversed(missing):
        fsync_dir(created.parent)


# -- reading: problems are warnings (errors in strict mode), never a crash of the whole store ----------
def problem(message: str, strict: bool) -> None:
    """Report a readability problem: a warning, or an error in strict mode."""
    if strict:
        raise StoreFormatError(message + " (strict mode)")
    warnings.warn(message, StoreWarning, stacklevel=3)


def decode_json_bytes(data: bytes, label: str, strict: bool) -> str:
    """UTF-8 text of a JSON or YAML file; bytes that are not UTF-8 are reported with their lines and
    replaced by U+FFFD, so the rest of the file still reads."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    bad: list[tuple[int, bytes]] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.append((number, raw[max(0, exc.start - 12) : exc.end + 12]))
    first, near = bad[0] if bad else (0, b"")
    more = (
        f" (also line {', '.join(str(n) for n, _ in bad[1:6])}{'...' if len(bad) > 6 else ''})" if len(bad) > 1 else ""
    )
    problem(
        f"{label}:{first}: not valid UTF-8 near {near!r}{more}; reading the file with those bytes replaced by U+FFFD",
        strict,
    )
    return data.decode("utf-8", "replace")


def decode_series_bytes(data: bytes, label: str, strict: bool) -> str:
    """UTF-8 text of a metric series; a line holding bytes that are not UTF-8 is reported and skipped
    (left empty, so line numbers stay right), and the other lines still read."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lines = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            problem(f"{label}:{number}: not valid UTF-8 ({raw[:60]!r}); skipping this line", strict)
            lines.append("")
    return "\n".join(lines)
