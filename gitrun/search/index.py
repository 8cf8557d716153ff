"""The search index: a local cache of run summaries in ``.gitrun/.cache/``, rebuilt from the files.

What it holds, per run: each part a search reads (``meta.json``, ``params.json``, ``tags.json``,
per-metric summaries, the listing of ``metrics/``), each beside the signature
``(inode, size, mtime_ns)`` of the file(s) it was computed from. A search stats exactly the files
behind the parts it uses and takes a part from the cache only when every signature still
matches; otherwise it reads the files (see ``gitrun.search.rows``). So an edit behind gitrun's
back, an appended series point, a run directory added or deleted, or a branch checkout is seen
on the next search, and results are the same with the index as without it (``GITRUN_NO_INDEX=1``).
Parts of files modified in the last two seconds are not cached (same-size rewrites inside one
file-time tick keep their signature; Git calls such entries "racily clean").

Why one ``marshal`` file, not sqlite, JSON or pickle: a warm search must load the summaries of
every run (10,000 runs: about 3 MB) in a few milliseconds. ``marshal`` loads plain dicts, tuples,
strings and floats (NaN included) several times faster than ``json`` and needs no per-row
decoding as an sqlite table of JSON blobs would. Unlike ``pickle`` it cannot execute code, which
matters because a cache directory can arrive inside a cloned repository; and the header names
the cache folder by device and inode, so a file made elsewhere is not even decoded. marshal's
format belongs to one Python version, so the header also records the interpreter, and a CRC-32
covers the payload: a file from another Python or folder is silently rebuilt, a damaged one is
discarded with a warning.

Several processes: the file is written to a temporary name and renamed over the old one, so a
reader sees a whole file, old or new; two searches that both refresh it race harmlessly (the
last rename wins, and every entry carries its own signatures). Nothing here is ever committed:
``.gitrun/.gitignore`` lists ``.cache/``.
"""

from __future__ import annotations

import logging
import marshal
import os
import sys
import threading
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitrun import env
from gitrun.errors import StoreWarning, StoreWriteError
from gitrun.store import textio

log = logging.getLogger(__name__)

ENV_NO_INDEX = env.NO_INDEX.name
INDEX_NAME = "search-index.bin"
FORMAT = 1
MAGIC = b"gitrun-search-index\n"
SETTLE_NS = 2_000_000_000  # parts of files changed more recently than this are not cached

Index = dict[str, dict[str, dict[str, Any]]]  # experiment_id -> run_id -> entry

_memo: dict[Path, tuple[tuple[int, int, int], Index]] = {}  # index file -> (its signature, loaded index)
lock = threading.Lock()  # one indexed search at a time per process (entries are mutated in place)


def enabled(use_index: bool | None) -> bool:
    """Whether to use the index: the argument if given, else not when ``GITRUN_NO_INDEX`` is set."""
    if use_index is not None:
        return use_index
    return os.environ.get(ENV_NO_INDEX, "").strip().lower() in ("", "0", "false", "no")


def index_path(cache_dir: Path) -> Path:
    return cache_dir / INDEX_NAME


def _header(path: Path, magic: bytes = MAGIC) -> bytes:
    """Magic, format, Python, marshal version, and the identity (device:inode) of the cache folder.

    The folder's identity ties a file to the clone that wrote it: an index file that arrives
    inside a repository (committed by force, say) names another folder and is never decoded.
    """
    try:
        st = os.stat(path.parent)
        where = f"{st.st_dev}:{st.st_ino}"
    except OSError:
        where = "-"
    return magic + f"{FORMAT} {sys.implementation.cache_tag} {marshal.version} {where}\n".encode()


def load(path: Path) -> Index:
    """The index stored at ``path``; empty when missing, from another Python, or damaged (warned)."""
    return load_file(path, MAGIC, lambda index: all(isinstance(v, dict) for v in index.values()))


def load_file(path: Path, magic: bytes, valid: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """A marshal cache file of gitrun (this index, or the record cache: ``magic`` tells them apart);
    empty when missing, from another Python, format or folder, or damaged (warned)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.debug("search index %s not readable: %s", path, exc)
        return {}
    sig = (st.st_ino, st.st_size, st.st_mtime_ns)
    memo = _memo.get(path)
    if memo is not None and memo[0] == sig:
        return memo[1]
    try:
        data = path.read_bytes()
    except OSError as exc:
        log.debug("search index %s not readable: %s", path, exc)
        return {}
    header = _header(path, magic)
    end = data.find(b"\n", len(magic))
    if not data.startswith(magic) or end < 0 or len(data[len(magic) : end].split()) != 4:
        return _discard(path, "it does not start with the gitrun cache header")
    if not data.startswith(header):
        log.debug("search index %s was written by another Python, format or folder; rebuilding", path)
        return {}
    body = data[len(header) :]
    if len(body) < 4 or zlib.crc32(body[4:]) != int.from_bytes(body[:4], "big"):
        return _discard(path, "its checksum does not match (truncated or overwritten)")
    try:
        index = marshal.loads(body[4:])
    except (EOFError, ValueError, TypeError) as exc:
        return _discard(path, f"it cannot be decoded ({exc})")
    if not isinstance(index, dict) or not valid(index):
        return _discard(path, "it does not hold the expected structure")
    _memo[path] = (sig, index)
    return index


def _discard(path: Path, why: str) -> Index:
    warnings.warn(
        f"{'search index' if path.name == INDEX_NAME else 'cache'} {path} is damaged ({why}); "
        "ignoring it and rebuilding it from the run files",
        StoreWarning,
        stacklevel=5,
    )
    return {}


def save(path: Path, index: dict[str, Any], magic: bytes = MAGIC) -> None:
    """Write ``index`` atomically (temp file + rename); failures only cost speed, so they are logged."""
    payload = marshal.dumps(index)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _header(path, magic) + zlib.crc32(payload).to_bytes(4, "big") + payload
        # Checked like every store write (a full disk leaves the old index, no temp file); not
        # synced even with GITRUN_FSYNC=1: the index is derived data.
        textio.atomic_write(path, data, durable=False)
        st = os.stat(path)
    except (OSError, StoreWriteError) as exc:  # e.g. a read-only store: searches still work, only slower
        log.debug("cannot write cache file %s: %s", path, exc)
        return
    _memo[path] = ((st.st_ino, st.st_size, st.st_mtime_ns), index)


def clear_memo() -> None:
    """Forget indexes loaded by this process (tests use it to simulate a fresh process)."""
    _memo.clear()
