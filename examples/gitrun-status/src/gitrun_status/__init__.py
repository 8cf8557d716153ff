"""gitrun-status, an example gitrun plugin: a command, a site page and run events (docs/plugins.md).

gitrun imports this module in every process that starts a run, so it imports nothing heavy: the
command (click) and the page are named by ``"module:attribute"`` and loaded only when used.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gitrun.plugins import hookimpl
from gitrun.site.pages import SitePage  # a dataclass: nothing of the site is imported

__version__ = "0.1.0"

ENV_EVENTS = "GITRUN_STATUS_EVENTS"  # the file run events are appended to (none: not recorded)
TEMPLATES = Path(__file__).parent / "templates"


@hookimpl
def gitrun_cli_commands() -> dict[str, str]:
    return {"status": "gitrun_status.cli:status"}


@hookimpl
def gitrun_site_pages() -> list[SitePage]:
    return [SitePage("status", "gitrun_status.page:build", nav="Status", templates=TEMPLATES)]


# -- run events: one JSON line each -----------------------------------------------------------
def _record(event: dict[str, Any]) -> None:
    path = os.environ.get(ENV_EVENTS)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(event, sort_keys=True) + "\n")


@hookimpl
def gitrun_run_started(run: Any, resumed: bool) -> None:
    info = run.info
    _record(
        {
            "event": "started",
            "run_id": info.run_id,
            "run_name": info.run_name,
            "experiment_id": info.experiment_id,
            "resumed": resumed,
        }
    )


@hookimpl
def gitrun_run_logged(run_id: str, metrics: Sequence[Any], params: Mapping[str, str], tags: Mapping[str, str]) -> None:
    _record(
        {
            "event": "logged",
            "run_id": run_id,
            "metrics": [[m.key, m.value, m.step, m.timestamp] for m in metrics],
            "params": dict(params),
            "tags": dict(tags),
        }
    )


@hookimpl
def gitrun_run_ended(run_id: str, status: str) -> None:
    _record({"event": "ended", "run_id": run_id, "status": status})
    if status == "FAILED":  # where a real plugin would post to a chat channel
        print(f"gitrun-status: run {run_id} FAILED", file=sys.stderr)
