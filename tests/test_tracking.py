"""The fluent tracking API with MLflow's names, against real files and real Git."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import gitrun
from gitrun.entities import Metric, Param, RunStatus, RunTag, ViewType
from gitrun.errors import GitrunError, RunStateError
from gitrun.store import Store
from tests.helpers import gitrun_cli, run_git, run_python, run_script


def _meta(store_dir: Path, run_id: str, experiment_id: str = "default") -> dict:
    return json.loads((store_dir / "experiments" / experiment_id / "runs" / run_id / "meta.json").read_text())


# -- run lifecycle ------------------------------------------------------------------------
def test_context_manager_finishes_the_run(repo: Path, store_dir: Path) -> None:
    with gitrun.start_run(run_name="ctx") as run:
        assert isinstance(run, gitrun.ActiveRun)
        inside = gitrun.get_run(run.info.run_id)
        assert inside.info.status == RunStatus.RUNNING
        assert inside.info.end_time is None
        assert inside.info.run_name == "ctx"
    after = gitrun.get_run(run.info.run_id)
    assert after.info.status == RunStatus.FINISHED
    assert after.info.end_time is not None and after.info.end_time >= after.info.start_time
    assert _meta(store_dir, run.info.run_id)["status"] == "FINISHED"
    assert gitrun.active_run() is None


def test_exception_fails_the_run(repo: Path, store_dir: Path) -> None:
    with pytest.raises(ZeroDivisionError), gitrun.start_run() as run:
        gitrun.log_metric("before_crash", 1.0)
        _ = 1 / 0
    assert gitrun.get_run(run.info.run_id).info.status == RunStatus.FAILED
    assert gitrun.get_run(run.info.run_id).data.metrics == {"before_crash": 1.0}
    assert gitrun.active_run() is None


def test_keyboard_interrupt_kills_the_run(repo: Path, store_dir: Path) -> None:
    with pytest.raises(KeyboardInterrupt), gitrun.start_run() as run:
        raise KeyboardInterrupt
    assert _meta(store_dir, run.info.run_id)["status"] == RunStatus.KILLED
    assert gitrun.get_run(run.info.run_id).info.status == RunStatus.KILLED


def test_end_run_with_explicit_status(repo: Path) -> None:
    run = gitrun.start_run()
    gitrun.end_run(status="FAILED")
    assert gitrun.get_run(run.info.run_id).info.status == "FAILED"
    gitrun.end_run()  # nothing active: a no-op, as in MLflow


def test_end_run_with_an_unknown_status_keeps_the_run_active(repo: Path) -> None:
    run = gitrun.start_run()
    with pytest.raises(GitrunError, match="unknown run status 'DONE'"):
        gitrun.end_run(status="DONE")
    assert gitrun.active_run() is run
    assert gitrun.get_run(run.info.run_id).info.status == RunStatus.RUNNING
    gitrun.end_run(status="KILLED")
    assert gitrun.get_run(run.info.run_id).info.status == RunStatus.KILLED


def test_nested_runs(repo: Path, store_dir: Path) -> None:
    with gitrun.start_run(run_name="parent") as parent:
        with pytest.raises(RunStateError, match=rf"run {parent.info.run_id} is already active.*nested=True"):
            gitrun.start_run()
        with gitrun.start_run(run_name="child", nested=True) as child:
            assert gitrun.active_run().info.run_id == child.info.run_id
            grandchild = gitrun.start_run(run_name="grandchild", nested=True)
        assert gitrun.active_run().info.run_id == parent.info.run_id
    assert gitrun.active_run() is None
    child_run = gitrun.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert _meta(store_dir, child.info.run_id)["parent_run_id"] == parent.info.run_id
    assert gitrun.get_run(grandchild.info.run_id).data.tags["mlflow.parentRunId"] == child.info.run_id
    assert "mlflow.parentRunId" not in gitrun.get_run(parent.info.run_id).data.tags
    assert gitrun.get_parent_run(child.info.run_id).info.run_id == parent.info.run_id
    assert gitrun.get_parent_run(parent.info.run_id) is None
    # Ending the child's parent ended the grandchild left open inside it.
    for run_id in (parent.info.run_id, child.info.run_id, grandchild.info.run_id):
        assert gitrun.get_run(run_id).info.status == RunStatus.FINISHED


def test_explicit_parent_run_id(repo: Path) -> None:
    with gitrun.start_run() as parent:
        pass
    with gitrun.start_run(parent_run_id=parent.info.run_id) as child:
        pass
    assert gitrun.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id


def test_resume_by_run_id(repo: Path, store_dir: Path) -> None:
    with gitrun.start_run(run_name="resumable") as first:
        gitrun.log_metric("loss", 1.0, step=0)
        gitrun.log_param("lr", 0.1)
    ended_at = gitrun.get_run(first.info.run_id).info.end_time
    with gitrun.start_run(run_id=first.info.run_id) as again:
        assert again.info.run_id == first.info.run_id
        current = gitrun.get_run(first.info.run_id)
        assert current.info.status == RunStatus.RUNNING
        assert current.info.end_time is None
        assert again.data.params == {"lr": "0.1"}
        gitrun.log_metric("loss", 0.5, step=1)
        gitrun.log_param("lr", 0.1)
    run = gitrun.get_run(first.info.run_id)
    assert run.info.status == RunStatus.FINISHED
    assert run.info.end_time >= ended_at
    assert run.info.run_name == "resumable"
    assert [m.value for m in gitrun.get_metric_history(first.info.run_id, "loss")] == [1.0, 0.5]
    assert len(list((store_dir / "experiments" / "default" / "runs").iterdir())) == 1


def test_resume_by_environment_variable(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with gitrun.start_run() as first:
        gitrun.log_metric("acc", 0.1, step=0)
    monkeypatch.setenv("GITRUN_RUN_ID", first.info.run_id)
    with gitrun.start_run() as again:
        assert again.info.run_id == first.info.run_id
        assert gitrun.get_run(first.info.run_id).info.status == RunStatus.RUNNING
        gitrun.log_metric("acc", 0.2, step=1)
    assert gitrun.get_run(first.info.run_id).info.status == RunStatus.FINISHED
    assert gitrun.get_run(first.info.run_id).data.metrics == {"acc": 0.2}


def test_resume_by_environment_variable_in_a_subprocess(repo: Path, store_dir: Path) -> None:
    with gitrun.start_run() as first:
        gitrun.log_metric("acc", 0.1, step=0)
    code = "import gitrun\nwith gitrun.start_run() as r:\n    gitrun.log_metric('acc', 0.9, step=1)\nprint(r.info.run_id)\n"
    proc = run_python(code, cwd=repo, env={"GITRUN_RUN_ID": first.info.run_id})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == first.info.run_id
    run = gitrun.get_run(first.info.run_id)
    assert run.info.status == RunStatus.FINISHED
    assert run.data.metrics == {"acc": 0.9}
    assert _meta(store_dir, first.info.run_id)["pid"] != 0


def test_description_becomes_the_note_tag(repo: Path) -> None:
    with gitrun.start_run(description="Baseline with **no** tuning") as run:
        pass
    assert gitrun.get_run(run.info.run_id).data.tags["mlflow.note.content"] == "Baseline with **no** tuning"
    with gitrun.start_run(run_id=run.info.run_id, description="updated note"):
        pass
    assert gitrun.get_run(run.info.run_id).data.tags["mlflow.note.content"] == "updated note"


def test_start_run_tags_and_run_name(repo: Path) -> None:
    with gitrun.start_run(tags={"team": "ml", "mlflow.user": "override"}) as run:
        pass
    tags = gitrun.get_run(run.info.run_id).data.tags
    assert tags["team"] == "ml"
    assert tags["mlflow.user"] == "override"  # tags passed to start_run win over the context
    assert tags["mlflow.runName"] == run.info.run_name
    assert run.info.run_name  # a generated name, adjective-noun-number
    assert len(run.info.run_name.split("-")) == 3


# -- system tags ----------------------------------------------------------------------------
SCRIPT = """\
import json, sys
import gitrun
with gitrun.start_run() as run:
    gitrun.log_metric("m", 1.0)
print(run.info.run_id)
"""


def _run_script_tags(repo: Path, name: str = "experiment.py", env: dict[str, str] | None = None) -> dict[str, str]:
    script = repo / name
    script.write_text(SCRIPT)
    proc = run_script(script, cwd=repo, env=env)
    assert proc.returncode == 0, proc.stderr
    return gitrun.Client(repo).get_run(proc.stdout.strip()).data.tags


def test_system_tags_from_git_and_user(repo: Path) -> None:
    import getpass

    run_git(repo, "remote", "add", "origin", "https://user:tok@github.com/acme/proj.git")
    head = run_git(repo, "rev-parse", "HEAD").stdout.strip()
    tags = _run_script_tags(repo)
    assert tags["mlflow.user"] == getpass.getuser()
    assert tags["mlflow.source.name"] == "experiment.py"
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.source.git.commit"] == head
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags["mlflow.source.git.repoURL"] == "https://github.com/acme/proj.git"
    assert tags["gitrun.git.dirty"] == "false"  # an untracked script is not a change to committed code
    assert not any("tok" in value for value in tags.values())
    assert not any(key.startswith("gitrun.ci.") for key in tags)


def test_dirty_flag_and_branch_follow_the_work_tree(repo: Path) -> None:
    run_git(repo, "checkout", "-q", "-b", "feature/x")
    (repo / "README.md").write_text("# changed\n")
    tags = _run_script_tags(repo)
    assert tags["gitrun.git.dirty"] == "true"
    assert tags["mlflow.source.git.branch"] == "feature/x"
    assert "mlflow.source.git.repoURL" not in tags  # no remote configured


def test_store_changes_do_not_make_the_tree_dirty(repo: Path) -> None:
    with gitrun.start_run():
        gitrun.log_metric("m", 1.0)
    run_git(repo, "add", ".gitrun")
    run_git(repo, "commit", "-q", "-m", "runs")
    with gitrun.start_run():
        gitrun.log_metric("m", 2.0)  # modifies nothing committed, but adds files under .gitrun/
    tags = _run_script_tags(repo)
    assert tags["gitrun.git.dirty"] == "false"


def test_scp_like_ssh_remote_is_kept(repo: Path) -> None:
    run_git(repo, "remote", "add", "origin", "git@github.com:acme/proj.git")
    assert _run_script_tags(repo, "a.py")["mlflow.source.git.repoURL"] == "git@github.com:acme/proj.git"


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://user:tok@github.com/acme/proj.git", "https://github.com/acme/proj.git"),
        ("https://ghp_secret@github.com/acme/proj.git", "https://github.com/acme/proj.git"),
        ("https://oauth2:tok@gitlab.example.com:8443/a/b.git", "https://gitlab.example.com:8443/a/b.git"),
        ("ssh://git@github.com/acme/proj.git", "ssh://git@github.com/acme/proj.git"),
        ("ssh://git:pw@github.com/acme/proj.git", "ssh://github.com/acme/proj.git"),
        ("git@github.com:acme/proj.git", "git@github.com:acme/proj.git"),
        ("/srv/git/proj.git", "/srv/git/proj.git"),
    ],
)
def test_strip_credentials(url: str, clean: str) -> None:
    from gitrun.redact import strip_credentials

    assert strip_credentials(url) == clean


def test_github_actions_tags(repo: Path) -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKFLOW": "train",
        "GITHUB_RUN_ID": "123456",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_REF": "refs/pull/7/merge",
        "GITHUB_SHA": "a" * 40,
        "GITHUB_ACTOR": "octocat",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_REPOSITORY": "acme/proj",
        "GITHUB_SERVER_URL": "https://github.com",
    }
    tags = _run_script_tags(repo, env=env)
    assert tags["gitrun.ci.provider"] == "github-actions"
    assert tags["gitrun.ci.workflow"] == "train"
    assert tags["gitrun.ci.run_id"] == "123456"
    assert tags["gitrun.ci.run_attempt"] == "2"
    assert tags["gitrun.ci.ref"] == "refs/pull/7/merge"
    assert tags["gitrun.ci.sha"] == "a" * 40
    assert tags["gitrun.ci.actor"] == "octocat"
    assert tags["gitrun.ci.event"] == "pull_request"
    assert tags["gitrun.ci.repository"] == "acme/proj"
    assert tags["gitrun.ci.run_url"] == "https://github.com/acme/proj/actions/runs/123456"


def test_github_variables_without_github_actions_add_no_ci_tags(repo: Path) -> None:
    tags = _run_script_tags(repo, env={"GITHUB_ACTIONS": "false", "GITHUB_RUN_ID": "1"})
    assert not any(key.startswith("gitrun.ci.") for key in tags)


def test_run_context_environment_variable(repo: Path) -> None:
    tags = _run_script_tags(repo, env={"GITRUN_RUN_CONTEXT": json.dumps({"cluster": "gpu-a", "job": 42})})
    assert tags["cluster"] == "gpu-a"
    assert tags["job"] == "42"


# -- interpreter exit -------------------------------------------------------------------------
def test_interpreter_exit_finishes_the_run(repo: Path, store_dir: Path) -> None:
    code = "import gitrun\nr = gitrun.start_run()\ngitrun.log_metric('m', 1.0)\nprint(r.info.run_id)\n"
    proc = run_python(code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.strip()
    meta = _meta(store_dir, run_id)
    assert meta["status"] == RunStatus.FINISHED
    assert meta["end_time"] is not None
    assert gitrun.get_run(run_id).data.metrics == {"m": 1.0}
    assert (store_dir / "experiments" / "default" / "runs" / run_id / "metrics.json").exists()


def test_uncaught_exception_at_exit_fails_the_run(repo: Path, store_dir: Path) -> None:
    code = (
        "import gitrun\nr = gitrun.start_run()\nchild = gitrun.start_run(nested=True)\n"
        "print(r.info.run_id, child.info.run_id, flush=True)\nraise RuntimeError('training diverged')\n"
    )
    proc = run_python(code, cwd=repo)
    assert proc.returncode == 1
    assert "training diverged" in proc.stderr
    for run_id in proc.stdout.split():
        assert _meta(store_dir, run_id)["status"] == RunStatus.FAILED


def test_uncaught_keyboard_interrupt_at_exit_kills_the_run(repo: Path, store_dir: Path) -> None:
    code = "import gitrun\nr = gitrun.start_run()\nprint(r.info.run_id, flush=True)\nraise KeyboardInterrupt\n"
    proc = run_python(code, cwd=repo)
    assert proc.returncode != 0
    assert _meta(store_dir, proc.stdout.strip())["status"] == RunStatus.KILLED


def test_sys_exit_zero_at_exit_finishes_the_run(repo: Path, store_dir: Path) -> None:
    code = "import sys, gitrun\nr = gitrun.start_run()\nprint(r.info.run_id)\nsys.exit(0)\n"
    proc = run_python(code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert _meta(store_dir, proc.stdout.strip())["status"] == RunStatus.FINISHED


# -- active runs ------------------------------------------------------------------------------
def test_active_run_and_last_active_run(repo: Path) -> None:
    assert gitrun.active_run() is None
    assert gitrun.last_active_run() is None
    with gitrun.start_run() as run:
        assert gitrun.active_run() is run
        assert gitrun.last_active_run().info.run_id == run.info.run_id
        assert gitrun.last_active_run().info.status == RunStatus.RUNNING
    assert gitrun.active_run() is None
    last = gitrun.last_active_run()
    assert last.info.run_id == run.info.run_id
    assert last.info.status == RunStatus.FINISHED


def test_logging_without_an_active_run_starts_one(repo: Path) -> None:
    gitrun.log_metric("auto", 1.0)
    run = gitrun.active_run()
    assert run is not None
    gitrun.end_run()
    assert gitrun.get_run(run.info.run_id).data.metrics == {"auto": 1.0}


# -- logging calls ----------------------------------------------------------------------------
def test_log_metrics_params_set_tags_delete_tag(repo: Path) -> None:
    with gitrun.start_run() as run:
        gitrun.log_metrics({"a": 1.0, "b": 2}, step=3)
        gitrun.log_metrics({"a": 1.5}, step=4, timestamp=1_700_000_000_000)
        gitrun.log_params({"lr": 0.01, "layers": [64, 32], "none": None})
        assert gitrun.log_param("batch", 32) == 32
        gitrun.set_tags({"stage": "dev", "n": 3})
        gitrun.set_tag("to_remove", "x")
        gitrun.delete_tag("to_remove")
    data = gitrun.get_run(run.info.run_id).data
    assert data.metrics == {"a": 1.5, "b": 2.0}
    assert data.params == {"lr": "0.01", "layers": "[64, 32]", "none": "None", "batch": "32"}
    assert data.tags["stage"] == "dev" and data.tags["n"] == "3"
    assert "to_remove" not in data.tags
    history = gitrun.get_metric_history(run.info.run_id, "a")
    assert [(m.step, m.value) for m in history] == [(3, 1.0), (4, 1.5)]
    assert history[1].timestamp == 1_700_000_000_000
    assert history[0].timestamp == gitrun.get_metric_history(run.info.run_id, "b")[0].timestamp


def test_artifacts(repo: Path, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    data_file = tmp_path / "data.csv"
    data_file.write_text("a,b\n1,2\n")
    folder = tmp_path / "outputs"
    (folder / "nested").mkdir(parents=True)
    (folder / "one.txt").write_text("1")
    (folder / "nested" / "two.txt").write_text("2")

    with gitrun.start_run() as run:
        gitrun.log_artifact(data_file)
        gitrun.log_artifact(data_file, artifact_path="inputs")
        gitrun.log_artifacts(folder, artifact_path="out")
        gitrun.log_text("hello\n", "notes/hello.txt")
        gitrun.log_dict({"b": 1, "a": [1, 2]}, "config.yaml")
        gitrun.log_dict({"b": 1, "a": [1, 2]}, "config.json")
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0])
        gitrun.log_figure(fig, "plots/line.png")
        plt.close(fig)
        gitrun.log_image(np.zeros((8, 6, 3), dtype=np.uint8), "images/black.png")
        gitrun.log_image(np.full((4, 4), 0.5), key="samples/gray", step=3)
        artifact_uri = gitrun.get_artifact_uri()
    root = Path(artifact_uri.removeprefix("file://"))
    assert (root / "data.csv").read_text() == "a,b\n1,2\n"
    assert (root / "inputs" / "data.csv").read_text() == "a,b\n1,2\n"
    assert (root / "out" / "one.txt").read_text() == "1"
    assert (root / "out" / "nested" / "two.txt").read_text() == "2"
    assert (root / "notes" / "hello.txt").read_text() == "hello\n"
    assert yaml.safe_load((root / "config.yaml").read_text()) == {"b": 1, "a": [1, 2]}
    assert json.loads((root / "config.json").read_text()) == {"b": 1, "a": [1, 2]}
    png = b"\x89PNG\r\n\x1a\n"
    assert (root / "plots" / "line.png").read_bytes().startswith(png)
    from PIL import Image

    with Image.open(root / "images" / "black.png") as image:
        assert image.size == (6, 8)
    series_images = list((root / "images").glob("samples~gray+step+3+timestamp+*.png"))
    assert len(series_images) == 1 and series_images[0].read_bytes().startswith(png)
    assert gitrun.get_run(run.info.run_id).data.tags["mlflow.loggedImages"] == "True"
    assert not list(root.rglob("*.tmp*"))  # temp files were renamed away
    listed = {info.path: info.is_dir for info in gitrun.Client().list_artifacts(run.info.run_id)}
    assert listed["config.yaml"] is False and listed["out"] is True


def test_artifact_errors(repo: Path, tmp_path: Path) -> None:
    with gitrun.start_run():
        with pytest.raises(GitrunError, match="no such file"):
            gitrun.log_artifact(tmp_path / "missing.txt")
        with pytest.raises(GitrunError, match="relative path"):
            gitrun.log_text("x", "../escape.txt")
        with pytest.raises(GitrunError, match="matplotlib or plotly"):
            gitrun.log_figure(object(), "fig.png")


# -- reading runs ---------------------------------------------------------------------------
def test_get_run_shape_and_latest_metric_rule(repo: Path) -> None:
    with gitrun.start_run(run_name="shape") as run:
        gitrun.log_param("p", 1)
        # latest = max of (step, timestamp, value), as MLflow computes it
        gitrun.log_metric("by_step", 1.0, step=5, timestamp=100)
        gitrun.log_metric("by_step", 9.0, step=3, timestamp=200)
        gitrun.log_metric("by_time", 1.0, step=1, timestamp=300)
        gitrun.log_metric("by_time", 9.0, step=1, timestamp=200)
        gitrun.log_metric("by_value", 2.0, step=1, timestamp=100)
        gitrun.log_metric("by_value", 7.0, step=1, timestamp=100)
        gitrun.log_metric("by_value", 3.0, step=1, timestamp=100)
    got = gitrun.get_run(run.info.run_id)
    assert isinstance(got, gitrun.Run)
    info = got.info
    assert info.run_id == run.info.run_id == info.run_uuid
    assert info.experiment_id == "default"
    assert info.run_name == "shape"
    assert info.status == "FINISHED"
    assert isinstance(info.start_time, int) and isinstance(info.end_time, int)
    assert 1_600_000_000_000 < info.start_time <= info.end_time  # milliseconds since the epoch
    assert info.lifecycle_stage == "active"
    assert info.artifact_uri.startswith("file://") and info.artifact_uri.endswith(f"{run.info.run_id}/artifacts")
    assert got.data.params == {"p": "1"}
    assert got.data.metrics == {"by_step": 1.0, "by_time": 1.0, "by_value": 7.0}
    as_dict = got.to_dictionary()
    assert as_dict["info"]["run_id"] == run.info.run_id and as_dict["data"]["params"] == {"p": "1"}


def test_get_run_of_unknown_id(repo: Path) -> None:
    gitrun.set_experiment("something")
    with pytest.raises(GitrunError, match="no run '01JD5Z3F6X0000000000000000'"):
        gitrun.get_run("01JD5Z3F6X0000000000000000")


def test_delete_and_restore_run(repo: Path) -> None:
    with gitrun.start_run() as run:
        pass
    gitrun.delete_run(run.info.run_id)
    assert gitrun.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    store = Store()
    assert [r.run_id for r in store.iter_runs()] == []
    assert [r.run_id for r in store.iter_runs(view_type=ViewType.DELETED_ONLY)] == [run.info.run_id]
    gitrun.restore_run(run.info.run_id)
    assert gitrun.get_run(run.info.run_id).info.lifecycle_stage == "active"
    assert [r.run_id for r in Store().iter_runs()] == [run.info.run_id]
    assert "deleted_time" not in _meta(Store().root, run.info.run_id)


# -- experiments ----------------------------------------------------------------------------
def test_search_experiments_and_getters(repo: Path) -> None:
    ids = [gitrun.create_experiment(name) for name in ("alpha", "Beta Test", "gamma")]
    assert ids == ["alpha", "beta-test-49f227", "gamma"]  # a name that is not its own slug gets a hash
    names = [e.name for e in gitrun.search_experiments()]
    assert names == ["alpha", "Beta Test", "gamma"]
    assert len(gitrun.search_experiments(max_results=2)) == 2
    assert gitrun.get_experiment_by_name("Beta Test").experiment_id == "beta-test-49f227"
    assert gitrun.get_experiment_by_name("missing") is None
    assert gitrun.get_experiment("gamma").name == "gamma"
    gitrun.Client().delete_experiment("gamma")
    assert [e.name for e in gitrun.search_experiments()] == ["alpha", "Beta Test"]
    assert [e.name for e in gitrun.search_experiments(view_type=ViewType.DELETED_ONLY)] == ["gamma"]
    with pytest.raises(GitrunError, match="already exists"):
        gitrun.create_experiment("alpha")


def test_runs_go_to_the_active_experiment(repo: Path, store_dir: Path) -> None:
    exp = gitrun.set_experiment("Iris SGD")
    assert exp.experiment_id == "iris-sgd-74833d"
    with gitrun.start_run() as run:
        pass
    assert run.info.experiment_id == "iris-sgd-74833d"
    assert (store_dir / "experiments" / "iris-sgd-74833d" / "runs" / run.info.run_id / "meta.json").exists()
    with gitrun.start_run(experiment_id="default") as other:
        pass
    assert gitrun.get_run(other.info.run_id).info.experiment_id == "default"


def test_experiment_names_that_slugify_alike_get_distinct_ids(repo: Path) -> None:
    first = gitrun.create_experiment("My Exp")
    second = gitrun.create_experiment("my-exp")
    assert (first, second) == ("my-exp-838a2f", "my-exp")  # whatever the order of creation
    assert gitrun.get_experiment_by_name("my-exp").experiment_id == second
    assert gitrun.get_experiment_by_name("My Exp").experiment_id == first


def test_set_experiment_with_primary_metric_and_directions(repo: Path, store_dir: Path) -> None:
    exp = gitrun.set_experiment("tuned", primary_metric="val_acc", directions={"val_acc": "max", "latency": "min"})
    assert exp.primary_metric == "val_acc"
    assert exp.directions == {"val_acc": "max", "latency": "min"}
    assert exp.direction("latency") == "min"
    data = yaml.safe_load((store_dir / "experiments" / "tuned" / "experiment.yaml").read_text())
    assert data["primary_metric"] == "val_acc"
    assert data["directions"] == {"latency": "min", "val_acc": "max"}
    # Selecting it again can change the settings; unmentioned directions are kept.
    exp = gitrun.set_experiment("tuned", primary_metric="latency", directions={"val_acc": "min"})
    assert exp.primary_metric == "latency"
    assert exp.directions == {"val_acc": "min", "latency": "min"}
    assert gitrun.get_experiment_by_name("tuned").directions == {"val_acc": "min", "latency": "min"}


def test_pyproject_metrics_section_gives_directions(repo: Path) -> None:
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n'
        '[tool.gitrun]\nprimary_metric = "score"\n\n'
        '[tool.gitrun.metrics]\nscore = "min"\nval_loss = "max"\n\n'
        '[tool.gitrun.experiments."special"]\nprimary_metric = "f1"\n'
    )
    exp = gitrun.set_experiment("plain")
    assert exp.primary_metric == "score"
    assert exp.direction("score") == "min"  # the naming rule alone would say max
    assert exp.direction("val_loss") == "max"  # ... and min here
    assert exp.direction("other_loss") == "min"  # unlisted: the naming rule
    assert gitrun.set_experiment("special").primary_metric == "f1"
    # The experiment's own settings win over pyproject.toml.
    own = gitrun.set_experiment("own", primary_metric="acc", directions={"score": "max"})
    assert own.primary_metric == "acc"
    assert own.direction("score") == "max"


@pytest.mark.parametrize(
    ("metric", "direction"),
    [
        ("loss", "min"),
        ("val_loss", "min"),
        ("error", "min"),
        ("test_err", "min"),
        ("mse", "min"),
        ("val_MAE", "min"),
        ("rmse", "min"),
        ("perplexity", "min"),
        ("acc", "max"),
        ("accuracy", "max"),
        ("f1", "max"),
        ("val_auc", "max"),
        ("throughput", "max"),
    ],
)
def test_default_direction_rule(repo: Path, metric: str, direction: str) -> None:
    from gitrun.settings import default_direction

    assert default_direction(metric) == direction
    assert gitrun.set_experiment("rules").direction(metric) == direction


# -- client ---------------------------------------------------------------------------------
def test_client_log_batch_and_metric_history(repo: Path) -> None:
    assert gitrun.MlflowClient is gitrun.Client
    client = gitrun.MlflowClient()
    run = client.create_run("default", run_name="batch", tags={"source": "client"})
    run_id = run.info.run_id
    assert run.info.status == RunStatus.RUNNING
    client.log_batch(
        run_id,
        metrics=[Metric("loss", 0.9, 1000, 0), Metric("loss", 0.4, 1001, 1), Metric("acc", 0.7, 1001, 1)],
        params=[Param("lr", "0.1")],
        tags=[RunTag("kind", "batch")],
    )
    history = client.get_metric_history(run_id, "loss")
    assert all(isinstance(m, Metric) for m in history)
    assert [(m.key, m.value, m.timestamp, m.step) for m in history] == [("loss", 0.9, 1000, 0), ("loss", 0.4, 1001, 1)]
    assert client.get_metric_history(run_id, "never_logged") == []
    client.set_terminated(run_id, "KILLED", end_time=2000)
    got = client.get_run(run_id)
    assert got.info.status == "KILLED" and got.info.end_time == 2000
    assert got.data.params == {"lr": "0.1"}
    assert got.data.tags["kind"] == "batch" and got.data.tags["source"] == "client"
    assert got.data.tags["mlflow.runName"] == "batch"
    assert "mlflow.user" not in got.data.tags  # like MLflow's client: no context tags
    assert got.data.metrics == {"loss": 0.4, "acc": 0.7}


def test_import_gitrun_as_mlflow_script(repo: Path, store_dir: Path) -> None:
    script = repo / "train_mlflow_style.py"
    script.write_text(
        """\
import gitrun as mlflow

mlflow.set_experiment("mlflow-style")
with mlflow.start_run(run_name="baseline") as run:
    mlflow.log_param("alpha", 0.5)
    mlflow.log_params({"l1_ratio": 0.1, "solver": "saga"})
    for epoch in range(3):
        mlflow.log_metric("rmse", 1.0 / (epoch + 1), step=epoch)
    mlflow.log_metrics({"r2": 0.8, "mae": 0.2})
    mlflow.set_tag("model", "elasticnet")
    mlflow.set_tags({"dataset": "wine"})
    mlflow.log_dict({"features": ["a", "b"]}, "features.json")
    mlflow.log_text("ok", "status.txt")
    with mlflow.start_run(run_name="child", nested=True):
        mlflow.log_metric("fold_rmse", 0.3)
client = mlflow.MlflowClient()
exp = mlflow.get_experiment_by_name("mlflow-style")
finished = mlflow.get_run(run.info.run_id)
print(exp.experiment_id, finished.info.status, finished.data.metrics["rmse"], finished.data.params["solver"])
print(len(client.get_metric_history(run.info.run_id, "rmse")), mlflow.last_active_run().info.run_id == run.info.run_id)
"""
    )
    proc = run_script(script, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["mlflow-style FINISHED 0.3333333333333333 saga", "3 True"]
    runs = list(Store(store_dir).iter_runs(["mlflow-style"]))
    assert sorted(r.run_name for r in runs) == ["baseline", "child"]


# -- tracking URI -----------------------------------------------------------------------------
def test_set_tracking_uri_with_a_store_directory(repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "my-store"
    gitrun.set_tracking_uri(target)
    assert gitrun.is_tracking_uri_set()
    assert gitrun.get_tracking_uri() == target.as_uri()
    with gitrun.start_run() as run:
        gitrun.log_metric("m", 1.0)
    assert (target / "store.yaml").exists()
    assert (target / "experiments" / "default" / "runs" / run.info.run_id).is_dir()
    assert not (repo / ".gitrun").exists()


def test_set_tracking_uri_with_a_work_tree_root(repo: Path, tmp_path: Path, template_repo: Path) -> None:
    import shutil

    other = tmp_path / "other-repo"
    shutil.copytree(template_repo, other)
    gitrun.set_tracking_uri(other)
    assert gitrun.get_tracking_uri() == (other / ".gitrun").as_uri()
    with gitrun.start_run() as run:
        pass
    assert (other / ".gitrun" / "experiments" / "default" / "runs" / run.info.run_id).is_dir()
    gitrun.set_tracking_uri(f"file://{other}")
    assert gitrun.get_tracking_uri() == (other / ".gitrun").as_uri()


def test_default_store_is_at_the_work_tree_root(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = repo / "src" / "pkg"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert gitrun.get_tracking_uri() == (repo / ".gitrun").as_uri()


def test_tracking_uri_environment_variable(repo: Path, tmp_path: Path, template_repo: Path) -> None:
    import shutil

    other = tmp_path / "env-repo"
    shutil.copytree(template_repo, other)
    code = "import gitrun\nprint(gitrun.get_tracking_uri())\nwith gitrun.start_run() as r:\n    pass\nprint(r.info.run_id)\n"
    for uri, store in ((str(other), other / ".gitrun"), (str(tmp_path / "plain-store"), tmp_path / "plain-store")):
        proc = run_python(code, cwd=repo, env={"GITRUN_TRACKING_URI": uri})
        assert proc.returncode == 0, proc.stderr
        printed_uri, run_id = proc.stdout.split()
        assert printed_uri == store.as_uri()
        assert (store / "experiments" / "default" / "runs" / run_id / "meta.json").exists()
    assert not (repo / ".gitrun").exists()


def test_tracking_uri_environment_variable_in_process(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITRUN_TRACKING_URI", str(tmp_path / "env-store"))
    assert gitrun.get_tracking_uri() == (tmp_path / "env-store").as_uri()
    assert gitrun.is_tracking_uri_set()
    with gitrun.start_run() as run:
        pass
    assert (tmp_path / "env-store" / "experiments" / "default" / "runs" / run.info.run_id).is_dir()


def test_git_is_not_run_per_run(repo: Path) -> None:
    """The Git context is computed once per process: a second run in the same process reuses it."""
    code = (
        "import subprocess, gitrun\n"
        "calls = []\n"
        "real = subprocess.run\n"
        "def spy(*a, **k):\n"
        "    calls.append(a[0])\n"
        "    return real(*a, **k)\n"
        "subprocess.run = spy\n"
        "for _ in range(3):\n"
        "    with gitrun.start_run():\n"
        "        pass\n"
        "print(sum(1 for c in calls if c and c[0] == 'git'))\n"
    )
    proc = run_python(code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    first_run_calls = int(proc.stdout.strip())
    code_one = code.replace("range(3)", "range(1)")
    proc_one = run_python(code_one, cwd=repo)
    assert int(proc_one.stdout.strip()) == first_run_calls


def test_subprocess_module_is_used_for_git(repo: Path) -> None:
    # Guards the spy above: starting a run in a Git repo does call git at least once.
    code = (
        "import subprocess, gitrun\ncalls = []\nreal = subprocess.run\n"
        "def spy(*a, **k):\n    calls.append(a[0])\n    return real(*a, **k)\n"
        "subprocess.run = spy\nwith gitrun.start_run():\n    pass\n"
        "print(sum(1 for c in calls if c and c[0] == 'git'))\n"
    )
    proc = run_python(code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.strip()) >= 1


# -- mlflow.runName renames the run, as in MLflow (issue 9, item 9) ----------------------------
RENAME_SCRIPT = """
import json, os, sys
import {module} as mlflow
from {module}.entities import RunTag

mlflow.set_tracking_uri({uri!r})
client = mlflow.MlflowClient()
out = {{}}

def record(label, run_id):
    run = client.get_run(run_id)
    out[label] = [run.info.run_name, run.data.tags.get("mlflow.runName")]

with mlflow.start_run(run_name="orig") as run:
    mlflow.set_tag("mlflow.runName", "renamed")
    out["fluent set_tag, while active"] = [mlflow.active_run().info.run_id == run.info.run_id]
record("fluent set_tag", run.info.run_id)
with mlflow.start_run(run_name="orig") as run:
    mlflow.set_tags({{"mlflow.runName": "renamed-by-set_tags", "other": 1}})
record("fluent set_tags", run.info.run_id)
with mlflow.start_run(run_name="orig") as run:
    mlflow.set_tag("mlflow.runName", "")
record("empty value: the tag only", run.info.run_id)
with mlflow.start_run(tags={{"mlflow.runName": "from-tags"}}) as run:
    pass
record("start_run(tags=...)", run.info.run_id)
with mlflow.start_run(run_name="given", tags={{"mlflow.runName": "from-tags"}}) as run:
    pass
record("start_run(run_name, tags)", run.info.run_id)
with mlflow.start_run(run_id=run.info.run_id, tags={{"mlflow.runName": "resumed-by-tag"}}):
    pass
record("resume with tags", run.info.run_id)
with mlflow.start_run(run_id=run.info.run_id, run_name="resumed-by-name"):
    pass
record("resume with run_name", run.info.run_id)
with mlflow.start_run(run_id=run.info.run_id, run_name="A", tags={{"mlflow.runName": "B"}}):
    pass
record("resume with both", run.info.run_id)

created = client.create_run("{experiment}", run_name="orig").info.run_id
client.set_tag(created, "mlflow.runName", "client-renamed")
record("client set_tag", created)
client.log_batch(created, tags=[RunTag("mlflow.runName", "batch-renamed"), RunTag("x", "y")])
record("client log_batch", created)
client.update_run(created, name="updated")
record("client update_run", created)
client.delete_tag(created, "mlflow.runName")
record("delete_tag keeps the name", created)
created = client.create_run("{experiment}", tags={{"mlflow.runName": "create-tag"}}).info.run_id
record("create_run(tags=...)", created)
try:
    client.create_run("{experiment}", run_name="one", tags={{"mlflow.runName": "two"}})
    out["create_run with two names"] = "accepted"
except Exception as exc:
    out["create_run with two names"] = "refused: " + ("names" if "run_name" in str(exc) else str(exc))
names = sorted(r.info.run_name for r in mlflow.search_runs(["{experiment}"], output_format="list"))
out["search_runs names"] = names
print("RESULT " + json.dumps(out, sort_keys=True))
"""


def _renames(module: str, uri: str, cwd: Path, experiment: str) -> dict[str, object]:
    code = RENAME_SCRIPT.format(module=module, uri=uri, experiment=experiment)
    proc = run_python(code, cwd, env={"MLFLOW_ALLOW_FILE_STORE": "true"})
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])  # type: ignore[no-any-return]


def test_the_run_name_tag_renames_the_run_as_mlflow_does(repo: Path, tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    expected = _renames("mlflow", (tmp_path / "mlruns").as_uri(), tmp_path, "0")
    got = _renames("gitrun", str(repo), repo, "default")
    assert got == expected
    assert expected["fluent set_tag"] == ["renamed", "renamed"]  # what MLflow 3.17 does
    assert expected["empty value: the tag only"] == ["orig", ""]
    # runs list shows the new names too
    listed = gitrun_cli("runs", "list", "--json", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    assert {"renamed", "renamed-by-set_tags", "B", "updated"} <= {r["run_name"] for r in json.loads(listed.stdout)}
