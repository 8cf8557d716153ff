from __future__ import annotations

import click

from gitrun.cli._common import echo_json, json_option, print_table


@click.command(epilog="Example:\n\n\b\n  gitrun plugins --json")
@json_option
def plugins(as_json: bool) -> None:
    """List loaded plugins (built-in and from the 'gitrun' entry-point group) and their hooks."""
    import dataclasses

    from gitrun.plugins import list_plugins

    infos = list_plugins()
    if as_json:
        echo_json([dataclasses.asdict(p) for p in infos])
        return
    print_table(
        ["name", "source", "module", "version", "hooks", "status"],
        [
            (
                p.name,
                p.source,
                p.module,
                p.version or "",
                ", ".join(p.hooks),
                f"failed: {p.error}" if p.error else "loaded",
            )
            for p in infos
        ],
    )
