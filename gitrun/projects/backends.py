"""Project backends: what runs a run or a sweep's trials (MLflow's project-backend plugin type).

A backend is a class registered through the ``gitrun_project_backends`` hook under a name
(``gitrun run --backend NAME``, ``gitrun sweep --backend NAME``), built with its settings (``-c
FILE|JSON``). :meth:`Backend.submit` starts a :class:`~gitrun.projects.runner.RunSpec` and returns
a :class:`~gitrun.projects.submitted.SubmittedRun` at once; :meth:`Backend.close` ends the
backend's work (Dask's clone mode brings the runs home there). gitrun's own ``local`` and
``dask`` are registered the same way (``gitrun.projects.plugin``).
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from gitrun.entities import RunStatus
from gitrun.errors import ExecutionException
from gitrun.plugins import get_plugin_manager
from gitrun.projects.command import preexec
from gitrun.projects.runner import RunOutcome, RunSpec
from gitrun.projects.submitted import SubmittedRun
from gitrun.store import RunRecord

STDERR_TAIL_LINES = 10


class Backend(Protocol):
    name: str

    def __init__(self, config: Mapping[str, Any]) -> None: ...

    def submit(self, spec: RunSpec) -> SubmittedRun:
        """Start (or queue) the run; return at once."""

    def default_parallel(self) -> int:
        """How many trials a sweep keeps submitted at once when ``--parallel`` is not given."""

    def close(self, commit_with: Sequence[str] = ()) -> None:
        """Finish: release the backend; a backend whose runs live elsewhere brings them in
        (with ``commit_with``, runs of this store to commit alongside them)."""


def available_backends() -> dict[str, Any]:
    """Backend name -> class or ``"module:attribute"``, from every plugin (later registrations win)."""
    found: dict[str, Any] = {}
    for impl in get_plugin_manager().hook.gitrun_project_backends.get_hookimpls():
        try:
            result = impl.function()
        except Exception as exc:  # a broken plugin costs its own backends, not the others
            warnings.warn(f"gitrun plugin {impl.plugin_name!r} failed in gitrun_project_backends: {exc}", stacklevel=2)
            continue
        if isinstance(result, Mapping):
            found.update(result)
    return found


def load_backend(name: str, config: Mapping[str, Any] | None = None) -> Backend:
    """The backend ``name``, built with ``config``."""
    target = available_backends().get(name)
    if target is None:
        known = ", ".join(sorted(available_backends())) or "none"
        raise ExecutionException(
            f"no project backend named {name!r} (known: {known}); install the plugin that provides it"
        )
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
    return target(dict(config or {}))  # type: ignore[no-any-return]


def parse_backend_config(value: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """``-c``: a JSON or YAML file, or the same inline (``'{"clone": true}'``, ``'clone: true'``)."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    import yaml

    path = Path(value)
    text = path.read_text(encoding="utf-8") if path.is_file() else value
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ExecutionException(f"--backend-config {value!r} is neither a file nor JSON/YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ExecutionException(f"--backend-config {value!r} must be a mapping, such as '{{\"clone\": true}}'")
    return data


def trial_command(spec: RunSpec) -> list[str]:
    return [sys.executable, "-m", "gitrun.projects.trial", spec.to_json()]


def spawn_trial(
    spec: RunSpec, *, interactive: bool = False, cwd: str | None = None
) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    """A ``python -m gitrun.projects.trial`` process for ``spec``, dying (SIGTERM: it ends its run
    KILLED) with this one. ``interactive``: in this process's group with its stdin (one run, as
    ``mlflow run`` does); else in a group of its own, stdin closed (sweeps)."""
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - the submitted run reads it after the process ends
    proc = subprocess.Popen(
        trial_command(spec),
        cwd=cwd,
        stdin=None if interactive else subprocess.DEVNULL,
        stdout=None if spec.stream else subprocess.DEVNULL,
        stderr=None if spec.stream else errors,
        preexec_fn=preexec(os.getpid(), new_group=not interactive, death_signal=signal.SIGTERM),
        close_fds=True,
    )
    return proc, errors


def process_outcome(spec: RunSpec, returncode: int, record: RunRecord | None, errors: IO[bytes]) -> RunOutcome:
    """The outcome of a trial process, from its exit status and the run as the store has it."""
    exit_status = 128 - returncode if returncode < 0 else returncode
    if record is not None:
        return RunOutcome(spec.run_id, record.status, exit_status, metrics=dict(record.metrics))
    errors.seek(0)  # it failed before its run existed: what it printed says why
    lines = errors.read().decode("utf-8", "replace").strip().splitlines()
    return RunOutcome(spec.run_id, RunStatus.FAILED, exit_status, "\n".join(lines[-STDERR_TAIL_LINES:]) or None)


class LocalSubmittedRun(SubmittedRun):
    def __init__(self, spec: RunSpec, proc: subprocess.Popen[bytes], errors: IO[bytes]):
        super().__init__(spec)
        self.proc = proc
        self.errors = errors

    def wait(self) -> bool:
        try:
            self.proc.wait()
        except KeyboardInterrupt:
            self.cancel()
            raise
        self._closing()
        return self.outcome().status == RunStatus.FINISHED

    def done(self) -> bool:
        return self.proc.poll() is not None

    def cancel(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()

    def outcome(self) -> RunOutcome:
        if self.proc.returncode is None:
            raise ExecutionException(f"run {self.run_id} has not ended yet; wait() for it first")
        return process_outcome(self.spec, self.proc.returncode, self.stored_run(), self.errors)


class LocalBackend:
    """Each run in a ``python -m gitrun.projects.trial`` process on this machine (``--parallel N`` at once)."""

    name = "local"

    def __init__(self, config: Mapping[str, Any]):
        unknown = set(config) - {"interactive"}
        if unknown:
            raise ExecutionException(f"the local backend takes no settings {', '.join(sorted(unknown))}")
        self.interactive = bool(config.get("interactive", False))

    def submit(self, spec: RunSpec) -> SubmittedRun:
        proc, errors = spawn_trial(spec, interactive=self.interactive or spec.stream)
        return LocalSubmittedRun(spec, proc, errors)

    def default_parallel(self) -> int:
        return 1

    def close(self, commit_with: Sequence[str] = ()) -> None:
        return None
