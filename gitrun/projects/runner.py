"""One run of a command or of a project's entry point, in this process: :func:`execute`.

What every way of running goes through: ``gitrun run`` in its own process, and each trial or
``gitrun.projects.run`` in a ``python -m gitrun.projects.trial`` process. The run is created
(or resumed), the command runs as its child (:mod:`gitrun.projects.command`) with
``GITRUN_RUN_ID`` set so a script's ``start_run()`` logs into the same run, and the run ends with
the command's status. A :class:`RunSpec` says what to run and where the run goes; it round-trips
through JSON so another process (a trial, a Dask worker) can run it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from gitrun import tags
from gitrun.entities import RunStatus
from gitrun.envs import PythonEnv, VirtualEnv, build_env
from gitrun.errors import ExecutionException, GitrunError
from gitrun.projects import environment, fetch, lineage
from gitrun.projects.command import DEFAULT_OUTPUT_CAP, Capture, run_command
from gitrun.projects.fetch import ProjectSource
from gitrun.projects.lineage import DvcContext
from gitrun.projects.spec import Project, load_project
from gitrun.store import Store
from gitrun.store.datasets import DVC_DEP_CONTEXT, DVC_OUT_CONTEXT, add_inputs
from gitrun.store.layout import ENV_TRACKING_URI
from gitrun.store.names import generate_run_name
from gitrun.store.textio import make_dirs
from gitrun.tracking import fluent
from gitrun.tracking.fluent import ENV_EXPERIMENT_ID, ENV_EXPERIMENT_NAME, ENV_RUN_ID, ActiveRun
from gitrun.tracking.state import STATE, current_store

ENV_MANAGERS = ("local", "venv")
OUTPUT_DIR = "gitrun"  # artifacts/gitrun/stdout.txt and stderr.txt


@dataclass(frozen=True)
class RunSpec:
    """What to run as one run, and where the run goes."""

    run_id: str  # chosen by whoever scheduled the run (store.new_run_id), or an existing run's
    argv: tuple[str, ...] = ()  # a command (`gitrun run -- CMD`), or else...
    project: ProjectSource | None = None  # ...an entry point of this project
    entry_point: str = "main"
    parameters: dict[str, str] = field(default_factory=dict)
    resume: bool = False  # run_id names an existing run (MLflow's --run-id)
    experiment_name: str | None = None
    experiment_id: str | None = None
    run_name: str | None = None
    parent_run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    env_manager: str | None = None  # local (the default) or venv; None: not chosen (local)
    backend: str = "local"
    tracking_uri: str | None = None
    cwd: str | None = None  # where a command runs (default: the current directory)
    output_cap: int = DEFAULT_OUTPUT_CAP
    stream: bool = True  # copy the command's output to this process's stdout/stderr too

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        data = json.loads(text)
        if data.get("project") is not None:
            data["project"] = ProjectSource(**data["project"])
        data["argv"] = tuple(data.get("argv") or ())
        return cls(**data)

    def moved(self, old_root: Path, new_root: Path) -> RunSpec:
        """This spec with its paths under ``old_root`` (a repository) moved under ``new_root`` (a clone of it)."""

        def move(path: str | None) -> str | None:
            if path is None:
                return None
            p = Path(path)
            return str(new_root / p.relative_to(old_root)) if p.is_relative_to(old_root) else path

        project = self.project
        if project is not None and project.directory is not None:
            project = replace(project, directory=move(project.directory))
        return replace(self, project=project, tracking_uri=move(self.tracking_uri), cwd=move(self.cwd))


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    status: str
    exit_status: int
    error: str | None = None  # why it could not run, when it failed before its command started
    branch: str | None = None  # clone mode: the branch its runs were pushed on
    runs: tuple[tuple[str, str], ...] = ()  # clone mode: (experiment ID, run ID) of the runs it committed
    metrics: dict[str, float] = field(default_factory=dict)  # the run's latest values

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunOutcome:
        return cls(**{**data, "runs": tuple(tuple(r) for r in data.get("runs") or ())})


@dataclass(frozen=True)
class _Plan:
    """The command a spec comes to, and what its run records before it starts."""

    argv: list[str]
    cwd: Path
    source_name: str
    tags: dict[str, str]
    params: dict[str, str]
    python_env: PythonEnv | None  # with --env-manager venv


def check_env_manager(name: str | None) -> str:
    name = "venv" if name == "virtualenv" else name or "local"  # MLflow's name for it
    if name not in ENV_MANAGERS:
        raise ExecutionException(f"unknown --env-manager {name!r}; use local or venv")
    return name


def check_environment(project: Project, env_manager: str, explicit: bool) -> None:
    """Refuse what gitrun does not run: Docker images, and conda environments (unless told to use
    the current environment with ``--env-manager local``)."""
    where = project.file or project.directory
    if project.env_type == "docker_env":
        image = (project.docker_env or {}).get("image")
        raise ExecutionException(
            f"{where} asks for the Docker image {image!r} (docker_env); gitrun runs no containers: run "
            f"`gitrun run` inside the image yourself (docker run ... {image} gitrun run ...)"
        )
    if project.env_type == "conda_env" and not (env_manager == "local" and explicit):
        raise ExecutionException(
            f"{where} asks for a conda environment ({project.env_file}); gitrun does not build conda environments: "
            "activate it yourself and pass --env-manager local, or describe it in python_env.yaml"
        )


def plan(spec: RunSpec, directory: Path) -> _Plan:
    """What ``spec`` runs (in ``directory``: the project's, or the command's working directory)."""
    env_manager = check_env_manager(spec.env_manager)
    if spec.project is None:  # a command; parameters are appended as MLflow appends extra ones
        argv = [*spec.argv, *(arg for key, value in spec.parameters.items() for arg in (f"--{key}", value))]
        run_tags = {tags.COMMAND: shlex.join(argv), tags.PROJECT_ENV: env_manager_tag(env_manager)}
        python_env = _python_env_of(directory, None) if env_manager == "venv" else None
        return _Plan(argv, directory, shlex.join(spec.argv), run_tags, dict(spec.parameters), python_env)
    project = load_project(directory)
    check_environment(project, env_manager, explicit=spec.env_manager is not None)
    entry = project.entry_point(spec.entry_point)
    command = entry.command_line(spec.parameters)
    run_tags = {
        tags.SOURCE_TYPE: "PROJECT",
        tags.SOURCE_NAME: spec.project.source_name,
        tags.PROJECT_ENTRY_POINT: entry.name,
        tags.PROJECT_BACKEND: spec.backend,
        tags.PROJECT_ENV: env_manager_tag(env_manager),
        tags.COMMAND: command,
    }
    if spec.project.branch:
        run_tags[tags.GIT_BRANCH] = spec.project.branch
    python_env = _python_env_of(directory, project) if env_manager == "venv" else None
    return _Plan(
        ["bash", "-c", command],
        directory,
        spec.project.source_name,
        run_tags,
        entry.log_params(spec.parameters),
        python_env,
    )


def env_manager_tag(env_manager: str) -> str:
    """``mlflow.project.env``: MLflow's value for a virtual environment, else ``local``."""
    return "virtualenv" if env_manager == "venv" else "local"


def _python_env_of(directory: Path, project: Project | None) -> PythonEnv:
    if project is not None and project.env_type == "python_env" and project.env_file is not None:
        return PythonEnv.from_yaml(project.env_file)
    for name, reader in (("python_env.yaml", PythonEnv.from_yaml), ("requirements.txt", PythonEnv.from_requirements)):
        if (directory / name).is_file():
            return reader(directory / name)
    raise ExecutionException(
        f"--env-manager venv needs a python_env.yaml or a requirements.txt in {directory} (or python_env: in "
        "the MLproject); add one, or use --env-manager local"
    )


@contextlib.contextmanager
def source_context(name: str, directory: Path) -> Iterator[None]:
    previous, STATE.source = STATE.source, (name, str(directory))
    try:
        yield
    finally:
        STATE.source = previous


def execute(spec: RunSpec) -> RunOutcome:
    """Run ``spec`` in this process to its end; returns the run's ID, status and the exit status
    (the command's). Raises :class:`ExecutionException` when it cannot even start."""
    if spec.tracking_uri:
        fluent.set_tracking_uri(spec.tracking_uri)
    checkout = fetch.checkout(spec.project) if spec.project is not None else contextlib.nullcontext(None)
    with checkout as project_dir:
        directory = Path(project_dir) if project_dir is not None else Path(spec.cwd or os.getcwd())
        work = plan(spec, directory)
        if work.python_env is None:
            _check_runnable(work)  # a typo is an error, not a FAILED run in the store
        dvc = lineage.from_environment()
        with source_context(work.source_name, directory):
            active = _begin(spec, work, dvc)
        return _run(spec, work, active, dvc)


def _check_runnable(work: _Plan) -> None:
    """Refuse, before any run exists, a command that cannot start: not on the PATH it will run
    with, or not an executable file (exit status 127 / 126, as a shell's)."""
    if not work.argv:
        return
    program = work.argv[0]
    if os.sep in program:
        target = Path(work.cwd or ".", program)
        if target.is_file() and os.access(target, os.X_OK):
            return
        missing = not target.exists()
    else:
        if shutil.which(program, path=_child_path(os.environ.get("PATH", ""))) is not None:
            return
        missing = True
    reason = "No such file or directory" if missing else "Permission denied"
    error = ExecutionException(f"cannot run {program!r}: {reason}; check the command's name and that it is on PATH")
    error.exit_code = 127 if missing else 126
    raise error


def _begin(spec: RunSpec, work: _Plan, dvc: DvcContext | None) -> ActiveRun:
    run_tags = {**work.tags, **(dvc.tags() if dvc else {}), **spec.tags}
    if spec.resume:
        return fluent.start_run(run_id=spec.run_id, run_name=spec.run_name, tags=run_tags)
    store = current_store()
    if spec.experiment_id is not None and store.layout.experiment_dir(spec.experiment_id).is_dir():
        experiment_id = spec.experiment_id
    elif spec.experiment_name is not None:
        experiment_id = fluent.set_experiment(spec.experiment_name).experiment_id
    else:
        experiment_id = fluent.resolve_experiment_id(spec.experiment_id)
    parent = spec.parent_run_id or _enclosing_run(store)
    name = spec.run_name or generate_run_name()
    fluent.new_run(store, experiment_id, name, run_tags, parent, run_id=spec.run_id)
    active = fluent.start_run(run_id=spec.run_id)
    if work.params:
        fluent.log_params(work.params)
    return active


def _enclosing_run(store: Store) -> str | None:
    """The run of an enclosing ``gitrun run`` (``GITRUN_RUN_ID``), the parent of this one, if it is in this store."""
    run_id = os.environ.get(ENV_RUN_ID)
    if not run_id:
        return None
    try:
        store.find_run_dir(run_id)
    except GitrunError:
        return None
    return run_id


def _run(spec: RunSpec, work: _Plan, active: ActiveRun, dvc: DvcContext | None) -> RunOutcome:
    run_id = active.info.run_id
    run_dir: Path = active._writer.run_dir  # type: ignore[attr-defined]
    try:
        env = _child_env(active)
        venv: VirtualEnv | None = None
        if work.python_env is not None:
            venv = build_env(work.python_env)
            env = venv.activate(env)
        fluent.set_tags(environment.summary(str(venv.python) if venv else None))
        if dvc is not None:
            add_inputs(run_dir, dvc.inputs(DVC_DEP_CONTEXT))
        out_dir = run_dir / "artifacts" / OUTPUT_DIR
        make_dirs(out_dir)
        echo_out = sys.stdout.buffer if spec.stream else None
        echo_err = sys.stderr.buffer if spec.stream else None
        stdout = Capture(out_dir / "stdout.txt", echo_out, spec.output_cap)
        stderr = Capture(out_dir / "stderr.txt", echo_err, spec.output_cap)
        result = run_command(work.argv, cwd=work.cwd, env=env, stdout=stdout, stderr=stderr)
        if dvc is not None:
            add_inputs(run_dir, dvc.inputs(DVC_OUT_CONTEXT))
        fluent.set_tags({tags.EXIT_STATUS: str(result.exit_status), tags.OUTPUT: _output_note(stdout, stderr)})
    except KeyboardInterrupt:
        active.finish(RunStatus.KILLED)
        raise
    except BaseException as exc:
        with contextlib.suppress(Exception):
            fluent.set_tag(tags.ERROR, f"{type(exc).__name__}: {exc}"[:2000])
        active.finish(RunStatus.FAILED)
        raise
    active.finish(result.status)
    run = fluent.get_run(run_id)
    return RunOutcome(run_id, run.info.status, result.exit_status, metrics=dict(run.data.metrics))


def _child_env(active: ActiveRun) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != ENV_EXPERIMENT_NAME}  # the ID below says it
    env.update(
        {
            ENV_RUN_ID: active.info.run_id,
            ENV_TRACKING_URI: STATE.store_root(),
            ENV_EXPERIMENT_ID: active.info.experiment_id,
        }
    )
    env.setdefault("PYTHONUNBUFFERED", "1")  # output streams as it is printed, not when a buffer fills
    # The current environment is the one gitrun runs in (what `activate` would give): the command's
    # `python` is this interpreter, so `import gitrun` works in it.
    env["PATH"] = _child_path(env.get("PATH", ""))
    return env


def _child_path(path: str) -> str:
    """PATH for a command run in the current environment: this interpreter's folder first."""
    here = str(Path(sys.executable).parent)
    return path if here in path.split(os.pathsep) else os.pathsep.join(p for p in (here, path) if p)


def _output_note(stdout: Capture, stderr: Capture) -> str:
    parts = []
    for name, capture in (("stdout", stdout), ("stderr", stderr)):
        dropped = f", {capture.dropped} left out" if capture.dropped else ""
        lost = f", not kept after an error: {capture.lost}" if capture.lost else ""
        parts.append(f"{OUTPUT_DIR}/{name}.txt: {capture.total} bytes{dropped}{lost}")
    return "; ".join(parts)
