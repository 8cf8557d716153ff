"""The task a Dask worker runs for one run: a ``python -m gitrun.projects.trial`` process (in a
clone of the repository in clone mode), stopped when the driver sets the run's cancel event.

Imported on the workers by name (``gitrun.projects.worker.run_trial``), so gitrun must be installed
there, as any task's code must."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import replace
from typing import Any

from gitrun.errors import GitrunError
from gitrun.projects.backends import process_outcome, spawn_trial
from gitrun.projects.runner import RunSpec
from gitrun.store import RunRecord, Store

WORKER_TAG = "gitrun.dask.worker"
POLL_S = 0.25


def cancel_event_name(run_id: str) -> str:
    return f"gitrun-cancel-{run_id}"


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return None


def wait_cancellable(proc: subprocess.Popen[bytes], run_id: str) -> int:
    """Wait for the trial process; SIGTERM it (it ends its run KILLED) when the driver cancels the run."""
    event = None
    while True:
        try:
            return proc.wait(timeout=POLL_S)
        except subprocess.TimeoutExpired:
            pass
        try:
            if event is None:
                from distributed import Event

                event = Event(cancel_event_name(run_id))
            if event.is_set():
                proc.send_signal(signal.SIGTERM)
                return proc.wait()
        except (ImportError, ValueError):  # not in a worker: nothing can cancel it
            event = None


def read_record(spec: RunSpec) -> RunRecord | None:
    if not spec.tracking_uri:
        return None
    try:
        return Store(spec.tracking_uri).read_run(spec.run_id)
    except GitrunError:
        return None


def run_trial(spec_json: str, clone: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one spec on this worker; the :class:`RunOutcome` as a dict."""
    spec = RunSpec.from_json(spec_json)
    worker = _worker_address()
    if worker:
        spec = replace(spec, tags={**spec.tags, WORKER_TAG: worker})
    if clone is not None:
        from gitrun.projects.clone import CloneSpec, run_in_clone

        return run_in_clone(spec, CloneSpec(**clone)).to_dict()
    proc, errors = spawn_trial(spec)
    returncode = wait_cancellable(proc, spec.run_id)
    return process_outcome(spec, returncode, read_record(spec), errors).to_dict()
