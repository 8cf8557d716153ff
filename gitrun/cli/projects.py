"""``gitrun run`` (a command or an MLproject entry point as a run) and ``gitrun sweep``."""

from __future__ import annotations

from typing import Any

import click

from gitrun.cli._common import echo_json

_ARGV = "gitrun_run_argv"  # where the command after `--` waits in click's context

_RUN_EPILOG = """Examples:

\b
  gitrun run -- python train.py --lr 0.1        # any command, as a run
  gitrun run . -e train -P alpha=0.5             # an MLproject entry point
  gitrun run https://github.com/org/proj.git -v v1.2 -P alpha=0.5
  gitrun run --env-manager venv -e main          # in a venv built from python_env.yaml

The exit status is the command's (130 after Ctrl-C). docs/projects.md has the details.
"""

_SWEEP_EPILOG = """Examples:

\b
  gitrun sweep -e train -P lr=0.1,0.01 -P depth=3:6 --parallel 2
  gitrun sweep -P lr=0.1,0.01,0.001 -P depth=1:8 --random 10 --seed 7
  gitrun sweep -P lr=0.1,0.01 --backend dask --address tcp://scheduler:8786
  gitrun sweep -P lr=0.1,0.01 --backend dask --backend-config '{"clone": true}'
  gitrun sweep -P lr=0.1,0.01 -- python train.py   # a command: params appended as --lr 0.1

`A,B,C` lists values; `3:6` is the integers 3 to 6. A grid by default; --random N draws N of its
points (without repeats) with the seed. Trials already FINISHED with the same params are skipped.
"""


class _CommandAfterDashes(click.Command):
    """Keeps what follows ``--`` as the command to run (click would mix it with the arguments)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta[_ARGV] = tuple(args[cut + 1 :])
            args = args[:cut]
        return super().parse_args(ctx, args)


def _params(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="-P")
        out[key] = value
    return out


def _common(f: Any) -> Any:
    options = [
        click.option("-e", "--entry-point", default="main", show_default=True, help="Entry point of the MLproject."),
        click.option("-v", "--version", help="Branch, tag or commit of a Git project."),
        click.option("-P", "--param", "params", multiple=True, metavar="KEY=VALUE", help="A parameter (repeatable)."),
        click.option("--experiment-name", help="Experiment of the run (created if needed)."),
        click.option("--experiment-id", help="Experiment of the run, by ID."),
        click.option(
            "--env-manager",
            type=click.Choice(["local", "venv", "virtualenv"]),
            help="local: this environment (default); venv: one built from python_env.yaml / requirements.txt.",
        ),
        click.option("-b", "--backend", default="local", show_default=True, help="Backend plugin: local, dask..."),
        click.option(
            "-c", "--backend-config", metavar="FILE|JSON", help="Backend settings: a JSON or YAML file, or inline."
        ),
        click.option("--output-cap", metavar="SIZE", help="Bytes of stdout and of stderr kept (default 256KiB)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.command("run", cls=_CommandAfterDashes, epilog=_RUN_EPILOG)
@click.argument("uri", required=False)
@_common
@click.option("--run-name", help="Name of the run.")
@click.option("--run-id", help="Log into this existing run instead of a new one.")
@click.option("-q", "--quiet", is_flag=True, help="No closing line naming the run.")
@click.pass_context
def run(ctx: click.Context, uri: str | None, params: tuple[str, ...], quiet: bool, **options: Any) -> None:
    """Run a command (after --) or an MLproject entry point as a run; exit with its status."""
    from gitrun.projects.api import run_from_cli

    command = ctx.meta.get(_ARGV)
    if command is not None and uri is not None:
        raise click.UsageError(f"give a project URI or a command after --, not both (got {uri!r} and a command)")
    if command is not None and not command:
        raise click.UsageError("nothing to run after --; e.g. gitrun run -- python train.py")
    outcome = run_from_cli(
        uri=uri or ".",
        command=command,
        parameters=_params(params),
        tracking_uri=(ctx.find_root().obj or {}).get("tracking_uri"),
        **options,
    )
    if not quiet:
        click.echo(f"gitrun: run {outcome.run_id} {outcome.status} (exit status {outcome.exit_status})", err=True)
    ctx.exit(outcome.exit_status)


@click.command("sweep", cls=_CommandAfterDashes, epilog=_SWEEP_EPILOG)
@click.argument("uri", required=False)
@_common
@click.option("--random", "random_points", type=int, metavar="N", help="Draw N points of the grid instead of all.")
@click.option("--seed", type=int, help="Seed of --random (default: drawn, and recorded on the parent run).")
@click.option(
    "--parallel", type=int, metavar="N", help="Trials at once (default: 1 local, the workers' threads on Dask)."
)
@click.option("--address", metavar="URL", help="Dask scheduler (tcp://host:8786); default: a local cluster.")
@click.option("--metric", help="Rank trials by this metric (default: the experiment's primary metric).")
@click.option("--run-name", help="Name of the sweep's parent run.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def sweep(ctx: click.Context, uri: str | None, params: tuple[str, ...], as_json: bool, **options: Any) -> None:
    """Run an entry point (or a command after --) over a grid of parameters: one child run per trial."""
    from gitrun.projects.api import sweep_from_cli

    command = ctx.meta.get(_ARGV)
    if command is not None and uri is not None:
        raise click.UsageError("give a project URI or a command after --, not both")
    if not params:
        raise click.UsageError("nothing to sweep over; give parameters, e.g. -P lr=0.1,0.01 -P depth=3:6")
    with _Progress(disabled=as_json) as progress:
        result = sweep_from_cli(
            uri=uri or ".",
            command=command,
            assignments=params,
            tracking_uri=(ctx.find_root().obj or {}).get("tracking_uri"),
            on_progress=progress.update,
            **options,
        )
    if as_json:
        echo_json(result.to_dict())
    else:
        _print_sweep(result)
    ctx.exit(0 if result.parent_status == "FINISHED" and not result.failed else 1)


class _Progress:
    """A rich progress bar on stderr while trials run (quiet when --json or GITRUN_NO_PROGRESS)."""

    def __init__(self, disabled: bool):
        import os

        self.disabled = disabled or bool(os.environ.get("GITRUN_NO_PROGRESS"))
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        return self

    def update(self, done: int, total: int, note: str) -> None:
        if self.disabled:
            return
        if self._progress is None:  # shown once trials start: an error before that is one clean line
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("sweep", total=total, note="")
        self._progress.update(self._task, completed=done, total=total, note=note)

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)


def _print_sweep(result: Any) -> None:
    from gitrun.cli._common import print_table

    names = list(result.param_names)
    metric = result.metric
    heading = f"metrics.{metric}" if metric in names else metric  # a param of the same name is beside it
    columns = ["#", "run_id", "status", *names, *([heading] if metric else [])]
    rows = []
    for trial in result.trials:
        status = f"{trial.status} (skipped)" if trial.skipped else trial.status
        row = [trial.index, trial.run_id or "", status, *(trial.params.get(n, "") for n in names)]
        if metric:
            row.append(trial.value)
        rows.append(row)
    order = f"best first by {metric} ({result.direction})" if metric else "no primary metric: in trial order"
    print_table(columns, rows, title=f"sweep {result.parent_run_id}")
    click.echo(f"{len(result.trials)} trials ({result.skipped} skipped), {order}")
    if result.failed:
        click.echo(f"{result.failed} trial(s) FAILED; their output is in each run's artifacts/gitrun/", err=True)
