from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from gitrun import tags
from gitrun.cli._common import (
    console,
    echo_json,
    get_store,
    json_option,
    print_table,
    read_store,
    rev_option,
)
from gitrun.formatting import format_duration, format_time, iso_time

if TYPE_CHECKING:
    from gitrun.store import ReadStore, RunRecord


@click.group(epilog="Example:\n\n\b\n  gitrun runs list --experiment iris --max 10")
def runs() -> None:
    """List, inspect, delete and restore runs."""


def run_to_json(record: RunRecord, experiment_name: str) -> dict[str, Any]:
    """The documented JSON shape of a run (docs/cli.md)."""
    return {
        "run_id": record.run_id,
        "run_name": record.run_name,
        "experiment": experiment_name,
        "experiment_id": record.experiment_id,
        "status": record.status,
        "lifecycle_stage": record.lifecycle_stage,
        "start_time": iso_time(record.start_time),
        "end_time": iso_time(record.end_time),
        "params": dict(sorted(record.params.items())),
        "metrics": dict(sorted(record.metrics.items())),
        "tags": dict(sorted(record.tags.items())),
    }


_LIST_EPILOG = """Examples:

\b
  gitrun runs list --experiment iris --max 20 --json
  gitrun runs list --filter "metrics.acc > 0.9 AND params.model = 'rf'" --order-by "metrics.acc DESC"
  gitrun runs list -f "tags.team = 'a' OR NOT status = 'FINISHED'" --order-by params.lr --order-by "start_time DESC"

The filter language is MLflow's search_runs grammar plus OR, NOT and parentheses (docs/search.md).
"""


@runs.command("list", epilog=_LIST_EPILOG)
@click.option(
    "-e", "--experiment", "experiments", multiple=True, metavar="NAME", help="Experiment name or ID (repeatable)."
)
@click.option(
    "-f",
    "--filter",
    "filter_string",
    default=None,
    metavar="EXPR",
    help='Only runs matching EXPR, e.g. "metrics.acc > 0.9".',
)
@click.option(
    "--order-by",
    "order_by",
    multiple=True,
    metavar="FIELD [ASC|DESC]",
    help='Sort key, e.g. "metrics.acc DESC" (repeatable; default: newest first).',
)
@click.option("-n", "--max", "max_results", type=int, default=None, help="Show at most N runs.")
@click.option("--deleted", is_flag=True, help="Show deleted runs instead of active ones.")
@rev_option
@json_option
@click.pass_context
def list_runs(
    ctx: click.Context,
    experiments: tuple[str, ...],
    filter_string: str | None,
    order_by: tuple[str, ...],
    max_results: int | None,
    deleted: bool,
    rev: str | None,
    as_json: bool,
) -> None:
    """List runs, newest first, optionally filtered and sorted."""
    from gitrun.entities import ViewType
    from gitrun.search.api import search_run_records

    store = read_store(ctx, rev)
    view = ViewType.DELETED_ONLY if deleted else ViewType.ACTIVE_ONLY
    ids = [store.resolve_experiment(e).experiment_id for e in experiments] if experiments else None
    records = search_run_records(store, ids, filter_string, view, max_results, list(order_by))
    names = {e.experiment_id: e for e in store.list_experiments(ViewType.ALL)}
    if as_json:
        echo_json(
            [
                run_to_json(r, names[r.experiment_id].name if r.experiment_id in names else r.experiment_id)
                for r in records
            ]
        )
        return
    _print_runs(records, names)


def _print_runs(records: list[RunRecord], experiments: dict[str, Any]) -> None:
    metric_names: list[str] = []
    for exp_id in dict.fromkeys(r.experiment_id for r in records):
        primary = experiments[exp_id].primary_metric if exp_id in experiments else None
        if primary and primary not in metric_names:
            metric_names.append(primary)
    for record in records:
        for key in sorted(record.metrics):
            if key not in metric_names and len(metric_names) < 4:
                metric_names.append(key)
    show_experiment = len({r.experiment_id for r in records}) > 1
    columns = [
        "run_id",
        "name",
        *(["experiment"] if show_experiment else []),
        "status",
        "started (UTC)",
        "duration",
        *metric_names,
    ]
    rows = []
    for r in records:
        duration = format_duration(r.start_time, r.end_time)
        started = format_time(r.start_time, zone=False)
        exp_col = (
            [experiments[r.experiment_id].name if r.experiment_id in experiments else r.experiment_id]
            if show_experiment
            else []
        )
        rows.append(
            [r.run_id, r.run_name, *exp_col, r.status, started, duration, *(r.metrics.get(m) for m in metric_names)]
        )
    print_table(columns, rows)


@runs.command("show", epilog="Example:\n\n\b\n  gitrun runs show 01JD5Z3F\n  gitrun runs show 01JD5Z3F --rev main~1")
@click.argument("run_id")
@rev_option
@json_option
@click.pass_context
def show_run(ctx: click.Context, run_id: str, rev: str | None, as_json: bool) -> None:
    """Show one run: info, params, metrics (latest/min/max), tags, artifacts and models. RUN_ID may be a unique prefix."""
    from gitrun.models.info import run_models

    store = read_store(ctx, rev)
    record = store.read_run(store.resolve_run_id(run_id))
    experiment = store.get_experiment(record.experiment_id)
    artifacts = _artifact_files(store, record.run_id)
    models = run_models(store, record.run_id, store.find_run_dir(record.run_id)[1], record.tags.get(tags.GIT_COMMIT))
    if as_json:
        data = run_to_json(record, experiment.name)
        data["metric_summaries"] = {
            k: {"latest": s.latest, "min": s.min, "max": s.max, "step": s.step, "count": s.count}
            for k, s in sorted(record.summaries.items())
        }
        data["artifacts"] = artifacts
        data["models"] = [m.to_json() for m in models]
        echo_json(data)
        return
    out = console()
    out.print(f"[bold]Run {record.run_id}[/bold]  {record.run_name}")
    note = record.tags.get(tags.NOTE)
    info = [
        ("experiment", f"{experiment.name} ({experiment.experiment_id})"),
        ("status", record.status),
        ("started", format_time(record.start_time)),
        ("ended", format_time(record.end_time)),
        ("user", record.meta.get("user", "")),
        ("source", record.meta.get("source", "")),
        ("git commit", record.tags.get(tags.GIT_COMMIT, "")),
        ("parent run", record.meta.get("parent_run_id") or ""),
        ("lifecycle", record.lifecycle_stage),
    ]
    print_table(["field", "value"], info)
    if note:
        from rich.markup import escape

        out.print(f"[bold]Note:[/bold] {escape(note)}")
    if record.params:
        print_table(["param", "value"], sorted(record.params.items()), title="Params")
    if record.summaries:
        print_table(
            ["metric", "latest", "min", "max", "step", "points"],
            [(k, s.latest, s.min, s.max, s.step, s.count) for k, s in sorted(record.summaries.items())],
            title="Metrics",
        )
    user_tags = {k: v for k, v in record.tags.items() if k != tags.NOTE}
    if user_tags:
        print_table(["tag", "value"], sorted(user_tags.items()), title="Tags")
    if artifacts:
        print_table(["artifact", "bytes"], [(a["path"], a["size"]) for a in artifacts], title="Artifacts")
    if models:
        from gitrun.cli.models import print_summary

        for summary in models:
            print_summary(summary, title=f"Model {summary.name}", brief=True)


def _artifact_files(store: ReadStore, run_id: str) -> list[dict[str, Any]]:
    return [{"path": f.path, "size": f.file_size} for f in store.artifact_files(run_id)]


@runs.command("delete", epilog="Example:\n\n\b\n  gitrun runs delete 01JD5Z3F")
@click.argument("run_ids", nargs=-1, required=True)
@click.pass_context
def delete_run(ctx: click.Context, run_ids: tuple[str, ...]) -> None:
    """Soft-delete runs (hidden from listings; `gitrun runs restore` brings them back)."""
    store = get_store(ctx)
    for prefix in run_ids:
        run_id = store.resolve_run_id(prefix)
        store.delete_run(run_id)
        click.echo(f"Deleted run {run_id}")


@runs.command("restore", epilog="Example:\n\n\b\n  gitrun runs restore 01JD5Z3F")
@click.argument("run_ids", nargs=-1, required=True)
@click.pass_context
def restore_run(ctx: click.Context, run_ids: tuple[str, ...]) -> None:
    """Restore soft-deleted runs."""
    store = get_store(ctx)
    for prefix in run_ids:
        run_id = store.resolve_run_id(prefix)
        store.restore_run(run_id)
        click.echo(f"Restored run {run_id}")


@runs.command("checkout", epilog="Example:\n\n\b\n  gitrun runs checkout 01JD5Z3F ../repro-01JD5Z3F")
@click.argument("run_id")
@click.argument("directory", type=click.Path(file_okay=False))
@click.pass_context
def checkout_run(ctx: click.Context, run_id: str, directory: str) -> None:
    """Recreate a run's exact code in DIRECTORY: a git worktree at its commit plus its saved diff.

    Run it from the repository that holds the code; your own working tree is not touched.
    """
    from pathlib import Path

    from gitrun.vcs.checkout import checkout_run as do_checkout

    dest = do_checkout(get_store(ctx), run_id, Path(directory))
    click.echo(f"Checked out the code of run {run_id} in {dest}")
