"""``gitrun site build | serve | publish``: the static report site."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gitrun.cli._common import get_store

if TYPE_CHECKING:
    from gitrun.site.build import BuildOptions, BuildResult


@click.group(epilog="Example:\n\n\b\n  gitrun site build && open _site/index.html")
def site() -> None:
    """Build, preview and publish the static report site (works offline and on GitHub Pages)."""


def _options(
    output: str | None,
    rev: str | None,
    strict: bool,
    template_dir: str | None,
    title: str | None,
    history: bool,
    ctx: click.Context,
    full: bool = False,
) -> BuildOptions:
    from gitrun.site.build import BuildOptions

    root_strict = bool((ctx.find_root().obj or {}).get("strict"))
    return BuildOptions(
        output=Path(output or "_site"),
        rev=rev,
        strict=strict or root_strict,
        template_dir=Path(template_dir) if template_dir else None,
        title=title,
        history=history,
        full=full,
    )


def _build_options(f: Any) -> Any:
    f = click.option(
        "--no-history", "history", flag_value=False, default=True, help="Skip the history page's walk of old commits."
    )(f)
    f = click.option("--title", default=None, help="Site title (default: '<repository> experiments').")(f)
    f = click.option(
        "--template-dir",
        type=click.Path(file_okay=False, exists=True),
        default=None,
        help='Templates here override the built-in ones ({% extends "default:run.html" %} reaches the original).',
    )(f)
    f = click.option(
        "--strict", is_flag=True, help="Unreadable store files and undefined template variables are errors."
    )(f)
    f = click.option(
        "--rev", default=None, metavar="REV", help="Build from the store as committed at REV (branch, tag, SHA)."
    )(f)
    f = click.option("-o", "--output", default=None, metavar="DIR", help="Output folder (default: _site/).")(f)
    return f


def _summary(result: BuildResult) -> str:
    return (
        f"Built {result.output}/: {result.experiments} experiment(s), {result.runs} run(s); "
        f"{len(result.written)} file(s) written, {result.unchanged} unchanged, {len(result.removed)} removed "
        f"({result.rebuilt_runs} run page(s) rendered) in {result.seconds:.1f} s"
    )


@site.command(
    epilog="Examples:\n\n\b\n  gitrun site build\n  gitrun site build -o public --rev main --strict\n"
    "  gitrun site build --template-dir my-templates\n  gitrun site build --full"
)
@_build_options
@click.option(
    "--full",
    is_flag=True,
    help="Rebuild every page, ignoring what the last build recorded (after editing its output by hand).",
)
@click.pass_context
def build(
    ctx: click.Context,
    output: str | None,
    rev: str | None,
    strict: bool,
    template_dir: str | None,
    title: str | None,
    history: bool,
    full: bool,
) -> None:
    """Render the report site into DIR (incremental: only pages whose inputs changed are rewritten)."""
    import os

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from gitrun.cli._common import console
    from gitrun.site.build import build_site

    options = _options(output, rev, strict, template_dir, title, history, ctx, full)
    out = console()
    out.stderr = True
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
        disable=bool(os.environ.get("GITRUN_NO_PROGRESS")) or not out.is_terminal,  # no stray blank line in logs
    ) as progress:
        tasks: dict[str, Any] = {}

        def tick(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = progress.add_task(f"site: {what}", total=total)
            progress.update(tasks[what], completed=done, total=total)

        result = build_site(get_store(ctx), options, progress=tick)
    click.echo(_summary(result))
    click.echo(f"Open {(result.output / 'index.html').resolve().as_uri()}")


@site.command(epilog="Examples:\n\n\b\n  gitrun site serve\n  gitrun site serve --port 8765 -o /tmp/preview")
@_build_options
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port on 127.0.0.1 (0 picks a free one).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Seconds between checks of the store.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    output: str | None,
    rev: str | None,
    strict: bool,
    template_dir: str | None,
    title: str | None,
    history: bool,
    port: int,
    interval: float,
) -> None:
    """Preview the site on http://127.0.0.1:PORT/, rebuilding it whenever the run store changes."""
    from gitrun.serve.preview import serve as run_server

    options = _options(output, rev, strict, template_dir, title, history, ctx)

    def ready(url: str) -> None:
        click.echo(f"Serving {options.output}/ at {url} (Ctrl+C stops)")

    def built(result: BuildResult) -> None:
        click.echo(_summary(result))

    try:
        run_server(get_store(ctx), options, port=port, interval=interval, on_build=built, on_ready=ready)
    except KeyboardInterrupt:
        click.echo("Stopped.")


@site.command(
    epilog="Examples:\n\n\b\n  gitrun site build && gitrun site publish\n  gitrun site publish --push --remote origin"
)
@click.option("-d", "--dir", "site_dir", default="_site", show_default=True, metavar="DIR", help="The built site.")
@click.option("-b", "--branch", default="gh-pages", show_default=True, help="Branch to commit the site to.")
@click.option("-m", "--message", default=None, help="Commit message (default: 'gitrun site publish').")
@click.option("--push", is_flag=True, help="Push the branch afterwards (a plain push: never forced).")
@click.option("--remote", default="origin", show_default=True, help="Remote to push to.")
@click.pass_context
def publish(ctx: click.Context, site_dir: str, branch: str, message: str | None, push: bool, remote: str) -> None:
    """Commit the built site to the gh-pages branch without touching your working tree or index."""
    from gitrun.site.publish import publish as do_publish
    from gitrun.vcs.git import GitRepo

    repo = GitRepo.find(get_store(ctx).root)
    result = do_publish(Path(site_dir), repo, branch=branch, message=message, push=push, remote=remote)
    if result.commit is None:
        click.echo(f"{branch} already holds this site ({result.files} files); nothing to commit")
    else:
        click.echo(f"[{branch} {result.commit[:10]}] {result.files} files")
    if result.pushed:
        click.echo(f"Pushed {branch} to {result.pushed}")
