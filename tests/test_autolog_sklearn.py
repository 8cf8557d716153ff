"""``gitrun.sklearn.autolog()`` against MLflow's ``mlflow.sklearn.autolog()``: the same script with
each, the same params, metrics, tags, artifacts, models and child runs (values equal where the fit
is deterministic)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.autolog import deterministic, run_both

pytestmark = pytest.mark.slow

SCRIPT = r"""
import numpy as np
import sklearn.metrics
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

# log_datasets=False everywhere: MLflow logs datasets in the background, and its file store raced
# with it (a dataset's meta.yaml missing, the model not logged); gitrun logs no datasets either way.
mlflow.sklearn.autolog(log_datasets=False)
X, y = load_iris(return_X_y=True)
Xr, yr = load_diabetes(return_X_y=True)
Xb, yb = load_breast_cancer(return_X_y=True)

# a regressor with no active run: autolog starts one and ends it after fit
LinearRegression().fit(Xr, yr)
out["regressor"] = record(mlflow.last_active_run().info.run_id)

# a classifier in the user's run, then post-training metrics on its predictions
with mlflow.start_run() as run:
    model = LogisticRegression(max_iter=300).fit(X, y)
    X_test, y_test = X[::3], y[::3]
    X_val, y_val = X[1::3], y[1::3]
    pred = model.predict(X_test)
    sklearn.metrics.accuracy_score(y_test, pred)
    sklearn.metrics.accuracy_score(y_test, pred, normalize=False)
    sklearn.metrics.f1_score(y_test, pred, average="macro")
    pred_val = model.predict(X_val)
    sklearn.metrics.accuracy_score(y_val, pred_val)
    model.score(X_test, y_test)
    sklearn.metrics.accuracy_score(y_test, pred.copy())  # a copy is not the prediction: not logged
out["classifier"] = record(run.info.run_id, contents=["metric_info.json"])

# a binary classifier: its ROC and precision-recall plots
DecisionTreeClassifier(max_depth=3, random_state=0).fit(Xb, yb)
out["binary"] = record(mlflow.last_active_run().info.run_id)

# a pipeline: one run, the steps' params with their prefixes, no runs of the steps
Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(max_iter=300))]).fit(X, y)
out["pipeline"] = record(mlflow.last_active_run().info.run_id)

# a search: best_* params, best_cv_score, the best 2 points as child runs, cv_results.csv
mlflow.sklearn.autolog(max_tuning_runs=2, log_datasets=False)
GridSearchCV(LogisticRegression(max_iter=300), {"C": [0.01, 0.1, 1.0, 10.0]}, cv=3).fit(X, y)
out["search"] = record(mlflow.last_active_run().info.run_id, contents=["cv_results.csv"])

# a randomized search (a fixed seed): the same, its sampled points as child runs
from sklearn.model_selection import RandomizedSearchCV
RandomizedSearchCV(
    DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3, 4, 5], "min_samples_leaf": [1, 2, 4]},
    n_iter=4, cv=3, random_state=0,
).fit(X, y)
out["random_search"] = record(mlflow.last_active_run().info.run_id, contents=["cv_results.csv"])

# a param value over MLflow's 6000 characters: cut, ending in "..."
class Noted(LinearRegression):
    def __init__(self, note="", fit_intercept=True):
        super().__init__(fit_intercept=fit_intercept)
        self.note = note

mlflow.sklearn.autolog(log_models=False, log_datasets=False)
Noted(note="x" * 7000).fit(Xr, yr)
out["long_param"] = record(mlflow.last_active_run().info.run_id)

# an input example: the first rows of the training data, beside the model
mlflow.sklearn.autolog(log_input_examples=True, log_datasets=False)
LinearRegression().fit(Xr, yr)
out["input_example"] = record(mlflow.last_active_run().info.run_id)

# exclusive: the user's run gets nothing from autolog
mlflow.sklearn.autolog(exclusive=True, log_datasets=False)
with mlflow.start_run() as run:
    LinearRegression().fit(Xr, yr)
out["exclusive"] = record(run.info.run_id)

# disabled: no run at all
mlflow.sklearn.autolog(disable=True)
before = mlflow.last_active_run().info.run_id
LinearRegression().fit(Xr, yr)
out["disabled_new_run"] = mlflow.last_active_run().info.run_id != before
"""


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    return run_both(SCRIPT, tmp_path_factory.mktemp("sklearn-autolog"))


def _same_run(theirs: dict[str, Any], ours: dict[str, Any]) -> None:
    assert ours["status"] == theirs["status"] == "FINISHED"
    assert ours["params"] == theirs["params"]
    assert set(ours["metrics"]) == set(theirs["metrics"])
    assert deterministic(ours["metrics"]) == pytest.approx(deterministic(theirs["metrics"]))
    assert ours["tags"] == theirs["tags"]
    assert ours["artifacts"] == theirs["artifacts"]
    assert set(ours["models"]) == set(theirs["models"])
    for name, model in theirs["models"].items():
        # A logged model's params are its own and its run's: gitrun reads the run's when asked,
        # MLflow copies some when the model is logged (docs/autolog.md, "Differences"). MLflow copies
        # them in the background and its file store once read one back empty (copy_X: ''): the
        # values compared are the run's.
        mine = ours["models"][name]["params"]
        assert set(mine) == set(ours["params"]) | set(model["params"]), name
        assert {k: mine[k] for k in ours["params"]} == ours["params"], name
        assert ours["models"][name]["flavors"] == model["flavors"], name
        assert ours["models"][name]["signature"] == model["signature"], name
        assert ours["models"][name]["input_example"] == model["input_example"], name
        # The metrics linked to a model: gitrun also links the run's metrics at the model's step
        # logged before it (gitrun.models.logged), so a best_estimator logged after the training
        # metrics has them too; the model logged first has exactly MLflow's.
        if name == "best_estimator":
            assert set(ours["models"][name]["metrics"]) >= set(model["metrics"]), name
        else:
            assert ours["models"][name]["metrics"] == model["metrics"], name
    assert ours["contents"] == theirs["contents"]


def test_regressor_without_an_active_run(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = (side["regressor"] for side in both)
    _same_run(theirs, ours)
    assert ours["tags"] == {
        "mlflow.autologging": "sklearn",
        "estimator_name": "LinearRegression",
        "estimator_class": "sklearn.linear_model._base.LinearRegression",
    }
    assert set(ours["metrics"]) == {
        "training_mean_squared_error",
        "training_root_mean_squared_error",
        "training_mean_absolute_error",
        "training_r2_score",
        "training_score",
    }
    assert ours["artifacts"] == ["estimator.html"]
    assert set(ours["models"]) == {"model"}


def test_classifier_in_the_users_run_with_post_training_metrics(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = (side["classifier"] for side in both)
    _same_run(theirs, ours)
    assert "mlflow.autologging" not in ours["tags"]  # the user's run, not one autolog started
    post = {k for k in ours["metrics"] if not k.startswith("training_")}
    assert post == {
        "accuracy_score_X_test",
        "accuracy_score-2_X_test",
        "f1_score_X_test",
        "accuracy_score-3_X_val",
        "LogisticRegression_score_X_test",
    }
    assert ours["metrics"]["accuracy_score-2_X_test"] == 50  # normalize=False: a count
    info = ours["contents"]["metric_info.json"]
    assert info["accuracy_score-2_X_test"] == "accuracy_score(y_true=y_test, y_pred=pred, normalize=False)"
    assert "training_confusion_matrix.png" in ours["artifacts"]


def test_binary_classifier_plots(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = (side["binary"] for side in both)
    _same_run(theirs, ours)
    assert {"training_roc_curve.png", "training_precision_recall_curve.png"} <= set(ours["artifacts"])


def test_pipeline(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = (side["pipeline"] for side in both)
    _same_run(theirs, ours)
    assert {"scale__with_mean", "lr__C", "steps"} <= set(ours["params"])
    assert ours["tags"]["estimator_name"] == "Pipeline"


def test_grid_search_parent_and_children(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = (side["search"] for side in both)
    _same_run(theirs, ours)
    assert ours["params"]["best_C"] == theirs["params"]["best_C"]
    assert "best_cv_score" in ours["metrics"]
    assert set(ours["models"]) == {"model", "best_estimator"}
    assert "cv_results.csv" in ours["artifacts"]
    assert len(ours["children"]) == len(theirs["children"]) == 2  # max_tuning_runs=2 of 4 points
    for mine, other in zip(ours["children"], theirs["children"], strict=True):
        assert mine["status"] == other["status"] == "FINISHED"
        assert mine["params"] == other["params"]
        assert set(mine["metrics"]) == set(other["metrics"])
        assert deterministic(mine["metrics"]) == pytest.approx(deterministic(other["metrics"]))
        assert set(mine["tags"]) == set(other["tags"])
        assert mine["tags"]["mlflow.autologging"] == "sklearn"


def test_a_long_param_value_is_cut_as_mlflow_cuts_it(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = (side["long_param"] for side in both)
    _same_run(theirs, ours)
    assert len(ours["params"]["note"]) == 6000 and ours["params"]["note"].endswith("x...")
    assert ours["tags"]["estimator_class"] == "__main__.Noted" and ours["models"] == {}


def test_randomized_search(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = (side["random_search"] for side in both)
    _same_run(theirs, ours)
    assert {"best_max_depth", "best_min_samples_leaf"} <= set(ours["params"])
    assert len(ours["children"]) == len(theirs["children"]) == 2  # max_tuning_runs=2 of the 4 points sampled
    for mine, other in zip(ours["children"], theirs["children"], strict=True):
        assert mine["params"] == other["params"]
        assert deterministic(mine["metrics"]) == pytest.approx(deterministic(other["metrics"]))


def test_input_example(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = (side["input_example"] for side in both)
    _same_run(theirs, ours)
    info, rows = ours["models"]["model"]["input_example"]
    assert info["artifact_path"] == "input_example.json" and len(rows) == 5  # MLflow's 5 rows
    assert both[1]["regressor"]["models"]["model"]["input_example"] == [None, None]  # off by default


def test_exclusive_leaves_the_users_run_alone(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = (side["exclusive"] for side in both)
    _same_run(theirs, ours)
    assert ours["params"] == {} and ours["metrics"] == {} and ours["models"] == {}


def test_disabled_autolog_starts_no_run(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = both
    assert ours["disabled_new_run"] is theirs["disabled_new_run"] is False


def test_gitrun_never_imports_mlflow(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = both
    assert theirs["mlflow_imported"] is True and ours["mlflow_imported"] is False
