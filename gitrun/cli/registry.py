"""``gitrun models register/promote/demote/deprecate/deregister/list/history``: the registry in Git tags.

Each command calls one function of ``gitrun.registry`` and prints what it returns (a table, or
``--json`` in the shapes of docs/schemas/registry-*.json).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from gitrun.cli._common import echo_json, get_store

F = TypeVar("F", bound=Callable[..., Any])


def _sign_options(f: F) -> F:
    f = click.option(
        "--sign-key", metavar="KEY", help="Sign the tag with this key (an SSH public key file or a GPG key ID)."
    )(f)
    return click.option("--sign", is_flag=True, help="Sign the tag (git tag -s: Git's configured signing key).")(f)


def _message_option(f: F) -> F:
    return click.option("-m", "--message", help="The event's message (default: gto's).")(f)


def _json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(f)


def _sign(sign: bool, key: str | None) -> bool | str | None:
    return key if key else (True if sign else None)


def _root(ctx: click.Context) -> Any:
    from gitrun.registry.state import repo_root

    return repo_root(get_store(ctx).root)


def _done(event: Any, as_json: bool) -> None:
    from gitrun.registry.views import event_json

    if as_json:
        echo_json({"schema_version": 1, "event": event_json(event)})
        return
    what = {
        "registration": f"registered {event.name} {event.version}",
        "deregistration": f"deregistered {event.name} {event.version}",
        "assignment": f"{event.name} {event.version} is in stage {event.stage}",
        "unassignment": f"{event.name} {event.version} left stage {event.stage}",
        "deprecation": f"deprecated {event.name}",
    }[event.action.value]
    click.echo(f"Created tag '{event.tag}' on {event.commit[:10]}: {what}")
    click.echo(f"  share it: gitrun push  (or: git push origin '{event.tag}')")


@click.command(
    "register",
    epilog="Examples:\n\n\b\n  gitrun models register churn --run 01JD5Z3F\n"
    "  gitrun models register churn --run 01JD5Z3F --path model --bump minor -m 'better AUC 0.91'\n"
    "  gitrun models register nlp:sentiment --run 01JD6A2B --version v1.0.0",
)
@click.argument("name")
@click.option(
    "--run", "run_id", required=True, metavar="RUN_ID", help="The run whose model to register (a unique prefix works)."
)
@click.option(
    "--path", metavar="NAME", help="The model's folder in the run's artifacts (default: the run's only model)."
)
@click.option("--version", metavar="vX.Y.Z", help="The version (default: the last one, bumped).")
@click.option(
    "--bump", type=click.Choice(["major", "minor", "patch"]), help="How to bump the last version (default: patch)."
)
@click.option("--description", help="The model's description (artifacts.yaml; dvc.yaml's desc).")
@click.option("--no-verify", is_flag=True, help="Skip the repository's commit hooks for the registry's commit.")
@_message_option
@_sign_options
@_json_option
@click.pass_context
def register(
    ctx: click.Context,
    name: str,
    run_id: str,
    path: str | None,
    version: str | None,
    bump: str | None,
    description: str | None,
    no_verify: bool,
    message: str | None,
    sign: bool,
    sign_key: str | None,
    as_json: bool,
) -> None:
    """Register a run's model as a new version of NAME: artifacts.yaml and dvc.yaml entries in a
    commit of their own, then the tag NAME@vX.Y.Z on it (GTO's grammar)."""
    from gitrun.registry import events, index

    edit = index.Edit(description=description) if description else None
    event = events.register(
        get_store(ctx),
        name,
        run_id,
        path=path,
        version=version,
        bump=bump,
        message=message,
        sign=_sign(sign, sign_key),
        edit=edit,
        no_verify=no_verify,
    )
    _done(event, as_json)


@click.command(
    "promote",
    epilog="Examples:\n\n\b\n  gitrun models promote churn v0.1.0 prod\n  gitrun models promote churn 3 staging --sign -m 'passed the A/B test'",
)
@click.argument("name")
@click.argument("version")
@click.argument("stage")
@click.option("--force", is_flag=True, help="Tag it again even when the version is the stage's current one.")
@_message_option
@_sign_options
@_json_option
@click.pass_context
def promote(
    ctx: click.Context,
    name: str,
    version: str,
    stage: str,
    force: bool,
    message: str | None,
    sign: bool,
    sign_key: str | None,
    as_json: bool,
) -> None:
    """Assign STAGE to a VERSION of NAME (vX.Y.Z, or MLflow's number): the tag NAME#STAGE#N."""
    from gitrun.registry.events import promote as do_promote

    _done(
        do_promote(_root(ctx), name, version, stage, message=message, sign=_sign(sign, sign_key), force=force), as_json
    )


@click.command(
    "demote",
    epilog="Examples:\n\n\b\n  gitrun models demote churn prod\n  gitrun models demote churn staging --version v0.0.2",
)
@click.argument("name")
@click.argument("stage")
@click.option("--version", metavar="VERSION", help="The version to take out of STAGE (default: its current one).")
@_message_option
@_sign_options
@_json_option
@click.pass_context
def demote(
    ctx: click.Context,
    name: str,
    stage: str,
    version: str | None,
    message: str | None,
    sign: bool,
    sign_key: str | None,
    as_json: bool,
) -> None:
    """Take STAGE away from its current version (NAME#STAGE!#N); the stage falls back to the
    version assigned there before, as `gto show` says."""
    from gitrun.registry.events import demote as do_demote

    _done(do_demote(_root(ctx), name, stage, version=version, message=message, sign=_sign(sign, sign_key)), as_json)


@click.command("deregister", epilog="Example:\n\n\b\n  gitrun models deregister churn v0.0.1 -m 'leaks the label'")
@click.argument("name")
@click.argument("version")
@_message_option
@_sign_options
@_json_option
@click.pass_context
def deregister(
    ctx: click.Context, name: str, version: str, message: str | None, sign: bool, sign_key: str | None, as_json: bool
) -> None:
    """Deregister a VERSION of NAME (NAME@vX.Y.Z!): it leaves the current state, its history stays."""
    from gitrun.registry.events import deregister as do_deregister

    _done(do_deregister(_root(ctx), name, version, message=message, sign=_sign(sign, sign_key)), as_json)


@click.command("deprecate", epilog="Example:\n\n\b\n  gitrun models deprecate churn -m 'replaced by churn-v2'")
@click.argument("name")
@_message_option
@_sign_options
@_json_option
@click.pass_context
def deprecate(
    ctx: click.Context, name: str, message: str | None, sign: bool, sign_key: str | None, as_json: bool
) -> None:
    """Deprecate the model NAME (NAME@deprecated): it leaves `gitrun models list`, its history stays."""
    from gitrun.registry.events import deprecate as do_deprecate

    _done(do_deprecate(_root(ctx), name, message=message, sign=_sign(sign, sign_key)), as_json)


@click.command("list", epilog="Examples:\n\n\b\n  gitrun models list\n  gitrun models list --json")
@click.option("-d", "--deprecated", is_flag=True, help="Include deprecated models.")
@_json_option
@click.pass_context
def list_(ctx: click.Context, deprecated: bool, as_json: bool) -> None:
    """Registered models: the latest version and the current version of each stage (as `gto show`)."""
    from gitrun.registry.views import list_json, list_models

    rows = list_models(_root(ctx), deprecated=deprecated)
    if as_json:
        echo_json(list_json(rows), indent=None)  # one line: big registries print fast
        return
    from gitrun.cli._common import print_table

    stages = sorted({s for r in rows for s in r.stages})
    table = []
    for r in rows:
        latest = r.model.latest if r.model else None
        name = r.name if r.model and r.model.registered else f"*{r.name}"
        if r.model and r.model.deprecated:
            name += " (deprecated)"
        table.append((name, latest.version if latest else "-", *[r.stages.get(s) or "-" for s in stages]))
    if not table:
        click.echo("No registered models yet: gitrun models register NAME --run RUN_ID")
        return
    print_table(["name", "latest", *[f"#{s}" for s in stages]], table)


@click.command(
    "history", epilog="Examples:\n\n\b\n  gitrun models history\n  gitrun models history churn --verify --json"
)
@click.argument("name", required=False)
@click.option(
    "--verify", is_flag=True, help="Check each event's signature against the trusted keys of the default branch."
)
@_json_option
@click.pass_context
def history(ctx: click.Context, name: str | None, verify: bool, as_json: bool) -> None:
    """Every registry event (of NAME), newest first: who, when, what, on which commit, and why."""
    from gitrun.registry.views import history as do_history
    from gitrun.registry.views import history_json

    rows = do_history(_root(ctx), name, verify=verify)
    if as_json:
        echo_json(history_json(rows), indent=None)
        return
    from gitrun.cli._common import print_table
    from gitrun.formatting import format_time

    columns = ["date (UTC)", "model", "event", "version", "stage", "commit", "author", "tag", "message"]
    if verify:
        columns.insert(-1, "signature")
    table = []
    for r in rows:
        e = r.event
        row: list[Any] = [
            format_time(e.timestamp * 1000, zone=False),
            e.name,
            e.action.value,
            e.version or "-",
            e.stage or "-",
            e.commit[:7],
            e.author,
            e.tag,
            e.message.splitlines()[0] if e.message else "",
        ]
        if r.signature is not None:
            row.insert(-1, r.signature.status)
        table.append(row)
    print_table(columns, table)


def registry_commands() -> list[click.Command]:
    """The commands `gitrun models` adds for the registry (``assign`` is ``promote``, as in gto)."""
    assign = click.Command(
        "assign", callback=promote.callback, params=promote.params, help=promote.help, epilog=promote.epilog
    )
    return [register, promote, assign, demote, deregister, deprecate, list_, history]
