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

from gitrun import env
from gitrun.store.reader import HOSTNAME
from gitrun.tags import (
    CI_PREFIX,
    CI_PROVIDER,
    CI_RUN_URL,
    GIT_BRANCH,
    GIT_COMMIT,
    GIT_DIRTY,
    GIT_REPO_URL,
    HOST,
    SOURCE_NAME,
    SOURCE_TYPE,
    USER,
)
from gitrun.tracking.provenance import current_user, git_context, script_directory, source_name

hookimpl = pluggy.HookimplMarker("gitrun")

ENV_RUN_CONTEXT = env.RUN_CONTEXT.name


@hookimpl
def gitrun_run_context(experiment_id: str, run_name: str) -> dict[str, str]:
    tags = {
        USER: current_user(),
        SOURCE_NAME: source_name(),
        SOURCE_TYPE: "LOCAL",
        HOST: HOSTNAME,
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
        tags[GIT_COMMIT] = ctx.commit
    if ctx.branch:
        tags[GIT_BRANCH] = ctx.branch
    if ctx.remote_url:
        tags[GIT_REPO_URL] = ctx.remote_url
    if ctx.dirty is not None:
        tags[GIT_DIRTY] = "true" if ctx.dirty else "false"
    return tags


_GITHUB_VARS = {  # gitrun.ci.<name> <- the GitHub Actions variable
    CI_PREFIX + name: var
    for name, var in {
        "workflow": "GITHUB_WORKFLOW",
        "run_id": "GITHUB_RUN_ID",
        "run_attempt": "GITHUB_RUN_ATTEMPT",
        "ref": "GITHUB_REF",
        "sha": "GITHUB_SHA",
        "actor": "GITHUB_ACTOR",
        "event": "GITHUB_EVENT_NAME",
        "repository": "GITHUB_REPOSITORY",
    }.items()
}


def _github_actions_tags() -> dict[str, str]:
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return {}
    tags = {CI_PROVIDER: "github-actions"}
    tags.update({tag: os.environ[var] for tag, var in _GITHUB_VARS.items() if os.environ.get(var)})
    server, repo, run = (os.environ.get(v) for v in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server and repo and run:
        tags[CI_RUN_URL] = f"{server}/{repo}/actions/runs/{run}"
    return tags


def _env_tags() -> dict[str, str]:
    """Tags from ``GITRUN_RUN_CONTEXT`` (else MLflow's ``MLFLOW_RUN_CONTEXT``), a JSON object."""
    found = env.RUN_CONTEXT.lookup()
    if not found:
        return {}
    variable, raw = found
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        warnings.warn(f"{variable} is not a JSON object of tags ({exc}); ignoring it", stacklevel=2)
        return {}
    return {str(k): str(v) for k, v in data.items()}
