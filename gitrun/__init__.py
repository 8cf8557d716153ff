"""gitrun: experiment tracking inside your Git repository, with MLflow's API.

``import gitrun as mlflow`` works for the common calls::

    import gitrun

    gitrun.set_experiment("iris", primary_metric="val_acc")
    with gitrun.start_run(run_name="baseline"):
        gitrun.log_params({"lr": 0.1, "epochs": 10})
        for step in range(10):
            gitrun.log_metric("val_acc", 0.8 + step / 100, step=step)

Heavy parts (pandas for ``search_runs``, Git objects, DVC) load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitrun._version import __version__
from gitrun.entities import Experiment, Metric, Param, Run, RunData, RunInfo, RunStatus, RunTag, ViewType
from gitrun.errors import GitrunError
from gitrun.errors import GitrunError as MlflowException  # mlflow.MlflowException
from gitrun.tracing import NAMES as _TRACING_NAMES
from gitrun.tracking.artifacts import Image
from gitrun.tracking.fluent import (
    ActiveRun,
    active_run,
    create_experiment,
    delete_experiment,
    delete_experiment_tag,
    delete_run,
    delete_tag,
    end_run,
    flush_artifact_async_logging,
    flush_async_logging,
    get_artifact_uri,
    get_experiment,
    get_experiment_by_name,
    get_metric_history,
    get_parent_run,
    get_run,
    get_tracking_uri,
    is_tracking_uri_set,
    last_active_run,
    load_table,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_input,
    log_inputs,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_table,
    log_text,
    restore_experiment,
    restore_run,
    search_experiments,
    search_runs,
    set_experiment,
    set_experiment_tag,
    set_experiment_tags,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)
from gitrun.tracking.system_metrics import (
    disable_system_metrics_logging,
    enable_system_metrics_logging,
    set_system_metrics_node_id,
    set_system_metrics_samples_before_logging,
    set_system_metrics_sampling_interval,
)

if TYPE_CHECKING:
    from gitrun.client import Client, MlflowClient

__all__ = [
    "ActiveRun",
    "Client",
    "Experiment",
    "GitrunError",
    "Image",
    "Metric",
    "MlflowClient",
    "MlflowException",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "ViewType",
    "__version__",
    "active_run",
    "autolog",
    "commit",
    "create_experiment",
    "delete_experiment",
    "delete_experiment_tag",
    "delete_run",
    "delete_tag",
    "disable_system_metrics_logging",
    "enable_system_metrics_logging",
    "end_run",
    "flush_artifact_async_logging",
    "flush_async_logging",
    "evaluate",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_logged_model",
    "get_metric_history",
    "get_parent_run",
    "get_run",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "last_active_run",
    "lightgbm",
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
    "models",
    "projects",
    "pull",
    "push",
    "pyfunc",
    "register_model",
    "restore_experiment",
    "restore_run",
    "run",
    "search_experiments",
    "search_logged_models",
    "search_model_versions",
    "search_registered_models",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_system_metrics_node_id",
    "set_system_metrics_samples_before_logging",
    "set_system_metrics_sampling_interval",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "sklearn",
    "start_run",
]


_LAZY = {
    "autolog": "gitrun.tracking.autolog",
    **dict.fromkeys(_TRACING_NAMES, "gitrun.tracing"),  # GenAI tracing: each raises NotSupportedError
    "Client": "gitrun.client",  # the tracking client with the registry's methods (gitrun.registry.client)
    "MlflowClient": "gitrun.client",
    "commit": "gitrun.vcs.commit",
    "push": "gitrun.vcs.sync",
    "pull": "gitrun.vcs.sync",
    "run": "gitrun.projects.api",  # mlflow.run: mlflow.projects.run
    "evaluate": "gitrun.models.evaluate",
    "get_logged_model": "gitrun.models.logged",
    "search_logged_models": "gitrun.models.logged",
    "register_model": "gitrun.registry.api",  # mlflow.register_model and the registry's fluent calls
    "search_registered_models": "gitrun.registry.api",
    "search_model_versions": "gitrun.registry.api",
}
# MLflow's flavor modules (`mlflow.sklearn`...) and `mlflow.models`: modules loaded on first use.
_LAZY_MODULES = {
    "artifacts": "gitrun.artifacts",  # mlflow.artifacts
    "exceptions": "gitrun.exceptions",  # mlflow.exceptions
    "data": "gitrun.data",  # mlflow.data
    "models": "gitrun.models",
    "projects": "gitrun.projects",
    "pyfunc": "gitrun.pyfunc",
    "sklearn": "gitrun.sklearn",
    "lightgbm": "gitrun.lightgbm",
}


def __getattr__(name: str) -> Any:
    # Lazy parts: imported on first use so `import gitrun` stays fast.
    import importlib

    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        return getattr(module, name)
    if name in _LAZY_MODULES:
        return importlib.import_module(_LAZY_MODULES[name])
    raise AttributeError(f"module 'gitrun' has no attribute {name!r}")
