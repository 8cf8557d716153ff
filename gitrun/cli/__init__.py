"""The ``gitrun`` command: a thin shell over the library.

Subcommands live in their own modules and are imported only when invoked (or when ``--help``
lists them); command modules import nothing heavier than click at import time, so
``gitrun --help`` never loads pandas, Git, DVC or rich's tables.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from gitrun._version import __version__

# name -> "module:attribute" of the click command; one place to register commands.
COMMANDS = {
    "init": "gitrun.cli.init:init",
    "experiments": "gitrun.cli.experiments:experiments",
    "runs": "gitrun.cli.runs:runs",
    "plugins": "gitrun.cli.plugins:plugins",
    "commit": "gitrun.cli.vcs:commit",
    "push": "gitrun.cli.vcs:push",
    "pull": "gitrun.cli.vcs:pull",
    "log": "gitrun.cli.vcs:log",
    "gc": "gitrun.cli.vcs:gc",
    "diff": "gitrun.cli.diff:diff",
    "report": "gitrun.cli.report:report",
    "site": "gitrun.cli.site:site",
    "models": "gitrun.cli.models:models",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, attr = self.lazy[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Example:\n\n\b\n  gitrun init\n  python train.py\n  gitrun runs list --experiment iris",
)
@click.version_option(__version__, "-V", "--version", package_name="gitrun-ml", message="gitrun %(version)s")
@click.option("--traceback", is_flag=True, help="Show the full traceback of errors.")
@click.option(
    "--tracking-uri",
    envvar="GITRUN_TRACKING_URI",
    metavar="PATH",
    help="Store directory or Git work-tree root (default: .gitrun/ at the work-tree root).",
)
@click.option("--strict", is_flag=True, help="Treat unreadable store files as errors instead of warnings.")
@click.pass_context
def cli(ctx: click.Context, traceback: bool, tracking_uri: str | None, strict: bool) -> None:
    """gitrun: experiment tracking that lives inside your Git repository."""
    ctx.obj = {"traceback": traceback, "tracking_uri": tracking_uri, "strict": strict}


def main() -> None:
    from gitrun.cli._common import run_cli

    run_cli(cli)
