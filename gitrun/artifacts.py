"""MLflow's ``mlflow.artifacts``: read a run's artifacts by run ID or by URI.

``download_artifacts``, ``list_artifacts``, ``load_text``, ``load_dict`` and ``load_image`` take a
``run_id`` (with ``artifact_path``) or an ``artifact_uri``: ``runs:/RUN_ID/path`` (a unique prefix
of the run ID works), or the ``file://`` URI of a local file (a run's ``info.artifact_uri`` plus a
path). The store's artifacts are local files, so without ``dst_path`` the returned path is the
artifact's own absolute path, as MLflow's local artifact repository returns it. Not to be
confused with :mod:`gitrun.tracking.artifacts`, the writers behind ``log_artifact``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from gitrun.entities import FileInfo
from gitrun.errors import GitrunError, InvalidInputError
from gitrun.tracking.client import Client

__all__ = ["download_artifacts", "list_artifacts", "load_dict", "load_image", "load_text"]


def _run_and_path(artifact_uri: str | None, run_id: str | None, artifact_path: str | None) -> tuple[str, str]:
    if (run_id is None) == (artifact_uri is None):
        raise InvalidInputError("give exactly one of run_id= or artifact_uri= (e.g. 'runs:/<run id>/model.pkl')")
    if artifact_uri is not None and artifact_path is not None:
        raise InvalidInputError("artifact_path= goes with run_id=; put the path in artifact_uri instead")
    if run_id is not None:
        return run_id, (artifact_path or "").strip("/")
    assert artifact_uri is not None
    if not artifact_uri.startswith("runs:/"):
        raise InvalidInputError(f"{artifact_uri!r} is not a runs:/ URI")
    rest = artifact_uri[len("runs:/") :].strip("/")
    run, _, path = rest.partition("/")
    if not run:
        raise InvalidInputError(f"{artifact_uri!r}: a runs:/ URI is runs:/RUN_ID/PATH")
    return run, path.strip("/")


def _local_file(artifact_uri: str | None) -> Path | None:
    """The path a ``file:`` URI or a plain path names (no run lookup needed), else None."""
    if artifact_uri is None or artifact_uri.startswith("runs:/"):
        return None
    if artifact_uri.startswith("file:"):
        return Path(url2pathname(urlparse(artifact_uri).path))
    if "://" in artifact_uri or artifact_uri.startswith("models:/"):
        raise InvalidInputError(
            f"cannot read {artifact_uri!r}: gitrun reads runs:/RUN_ID/PATH and file: URIs (a model: gitrun.models)"
        )
    return Path(artifact_uri)


def download_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    dst_path: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
    **_: Any,
) -> str:
    """The absolute local path of an artifact file or folder, copied under ``dst_path`` if given."""
    local = _local_file(artifact_uri)
    if local is not None:
        if not local.exists():
            raise GitrunError(f"no artifact at {str(local)!r}")
        if dst_path is None:
            return str(local.absolute())
        import shutil

        dest = Path(dst_path) / local.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if local.is_dir():
            shutil.copytree(local, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(local, dest)
        return str(dest.absolute())
    run, path = _run_and_path(artifact_uri, run_id, artifact_path)
    client = Client(tracking_uri)
    if dst_path is not None:
        Path(dst_path).mkdir(parents=True, exist_ok=True)
    return client.download_artifacts(
        client.store.resolve_run_id(run), path, None if dst_path is None else str(dst_path)
    )


def list_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    tracking_uri: str | None = None,
) -> list[FileInfo]:
    """The artifacts directly under a run's folder (or ``artifact_path``), as ``FileInfo``."""
    run, path = _run_and_path(artifact_uri, run_id, artifact_path)
    client = Client(tracking_uri)
    return client.list_artifacts(client.store.resolve_run_id(run), path or None)


def load_text(artifact_uri: str) -> str:
    path = download_artifacts(artifact_uri)
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{artifact_uri!r} is not UTF-8 text; download it with download_artifacts") from None


def load_dict(artifact_uri: str) -> dict[str, Any]:
    """A JSON or YAML artifact as a dict."""
    text = load_text(artifact_uri)
    try:
        loaded = json.loads(text)
    except ValueError:
        import yaml

        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"{artifact_uri!r} is neither JSON nor YAML: {exc}") from None
    if not isinstance(loaded, dict):
        raise InvalidInputError(f"{artifact_uri!r} holds a {type(loaded).__name__}, not a dict")
    return loaded


def load_image(artifact_uri: str) -> Any:
    """An image artifact as a PIL image."""
    from gitrun.extras import require

    require("images", "PIL", feature="load_image")
    from PIL import Image

    image = Image.open(download_artifacts(artifact_uri))
    image.load()
    return image
