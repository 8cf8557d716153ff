"""``silent=True``: autolog's own log records and warnings are dropped while its code runs.

Only around autolog's code: the warnings of the user's training function (the original ``fit``)
show as usual, as in MLflow. gitrun's loggers (``gitrun.*``) are switched off for that time, and
a warning raised in the thread doing it is not shown.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Iterator
from typing import Any

_state = threading.local()  # .depth: nesting of quiet() in this thread; .paused: inside the user's code
_lock = threading.Lock()
_quiet_threads = 0
_show_warning: Any = None


def _silenced() -> bool:
    return getattr(_state, "depth", 0) > 0 and not getattr(_state, "paused", False)


def _filtered_showwarning(*args: Any, **kwargs: Any) -> None:
    if not _silenced():
        _show_warning(*args, **kwargs)


_PACKAGE = __name__.partition(".")[0]  # "gitrun": its loggers are named after its modules


def _gitrun_loggers() -> list[logging.Logger]:
    found = [logging.getLogger(_PACKAGE)]
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if name.startswith(_PACKAGE + ".") and isinstance(logger, logging.Logger):
            found.append(logger)
    return found


@contextlib.contextmanager
def quiet(silent: bool) -> Iterator[None]:
    """Inside the block, with ``silent``: gitrun's log records and this thread's warnings are dropped."""
    global _quiet_threads, _show_warning
    if not silent:
        yield
        return
    depth = getattr(_state, "depth", 0)
    _state.depth = depth + 1
    loggers: list[tuple[logging.Logger, bool]] = []
    if depth == 0:
        with _lock:
            if _quiet_threads == 0:
                _show_warning = warnings.showwarning
                warnings.showwarning = _filtered_showwarning
            _quiet_threads += 1
        loggers = [(logger, logger.disabled) for logger in _gitrun_loggers()]
        for logger, _ in loggers:
            logger.disabled = True
    try:
        yield
    finally:
        _state.depth = depth
        if depth == 0:
            for logger, was in loggers:
                logger.disabled = was
            with _lock:
                _quiet_threads -= 1
                if _quiet_threads == 0:
                    warnings.showwarning = _show_warning
                    _show_warning = None


@contextlib.contextmanager
def speaking() -> Iterator[None]:
    """Inside a ``quiet`` block: the user's own code (the original ``fit``), whose warnings show as usual."""
    paused = getattr(_state, "paused", False)
    _state.paused = True
    try:
        yield
    finally:
        _state.paused = paused
