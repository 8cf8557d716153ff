"""``gitrun.autolog()``: every installed integration, each enabled when its framework is imported
(against MLflow's ``mlflow.autolog()``), ``exclude_flavors``, a third-party integration plugged in
through the ``gitrun_autolog_integrations`` hook, and autolog's failures never failing the fit."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, run_python
from tests.helpers.autolog import run_both

pytestmark = pytest.mark.slow

SCRIPT = r"""
mlflow.autolog(log_datasets=False)  # before the frameworks are imported: each is enabled on its import
# (log_datasets=False: MLflow logs datasets in the background, racing its file store)
import lightgbm as lgb
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression

X, y = load_diabetes(return_X_y=True)
LinearRegression().fit(X, y)
out["sklearn"] = record(mlflow.last_active_run().info.run_id)

Xi, yi = load_iris(return_X_y=True)
params = {"objective": "multiclass", "num_class": 3, "verbose": -1, "seed": 0, "deterministic": True, "num_threads": 1}
lgb.train(params, lgb.Dataset(Xi, yi), num_boost_round=5)
out["lightgbm"] = record(mlflow.last_active_run().info.run_id)

mlflow.autolog(exclude_flavors=["lightgbm", "sklearn"], disable=True)  # the others off: nothing changes
before = mlflow.last_active_run().info.run_id
LinearRegression().fit(X, y)
out["sklearn_still_on"] = mlflow.last_active_run().info.run_id != before

mlflow.autolog(disable=True)
before = mlflow.last_active_run().info.run_id
LinearRegression().fit(X, y)
lgb.train(params, lgb.Dataset(Xi, yi), num_boost_round=5)
out["all_off_new_run"] = mlflow.last_active_run().info.run_id != before
"""


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    return run_both(SCRIPT, tmp_path_factory.mktemp("autolog-all"))


@pytest.mark.parametrize("framework", ["sklearn", "lightgbm"])
def test_autolog_enables_each_framework_imported_after_it(
    both: tuple[dict[str, Any], dict[str, Any]], framework: str
) -> None:
    theirs, ours = (side[framework] for side in both)
    assert ours["status"] == theirs["status"] == "FINISHED"
    assert ours["params"] == theirs["params"]
    assert set(ours["metrics"]) == set(theirs["metrics"])
    assert ours["tags"] == theirs["tags"]
    assert ours["tags"]["mlflow.autologging"] == framework
    assert ours["artifacts"] == theirs["artifacts"]
    assert set(ours["models"]) == set(theirs["models"]) == {"model"}


def test_exclude_flavors_and_disable(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = both
    assert ours["sklearn_still_on"] is theirs["sklearn_still_on"] is True
    assert ours["all_off_new_run"] is theirs["all_off_new_run"] is False


# -- a third-party integration ------------------------------------------------------------------
TOYFW = '''
"""A tiny training framework."""
class Model:
    def fit(self, data, rate=0.1):
        self.fitted = sum(data) * rate
        return self
'''

PLUGIN = '''
"""gitrun's autologging of toyfw, a plugin."""
from gitrun.plugins import hookimpl
from gitrun.tracking.autolog import Integration, integration, safe_patch


@hookimpl
def gitrun_autolog_integrations():
    return [Integration("toyfw", "toyfw", "gitrun_toyfw:autolog", "toyfw's Model.fit")]


@integration("toyfw")
def autolog(log_models=True, disable=False, exclusive=False, silent=False, fail=False):
    import toyfw
    import gitrun

    def fit(original, self, data, rate=0.1):
        gitrun.log_param("rate", rate)
        model = original(self, data, rate=rate)
        if fail:
            raise RuntimeError("a bug in the integration")
        gitrun.log_metric("fitted", model.fitted)
        return model

    safe_patch("toyfw", toyfw.Model, "fit", fit, manage_run=True)
'''

USE = """
import json, logging, gitrun
logging.basicConfig()
gitrun.autolog()
import toyfw
model = toyfw.Model().fit([1, 2, 3], rate=0.5)
run = gitrun.last_active_run()
out = {"fitted": model.fitted, "params": run.data.params, "metrics": run.data.metrics,
       "tag": run.data.tags.get("mlflow.autologging"), "status": run.info.status}
import gitrun_toyfw
gitrun_toyfw.autolog(fail=True)  # its own call: patched again, now failing after the fit
model = toyfw.Model().fit([1, 2], rate=2.0)
out["failing_fitted"] = model.fitted
failing = gitrun.last_active_run()
out["failing_params"] = failing.data.params
out["failing_metrics"] = failing.data.metrics
print("RESULT " + json.dumps(out))
"""


def test_a_third_party_integration_through_the_hook(repo: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "toyfw.py").write_text(TOYFW)
    (site / "gitrun_toyfw.py").write_text(PLUGIN)
    info = site / "gitrun_toyfw-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gitrun-toyfw\nVersion: 0.1.0\n")
    (info / "top_level.txt").write_text("gitrun_toyfw\n")
    (info / "entry_points.txt").write_text("[gitrun]\ntoyfw = gitrun_toyfw\n")
    proc = run_python(USE, repo, {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))[len("RESULT ") :])
    assert out["fitted"] == 3.0
    assert out["status"] == "FINISHED" and out["tag"] == "toyfw"  # a run of its own, started and ended by autolog
    assert out["params"] == {"rate": "0.5"} and out["metrics"] == {"fitted": 3.0}
    # A failure of the integration's own code is a warning; the user's fit returns its result.
    assert out["failing_fitted"] == 6.0
    assert out["failing_params"] == {"rate": "2.0"} and out["failing_metrics"] == {}
    assert "Encountered unexpected error during toyfw autologging: a bug in the integration" in proc.stderr


NOTED = """
import json, logging, gitrun
logging.basicConfig(level=logging.WARNING, format="LOG %(message)s")
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression

class Noted(LinearRegression):
    def __init__(self, note="", fit_intercept=True):
        super().__init__(fit_intercept=fit_intercept)
        self.note = note

X, y = load_diabetes(return_X_y=True)
out = {}
for fmt in ("skops", "cloudpickle"):
    gitrun.sklearn.autolog(serialization_format=fmt)
    Noted(note="n").fit(X, y)
    run = gitrun.last_active_run()
    models = gitrun.search_logged_models(filter_string=f"source_run_id = '{run.info.run_id}'", output_format="list")
    out[fmt] = {"status": run.info.status, "note": run.data.params.get("note"), "models": [m.name for m in models]}
print("RESULT " + json.dumps(out))
"""


def test_a_model_of_a_class_skops_does_not_trust_is_a_warning(repo: Path) -> None:
    proc = run_python(NOTED, repo)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))[len("RESULT ") :])
    assert out["skops"] == {"status": "FINISHED", "note": "n", "models": []}
    assert "LOG The sklearn model 'model' is not logged" in proc.stderr and "__main__.Noted" in proc.stderr
    assert out["cloudpickle"] == {"status": "FINISHED", "note": "n", "models": ["model"]}
