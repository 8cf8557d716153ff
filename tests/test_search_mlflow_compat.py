"""gitrun's search answers as MLflow's does, on the grammar both understand.

The same runs (names, params, metric points with their steps and timestamps, tags, statuses,
start and end times) are logged into a real MLflow file store and a gitrun store; each filter
and order_by below goes through both, and the run *names* must match (IDs differ), in order.
MLflow is slow to import, so both stores are built once per module.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import gitrun
from gitrun.entities import ViewType

USER = "tester"
T0 = 1_700_000_000_000


@dataclass
class Spec:
    name: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, list[tuple[int, int, float]]] = field(default_factory=dict)  # key -> (step, ts offset, value)
    tags: dict[str, str] = field(default_factory=dict)
    status: str | None = "FINISHED"  # None: left RUNNING
    deleted: bool = False


RUNS = [
    Spec(
        "alpha",
        {"lr": "0.1", "optimizer": "adam", "layers": "3"},
        {"acc": [(0, 1, 0.5), (1, 2, 0.8)], "loss": [(0, 1, 1.0), (1, 2, 0.3)]},
        {"team": "vision", "stage": "dev"},
    ),
    Spec(
        "beta",
        {"lr": "0.01", "optimizer": "sgd", "layers": "10"},
        {"acc": [(0, 1, 0.9)], "loss": [(0, 1, 0.2)]},
        {"team": "Vision"},
        "FAILED",
    ),
    Spec(
        "gamma",
        {"lr": "1e-3", "optimizer": "adam"},
        {"acc": [(0, 1, 0.95), (5, 2, 0.7)]},
        {"team": "nlp", "stage": "prod"},
    ),
    Spec("delta", {"lr": "0.1", "layers": "3"}, {"loss": [(0, 1, math.nan)]}, {}, "KILLED"),
    Spec(
        "epsilon run",
        {"optimizer": "rmsprop"},
        {"acc": [(0, 1, 0.6)], "val acc": [(0, 1, 0.55)]},
        {"stage": "dev", "note.x": "dotted"},
    ),
    Spec(
        "zeta",
        {"lr": "0.5", "layers": "2"},
        {"acc": [(3, 5, 0.1), (3, 5, 0.2), (2, 9, 0.9)], "loss": [(0, 1, math.inf)]},
        {"team": "vision"},
        None,
    ),
    Spec("eta", {"lr": "0.1"}, {"acc": [(0, 1, -1.0)], "loss": [(0, 1, 0.2)]}, {"team": "audio"}),
    Spec("theta", {"lr": "0.3", "optimizer": "adam"}, {"acc": [(0, 1, 0.99)]}, {"team": "vision"}, deleted=True),
]


def _start(i: int) -> int:
    return T0 + i * 60_000


def _end(i: int) -> int:
    return _start(i) + 30_000 + i


@dataclass
class Stores:
    mlflow_client: Any
    mlflow_experiment: str
    gitrun_client: gitrun.Client
    gitrun_experiment: str
    gitrun_root: Path
    ids: dict[str, dict[str, str]]  # system -> name -> run ID


def _log_mlflow(client: Any, experiment_id: str) -> dict[str, str]:
    from mlflow.entities import Metric, Param, RunTag

    ids = {}
    for i, spec in enumerate(RUNS):
        run = client.create_run(experiment_id, start_time=_start(i), tags={"mlflow.user": USER}, run_name=spec.name)
        run_id = run.info.run_id
        metrics = [Metric(k, v, _start(i) + ts, step) for k, points in spec.metrics.items() for step, ts, v in points]
        client.log_batch(
            run_id,
            metrics=metrics,
            params=[Param(k, v) for k, v in spec.params.items()],
            tags=[RunTag(k, v) for k, v in spec.tags.items()],
        )
        if spec.status:
            client.set_terminated(run_id, spec.status, end_time=_end(i))
        if spec.deleted:
            client.delete_run(run_id)
        ids[spec.name] = run_id
    return ids


def _log_gitrun(client: gitrun.Client, experiment_id: str) -> dict[str, str]:
    ids = {}
    for i, spec in enumerate(RUNS):
        run = client.create_run(experiment_id, start_time=_start(i), tags={"mlflow.user": USER}, run_name=spec.name)
        run_id = run.info.run_id
        metrics = [
            gitrun.Metric(k, v, _start(i) + ts, step) for k, points in spec.metrics.items() for step, ts, v in points
        ]
        client.log_batch(
            run_id,
            metrics=metrics,
            params=[gitrun.Param(k, v) for k, v in spec.params.items()],
            tags=[gitrun.RunTag(k, v) for k, v in spec.tags.items()],
        )
        if spec.status:
            client.set_terminated(run_id, spec.status, end_time=_end(i))
        if spec.deleted:
            client.delete_run(run_id)
        ids[spec.name] = run_id
    return ids


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    from mlflow import MlflowClient

    base = tmp_path_factory.mktemp("compat")
    mlflow_client = MlflowClient(tracking_uri=(base / "mlruns").as_uri())
    mlflow_experiment = mlflow_client.create_experiment("compat")
    gitrun_root = base / "gitrun" / ".gitrun"
    gitrun_client = gitrun.Client(gitrun_root)
    gitrun_experiment = gitrun_client.create_experiment("compat")
    ids = {
        "mlflow": _log_mlflow(mlflow_client, mlflow_experiment),
        "gitrun": _log_gitrun(gitrun_client, gitrun_experiment),
    }
    yield Stores(mlflow_client, mlflow_experiment, gitrun_client, gitrun_experiment, gitrun_root, ids)


@pytest.fixture
def both(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> Stores:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return stores


def _names(runs: list[Any]) -> list[str]:
    return [r.info.run_name for r in runs]


def _both(
    s: Stores,
    filter_string: str = "",
    order_by: list[str] | None = None,
    view: int = ViewType.ACTIVE_ONLY,
    max_results: int = 1000,
    use_index: bool | None = None,
) -> tuple[list[str], list[str]]:
    theirs = s.mlflow_client.search_runs(
        [s.mlflow_experiment], filter_string.format(**s.ids["mlflow"]), view, max_results, order_by
    )
    ours = s.gitrun_client.search_runs(
        [s.gitrun_experiment], filter_string.format(**s.ids["gitrun"]), view, max_results, order_by
    )
    return _names(theirs), _names(ours)


FILTERS = [
    "",
    # metrics: numeric comparisons on the latest value (max of step, timestamp, value)
    "metrics.acc > 0.7",
    "metrics.acc >= 0.8",
    "metrics.acc < 0.8",
    "metrics.acc = 0.9",
    "metrics.acc != 0.9",
    "metrics.acc <= -1",
    "metrics.loss <= 0.3",
    "metrics.loss != 0.2",
    "metrics.loss > 100",
    "metric.acc > 0.5 AND metrics.loss < 0.5",
    "metrics.`val acc` > 0.5",
    "metrics.acc > 0.5 and metrics.acc < 0.95",
    # params: text
    "params.lr = '0.1'",
    "params.lr != '0.1'",
    'params.lr = "0.01"',
    "param.optimizer = 'adam'",
    "parameter.layers = '3'",
    "params.optimizer LIKE 'a%'",
    "params.optimizer LIKE '%a%'",
    "params.optimizer ILIKE 'A%'",
    "params.optimizer IS NULL",
    "params.layers IS NOT NULL",
    "params.lr = '0.1' AND params.layers = '3'",
    # tags
    "tags.team = 'vision'",
    "tags.team != 'vision'",
    "tags.team LIKE 'V%'",
    "tags.team ILIKE 'v%'",
    "tags.team LIKE '%isi%'",
    "tags.team LIKE 'visio_'",
    "tag.stage != 'dev'",
    "tags.`note.x` = 'dotted'",
    "tags.\"mlflow.runName\" = 'alpha'",
    "tags.stage IS NULL",
    "tags.team IS NOT NULL",
    # attributes
    "attributes.run_name = 'alpha'",
    "run_name LIKE '%a'",
    "run_name ILIKE 'E%'",
    "`Run Name` = 'beta'",
    "attributes.`run name` != 'beta'",
    "status = 'FINISHED'",
    "attributes.status != 'FINISHED'",
    "status = 'RUNNING'",
    "status LIKE 'F%'",
    "user_id = 'tester'",
    f"start_time > {_start(3)}",
    f"created < {_start(2)}",
    f"attributes.end_time <= {_end(2)}",
    f"start_time >= {_start(1)} AND end_time < {_end(4)}",
    "run_id = '{alpha}'",
    "run_id IN ('{alpha}', '{gamma}')",
    "run_id NOT IN ('{alpha}', '{gamma}')",
    "attr.run_id != '{beta}' AND tags.team = 'vision'",
]


@pytest.mark.parametrize("filter_string", FILTERS, ids=[f or "<empty>" for f in FILTERS])
def test_filters_return_what_mlflow_returns(both: Stores, filter_string: str) -> None:
    theirs, ours = _both(both, filter_string)
    assert ours == theirs


ORDERS = [
    [],
    ["metrics.acc DESC"],
    ["metrics.acc"],
    ["metrics.loss ASC"],  # NaN, +inf and missing values
    ["metrics.loss DESC"],
    ["params.lr DESC"],  # params sort as text, as in MLflow
    ["params.layers"],
    ["tags.team"],
    ["tags.team DESC", "metrics.acc DESC"],
    ["run_name DESC"],
    ["attributes.start_time"],
    ["end_time DESC"],
    ["status", "run_name"],
    ["created DESC"],
]


@pytest.mark.parametrize("order_by", ORDERS, ids=[", ".join(o) or "<default>" for o in ORDERS])
def test_order_by_matches_mlflow_including_nan_and_missing(both: Stores, order_by: list[str]) -> None:
    theirs, ours = _both(both, "", order_by)
    assert ours == theirs
    theirs, ours = _both(both, "", order_by, max_results=3)
    assert ours == theirs


@pytest.mark.parametrize("view", [ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL])
def test_run_view_type_matches_mlflow(both: Stores, view: int) -> None:
    theirs, ours = _both(both, "metrics.acc > 0.5", ["metrics.acc DESC"], view=view)
    assert ours == theirs


def test_with_and_without_the_index_the_same(both: Stores) -> None:
    for filter_string in FILTERS[:20]:
        _, with_index = _both(both, filter_string, ["metrics.acc DESC"], use_index=True)
        _, without = _both(both, filter_string, ["metrics.acc DESC"], use_index=False)
        assert with_index == without, filter_string


def test_dataframe_has_mlflow_columns_and_values(both: Stores) -> None:
    import mlflow
    import pandas as pd

    mlflow.set_tracking_uri(both.mlflow_client.tracking_uri)
    gitrun.set_tracking_uri(both.gitrun_root)
    order = ["run_name"]
    theirs = mlflow.search_runs([both.mlflow_experiment], order_by=order)
    ours = gitrun.search_runs([both.gitrun_experiment], order_by=order)
    assert isinstance(ours, pd.DataFrame)
    assert list(ours.columns[:6]) == ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    assert set(ours.columns) == set(theirs.columns)
    for column in ("start_time", "end_time"):
        assert ours[column].dtype == theirs[column].dtype
        assert ours[column].isna().tolist() == theirs[column].isna().tolist()
        assert ours[column].dropna().tolist() == theirs[column].dropna().tolist()
    for column in ours.columns:
        if column.startswith(("metrics.", "params.", "tags.")) and column not in (
            "tags.mlflow.user",
            "tags.mlflow.runName",
        ):
            assert ours[column].dtype == theirs[column].dtype, column
            mine, other = ours[column].tolist(), theirs[column].tolist()
            if column.startswith("metrics."):
                assert [(math.isnan(x), x if not math.isnan(x) else 0) for x in mine] == [
                    (math.isnan(x), x if not math.isnan(x) else 0) for x in other
                ], column
            else:
                assert mine == other, column
    assert ours["status"].tolist() == theirs["status"].tolist()
    # a missing param or tag is missing (None, or NaN in pandas' string dtype), a missing metric NaN
    beta = ours[ours["tags.mlflow.runName"] == "beta"].iloc[0]
    assert pd.isna(beta["tags.stage"]) and beta["params.lr"] == "0.01" and math.isnan(beta["metrics.val acc"])


def test_empty_result_is_an_empty_frame_with_the_info_columns(both: Stores) -> None:
    import mlflow

    mlflow.set_tracking_uri(both.mlflow_client.tracking_uri)
    gitrun.set_tracking_uri(both.gitrun_root)
    theirs = mlflow.search_runs([both.mlflow_experiment], "metrics.acc > 5")
    ours = gitrun.search_runs([both.gitrun_experiment], "metrics.acc > 5")
    assert list(ours.columns) == list(theirs.columns)
    assert len(ours) == 0


def test_list_output_matches_get_run(both: Stores) -> None:
    gitrun.set_tracking_uri(both.gitrun_root)
    runs = gitrun.search_runs(experiment_names=["compat"], output_format="list", order_by=["run_name"])
    assert isinstance(runs, list)
    for run in runs:
        same = both.gitrun_client.get_run(run.info.run_id)
        assert run.info == same.info
        assert run.data.params == same.data.params and run.data.tags == same.data.tags
        assert run.data.metrics.keys() == same.data.metrics.keys()


def test_what_mlflow_rejects_and_gitrun_accepts(both: Stores) -> None:
    """The extensions: OR, NOT, parentheses, IS NULL on metrics, ordered comparisons of params."""
    from mlflow.exceptions import MlflowException

    extensions = {
        "metrics.acc >= 0.9 OR tags.team = 'nlp'": ["gamma", "beta"],
        "NOT tags.team = 'vision'": ["eta", "epsilon run", "delta", "gamma", "beta"],
        "(params.lr = '0.1' OR params.lr = '0.5') AND metrics.acc > 0.1": ["zeta", "alpha"],
        "metrics.acc IS NULL": ["delta"],
        "params.lr < 0.05": ["gamma", "beta"],  # numeric: 1e-3 and 0.01
        "status IN ('FAILED', 'KILLED')": ["delta", "beta"],
    }
    for filter_string, expected in extensions.items():
        with pytest.raises(MlflowException):
            both.mlflow_client.search_runs([both.mlflow_experiment], filter_string)
        ours = _names(both.gitrun_client.search_runs([both.gitrun_experiment], filter_string))
        assert ours == expected, filter_string
