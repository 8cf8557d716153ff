"""Renderers of a :class:`~gitrun.diff.Diff`: rich terminal text, GitHub Markdown, JSON.

They only format. Every user-supplied string (run names, params, tags) goes through
:func:`md_escape` in Markdown, so a name holding ``|``, backticks, Markdown or HTML cannot break a
table or inject markup into a pull-request comment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from gitrun import ranking
from gitrun.compare.diff import BestRun, Diff, ExperimentDiff, MetricBest, RunSummary, Side, ValueChange
from gitrun.formatting import format_number

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")

# Budgets, the same in every format: run tables show the final values of at most METRIC_COLUMNS
# metrics (the most relevant, ExperimentDiff.metric_bests order); the text and the visible
# Markdown table list at most SHOWN_METRICS metrics' bests, Markdown's <details> at most
# FOLDED_METRICS more. The JSON has every metric.
METRIC_COLUMNS = 4
SHOWN_METRICS = 20
FOLDED_METRICS = 200

# (run_id, side) -> a sparkline of the run's primary-metric history ("" when there is none);
# side is "base" or "target". Given to render_markdown, it adds a "curve" column to run tables.
Sparkline = Callable[[str, str], str]


def md_escape(value: Any) -> str:
    """Text safe inside a GitHub Markdown table cell: HTML entities for ``& < >``, backslash
    escapes for Markdown syntax (pipes included), newlines as spaces."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    text = re.sub(r"[\r\n\t]+", " ", text)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return "\\" + text if text[:1] in "#+-!=>" and text else text


def fmt(value: Any, precision: int = 4) -> str:
    """A value of the diff (:func:`gitrun.formatting.format_number`); "—" where a side has none."""
    return format_number(value, precision, missing="—")


def fmt_delta(exp: ExperimentDiff, precision: int = 4) -> str:
    """The change of the deciding metric's best (:func:`fmt_change`)."""
    return fmt_change(exp.headline, precision) if exp.headline else "—"


def fmt_change(best: MetricBest, precision: int = 4) -> str:
    """``+0.1 ▲ better``, ``-0.2 ▼ worse``, ``+0 (same)``; "—" unless both sides have a best."""
    delta = best.delta
    if delta is None:
        return "—"
    mark = {True: " ▲ better", False: " ▼ worse", None: ""}[best.improved]
    if delta == 0:
        mark = " (same)"
    return format_number(delta, precision, signed=True) + mark


def side_label(side: Side) -> str:
    return (
        side.label
        if side.commit is None or side.label.startswith(side.commit[:7])
        else f"{side.label} ({side.commit[:7]})"
    )


def _summary_line(exp: ExperimentDiff) -> str:
    parts = [
        f"{len(exp.added)} added",
        f"{len(exp.removed)} removed",
        f"{len(exp.changed)} changed",
        f"{exp.unchanged} unchanged",
    ]
    if not exp.in_base:
        parts.append("new experiment")
    elif not exp.in_target:
        parts.append("experiment removed")
    return ", ".join(parts)


# -- JSON --------------------------------------------------------------------------------------
def render_json(diff: Diff) -> str:
    return json.dumps(diff.to_dict(), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


# -- Markdown ----------------------------------------------------------------------------------
def _changes_md(changes: tuple[ValueChange, ...], precision: int, limit: int = 6) -> str:
    shown = [
        f"{md_escape(c.key)}: {md_escape(fmt(c.base, precision))} → {md_escape(fmt(c.target, precision))}"
        for c in changes[:limit]
    ]
    if len(changes) > limit:
        shown.append(f"… {len(changes) - limit} more")
    return "<br>".join(shown)


def _metrics_md(exp: ExperimentDiff, precision: int, shown: int, folded: int) -> list[str]:
    """The bests of every metric but the deciding one (it has its own table): the changed ones in
    a table, the rest (and the changed beyond ``shown``) folded in ``<details>``."""
    bests = [m for m in exp.metric_bests() if m.key != exp.metric]
    if not bests:
        return []
    head = ["| metric | base best | target best | change |", "|---|---|---|---|"]

    def cell(best: BestRun | None) -> str:
        return "—" if best is None else f"{md_escape(fmt(best.value, precision))} <sub>{md_escape(best.run_name)}</sub>"

    def row(m: MetricBest) -> str:
        return f"| {md_escape(m.key)} ({m.direction}) | {cell(m.base)} | {cell(m.target)} | {md_escape(fmt_change(m, precision))} |"

    visible = [m for m in exp.headline_metrics() if m.key != exp.metric][: max(shown, 0)]
    rest = bests[len(visible) :]  # metric_bests() puts the changed ones first
    lines: list[str] = []
    if visible:
        changed = sum(m.changed for m in bests)
        lines += [f"Metrics whose best changed ({changed}):", "", *head, *map(row, visible), ""]
    if rest:
        title = "Other metrics" if visible else "Metrics"
        lines += [f"<details><summary>{title} ({len(rest)})</summary>", "", *head]
        lines += [row(m) for m in rest[: max(folded, 0)]]
        if len(rest) > folded:
            lines.append(f"| … {len(rest) - folded} more in `--format json` | | | |")
        lines += ["", "</details>", ""]
    return lines


def _run_row(run: RunSummary, precision: int, metrics: list[str], curve: str | None = None) -> str:
    metric_cells = [md_escape(fmt(run.metrics.get(m), precision)) for m in metrics]
    if curve is not None:
        metric_cells.append(md_escape(curve))
    return (
        "| "
        + " | ".join([f"{md_escape(run.run_name)} <sub>{run.run_id[:10]}</sub>", md_escape(run.status), *metric_cells])
        + " |"
    )


def render_markdown(
    diff: Diff,
    precision: int = 4,
    max_runs: int = 50,
    *,
    sparkline: Sparkline | None = None,
    extra: Callable[[ExperimentDiff], list[str]] | None = None,
    max_metrics: int = SHOWN_METRICS,
    max_folded: int = FOLDED_METRICS,
) -> str:
    """GitHub-flavoured Markdown: one section per experiment, tables of best values and runs.

    Per experiment: the deciding metric's best on each side (when there is one), the other
    metrics' bests (those whose best changed in a table, at most ``max_metrics``; the rest in
    ``<details>``, at most ``max_folded``), then the run tables with the most relevant metrics' final values.
    ``sparkline`` adds a "curve" column (and row, in the best-values table); ``extra`` returns
    Markdown lines placed after an experiment's best-values tables (the PR report's charts).
    """
    lines = [
        f"## gitrun diff: {md_escape(side_label(diff.base))} → {md_escape(side_label(diff.target))}",
        "",
    ]
    if not diff.experiments:
        lines.append("_No experiments on either side._")
    lines += _registry_md(diff)
    for exp in diff.experiments:
        lines += [f"### {md_escape(exp.name)}", "", _summary_line(exp) + ".", ""]
        if exp.metric:
            lines += [
                f"| best {md_escape(exp.metric)} ({exp.direction}) | base | target | change |",
                "|---|---|---|---|",
                f"| value | {md_escape(fmt(exp.base_best.value if exp.base_best else None, precision))} | {md_escape(fmt(exp.target_best.value if exp.target_best else None, precision))} | {md_escape(fmt_delta(exp, precision))} |",
                "| run | {} | {} | |".format(
                    md_escape(exp.base_best.run_name) if exp.base_best else "—",
                    md_escape(exp.target_best.run_name) if exp.target_best else "—",
                ),
            ]
            if sparkline is not None:
                lines.append(
                    "| curve | {} | {} | |".format(
                        md_escape(sparkline(exp.base_best.run_id, "base")) if exp.base_best else "",
                        md_escape(sparkline(exp.target_best.run_id, "target")) if exp.target_best else "",
                    )
                )
            lines.append("")
        if exp.best_params:
            lines += [
                "Params that differ between the two best runs:",
                "",
                "| param | base best | target best |",
                "|---|---|---|",
            ]
            lines += [
                f"| {md_escape(c.key)} | {md_escape(fmt(c.base))} | {md_escape(fmt(c.target))} |"
                for c in exp.best_params
            ]
            lines.append("")
        lines += _metrics_md(exp, precision, max_metrics, max_folded)
        if extra is not None:
            lines += extra(exp)
        for title, runs, side in (("Added runs", exp.added, "target"), ("Removed runs", exp.removed, "base")):
            if not runs:
                continue
            ordered = _by_metric(runs, exp)
            columns = exp.metric_columns(runs, METRIC_COLUMNS)
            header = ["run", "status", *map(md_escape, columns)] + (["curve"] if sparkline is not None else [])
            lines += [
                f"<details><summary>{title} ({len(runs)})</summary>",
                "",
                "| " + " | ".join(header) + " |",
                "|" + "---|" * len(header),
            ]
            lines += [
                _run_row(r, precision, columns, sparkline(r.run_id, side) if sparkline else None)
                for r in ordered[:max_runs]
            ]
            if len(runs) > max_runs:
                lines.append(f"| … {len(runs) - max_runs} more | | " + "| " * (len(header) - 2))
            lines += ["", "</details>", ""]
        if exp.changed:
            datasets = any(c.datasets for c in exp.changed)  # the column only where a run's datasets changed
            lines += [
                f"<details><summary>Changed runs ({len(exp.changed)})</summary>",
                "",
                "| run | params | metrics | tags |"
                + (" datasets |" if datasets else "")
                + (" curve |" if sparkline else ""),
                "|---|---|---|---|" + ("---|" if datasets else "") + ("---|" if sparkline else ""),
            ]
            for change in exp.changed[:max_runs]:
                name = md_escape(change.run.run_name)
                if change.renamed:
                    name = f"{md_escape(change.base_name)} → {name}"
                lines.append(
                    f"| {name} <sub>{change.run.run_id[:10]}</sub> | {_changes_md(change.params, precision)} | "
                    f"{_changes_md(change.metrics, precision)} | {_changes_md(change.tags, precision)} |"
                    + (f" {_changes_md(change.datasets, precision)} |" if datasets else "")
                    + (f" {md_escape(sparkline(change.run.run_id, 'target'))} |" if sparkline else "")
                )
            if len(exp.changed) > max_runs:
                lines.append(
                    f"| … {len(exp.changed) - max_runs} more | | | |"
                    + (" |" if datasets else "")
                    + (" |" if sparkline else "")
                )
            lines += ["", "</details>", ""]
    return "\n".join(lines).rstrip() + "\n"


def registry_lines(diff: Diff) -> list[tuple[str, str]]:
    """``(what, who and where)`` of each registry change: stage moves first, then every event."""
    out = []
    for move in diff.registry.moves:
        base = move.base.version if move.base else "—"
        target = move.target.version if move.target else "—"
        out.append((f"{move.name}#{move.stage}: {base} → {target}", ""))
    for e in diff.registry.events:
        what = {
            "registration": f"{e.name} {e.version} registered",
            "deregistration": f"{e.name} {e.version} deregistered",
            "assignment": f"{e.name} {e.version} → {e.stage}",
            "unassignment": f"{e.name} {e.version} left {e.stage}",
            "deprecation": f"{e.name} deprecated",
        }[e.action.value]
        out.append((what, f"{e.author}, tag {e.tag} on {e.commit[:10]}" + (f" (run {e.run_id})" if e.run_id else "")))
    return out


def _registry_md(diff: Diff) -> list[str]:
    if diff.registry.empty:
        return []
    lines = ["### Model registry", "", "| change | by |", "|---|---|"]
    lines += [f"| {md_escape(what)} | {md_escape(who)} |" for what, who in registry_lines(diff)]
    return [*lines, ""]


def _by_metric(runs: tuple[RunSummary, ...], exp: ExperimentDiff) -> list[RunSummary]:
    """Best first by the experiment's metric (:mod:`gitrun.ranking`); without a metric, newest first."""
    if not exp.metric:
        return sorted(runs, key=lambda r: -r.start_time)
    return ranking.ranked(runs, exp.metric, exp.direction)


# -- terminal ----------------------------------------------------------------------------------
def _best_line(m: MetricBest, precision: int, escape: Callable[[str], str]) -> str:
    """``  best val_acc (max): 0.8 (b) → 0.9 (d)  +0.1 ▲ better``, the change coloured."""
    colour = {True: "green", False: "red", None: "white"}[m.improved]

    def side(best: BestRun | None) -> str:
        return "—" if best is None else f"{fmt(best.value, precision)} ({escape(best.run_name)})"

    return (
        f"  best {escape(m.key)} ({m.direction}): {side(m.base)} → {side(m.target)}  "
        f"[{colour}]{fmt_change(m, precision)}[/{colour}]"
    )


def render_text(diff: Diff, console: Any, precision: int = 4, max_runs: int = 20) -> None:
    """A coloured terminal view through rich (plain text when colours are off)."""
    from rich.markup import escape
    from rich.table import Table

    console.print(f"[bold]gitrun diff[/bold] {escape(side_label(diff.base))} → {escape(side_label(diff.target))}")
    if not diff.experiments:
        console.print("No experiments on either side.")
    if not diff.registry.empty:
        console.print()
        console.print("[bold cyan]model registry[/bold cyan]")
        for what, who in registry_lines(diff):
            console.print(f"  {escape(what)}" + (f"  [dim]{escape(who)}[/dim]" if who else ""))
    for exp in diff.experiments:
        console.print()
        console.print(f"[bold cyan]{escape(exp.name)}[/bold cyan]  {escape(_summary_line(exp))}")
        bests = exp.metric_bests()
        for m in bests[:1] if exp.metric else []:
            console.print(_best_line(m, precision, escape))
        for param in exp.best_params:
            console.print(f"    param {escape(param.key)}: {escape(fmt(param.base))} → {escape(fmt(param.target))}")
        others = bests[1:] if exp.metric else bests
        for m in others[:SHOWN_METRICS]:
            console.print(_best_line(m, precision, escape))
        if len(others) > SHOWN_METRICS:
            console.print(f"  … {len(others) - SHOWN_METRICS} more metrics (--json lists every one)")
        for title, runs, style in (("added", exp.added, "green"), ("removed", exp.removed, "red")):
            if not runs:
                continue
            table = Table(title=f"{title} runs", title_justify="left", header_style="bold", show_edge=False)
            columns = exp.metric_columns(runs, METRIC_COLUMNS)
            for column in ["run", "id", "status", *columns]:
                table.add_column(column)
            for run in _by_metric(runs, exp)[:max_runs]:
                cells = [run.run_name, run.run_id[:10], run.status] + [
                    fmt(run.metrics.get(key), precision) for key in columns
                ]
                table.add_row(*(escape(c) for c in cells), style=style)
            if len(runs) > max_runs:
                table.add_row(f"… {len(runs) - max_runs} more", *[""] * (len(table.columns) - 1))
            console.print(table)
        for change in exp.changed[:max_runs]:
            name = f"{change.base_name} → {change.run.run_name}" if change.renamed else change.run.run_name
            console.print(f"  [yellow]changed[/yellow] {escape(name)} ({change.run.run_id[:10]})")
            for label, items in (
                ("param", change.params),
                ("metric", change.metrics),
                ("tag", change.tags),
                ("dataset", change.datasets),
            ):
                for c in items:
                    console.print(
                        f"    {label} {escape(c.key)}: {escape(fmt(c.base, precision))} → {escape(fmt(c.target, precision))}"
                    )
