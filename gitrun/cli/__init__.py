"""The ``gitrun`` command: a thin shell over the library.

The group is :data:`gitrun.cli.app.cli`; its subcommands come from the ``gitrun_cli_commands``
hook (the built-in ones from :mod:`gitrun.cli.commands`, then plugins'). This package's own
module imports nothing, so loading the built-in command plugin costs a training run nothing.
"""

from __future__ import annotations


def main() -> None:
    """The console script (``gitrun``, ``python -m gitrun``)."""
    from gitrun.cli._common import run_cli
    from gitrun.cli.app import cli  # click and the group only when the command line runs

    run_cli(cli)
