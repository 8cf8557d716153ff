"""``gitrun.sklearn``: scikit-learn models, saved as MLflow 3 saves them (skops by default).

::

    info = gitrun.sklearn.log_model(model, name="model", input_example=X[:5])
    gitrun.sklearn.load_model(info.model_uri).predict(X)          # the estimator itself
    gitrun.pyfunc.load_model(info.model_uri).predict(X)           # through the signature

``serialization_format="cloudpickle"`` or ``"pickle"`` on request (loading those runs code);
``pyfunc_predict_fn="predict_proba"`` serves probabilities. MLflow's ``mlflow.sklearn.load_model``
and ``mlflow.pyfunc.load_model`` load these models, and gitrun loads MLflow's.
``gitrun.sklearn.autolog()`` logs every fit (``gitrun.tracking.autolog.sklearn``; docs/autolog.md).
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gitrun.errors import GitrunError, InvalidInputError
from gitrun.models.autolog import FlavorModelLogger
from gitrun.models.flavors import Flavor, LoadOptions, SavedFlavor, mlflow_module
from gitrun.models.logged import ModelInfo
from gitrun.models.mlmodel import MLModel
from gitrun.models.safety import UnsafeModelError, refuse_code, skops_load
from gitrun.tracking.autolog import integration
from gitrun.tracking.autolog import sklearn as sklearn_autolog

log = logging.getLogger(__name__)

FLAVOR_NAME = "sklearn"
LOADER_MODULE = mlflow_module("sklearn")
SERIALIZATION_FORMAT_SKOPS = "skops"
SERIALIZATION_FORMAT_PICKLE = "pickle"
SERIALIZATION_FORMAT_CLOUDPICKLE = "cloudpickle"
SUPPORTED_SERIALIZATION_FORMATS = [
    SERIALIZATION_FORMAT_SKOPS,
    SERIALIZATION_FORMAT_PICKLE,
    SERIALIZATION_FORMAT_CLOUDPICKLE,
]
_FILES = {
    SERIALIZATION_FORMAT_SKOPS: "model.skops",
    SERIALIZATION_FORMAT_PICKLE: "model.pkl",
    SERIALIZATION_FORMAT_CLOUDPICKLE: "model.pkl",
}
PICKLE_WARNING = (
    "Saving scikit-learn models in the pickle or cloudpickle format requires exercising caution because these "
    "formats rely on Python's object serialization mechanism, which can execute arbitrary code during "
    "deserialization. The recommended safe alternative is the 'skops' format."
)

__all__ = [
    "FLAVOR_NAME",
    "autolog",
    "SERIALIZATION_FORMAT_CLOUDPICKLE",
    "SERIALIZATION_FORMAT_PICKLE",
    "SERIALIZATION_FORMAT_SKOPS",
    "SUPPORTED_SERIALIZATION_FORMATS",
    "load_model",
    "log_model",
    "save_model",
]


class SklearnModelWrapper:
    """The pyfunc object of an estimator: ``predict``, and the estimator's ``predict_proba`` and the like."""

    CUSTOM_PREDICT_FNS = ("predict_proba", "predict_log_proba", "predict_joint_log_proba", "score")

    def __init__(self, sklearn_model: Any):
        self.sklearn_model = sklearn_model
        for name in self.CUSTOM_PREDICT_FNS:
            fn = getattr(sklearn_model, name, None)
            if fn is not None:
                setattr(self, name, fn)

    def get_raw_model(self) -> Any:
        return self.sklearn_model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.sklearn_model.predict(data)


def check_format(serialization_format: str) -> str:
    if serialization_format not in SUPPORTED_SERIALIZATION_FORMATS:
        raise InvalidInputError(
            f"unknown serialization_format {serialization_format!r}; use one of {', '.join(SUPPORTED_SERIALIZATION_FORMATS)}"
        )
    return serialization_format


def dump_estimator(model: Any, path: Path, serialization_format: str, trusted: Iterable[str] | None) -> None:
    """Write an estimator in ``serialization_format``; a skops file with types beyond ``trusted`` is refused."""
    if serialization_format == SERIALIZATION_FORMAT_SKOPS:
        import skops.io

        try:
            skops.io.dump(model, path)
        except Exception as exc:
            raise GitrunError(
                f"the model cannot be saved in the skops format ({type(exc).__name__}: {exc}); skops cannot save "
                "functions or classes defined inside other functions. Save it with "
                "serialization_format='cloudpickle' if you accept that loading it runs code"
            ) from None
        untrusted = sorted(set(skops.io.get_untrusted_types(file=path)) - set(trusted or ()))
        if untrusted:
            path.unlink()
            raise UnsafeModelError(
                f"the model holds types skops does not trust by default: {', '.join(untrusted)}. If loading them is "
                f"safe, say so: skops_trusted_types={untrusted!r} (they are recorded in the MLmodel)"
            )
        return
    log.warning(PICKLE_WARNING)
    with open(path, "wb") as f:
        if serialization_format == SERIALIZATION_FORMAT_PICKLE:
            pickle.dump(model, f, protocol=pickle.DEFAULT_PROTOCOL)
        else:
            import cloudpickle

            cloudpickle.dump(model, f, protocol=pickle.DEFAULT_PROTOCOL)


def load_estimator(
    path: Path,
    serialization_format: str,
    recorded: Iterable[str] | None,
    options: LoadOptions,
    flavor_types: Iterable[str] = (),
) -> Any:
    """Read an estimator file, checking what the format may run (``gitrun.models.safety``)."""
    check_format(serialization_format)
    if not path.is_file():
        raise GitrunError(f"the model file {path} is missing")
    if serialization_format == SERIALIZATION_FORMAT_SKOPS:
        return skops_load(path, recorded, options, flavor_types)
    refuse_code(f"a {serialization_format} file", path, options)
    with open(path, "rb") as f:
        if serialization_format == SERIALIZATION_FORMAT_PICKLE:
            return pickle.load(f)
        import cloudpickle

        return cloudpickle.load(f)


def _save(model: Any, model_dir: Path, options: Mapping[str, Any]) -> SavedFlavor:
    import sklearn

    fmt = check_format(options.get("serialization_format") or SERIALIZATION_FORMAT_SKOPS)
    trusted = options.get("skops_trusted_types")
    trusted = list(trusted) if trusted is not None else None
    data = _FILES[fmt]
    dump_estimator(model, model_dir / data, fmt, trusted)
    predict_fn = str(options.get("pyfunc_predict_fn") or "predict")
    code = options.get("code")
    conf = {
        "pickled_model": data,
        "sklearn_version": sklearn.__version__,
        "serialization_format": fmt,
        "code": code,
        "skops_trusted_types": trusted,
    }
    if not hasattr(model, predict_fn):
        log.warning("the model has no %r method: it is saved without the python_function flavor", predict_fn)
        return SavedFlavor(conf)
    pyfunc: dict[str, Any] = {"loader_module": LOADER_MODULE, "model_path": data, "predict_fn": predict_fn}
    if code:
        pyfunc["code"] = code
    return SavedFlavor(conf, pyfunc)


def _load(model_dir: Path, conf: Mapping[str, Any], options: LoadOptions) -> Any:
    fmt = str(conf.get("serialization_format") or SERIALIZATION_FORMAT_PICKLE)
    return load_estimator(model_dir / str(conf["pickled_model"]), fmt, conf.get("skops_trusted_types"), options)


def _load_pyfunc(data_path: Path, mlmodel: MLModel, options: LoadOptions) -> Any:
    model_dir = data_path.parent if data_path.is_file() else data_path
    conf = mlmodel.flavors.get(FLAVOR_NAME)
    if conf is None:  # MLflow's assumption for a model without its sklearn settings
        pyfunc = mlmodel.pyfunc or {}
        conf = {
            "pickled_model": pyfunc.get("model_path", data_path.name),
            "serialization_format": SERIALIZATION_FORMAT_PICKLE,
        }
    return SklearnModelWrapper(_load(model_dir, conf, options))


def _wrap(model: Any, model_dir: Path, pyfunc_conf: Mapping[str, Any]) -> Any:
    return SklearnModelWrapper(model)


def _requirements(model: Any, conf: Mapping[str, Any]) -> list[str]:
    fmt = conf.get("serialization_format")
    extra = (
        ["skops"]
        if fmt == SERIALIZATION_FORMAT_SKOPS
        else ["cloudpickle"]
        if fmt == SERIALIZATION_FORMAT_CLOUDPICKLE
        else []
    )
    return ["scikit-learn", *extra]


FLAVOR = Flavor(
    name=FLAVOR_NAME,
    loader_modules=(LOADER_MODULE, "gitrun.sklearn"),
    save=_save,
    load=_load,
    load_pyfunc=_load_pyfunc,
    wrap=_wrap,
    requirements=_requirements,
    module="gitrun.sklearn",
    description="scikit-learn estimators and pipelines (skops by default; pickle or cloudpickle on request)",
)


def _options(
    serialization_format: str | None, pyfunc_predict_fn: str, skops_trusted_types: Sequence[str] | None
) -> dict[str, Any]:
    return {
        "serialization_format": serialization_format or SERIALIZATION_FORMAT_SKOPS,
        "pyfunc_predict_fn": pyfunc_predict_fn,
        "skops_trusted_types": skops_trusted_types,
    }


def save_model(
    sk_model: Any,
    path: str | os.PathLike[str],
    conda_env: Any = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    mlflow_model: Any = None,
    serialization_format: str | None = SERIALIZATION_FORMAT_SKOPS,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    pyfunc_predict_fn: str = "predict",
    metadata: Mapping[str, Any] | None = None,
    skops_trusted_types: Sequence[str] | None = None,
    **kwargs: Any,
) -> MLModel:
    """Save an estimator as a model folder at ``path`` (MLflow's ``sklearn.save_model``)."""
    from gitrun.models.pyfunc import _pip_from_conda
    from gitrun.models.save import save_model as save

    return save(
        FLAVOR,
        sk_model,
        path,
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements if conda_env is None else _pip_from_conda(conda_env),
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        code_paths=code_paths,
        options=_options(serialization_format, pyfunc_predict_fn, skops_trusted_types),
    )


def log_model(
    sk_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    serialization_format: str | None = SERIALIZATION_FORMAT_SKOPS,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    pyfunc_predict_fn: str = "predict",
    metadata: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
    name: str | None = None,
    skops_trusted_types: Sequence[str] | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Log an estimator into the active run as ``artifacts/<name>/`` (MLflow's ``sklearn.log_model``).

    ``log_model(model, "model")`` and ``artifact_path=`` still work (with MLflow's deprecation
    warning); ``registered_model_name`` is recorded in the MLmodel for the registry."""
    from gitrun.models.pyfunc import _pip_from_conda
    from gitrun.models.save import log_model as log

    return log(  # type: ignore[no-any-return]
        FLAVOR_NAME,
        sk_model,
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
        options=_options(serialization_format, pyfunc_predict_fn, skops_trusted_types),
    )


def load_model(
    model_uri: str | os.PathLike[str],
    dst_path: str | os.PathLike[str] | None = None,
    *,
    rev: str | None = None,
    skops_trusted_types: Iterable[str] | None = None,
    safe: bool | None = None,
) -> Any:
    """The estimator of a sklearn model (``rev``: as committed at that revision)."""
    from gitrun.models.loading import load_native

    return load_native(
        FLAVOR_NAME, model_uri, rev=rev, dst_path=dst_path, skops_trusted_types=skops_trusted_types, safe=safe
    )


def _log_autologged_model(sk_model: Any, **kwargs: Any) -> ModelInfo:
    """``log_model`` for autolog. A fitted search holds scikit-learn's scorer and splitter, which
    skops does not trust by default: autolog trusts scikit-learn's own types (the MLmodel records
    them), never another package's, which stay refused (a warning: the model is not logged)."""
    try:
        return log_model(sk_model, **kwargs)
    except UnsafeModelError:
        if (kwargs.get("serialization_format") or SERIALIZATION_FORMAT_SKOPS) != SERIALIZATION_FORMAT_SKOPS:
            raise
        import skops.io

        untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(sk_model))
        if not untrusted or not all(name.startswith("sklearn.") for name in untrusted):
            raise
        log.info("autolog trusts scikit-learn's own types in the skops file: %s", ", ".join(untrusted))
        return log_model(sk_model, skops_trusted_types=untrusted, **kwargs)


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
    max_tuning_runs: int | None = 5,
    log_post_training_metrics: bool = True,
    serialization_format: str = SERIALIZATION_FORMAT_SKOPS,
    registered_model_name: str | None = None,
    pos_label: Any = None,
    extra_tags: Mapping[str, Any] | None = None,
) -> None:
    """Enable (``disable=True``: disable) autologging of scikit-learn fits, with MLflow's keys
    (``mlflow.sklearn.autolog``; docs/autolog.md).

    Each outermost ``fit`` logs ``get_params(deep=True)``, the ``estimator_name`` and
    ``estimator_class`` tags, training metrics by estimator type, the fitted model (``model``,
    skops by default) and, for ``GridSearchCV``/``RandomizedSearchCV``, ``best_*`` params,
    ``best_cv_score``, ``cv_results.csv`` and up to ``max_tuning_runs`` child runs. Metrics of
    ``sklearn.metrics`` on its predictions are logged as ``<metric>_<dataset variable>``. Without
    an active run, the fit runs in a run of its own (``exclusive=True``: always). ``silent``
    hides autolog's warnings and logs."""
    check_format(serialization_format)
    sklearn_autolog.enable(
        FlavorModelLogger(_log_autologged_model),
        FLAVOR_NAME,
        log_input_examples=log_input_examples,
        log_model_signatures=log_model_signatures,
        log_models=log_models,
        max_tuning_runs=max_tuning_runs,
        log_post_training_metrics=log_post_training_metrics,
        serialization_format=serialization_format,
        registered_model_name=registered_model_name,
        pos_label=pos_label,
        extra_tags=extra_tags,
    )
