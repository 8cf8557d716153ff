"""Heartbeat files: how readers tell a live RUNNING run from one whose process died.

Each process attached to a run keeps ``<run>/.heartbeat-<host>-<pid>`` (git-ignored) and a daemon
thread refreshes its mtime every :data:`INTERVAL_S` seconds. ``gitrun.store.reader.effective_status``
reads them; ``Store.set_running(attach=True)`` and ``Store.end_attached`` create and remove them
under the run's lock when a process joins or leaves a run others may hold (docs/format.md,
"Heartbeats and the KILLED rule").
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from gitrun.store.reader import heartbeat_name

INTERVAL_S = 30.0

_attached: dict[Path, Path] = {}  # run dir -> its heartbeat file
_lock = threading.Lock()
_thread: threading.Thread | None = None
_wake = threading.Event()


def heartbeat_file(run_dir: Path) -> Path:
    return run_dir / heartbeat_name()


def attach(run_dir: Path, *, create: bool = True) -> None:
    """Keep this process's heartbeat of ``run_dir`` fresh; ``create=False`` when the store has
    already created the file (a resumed run)."""
    global _thread
    path = heartbeat_file(run_dir)
    if create:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        os.close(fd)
    with _lock:
        _attached[run_dir] = path
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_beat, name="gitrun-heartbeat", daemon=True)
            _thread.start()


def detach(run_dir: Path, *, unlink: bool = True) -> None:
    """Stop refreshing the heartbeat; ``unlink=False`` when the store has removed the file."""
    with _lock:
        path = _attached.pop(run_dir, None)
    if path is not None and unlink:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _beat() -> None:
    while not _wake.wait(INTERVAL_S):
        with _lock:
            paths = list(_attached.values())
        for path in paths:
            with contextlib.suppress(OSError):
                os.utime(path)


def _after_fork_in_child() -> None:
    # The child has no heartbeat thread and none of the parent's attachments.
    global _thread, _lock
    _attached.clear()
    _thread = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
