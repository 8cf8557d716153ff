"""``gitrun.evaluate``: MLflow's default evaluator, with its metric names and artifacts.

``evaluate(model, data, targets="label", model_type="classifier")`` predicts on ``data``, logs the
metrics MLflow's default evaluator logs (classifier: ``accuracy_score``, ``f1_score``, ``log_loss``,
``roc_auc``, the confusion counts of a binary problem...; regressor: ``mean_squared_error``,
``r2_score``...; ``score`` for scikit-learn models) into the active run (one is started when none
is) and links them to the logged model being evaluated (MLflow 3's ``model_id``). It logs the
same artifacts (``confusion_matrix.png``, ``roc_curve_plot.png``, ``precision_recall_curve_plot.png``,
``lift_curve_plot.png``, ``calibration_curve_plot.png``, ``per_class_metrics.csv``) and records the
evaluation dataset as an input of the run, named and hashed as MLflow does (``dataset``, an
8-character digest). Needs scikit-learn (and matplotlib for the plots).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitrun import tags
from gitrun.data import DATASET_NAME, pandas_digest
from gitrun.errors import GitrunError, InvalidInputError

log = logging.getLogger(__name__)

CLASSIFIER, REGRESSOR = "classifier", "regressor"


@dataclass(frozen=True)
class EvaluationArtifact:
    """One artifact ``evaluate`` logged: its run-relative ``uri`` and the local file."""

    uri: str
    path: Path


@dataclass(frozen=True)
class EvaluationResult:
    metrics: dict[str, float]
    artifacts: dict[str, EvaluationArtifact]
    run_id: str


@dataclass(frozen=True)
class EvaluationMetric:
    """An extra metric (MLflow's ``make_metric``): ``eval_fn(predictions, targets, metrics)`` returns a
    number (or an object with an ``aggregate_results`` mapping)."""

    eval_fn: Callable[..., Any]
    greater_is_better: bool = True
    name: str = ""
    long_name: str | None = None
    version: str | None = None
    metric_details: str | None = None
    metric_metadata: dict[str, Any] = field(default_factory=dict)


def make_metric(
    *, eval_fn: Callable[..., Any], greater_is_better: bool, name: str | None = None, **kwargs: Any
) -> EvaluationMetric:
    return EvaluationMetric(
        eval_fn,
        greater_is_better,
        name or eval_fn.__name__,
        **{k: v for k, v in kwargs.items() if k in ("long_name", "version", "metric_details", "metric_metadata")},
    )


def _dataset_entity(frame: Any, run_tags: Mapping[str, str]) -> dict[str, str]:
    from gitrun.models.infer import infer_schema

    source = {
        "tags": {
            k: v for k, v in run_tags.items() if k in (tags.USER, tags.SOURCE_NAME, tags.SOURCE_TYPE, tags.GIT_COMMIT)
        }
    }
    return {
        "name": DATASET_NAME,
        "digest": pandas_digest(frame),
        "source_type": "code",
        "source": json.dumps(source),
        "schema": json.dumps({"mlflow_colspec": infer_schema(frame).to_dict()}),
        "profile": json.dumps({"num_rows": len(frame), "num_elements": int(frame.size)}),
    }


def _model_of(model: Any, model_id: str | None) -> tuple[Any, str | None]:
    """``(PyFuncModel or callable, its logged model ID)`` of what ``evaluate`` was given."""
    from gitrun.models.loading import PyFuncModel, load_pyfunc

    if isinstance(model, str):
        model = load_pyfunc(model)
    if isinstance(model, PyFuncModel):
        found = model.model_id
        if model_id is not None and found is not None and model_id != found:
            raise InvalidInputError(
                f"model_id {model_id!r} contradicts the model's own ID {found!r}; give one or neither"
            )
        return model, model_id or found
    if model is None or callable(model):
        return model, model_id
    raise InvalidInputError(
        f"model must be a model URI, a loaded PyFuncModel, a function or None; got {type(model).__name__}"
    )


def _raw_sklearn(model: Any) -> Any:
    """The estimator under a sklearn pyfunc model (MLflow uses its predict, predict_proba and score)."""
    from gitrun.models.flavors import mlflow_module
    from gitrun.models.loading import PyFuncModel

    raw_flavors = tuple(mlflow_module(name) for name in ("sklearn", "xgboost", "catboost"))
    if isinstance(model, PyFuncModel) and model.loader_module in raw_flavors:
        return model.get_raw_model()
    return None


def evaluate(
    model: Any = None,
    data: Any = None,
    *,
    model_type: str | None = None,
    targets: str | Sequence[Any] | None = None,
    predictions: str | None = None,
    dataset_path: str | None = None,
    feature_names: Sequence[str] | None = None,
    evaluators: str | Sequence[str] | None = None,
    evaluator_config: Mapping[str, Any] | None = None,
    extra_metrics: Sequence[EvaluationMetric | Callable[..., Any]] | None = None,
    custom_artifacts: Sequence[Callable[..., Any]] | None = None,
    env_manager: str = "local",
    model_config: Mapping[str, Any] | None = None,
    inference_params: Mapping[str, Any] | None = None,
    model_id: str | None = None,
) -> EvaluationResult:
    """Evaluate a model on ``data`` as MLflow's default evaluator does; returns the metrics and artifacts."""
    import numpy as np
    import pandas as pd

    from gitrun.tracking import fluent
    from gitrun.tracking.inputs import log_dataset_input

    if model_type not in (CLASSIFIER, REGRESSOR, None):
        raise InvalidInputError(f"model_type {model_type!r} is not supported; use 'classifier' or 'regressor'")
    names = [evaluators] if isinstance(evaluators, str) else list(evaluators or ["default"])
    unknown = [n for n in names if n != "default"]
    if unknown:
        raise InvalidInputError(f"unknown evaluators {unknown}; gitrun has the 'default' evaluator")
    if env_manager != "local":
        raise InvalidInputError("gitrun evaluates in this Python environment only (env_manager='local')")
    if model_type is None and not extra_metrics:
        raise InvalidInputError("give a model_type ('classifier' or 'regressor'), or extra_metrics to compute")
    config = dict(evaluator_config or {})
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(np.asarray(data))
    if isinstance(targets, str):
        if targets not in frame.columns:
            raise InvalidInputError(
                f"targets {targets!r} is not a column of the data (columns: {', '.join(map(str, frame.columns))})"
            )
        y_true = frame[targets].to_numpy()
        features = frame.drop(columns=[targets])
    elif targets is not None:
        y_true = np.asarray(targets)
        features = frame
    else:
        if model_type is not None:
            raise InvalidInputError(f"targets (a column name or the labels) is required for a {model_type}")
        y_true, features = None, frame
    if predictions is not None:
        features = features.drop(columns=[predictions])
    if feature_names is not None:
        features = features[list(feature_names)]
    model, model_id = _model_of(model, model_id)
    raw = _raw_sklearn(model)
    if model is None:
        if predictions is None:
            raise InvalidInputError("without a model, give predictions= (the column holding them)")
        y_pred = frame[predictions].to_numpy()
    elif raw is not None:
        y_pred = np.asarray(_single_output(raw.predict(features.copy())))
    elif hasattr(model, "predict"):
        y_pred = np.asarray(_single_output(model.predict(features.copy(), params=dict(inference_params or {}) or None)))
    else:
        y_pred = np.asarray(_single_output(model(features.copy())))
    y_probs = (
        raw.predict_proba(features.copy())
        if raw is not None and hasattr(raw, "predict_proba") and model_type == CLASSIFIER
        else None
    )
    sample_weights = config.get("sample_weights")

    metrics: dict[str, float] = {}
    if raw is not None and hasattr(raw, "score") and y_true is not None:
        try:
            metrics["score"] = float(raw.score(features.copy(), y_true, sample_weight=sample_weights))
        except Exception as exc:
            log.warning("computing the scikit-learn model's score failed: %r", exc)
    plots: dict[str, Callable[[], None]] = {}
    tables: dict[str, Any] = {}
    if model_type == CLASSIFIER:
        from gitrun.models import evaluate_classifier

        metrics.update(evaluate_classifier.metrics(y_true, y_pred, y_probs, config, plots, tables))
    elif model_type == REGRESSOR:
        metrics.update(_regressor_metrics(y_true, y_pred, sample_weights))
    for metric in extra_metrics or ():
        metric = metric if isinstance(metric, EvaluationMetric) else make_metric(eval_fn=metric, greater_is_better=True)
        value = metric.eval_fn(pd.Series(y_pred), pd.Series(y_true) if y_true is not None else None, dict(metrics))
        aggregates = getattr(value, "aggregate_results", None)
        if isinstance(aggregates, Mapping):
            metrics.update({f"{metric.name}/{k}": float(v) for k, v in aggregates.items()})
        elif value is not None:
            metrics[metric.name] = float(value)
    prefix = str(config.get("metric_prefix", ""))
    metrics = {f"{prefix}{k}": _number(v) for k, v in metrics.items()}

    run = fluent.active_run() or fluent.start_run()
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    run_dir = Path(url2pathname(urlparse(run.info.artifact_uri).path)).parent
    dataset = _dataset_entity(frame, run.data.tags)
    log_dataset_input(run_dir, dataset, {tags.DATA_CONTEXT: prefix} if prefix else None)
    _tag_dataset(run.info.run_id, dataset, model)
    fluent.log_metrics(
        metrics, step=0, model_id=model_id, dataset=_Dataset(dataset["name"], dataset["digest"]), run_id=run.info.run_id
    )
    artifacts = _log_artifacts(run.info.run_id, prefix, plots, tables)
    for make in custom_artifacts or ():
        artifacts.update(_custom_artifacts(run.info.run_id, make, y_pred, y_true, metrics))
    return EvaluationResult(metrics, artifacts, run.info.run_id)


def _custom_artifacts(
    run_id: str, make: Callable[..., Any], y_pred: Any, y_true: Any, metrics: dict[str, float]
) -> dict[str, EvaluationArtifact]:
    """MLflow's custom artifact functions: ``make(eval_df, builtin_metrics, artifacts_dir)`` returns
    ``{name: path of a file it wrote}`` (gitrun logs those files)."""
    import pandas as pd

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        eval_df = pd.DataFrame({"prediction": y_pred, **({"target": y_true} if y_true is not None else {})})
        made = make(eval_df, dict(metrics), tmp)
        if not isinstance(made, Mapping):
            raise GitrunError(
                f"custom artifact function {getattr(make, '__name__', make)!r} must return a dict of name -> file path"
            )
        for name, value in made.items():
            path = Path(value)
            if not path.is_file():
                raise GitrunError(
                    f"custom artifact {name!r}: {value!r} is not a file (return the path of a file you wrote)"
                )
            out[str(name)] = _logged(run_id, path)
    return out


@dataclass(frozen=True)
class _Dataset:
    name: str
    digest: str


def _single_output(output: Any) -> Any:
    import pandas as pd

    if isinstance(output, pd.DataFrame):
        if len(output.columns) != 1:
            raise GitrunError(
                f"the model returned {len(output.columns)} columns; evaluate needs one column of predictions"
            )
        return output.iloc[:, 0]
    return output


def _number(value: Any) -> float:
    return float(value) if not isinstance(value, float) else value


def _regressor_metrics(y: Any, y_pred: Any, weights: Any) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics as m

    total = float((np.array(y) * np.array(weights)).sum() if weights is not None else sum(y))
    mse = m.mean_squared_error(y, y_pred, sample_weight=weights)
    return {
        "example_count": len(y),
        "mean_absolute_error": m.mean_absolute_error(y, y_pred, sample_weight=weights),
        "mean_squared_error": mse,
        "root_mean_squared_error": math.sqrt(mse),
        "sum_on_target": total,
        "mean_on_target": total / len(y),
        "r2_score": m.r2_score(y, y_pred, sample_weight=weights),
        "max_error": m.max_error(y, y_pred),
        "mean_absolute_percentage_error": m.mean_absolute_percentage_error(y, y_pred, sample_weight=weights),
    }


def _tag_dataset(run_id: str, dataset: Mapping[str, str], model: Any) -> None:
    """MLflow's ``mlflow.datasets`` tag: which datasets evaluated which model (listed once each)."""
    from gitrun.tracking import fluent

    uuid = getattr(getattr(model, "metadata", None), "model_uuid", None)
    if uuid is None:
        return
    current = fluent.get_run(run_id).data.tags.get(tags.DATASETS, "[]")
    try:
        entries = json.loads(current)
    except ValueError:
        entries = []
    digest = hashlib.md5(dataset["digest"].encode() + dataset["schema"].encode(), usedforsecurity=False).hexdigest()
    entry = {"name": dataset["name"], "hash": digest, "model": uuid}
    if entry not in entries:
        entries.append(entry)
        fluent.set_tag(tags.DATASETS, json.dumps(entries, separators=(",", ":")))


def _log_artifacts(
    run_id: str, prefix: str, plots: Mapping[str, Callable[[], None]], tables: Mapping[str, Any]
) -> dict[str, EvaluationArtifact]:
    out: dict[str, EvaluationArtifact] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, frame in tables.items():
            path = folder / f"{prefix}{name}.csv"
            frame.to_csv(path, index=False)
            out[name] = _logged(run_id, path)
        if plots:
            try:
                import matplotlib

                matplotlib.use("Agg")
                from matplotlib import pyplot
            except ImportError:
                log.warning("matplotlib is not installed: the evaluation plots are not made (pip install matplotlib)")
                return out
            for name, plot in plots.items():
                path = folder / f"{prefix}{name}.png"
                try:
                    pyplot.clf()
                    plot()
                    pyplot.savefig(path, bbox_inches="tight")
                except Exception as exc:
                    log.warning("could not draw %s: %r", name, exc)
                    continue
                finally:
                    pyplot.close("all")
                out[name] = _logged(run_id, path)
    return out


def _logged(run_id: str, path: Path) -> EvaluationArtifact:
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    from gitrun.tracking import fluent

    fluent.log_artifact(str(path), run_id=run_id)
    uri = f"{fluent.get_run(run_id).info.artifact_uri}/{path.name}"
    return EvaluationArtifact(uri=uri, path=Path(url2pathname(urlparse(uri).path)))
