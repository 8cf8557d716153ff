"""LightGBM autologging: what ``gitrun.lightgbm.autolog()`` patches and records (MLflow's ``mlflow.lightgbm.autolog``).

``lightgbm.train`` logs, into the active run (or a run of its own): the booster params, the
other arguments of ``train`` that are settings (``num_boost_round``, ``keep_training_booster``),
each iteration's evaluation results through a callback (``<data>-<metric>`` at step
``iteration``, ``valid_0-multi_logloss``; ``@`` spelled ``_at_``), with early stopping
``stopped_iteration``, ``best_iteration`` and the best iteration's results one step after the
last, the feature importance (``feature_importance_{split,gain}.json`` and ``.png``), and the
booster as the model ``model``. The scikit-learn API (``LGBMClassifier``...) trains through the
same ``train``, and its ``fit`` logs the fitted estimator as the model instead (``sklearn``).
"""

from __future__ import annotations

import inspect
import json
import logging
import tempfile
from collections.abc import Callable, Mapping
from copy import deepcopy
from functools import partial
from typing import Any

from gitrun.tracking import fluent
from gitrun.tracking.autolog import client, sklearn
from gitrun.tracking.autolog.examples import (
    INPUT_EXAMPLE_SAMPLE_ROWS,
    ModelLogger,
    resolve_input_example_and_signature,
)
from gitrun.tracking.autolog.safety import safe_patch

log = logging.getLogger(__name__)

FLAVOR = "lightgbm"
EXAMPLE_ATTRIBUTE = "_gitrun_input_example"  # on a Dataset: (rows of its data, or None; why not)
# Arguments of lightgbm.train that are data or code, not settings: not logged as params.
UNLOGGED = (
    "params",
    "train_set",
    "valid_sets",
    "valid_names",
    "fobj",
    "feval",
    "init_model",
    "learning_rates",
    "callbacks",
)
NO_EXAMPLE = "please ensure that autologging is enabled before constructing the dataset."


def lightgbm_estimators() -> list[type]:
    """LightGBM's scikit-learn API classes (``LGBMModel``, ``LGBMClassifier``, ``LGBMRegressor``, ``LGBMRanker``)."""
    import lightgbm

    base = lightgbm.sklearn._LGBMModelBase
    return [
        cls
        for _, cls in inspect.getmembers(lightgbm.sklearn, inspect.isclass)
        if cls.__module__.split(".")[0] == "lightgbm" and issubclass(cls, base) and cls is not base
    ]


def fn_args_as_params(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any], unlogged: tuple[str, ...]
) -> dict[str, Any]:
    """The arguments of a call of ``fn`` by name, defaults included, without ``unlogged`` (MLflow's
    ``get_mlflow_run_params_for_fn_args``)."""
    params = [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]
    out = {p.name: value for p, value in zip(params[: len(args)], args, strict=False)}
    out.update(kwargs)
    out.update({p.name: p.default for p in params[len(args) :] if p.name not in kwargs})
    return {k: v for k, v in out.items() if k not in unlogged}


def metric_names(results: Mapping[str, Any]) -> dict[str, Any]:
    """LightGBM's ``ndcg@3`` is not a valid key: ``ndcg_at_3``, as MLflow spells it."""
    patched = {name.replace("@", "_at_"): value for name, value in results.items()}
    if changed := set(patched) - set(results):
        log.info(
            "Identified one or more metrics with names containing the invalid character `@`. These metric names "
            "have been sanitized by replacing `@` with `_at_`, as follows: %s",
            ", ".join(sorted(changed)),
        )
    return patched


class Recorder:
    """The callback added to ``train``: logs each iteration's evaluation results; never raises."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.results: list[dict[str, Any]] = []

    def __call__(self, env: Any) -> None:
        try:
            values = {f"{item[0]}-{item[1]}": item[2] for item in env.evaluation_result_list}
            values = metric_names(values)
            client.log_metrics(self.run_id, values, step=env.iteration)
            self.results.append(values)
        except Exception as exc:
            log.warning("Encountered unexpected error during autologging: %s", exc)


def enable(
    models: ModelLogger,
    *,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    registered_model_name: str | None = None,
    extra_tags: Mapping[str, Any] | None = None,
    **_: Any,
) -> None:
    import lightgbm

    train = Train(models, log_input_examples, log_model_signatures, registered_model_name)
    safe_patch(FLAVOR, lightgbm.Dataset, "__init__", _dataset_init)
    safe_patch(FLAVOR, lightgbm, "train", partial(train, log_models), manage_run=True, extra_tags=extra_tags)
    # The scikit-learn API trains through lightgbm.sklearn.train: there the estimator's fit logs the
    # model (as the estimator, not the booster).
    safe_patch(FLAVOR, lightgbm.sklearn, "train", partial(train, False), manage_run=True, extra_tags=extra_tags)
    sklearn.enable(
        models,
        FLAVOR,
        estimators=lightgbm_estimators(),
        model_only=True,
        log_input_examples=log_input_examples,
        log_model_signatures=log_model_signatures,
        log_models=log_models,
        max_tuning_runs=None,
        log_post_training_metrics=True,
        registered_model_name=registered_model_name,
        extra_tags=extra_tags,
    )


def _dataset_init(original: Callable[..., Any], dataset: Any, *args: Any, **kwargs: Any) -> None:
    """Keep the first rows of a Dataset's data: once trained on, LightGBM cannot give them back."""
    data = args[0] if args else kwargs.get("data")
    if data is not None:
        try:
            if isinstance(data, str):
                raise ValueError("cannot gather example input when dataset is loaded from a file.")
            setattr(dataset, EXAMPLE_ATTRIBUTE, (deepcopy(data[:INPUT_EXAMPLE_SAMPLE_ROWS]), None))
        except Exception as exc:
            setattr(dataset, EXAMPLE_ATTRIBUTE, (None, str(exc)))
    original(dataset, *args, **kwargs)


class Train:
    """The patch of ``lightgbm.train``."""

    def __init__(
        self,
        models: ModelLogger,
        log_input_examples: bool,
        log_model_signatures: bool,
        registered_model_name: str | None,
    ):
        self.models = models
        self.log_input_examples = log_input_examples
        self.log_model_signatures = log_model_signatures
        self.registered_model_name = registered_model_name

    def __call__(self, log_models: bool, original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        import lightgbm

        with sklearn.SklearnTrainingSession(lightgbm.train, allow_children=False) as session:
            if not session.should_log():
                return original(*args, **kwargs)
            return self.train(log_models, original, *args, **kwargs)

    def train(self, log_models: bool, original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        run = fluent.active_run()
        assert run is not None, "lightgbm.train is autologged inside a run"
        run_id = run.info.run_id
        client.log_params(run_id, args[0] if args else kwargs["params"])
        client.log_params(run_id, fn_args_as_params(original, args, kwargs, UNLOGGED))
        recorder = Recorder(run_id)
        names = list(inspect.signature(original).parameters)
        position = names.index("callbacks")
        if len(args) > position:
            args = (*args[:position], [*(args[position] or []), recorder], *args[position + 1 :])
        else:
            kwargs = {**kwargs, "callbacks": [*(kwargs.get("callbacks") or []), recorder]}
        booster = original(*args, **kwargs)
        if booster.best_iteration > 0:  # early stopping: the best iteration's results, one step after the last
            extra_step = len(recorder.results)
            client.log_metrics(run_id, {"stopped_iteration": extra_step, "best_iteration": booster.best_iteration})
            client.log_metrics(run_id, recorder.results[booster.best_iteration - 1], step=extra_step)
        for kind in ("split", "gain"):
            features = booster.feature_name()
            importance = booster.feature_importance(importance_type=kind)
            try:
                _log_importance_plot(run_id, features, importance, kind)
            except Exception:
                log.exception(
                    "Failed to log feature importance plot. LightGBM autologging will ignore the failure and continue. Exception: "
                )
            with tempfile.TemporaryDirectory() as folder:
                path = f"{folder}/feature_importance_{kind}.json"
                with open(path, "w") as f:
                    json.dump(dict(zip(features, importance.tolist(), strict=False)), f, indent=2)
                fluent.log_artifact(path, run_id=run_id)
        if log_models:
            train_set = args[1] if len(args) > 1 else kwargs.get("train_set")
            example, why_not = getattr(train_set, EXAMPLE_ATTRIBUTE, (None, NO_EXAMPLE))

            def get_example() -> Any:
                if why_not is not None:
                    raise ValueError(why_not)
                return example

            example_out, signature = resolve_input_example_and_signature(
                get_example,
                lambda ex: self.models.infer_signature(ex, booster.predict(ex)),
                self.log_input_examples,
                self.log_model_signatures,
                log,
            )
            try:
                self.models.log_model(
                    booster,
                    "model",
                    signature=signature,
                    input_example=example_out,
                    registered_model_name=self.registered_model_name,
                )
            except Exception as exc:
                log.warning("The lightgbm model 'model' is not logged: %s", exc)
        return booster


def _log_importance_plot(run_id: str, features: list[str], importance: Any, kind: str) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    order = np.argsort(importance)
    names = np.array(features)[order]
    values = importance[order]
    count = len(names)
    width, height = 6.4, 4.8  # matplotlib's default figure size, taller for many features
    height = height + 0.1 * count if count > 10 else height
    fig, ax = plt.subplots(figsize=(width, height))
    rows = np.arange(count)
    ax.barh(rows, values, align="center", height=0.5)
    ax.set_yticks(rows)
    ax.set_yticklabels(names)
    ax.set_xlabel("Importance")
    ax.set_title(f"Feature Importance ({kind})")
    fig.tight_layout()
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = f"{folder}/feature_importance_{kind}.png"
            fig.savefig(path)
            fluent.log_artifact(path, run_id=run_id)
    finally:
        plt.close(fig)
