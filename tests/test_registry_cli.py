"""``gitrun models register/promote/demote/deregister/deprecate/list/history`` against the real
gto 1.10: the same versions and current stages, artifacts.yaml and dvc.yaml as gto and DVC read
them, and a registry written by gto read by gitrun."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import yaml

from tests.helpers import run_git
from tests.helpers.registry import fails, git_out, gto, json_of, ok, runs_with_models


def _stages(gto_show: dict, name: str) -> dict[str, str]:
    return {stage: version for stage, version in gto_show[name]["stage"].items() if version}


def _clock() -> Iterator[dict[str, str]]:
    """Environments one second apart: gto orders events by their 1-second tag dates (same-second
    events are the one place gto is wrong: test_registry_state.py shows it)."""
    for second in itertools.count(1_750_000_000):
        yield {"GIT_COMMITTER_DATE": f"{second} +0000"}


def test_register_promote_demote_agree_with_gto(repo: Path) -> None:
    first, second = runs_with_models(repo, [{"auc": 0.8}, {"auc": 0.9}])
    head_before = git_out(repo, "rev-parse", "HEAD").strip()
    clock = _clock()
    made = json_of("models", "register", "churn", "--run", first, cwd=repo, env=next(clock))["event"]
    assert (made["tag"], made["event"], made["run_id"]) == ("churn@v0.0.1", "registration", first)
    assert git_out(repo, "rev-parse", "HEAD~1").strip() == head_before  # one commit of gitrun's own
    assert git_out(repo, "cat-file", "-t", "churn@v0.0.1").strip() == "tag"  # annotated
    ok("models", "register", "churn", "--run", second, "--bump", "minor", cwd=repo, env=next(clock))
    ok("models", "promote", "churn", "v0.0.1", "prod", cwd=repo, env=next(clock))
    assigned = json_of("models", "assign", "churn", "2", "staging", cwd=repo, env=next(clock))["event"]
    assert (assigned["tag"], assigned["version"]) == (
        "churn#staging#2",
        "v0.1.0",
    )  # MLflow's number, through gto's verb
    ok("models", "promote", "churn", "v0.1.0", "prod", cwd=repo, env=next(clock))
    assert sorted(git_out(repo, "tag").split()) == [
        "churn#prod#1",
        "churn#prod#3",
        "churn#staging#2",
        "churn@v0.0.1",
        "churn@v0.1.0",
    ]

    listed = json_of("models", "list", cwd=repo)["models"]
    assert [m["name"] for m in listed] == ["churn"]
    assert listed[0]["latest"] == "v0.1.0" and listed[0]["stages"] == {"prod": "v0.1.0", "staging": "v0.1.0"}
    shown = gto("show", "--json", cwd=repo)
    assert shown["churn"]["version"] == "v0.1.0"
    assert _stages(shown, "churn") == {"prod": "v0.1.0", "staging": "v0.1.0"}

    ok("models", "demote", "churn", "prod", cwd=repo, env=next(clock))  # prod falls back to v0.0.1, as gto says
    assert json_of("models", "list", cwd=repo)["models"][0]["stages"]["prod"] == "v0.0.1"
    assert _stages(gto("show", "--json", cwd=repo), "churn")["prod"] == "v0.0.1"

    versions = {v["version"]: v for v in gto("show", "churn", "--json", cwd=repo)}
    ours = {v["version"]: v for v in json_of("models", "list", cwd=repo)["models"][0]["versions"]}
    assert set(versions) == set(ours) == {"v0.0.1", "v0.1.0"}
    for name, theirs in versions.items():
        assert sorted(s["stage"] for s in theirs["stages"] if s["is_active"]) == sorted(ours[name]["stages"])

    theirs = [(e["event"], e["version"], e.get("stage")) for e in gto("history", "churn", "--json", cwd=repo)]
    history = json_of("models", "history", "churn", cwd=repo)["events"]
    assert sorted(theirs, key=str) == sorted(((e["event"], e["version"], e["stage"]) for e in history), key=str)
    assert history[0]["event"] == "unassignment" and history[0]["tag"] == "churn#prod!#4"


def test_deregister_and_deprecate(repo: Path) -> None:
    (run_id,) = runs_with_models(repo, [{"auc": 0.8}])
    ok("models", "register", "churn", "--run", run_id, cwd=repo)
    ok("models", "promote", "churn", "v0.0.1", "prod", cwd=repo)
    ok("models", "deregister", "churn", "v0.0.1", "-m", "leaks the label", cwd=repo)
    listed = json_of("models", "list", cwd=repo)["models"][0]
    assert listed["latest"] is None and listed["stages"] == {"prod": None}
    assert gto("show", "--json", cwd=repo)["churn"]["version"] is None
    assert "Created tag 'churn@deprecated'" in ok("models", "deprecate", "churn", cwd=repo)
    assert json_of("models", "list", cwd=repo)["models"] == []
    assert [m["name"] for m in json_of("models", "list", "--deprecated", cwd=repo)["models"]] == ["churn"]
    assert "churn" not in gto("show", "--json", cwd=repo)
    events = [e["event"] for e in json_of("models", "history", "churn", cwd=repo)["events"]]
    assert events == ["deprecation", "deregistration", "assignment", "registration"]  # history keeps all


def test_registration_writes_artifacts_yaml_keeping_comments(repo: Path) -> None:
    (run_id,) = runs_with_models(repo, [{"auc": 0.8}])
    (repo / "artifacts.yaml").write_text("# models of this repository\nother:  # kept\n  type: dataset\n  path: data\n")
    run_git(repo, "add", "artifacts.yaml")
    run_git(repo, "commit", "-qm", "artifacts")
    ok("models", "register", "churn", "--run", run_id, "--description", "Churn classifier", cwd=repo)
    text = (repo / "artifacts.yaml").read_text()
    assert text.startswith("# models of this repository\nother:  # kept\n")
    entry = yaml.safe_load(text)["churn"]
    assert entry["type"] == "model" and entry["description"] == "Churn classifier"
    assert entry["path"].endswith(f"runs/{run_id}/artifacts/model")
    assert git_out(repo, "status", "--porcelain").strip() == ""  # committed, nothing left over
    (version,) = gto("show", "churn", "--json", cwd=repo)
    described = version["enrichments"][0]["enrichments"][0]["artifact"]  # what gto read of artifacts.yaml
    assert described["description"] == "Churn classifier" and described["type"] == "model"


def test_registration_refuses_users_edits_of_artifacts_yaml(repo: Path) -> None:
    (run_id,) = runs_with_models(repo, [{"auc": 0.8}])
    (repo / "artifacts.yaml").write_text("mine: {type: model, path: x}\n")
    err = fails("models", "register", "churn", "--run", run_id, cwd=repo)
    assert "artifacts.yaml has changes you have not committed" in err and "Commit or stash" in err
    assert (repo / "artifacts.yaml").read_text() == "mine: {type: model, path: x}\n"
    assert git_out(repo, "tag").strip() == ""
    run_git(repo, "add", "artifacts.yaml")  # staged: refused too
    assert "artifacts.yaml has changes" in fails("models", "register", "churn", "--run", run_id, cwd=repo)


def test_errors_name_the_fix(repo: Path) -> None:
    (run_id,) = runs_with_models(repo, [{"auc": 0.8}])
    assert "invalid model name 'wine model': only letters" in fails(
        "models", "register", "wine model", "--run", run_id, cwd=repo
    )
    ok("models", "register", "churn", "--run", run_id, cwd=repo)
    err = fails("models", "promote", "churn", "v9.9.9", "prod", cwd=repo)
    assert "has no version 'v9.9.9'; its versions: v0.0.1 (1)" in err
    assert "no registered model 'nope' (registered: churn)" in fails("models", "promote", "nope", "1", "prod", cwd=repo)
    (repo / ".gto").write_text("stages: [dev, prod]\n")
    err = fails("models", "promote", "churn", "1", "staging", cwd=repo)
    assert "stage 'staging' is not allowed; allowed stages are dev, prod (.gto)" in err
    assert "is registered already" in fails(
        "models", "register", "churn", "--run", run_id, "--version", "v0.0.1", cwd=repo
    )


def test_gitrun_reads_a_registry_gto_wrote(repo: Path) -> None:
    (repo / "model.pkl").write_bytes(b"weights")
    run_git(repo, "add", "model.pkl")
    run_git(repo, "commit", "-qm", "model")
    (repo / "artifacts.yaml").write_text("churn:\n  type: model\n  path: model.pkl\n")
    run_git(repo, "add", "artifacts.yaml")
    run_git(repo, "commit", "-qm", "annotate")
    gto("register", "churn", "HEAD~1", cwd=repo)
    gto("register", "churn", "HEAD", "--bump-minor", cwd=repo)
    gto("assign", "churn", "--version", "v0.0.1", "--stage", "prod", cwd=repo)
    gto("assign", "churn", "--version", "v0.1.0", "--stage", "dev", cwd=repo)
    gto("deprecate", "churn", "v0.1.0", "dev", cwd=repo)  # unassign
    listed = json_of("models", "list", cwd=repo)["models"][0]
    assert listed["latest"] == "v0.1.0"
    assert listed["stages"] == {"dev": None, "prod": "v0.0.1"}
    assert [e["event"] for e in json_of("models", "history", "churn", cwd=repo)["events"]] == [
        "unassignment",
        "assignment",
        "assignment",
        "registration",
        "registration",
    ]
