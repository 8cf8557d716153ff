"""Process state of the tracking API, kept in one object with one :func:`reset`.

What a process has set: the tracking URI, the active experiment, each thread's stack of active
runs (nested runs push onto it), every thread's active runs (the exit handler ends them), the last
run started or ended, and the cached client of the tracking URI. Modules that need "the current
store" call :func:`current_store`; they never import the fluent API.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any, Protocol

from gitrun.entities import RunStatus
from gitrun.store.layout import resolve_store_root

if TYPE_CHECKING:
    from gitrun.store import Store


class Finishable(Protocol):
    def finish(self, status: str) -> None: ...


class _Stacks(threading.local):
    def __init__(self) -> None:
        self.runs: list[Any] = []


class ProcessState:
    """The tracking API's state in this process (one instance, :data:`STATE`)."""

    def __init__(self) -> None:
        self._local = _Stacks()
        self.tracking_uri: str | None = None  # set by set_tracking_uri (a store directory)
        self.experiment_id: str | None = None  # set by set_experiment
        self.last_run_id: str | None = None
        self.active: dict[str, Any] = {}  # run ID -> ActiveRun, every thread's
        self.client: Any = None  # the Client of the tracking URI, built on first use
        # (source name, directory) standing in for sys.argv[0] in new runs' provenance, when this
        # process runs something else as the run (`gitrun run -- CMD`: the command, in its directory)
        self.source: tuple[str, str] | None = None

    @property
    def stack(self) -> list[Any]:
        """This thread's active runs, innermost last."""
        return self._local.runs

    def store_root(self) -> str:
        """The store directory in use: ``set_tracking_uri``, ``GITRUN_TRACKING_URI`` / ``MLFLOW_TRACKING_URI``, or the default."""
        return self.tracking_uri or str(resolve_store_root())


STATE = ProcessState()


def current_store(*, strict: bool = False) -> Store:
    """A :class:`~gitrun.store.Store` of the tracking URI in use."""
    from gitrun.store import Store

    return Store(STATE.store_root(), strict=strict)


def reset(*, end_runs: bool = True) -> None:
    """Forget what this process set: active runs (ended KILLED unless ``end_runs`` is False), the
    tracking URI, the active experiment, the last run and the cached client."""
    if end_runs:
        for active in reversed(list(STATE.active.values())):
            with contextlib.suppress(Exception):
                active.finish(RunStatus.KILLED)
    STATE.__init__()  # type: ignore[misc]
