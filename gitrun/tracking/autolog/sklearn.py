"""scikit-learn autologging: what ``gitrun.sklearn.autolog()`` patches and records (MLflow's ``mlflow.sklearn._autolog``).

Every estimator of ``sklearn.utils.all_estimators()`` (with ``Pipeline``, ``GridSearchCV`` and
``RandomizedSearchCV``; not the preprocessing, imputation and feature modules, nor
``ColumnTransformer``) gets its ``fit``, ``fit_transform`` and ``fit_predict`` patched: the
outermost call logs, into the active run (or a run of its own, ended after the call):

- params: ``get_params(deep=True)`` (not deep for a search, whose seed estimator is untuned),
- tags: ``estimator_name``, ``estimator_class``,
- the fitted model (``model``) through the flavor, with a signature and, on request, an input
  example; a search's ``best_estimator`` too,
- training metrics, plots and ``estimator.html`` (``sklearn_content``), a search's results
  (``sklearn_search``).

``predict``, ``predict_proba``, ``predict_log_proba``, ``transform`` and ``score`` are patched for
post-training metrics, and so are the functions of ``sklearn.metrics`` (``post_training``);
``cross_val_score`` and the other ``sklearn.model_selection`` loops run with autolog off. The
same code serves the scikit-learn API of LightGBM, with the flavor's estimators and a ``fit``
that logs only the model (its ``train`` logs the rest: ``lightgbm``).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass
from functools import partial
from typing import Any

from gitrun.errors import InvalidInputError
from gitrun.tracking import fluent
from gitrun.tracking.autolog import client
from gitrun.tracking.autolog.config import disable_autologging
from gitrun.tracking.autolog.examples import (
    INPUT_EXAMPLE_SAMPLE_ROWS,
    ModelLogger,
    resolve_input_example_and_signature,
)
from gitrun.tracking.autolog.patches import original_attribute
from gitrun.tracking.autolog.post_training import MANAGER, first_argument, is_loggable
from gitrun.tracking.autolog.safety import safe_patch
from gitrun.tracking.autolog.sessions import training_session_class
from gitrun.tracking.autolog.sklearn_content import (
    TRAINING_PREFIX,
    estimator_tags,
    log_estimator_content,
    training_data,
)
from gitrun.tracking.autolog.sklearn_search import best_params, create_child_runs, is_search, log_cv_results

log = logging.getLogger(__name__)

FLAVOR = "sklearn"
# The family of scikit-learn-like fits (LightGBM's and XGBoost's estimators, lightgbm.train too).
SklearnTrainingSession = training_session_class()

FIT_METHODS = ("fit", "fit_transform", "fit_predict")
PREDICT_METHODS = ("predict", "predict_proba", "transform", "predict_log_proba")
# Loops over many fits: run with autolog off (MLflow's _apis_autologging_disabled).
DISABLED_APIS = (
    "cross_validate",
    "cross_val_predict",
    "cross_val_score",
    "learning_curve",
    "permutation_test_score",
    "validation_curve",
)
_EXCLUDED_MODULES = (
    "sklearn.preprocessing",
    "sklearn.impute",
    "sklearn.feature_extraction",
    "sklearn.feature_selection",
)
_EXCLUDED_CLASSES = ("sklearn.compose._column_transformer.ColumnTransformer",)
_NOT_METRICS = ("check_scoring", "get_scorer", "make_scorer", "get_scorer_names")


def sklearn_estimators() -> list[type]:
    """The estimator classes whose fits are autologged."""
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.utils import all_estimators

    classes = {cls for _, cls in all_estimators()} | {GridSearchCV, RandomizedSearchCV, Pipeline}
    return sorted(
        (
            cls
            for cls in classes
            if not cls.__module__.startswith(_EXCLUDED_MODULES)
            and f"{cls.__module__}.{cls.__name__}" not in _EXCLUDED_CLASSES
        ),
        key=lambda cls: (cls.__module__, cls.__name__),
    )


def metric_functions() -> list[str]:
    """The functions of ``sklearn.metrics`` whose results are post-training metrics."""
    from sklearn import metrics

    return [
        name
        for name in metrics.__all__
        if name not in _NOT_METRICS
        and not name.startswith("plot_")
        and callable(getattr(metrics, name))
        and not inspect.isclass(getattr(metrics, name))
    ]


@dataclass(frozen=True)
class Options:
    flavor: str
    models: ModelLogger
    log_input_examples: bool = False
    log_model_signatures: bool = True
    log_models: bool = True
    max_tuning_runs: int | None = 5
    log_post_training_metrics: bool = True
    serialization_format: str | None = None
    registered_model_name: str | None = None
    pos_label: Any = None


def enable(
    models: ModelLogger,
    flavor: str = FLAVOR,
    *,
    estimators: list[type] | None = None,
    model_only: bool = False,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    max_tuning_runs: int | None = 5,
    log_post_training_metrics: bool = True,
    serialization_format: str | None = None,
    registered_model_name: str | None = None,
    pos_label: Any = None,
    extra_tags: Mapping[str, Any] | None = None,
    **_: Any,
) -> None:
    """Patch scikit-learn (or, with ``estimators`` and ``model_only``, another framework's
    scikit-learn API) for the integration ``flavor``; ``models`` logs the fitted models."""
    import sklearn.metrics
    import sklearn.model_selection

    if max_tuning_runs is not None and max_tuning_runs < 0:
        raise InvalidInputError(f"`max_tuning_runs` must be non-negative, instead got {max_tuning_runs}.")
    autolog = SklearnAutolog(
        Options(
            flavor,
            models,
            log_input_examples,
            log_model_signatures,
            log_models,
            max_tuning_runs,
            log_post_training_metrics,
            serialization_format,
            registered_model_name,
            pos_label,
        )
    )
    fit = autolog.fit_model_only if model_only else autolog.fit_sklearn
    allow_children = model_only  # LightGBM's fit logs through its (patched) train, nested in the fit
    for cls in sklearn_estimators() if estimators is None else estimators:
        for name in FIT_METHODS:
            _patch_method(flavor, cls, name, partial(autolog.patched_fit, fit, allow_children), True, extra_tags)
        for name in PREDICT_METHODS:
            _patch_method(flavor, cls, name, autolog.patched_predict, False, None)
        _patch_method(flavor, cls, "score", autolog.patched_score, False, None)
    if log_post_training_metrics:
        # Scorers (get_scorer) are deep copies holding the unpatched functions: MLflow patches
        # copies there, which changes nothing; gitrun leaves them alone.
        for name in metric_functions():
            safe_patch(flavor, sklearn.metrics, name, autolog.patched_metric_api)
    for name in DISABLED_APIS:
        if hasattr(sklearn.model_selection, name):
            safe_patch(flavor, sklearn.model_selection, name, _with_autolog_off)


def _with_autolog_off(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with disable_autologging():
        return original(*args, **kwargs)


def _patch_method(
    flavor: str,
    cls: type,
    name: str,
    patch_function: Callable[..., Any],
    manage_run: bool,
    extra_tags: Mapping[str, Any] | None,
) -> None:
    """Patch ``cls.name`` if the class has it: a plain method, or the function under one of
    scikit-learn's delegating descriptors (``available_if``); others are left alone."""
    if not hasattr(cls, name):
        return
    found = original_attribute(cls, name)
    raw = original_attribute(cls, name, raw=True)
    if raw is found and (callable(found) or isinstance(found, property)):
        safe_patch(flavor, cls, name, patch_function, manage_run=manage_run, extra_tags=extra_tags)
    elif hasattr(raw, "delegate_names") or hasattr(raw, "check"):
        safe_patch(flavor, raw, "fn", patch_function, manage_run=manage_run, extra_tags=extra_tags)


def _active_run_id() -> str:
    run = fluent.active_run()
    assert run is not None, "autolog's fit runs inside a run"
    return run.info.run_id


class SklearnAutolog:
    """The patch functions of one ``autolog`` call, with its options."""

    def __init__(self, options: Options):
        self.options = options

    # -- fit ---------------------------------------------------------------------------------
    def patched_fit(
        self,
        fit: Callable[..., Any],
        allow_children: bool,
        original: Callable[..., Any],
        estimator: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        post_training = self.options.log_post_training_metrics and MANAGER.should_log(
            SklearnTrainingSession.is_active()
        )
        with SklearnTrainingSession(estimator, allow_children) as session:
            if not session.should_log():
                return original(estimator, *args, **kwargs)
            with MANAGER.disabled():  # the training metrics call sklearn.metrics too
                result = fit(original, estimator, *args, **kwargs)
            if post_training:
                MANAGER.register_model(estimator, _active_run_id())
            return result

    def fit_sklearn(self, original: Callable[..., Any], estimator: Any, *args: Any, **kwargs: Any) -> Any:
        x, y, weight = training_data(estimator.fit, args, kwargs)
        run_id = _active_run_id()
        client.log_params(run_id, estimator.get_params(deep=not is_search(estimator)))
        client.set_tags(run_id, estimator_tags(estimator))
        result = original(estimator, *args, **kwargs)
        self._after_fit(run_id, estimator, x, y, weight)
        return result

    def fit_model_only(self, original: Callable[..., Any], estimator: Any, *args: Any, **kwargs: Any) -> Any:
        """LightGBM's (and XGBoost's) estimators: their ``train`` logs params and metrics; this the model."""
        try:
            example: Any = deepcopy(training_data(estimator.fit, args, kwargs)[0][:INPUT_EXAMPLE_SAMPLE_ROWS])
            failure: Exception | None = None
        except Exception as exc:
            example, failure = None, exc
        result = original(estimator, *args, **kwargs)
        if self.options.log_models:

            def get_example() -> Any:
                if failure is not None:
                    raise failure
                return example

            example_out, signature = resolve_input_example_and_signature(
                get_example,
                lambda ex: self.options.models.infer_signature(ex, estimator.predict(deepcopy(ex))),
                self.options.log_input_examples,
                self.options.log_model_signatures,
                log,
            )
            MANAGER.record_model_id(estimator, self._log_model(estimator, "model", signature, example_out, None))
        return result

    def _after_fit(self, run_id: str, estimator: Any, x: Any, y: Any, weight: Any) -> None:
        options = self.options
        try:
            example: Any = deepcopy(x[:INPUT_EXAMPLE_SAMPLE_ROWS])
            failure: Exception | None = None
        except Exception as exc:
            example, failure = None, exc

        def get_example() -> Any:
            if failure is not None:
                raise failure
            return example

        def infer(model_input: Any) -> Any:
            if hasattr(estimator, "predict"):
                output = estimator.predict(deepcopy(model_input))
            elif hasattr(estimator, "transform"):
                output = estimator.transform(deepcopy(model_input))
            else:
                raise ValueError(
                    "the trained model does not have a `predict` or `transform` function, which is required in "
                    "order to infer the signature"
                )
            return options.models.infer_signature(model_input, output)

        model_id = None
        input_example, signature = None, None
        if options.log_models:
            input_example, signature = resolve_input_example_and_signature(
                get_example, infer, options.log_input_examples, options.log_model_signatures, log
            )
            params = {**estimator.get_params(deep=not is_search(estimator)), **best_params(estimator)}
            model_id = self._log_model(estimator, "model", signature, input_example, params)
            MANAGER.record_model_id(estimator, model_id)
        logged = log_estimator_content(run_id, estimator, TRAINING_PREFIX, x, y, weight, options.pos_label, model_id)
        if y is None and not logged:
            log.warning(
                "Training metrics will not be recorded because training labels were not specified. To automatically "
                "record training metrics, provide training labels as inputs to the model training function."
            )
        if is_search(estimator):
            self._after_search(run_id, estimator, signature, input_example, model_id)

    def _after_search(self, run_id: str, search: Any, signature: Any, input_example: Any, model_id: str | None) -> None:
        best_model_id = None
        if hasattr(search, "best_estimator_") and self.options.log_models:
            best = search.best_estimator_
            best_model_id = self._log_model(
                best, "best_estimator", signature, input_example, best.get_params(deep=True)
            )
        if hasattr(search, "best_score_"):
            client.log_metrics(run_id, {"best_cv_score": search.best_score_}, model_id=model_id)
        if hasattr(search, "best_params_"):
            client.log_params(run_id, best_params(search))
        if hasattr(search, "cv_results_"):
            parent = fluent.get_run(run_id)
            try:
                create_child_runs(search, parent, self.options.max_tuning_runs, self.options.flavor, best_model_id)
            except Exception as exc:
                log.warning(
                    "Encountered exception during creation of child runs for parameter search. Child runs may be "
                    "missing. Exception: %s",
                    exc,
                )
            try:
                log_cv_results(search, run_id)
            except Exception as exc:
                log.warning("Failed to log parameter search results as an artifact. Exception: %s", exc)

    def _log_model(
        self, model: Any, name: str, signature: Any, input_example: Any, params: Mapping[str, Any] | None
    ) -> str | None:
        """Log ``model`` through the flavor; a model the flavor cannot save is a warning, not a lost run."""
        options = self.options
        extra = {"serialization_format": options.serialization_format} if options.serialization_format else {}
        try:
            return options.models.log_model(
                model,
                name,
                signature=signature,
                input_example=input_example,
                params=params,
                registered_model_name=options.registered_model_name if name == "model" else None,
                **extra,
            )
        except Exception as exc:
            log.warning("The %s model %r is not logged: %s", options.flavor, name, exc)
            return None

    # -- predictions and metrics ---------------------------------------------------------------
    def patched_predict(self, original: Callable[..., Any], estimator: Any, *args: Any, **kwargs: Any) -> Any:
        run_id = MANAGER.run_of(estimator)
        if not (run_id and MANAGER.should_log(SklearnTrainingSession.is_active())):
            return original(estimator, *args, **kwargs)
        with MANAGER.disabled():  # a predict calling another one logs once
            result = original(estimator, *args, **kwargs)
        dataset = MANAGER.register_dataset(estimator, first_argument(original, args, kwargs))
        MANAGER.register_prediction(run_id, dataset, result, MANAGER.model_id_of(estimator))
        return result

    def patched_score(self, original: Callable[..., Any], estimator: Any, *args: Any, **kwargs: Any) -> Any:
        run_id = MANAGER.run_of(estimator)
        if not (run_id and MANAGER.should_log(SklearnTrainingSession.is_active())):
            return original(estimator, *args, **kwargs)
        with MANAGER.disabled():  # score calls sklearn.metrics: logged once, as the score
            score = original(estimator, *args, **kwargs)
        if is_loggable(score):
            command = MANAGER.call_command(estimator, original, *args, **kwargs)
            dataset = MANAGER.register_dataset(estimator, first_argument(original, args, kwargs))
            key = MANAGER.register_call(run_id, f"{type(estimator).__name__}_score", dataset, command)
            MANAGER.log(run_id, key, score, MANAGER.model_id_of(estimator))
        return score

    def patched_metric_api(self, original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not MANAGER.should_log(SklearnTrainingSession.is_active()):
            return original(*args, **kwargs)
        with MANAGER.disabled():  # one metric function calling another logs once
            value = original(*args, **kwargs)
        if is_loggable(value):
            command = MANAGER.call_command(None, original, *args, **kwargs)
            run_id, dataset, model_id = MANAGER.lookup(args, kwargs)
            if run_id and dataset:
                key = MANAGER.register_call(run_id, original.__name__, dataset, command)
                MANAGER.log(run_id, key, value, model_id)
        return value
