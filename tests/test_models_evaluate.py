"""``gitrun.evaluate`` against real MLflow's ``evaluate`` on the same data and model: the same metric
keys and values, the same artifacts, the same dataset input; the metrics linked to the logged model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import gitrun
from tests.helpers import python_ok
from tests.helpers.models import MLFLOW_ENV

PROBLEMS = """
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression

def problems():
    out = {}
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :5]
    out["binary"] = ("classifier", X, y, LogisticRegression(max_iter=2000).fit(X, y))
    X, y = load_iris(return_X_y=True, as_frame=True)
    out["multiclass"] = ("classifier", X, y, LogisticRegression(max_iter=500).fit(X, y))
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    out["regression"] = ("regressor", X, y, LinearRegression().fit(X, y))
    return out
"""

MLFLOW_SIDE = (
    PROBLEMS
    + """
import json, os, tempfile, warnings
warnings.filterwarnings("ignore")
import mlflow, mlflow.sklearn
mlflow.set_tracking_uri("file://" + tempfile.mkdtemp())
mlflow.set_experiment("evaluate")
out = {}
for name, (kind, X, y, model) in problems().items():
    df = X.copy(); df["target"] = y
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        result = mlflow.evaluate(info.model_uri, df, targets="target", model_type=kind, evaluators=["default"])
    got = mlflow.get_run(run.info.run_id)
    (inp,) = got.inputs.dataset_inputs
    d = inp.dataset
    out[name] = {"metrics": {k: float(v) for k, v in result.metrics.items()}, "artifacts": sorted(result.artifacts),
                 "dataset": [d.name, d.digest, d.source_type, d.profile, d.schema], "run_metrics": sorted(got.data.metrics)}
print(json.dumps(out))
"""
)


@pytest.fixture(scope="module")
def mlflow_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = python_ok(MLFLOW_SIDE, tmp_path_factory.mktemp("mlflow-eval"), {**MLFLOW_ENV, "PYTHONPATH": ""})
    return dict(json.loads(out.strip().splitlines()[-1]))


def _problems() -> dict[str, Any]:
    scope: dict[str, Any] = {}
    exec(PROBLEMS, scope)
    return dict(scope["problems"]())


@pytest.mark.parametrize("name", ["binary", "multiclass", "regression"])
def test_evaluate_logs_what_mlflow_logs(repo: Path, mlflow_results: dict[str, Any], name: str) -> None:
    from gitrun.tracking.inputs import read_inputs

    kind, x, y, model = _problems()[name]
    frame = x.copy()
    frame["target"] = y
    expected = mlflow_results[name]
    with gitrun.start_run() as run:
        info = gitrun.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        result = gitrun.evaluate(info.model_uri, frame, targets="target", model_type=kind, evaluators=["default"])
    assert sorted(result.metrics) == sorted(expected["metrics"])
    for key, value in expected["metrics"].items():
        assert result.metrics[key] == pytest.approx(value, rel=1e-9), key
    assert sorted(result.artifacts) == expected["artifacts"]
    for artifact in result.artifacts.values():
        assert artifact.path.is_file() and artifact.path.stat().st_size > 100
    stored = gitrun.get_run(run.info.run_id)
    assert sorted(stored.data.metrics) == expected["run_metrics"]
    run_dir = info.local_path.parent.parent
    (entry,) = read_inputs(run_dir)
    d = entry["dataset"]
    assert [d["name"], d["digest"], d["source_type"], d["profile"], d["schema"]] == expected["dataset"]
    # MLflow 3's link: the metrics are the logged model's, on the evaluation dataset.
    linked = {m.key: m for m in gitrun.get_logged_model(info.model_id).metrics if m.dataset_name == "dataset"}
    assert set(linked) == set(expected["metrics"])
    assert all(m.dataset_digest == d["digest"] and m.model_id == info.model_id for m in linked.values())


def test_log_metric_with_a_model_id_links_the_value_to_that_model(repo: Path) -> None:
    from sklearn.dummy import DummyClassifier

    model = DummyClassifier().fit([[0], [1]], [0, 1])
    with gitrun.start_run():
        info = gitrun.sklearn.log_model(model, name="dummy", step=3)
        gitrun.log_metric("val_acc", 0.75, step=3)  # the source run's metric at the model's step
        gitrun.log_metric("holdout_acc", 0.5, model_id=info.model_id)
    with gitrun.start_run() as other:  # another run, same model
        gitrun.log_metrics({"drift": 0.1}, model_id=info.model_id)
    gitrun.MlflowClient().log_metric(other.info.run_id, "latency_ms", 12.0, model_id=info.model_id)
    logged = gitrun.get_logged_model(info.model_id)
    values = {m.key: m.value for m in logged.metrics}
    assert values == {"holdout_acc": 0.5, "drift": 0.1, "latency_ms": 12.0}  # val_acc came after the model was logged
    assert gitrun.get_run(other.info.run_id).data.metrics == {
        "drift": 0.1,
        "latency_ms": 12.0,
    }  # in the run's series too
    found = gitrun.search_logged_models(filter_string="metrics.drift > 0.05", output_format="list")
    assert [m.model_id for m in found] == [info.model_id]
    assert gitrun.search_logged_models(filter_string="name = 'other'", output_format="list") == []


def test_evaluate_says_what_is_missing(repo: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
    with pytest.raises(gitrun.GitrunError, match="targets 'label' is not a column"):
        gitrun.evaluate(lambda df: df["x"], frame, targets="label", model_type="classifier")
    with pytest.raises(gitrun.GitrunError, match="unknown evaluators"):
        gitrun.evaluate(lambda df: df["x"], frame, targets="y", model_type="classifier", evaluators=["shap"])


def test_custom_artifacts_and_a_function_model(repo: Path) -> None:
    import pandas as pd

    def histogram(eval_df: Any, metrics: dict[str, float], folder: str) -> dict[str, str]:
        path = Path(folder, "errors.csv")
        (eval_df["prediction"] - eval_df["target"]).to_csv(path, index=False)
        return {"errors": str(path)}

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [1.0, 2.5, 2.5, 4.5]})
    with gitrun.start_run():
        result = gitrun.evaluate(
            lambda df: df["x"], frame, targets="y", model_type="regressor", custom_artifacts=[histogram]
        )
    assert result.metrics["mean_absolute_error"] == pytest.approx(0.375) and "score" not in result.metrics
    assert result.artifacts["errors"].path.read_text().splitlines()[0] == "0"
