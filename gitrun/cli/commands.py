"""gitrun's built-in subcommands, declared through the ``gitrun_cli_commands`` hook that plugins
implement too (registered first, so a plugin cannot take a built-in command's name).

Each command is named by ``"module:attribute"`` and imported only when it is run or listed, so
this module (loaded in every process that uses plugins, training runs included) imports nothing.
"""

from __future__ import annotations

from gitrun.plugins import hookimpl

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
    "run": "gitrun.cli.projects:run",
    "sweep": "gitrun.cli.projects:sweep",
    "models": "gitrun.cli.models:models",
    "serve": "gitrun.cli.serve:serve",
}


@hookimpl
def gitrun_cli_commands() -> dict[str, str]:
    return COMMANDS
