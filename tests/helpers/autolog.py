"""Helpers of the autolog tests: one script run with real MLflow and with gitrun, and what each recorded.

A scenario script imports ``mlflow`` (MLflow's side) or ``gitrun as mlflow`` (gitrun's side); the
rest of the script is the same text. It ends by printing, as JSON, what each of its runs holds:
params, metrics, the tags autolog added (the run's tags less those of a plain run started by the
same tool in the same process: each tool's own context tags), artifacts (without the logged model
folders, which MLflow 3 keeps outside the run), logged models (name, params, flavors, signature),
child runs, and the contents of small JSON/CSV artifacts; a model's input example, when it has one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers import run_python
from tests.helpers.models import MLFLOW_ENV

IMPORT_MLFLOW = "import mlflow\n"
IMPORT_GITRUN = "import gitrun as mlflow\n"

# Appended to every scenario: `record(run_id)` and `baseline_tags`, then the scenario's own code
# fills `out` (name -> record) and the footer prints it.
RECORD = r"""
import json as _json, os as _os, tempfile as _tempfile, urllib.parse as _urlparse, warnings as _warnings
import yaml as _yaml
_warnings.filterwarnings("ignore")
_client = mlflow.MlflowClient()
with mlflow.start_run() as _plain:
    pass
baseline_tags = set(_client.get_run(_plain.info.run_id).data.tags)

def _artifacts(run_id, path=None):
    out = []
    for f in _client.list_artifacts(run_id, path):
        out += _artifacts(run_id, f.path) if f.is_dir else [f.path]
    return out

def _content(run_id, path):
    folder = _tempfile.mkdtemp()
    local = _client.download_artifacts(run_id, path, folder)
    with open(local) as f:
        text = f.read()
    return _json.loads(text) if path.endswith(".json") else text.splitlines()[0].split(",")

def record(run_id, contents=()):
    run = _client.get_run(run_id)
    models = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'", output_format="list"
    )
    described = {}
    for m in models:
        folder = _urlparse.urlparse(m.artifact_location).path
        with open(folder + "/MLmodel") as f:
            mlmodel = _yaml.safe_load(f)
        example_info = mlmodel.get("saved_input_example_info")
        example = None
        if example_info:
            with open(folder + "/" + example_info["artifact_path"]) as f:
                example = _json.load(f)
        described[m.name] = {
            "params": dict(m.params),
            "flavors": sorted(mlmodel["flavors"]),
            "signature": mlmodel.get("signature"),
            "metrics": sorted({x.key for x in m.metrics}),
            "input_example": [example_info, example],
        }
    children = _client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'"
    )
    artifacts = sorted(a for a in _artifacts(run_id) if a.split("/")[0] not in described)
    return {
        "status": run.info.status,
        "params": run.data.params,
        "metrics": run.data.metrics,
        "tags": {k: v for k, v in run.data.tags.items() if k not in baseline_tags},
        "artifacts": artifacts,
        "models": described,
        "contents": {path: _content(run_id, path) for path in contents if path in artifacts},
        "children": sorted(
            (
                {
                    "status": c.info.status,
                    "params": c.data.params,
                    "metrics": c.data.metrics,
                    "tags": {k: v for k, v in c.data.tags.items() if k not in baseline_tags},
                }
                for c in children
            ),
            key=lambda c: sorted(c["params"].items()),
        ),
    }

out = {}
"""

FOOTER = """
import sys as _sys
out["mlflow_imported"] = "mlflow" in _sys.modules
print('RESULT ' + _json.dumps(out, default=str))
"""


def run_both(script: str, folder: Path, timeout: float = 600) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``script`` with MLflow and with gitrun (each in its own store under ``folder``);
    ``(mlflow's records, gitrun's records)``."""
    results = []
    for side, header, env in (
        (
            "mlflow",
            IMPORT_MLFLOW,
            {**MLFLOW_ENV, "PYTHONPATH": "", "MLFLOW_TRACKING_URI": (folder / "mlruns").as_uri()},
        ),
        ("gitrun", IMPORT_GITRUN, {"GITRUN_TRACKING_URI": str(folder / "gitrun-store")}),
    ):
        cwd = folder / side
        cwd.mkdir(parents=True, exist_ok=True)
        proc = run_python(header + RECORD + script + FOOTER, cwd, env, timeout=timeout)
        assert proc.returncode == 0, f"{side} side failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        line = next(x for x in reversed(proc.stdout.splitlines()) if x.startswith("RESULT "))
        results.append(json.loads(line[len("RESULT ") :]))
    return results[0], results[1]


def deterministic(metrics: dict[str, float]) -> dict[str, float]:
    """Metrics without the timings (``mean_fit_time``...), which differ from one fit to the next."""
    return {k: v for k, v in metrics.items() if "_time" not in k}
