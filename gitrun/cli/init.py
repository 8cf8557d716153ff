from __future__ import annotations

import click

from gitrun.cli._common import get_store


@click.command(
    epilog="Examples:\n\n\b\n  gitrun init\n  gitrun init --dvc --remote /mnt/shared/dvc-store\n  gitrun init --dvc --remote s3://bucket/dvcstore"
)
@click.option("--dvc", "with_dvc", is_flag=True, help="Also set up DVC for big artifacts (dvc init).")
@click.option(
    "--remote", metavar="URL", help="Default DVC remote: a directory, s3://..., gs://..., ssh://... (implies --dvc)."
)
@click.pass_context
def init(ctx: click.Context, with_dvc: bool, remote: str | None) -> None:
    """Create the run store (.gitrun/) with its .gitignore for local-only files; optionally set up DVC."""
    from gitrun.setup import init_store

    result = init_store(get_store(ctx), with_dvc=with_dvc or remote is not None, remote_url=remote)
    verb = "Store already exists at" if result.existed else "Initialized gitrun store in"
    click.echo(f"{verb} {result.store}")
    if result.dvc_files:
        click.echo(f"Set up DVC ({', '.join(result.dvc_files)})" + (f" with default remote {remote}" if remote else ""))
    if result.commit_sha:
        click.echo(f"[{result.commit_sha[:10]}] committed DVC's configuration")
