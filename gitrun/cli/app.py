"""The ``gitrun`` click group, whose subcommands come from the ``gitrun_cli_commands`` hook.

The built-in commands (:mod:`gitrun.cli.commands`) and plugins' are gathered the same way, on the
first lookup; a command named by ``"module:attribute"`` is imported only when it is run or
listed, and command modules import nothing heavier than click at import time, so
``gitrun --help`` never loads pandas, Git, DVC or rich's tables.
"""

from __future__ import annotations

import warnings
from typing import Any

import click

from gitrun._version import __version__
from gitrun.cli import commands
from gitrun.errors import PluginError
from gitrun.plugins import call_each, resolve


class PluginGroup(click.Group):
    """A group whose subcommands are declared by plugins (built-ins first) and loaded on first use."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._table: dict[str, tuple[str, click.Command | str]] | None = None

    def table(self) -> dict[str, tuple[str, click.Command | str]]:
        """name -> (plugin, command or ``"module:attribute"``); the first plugin to claim a name keeps it."""
        if self._table is None:
            table: dict[str, tuple[str, click.Command | str]] = {}
            for plugin, commands in call_each("gitrun_cli_commands"):
                for name, command in dict(commands).items():
                    if name in table:
                        warnings.warn(
                            f"gitrun plugin {plugin!r} declares the command {name!r}, which {table[name][0]!r} "
                            "already provides; it is skipped",
                            stacklevel=2,
                        )
                        continue
                    table[name] = (plugin, command)
            self._table = table
        return self._table

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.table()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # A built-in name needs no plugin manager: built-ins are registered first and keep their
        # names, so the table would give the same answer, and `gitrun runs list` skips the
        # entry-point scan. Listing (--help) and any other name go through the hook.
        builtin = commands.COMMANDS.get(cmd_name)
        found = (commands.__name__, builtin) if builtin is not None else self.table().get(cmd_name)
        if found is None:
            return super().get_command(ctx, cmd_name)
        plugin, command = found
        if isinstance(command, click.Command):
            return command
        try:
            loaded = resolve(command)
        except Exception as exc:
            return _broken(cmd_name, f"{type(exc).__name__}: {exc}", plugin, command)
        if not isinstance(loaded, click.Command):
            return _broken(cmd_name, f"it is a {type(loaded).__name__}, not a click command", plugin, command)
        return loaded


def _broken(name: str, why: str, plugin: str, target: str) -> click.Command:
    """A stand-in for a command that failed to load: listed with the reason, an error when run."""
    message = f"the command {name!r} of gitrun plugin {plugin!r} ({target}) failed to load: {why}"

    def fail(**_: Any) -> None:
        raise PluginError(f"{message}; fix or uninstall the plugin (see `gitrun plugins`)")

    return click.Command(
        name,
        callback=fail,
        help=f"(failed to load: {why})",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )


@click.group(
    cls=PluginGroup,
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
