"""MLflow scripts run unchanged with ``import gitrun as mlflow``: experiment "0", error codes,
``mlflow.exceptions``, tracking URIs and MLflow's environment variables.

Where the behaviour should match, the same code runs against real MLflow 3.17.2 (a file store)
and the records are compared field by field.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import pytest

import gitrun
from gitrun.errors import GitrunError, RunNotFoundError, TrackingUriWarning
from tests.helpers import gitrun_cli, log_runs, run_git, run_python

T0 = 1_700_000_000_000


def _client_docs_example(mlflow: Any) -> dict[str, Any]:
    """MLflow's Client examples, on the default experiment "0"."""
    from_entities = importlib.import_module(f"{mlflow.__name__}.entities")
    client = importlib.import_module(f"{mlflow.__name__}.tracking").MlflowClient()
    run = client.create_run("0", start_time=T0, tags={"team": "vision"}, run_name="docs")
    run_id = run.info.run_id
    client.log_batch(
        run_id,
        metrics=[from_entities.Metric("loss", v, T0 + i, i) for i, v in enumerate([0.9, 0.5, 0.25])],
        params=[from_entities.Param("lr", "0.1")],
        tags=[from_entities.RunTag("stage", "dev")],
    )
    client.log_text(run_id, "hello", "notes/hello.txt")
    client.set_terminated(run_id, "FINISHED", end_time=T0 + 10)
    got = client.get_run(run_id)
    history = client.get_metric_history(run_id, "loss")
    found = client.search_runs(["0"], "params.lr = '0.1'")
    experiment = client.get_experiment("0")
    return {
        "name": got.info.run_name,
        "status": got.info.status,
        "times": (got.info.start_time, got.info.end_time),
        "metrics": got.data.metrics,
        "params": got.data.params,
        "tags": {k: v for k, v in got.data.tags.items() if not k.startswith(("mlflow.", "gitrun."))},
        "history": [(m.key, m.value, m.timestamp, m.step) for m in history],
        "artifacts": [(f.path, f.is_dir) for f in client.list_artifacts(run_id)],
        "nested": [(f.path, f.file_size) for f in client.list_artifacts(run_id, "notes")],
        "found": [r.info.run_id for r in found] == [run_id],
        "experiment": (experiment.name, experiment.lifecycle_stage),
        "run_experiment_is_default": got.info.experiment_id == experiment.experiment_id,
    }


def test_experiment_zero_is_the_default_experiment_as_in_mlflow(real_mlflow: ModuleType, repo: Path) -> None:
    ours = _client_docs_example(gitrun)
    assert ours == _client_docs_example(real_mlflow)
    assert ours["experiment"] == ("Default", "active")
    experiments = repo / ".gitrun" / "experiments"
    assert sorted(p.name for p in experiments.iterdir()) == ["default"]  # never a folder named 0


def test_experiment_zero_in_the_fluent_api(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with gitrun.start_run(experiment_id="0") as run:
        gitrun.log_metric("m", 1.0)
    assert run.info.experiment_id == "default"
    assert gitrun.set_experiment(experiment_id="0").name == "Default"
    assert gitrun.get_experiment(0).experiment_id == "default"  # type: ignore[arg-type]
    assert [r.info.run_id for r in gitrun.search_runs(["0"], output_format="list")] == [run.info.run_id]
    gitrun.Client().set_experiment_tag("0", "owner", "me")
    assert gitrun.get_experiment("default").tags == {"owner": "me"}
    gitrun.set_experiment("other")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "0")
    gitrun.tracking.state.STATE.experiment_id = None
    with gitrun.start_run() as second:
        pass
    assert second.info.experiment_id == "default"
    assert not (repo / ".gitrun" / "experiments" / "0").exists()


# -- errors: MLflow's exception class and error codes -----------------------------------------
def _error_codes(mlflow: Any, unknown_run_id: str) -> dict[str, str]:
    exceptions = importlib.import_module(f"{mlflow.__name__}.exceptions")
    codes = {}
    mlflow.create_experiment("exists")
    for name, call in {
        "create twice": lambda: mlflow.create_experiment("exists"),
        "unknown run": lambda: mlflow.get_run(unknown_run_id),
        "unknown experiment": lambda: mlflow.get_experiment("424242"),
        "param changed": lambda: (mlflow.log_param("p", "1"), mlflow.log_param("p", "2")),
    }.items():
        try:
            call()
        except exceptions.MlflowException as exc:
            codes[name] = exc.error_code
    mlflow.end_run()
    return codes


def test_error_codes_are_mlflows(real_mlflow: ModuleType) -> None:
    ours = _error_codes(gitrun, "01JD5Z3F6XQ4N8V2K7C9B1M0TA")
    assert ours == _error_codes(real_mlflow, "0123456789abcdef0123456789abcdef")
    assert ours == {
        "create twice": "RESOURCE_ALREADY_EXISTS",
        "unknown run": "RESOURCE_DOES_NOT_EXIST",
        "unknown experiment": "RESOURCE_DOES_NOT_EXIST",
        "param changed": "INVALID_PARAMETER_VALUE",
    }


def test_create_or_carry_on_pattern(repo: Path) -> None:
    script = (
        "import gitrun as mlflow\n"
        "from gitrun.exceptions import MlflowException\n"
        "for _ in range(2):\n"
        "    try:\n"
        "        mlflow.create_experiment('iris', tags={'team': 'a'})\n"
        "    except MlflowException as e:\n"
        "        assert e.error_code == 'RESOURCE_ALREADY_EXISTS', e.error_code\n"
        "        assert e.get_http_status_code() == 400 and 'iris' in e.message\n"
        "        print('exists')\n"
        "print(mlflow.get_experiment_by_name('iris').tags)\n"
    )
    proc = run_python(script, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["exists", "{'team': 'a'}"]


def test_raising_mlflow_exception_as_mlflow_code_does(real_mlflow: ModuleType) -> None:
    """User code raises MlflowException itself, with MLflow's numeric codes and extra fields."""
    from mlflow.protos import databricks_pb2

    from gitrun.errors import ERROR_NUMBERS, HTTP_STATUS
    from gitrun.exceptions import MlflowException

    assert {databricks_pb2.ErrorCode.Value(name): name for name in HTTP_STATUS} == ERROR_NUMBERS
    for number in (*ERROR_NUMBERS, 1005, 99999):  # 1005 (FEATURE_DISABLED) gitrun never raises
        for args, kwargs in (((number,), {}), ((), {"error_code": number})):
            ours = MlflowException("no such model", *args, model="churn", **kwargs)
            theirs = real_mlflow.exceptions.MlflowException("no such model", *args, model="churn", **kwargs)
            if number != 1005:
                assert (ours.error_code, ours.get_http_status_code()) == (
                    theirs.error_code,
                    theirs.get_http_status_code(),
                )
            assert str(ours) == ours.message == "no such model" and ours.json_kwargs == theirs.json_kwargs
    assert MlflowException("x", error_code="RESOURCE_DOES_NOT_EXIST").get_http_status_code() == 404  # names too
    assert MlflowException("boom").error_code == real_mlflow.exceptions.MlflowException("boom").error_code


def test_every_gitrun_error_is_an_mlflow_exception_with_a_code() -> None:
    from gitrun import errors, exceptions

    assert exceptions.MlflowException is GitrunError
    for name in dir(errors):
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, GitrunError):
            assert cls.error_code in errors.HTTP_STATUS, name


# -- tracking URIs -----------------------------------------------------------------------------
@pytest.mark.parametrize("uri", ["http://localhost:5000", "sqlite:///:memory:", "databricks", "postgresql://u@h/db"])
def test_a_server_or_database_uri_warns_once_and_runs_go_to_the_git_store(repo: Path, uri: str) -> None:
    code = (
        "import warnings, gitrun as mlflow\n"
        "warnings.simplefilter('always')\n"
        f"mlflow.set_tracking_uri({uri!r})\n"
        f"mlflow.set_tracking_uri({uri!r})\n"
        "with mlflow.start_run() as run:\n"
        "    mlflow.log_metric('m', 1.0)\n"
        "print(run.info.run_id)\n"
        "print(mlflow.get_tracking_uri())\n"
    )
    proc = run_python(code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    run_id, tracking_uri = proc.stdout.split()
    assert (repo / ".gitrun" / "experiments" / "default" / "runs" / run_id).is_dir()
    assert tracking_uri == (repo / ".gitrun").as_uri()
    assert proc.stderr.count("TrackingUriWarning") == 1 and "GITRUN_REMOTE_TRACKING_URI=error" in proc.stderr
    refused = run_python(code, cwd=repo, env={"GITRUN_REMOTE_TRACKING_URI": "error"})
    assert refused.returncode == 1 and "NotSupportedError" in refused.stderr and "is not a local path" in refused.stderr


def test_file_uris_choose_the_store_and_get_tracking_uri_is_a_file_uri(repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "my store"
    gitrun.set_tracking_uri(target.as_uri())  # percent-encoded space
    assert gitrun.get_tracking_uri() == target.as_uri()
    with gitrun.start_run() as run:
        pass
    assert (target / "experiments" / "default" / "runs" / run.info.run_id).is_dir()
    gitrun.set_tracking_uri(f"file://localhost{repo}")
    assert gitrun.get_tracking_uri() == (repo / ".gitrun").as_uri()
    # MLflow's wine example registers a model unless the store is a file store: gitrun's is.
    assert urlparse(gitrun.get_tracking_uri()).scheme == "file"
    gitrun.set_tracking_uri(None)
    assert not gitrun.is_tracking_uri_set()


def test_mlflow_tracking_uri_is_read_after_gitrun_tracking_uri(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlflow-store").as_uri())
    assert gitrun.get_tracking_uri() == (tmp_path / "mlflow-store").as_uri()
    assert gitrun.is_tracking_uri_set()
    monkeypatch.setenv("GITRUN_TRACKING_URI", str(tmp_path / "gitrun-store"))
    assert gitrun.get_tracking_uri() == (tmp_path / "gitrun-store").as_uri()
    monkeypatch.setenv("GITRUN_TRACKING_URI", "")  # empty: unset
    assert gitrun.get_tracking_uri() == (tmp_path / "mlflow-store").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://localhost:5000")
    with pytest.warns(TrackingUriWarning, match=r"\(MLFLOW_TRACKING_URI\)"):
        assert gitrun.get_tracking_uri() == (repo / ".gitrun").as_uri()


# -- MLflow's environment variables ---------------------------------------------------------------
def test_mlflow_experiment_and_run_variables(repo: Path) -> None:
    by_name = run_python(
        "import gitrun as mlflow\nwith mlflow.start_run() as r:\n    pass\nprint(mlflow.get_experiment(r.info.experiment_id).name)\n",
        cwd=repo,
        env={"MLFLOW_EXPERIMENT_NAME": "from-mlflow"},
    )
    assert by_name.returncode == 0 and by_name.stdout.strip() == "from-mlflow", by_name.stderr
    first = run_python(
        "import gitrun as mlflow\nwith mlflow.start_run() as r:\n    pass\nprint(r.info.run_id)\n",
        cwd=repo,
        env={"MLFLOW_EXPERIMENT_NAME": "from-mlflow", "GITRUN_EXPERIMENT_NAME": "from-gitrun"},
    )
    run_id = first.stdout.strip()
    assert gitrun.get_experiment(gitrun.get_run(run_id).info.experiment_id).name == "from-gitrun"
    resumed = run_python(
        "import gitrun as mlflow\nwith mlflow.start_run() as r:\n    mlflow.log_metric('m', 2.0)\nprint(r.info.run_id)\n",
        cwd=repo,
        env={"MLFLOW_RUN_ID": run_id},
    )
    assert resumed.returncode == 0 and resumed.stdout.strip() == run_id, resumed.stderr
    assert gitrun.get_run(run_id).data.metrics == {"m": 2.0}


@pytest.mark.parametrize("value", ["0123456789abcdef0123456789abcdef", "01JD5Z3F6XQ4N8V2K7C9B1M0TA"])
def test_an_mlflow_run_id_that_names_no_run_is_a_clear_error(
    repo: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MLFLOW_RUN_ID", value)
    with pytest.raises(RunNotFoundError, match=rf"MLFLOW_RUN_ID='{value}' names no run in .*unset MLFLOW_RUN_ID"):
        gitrun.start_run()
    assert gitrun.active_run() is None


def test_the_environment_table_is_documented() -> None:
    from gitrun import env

    api = (Path(__file__).parent.parent / "docs" / "api.md").read_text()
    assert env.markdown_table() in api


# -- experiments reach Git ------------------------------------------------------------------------
def test_an_experiment_without_runs_is_committed(repo: Path) -> None:
    gitrun.create_experiment("iris", tags={"team": "vision"})
    gitrun.create_experiment("digits")
    result = commit_json(repo, "--experiment", "iris")
    assert result["sha"] and result["message"].startswith("gitrun: experiment iris\n")
    tree = run_git(repo, "ls-tree", "-r", "--name-only", "HEAD").stdout.split()
    assert ".gitrun/experiments/iris/experiment.yaml" in tree
    assert ".gitrun/experiments/digits/experiment.yaml" not in tree
    assert {".gitrun/store.yaml", ".gitrun/.gitignore"} <= set(tree)
    shown = run_git(repo, "show", "HEAD:.gitrun/experiments/iris/experiment.yaml").stdout
    assert "team: vision" in shown

    gitrun.Client().set_experiment_tag("iris", "stage", "dev")
    result = commit_json(repo)
    assert result["message"].startswith("gitrun: 2 experiments\n")
    assert "stage: dev" in run_git(repo, "show", "HEAD:.gitrun/experiments/iris/experiment.yaml").stdout
    again = commit_json(repo)
    assert again["sha"] is None and again["message"].startswith("nothing to commit")
    assert run_git(repo, "status", "--porcelain").stdout == ""


def test_a_commit_of_chosen_runs_leaves_other_experiments(repo: Path) -> None:
    (run_id,) = log_runs(repo, [{"metrics": {"acc": 0.5}}], experiment="alpha")
    gitrun.create_experiment("lonely")
    commit_json(repo, run_id)
    tree = run_git(repo, "ls-tree", "-r", "--name-only", "HEAD").stdout.split()
    assert ".gitrun/experiments/alpha/experiment.yaml" in tree
    assert ".gitrun/experiments/lonely/experiment.yaml" not in tree


def commit_json(repo: Path, *args: str) -> dict[str, Any]:
    proc = gitrun_cli("commit", "--json", *args, cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


# -- search_experiments: MLflow's order -----------------------------------------------------------
def _experiments_in_order(mlflow: Any) -> dict[str, list[str]]:
    import time

    for name in ("first", "second", "third"):
        experiment_id = mlflow.create_experiment(name)
        with mlflow.start_run(experiment_id=experiment_id):
            pass
        time.sleep(0.005)
    named = ("first", "second", "third")

    def names(**kwargs: Any) -> list[str]:
        return [e.name for e in mlflow.search_experiments(**kwargs) if e.name in named]

    return {
        "default": names(),
        "name": names(order_by=["name DESC"]),
        "created": names(order_by=["creation_time ASC"]),
        "first two": [e.name for e in mlflow.search_experiments(max_results=2)],
        "filtered": names(filter_string="creation_time > 0"),
    }


def test_search_experiments_orders_newest_first_as_mlflow_does(real_mlflow: ModuleType) -> None:
    ours = _experiments_in_order(gitrun)
    assert ours == _experiments_in_order(real_mlflow)
    assert ours["default"] == ["third", "second", "first"]


def test_experiment_times_derive_from_runs_and_runless_experiments_count_as_newest(repo: Path) -> None:
    client = gitrun.Client()
    old = client.create_experiment("old")
    run = client.create_run(old)
    client.create_run(old)
    client.create_experiment("empty")
    experiment = client.get_experiment(old)
    assert experiment.creation_time is not None and experiment.last_update_time is not None
    assert experiment.creation_time <= run.info.start_time <= experiment.last_update_time
    assert client.get_experiment("empty").creation_time is None
    assert [e.name for e in client.search_experiments()] == ["empty", "old"]
    assert [e.experiment_id for e in client.search_experiments(order_by=["experiment_id DESC"])] == ["old", "empty"]
    assert [e.experiment_id for e in client.search_experiments(order_by=["experiment_id"])] == ["empty", "old"]
    # MLflow's tie-breaker: experiment_id DESC after the given clauses
    client.set_experiment_tag("old", "team", "a")
    client.set_experiment_tag("empty", "team", "a")
    assert [e.experiment_id for e in client.search_experiments(order_by=["tags.team"])] == ["old", "empty"]
    assert not (repo / ".gitrun" / "experiments" / "old" / "experiment.yaml").read_text().count("time")


# -- log_input: datasets ----------------------------------------------------------------------------
def _log_datasets(mlflow: Any) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    data = importlib.import_module(f"{mlflow.__name__}.data")
    frame = pd.DataFrame({"name": ["tom", "nick", "july"], "age": [10, 15, 14], "label": [1, 0, 1]})
    with mlflow.start_run() as run:
        mlflow.log_input(data.from_pandas(frame, targets="label", name="people"), context="training")
        mlflow.log_input(data.from_numpy(np.arange(12.0).reshape(4, 3), targets=np.array([0, 1, 0, 1])), "eval")
        mlflow.log_input(data.from_pandas(frame, source="data/people.csv"), tags={"split": "all"})
    inputs = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    out = []
    for item in inputs:
        d = item.dataset
        fields = {"name": d.name, "digest": d.digest, "source_type": d.source_type, "profile": json.loads(d.profile)}
        fields["schema"] = json.loads(d.schema)
        tags = item.tags if isinstance(item.tags, dict) else {t.key: t.value for t in item.tags}
        out.append((fields, tags))
    return {"inputs": sorted(out, key=lambda x: (x[0]["name"], x[0]["digest"], x[0]["source_type"]))}


def test_log_input_records_what_mlflow_records(real_mlflow: ModuleType) -> None:
    ours = _log_datasets(gitrun)
    theirs = _log_datasets(real_mlflow)
    assert ours == theirs
    names = [(f["name"], f["source_type"], t) for f, t in ours["inputs"]]
    assert ("people", "code", {"mlflow.data.context": "training"}) in names
    assert ("dataset", "local", {"split": "all"}) in names


def test_inputs_are_stored_once_in_the_runs_inputs_json(repo: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": [1, 2]})
    with gitrun.start_run() as run:
        for _ in range(2):
            gitrun.log_input(gitrun.data.from_pandas(frame), context="training")
    run_dir = repo / ".gitrun" / "experiments" / "default" / "runs" / run.info.run_id
    stored = json.loads((run_dir / "inputs.json").read_text())
    (entry,) = stored["inputs"]
    assert entry["dataset"]["source_type"] == "code" and entry["tags"] == {"mlflow.data.context": "training"}
    assert entry["dataset"]["source"]["tags"]["mlflow.source.type"] == "LOCAL"
    with pytest.raises(GitrunError, match="from_pandas / from_numpy / from_dvc"):
        gitrun.log_input(object())


def _log_model_inputs(mlflow: Any) -> list[str]:
    entities = importlib.import_module(f"{mlflow.__name__}.entities")
    with mlflow.start_run() as run:
        mlflow.log_input(model=entities.LoggedModelInput("m-0123456789abcdef0123456789abcdef"))
        mlflow.log_input(model=entities.LoggedModelInput("m-0123456789abcdef0123456789abcdef"))  # once
        mlflow.log_input(model=entities.LoggedModelInput("m-ffffffffffffffffffffffffffffffff"))
    got = mlflow.get_run(run.info.run_id).inputs
    assert got.dataset_inputs == []
    return [m.model_id for m in got.model_inputs]


def test_log_input_of_a_model_records_what_mlflow_records(real_mlflow: ModuleType, repo: Path) -> None:
    ours = _log_model_inputs(gitrun)
    assert sorted(ours) == sorted(_log_model_inputs(real_mlflow))  # MLflow's file store keeps no order
    assert ours == ["m-0123456789abcdef0123456789abcdef", "m-ffffffffffffffffffffffffffffffff"]  # gitrun's: as logged
    # Datasets and models share the run's inputs.json; MLflow's own LoggedModelInput is taken too.
    import pandas as pd

    with gitrun.start_run() as run:
        gitrun.log_input(gitrun.data.from_pandas(pd.DataFrame({"x": [1]})), context="training")
        gitrun.log_input(model=real_mlflow.entities.LoggedModelInput("m-0123456789abcdef0123456789abcdef"))
        gitrun.log_input(gitrun.data.from_pandas(pd.DataFrame({"x": [2]})), context="eval")
    run_dir = repo / ".gitrun" / "experiments" / "default" / "runs" / run.info.run_id
    stored = json.loads((run_dir / "inputs.json").read_text())
    assert stored["models"] == [{"model_id": "m-0123456789abcdef0123456789abcdef"}] and len(stored["inputs"]) == 2
    got = gitrun.get_run(run.info.run_id).inputs
    assert [m.model_id for m in got.model_inputs] == ["m-0123456789abcdef0123456789abcdef"]
    assert len(got.dataset_inputs) == 2
    with pytest.raises(GitrunError, match="LoggedModelInput"):
        gitrun.log_input(model="m-0123456789abcdef0123456789abcdef")


# -- the rest of the fluent API MLflow scripts use ----------------------------------------------------
def _lifecycle(mlflow: Any) -> dict[str, Any]:
    artifacts = importlib.import_module(f"{mlflow.__name__}.artifacts")
    experiment_id = mlflow.create_experiment("lifecycle", tags={"a": "1"})
    mlflow.set_experiment(experiment_id=experiment_id)
    mlflow.set_experiment_tags({"b": "2", "c": "3"})
    mlflow.delete_experiment_tag("c")
    with mlflow.start_run() as parent:
        with mlflow.start_run(nested=True) as child:
            mlflow.log_metric("m", 1.0, step=0, synchronous=False)
            mlflow.log_param("p", "x", synchronous=False)
            mlflow.set_tag("t", "y", synchronous=False)
            mlflow.log_text("hi", "notes/hi.txt")
            mlflow.flush_async_logging()
        last = mlflow.last_active_run()
    out: dict[str, Any] = {
        "tags": mlflow.get_experiment(experiment_id).tags,
        "parent": mlflow.get_parent_run(child.info.run_id).info.run_id == parent.info.run_id,
        "no parent": mlflow.get_parent_run(parent.info.run_id),
        "last": last.info.run_id == child.info.run_id,
        "child data": (mlflow.get_run(child.info.run_id).data.metrics, mlflow.get_run(child.info.run_id).data.params),
    }
    local = artifacts.download_artifacts(run_id=child.info.run_id, artifact_path="notes/hi.txt")
    uri = artifacts.download_artifacts(f"runs:/{child.info.run_id}/notes")
    out["download"] = (Path(local).is_absolute(), Path(local).read_text(), sorted(p.name for p in Path(uri).iterdir()))
    out["load_text"] = artifacts.load_text(f"runs:/{child.info.run_id}/notes/hi.txt")
    out["listed"] = [(f.path, f.is_dir) for f in artifacts.list_artifacts(run_id=child.info.run_id)]
    mlflow.delete_experiment(experiment_id)
    out["deleted"] = mlflow.get_experiment(experiment_id).lifecycle_stage
    out["hidden"] = "lifecycle" not in [e.name for e in mlflow.search_experiments()]
    mlflow.restore_experiment(experiment_id)
    out["restored"] = mlflow.get_experiment(experiment_id).lifecycle_stage
    return out


def test_fluent_lifecycle_calls_as_mlflow(real_mlflow: ModuleType) -> None:
    ours = _lifecycle(gitrun)
    assert ours == _lifecycle(real_mlflow)
    assert ours["tags"] == {"a": "1", "b": "2"} and ours["deleted"] == "deleted"
    with gitrun.start_run() as run:
        gitrun.log_text("hi", "notes/hi.txt")
    copied = gitrun.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="notes", dst_path="rel")
    assert Path(copied).is_absolute() and (Path(copied) / "hi.txt").read_text() == "hi"


def test_genai_tracing_is_a_clear_error(repo: Path) -> None:
    from gitrun.errors import NotSupportedError

    with pytest.raises(NotSupportedError, match=r"mlflow.trace: GenAI tracing is not supported") as info:

        @gitrun.trace
        def predict() -> None: ...

    assert info.value.error_code == "NOT_IMPLEMENTED"
    for name in ("start_span", "search_traces", "get_trace", "update_current_trace"):
        with pytest.raises(NotSupportedError, match=name):
            getattr(gitrun, name)()


def _search_datasets(mlflow: Any) -> dict[str, list[str]]:
    import pandas as pd

    data = importlib.import_module(f"{mlflow.__name__}.data")
    train = pd.DataFrame({"x": [1, 2, 3]})
    other = pd.DataFrame({"x": [4, 5]})
    for name, frames in {"a": [(train, "training")], "b": [(other, "eval")], "c": [], "d": [(train, "eval")]}.items():
        with mlflow.start_run(run_name=name):
            for frame, context in frames:
                mlflow.log_input(data.from_pandas(frame, name=f"set-{len(frame)}"), context=context)
    digest = data.from_pandas(train).digest

    def names(filter_string: str) -> list[str]:
        runs = mlflow.search_runs(filter_string=filter_string, output_format="list", order_by=["attributes.run_name"])
        return [r.info.run_name for r in runs]

    return {
        f: names(f)
        for f in (
            "datasets.name = 'set-3'",
            "datasets.name != 'set-3'",
            f"datasets.digest = '{digest}'",
            "datasets.context = 'eval'",
            "datasets.context IN ('training', 'nope')",
            "datasets.name LIKE 'set-%' AND datasets.context = 'training'",
            "dataset.name = 'set-2'",
        )
    }


def test_search_runs_by_datasets_as_mlflow(real_mlflow: ModuleType) -> None:
    ours = _search_datasets(gitrun)
    assert ours == _search_datasets(real_mlflow)
    assert ours["datasets.name = 'set-3'"] == ["a", "d"] and ours["datasets.context = 'eval'"] == ["b", "d"]


def test_datasets_are_read_at_a_revision(repo: Path) -> None:
    """A committed run's inputs come from Git: search with ``rev=``, ``Client(rev=).get_run`` and
    ``runs list --rev`` see them after the work tree's copy is gone."""
    import pandas as pd

    with gitrun.start_run(run_name="with") as run:
        gitrun.log_input(gitrun.data.from_pandas(pd.DataFrame({"x": [1, 2]}), name="train-set"), context="training")
    with gitrun.start_run(run_name="without"):
        pass
    assert gitrun_cli("commit", cwd=repo).returncode == 0
    (repo / ".gitrun" / "experiments" / run.info.experiment_id / "runs" / run.info.run_id / "inputs.json").unlink()

    def names(filter_string: str) -> list[str]:
        found = gitrun.search_runs(filter_string=filter_string, output_format="list", rev="HEAD")
        return sorted(r.info.run_name for r in found)

    assert names("datasets.name = 'train-set'") == ["with"]
    assert names("datasets.context = 'training'") == ["with"] and names("datasets.name = 'nope'") == []
    assert names("datasets.name != 'train-set'") == []  # MLflow: a run without inputs matches no dataset clause
    inputs = gitrun.Client(rev="HEAD").get_run(run.info.run_id).inputs.dataset_inputs
    assert [(i.dataset.name, i.tags["mlflow.data.context"]) for i in inputs] == [("train-set", "training")]
    assert gitrun.search_runs(filter_string="datasets.name = 'train-set'", output_format="list") == []  # work tree
    listed = gitrun_cli("runs", "list", "--rev", "HEAD", "--filter", "datasets.name = 'train-set'", "--json", cwd=repo)
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [run.info.run_id]


def test_gitrun_diff_shows_a_runs_dataset_changes(repo: Path) -> None:
    """A run that gained an input between two commits: the diff lists it in text, Markdown and
    JSON (name and context, the digest on each side); a run whose inputs did not change is not listed."""
    import pandas as pd

    train = gitrun.data.from_pandas(pd.DataFrame({"x": [1, 2]}), name="train-set")
    with gitrun.start_run(run_name="grows") as run:
        gitrun.log_input(train, context="training")
    with gitrun.start_run(run_name="same"):
        gitrun.log_input(train, context="training")
    assert gitrun_cli("commit", cwd=repo).returncode == 0
    holdout = gitrun.data.from_pandas(pd.DataFrame({"x": [7, 8, 9]}), name="holdout")
    with gitrun.start_run(run_id=run.info.run_id):
        gitrun.log_input(holdout, context="eval")
    assert gitrun_cli("commit", cwd=repo).returncode == 0

    proc = gitrun_cli("diff", "HEAD~1", "HEAD", "--format", "json", cwd=repo)
    (exp,) = json.loads(proc.stdout)["experiments"]
    (changed,) = exp["changed"]
    assert changed["run_id"] == run.info.run_id
    assert changed["dataset_changes"] == [{"key": "holdout (eval)", "base": None, "target": holdout.digest}]
    text = gitrun_cli("diff", "HEAD~1", "HEAD", cwd=repo).stdout
    assert f"dataset holdout (eval): — → {holdout.digest}" in " ".join(text.split())
    md = gitrun_cli("diff", "HEAD~1", "HEAD", "--format", "md", cwd=repo).stdout
    assert "| run | params | metrics | tags | datasets |" in md and f"holdout (eval): — → {holdout.digest}" in md


def test_dataset_filters_that_mlflow_refuses_are_refused(repo: Path) -> None:
    from gitrun.errors import FilterSyntaxError

    for bad, message in [
        ("datasets.size = '1'", "unknown dataset field 'size'"),
        ("datasets.name = 3", "put the value in single quotes"),
    ]:
        with pytest.raises(FilterSyntaxError, match=message):
            gitrun.search_runs(filter_string=bad)
    with pytest.raises(FilterSyntaxError, match="cannot be ordered by datasets"):
        gitrun.search_runs(order_by=["datasets.name"])


def test_a_runs_datasets_are_on_its_site_page(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd
    from bs4 import BeautifulSoup

    from gitrun.site.build import BuildOptions, build_site
    from gitrun.store import Store

    frame = pd.DataFrame({"x": [1, 2, 3]})
    with gitrun.start_run() as run:
        gitrun.log_input(gitrun.data.from_pandas(frame, name="train<set>"), context="training")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    build_site(Store(repo / ".gitrun"), BuildOptions(output=tmp_path / "site", strict=True))
    page = BeautifulSoup((tmp_path / "site" / "runs" / f"{run.info.run_id}.html").read_text(), "html.parser")
    rows = [
        [td.get_text(" ", strip=True) for td in tr.find_all("td")] for tr in page.select("#datasets-table tbody tr")
    ]
    digest = gitrun.data.from_pandas(frame).digest
    assert [r[:3] for r in rows] == [["train<set>", digest, "training"]]
    assert rows[0][3].startswith("code {") and '"num_rows": 3' in rows[0][4]
