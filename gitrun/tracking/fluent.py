"""The fluent tracking API with MLflow's names: ``start_run``, ``log_metric``, ``set_tag``...

State: the tracking URI, the active experiment, and a per-thread stack of active runs (nested
runs push onto it). ``log_metric`` is the hot path: it finds the active run's writer through
two attribute lookups and makes one ``os.write``.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitrun import env
from gitrun.entities import Experiment, Metric, Run, RunData, RunInfo, RunStatus, ViewType
from gitrun.errors import ExperimentNotFoundError, InvalidInputError, RunNotFoundError, RunStateError
from gitrun.plugins import run_context_tags, store_at
from gitrun.search.api import SEARCH_MAX_RESULTS_PANDAS, rows_to_dataframe
from gitrun.search.engine import search_rows
from gitrun.store import model_metrics
from gitrun.store.layout import DEFAULT_EXPERIMENT_ID, canonical_experiment_id, resolve_store_root
from gitrun.store.names import generate_run_name
from gitrun.store.validation import validate_key, validate_run_id
from gitrun.store.writer import RunWriter, now_ms
from gitrun.tags import CODE_DIFF, CODE_DIFF_SHA256, NOTE, PARENT_RUN_ID, RUN_NAME
from gitrun.tracking import artifacts, inputs, system_metrics
from gitrun.tracking.client import Client
from gitrun.tracking.code import code_state
from gitrun.tracking.events import RunEvents, run_events
from gitrun.tracking.provenance import current_user, script_directory, source_name
from gitrun.tracking.state import STATE

if TYPE_CHECKING:
    import pandas

    from gitrun.store import Store

log = logging.getLogger(__name__)

__all__ = [
    "ActiveRun",
    "active_run",
    "create_experiment",
    "delete_experiment",
    "delete_experiment_tag",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush_artifact_async_logging",
    "flush_async_logging",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_metric_history",
    "get_parent_run",
    "get_run",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_inputs",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "load_table",
    "restore_experiment",
    "restore_run",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]

ENV_RUN_ID = env.RUN_ID.name
ENV_EXPERIMENT_NAME = env.EXPERIMENT_NAME.name
ENV_EXPERIMENT_ID = env.EXPERIMENT_ID.name


class ActiveRun(Run):
    """The run returned by :func:`start_run`; a context manager that ends it.

    On leaving the ``with`` block the run ends FINISHED, FAILED on an exception, KILLED on
    Ctrl-C (KeyboardInterrupt).
    """

    def __init__(self, run: Run, writer: RunWriter, events: RunEvents | None = None):
        super().__init__(info=run.info, data=run.data)
        object.__setattr__(self, "_writer", writer)
        object.__setattr__(self, "_events", events)  # None unless a plugin listens to run events

    def __enter__(self) -> ActiveRun:
        return self

    def finish(self, status: str) -> None:
        """End this run with ``status`` (what leaving the ``with`` block does)."""
        _end(self, status)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        _end(self, status)


# -- tracking URI and client ----------------------------------------------------------------
def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    """Use the store at ``uri``: a store directory, a Git work-tree root (then its ``.gitrun/``) or a
    ``file:`` URI of one; a server or database URI is reported once and runs go to the Git store
    (docs/format.md, "Where the store is"). ``None`` forgets it (the environment, then the default)."""
    STATE.tracking_uri = None if uri is None else str(resolve_store_root(uri))
    STATE.client = None
    STATE.experiment_id = None


def get_tracking_uri() -> str:
    """The store in use as a ``file://`` URI, as MLflow gives a local store (``set_tracking_uri``,
    ``GITRUN_TRACKING_URI`` / ``MLFLOW_TRACKING_URI``, or the default)."""
    return Path(STATE.store_root()).as_uri()


def is_tracking_uri_set() -> bool:
    return STATE.tracking_uri is not None or env.TRACKING_URI.get() is not None


def _get_client() -> Client:
    uri = STATE.store_root()
    client = STATE.client
    if client is None or client.tracking_uri != uri:
        client = STATE.client = Client(uri)
    return client  # type: ignore[no-any-return]


# -- experiments ----------------------------------------------------------------------------
def set_experiment(
    experiment_name: str | None = None,
    experiment_id: str | None = None,
    *,
    primary_metric: str | None = None,
    directions: Mapping[str, str] | None = None,
    **_: Any,
) -> Experiment:
    """Make an experiment active, creating it if needed; optionally record its metric settings.

    ``primary_metric`` names the metric that decides "the best run"; ``directions`` maps metric
    names to "min" or "max" (default: "min" for names like loss/error/mse, else "max").
    """
    client = _get_client()
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidInputError(
            "set_experiment needs exactly one of experiment_name or experiment_id, e.g. set_experiment('iris')"
        )
    if experiment_id is not None:
        exp = client.get_experiment(str(experiment_id))
    else:
        assert experiment_name is not None
        found = client.get_experiment_by_name(experiment_name)
        if found is None:  # exist_ok: parallel processes (a sweep) may all create it at once
            new_id = client.writable_store.create_experiment(
                experiment_name, primary_metric=primary_metric, directions=directions, exist_ok=True
            )
            exp = client.get_experiment(new_id)
            primary_metric = directions = None
        else:
            exp = found
    if primary_metric is not None or directions:
        client.writable_store.update_experiment(exp.experiment_id, primary_metric=primary_metric, directions=directions)
        exp = client.get_experiment(exp.experiment_id)
    STATE.experiment_id = exp.experiment_id
    return exp


def create_experiment(
    name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None, **settings: Any
) -> str:
    return _get_client().create_experiment(name, artifact_location, tags, **settings)


def get_experiment(experiment_id: str) -> Experiment:
    return _get_client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return _get_client().get_experiment_by_name(name)


def search_experiments(
    view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[Experiment]:
    return _get_client().search_experiments(view_type, max_results, filter_string, order_by)


def set_experiment_tag(key: str, value: Any) -> None:
    _get_client().set_experiment_tag(_resolve_experiment_id(None), key, value)


def set_experiment_tags(tags: Mapping[str, Any]) -> None:
    for key, value in tags.items():
        set_experiment_tag(key, value)


def delete_experiment_tag(key: str) -> None:
    """Delete a tag of the active experiment."""
    _get_client().delete_experiment_tag(_resolve_experiment_id(None), key)


def delete_experiment(experiment_id: str) -> None:
    """Mark the experiment deleted (``lifecycle_stage: deleted`` in its ``experiment.yaml``; its runs stay)."""
    _get_client().delete_experiment(canonical_experiment_id(experiment_id))


def restore_experiment(experiment_id: str) -> None:
    _get_client().restore_experiment(canonical_experiment_id(experiment_id))


def flush_async_logging() -> None:
    """Nothing to wait for: every log call has written its data when it returns (``synchronous=`` is accepted
    and ignored)."""


def flush_artifact_async_logging() -> None:
    """As :func:`flush_async_logging`: artifacts are written before their log call returns."""


def _resolve_experiment_id(experiment_id: str | None) -> str:
    if experiment_id is not None:
        return canonical_experiment_id(experiment_id)
    if STATE.experiment_id is not None:
        return STATE.experiment_id
    name = env.EXPERIMENT_NAME.get()
    if name:
        return set_experiment(name).experiment_id
    return canonical_experiment_id(env.EXPERIMENT_ID.get() or DEFAULT_EXPERIMENT_ID)


# -- runs -----------------------------------------------------------------------------------
def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a new run, or resume one (``run_id`` or ``GITRUN_RUN_ID``); use it as a context manager.

    ``log_system_metrics``: sample CPU, memory, disk, network (and GPUs) into ``system/...`` metrics
    while the run is active (None: as ``enable_system_metrics_logging`` or the environment say)."""
    stack = STATE.stack
    if stack and not nested:
        raise RunStateError(
            f"run {stack[-1].info.run_id} is already active; end it with gitrun.end_run() first, "
            "or start a child run with start_run(nested=True)"
        )
    client = _get_client()
    store = client.writable_store
    user_tags = {validate_key("tag", str(k)): str(v) for k, v in (tags or {}).items()}
    if description is not None:
        user_tags[NOTE] = description
    parent = parent_run_id or (stack[-1].info.run_id if nested and stack else None)
    if parent is not None:
        user_tags[PARENT_RUN_ID] = parent
    from_env = None if run_id or stack else env.RUN_ID.lookup()
    resume_id = run_id or (from_env[1] if from_env else None)
    sample_system = system_metrics.wanted(log_system_metrics)  # refused before the run exists

    if resume_id is not None:
        writer = _resume(store, resume_id, from_env[0] if from_env else None)
        if run_name:  # renames the resumed run, as MLflow does (a mlflow.runName tag in `tags` wins)
            user_tags = {RUN_NAME: run_name, **user_tags}
        if user_tags:
            writer.set_tags(user_tags)
        run = store.get_run(resume_id)
    else:
        exp_id = _resolve_experiment_id(experiment_id)
        name = run_name or user_tags.get(RUN_NAME) or generate_run_name()
        start = now_ms()
        writer, all_tags = new_run(store, exp_id, name, user_tags, parent, start_time=start, attach=True)
        new_id = writer.run_id
        user = current_user()
        run = Run(
            info=RunInfo(
                run_id=new_id,
                experiment_id=exp_id,
                run_name=name,
                user_id=user,
                status=RunStatus.RUNNING,
                start_time=start,
                end_time=None,
                artifact_uri=(writer.run_dir / "artifacts").as_uri(),
            ),
            data=RunData(metrics={}, params={}, tags=dict(all_tags)),
        )
    writer, events = run_events(store, writer)  # decided once: no plugin listening, no cost
    active = ActiveRun(run, writer, events)
    stack.append(active)
    STATE.active[run.info.run_id] = active
    STATE.last_run_id = run.info.run_id
    if sample_system:
        system_metrics.start(run.info.run_id, writer.run_dir, resumed=resume_id is not None)
    if events is not None:
        events.started(run, resumed=resume_id is not None)
    return active


def _resume(store: Store, run_id: str, variable: str | None) -> RunWriter:
    """The writer of the run ``start_run`` resumes, attached with this process's heartbeat; a run ID
    from ``GITRUN_RUN_ID`` / ``MLFLOW_RUN_ID`` that names no run is an error naming the variable."""
    try:
        return store.set_running(validate_run_id(run_id), attach=True)
    except (RunNotFoundError, InvalidInputError) as exc:
        if variable is None:
            raise
        raise RunNotFoundError(
            f"{variable}={run_id!r} names no run in {store.root} ({exc}); unset {variable} to start a new run "
            "(an MLflow run ID names no gitrun run)"
        ) from None


def new_run(
    store: Store,
    experiment_id: str,
    run_name: str,
    tags: Mapping[str, str],
    parent_run_id: str | None = None,
    run_id: str | None = None,
    start_time: int | None = None,
    attach: bool = False,
) -> tuple[RunWriter, dict[str, str]]:
    """Create a run as ``start_run`` does (the plugins' context tags, the code diff, then ``tags``),
    without making it active; returns its writer and its tags. ``run_id``, ``start_time``,
    ``attach``: see ``Store.new_run``."""
    all_tags = run_context_tags(experiment_id, run_name)
    code = code_state(script_directory())
    if code is not None:
        all_tags[CODE_DIFF] = code.note
        if code.diff is not None:  # kept once per distinct diff, before any run names it
            all_tags[CODE_DIFF_SHA256] = store.keep_code_diff(code.diff)
    if parent_run_id is not None:
        all_tags[PARENT_RUN_ID] = parent_run_id
    all_tags.update(tags)
    all_tags[RUN_NAME] = run_name
    writer, _ = store.new_run(
        experiment_id,
        run_name=run_name,
        tags=all_tags,
        parent_run_id=parent_run_id,
        user=current_user(),
        source=source_name(),
        run_id=run_id,
        start_time=start_time,
        attach=attach,
    )
    return writer, all_tags


def resolve_experiment_id(experiment_id: str | None = None) -> str:
    """The experiment a new run goes to: ``experiment_id``, else the active one, else
    ``GITRUN_EXPERIMENT_NAME`` / ``GITRUN_EXPERIMENT_ID``, else the default experiment."""
    return _resolve_experiment_id(experiment_id)


def end_run(status: str = RunStatus.FINISHED) -> None:
    """End the active run (the innermost one, for nested runs)."""
    if status not in RunStatus.ALL:  # before anything ends: the run stays active and can be ended again
        raise InvalidInputError(f"unknown run status {status!r}; use one of {', '.join(RunStatus.ALL)}")
    if STATE.stack:
        _end(STATE.stack[-1], status)


def _end(active: ActiveRun, status: str) -> None:
    stack = STATE.stack
    if active in stack:
        # Ending a parent ends its still-open children first.
        while stack and stack[-1] is not active:
            _end(stack[-1], status)
        stack.pop()
    elif STATE.active.get(active.info.run_id) is not active:
        return  # already ended
    run_id = active.info.run_id
    STATE.active.pop(run_id, None)
    store = _get_client().writable_store
    writer: RunWriter = active._writer  # type: ignore[attr-defined]
    events: RunEvents | None = active._events  # type: ignore[attr-defined]
    system_metrics.stop(run_id)  # its last point written before the run's summary
    if events is not None:
        events.flush()  # the last batch, before the run ends
    try:
        # The run ends when the last process attached to it ends (several may have resumed it).
        store.end_attached(run_id, status, writer=writer)
    finally:
        store.close_writer(run_id)
    STATE.last_run_id = run_id
    if events is not None:
        events.ended(status)


def active_run() -> ActiveRun | None:
    return STATE.stack[-1] if STATE.stack else None


def last_active_run() -> Run | None:
    """The active run, else the last run this process started or ended."""
    if STATE.stack:
        return get_run(STATE.stack[-1].info.run_id)
    return get_run(STATE.last_run_id) if STATE.last_run_id else None


def get_run(run_id: str) -> Run:
    return _get_client().get_run(run_id)


def get_parent_run(run_id: str) -> Run | None:
    return _get_client().get_parent_run(run_id)


def delete_run(run_id: str) -> None:
    _get_client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    _get_client().restore_run(run_id)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    run = _active_or_start()
    base = run.info.artifact_uri
    return f"{base}/{artifact_path}" if artifact_path else base


def _active_or_start() -> ActiveRun:
    """The active run; like MLflow, logging without one starts a run."""
    stack = STATE.stack
    return stack[-1] if stack else start_run()


def _writer_for(run_id: str | None) -> RunWriter:
    if run_id is None:
        stack = STATE.stack
        active: ActiveRun = stack[-1] if stack else start_run()
        return active._writer  # type: ignore[attr-defined,no-any-return]
    return _get_client().writable_store.writable(run_id)


# -- logging --------------------------------------------------------------------------------
def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
    model_id: str | None = None,
    dataset: Any = None,
    **_: Any,
) -> None:
    """Append one point to a metric series. Returns once the point is written to the OS.

    ``model_id`` (MLflow 3) also records the value as a metric of that logged model (on ``dataset``:
    an object with ``name`` and ``digest``), in the run's ``model_metrics.jsonl``."""
    writer = _writer_for(run_id)
    if model_id is None:
        writer.log_metric(key, value, step, timestamp)
        return
    timestamp = now_ms() if timestamp is None else timestamp
    writer.log_metric(key, value, step, timestamp)
    model_metrics.link(writer.run_dir, {key: value}, step, timestamp, model_id, dataset)


def log_metrics(
    metrics: Mapping[str, float],
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
    model_id: str | None = None,
    dataset: Any = None,
    **_: Any,
) -> None:
    """Log several metrics at one step and timestamp; all are validated before any is written.

    ``model_id``: as in :func:`log_metric`."""
    writer = _writer_for(run_id)
    if model_id is not None and timestamp is None:
        timestamp = now_ms()
    writer.log_metric_points((k, v, step, timestamp) for k, v in metrics.items())
    if model_id is not None:
        assert timestamp is not None
        model_metrics.link(writer.run_dir, metrics, step, timestamp, model_id, dataset)


def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Log a param (stored as a string). Params are immutable: the same value again is fine."""
    _writer_for(None).log_params({key: value})
    return value


def log_params(params: Mapping[str, Any], synchronous: bool | None = None, run_id: str | None = None) -> None:
    _writer_for(run_id).log_params(params)


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> None:
    _writer_for(None).set_tags({key: value})


def set_tags(tags: Mapping[str, Any], synchronous: bool | None = None) -> None:
    _writer_for(None).set_tags(tags)


def delete_tag(key: str) -> None:
    _writer_for(None).delete_tag(key)


def _artifact_root(run_id: str | None) -> Path:
    return _writer_for(run_id).run_dir / "artifacts"


def log_artifact(
    local_path: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Copy a file (or a directory) into the run's artifacts, under ``artifact_path`` if given."""
    artifacts.log_artifact(_artifact_root(run_id), local_path, artifact_path)


def log_artifacts(
    local_dir: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None
) -> None:
    artifacts.log_artifacts(_artifact_root(run_id), local_dir, artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    artifacts.log_text(_artifact_root(run_id), text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save a dict as JSON, or YAML when ``artifact_file`` ends in .yaml/.yml."""
    artifacts.log_dict(_artifact_root(run_id), dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None) -> None:
    """Save a matplotlib or plotly figure."""
    artifacts.log_figure(_artifact_root(None), figure, artifact_file, save_kwargs)


def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = None,
) -> None:
    """Save a PIL image or numpy array as a file, or as step ``step`` of image series ``key``."""
    run = _active_or_start()
    _get_client().log_image(run.info.run_id, image, artifact_file, key, step, timestamp)


def log_input(
    dataset: Any = None,
    context: str | None = None,
    tags: Mapping[str, Any] | None = None,
    model: Any = None,
) -> None:
    """Record a dataset the active run used (``gitrun.data.from_pandas`` / ``from_numpy`` / ``from_dvc``);
    ``context`` ("training", "eval"...) is its ``mlflow.data.context`` tag. ``model``: a logged
    model the run used (MLflow 3's ``LoggedModelInput(model_id)``), recorded in ``run.inputs.model_inputs``."""
    log_inputs([dataset], [context], [tags], [model])


def log_inputs(
    datasets: Sequence[Any] | None = None,
    contexts: Sequence[str | None] | None = None,
    tags_list: Sequence[Mapping[str, Any] | None] | None = None,
    models: Sequence[Any] | None = None,
) -> None:
    """Several :func:`log_input` at once; the lists have one entry per dataset (None entries allowed)."""
    items = list(datasets or [])
    contexts = list(contexts) if contexts is not None else [None] * len(items)
    tags_list = list(tags_list) if tags_list is not None else [None] * len(items)
    if len(contexts) != len(items) or len(tags_list) != len(items):
        raise InvalidInputError("log_inputs: datasets, contexts and tags_list must have the same length")
    run = _active_or_start()
    writer: RunWriter = run._writer  # type: ignore[attr-defined]
    run_tags = get_run(run.info.run_id).data.tags
    found = [
        inputs.dataset_input(d, run_tags, c, t)
        for d, c, t in zip(items, contexts, tags_list, strict=True)
        if d is not None
    ]
    inputs.log_inputs(writer.run_dir, found, inputs.model_inputs(models))


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save a dict or DataFrame as a table artifact (.json or .parquet), appending to one that exists."""
    run_id = run_id or _active_or_start().info.run_id
    _get_client().log_table(run_id, data, artifact_file)


def load_table(
    artifact_file: str,
    run_ids: Sequence[str] | None = None,
    extra_columns: Sequence[str] | None = None,
) -> pandas.DataFrame:
    """The table ``artifact_file`` of the active experiment's runs (or of ``run_ids``), concatenated."""
    return _get_client().load_table(_resolve_experiment_id(None), artifact_file, run_ids, extra_columns)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    return _get_client().get_metric_history(run_id, key)


# -- search ------------------------------------------------------------------------------
def search_runs(
    experiment_ids: Sequence[str] | str | None = None,
    filter_string: str = "",
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int = SEARCH_MAX_RESULTS_PANDAS,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
    *,
    use_index: bool | None = None,
    rev: str | None = None,
) -> pandas.DataFrame | list[Run]:
    """Search runs as ``mlflow.search_runs`` does; a pandas DataFrame, or ``list[Run]``.

    Without experiment IDs or names it searches the active experiment (all active experiments
    with ``search_all_experiments=True``). The filter grammar is MLflow's plus OR, NOT and
    parentheses (docs/search.md); the default order is newest first (``start_time DESC``).
    ``rev`` searches the store as committed at that revision (branch, tag, SHA) without a checkout.
    """
    if output_format not in ("pandas", "list"):
        raise InvalidInputError(f"unsupported output_format {output_format!r}; use 'pandas' or 'list'")
    store = _get_client().store
    if rev is not None:
        store = store_at(store, rev)
    no_ids = not experiment_ids
    no_names = not experiment_names
    if not no_ids and not no_names:
        raise InvalidInputError("give experiment_ids or experiment_names, not both")
    if no_ids and no_names:
        if search_all_experiments:
            ids = [e.experiment_id for e in store.list_experiments(ViewType.ACTIVE_ONLY)]
        else:
            ids = [_resolve_experiment_id(None)]
    elif not no_names:
        ids = []
        for name in experiment_names or ():
            if name is None:
                continue
            try:
                ids.append(store.resolve_experiment(name).experiment_id)
            except ExperimentNotFoundError as exc:  # MLflow warns and searches the others
                log.warning("Cannot retrieve experiment by name %s: %s", name, exc)
    else:
        ids = [experiment_ids] if isinstance(experiment_ids, str) else [str(e) for e in experiment_ids or ()]
    rows = search_rows(store, ids, filter_string, run_view_type, max_results, order_by, use_index) if ids else []
    if output_format == "list":
        return [row.to_run() for row in rows]
    return rows_to_dataframe(rows)


# -- interpreter exit -----------------------------------------------------------------------
def _end_all_at_exit() -> None:
    """End runs still active at interpreter exit: KILLED after Ctrl-C, FAILED after another uncaught exception, else FINISHED."""
    last = getattr(sys, "last_value", None)
    crashed = last is not None and not isinstance(last, SystemExit)
    # Ctrl-C is KILLED, as when it leaves a `with start_run()` block.
    status = (
        RunStatus.KILLED if isinstance(last, KeyboardInterrupt) else RunStatus.FAILED if crashed else RunStatus.FINISHED
    )
    for active in reversed(list(STATE.active.values())):
        try:
            _end(active, status)
        except Exception as exc:  # never turn a clean exit into a traceback
            print(f"gitrun: could not end run {active.info.run_id}: {exc}", file=sys.stderr)


atexit.register(_end_all_at_exit)
