"""`--env-manager venv`: a real virtual environment built with pip from python_env.yaml, gitrun
installed into it from the running checkout, cached by the requirements' hash."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gitrun.envs import PythonEnv, build_env, env_key
from gitrun.errors import EnvironmentBuildError
from gitrun.store import Store
from tests.helpers import gitrun_cli

pytestmark = pytest.mark.slow

PROBE = """
import importlib.metadata, json, sys, six, gitrun
with gitrun.start_run():
    gitrun.log_text(json.dumps({"prefix": sys.prefix, "gitrun": importlib.metadata.version("gitrun-ml")}), "env.json")
"""


def test_python_env_yaml_reads_requirements_files(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("# pinned\nsix==1.17.0\n-r more.txt\n")
    (tmp_path / "more.txt").write_text("idna\n")
    (tmp_path / "python_env.yaml").write_text(
        'python: "3.11"\nbuild_dependencies: [pip]\ndependencies: ["-r requirements.txt", attrs]\n'
    )
    env = PythonEnv.from_yaml(tmp_path / "python_env.yaml")
    assert env.python == "3.11" and env.build_dependencies == ("pip",)
    assert env.expanded() == ["six==1.17.0", "idna", "attrs"]
    key = env_key(env, "3.11.7", "gitrun x")
    (tmp_path / "more.txt").write_text("idna==3.7\n")
    assert env_key(env, "3.11.7", "gitrun x") != key  # a requirement changed: another environment
    (tmp_path / "python_env.yaml").write_text("python: '2.7'\n")
    with pytest.raises(EnvironmentBuildError, match=r"asks for Python 2\.7"):
        build_env(PythonEnv.from_yaml(tmp_path / "python_env.yaml"), tmp_path / "envs")


def test_a_project_runs_in_its_own_environment_with_gitrun_installed(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITRUN_CACHE_DIR", str(tmp_path / "cache"))
    (repo / "MLproject").write_text(
        "name: venvy\npython_env: python_env.yaml\nentry_points:\n  main:\n    command: python probe.py\n"
    )
    (repo / "python_env.yaml").write_text(
        f'python: "{sys.version_info.major}.{sys.version_info.minor}"\ndependencies: [six]\n'
    )
    (repo / "probe.py").write_text(textwrap.dedent(PROBE))
    first = time.monotonic()
    proc = gitrun_cli("run", ".", "--env-manager", "venv", cwd=repo)
    built = time.monotonic() - first
    assert proc.returncode == 0, proc.stderr
    again = time.monotonic()
    proc = gitrun_cli("run", ".", "--env-manager", "virtualenv", cwd=repo)  # MLflow's name for it
    reused = time.monotonic() - again
    assert proc.returncode == 0, proc.stderr
    envs = list((tmp_path / "cache" / "envs").iterdir())
    env_dirs = [e for e in envs if e.is_dir()]
    assert len(env_dirs) == 1  # built once, then found in the cache
    assert reused < built / 2
    for run in Store(repo / ".gitrun").iter_runs():
        seen = json.loads((run.run_dir / "artifacts/env.json").read_text())
        assert Path(seen["prefix"]) == env_dirs[0]
        assert seen["gitrun"]  # the running gitrun, installed into the environment
        assert run.tags["mlflow.project.env"] == "virtualenv"
        assert run.tags["gitrun.env.python"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}")
    proc = gitrun_cli("run", "-q", "--", sys.executable, "-c", "pass", cwd=repo)
    local = [r for r in Store(repo / ".gitrun").iter_runs() if r.tags["mlflow.project.env"] == "local"]
    venv = [r for r in Store(repo / ".gitrun").iter_runs() if r.tags["mlflow.project.env"] == "virtualenv"]
    assert local[0].tags["gitrun.env.packages"] != venv[0].tags["gitrun.env.packages"]
