"""Registrations made during training, and carried out by ``gitrun commit``.

A run that is not committed has no commit to tag: ``register_model`` records the registration in
the run's ``registry.jsonl`` (``gitrun.store.registry_intents``) and answers a ``ModelVersion``
with status ``PENDING_REGISTRATION`` and the number it will get. Calls on that version (aliases,
stages, tags, descriptions) are recorded after it.

``gitrun commit`` asks the ``gitrun_commit_prepare`` hook before it commits: the first
registration of each name in the runs it commits writes its ``artifacts.yaml`` / ``dvc.yaml``
entries into *that* commit, and once it is made the tags follow, in the order the calls were
made (a second registration of one name gets a commit of its own: GTO allows one version of a
name per commit). Each event's trailer names the call (``intent: RUN_ID/LINE``), so a run
committed again is not registered twice. What happened is reported (:class:`Outcome`): status
``READY``, or ``FAILED_REGISTRATION`` with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitrun.errors import GitrunError
from gitrun.registry import events, index
from gitrun.registry.entities import FAILED_REGISTRATION, PENDING_REGISTRATION, READY, ModelVersion
from gitrun.registry.grammar import SemVer
from gitrun.registry.state import Registry, load
from gitrun.store import registry_intents
from gitrun.vcs.git import GitRepo

DONE = "DONE"
FAILED = "FAILED"


@dataclass(frozen=True)
class Pending:
    name: str  # the GTO name
    number: int
    run_dir: Path
    line: int
    model_version: ModelVersion


_pending: dict[tuple[str, int], Pending] = {}


def record_registration(
    store: Any,
    registry: Registry,
    key: str,
    display: str,
    source: events.ModelSource,
    tags: Mapping[str, str],
    description: str | None,
) -> ModelVersion:
    """Record a registration in its run; the pending version, numbered as it will be."""
    _, run_dir = store.find_run_dir(source.run_id)
    model = registry.models.get(key)
    taken = sum(1 for v in model.versions if v.registered) if model else 0
    number = taken + 1 + sum(1 for (name, _) in _pending if name == key)
    now = int(time.time() * 1000)
    record = {"op": "register", "name": display, "path": source.artifact_path, "time": now, "number": number}
    if tags:
        record["tags"] = dict(tags)
    if description:
        record["description"] = description
    line = registry_intents.append(run_dir, record)
    mv = ModelVersion(
        name=display,
        version=number,
        creation_timestamp=now,
        last_updated_timestamp=now,
        description=description,
        source=f"runs:/{source.run_id}/{source.artifact_path}",
        run_id=source.run_id,
        status=PENDING_REGISTRATION,
        status_message=f"registered by the `gitrun commit` that commits run {source.run_id}",
        tags=dict(tags),
        registry_name=key if key != display else None,
    )
    _pending[(key, number)] = Pending(key, number, run_dir, line, mv)
    return mv


def find(key: str, version: str | int) -> Pending | None:
    text = str(version).strip()
    return _pending.get((key, int(text))) if text.isdigit() else None


def all_pending() -> list[Pending]:
    return list(_pending.values())


def queue(p: Pending, record: Mapping[str, Any]) -> None:
    registry_intents.append(p.run_dir, {**record, "version": {"pending": p.line}, "time": int(time.time() * 1000)})


def forget() -> None:
    """Forget this process's pending versions (tests; ``gitrun.tracking.state.reset`` does not know them)."""
    _pending.clear()


# -- gitrun commit --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What ``gitrun commit`` did with one recorded call."""

    run_id: str
    op: str
    name: str
    status: str  # READY / FAILED_REGISTRATION for registrations, DONE / FAILED for the others
    version: str | None = None  # "v0.0.3"
    number: int | None = None
    tags: tuple[str, ...] = ()
    message: str = ""

    def __str__(self) -> str:
        what = f"{self.name} {self.version}" if self.version else self.name
        detail = f": {self.message}" if self.message else ""
        made = f" ({', '.join(self.tags)})" if self.tags else ""
        return f"{self.op} {what} [{self.status}]{made}{detail}"


@dataclass
class _Call:
    run_id: str
    run_dir: Path
    line: int
    record: dict[str, Any]

    @property
    def intent(self) -> str:
        return f"{self.run_id}/{self.line}"


@dataclass
class Participant:
    """The registry's part in one ``gitrun commit`` (``gitrun.vcs.commit.CommitParticipant``)."""

    repo: GitRepo
    store: Any
    calls: list[_Call]
    planned: dict[str, tuple[str, str]] = field(default_factory=dict)  # intent -> (name, version) in this commit
    failed: dict[str, str] = field(default_factory=dict)  # intent -> why it cannot be done
    files: index.Files | None = None
    paths: list[str] = field(default_factory=list)

    def abandoned(self) -> None:
        if self.files is not None:
            self.files.restore()

    def committed(self, sha: str) -> list[Outcome]:
        from gitrun.registry import aliases
        from gitrun.registry.policy import load_policy

        policy = load_policy(self.repo.root)
        versions: dict[str, str] = {}  # registration intent -> version
        names: dict[str, str] = {}
        out: list[Outcome] = []
        for call in self.calls:
            op = str(call.record.get("op", "?"))
            name = str(call.record.get("name", "?"))
            try:
                if op == "register":
                    key, version, tag = self._register(call, sha)
                    versions[call.intent] = version
                    names[call.intent] = key
                    number = load(self.repo.root).model(key).version(version).number
                    out.append(Outcome(call.run_id, op, key, READY, version, number, (tag,)))
                    continue
                key, version = self._target(call, versions, names)
                trailer = {"intent": call.intent}
                if op == "set_alias":
                    made = aliases.set_alias(self.repo, key, str(call.record["alias"]), version, policy, trailer)
                elif op == "delete_alias":
                    made = aliases.delete_alias(self.repo, key, str(call.record["alias"]), trailer)
                elif op == "transition":
                    made = aliases.transition(
                        self.repo,
                        key,
                        version,
                        call.record.get("stage"),
                        policy,
                        archive_existing_versions=bool(call.record.get("archive_existing")),
                        trailer=trailer,
                    )
                elif op in ("set_version_tag", "delete_version_tag", "update_version"):
                    self._entry(call, key, version, sha)
                    made = []
                else:
                    raise GitrunError(f"unknown recorded call {op!r}")
                out.append(Outcome(call.run_id, op, key, DONE, version, None, tuple(e.tag for e in made)))
            except GitrunError as exc:
                status = FAILED_REGISTRATION if op == "register" else FAILED
                out.append(Outcome(call.run_id, op, name, status, None, None, (), str(exc)))
        return out

    def _register(self, call: _Call, sha: str) -> tuple[str, str, str]:
        if call.intent in self.failed:
            raise GitrunError(self.failed[call.intent])
        source = events.find_model(self.store, call.run_id, str(call.record.get("path") or "") or None)
        if call.intent in self.planned:
            key, version = self.planned[call.intent]
            event = events.tag_registration(self.repo, key, version, sha, source, trailer={"intent": call.intent})
            return key, version, event.tag
        key = _gto_name(self.repo.root, str(call.record.get("name")))
        edit = _edit_of(self.calls, call, key)
        event = events.register_locked(self.repo, key, source, edit=edit, trailer={"intent": call.intent})
        return key, str(event.version), event.tag

    def _target(self, call: _Call, versions: Mapping[str, str], names: Mapping[str, str]) -> tuple[str, str]:
        ref = call.record.get("version")
        if isinstance(ref, dict) and "pending" in ref:
            intent = f"{call.run_id}/{ref['pending']}"
            if intent not in versions:
                raise GitrunError("its model version was not registered (see the registration above)")
            return names[intent], versions[intent]
        key = _gto_name(self.repo.root, str(call.record.get("name")))
        return key, str(ref)

    def _entry(self, call: _Call, key: str, version: str, sha: str) -> None:
        registration = call.record.get("version")
        pending_intent = f"{call.run_id}/{registration['pending']}" if isinstance(registration, dict) else None
        if pending_intent in self.planned:
            return  # written into the commit itself (see prepare)
        fields = _fields(call.record)
        from gitrun.vcs.commit import commit_paths

        files = index.Files(self.repo.root)
        dvc = (self.repo.root / ".dvc").is_dir()
        index.check_clean(self.repo.root, [index.ARTIFACTS_FILE])
        files.edit(key, index.Edit(version_fields={version: fields}), dvc=dvc)
        if files.write():
            try:
                commit_paths(
                    self.repo, files.paths, f"gitrun: {call.record['op'].replace('_', ' ')} {key} {version}\n", False
                )
            except BaseException:
                files.restore()
                raise


def _fields(record: Mapping[str, Any]) -> dict[str, Any]:
    op = record.get("op")
    if op == "update_version":
        return {"description": record.get("description") or ""}
    if op == "set_version_tag":
        return {"tags": {str(record.get("key")): str(record.get("value"))}}
    return {"tags": {str(record.get("key")): None}}


def _gto_name(root: Path, name: str) -> str:
    from gitrun.registry.api import View

    view = View(root, load(root), index.read_index(root))
    return view.gto_name(name, create=True)


def _edit_of(calls: Sequence[_Call], registration: _Call, key: str, version: str | None = None) -> index.Edit:
    """The entries a registration writes: its MLflow name, and its version's description and tags
    (from the registration and the calls recorded after it on the same version)."""
    name = str(registration.record.get("name"))
    fields: dict[str, Any] = {}
    if registration.record.get("description"):
        fields["description"] = registration.record["description"]
    tags: dict[str, Any] = dict(registration.record.get("tags") or {})
    for call in calls:
        ref = call.record.get("version")
        if call.run_id != registration.run_id or not (
            isinstance(ref, dict) and ref.get("pending") == registration.line
        ):
            continue
        extra = (
            _fields(call.record)
            if call.record.get("op") in ("set_version_tag", "delete_version_tag", "update_version")
            else {}
        )
        if "description" in extra:
            fields["description"] = extra["description"]
        tags.update(extra.get("tags") or {})
    if tags:
        fields["tags"] = tags
    return index.Edit(
        mlflow_name=name if name != key else None,
        version_fields={version: fields} if fields and version else None,
    )


def prepare(store: Any, records: Sequence[Any]) -> Participant | None:
    """The registry's participant for a commit of ``records`` (RunRecord), or None when their runs
    recorded no registry call still to carry out."""
    runs = [(r.run_id, r.run_dir) for r in records if r.run_dir.exists()]
    recorded = [(run_id, run_dir, registry_intents.read(run_dir)) for run_id, run_dir in runs]
    if not any(calls for _, _, calls in recorded):
        return None
    repo = GitRepo.find(store.root)
    registry = load(repo.root)
    done = {str(e.trailer["intent"]) for e in registry.events if e.trailer.get("intent")}
    calls = [
        _Call(run_id, run_dir, line, record)
        for run_id, run_dir, lines in recorded
        for line, record in enumerate(lines)
        if record.get("op") and f"{run_id}/{line}" not in done
    ]
    calls.sort(key=lambda c: (int(c.record.get("time") or 0), c.run_id, c.line))
    if not calls:
        return None
    part = Participant(repo, store, calls)
    dvc = (repo.root / ".dvc").is_dir()
    files = index.Files(repo.root)
    view_names: dict[str, str] = {}
    for call in calls:
        if call.record.get("op") != "register":
            continue
        try:
            key = view_names.get(str(call.record.get("name"))) or _gto_name(repo.root, str(call.record.get("name")))
            view_names[str(call.record.get("name"))] = key
            if any(planned_key == key for planned_key, _ in part.planned.values()):
                continue  # one version of a name per commit: this one gets a commit of its own
            source = events.find_model(store, call.run_id, str(call.record.get("path") or "") or None)
            model = registry.models.get(key)
            version = events.next_version(model)
            targets = [index.ARTIFACTS_FILE] + ([index.dvc_file(key)[0]] if dvc else [])
            index.check_clean(repo.root, targets)
            edit = _edit_of(calls, call, key, version)
            from dataclasses import replace

            files.edit(key, replace(edit, path=source.repo_path, version=version, run_id=source.run_id), dvc=dvc)
            part.planned[call.intent] = (key, version)
        except GitrunError as exc:
            part.failed[call.intent] = str(exc)
    if part.planned:
        files.write()
        part.files = files
        part.paths = files.paths
    return part


def semver_of(version: str) -> SemVer:
    return SemVer.parse(version)
