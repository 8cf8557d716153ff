"""MLflow's model registry API over the tags, so ``import gitrun as mlflow`` scripts keep working.

``register_model``, ``search_registered_models`` and the other fluent names are module functions
here (``gitrun.register_model`` ...); ``MlflowClient``'s registry methods call them
(``gitrun.registry.client``). The mapping, call by call, is in docs/registry.md:

- a registered model is a GTO artifact; an MLflow name outside GTO's rule (``wine model``) is
  stored under a GTO-valid slug (``wine-model``), the original kept in ``artifacts.yaml``; every
  call takes either; two names with one slug are refused;
- MLflow's version N is the N-th registration of the name by SemVer (``v0.0.1`` is 1); a
  deregistered version keeps its N; ``delete_model_version`` deregisters (history keeps it);
- an alias is a stage; legacy stages are the GTO stages ``staging``/``production``/``archived``;
- descriptions and model-version tags live in ``artifacts.yaml`` (committed by gitrun);
- during training (the run not committed yet) ``register_model`` records the registration in the
  run and returns a ``PENDING_REGISTRATION`` version with the number it will get; calls on it are
  recorded too, and ``gitrun commit`` carries them out (``gitrun.registry.pending``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gitrun.errors import ModelVersionNotFoundError, RegistryError
from gitrun.registry import aliases, events, index, pending
from gitrun.registry.entities import NO_STAGE, READY, ModelVersion, RegisteredModel
from gitrun.registry.grammar import Action, default_message, slug
from gitrun.registry.policy import load_policy
from gitrun.registry.state import ModelState, Registry, VersionState, load, repo_root
from gitrun.search.evaluate import compile_filter, sort_rows
from gitrun.search.grammar import ATTRIBUTE, Field, OrderBy, Schema, parse_filter, parse_order_by

MODEL_VERSION_SCHEMA = Schema(
    prefixes={"tag": "tag", "tags": "tag", "attribute": ATTRIBUTE, "attributes": ATTRIBUTE},
    attributes=frozenset(
        {
            "name",
            "run_id",
            "source",
            "source_path",
            "version_number",
            "current_stage",
            "status",
            "creation_timestamp",
            "last_updated_timestamp",
            "user_id",
            "registry_version",
        }
    ),
    numeric_attributes=frozenset({"version_number", "creation_timestamp", "last_updated_timestamp"}),
    aliases={"version": "version_number"},
    what="model version",
)
REGISTERED_MODEL_SCHEMA = Schema(
    prefixes={"tag": "tag", "tags": "tag", "attribute": ATTRIBUTE, "attributes": ATTRIBUTE},
    attributes=frozenset({"name", "creation_timestamp", "last_updated_timestamp", "description", "registry_name"}),
    numeric_attributes=frozenset({"creation_timestamp", "last_updated_timestamp"}),
    aliases={},
    what="registered model",
)


# -- one view of the registry per call ----------------------------------------------------------------
@dataclass
class View:
    root: Path
    registry: Registry
    entries: dict[str, index.Entry]

    @classmethod
    def open(cls, store: Any = None) -> View:
        root = _root(store)
        return cls(root, load(root), index.read_index(root))

    def gto_name(self, name: str, *, create: bool = False) -> str:
        """The GTO name an MLflow name (or a GTO name) stands for; a new one with ``create``."""
        if name in self.registry.models or name in self.entries:
            return name
        for key, entry in self.entries.items():
            if entry.mlflow_name == name:
                return key
        if not create:
            self.registry.model(name)  # raises, listing the registered models
        key = slug(name)
        if key in self.registry.models or key in self.entries:
            taken = self.entries[key].display_name if key in self.entries else key
            raise RegistryError(
                f"model name {name!r} would be stored as {key!r}, which {taken!r} already is; choose a name "
                "that differs in its letters or digits"
            )
        return key

    def model(self, name: str) -> ModelState:
        return self.registry.model(self.gto_name(name))

    def display(self, key: str) -> str:
        entry = self.entries.get(key)
        return entry.display_name if entry else key

    def model_version(self, model: ModelState, v: VersionState) -> ModelVersion:
        entry = self.entries.get(model.name)
        extra = (entry.versions.get(v.version) if entry else None) or {}
        times = [e.timestamp for e in model.events if e.version == v.version]
        registration = v.registration
        artifact = (v.path or "").split("/artifacts/", 1)[1] if v.path and "/artifacts/" in v.path else None
        source = (
            f"runs:/{v.run_id}/{artifact}"
            if v.run_id and artifact
            else f"models:/{self.display(model.name)}/{v.number}"
        )
        return ModelVersion(
            name=self.display(model.name),
            version=v.number or 0,
            creation_timestamp=(registration.timestamp if registration else min(times, default=0)) * 1000,
            last_updated_timestamp=max(times, default=0) * 1000,
            description=extra.get("description") or _own_message(registration),
            user_id=registration.author if registration else None,
            current_stage=aliases.current_stage(model, v),
            source=source,
            run_id=v.run_id,
            status=READY,
            tags={str(k): str(val) for k, val in (extra.get("tags") or {}).items()},
            aliases=aliases.aliases(v),
            registry_name=model.name if self.display(model.name) != model.name else None,
            registry_version=v.version,
            commit=v.commit,
            tag=registration.tag if registration else None,
        )

    def versions(self, model: ModelState) -> list[ModelVersion]:
        """The model's versions MLflow would list: registered and not deregistered, newest first."""
        return [self.model_version(model, v) for v in model.versions if v.registered and v.active]

    def registered_model(self, key: str) -> RegisteredModel:
        model = self.registry.models.get(key)
        entry = self.entries.get(key)
        times = [e.timestamp * 1000 for e in model.events] if model else []
        versions = self.versions(model) if model else []
        return RegisteredModel(
            name=self.display(key),
            creation_timestamp=min(times, default=None),
            last_updated_timestamp=max(times, default=None),
            description=entry.description if entry else None,
            latest_versions=_latest(versions, None),
            tags=dict(entry.tags) if entry else {},
            aliases={a: mv.version for mv in versions for a in mv.aliases},
            registry_name=key if self.display(key) != key else None,
        )


def _own_message(registration: Any) -> str | None:
    """A registration's message, when someone wrote one (gto's default message is no description)."""
    if registration is None:
        return None
    default = default_message(Action.REGISTER, registration.name, registration.version)
    return None if registration.message == default else registration.message


def _root(store: Any) -> Path:
    if store is None:
        from gitrun.tracking.state import current_store

        store = current_store()
    return repo_root(Path(store.root))


def _store(store: Any) -> Any:
    if store is not None:
        return store
    from gitrun.tracking.state import current_store

    return current_store()


def _latest(versions: list[ModelVersion], stages: list[str] | None) -> list[ModelVersion]:
    """MLflow's ``get_latest_versions``: the highest version of each stage ("None" included)."""
    by_stage: dict[str, ModelVersion] = {}
    for mv in versions:
        if mv.current_stage not in by_stage or mv.version > by_stage[mv.current_stage].version:
            by_stage[mv.current_stage] = mv
    if stages:
        wanted = [aliases.LEGACY_GTO[g] if (g := aliases.legacy_stage(s)) else NO_STAGE for s in stages]
        return [by_stage[s] for s in wanted if s in by_stage]
    return sorted(by_stage.values(), key=lambda mv: mv.version)


# -- registered models -------------------------------------------------------------------------------
def create_registered_model(
    name: str, tags: Mapping[str, Any] | None = None, description: str | None = None, *, store: Any = None
) -> RegisteredModel:
    """A model with no version yet: its entry in ``artifacts.yaml`` (gto lists it as unregistered)."""
    view = View.open(store)
    key = view.gto_name(name, create=True)
    if key in view.registry.models or key in view.entries:
        raise RegistryError(f"Registered Model (name={name}) already exists.")
    change = index.Edit(
        description=description,
        mlflow_name=name if name != key else None,
        tags={str(k): str(v) for k, v in (tags or {}).items()} or None,
    )
    events.update_entry(view.root, key, change, f"gitrun: create registered model {key}")
    return View.open(store).registered_model(key)


def get_registered_model(name: str, *, store: Any = None) -> RegisteredModel:
    view = View.open(store)
    return view.registered_model(view.gto_name(name))


def search_registered_models(
    filter_string: str | None = None,
    max_results: int = 100,
    order_by: list[str] | None = None,
    page_token: str | None = None,
    *,
    store: Any = None,
) -> list[RegisteredModel]:
    view = View.open(store)
    keys = sorted(set(view.registry.models) | set(view.entries))
    rows = [
        _Row(view.registered_model(k)) for k in keys if k not in view.registry.models or view.registry.models[k].active
    ]
    return [r.item for r in _search(rows, filter_string, order_by, REGISTERED_MODEL_SCHEMA, "name", max_results)]


def update_registered_model(name: str, description: str | None = None, *, store: Any = None) -> RegisteredModel:
    view = View.open(store)
    key = view.gto_name(name)
    events.update_entry(view.root, key, index.Edit(description=description or ""), f"gitrun: describe {key}")
    return View.open(store).registered_model(key)


def set_registered_model_tag(name: str, key: str, value: Any, *, store: Any = None) -> None:
    view = View.open(store)
    gto = view.gto_name(name)
    events.update_entry(view.root, gto, index.Edit(tags={str(key): str(value)}), f"gitrun: tag {gto} {key}")


def delete_registered_model_tag(name: str, key: str, *, store: Any = None) -> None:
    view = View.open(store)
    gto = view.gto_name(name)
    events.update_entry(view.root, gto, index.Edit(tags={str(key): None}), f"gitrun: untag {gto} {key}")


def delete_registered_model(name: str, *, store: Any = None) -> None:
    """MLflow deletes the model; GTO deprecates it (``NAME@deprecated``): it leaves the lists, its history stays."""
    view = View.open(store)
    events.deprecate(view.root, view.gto_name(name))


def rename_registered_model(name: str, new_name: str, *, store: Any = None) -> RegisteredModel:
    raise RegistryError(
        f"renaming {name!r} is not possible: a model's name is in every tag of its history, and gitrun never "
        f"rewrites tags; register its versions under {new_name!r} and deprecate {name!r}"
    )


# -- versions --------------------------------------------------------------------------------------------
def register_model(
    model_uri: str,
    name: str,
    await_registration_for: int = 300,
    *,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    store: Any = None,
) -> ModelVersion:
    """MLflow's ``register_model``: a new version of ``name`` from a model URI (``runs:/ID/model``,
    ``models:/m-<id>``). A committed model is registered now (READY); one of a run not committed
    yet is recorded in the run (PENDING_REGISTRATION) and registered by ``gitrun commit``."""
    from gitrun.models.uri import resolve

    store = _store(store)
    location = resolve(model_uri, store=store)
    if location.run_id is None or location.artifact_path is None:
        raise RegistryError(
            f"{model_uri!r} is not a model of a run; the registry registers models logged in runs "
            "(runs:/RUN_ID/NAME or models:/m-<id>)"
        )
    return create_model_version(
        name,
        f"runs:/{location.run_id}/{location.artifact_path}",
        location.run_id,
        tags=tags,
        description=description,
        store=store,
    )


def create_model_version(
    name: str,
    source: str,
    run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    run_link: str | None = None,
    description: str | None = None,
    await_creation_for: int = 300,
    model_id: str | None = None,
    *,
    store: Any = None,
) -> ModelVersion:
    from gitrun.vcs.git import GitRepo

    store = _store(store)
    run, path = _run_model(source, run_id, store)
    view = View.open(store)
    key = view.gto_name(name, create=True)
    model_source = events.find_model(store, run, path)
    version_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    try:
        events.check_committed(GitRepo(view.root), model_source)
    except RegistryError:
        return pending.record_registration(store, view.registry, key, name, model_source, version_tags, description)
    fields = {k: v for k, v in (("description", description), ("tags", version_tags or None)) if v}
    with events.writing(view.root) as repo:
        registry = load(repo.root)
        model = registry.models.get(key)
        version = events.next_version(model)
        edit = index.Edit(
            mlflow_name=name if name != key else None, version_fields={version: fields} if fields else None
        )
        event = events.register_locked(repo, key, model_source, version=version, edit=edit, registry=registry)
    fresh = View.open(store)
    model_state = fresh.registry.model(key)
    return fresh.model_version(model_state, model_state.version(event.version or ""))


def _run_model(source: str, run_id: str | None, store: Any) -> tuple[str, str | None]:
    if source.startswith("runs:/"):
        rest = source[len("runs:/") :].strip("/")
        run, _, path = rest.partition("/")
        return run, path or None
    from gitrun.models.uri import resolve

    location = resolve(source, store=store)
    if location.run_id is None:
        raise RegistryError(f"{source!r} is not a model of a run: give runs:/RUN_ID/NAME or models:/m-<id>")
    return location.run_id, location.artifact_path


def get_model_version(name: str, version: str | int, *, store: Any = None) -> ModelVersion:
    view = View.open(store)
    key = view.gto_name(name, create=True)
    found = pending.find(key, version)
    if found is not None and not _registered_number(view, key, version):
        return found.model_version
    model = view.model(name)
    v = _active(model, version)
    return view.model_version(model, v)


def _registered_number(view: View, key: str, version: str | int) -> bool:
    model = view.registry.models.get(key)
    return (
        model is not None and any(v.number == int(version) for v in model.versions) if str(version).isdigit() else False
    )


def _active(model: ModelState, version: str | int) -> VersionState:
    v = model.version(str(version))
    if not v.registered or not v.active:
        raise ModelVersionNotFoundError(f"Model Version (name={model.name}, version={version}) not found")
    return v


def get_latest_versions(name: str, stages: list[str] | None = None, *, store: Any = None) -> list[ModelVersion]:
    view = View.open(store)
    return _latest(view.versions(view.model(name)), stages)


def search_model_versions(
    filter_string: str | None = None,
    max_results: int = 10000,
    order_by: list[str] | None = None,
    page_token: str | None = None,
    *,
    store: Any = None,
) -> list[ModelVersion]:
    """MLflow's filter syntax over ``name``, ``run_id``, ``version_number``, ``source_path`` and ``tags.*``."""
    view = View.open(store)
    rows = [_Row(mv) for m in view.registry.models.values() for mv in view.versions(m)]
    rows += [_Row(p.model_version) for p in pending.all_pending()]
    return [r.item for r in _search(rows, filter_string, order_by, MODEL_VERSION_SCHEMA, "name", max_results)]


def update_model_version(
    name: str, version: str | int, description: str | None = None, *, store: Any = None
) -> ModelVersion:
    return _version_field(name, version, {"description": description or ""}, "update_version", store)


def set_model_version_tag(
    name: str,
    version: str | int | None = None,
    key: str | None = None,
    value: Any = None,
    stage: str | None = None,
    *,
    store: Any = None,
) -> None:
    if key is None:
        raise RegistryError("set_model_version_tag needs a key")
    version = _version_or_stage(name, version, stage, store)
    _version_field(name, version, {"tags": {str(key): str(value)}}, "set_version_tag", store)


def delete_model_version_tag(
    name: str,
    version: str | int | None = None,
    key: str | None = None,
    stage: str | None = None,
    *,
    store: Any = None,
) -> None:
    if key is None:
        raise RegistryError("delete_model_version_tag needs a key")
    version = _version_or_stage(name, version, stage, store)
    _version_field(name, version, {"tags": {str(key): None}}, "delete_version_tag", store)


def _version_or_stage(name: str, version: str | int | None, stage: str | None, store: Any) -> str | int:
    if version is not None:
        return version
    if stage is None:
        raise RegistryError("give a version (or a stage)")
    latest = get_latest_versions(name, [stage], store=store)
    if not latest:
        raise ModelVersionNotFoundError(f"no version of {name!r} is in stage {stage!r}")
    return latest[0].version


def _version_field(name: str, version: str | int, fields: Mapping[str, Any], op: str, store: Any) -> ModelVersion:
    view = View.open(store)
    key = view.gto_name(name, create=True)
    waiting = pending.find(key, version)
    if waiting is not None and not _registered_number(view, key, version):
        pending.queue(waiting, {"op": op, "name": key, **_queued_fields(fields)})
        return waiting.model_version
    model = view.model(name)
    v = _active(model, version)
    events.update_entry(
        view.root,
        key,
        index.Edit(version_fields={v.version: fields}),
        f"gitrun: {op.replace('_', ' ')} {key} {v.version}",
    )
    fresh = View.open(store)
    return fresh.model_version(fresh.registry.model(key), fresh.registry.model(key).version(v.version))


def _queued_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    if "description" in fields:
        return {"description": fields["description"]}
    ((k, v),) = fields["tags"].items()
    return {"key": k, "value": v}


def delete_model_version(name: str, version: str | int, *, store: Any = None) -> None:
    """A deregistration (``NAME@vX.Y.Z!``): the version leaves the API's answers, its history stays."""
    view = View.open(store)
    model = view.model(name)
    events.deregister(view.root, model.name, _active(model, version).version)


def get_model_version_download_uri(name: str, version: str | int, *, store: Any = None) -> str:
    return str(get_model_version(name, version, store=store).source)


# -- aliases and stages ------------------------------------------------------------------------------------
def set_registered_model_alias(name: str, alias: str, version: str | int, *, store: Any = None) -> None:
    view = View.open(store)
    key = view.gto_name(name, create=True)
    waiting = pending.find(key, version)
    if waiting is not None and not _registered_number(view, key, version):
        pending.queue(waiting, {"op": "set_alias", "name": key, "alias": alias})
        return
    model = view.model(name)
    v = _active(model, version)
    with events.writing(view.root) as repo:
        aliases.set_alias(repo, model.name, alias, v.version, load_policy(view.root))


def delete_registered_model_alias(name: str, alias: str, *, store: Any = None) -> None:
    view = View.open(store)
    model = view.model(name)
    with events.writing(view.root) as repo:
        aliases.delete_alias(repo, model.name, alias)


def get_model_version_by_alias(name: str, alias: str, *, store: Any = None) -> ModelVersion:
    view = View.open(store)
    model = view.model(name)
    return view.model_version(model, model.in_stage(alias))


def transition_model_version_stage(
    name: str, version: str | int, stage: str, archive_existing_versions: bool = False, *, store: Any = None
) -> ModelVersion:
    view = View.open(store)
    key = view.gto_name(name, create=True)
    waiting = pending.find(key, version)
    if waiting is not None and not _registered_number(view, key, version):
        aliases.legacy_stage(stage)  # refuse a bad stage now, not at commit time
        pending.queue(
            waiting, {"op": "transition", "name": key, "stage": stage, "archive_existing": archive_existing_versions}
        )
        return replace(waiting.model_version, current_stage=stage if aliases.legacy_stage(stage) else NO_STAGE)
    model = view.model(name)
    v = _active(model, version)
    with events.writing(view.root) as repo:
        aliases.transition(
            repo,
            model.name,
            v.version,
            stage,
            load_policy(view.root),
            archive_existing_versions=archive_existing_versions,
        )
    fresh = View.open(store)
    return fresh.model_version(fresh.registry.model(key), fresh.registry.model(key).version(v.version))


# -- searching --------------------------------------------------------------------------------------------
class _Row:
    """A ModelVersion or RegisteredModel as the search grammar reads it."""

    def __init__(self, item: Any):
        self.item = item
        self.run_id = getattr(item, "run_id", None) or ""

    def metric(self, key: str) -> float | None:
        return None

    def param(self, key: str) -> str | None:
        return None

    def tag(self, key: str) -> str | None:
        return self.item.tags.get(key)

    def attribute(self, key: str) -> Any:
        if key == "version_number":
            return self.item.version
        if key == "source_path":
            return self.item.source
        if key == "start_time":
            return 0
        return getattr(self.item, key, None)


def _search(
    rows: list[_Row], filter_string: str | None, order_by: list[str] | None, schema: Schema, default: str, limit: int
) -> list[_Row]:
    predicate = compile_filter(parse_filter(filter_string, schema), schema.numeric_attributes)
    found = [r for r in rows if predicate is None or predicate(r)]
    orders: list[OrderBy] = [parse_order_by(text, schema) for text in order_by or []]
    if not orders:
        orders = [OrderBy(Field(ATTRIBUTE, default))]
        if schema is MODEL_VERSION_SCHEMA:
            orders.append(OrderBy(Field(ATTRIBUTE, "version_number"), ascending=False))
    return sort_rows(found, orders)[: max(0, int(limit))]


__all__ = [
    "View",
    "create_model_version",
    "create_registered_model",
    "delete_model_version",
    "delete_model_version_tag",
    "delete_registered_model",
    "delete_registered_model_alias",
    "delete_registered_model_tag",
    "get_latest_versions",
    "get_model_version",
    "get_model_version_by_alias",
    "get_model_version_download_uri",
    "get_registered_model",
    "register_model",
    "rename_registered_model",
    "search_model_versions",
    "search_registered_models",
    "set_model_version_tag",
    "set_registered_model_alias",
    "set_registered_model_tag",
    "transition_model_version_stage",
    "update_model_version",
    "update_registered_model",
]
