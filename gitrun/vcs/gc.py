"""``gitrun gc``: remove soft-deleted runs for good, through an ordinary commit (history keeps them)."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from gitrun.entities import ViewType
from gitrun.store import Store, code
from gitrun.store.writer import now_ms
from gitrun.vcs.commit import CommitResult, check_git_state, commit
from gitrun.vcs.git import GitRepo

# A shared code diff no run names is left alone this long: a run being started elsewhere may have
# written it (gitrun.store.code.keep) and not yet its tag naming it.
ORPHAN_AGE_S = 3600


@dataclass(frozen=True)
class GcResult:
    removed: tuple[str, ...]
    commit: CommitResult | None
    diffs: tuple[str, ...] = ()  # shared code diffs (code/<sha256>.diff) removed: no run names them


def gc(store: Store, older_than_ms: int | None = None, *, dry_run: bool = False, no_verify: bool = False) -> GcResult:
    """Delete the files of runs soft-deleted more than ``older_than_ms`` ago (all deleted runs if
    None), and the shared code diffs no run names any more (:func:`_orphaned_diffs`)."""
    cutoff = now_ms() - older_than_ms if older_than_ms is not None else None
    doomed = []
    for record in store.iter_runs(view_type=ViewType.DELETED_ONLY):
        deleted_at = record.meta.get("deleted_time")
        if cutoff is not None and (not isinstance(deleted_at, (int, float)) or deleted_at > cutoff):
            continue  # deleted recently, or at an unknown time: keep it when an age limit is given
        doomed.append(record)
    diffs = _orphaned_diffs(store, {r.run_id for r in doomed})
    if dry_run or not doomed:
        if not dry_run:
            _remove(diffs)
        return GcResult(tuple(r.run_id for r in doomed), None, tuple(p.name for p in diffs))
    import os

    repo = GitRepo.find(store.root)
    check_git_state(repo)
    rel = {r.run_id: os.path.relpath(r.run_dir.resolve(), repo.root.resolve()) for r in doomed}
    listed = repo.run("ls-files", "-z", "--", *rel.values()).split("\0")
    tracked = [run_id for run_id, path in rel.items() if any(f.startswith(path + "/") for f in listed)]
    for record in doomed:
        store.close_writer(record.run_id)
        shutil.rmtree(record.run_dir)
    _remove(diffs)
    ids = tuple(r.run_id for r in doomed)
    names = tuple(p.name for p in diffs)
    if not tracked:  # never committed: removing the files is all there is to do
        return GcResult(ids, None, names)
    message = f"gitrun gc: remove {len(tracked)} deleted run(s)\n\n" + "".join(f"- {i}\n" for i in tracked)
    return GcResult(ids, commit(store, message=message, run_ids=tracked, no_verify=no_verify), names)


def _orphaned_diffs(store: Store, doomed: set[str]) -> list[Path]:
    """The store's shared code diffs that no run keeping its files names, that Git has never had
    (a committed one may be named by runs on another branch: a merge would need it) and that are
    over an hour old."""
    folder = store.root / code.CODE_DIR
    if not folder.is_dir():
        return []
    named = {
        code.shared_name(record.tags)
        for record in store.iter_runs(view_type=ViewType.ALL)
        if record.run_id not in doomed
    }
    repo = GitRepo.find(store.root)
    tracked = set(repo.run("ls-files", "-z", "--", str(folder)).split("\0"))
    old = time.time() - ORPHAN_AGE_S
    found = []
    for path in sorted(folder.glob("*.diff")):
        rel = path.resolve().relative_to(repo.root.resolve()).as_posix()
        if path.stem not in named and rel not in tracked and path.stat().st_mtime < old:
            found.append(path)
    return found


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
