"""Data: where gitrun's own data files live (the ``templates/`` and ``site/`` folders), and the
datasets a run uses (MLflow's ``mlflow.data``: :func:`from_pandas`, :func:`from_numpy`,
:func:`from_dvc`), for ``log_input``.

``from_pandas`` and ``from_numpy`` compute MLflow's digest, schema and profile exactly as
``mlflow.data`` does (the same 8 hex digits for the same data), so a dataset logged by either
tool is recognised by the other's filters (``datasets.digest = '...'``).

Installed from a wheel, the data folders ship as ``gitrun/_data/templates`` and
``gitrun/_data/site`` (pyproject's force-include); in a source checkout they are the top-level
folders of the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from gitrun import gitcmd
from gitrun.dvcfiles import PathHash, find_root, hash_path, tracked_md5
from gitrun.entities import Dataset
from gitrun.errors import GitrunError
from gitrun.models.infer import infer_schema
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


DATASET_NAME = "dataset"  # MLflow's name for a dataset given none
DIGEST_ROWS = 10_000  # MLflow hashes at most this many rows (or array items)


def pandas_digest(frame: Any) -> str:
    """MLflow's digest of a pandas dataset (``mlflow.data.from_pandas``): 8 hex digits of an MD5 over
    the hashes of its first rows' string and numeric columns, its length and its column names."""
    import numpy as np
    import pandas as pd

    head = frame.head(DIGEST_ROWS)
    strings = head.columns[frame.map(lambda v: type(v) is str).all(axis=0)]
    numbers = head.select_dtypes(include=[np.number]).columns
    head = head[strings.union(numbers)]
    return _md5_8(
        [pd.util.hash_pandas_object(head).values, np.int64(len(frame)), *(str(c).encode() for c in frame.columns)]
    )


def numpy_digest(features: Any, targets: Any = None) -> str:
    """MLflow's digest of a numpy dataset (``mlflow.data.from_numpy``): the hashes of each array's
    first items (or its size) and its shape; a dict of arrays by sorted key."""
    import numpy as np
    import pandas as pd

    elements: list[Any] = []

    def add(array: Any) -> None:
        flat = array.flatten()[:DIGEST_ROWS]
        try:
            elements.append(pd.util.hash_array(flat))
        except TypeError:
            elements.append(np.int64(flat.size))
        elements.extend(np.int64(x) for x in array.shape)

    for item in (features, targets):
        if isinstance(item, dict):
            for key in sorted(item):
                add(item[key])
        elif item is not None:
            add(item)
    return _md5_8(elements)


def _md5_8(elements: list[Any]) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    for element in elements:
        md5.update(element)
    return md5.hexdigest()[:8]


def _source(source: Any) -> tuple[str, str] | None:
    """``(source_type, source JSON)`` of a dataset's source as MLflow records it; None: the code
    that logs it (``code``, resolved from the run's tags when it is logged)."""
    if source is None:
        return None
    text = os.fspath(source) if isinstance(source, os.PathLike) else str(source)
    if text.startswith(("http://", "https://")):
        return "http", json.dumps({"url": strip_credentials(text)})
    return "local", json.dumps({"uri": text})


class PandasDataset:
    """A pandas DataFrame as a dataset (MLflow's ``PandasDataset``): ``df``, ``name``, ``digest``,
    ``schema``, ``profile``, ``targets``, ``predictions``; for ``log_input``."""

    def __init__(
        self,
        df: Any,
        source: Any = None,
        targets: str | None = None,
        name: str | None = None,
        digest: str | None = None,
        predictions: str | None = None,
    ):
        for column, what in ((targets, "targets"), (predictions, "predictions")):
            if column is not None and column not in df.columns:
                raise GitrunError(f"from_pandas: {what} column {column!r} is not a column of the DataFrame")
        self.df, self.targets, self.predictions = df, targets, predictions
        self.name = name or DATASET_NAME
        self.digest = digest or pandas_digest(df)
        self._source = _source(source)

    @property
    def schema(self) -> str:
        return json.dumps({"mlflow_colspec": infer_schema(self.df).to_dict()})

    @property
    def profile(self) -> str:
        return json.dumps({"num_rows": len(self.df), "num_elements": int(self.df.size)})

    def to_entity(self, code_tags: dict[str, str]) -> Dataset:
        """The record ``log_input`` stores; ``code_tags``: the run's source tags, for a dataset of no source."""
        source_type, source = self._source or ("code", json.dumps({"tags": code_tags}))
        return Dataset(self.name, self.digest, source_type, source, self.schema, self.profile)


class NumpyDataset:
    """A numpy array (or a dict of arrays) of features, optionally with targets (MLflow's ``NumpyDataset``)."""

    def __init__(
        self, features: Any, source: Any = None, targets: Any = None, name: str | None = None, digest: str | None = None
    ):
        self.features, self.targets = features, targets
        self.name = name or DATASET_NAME
        self.digest = digest or numpy_digest(features, targets)
        self._source = _source(source)

    @property
    def schema(self) -> str:
        def spec(data: Any) -> str | None:
            return None if data is None else infer_schema(data).to_json()

        return json.dumps({"mlflow_tensorspec": {"features": spec(self.features), "targets": spec(self.targets)}})

    @property
    def profile(self) -> str:
        def attr(data: Any, name: str) -> Any:
            if isinstance(data, dict):
                return {k: _plain(getattr(v, name)) for k, v in data.items()}
            return _plain(getattr(data, name))

        profile = {f"features_{a}": attr(self.features, a) for a in ("shape", "size", "nbytes")}
        if self.targets is not None:
            profile.update({f"targets_{a}": attr(self.targets, a) for a in ("shape", "size", "nbytes")})
        return json.dumps(profile)

    def to_entity(self, code_tags: dict[str, str]) -> Dataset:
        source_type, source = self._source or ("code", json.dumps({"tags": code_tags}))
        return Dataset(self.name, self.digest, source_type, source, self.schema, self.profile)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else int(value)


def from_pandas(
    df: Any,
    source: Any = None,
    targets: str | None = None,
    name: str | None = None,
    digest: str | None = None,
    predictions: str | None = None,
) -> PandasDataset:
    """A DataFrame as a dataset for ``log_input`` (MLflow's ``mlflow.data.from_pandas``)."""
    return PandasDataset(df, source, targets, name, digest, predictions)


def from_numpy(
    features: Any, source: Any = None, targets: Any = None, name: str | None = None, digest: str | None = None
) -> NumpyDataset:
    """Arrays as a dataset for ``log_input`` (MLflow's ``mlflow.data.from_numpy``)."""
    return NumpyDataset(features, source, targets, name, digest)
