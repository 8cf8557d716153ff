from __future__ import annotations

import click

from gitrun.cli._common import get_store


@click.command(epilog="Example:\n\n\b\n  cd my-project && gitrun init")
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the run store (.gitrun/) with its .gitignore for local-only files."""
    store = get_store(ctx)
    existed = store.layout.exists()
    store.ensure()
    store.ensure_default_experiment()
    verb = "Store already exists at" if existed else "Initialized gitrun store in"
    click.echo(f"{verb} {store.root}")
