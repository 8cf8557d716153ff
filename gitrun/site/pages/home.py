"""The home page: experiments with run counts, best primary-metric values and last activity."""

from __future__ import annotations

from gitrun.formatting import format_time
from gitrun.search.experiments import best_run
from gitrun.site import safe
from gitrun.site.builder import Builder
from gitrun.site.context import ExperimentRow, HomeContext
from gitrun.site.pages.experiment import page_path, primary_metric


def build(builder: Builder) -> None:
    rows = []
    total = 0
    for exp in builder.snapshot.experiments:
        records = builder.snapshot.records[exp.experiment_id]
        total += len(records)
        metric = primary_metric(exp, records)
        best = best_run(exp, records, metric) if metric else None
        last = max((max(r.start_time or 0, r.end_time or 0) for r in records), default=0)
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
            )
        )
    context = HomeContext(site=builder.site_info("home", 0), experiments=tuple(rows), total_runs=total)
    builder.writer.begin("home", "")
    builder.writer.write("index.html", builder.render("index.html", context))
    builder.writer.end()
