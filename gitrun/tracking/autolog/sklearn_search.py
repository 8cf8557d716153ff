"""Parameter searches (``GridSearchCV``, ``RandomizedSearchCV``): the parent run's ``best_*`` params
and ``best_cv_score``, a child run per explored point (the best ``max_tuning_runs`` by
``rank_test_score``; all with None) and ``cv_results.csv``, as MLflow's autolog records them.

A child run has the seed estimator's params updated with the point's, the point's aggregate
scores and times (no ``param_*`` or ``split*`` columns), the parent's context tags, the estimator
tags and ``mlflow.autologging``; it starts when the parent did and ends FINISHED at once.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from numbers import Number
from typing import Any

from gitrun import tags
from gitrun.entities import RunStatus
from gitrun.store.names import generate_run_name
from gitrun.tracking import fluent
from gitrun.tracking.autolog import client
from gitrun.tracking.autolog.sklearn_content import estimator_tags
from gitrun.tracking.state import current_store

log = logging.getLogger(__name__)

CV_RESULTS = "cv_results.csv"
_EXCLUDED_METRIC_PREFIXES = ("param", "split")


def is_search(estimator: Any) -> bool:
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

    return isinstance(estimator, (GridSearchCV, RandomizedSearchCV))


def best_params(estimator: Any) -> dict[str, Any]:
    return {f"best_{name}": value for name, value in getattr(estimator, "best_params_", {}).items()}


def _child_runs_info(max_tuning_runs: int, total: int) -> None:
    logged = min(max_tuning_runs, total)
    rest = total - logged
    logging_phrase = "no runs" if logged == 0 else "the best run" if logged == 1 else f"the {logged} best runs"
    omitted = "no runs" if rest <= 0 else "one run" if rest == 1 else f"{rest} runs"
    log.info("Logging %s, %s will be omitted.", logging_phrase, omitted)


def create_child_runs(
    search: Any, parent: Any, max_tuning_runs: int | None, integration: str, best_model_id: str | None
) -> None:
    """One finished child run of ``parent`` per explored point of ``search`` (the best ``max_tuning_runs``)."""
    import pandas as pd

    results = pd.DataFrame.from_dict(search.cv_results_)
    if max_tuning_runs is not None:
        rank = "rank_test_score"
        if rank not in results.columns:
            rank = next(c for c in results.columns if "rank_test_" in c)
            warnings.warn(
                f"Top {max_tuning_runs} child runs will be created based on ordering in {rank} column.  You can "
                "choose not to limit the number of child runs created by setting `max_tuning_runs=None`.",
                stacklevel=2,
            )
        _child_runs_info(max_tuning_runs, len(results))
        results = results.nsmallest(max_tuning_runs, rank)
    seed = search.estimator
    base_params = seed.get_params(deep=not is_search(seed))
    best = (
        search.best_estimator_.get_params(deep=True) if best_model_id and hasattr(search, "best_estimator_") else None
    )
    store = current_store()
    experiment_id = parent.info.experiment_id
    start = parent.info.start_time
    child_tags = {tags.AUTOLOGGING: integration, **estimator_tags(seed)}
    for _, row in results.iterrows():
        point = row.get("params", {})
        writer, _ = fluent.new_run(
            store,
            experiment_id,
            generate_run_name(),
            client.truncate(child_tags, None),
            parent_run_id=parent.info.run_id,
            start_time=start,
        )
        run_id = writer.run_id
        client.log_params(run_id, {**base_params, **point})
        metrics = {
            key: value
            for key, value in row.items()
            if not str(key).startswith(_EXCLUDED_METRIC_PREFIXES) and isinstance(value, Number)
        }
        model_id = best_model_id if best is not None and point.items() <= best.items() else None
        client.log_metrics(run_id, metrics, model_id=model_id)
        store.set_terminated(run_id, RunStatus.FINISHED, writer=writer)
        store.close_writer(run_id)


def log_cv_results(search: Any, run_id: str) -> None:
    import pandas as pd

    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/{CV_RESULTS}"
        pd.DataFrame.from_dict(search.cv_results_).to_csv(path, index=False)
        fluent.log_artifact(path, run_id=run_id)
