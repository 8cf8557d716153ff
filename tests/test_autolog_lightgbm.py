"""``gitrun.lightgbm.autolog()`` against MLflow's ``mlflow.lightgbm.autolog()``: ``lightgbm.train``
with a validation set and early stopping, and ``LGBMClassifier`` with an eval set, the same script
with each; the same params, per-iteration metrics, feature importance and model."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.autolog import run_both

pytestmark = pytest.mark.slow

SCRIPT = r"""
import lightgbm as lgb
import sklearn.metrics
from sklearn.datasets import load_iris

mlflow.lightgbm.autolog(log_datasets=False)  # MLflow's background dataset logging races its file store
X, y = load_iris(return_X_y=True)
X_train, y_train, X_valid, y_valid = X[::2], y[::2], X[1::2], y[1::2]
params = {"objective": "multiclass", "num_class": 3, "verbose": -1, "seed": 0, "deterministic": True, "num_threads": 1}

# lightgbm.train, no active run: a run of its own
train_set = lgb.Dataset(X_train, y_train)
valid_set = lgb.Dataset(X_valid, y_valid, reference=train_set)
booster = lgb.train(
    params, train_set, num_boost_round=30, valid_sets=[valid_set], callbacks=[lgb.early_stopping(3, verbose=False)]
)
run_id = mlflow.last_active_run().info.run_id
out["train"] = record(run_id, contents=["feature_importance_split.json", "feature_importance_gain.json"])
out["train_history"] = sorted((m.step, m.value) for m in _client.get_metric_history(run_id, "valid_0-multi_logloss"))
out["best_iteration"] = booster.best_iteration

# the scikit-learn API with an eval set, in the user's run, and a metric on its predictions
with mlflow.start_run() as run:
    clf = lgb.LGBMClassifier(n_estimators=8, random_state=0, verbose=-1, n_jobs=1, deterministic=True)
    clf.fit(X_train, y_train, eval_set=[(X_valid, y_valid)])
    pred = clf.predict(X_valid)
    sklearn.metrics.accuracy_score(y_valid, pred)
out["sklearn_api"] = record(run.info.run_id)
out["sklearn_api_history"] = sorted(
    (m.step, m.value) for m in _client.get_metric_history(run.info.run_id, "valid_0-multi_logloss")
)
"""


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    return run_both(SCRIPT, tmp_path_factory.mktemp("lightgbm-autolog"))


def _same_run(theirs: dict[str, Any], ours: dict[str, Any]) -> None:
    assert ours["status"] == theirs["status"] == "FINISHED"
    assert ours["params"] == theirs["params"]
    assert set(ours["metrics"]) == set(theirs["metrics"])
    assert ours["metrics"] == pytest.approx(theirs["metrics"])
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
    assert ours["contents"] == theirs["contents"]


def _same_history(ours: list[list[float]], theirs: list[list[float]]) -> None:
    """The same points (to float precision). MLflow's history holds the first iteration's point twice
    (the same step, value and time: its batch logger's first flush), gitrun's once."""
    theirs = [point for i, point in enumerate(theirs) if point not in theirs[:i]]
    assert [step for step, _ in ours] == [step for step, _ in theirs]
    assert [value for _, value in ours] == pytest.approx([value for _, value in theirs])


def test_train_with_a_validation_set_and_early_stopping(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = both
    _same_run(theirs["train"], ours["train"])
    run = ours["train"]
    assert run["tags"] == {"mlflow.autologging": "lightgbm"}
    assert {"objective", "num_class", "num_boost_round", "keep_training_booster"} <= set(run["params"])
    assert {"valid_0-multi_logloss", "stopped_iteration", "best_iteration"} == set(run["metrics"])
    assert run["artifacts"] == [
        "feature_importance_gain.json",
        "feature_importance_gain.png",
        "feature_importance_split.json",
        "feature_importance_split.png",
    ]
    assert set(run["models"]) == {"model"}
    # one point per iteration at step = iteration, then the best iteration's one step after the last
    history = ours["train_history"]
    _same_history(history, theirs["train_history"])
    iterations = int(run["metrics"]["stopped_iteration"])
    assert [step for step, _ in history] == [*range(iterations), iterations]
    assert history[-1][1] == pytest.approx(history[ours["best_iteration"] - 1][1])


def test_sklearn_api_with_an_eval_set(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = both
    _same_run(theirs["sklearn_api"], ours["sklearn_api"])
    run = ours["sklearn_api"]
    assert "accuracy_score_X_valid" in run["metrics"]
    assert run["params"]["num_boost_round"] == "8"  # n_estimators, as the scikit-learn API passes it to train
    assert set(run["models"]) == {"model"}
    _same_history(ours["sklearn_api_history"], theirs["sklearn_api_history"])
    assert len(ours["sklearn_api_history"]) == 8
