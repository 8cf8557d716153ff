"""The registry's state, built from its tags: read with ONE ``git for-each-ref`` over ``refs/tags``.

:func:`read_events` turns every annotated tag in GTO's grammar into an :class:`Event` (tagger,
date, message, gitrun's trailer, whether it is signed); :func:`build` is pure and makes the
:class:`Registry` of them, with gto's meaning of every event:

- a version is active from its registration until its deregistration;
- a stage's current version is the active version whose latest assignment to that stage is the
  most recent one still standing (a later unassignment of that version withdraws it, and the
  stage falls back to the version assigned before, as ``gto show`` says);
- a model is deprecated when its last event is a deprecation.

"Most recent" is decided by the per-model counter ``#N`` of the stage tags, never by their
1-second tagger dates: gto sorts by date, so two assignments made in the same second resolve
its stage by tag name order instead (docs/registry.md lists this difference, with its test).
Tags without a counter (gto's "simple" mode) fall back to dates, as in gto.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitrun import gitcmd
from gitrun.errors import ModelNotRegisteredError, ModelVersionNotFoundError
from gitrun.registry.grammar import (
    Action,
    SemVer,
    parse_message,
    parse_tag,
    signature_kind,
    split_signature,
    version_key,
)

_FORMAT = (
    "%00".join(
        (
            "%(refname:strip=2)",
            "%(objecttype)",
            "%(*objecttype)",
            "%(*objectname)",
            "%(objectname)",
            "%(taggername)",
            "%(taggeremail)",
            "%(taggerdate:raw)",
            "%(contents)",
        )
    )
    + "%00"
)
_FIELDS = 9


@dataclass(frozen=True)
class Event:
    """One registry event: an annotated tag in GTO's grammar."""

    tag: str
    action: Action
    name: str  # the model ("dir:name" for a monorepo name)
    version: str | None  # registrations: the tag's version; stage events: the version at the commit
    stage: str | None
    counter: int | None
    commit: str  # the tagged commit
    tag_object: str  # the tag object's ID (it changes when a tag is re-made)
    author: str
    author_email: str
    timestamp: int  # the tagger date, Unix seconds
    tz: str  # the tagger's UTC offset, "+0000"
    message: str  # without gitrun's trailer and the signature
    trailer: Mapping[str, Any] = field(default_factory=dict)
    signature: str = ""  # "ssh", "gpg" (OpenPGP, X.509) or "" for an unsigned tag

    @property
    def signed(self) -> bool:
        return bool(self.signature)

    @property
    def run_id(self) -> str | None:
        value = self.trailer.get("run_id")
        return str(value) if value else None

    @property
    def path(self) -> str | None:
        value = self.trailer.get("path")
        return str(value) if value else None


@dataclass(frozen=True)
class VersionState:
    """One version of a model (a registration, or a commit gto assigned a stage to without one)."""

    name: str
    version: str  # "v1.2.0", or a commit SHA for an unregistered version
    commit: str
    number: int | None  # MLflow's version number: its rank among the registrations, by SemVer
    registration: Event | None
    deregistration: Event | None
    stages: tuple[str, ...]  # the stages whose current version this is (gto show)
    assigned: tuple[str, ...]  # stages assigned to it and not withdrawn (it may not be current there)

    @property
    def registered(self) -> bool:
        return self.registration is not None

    @property
    def active(self) -> bool:
        return self.deregistration is None

    @property
    def run_id(self) -> str | None:
        return self.registration.run_id if self.registration else None

    @property
    def path(self) -> str | None:
        return self.registration.path if self.registration else None


@dataclass(frozen=True)
class ModelState:
    name: str
    versions: tuple[VersionState, ...]  # by SemVer, newest first (gto's order)
    events: tuple[Event, ...]  # oldest first, in gitrun's order
    stages: Mapping[str, str]  # stage -> its current version
    deprecated: bool

    @property
    def registered(self) -> bool:
        return any(v.registered for v in self.versions)

    @property
    def active(self) -> bool:
        return not self.deprecated

    @property
    def latest(self) -> VersionState | None:
        """The highest active registered version (gto's ``@latest``)."""
        return next((v for v in self.versions if v.registered and v.active), None)

    def version(self, ref: str) -> VersionState:
        """A version by name (``v1.2.0``), MLflow number (``3``) or commit SHA."""
        text = str(ref).strip()
        for v in self.versions:
            if v.version == text or (text.isdigit() and v.number == int(text)):
                return v
        known = ", ".join(
            f"{v.version} ({v.number})" if v.number is not None else v.version for v in reversed(self.versions)
        )
        raise ModelVersionNotFoundError(
            f"model {self.name!r} has no version {text!r}; its versions: {known or 'none'} "
            f"(see `gitrun models history {self.name}`)"
        )

    def in_stage(self, stage: str) -> VersionState:
        current = self.stages.get(stage)
        if current is None:
            used = ", ".join(sorted(self.stages)) or "none"
            raise ModelVersionNotFoundError(
                f"no version of {self.name!r} is in stage {stage!r} (stages in use: {used}); "
                f"promote one: gitrun models promote {self.name} VERSION {stage}"
            )
        return self.version(current)

    def next_counter(self) -> int:
        return max((e.counter for e in self.events if e.counter is not None), default=0) + 1


@dataclass(frozen=True)
class Registry:
    models: Mapping[str, ModelState]
    events: tuple[Event, ...]  # every model's, oldest first

    def model(self, name: str) -> ModelState:
        found = self.models.get(name)
        if found is None:
            known = ", ".join(sorted(self.models)) or "none yet"
            raise ModelNotRegisteredError(
                f"no registered model {name!r} (registered: {known}); register one: "
                f"gitrun models register {name} --run RUN_ID"
            )
        return found

    @property
    def stages(self) -> list[str]:
        """Every stage used by some event, sorted."""
        return sorted({e.stage for e in self.events if e.stage is not None})


# -- reading the tags -----------------------------------------------------------------------------
def read_events(root: Path, *, merged: str | None = None) -> list[Event]:
    """Every registry event of the repository at ``root`` (one ``git for-each-ref``), in no order.

    ``merged``: only tags whose commit is reachable from that revision (``--merged``).
    """
    args = ["for-each-ref", f"--format={_FORMAT}"]
    if merged is not None:
        args.append(f"--merged={merged}")
    proc = gitcmd.run(root, *args, "refs/tags", text=False)
    return parse_refs(proc.stdout.decode("utf-8", "replace"))


def parse_refs(output: str) -> list[Event]:
    """The events in ``git for-each-ref`` output of :data:`_FORMAT` (lightweight tags are not events)."""
    items = output.split("\0")
    events = []
    for i in range(0, len(items) - _FIELDS + 1, _FIELDS):
        ref, kind, target_kind, commit, tag_object, tagger, email, date, contents = items[i : i + _FIELDS]
        ref = ref.lstrip("\n")
        if kind != "tag" or target_kind != "commit":
            continue  # lightweight tags, and tags of trees or of other tags, do not count (as in gto)
        name = parse_tag(ref)
        if name is None:
            continue
        stamp, _, tz = date.partition(" ")
        body, signature = split_signature(contents)
        message, trailer = parse_message(body)
        version = name.version
        if version is None and isinstance(trailer.get("version"), str):
            version = trailer["version"]
        events.append(
            Event(
                tag=ref,
                action=name.action,
                name=name.name,
                version=version,
                stage=name.stage,
                counter=name.counter,
                commit=commit,
                tag_object=tag_object,
                author=tagger,
                author_email=email.strip().removeprefix("<").removesuffix(">"),
                timestamp=int(stamp) if stamp.lstrip("-").isdigit() else 0,
                tz=tz or "+0000",
                message=message,
                trailer=trailer,
                signature=signature_kind(signature),
            )
        )
    return events


def load(root: Path, *, merged: str | None = None, until: int | None = None) -> Registry:
    """The registry of the repository at ``root``: every tag, or those ``merged`` into a revision and
    made at or before ``until`` (Unix seconds): the registry as it stood at that commit."""
    events = read_events(root, merged=merged)
    if until is not None:
        events = [e for e in events if e.timestamp <= until]
    return build(events)


def repo_root(start: Path | None = None) -> Path:
    """The work tree holding ``start`` (the current directory by default)."""
    from gitrun.errors import NotAGitRepositoryError

    probe = start or Path(os.getcwd())
    while not probe.is_dir() and probe != probe.parent:
        probe = probe.parent  # the store's folder may not exist yet
    top = gitcmd.output(probe, "rev-parse", "--show-toplevel")
    if top is None:
        raise NotAGitRepositoryError(
            f"{start or os.getcwd()} is not inside a Git work tree; the model registry lives in a Git repository's tags"
        )
    return Path(top.strip())


# -- building the state (pure) -----------------------------------------------------------------------
def _time_key(e: Event) -> tuple[Any, ...]:
    # gto's history order: date, then its priority of the kinds; stage events share one rank so
    # that the counter orders those of the same second.
    rank = Action.ASSIGN.priority if e.action in (Action.ASSIGN, Action.UNASSIGN) else e.action.priority
    return (e.timestamp, rank, e.counter if e.counter is not None else 0, e.tag)


def _stage_order(events: Sequence[Event]) -> list[Event]:
    """A model's stage events, first to last: by counter (by date where a tag has none)."""
    if all(e.counter is not None for e in events):
        return sorted(events, key=lambda e: (e.counter, e.timestamp, e.tag))
    return sorted(events, key=_time_key)


def _within_second(timeline: list[Event]) -> list[Event]:
    """``timeline`` with each second's events in the order gitrun made them, when gitrun made them
    all (its trailer's ``at``, nanoseconds); gto's priorities stay where a tag has no ``at``."""
    out: list[Event] = []
    start = 0
    for end in range(1, len(timeline) + 1):
        if end == len(timeline) or timeline[end].timestamp != timeline[start].timestamp:
            group = timeline[start:end]
            if len(group) > 1 and all(isinstance(e.trailer.get("at"), int) for e in group):
                group.sort(key=lambda e: (e.trailer["at"], e.tag))
            out += group
            start = end
    return out


def order(events: Iterable[Event]) -> list[Event]:
    """Events oldest first: by date (within a second in the order gitrun made them, else gto's
    priorities), except that each model's stage events take their places in counter order."""
    timeline = _within_second(sorted(events, key=_time_key))
    slots: dict[str, list[int]] = {}
    for index, e in enumerate(timeline):
        if e.action in (Action.ASSIGN, Action.UNASSIGN):
            slots.setdefault(e.name, []).append(index)
    for indices in slots.values():
        for index, e in zip(indices, _stage_order([timeline[i] for i in indices]), strict=True):
            timeline[index] = e
    return timeline


def build(events: Iterable[Event]) -> Registry:
    """The registry the events make (see the module's docstring for what each event means)."""
    ordered = order(events)
    by_model: dict[str, list[Event]] = {}
    for e in ordered:
        by_model.setdefault(e.name, []).append(e)
    models = {name: _model(name, model_events) for name, model_events in sorted(by_model.items())}
    # the same order, with each stage event's version resolved by its model
    cursors = {name: iter(m.events) for name, m in models.items()}
    return Registry(models, tuple(next(cursors[e.name]) for e in ordered))


def _model(name: str, events: list[Event]) -> ModelState:
    registrations: dict[str, Event] = {}
    deregistrations: dict[str, Event] = {}
    by_commit: dict[str, str] = {}
    for e in events:
        if e.action == Action.REGISTER and e.version is not None and e.version not in registrations:
            registrations[e.version] = e
            by_commit.setdefault(e.commit, e.version)
        elif e.action == Action.DEREGISTER and e.version is not None:
            deregistrations.setdefault(e.version, e)
    resolved: list[Event] = []
    for e in events:
        if e.action in (Action.ASSIGN, Action.UNASSIGN) and (e.version is None or e.version not in registrations):
            # gto's rule: a stage tag means the version registered at its commit (the commit itself if none)
            e = _with_version(e, by_commit.get(e.commit, e.commit))
        resolved.append(e)

    holders: dict[tuple[str, str], int | None] = {}  # (version, stage) -> position of its standing assignment
    stage_events = [e for e in resolved if e.action in (Action.ASSIGN, Action.UNASSIGN)]  # already in stage order
    for position, e in enumerate(stage_events):
        assert e.version is not None and e.stage is not None
        holders[(e.version, e.stage)] = position if e.action == Action.ASSIGN else None
    versions = set(registrations) | {v for v, _ in holders}
    active = {v for v in versions if v not in deregistrations}
    current: dict[str, tuple[int, str]] = {}
    for (version, stage), standing in holders.items():
        if standing is None or version not in active:
            continue
        if stage not in current or standing > current[stage][0]:
            current[stage] = (standing, version)
    stages = {stage: version for stage, (_, version) in sorted(current.items())}
    numbers = {v: n for n, v in enumerate(sorted(registrations, key=lambda v: SemVer.parse(v).key()), start=1)}
    states = []
    for version in sorted(versions, key=version_key, reverse=True):
        registration = registrations.get(version)
        commit = registration.commit if registration else version
        states.append(
            VersionState(
                name=name,
                version=version,
                commit=commit,
                number=numbers.get(version),
                registration=registration,
                deregistration=deregistrations.get(version),
                stages=tuple(s for s, v in stages.items() if v == version),
                assigned=tuple(sorted(s for (v, s), p in holders.items() if v == version and p is not None)),
            )
        )
    deprecated = bool(resolved) and resolved[-1].action == Action.DEPRECATE
    return ModelState(name, tuple(states), tuple(resolved), stages, deprecated)


def _with_version(e: Event, version: str) -> Event:
    from dataclasses import replace

    return replace(e, version=version)
