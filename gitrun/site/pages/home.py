"""The home page: experiments with run counts, best primary-metric values, a sparkline of that
best across the default branch's commits, the latest commits that added runs, and each registered
model's current stages.

Both come from the history the history page computes (:func:`gitrun.site.pages.history.compute`,
cached per commit in the manifest), so the home page reads no extra revision.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from gitrun.charts.sparkline import svg_points
from gitrun.formatting import format_time
from gitrun.registry.state import load as load_registry
from gitrun.search.experiments import best_run
from gitrun.site import safe
from gitrun.site.builder import Builder
from gitrun.site.context import CommitBest, ExperimentRow, HomeCommit, HomeContext, HomeModel
from gitrun.site.pages.experiment import page_path, primary_metric
from gitrun.site.pages.history import compute
from gitrun.store.textio import from_json_number

LATEST_COMMITS = 8
BESTS_PER_COMMIT = 3


def build(builder: Builder) -> None:
    branch, commits, _ = compute(builder)
    trends = _trends(commits)
    rows = []
    total = 0
    for exp in builder.snapshot.experiments:
        records = builder.snapshot.records[exp.experiment_id]
        total += len(records)
        metric = primary_metric(exp, records)
        best = builder.best(exp, metric) if metric else None
        last = max((max(r.start_time or 0, r.end_time or 0) for r in records), default=0)
        values = trends.get((exp.experiment_id, metric), []) if metric else []
        rows.append(
            ExperimentRow(
                experiment_id=exp.experiment_id,
                name=exp.name,
                href=page_path(exp.experiment_id),
                runs=len(records),
                primary_metric=metric,
                direction=exp.direction(metric) if metric else None,
                best_value=safe.format_number(best[1]) if best else "",
                best_run_name=(best[0].run_name or best[0].run_id) if best else "",
                best_run_href=f"runs/{best[0].run_id}.html" if best else None,
                last_activity=format_time(last),
                trend=svg_points(values),
                trend_label=_trend_label(metric, values),
            )
        )
    context = HomeContext(
        site=builder.site_info("home", 0),
        experiments=tuple(rows),
        total_runs=total,
        commits=tuple(_latest(builder, commits)),
        branch=branch,
        models=_models(builder.snapshot.repo_root),
    )
    builder.writer.begin("home", "")
    builder.writer.write("index.html", builder.render("index.html", context))
    builder.writer.end()


def _trends(commits: list[tuple[Any, list[dict[str, Any]]]]) -> dict[tuple[str, str | None], list[float]]:
    """(experiment ID, metric) -> its best value after each commit that had one, oldest first."""
    out: dict[tuple[str, str | None], list[float]] = defaultdict(list)
    for _commit, bests in commits:
        for entry in bests:
            if entry["metric"] and entry["value"] is not None:
                out[(entry["id"], entry["metric"])].append(from_json_number(entry["value"]))
    return out


def _trend_label(metric: str | None, values: list[float]) -> str:
    if not metric or not values:
        return ""
    first, last = safe.format_number(values[0]), safe.format_number(values[-1])
    commits = f"{len(values)} commit{'' if len(values) == 1 else 's'}"
    return f"best {metric} over {commits} of the default branch: {first} → {last}"


def _latest(builder: Builder, commits: list[tuple[Any, list[dict[str, Any]]]]) -> list[HomeCommit]:
    """The newest commits that added runs, each with the best run it added per experiment."""
    snapshot = builder.snapshot
    records = {r.run_id: r for r in snapshot.all_records}
    experiments = {e.experiment_id: e for e in snapshot.experiments}
    out = []
    for commit, _ in reversed(commits):
        if not commit.added:
            continue
        added: dict[str, list[Any]] = defaultdict(list)
        for ref in commit.added:
            if ref.run_id in records and ref.experiment_id in experiments:
                added[ref.experiment_id].append(records[ref.run_id])
        bests = []
        for experiment_id, runs in sorted(added.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            exp = experiments[experiment_id]
            metric = primary_metric(exp, snapshot.records[experiment_id])
            best = best_run(exp, runs, metric) if metric else None
            if metric and best:
                run, value = best
                href = f"runs/{run.run_id}.html"
                bests.append(CommitBest(exp.name, metric, safe.format_number(value), run.run_name or run.run_id, href))
        out.append(
            HomeCommit(
                short=commit.sha[:10],
                commit_url=safe.forge_commit_url(snapshot.remote_url, commit.sha),
                author=commit.author,
                date=format_time(commit.timestamp * 1000),
                subject=commit.subject,
                added=len(commit.added),
                best=tuple(bests[:BESTS_PER_COMMIT]),
            )
        )
        if len(out) == LATEST_COMMITS:
            break
    return out


def _models(root: Path | None) -> tuple[HomeModel, ...]:
    """Each active registered model's current stages, from the registry's one ``for-each-ref``."""
    if root is None:
        return ()
    registry = load_registry(root)
    return tuple(
        HomeModel(
            name=name,
            latest=model.latest.version if model.latest else "",
            stages=tuple(sorted((stage, version) for stage, version in model.stages.items() if version)),
        )
        for name, model in sorted(registry.models.items())
        if model.active and model.registered
    )
