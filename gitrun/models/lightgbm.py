"""``gitrun.lightgbm``: LightGBM models in MLflow's layout.

A ``lightgbm.Booster`` is saved with its own text format (``model.lgb``); the scikit-learn API
models (``LGBMClassifier``, ``LGBMRegressor``...) as scikit-learn models are (skops by default).
``loader_module: mlflow.lightgbm``, so MLflow loads them, and gitrun loads MLflow's. This flavor is
registered through the same hook a third-party flavor uses (``gitrun.models.plugin``).
``gitrun.lightgbm.autolog()`` logs every training (``gitrun.tracking.autolog.lightgbm``; docs/autolog.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gitrun.models.autolog import FlavorModelLogger
from gitrun.models.flavors import Flavor, LoadOptions, SavedFlavor, mlflow_module
from gitrun.models.logged import ModelInfo
from gitrun.models.mlmodel import MLModel
from gitrun.models.sklearn import SERIALIZATION_FORMAT_SKOPS, check_format, dump_estimator, load_estimator
from gitrun.tracking.autolog import integration
from gitrun.tracking.autolog import lightgbm as lightgbm_autolog

FLAVOR_NAME = "lightgbm"
LOADER_MODULE = mlflow_module("lightgbm")
BOOSTER_CLASS = "lightgbm.basic.Booster"
# The types a skops file of LightGBM's scikit-learn models holds; trusted by this flavor itself.
SKOPS_TRUSTED_TYPES = (
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "lightgbm.sklearn.LGBMRanker",
)

__all__ = ["FLAVOR_NAME", "autolog", "load_model", "log_model", "save_model"]


class LGBModelWrapper:
    """The pyfunc object of a LightGBM model."""

    def __init__(self, lgb_model: Any):
        self.lgb_model = lgb_model

    def get_raw_model(self) -> Any:
        return self.lgb_model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.lgb_model.predict(data)


def _class_name(model: Any) -> str:
    return f"{type(model).__module__}.{type(model).__name__}"


def _save(model: Any, model_dir: Path, options: Mapping[str, Any]) -> SavedFlavor:
    import lightgbm as lgb

    fmt = check_format(options.get("serialization_format") or SERIALIZATION_FORMAT_SKOPS)
    trusted = (
        sorted(set(SKOPS_TRUSTED_TYPES[:4]) | set(options.get("skops_trusted_types") or ()))
        if fmt == SERIALIZATION_FORMAT_SKOPS
        else options.get("skops_trusted_types")
    )
    if isinstance(model, lgb.Booster):
        data = "model.lgb"
        model.save_model(str(model_dir / data))
    else:
        data = "model.skops" if fmt == SERIALIZATION_FORMAT_SKOPS else "model.pkl"
        dump_estimator(model, model_dir / data, fmt, [*SKOPS_TRUSTED_TYPES, *(trusted or ())])
    code = options.get("code")
    conf = {
        "code": code,
        "data": data,
        "lgb_version": lgb.__version__,
        "model_class": _class_name(model),
        "serialization_format": fmt,
        "skops_trusted_types": trusted,
    }
    pyfunc: dict[str, Any] = {"loader_module": LOADER_MODULE, "data": data}
    if code:
        pyfunc["code"] = code
    return SavedFlavor(conf, pyfunc)


def _load(model_dir: Path, conf: Mapping[str, Any], options: LoadOptions) -> Any:
    path = model_dir / str(conf.get("data"))
    if conf.get("model_class", BOOSTER_CLASS) == BOOSTER_CLASS:
        import lightgbm as lgb

        return lgb.Booster(model_file=str(path))
    fmt = str(conf.get("serialization_format") or "cloudpickle")
    return load_estimator(path, fmt, conf.get("skops_trusted_types"), options, SKOPS_TRUSTED_TYPES)


def _load_pyfunc(data_path: Path, mlmodel: MLModel, options: LoadOptions) -> Any:
    model_dir = data_path.parent if data_path.is_file() else data_path
    conf = mlmodel.flavors.get(FLAVOR_NAME) or {"data": data_path.name, "model_class": BOOSTER_CLASS}
    return LGBModelWrapper(_load(model_dir, conf, options))


def _wrap(model: Any, model_dir: Path, pyfunc_conf: Mapping[str, Any]) -> Any:
    return LGBModelWrapper(model)


def _requirements(model: Any, conf: Mapping[str, Any]) -> list[str]:
    if conf.get("model_class") == BOOSTER_CLASS:
        return ["lightgbm"]
    fmt = conf.get("serialization_format")
    return (
        ["lightgbm", "skops" if fmt == SERIALIZATION_FORMAT_SKOPS else "cloudpickle"]
        if fmt != "pickle"
        else ["lightgbm"]
    )


FLAVOR = Flavor(
    name=FLAVOR_NAME,
    loader_modules=(LOADER_MODULE, "gitrun.lightgbm"),
    save=_save,
    load=_load,
    load_pyfunc=_load_pyfunc,
    wrap=_wrap,
    requirements=_requirements,
    module="gitrun.lightgbm",
    description="LightGBM boosters (native text format) and its scikit-learn estimators (skops by default)",
)


def save_model(
    lgb_model: Any,
    path: str | os.PathLike[str],
    conda_env: Any = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    mlflow_model: Any = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: Mapping[str, Any] | None = None,
    serialization_format: str | None = None,
    skops_trusted_types: Sequence[str] | None = None,
    **kwargs: Any,
) -> MLModel:
    """Save a LightGBM model as a model folder at ``path`` (MLflow's ``lightgbm.save_model``)."""
    from gitrun.models.pyfunc import _pip_from_conda
    from gitrun.models.save import save_model as save

    return save(
        FLAVOR,
        lgb_model,
        path,
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements if conda_env is None else _pip_from_conda(conda_env),
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        code_paths=code_paths,
        options={"serialization_format": serialization_format, "skops_trusted_types": skops_trusted_types},
    )


def log_model(
    lgb_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: Mapping[str, Any] | None = None,
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
    serialization_format: str | None = None,
    skops_trusted_types: Sequence[str] | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Log a LightGBM model into the active run as ``artifacts/<name>/``."""
    from gitrun.models.pyfunc import _pip_from_conda
    from gitrun.models.save import log_model as log

    return log(  # type: ignore[no-any-return]
        FLAVOR_NAME,
        lgb_model,
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
        options={"serialization_format": serialization_format, "skops_trusted_types": skops_trusted_types},
    )


def load_model(
    model_uri: str | os.PathLike[str],
    dst_path: str | os.PathLike[str] | None = None,
    *,
    rev: str | None = None,
    skops_trusted_types: Iterable[str] | None = None,
    safe: bool | None = None,
) -> Any:
    """The LightGBM model (a Booster, or a scikit-learn API estimator)."""
    from gitrun.models.loading import load_native

    return load_native(
        FLAVOR_NAME, model_uri, rev=rev, dst_path=dst_path, skops_trusted_types=skops_trusted_types, safe=safe
    )


@integration(FLAVOR_NAME)
def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    extra_tags: Mapping[str, Any] | None = None,
) -> None:
    """Enable (``disable=True``: disable) autologging of LightGBM, with MLflow's keys
    (``mlflow.lightgbm.autolog``; docs/autolog.md).

    ``lightgbm.train`` and the scikit-learn API's ``fit`` log the booster params, each
    iteration's evaluation results (``valid_0-multi_logloss``...), early stopping's best
    iteration, the feature importance (``feature_importance_{split,gain}.json``/``.png``) and the
    model. Without an active run, training runs in a run of its own."""
    lightgbm_autolog.enable(
        FlavorModelLogger(log_model),
        log_input_examples=log_input_examples,
        log_model_signatures=log_model_signatures,
        log_models=log_models,
        registered_model_name=registered_model_name,
        extra_tags=extra_tags,
    )
