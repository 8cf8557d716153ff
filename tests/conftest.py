"""Shared fixtures: an isolated HOME and Git config, one template repository per session.

Every test that touches Git gets a copy of a template repository built once per session
(``git init`` + one commit), so the suite stays fast on 2 cores. ``gitrun``'s process-wide
state (tracking URI, active experiment, active runs) is reset around every test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def run_git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, check=check, capture_output=True, text=True)


@pytest.fixture(scope="session")
def _session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n[advice]\n\tdetachedHead = false\n"
    )
    return home


@pytest.fixture(autouse=True)
def isolated_env(_session_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's HOME, Git config or gitrun environment variables."""
    monkeypatch.setenv("HOME", str(_session_home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(_session_home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    for key in list(os.environ):
        if key.startswith(("GITRUN_", "MLFLOW_", "GITHUB_")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture(autouse=True)
def reset_gitrun_state() -> Iterator[None]:
    """End runs a test left active and forget the tracking URI and active experiment."""
    yield
    import gitrun.tracking as tracking

    for active in reversed(list(tracking._all_active.values())):
        try:
            tracking._end(active, "KILLED")
        except Exception:
            pass
    tracking._state.stack.clear()
    tracking._all_active.clear()
    tracking._tracking_uri = None
    tracking._experiment_id = None
    tracking._last_run_id = None
    tracking._client = None


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory, _session_home: Path) -> Path:
    """A Git repository with one commit on ``main``, built once per session; copy, don't modify."""
    repo = tmp_path_factory.mktemp("template") / "repo"
    repo.mkdir()
    env = {**os.environ, "HOME": str(_session_home), "GIT_CONFIG_GLOBAL": str(_session_home / ".gitconfig"), **GIT_IDENTITY}
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
    (repo / "README.md").write_text("# demo project\n")
    (repo / "train.py").write_text("print('training')\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "initial commit"], cwd=repo, check=True, env=env)
    return repo


@pytest.fixture
def repo(template_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the template repository; the current directory during the test."""
    dest = tmp_path / "repo"
    shutil.copytree(template_repo, dest, symlinks=True)
    monkeypatch.chdir(dest)
    return dest


@pytest.fixture
def store_dir(repo: Path) -> Path:
    """The default store location inside ``repo`` (created on first use)."""
    return repo / ".gitrun"


def run_python(code: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run Python code in a fresh interpreter with gitrun importable; fails loudly on error."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def gitrun_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``gitrun`` command (as installed in the venv) in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    exe = Path(sys.executable).with_name("gitrun")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gitrun"]
    return subprocess.run([*cmd, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120)
