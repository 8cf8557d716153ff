from __future__ import annotations

import click

from gitrun.cli._common import console, diff_options, get_store


@click.command(
    epilog=(
        "Examples:\n\n\b\n"
        "  gitrun diff                       # merge-base with the default branch vs the working tree\n"
        "  gitrun diff main HEAD --format md\n"
        "  gitrun diff main...HEAD --json\n"
        "  gitrun diff main HEAD --check 'metrics.val_acc >= base - 0.01'"
    )
)
@click.argument("base", required=False)
@click.argument("target", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "md", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--check", "checks", multiple=True, metavar="EXPR", help="Gate: e.g. 'metrics.val_acc >= base - 0.01' (repeatable)."
)
@diff_options
@click.pass_context
def diff(
    ctx: click.Context,
    base: str | None,
    target: str | None,
    fmt: str,
    as_json: bool,
    only_changed: bool,
    metric: str | None,
    experiments: tuple[str, ...],
    precision: int,
    checks: tuple[str, ...],
    require_runs: bool,
) -> None:
    """Compare experiments between two revisions: added, removed and changed runs, best-run deltas.

    BASE and TARGET are any revisions (TARGET defaults to the working tree; `workspace` names it
    explicitly); `A...B` compares B with its merge-base with A. With --check, the exit code is 0
    when every check holds, 1 when one fails, 2 for a malformed check or unknown metric.
    """
    import json

    from gitrun.compare.diff import diff_revisions
    from gitrun.compare.gate import evaluate, parse_check
    from gitrun.compare.render import render_markdown, render_text

    for check in checks:  # report malformed checks before any work
        parse_check(check)
    result = diff_revisions(
        get_store(ctx), base, target, experiments=experiments or None, metric=metric, only_changed=only_changed
    )
    fmt = "json" if as_json else fmt
    code, check_results = evaluate(result, checks, require_runs=require_runs) if checks else (0, [])
    if fmt == "json":
        doc = result.to_dict()
        if checks:
            doc["checks"] = [
                {"check": r.check, "experiment": r.experiment, "passed": r.passed, "explanation": r.explanation}
                for r in check_results
            ]
        click.echo(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False))
    elif fmt == "md":
        text = render_markdown(result, precision)
        if checks:
            from gitrun.compare.render import md_escape

            text += "\n### Checks\n\n| | check | experiment | result |\n|---|---|---|---|\n"
            text += "".join(
                f"| {'✅' if r.passed else '❌'} | {md_escape(r.check)} | {md_escape(r.experiment)} | {md_escape(r.explanation)} |\n"
                for r in check_results
            )
        click.echo(text, nl=False)
    else:
        out = console()
        render_text(result, out, precision)
        if checks:
            from rich.markup import escape

            out.print()
            for r in check_results:
                mark = "[green]PASS[/green]" if r.passed else "[red]FAIL[/red]"
                out.print(
                    f"{mark} {escape(r.check)} {escape(f'[{r.experiment}]')}: {escape(r.explanation)}", soft_wrap=True
                )
    ctx.exit(code)
