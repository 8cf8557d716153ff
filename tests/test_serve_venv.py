"""``gitrun serve --env-manager venv``: the server runs in a virtual environment built from the model's
``python_env.yaml`` by gitrun.envs (cached by the requirements' hash, gitrun installed from the
running checkout with its ``serve`` extra). One environment for the whole session: it is built once."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import python_ok
from tests.helpers.serving import start

pytestmark = pytest.mark.slow

# A model that answers with the interpreter it runs in.
SAVE_PREFIX = """
import warnings
warnings.filterwarnings("ignore")
import pandas as pd
import gitrun

class Prefix(gitrun.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        import sys
        return [sys.prefix] * len(model_input)

gitrun.pyfunc.save_model("prefix", python_model=Prefix(), input_example=pd.DataFrame({"x": [1.0]}))
"""


@pytest.fixture(scope="session")
def venv_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("serve-venv")
    python_ok(SAVE_PREFIX, folder)
    yield folder, {"GITRUN_CACHE_DIR": str(folder / "cache")}


def test_venv_builds_once_and_serves_from_the_models_environment(venv_model: tuple[Path, dict[str, str]]) -> None:
    folder, env = venv_model
    body = json.dumps({"dataframe_records": [{"x": 1.0}]})
    first = time.monotonic()
    server = start(["prefix", "--env-manager", "venv"], cwd=folder, env=env, timeout=900)
    built = time.monotonic() - first
    try:
        (prefix,) = server.post(body).json()["predictions"]
    finally:
        assert server.stop() == 0  # the process became the environment's server: its exit status
    envs = [p for p in (folder / "cache" / "envs").iterdir() if p.is_dir()]
    assert len(envs) == 1 and Path(prefix) == envs[0] and Path(prefix) != Path(sys.prefix)
    assert any("serving from the environment" in line for line in server.err)
    again = time.monotonic()
    server = start(["prefix", "--env-manager", "virtualenv"], cwd=folder, env=env, timeout=900)  # MLflow's name
    reused = time.monotonic() - again
    try:
        assert server.post(body).json() == {"predictions": [prefix]}
    finally:
        assert server.stop() == 0
    assert [p for p in (folder / "cache" / "envs").iterdir() if p.is_dir()] == envs and reused < built / 2
