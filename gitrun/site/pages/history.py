"""The history page: how the best value of each primary metric moved across the default branch.

For every commit that changed the store (:func:`gitrun.vcs.revision.history`, oldest first), the store
as it was then (:func:`gitrun.vcs.revision.store_at`) gives each experiment's best run. Each commit's
result is cached in the manifest by its SHA, so a rebuild only reads the commits that are new.
"""

from __future__ import annotations

from typing import Any

from gitrun.formatting import format_time, iso_time
from gitrun.search.experiments import best_run
from gitrun.site import safe
from gitrun.site.builder import Builder
from gitrun.site.context import HistoryContext, HistoryRow
from gitrun.site.pages.experiment import primary_metric
from gitrun.store.textio import from_json_number, json_number
from gitrun.vcs.revision import history, store_at

CACHE_VERSION = 2  # 2: ties for best broken by gitrun.ranking (earlier end time, then run ID)


def _summarise(builder: Builder, sha: str) -> list[dict[str, Any]]:
    view = store_at(builder.snapshot.origin, sha)
    out = []
    for exp in sorted(view.list_experiments(), key=lambda e: (e.name.lower(), e.experiment_id)):
        records = list(view.iter_runs([exp.experiment_id]))
        metric = primary_metric(exp, records)
        best = best_run(exp, records, metric) if metric else None
        out.append(
            {
                "id": exp.experiment_id,
                "name": exp.name,
                "metric": metric,
                "value": json_number(best[1]) if best else None,
                "run_id": best[0].run_id if best else None,
                "run_name": (best[0].run_name or best[0].run_id) if best else None,
                "runs": len(records),
            }
        )
    return out


def _value(raw: Any) -> float | None:
    if raw is None:
        return None
    return from_json_number(raw)


def compute(builder: Builder) -> tuple[str | None, list[tuple[Any, list[dict[str, Any]]]], str]:
    """(branch, [(StoreCommit, per-experiment bests)], message when there is no history)."""
    snapshot = builder.snapshot
    if not builder.options.history:
        return None, [], "History was not built (--no-history)."
    if snapshot.repo_root is None:
        return None, [], "The store is not in a Git repository: there is no history to show."
    rev = builder.options.rev or snapshot.branch
    if rev is None:
        return None, [], "The repository has no commits yet."
    commits = history(snapshot.origin, rev)
    if not commits:
        return rev, [], f"No commit of {rev} changed the run store yet: commit runs with `gitrun commit`."
    out = []
    for index, commit in enumerate(commits):
        key = f"{CACHE_VERSION}:{commit.sha}"
        cached = builder.writer.previous.history.get(key) or builder.writer.current.history.get(key)
        if cached is None:
            cached = _summarise(builder, commit.sha)
        builder.writer.current.history[key] = cached
        out.append((commit, cached))
        builder.tick("history", index + 1, len(commits))
    return rev, out, ""


def build(builder: Builder) -> None:
    branch, commits, message = compute(builder)
    known = {r.run_id for r in builder.snapshot.all_records}
    series: list[str] = []
    for _commit, bests in commits:
        for best in bests:
            if best["metric"]:
                name = f"{best['name']} · {best['metric']}"
                if name not in series:
                    series.append(name)
    rows = []
    data = []
    for commit, bests in commits:
        by_series = {f"{e['name']} · {e['metric']}": e for e in bests if e["metric"]}
        cells: list[tuple[str, str, str | None]] = []
        for name in series:
            found = by_series.get(name)
            value = _value(found["value"]) if found else None
            if found is None or value is None:
                cells.append(("", "", None))
                continue
            entry: dict[str, Any] = found
            run_id = entry["run_id"]
            cells.append(
                (safe.format_number(value), entry["run_name"] or "", f"runs/{run_id}.html" if run_id in known else None)
            )
            data.append(
                {
                    "series": name,
                    "commit": commit.sha[:10],
                    "date": iso_time(commit.timestamp * 1000),
                    "value": json_number(value),
                    "run": entry["run_name"] or "",
                    "subject": commit.subject,
                }
            )
        rows.append(
            HistoryRow(
                commit=commit.sha,
                short=commit.sha[:10],
                date=format_time(commit.timestamp * 1000),
                subject=commit.subject,
                commit_url=safe.forge_commit_url(builder.snapshot.remote_url, commit.sha),
                added=len(commit.added),
                removed=len(commit.removed),
                best=tuple(cells),
            )
        )
    rows.reverse()
    context = HistoryContext(
        site=builder.site_info("history", 0),
        branch=branch,
        series=tuple(series),
        rows=tuple(rows),
        spec=builder.spec("history_line") if data else None,
        data=data,
        message=message,
    )
    builder.writer.begin("history", "")
    builder.writer.write("history.html", builder.render("history.html", context))
    builder.writer.end()
