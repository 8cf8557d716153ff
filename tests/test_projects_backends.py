"""Backends are plugins: a backend registered through the `gitrun_project_backends` hook runs the
trials of a real sweep; the built-ins are found the same way; bad settings are clear errors."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

import gitrun.projects
from gitrun.errors import ExecutionException
from gitrun.plugins import get_plugin_manager, hookimpl, reset_for_tests
from gitrun.projects.backends import LocalBackend, available_backends, load_backend, parse_backend_config
from gitrun.projects.runner import RunSpec
from gitrun.projects.submitted import SubmittedRun
from gitrun.store import Store


class RecordingBackend(LocalBackend):
    """A third-party backend: the local one, noting what it was given."""

    name = "recording"
    seen: ClassVar[list[RunSpec]] = []
    closed: ClassVar[list[Sequence[str]]] = []

    def __init__(self, config: dict[str, Any]):
        super().__init__({})
        self.config = config

    def submit(self, spec: RunSpec) -> SubmittedRun:
        RecordingBackend.seen.append(spec)
        return super().submit(spec)

    def default_parallel(self) -> int:
        return int(self.config.get("parallel", 1))

    def close(self, commit_with: Sequence[str] = ()) -> None:
        RecordingBackend.closed.append(tuple(commit_with))


class Plugin:
    @hookimpl
    def gitrun_project_backends(self) -> dict[str, Any]:
        return {"recording": RecordingBackend}


@pytest.fixture
def plugin() -> Iterator[None]:
    reset_for_tests()
    get_plugin_manager().register(Plugin(), name="recording-plugin")
    yield
    reset_for_tests()


def test_the_builtins_are_registered_through_the_hook() -> None:
    found = available_backends()
    assert found["local"] == "gitrun.projects.backends:LocalBackend"
    assert found["dask"] == "gitrun.projects.dask_backend:DaskBackend"
    assert isinstance(load_backend("local"), LocalBackend)
    with pytest.raises(ExecutionException, match="no project backend named 'nope' \\(known: dask, local"):
        load_backend("nope")
    with pytest.raises(ExecutionException, match="unknown dask backend setting"):
        load_backend("dask", {"adress": "tcp://x"})


def test_backend_config_is_a_file_or_inline_json_or_yaml(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text('{"clone": true, "remote": "up"}')
    assert parse_backend_config(str(tmp_path / "c.json")) == {"clone": True, "remote": "up"}
    assert parse_backend_config('{"clone": true}') == parse_backend_config("clone: true") == {"clone": True}
    with pytest.raises(ExecutionException, match="must be a mapping"):
        parse_backend_config("[1, 2]")


def test_a_plugin_backend_runs_a_sweep(repo: Path, plugin: None) -> None:
    (repo / "MLproject").write_text(
        textwrap.dedent(
            """
            name: p
            entry_points:
              main:
                parameters: {x: int}
                command: "python -c 'import gitrun; gitrun.start_run(); gitrun.log_metric(\\"x\\", {x})'"
            """
        )
    )
    result = gitrun.projects.sweep(
        ".", "main", {"x": [1, 2, 3]}, backend="recording", backend_config={"parallel": 2}, metric="x"
    )
    assert [t.value for t in result.trials] == [3.0, 2.0, 1.0]
    assert sorted(s.parameters["x"] for s in RecordingBackend.seen) == ["1", "2", "3"]
    assert all(s.parent_run_id == result.parent_run_id and s.backend == "recording" for s in RecordingBackend.seen)
    assert RecordingBackend.closed == [(result.parent_run_id,)]
    runs = list(Store(repo / ".gitrun").iter_runs())
    assert {r.tags["mlflow.project.backend"] for r in runs if r.run_id != result.parent_run_id} == {"recording"}


class InterruptingBackend(LocalBackend):
    """The local backend, but Ctrl-C reaches the sweep while its trial is being started."""

    name = "interrupting"

    def __init__(self, config: dict[str, Any]):
        super().__init__({})

    def submit(self, spec: RunSpec) -> SubmittedRun:
        import os
        import signal
        import time

        submitted = super().submit(spec)
        os.kill(os.getpid(), signal.SIGINT)  # the main thread stops the sweep before this trial is known
        time.sleep(0.5)
        return submitted


class InterruptingPlugin:
    @hookimpl
    def gitrun_project_backends(self) -> dict[str, Any]:
        return {"interrupting": InterruptingBackend}


def test_ctrl_c_while_a_trial_starts_stops_that_trial_too(repo: Path) -> None:
    """A trial that started while the sweep was being stopped used to run to its end (60 s here)."""
    import signal

    reset_for_tests()
    get_plugin_manager().register(InterruptingPlugin(), name="interrupting-plugin")
    # Ctrl-C raises KeyboardInterrupt, as in a terminal (a suite started in the background inherits it ignored)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    (repo / "MLproject").write_text(
        "name: p\nentry_points:\n  main:\n    parameters: {x: int}\n    command: \"python -c 'import time; time.sleep(60)'\"\n"
    )
    try:
        with pytest.raises(KeyboardInterrupt):
            gitrun.projects.sweep(".", "main", {"x": [1]}, backend="interrupting", parallel=1)
    finally:
        signal.signal(signal.SIGINT, previous)
        reset_for_tests()
    statuses = sorted(r.status for r in Store(repo / ".gitrun").iter_runs())
    # The sweep and its one trial, killed; on a loaded machine the trial's process may be stopped
    # before it created its run (it then never started). Without the fix it ran to FINISHED.
    assert statuses in (["KILLED"], ["KILLED", "KILLED"])
