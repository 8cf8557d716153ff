"""``gitrun.search_runs`` (which experiments it searches, output formats), ``search_experiments``
filters, and ``gitrun runs list --filter/--order-by``, on runs logged through the fluent API."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

import gitrun
from gitrun.errors import FilterSyntaxError, GitrunError, InvalidInputError
from tests.helpers import ROOT, gitrun_cli


@pytest.fixture
def logged(repo: Path) -> Path:
    gitrun.set_experiment("iris")
    for i, model in enumerate(["rf", "svm", "rf"]):
        with gitrun.start_run(run_name=f"iris-{i}"):
            gitrun.log_params({"model": model, "depth": i + 2})
            gitrun.log_metric("acc", 0.7 + i / 10)
            gitrun.set_tag("team", "a" if i < 2 else "b")
    gitrun.set_experiment("digits")
    with gitrun.start_run(run_name="digits-0"):
        gitrun.log_metric("acc", 0.99)
    gitrun.set_experiment("iris")  # the active experiment again
    return repo


def test_defaults_to_the_active_experiment(logged: Path) -> None:
    df = gitrun.search_runs()
    assert sorted(df["tags.mlflow.runName"]) == ["iris-0", "iris-1", "iris-2"]
    gitrun.set_experiment("digits")
    assert list(gitrun.search_runs()["tags.mlflow.runName"]) == ["digits-0"]


def test_experiment_names_ids_and_all(logged: Path, caplog: pytest.LogCaptureFixture) -> None:
    names = gitrun.search_runs(experiment_names=["digits", "iris"], order_by=["metrics.acc DESC"], output_format="list")
    assert [r.info.run_name for r in names] == ["digits-0", "iris-2", "iris-1", "iris-0"]
    ids = gitrun.search_runs(["digits"], output_format="list")
    assert [r.info.run_name for r in ids] == ["digits-0"]
    assert len(gitrun.search_runs(search_all_experiments=True)) == 4
    with caplog.at_level(logging.WARNING):
        assert gitrun.search_runs(experiment_names=["nope"], output_format="list") == []
    assert "Cannot retrieve experiment by name nope" in caplog.text
    with pytest.raises(InvalidInputError, match="not both"):
        gitrun.search_runs(["iris"], experiment_names=["iris"])
    with pytest.raises(InvalidInputError, match="output_format"):
        gitrun.search_runs(output_format="json")
    with pytest.raises(GitrunError, match="no experiment 'nope'"):
        gitrun.search_runs(["nope"])


def test_filters_order_and_max_results(logged: Path) -> None:
    df = gitrun.search_runs(
        filter_string="params.model = 'rf' OR metrics.acc < 0.75", order_by=["params.depth DESC"], max_results=2
    )
    assert list(df["tags.mlflow.runName"]) == ["iris-2", "iris-0"]
    assert list(df["params.depth"]) == ["4", "2"]
    with pytest.raises(FilterSyntaxError) as info:
        gitrun.search_runs(filter_string="metrics.acc >")
    assert info.value.position == len("metrics.acc >")
    client = gitrun.Client()
    runs = client.search_runs(["iris"], "tags.team = 'a'", order_by=["metrics.acc"], max_results=1)
    assert [r.info.run_name for r in runs] == ["iris-0"]
    with pytest.raises(InvalidInputError, match="order_by takes clauses as strings"):
        gitrun.search_runs(order_by=[["metrics.acc DESC"]])  # type: ignore[list-item]


def test_search_experiments_filter(logged: Path) -> None:
    gitrun.set_experiment_tag("owner", "ann")
    assert [e.name for e in gitrun.search_experiments(filter_string="name LIKE 'i%'")] == ["iris"]
    assert [e.name for e in gitrun.search_experiments(filter_string="tags.owner = 'ann'")] == ["iris"]
    assert [e.name for e in gitrun.search_experiments(filter_string="tags.owner IS NULL")] == ["digits"]
    assert [e.name for e in gitrun.search_experiments(filter_string="name = 'iris' OR experiment_id = 'digits'")] == [
        "digits",
        "iris",
    ]
    with pytest.raises(FilterSyntaxError, match="unknown experiment attribute"):
        gitrun.search_experiments(filter_string="status = 'x'")
    with pytest.raises(FilterSyntaxError, match="unknown prefix"):
        gitrun.search_experiments(filter_string="metrics.acc > 1")


def test_cli_runs_list_filter_and_order(logged: Path) -> None:
    out = gitrun_cli(
        "runs",
        "list",
        "-e",
        "iris",
        "--filter",
        "metrics.acc > 0.75",
        "--order-by",
        "metrics.acc DESC",
        "--json",
        cwd=logged,
    )
    assert out.returncode == 0, out.stderr
    runs = json.loads(out.stdout)
    assert [r["run_name"] for r in runs] == ["iris-2", "iris-1"]
    assert set(runs[0]) >= {"run_id", "run_name", "experiment", "status", "params", "metrics", "tags"}
    out = gitrun_cli(
        "runs",
        "list",
        "-f",
        "tags.team = 'b' OR run_name = 'digits-0'",
        "--order-by",
        "run_name",
        "--order-by",
        "start_time DESC",
        "--json",
        cwd=logged,
    )
    assert [r["run_name"] for r in json.loads(out.stdout)] == ["digits-0", "iris-2"]
    table = gitrun_cli("runs", "list", "-f", "params.model = 'svm'", cwd=logged)
    assert "iris-1" in table.stdout and "iris-0" not in table.stdout
    bad = gitrun_cli("runs", "list", "--filter", "metrics.acc >> 1", cwd=logged)
    assert bad.returncode == 1
    assert "invalid filter" in bad.stderr and "metrics.acc >> 1" in bad.stderr
    caret_line = bad.stderr.splitlines()[-1]
    assert caret_line.index("^") == bad.stderr.splitlines()[-2].index("metrics") + len("metrics.acc >")
    helptext = gitrun_cli("runs", "list", "--help", cwd=logged).stdout
    assert "--order-by" in helptext and "--filter" in helptext and "Examples" in helptext


def test_import_gitrun_and_query_stay_free_of_pandas(tmp_path: Path) -> None:
    code = "import sys, gitrun, gitrun.search.api, gitrun.search.engine; gitrun.search_runs; print('pandas' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert out.stdout.strip() == "False", out.stderr


def test_search_experiments_order_by(logged: Path) -> None:
    gitrun.set_experiment_tag("owner", "ann")  # iris only; digits has no owner
    names = lambda order: [e.name for e in gitrun.search_experiments(order_by=order)]  # noqa: E731
    everything = [e.name for e in gitrun.search_experiments()]
    assert names(["name DESC"]) == sorted(everything, reverse=True)
    assert names(["name"]) == sorted(everything)
    assert names(["tags.owner DESC", "name"])[0] == "iris"  # missing tags sort last, whatever the direction
    assert names(["tags.owner ASC", "name"])[0] == "iris"
    assert [e.name for e in gitrun.search_experiments(order_by=["name DESC"], max_results=1)] == ["iris"]
    with pytest.raises(FilterSyntaxError):
        gitrun.search_experiments(order_by=["metrics.acc DESC"])
