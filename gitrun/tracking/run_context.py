"""gitrun's built-in run context: user, source script, Git state and CI, as system tags.

Registered as a plugin (``gitrun.plugins.BUILTIN_PLUGINS``) through the same
``gitrun_run_context`` hook third-party plugins implement. Tag names follow MLflow's
(``mlflow.user``, ``mlflow.source.*``); gitrun's own live under ``gitrun.``.
"""

from __future__ import annotations

import json
import os
import warnings
from functools import lru_cache

import pluggy

from gitrun.store.reader import HOSTNAME
from gitrun.tracking.provenance import current_user, git_context, script_directory, source_name

hookimpl = pluggy.HookimplMarker("gitrun")

ENV_RUN_CONTEXT = "GITRUN_RUN_CONTEXT"


@hookimpl
def gitrun_run_context(experiment_id: str, run_name: str) -> dict[str, str]:
    tags = {
        "mlflow.user": current_user(),
        "mlflow.source.name": source_name(),
        "mlflow.source.type": "LOCAL",
        "gitrun.host": HOSTNAME,
    }
    tags.update(_git_tags(script_directory()))
    tags.update(_github_actions_tags())
    tags.update(_env_tags())
    return tags


@lru_cache(maxsize=16)
def _git_tags(directory: str) -> dict[str, str]:
    ctx = git_context(directory)
    if ctx is None:
        return {}
    tags: dict[str, str] = {}
    if ctx.commit:
        tags["mlflow.source.git.commit"] = ctx.commit
    if ctx.branch:
        tags["mlflow.source.git.branch"] = ctx.branch
    if ctx.remote_url:
        tags["mlflow.source.git.repoURL"] = ctx.remote_url
    if ctx.dirty is not None:
        tags["gitrun.git.dirty"] = "true" if ctx.dirty else "false"
    return tags


_GITHUB_VARS = {
    "gitrun.ci.workflow": "GITHUB_WORKFLOW",
    "gitrun.ci.run_id": "GITHUB_RUN_ID",
    "gitrun.ci.run_attempt": "GITHUB_RUN_ATTEMPT",
    "gitrun.ci.ref": "GITHUB_REF",
    "gitrun.ci.sha": "GITHUB_SHA",
    "gitrun.ci.actor": "GITHUB_ACTOR",
    "gitrun.ci.event": "GITHUB_EVENT_NAME",
    "gitrun.ci.repository": "GITHUB_REPOSITORY",
}


def _github_actions_tags() -> dict[str, str]:
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return {}
    tags = {"gitrun.ci.provider": "github-actions"}
    tags.update({tag: os.environ[var] for tag, var in _GITHUB_VARS.items() if os.environ.get(var)})
    server, repo, run = (os.environ.get(v) for v in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server and repo and run:
        tags["gitrun.ci.run_url"] = f"{server}/{repo}/actions/runs/{run}"
    return tags


def _env_tags() -> dict[str, str]:
    """Tags from ``GITRUN_RUN_CONTEXT``, a JSON object (MLflow's ``MLFLOW_RUN_CONTEXT``)."""
    raw = os.environ.get(ENV_RUN_CONTEXT)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        warnings.warn(f"{ENV_RUN_CONTEXT} is not a JSON object of tags ({exc}); ignoring it", stacklevel=2)
        return {}
    return {str(k): str(v) for k, v in data.items()}
