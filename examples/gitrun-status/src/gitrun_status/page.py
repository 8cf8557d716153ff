"""The site's Status page: ``status.html`` from this plugin's template, and its data as JSON bytes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gitrun_status.counts import STATUSES, StatusRow, status_rows


@dataclass(frozen=True)
class StatusContext:
    """What ``gitrun-status.html`` sees."""

    site: Any  # gitrun.site.context.SiteInfo: title, root, nav... (base.html needs it)
    statuses: tuple[str, ...]
    rows: tuple[StatusRow, ...]


def build(builder: Any) -> None:
    """Called once per site build with gitrun's Builder."""
    snapshot = builder.snapshot
    rows = status_rows(
        (exp.experiment_id, exp.name, [r.status for r in snapshot.records[exp.experiment_id]])
        for exp in snapshot.experiments
    )
    context = StatusContext(site=builder.site_info("status", 0), statuses=STATUSES, rows=tuple(rows))
    builder.writer.begin("page:status", "")
    builder.writer.write("status.html", builder.render("gitrun-status.html", context))
    data = json.dumps([row.as_dict() for row in rows], sort_keys=True, indent=1) + "\n"
    builder.writer.write("data/status.json", data.encode("utf-8"))
    builder.writer.end()
