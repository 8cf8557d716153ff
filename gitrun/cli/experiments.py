from __future__ import annotations

import click

from gitrun.cli._common import echo_json, json_option, print_table, read_store, rev_option


@click.group(epilog="Example:\n\n\b\n  gitrun experiments list --json")
def experiments() -> None:
    """List and inspect experiments."""


@experiments.command("list", epilog="Example:\n\n\b\n  gitrun experiments list --all")
@click.option("--all", "show_all", is_flag=True, help="Include deleted experiments.")
@rev_option
@json_option
@click.pass_context
def list_experiments(ctx: click.Context, show_all: bool, rev: str | None, as_json: bool) -> None:
    """List the store's experiments with their run counts and settings."""
    from gitrun.entities import ViewType
    from gitrun.search.experiments import experiment_overview

    rows = experiment_overview(read_store(ctx, rev), ViewType.ALL if show_all else ViewType.ACTIVE_ONLY)
    if as_json:
        echo_json([row.to_dict() for row in rows])
        return
    print_table(
        ["experiment_id", "name", "runs", "primary metric", "best", "best run"],
        [
            (r.experiment_id, r.name, r.runs, r.primary_metric or "", r.best_value, r.best_run_name or r.best_run_id)
            for r in rows
        ],
    )
