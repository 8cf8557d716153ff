"""What every command shares: the error wrapper, the store, JSON and table output."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gitrun.formatting import format_number
from gitrun.store.textio import json_number

if TYPE_CHECKING:
    from gitrun.store import ReadStore, Store

F = TypeVar("F", bound=Callable[..., Any])


def run_cli(group: click.Group) -> None:
    """Run the CLI; a :class:`GitrunError` becomes one red line and exit 1 (``--traceback`` for more)."""
    from gitrun.errors import GitrunError

    try:
        code = group.main(standalone_mode=False, prog_name="gitrun")
        if isinstance(code, int) and code:  # ctx.exit(n) returns n outside standalone mode
            sys.exit(code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except GitrunError as exc:
        _fail(exc, exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:  # unexpected: still one line, unless --traceback
        from gitrun.extras import missing_extra

        extra = missing_extra(exc, "this command")  # an optional package no `require` guarded
        if extra is not None:
            extra.__cause__ = exc  # what --traceback shows
        _fail(extra or exc, 1, unexpected=extra is None)


def _fail(exc: BaseException, code: int, unexpected: bool = False) -> None:
    ctx = click.get_current_context(silent=True)
    want_traceback = "--traceback" in sys.argv[1:] or bool(ctx and (ctx.find_root().obj or {}).get("traceback"))
    if want_traceback:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__)
    prefix = f"unexpected {type(exc).__name__}: " if unexpected else ""
    hint = "" if want_traceback or not unexpected else " (run again with --traceback for details)"
    from gitrun.redact import redact_credentials  # the last line of defence: no URL credentials printed

    message = redact_credentials(f"Error: {prefix}{exc}{hint}")
    click.echo(message if os.environ.get("NO_COLOR") else click.style(message, fg="red"), err=True)
    sys.exit(code)


def get_store(ctx: click.Context) -> Store:
    """The working tree's store the command works on (``--tracking-uri``, else the default)."""
    from gitrun.store import Store

    obj = ctx.find_root().obj or {}
    return Store(obj.get("tracking_uri"), strict=bool(obj.get("strict")))


def read_store(ctx: click.Context, rev: str | None = None) -> ReadStore:
    """The store to read: the working tree's, or with ``rev`` a read-only view of it at that commit."""
    store = get_store(ctx)
    if rev is None:
        return store
    from gitrun.vcs.revision import store_at

    return store_at(store, rev)


def rev_option(f: F) -> F:
    return click.option(
        "--rev", metavar="REV", help="Read the store as committed at REV (branch, tag, SHA), without a checkout."
    )(f)


def json_safe(value: Any) -> Any:
    """Strict JSON: non-finite floats become "NaN", "Infinity", "-Infinity" (the store's spelling)."""
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def echo_json(value: Any, *, indent: int | None = 2) -> None:
    """``value`` as JSON on stdout; ``indent=None`` writes one line (json's C encoder: several times
    faster on big documents, such as the registry's)."""
    click.echo(json.dumps(json_safe(value), indent=indent, sort_keys=True, ensure_ascii=False, allow_nan=False))


def console() -> Any:
    from rich.console import Console

    # Piped output gets a wide fixed width so tables are not folded to 80 columns.
    width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS") or "200")
    return Console(no_color=bool(os.environ.get("NO_COLOR")) or None, soft_wrap=False, width=width)


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        # IDs stay on one line (they are copied into other commands); other cells fold.
        table.add_column(column, overflow="fold", no_wrap=column.endswith("id") or column == "commit")
    for row in rows:
        table.add_row(*(format_number(v) for v in row))
    console().print(table)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(f)


def diff_options(f: F) -> F:
    """The options `gitrun diff` and `gitrun report pr` share (what to compare and how to show it)."""
    options = [
        click.option("--only-changed", is_flag=True, help="Leave out experiments where nothing changed."),
        click.option("--metric", help="Judge 'best' by this metric instead of each experiment's primary metric."),
        click.option(
            "-e",
            "--experiment",
            "experiments",
            multiple=True,
            metavar="NAME",
            help="Only this experiment, by name or ID (repeatable).",
        ),
        click.option(
            "--precision",
            type=click.IntRange(1, 17),
            default=4,
            show_default=True,
            help="Significant digits of numbers.",
        ),
        click.option("--require-runs", is_flag=True, help="A check fails where the target adds or changes no run."),
    ]
    for option in reversed(options):
        f = option(f)
    return f
