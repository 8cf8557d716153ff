"""MLflow's aliases and legacy stages, as GTO stages (the lock held: callers are ``api`` and ``pending``).

- An alias is a stage: setting it assigns the stage (``NAME#ALIAS#N``), deleting it unassigns it
  from every version holding it (in MLflow an alias points nowhere after that; a GTO stage would
  otherwise fall back to the version assigned before).
- A legacy stage (``Staging``, ``Production``, ``Archived``) is the GTO stage ``staging``,
  ``production`` or ``archived``. MLflow keeps one per version, so a transition assigns the new
  one and unassigns the version's other legacy stage; ``None`` unassigns them;
  ``archive_existing_versions`` moves the other versions of that stage to ``archived``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitrun.errors import InvalidInputError
from gitrun.registry import events
from gitrun.registry.entities import LEGACY_STAGES, NO_STAGE
from gitrun.registry.grammar import Action
from gitrun.registry.policy import Policy
from gitrun.registry.state import Event, ModelState, VersionState, load
from gitrun.vcs.git import GitRepo

LEGACY_GTO = {gto: mlflow for mlflow, gto in LEGACY_STAGES.items()}


def legacy_stage(stage: str | None) -> str | None:
    """The GTO stage of an MLflow stage name (any case); None for "None"."""
    text = NO_STAGE if stage is None else str(stage)
    if text.lower() == NO_STAGE.lower():
        return None
    for mlflow, gto in LEGACY_STAGES.items():
        if text.lower() == mlflow.lower():
            return gto
    raise InvalidInputError(
        f"Invalid Model Version stage: {stage}. Value must be one of None, Staging, Production, Archived."
    )


def current_stage(model: ModelState, version: VersionState) -> str:
    """MLflow's ``current_stage`` of a version: its legacy stage assigned last, or "None"."""
    standing = {s for s in version.assigned if s in LEGACY_GTO}
    for e in reversed(model.events):
        if e.action == Action.ASSIGN and e.version == version.version and e.stage in standing:
            return LEGACY_GTO[e.stage]
    return NO_STAGE


def aliases(version: VersionState) -> list[str]:
    """MLflow's aliases of a version: the stages it is the current version of, legacy ones aside."""
    return [s for s in version.stages if s not in LEGACY_GTO]


def set_alias(
    repo: GitRepo, name: str, alias: str, ref: str, policy: Policy, trailer: Mapping[str, Any] | None = None
) -> list[Event]:
    policy.check_stage(alias)
    registry = load(repo.root)
    found = registry.model(name).version(ref)
    if alias in found.stages:
        return []  # MLflow: setting an alias where it points already changes nothing
    return [
        events.promote_locked(repo, name, ref, alias, policy=policy, force=True, trailer=trailer, registry=registry)
    ]


def delete_alias(repo: GitRepo, name: str, alias: str, trailer: Mapping[str, Any] | None = None) -> list[Event]:
    made: list[Event] = []
    while True:
        registry = load(repo.root)
        holders = [v for v in registry.model(name).versions if alias in v.assigned]
        if not holders:
            return made
        made.append(
            events.demote_locked(repo, name, alias, version=holders[0].version, trailer=trailer, registry=registry)
        )


def transition(
    repo: GitRepo,
    name: str,
    ref: str,
    stage: str | None,
    policy: Policy,
    *,
    archive_existing_versions: bool = False,
    trailer: Mapping[str, Any] | None = None,
) -> list[Event]:
    target = legacy_stage(stage)
    if target is not None:
        policy.check_stage(target)
    made: list[Event] = []
    version = load(repo.root).model(name).version(ref).version
    for other in LEGACY_GTO:  # the version's other legacy stage leaves first: MLflow keeps one
        registry = load(repo.root)
        if other != target and other in registry.model(name).version(version).assigned:
            made.append(events.demote_locked(repo, name, other, version=version, trailer=trailer, registry=registry))
    if target is not None:
        registry = load(repo.root)
        if target not in registry.model(name).version(version).stages:
            made.append(
                events.promote_locked(
                    repo, name, version, target, policy=policy, force=True, trailer=trailer, registry=registry
                )
            )
        if archive_existing_versions:
            for v in list(registry.model(name).versions):
                if v.version == version or target not in v.assigned or not v.active:
                    continue
                made.append(
                    events.demote_locked(
                        repo, name, target, version=v.version, trailer=trailer, registry=load(repo.root)
                    )
                )
                if target != LEGACY_STAGES["Archived"]:
                    archived = LEGACY_STAGES["Archived"]
                    policy.check_stage(archived)
                    made.append(
                        events.promote_locked(
                            repo, name, v.version, archived, policy=policy, force=True, trailer=trailer
                        )
                    )
    return made
