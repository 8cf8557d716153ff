"""The `gitrun` command, run as a real subprocess (plus an in-process walk over every command's help)."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import gitrun
from gitrun.store import Store
from tests.helpers import gitrun_cli

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
RUN_KEYS = {"run_id", "run_name", "experiment", "status", "start_time", "end_time", "params", "metrics", "tags"}


def _strict_json(text: str) -> Any:
    def reject(name: str) -> None:
        raise AssertionError(f"output holds the non-standard JSON constant {name}")

    return json.loads(text, parse_constant=reject)


def _iso_to_ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@dataclass
class Populated:
    repo: Path
    iris: list[str]  # run IDs in creation order
    default: str


@pytest.fixture
def populated(repo: Path) -> Populated:
    gitrun.set_experiment("iris", primary_metric="acc")
    iris = []
    for i, (acc, loss) in enumerate([(0.8, 0.5), (0.95, 0.2), (0.9, float("nan"))]):
        time.sleep(0.002)  # distinct start times (ms): "newest first" is then well defined
        with gitrun.start_run(run_name=f"iris-{i}") as run:
            gitrun.log_params({"lr": 0.1 * (i + 1), "model": "sgd"})
            gitrun.log_metric("acc", acc, step=0)
            gitrun.log_metric("loss", loss, step=0)
            if i == 2:
                gitrun.log_metric("up", float("inf"))
                gitrun.log_metric("down", float("-inf"))
            gitrun.set_tag("grid", "small")
        iris.append(run.info.run_id)
    time.sleep(0.002)
    with gitrun.start_run(run_name="plain", experiment_id="default") as run:
        gitrun.log_metric("x", 1.0)
    return Populated(repo, iris, run.info.run_id)


def _ok(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    # Wide tables: pytest-xdist workers export COLUMNS=80, which folds long run IDs across lines.
    result = gitrun_cli(*args, cwd=cwd, env={"COLUMNS": "250", **(env or {})})
    assert result.returncode == 0, result.stderr
    return result.stdout


# -- basics -------------------------------------------------------------------------------------
def test_version(tmp_path: Path) -> None:
    for flag in ("--version", "-V"):
        assert _ok(flag, cwd=tmp_path).strip() == f"gitrun {gitrun.__version__}"


def test_init_creates_the_store(repo: Path, store_dir: Path) -> None:
    out = _ok("init", cwd=repo)
    assert out.strip() == f"Initialized gitrun store in {store_dir}"
    assert (store_dir / "store.yaml").is_file()
    assert (store_dir / "experiments" / "default" / "experiment.yaml").is_file()


def test_init_with_tracking_uri_option_and_variable(repo: Path, tmp_path: Path) -> None:
    _ok("--tracking-uri", str(tmp_path / "opt-store"), "init", cwd=repo)
    assert (tmp_path / "opt-store" / "store.yaml").is_file()
    _ok("init", cwd=repo, env={"GITRUN_TRACKING_URI": str(tmp_path / "env-store")})
    assert (tmp_path / "env-store" / "store.yaml").is_file()
    assert not (repo / ".gitrun").exists()


def test_init_in_a_subdirectory_uses_the_work_tree_root(repo: Path) -> None:
    sub = repo / "src"
    sub.mkdir()
    _ok("init", cwd=sub)
    assert (repo / ".gitrun" / "store.yaml").is_file()
    assert not (sub / ".gitrun").exists()


# -- experiments ----------------------------------------------------------------------------
def test_experiments_list(populated: Populated) -> None:
    table = _ok("experiments", "list", cwd=populated.repo)
    assert "iris" in table and "Default" in table
    rows = _strict_json(_ok("experiments", "list", "--json", cwd=populated.repo))
    by_id = {row["experiment_id"]: row for row in rows}
    assert set(by_id) == {"default", "iris"}
    iris = by_id["iris"]
    assert iris["name"] == "iris"
    assert iris["runs"] == 3
    assert iris["primary_metric"] == "acc"
    assert iris["direction"] == "max"
    assert iris["best_run_id"] == populated.iris[1]
    assert iris["best_value"] == 0.95
    assert by_id["default"]["runs"] == 1


def test_experiments_list_on_an_empty_directory(tmp_path: Path) -> None:
    assert _strict_json(_ok("experiments", "list", "--json", cwd=tmp_path)) == []
    assert not (tmp_path / ".gitrun").exists()  # listing never creates a store


# -- runs list ----------------------------------------------------------------------------------
def test_runs_list_table(populated: Populated) -> None:
    out = _ok("runs", "list", cwd=populated.repo)
    for run_id in [*populated.iris, populated.default]:
        assert run_id in out
    assert "FINISHED" in out
    filtered = _ok("runs", "list", "--experiment", "iris", cwd=populated.repo)
    assert populated.default not in filtered and all(r in filtered for r in populated.iris)


def test_runs_list_json(populated: Populated, store_dir: Path) -> None:
    rows = _strict_json(_ok("runs", "list", "--json", cwd=populated.repo))
    assert isinstance(rows, list) and len(rows) == 4
    assert [row["run_id"] for row in rows] == [populated.default, *reversed(populated.iris)]  # newest first
    store = Store(store_dir)
    for row in rows:
        assert set(row) >= RUN_KEYS
        assert ISO_UTC.match(row["start_time"]) and ISO_UTC.match(row["end_time"])
        record = store.read_run(row["run_id"])
        assert _iso_to_ms(row["start_time"]) == record.start_time
        assert _iso_to_ms(row["end_time"]) == record.end_time
        assert row["status"] == "FINISHED"
        assert all(isinstance(v, str) for v in row["params"].values())
    third = next(row for row in rows if row["run_id"] == populated.iris[2])
    assert third["experiment"] == "iris"
    assert third["run_name"] == "iris-2"
    assert third["params"] == {"lr": "0.30000000000000004", "model": "sgd"}
    assert third["metrics"] == {"acc": 0.9, "loss": "NaN", "up": "Infinity", "down": "-Infinity"}
    assert third["tags"]["grid"] == "small"
    assert next(row for row in rows if row["run_id"] == populated.default)["experiment"] == "Default"


def test_runs_list_filters_and_limits(populated: Populated) -> None:
    only_iris = _strict_json(_ok("runs", "list", "--experiment", "iris", "--json", cwd=populated.repo))
    assert [row["run_id"] for row in only_iris] == list(reversed(populated.iris))
    by_id = _strict_json(_ok("runs", "list", "-e", "default", "--json", cwd=populated.repo))
    assert [row["run_id"] for row in by_id] == [populated.default]
    both = _strict_json(_ok("runs", "list", "-e", "iris", "-e", "Default", "--json", cwd=populated.repo))
    assert len(both) == 4
    top2 = _strict_json(_ok("runs", "list", "--max", "2", "--json", cwd=populated.repo))
    assert [row["run_id"] for row in top2] == [populated.default, populated.iris[2]]
    assert _strict_json(_ok("runs", "list", "--max", "0", "--json", cwd=populated.repo)) == []


def test_runs_list_unknown_experiment(populated: Populated) -> None:
    result = gitrun_cli("runs", "list", "--experiment", "nope", cwd=populated.repo)
    assert result.returncode == 1
    root = populated.repo / ".gitrun"
    assert (
        result.stderr.strip()
        == f"Error: no experiment 'nope' in {root} (by name or ID); known: Default (ID default), iris"
    )


def test_runs_list_running_run_has_null_end_time(repo: Path) -> None:
    run = gitrun.start_run()
    rows = _strict_json(_ok("runs", "list", "--json", cwd=repo))
    assert rows[0]["run_id"] == run.info.run_id
    assert rows[0]["status"] == "RUNNING"
    assert rows[0]["end_time"] is None
    gitrun.end_run()


# -- runs show ------------------------------------------------------------------------------------
def test_runs_show(populated: Populated) -> None:
    run_id = populated.iris[2]
    out = _ok("runs", "show", run_id, cwd=populated.repo)
    assert f"Run {run_id}" in out
    for text in ("iris-2", "lr", "0.30000000000000004", "acc", "grid", "FINISHED"):
        assert text in out
    data = _strict_json(_ok("runs", "show", run_id, "--json", cwd=populated.repo))
    assert set(data) >= RUN_KEYS
    assert data["run_id"] == run_id
    assert data["metrics"]["loss"] == "NaN"
    assert data["metric_summaries"]["acc"] == {"latest": 0.9, "min": 0.9, "max": 0.9, "step": 0, "count": 1}
    assert data["metric_summaries"]["up"]["max"] == "Infinity"


def test_runs_show_by_unique_prefix(populated: Populated) -> None:
    run_id = populated.iris[0]
    prefix = run_id[:-3]
    assert sum(r.startswith(prefix) for r in [*populated.iris, populated.default]) == 1
    data = _strict_json(_ok("runs", "show", prefix.lower(), "--json", cwd=populated.repo))
    assert data["run_id"] == run_id


def test_runs_show_ambiguous_prefix(populated: Populated) -> None:
    result = gitrun_cli("runs", "show", "0", cwd=populated.repo)  # every ULID of this century starts with 0
    assert result.returncode == 1
    assert "ambiguous (4 runs)" in result.stderr


def test_runs_show_with_artifacts_and_note(repo: Path) -> None:
    with gitrun.start_run(description="A *note*") as run:
        gitrun.log_text("hello", "reports/hello.txt")
    out = _ok("runs", "show", run.info.run_id, cwd=repo)
    assert "A *note*" in out
    assert "reports/hello.txt" in out
    data = _strict_json(_ok("runs", "show", run.info.run_id, "--json", cwd=repo))
    assert data["artifacts"] == [{"path": "reports/hello.txt", "size": 5}]


# -- delete / restore -------------------------------------------------------------------------
def test_runs_delete_and_restore(populated: Populated) -> None:
    victim = populated.iris[1]
    assert _ok("runs", "delete", victim, cwd=populated.repo).strip() == f"Deleted run {victim}"
    active = [row["run_id"] for row in _strict_json(_ok("runs", "list", "--json", cwd=populated.repo))]
    assert victim not in active and len(active) == 3
    deleted = _strict_json(_ok("runs", "list", "--deleted", "--json", cwd=populated.repo))
    assert [row["run_id"] for row in deleted] == [victim]
    assert deleted[0]["lifecycle_stage"] == "deleted"
    # The best run of the experiment no longer counts the deleted one.
    iris = next(
        r for r in _strict_json(_ok("experiments", "list", "--json", cwd=populated.repo)) if r["name"] == "iris"
    )
    assert iris["runs"] == 2 and iris["best_run_id"] == populated.iris[2]

    assert _ok("runs", "restore", victim[:-2], cwd=populated.repo).strip() == f"Restored run {victim}"
    active = [row["run_id"] for row in _strict_json(_ok("runs", "list", "--json", cwd=populated.repo))]
    assert victim in active and len(active) == 4


def test_runs_delete_several(populated: Populated) -> None:
    _ok("runs", "delete", *populated.iris[:2], cwd=populated.repo)
    deleted = {row["run_id"] for row in _strict_json(_ok("runs", "list", "--deleted", "--json", cwd=populated.repo))}
    assert deleted == set(populated.iris[:2])


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ("runs", "show", "01JD5Z3F6X0000000000000000"),
        ("runs", "show", "ZZZZ"),
        ("runs", "delete", "01JD5Z3F6X0000000000000000"),
        ("runs", "restore", "ZZZZ"),
    ],
)
def test_unknown_run_is_one_error_line(populated: Populated, args: tuple[str, ...]) -> None:
    result = gitrun_cli(*args, cwd=populated.repo)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: no run")
    assert args[-1] in lines[0]
    assert "Traceback" not in result.stderr

    verbose = gitrun_cli("--traceback", *args, cwd=populated.repo)
    assert verbose.returncode == 1
    assert "Traceback (most recent call last)" in verbose.stderr
    assert "RunNotFoundError" in verbose.stderr
    assert verbose.stderr.splitlines()[-1].startswith("Error: no run")


def test_error_line_is_red_on_a_terminal_unless_no_color(populated: Populated) -> None:
    import os
    import pty
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("gitrun")

    def stderr_on_tty(env: dict[str, str]) -> bytes:
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [str(exe), "runs", "show", "ZZZZ"], cwd=populated.repo, env=env, stdout=subprocess.PIPE, stderr=slave
        )
        os.close(slave)
        proc.communicate(timeout=60)
        out = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        assert proc.returncode == 1
        return out

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert stderr_on_tty(env).startswith(b"\x1b[31mError: ")
    assert stderr_on_tty({**env, "NO_COLOR": "1"}).startswith(b"Error: ")


def test_usage_error_exit_code(tmp_path: Path) -> None:
    result = gitrun_cli("runs", "list", "--max", "many", cwd=tmp_path)
    assert result.returncode == 2
    assert "Invalid value" in result.stderr
    assert "Traceback" not in result.stderr


# -- help ---------------------------------------------------------------------------------------------
def _all_commands() -> list[tuple[str, ...]]:
    from gitrun.cli.app import cli

    found: list[tuple[str, ...]] = [()]

    def walk(group: click.Group, path: tuple[str, ...]) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, name
            found.append((*path, name))
            if isinstance(command, click.Group):
                walk(command, (*path, name))

    walk(cli, ())
    return found


def test_every_command_help_has_an_example() -> None:
    from gitrun.cli.app import cli

    commands = _all_commands()
    for expected in [
        ("init",),
        ("experiments", "list"),
        ("runs", "list"),
        ("runs", "show"),
        ("runs", "delete"),
        ("plugins",),
    ]:
        assert expected in commands
    runner = CliRunner()
    missing = []
    for path in commands:
        for flag in ("--help", "-h"):
            result = runner.invoke(cli, [*path, flag], prog_name="gitrun")
            assert result.exit_code == 0, (path, result.output)
            if "Example" not in result.output:
                missing.append(" ".join(path) or "gitrun")
    assert not missing, f"--help without an example: {sorted(set(missing))}"


def test_help_in_a_real_process(tmp_path: Path) -> None:
    out = _ok("runs", "list", "--help", cwd=tmp_path)
    assert "Example" in out and "--experiment" in out and "--json" in out
    top = _ok("--help", cwd=tmp_path)
    for name in ("init", "experiments", "runs", "plugins"):
        assert name in top


def test_python_dash_m_gitrun(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "gitrun", "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"gitrun {gitrun.__version__}"
