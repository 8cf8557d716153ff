from __future__ import annotations

import os
from pathlib import Path

import click

from gitrun.cli._common import diff_options, get_store


@click.group(epilog="Example:\n\n\b\n  gitrun report pr main HEAD --out gitrun-report --post")
def report() -> None:
    """Reports for code review: the pull-request report and its sticky comment."""


def _checks_from_env() -> tuple[str, ...]:
    """GITRUN_CHECKS: one check per line; blank lines and lines starting with '#' are skipped."""
    raw = os.environ.get("GITRUN_CHECKS", "")
    return tuple(line.strip() for line in raw.splitlines() if line.strip() and not line.strip().startswith("#"))


@report.command(
    "pr",
    epilog=(
        "Examples:\n\n\b\n"
        "  gitrun report pr                              # merge-base with the default branch vs the working tree\n"
        "  gitrun report pr main...HEAD --out gitrun-report\n"
        "  gitrun report pr origin/main...HEAD --check 'metrics.val_acc >= base - 0.01' --post"
    ),
)
@click.argument("base", required=False)
@click.argument("target", required=False)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("gitrun-report"),
    show_default=True,
    help="Directory for report.md, comment.md, diff.json and charts/.",
)
@click.option("--post", is_flag=True, help="Create or update the pull request's gitrun comment (GitHub REST API).")
@click.option("--pr", "pr_number", type=int, metavar="N", help="Pull-request number (default: from the event payload).")
@click.option(
    "--check",
    "checks",
    multiple=True,
    metavar="EXPR",
    help="Gate, as in `gitrun diff --check` (repeatable; default: the lines of $GITRUN_CHECKS).",
)
@click.option(
    "--max-runs", type=click.IntRange(min=1), default=50, show_default=True, help="Rows per run table before cutting."
)
@click.option(
    "--max-curves", type=click.IntRange(min=0), default=3, show_default=True, help="Best new runs drawn in each chart."
)
@click.option("--no-images", is_flag=True, help="Skip the SVG/PNG charts (the Markdown keeps its Mermaid charts).")
@click.option("--marker", default="gitrun-report", show_default=True, help="Hidden marker naming the sticky comment.")
@click.option("--print", "print_md", is_flag=True, help="Also print the comment's Markdown.")
@diff_options
@click.pass_context
def pr(
    ctx: click.Context,
    base: str | None,
    target: str | None,
    out_dir: Path,
    post: bool,
    pr_number: int | None,
    only_changed: bool,
    metric: str | None,
    experiments: tuple[str, ...],
    precision: int,
    checks: tuple[str, ...],
    require_runs: bool,
    max_runs: int,
    max_curves: int,
    no_images: bool,
    marker: str,
    print_md: bool,
) -> None:
    """Build the pull-request report: the diff, the gate, Mermaid charts and sparklines.

    Writes report.md (full), comment.md (fitted under GitHub's 65,536-character limit),
    diff.json (docs/schemas/diff.json) and charts/*.svg|png. Exit codes as `gitrun diff`: 0 every
    check holds, 1 one fails, 2 a malformed check or unknown metric.
    """
    from gitrun.report.github import event_payload, pull_request_info, run_url
    from gitrun.report.pr import build_pr_report, post_comment, write_report

    result = build_pr_report(
        get_store(ctx),
        base,
        target,
        experiments=experiments or None,
        metric=metric,
        only_changed=only_changed,
        checks=checks or _checks_from_env(),
        require_runs=require_runs,
        precision=precision,
        max_runs=max_runs,
        max_curves=max_curves,
        marker=marker,
        details_url=run_url(),
    )
    info = pull_request_info(event_payload()) or {}
    if pr_number is not None:
        info["number"] = pr_number
    if info and os.environ.get("GITHUB_REPOSITORY"):
        info["repository"] = os.environ["GITHUB_REPOSITORY"]
    written = write_report(result, out_dir, images=not no_images, pull_request=info or None)
    images = [p for p in written.files if p.suffix in (".svg", ".png")]
    size = len(result.comment)
    click.echo(
        f"Wrote {out_dir}/: report.md, comment.md ({size:,} characters{', cut to fit' if result.truncated else ''}), "
        f"diff.json, {len(images)} chart images"
    )
    if written.images_skipped:
        click.echo(f"No chart images: {written.images_skipped}", err=True)
    for r in result.checks:
        click.echo(f"{'PASS' if r.passed else 'FAIL'} {r.check} [{r.experiment}]: {r.explanation}")
    if print_md:
        click.echo(result.comment, nl=False)
    if post:
        posted = post_comment(result.comment, number=pr_number)
        click.echo(f"{posted.action.capitalize()} comment {posted.url or posted.comment_id}")
    ctx.exit(result.exit_code)


@report.command(
    "post",
    epilog='Example:\n\n\b\n  gitrun report post gitrun-report --expect-head-sha "$HEAD_SHA"',
)
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default="gitrun-report")
@click.option(
    "--pr", "pr_number", type=int, metavar="N", help="Pull-request number (default: pull-request.json, else the event)."
)
@click.option(
    "--expect-head-sha",
    metavar="SHA",
    help="Post only if the pull request's head is this commit (for reports downloaded from another workflow).",
)
def post(out_dir: Path, pr_number: int | None, expect_head_sha: str | None) -> None:
    """Post a report written by `gitrun report pr --out DIR` as the pull request's sticky comment.

    For pull requests from forks, whose workflow token cannot comment: a `workflow_run` workflow
    downloads the report artifact and runs this with the base repository's token.
    """
    from gitrun.report.pr import post_comment, read_report_dir

    body, info = read_report_dir(out_dir)
    number = pr_number if pr_number is not None else info.get("number")
    posted = post_comment(body, number=int(number) if number is not None else None, expect_head_sha=expect_head_sha)
    click.echo(f"{posted.action.capitalize()} comment {posted.url or posted.comment_id}")
