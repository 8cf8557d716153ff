"""The flavor modules' API as MLflow scripts call it: log_model forms old and new, formats,
pyfunc_predict_fn, what is recorded, and nothing imported before a model is used."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import gitrun
from gitrun.errors import GitrunError, InvalidInputError
from tests.helpers import python_ok


def iris() -> tuple[Any, Any, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    return x, y, LogisticRegression(max_iter=500).fit(x, y)


def test_flavor_modules_are_mlflow_s_names_and_load_nothing_until_used(repo: Path) -> None:
    code = """
import sys, json
import gitrun
import gitrun.sklearn, gitrun.pyfunc, gitrun.lightgbm
import gitrun.models
same = gitrun.sklearn is sys.modules["gitrun.models.sklearn"] and gitrun.pyfunc.PythonModel is gitrun.models.pyfunc.PythonModel
heavy = sorted(m for m in ("sklearn", "numpy", "skops", "pandas", "lightgbm", "cloudpickle", "mlflow") if m in sys.modules)
print(json.dumps([same, heavy, callable(gitrun.sklearn.log_model), callable(gitrun.evaluate)]))
"""
    assert json.loads(python_ok(code, repo).strip()) == [True, [], True, True]


def test_log_model_returns_mlflow_s_model_info_and_writes_the_model_under_the_run(repo: Path) -> None:
    x, _, model = iris()
    with gitrun.start_run() as run:
        info = gitrun.sklearn.log_model(model, name="model", input_example=x[:2], registered_model_name="iris")
    assert info.model_uri == f"models:/{info.model_id}" and info.model_id.startswith("m-") and len(info.model_id) == 34
    assert (
        info.run_id == run.info.run_id
        and info.artifact_path == "model"
        and set(info.flavors) == {"python_function", "sklearn"}
    )
    assert info.local_path == Path(run.info.artifact_uri.removeprefix("file://")) / "model"
    mlmodel = yaml.safe_load((info.local_path / "MLmodel").read_text())
    assert mlmodel["model_uuid"] == mlmodel["model_id"] == info.model_id and mlmodel["run_id"] == run.info.run_id
    assert mlmodel["logged_model"] == {"registered_model_name": "iris"}
    assert not list(info.local_path.parent.glob(".gitrun-tmp*"))


def test_old_scripts_positional_name_and_artifact_path_still_work(repo: Path) -> None:
    x, _, model = iris()
    with gitrun.start_run() as run:
        with pytest.warns(FutureWarning, match=r"^`artifact_path` is deprecated\. Please use `name` instead\.$"):
            gitrun.sklearn.log_model(model, "model")
        with pytest.warns(FutureWarning):
            gitrun.sklearn.log_model(model, artifact_path="models/clf")
        with pytest.raises(InvalidInputError, match="Both `artifact_path`"):
            gitrun.sklearn.log_model(model, artifact_path="a", name="b")
        with pytest.raises(InvalidInputError, match="invalid model name 'a/b'"):
            gitrun.sklearn.log_model(model, name="a/b")
        with pytest.raises(InvalidInputError, match="already has an artifact 'model'"):
            gitrun.sklearn.log_model(model, name="model")
    for path in ("model", "models/clf"):
        loaded = gitrun.pyfunc.load_model(f"runs:/{run.info.run_id}/{path}")
        assert loaded.predict(x[:3]).tolist() == model.predict(x[:3]).tolist()


def test_logging_without_an_active_run_starts_one_as_mlflow_does(repo: Path) -> None:
    _, _, model = iris()
    info = gitrun.sklearn.log_model(model, name="m")
    active = gitrun.active_run()
    assert active is not None and active.info.run_id == info.run_id
    gitrun.end_run()


def test_serialization_formats_and_pyfunc_predict_fn(repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    x, _, model = iris()
    with gitrun.start_run() as run:
        with caplog.at_level(logging.WARNING):
            gitrun.sklearn.log_model(model, name="cp", serialization_format="cloudpickle")
        gitrun.sklearn.log_model(model, name="pk", serialization_format="pickle")
        gitrun.sklearn.log_model(model, name="proba", pyfunc_predict_fn="predict_proba", input_example=x[:2])
        with pytest.raises(InvalidInputError, match="unknown serialization_format 'joblib'"):
            gitrun.sklearn.log_model(model, name="bad", serialization_format="joblib")
    assert "pickle or cloudpickle format requires exercising caution" in caplog.text
    base = f"runs:/{run.info.run_id}"
    for name in ("cp", "pk"):
        assert gitrun.sklearn.load_model(f"{base}/{name}").predict(x[:3]).tolist() == model.predict(x[:3]).tolist()
    proba = gitrun.pyfunc.load_model(f"{base}/proba")
    assert np.allclose(proba.predict(x[:3]), model.predict_proba(x[:3]))
    assert proba.metadata.signature.outputs.inputs[0].shape == (-1, 3)


def test_a_model_that_cannot_be_saved_leaves_nothing_in_the_run(repo: Path) -> None:
    from sklearn.preprocessing import FunctionTransformer

    local = FunctionTransformer(lambda v: v)  # a lambda: no skops file can hold it safely
    with (
        gitrun.start_run() as run,
        pytest.raises(GitrunError, match=r"skops does not trust by default: test_models_api\.<lambda>"),
    ):
        gitrun.sklearn.log_model(local.fit([[1]]), name="broken")
    artifacts = Path(run.info.artifact_uri.removeprefix("file://"))
    assert not artifacts.exists() or list(artifacts.iterdir()) == []


def test_pyfunc_models_with_artifacts_params_and_a_function(repo: Path, tmp_path: Path) -> None:
    import pandas as pd

    class Threshold(gitrun.pyfunc.PythonModel):
        def load_context(self, context: Any) -> None:
            self.cut = json.loads(Path(context.artifacts["config"]).read_text())["cut"]

        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return (model_input["score"] > (params or {}).get("cut", self.cut)).astype(int)

    (tmp_path / "config.json").write_text('{"cut": 0.5}')
    frame = pd.DataFrame({"score": [0.2, 0.7]})
    with gitrun.start_run():
        info = gitrun.pyfunc.log_model(
            name="threshold",
            python_model=Threshold(),
            artifacts={"config": str(tmp_path / "config.json")},
            input_example=(frame, {"cut": 0.5}),
        )
        fn = gitrun.pyfunc.log_model(name="fn", python_model=lambda df: df["score"] * 10, input_example=frame)
    loaded = gitrun.pyfunc.load_model(info.model_uri)
    assert loaded.predict(frame).tolist() == [0, 1] and loaded.predict(frame, params={"cut": 0.1}).tolist() == [1, 1]
    assert isinstance(loaded.unwrap_python_model(), gitrun.pyfunc.PythonModel)
    assert gitrun.pyfunc.load_model(fn.model_uri).predict(frame).tolist() == [2.0, 7.0]
    conf = loaded.metadata.flavors["python_function"]
    assert (
        conf["loader_module"] == "mlflow.pyfunc.model"
        and conf["artifacts"]["config"]["path"] == "artifacts/config.json"
    )
