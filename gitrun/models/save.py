"""Saving a model directory and logging it into a run: the steps every flavor shares.

``save_model`` writes, in MLflow's order: the input example files, the flavor's serialized model,
the code paths (``code/``), then ``MLmodel`` (its ``model_size_bytes`` counts what was written so
far, as MLflow counts it), then ``conda.yaml``, ``requirements.txt`` and ``python_env.yaml``. A
signature is inferred from the input example when none is given (``signature=False``: none).

``log_model`` saves into a temp folder of the active run's ``artifacts/`` and renames it to
``artifacts/<name>/`` (docs/format.md): the model appears whole or not at all. It returns a
:class:`~gitrun.models.logged.ModelInfo` whose ``model_uri`` is MLflow 3's ``models:/m-<id>``.
"""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gitrun.errors import GitrunError, InvalidInputError
from gitrun.models.example import Example, encode_example
from gitrun.models.flavors import Flavor, SavedFlavor, flavor_named
from gitrun.models.mlmodel import (
    CONDA_FILE,
    PYFUNC,
    PYTHON_ENV_FILE,
    MLModel,
    directory_size,
    new_model_id,
    write_mlmodel,
)
from gitrun.models.requirements import infer_requirements, python_version, resolve_requirements, write_environment
from gitrun.models.signature import ModelSignature

log = logging.getLogger(__name__)

CODE_DIR = "code"
ARTIFACT_PATH_DEPRECATED = "`artifact_path` is deprecated. Please use `name` instead."  # MLflow's words
_BAD_NAME_CHARS = ("/", ":", ".", "%", '"', "'")  # MLflow 3's rule for a logged model's name


def _prepare_dir(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise GitrunError(f"cannot save a model to {path}: it exists and is not an empty folder; choose another path")
    path.mkdir(parents=True, exist_ok=True)


def copy_code_paths(code_paths: Sequence[str | os.PathLike[str]] | None, model_dir: Path) -> str | None:
    """Copy the user's code files or folders into ``code/``; returns ``"code"`` or None."""
    if not code_paths:
        return None
    if isinstance(code_paths, (str, os.PathLike)):
        raise InvalidInputError("code_paths must be a list of paths, e.g. code_paths=['my_module.py']")
    target = model_dir / CODE_DIR
    target.mkdir()
    for entry in code_paths:
        source = Path(entry)
        if not source.exists():
            raise InvalidInputError(f"code path {str(source)!r} does not exist")
        if source.is_dir():
            shutil.copytree(source, target / source.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target / source.name)
    return CODE_DIR


def infer_from_example(
    flavor: Flavor, model: Any, model_dir: Path, pyfunc_conf: Mapping[str, Any] | None, example: Example
) -> ModelSignature | None:
    """The signature MLflow infers from an input example: the example's schema, and the schema of what
    the model predicts on it. None (with a warning) when the model cannot predict the example."""
    from gitrun.models.enforce import enforce_params, enforce_schema
    from gitrun.models.infer import infer_param_schema, infer_schema

    if flavor.wrap is None or pyfunc_conf is None:
        return None
    try:
        import copy

        data = copy.deepcopy(example.data)
        inputs = infer_schema(data)
        params_schema = infer_param_schema(example.params) if example.params else None
        data = enforce_schema(data, inputs)
        params = enforce_params(example.params, params_schema)
        predictor = flavor.wrap(model, model_dir, pyfunc_conf)
        predict = getattr(predictor, str(pyfunc_conf.get("predict_fn", "predict")))
        output = _call_predict(predict, data, params)
        import sys

        np = sys.modules.get("numpy")
        if not inputs.is_tensor_spec() and np is not None and isinstance(output, np.ndarray) and output.ndim == 1:
            import pandas as pd

            output = pd.Series(output)  # row predictions of a table: one column, as MLflow infers it
        try:
            outputs = infer_schema(output)
        except Exception:
            from gitrun.models.signature import AnyType, ColSpec, Schema

            outputs = Schema([ColSpec(AnyType())])
        return ModelSignature(inputs, outputs, params_schema)
    except Exception as exc:
        log.warning("could not infer the model's signature from the input example (%s: %s)", type(exc).__name__, exc)
        return None


def _call_predict(predict: Any, data: Any, params: Any) -> Any:
    import inspect

    try:
        takes_params = "params" in inspect.signature(predict).parameters
    except (TypeError, ValueError):
        takes_params = False
    return predict(data, params=params) if takes_params else predict(data)


def save_model(
    flavor: str | Flavor,
    model: Any,
    path: str | os.PathLike[str],
    *,
    signature: ModelSignature | bool | None = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: Mapping[str, Any] | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    base: MLModel | None = None,
    options: Mapping[str, Any] | None = None,
) -> MLModel:
    """Save ``model`` with ``flavor`` into the folder ``path``; returns its MLmodel."""
    flavor = flavor_named(flavor) if isinstance(flavor, str) else flavor
    if flavor.save is None:
        raise GitrunError(f"the {flavor.name} flavor cannot save models")
    if signature is not None and not isinstance(signature, (ModelSignature, bool)):
        raise InvalidInputError(
            f"signature must be a ModelSignature (see gitrun.models.infer_signature), got {type(signature).__name__}"
        )
    model_dir = Path(path)
    _prepare_dir(model_dir)
    example = encode_example(input_example) if input_example is not None else None
    if example is not None:
        example.save(model_dir)
    code = copy_code_paths(code_paths, model_dir)
    saved: SavedFlavor = flavor.save(model, model_dir, {**(options or {}), "code": code})
    if signature is None and example is not None:
        signature = infer_from_example(flavor, model, model_dir, saved.pyfunc, example)
    flavors: dict[str, Any] = {}
    if saved.pyfunc is not None:
        conf = dict(saved.pyfunc)
        conf.setdefault("loader_module", flavor.loader_modules[0])
        conf["python_version"] = python_version()
        conf["env"] = {"conda": CONDA_FILE, "virtualenv": PYTHON_ENV_FILE}
        flavors[PYFUNC] = conf
    if flavor.name != PYFUNC:
        flavors[flavor.name] = saved.conf
    elif PYFUNC in flavors:
        flavors[PYFUNC].update(saved.conf)
    from dataclasses import replace

    mlmodel = replace(
        base or MLModel(),
        flavors=flavors,
        signature=signature if isinstance(signature, ModelSignature) else None,
        saved_input_example_info=example.info if example is not None else None,
        metadata=dict(metadata) if metadata is not None else None,
        model_size_bytes=directory_size(model_dir) or None,
    )
    write_mlmodel(model_dir, mlmodel)
    inferred: list[str] = []
    if pip_requirements is None:
        flavor_dists = list(flavor.requirements(model, saved.conf)) if flavor.requirements else []
        inferred = infer_requirements(flavor_dists, model)
    requirements, constraints = resolve_requirements(inferred, pip_requirements, extra_pip_requirements)
    write_environment(model_dir, requirements, constraints)
    return mlmodel


def model_name(name: str | None, artifact_path: str | None) -> str:
    """The name a model is logged under: ``name``, or the deprecated ``artifact_path`` (with MLflow's warning)."""
    from gitrun.store.validation import validate_artifact_path

    if name is not None and artifact_path is not None:
        raise InvalidInputError(
            "Both `artifact_path` (deprecated) and `name` parameters were specified. Please only specify `name`."
        )
    if artifact_path is not None:
        warnings.warn(ARTIFACT_PATH_DEPRECATED, FutureWarning, stacklevel=4)
        rel = validate_artifact_path(artifact_path, writing=True)
        if not rel:
            raise InvalidInputError("artifact_path must name a folder, e.g. 'model'")
        return rel
    if name is None:
        return "model"
    if not name or any(c in name for c in _BAD_NAME_CHARS):
        raise InvalidInputError(
            f"invalid model name {name!r}: it must be non-empty and may not contain any of {' '.join(_BAD_NAME_CHARS)}"
        )
    return validate_artifact_path(name, writing=True)


def log_model(
    flavor: str,
    model: Any,
    *,
    name: str | None = None,
    artifact_path: str | None = None,
    registered_model_name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    model_type: str | None = None,
    step: int = 0,
    **save_kwargs: Any,
) -> Any:
    """Save ``model`` into the active run (starting one if none is active) as ``artifacts/<name>/``."""
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    from gitrun.models.logged import ModelInfo, remember_logged
    from gitrun.store import textio
    from gitrun.tracking import fluent

    rel = model_name(name, artifact_path)
    run = fluent.active_run() or fluent.start_run()
    artifacts = Path(url2pathname(urlparse(run.info.artifact_uri).path))
    target = artifacts / rel
    if target.exists():
        raise InvalidInputError(
            f"run {run.info.run_id} already has an artifact {rel!r}; log the model under another name (name=...)"
        )
    model_id = new_model_id()
    logged = {
        k: v
        for k, v in (
            ("registered_model_name", registered_model_name),
            ("model_type", model_type),
            ("params", {str(k): str(v) for k, v in (params or {}).items()} or None),
            ("tags", {str(k): str(v) for k, v in (tags or {}).items()} or None),
            ("step", step or None),
        )
        if v is not None
    }
    base = MLModel(model_uuid=model_id, model_id=model_id, run_id=run.info.run_id, artifact_path=rel)
    if logged:
        base = _with_extra(base, {"logged_model": logged})
    textio.make_dirs(target.parent)
    tmp = textio.temp_path(target)
    try:
        mlmodel = save_model(flavor, model, tmp, base=base, **save_kwargs)
        os.rename(tmp, target)
    except OSError as exc:
        raise textio.write_error(target, exc, "the run is unchanged") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    remember_logged(model_id, target)
    info = ModelInfo.from_mlmodel(mlmodel, target)
    if registered_model_name is not None:
        from dataclasses import replace

        from gitrun.plugins import get_plugin_manager

        # the registry records it in the run (PENDING_REGISTRATION); `gitrun commit` registers it
        version = get_plugin_manager().hook.gitrun_register_model(
            model_uri=f"runs:/{run.info.run_id}/{rel}", name=registered_model_name, tags=None
        )
        if version is not None:
            info = replace(info, registered_model_version=int(version.version))
    return info


def _with_extra(model: MLModel, extra: Mapping[str, Any]) -> MLModel:
    from dataclasses import replace

    return replace(model, extra={**model.extra, **extra})
