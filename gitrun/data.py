"""Data: where gitrun's own data files live (the ``templates/`` and ``site/`` folders), and the
datasets a run uses (MLflow's ``mlflow.data``: :func:`from_dvc`).

Installed from a wheel, the data folders ship as ``gitrun/_data/templates`` and
``gitrun/_data/site`` (pyproject's force-include); in a source checkout they are the top-level
folders of the repository.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gitrun import gitcmd
from gitrun.dvcfiles import PathHash, find_root, hash_path, tracked_md5
from gitrun.entities import Dataset
from gitrun.errors import GitrunError
from gitrun.redact import strip_credentials

DVC_SOURCE_TYPE = "dvc"

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The ``templates`` or ``site`` folder: packaged data first, else the checkout's top level."""
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    raise GitrunError(f"gitrun's {name}/ folder is missing (looked in {packaged} and {checkout}); reinstall gitrun-ml")


def templates_dir() -> Path:
    return data_dir("templates")


def assets_dir() -> Path:
    return data_dir("site")


# -- datasets (MLflow's mlflow.data) -----------------------------------------------------------
def dvc_dataset(root: Path, found: PathHash, name: str | None = None, **source: str) -> Dataset:
    """The dataset record of a path of the DVC project ``root`` with its DVC hash (``found``);
    ``source`` adds fields to the source (e.g. the stage)."""
    fields = {"path": found.path, "md5": found.md5, "size": found.size, "nfiles": found.nfiles, **source}
    text = json.dumps({k: v for k, v in fields.items() if v is not None}, sort_keys=True)
    return Dataset(name=name or found.path, digest=found.md5 or "", source_type=DVC_SOURCE_TYPE, source=text)


def from_dvc(path: str | os.PathLike[str], name: str | None = None) -> Dataset:
    """A DVC-tracked file or folder as a dataset: its DVC hash now (``digest``), the hash DVC
    recorded for it (``dvc_md5``: a ``.dvc`` pointer or a ``dvc.lock`` out), the Git repository and
    commit. For a run's inputs (MLflow's ``log_input``)."""
    target = Path(path).resolve()
    root = find_root(target)
    if root is None:
        raise GitrunError(f"{path} is not inside a DVC project (no .dvc folder above it); run `dvc init` there first")
    rel = target.relative_to(root).as_posix()
    recorded = tracked_md5(root, rel)
    if recorded is None:
        raise GitrunError(
            f"{rel} is not tracked by DVC in {root} (no {rel}.dvc pointer, no dvc.lock out); `dvc add {rel}` first"
        )
    found = hash_path(root, rel)
    if found.md5 is None:
        raise GitrunError(f"{rel} is tracked by DVC but missing from the work tree; `dvc pull {rel}` or `dvc checkout`")
    extra = {"dvc_md5": recorded}
    remote = gitcmd.output(root, "config", "--get", "remote.origin.url")
    commit = gitcmd.output(root, "rev-parse", "--verify", "-q", "HEAD")
    if remote:
        extra["repo"] = strip_credentials(remote.strip())
    if commit:
        extra["rev"] = commit.strip()
    return dvc_dataset(root, found, name, **extra)
