"""Loading models: the generic ``python_function`` interface (:class:`PyFuncModel`) and native loads.

``load_pyfunc(uri)`` does what MLflow's ``pyfunc.load_model`` does, without MLflow: resolve the
URI (any revision), read the MLmodel, take its ``python_function`` flavor, put its code paths on
``sys.path``, find the flavor that declares its ``loader_module`` and call that flavor's pyfunc
loader with the ``data`` file (or the model folder). :meth:`PyFuncModel.predict` enforces the
signature first (``gitrun.models.enforce``).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitrun.errors import GitrunError
from gitrun.models.enforce import enforce_params, enforce_schema
from gitrun.models.flavors import MLFLOW, LoadOptions, UnknownFlavorError, flavor_for_loader, flavor_named
from gitrun.models.mlmodel import MAIN, PYFUNC, MLModel, read_mlmodel
from gitrun.models.requirements import mismatches, read_requirements
from gitrun.models.safety import load_options, refuse_code
from gitrun.models.uri import ModelLocation, materialize, resolve

if TYPE_CHECKING:
    from gitrun.store import ReadStore

log = logging.getLogger(__name__)


class PyFuncModel:
    """A model loaded through its ``python_function`` flavor: ``predict(data, params=None)``."""

    def __init__(
        self,
        metadata: MLModel,
        impl: Any,
        model_dir: Path,
        location: ModelLocation | None = None,
        predict_fn: str = "predict",
    ):
        if not hasattr(impl, predict_fn):
            raise GitrunError(f"the model in {model_dir} has no {predict_fn!r} method to predict with")
        self._metadata = metadata
        self._impl = impl
        self._predict = getattr(impl, predict_fn)
        self.model_dir = model_dir
        self.location = location
        try:
            parameters = inspect.signature(self._predict).parameters
            self._takes_params = "params" in parameters and parameters["params"].kind != inspect.Parameter.VAR_KEYWORD
        except (TypeError, ValueError):
            self._takes_params = False

    @property
    def metadata(self) -> MLModel:
        return self._metadata

    @property
    def model_id(self) -> str | None:
        return self._metadata.model_id

    @property
    def loader_module(self) -> str:
        conf = self._metadata.pyfunc or {}
        return str(conf.get(MAIN, ""))

    @property
    def input_example(self) -> Any:
        from gitrun.models.example import read_example

        found = read_example(self.model_dir, self._metadata.saved_input_example_info)
        return None if found is None else found[0]

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        """Predict on ``data`` after checking it against the model's signature (MLflow's rules)."""
        signature = self._metadata.signature
        if signature is not None and signature.inputs is not None and not signature.from_type_hint:
            data = enforce_schema(data, signature.inputs)
        checked = enforce_params(params, signature.params if signature is not None else None)
        if self._takes_params:
            return self._predict(data, params=checked)
        if checked:
            log.warning("the model's predict takes no params; ignoring %s", ", ".join(map(repr, checked)))
        return self._predict(data)

    def unwrap_python_model(self) -> Any:
        """The ``PythonModel`` instance of a ``gitrun.pyfunc`` / ``mlflow.pyfunc`` model."""
        python_model = getattr(self._impl, "python_model", None)
        if python_model is None:
            raise GitrunError("this model is not a PythonModel (it has no python_model to unwrap)")
        return python_model

    def get_raw_model(self) -> Any:
        """The native model under the pyfunc wrapper (the scikit-learn estimator, the LightGBM booster...)."""
        raw = getattr(self._impl, "get_raw_model", None)
        return raw() if callable(raw) else self._impl

    def __repr__(self) -> str:
        where = self.location.uri if self.location else str(self.model_dir)
        flavors = ", ".join(sorted(self._metadata.flavors))
        return f"PyFuncModel({where!r}, loader_module={self.loader_module!r}, flavors: {flavors})"


def open_model(
    uri: str | os.PathLike[str],
    *,
    rev: str | None = None,
    dst_path: str | os.PathLike[str] | None = None,
    store: ReadStore | None = None,
    location: ModelLocation | None = None,
) -> tuple[ModelLocation, Path, MLModel]:
    """Resolve ``uri`` (at ``rev``), bring its folder here and read its MLmodel; ``location``: where
    ``uri`` was already resolved to (a server that follows a stage loads what it resolved)."""
    from gitrun.tracking.state import current_store

    store = store if store is not None else current_store()
    if location is None:
        location = resolve(uri, rev=rev, store=store)
    model_dir = materialize(location, store)
    if dst_path is not None:
        dest = Path(dst_path)
        if not dest.is_dir():
            raise GitrunError(f"dst_path {str(dest)!r} must be an existing folder")
        copy = dest / (location.artifact_path or model_dir.name).replace("/", "_")
        shutil.copytree(model_dir, copy, dirs_exist_ok=True)
        model_dir = copy
    return location, model_dir, read_mlmodel(model_dir)


def _add_code_paths(model_dir: Path, code: Any, options: LoadOptions) -> None:
    if not code:
        return
    folder = model_dir / str(code)
    refuse_code("a model with code paths (its code/ folder is put on sys.path)", folder, options)
    entries = [str(folder)] + [str(p) for p in folder.iterdir() if p.is_dir()]
    for entry in entries:
        if entry not in sys.path:
            sys.path.insert(0, entry)


def _warn_mismatches(model_dir: Path, uri: str) -> None:
    different = mismatches(read_requirements(model_dir))
    if different:
        log.warning(
            "the model %s was saved with other versions of packages than this environment has: %s",
            uri,
            "; ".join(different),
        )


def load_pyfunc(
    uri: str | os.PathLike[str],
    *,
    rev: str | None = None,
    dst_path: str | os.PathLike[str] | None = None,
    skops_trusted_types: Iterable[str] | None = None,
    safe: bool | None = None,
    store: ReadStore | None = None,
    location: ModelLocation | None = None,
) -> PyFuncModel:
    """A model as a :class:`PyFuncModel`, whatever its flavor (MLflow's ``pyfunc.load_model``);
    ``location``: where ``uri`` was already resolved to."""
    location, model_dir, mlmodel = open_model(uri, rev=rev, dst_path=dst_path, store=store, location=location)
    conf = mlmodel.pyfunc
    if conf is None:
        raise GitrunError(
            f"the model {os.fspath(uri)!r} has no python_function flavor (its flavors: "
            f"{', '.join(sorted(mlmodel.flavors)) or 'none'}); load it with its own flavor, e.g. "
            f"gitrun.{next(iter(mlmodel.flavors), 'sklearn')}.load_model"
        )
    options = load_options(skops_trusted_types, safe)
    _warn_mismatches(model_dir, os.fspath(uri))
    _add_code_paths(model_dir, conf.get("code"), options)
    data_path = model_dir / str(conf["data"]) if conf.get("data") else model_dir
    impl = pyfunc_impl(mlmodel, data_path, options)
    return PyFuncModel(mlmodel, impl, model_dir, location, str(conf.get("predict_fn", "predict")))


def pyfunc_impl(mlmodel: MLModel, data_path: Path, options: LoadOptions) -> Any:
    """The object a model's ``loader_module`` makes of it: a gitrun flavor's, else (not for ``mlflow.*``
    modules: gitrun never imports MLflow) the module's own ``_load_pyfunc``, as MLflow calls it."""
    loader = str((mlmodel.pyfunc or {}).get(MAIN) or "")
    flavor = flavor_for_loader(loader)
    if flavor is not None and flavor.load_pyfunc is not None:
        return flavor.load_pyfunc(data_path, mlmodel, options)
    if not loader or loader.split(".")[0] == MLFLOW:
        raise UnknownFlavorError(
            f"no installed gitrun flavor loads models whose loader_module is {loader!r}; gitrun has "
            f"{', '.join(sorted(m for f in _flavors() for m in f.loader_modules))}. A flavor plugin can add it "
            "(docs/models.md)"
        )
    refuse_code(f"a model loaded by the module {loader!r} (its _load_pyfunc runs)", data_path, options)
    try:
        module = importlib.import_module(loader)
    except ImportError as exc:
        raise UnknownFlavorError(f"the model's loader_module {loader!r} cannot be imported: {exc}") from None
    return module._load_pyfunc(str(data_path))


def _flavors() -> list[Any]:
    from gitrun.models.flavors import all_flavors

    return list(all_flavors().values())


def load_native(
    flavor_name: str,
    uri: str | os.PathLike[str],
    *,
    rev: str | None = None,
    dst_path: str | os.PathLike[str] | None = None,
    skops_trusted_types: Iterable[str] | None = None,
    safe: bool | None = None,
    store: ReadStore | None = None,
) -> Any:
    """The native model object of a ``flavor_name`` model (``gitrun.sklearn.load_model`` and the like)."""
    flavor = flavor_named(flavor_name)
    if flavor.load is None:
        raise GitrunError(f"the {flavor_name} flavor has no native loader; use gitrun.pyfunc.load_model")
    _, model_dir, mlmodel = open_model(uri, rev=rev, dst_path=dst_path, store=store)
    conf = mlmodel.flavors.get(flavor_name)
    if conf is None:
        raise GitrunError(
            f"the model {os.fspath(uri)!r} has no {flavor_name} flavor (its flavors: {', '.join(sorted(mlmodel.flavors))})"
        )
    options = load_options(skops_trusted_types, safe)
    _add_code_paths(model_dir, conf.get("code"), options)
    return flavor.load(model_dir, conf, options)


__all__ = ["PYFUNC", "PyFuncModel", "load_native", "load_pyfunc", "open_model", "pyfunc_impl"]
