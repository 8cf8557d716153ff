"""Heartbeats: how readers tell a live RUNNING run from one whose process died.

Each process attached to a run keeps a heartbeat (git-ignored) whose mtime a daemon thread
refreshes every :data:`INTERVAL_S` seconds: the process that started the run, the run's ``.lock``,
which names it (``Store.new_run(attach=True)`` writes it); a process that resumed it,
``<run>/.heartbeat-<host>-<pid>`` (``Store.set_running(attach=True)`` creates it under the run's
lock). ``gitrun.store.reader.effective_status`` reads them; ``Store.end_attached`` removes them
(docs/format.md, "Heartbeats and the KILLED rule"). This module keeps them fresh and remembers
which one is this process's.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

INTERVAL_S = 30.0

_attached: dict[Path, Path] = {}  # run dir -> this process's heartbeat of it
_lock = threading.Lock()
_thread: threading.Thread | None = None
_wake = threading.Event()


def attach(run_dir: Path, beat: Path) -> None:
    """Keep ``beat`` (this process's heartbeat of ``run_dir``, which the store created) fresh."""
    global _thread
    with _lock:
        _attached[run_dir] = beat
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_beat, name="gitrun-heartbeat", daemon=True)
            _thread.start()


def detach(run_dir: Path) -> None:
    """Stop refreshing this process's heartbeat of ``run_dir`` (the store removes it)."""
    with _lock:
        _attached.pop(run_dir, None)


def beat_of(run_dir: Path) -> Path | None:
    """This process's heartbeat of ``run_dir`` (None when not attached; a forked child never is)."""
    return _attached.get(run_dir)


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
