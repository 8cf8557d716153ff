"""A run handed to a backend: MLflow's ``SubmittedRun`` (``run_id``, ``wait``, ``get_status``, ``cancel``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from gitrun.entities import RunStatus
from gitrun.errors import GitrunError
from gitrun.projects.runner import RunOutcome, RunSpec
from gitrun.store import RunRecord, Store


class SubmittedRun(ABC):
    """A run a backend has started (or queued). ``run_id`` is known at once: the submitting
    process chose it. Status comes from the store while the run exists there, else from the
    backend (SCHEDULED while queued)."""

    def __init__(self, spec: RunSpec):
        self.spec = spec
        self.owns_backend: Any = None  # a backend to close once this run has been waited for

    @property
    def run_id(self) -> str:
        return self.spec.run_id

    @abstractmethod
    def wait(self) -> bool:
        """Wait for the run to end; True if it FINISHED."""

    @abstractmethod
    def done(self) -> bool:
        """Whether the run has ended (without waiting)."""

    @abstractmethod
    def cancel(self) -> None:
        """Stop the run (its command gets SIGTERM; the run ends KILLED) and wait for it."""

    @abstractmethod
    def outcome(self) -> RunOutcome:
        """The run's ID, status and exit status, once it has ended."""

    def get_status(self) -> str:
        """RUNNING, FINISHED, FAILED, KILLED, or SCHEDULED while it waits to start."""
        record = self.stored_run()
        if record is not None:
            return record.status
        return self.outcome().status if self.done() else RunStatus.SCHEDULED

    def stored_run(self) -> RunRecord | None:
        """The run as the submitting process's store has it, None while it is not there."""
        if not self.spec.tracking_uri:
            return None
        try:
            return Store(self.spec.tracking_uri).read_run(self.run_id)
        except GitrunError:
            return None

    def _closing(self) -> None:
        backend, self.owns_backend = self.owns_backend, None
        if backend is not None:
            backend.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.run_id}>"
