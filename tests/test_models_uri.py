"""Model URIs: runs:/, run-ID prefixes, models:/m-<id>, paths and file: URIs, at any revision, with
the serialized model in DVC (its cache, or its remote when the cache is empty); never touching the
work tree or the index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gitrun
from gitrun.errors import GitrunError, RunNotFoundError
from gitrun.models.uri import ModelNotFoundError, resolve
from tests.helpers import git_state, gitrun_cli, python_ok, run_git


def cli_ok(*args: str, cwd: Path) -> str:
    proc = gitrun_cli(*args, cwd=cwd)
    assert proc.returncode == 0, f"gitrun {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def fit(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    x, y = iris()
    return LogisticRegression(C=c, max_iter=500).fit(x, y)


def log_one(name: str = "model", c: float = 1.0, **kwargs: Any) -> tuple[str, Any, Any]:
    x, _ = iris()
    model = fit(c)
    with gitrun.start_run() as run:
        info = gitrun.sklearn.log_model(model, name=name, input_example=x[:3], **kwargs)
    return run.info.run_id, info, model


def test_runs_uris_resolve_by_id_prefix_and_lone_model(repo: Path) -> None:
    x, _ = iris()
    run_id, info, model = log_one()
    expected = model.predict_proba(x[:10])
    for uri in (f"runs:/{run_id}/model", f"runs:/{run_id[:10].lower()}/model", f"runs:/{run_id}", info.model_uri):
        loaded = gitrun.pyfunc.load_model(uri)
        assert np.array_equal(loaded.predict(x[:10]), model.predict(x[:10])), uri
    assert np.allclose(gitrun.sklearn.load_model(f"runs:/{run_id}/model").predict_proba(x[:10]), expected)
    folder = info.local_path
    assert gitrun.pyfunc.load_model(str(folder)).model_id == info.model_id
    assert gitrun.pyfunc.load_model(folder.as_uri()).model_id == info.model_id
    assert resolve(f"runs:/{run_id}/model").local_dir == folder  # the work tree's model is loaded in place


def test_a_logged_model_id_resolves_in_a_fresh_process(repo: Path) -> None:
    _, info, model = log_one()
    x, _ = iris()
    code = f"import gitrun, json; from sklearn.datasets import load_iris; x, _ = load_iris(return_X_y=True); print(json.dumps(gitrun.pyfunc.load_model({info.model_uri!r}).predict(x[:5]).tolist()))"
    assert json.loads(python_ok(code, repo).strip()) == model.predict(x[:5]).tolist()
    logged = gitrun.get_logged_model(info.model_id)
    assert logged.model_id == info.model_id and logged.name == "model" and logged.source_run_id == info.run_id


def test_uris_that_name_nothing_say_what_exists(repo: Path) -> None:
    run_id, _, _ = log_one()
    with pytest.raises(ModelNotFoundError, match=r"has no model 'other' \(its models: model\)"):
        resolve(f"runs:/{run_id}/other")
    with pytest.raises(RunNotFoundError):
        resolve("runs:/01ZZZZZZZZZZZZZZZZZZZZZZZZ/model")
    with pytest.raises(ModelNotFoundError, match=r"no registered model 'churn' \(registered: none yet\)"):
        resolve("models:/churn/1")  # the registry answers models:/NAME/... (docs/registry.md)
    with pytest.raises(ModelNotFoundError, match="no logged model m-0"):
        resolve("models:/m-" + "0" * 32)
    with pytest.raises(ModelNotFoundError, match="give a model folder"):
        resolve("s3://bucket/model")
    with pytest.raises(ModelNotFoundError, match="no model folder"):
        resolve(str(repo / "missing"))


def _predict_at(uri: str, rev: str | None, x: Any) -> list[int]:
    return list(gitrun.pyfunc.load_model(uri, rev=rev).predict(x).tolist())


def test_a_model_loads_as_committed_at_an_older_revision_without_touching_work_tree_or_index(repo: Path) -> None:
    x, _ = iris()
    run_id, info, old_model = log_one(c=0.01)
    cli_ok("commit", "-m", "first model", cwd=repo)
    first = run_git(repo, "rev-parse", "HEAD").stdout.strip()
    # The work tree's model changes (a retrained model written over it) and is committed.
    new_model = fit(100.0)
    skops_file = info.local_path / "model.skops"
    import skops.io

    skops.io.dump(new_model, skops_file)
    cli_ok("commit", "-m", "retrained", cwd=repo)
    assert old_model.predict(x).tolist() != new_model.predict(x).tolist()
    before = git_state(repo, exclude_store=False)
    uri = f"runs:/{run_id[:8]}/model"
    assert _predict_at(uri, first, x) == old_model.predict(x).tolist()
    assert _predict_at(uri, "HEAD", x) == new_model.predict(x).tolist()
    assert _predict_at(uri, None, x) == new_model.predict(x).tolist()
    assert _predict_at(info.model_uri, "HEAD~1", x) == old_model.predict(x).tolist()
    rel = info.local_path.relative_to(repo).as_posix()
    assert _predict_at(rel, first, x) == old_model.predict(x).tolist()  # a path, as committed then
    assert git_state(repo, exclude_store=False) == before
    # After git gc (objects packed, loose ones pruned) and with the model cache gone, still there.
    shutil.rmtree(repo / ".gitrun" / ".cache")
    run_git(repo, "gc", "--prune=now", "-q")
    assert not list((repo / ".git" / "objects").glob("??/*"))
    assert _predict_at(uri, first, x) == old_model.predict(x).tolist()
    cached = list((repo / ".gitrun" / ".cache" / "models").iterdir())
    tree = run_git(repo, "rev-parse", f"{first}:{rel}").stdout.strip()
    assert [p.name for p in cached] == [tree]  # content-addressed by the folder's Git tree ID
    with pytest.raises(GitrunError):
        gitrun.pyfunc.load_model(uri, rev="no-such-branch")


@pytest.fixture
def dvc_model(dvc_repo: Path) -> dict[str, Any]:
    """A model whose serialized file is committed through DVC (threshold 1 KB) and pushed."""
    (dvc_repo / "pyproject.toml").write_text('[tool.gitrun]\ndvc_threshold = "1KB"\n')
    run_id, info, model = log_one(c=0.5)
    commit = json.loads(cli_ok("commit", "--json", "-m", "a model through DVC", cwd=dvc_repo))
    rel = info.local_path.relative_to(dvc_repo).as_posix()
    assert commit["dvc_tracked"] == [f"{rel}/model.skops.dvc"]
    return {"repo": dvc_repo, "run_id": run_id, "info": info, "model": model, "rel": rel, "commit": commit["sha"]}


def test_the_serialized_model_goes_through_dvc_and_the_rest_stays_readable_in_git(dvc_model: dict[str, Any]) -> None:
    repo, rel = dvc_model["repo"], dvc_model["rel"]
    in_git = set(run_git(repo, "ls-tree", "--name-only", "HEAD", f"{rel}/").stdout.split())
    assert {f"{rel}/{n}" for n in ("MLmodel", "requirements.txt", "input_example.json", "model.skops.dvc")} <= in_git
    assert f"{rel}/model.skops" not in in_git
    assert "loader_module: mlflow.sklearn" in run_git(repo, "show", f"HEAD:{rel}/MLmodel").stdout


def test_loading_at_a_revision_reads_dvc_s_cache_without_importing_dvc(dvc_model: dict[str, Any]) -> None:
    repo, run_id = dvc_model["repo"], dvc_model["run_id"]
    x, _ = iris()
    code = f"""
import json, sys, gitrun
from sklearn.datasets import load_iris
x, _ = load_iris(return_X_y=True)
m = gitrun.pyfunc.load_model("runs:/{run_id}/model", rev="HEAD")
print(json.dumps([m.predict(x[:20]).tolist(), "dvc" in sys.modules]))
"""
    predictions, dvc_imported = json.loads(python_ok(code, repo).strip().splitlines()[-1])
    assert predictions == dvc_model["model"].predict(x[:20]).tolist() and dvc_imported is False


def test_a_dvc_tracked_model_is_restored_from_the_remote_when_the_cache_is_empty(
    dvc_model: dict[str, Any], origin: Path
) -> None:
    repo, run_id, rel = dvc_model["repo"], dvc_model["run_id"], dvc_model["rel"]
    cli_ok("push", cwd=repo)
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / ".gitrun" / ".cache", ignore_errors=True)
    (repo / rel / "model.skops").unlink()  # the work tree holds only the pointer, as in a fresh clone
    x, _ = iris()
    expected = dvc_model["model"].predict(x).tolist()
    assert _predict_at(f"runs:/{run_id}/model", "HEAD", x) == expected
    assert _predict_at(f"runs:/{run_id}/model", None, x) == expected  # the work tree's pointer, filled in a cache copy
    assert not (repo / rel / "model.skops").exists()  # the work tree stays as it was
