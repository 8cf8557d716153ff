"""Helpers of the model tests: models saved by real MLflow, and imports kept out of a process.

MLflow runs in subprocesses only (its import takes seconds and sets up logging and warnings the
other tests must not see); models saved on its side get explicit ``pip_requirements`` so MLflow
skips its slow requirements inference.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers import run_python

MLFLOW_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ALLOW_FILE_STORE": "true",
    "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
}


def blocker(*names: str) -> str:
    """Python code that makes importing any of ``names`` (or their submodules) fail, as if not installed."""
    return f"""
import importlib.abc, sys
class _Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in {tuple(names)!r}:
            raise ModuleNotFoundError(f"No module named {{fullname!r}} (blocked by the test)", name=fullname)
        return None
sys.meta_path.insert(0, _Blocked())
"""


# Saves MLflow models into sys.argv-like DEST and prints their predictions on fixed inputs.
SAVE_MLFLOW_MODELS = """
import json, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
import mlflow, mlflow.sklearn, mlflow.lightgbm, mlflow.pyfunc
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
import lightgbm as lgb
DEST = {dest!r}
X, y = load_iris(return_X_y=True, as_frame=True)
sk = LogisticRegression(max_iter=500).fit(X, y)
out = {{}}
mlflow.sklearn.save_model(sk, DEST + "/sk_df", input_example=X.head(3), pip_requirements=["scikit-learn"])
mlflow.sklearn.save_model(sk, DEST + "/sk_np", input_example=X.values[:3], pip_requirements=["scikit-learn"])
mlflow.sklearn.save_model(sk, DEST + "/sk_cloudpickle", serialization_format="cloudpickle", pip_requirements=["scikit-learn"])
mlflow.sklearn.save_model(sk, DEST + "/sk_proba", pyfunc_predict_fn="predict_proba", input_example=X.head(2), pip_requirements=["scikit-learn"])
out["sk"] = sk.predict(X.head(5)).tolist()
out["sk_proba"] = sk.predict_proba(X.head(5)).tolist()
booster = lgb.train({{"objective": "multiclass", "num_class": 3, "verbose": -1}}, lgb.Dataset(X, y), 5)
mlflow.lightgbm.save_model(booster, DEST + "/lgb_booster", input_example=X.head(2), pip_requirements=["lightgbm"])
out["lgb_booster"] = booster.predict(X.head(5)).tolist()
clf = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y)
mlflow.lightgbm.save_model(clf, DEST + "/lgb_sklearn", pip_requirements=["lightgbm"])
out["lgb_sklearn"] = clf.predict(X.head(5)).tolist()

class AddK(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["a"] * 2 + (params or {{}}).get("k", 1)

frame = pd.DataFrame({{"a": [1.0, 2.0], "s": ["x", "y"]}})
sig = infer_signature(frame, np.array([1.0]), params={{"k": 1}})
mlflow.pyfunc.save_model(DEST + "/py", python_model=AddK(), signature=sig, input_example=(frame, {{"k": 2}}), pip_requirements=["pandas"])
out["py"] = (frame["a"] * 2 + 5).tolist()
mlflow.pyfunc.save_model(DEST + "/py_func", python_model=lambda df: df["a"] + 100, pip_requirements=["pandas"])
out["py_func"] = (frame["a"] + 100).tolist()
print(json.dumps(out))
"""


def save_mlflow_models(dest: Path) -> dict[str, Any]:
    """Save MLflow's models (sklearn, lightgbm, pyfunc) under ``dest``; their expected predictions."""
    dest.mkdir(parents=True, exist_ok=True)
    proc = run_python(SAVE_MLFLOW_MODELS.format(dest=str(dest)), dest, {**MLFLOW_ENV, "PYTHONPATH": ""}, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
