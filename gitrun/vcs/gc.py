"""``gitrun gc``: remove soft-deleted runs for good, through an ordinary commit (history keeps them)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from gitrun.entities import ViewType
from gitrun.store import Store
from gitrun.store.writer import now_ms
from gitrun.vcs.commit import CommitResult, check_git_state, commit
from gitrun.vcs.git import GitRepo


@dataclass(frozen=True)
class GcResult:
    removed: tuple[str, ...]
    commit: CommitResult | None


def gc(store: Store, older_than_ms: int | None = None, *, dry_run: bool = False, no_verify: bool = False) -> GcResult:
    """Delete the files of runs soft-deleted more than ``older_than_ms`` ago (all deleted runs if None)."""
    cutoff = now_ms() - older_than_ms if older_than_ms is not None else None
    doomed = []
    for record in store.iter_runs(view_type=ViewType.DELETED_ONLY):
        deleted_at = record.meta.get("deleted_time")
        if cutoff is not None and (not isinstance(deleted_at, (int, float)) or deleted_at > cutoff):
            continue  # deleted recently, or at an unknown time: keep it when an age limit is given
        doomed.append(record)
    if dry_run or not doomed:
        return GcResult(tuple(r.run_id for r in doomed), None)
    import os

    repo = GitRepo.find(store.root)
    check_git_state(repo)
    rel = {r.run_id: os.path.relpath(r.run_dir.resolve(), repo.root.resolve()) for r in doomed}
    listed = repo.run("ls-files", "-z", "--", *rel.values()).split("\0")
    tracked = [run_id for run_id, path in rel.items() if any(f.startswith(path + "/") for f in listed)]
    for record in doomed:
        store.close_writer(record.run_id)
        shutil.rmtree(record.run_dir)
    ids = tuple(r.run_id for r in doomed)
    if not tracked:  # never committed: removing the files is all there is to do
        return GcResult(ids, None)
    message = f"gitrun gc: remove {len(tracked)} deleted run(s)\n\n" + "".join(f"- {i}\n" for i in tracked)
    return GcResult(ids, commit(store, message=message, run_ids=tracked, no_verify=no_verify))
