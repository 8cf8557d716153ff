"""``gitrun.pyfunc``: custom Python models and the generic ``python_function`` interface.

::

    class AddN(gitrun.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input["x"] + (params or {}).get("n", 1)

    info = gitrun.pyfunc.log_model(name="adder", python_model=AddN(), input_example=pd.DataFrame({"x": [1.0]}))
    gitrun.pyfunc.load_model(info.model_uri).predict(pd.DataFrame({"x": [2.0]}))

The model is saved as MLflow saves it (``python_model.pkl`` by cloudpickle, ``loader_module:
mlflow.pyfunc.model``), so ``mlflow.pyfunc.load_model`` loads it, without gitrun installed: the
base classes travel inside the pickle. Loading a cloudpickle runs the code it holds (see
``gitrun.models.safety``).
"""

from __future__ import annotations

import inspect
import os
import pickle
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gitrun.errors import GitrunError, InvalidInputError
from gitrun.models.flavors import Flavor, LoadOptions, SavedFlavor, mlflow_module
from gitrun.models.loading import PyFuncModel, load_pyfunc
from gitrun.models.logged import ModelInfo
from gitrun.models.mlmodel import PYFUNC, MLModel
from gitrun.models.python_model import FunctionPythonModel, PythonModel, PythonModelContext, TypeHints
from gitrun.models.safety import refuse_code

FLAVOR_NAME = PYFUNC
LOADER_MODULE = mlflow_module("pyfunc.model")
MODEL_FILE = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"
_COMPRESSION = {"lzma": ".xz", "bzip2": ".bz2", "gzip": ".gz"}

__all__ = [
    "FLAVOR_NAME",
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "load_model",
    "load_pyfunc",
    "log_model",
    "save_model",
]

# MLflow's classes a pickled MLflow model refers to, read as gitrun's own (same attributes), so
# loading a model saved by mlflow.pyfunc.save_model does not import MLflow.
_MLFLOW_CLASSES: dict[tuple[str, str], type] = {
    (LOADER_MODULE, "PythonModel"): PythonModel,
    (mlflow_module("pyfunc"), "PythonModel"): PythonModel,
    (LOADER_MODULE, "_FunctionPythonModel"): FunctionPythonModel,
    (LOADER_MODULE, "PythonModelContext"): PythonModelContext,
    (mlflow_module("pyfunc"), "PythonModelContext"): PythonModelContext,
    (mlflow_module("models.signature"), "_TypeHints"): TypeHints,
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        mapped = _MLFLOW_CLASSES.get((module, name))
        return mapped if mapped is not None else super().find_class(module, name)


def _open(path: Path, compression: str | None) -> Any:
    if compression == "lzma":
        import lzma

        return lzma.open(path, "rb")
    if compression == "bzip2":
        import bz2

        return bz2.open(path, "rb")
    if compression == "gzip":
        import gzip

        return gzip.open(path, "rb")
    return open(path, "rb")


def _takes_context(func: Any) -> bool:
    """MLflow's rule: ``predict(self, context, model_input, ...)``, or any two arguments besides params."""
    parameters = inspect.signature(func).parameters
    return "context" in parameters or len([p for p in parameters if p not in ("self", "params")]) == 2


class _PythonModelWrapper:
    """The pyfunc object of a PythonModel: ``predict(data, params=None)`` with the model's context."""

    def __init__(self, python_model: Any, context: PythonModelContext):
        self.python_model = python_model
        self.context = context

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        parameters = inspect.signature(self.python_model.predict).parameters
        kwargs = {"params": params} if "params" in parameters else {}
        if _takes_context(self.python_model.predict):
            return self.python_model.predict(self.context, model_input, **kwargs)
        return self.python_model.predict(model_input, **kwargs)

    def predict_stream(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        if _takes_context(self.python_model.predict_stream):
            return self.python_model.predict_stream(self.context, model_input, params=params)
        return self.python_model.predict_stream(model_input, params=params)

    def get_raw_model(self) -> Any:
        return self.python_model


def _context(model_dir: Path, conf: Mapping[str, Any]) -> PythonModelContext:
    artifacts = {name: str(model_dir / str(info["path"])) for name, info in (conf.get("artifacts") or {}).items()}
    return PythonModelContext(artifacts, conf.get("config"))


def _copy_artifacts(artifacts: Mapping[str, str | os.PathLike[str]], model_dir: Path) -> dict[str, dict[str, str]]:
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    out: dict[str, dict[str, str]] = {}
    folder = model_dir / ARTIFACTS_DIR
    for name, uri in artifacts.items():
        text = os.fspath(uri)
        source = Path(url2pathname(urlparse(text).path)) if text.startswith("file:") else Path(text)
        if not source.exists():
            raise InvalidInputError(f"artifact {name!r}: {text!r} does not exist (give a local path or a file: URI)")
        rel = source.name
        n = 1
        while (folder / rel).exists():
            n += 1
            rel = f"{source.stem}_{n}{source.suffix}"
        folder.mkdir(exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, folder / rel)
        else:
            shutil.copy2(source, folder / rel)
        out[str(name)] = {"path": f"{ARTIFACTS_DIR}/{rel}", "uri": text}
    return out


def _save(python_model: Any, model_dir: Path, options: Mapping[str, Any]) -> SavedFlavor:
    import cloudpickle

    from gitrun.models import python_model as base_module

    if python_model is None:
        raise InvalidInputError("python_model is required: a PythonModel instance or a function f(model_input)")
    if not isinstance(python_model, PythonModel) and callable(python_model):
        python_model = FunctionPythonModel(python_model)
    if not hasattr(python_model, "predict"):
        raise InvalidInputError(f"python_model must be a PythonModel or a function, got {type(python_model).__name__}")
    conf: dict[str, Any] = {"cloudpickle_version": cloudpickle.__version__, "code": options.get("code")}
    # gitrun's base classes go inside the pickle, so loading it needs no gitrun.
    cloudpickle.register_pickle_by_value(base_module)
    try:
        with open(model_dir / MODEL_FILE, "wb") as f:
            cloudpickle.dump(python_model, f, protocol=pickle.DEFAULT_PROTOCOL)
    except Exception as exc:
        raise GitrunError(
            f"cannot serialize the python model ({type(exc).__name__}: {exc}); define its class at the top level of "
            "a module and pass that file in code_paths"
        ) from None
    finally:
        cloudpickle.unregister_pickle_by_value(base_module)
    conf["python_model"] = MODEL_FILE
    if options.get("artifacts"):
        conf["artifacts"] = _copy_artifacts(options["artifacts"], model_dir)
    if options.get("model_config"):
        conf["config"] = dict(options["model_config"])
    streamable = options.get("streamable")
    if streamable is None:
        streamable = type(python_model).predict_stream is not PythonModel.predict_stream
    conf["streamable"] = bool(streamable)
    return SavedFlavor(conf={}, pyfunc={"loader_module": LOADER_MODULE, **conf})


def _load_python_model(model_dir: Path, conf: Mapping[str, Any], options: LoadOptions) -> Any:
    name = conf.get("python_model")
    if not name:
        raise GitrunError(
            f"{model_dir}: the python_function flavor names no python_model file (a models-from-code model? "
            "gitrun loads pickled python models)"
        )
    path = model_dir / str(name)
    refuse_code("a cloudpickle file (a PythonModel)", path, options)
    try:
        with _open(path, conf.get("compression")) as f:
            return _Unpickler(f).load()
    except ModuleNotFoundError as exc:
        raise GitrunError(
            f"the python model in {path} needs the module {exc.name!r}, which is not installed (pip install it, "
            "or log the model with code_paths=[...])"
        ) from None


def _load_pyfunc(data_path: Path, mlmodel: MLModel, options: LoadOptions) -> Any:
    model_dir = data_path if data_path.is_dir() else data_path.parent
    conf = mlmodel.pyfunc or {}
    python_model = _load_python_model(model_dir, conf, options)
    context = _context(model_dir, conf)
    python_model.load_context(context)
    return _PythonModelWrapper(python_model, context)


def _wrap(python_model: Any, model_dir: Path, conf: Mapping[str, Any]) -> Any:
    if not isinstance(python_model, PythonModel) and callable(python_model):
        python_model = FunctionPythonModel(python_model)
    context = _context(model_dir, conf)
    python_model.load_context(context)
    return _PythonModelWrapper(python_model, context)


def _requirements(python_model: Any, conf: Mapping[str, Any]) -> list[str]:
    return ["cloudpickle"]


FLAVOR = Flavor(
    name=FLAVOR_NAME,
    loader_modules=(LOADER_MODULE, "gitrun.pyfunc"),
    save=_save,
    load_pyfunc=_load_pyfunc,
    wrap=_wrap,
    requirements=_requirements,
    module="gitrun.pyfunc",
    description="custom Python models (PythonModel subclasses or functions), pickled by cloudpickle",
)


def _pip_from_conda(conda_env: Any) -> list[str] | None:
    if conda_env is None:
        return None
    import yaml

    data = (
        yaml.safe_load(Path(conda_env).read_text(encoding="utf-8"))
        if isinstance(conda_env, (str, os.PathLike))
        else conda_env
    )
    pips = [d for d in (data or {}).get("dependencies", []) if isinstance(d, Mapping) and "pip" in d]
    return [str(r) for r in (pips[0]["pip"] if pips else []) if not str(r).startswith("mlflow")]


def save_model(
    path: str | os.PathLike[str],
    loader_module: str | None = None,
    data_path: str | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    conda_env: Any = None,
    mlflow_model: Any = None,
    python_model: Any = None,
    artifacts: Mapping[str, str | os.PathLike[str]] | None = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: Mapping[str, Any] | None = None,
    model_config: Mapping[str, Any] | None = None,
    streamable: bool | None = None,
    **kwargs: Any,
) -> MLModel:
    """Save a PythonModel (or a function ``f(model_input)``) as a model folder at ``path``."""
    from gitrun.models.save import save_model as save

    if loader_module is not None or data_path is not None:
        raise InvalidInputError(
            "loader_module= and data_path= (MLflow's custom-loader form) are not supported; write a flavor plugin "
            "(docs/models.md) or wrap the model in a PythonModel"
        )
    return save(
        FLAVOR,
        python_model,
        path,
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements if conda_env is None else _pip_from_conda(conda_env),
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        code_paths=code_paths,
        options={"artifacts": artifacts, "model_config": model_config, "streamable": streamable},
    )


def log_model(
    artifact_path: str | None = None,
    loader_module: str | None = None,
    data_path: str | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    conda_env: Any = None,
    python_model: Any = None,
    artifacts: Mapping[str, str | os.PathLike[str]] | None = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: Mapping[str, Any] | None = None,
    model_config: Mapping[str, Any] | None = None,
    streamable: bool | None = None,
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Log a PythonModel into the active run as ``artifacts/<name>/`` (MLflow's ``pyfunc.log_model``)."""
    from gitrun.models.save import log_model as log

    if loader_module is not None or data_path is not None:
        raise InvalidInputError("loader_module= and data_path= are not supported; see gitrun.pyfunc.save_model")
    return log(  # type: ignore[no-any-return]
        FLAVOR_NAME,
        python_model,
        name=name,
        artifact_path=artifact_path,
        registered_model_name=registered_model_name,
        params=params,
        tags=tags,
        model_type=model_type,
        step=step,
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements if conda_env is None else _pip_from_conda(conda_env),
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        code_paths=code_paths,
        options={"artifacts": artifacts, "model_config": model_config, "streamable": streamable},
    )


def load_model(
    model_uri: str | os.PathLike[str],
    suppress_warnings: bool = False,
    dst_path: str | os.PathLike[str] | None = None,
    model_config: Mapping[str, Any] | None = None,
    *,
    rev: str | None = None,
    skops_trusted_types: Iterable[str] | None = None,
    safe: bool | None = None,
) -> PyFuncModel:
    """Load any model through its ``python_function`` flavor (``rev``: as committed at that revision)."""
    return load_pyfunc(model_uri, rev=rev, dst_path=dst_path, skops_trusted_types=skops_trusted_types, safe=safe)
