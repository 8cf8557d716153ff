"""The ``dask`` backend: each run (each sweep trial) is a task of a ``dask.distributed`` cluster.

Settings (``--backend-config``, JSON or YAML; ``--address`` on ``gitrun sweep``):

- ``address``: the scheduler (``tcp://host:8786``); without one, a local cluster of ``n_workers``
  processes (default: one per core) is started for the sweep and stopped after it.
- ``clone: true``: the workers share no file system with this machine. Each one clones the
  repository from ``remote`` (default ``origin``) at this commit, runs its trial there, commits its
  runs on ``gitrun/sweep/<sweep>/<trial>`` and pushes that branch; when the sweep ends this
  process brings the runs in with one ``gitrun commit`` and deletes the branches
  (:mod:`gitrun.projects.clone`). Without it, the workers write into this store directly (a
  shared file system; the store is safe for concurrent writers).

dask is imported only when this backend is used (``pip install 'gitrun-ml[projects]'``).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from gitrun import tags
from gitrun.entities import RunStatus
from gitrun.errors import ExecutionException
from gitrun.projects.clone import CloneSpec, bring_in, sweep_origin
from gitrun.projects.runner import RunOutcome, RunSpec
from gitrun.projects.submitted import SubmittedRun
from gitrun.projects.worker import cancel_event_name, run_trial

INSTALL_HINT = "pip install 'gitrun-ml[projects]'"
SETTINGS = ("address", "clone", "remote", "n_workers", "threads_per_worker")


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ExecutionException(f"the dask backend needs dask.distributed: {INSTALL_HINT}") from None
    return distributed


class DaskSubmittedRun(SubmittedRun):
    def __init__(self, spec: RunSpec, future: Any, backend: DaskBackend):
        super().__init__(spec)
        self.future = future
        self.backend = backend
        self._outcome: RunOutcome | None = None

    def wait(self) -> bool:
        outcome = self.outcome(block=True)
        self._closing()
        return outcome.status == RunStatus.FINISHED

    def done(self) -> bool:
        return bool(self.future.done())

    def cancel(self) -> None:
        distributed = _distributed()
        distributed.Event(cancel_event_name(self.run_id), client=self.backend.client).set()
        self.future.cancel()
        with contextlib.suppress(Exception):
            self.outcome(block=True)

    def outcome(self, block: bool = False) -> RunOutcome:
        if self._outcome is None:
            if not block and not self.future.done():
                raise ExecutionException(f"run {self.run_id} has not ended yet; wait() for it first")
            try:
                self._outcome = RunOutcome.from_dict(self.future.result())
            except Exception as exc:  # the task failed (a worker died, the clone failed...)
                kind = "cancelled" if self.future.cancelled() else f"{type(exc).__name__}: {exc}"
                self._outcome = RunOutcome(
                    self.run_id, RunStatus.KILLED if self.future.cancelled() else RunStatus.FAILED, 1, kind
                )
            self.backend.ended.append(self._outcome)
        return self._outcome

    def get_status(self) -> str:
        if self.backend.clone is None:
            return super().get_status()
        return self.outcome().status if self.done() else RunStatus.SCHEDULED  # its run is on a worker


class DaskBackend:
    """Runs on a Dask cluster; see the module's docstring for the settings."""

    name = "dask"

    def __init__(self, config: Mapping[str, Any]):
        unknown = set(config) - set(SETTINGS)
        if unknown:
            raise ExecutionException(
                f"unknown dask backend setting(s) {', '.join(sorted(unknown))}; known: {', '.join(SETTINGS)}"
            )
        distributed = _distributed()
        self.cluster: Any = None
        address = config.get("address")
        if address:
            self.client = distributed.Client(address, set_as_default=False)
        else:
            n_workers = int(config.get("n_workers") or os.cpu_count() or 1)
            self.cluster = distributed.LocalCluster(
                n_workers=n_workers,
                threads_per_worker=int(config.get("threads_per_worker") or 1),
                processes=True,
                dashboard_address=None,
                host="127.0.0.1",
            )
            self.client = distributed.Client(self.cluster, set_as_default=False)
        self.clone: CloneSpec | None = None
        self.remote = str(config.get("remote") or "origin")
        if config.get("clone"):
            from gitrun.tracking.state import current_store

            self.clone = sweep_origin(current_store(), self.remote)
        self.ended: list[RunOutcome] = []
        self.pushed_branches: list[str] = []

    def submit(self, spec: RunSpec) -> SubmittedRun:
        clone = None
        if self.clone is not None:
            sweep = spec.parent_run_id or spec.run_id
            trial = spec.tags.get(tags.SWEEP_TRIAL) or spec.run_id
            clone = asdict(self.clone) | {"branch": f"gitrun/sweep/{sweep}/{trial}"}
        future = self.client.submit(run_trial, spec.to_json(), clone, key=f"gitrun-run-{spec.run_id}", pure=False)
        return DaskSubmittedRun(spec, future, self)

    def default_parallel(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def close(self, commit_with: Sequence[str] = ()) -> None:
        try:
            if self.clone is not None:
                from gitrun.tracking.state import current_store

                branches = [o.branch for o in self.ended if o.branch]
                self.pushed_branches = branches
                if branches or commit_with:
                    bring_in(current_store(), self.clone, self.ended, commit_with)
        finally:
            self.client.close()
            if self.cluster is not None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self.cluster.close()
