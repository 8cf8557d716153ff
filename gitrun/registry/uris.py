"""Registry model URIs, answered through the models resolver's ``gitrun_resolve_model_uri`` hook.

=============================  ============================================================
``models:/NAME/N``             MLflow's version number N (the N-th registration, by SemVer)
``models:/NAME/vX.Y.Z``        a version by its GTO name
``models:/NAME@STAGE``         the version in a stage (an MLflow alias is a stage)
``models:/NAME/latest``        the highest registered version
``models:/NAME/Production``    the highest version in a legacy stage (Staging, Production, Archived)
``NAME#STAGE``, ``NAME@vX.Y.Z``  gto's shortcuts (``NAME@latest``, and a bare ``NAME``, too), when no
                               file or folder of that name exists: an existing path wins
=============================  ============================================================

Each resolves to the model folder **at the tagged commit** (``ModelLocation.commit``): the models
package reads small files from Git objects and DVC-tracked ones through DVC at that revision, with
no checkout. The folder is the one the registration's trailer names, else (a version gto
registered) the ``path`` of ``artifacts.yaml`` at the commit.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from gitrun.errors import ModelVersionNotFoundError, RegistryError
from gitrun.models.uri import ModelLocation
from gitrun.registry import index
from gitrun.registry.aliases import LEGACY_GTO, legacy_stage
from gitrun.registry.grammar import SemVer, Shortcut, parse_shortcut
from gitrun.registry.state import ModelState, VersionState

_MODELS = re.compile(r"^models:/(?P<name>[^/@]+?)(?:@(?P<alias>[^/]+)|/(?P<ref>[^/]+))?/?$")
_LOGGED = re.compile(r"^m-[0-9a-f]{32}$")


def parse_uri(uri: str) -> Shortcut | None:
    """The version a registry URI names, or None for a URI that is not the registry's."""
    if uri.startswith("models:/"):
        match = _MODELS.match(uri)
        if match is None or _LOGGED.match(match["name"]):
            return None
        name, alias, ref = match["name"], match["alias"], match["ref"]
        if alias:
            return Shortcut(name, stage=alias)
        if ref is None or ref.lower() == "latest":
            return Shortcut(name, latest=True)
        if ref.isdigit():
            return Shortcut(name, version=ref)
        if SemVer.is_valid(ref):
            return Shortcut(name, version=ref)
        return Shortcut(name, stage=f"legacy:{ref}")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/", uri) or uri.startswith(("file:", "/", ".", "~")):
        return None
    if os.path.exists(uri):
        return None  # an existing path wins
    return parse_shortcut(uri)


def pick(model: ModelState, ref: Shortcut) -> VersionState:
    """The version of ``model`` that ``ref`` names."""
    if ref.stage is not None and ref.stage.startswith("legacy:"):
        stage = legacy_stage(ref.stage[len("legacy:") :])
        if stage is None:
            raise ModelVersionNotFoundError(f"models:/{model.name}/None names no version; give a stage or a version")
        holders = [v for v in model.versions if v.active and v.registered and stage in v.assigned]
        if not holders:
            raise ModelVersionNotFoundError(f"no version of {model.name!r} is in stage {LEGACY_GTO[stage]}")
        return max(holders, key=lambda v: v.number or 0)
    if ref.stage is not None:
        return model.in_stage(ref.stage)
    if ref.version is not None:
        found = model.version(ref.version)
        if not found.active:
            raise ModelVersionNotFoundError(
                f"{model.name} {found.version} was deregistered ({found.deregistration.tag if found.deregistration else ''})"
            )
        return found
    latest = model.latest
    if latest is None:
        raise ModelVersionNotFoundError(f"{model.name!r} has no active registered version")
    return latest


def resolve(uri: str, store: Any) -> ModelLocation | None:
    """The model folder a registry URI names (None when ``uri`` is not one, or names no registered model)."""
    from gitrun.registry.api import View

    ref = parse_uri(uri)
    if ref is None:
        return None
    try:
        view = View.open(store)
        key = view.gto_name(ref.name)
    except RegistryError:
        if uri.startswith("models:/"):
            raise
        return None  # a short form naming nothing registered: let the path rules say what is wrong
    model = view.registry.model(key)
    version = pick(model, ref)
    path = version.path or _indexed_path(view.root, key, version.commit)
    if path is None:
        raise RegistryError(
            f"{uri!r}: {key} {version.version} names no model folder (no gitrun trailer, and no path in "
            f"{index.ARTIFACTS_FILE} at {version.commit[:12]})"
        )
    return ModelLocation(
        uri,
        repo_root=view.root,
        repo_path=path.strip("/"),
        commit=version.commit,
        run_id=version.run_id,
        experiment_id=_experiment(path),
        artifact_path=path.split("/artifacts/", 1)[1] if "/artifacts/" in path else None,
        registered=registered_view(view, model, version),
    )


def _indexed_path(root: Path, name: str, commit: str) -> str | None:
    entry = index.read_index(root, commit).get(name)
    return entry.path if entry else None


def _experiment(path: str) -> str | None:
    parts = path.split("/")
    if "experiments" in parts and "runs" in parts:
        i = parts.index("experiments")
        return parts[i + 1] if i + 1 < len(parts) else None
    return None


def registered_view(view: Any, model: ModelState, version: VersionState) -> dict[str, Any]:
    """What ``gitrun models show`` adds for a registered version (``ModelSummary.registered``)."""
    registration = version.registration
    return {
        "name": model.name,
        "mlflow_name": view.display(model.name),
        "version": version.version,
        "number": version.number,
        "stages": list(version.stages),
        "commit": version.commit,
        "tag": registration.tag if registration else None,
        "registered_at": registration.timestamp if registration else None,
        "author": registration.author if registration else None,
        "message": registration.message if registration else None,
        "model_stages": dict(model.stages),
        "versions": [
            {"version": v.version, "number": v.number, "stages": list(v.stages), "active": v.active, "commit": v.commit}
            for v in model.versions
        ],
    }
