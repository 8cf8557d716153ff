"""What an autologged scikit-learn fit records besides its params (MLflow's ``mlflow.sklearn.utils``):
the estimator tags, training metrics by estimator type, the classifier plots and ``estimator.html``.

Training metrics are computed on the data given to ``fit`` (prefix ``training_``):

- classifiers: ``precision_score``, ``recall_score``, ``f1_score`` (weighted average, or binary
  with ``pos_label``), ``accuracy_score``, and with ``predict_proba`` ``log_loss`` and ``roc_auc``
  (weighted, one-vs-one); plots ``training_confusion_matrix.png`` and, for two classes,
  ``training_roc_curve.png`` and ``training_precision_recall_curve.png``;
- regressors: ``mean_squared_error``, ``root_mean_squared_error``, ``mean_absolute_error``,
  ``r2_score``;
- any estimator with ``score``: ``training_score``.

A metric or plot that fails is a warning naming it; the others are still logged.
"""

from __future__ import annotations

import inspect
import logging
import tempfile
from collections.abc import Callable, Mapping
from copy import deepcopy
from typing import Any, NamedTuple

from gitrun.tracking import fluent
from gitrun.tracking.autolog import client

log = logging.getLogger(__name__)

TRAINING_PREFIX = "training_"
SAMPLE_WEIGHT = "sample_weight"
ESTIMATOR_NAME = "estimator_name"  # MLflow's tag names (not system tags: no mlflow. prefix)
ESTIMATOR_CLASS = "estimator_class"


class Computed(NamedTuple):
    name: str
    function: Callable[..., Any]
    arguments: dict[str, Any]


class Plot(NamedTuple):
    name: str
    function: Callable[..., Any]
    arguments: dict[str, Any]
    title: str


def estimator_tags(estimator: Any) -> dict[str, str]:
    cls = type(estimator)
    return {ESTIMATOR_NAME: cls.__name__, ESTIMATOR_CLASS: f"{cls.__module__}.{cls.__name__}"}


def arg_names(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def training_data(fit: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """``(X, y, sample_weight)`` of a ``fit`` call (copies of X and y, so training cannot change them)."""
    names = arg_names(fit)
    x_name, y_name = names[:2]
    if len(args) >= 2:
        x, y = args[:2]
    elif len(args) == 1:
        x, y = args[0], kwargs.get(y_name)
    else:
        x, y = kwargs[x_name], kwargs.get(y_name)
    weight = None
    if SAMPLE_WEIGHT in names:
        index = names.index(SAMPLE_WEIGHT)
        weight = args[index] if len(args) > index else kwargs.get(SAMPLE_WEIGHT)
    return (deepcopy(x) if x is not None else None), (deepcopy(y) if y is not None else None), weight


def _values(computed: list[Computed]) -> dict[str, Any]:
    out = {}
    for metric in computed:
        try:
            out[metric.name] = metric.function(**metric.arguments)
        except Exception as exc:
            log.warning(
                "%s failed. The metric %s will not be recorded. Metric error: %s",
                metric.function.__qualname__,
                metric.name,
                exc,
            )
    return out


def classifier_metrics(estimator: Any, prefix: str, x: Any, y: Any, weight: Any, pos_label: Any) -> dict[str, Any]:
    import sklearn.metrics

    average = "weighted" if pos_label is None else "binary"
    y_pred = estimator.predict(x)
    averaged = {"y_true": y, "y_pred": y_pred, "pos_label": pos_label, "average": average, "sample_weight": weight}
    computed = [
        Computed(prefix + "precision_score", sklearn.metrics.precision_score, averaged),
        Computed(prefix + "recall_score", sklearn.metrics.recall_score, averaged),
        Computed(prefix + "f1_score", sklearn.metrics.f1_score, averaged),
        Computed(
            prefix + "accuracy_score",
            sklearn.metrics.accuracy_score,
            {"y_true": y, "y_pred": y_pred, "normalize": True, "sample_weight": weight},
        ),
    ]
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(x)
        computed.append(
            Computed(
                prefix + "log_loss", sklearn.metrics.log_loss, {"y_true": y, "y_pred": proba, "sample_weight": weight}
            )
        )
        score = proba[:, 1] if len(proba[0]) == 2 else proba  # binary: the score of the greater label
        computed.append(
            Computed(
                prefix + "roc_auc",
                sklearn.metrics.roc_auc_score,
                {"y_true": y, "y_score": score, "average": "weighted", "sample_weight": weight, "multi_class": "ovo"},
            )
        )
    return _values(computed)


def regressor_metrics(estimator: Any, prefix: str, x: Any, y: Any, weight: Any) -> dict[str, Any]:
    import numpy as np
    import sklearn.metrics

    y_pred = estimator.predict(x)
    arguments = {"y_true": y, "y_pred": y_pred, "sample_weight": weight, "multioutput": "uniform_average"}
    values = _values(
        [
            Computed(prefix + "mean_squared_error", sklearn.metrics.mean_squared_error, arguments),
            Computed(prefix + "mean_absolute_error", sklearn.metrics.mean_absolute_error, arguments),
            Computed(prefix + "r2_score", sklearn.metrics.r2_score, arguments),
        ]
    )
    values[prefix + "root_mean_squared_error"] = np.sqrt(values[prefix + "mean_squared_error"])
    return values


def classifier_plots(estimator: Any, prefix: str, x: Any, y: Any, weight: Any) -> list[Plot]:
    import sklearn.metrics

    def confusion_matrix(**kwargs: Any) -> Any:
        import matplotlib
        import matplotlib.pyplot as plt

        labels = getattr(estimator, "classes_", None)
        if labels is None:
            labels = set(y)
        with matplotlib.rc_context(
            {"font.size": min(8.0, 50.0 / len(labels)), "axes.labelsize": 8.0, "figure.dpi": 175}
        ):
            _, ax = plt.subplots(1, 1, figsize=(6.0, 4.0))
            return sklearn.metrics.ConfusionMatrixDisplay.from_estimator(**kwargs, ax=ax)

    plots = [
        Plot(
            prefix + "confusion_matrix",
            confusion_matrix,
            {"estimator": estimator, "X": x, "y": y, "sample_weight": weight, "normalize": "true", "cmap": "Blues"},
            "Normalized confusion matrix",
        )
    ]
    if len(set(y)) == 2:
        curve = {"estimator": estimator, "X": x, "y": y, "sample_weight": weight}
        plots.append(Plot(prefix + "roc_curve", sklearn.metrics.RocCurveDisplay.from_estimator, curve, "ROC curve"))
        plots.append(
            Plot(
                prefix + "precision_recall_curve",
                sklearn.metrics.PrecisionRecallDisplay.from_estimator,
                curve,
                "Precision recall curve",
            )
        )
    return plots


def _log_plots(run_id: str, plots: list[Plot]) -> None:
    try:
        import matplotlib
        import matplotlib.pyplot as plt
    except ImportError as exc:
        log.warning("Failed to import matplotlib (error: %r). Skipping artifact logging.", exc)
        return
    with tempfile.TemporaryDirectory() as folder:
        for plot in plots:
            try:
                with matplotlib.rc_context({"savefig.dpi": 175, "figure.autolayout": True, "font.size": 8}):
                    display = plot.function(**plot.arguments)
                    display.ax_.set_title(plot.title)
                    display.figure_.savefig(fname=f"{folder}/{plot.name}.png", format="png")
                    plt.close(display.figure_)
            except Exception as exc:
                log.warning(
                    "%s failed. The artifact %s will not be recorded. Artifact error: %s",
                    plot.function.__qualname__,
                    plot.name,
                    exc,
                )
        fluent.log_artifacts(folder, run_id=run_id)


def log_estimator_html(run_id: str, estimator: Any) -> None:
    from sklearn.utils import estimator_html_repr

    page = f"""
<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8"/>
  </head>
  <body>
    {estimator_html_repr(estimator)}
  </body>
</html>
    """
    fluent.log_text(page, "estimator.html", run_id=run_id)


def log_estimator_content(
    run_id: str,
    estimator: Any,
    prefix: str,
    x: Any,
    y: Any = None,
    weight: Any = None,
    pos_label: Any = None,
    model_id: str | None = None,
) -> dict[str, Any]:
    """Log the metrics and plots of the estimator's type, its ``score`` and ``estimator.html``;
    returns the metrics logged."""
    import sklearn.base

    metrics: dict[str, Any] = {}
    if y is not None:
        try:
            if sklearn.base.is_classifier(estimator):
                metrics = classifier_metrics(estimator, prefix, x, y, weight, pos_label)
            elif sklearn.base.is_regressor(estimator):
                metrics = regressor_metrics(estimator, prefix, x, y, weight)
        except Exception as exc:
            log.warning("Failed to autolog metrics for %s. Logging error: %s", type(estimator).__name__, exc)
        else:
            client.log_metrics(run_id, metrics, model_id=model_id)
    if sklearn.base.is_classifier(estimator):
        try:
            plots = classifier_plots(estimator, prefix, x, y, weight)
        except Exception as exc:
            log.warning("Failed to autolog artifacts for %s. Logging error: %s", type(estimator).__name__, exc)
        else:
            _log_plots(run_id, plots)
    if hasattr(estimator, "score") and y is not None:
        try:
            score_args = (x, y, weight) if SAMPLE_WEIGHT in arg_names(estimator.score) else (x, y)
            score = estimator.score(*score_args)
        except Exception as exc:
            log.warning(
                "%s failed. The 'training_score' metric will not be recorded. Scoring error: %s",
                estimator.score.__qualname__,
                exc,
            )
        else:
            client.log_metrics(run_id, {prefix + "score": score}, model_id=model_id)
            metrics[prefix + "score"] = score
    log_estimator_html(run_id, estimator)
    return metrics
