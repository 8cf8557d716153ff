"""Commands that move runs through Git and DVC: commit, push, pull, log, gc."""

from __future__ import annotations

import click

from gitrun.cli._common import echo_json, get_store, json_option, print_table
from gitrun.formatting import format_time


@click.command(
    epilog="Examples:\n\n\b\n  gitrun commit\n  gitrun commit -m 'sweep lr' --experiment iris\n  gitrun commit 01JD5Z3F 01JD5Z4A --dvc-threshold 1MB"
)
@click.argument("run_ids", nargs=-1)
@click.option("-m", "--message", help="Commit message (default: generated from the runs and the best result).")
@click.option("-e", "--experiment", metavar="NAME", help="Only runs of this experiment (its name or ID).")
@click.option("--include-running", is_flag=True, help="Also commit runs that are still running.")
@click.option("--no-verify", is_flag=True, help="Skip the repository's pre-commit and commit-msg hooks.")
@click.option("--allow-detached", is_flag=True, help="Commit even when HEAD is detached.")
@click.option("--dvc-threshold", metavar="SIZE", help="Track files over SIZE with DVC (default 500KB; e.g. 2MB).")
@json_option
@click.pass_context
def commit(
    ctx: click.Context,
    run_ids: tuple[str, ...],
    message: str | None,
    experiment: str | None,
    include_running: bool,
    no_verify: bool,
    allow_detached: bool,
    dvc_threshold: str | None,
    as_json: bool,
) -> None:
    """Commit finished runs (and only gitrun's files) to the current branch.

    Artifacts and metric series over the DVC threshold are tracked with DVC: the .dvc pointer goes
    into Git, the content into DVC's cache (`gitrun push` uploads it). Your other staged or
    modified files are left exactly as they were.
    """
    import dataclasses

    from gitrun.vcs.commit import commit as do_commit

    result = do_commit(
        get_store(ctx),
        message,
        list(run_ids) or None,
        experiment,
        include_running=include_running,
        no_verify=no_verify,
        allow_detached=allow_detached,
        dvc_threshold_bytes=dvc_threshold,
    )
    if as_json:
        doc = dataclasses.asdict(result)
        if not doc["registry"]:
            del doc["registry"]  # present when the commit carried out registry calls (docs/registry.md)
        echo_json(doc)
        return
    for run_id in result.skipped_running:
        click.echo(f"skipped running run {run_id} (pass --include-running to commit it)")
    if result.sha is None:
        click.echo(result.message[:1].upper() + result.message[1:] + ".")
        return
    click.echo(f"[{result.sha[:10]}] {result.message.splitlines()[0]}")
    for path in result.dvc_tracked:
        click.echo(f"  tracked with DVC: {path}")
    click.echo(f"  {len(result.runs)} run(s), {len(result.files)} file(s) changed")
    for outcome in result.registry:
        click.echo(f"  registry: {outcome}")


@click.command(epilog="Example:\n\n\b\n  gitrun push\n  gitrun push --remote upstream")
@click.option("--remote", help="Git remote (default: the branch's upstream, else origin).")
@click.option("--dvc-remote", help="DVC remote (default: DVC's default remote).")
@click.pass_context
def push(ctx: click.Context, remote: str | None, dvc_remote: str | None) -> None:
    """Push the current branch (never forced), then the big files of committed runs with DVC."""
    from gitrun.vcs.sync import push as do_push

    result = do_push(get_store(ctx), remote, dvc_remote)
    click.echo(f"Pushed {result.branch} to {result.remote}")
    if result.tags:
        click.echo(f"Registry: {len(result.tags)} tag(s) pushed: {', '.join(result.tags)}")
    if result.dvc_files:
        click.echo(f"DVC: {result.dvc_transferred} file(s) uploaded for {len(result.dvc_files)} pointer(s)")


@click.command(epilog="Example:\n\n\b\n  gitrun pull\n  gitrun pull 01JD5Z3F   # big files of one run only")
@click.argument("run_ids", nargs=-1)
@click.option("--remote", help="Git remote (default: the branch's upstream, else origin).")
@click.option("--dvc-remote", help="DVC remote (default: DVC's default remote).")
@click.pass_context
def pull(ctx: click.Context, run_ids: tuple[str, ...], remote: str | None, dvc_remote: str | None) -> None:
    """Fast-forward the current branch, fetch tags, and fetch the runs' DVC-tracked files."""
    from gitrun.vcs.sync import pull as do_pull

    result = do_pull(get_store(ctx), list(run_ids) or None, remote, dvc_remote)
    click.echo(f"Pulled {result.branch} from {result.remote}")
    if result.dvc_files:
        click.echo(f"DVC: {result.dvc_transferred} file(s) fetched for {len(result.dvc_files)} pointer(s)")


@click.command("log", epilog="Example:\n\n\b\n  gitrun log\n  gitrun log main --json")
@click.argument("rev", default="HEAD")
@json_option
@click.pass_context
def log(ctx: click.Context, rev: str, as_json: bool) -> None:
    """Commits that changed the run store, oldest first, with the runs each added or changed."""
    import dataclasses

    from gitrun.vcs.revision import history

    commits = history(get_store(ctx), rev)
    if as_json:
        echo_json([dataclasses.asdict(c) for c in commits])
        return
    print_table(
        ["commit", "date (UTC)", "author", "added", "changed", "removed", "subject"],
        [
            (
                c.sha[:10],
                format_time(c.timestamp * 1000, seconds=False, zone=False),
                c.author,
                len(c.added),
                len(c.changed),
                len(c.removed),
                c.subject,
            )
            for c in commits
        ],
    )


@click.command(epilog="Examples:\n\n\b\n  gitrun gc --dry-run\n  gitrun gc --older-than 30d")
@click.option("--older-than", metavar="AGE", help="Only runs deleted more than AGE ago (e.g. 30d, 12h, 90m).")
@click.option("--dry-run", is_flag=True, help="List what would be removed and change nothing.")
@click.option("--no-verify", is_flag=True, help="Skip commit hooks.")
@click.pass_context
def gc(ctx: click.Context, older_than: str | None, dry_run: bool, no_verify: bool) -> None:
    """Remove soft-deleted runs for good, through an ordinary commit (history keeps them).

    Code diffs (.gitrun/code/) that no run names any more and that were never committed go too."""
    from gitrun.vcs.gc import gc as do_gc

    result = do_gc(get_store(ctx), parse_age(older_than) if older_than else None, dry_run=dry_run, no_verify=no_verify)
    verb = "Would remove" if dry_run else "Removed"
    click.echo(f"{verb} {len(result.removed)} deleted run(s)")
    for run_id in result.removed:
        click.echo(f"  {run_id}")
    if result.diffs:
        click.echo(f"{verb} {len(result.diffs)} code diff(s) no run names (.gitrun/code/)")
    if result.commit and result.commit.sha:
        click.echo(f"[{result.commit.sha[:10]}] {result.commit.message.splitlines()[0]}")


def parse_age(text: str) -> int:
    """Milliseconds from '30d', '12h', '90m', '45s' or '2w'."""
    import re

    from gitrun.errors import InvalidInputError

    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if not match:
        raise InvalidInputError(f"cannot read age {text!r}; write it like 30d, 12h, 90m or 2w")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
    return int(match.group(1)) * seconds * 1000
