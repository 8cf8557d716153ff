"""Interop both ways with real MLflow: MLflow loads gitrun's models where gitrun is not installed,
and gitrun loads MLflow's models without importing MLflow; the predictions are the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import python_ok
from tests.helpers.models import MLFLOW_ENV, blocker


def close(a: Any, b: Any) -> bool:
    import numpy as np

    return bool(np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float)))


# A training script as users write it: the PythonModel class lives in __main__.
GITRUN_SIDE = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
import lightgbm as lgb
import gitrun

X, y = load_iris(return_X_y=True, as_frame=True)
out = {}
sk = LogisticRegression(max_iter=500).fit(X, y)
gitrun.sklearn.save_model(sk, "sk", input_example=X.head(3))
gitrun.sklearn.save_model(sk, "sk_proba", pyfunc_predict_fn="predict_proba", input_example=X.head(3))
gitrun.sklearn.save_model(sk, "sk_cloudpickle", serialization_format="cloudpickle")
out["sk"] = sk.predict(X.head(5)).tolist()
out["sk_proba"] = sk.predict_proba(X.head(5)).tolist()

class Scaled(gitrun.pyfunc.PythonModel):
    def load_context(self, context):
        self.offset = float(open(context.artifacts["offset"]).read())
    def predict(self, context, model_input, params=None):
        return model_input["a"] * (params or {}).get("scale", 1.0) + self.offset

open("offset.txt", "w").write("10")
frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "z"]})
gitrun.pyfunc.save_model("py", python_model=Scaled(), artifacts={"offset": "offset.txt"}, input_example=(frame, {"scale": 2.0}))
out["py"] = (frame["a"] * 3.0 + 10).tolist()
gitrun.pyfunc.save_model("py_func", python_model=lambda df: df["a"] - 1, input_example=frame)
out["py_func"] = (frame["a"] - 1).tolist()

booster = lgb.train({"objective": "multiclass", "num_class": 3, "verbose": -1}, lgb.Dataset(X, y), 5)
gitrun.lightgbm.save_model(booster, "lgb", input_example=X.head(2))
out["lgb"] = booster.predict(X.head(5)).tolist()
clf = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y)
gitrun.lightgbm.save_model(clf, "lgb_sklearn", input_example=X.head(2))
out["lgb_sklearn"] = clf.predict(X.head(5)).tolist()
print(json.dumps(out))
"""

MLFLOW_LOADS = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from sklearn.datasets import load_iris
import mlflow.pyfunc, mlflow.sklearn, mlflow.lightgbm
X, y = load_iris(return_X_y=True, as_frame=True)
frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "z"]})
out = {
    "sk": mlflow.pyfunc.load_model("sk").predict(X.head(5)).tolist(),
    "sk_native": mlflow.sklearn.load_model("sk").predict(X.head(5)).tolist(),
    "sk_proba": mlflow.pyfunc.load_model("sk_proba").predict(X.head(5)).tolist(),
    "sk_cloudpickle": mlflow.pyfunc.load_model("sk_cloudpickle").predict(X.head(5)).tolist(),
    "py": list(mlflow.pyfunc.load_model("py").predict(frame, params={"scale": 3.0})),
    "py_func": list(mlflow.pyfunc.load_model("py_func").predict(frame)),
    "lgb": mlflow.pyfunc.load_model("lgb").predict(X.head(5)).tolist(),
    "lgb_native": mlflow.lightgbm.load_model("lgb").predict(X.head(5)).tolist(),
    "lgb_sklearn": mlflow.pyfunc.load_model("lgb_sklearn").predict(X.head(5)).tolist(),
    "gitrun_imported": "gitrun" in sys.modules,
}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def gitrun_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("gitrun-models")
    return folder, json.loads(python_ok(GITRUN_SIDE, folder).strip().splitlines()[-1])


def test_mlflow_loads_gitrun_models_without_gitrun_and_predicts_the_same(
    gitrun_models: tuple[Path, dict[str, Any]],
) -> None:
    folder, expected = gitrun_models
    seen = json.loads(
        python_ok(blocker("gitrun") + MLFLOW_LOADS, folder, {**MLFLOW_ENV, "PYTHONPATH": ""}).strip().splitlines()[-1]
    )
    assert seen.pop("gitrun_imported") is False
    assert seen["sk"] == seen["sk_native"] == seen["sk_cloudpickle"] == expected["sk"]
    assert close(seen["sk_proba"], expected["sk_proba"])
    assert close(seen["py"], expected["py"]) and close(seen["py_func"], expected["py_func"])
    assert close(seen["lgb"], expected["lgb"]) and close(seen["lgb_native"], expected["lgb"])
    assert seen["lgb_sklearn"] == expected["lgb_sklearn"]


GITRUN_LOADS = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from sklearn.datasets import load_iris
import gitrun
X, y = load_iris(return_X_y=True, as_frame=True)
frame = pd.DataFrame({"a": [1.0, 2.0], "s": ["x", "y"]})
D = None
d = D
out = {
    "sk_df": gitrun.pyfunc.load_model(f"{d}/sk_df").predict(X.head(5)).tolist(),
    "sk_np": gitrun.pyfunc.load_model(f"{d}/sk_np").predict(X.head(5).to_numpy()).tolist(),
    "sk_native": gitrun.sklearn.load_model(f"{d}/sk_df").predict(X.head(5)).tolist(),
    "sk_cloudpickle": gitrun.pyfunc.load_model(f"{d}/sk_cloudpickle").predict(X.head(5)).tolist(),
    "sk_proba": gitrun.pyfunc.load_model(f"{d}/sk_proba").predict(X.head(5)).tolist(),
    "lgb_booster": gitrun.pyfunc.load_model(f"{d}/lgb_booster").predict(X.head(5)).tolist(),
    "lgb_native": gitrun.lightgbm.load_model(f"{d}/lgb_booster").predict(X.head(5)).tolist(),
    "lgb_sklearn": gitrun.pyfunc.load_model(f"{d}/lgb_sklearn").predict(X.head(5)).tolist(),
    "py": list(gitrun.pyfunc.load_model(f"{d}/py").predict(frame, params={"k": 5})),
    "py_func": list(gitrun.pyfunc.load_model(f"{d}/py_func").predict(frame)),
    "mlflow_imported": sorted(m for m in sys.modules if m.split(".")[0] == "mlflow"),
}
print(json.dumps(out))
"""


def test_gitrun_loads_mlflow_models_without_importing_mlflow_and_predicts_the_same(
    mlflow_models: tuple[Path, dict[str, Any]],
) -> None:
    folder, expected = mlflow_models
    code = blocker("mlflow") + GITRUN_LOADS.replace("D = None", f"D = {str(folder)!r}")
    seen = json.loads(python_ok(code, folder).strip().splitlines()[-1])
    assert seen.pop("mlflow_imported") == []
    assert seen["sk_df"] == seen["sk_np"] == seen["sk_native"] == seen["sk_cloudpickle"] == expected["sk"]
    assert close(seen["sk_proba"], expected["sk_proba"])
    assert close(seen["lgb_booster"], expected["lgb_booster"]) and close(seen["lgb_native"], expected["lgb_booster"])
    assert seen["lgb_sklearn"] == expected["lgb_sklearn"]
    assert close(seen["py"], expected["py"]) and close(seen["py_func"], expected["py_func"])


def test_gitrun_model_folders_hold_mlflow_s_files(gitrun_models: tuple[Path, dict[str, Any]]) -> None:
    folder, _ = gitrun_models
    names = {p.name for p in (folder / "sk").iterdir()}
    assert names == {
        "MLmodel",
        "model.skops",
        "requirements.txt",
        "python_env.yaml",
        "conda.yaml",
        "input_example.json",
        "serving_input_example.json",
    }
    assert {p.name for p in (folder / "py").iterdir()} >= {"python_model.pkl", "artifacts", "MLmodel"}
    env = (folder / "sk" / "python_env.yaml").read_text()
    assert env.startswith("python: 3.") and "dependencies:\n- -r requirements.txt\n" in env
    assert "mlflow" not in (folder / "sk" / "requirements.txt").read_text()
