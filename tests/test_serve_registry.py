"""``gitrun serve NAME#prod --watch`` with the real registry (issue 14): a promotion with
``gitrun models promote`` switches the served version while a client loop runs, with no failed
request. Skipped where the registry (gitrun.registry) is not there yet."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests.helpers import gitrun_cli, python_ok
from tests.helpers.serving import Client, start, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("gitrun.registry") is None, reason="the registry has not landed"),
]

TRAIN = """
import sys, warnings
warnings.filterwarnings("ignore")
import gitrun
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True, as_frame=True)
for max_iter in (300, 400):
    with gitrun.start_run() as run:
        gitrun.sklearn.log_model(LogisticRegression(max_iter=max_iter).fit(X, y), name="model", input_example=X.head(2))
        print(run.info.run_id)
"""
COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ONE_ROW = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[5.1, 3.5, 1.4, 0.2]]}})


def cli_ok(repo: Path, *args: str) -> None:
    result = gitrun_cli(*args, cwd=repo)
    assert result.returncode == 0, result.stderr


def test_watch_follows_a_registry_promotion(repo: Path) -> None:
    first, second = python_ok(TRAIN, repo).split()[-2:]
    cli_ok(repo, "commit", "-m", "two runs")
    cli_ok(repo, "models", "register", "churn", "--run", first)
    cli_ok(repo, "models", "promote", "churn", "v0.0.1", "prod")
    server = start(["churn#prod", "--watch", "--watch-interval", "0.2"], cwd=repo)
    client = Client(server, ONE_ROW)
    try:
        metadata = server.get("/metadata").json()
        assert (metadata["name"], metadata["version"], metadata["stage"], metadata["run_id"]) == (
            "churn",
            "v0.0.1",
            "prod",
            first,
        )
        client.start()
        wait_for(lambda: len(client.seen) >= 20)
        cli_ok(repo, "models", "register", "churn", "--run", second)
        cli_ok(repo, "models", "promote", "churn", "v0.0.2", "prod")
        wait_for(lambda: any(v == "v0.0.2" for _, v, _ in client.seen[-5:]))
        n = len(client.seen)
        wait_for(lambda: len(client.seen) >= n + 20)
    finally:
        client.stopped.set()
        client.join(timeout=30)
        assert server.stop() == 0
    assert all(status == 200 for status, _, _ in client.seen)
    versions = [version for _, version, _ in client.seen]
    switch = versions.index("v0.0.2")
    assert set(versions[:switch]) == {"v0.0.1"} and set(versions[switch:]) == {"v0.0.2"}
    assert any("churn#prod: now serving v0.0.2 (was v0.0.1)" in line for line in server.err)
