"""Registry changes in review: ``gitrun diff`` and the PR report list what a branch registered and
which stages moved, and the gate's ``models.NAME#STAGE:`` checks fail when the stage's model regressed."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from tests.helpers import ROOT, gitrun_cli, run_git
from tests.helpers.registry import ok, runs_with_models

SCHEMA = json.loads((ROOT / "docs" / "schemas" / "diff.json").read_text(encoding="utf-8"))


def _branch_promotes(repo: Path, auc: float) -> str:
    """main: churn v0.0.1 (auc 0.8) in prod; the branch `better`: v0.0.2 (auc ``auc``) promoted to prod."""
    (first,) = runs_with_models(repo, [{"auc": 0.8}])
    ok("models", "register", "churn", "--run", first, cwd=repo)
    ok("models", "promote", "churn", "v0.0.1", "prod", cwd=repo)
    run_git(repo, "checkout", "-qb", "better")
    (second,) = runs_with_models(repo, [{"auc": auc}])
    ok("models", "register", "churn", "--run", second, cwd=repo)
    ok("models", "promote", "churn", "v0.0.2", "prod", cwd=repo)
    return second


def test_diff_shows_what_the_branch_registered_and_the_stage_it_moved(repo: Path) -> None:
    second = _branch_promotes(repo, 0.9)
    doc = json.loads(ok("diff", "main", "HEAD", "--format", "json", cwd=repo))
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    registry = doc["registry"]
    assert [(e["event"], e["version"], e["stage"]) for e in registry["events"]] == [
        ("registration", "v0.0.2", None),
        ("assignment", "v0.0.2", "prod"),
    ]
    assert registry["events"][0]["run_id"] == second
    (move,) = registry["stages"]
    assert (move["name"], move["stage"], move["base"]["version"], move["target"]["version"]) == (
        "churn",
        "prod",
        "v0.0.1",
        "v0.0.2",
    )
    text = ok("diff", "main", "HEAD", cwd=repo)
    assert "model registry" in text and "churn#prod: v0.0.1 → v0.0.2" in text
    markdown = ok("diff", "main", "HEAD", "--format", "md", cwd=repo)
    assert "### Model registry" in markdown and "| churn v0.0.2 registered | Test User, tag churn@v0.0.2" in markdown
    assert "registry" not in json.loads(ok("diff", "main", "main", "--format", "json", cwd=repo))


def test_the_gate_fails_when_the_stages_model_regressed(repo: Path) -> None:
    _branch_promotes(repo, 0.7)
    check = "models.churn#prod: metrics.auc >= base"
    failing = gitrun_cli("diff", "main", "HEAD", "--check", check, cwd=repo)
    assert failing.returncode == 1, failing.stderr
    assert f"FAIL {check}" in failing.stdout
    assert "auc of churn v0.0.2" in failing.stdout and "0.7" in failing.stdout and "base v0.0.1 0.8" in failing.stdout
    assert (
        gitrun_cli("diff", "main", "HEAD", "--check", "models.churn#prod: metrics.auc >= 0.6", cwd=repo).returncode == 0
    )
    missing = gitrun_cli("diff", "main", "HEAD", "--check", "models.churn#qa: metrics.auc >= base", cwd=repo)
    assert missing.returncode == 1 and "no version of churn is in stage 'qa' on the target" in missing.stdout
    bad = gitrun_cli("diff", "main", "HEAD", "--check", "models.churn: metrics.auc >= base", cwd=repo)
    assert bad.returncode == 2 and "a model check starts with models.NAME#STAGE:" in bad.stderr


def test_the_pr_report_lists_registry_changes(repo: Path, tmp_path: Path) -> None:
    _branch_promotes(repo, 0.9)
    out = tmp_path / "report"
    ok("report", "pr", "main", "--out", str(out), cwd=repo)
    report = (out / "report.md").read_text()
    assert "### Model registry" in report and "churn#prod: v0.0.1 → v0.0.2" in report
