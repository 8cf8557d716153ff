"""What the registry changed between two revisions, for ``gitrun diff`` and the PR report.

The registry **at a revision** is the tags on commits reachable from it (``git for-each-ref
--merged``); the working tree has every tag. The changes are the target's events the base does
not have, oldest first, and each stage whose current version differs (``churn#prod: v0.0.1 ->
v0.0.2``), with the source run of the version on each side (its metrics are what the gate's
``models.NAME#STAGE:`` checks compare). So a branch's registrations, and the stage tags on its
versions, are its changes; a tag on a commit both sides have (a promotion of a version registered
before the branch started) is on both sides, and is not one (docs/registry.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitrun.registry.state import Event, ModelState, Registry, VersionState, load, read_events
from gitrun.registry.views import event_json


@dataclass(frozen=True)
class StageVersion:
    """The version in a stage on one side, and its source run's metrics (at the version's commit)."""

    version: str
    run_id: str | None
    commit: str
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class StageMove:
    name: str
    stage: str
    base: StageVersion | None
    target: StageVersion | None


@dataclass(frozen=True)
class RegistryChanges:
    events: tuple[Event, ...] = ()
    moves: tuple[StageMove, ...] = ()
    stages: Mapping[tuple[str, str], tuple[StageVersion | None, StageVersion | None]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.events and not self.moves

    def to_dict(self) -> dict[str, Any]:
        def side(v: StageVersion | None) -> dict[str, Any] | None:
            return None if v is None else {"version": v.version, "run_id": v.run_id, "commit": v.commit}

        return {
            "events": [event_json(e) for e in self.events],
            "stages": [
                {"name": m.name, "stage": m.stage, "base": side(m.base), "target": side(m.target)} for m in self.moves
            ],
        }


def registry_at(root: Path, commit: str | None) -> Registry:
    """The registry of the revision ``commit``: the tags on commits reachable from it (every tag
    for the working tree, None)."""
    return load(root) if commit is None else load(root, merged=commit)


def registry_changes(store: Any, base: str | None, target: str | None) -> RegistryChanges:
    """The registry's changes from the ``base`` commit to ``target`` (a commit, or None: the working tree)."""
    from gitrun.vcs.git import GitRepo

    root = GitRepo.find(store.root).root
    if not read_events(root):
        return RegistryChanges()
    before = registry_at(root, base) if base is not None else Registry({}, ())
    after = registry_at(root, target)
    known = {e.tag_object for e in before.events}
    events = tuple(e for e in after.events if e.tag_object not in known)
    metrics = _Metrics(store)
    moves: list[StageMove] = []
    stages: dict[tuple[str, str], tuple[StageVersion | None, StageVersion | None]] = {}
    for name in sorted(set(before.models) | set(after.models)):
        old, new = before.models.get(name), after.models.get(name)
        for stage in sorted(set(old.stages if old else {}) | set(new.stages if new else {})):
            pair = (_in_stage(old, stage, metrics), _in_stage(new, stage, metrics))
            stages[(name, stage)] = pair
            if (pair[0].version if pair[0] else None) != (pair[1].version if pair[1] else None):
                moves.append(StageMove(name, stage, *pair))
    return RegistryChanges(events, tuple(moves), stages)


def _in_stage(model: ModelState | None, stage: str, metrics: _Metrics) -> StageVersion | None:
    if model is None or stage not in model.stages:
        return None
    version: VersionState = model.version(model.stages[stage])
    return StageVersion(version.version, version.run_id, version.commit, metrics.of(version))


class _Metrics:
    """Source runs' metrics, each read once, from the store as committed at the version's commit."""

    def __init__(self, store: Any):
        self.store = store
        self.cache: dict[tuple[str, str], Mapping[str, float]] = {}

    def of(self, version: VersionState) -> Mapping[str, float]:
        if version.run_id is None:
            return {}
        key = (version.commit, version.run_id)
        if key not in self.cache:
            from gitrun.errors import GitrunError
            from gitrun.vcs.revision import store_at

            try:
                self.cache[key] = dict(store_at(self.store, version.commit).get_run(version.run_id).data.metrics)
            except (GitrunError, LookupError):
                self.cache[key] = {}  # a run that store does not hold (another store of the repository)
        return self.cache[key]
