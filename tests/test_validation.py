"""Every validation error: a clear message naming the key or run, and nothing already logged lost."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import gitrun
from gitrun.entities import Metric, Param, RunTag
from gitrun.errors import GitrunError, InvalidInputError, RunStateError

LOCAL_ONLY = (".lock", ".heartbeat-")


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    """Every committed file of a run, byte for byte (local-only lock/heartbeat files left out)."""
    return {
        p.relative_to(run_dir).as_posix(): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and not p.name.startswith(LOCAL_ONLY)
    }


@pytest.fixture
def active(repo: Path) -> gitrun.ActiveRun:
    """An active run that already holds a param, a tag and a metric series."""
    run = gitrun.start_run(run_name="validated")
    gitrun.log_param("lr", 0.1)
    gitrun.set_tag("team", "vision")
    for step in range(3):
        gitrun.log_metric("loss", 1.0 / (step + 1), step=step)
    return run


def _run_dir(run: gitrun.ActiveRun) -> Path:
    return Path(run._writer.run_dir)  # type: ignore[attr-defined]


BAD_KEYS: list[tuple[object, str]] = [
    ("k" * 251, "251 characters long; the limit is 250"),
    ("bad@key", "contains '@'"),
    ("tab\there", "contains '\\t'"),
    ("../up", "not a clean relative name"),
    ("..", "not a clean relative name"),
    (".", "not a clean relative name"),
    ("/abs", "not a clean relative name"),
    ("a//b", "not a clean relative name"),
    ("a/./b", "not a clean relative name"),
    ("a/../b", "not a clean relative name"),
    ("trailing/", "not a clean relative name"),
    (" padded", "not a clean relative name"),
    ("é" * 126, "longer than 250 bytes"),
    ("", "is empty"),
    ("a/.git/b", "which Git cannot store"),  # a folder named .git (in any case) can reach neither Git nor DVC
    (".GIT/b", "which Git cannot store"),
    ("x/.gitrun-tmp.y", "gitrun's temp-file prefix"),  # its files are never committed
    (".gitrun-tmp.z", "gitrun's temp-file prefix"),
    (5, "must be a string, not int"),
    (None, "must be a string, not NoneType"),
]

LOGGERS: dict[str, Callable[[Any], None]] = {
    "log_metric": lambda key: gitrun.log_metric(key, 1.0),
    "log_metrics": lambda key: gitrun.log_metrics({"fine": 1.0, key: 2.0}),
    "log_param": lambda key: gitrun.log_param(key, "v"),
    "log_params": lambda key: gitrun.log_params({"fine": "v", key: "w"}),
    "set_tag": lambda key: gitrun.set_tag(key, "v"),
    "set_tags": lambda key: gitrun.set_tags({"fine": "v", key: "w"}),
}


@pytest.mark.parametrize("logger", sorted(LOGGERS))
@pytest.mark.parametrize(("key", "message"), BAD_KEYS, ids=[repr(k)[:20] for k, _ in BAD_KEYS])
def test_bad_key_is_refused_and_nothing_is_lost(
    active: gitrun.ActiveRun, logger: str, key: object, message: str
) -> None:
    before = _snapshot(_run_dir(active))
    with pytest.raises(InvalidInputError) as excinfo:
        LOGGERS[logger](key)
    text = str(excinfo.value)
    assert message in text
    assert active.info.run_id in text  # the error names the run
    assert isinstance(excinfo.value, GitrunError) and isinstance(excinfo.value, ValueError)
    # Nothing was written: not even the valid 'fine' key logged in the same call.
    assert _snapshot(_run_dir(active)) == before
    gitrun.end_run()
    run = gitrun.get_run(active.info.run_id)
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags["team"] == "vision"
    assert run.data.metrics == {"loss": 1.0 / 3}
    assert len(gitrun.get_metric_history(active.info.run_id, "loss")) == 3


@pytest.mark.parametrize(
    "key", ["a:b", "ok key/with.dots-and_under", "k" * 250, "ünïcödé/ключ", ".git", "x/.gitignore"]
)
def test_valid_keys_are_accepted_everywhere(active: gitrun.ActiveRun, key: str) -> None:
    gitrun.log_metric(key, 2.5, step=1)
    gitrun.log_param(key, "p")
    gitrun.set_tag(key, "t")
    gitrun.end_run()
    run = gitrun.get_run(active.info.run_id)
    assert run.data.metrics[key] == 2.5
    assert run.data.params[key] == "p"
    assert run.data.tags[key] == "t"


def test_metric_keys_starting_with_a_dot_are_listed(active: gitrun.ActiveRun) -> None:
    gitrun.log_metric(".hidden", 1.0)
    gitrun.log_metric("train/.inner", 2.0)
    gitrun.end_run()
    metrics = gitrun.get_run(active.info.run_id).data.metrics
    assert metrics[".hidden"] == 1.0
    assert metrics["train/.inner"] == 2.0


def test_metric_key_clashing_with_another_keys_folder(active: gitrun.ActiveRun) -> None:
    before = _snapshot(_run_dir(active))
    with pytest.raises(InvalidInputError, match=r"'loss.tsv/x'.*clashes"):
        gitrun.log_metric("loss.tsv/x", 1.0)
    assert _snapshot(_run_dir(active)) == before


BAD_METRICS: list[tuple[Callable[[], None], str]] = [
    (lambda: gitrun.log_metric("acc", "0.5"), "got '0.5' (str); metric values must be numbers"),
    (lambda: gitrun.log_metric("acc", b"1"), "metric values must be numbers"),
    (lambda: gitrun.log_metric("acc", None), "metric values must be numbers"),
    (lambda: gitrun.log_metric("acc", [1.0]), "metric values must be numbers"),
    (lambda: gitrun.log_metrics({"ok": 1.0, "acc": "high"}), "metric values must be numbers"),
    (lambda: gitrun.log_metric("acc", 1.0, step=1.5), "step must be an integer, got 1.5"),
    (lambda: gitrun.log_metric("acc", 1.0, step="3"), "step must be an integer, got '3'"),
    (lambda: gitrun.log_metrics({"acc": 1.0}, step=2.5), "step must be an integer"),
    (lambda: gitrun.log_metric("acc", 1.0, timestamp="now"), "timestamp must be milliseconds"),
    (lambda: gitrun.log_metric("acc", 1.0, timestamp=float("nan")), "timestamp must be finite"),
]


@pytest.mark.parametrize(("call", "message"), BAD_METRICS, ids=[m[:30] for _, m in BAD_METRICS])
def test_bad_metric_value_or_step_is_refused(active: gitrun.ActiveRun, call: Callable[[], None], message: str) -> None:
    before = _snapshot(_run_dir(active))
    with pytest.raises(InvalidInputError, match="acc") as excinfo:
        call()
    assert message in str(excinfo.value)
    assert _snapshot(_run_dir(active)) == before
    assert not (_run_dir(active) / "metrics" / "acc.tsv").exists()
    assert not (_run_dir(active) / "metrics" / "ok.tsv").exists()


def test_numeric_values_of_other_types_are_accepted(active: gitrun.ActiveRun) -> None:
    import numpy as np

    gitrun.log_metric("int", 3)
    gitrun.log_metric("bool", True)
    gitrun.log_metric("np", np.float32(0.25), step=np.int64(4))
    gitrun.log_metric("whole_float_step", 1.0, step=2.0)
    gitrun.end_run()
    assert gitrun.get_run(active.info.run_id).data.metrics == {
        "loss": 1.0 / 3,
        "int": 3.0,
        "bool": 1.0,
        "np": 0.25,
        "whole_float_step": 1.0,
    }
    history = gitrun.get_metric_history(active.info.run_id, "np")
    assert [(m.step, m.value) for m in history] == [(4, 0.25)]


def test_param_change_is_refused_naming_run_key_and_values(active: gitrun.ActiveRun) -> None:
    before = _snapshot(_run_dir(active))
    with pytest.raises(InvalidInputError) as excinfo:
        gitrun.log_param("lr", 0.2)
    message = str(excinfo.value)
    for part in (active.info.run_id, "'lr'", "'0.1'", "'0.2'", "immutable"):
        assert part in message
    # log_params refuses the whole call: 'fresh' is not written either.
    with pytest.raises(InvalidInputError, match="'lr'"):
        gitrun.log_params({"fresh": 1, "lr": 0.3})
    assert _snapshot(_run_dir(active)) == before
    gitrun.end_run()
    assert gitrun.get_run(active.info.run_id).data.params == {"lr": "0.1"}


def test_param_change_is_refused_from_another_client_and_process(active: gitrun.ActiveRun, repo: Path) -> None:
    from tests.helpers import run_python

    with pytest.raises(InvalidInputError, match=r"already '0\.1'"):
        gitrun.Client().log_param(active.info.run_id, "lr", "0.5")
    code = f"import gitrun\ngitrun.Client().log_param({active.info.run_id!r}, 'lr', '0.7')\n"
    proc = run_python(code, cwd=repo)
    assert proc.returncode != 0
    assert "cannot change it to '0.7'" in proc.stderr


def test_same_param_value_again_is_fine(active: gitrun.ActiveRun) -> None:
    gitrun.log_param("lr", 0.1)
    gitrun.log_param("lr", "0.1")  # same string
    gitrun.log_params({"lr": 0.1, "epochs": 3})
    gitrun.Client().log_param(active.info.run_id, "epochs", 3)
    gitrun.end_run()
    assert gitrun.get_run(active.info.run_id).data.params == {"lr": "0.1", "epochs": "3"}


def test_long_param_is_truncated_with_warning_and_kept_whole(active: gitrun.ActiveRun) -> None:
    value = "".join(chr(ord("a") + i % 26) for i in range(6500))
    with pytest.warns(UserWarning, match=r"param 'long' .* 6500 characters .* full_values/params/long.txt"):
        gitrun.log_param("long", value)
    run_dir = _run_dir(active)
    assert (run_dir / "full_values" / "params" / "long.txt").read_text() == value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gitrun.log_param("long", value)  # the same long value again is fine
        # A different value that truncates to the same 6,000 characters is still a change.
        with pytest.raises(InvalidInputError, match="'long'"):
            gitrun.log_param("long", value[:6000] + "DIFFERENT")
    assert (run_dir / "full_values" / "params" / "long.txt").read_text() == value
    gitrun.end_run()
    stored = gitrun.get_run(active.info.run_id).data.params["long"]
    assert stored == value[:6000]
    exactly = "x" * 6000
    with gitrun.start_run() as second, warnings.catch_warnings():
        warnings.simplefilter("error")  # exactly at the limit: no warning, no artifact
        gitrun.log_param("edge", exactly)
    assert gitrun.get_run(second.info.run_id).data.params["edge"] == exactly
    assert (
        not (_run_dir(second) / "full_values").exists()
        and not (_run_dir(second) / "artifacts" / "full_values").exists()
    )


def test_long_tag_is_truncated_with_warning_and_kept_whole(active: gitrun.ActiveRun) -> None:
    value = "0123456789" * 850  # 8,500 characters
    with pytest.warns(UserWarning, match=r"tag 'notes/long' .* 8500 characters .* full_values/tags/notes/long.txt"):
        gitrun.set_tag("notes/long", value)
    assert (_run_dir(active) / "full_values" / "tags" / "notes" / "long.txt").read_text() == value
    gitrun.end_run()
    assert gitrun.get_run(active.info.run_id).data.tags["notes/long"] == value[:8000]


def test_an_artifact_cannot_overwrite_the_full_value_of_a_truncated_param(active: gitrun.ActiveRun) -> None:
    """Full values live beside artifacts/, not in it: no artifact path reaches them."""
    value = "v" * 7000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gitrun.log_param("big", value)
        gitrun.log_text("not the value", "full_values/params/big.txt")
        gitrun.log_param("big", value)  # the same value again: no change, no error
    run_dir = _run_dir(active)
    assert (run_dir / "full_values" / "params" / "big.txt").read_text() == value
    assert (run_dir / "artifacts" / "full_values" / "params" / "big.txt").read_text() == "not the value"


def test_full_values_kept_by_gitrun_0_1_inside_artifacts_still_count(active: gitrun.ActiveRun) -> None:
    value = "w" * 7000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gitrun.log_param("big", value[:6000])
        old = _run_dir(active) / "artifacts" / "full_values" / "params" / "big.txt"  # where gitrun 0.1 kept it
        old.parent.mkdir(parents=True)
        old.write_text(value)
        gitrun.log_param("big", value)  # the same value: accepted
        with pytest.raises(InvalidInputError, match="'big'"):
            gitrun.log_param("big", value[:6000] + "other")


def test_logging_to_a_deleted_run_is_refused(repo: Path) -> None:
    with gitrun.start_run() as run:
        gitrun.log_metric("loss", 1.0)
    client = gitrun.Client()
    client.delete_run(run.info.run_id)
    for call in (
        lambda: client.log_metric(run.info.run_id, "loss", 2.0),
        lambda: client.log_param(run.info.run_id, "p", 1),
        lambda: client.set_tag(run.info.run_id, "t", 1),
        lambda: client.log_batch(run.info.run_id, metrics=[Metric("loss", 2.0, 0, 1)]),
        lambda: gitrun.log_metric("loss", 2.0, run_id=run.info.run_id),
        lambda: gitrun.start_run(run_id=run.info.run_id),
    ):
        with pytest.raises(RunStateError, match=rf"run {run.info.run_id} is deleted.*restore"):
            call()
    client.restore_run(run.info.run_id)
    client.log_metric(run.info.run_id, "loss", 2.0, step=1)
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [1.0, 2.0]


def test_log_batch_validates_everything_before_writing(repo: Path) -> None:
    client = gitrun.Client()
    run_id = client.create_run("default").info.run_id
    client.log_param(run_id, "kept", "yes")
    bad_batches: list[dict[str, Any]] = [
        {"metrics": [Metric("m", "bad", 0, 0)], "params": [Param("p", "1")], "tags": [RunTag("t", "1")]},
        {"metrics": [Metric("m", 1.0, 0, 0.5)], "params": [Param("p", "1")]},
        {"metrics": [Metric("bad@", 1.0, 0, 0)], "tags": [RunTag("t", "1")]},
        {"params": [Param("p", "1")], "tags": [RunTag("bad@", "1")]},
        {"params": [Param("p", "1"), Param("kept", "no")], "tags": [RunTag("t", "1")]},
    ]
    for batch in bad_batches:
        with pytest.raises(InvalidInputError):
            client.log_batch(run_id, **batch)
    run = client.get_run(run_id)
    assert run.data.params == {"kept": "yes"}
    assert "t" not in run.data.tags
    assert run.data.metrics == {}


def test_bad_experiment_settings(repo: Path) -> None:
    with pytest.raises(InvalidInputError, match="direction of metric 'acc' must be 'min' or 'max'"):
        gitrun.set_experiment("settings", directions={"acc": "up"})
    with pytest.raises(InvalidInputError, match="experiment name must be a non-empty string"):
        gitrun.set_experiment("   ")
    with pytest.raises(InvalidInputError, match="not a run ID"):
        gitrun.get_run("../../etc")


def test_delete_missing_tag_names_run_and_key(active: gitrun.ActiveRun) -> None:
    with pytest.raises(InvalidInputError, match=rf"run {active.info.run_id} has no tag 'nope'"):
        gitrun.delete_tag("nope")


RESERVED_ARTIFACTS = [
    ("sub/.git/config", "which Git cannot store"),
    (".Git/HEAD", "which Git cannot store"),
    ("a/.git./b", "which Git cannot store"),  # what Windows reads as .git
    ("model.dvc", "a name DVC keeps"),
    ("data/.dvcignore", "a name DVC keeps"),
    (".dvc/config", "a name DVC keeps"),
    (".gitignore", "where DVC lists the big files"),
    ("out/.gitrun-tmp.x", "gitrun's temp-file prefix"),
]


@pytest.mark.parametrize(("path", "message"), RESERVED_ARTIFACTS, ids=[p for p, _ in RESERVED_ARTIFACTS])
def test_artifact_names_that_cannot_reach_git_or_dvc_are_refused(
    active: gitrun.ActiveRun, tmp_path: Path, path: str, message: str
) -> None:
    before = _snapshot(_run_dir(active))
    with pytest.raises(InvalidInputError, match=message):
        gitrun.log_text("x", path)
    source = tmp_path / "folder"
    (source / path).parent.mkdir(parents=True, exist_ok=True)
    (source / "fine.txt").write_text("fine")
    (source / path).write_text("x")
    with pytest.raises(InvalidInputError, match=message) as excinfo:
        gitrun.log_artifacts(source)
    assert path in str(excinfo.value)
    assert _snapshot(_run_dir(active)) == before  # checked before anything was copied, fine.txt included


def test_logging_a_folder_holding_a_git_repository_is_refused(active: gitrun.ActiveRun, tmp_path: Path) -> None:
    import subprocess

    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "main.py").write_text("print(1)\n")
    before = _snapshot(_run_dir(active))
    with pytest.raises(InvalidInputError, match=r"project/\.git/.* which Git cannot store"):
        gitrun.log_artifact(project)
    with pytest.raises(InvalidInputError, match="which Git cannot store"):
        gitrun.log_artifacts(project, artifact_path="code")
    assert _snapshot(_run_dir(active)) == before
    # The same names elsewhere in a path are fine: only whole parts are reserved.
    gitrun.log_text("ok", "notes/.gitignore")
    gitrun.log_text("ok", "my.git/x.dvc.txt")
