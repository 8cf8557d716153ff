"""The projects API: MLflow's ``mlflow.projects.run``, and what ``gitrun run`` / ``gitrun sweep`` call."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gitrun.errors import ExecutionException
from gitrun.formatting import parse_size
from gitrun.projects import fetch
from gitrun.projects.backends import load_backend, parse_backend_config
from gitrun.projects.command import DEFAULT_OUTPUT_CAP
from gitrun.projects.runner import RunOutcome, RunSpec, check_env_manager, check_environment, execute
from gitrun.projects.spec import load_project
from gitrun.projects.submitted import SubmittedRun
from gitrun.projects.sweeps import SweepResult, parse_space, sweep
from gitrun.store import new_run_id
from gitrun.tracking import fluent
from gitrun.tracking.state import STATE


def _validate(
    source: fetch.ProjectSource, entry_point: str, parameters: Mapping[str, Any], env_manager: str | None
) -> None:
    """What MLflow checks before it starts a run: the entry point exists, required params are given."""
    with fetch.checkout(source) as directory:
        project = load_project(directory)
        check_environment(project, check_env_manager(env_manager), explicit=env_manager is not None)
        project.entry_point(entry_point).resolve(parameters, resolve_paths=False)


def _parent_run_id() -> str | None:
    active = fluent.active_run()
    return active.info.run_id if active is not None else None


def run(
    uri: str = ".",
    entry_point: str = "main",
    version: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    docker_args: Mapping[str, Any] | None = None,
    experiment_name: str | None = None,
    experiment_id: str | None = None,
    backend: str = "local",
    backend_config: Mapping[str, Any] | str | None = None,
    storage_dir: str | None = None,
    synchronous: bool = True,
    run_id: str | None = None,
    run_name: str | None = None,
    env_manager: str | None = None,
    build_image: bool = False,
    docker_auth: Mapping[str, Any] | None = None,
) -> SubmittedRun:
    """Run an entry point of the project at ``uri`` as a run (``mlflow.projects.run``); a child run
    of the active run, if there is one. Returns the :class:`SubmittedRun`; with ``synchronous``
    (the default) after it ended, raising :class:`ExecutionException` when it failed."""
    if docker_args or build_image or docker_auth:
        raise ExecutionException(
            "gitrun runs no Docker containers: docker_args, build_image and docker_auth are unsupported"
        )
    if storage_dir is not None:
        raise ExecutionException("storage_dir is unsupported: gitrun does not download remote `path` parameters")
    if experiment_name and experiment_id:
        raise ExecutionException("Specify only one of 'experiment_name' or 'experiment_id'.")
    check_env_manager(env_manager)
    params = {str(k): str(v) for k, v in (parameters or {}).items()}
    source = fetch.resolve(uri, version)
    _validate(source, entry_point, params, env_manager)
    spec = RunSpec(
        run_id=run_id or new_run_id(),
        resume=run_id is not None,
        project=source,
        entry_point=entry_point,
        parameters=params,
        experiment_name=experiment_name,
        experiment_id=None if experiment_id is None else str(experiment_id),
        run_name=run_name,
        parent_run_id=_parent_run_id(),
        env_manager=env_manager,
        backend=backend,
        tracking_uri=STATE.store_root(),
    )
    runner = load_backend(backend, parse_backend_config(backend_config))
    submitted = runner.submit(spec)
    submitted.owns_backend = runner
    if synchronous and not submitted.wait():
        raise ExecutionException(f"Run (ID '{submitted.run_id}') failed ({submitted.get_status()})")
    return submitted


def run_from_cli(
    uri: str,
    command: Sequence[str] | None,
    parameters: dict[str, str],
    entry_point: str,
    version: str | None,
    experiment_name: str | None,
    experiment_id: str | None,
    env_manager: str | None,
    backend: str,
    backend_config: str | None,
    output_cap: str | None,
    run_name: str | None,
    run_id: str | None,
    tracking_uri: str | None,
) -> RunOutcome:
    """``gitrun run``: a local run in this process (its signals and exit status are the command's);
    another backend's run submitted to it and waited for."""
    if tracking_uri:
        fluent.set_tracking_uri(tracking_uri)
    check_env_manager(env_manager)
    source = fetch.resolve(uri, version) if command is None else None
    spec = RunSpec(
        run_id=run_id or new_run_id(),
        resume=run_id is not None,
        argv=tuple(command or ()),
        project=source,
        entry_point=entry_point,
        parameters=parameters,
        experiment_name=experiment_name,
        experiment_id=experiment_id,
        run_name=run_name,
        env_manager=env_manager,
        backend=backend,
        tracking_uri=STATE.store_root(),
        cwd=os.getcwd(),
        output_cap=parse_size(output_cap) if output_cap else DEFAULT_OUTPUT_CAP,
        parent_run_id=None,
    )
    if backend == "local":
        return execute(spec)
    runner = load_backend(backend, parse_backend_config(backend_config))
    submitted = runner.submit(spec)
    try:
        submitted.wait()
        return submitted.outcome()
    finally:
        runner.close()


def sweep_from_cli(
    uri: str,
    command: Sequence[str] | None,
    assignments: Sequence[str],
    entry_point: str,
    version: str | None,
    experiment_name: str | None,
    experiment_id: str | None,
    env_manager: str | None,
    backend: str,
    backend_config: str | None,
    output_cap: str | None,
    random_points: int | None,
    seed: int | None,
    parallel: int | None,
    address: str | None,
    metric: str | None,
    run_name: str | None,
    tracking_uri: str | None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> SweepResult:
    if tracking_uri:
        fluent.set_tracking_uri(tracking_uri)
    config = dict(parse_backend_config(backend_config))
    if address:
        config["address"] = address
    return sweep(
        uri=uri,
        entry_point=entry_point,
        space=parse_space(assignments),
        command=command,
        version=version,
        random=random_points,
        seed=seed,
        parallel=parallel,
        backend=backend,
        backend_config=config,
        experiment_name=experiment_name,
        experiment_id=experiment_id,
        run_name=run_name,
        env_manager=env_manager,
        metric=metric,
        output_cap=parse_size(output_cap) if output_cap else DEFAULT_OUTPUT_CAP,
        on_progress=on_progress,
    )
