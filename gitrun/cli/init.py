from __future__ import annotations

import click

from gitrun.cli._common import get_store


@click.command(
    epilog="Examples:\n\n\b\n  gitrun init\n  gitrun init --dvc --remote /mnt/shared/dvc-store\n  gitrun init --dvc --remote s3://bucket/dvcstore"
    "\n  gitrun init --github --check 'metrics.val_acc >= base - 0.01'"
)
@click.option("--dvc", "with_dvc", is_flag=True, help="Also set up DVC for big artifacts (dvc init).")
@click.option(
    "--remote",
    metavar="URL",
    help="Default DVC remote: a directory, s3://..., gs://..., ssh://... (implies --dvc). A user name and "
    "password (or S3 key pair) in the URL go to the git-ignored .dvc/config.local, never into Git.",
)
@click.option(
    "--github",
    "with_github",
    is_flag=True,
    help="Also write GitHub Actions workflows (.github/workflows/gitrun-*.yml).",
)
@click.option(
    "--check",
    "checks",
    multiple=True,
    metavar="EXPR",
    help="With --github: the PR workflow's gate, as `gitrun diff --check` takes it (repeatable).",
)
@click.option("--force", is_flag=True, help="With --github: overwrite workflow files that differ.")
@click.pass_context
def init(
    ctx: click.Context,
    with_dvc: bool,
    remote: str | None,
    with_github: bool = False,
    checks: tuple[str, ...] = (),
    force: bool = False,
) -> None:
    """Create the run store (.gitrun/) with its .gitignore for local-only files; optionally set up DVC
    and the GitHub workflows (the PR report and its comment, for same-repo and fork pull requests)."""
    from gitrun.vcs.init import init_store

    if checks and not with_github:
        raise click.UsageError("--check needs --github (it is the gate of the generated PR workflow)")
    store = get_store(ctx)
    if with_github:  # what could refuse comes before anything is written
        from gitrun.compare.gate import parse_check
        from gitrun.vcs.git import GitRepo

        root = GitRepo.find(store.root).root
        for check in checks:
            parse_check(check)
    result = init_store(store, with_dvc=with_dvc or remote is not None, remote_url=remote)
    verb = "Store already exists at" if result.existed else "Initialized gitrun store in"
    click.echo(f"{verb} {result.store}")
    if result.dvc_files:
        remote_note = f" with default remote {result.remote_url}" if result.remote_url else ""
        click.echo(f"Set up DVC ({', '.join(result.dvc_files)}){remote_note}")
    if result.remote_credentials:
        names = ", ".join(result.remote_credentials)
        click.echo(f"  its credentials ({names}) are in .dvc/config.local, which Git ignores (never committed)")
    if result.commit_sha:
        click.echo(f"[{result.commit_sha[:10]}] committed DVC's configuration")
    if with_github:
        from gitrun.report.workflows import write_github_workflows

        for written in write_github_workflows(root, checks=checks, force=force):
            rel = written.path.relative_to(root)
            note = " (differs from gitrun's; --force rewrites it)" if written.action == "kept" else ""
            click.echo(f"{written.action.capitalize()} {rel}{note}")
