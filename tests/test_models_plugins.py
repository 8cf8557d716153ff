"""A third-party flavor and a URI resolver, installed as a real package with an entry point (a
``*.dist-info`` on PYTHONPATH), in fresh processes: the same hooks gitrun's own flavors use."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import ROOT, gitrun_cli, run_python
from tests.helpers.models import MLFLOW_ENV

# The package a third party publishes: the flavor (save, load, pyfunc loader, requirements), its
# public log_model/load_model, a resolver for its own URIs, and MLflow's _load_pyfunc so MLflow loads
# its models too (the module is the models' loader_module; it imports gitrun, so MLflow needs gitrun
# installed for these models, unlike gitrun's own flavors whose loader modules are MLflow's).
LOOKUP_FLAVOR = '''
"""gitrun-lookup: models that are lookup tables, as a gitrun flavor."""
import json
from pathlib import Path

import gitrun.models
from gitrun.plugins import hookimpl

LOADER = "gitrun_lookup"


class LookupModel:
    def __init__(self, table, default=0.0):
        self.table, self.default = dict(table), default

    def predict(self, keys):
        return [self.table.get(k, self.default) for k in keys]


class _Pyfunc:
    def __init__(self, model):
        self.model = model

    def predict(self, data, params=None):
        column = data.iloc[:, 0] if hasattr(data, "iloc") else data
        return self.model.predict(list(column))


def _read(folder):
    data = json.loads((Path(folder) / "table.json").read_text())
    return LookupModel(data["table"], data["default"])


def _save(model, model_dir, options):
    (model_dir / "table.json").write_text(json.dumps({"table": model.table, "default": model.default}))
    conf = {"data": "table.json", "entries": len(model.table)}
    return gitrun.models.SavedFlavor(conf, {"loader_module": LOADER, "data": "table.json"})


FLAVOR = gitrun.models.Flavor(
    name="lookup",
    loader_modules=(LOADER,),
    save=_save,
    load=lambda model_dir, conf, options: _read(model_dir),
    load_pyfunc=lambda data_path, mlmodel, options: _Pyfunc(_read(data_path.parent)),
    wrap=lambda model, model_dir, conf: _Pyfunc(model),
    requirements=lambda model, conf: ["gitrun-lookup"],
    module="gitrun_lookup",
    description="lookup tables",
)


def log_model(model, name="model", **kwargs):
    return gitrun.models.log_model("lookup", model, name=name, **kwargs)


def load_model(uri, **kwargs):
    return gitrun.models.load_native("lookup", uri, **kwargs)


def _load_pyfunc(path):  # what MLflow calls, with the data file
    return _Pyfunc(_read(Path(path).parent))


@hookimpl
def gitrun_model_flavors():
    return [FLAVOR]


@hookimpl
def gitrun_resolve_model_uri(uri, store, rev):
    if not uri.startswith("models:/lookup-"):
        return None  # not ours: the next resolver answers
    from gitrun.models.uri import ModelLocation

    name = uri.split("-", 1)[1]
    folder = Path(store.root).parent / "published" / name
    return ModelLocation(uri, local_dir=folder, registered={"name": name, "stage": "prod"})
'''


def install(site: Path) -> None:
    site.mkdir(parents=True, exist_ok=True)
    (site / "gitrun_lookup.py").write_text(LOOKUP_FLAVOR)
    info = site / "gitrun_lookup-0.2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gitrun-lookup\nVersion: 0.2.0\n")
    (info / "top_level.txt").write_text("gitrun_lookup\n")
    (info / "entry_points.txt").write_text("[gitrun]\nlookup = gitrun_lookup\n")


USE = """
import json, shutil
import pandas as pd
import gitrun, gitrun_lookup
model = gitrun_lookup.LookupModel({"a": 1.0, "b": 2.0}, default=-1.0)
with gitrun.start_run() as run:
    info = gitrun_lookup.log_model(model, name="table", input_example=pd.DataFrame({"key": ["a", "z"]}))
loaded = gitrun.pyfunc.load_model(f"runs:/{run.info.run_id}/table")
shutil.copytree(info.local_path, ".gitrun/../published/current")
published = gitrun.pyfunc.load_model("models:/lookup-current")
print(json.dumps({
    "pyfunc": loaded.predict(pd.DataFrame({"key": ["b", "a", "q"]})),
    "native": type(gitrun_lookup.load_model(info.model_uri)).__name__,
    "resolved": published.predict(pd.DataFrame({"key": ["a"]})),
    "registered": published.location.registered,
    "requirements": open(info.local_path / "requirements.txt").read(),
    "mlmodel": open(info.local_path / "MLmodel").read(),
    "path": str(info.local_path),
}))
"""


@pytest.fixture
def plugin_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    install(site)
    return site


def test_a_third_party_flavor_and_resolver_plug_in_through_entry_points(repo: Path, plugin_site: Path) -> None:
    env = {"PYTHONPATH": os.pathsep.join([str(plugin_site), str(ROOT)])}
    proc = run_python(USE, repo, env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["pyfunc"] == [2.0, 1.0, -1.0] and out["native"] == "LookupModel"
    assert out["resolved"] == [1.0] and out["registered"] == {"name": "current", "stage": "prod"}
    assert "gitrun-lookup==0.2.0" in out["requirements"].splitlines()
    assert (
        "loader_module: gitrun_lookup" in out["mlmodel"]
        and "lookup:\n    data: table.json\n    entries: 2" in out["mlmodel"]
    )
    # The signature was inferred through the flavor's wrap, from the input example.
    assert '"name": "key"' in out["mlmodel"]
    listed = json.loads(gitrun_cli("plugins", "--json", cwd=repo, env=env).stdout)
    (entry,) = [p for p in listed if p["name"] == "lookup"]
    assert set(entry["hooks"]) == {"gitrun_model_flavors", "gitrun_resolve_model_uri"}
    # MLflow loads the plugin's models through the same module (its _load_pyfunc).
    code = f"import json, mlflow.pyfunc, pandas as pd; print(json.dumps(mlflow.pyfunc.load_model({out['path']!r}).predict(pd.DataFrame({{'key': ['b']}}))))"
    mlflow = run_python(code, repo, {**MLFLOW_ENV, **env})
    assert mlflow.returncode == 0, mlflow.stderr
    assert json.loads(mlflow.stdout.strip().splitlines()[-1]) == [2.0]
    # Without the plugin, gitrun says which loader module is missing.
    gone = gitrun_cli("models", "show", out["path"], cwd=repo)
    assert gone.returncode == 0  # showing needs no flavor
    predict = gitrun_cli("models", "predict", "-m", out["path"], "--input-data", '{"inputs": ["a"]}', cwd=repo)
    assert predict.returncode == 1 and "loader_module 'gitrun_lookup' cannot be imported" in predict.stderr
