"""The workflows `gitrun init --github` writes: actionlint (rhysd/actionlint 1.7 as WebAssembly,
scripts/node) and shellcheck on their scripts, their structure, and their `run:` steps executed
for real (same-repo pull request, failing gate, fork via workflow_run) against a real repository
and a GitHub stand-in on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitrun.report.workflows import write_github_workflows
from tests.helpers.diffkit import actionlint, cli, commit, git, log
from tests.helpers.fake_github import FakeGitHub

PR_FILE = ".github/workflows/gitrun-pr.yml"
COMMENT_FILE = ".github/workflows/gitrun-pr-comment.yml"
PR_NUMBER = 3


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads a bare `on` key as True
    return dict(data)


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    (job,) = workflow["jobs"].values()
    return list(job["steps"])


def step(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in steps(workflow) if s.get("name") == name)


# -- writing ---------------------------------------------------------------------------------
def test_init_github_writes_both_workflows_and_keeps_user_edits(repo: Path) -> None:
    proc = cli(repo, "init", "--github")
    assert proc.returncode == 0, proc.stderr
    assert f"Created {PR_FILE}" in proc.stdout and f"Created {COMMENT_FILE}" in proc.stdout
    assert (repo / ".gitrun" / "store.yaml").exists()
    again = cli(repo, "init", "--github")
    assert f"Unchanged {PR_FILE}" in again.stdout
    edited = (repo / PR_FILE).read_text(encoding="utf-8") + "# my edit\n"
    (repo / PR_FILE).write_text(edited, encoding="utf-8")
    kept = cli(repo, "init", "--github", "--check", "metrics.val_acc >= base")
    assert f"Kept {PR_FILE} (differs from gitrun's; --force rewrites it)" in kept.stdout
    assert (repo / PR_FILE).read_text(encoding="utf-8") == edited
    forced = cli(repo, "init", "--github", "--check", "metrics.val_acc >= base", "--force")
    assert f"Updated {PR_FILE}" in forced.stdout
    env = load(repo / PR_FILE)["jobs"]["report"]["env"]
    assert env == {"GITRUN_CHECKS": "metrics.val_acc >= base\n"}
    # the gate is validated before anything is written
    bad = cli(repo, "init", "--github", "--check", "metrics.val_acc >=", "--force")
    assert bad.returncode == 2 and "unexpected end" in bad.stderr
    assert cli(repo, "init", "--check", "metrics.x > 1").returncode == 2  # --check needs --github


def test_workflow_structure(tmp_path: Path) -> None:
    write_github_workflows(tmp_path)
    pr = load(tmp_path / PR_FILE)
    assert pr["name"] == "gitrun PR report" and set(pr["on"]) == {"pull_request"}
    assert pr["permissions"] == {"contents": "read", "pull-requests": "write"}
    checkout = steps(pr)[0]
    assert checkout["uses"] == "actions/checkout@v4" and checkout["with"] == {"fetch-depth": 0, "fetch-tags": True}
    assert steps(pr)[1]["uses"] == "actions/setup-python@v5"
    assert step(pr, "Install gitrun")["run"] == 'python -m pip install "gitrun-ml[site]~=0.1.0"'
    assert 'gitrun report pr "$BASE_SHA...$HEAD_SHA" --out gitrun-report' in step(pr, "Build the report")["run"]
    upload = step(pr, "Upload the report")
    assert upload["uses"] == "actions/upload-artifact@v4" and upload["with"]["name"] == "gitrun-report"
    assert upload["if"] == "always()"
    assert step(pr, "Post the report as a comment")["env"] == {"GITHUB_TOKEN": "${{ secrets.GITHUB_TOKEN }}"}
    assert pr["jobs"]["report"]["env"] == {"GITRUN_CHECKS": "${{ vars.GITRUN_CHECKS }}"}

    fork = load(tmp_path / COMMENT_FILE)
    assert fork["on"] == {"workflow_run": {"workflows": [pr["name"]], "types": ["completed"]}}
    assert fork["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert not any(str(s.get("uses", "")).startswith("actions/checkout") for s in steps(fork))  # never the fork's code
    download = steps(fork)[0]
    assert download["uses"] == "actions/download-artifact@v4"
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert step(fork, "Install gitrun")["run"] == 'python -m pip install "gitrun-ml~=0.1.0"'


# -- linting ---------------------------------------------------------------------------------
def test_actionlint_passes(tmp_path: Path) -> None:
    plain, gated = tmp_path / "plain", tmp_path / "gated"
    write_github_workflows(plain)
    write_github_workflows(gated, checks=["metrics.val_acc >= base - 0.01", "metrics.`val loss` <= 0.5"])
    # a broken copy, linted in the same run, shows the linter is real
    broken = tmp_path / "broken.yml"
    text = (plain / PR_FILE).read_text(encoding="utf-8")
    broken.write_text(
        text.replace("fetch-tags: true", "fetch-tagz: true").replace("steps.report.outputs", "steps.nope.outputs")
    )
    problems, version = actionlint(
        [plain / PR_FILE, plain / COMMENT_FILE, gated / PR_FILE, gated / COMMENT_FILE, broken]
    )
    assert re.match(r"actionlint v1\.\d+\.\d+ \(WebAssembly\)", version), version
    assert [p for p in problems if p["file"] != str(broken)] == []
    messages = " / ".join(p["message"] for p in problems)
    assert 'input "fetch-tagz" is not defined' in messages and 'property "nope" is not defined' in messages


def test_shellcheck_passes_on_the_run_scripts(tmp_path: Path) -> None:
    if shutil.which("shellcheck") is None:
        message = "shellcheck missing: run `bash scripts/install-system-deps.sh` as root"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from tests.helpers import ROOT

    write_github_workflows(tmp_path, checks=["metrics.val_acc >= base"])
    for name in (tmp_path / PR_FILE, tmp_path / COMMENT_FILE, ROOT / ".github" / "workflows" / "experiments.yml"):
        for s in steps(load(name)):
            if "run" not in s:
                continue
            # as actionlint does: expressions become same-length placeholders
            script = re.sub(r"\$\{\{.*?\}\}", lambda m: "_" * len(m.group(0)), s["run"])
            proc = subprocess.run(
                ["shellcheck", "--shell=bash", "--severity=style", "-"], input=script, capture_output=True, text=True
            )
            assert proc.returncode == 0, f"{name} / {s.get('name')}:\n{proc.stdout}"


# -- running the steps -----------------------------------------------------------------------
class Actions:
    """Just enough of a GitHub Actions runner to execute a workflow's `run:` steps: `${{ }}`
    substitution from a context, GITHUB_OUTPUT, the job's and step's env, bash -eo pipefail."""

    def __init__(self, workflow: dict[str, Any], context: dict[str, Any], env: dict[str, str], cwd: Path):
        self.workflow, self.context, self.env, self.cwd = workflow, context, env, cwd
        self.outputs: dict[str, dict[str, str]] = {}

    def lookup(self, expression: str) -> str:
        value: Any = self.context
        for part in expression.strip().split("."):
            if part == "outputs" and isinstance(value, dict) and "outputs" not in value:
                raise AssertionError(f"unknown expression {expression!r}")
            value = value[part]
        return "" if value is None else str(value)

    def substitute(self, text: str) -> str:
        return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", lambda m: self.lookup(m.group(1)), text)

    def run(self, name: str) -> subprocess.CompletedProcess[str]:
        s = step(self.workflow, name)
        (job,) = self.workflow["jobs"].values()
        output_file = self.cwd.parent / f"output-{len(self.outputs)}.txt"
        output_file.write_text("")
        env = {**self.env, "GITHUB_OUTPUT": str(output_file)}
        env.update({k: self.substitute(str(v)) for k, v in (job.get("env") or {}).items()})
        env.update({k: self.substitute(str(v)) for k, v in (s.get("env") or {}).items()})
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", self.substitute(s["run"])],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if "id" in s:
            pairs = [line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line]
            self.outputs[s["id"]] = dict(pairs)
            self.context.setdefault("steps", {})[s["id"]] = {"outputs": self.outputs[s["id"]]}
        return proc


def runner_env(fake: FakeGitHub, event: dict[str, Any], tmp_path: Path) -> dict[str, str]:
    event_path = tmp_path / f"event-{len(list(tmp_path.glob('event-*')))}.json"
    event_path.write_text(json.dumps(event))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITRUN_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",  # `pip install` already done
        GITHUB_ACTIONS="true",
        GITHUB_API_URL=fake.url,
        GITHUB_REPOSITORY=fake.repository,
        GITHUB_SERVER_URL="https://github.example",
        GITHUB_RUN_ID="777",
        GITHUB_EVENT_PATH=str(event_path),
    )
    return env


@pytest.fixture
def pull_request(repo: Path, tmp_path: Path) -> dict[str, Any]:
    """A repository with runs on main and a feature branch, the workflows committed, and a CI-style
    checkout of the pull request (a clone, detached, no local branches); the event payload."""
    proc = cli(repo, "init", "--github")
    assert proc.returncode == 0, proc.stderr
    git(repo, "add", ".github")
    git(repo, "commit", "-qm", "gitrun workflows")
    log(repo, [{"name": "baseline", "params": {"lr": 0.1}, "metrics": {"val_acc": [0.5, 0.7, 0.8]}}])
    commit(repo, "baseline")
    git(repo, "checkout", "-qb", "feature")
    log(
        repo,
        [
            {"name": f"sweep-{i}", "params": {"lr": 0.05 * i}, "metrics": {"val_acc": [0.5, 0.75, 0.8 + i / 100]}}
            for i in range(3)
        ],
    )
    commit(repo, "sweep")
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", "--no-local", str(repo), str(checkout))
    git(checkout, "checkout", "-q", "--detach", "origin/feature")
    for branch in git(checkout, "for-each-ref", "--format=%(refname:short)", "refs/heads").split():
        git(checkout, "branch", "-D", branch)
    event = {
        "pull_request": {
            "number": PR_NUMBER,
            "base": {"sha": git(repo, "rev-parse", "main"), "ref": "main"},
            "head": {"sha": git(repo, "rev-parse", "feature"), "repo": {"full_name": "octo/demo"}},
        }
    }
    return {"checkout": checkout, "event": event}


def github_context(event: dict[str, Any], repository: str, token: str, checks: str = "") -> dict[str, Any]:
    return {
        "github": {"event": event, "repository": repository},
        "secrets": {"GITHUB_TOKEN": token},
        "vars": {"GITRUN_CHECKS": checks},
    }


def test_pr_workflow_steps_build_post_and_update(pull_request: dict[str, Any], tmp_path: Path) -> None:
    checkout, event = pull_request["checkout"], pull_request["event"]
    workflow = load(checkout / PR_FILE)
    with FakeGitHub() as fake:
        context = github_context(event, fake.repository, fake.token)
        actions = Actions(workflow, context, runner_env(fake, event, tmp_path), checkout)
        build = actions.run("Build the report")
        assert build.returncode == 0, build.stdout + build.stderr
        assert actions.outputs["report"] == {"exit-code": "0"}
        out = checkout / "gitrun-report"
        for name in ("report.md", "comment.md", "diff.json", "pull-request.json"):
            assert (out / name).is_file(), name
        assert sorted(p.suffix for p in (out / "charts").iterdir()) == [".json", ".png", ".svg"]
        assert json.loads((out / "pull-request.json").read_text())["number"] == PR_NUMBER
        doc = json.loads((out / "diff.json").read_text())
        assert doc["base"]["commit"] == event["pull_request"]["base"]["sha"]
        assert doc["target"]["commit"] == event["pull_request"]["head"]["sha"]
        assert {r["run_name"] for r in doc["experiments"][0]["added"]} == {"sweep-0", "sweep-1", "sweep-2"}

        post = step(workflow, "Post the report as a comment")
        assert (
            post["if"]
            == "github.event.pull_request.head.repo.full_name == github.repository && hashFiles('gitrun-report/comment.md') != ''"
        )
        assert event["pull_request"]["head"]["repo"]["full_name"] == context["github"]["repository"]  # so it runs
        posted = actions.run("Post the report as a comment")
        assert posted.returncode == 0, posted.stderr
        assert [(r.method, r.path) for r in fake.writes()] == [
            ("POST", f"/repos/octo/demo/issues/{PR_NUMBER}/comments")
        ]
        assert fake.comments[PR_NUMBER][0]["body"] == (out / "comment.md").read_text(encoding="utf-8")
        assert (
            "[workflow run](https://github.example/octo/demo/actions/runs/777)" in fake.comments[PR_NUMBER][0]["body"]
        )
        assert step(workflow, "Fail on the gate")["if"] == "steps.report.outputs.exit-code != '0'"  # skipped: "0"

        # the same workflow with a failing gate (the repository variable): the report is still
        # posted (the same comment, updated), then the gate step fails the job
        context["vars"]["GITRUN_CHECKS"] = "metrics.val_acc >= base + 1\n"
        build = actions.run("Build the report")
        assert build.returncode == 0 and actions.outputs["report"] == {"exit-code": "1"}
        assert "FAIL metrics.val_acc >= base + 1 [digits]" in build.stdout
        assert actions.run("Post the report as a comment").returncode == 0
        assert [r.method for r in fake.writes()] == ["POST", "PATCH"] and len(fake.comments[PR_NUMBER]) == 1
        assert "**Gate: ❌ failed**" in fake.comments[PR_NUMBER][0]["body"]
        gate = actions.run("Fail on the gate")
        assert gate.returncode == 1
        assert "::error title=gitrun report::gitrun report pr exited 1" in gate.stdout


def test_fork_pull_request_is_posted_by_the_workflow_run_workflow(pull_request: dict[str, Any], tmp_path: Path) -> None:
    checkout, event = pull_request["checkout"], pull_request["event"]
    event["pull_request"]["head"]["repo"]["full_name"] = "forker/demo"
    head_sha = event["pull_request"]["head"]["sha"]
    with FakeGitHub() as fake:
        # 1. the pull_request run in the fork's context: builds and uploads, cannot post
        pr_workflow = load(checkout / PR_FILE)
        context = github_context(event, fake.repository, "read-only-token")
        actions = Actions(pr_workflow, context, runner_env(fake, event, tmp_path), checkout)
        assert actions.run("Build the report").returncode == 0
        assert event["pull_request"]["head"]["repo"]["full_name"] != context["github"]["repository"]  # post skipped
        artifact = tmp_path / "artifact"
        shutil.copytree(checkout / "gitrun-report", artifact / "gitrun-report")  # upload + download

        # 2. the workflow_run run in the base repository: its job condition, then its steps
        fork_workflow = load(checkout / COMMENT_FILE)
        run_event = {
            "workflow_run": {
                "id": 4321,
                "event": "pull_request",
                "head_sha": head_sha,
                "head_repository": {"full_name": "forker/demo"},
                "pull_requests": [],  # GitHub lists none for pull requests from forks
            }
        }
        (job,) = fork_workflow["jobs"].values()
        assert job["if"] == (
            "github.event.workflow_run.event == 'pull_request' && "
            "github.event.workflow_run.head_repository.full_name != github.repository"
        )
        fake.pulls[PR_NUMBER] = {"number": PR_NUMBER, "head": {"sha": head_sha}}
        runner = Actions(
            fork_workflow,
            github_context(run_event, fake.repository, fake.token),
            runner_env(fake, run_event, tmp_path),
            artifact,  # no checkout: only the downloaded report
        )
        posted = runner.run("Post the report as a comment")
        assert posted.returncode == 0, posted.stderr
        assert [(r.method, r.path) for r in fake.writes()] == [
            ("POST", f"/repos/octo/demo/issues/{PR_NUMBER}/comments")
        ]
        assert fake.comments[PR_NUMBER][0]["body"] == (artifact / "gitrun-report" / "comment.md").read_text(
            encoding="utf-8"
        )

        # a report whose pull request has moved on (or was forged to name another one) is not posted
        fake.pulls[PR_NUMBER] = {"number": PR_NUMBER, "head": {"sha": "0" * 40}}
        refused = runner.run("Post the report as a comment")
        assert refused.returncode == 1 and "not posting" in refused.stderr
        assert len(fake.writes()) == 1


# -- this project's own workflow ----------------------------------------------------------------
def test_project_experiments_workflow_lints_and_its_commands_run(repo: Path, tmp_path: Path) -> None:
    from tests.helpers import ROOT

    path = ROOT / ".github" / "workflows" / "experiments.yml"
    problems, _ = actionlint([path])
    assert problems == [], problems
    workflow = load(path)
    assert step(workflow, "make demo")["run"] == 'make demo PYTHON=python DEMO_DIR="$RUNNER_TEMP/demo-repo"'
    gitrun_exe = ROOT / ".venv" / "bin" / "gitrun"
    if not gitrun_exe.exists():
        pytest.skip("the project's .venv (make install) is what the workflow runs")
    # a repository shaped like the demo's: main and feature/modified-huber
    runner_temp = tmp_path / "runner-temp"
    demo = runner_temp / "demo-repo"
    shutil.copytree(repo, demo)
    log(demo, [{"name": "log_loss-alpha0.001", "metrics": {"val_acc": [0.9, 0.94]}}], "digits-sgd")
    commit(demo, "Baseline")
    git(demo, "switch", "-q", "-c", "feature/modified-huber")
    log(demo, [{"name": "modified_huber-alpha0.001", "metrics": {"val_acc": [0.88, 0.93]}}], "digits-sgd")
    commit(demo, "feature")
    summary = tmp_path / "summary.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITRUN_"))}
    env.update(RUNNER_TEMP=str(runner_temp), GITHUB_WORKSPACE=str(ROOT), GITHUB_STEP_SUMMARY=str(summary))
    script = step(workflow, "gitrun diff and the PR report on the demo repository")["run"]
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "digits-sgd  1 added, 0 removed, 0 changed, 1 unchanged" in proc.stdout
    assert "PASS metrics.val_acc >= 0.8 [digits-sgd]" in proc.stdout
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("<!-- gitrun-report -->") and "**Gate: ✅ passed**" in text and "```mermaid" in text
    assert any(p.suffix == ".svg" for p in (runner_temp / "gitrun-report" / "charts").iterdir())
