"""``gitrun models predict / show``, the models of ``gitrun runs show`` and of the site's run page.

The real CLI in subprocesses; ``mlflow models predict`` on the same model and input for comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import gitrun_cli, python_ok, run_git
from tests.helpers.models import MLFLOW_ENV

LOG = """
import json, gitrun, pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True, as_frame=True)
X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
model = LogisticRegression(max_iter=500, C={c}).fit(X, y)
gitrun.set_experiment("iris")
with gitrun.start_run(run_name="lr") as run:
    info = gitrun.sklearn.log_model(model, name="classifier", input_example=X.head(3), registered_model_name="iris-clf")
print(json.dumps({{"run_id": run.info.run_id, "model_id": info.model_id, "predictions": model.predict(X.head(4)).tolist(),
                  "path": str(info.local_path)}}))
"""


def log_model(repo: Path, c: float = 1.0) -> dict[str, Any]:
    return dict(json.loads(python_ok(LOG.format(c=c), repo).strip().splitlines()[-1]))


def cli(*args: str, cwd: Path, input: str | None = None) -> Any:
    import os
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("gitrun")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gitrun"]
    return subprocess.run(
        [*cmd, *args], cwd=cwd, input=input, capture_output=True, text=True, timeout=120, env={**os.environ}
    )


ROWS = [[5.1, 3.5, 1.4, 0.2], [7.0, 3.2, 4.7, 1.4], [6.3, 3.3, 6.0, 2.5], [4.9, 3.0, 1.4, 0.2]]
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture
def logged(repo: Path) -> dict[str, Any]:
    return log_model(repo)


def test_predict_takes_every_input_form_of_the_scoring_protocol(repo: Path, logged: dict[str, Any]) -> None:
    uri = f"runs:/{logged['run_id'][:10]}/classifier"
    records = [dict(zip(COLUMNS, r, strict=True)) for r in ROWS]
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    expected = LogisticRegression(max_iter=500).fit(x, y).predict(ROWS).tolist()
    bodies = {
        "split": {"dataframe_split": {"columns": COLUMNS, "data": ROWS}},
        "records": {"dataframe_records": records},
        "instances": {"instances": records},
        "inputs": {"inputs": {c: [r[i] for r in ROWS] for i, c in enumerate(COLUMNS)}},
    }
    for name, body in bodies.items():
        (repo / f"{name}.json").write_text(json.dumps(body))
        out = cli("models", "predict", "-m", uri, "-i", f"{name}.json", cwd=repo)
        assert out.returncode == 0, (name, out.stderr)
        assert json.loads(out.stdout) == {"predictions": expected}, name
    (repo / "rows.csv").write_text(",".join(COLUMNS) + "\n" + "\n".join(",".join(map(str, r)) for r in ROWS) + "\n")
    out = cli(
        "models",
        "predict",
        "-m",
        f"models:/{logged['model_id']}",
        "-i",
        "rows.csv",
        "-t",
        "csv",
        "-o",
        "out.json",
        cwd=repo,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads((repo / "out.json").read_text()) == {"predictions": expected}
    stdin = cli("models", "predict", "-m", uri, cwd=repo, input=json.dumps(bodies["split"]))
    assert json.loads(stdin.stdout) == {"predictions": expected}


def test_predict_answers_as_mlflow_models_predict(repo: Path, logged: dict[str, Any]) -> None:
    (repo / "in.json").write_text(json.dumps({"dataframe_split": {"columns": COLUMNS, "data": ROWS}}))
    ours = cli("models", "predict", "-m", logged["path"], "-i", "in.json", "-o", "ours.json", cwd=repo)
    assert ours.returncode == 0, ours.stderr
    code = f"""
import subprocess, sys
from mlflow.models import predict
predict(model_uri={logged["path"]!r}, input_path="in.json", output_path="theirs.json", content_type="json", env_manager="local")
"""
    python_ok(code, repo, {**MLFLOW_ENV, "PYTHONPATH": ""})
    assert json.loads((repo / "ours.json").read_text()) == json.loads((repo / "theirs.json").read_text())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "Invalid input. Ensure that input is a valid JSON formatted string"),
        ('{"data": [[1]]}', "exactly one of the input fields"),
        ('{"dataframe_split": {"columns": ["sepal_length"], "data": [[1.0]]}}', "missing 'sepal_width' (double)"),
        (
            '{"dataframe_records": [{"sepal_length": "long", "sepal_width": 1, "petal_length": 1, "petal_width": 1}]}',
            "'sepal_length'",
        ),
    ],
)
def test_a_bad_input_is_one_line_naming_the_problem(
    repo: Path, logged: dict[str, Any], body: str, message: str
) -> None:
    out = cli("models", "predict", "-m", logged["path"], "--input-data", body, cwd=repo)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_show_tells_flavors_signature_requirements_size_and_lineage(repo: Path, logged: dict[str, Any]) -> None:
    cli_out = gitrun_cli("commit", "-m", "model", cwd=repo)
    assert cli_out.returncode == 0, cli_out.stderr
    commit = run_git(repo, "rev-parse", "HEAD").stdout.strip()
    uri = f"runs:/{logged['run_id']}/classifier"
    shown = json.loads(gitrun_cli("models", "show", uri, "--json", cwd=repo).stdout)
    assert shown["flavors"] == ["python_function", "sklearn"] and shown["loader_module"] == "mlflow.sklearn"
    assert shown["serialization_format"] == "skops" and shown["model_id"] == logged["model_id"]
    assert [r["name"] for r in shown["inputs"]] == COLUMNS and {r["type"] for r in shown["inputs"]} == {"double"}
    assert any(r.startswith("scikit-learn==") for r in shown["requirements"]) and shown["size_bytes"] > 1000
    assert shown["run_id"] == logged["run_id"] and shown["commit"] is None and shown["code_commit"]
    assert shown["registered_model_name"] == "iris-clf"
    assert '"columns": ["sepal_length"' in shown["input_example"]
    at_rev = json.loads(gitrun_cli("models", "show", uri, "--rev", "HEAD", "--json", cwd=repo).stdout)
    assert at_rev["commit"] == commit and at_rev["inputs"] == shown["inputs"]
    assert any(c["command"].endswith(f"--rev {commit} -i input.json") for c in at_rev["commands"])
    text = gitrun_cli("models", "show", uri, cwd=repo).stdout
    for expected in ("python_function, sklearn", "sepal_length", "gitrun.pyfunc.load_model", "mlflow models serve -m"):
        assert expected in text


def test_runs_show_lists_the_run_s_models(repo: Path, logged: dict[str, Any]) -> None:
    data = json.loads(gitrun_cli("runs", "show", logged["run_id"], "--json", cwd=repo).stdout)
    (model,) = data["models"]
    assert model["name"] == "classifier" and model["model_id"] == logged["model_id"]
    text = gitrun_cli("runs", "show", logged["run_id"][:8], cwd=repo).stdout
    assert "Model classifier" in text and "sepal_length" in text and "gitrun models predict -m" in text


def test_the_site_run_page_shows_the_model(repo: Path, logged: dict[str, Any], tmp_path: Path) -> None:
    from bs4 import BeautifulSoup

    out = gitrun_cli("site", "build", "-o", str(tmp_path / "site"), cwd=repo)
    assert out.returncode == 0, out.stderr
    page = BeautifulSoup((tmp_path / "site" / "runs" / f"{logged['run_id']}.html").read_text(), "html.parser")
    model = page.select_one('#models article[data-model="classifier"]')
    assert model is not None
    inputs = model.select('table[data-part="inputs"] tbody tr')
    assert [tr.find_all("td")[0].get_text() for tr in inputs] == COLUMNS
    assert "skops" in model.get_text() and logged["model_id"] in model.get_text()
    commands = [c.get_text() for c in model.select("code.cmd")]
    assert f"gitrun.pyfunc.load_model('runs:/{logged['run_id']}/classifier')" in commands
    assert any(c.startswith("mlflow models serve -m .gitrun/experiments/iris/runs/") for c in commands)
    assert "sepal_length" in model.select_one("pre.example").get_text()


def test_help_of_the_model_commands_ends_with_examples(repo: Path) -> None:
    for command in ("predict", "show"):
        text = gitrun_cli("models", command, "--help", cwd=repo).stdout
        assert "Example" in text and "gitrun models" in text.split("Example", 1)[1]
