"""Runs by status, per experiment: what the command and the page both show."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")


@dataclass(frozen=True)
class StatusRow:
    experiment_id: str
    name: str
    counts: tuple[int, ...]  # one per STATUSES entry

    def as_dict(self) -> dict[str, object]:
        return {"experiment_id": self.experiment_id, "name": self.name, **dict(zip(STATUSES, self.counts, strict=True))}


def status_rows(experiments: Iterable[tuple[str, str, Iterable[str]]]) -> list[StatusRow]:
    """One row per ``(experiment ID, name, statuses of its runs)``."""
    rows = []
    for experiment_id, name, statuses in experiments:
        counted = Counter(statuses)
        rows.append(StatusRow(experiment_id, name, tuple(counted.get(s, 0) for s in STATUSES)))
    return rows
