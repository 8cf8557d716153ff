"""The model a server answers with: what its URI resolves to *now*, loaded, and the slot that swaps it.

:func:`resolve_now` is the one question a following server asks (``--watch``): "what does this URI
name at this moment?", answered by the models resolver and its plugin point (the registry answers
``NAME#STAGE`` and ``models:/NAME@ALIAS`` through the same hook). Its answer carries an identity
(:func:`identity_of`): the registered version when the registry says one, else the commit and path
read, else the folder. A server loads a new identity beside the one it serves and swaps them in one
assignment (:class:`ModelSlot`); a request holds the model it started with, so requests in flight
finish on the old one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitrun.models.loading import PyFuncModel
    from gitrun.models.uri import ModelLocation
    from gitrun.serve.options import ServeOptions
    from gitrun.store import ReadStore


@dataclass(frozen=True)
class Resolved:
    """What a URI names now: its identity (equal identities are the same model) and where it is."""

    identity: str
    location: ModelLocation


@dataclass(frozen=True)
class ServedModel:
    """A loaded model and what it is: the URI asked, where it resolved, its version label."""

    uri: str
    model: PyFuncModel
    resolved: Resolved
    version: str  # the X-Gitrun-Model-Version header
    loaded_at: float  # seconds since the epoch

    def metadata(self) -> dict[str, Any]:
        """``GET /metadata``: the URI, the version and stage resolved, commit, run ID, signature."""
        location = self.resolved.location
        mlmodel = self.model.metadata
        registered: Mapping[str, Any] = location.registered or {}
        signature = mlmodel.signature
        return {
            "uri": self.uri,
            "version": self.version,
            "name": registered.get("name"),
            "stage": stage_of(registered),
            "stages": list(registered.get("stages") or []) or None,
            "registered": dict(registered) or None,
            "commit": location.commit,
            "path": location.repo_path or (str(location.local_dir) if location.local_dir else None),
            "run_id": location.run_id or mlmodel.run_id,
            "experiment_id": location.experiment_id,
            "artifact_path": location.artifact_path,
            "model_id": mlmodel.model_id,
            "model_uuid": mlmodel.model_uuid,
            "flavors": sorted(mlmodel.flavors),
            "loader_module": self.model.loader_module,
            "signature": signature.to_dict() if signature is not None else None,
            "utc_time_created": mlmodel.utc_time_created,
            "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.loaded_at)),
        }


def stage_of(registered: Mapping[str, Any]) -> str | None:
    """The stage a registry answer names: its ``stage``, else its only one of ``stages`` (the
    registry lists every stage a version is in)."""
    if registered.get("stage"):
        return str(registered["stage"])
    stages = list(registered.get("stages") or [])
    return str(stages[0]) if len(stages) == 1 else None


def identity_of(location: ModelLocation) -> str:
    """Equal for the same model: registry name and version, else the commit and path, else the folder."""
    registered = location.registered or {}
    if registered.get("version") is not None:
        return f"{registered.get('name', '')}@{registered['version']}"
    if location.commit is not None:
        return f"{location.commit}:{location.repo_path}"
    return str(location.local_dir)


def version_label(location: ModelLocation, model: PyFuncModel) -> str:
    """Which version answered, for people and the response header: the registered version, else the
    logged model's ID, else the model's UUID, else the commit read."""
    registered = location.registered or {}
    for value in (registered.get("version"), model.metadata.model_id, model.metadata.model_uuid, location.commit):
        if value:
            return str(value)
    return "unversioned"


def resolve_now(options: ServeOptions, store: ReadStore) -> Resolved:
    """What ``options.uri`` (at ``options.rev``) names at this moment."""
    from gitrun.models.uri import resolve

    location = resolve(options.uri, rev=options.rev, store=store)
    return Resolved(identity_of(location), location)


def load(options: ServeOptions, store: ReadStore, resolved: Resolved | None = None) -> ServedModel:
    """Resolve (unless ``resolved`` is given) and load the model, ready to predict."""
    from gitrun.models.loading import load_pyfunc

    resolved = resolved or resolve_now(options, store)
    model = load_pyfunc(
        options.uri,
        rev=options.rev,
        store=store,
        location=resolved.location,
        skops_trusted_types=options.trusted_types,
        safe=options.safe,
    )
    return ServedModel(options.uri, model, resolved, version_label(resolved.location, model), time.time())


class ModelSlot:
    """The model being served, swapped atomically, and the last load that failed (for ``/health``)."""

    def __init__(self, served: ServedModel):
        self._current = served
        self._lock = threading.Lock()
        self.error: str | None = None  # why the last new version did not load (the old one serves)
        self.failed_identity: str | None = None

    @property
    def current(self) -> ServedModel:
        return self._current

    def swap(self, served: ServedModel) -> ServedModel:
        """Serve ``served`` from now on; returns the model it replaces."""
        with self._lock:
            old, self._current = self._current, served
            self.error = self.failed_identity = None
        return old

    def fail(self, identity: str, message: str) -> None:
        with self._lock:
            self.error, self.failed_identity = message, identity

    def health(self) -> dict[str, Any] | None:
        """None when all is well; else what ``/health`` reports (the old version still answers)."""
        with self._lock:
            if self.error is None:
                return None
            return {"status": "degraded", "serving": self._current.version, "error": self.error}
