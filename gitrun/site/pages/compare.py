"""The compare page: a static shell the browser fills from the selected runs' data files."""

from __future__ import annotations

from gitrun.site.builder import Builder
from gitrun.site.context import CompareContext


def build(builder: Builder) -> None:
    context = CompareContext(
        site=builder.site_info("compare", 0),
        spec=builder.spec("metric_curves", title=None, by_run=True),
        bars_spec=builder.spec("metric_bars"),
        known_runs=sum(len(v) for v in builder.snapshot.records.values()),
    )
    builder.writer.begin("compare", "")
    builder.writer.write("compare.html", builder.render("compare.html", context))
    builder.writer.end()
