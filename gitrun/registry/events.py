"""Writing the registry: each event is an annotated tag in GTO's grammar.

- ``register``: the model's entries in ``artifacts.yaml`` / ``dvc.yaml`` are committed by gitrun
  alone (``gitrun.vcs.commit.commit_paths``: a temporary index, the repository's hooks, the
  user's other work untouched), then ``NAME@vX.Y.Z`` tags that commit;
- ``promote`` ``NAME#STAGE#N``, ``demote`` ``NAME#STAGE!#N``, ``deregister`` ``NAME@vX.Y.Z!`` tag the
  version's commit; ``deprecate`` ``NAME@deprecated`` tags HEAD.

Every message is gto's (or the user's), plus gitrun's one-line trailer (run ID, model path, the
version a stage tag means). Writes hold the repository's ``gitrun commit`` lock, so counters and
versions are decided one writer at a time; the tags stay local until ``gitrun push``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitrun.errors import GitCommandError, ModelNotRegisteredError, RegistryError, TagSignatureError
from gitrun.registry import index
from gitrun.registry.grammar import (
    FIRST_VERSION,
    Action,
    SemVer,
    TagName,
    default_message,
    format_message,
    format_tag,
    validate_name,
)
from gitrun.registry.policy import Policy, load_policy
from gitrun.registry.state import _FORMAT, Event, ModelState, Registry, VersionState, load, parse_refs
from gitrun.vcs.git import GitRepo

Sign = bool | str | None  # False/None: unsigned; True: Git's signing key; a key ID: that key


@dataclass(frozen=True)
class ModelSource:
    """The model folder a registration points to."""

    run_id: str
    experiment_id: str
    artifact_path: str  # inside the run's artifacts/
    repo_path: str  # repo-relative


# -- locating the model of a run ---------------------------------------------------------------------
def find_model(store: Any, run_id: str, path: str | None = None) -> ModelSource:
    """The model folder ``path`` (its artifact path; the run's only model when None) of a run."""
    from gitrun.models.uri import list_models
    from gitrun.store.validation import validate_artifact_path

    resolved = store.resolve_run_id(run_id)
    experiment_id, run_dir = store.find_run_dir(resolved)
    artifacts = run_dir / "artifacts"
    models = list_models(artifacts)
    if path is None:
        if len(models) != 1:
            raise RegistryError(
                f"run {resolved} has {'no model' if not models else 'models ' + ', '.join(models)}; "
                + (
                    "log one with gitrun.sklearn.log_model"
                    if not models
                    else f"name one with --path, e.g. --path {models[0]}"
                )
            )
        path = models[0]
    rel = validate_artifact_path(path.strip("/"))
    if rel not in models:
        raise RegistryError(f"run {resolved} has no model {rel!r} (its models: {', '.join(models) or 'none'})")
    root = GitRepo.find(store.root).root
    repo_path = os.path.relpath((artifacts / rel).resolve(), root.resolve()).replace(os.sep, "/")
    return ModelSource(resolved, experiment_id, rel, repo_path)


def check_committed(repo: GitRepo, source: ModelSource) -> None:
    """Refuse a model that is not committed as it is on disk (the tag must name what is registered)."""
    changed = repo.run("status", "--porcelain", "--untracked-files=all", "--", source.repo_path).strip()
    in_head = repo.run("cat-file", "-e", f"HEAD:{source.repo_path}/MLmodel", check=False).returncode == 0
    if changed or not in_head:
        raise RegistryError(
            f"run {source.run_id}'s model {source.artifact_path!r} is not committed"
            + (" as it is on disk" if in_head else "")
            + "; commit the run first (gitrun commit), then register it"
        )


# -- the lock and the tags ---------------------------------------------------------------------------
@contextmanager
def writing(root: Path) -> Iterator[GitRepo]:
    """The repository, with ``gitrun commit``'s lock held (one registry writer at a time)."""
    from gitrun.vcs.commit import commit_lock

    repo = GitRepo(root)
    with commit_lock(repo):
        yield repo


def read_tag(repo: GitRepo, tag: str) -> Event:
    out = repo.run("for-each-ref", f"--format={_FORMAT}", f"refs/tags/{tag}", text=False)
    events = parse_refs(out.decode("utf-8", "replace"))
    if not events:
        raise RegistryError(f"the tag {tag!r} was not created")
    return events[0]


def make_tag(
    repo: GitRepo,
    tag: TagName,
    commit: str,
    message: str,
    trailer: Mapping[str, Any],
    sign: Sign = None,
    *,
    env: Mapping[str, str] | None = None,
) -> Event:
    """Create the annotated (or signed) tag ``tag`` on ``commit``; the event it is."""
    name = format_tag(tag)
    if "at" not in trailer:  # the order of events made in one second (tag dates have 1-second steps)
        trailer = {**trailer, "at": time.time_ns()}
    how = ["-s"] if sign is True else ["-u", sign] if isinstance(sign, str) and sign else ["-a"]
    try:
        repo.run("tag", *how, "-F", "-", name, commit, input=format_message(message, trailer), env=dict(env or {}))
    except GitCommandError as exc:
        if "already exists" in exc.stderr:
            raise RegistryError(f"the tag {name!r} already exists; see `git show {name}`") from None
        if sign:
            raise TagSignatureError(
                f"Git could not sign the tag {name!r}: {exc.stderr.strip()}. Set a signing key "
                "(git config user.signingkey; for SSH keys also git config gpg.format ssh)"
            ) from None
        raise
    return read_tag(repo, name)


def delete_tag(repo: GitRepo, name: str) -> None:
    """Remove a tag this process just made and never pushed (a refused protected promotion)."""
    repo.run("tag", "-d", name)


def _trailer(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v not in (None, "", {})}


# -- versions -----------------------------------------------------------------------------------------
def next_version(model: ModelState | None, version: str | None = None, bump: str | None = None) -> str:
    """The version a registration takes: ``version`` if free, else the highest registered one bumped
    (every registration counts, deregistered ones too: their tags keep the name)."""
    taken = {v.version for v in model.versions if v.registered} if model else set()
    if version is not None:
        if bump is not None:
            raise RegistryError("give a version or a bump, not both")
        text = str(SemVer.parse(version))
        if text in taken:
            raise RegistryError(
                f"version {text} of {model.name if model else '?'} is registered already (its tag exists, "
                "deregistered or not); choose another, or leave it out to take the next one"
            )
        return text
    highest = max((SemVer.parse(v) for v in taken), key=SemVer.key, default=None)
    if highest is None:
        return str(FIRST_VERSION if bump in (None, "patch") else SemVer(0, 0, 0).bump(bump))
    return str(highest.bump(bump or "patch"))


def _model_or_none(registry: Registry, name: str) -> ModelState | None:
    try:
        return registry.model(name)
    except ModelNotRegisteredError:
        return None


# -- the events ----------------------------------------------------------------------------------------
def register(
    store: Any,
    name: str,
    run_id: str,
    *,
    path: str | None = None,
    version: str | None = None,
    bump: str | None = None,
    message: str | None = None,
    sign: Sign = None,
    edit: index.Edit | None = None,
    no_verify: bool = False,
    trailer: Mapping[str, Any] | None = None,
) -> Event:
    """Register the model of run ``run_id`` as a new version of ``name`` (``gitrun models register``)."""
    validate_name(name)
    if version is not None:
        SemVer.parse(version)  # a bad version is refused before anything is read
    source = find_model(store, run_id, path)
    root = GitRepo.find(store.root).root
    with writing(root) as repo:
        check_committed(repo, source)
        return register_locked(
            repo,
            name,
            source,
            version=version,
            bump=bump,
            message=message,
            sign=sign,
            edit=edit,
            no_verify=no_verify,
            trailer=trailer,
        )


def register_locked(
    repo: GitRepo,
    name: str,
    source: ModelSource,
    *,
    version: str | None = None,
    bump: str | None = None,
    message: str | None = None,
    sign: Sign = None,
    edit: index.Edit | None = None,
    no_verify: bool = False,
    trailer: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
) -> Event:
    """:func:`register` with the lock held and the model known to be committed."""
    from dataclasses import replace

    from gitrun.vcs.commit import commit_paths

    registry = registry if registry is not None else load(repo.root)
    chosen = next_version(_model_or_none(registry, name), version, bump)
    change = replace(edit or index.Edit(), path=source.repo_path, version=chosen, run_id=source.run_id)
    files = index.Files(repo.root)
    dvc = (repo.root / ".dvc").is_dir()
    targets = [index.ARTIFACTS_FILE] + ([index.dvc_file(name)[0]] if dvc else [])
    index.check_clean(repo.root, targets)
    files.edit(name, change, dvc=dvc)
    files.write()
    subject = f"gitrun: register {name} {chosen} (run {source.run_id}, model {source.artifact_path})"
    try:
        sha, _ = commit_paths(repo, files.paths, subject + "\n", no_verify)
    except BaseException:
        files.restore()
        raise
    if sha is None:
        raise RegistryError(f"registering {name} {chosen} changed nothing in {', '.join(files.paths)}")
    return tag_registration(repo, name, chosen, sha, source, message=message, sign=sign, trailer=trailer)


def tag_registration(
    repo: GitRepo,
    name: str,
    version: str,
    commit: str,
    source: ModelSource,
    *,
    message: str | None = None,
    sign: Sign = None,
    trailer: Mapping[str, Any] | None = None,
) -> Event:
    """The registration tag ``NAME@VERSION`` on ``commit`` (which holds the model's registry entries)."""
    return make_tag(
        repo,
        TagName(name, Action.REGISTER, version=version),
        commit,
        message or default_message(Action.REGISTER, name, version),
        _trailer(run_id=source.run_id, path=source.repo_path, **(trailer or {})),
        sign,
    )


def _registered(registry: Registry, name: str, ref: str) -> tuple[ModelState, VersionState]:
    model = registry.model(name)
    found = model.version(ref)
    if not found.registered:
        raise RegistryError(f"{found.version} of {name} is not a registered version; register one first")
    if not found.active:
        raise RegistryError(
            f"{found.version} of {name} was deregistered ({found.deregistration.tag if found.deregistration else ''})"
        )
    return model, found


def promote(
    root: Path,
    name: str,
    version: str,
    stage: str,
    *,
    message: str | None = None,
    sign: Sign = None,
    force: bool = False,
    trailer: Mapping[str, Any] | None = None,
    policy: Policy | None = None,
) -> Event:
    """Assign ``stage`` to a version (``gitrun models promote NAME VERSION STAGE``): ``NAME#STAGE#N``."""
    policy = policy or load_policy(root)
    policy.check_stage(stage)
    with writing(root) as repo:
        return promote_locked(
            repo, name, version, stage, message=message, sign=sign, force=force, trailer=trailer, policy=policy
        )


def promote_locked(
    repo: GitRepo,
    name: str,
    version: str,
    stage: str,
    *,
    message: str | None = None,
    sign: Sign = None,
    force: bool = False,
    trailer: Mapping[str, Any] | None = None,
    policy: Policy,
    registry: Registry | None = None,
) -> Event:
    registry = registry if registry is not None else load(repo.root)
    model, found = _registered(registry, name, version)
    if stage in found.stages and not force:
        raise RegistryError(f"{name} {found.version} is already the version in stage {stage!r} (--force tags it again)")
    if policy.protected(stage) and not sign:
        raise TagSignatureError(
            f"stage {stage!r} is protected: promotion there needs a signed tag (--sign) from a key in "
            f"{policy.allowed_signers} on the default branch"
        )
    event = make_tag(
        repo,
        TagName(name, Action.ASSIGN, stage=stage, counter=model.next_counter()),
        found.commit,
        message or default_message(Action.ASSIGN, name, found.version, stage),
        _trailer(version=found.version, run_id=found.run_id, path=found.path, **(trailer or {})),
        sign,
    )
    if policy.protected(stage):
        from gitrun.registry.verify import Verifier

        status = Verifier(repo.root, policy).verify(event)
        if status.status != "verified":
            delete_tag(repo, event.tag)
            raise TagSignatureError(
                f"stage {stage!r} is protected and the tag's signature is not trusted ({status.detail}); "
                f"nothing was tagged. Sign with a key listed in {policy.allowed_signers} on the default branch"
            )
    return event


def demote(
    root: Path,
    name: str,
    stage: str,
    *,
    version: str | None = None,
    message: str | None = None,
    sign: Sign = None,
    trailer: Mapping[str, Any] | None = None,
) -> Event:
    """Unassign ``stage`` from its current version (or ``version``): ``NAME#STAGE!#N``. The stage
    falls back to the version assigned there before, as ``gto show`` says."""
    with writing(root) as repo:
        return demote_locked(repo, name, stage, version=version, message=message, sign=sign, trailer=trailer)


def demote_locked(
    repo: GitRepo,
    name: str,
    stage: str,
    *,
    version: str | None = None,
    message: str | None = None,
    sign: Sign = None,
    trailer: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
) -> Event:
    registry = registry if registry is not None else load(repo.root)
    model = registry.model(name)
    found = model.in_stage(stage) if version is None else model.version(version)
    if stage not in found.assigned:
        raise RegistryError(
            f"{name} {found.version} is not in stage {stage!r} (its stages: {', '.join(found.assigned) or 'none'})"
        )
    return make_tag(
        repo,
        TagName(name, Action.UNASSIGN, stage=stage, counter=model.next_counter()),
        found.commit,
        message or default_message(Action.UNASSIGN, name, found.version, stage),
        _trailer(version=found.version, run_id=found.run_id, path=found.path, **(trailer or {})),
        sign,
    )


def deregister(root: Path, name: str, version: str, *, message: str | None = None, sign: Sign = None) -> Event:
    """Deregister a version (``NAME@vX.Y.Z!``): it leaves the registry's current state, its history stays."""
    with writing(root) as repo:
        registry = load(repo.root)
        _, found = _registered(registry, name, version)
        return make_tag(
            repo,
            TagName(name, Action.DEREGISTER, version=found.version),
            found.commit,
            message or default_message(Action.DEREGISTER, name, found.version),
            _trailer(run_id=found.run_id, path=found.path),
            sign,
        )


def deprecate(root: Path, name: str, *, message: str | None = None, sign: Sign = None) -> Event:
    """Deprecate a model (``NAME@deprecated``, on HEAD): it leaves ``list``, its history stays."""
    with writing(root) as repo:
        model = load(repo.root).model(name)
        if model.deprecated:
            raise RegistryError(f"{name} is deprecated already ({model.events[-1].tag})")
        taken = any(e.action == Action.DEPRECATE for e in model.events)
        head = repo.head()
        if head is None:
            raise RegistryError("the repository has no commit to tag")
        return make_tag(
            repo,
            TagName(name, Action.DEPRECATE, counter=model.next_counter() if taken else None),
            head,
            message or default_message(Action.DEPRECATE, name),
            {},
            sign,
        )


def update_entry(root: Path, name: str, change: index.Edit, subject: str, *, no_verify: bool = False) -> str | None:
    """Commit a change of the model's entries (descriptions, tags); None when nothing changed."""
    from gitrun.vcs.commit import commit_paths

    with writing(root) as repo:
        files = index.Files(repo.root)
        dvc = (repo.root / ".dvc").is_dir()
        index.check_clean(repo.root, [index.ARTIFACTS_FILE] + ([index.dvc_file(name)[0]] if dvc else []))
        files.edit(name, change, dvc=dvc)
        if not files.write():
            return None
        try:
            sha, _ = commit_paths(repo, files.paths, subject + "\n", no_verify)
        except BaseException:
            files.restore()
            raise
        return sha
