"""MLflow's registry API over the tags (``import gitrun as mlflow``), registrations made during
training carried out by ``gitrun commit``, and registry URIs resolved at the tagged commit."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import python_ok, run_git
from tests.helpers.registry import MLMODEL, git_out, gto, json_of, ok, runs_with_models


def _api(code: str, repo: Path) -> object:
    """Run ``code`` (a script that ends by printing JSON) with ``import gitrun as mlflow``."""
    out = python_ok("import json\nimport gitrun as mlflow\nfrom gitrun import MlflowClient\n" + code, repo)
    return json.loads(out.strip().splitlines()[-1])


def test_mlflows_registry_calls_answer_from_the_tags(repo: Path) -> None:
    first, second = runs_with_models(repo, [{"auc": 0.8}, {"auc": 0.9}])
    answer = _api(
        f"""
client = MlflowClient()
client.create_registered_model("wine model", tags={{"team": "risk"}}, description="Wine quality")
v1 = mlflow.register_model("runs:/{first}/model", "wine model")
v2 = client.create_model_version("wine model", "runs:/{second}/model", "{second}", tags={{"k": "v"}})
client.transition_model_version_stage("wine model", 1, "Production")
client.transition_model_version_stage("wine model", 2, "Production", archive_existing_versions=True)
client.set_registered_model_alias("wine model", "champion", 2)
client.update_model_version("wine model", 2, description="more trees")
client.set_model_version_tag("wine model", "1", "checked", "yes")
rm = client.get_registered_model("wine-model")
print(json.dumps({{
    "created": [v1.version, v1.status, v2.version],
    "stages": {{v.version: v.current_stage for v in client.search_model_versions("name='wine model'")}},
    "by_run": [v.version for v in client.search_model_versions("run_id='{first}'")],
    "by_tag": [v.version for v in mlflow.search_model_versions("tags.k = 'v'")],
    "alias": client.get_model_version_by_alias("wine model", "champion").version,
    "latest": [(v.version, v.current_stage) for v in client.get_latest_versions("wine model")],
    "described": client.get_model_version("wine model", 2).description,
    "tags1": client.get_model_version("wine model", 1).tags,
    "model": [rm.name, rm.description, rm.tags, rm.aliases, rm.registry_name],
    "names": [m.name for m in mlflow.search_registered_models("name LIKE 'wine%'")],
}}))
""",
        repo,
    )
    assert answer == {
        "created": [1, "READY", 2],
        "stages": {"2": "Production", "1": "Archived"},
        "by_run": [1],
        "by_tag": [2],
        "alias": 2,
        "latest": [[1, "Archived"], [2, "Production"]],
        "described": "more trees",
        "tags1": {"checked": "yes"},
        "model": ["wine model", "Wine quality", {"team": "risk"}, {"champion": 2}, "wine-model"],
        "names": ["wine model"],
    }
    tags = set(git_out(repo, "tag").split())
    assert {"wine-model@v0.0.1", "wine-model@v0.0.2", "wine-model#champion#5"} <= tags
    assert _stages_of_gto(repo) == {"production": "v0.0.2", "archived": "v0.0.1", "champion": "v0.0.2"}
    _api(
        """
MlflowClient().delete_model_version("wine model", 1)
print(json.dumps([v.version for v in mlflow.search_model_versions("name = 'wine model'")]))
""",
        repo,
    )
    assert "wine-model@v0.0.1!" in git_out(repo, "tag").split()  # deregistered: history keeps it
    assert json_of("models", "history", "wine-model", cwd=repo)["events"][0]["event"] == "deregistration"


def _stages_of_gto(repo: Path) -> dict[str, str]:
    return {s: v for s, v in gto("show", "--json", cwd=repo)["wine-model"]["stage"].items() if v}


def test_registration_during_training_is_pending_until_gitrun_commit(repo: Path) -> None:
    runs_with_models(repo, [{"auc": 0.7}])  # churn is not registered yet; a committed run exists
    answer = _api(
        f"""
import pathlib, tempfile, uuid
with mlflow.start_run() as run:
    folder = pathlib.Path(tempfile.mkdtemp()) / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text({MLMODEL!r}.format(uuid=uuid.uuid4().hex, run_id=run.info.run_id))
    (folder / "model.pkl").write_bytes(b"weights")
    mlflow.log_artifacts(str(folder), "model")
    mv = mlflow.register_model(f"runs:/{{run.info.run_id}}/model", "churn")
    client = MlflowClient()
    client.set_registered_model_alias("churn", "candidate", mv.version)
    client.transition_model_version_stage("churn", mv.version, "Staging")
    client.set_model_version_tag("churn", mv.version, "data", "2025-01")
print(json.dumps([mv.version, mv.status, run.info.run_id]))
""",
        repo,
    )
    number, status, run_id = answer  # type: ignore[misc]
    assert (number, status) == (1, "PENDING_REGISTRATION")
    assert git_out(repo, "tag").strip() == ""  # nothing tagged before the commit
    out = ok("commit", "-m", "train", cwd=repo)
    assert "registry: register churn v0.0.1 [READY] (churn@v0.0.1)" in out
    assert "registry: set_alias churn v0.0.1 [DONE] (churn#candidate#1)" in out
    assert "registry: transition churn v0.0.1 [DONE] (churn#staging#2)" in out
    tagged = git_out(repo, "rev-parse", "churn@v0.0.1^{commit}").strip()
    assert tagged == git_out(repo, "rev-parse", "HEAD").strip()  # on the commit gitrun commit made
    assert run_id in git_out(repo, "show", "--stat", "HEAD")  # with the run itself
    listed = json_of("models", "list", cwd=repo)["models"][0]
    assert listed["stages"] == {"candidate": "v0.0.1", "staging": "v0.0.1"}
    assert listed["versions"][0]["run_id"] == run_id
    tags = _api('print(json.dumps(MlflowClient().get_model_version("churn", 1).tags))', repo)
    assert tags == {"data": "2025-01"}
    again = ok("commit", "-m", "again", cwd=repo)  # committing again registers nothing twice
    assert "registry:" not in again
    assert sorted(git_out(repo, "tag").split()) == ["churn#candidate#1", "churn#staging#2", "churn@v0.0.1"]


def test_a_registration_that_cannot_be_made_is_reported_failed(repo: Path) -> None:
    answer = _api(
        f"""
import pathlib, tempfile, uuid
with mlflow.start_run() as run:
    folder = pathlib.Path(tempfile.mkdtemp()) / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text({MLMODEL!r}.format(uuid=uuid.uuid4().hex, run_id=run.info.run_id))
    mlflow.log_artifacts(str(folder), "model")
    mv = mlflow.register_model(f"runs:/{{run.info.run_id}}/model", "churn")
print(json.dumps(mv.status))
""",
        repo,
    )
    assert answer == "PENDING_REGISTRATION"
    (repo / "artifacts.yaml").write_text("# mine, not committed\n")
    out = ok("commit", "-m", "train", cwd=repo)
    assert "registry: register churn [FAILED_REGISTRATION]" in out and "artifacts.yaml has changes" in out
    assert git_out(repo, "tag").strip() == ""
    assert (repo / "artifacts.yaml").read_text() == "# mine, not committed\n"


def test_registry_uris_resolve_to_the_files_at_the_tagged_commit(repo: Path) -> None:
    first, second = runs_with_models(repo, [{"auc": 0.8}, {"auc": 0.9}])
    ok("models", "register", "churn", "--run", first, cwd=repo)
    ok("models", "register", "churn", "--run", second, "--version", "v1.0.0", cwd=repo)
    ok("models", "promote", "churn", "v0.0.1", "prod", cwd=repo)
    # the work tree loses the first run's model: the tagged commit still has it
    run_git(repo, "rm", "-rq", ".gitrun/experiments")
    run_git(repo, "commit", "-qm", "gone")
    answer = _api(
        """
from gitrun.models.uri import resolve
out = {}
for uri in ["models:/churn/1", "models:/churn/v1.0.0", "models:/churn@prod", "models:/churn/latest", "churn#prod",
            "churn@v1.0.0", "churn"]:
    loc = resolve(uri)
    out[uri] = [loc.run_id, loc.commit]
print(json.dumps(out))
""",
        repo,
    )
    one = git_out(repo, "rev-parse", "churn@v0.0.1^{commit}").strip()
    two = git_out(repo, "rev-parse", "churn@v1.0.0^{commit}").strip()
    assert answer == {
        "models:/churn/1": [first, one],
        "models:/churn/v1.0.0": [second, two],
        "models:/churn@prod": [first, one],
        "models:/churn/latest": [second, two],
        "churn#prod": [first, one],
        "churn@v1.0.0": [second, two],
        "churn": [second, two],
    }
    shown = json_of("models", "show", "churn#prod", cwd=repo)
    assert shown["registered"]["version"] == "v0.0.1" and shown["registered"]["stages"] == ["prod"]
    assert shown["run_id"] == first


def test_log_model_with_registered_model_name_registers_at_commit(repo: Path) -> None:
    answer = _api(
        """
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
import gitrun.sklearn
X, y = load_iris(return_X_y=True)
with mlflow.start_run() as run:
    info = gitrun.sklearn.log_model(LogisticRegression(max_iter=300).fit(X, y), name="model",
                                    registered_model_name="iris")
pending = MlflowClient().get_model_version("iris", 1)
print(json.dumps([info.registered_model_version, pending.status, run.info.run_id]))
""",
        repo,
    )
    number, status, run_id = answer  # type: ignore[misc]
    assert (number, status) == (1, "PENDING_REGISTRATION")
    assert "registry: register iris v0.0.1 [READY] (iris@v0.0.1)" in ok("commit", "-m", "train", cwd=repo)
    shown = json_of("models", "show", "models:/iris/1", cwd=repo)
    assert shown["registered"]["version"] == "v0.0.1" and shown["run_id"] == run_id
