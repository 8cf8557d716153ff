"""MLproject parsing: gitrun's parser against MLflow's own (mlflow/projects/_project_spec.py) on the
same fixture files: names, types, defaults, commands, and the quoting of hostile values."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gitrun.errors import ExecutionException
from gitrun.projects.spec import load_project

FIXTURES = Path(__file__).parent / "fixtures" / "projects"
HOSTILE = [
    "'; rm -rf /",
    "$(touch pwned)",
    "`touch pwned`",
    "a b\tc\nd",
    "\"double\" and 'single'",
    "{alpha}",
    "--flag=x; echo hi",
    "",
    "ünïcødé ✓",
]


def _mlflow_project(name: str) -> Any:
    from mlflow.projects import _project_spec

    return _project_spec.load_project(str(FIXTURES / name))


def test_the_fields_parse_as_mlflow_parses_them() -> None:
    ours, theirs = load_project(FIXTURES / "typed"), _mlflow_project("typed")
    assert ours.name == theirs.name == "typed-demo"
    assert ours.env_type == theirs.env_type == "python_env"
    assert str(ours.env_file) == theirs.env_config_path
    assert set(ours.entry_points) == set(theirs._entry_points) == {"main", "eval", "noparams"}
    for name, entry in ours.entry_points.items():
        mine = {(p.name, p.type, p.default) for p in entry.parameters.values()}
        mlflow = {(p.name, p.type, p.default) for p in theirs._entry_points[name].parameters.values()}
        assert mine == mlflow, name
        assert entry.command == theirs._entry_points[name].command


@pytest.mark.parametrize("value", HOSTILE)
def test_commands_quote_hostile_values_exactly_as_mlflow(value: str, tmp_path: Path) -> None:
    data = tmp_path / "in file.csv"
    data.write_text("x\n")
    given = {"input_path": str(data), "data": value, "note": value, "extra key": value, "x;y": "`id`"}
    ours = load_project(FIXTURES / "typed").entry_point("main").command_line(given)
    theirs = _mlflow_project("typed").get_entry_point("main").compute_command(given, str(tmp_path))
    assert ours == theirs
    assert value in shlex.split(ours)  # the shell gets the value back, unchanged
    # and running it through bash runs no part of it
    out = subprocess.run(
        ["bash", "-c", "printf '%s\\n' " + shlex.quote(value)], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.stdout == value + "\n" and not (tmp_path / "pwned").exists()


def test_defaults_extra_params_and_file_uris_as_mlflow(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("x\n")
    for given in (
        {"input_path": str(data)},
        {"input_path": data.as_uri(), "alpha": "0.1", "epochs": "3", "new": "1", "other": "two words"},
    ):
        ours = load_project(FIXTURES / "typed").entry_point("main").command_line(given)
        theirs = _mlflow_project("typed").get_entry_point("main").compute_command(given, str(tmp_path))
        assert ours == theirs
    ours = load_project(FIXTURES / "typed").entry_point("eval").command_line({"run": "r1"})
    assert ours == _mlflow_project("typed").get_entry_point("eval").compute_command({"run": "r1"}, None)
    assert ours == "python eval.py r1 --threshold=1e-3"


def test_logged_params_are_every_declared_and_extra_one_as_given() -> None:
    # MLflow logs the same keys; it logs the shell-quoted values ("'two words'"), gitrun the values.
    entry = load_project(FIXTURES / "typed").entry_point("main")
    logged = entry.log_params({"input_path": "rel/path.csv", "extra": "a b"})
    theirs_declared, theirs_extra = (
        _mlflow_project("typed")
        .get_entry_point("main")
        .compute_parameters({"input_path": "rel/path.csv", "extra": "a b"}, None)
    )
    assert set(logged) == set(theirs_declared) | set(theirs_extra)
    assert {k: shlex.quote(v) for k, v in logged.items()} == {**theirs_declared, **theirs_extra}
    assert logged["input_path"] == "rel/path.csv" and logged["note"] == "two words" and logged["flag"] == "False"


@pytest.mark.parametrize("entry_point", ["train.py", "run.sh"])
def test_scripts_run_as_entry_points_as_mlflow(entry_point: str) -> None:
    ours = load_project(FIXTURES / "scripts").entry_point(entry_point).command_line({})
    assert ours == _mlflow_project("scripts").get_entry_point(entry_point).compute_command({}, None)


def test_errors_where_mlflow_errors() -> None:
    from mlflow.exceptions import ExecutionException as MlflowExecutionException
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowExecutionException, match="input_path"):
        _mlflow_project("typed").get_entry_point("main").compute_command({}, None)
    with pytest.raises(ExecutionException, match="No value given for missing parameters: 'input_path'"):
        load_project(FIXTURES / "typed").entry_point("main").command_line({})
    with pytest.raises(MlflowException):
        _mlflow_project("typed").get_entry_point("nope")
    with pytest.raises(ExecutionException, match=r"Could not find 'nope'.*known: eval, main, noparams"):
        load_project(FIXTURES / "typed").entry_point("nope")
    with pytest.raises(MlflowException, match="multiple environment fields"):
        _mlflow_project("bad-two-envs")
    with pytest.raises(ExecutionException, match="multiple environment fields"):
        load_project(FIXTURES / "bad-two-envs")


def test_types_are_checked_where_mlflow_passes_them_through(tmp_path: Path) -> None:
    entry = load_project(FIXTURES / "typed").entry_point("main")
    data = tmp_path / "d"
    data.write_text("")
    for key, bad, hint in (("alpha", "fast", "a number"), ("epochs", "2.5", "an integer"), ("out", "no-scheme", "URI")):
        with pytest.raises(ExecutionException, match=hint):
            entry.command_line({"input_path": str(data), key: bad})
    with pytest.raises(ExecutionException, match="no such file or directory"):
        entry.command_line({"input_path": str(tmp_path / "missing")})
    with pytest.raises(ExecutionException, match="does not download remote paths"):
        entry.command_line({"input_path": "s3://bucket/key"})


def test_environments_are_recognised_as_mlflow() -> None:
    for name in ("conda", "docker"):
        assert load_project(FIXTURES / name).env_type == _mlflow_project(name).env_type
    assert load_project(FIXTURES / "docker").docker_env == {"image": "python:3.11-slim"}
