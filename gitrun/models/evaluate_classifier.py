"""The classifier part of ``gitrun.evaluate``: MLflow's metrics, and the plots and tables it logs.

Labels are the sorted union of the true and predicted ones; with two, the problem is binary and the
positive label is the larger (or ``pos_label`` of the evaluator config). Binary: the confusion
counts, accuracy, precision, recall, F1 (of the positive label), log loss, ROC AUC and the
average precision (``precision_recall_auc``); plots of the ROC, precision-recall, lift and
calibration curves. Multiclass: accuracy and the weighted precision, recall, F1, log loss and
one-vs-rest ROC AUC; ``per_class_metrics.csv``, calibration, ROC and precision-recall plots (up to
``max_classes_for_multiclass_roc_pr`` classes, 10). Both: the normalised confusion matrix plot.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)


def _common(
    y: Any, y_pred: Any, y_probs: Any, labels: Any, average: str, pos_label: Any, weights: Any
) -> dict[str, float]:
    from sklearn import metrics as m

    out = {
        "example_count": len(y),
        "accuracy_score": m.accuracy_score(y, y_pred, sample_weight=weights),
        "recall_score": m.recall_score(y, y_pred, average=average, pos_label=pos_label, sample_weight=weights),
        "precision_score": m.precision_score(y, y_pred, average=average, pos_label=pos_label, sample_weight=weights),
        "f1_score": m.f1_score(y, y_pred, average=average, pos_label=pos_label, sample_weight=weights),
    }
    if y_probs is not None:
        try:
            out["log_loss"] = m.log_loss(y, y_probs, labels=labels, sample_weight=weights)
        except ValueError as exc:
            log.warning("log_loss is not computed: %s", exc)
    return out


def _binary(y: Any, y_pred: Any, y_probs: Any, labels: Any, pos_label: Any, weights: Any) -> dict[str, float]:
    from sklearn import metrics as m

    tn, fp, fn, tp = m.confusion_matrix(y, y_pred, labels=labels).ravel()
    return {
        "true_negatives": tn,
        "false_positives": fp,
        "false_negatives": fn,
        "true_positives": tp,
        **_common(y, y_pred, y_probs, labels, "binary", pos_label, weights),
    }


def metrics(
    y: Any,
    y_pred: Any,
    y_probs: Any,
    config: Mapping[str, Any],
    plots: dict[str, Callable[[], None]],
    tables: dict[str, Any],
) -> dict[str, float]:
    """The classifier metrics; fills ``plots`` (name -> draw function) and ``tables`` (name -> DataFrame)."""
    import numpy as np
    from sklearn import metrics as m

    weights = config.get("sample_weights")
    labels = (
        np.array(config["label_list"])
        if config.get("label_list") is not None
        else np.unique(np.concatenate([y, y_pred]))
    )
    labels.sort()
    if len(labels) < 2:
        from gitrun.errors import InvalidInputError

        raise InvalidInputError(
            f"a classifier's evaluation data must hold at least two labels, it has {len(labels)}; give them all in "
            "evaluator_config={'label_list': [...]}"
        )
    out: dict[str, float] = {}
    if len(labels) == 2:
        pos_label = config.get("pos_label")
        pos_index = int(np.where(labels == pos_label)[0][0]) if pos_label is not None and pos_label in labels else 1
        if pos_label is None:
            pos_label = labels[-1]
        else:
            labels = np.append(np.delete(labels, np.where(labels == pos_label)), pos_label)
        out.update(_binary(y, y_pred, y_probs, labels, pos_label, weights))
        if y_probs is not None:
            scores = y_probs[:, pos_index]
            truth = np.asarray(y) == pos_label
            out["roc_auc"] = m.roc_auc_score(truth, scores, sample_weight=weights)
            out["precision_recall_auc"] = m.average_precision_score(
                y, scores, pos_label=pos_label, sample_weight=weights
            )
            plots["roc_curve_plot"] = lambda: _curve(
                m.RocCurveDisplay.from_predictions, y, scores, pos_label, "ROC curve"
            )
            plots["precision_recall_curve_plot"] = lambda: _curve(
                m.PrecisionRecallDisplay.from_predictions, y, scores, pos_label, "Precision recall curve"
            )
            plots["lift_curve_plot"] = lambda: _lift(truth, scores)
            plots["calibration_curve_plot"] = lambda: _calibration({str(pos_label): (truth, scores)})
    else:
        average = str(config.get("average", "weighted"))
        out.update(_common(y, y_pred, y_probs, labels, average, None, weights))
        if y_probs is not None and average in ("macro", "weighted"):
            out["roc_auc"] = m.roc_auc_score(y, y_probs, sample_weight=weights, average=average, multi_class="ovr")
        tables["per_class_metrics"] = _per_class(y, y_pred, labels, weights)
        if y_probs is not None:
            per_class = {str(c): (np.asarray(y) == c, y_probs[:, i]) for i, c in enumerate(labels)}
            plots["calibration_curve_plot"] = lambda: _calibration(per_class)
            if len(labels) <= int(config.get("max_classes_for_multiclass_roc_pr", 10)):
                plots["roc_curve_plot"] = lambda: _one_vs_rest(
                    m.RocCurveDisplay.from_predictions, per_class, "ROC curve"
                )
                plots["precision_recall_curve_plot"] = lambda: _one_vs_rest(
                    m.PrecisionRecallDisplay.from_predictions, per_class, "Precision recall curve"
                )
    matrix = m.confusion_matrix(y, y_pred, labels=labels, normalize="true", sample_weight=weights)
    plots["confusion_matrix"] = lambda: _confusion(matrix, labels)
    return out


def _per_class(y: Any, y_pred: Any, labels: Any, weights: Any) -> Any:
    import numpy as np
    import pandas as pd

    rows = []
    for label in labels:
        truth = np.where(np.asarray(y) == label, 1, 0)
        guess = np.where(np.asarray(y_pred) == label, 1, 0)
        rows.append({"positive_class": label, **_binary(truth, guess, None, [0, 1], 1, weights)})
    return pd.DataFrame(rows)


def _curve(display: Any, y: Any, scores: Any, pos_label: Any, title: str) -> None:
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(6, 4), dpi=100)
    display(y, scores, pos_label=pos_label, ax=ax)
    ax.set_title(title)


def _one_vs_rest(display: Any, per_class: Mapping[str, tuple[Any, Any]], title: str) -> None:
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for label, (truth, scores) in per_class.items():
        display(truth, scores, pos_label=True, ax=ax, name=f"label={label}")
    ax.set_title(title)


def _lift(truth: Any, scores: Any) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    order = np.argsort(-scores)
    hits = np.cumsum(truth[order])
    share = np.arange(1, len(order) + 1) / len(order)
    lift = (hits / np.arange(1, len(order) + 1)) / max(truth.mean(), 1e-12)
    _, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(share, lift, label="model")
    ax.axhline(1.0, linestyle="--", color="gray", label="baseline")
    ax.set_xlabel("Fraction of samples")
    ax.set_ylabel("Lift")
    ax.set_title("Lift curve")
    ax.legend()


def _calibration(per_class: Mapping[str, tuple[Any, Any]]) -> None:
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve

    _, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for label, (truth, scores) in per_class.items():
        observed, predicted = calibration_curve(truth, scores, n_bins=10)
        ax.plot(predicted, observed, marker="o", label=f"label={label}")
    ax.plot([0, 1], [0, 1], linestyle="--", color="gray")
    ax.set_xlabel("Mean predicted probability")
    ax.set_ylabel("Fraction of positives")
    ax.set_title("Calibration curve")
    ax.legend()


def _confusion(matrix: Any, labels: Any) -> None:
    import matplotlib
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    with matplotlib.rc_context({"font.size": min(8, math.ceil(50.0 / len(labels))), "axes.labelsize": 8}):
        _, ax = plt.subplots(1, 1, figsize=(6.0, 4.0), dpi=175)
        ConfusionMatrixDisplay(confusion_matrix=matrix, display_labels=labels).plot(cmap="Blues", ax=ax)
        ax.set_title("Normalized confusion matrix")
