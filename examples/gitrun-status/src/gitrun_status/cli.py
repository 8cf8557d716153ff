"""``gitrun status``: each experiment's runs by status, through gitrun's library."""

from __future__ import annotations

import json

import click

import gitrun
from gitrun_status.counts import STATUSES, status_rows


@click.command(epilog="Example:\n\n\b\n  gitrun status\n  gitrun status --json")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """How many runs of each experiment are RUNNING, FINISHED, FAILED or KILLED."""
    client = gitrun.Client((ctx.find_root().obj or {}).get("tracking_uri"))
    rows = status_rows(
        (
            exp.experiment_id,
            exp.name,
            [r.info.status for r in client.search_runs([exp.experiment_id], max_results=50_000)],
        )
        for exp in client.search_experiments()
    )
    if as_json:
        click.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    click.echo("\t".join(("experiment", *STATUSES)))
    for row in rows:
        click.echo("\t".join((row.name, *map(str, row.counts))))
