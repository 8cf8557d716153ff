"""Run IDs: ULIDs that sort in creation order within a process, even within one millisecond."""

from __future__ import annotations

from pathlib import Path

import gitrun
from gitrun.store import new_run_id


def test_run_ids_are_monotonic_within_a_millisecond() -> None:
    ids = [new_run_id() for _ in range(5000)]  # thousands share a millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 26 and i.isalnum() and i.isupper() for i in ids)


def test_runs_started_back_to_back_list_newest_first(tmp_path: Path) -> None:
    gitrun.set_tracking_uri(tmp_path / "store")
    started = []
    for i in range(20):
        with gitrun.start_run(run_name=f"r{i}") as run:
            started.append(run.info.run_id)
    assert started == sorted(started)
    listed = [r.info.run_id for r in gitrun.search_runs(output_format="list", search_all_experiments=True)]
    assert listed == started[::-1]
